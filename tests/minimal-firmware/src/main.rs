//! The smallest firmware that `gotrace record` records: what `scheduler/README.md` ("Adding it to
//! your own firmware") says a firmware of one's own needs, and nothing of the example firmware's
//! (no defmt, no session descriptor, no lossy mode; the trace on RTT up channel 0, written by
//! `gotrace-rtt`'s sink, timed by `gotrace-cortex-m-clock`'s clock). Three tasks on one executor
//! under QEMU `mps2-an385`: a producer doing blocking operations and waking a consumer, and a
//! sleeper woken by SysTick. The end-to-end test records it, so the README's instructions cannot
//! drift from what works. With the feature `netduinoplus2`, the same firmware for QEMU's
//! `netduinoplus2` (STM32F405, Cortex-M4F), a board gotrace has nothing ready-made for: its memory
//! map (`build.rs`) and its own `Counters` for the trace clock, as `cortex-m-clock`'s README says
//! to write them. With the feature `fault-loops`, the sleeper hard-faults near its end into
//! cortex-m-rt's default handler, which never ends (for the test that `record` ends there).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::debug;
use gotrace_cortex_m_clock::{Counters, TraceClock};
use gotrace_rtt::{ControlChannel, RttSink, TraceRing};
use gotrace_rtt_protocol::{Backpressure, Command};
use gotrace_scheduler::{Annotate, Config, Platform, Scheduler, Step, TaskCx, TaskId};
use rtt_target::{rtt_init, ChannelMode};

/// Thread mode is context 0; SysTick, the only interrupt that calls the scheduler, context 1.
struct Board;

impl Platform for Board {
    fn current_context(&self) -> usize {
        // ICSR's VECTACTIVE: 0 in thread mode.
        // SAFETY: reading ICSR has no effect.
        let active = unsafe { (*cortex_m::peripheral::SCB::PTR).icsr.read() } & 0x1ff;
        usize::from(active != 0)
    }

    fn idle(&self) {
        cortex_m::asm::wfi()
    }
}

/// The trace clock's counters on the MPS2 boards: 25 MHz, DWT CYCCNT on a board, the CMSDK APB
/// timer 0 under QEMU, which counts no CYCCNT.
#[cfg(not(feature = "netduinoplus2"))]
type Clocks = gotrace_cortex_m_clock::Mps2;
#[cfg(feature = "netduinoplus2")]
type Clocks = Stm32Tim2;

/// QEMU's netduinoplus2: the processor at 168 MHz (what SysTick counts), CYCCNT still, and TIM2, a
/// 32-bit up-counter, as the fallback, which QEMU's STM32 timers count at 1 GHz (a real
/// STM32F405's at its APB1 timer clock, 84 MHz at most).
#[cfg(feature = "netduinoplus2")]
struct Stm32Tim2;

/// The STM32F4's TIM2 and the register that clocks it (RCC APB1ENR).
#[cfg(feature = "netduinoplus2")]
const TIM2: usize = 0x4000_0000;
#[cfg(feature = "netduinoplus2")]
const RCC_APB1ENR: usize = 0x4002_3840;

// SAFETY: TIM2 is started here, free-running through all 2^32 values (prescaler 0, auto-reload
// all ones), and nothing else in this firmware uses it.
#[cfg(feature = "netduinoplus2")]
unsafe impl Counters for Stm32Tim2 {
    const CPU_HZ: u32 = 168_000_000;
    const FALLBACK_HZ: u32 = 1_000_000_000;

    fn start_fallback() -> Option<gotrace_cortex_m_clock::Counter> {
        let register = |offset: usize| (TIM2 + offset) as *mut u32;
        // SAFETY: the RCC's clock enable, and TIM2's registers: PSC (+0x28), ARR (+0x2C), EGR
        // (+0x14: UG loads them), CR1 (+0: CEN); CNT (+0x24) counts up.
        unsafe {
            let apb1enr = RCC_APB1ENR as *mut u32;
            apb1enr.write_volatile(apb1enr.read_volatile() | 1);
            register(0x28).write_volatile(0);
            register(0x2C).write_volatile(u32::MAX);
            register(0x14).write_volatile(1);
            register(0).write_volatile(1);
            Some(gotrace_cortex_m_clock::Counter::new(
                register(0x24),
                0,
                gotrace_cortex_m_clock::ClockSource::BoardTimer,
            ))
        }
    }
}

/// 4 task slots, 1 executor, 2 contexts, 512-byte batches; generations ended by SysTick.
static SCHED: Scheduler<Board, TraceClock<Clocks>, RttSink, 4, 1, 2, 512> = Scheduler::new(
    Board,
    // SAFETY: `main` gives the encoder the clock `init` chose before tracing starts.
    unsafe { TraceClock::unset() },
    RttSink::new(),
    Config {
        // Ended every 5 ms by SysTick, which thereby also reads the clock at least once per half
        // wrap.
        generation_ticks: 0,
        generation_bytes: 16 * 1024,
    },
);

