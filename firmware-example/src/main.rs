//! gotrace's example firmware: a traced workload on a cooperative scheduler, streamed over RTT.
//!
//! Start-up: RTT (defmt on up channel 0, the trace on its own up channel, a session channel up,
//! a control channel down, all in one control block), the clock (DWT or a timer), then a short
//! wait for the host's start command (tracing starts with defaults if none comes), the session
//! descriptor, the workload, and at the end the trace's end record, a wait for the host to drain
//! everything, and exit.
#![no_std]
#![no_main]

mod board;
mod bus;
mod fault;
#[cfg(feature = "trace")]
mod measure;
mod workload;

use cortex_m_rt::entry;
use gotrace_cortex_m_clock::{self as clock, TraceClock};
use gotrace_rtt::{AnnounceError, ControlChannel, RingWatch, RttSink, SessionChannel, TraceRing};
use gotrace_rtt_protocol::{
    self as protocol, Backpressure, Command, SessionDescriptor, PROTOCOL_VERSION,
};
use gotrace_scheduler::{Config, Scheduler};
use rtt_target::{rtt_init, ChannelMode, UpChannel};

use board::{Board, ClockCounters};

/// Bytes of each context's batch buffer.
pub const BATCH_BYTES: usize = 512;
/// Bytes of the trace channel's ring buffer.
#[cfg(not(any(feature = "tiny-trace-channel", feature = "large-trace-channel")))]
const TRACE_CHANNEL_BYTES: usize = 8192;
#[cfg(feature = "tiny-trace-channel")]
const TRACE_CHANNEL_BYTES: usize = 1024;
/// For the instruction measurement: the channel holds everything its measured rounds write
/// (about 68 KB) without wrapping, so none of their batches is dropped or waited for whenever the
/// host reads, and the count is the same in every run (see `measure.rs`). 128 KiB of the MPS2
/// boards' 4 MiB of RAM.
#[cfg(all(feature = "large-trace-channel", not(feature = "tiny-trace-channel")))]
const TRACE_CHANNEL_BYTES: usize = 128 * 1024;
#[cfg(all(feature = "tiny-trace-channel", feature = "large-trace-channel"))]
compile_error!("features `tiny-trace-channel` and `large-trace-channel` exclude each other");
// A batch is written whole or waited for: the channel must hold the largest one (its buffer and
// a header of at most 41 bytes) with room to spare, or lossless mode would have to drop it.
const _: () = assert!(TRACE_CHANNEL_BYTES > BATCH_BYTES + 64);
/// Bytes of the `defmt` log channel.
#[cfg(not(feature = "tiny-log-channel"))]
const LOG_CHANNEL_BYTES: usize = 1024;
/// Smaller than most of the firmware's log lines, which fit only if the firmware waits for the
/// host to drain them: the end-to-end tests' check that a recording gets every line, and that
/// without a host the logs never stop the firmware.
#[cfg(feature = "tiny-log-channel")]
const LOG_CHANNEL_BYTES: usize = 16;
const TASKS: usize = 4;
const EXECUTORS: usize = 1;
/// Generation length when the host does not say.
const DEFAULT_GENERATION_US: u32 = 1000;
/// How long to wait for the host's start command, and for it to drain at the end.
const HOST_WAIT_MS: u32 = board::START_WAIT_MS;
const DRAIN_WAIT_MS: u32 = 2000;

pub static SCHED: Scheduler<
    Board,
    TraceClock<ClockCounters>,
    RttSink,
    TASKS,
    EXECUTORS,
    { board::CONTEXTS },
    BATCH_BYTES,
> = Scheduler::new(
    Board,
    // SAFETY: `main` gives the encoder the chosen clock (with its sink) before tracing starts.
    unsafe { TraceClock::unset() },
    RttSink::new(),
    Config {
        // Generations are ended by the PendSV handler at the host's period.
        generation_ticks: 0,
        generation_bytes: 0,
    },
);

