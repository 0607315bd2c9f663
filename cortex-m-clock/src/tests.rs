//! The choice of counter on the host: fake counter registers in memory the tests own, moved (or
//! not) by the spin `choose` waits with, as the hardware would count during the device's busy
//! wait; then the readings of the chosen clock through them.

extern crate std;

use std::boxed::Box;
use std::cell::Cell;
use std::sync::Mutex;

use super::*;

/// The chosen clock is one static: the tests that choose take turns.
static CHOOSING: Mutex<()> = Mutex::new(());

/// A fake counter register: a word of memory the test writes as the hardware would count.
struct Register(Box<Cell<u32>>);

impl Register {
    fn new(value: u32) -> Register {
        Register(Box::new(Cell::new(value)))
    }

    fn counter(&self, mask: u32, source: ClockSource) -> Counter {
        // SAFETY: the register outlives every reading of the test (it is dropped at its end, after
        // the clock was last read), and reading it has no effect.
        unsafe { Counter::new(self.0.as_ptr(), mask, source) }
    }

    fn add(&self, ticks: u32) {
        self.0.set(self.0.get().wrapping_add(ticks));
    }
}

fn timer(register: &Register) -> Counter {
    register.counter(u32::MAX, ClockSource::CmsdkApbTimer)
}

/// A board whose counters count at different rates: the rate follows the choice.
struct TwoRates;

// SAFETY: no fallback of its own (the tests give theirs to `choose`).
unsafe impl Counters for TwoRates {
    const CPU_HZ: u32 = 64_000_000;
    const FALLBACK_HZ: u32 = 32_768;

    fn start_fallback() -> Option<Counter> {
        None
    }
}

/// The turn to choose; one test's failure does not fail the others.
fn choosing() -> std::sync::MutexGuard<'static, ()> {
    CHOOSING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The chosen counter's rate as `TwoRates` gives it: `hz`, the trace's frequency, and `us`
/// microseconds in ticks.
fn assert_rate(hz_chosen: u32, us: u32, ticks: u32) {
    assert_eq!(hz::<TwoRates>(), hz_chosen);
    assert_eq!(
        TraceClock::<TwoRates>::chosen().frequency(),
        u64::from(hz_chosen)
    );
    assert_eq!(ticks_in_us::<TwoRates>(us), ticks);
}

#[test]
fn a_counting_cycle_counter_is_chosen_and_the_fallback_not_started() {
    let _turn = choosing();
    let cycles = Register::new(100);
    let cyccnt = cycles.counter(0, ClockSource::DwtCycles);
    let started = Cell::new(false);
    let fallback = || {
        started.set(true);
        None
    };
    assert_eq!(
        choose(Some(cyccnt), fallback, || cycles.add(7)),
        Some(ClockSource::DwtCycles)
    );
    assert!(
        !started.get(),
        "a firmware whose CYCCNT counts keeps its timer"
    );
    assert_rate(64_000_000, 1000, 64_000);
    assert_eq!(now(), 107);
    cycles.add(5);
    assert_eq!(TraceClock::<TwoRates>::chosen().now(), 112);
    // The clock's readings stop before the register goes.
    set_still_register();
}

#[test]
fn a_cycle_counter_that_stands_still_gives_way_to_the_fallback_read_inverted() {
    let _turn = choosing();
    // QEMU: CYCCNT enabled, and still.
    let cycles = Register::new(0);
    let down = Register::new(u32::MAX);
    let spin = || down.add(25u32.wrapping_neg()); // counts down
    assert_eq!(
        choose(
            Some(cycles.counter(0, ClockSource::DwtCycles)),
            || Some(timer(&down)),
            spin
        ),
        Some(ClockSource::CmsdkApbTimer)
    );
    // The fallback's rate now.
    assert_rate(32_768, 2_000_000, 65_536);
    // The timer counted through all of CYCCNT's spins and its own first one: !(u32::MAX - 25 ×
    // (SPINS_TO_MOVE + 1)).
    let spun = 25 * (SPINS_TO_MOVE + 1);
    assert_eq!(now(), spun);
    down.add(10u32.wrapping_neg());
    assert_eq!(TraceClock::<TwoRates>::chosen().now(), spun + 10);
    // One rate for both: the same whichever counts.
    assert_eq!(hz::<Mps2>(), 25_000_000);
    assert_eq!(ticks_in_us::<Mps2>(2), 50);
    set_still_register();
}

