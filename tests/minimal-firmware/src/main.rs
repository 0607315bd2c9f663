//! The smallest firmware that `gotrace record` records: what `scheduler/README.md` ("Adding it to
//! your own firmware") says a firmware of one's own needs, and nothing of the example firmware's
//! (no defmt, no session descriptor, no lossy mode; the trace on RTT up channel 0, written by
//! `gotrace-rtt`'s sink, timed by `gotrace-cortex-m-clock`'s clock). Three tasks on one executor
//! under QEMU `mps2-an385`: a producer doing blocking operations and waking a consumer, and a
//! sleeper woken by SysTick. The end-to-end test records it, so the README's instructions cannot
//! drift from what works.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::debug;
use gotrace_cortex_m_clock::{Counters, Mps2, TraceClock};
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

/// The trace clock counts at 25 MHz on the MPS2 boards: DWT CYCCNT on a board, the CMSDK APB
/// timer 0 under QEMU, which counts no CYCCNT (both at `Mps2`'s rate); SysTick at the processor's.
const HZ: u32 = Mps2::CPU_HZ;

/// 4 task slots, 1 executor, 2 contexts, 512-byte batches; a generation every 5 ms.
static SCHED: Scheduler<Board, TraceClock<Mps2>, RttSink, 4, 1, 2, 512> = Scheduler::new(
    Board,
    // SAFETY: `main` gives the encoder the clock `init` chose before tracing starts.
    unsafe { TraceClock::unset() },
    RttSink::new(),
    Config {
        generation_ticks: HZ / 200,
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
    if SLEPT.fetch_add(1, Ordering::Relaxed) + 1 == SLEEPS {
        finish()
    } else {
        Step::Wait
    }
}

#[exception]
fn SysTick() {
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
    gotrace_cortex_m_clock::init::<Mps2>(&mut core.DCB, &mut core.DWT).unwrap();
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(HZ / 1000 - 1);
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