#[entry]
fn main() -> ! {
    #[cfg(feature = "board-nrf52840")]
    board::keep_debug_port_open();
    // The log channel drops what does not fit until a host reads it: a board without a
    // debugger must not stop at its first kilobyte of logs. `gotrace record` makes it wait for
    // room (BlockIfFull) once it is draining it, so a recording loses no log line.
    let channels = rtt_init! {
        up: {
            0: { size: LOG_CHANNEL_BYTES, mode: ChannelMode::NoBlockSkip, name: "defmt" }
            1: { size: TRACE_CHANNEL_BYTES, mode: ChannelMode::BlockIfFull, name: "gotrace" }
            // gotrace-rtt's `SessionChannel` writes it (never waiting, whatever the mode).
            2: { size: 128, mode: ChannelMode::BlockIfFull, name: "gotrace-session" }
        }
        down: {
            0: { size: 64, name: "gotrace-control" }
        }
    };
    rtt_target::set_defmt_channel(channels.up.0);
    let session = SessionChannel::take(channels.up.2);
    let mut control = ControlChannel::new(channels.down.0);

    let mut core = cortex_m::Peripherals::take().expect("taken once");
    unsafe {
        // SysTick keeps time and must preempt everything; PendSV runs the interrupt-level
        // executor below it.
        core.SCB
            .set_priority(cortex_m::peripheral::scb::SystemHandler::SysTick, 0x00);
        core.SCB
            .set_priority(cortex_m::peripheral::scb::SystemHandler::PendSV, 0x80);
    }
    workload::start_systick(&mut core.SYST);
    let Some(source) = clock::init::<ClockCounters>(&mut core.DCB, &mut core.DWT) else {
        defmt::error!("no trace clock: DWT CYCCNT does not count and the board has no timer");
        board::exit(false)
    };
    let (backpressure, generation_us) = wait_for_start(&mut control);
    let generation = generation_period(if generation_us == 0 {
        DEFAULT_GENERATION_US
    } else {
        generation_us
    });
    let Some(ring) = TraceRing::take(channels.up.1) else {
        defmt::error!("the trace channel is not in the RTT control block");
        board::exit(false)
    };
    // Whether the host has read the trace channel, asked without the scheduler's lock.
    let trace_channel = ring.watch();
    // The encoder's clock and sink, before tracing starts (here or in `measure::run`).
    // The mode announced is the one the sink applies: lossy for overwrite without the flight
    // recorder (feature `flight-recorder`), and the host reads the channel as it is written.
    #[cfg(feature = "trace")]
    let backpressure = SCHED.with_encoder(|enc| {
        enc.sink_mut().attach(ring, backpressure);
        *enc.clock_mut() = TraceClock::chosen();
        enc.sink().backpressure()
    });
    #[cfg(not(feature = "trace"))]
    let _ = ring;
    announce_session(session, source, backpressure, generation.us);
    // Logged once a host has had its chance to attach: a line that does not fit in the log
    // channel before then is dropped (see `rtt_init!` above).
    defmt::info!(
        "gotrace example: clock {} at {} Hz",
        source,
        clock::hz::<ClockCounters>()
    );
    defmt::info!("tracing: {}, generation {} us", backpressure, generation.us);

    #[cfg(feature = "trace")]
    if cfg!(feature = "measure") {
        measure::run();
        wait_for_host_drain(trace_channel);
        board::exit(true)
    }
    #[cfg(feature = "trace")]
    set_tracing(true);
    if let Some(asked) = generation.cut_from {
        defmt::warn!(
            "a generation of {} us is over half the trace clock's wrap period at {} Hz: generations of {} us instead",
            asked,
            clock::hz::<ClockCounters>(),
            generation.us
        );
    }
    if let Some(asked) = generation.rounded_from {
        defmt::warn!(
            "a generation of {} us is not whole SysTicks of {} us, at which generations end: generations of {} us instead",
            asked,
            workload::SYSTICK_US,
            generation.us
        );
    }
    workload::spawn(generation.systicks);
    let mut stopped_by_host = false;
    while !workload::finished() {
        SCHED.run_executor(0).expect("scheduler runs");
        if let Some(Command::Stop) = control.poll() {
            stopped_by_host = true;
            break;
        }
    }
    workload::stop();
    #[cfg(feature = "trace")]
    set_tracing(false);
    // Only the figures logged, taken inside the lock: the rest of the statistics is not
    // computed (nor copied out).
    #[cfg(feature = "trace")]
    let (events, bytes, generations) = SCHED.with_encoder(|enc| {
        let stats = enc.stats();
        (stats.events, stats.bytes_written, stats.generations)
    });
    #[cfg(not(feature = "trace"))]
    let (events, bytes, generations) = (0u32, 0u32, 0u32);
    defmt::info!(
        "done: {} events, {} bytes, {} generations{}",
        events,
        bytes,
        generations,
        if stopped_by_host {
            " (stopped by the host)"
        } else {
            ""
        }
    );
    wait_for_host_drain(trace_channel);
    board::exit(true)
}

/// Starts or stops tracing. Either fails only when tracing is already as asked (the panic names
/// the encoder's error, `AlreadyTracing` or `NotTracing`): a bug of this firmware, which starts
/// once and stops once. One function for both, out of line: one failure path and message in
/// flash instead of one at each call (88 bytes less).
#[cfg(feature = "trace")]
#[inline(never)]
fn set_tracing(on: bool) {
    let switched = if on {
        SCHED.start_tracing()
    } else {
        SCHED.stop_tracing()
    };
    switched.expect("tracing on/off");
}