#[test]
fn without_a_cycle_counter_the_fallback_is_the_clock() {
    let _turn = choosing();
    let down = Register::new(1000);
    assert_eq!(
        choose(
            None,
            || Some(timer(&down)),
            || down.add(1u32.wrapping_neg())
        ),
        Some(ClockSource::CmsdkApbTimer)
    );
    assert_eq!(now(), !999);
    assert_eq!(hz::<TwoRates>(), 32_768);
    set_still_register();
}

#[test]
fn a_fallback_counts_at_the_fallback_rate_whatever_source_it_reports() {
    let _turn = choosing();
    // A board's own timer (an STM32's TIM2, say), for which `ClockSource` has no name of its own,
    // given as `DwtCycles`: the rate is the fallback's, since it is the fallback that was chosen.
    let up = Register::new(0);
    assert_eq!(
        choose(
            None,
            || Some(up.counter(0, ClockSource::DwtCycles)),
            || up.add(1)
        ),
        Some(ClockSource::DwtCycles)
    );
    assert_rate(32_768, 2_000_000, 65_536);
    set_still_register();
}

#[test]
fn a_slow_counter_that_ticks_once_in_many_spins_counts() {
    // A counter that ticks once in 700 spins (far slower than any real one), the first spin
    // falling between two ticks.
    let _turn = choosing();
    let ticks = Register::new(10);
    let spins = Cell::new(0u32);
    let spin = || {
        spins.set(spins.get() + 1);
        if spins.get().is_multiple_of(700) {
            ticks.add(1);
        }
    };
    assert_eq!(
        choose(
            None,
            || Some(ticks.counter(0, ClockSource::CmsdkApbTimer)),
            spin
        ),
        Some(ClockSource::CmsdkApbTimer)
    );
    assert_eq!(spins.get(), 700, "chosen at its first tick, not spun on");
    set_still_register();
}

#[test]
fn a_counter_that_wraps_while_looked_at_counts() {
    let _turn = choosing();
    let cycles = Register::new(u32::MAX - 3);
    let cyccnt = cycles.counter(0, ClockSource::DwtCycles);
    assert_eq!(
        choose(Some(cyccnt), || None, || cycles.add(10)),
        Some(ClockSource::DwtCycles)
    );
    assert_eq!(now(), 6);
    set_still_register();
}

#[test]
fn nothing_is_chosen_when_no_counter_counts_forward() {
    let _turn = choosing();
    set_still_register();
    let before = TraceClock::<Mps2>::chosen().0.register;
    let cycles_before = CYCLES.load(Ordering::Relaxed);
    // Still, both.
    let still = Register::new(5);
    assert_eq!(
        choose(
            Some(still.counter(0, ClockSource::DwtCycles)),
            || Some(timer(&still)),
            || {}
        ),
        None
    );
    // A down-counter given the mask of an up-counter reads as going back; one that jumps by half
    // the range or more between two close readings is no free-running counter either.
    let down = Register::new(1000);
    let wrong_mask = down.counter(0, ClockSource::CmsdkApbTimer);
    assert_eq!(
        choose(None, || Some(wrong_mask), || down.add(1u32.wrapping_neg())),
        None
    );
    let jumpy = Register::new(0);
    let half = jumpy.counter(0, ClockSource::DwtCycles);
    assert_eq!(
        choose(Some(half), || None, || jumpy.add(u32::MAX / 2)),
        None
    );
    // No fallback at all.
    assert_eq!(choose(None, || None, || {}), None);
    assert_eq!(
        TraceClock::<Mps2>::chosen().0.register,
        before,
        "the clock is left as it was"
    );
    assert_eq!(CYCLES.load(Ordering::Relaxed), cycles_before);
}

#[test]
fn a_cmsdk_apb_timer_is_started_free_running_and_read_at_value() {
    // CTRL, VALUE, RELOAD, and a word after them that must stay untouched.
    let timer: Box<[Cell<u32>; 4]> =
        Box::new([Cell::new(0xff), Cell::new(7), Cell::new(9), Cell::new(3)]);
    let base = timer.as_ptr() as usize;
    // SAFETY: the fake timer's four words, which the test owns.
    let counter = unsafe { Counter::start_cmsdk_apb_timer(base) };
    assert_eq!(timer[0].get(), 1, "CTRL: enabled, interrupt off");
    assert_eq!(timer[2].get(), u32::MAX, "RELOAD: all ones");
    assert_eq!(timer[3].get(), 3);
    assert_eq!(counter.source(), ClockSource::CmsdkApbTimer);
    // The hardware loads VALUE from RELOAD and counts down; the reading counts up.
    timer[1].set(u32::MAX);
    assert_eq!(counter.read(), 0);
    timer[1].set(u32::MAX - 40);
    assert_eq!(counter.read(), 40);
}

