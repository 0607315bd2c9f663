//! The scheduling state machine: which context (Go's M) holds which executor (P), and what each
//! task and interrupt callback (G) is doing. It exists with or without tracing.
//!
//! Each method checks one state change against the current state and applies it; a change the
//! state does not allow is a scheduler bug, refused with [`Error::Transition`] (and nothing
//! changes) rather than carried out, so that the trace written for it is always one Go accepts.
//! With tracing, the encoder reads this state through [`Scheduling`] when a generation begins.

use gotrace_encoder::{GoSlot, GoStatus, ProcStatus, Scheduling};

use crate::error::Error;

#[derive(Clone, Copy, Debug)]
struct Proc {
    status: ProcStatus,
    /// The context that holds it (Running, Syscall) or last held it (Abandoned).
    m: usize,
}

/// One execution context: the executor it holds and the goroutine on it.
#[derive(Clone, Copy, Debug)]
struct Context {
    p: Option<usize>,
    g: OnContext,
}

/// The goroutine on a context. Not an `Option<GoSlot>`, whose `None` is not zero: with "none"
/// as 0 a new machine is all zeros, so a static scheduler needs no initial image in flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum OnContext {
    Nothing = 0,
    Task(usize),
    Callback(usize),
}

impl OnContext {
    fn get(self) -> Option<GoSlot> {
        match self {
            OnContext::Nothing => None,
            OnContext::Task(t) => Some(GoSlot::Task(t)),
            OnContext::Callback(m) => Some(GoSlot::Callback(m)),
        }
    }

    fn of(g: GoSlot) -> Self {
        match g {
            GoSlot::Task(t) => OnContext::Task(t),
            GoSlot::Callback(m) => OnContext::Callback(m),
        }
    }
}

pub(crate) struct Machine<const MS: usize, const PS: usize, const GS: usize> {
    ms: [Context; MS],
    ps: [Proc; PS],
    gs: [GoStatus; GS],
    /// The goroutine of the interrupt callback of each context.
    cbs: [GoStatus; MS],
}

fn fail(m: usize, what: &'static str) -> Error {
    Error::Transition { m, what }
}

fn no_slot(g: GoSlot) -> Error {
    match g {
        GoSlot::Task(t) => Error::NoSuchTask(t),
        GoSlot::Callback(m) => Error::NoSuchContext(m),
    }
}

impl<const MS: usize, const PS: usize, const GS: usize> Machine<MS, PS, GS> {
    /// Every P idle, every G slot dead.
    pub const fn new() -> Self {
        Machine {
            ms: [Context {
                p: None,
                g: OnContext::Nothing,
            }; MS],
            ps: [Proc {
                status: ProcStatus::Idle,
                m: 0,
            }; PS],
            gs: [GoStatus::Dead; GS],
            cbs: [GoStatus::Dead; MS],
        }
    }

    fn m(&self, m: usize) -> Result<&Context, Error> {
        self.ms.get(m).ok_or(Error::NoSuchContext(m))
    }

    fn m_mut(&mut self, m: usize) -> Result<&mut Context, Error> {
        self.ms.get_mut(m).ok_or(Error::NoSuchContext(m))
    }

    fn p_mut(&mut self, p: usize) -> Result<&mut Proc, Error> {
        self.ps.get_mut(p).ok_or(Error::NoSuchExecutor(p))
    }

    fn go_mut(&mut self, g: GoSlot) -> Result<&mut GoStatus, Error> {
        match g {
            GoSlot::Task(i) => self.gs.get_mut(i),
            GoSlot::Callback(m) => self.cbs.get_mut(m),
        }
        .ok_or(no_slot(g))
    }

    pub fn proc(&self, p: usize) -> Result<ProcStatus, Error> {
        Ok(self.ps.get(p).ok_or(Error::NoSuchExecutor(p))?.status)
    }