/// The generation period used: in microseconds (as the session descriptor states it) and in
/// SysTicks, whole ones (PendSV ends a generation at a SysTick: `workload.rs`), at most half the
/// trace clock's 32-bit wrap period: the encoder tells which half of the clock a context's last
/// reading is in from readings less than that apart (`encoder/README.md`, "Clocks"). `rounded_from`
/// is the period asked for when it was not whole SysTicks (rounded up), `cut_from` when it was
/// longer than half the wrap.
struct GenerationPeriod {
    us: u32,
    systicks: u32,
    rounded_from: Option<u32>,
    cut_from: Option<u32>,
}

fn generation_period(us: u32) -> GenerationPeriod {
    const HALF_WRAP: u32 = 1 << 31;
    const TICK: u32 = workload::SYSTICK_US;
    let hz = clock::hz::<ClockCounters>();
    // Rounded up, but within 32 bits of microseconds (u32::MAX is not whole milliseconds).
    let systicks = us.div_ceil(TICK).clamp(1, u32::MAX / TICK);
    if u64::from(systicks * TICK) * u64::from(hz) < u64::from(HALF_WRAP) * 1_000_000 {
        return GenerationPeriod {
            us: systicks * TICK,
            systicks,
            rounded_from: (systicks * TICK != us).then_some(us),
            cut_from: None,
        };
    }
    // Whole SysTicks below half a wrap, in 32-bit divisions only (the clock runs at 500 kHz or
    // more to get here); its ticks per SysTick rounded up, so that the ticks stay below it.
    let systicks = (HALF_WRAP - 1) / hz.div_ceil(1_000_000 / TICK);
    GenerationPeriod {
        us: systicks * TICK,
        systicks,
        rounded_from: None,
        cut_from: Some(us),
    }
}

/// The host's start command, or the defaults once `HOST_WAIT_MS` have passed without one: lossy,
/// because without a start command there may be no host at all, and a lossless trace channel
/// that nobody reads would stop the firmware at its first full ring (inside the scheduler's
/// critical section). A host that was only slow still gets the trace, with every loss reported.
fn wait_for_start(control: &mut ControlChannel) -> (Backpressure, u32) {
    let start = clock::now();
    let limit = clock::ticks_in_us::<ClockCounters>(HOST_WAIT_MS * 1000);
    while clock::now().wrapping_sub(start) < limit {
        if let Some(Command::Start {
            backpressure,
            generation_period_us,
        }) = control.poll()
        {
            return (backpressure, generation_period_us);
        }
    }
    defmt::warn!("no start command from the host: tracing lossy with defaults");
    (Backpressure::Lossy, 0)
}

/// Tells the host how this session traces: the session descriptor, on its own channel. Not sent,
/// it is logged why: the host then says that no descriptor confirms its start command.
// Out of line: inlined into `main`, where the clock's rate is a constant before LTO (the
// `gotrace-cortex-m-clock` board's), the descriptor's encoding of it took 4 bytes more in the
// traced build than when the rate was a static's; out of line, 8 fewer (the footprint figures).
#[inline(never)]
fn announce_session(
    session: Option<SessionChannel>,
    clock: protocol::ClockSource,
    backpressure: Backpressure,
    generation_us: u32,
) {
    let Some(mut session) = session else {
        defmt::warn!("no session descriptor: the session channel is not in the RTT control block");
        return;
    };
    let sent = session.announce(&SessionDescriptor {
        protocol_version: PROTOCOL_VERSION,
        encoder_version: gotrace_encoder::VERSION,
        clock,
        clock_hz: u64::from(clock::hz::<ClockCounters>()),
        trace_channel_bytes: TRACE_CHANNEL_BYTES as u32,
        batch_buffer_bytes: BATCH_BYTES as u32,
        batch_buffers: board::CONTEXTS as u32,
        backpressure,
        generation_period_us: generation_us,
    });
    match sent {
        Ok(()) => {}
        Err(AnnounceError::ChannelTooSmall) => {
            defmt::warn!("no session descriptor: the session channel is too small for it")
        }
        Err(AnnounceError::Full) => {
            defmt::warn!("no session descriptor: the session channel is full")
        }
    }
}

/// Gives the host time to read the last bytes (the end record, the last logs) before exiting.
fn wait_for_host_drain(trace_channel: RingWatch) {
    // SAFETY: thread mode, after the logger's last use; nothing else writes channel 0 now.
    let defmt_channel = unsafe { UpChannel::conjure(0) };
    let start = clock::now();
    let limit = clock::ticks_in_us::<ClockCounters>(DRAIN_WAIT_MS * 1000);
    while clock::now().wrapping_sub(start) < limit {
        if trace_channel.is_drained() && defmt_channel.as_ref().is_none_or(|c| c.is_empty()) {
            return;
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // Logged once: a panic inside a log call (the logger held) would panic again here, and
    // again, until the stack ran over the RTT buffers.
    static PANICKED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    if !PANICKED.swap(true, core::sync::atomic::Ordering::Relaxed) {
        defmt::error!("panic: {}", defmt::Display2Format(info));
    }
    board::exit(false)
}

#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    fault::report(frame);
    board::exit(false)
}