#[test]
fn an_unset_clock_is_all_zeros() {
    // What keeps the scheduler's static, which holds it, in `.bss`.
    // SAFETY: not read.
    let unset = unsafe { TraceClock::<Mps2>::unset() };
    assert!(unset.0.register.is_null());
    assert_eq!(unset.0.mask, 0);
}

#[test]
fn the_long_division_is_u64_division() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64: values of every size, and the edges below.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let edges = [0, 1, 15_624, 15_625, u64::from(u32::MAX), 1 << 48, u64::MAX];
    for divisor in [1, 2, 7, 15_625, 65_535] {
        for x in edges
            .into_iter()
            .chain((0..10_000).map(|i| next() >> (i % 64)))
        {
            assert_eq!(
                div_small(x, divisor),
                x / u64::from(divisor),
                "{x} / {divisor}"
            );
        }
    }
}

#[test]
fn a_spin_returns_at_the_first_reading_ticks_past_its_start_across_the_wrap() {
    // A counter that moves one tick per reading: the spin reads it once to start, then until it
    // reads `ticks` past that, and no further.
    for (start, ticks) in [(0, 0), (0, 1), (100, 5), (u32::MAX - 2, 6), (7, 1000)] {
        let reading = Cell::new(start);
        let readings = Cell::new(0u32);
        let read = || {
            readings.set(readings.get() + 1);
            let r = reading.get();
            reading.set(r.wrapping_add(1));
            r
        };
        spin_on(read, ticks);
        assert_eq!(
            readings.get(),
            ticks.max(1) + 1,
            "from {start}, {ticks} ticks: the start and a reading per tick"
        );
    }
}

#[test]
fn a_clock_shows_its_register_and_mask() {
    let clock = TraceClock::<Mps2>(
        Reading {
            register: 0x4000_0004 as *const u32,
            mask: u32::MAX,
        },
        PhantomData,
    );
    assert_eq!(
        std::format!("{clock:?}"),
        "TraceClock(Reading { register: 0x40000004, mask: 4294967295 })"
    );
}

/// A board of one rate.
struct Rate<const HZ: u32>;

// SAFETY: no fallback.
unsafe impl<const HZ: u32> Counters for Rate<HZ> {
    const CPU_HZ: u32 = HZ;
    const FALLBACK_HZ: u32 = HZ;

    fn start_fallback() -> Option<Counter> {
        None
    }
}

/// `ticks_in_us::<C>` against the `u64` arithmetic it avoids, at `hz`.
fn check_ticks_in_us<C: Counters>(hz: u32) {
    for us in [0, 1, 999, 1000, 4_294_967, 4_294_968, 2_000_000, u32::MAX] {
        let exact = (u64::from(us) * u64::from(hz) / 1_000_000) as u32;
        assert_eq!(ticks_in_us::<C>(us), exact, "{us} us at {hz} Hz");
    }
}

#[test]
fn microseconds_in_ticks_round_down() {
    // Whole megahertz (the multiplication alone) and not (the long division).
    check_ticks_in_us::<Rate<25_000_000>>(25_000_000);
    check_ticks_in_us::<Rate<64_000_000>>(64_000_000);
    check_ticks_in_us::<Rate<32_768>>(32_768);
    check_ticks_in_us::<Rate<1>>(1);
    check_ticks_in_us::<Rate<{ u32::MAX }>>(u32::MAX);
    // Two rates: the one of the chosen counter.
    let _turn = choosing();
    CYCLES.store(true, Ordering::Relaxed);
    check_ticks_in_us::<TwoRates>(64_000_000);
    CYCLES.store(false, Ordering::Relaxed);
    check_ticks_in_us::<TwoRates>(32_768);
    CYCLES.store(true, Ordering::Relaxed);
}

/// Points the chosen clock at a still register that lives for the whole run, so that no reading
/// made after a test goes through that test's dropped register.
fn set_still_register() {
    static STILL: u32 = 0;
    // SAFETY: start-up is over in the tests; only the test holding CHOOSING reads the clock.
    unsafe {
        CHOSEN.0.get().write_volatile(Reading {
            register: &STILL,
            mask: 0,
        });
    }
}

#[test]
fn init_chooses_once_and_a_later_call_returns_that_choice_without_choosing() {
    // The only test of `once`: the choice it records lasts for the test binary.
    assert_eq!(once(|| None), None, "nothing counted: no choice recorded");
    assert_eq!(
        once(|| Some(ClockSource::BoardTimer)),
        Some(ClockSource::BoardTimer)
    );
    assert_eq!(
        once(|| panic!("chose again, restarting a counter under a live clock")),
        Some(ClockSource::BoardTimer)
    );
}