    /// The context holding `p` (Running, Syscall) or that last held it (Abandoned).
    pub fn proc_owner(&self, p: usize) -> Result<Option<usize>, Error> {
        let st = self.ps.get(p).ok_or(Error::NoSuchExecutor(p))?;
        Ok((st.status != ProcStatus::Idle).then_some(st.m))
    }

    pub fn go(&self, g: GoSlot) -> Result<GoStatus, Error> {
        match g {
            GoSlot::Task(i) => self.gs.get(i),
            GoSlot::Callback(m) => self.cbs.get(m),
        }
        .copied()
        .ok_or(no_slot(g))
    }

    /// The executor context `m` holds.
    pub fn held(&self, m: usize) -> Result<Option<usize>, Error> {
        Ok(self.m(m)?.p)
    }

    /// The goroutine on context `m`.
    pub fn running(&self, m: usize) -> Result<Option<GoSlot>, Error> {
        Ok(self.m(m)?.g.get())
    }

    // ---- Ps ----

    /// Context `m` takes idle executor `p`: `ProcStart`.
    pub fn proc_start(&mut self, m: usize, p: usize) -> Result<(), Error> {
        if self.m(m)?.p.is_some() {
            return Err(fail(m, "ProcStart: context already holds an executor"));
        }
        let st = self.p_mut(p)?;
        if st.status != ProcStatus::Idle {
            return Err(fail(m, "ProcStart: executor is not idle"));
        }
        *st = Proc {
            status: ProcStatus::Running,
            m,
        };
        self.m_mut(m)?.p = Some(p);
        Ok(())
    }

    /// Context `m` gives up its running executor, with no goroutine on it: `ProcStop`.
    pub fn proc_stop(&mut self, m: usize) -> Result<(), Error> {
        let cx = *self.m(m)?;
        let p = cx.p.ok_or(fail(m, "ProcStop: context holds no executor"))?;
        if cx.g != OnContext::Nothing {
            return Err(fail(m, "ProcStop: a goroutine is still on the context"));
        }
        let st = self.p_mut(p)?;
        if st.status != ProcStatus::Running {
            return Err(fail(m, "ProcStop: executor is not running"));
        }
        st.status = ProcStatus::Idle;
        self.m_mut(m)?.p = None;
        Ok(())
    }

    /// Context `m` takes executor `p` away from a blocking operation, or from the callback that
    /// abandoned it; `p` becomes idle: `ProcSteal`. Returns the context it was taken from.
    pub fn proc_steal(&mut self, m: usize, p: usize) -> Result<usize, Error> {
        self.m(m)?;
        let st = *self.ps.get(p).ok_or(Error::NoSuchExecutor(p))?;
        match st.status {
            ProcStatus::Syscall => self.m_mut(st.m)?.p = None,
            ProcStatus::Abandoned => {}
            _ => {
                return Err(fail(
                    m,
                    "ProcSteal: executor is not in a blocking operation",
                ))
            }
        }
        self.p_mut(p)?.status = ProcStatus::Idle;
        Ok(st.m)
    }

    // ---- Gs ----

    /// Whether the running task on `m` (or its executor) may create task slot `task`.
    pub fn check_create(&self, m: usize, task: usize) -> Result<(), Error> {
        self.require_running_proc(m, "GoCreate: the context holds no running executor")?;
        if let Some(g) = self.m(m)?.g.get() {
            if self.go(g)? != GoStatus::Running {
                return Err(fail(m, "GoCreate: creator is not running"));
            }
        }
        if self.go(GoSlot::Task(task))? != GoStatus::Dead {
            return Err(fail(m, "GoCreate: task slot is in use"));
        }
        Ok(())
    }

    /// Task slot `task` is created (after [`Machine::check_create`]): `GoCreate`.
    pub fn created(&mut self, task: usize) -> Result<(), Error> {
        *self.go_mut(GoSlot::Task(task))? = GoStatus::Runnable;
        Ok(())
    }