const PRODUCER: TaskId = TaskId(0);
const CONSUMER: TaskId = TaskId(1);
const SLEEPER: TaskId = TaskId(2);
/// Rounds of the producer; the sleeper sleeps through SLEEPS SysTicks (1 ms each).
const ROUNDS: u32 = 50;
const SLEEPS: u32 = 20;

static PRODUCED: AtomicU32 = AtomicU32::new(0);
static SLEPT: AtomicU32 = AtomicU32::new(0);
static FINISHED: AtomicU32 = AtomicU32::new(0);
static TICKS: AtomicU32 = AtomicU32::new(0);

fn finish() -> Step {
    FINISHED.fetch_add(1, Ordering::Relaxed);
    Step::Done
}

fn producer(cx: &mut TaskCx<'_>) -> Step {
    let produced = PRODUCED.fetch_add(1, Ordering::Relaxed) + 1;
    // A blocking operation (a transfer, say): GoSyscallBegin .. GoSyscallEnd.
    cx.blocking(|| cortex_m::asm::delay(2_000)).unwrap();
    cx.wake(CONSUMER).unwrap();
    if produced == ROUNDS {
        finish()
    } else {
        Step::Yield
    }
}

fn consumer(cx: &mut TaskCx<'_>) -> Step {
    cx.log(0, "consumer", "woken").unwrap();
    if PRODUCED.load(Ordering::Relaxed) == ROUNDS {
        finish()
    } else {
        Step::Wait
    }
}

fn sleeper(_: &mut TaskCx<'_>) -> Step {
    let slept = SLEPT.fetch_add(1, Ordering::Relaxed) + 1;
    // With the feature `fault-loops`, three generations in (5 ms each, a wake a millisecond):
    // a read of memory the board does not have, into cortex-m-rt's default HardFault handler,
    // which loops (the firmware never ends).
    if cfg!(feature = "fault-loops") && slept == 17 {
        // SAFETY: none needed: the read is there to fault.
        unsafe { core::ptr::read_volatile(0x3000_0000 as *const u32) };
    }
    if slept == SLEEPS {
        finish()
    } else {
        Step::Wait
    }
}

#[exception]
fn SysTick() {
    // A generation every 5 ms, ended from a timer: the encoder sees the clock wrap only by
    // reading it, so a timer that does, well within a wrap, keeps a long sleep or blocking
    // operation timed right (scheduler/README.md, "A timer that reads the clock"). Refused while
    // tracing is off.
    if TICKS.fetch_add(1, Ordering::Relaxed) % 5 == 4 {
        SCHED.advance_generation().ok();
    }
    // GoUnblock from an interrupt; a wake after the sleeper finished is refused, and ignored.
    // Any other refusal is a fault: the panic ends the run with a failure the host reports.
    match SCHED.wake(SLEEPER) {
        Ok(()) | Err(gotrace_scheduler::Error::NoSuchTask(_)) => {}
        Err(e) => panic!("waking the sleeper from SysTick: {e:?}"),
    }
}

#[entry]
fn main() -> ! {
    let channels = rtt_init! {
        up: {
            0: { size: 8192, mode: ChannelMode::BlockIfFull, name: "gotrace" }
        }
        down: {
            0: { size: 64, name: "gotrace-control" }
        }
    };
    // The host's commands (gotrace record's Stop: --duration, Ctrl-C).
    let mut control = ControlChannel::new(channels.down.0);
    let mut core = cortex_m::Peripherals::take().unwrap();
    gotrace_cortex_m_clock::init::<Clocks>(&mut core.DCB, &mut core.DWT).unwrap();
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(Clocks::CPU_HZ / 1000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_counter();
    core.SYST.enable_interrupt();

    // The trace channel, written by gotrace-rtt's sink: whole batches, lossless (waiting for the
    // host), the end record when tracing stops.
    let ring = TraceRing::take(channels.up.0).unwrap();
    let trace_channel = ring.watch();
    SCHED.with_encoder(|enc| {
        enc.sink_mut().attach(ring, Backpressure::Lossless);
        *enc.clock_mut() = TraceClock::chosen();
    });
    SCHED.start_tracing().unwrap();
    for (id, task) in [
        (PRODUCER, producer as gotrace_scheduler::TaskFn),
        (CONSUMER, consumer),
        (SLEEPER, sleeper),
    ] {
        assert_eq!(SCHED.spawn(0, task, 0).unwrap(), id);
    }
    while FINISHED.load(Ordering::Relaxed) < 3 {
        if SCHED.run_executor(0).unwrap() == 0 {
            SCHED.idle(0);
        }
        if let Some(Command::Stop) = control.poll() {
            break;
        }
    }
    // The last generation, then the end record; then the host reads the channel empty before
    // the exit takes what is left in it.
    SCHED.stop_tracing().unwrap();
    trace_channel.flush();
    debug::exit(debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
