//! Sharing one encoder (or any state that embeds it) between thread mode and interrupt handlers.
//!
//! Every state change and the event that records it must happen with no interrupt in between,
//! or an interrupt could observe (and trace) a half-made change: the race Go commit c9d88ea fixed, where a
//! steal was done but not traced because tracing stopped in between. [`Shared::with`] runs its
//! closure inside a `critical-section`, which on a single-core Cortex-M masks interrupts.

use core::cell::RefCell;

/// A value accessed only inside critical sections.
///
/// The critical section is the `critical-section` crate's, whose implementation the firmware
/// links: on a single-core Cortex-M, `cortex-m`'s feature `critical-section-single-core`; on a
/// host (tests, a simulation), `critical-section`'s feature `std`. Without one the link fails on
/// `undefined symbol: _critical_section_1_0_acquire`.
pub struct Shared<T> {
    inner: critical_section::Mutex<RefCell<T>>,
}

/// Says nothing of the value: reading it would mask interrupts for as long as it takes to format
/// it, and a `Debug` call made inside [`Shared::with`] would panic on the second borrow.
impl<T> core::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl<T> Shared<T> {
    /// `value`, to be reached through [`Shared::with`] only.
    pub const fn new(value: T) -> Self {
        Shared {
            inner: critical_section::Mutex::new(RefCell::new(value)),
        }
    }

    /// Runs `f` on the value, atomically with respect to every other context.
    ///
    /// # Panics
    ///
    /// If `f` calls `with` on the same value again (directly, or through a scheduler call made
    /// inside it): the value is borrowed already.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        critical_section::with(|cs| f(&mut self.inner.borrow_ref_mut(cs)))
    }

    /// [`Shared::with`], or `None` without running `f` when called from inside `with` on the same
    /// value: for a hook that code inside `with` may set off (an executor's wake hook, called
    /// when the sink wakes the task that drains it), which cannot be applied there.
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        critical_section::with(|cs| {
            let mut value = self.inner.borrow(cs).try_borrow_mut().ok()?;
            Some(f(&mut value))
        })
    }
}