    /// Context `m`, holding a running executor and no goroutine, starts runnable `g`: `GoStart`.
    pub fn go_start(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.go(g)?;
        self.require_running_proc(m, "GoStart: the context holds no running executor")?;
        if self.m(m)?.g != OnContext::Nothing {
            return Err(fail(m, "GoStart: context already runs a goroutine"));
        }
        let st = self.go_mut(g)?;
        if *st != GoStatus::Runnable {
            return Err(fail(m, "GoStart: goroutine is not runnable"));
        }
        *st = GoStatus::Running;
        self.m_mut(m)?.g = OnContext::of(g);
        Ok(())
    }

    /// The running task on `m` leaves it with `status`: Runnable (`GoStop`), Waiting
    /// (`GoBlock`) or Dead (`GoDestroy`). A callback's goroutine leaves only by its exit.
    pub fn go_leave(&mut self, m: usize, status: GoStatus) -> Result<(), Error> {
        let g = self.require_running_go(
            m,
            "GoStop/GoBlock/GoDestroy: the context holds no running executor",
            "GoStop/GoBlock/GoDestroy: no goroutine runs on the context",
        )?;
        if matches!(g, GoSlot::Callback(_)) {
            return Err(fail(
                m,
                "GoStop/GoBlock/GoDestroy: a callback's goroutine leaves only by its exit \
                 (GoDestroySyscall)",
            ));
        }
        *self.go_mut(g)? = status;
        self.m_mut(m)?.g = OnContext::Nothing;
        Ok(())
    }

    /// Any context wakes waiting `g`: `GoUnblock`.
    pub fn go_unblock(&mut self, m: usize, g: GoSlot) -> Result<(), Error> {
        self.m(m)?;
        let st = self.go_mut(g)?;
        if *st != GoStatus::Waiting {
            return Err(fail(m, "GoUnblock: goroutine is not waiting"));
        }
        *st = GoStatus::Runnable;
        Ok(())
    }

    /// The running goroutine on `m` starts a blocking operation, keeping its executor (which any
    /// context may now steal): `GoSyscallBegin`. Returns the executor.
    pub fn syscall_begin(&mut self, m: usize) -> Result<usize, Error> {
        let no_proc = "GoSyscallBegin: the context holds no running executor";
        let g = self.require_running_go(
            m,
            no_proc,
            "GoSyscallBegin: no goroutine runs on the context",
        )?;
        let p = self.require_running_proc(m, no_proc)?;
        *self.go_mut(g)? = GoStatus::Syscall;
        self.p_mut(p)?.status = ProcStatus::Syscall;
        Ok(p)
    }

    /// The blocking operation of the goroutine on `m` ends. If the context still holds the
    /// executor in that operation the goroutine runs on (`GoSyscallEnd`, returns `true`);
    /// otherwise it was stolen, and the goroutine becomes runnable, off the context
    /// (`GoSyscallEndBlocked`, returns `false`).
    pub fn syscall_end(&mut self, m: usize) -> Result<bool, Error> {
        let cx = *self.m(m)?;
        let g =
            cx.g.get()
                .ok_or(fail(m, "GoSyscallEnd: no goroutine on the context"))?;
        if self.go(g)? != GoStatus::Syscall {
            return Err(fail(
                m,
                "GoSyscallEnd: goroutine is not in a blocking operation",
            ));
        }
        let held = cx.p.filter(|&p| self.proc(p) == Ok(ProcStatus::Syscall));
        if let Some(p) = held {
            self.p_mut(p)?.status = ProcStatus::Running;
            *self.go_mut(g)? = GoStatus::Running;
            return Ok(true);
        }
        *self.go_mut(g)? = GoStatus::Runnable;
        self.m_mut(m)?.g = OnContext::Nothing;
        Ok(false)
    }

    /// An interrupt callback starts on context `m`: its goroutine appears in a blocking
    /// operation, without an executor: `GoCreateSyscall`.
    pub fn callback_enter(&mut self, m: usize) -> Result<(), Error> {
        if self.m(m)?.g != OnContext::Nothing {
            return Err(fail(m, "GoCreateSyscall: context already runs a goroutine"));
        }
        let st = self.go_mut(GoSlot::Callback(m))?;
        if *st != GoStatus::Dead {
            return Err(fail(m, "GoCreateSyscall: callback already active"));
        }
        *st = GoStatus::Syscall;
        self.m_mut(m)?.g = OnContext::Callback(m);
        Ok(())
    }

    /// The interrupt callback on `m` ends, in a blocking operation: `GoDestroySyscall`. An
    /// executor the context still holds (in a blocking operation) is abandoned: it stays
    /// unusable until some context steals it (Go commit 6d7b3c8).
    pub fn callback_exit(&mut self, m: usize) -> Result<(), Error> {
        let cx = *self.m(m)?;
        if cx.g != OnContext::Callback(m) || self.go(GoSlot::Callback(m))? != GoStatus::Syscall {
            return Err(fail(
                m,
                "GoDestroySyscall: no callback in a blocking operation",
            ));
        }
        if let Some(p) = cx.p {
            let st = self.p_mut(p)?;
            if st.status != ProcStatus::Syscall {
                return Err(fail(
                    m,
                    "GoDestroySyscall: executor held at exit is not in a blocking operation",
                ));
            }
            st.status = ProcStatus::Abandoned;
        }
        *self.go_mut(GoSlot::Callback(m))? = GoStatus::Dead;
        *self.m_mut(m)? = Context {
            p: None,
            g: OnContext::Nothing,
        };
        Ok(())
    }

    fn require_running_proc(&self, m: usize, what: &'static str) -> Result<usize, Error> {
        match self.m(m)?.p {
            Some(p) if self.proc(p)? == ProcStatus::Running => Ok(p),
            _ => Err(fail(m, what)),
        }
    }

    /// The goroutine running on `m`, which must hold a running executor: refused with
    /// `no_proc` or `no_go`.
    pub fn require_running_go(
        &self,
        m: usize,
        no_proc: &'static str,
        no_go: &'static str,
    ) -> Result<GoSlot, Error> {
        self.require_running_proc(m, no_proc)?;
        match self.m(m)?.g.get() {
            Some(g) if self.go(g)? == GoStatus::Running => Ok(g),
            _ => Err(fail(m, no_go)),
        }
    }
}

impl<const MS: usize, const PS: usize, const GS: usize> Scheduling for Machine<MS, PS, GS> {
    fn context_proc(&self, m: usize) -> Option<usize> {
        self.ms.get(m)?.p
    }

    fn context_go(&self, m: usize) -> Option<GoSlot> {
        self.ms.get(m)?.g.get()
    }

    fn proc_status(&self, p: usize) -> ProcStatus {
        self.proc(p).unwrap_or(ProcStatus::Idle)
    }

    fn go_status(&self, g: GoSlot) -> GoStatus {
        self.go(g).unwrap_or(GoStatus::Dead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_transitions_are_refused_and_change_nothing() {
        let mut s = Machine::<3, 2, 4>::new();
        refused(&mut s, "M0 holds no P", |s| s.proc_stop(0));
        refused(&mut s, "M0 holds no P", |s| s.go_start(0, GoSlot::Task(0)));
        refused(&mut s, "P0 is idle, not in a syscall", |s| {
            s.proc_steal(1, 0)
        });
        s.proc_start(0, 0).unwrap();
        refused(&mut s, "P0 is taken", |s| s.proc_start(1, 0));
        refused(&mut s, "M0 holds P0", |s| s.proc_start(0, 1));
        refused(&mut s, "no callback on M1", |s| s.callback_exit(1));
        assert_eq!(s.check_create(0, 9), Err(Error::NoSuchTask(9)));
        assert_eq!(s.proc(0), Ok(ProcStatus::Running));
        assert_eq!(s.proc_owner(0), Ok(Some(0)));
        s.check_create(0, 1).unwrap();
        s.created(1).unwrap();
        refused(&mut s, "slot 1 is in use", |s| s.check_create(0, 1));
        refused(&mut s, "nothing runs", |s| {
            s.go_leave(0, GoStatus::Runnable)
        });
        refused(&mut s, "nothing in a syscall", |s| s.syscall_end(0));
        assert_eq!(s.go(GoSlot::Task(1)), Ok(GoStatus::Runnable));
    }

    /// Everything the machine's observers show: each P's status and owner, each context's P,
    /// goroutine and callback, each task's status.
    fn observed<const MS: usize, const PS: usize, const GS: usize>(
        s: &Machine<MS, PS, GS>,
    ) -> String {
        let ps: Vec<_> = (0..PS).map(|p| (s.proc(p), s.proc_owner(p))).collect();
        let ms: Vec<_> = (0..MS)
            .map(|m| (s.held(m), s.running(m), s.go(GoSlot::Callback(m))))
            .collect();
        let gs: Vec<_> = (0..GS).map(|t| s.go(GoSlot::Task(t))).collect();
        format!("{ps:?} {ms:?} {gs:?}")
    }

    /// Checks that `change` is refused as a transition (not for another reason) and changes
    /// nothing the observers show.
    fn refused<const MS: usize, const PS: usize, const GS: usize, T: core::fmt::Debug>(
        s: &mut Machine<MS, PS, GS>,
        why: &str,
        change: impl FnOnce(&mut Machine<MS, PS, GS>) -> Result<T, Error>,
    ) {
        let before = observed(s);
        let result = change(s);
        assert!(
            matches!(result, Err(Error::Transition { .. })),
            "{why}: {result:?}"
        );
        assert_eq!(observed(s), before, "{why}: refused, but changed");
    }

    #[test]
    fn a_stolen_executor_ends_the_blocking_operation_off_the_context() {
        let mut s = Machine::<2, 1, 1>::new();
        s.proc_start(0, 0).unwrap();
        s.created(0).unwrap();
        s.go_start(0, GoSlot::Task(0)).unwrap();
        assert_eq!(s.syscall_begin(0), Ok(0));
        assert_eq!(s.proc_steal(1, 0), Ok(0));
        assert_eq!(s.held(0), Ok(None));
        assert_eq!(s.syscall_end(0), Ok(false));
        assert_eq!(s.go(GoSlot::Task(0)), Ok(GoStatus::Runnable));
        assert_eq!(s.running(0), Ok(None));
    }

    /// A callback that took an executor is still in its blocking operation (its goroutine has
    /// not run on the executor yet): it cannot begin another one, which Go's parser would refuse
    /// as a syscall begun by a goroutine that is not running.
    #[test]
    fn a_callback_not_yet_running_on_its_executor_cannot_begin_a_blocking_operation() {
        let mut s = Machine::<2, 1, 1>::new();
        s.callback_enter(1).unwrap();
        s.proc_start(1, 0).unwrap();
        refused(&mut s, "the callback's goroutine is not running", |s| {
            s.syscall_begin(1)
        });
    }

    #[test]
    fn a_callback_that_exits_holding_an_executor_abandons_it() {
        let mut s = Machine::<2, 1, 1>::new();
        s.callback_enter(1).unwrap();
        assert!(s.callback_enter(1).is_err(), "already active");
        s.proc_start(1, 0).unwrap();
        assert_eq!(
            s.syscall_end(1),
            Ok(false),
            "the P was not in its operation"
        );
        s.go_start(1, GoSlot::Callback(1)).unwrap();
        assert!(
            s.go_leave(1, GoStatus::Dead).is_err(),
            "callbacks do not GoDestroy"
        );
        s.syscall_begin(1).unwrap();
        s.callback_exit(1).unwrap();
        assert_eq!(s.proc(0), Ok(ProcStatus::Abandoned));
        assert_eq!(s.proc_owner(0), Ok(Some(1)));
        assert_eq!(s.proc_steal(0, 0), Ok(1));
        assert_eq!(s.proc(0), Ok(ProcStatus::Idle));
    }
}
