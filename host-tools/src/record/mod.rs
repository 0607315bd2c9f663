//! `gotrace record`: pull a trace over RTT from firmware running under QEMU or on a board, show
//! its logs and progress, write the `.trace`, validate it and summarise it.
//!
//! The session is the same whatever carries RTT (a [`link::Link`]): send the start command,
//! poll the channels until the firmware ends, the trace ends, the duration is up or Ctrl-C,
//! then ask the firmware to stop and collect the rest. The trace channel is split into valid
//! segments ([`stream`]) whose generations are written to their files as each completes
//! ([`segments`]); at the end, each file is checked with the decoder ([`summary`]).

mod args;
mod defmt_log;
pub(crate) mod elf;
mod fault;
mod flight;
mod frames;
mod gdb;
mod link;
mod output_tap;
#[cfg(feature = "probe-rs")]
mod probe;
mod progress;
mod qemu;
mod rtt;
pub(crate) mod segments;
mod session;
mod signals;
mod stream;
mod summary;

use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use gotrace_rtt_protocol::{self as protocol, Backpressure, Command, SessionDescriptor};

use crate::stdout::{self, errln, outln};
pub use args::RecordArgs;
use args::{check_target_named, default_output};
use frames::ZeroFrames;
use link::{Drained, End, Link, Liveness};
use session::take_descriptors;
use signals::{abort, aborted, ctrl_c, kept, stop_asked};

/// Everything the session gathered, before writing.
struct Recording {
    /// The start command sent, which the descriptor should confirm.
    asked: Command,
    descriptor: Option<SessionDescriptor>,
    stream: stream::TraceStream,
    log_lines: u64,
    /// How the target ended, if it did.
    ended: Option<End>,
    /// Where a hard fault happened, if the debugger caught one.
    fault: Option<fault::FaultSite>,
    /// The goroutines a flight recording's generations created, read before they were
    /// overwritten: the summary names those tasks by them.
    overwritten_creations: summary::Creations,
    stopped_by: &'static str,
    /// Why the trace channel could not be read on, if it could not: the recording stops there,
    /// and what it holds so far is still written and checked.
    channel_error: Option<String>,
    /// Why the target could not be read on, if it could not (a board that reset or whose probe
    /// was unplugged, a gdb stub that stopped answering, a control block overwritten): the
    /// recording stops there, and what it holds so far is still written and checked.
    target_error: Option<String>,
    /// Trace channel bytes not read into a trace: after its end record, from an item that could
    /// not be read on, or after the stop command's grace: in no trace, but counted.
    late_trace_bytes: u64,
    /// Bytes that came on up channels that are none of the protocol's (see [`Drained::other`]).
    other_channel_bytes: u64,
    /// Bytes of the `defmt` channel that no log line was made of: the ELF has no defmt table
    /// (stripped, or not the firmware's), so they cannot be decoded.
    undecoded_log_bytes: u64,
    elapsed: Duration,
    /// When the stop command was sent, from the recording's start: a firmware slow to act on it
    /// (or that never does) makes the recording end well after.
    stop_sent_at: Option<Duration>,
    /// Time spent inside polls (halting, reading, resuming): what draining itself costs.
    polling: Duration,
    /// How the trace channel was read: a flight recording's is left to the firmware to the end,
    /// not drained as it comes, so the polls' time and rate are the logs', not the trace's.
    trace_read: TraceRead,
}

/// How a recording read its trace channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TraceRead {
    /// Drained as the firmware wrote it.
    AsItCame,
    /// A flight recorder's, once at the end.
    OnceAtTheEnd,
    /// A flight recorder's, never: the firmware ended without its end record, a fault or a panic
    /// to read it at, or the target could not be read.
    Never,
}

impl Recording {
    /// Stops the recording at a target that failed to be read (`error`): what it holds is
    /// summarised, the error said with it. It ended the command unchecked.
    fn stop_at_target_error(&mut self, error: anyhow::Error) {
        self.target_error = Some(format!("{error:#}"));
        self.stopped_by = "a target that could not be read";
    }

    /// Takes the error of a push of trace channel bytes: what came from where reading stopped
    /// (the end record, or an item that cannot be read) is late, as what later polls bring
    /// (`read_after_end`), wherever the polls split the channel. Whether the recording stops
    /// there: at an item that cannot be read, not at bytes after the end record.
    fn stop_at_channel_error(&mut self, error: stream::StreamError) -> bool {
        self.late_trace_bytes += self.stream.unread();
        if matches!(error, stream::StreamError::AfterEnd { .. }) {
            return false;
        }
        self.channel_error = Some(error.to_string());
        self.stopped_by = "an unreadable trace channel";
        true
    }
}

pub fn run(args: &RecordArgs) -> Result<std::process::ExitCode> {
    let firmware = elf::Firmware::load_arm(&args.elf)?;
    if let Some(warning) = firmware.unnamed_warning(&args.elf) {
        errln!("warning: {warning}");
    }
    let table = defmt_log::table(&firmware.bytes)?;
    let mut log = table.as_ref().map(defmt_log::DefmtLog::new);
    let output = (args.output.as_ref())
        .or(args.output_after_elf.as_ref())
        .cloned()
        .unwrap_or_else(|| default_output(&args.elf));
    segments::check_output(&output, &args.elf)?;
    let mut files = segments::SegmentFiles::new(&output, &firmware.functions, &firmware.lines);
    // Before QEMU starts: from then on a Ctrl-C is the session's (the first stops the recording
    // as soon as it has begun, the second aborts), never the default end of the process.
    let interrupts = ctrl_c(files.opened())?;
    let mut link = open_link(args, &firmware)?;
    let recording =
        record(args, link.as_mut(), &mut log, &interrupts, &mut files).map(|recording| Recording {
            fault: link.fault(),
            ..recording
        });
    // Ends the QEMU it started, also on an abort or an error.
    drop(link);
    // A session that failed (an output that could not be written, a firmware of another
    // protocol version; a target that could not be read on is summarised instead) has written
    // its complete generations: they are kept, and the error says where, as an abort does.
    let recording = recording
        .map_err(|error| anyhow!("{error:#}; {}", kept(&segments::lock(&files.opened()))))?;
    if aborted(&interrupts) {
        abort(&files.opened());
    }
    let code = summary::finish(
        recording,
        files,
        log.map_or(Vec::new(), |l| l.warnings()),
        &firmware,
    )?;
    // A stdout that failed (`| head`, a full disk) did not stop the recording, whose files are
    // whole; the lines it did not take (log, summary) are said to be missing.
    if let Some(failure) = stdout::failure() {
        errln!(
            "gotrace record: stdout failed ({}): {} lines of the firmware's log and the summary were not shown",
            failure.error, failure.unshown
        );
    }
    Ok(code)
}

fn open_link(args: &RecordArgs, firmware: &elf::Firmware) -> Result<Box<dyn Link>> {
    if let Some(chip) = &args.chip {
        #[cfg(feature = "probe-rs")]
        return Ok(Box::new(probe::ProbeLink::open(
            chip,
            args.probe.as_deref(),
            &args.elf,
            firmware,
        )?));
        #[cfg(not(feature = "probe-rs"))]
        bail!("--chip {chip}: this gotrace was built without its probe-rs feature (cargo build -p gotrace-host-tools --features probe-rs)");
    }
    check_target_named(args)?;
    let qemu = match &args.attach {
        Some(addr) => qemu::Qemu::Attach(addr.clone()),
        None => qemu::Qemu::Launch {
            machine: match &args.machine {
                Some(machine) => machine.clone(),
                None => default_machine(firmware, &args.elf)?.to_owned(),
            },
            extra: match args.icount.as_str() {
                "off" => Vec::new(),
                shift => vec!["-icount".into(), format!("shift={shift}")],
            },
        },
    };
    Ok(Box::new(qemu::QemuLink::open(&qemu, &args.elf, firmware)?))
}

/// Where the MPS2 boards' code memory ends (4 MiB from 0, which their cores boot from).
const MPS2_CODE_END: u32 = 0x40_0000;

/// The QEMU machine for a firmware that names none: `mps2-an386` (Cortex-M4F) for a hard-float
/// ELF, else `mps2-an385`; refused for an image that boots from where those boards have no code
/// memory (a board's flash elsewhere, as an STM32's at 0x0800_0000), or that loads nothing where
/// they read the reset vector (linked without `cortex-m-rt`'s `link.x`), whose core would lock up
/// at once, QEMU saying only that.
fn default_machine(firmware: &elf::Firmware, path: &Path) -> Result<&'static str> {
    if let Some(at) = firmware.vector_table.filter(|&at| at >= MPS2_CODE_END) {
        bail!(
            "{}: its vector table is at {at:#010x}, where the MPS2 boards that --qemu runs a firmware on by default have no memory (they boot from 0): give --machine, the QEMU machine of its board (`qemu-system-arm -machine help` lists them)",
            path.display()
        );
    }
    // The initial stack pointer and the reset vector.
    if !firmware.loads(0, 8) {
        bail!(
            "{}: it loads nothing at address 0, where the MPS2 boards that --qemu runs a firmware on by default read the initial stack pointer and reset vector, so the core would lock up at reset: a cortex-m-rt firmware linked without its `link.x`? Its `.cargo/config.toml` needs `rustflags = [\"-C\", \"link-arg=-Tlink.x\"]` under `[target.TARGET]` for the target it is built for (`[build] target`). Another board's firmware: give --machine, the QEMU machine of its board",
            path.display()
        );
    }
    Ok(match firmware.hard_float {
        true => "mps2-an386",
        false => "mps2-an385",
    })
}

/// Trace files after which the recording says, once, that the trace channel is not drained fast
/// enough: a lossy recording that keeps dropping writes a `.trace` for each gap its losses leave.
const MANY_TRACES: usize = 100;

/// How long the firmware gets to finish its trace after the stop command.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long the firmware gets to read the start command before the recording says it has not.
const START_GRACE: Duration = Duration::from_secs(5);
/// How long a firmware that hard-faulted may stay silent (nothing on any channel) before the
/// recording ends: cortex-m-rt's default handler loops forever, and nothing more would come. A
/// handler that logs (the example's, logging and then exiting) is given the time its logs take.
const FAULT_GRACE: Duration = Duration::from_secs(2);
/// After the end of the trace: how long to keep reading logs, and how long a silence ends it
/// (long enough for a guest that the host's other work holds off the processor: at 250 ms, a
/// firmware's last line and its exit were missed under CI's load, firmware builds running
/// beside the recording).
const AFTER_END: Duration = Duration::from_secs(3);
const QUIET: Duration = Duration::from_secs(1);

fn record(
    args: &RecordArgs,
    link: &mut dyn Link,
    log: &mut Option<defmt_log::DefmtLog<'_>>,
    interrupts: &AtomicUsize,
    files: &mut segments::SegmentFiles<'_>,
) -> Result<Recording> {
    let start = Command::Start {
        backpressure: if args.flight_recorder {
            Backpressure::Overwrite
        } else if args.lossy {
            Backpressure::Lossy
        } else {
            Backpressure::Lossless
        },
        generation_period_us: args.generation_us,
    };
    if args.flight_recorder {
        link.hold_trace(true).context("--flight-recorder")?;
        errln!("gotrace: flight recorder asked for: the firmware is to keep its newest generations in its trace channel, read when its trace ends (the stop command, its own end, a hard fault or a panic)");
    }
    send(link, &start)?;
    let begun = Instant::now();
    let mut recording = Recording {
        asked: start,
        descriptor: None,
        stream: stream::TraceStream::default(),
        log_lines: 0,
        ended: None,
        fault: None,
        overwritten_creations: summary::Creations::default(),
        stopped_by: "the firmware's end of trace",
        channel_error: None,
        target_error: None,
        late_trace_bytes: 0,
        other_channel_bytes: 0,
        undecoded_log_bytes: 0,
        elapsed: Duration::ZERO,
        stop_sent_at: None,
        polling: Duration::ZERO,
        trace_read: TraceRead::AsItCame,
    };
    let mut session = ZeroFrames::new(protocol::MAX_MESSAGE_BYTES);
    let mut drained = Drained::default();
    let mut progress = progress::Progress::new();
    let mut stop_sent: Option<Instant> = None;
    let mut start_looked_at = false;
    let mut many_traces_said = false;
    let mut flight = args.flight_recorder.then(flight::FlightRead::default);
    // Since when, after a hard fault was caught, nothing has come.
    let mut silent_since_fault: Option<Instant> = None;
    let poll = Duration::from_millis(args.poll_ms);
    loop {
        // Before the poll: a stop asked for before the session began (`--duration 0`, a Ctrl-C
        // while QEMU started) follows the start command at once, before the firmware has run.
        let want_stop = stop_asked(interrupts)
            || args
                .duration
                .is_some_and(|d| begun.elapsed().as_secs_f64() >= d);
        match stop_sent {
            None if want_stop => {
                recording.stopped_by = if stop_asked(interrupts) {
                    // The handler cannot tell them apart: SIGTERM and SIGHUP come through it too.
                    "Ctrl-C or a termination signal"
                } else {
                    "the duration"
                };
                // Unsent (a control channel the firmware has not read, too small for both
                // commands; a firmware that exited as the stop was asked for), the stop is as
                // one the firmware did not act on: the recording ends, with what it has. It
                // stopped with an error that named the files but checked and summarised none.
                if let Err(error) = send(link, &Command::Stop) {
                    errln!("warning: the stop command was not sent ({error:#}): the recording ends without the firmware's end of trace");
                    break;
                }
                stop_sent = Some(Instant::now());
                recording.stop_sent_at = Some(begun.elapsed());
            }
            Some(at) if at.elapsed() > STOP_GRACE => {
                // Whether the firmware read the command tells a firmware that does not act on it
                // from one that is not running its loop at all. Unknown if it cannot be read.
                let unread = link.control_unread().unwrap_or(None);
                progress.clear_line();
                errln!("warning: {}", stop_not_acted_on(unread));
                break;
            }
            // Said once, while the recording goes on: a firmware that never reads its commands
            // (or is stuck before its loop) will not act on the stop either, which the user
            // would otherwise learn only from Ctrl-C's or --duration's wait.
            None if !start_looked_at && begun.elapsed() > START_GRACE => {
                start_looked_at = true;
                if let Some(warning) = start_not_read(link.control_unread().unwrap_or(None)) {
                    progress.clear_line();
                    errln!("warning: {warning}");
                }
            }
            _ => {}
        }
        drained.clear();
        let poll_began = Instant::now();
        // A poll that fails may have taken bytes off the target before it did (the trace
        // channel's read offset handed back, then a later channel's read failed): they are the
        // recording's like any others, the end record maybe among them. Dropped with the error,
        // they were in no trace and counted nowhere ("lost: unknown").
        let polled = link.poll(&mut drained);
        recording.polling += poll_began.elapsed();
        recording.other_channel_bytes += drained.other;
        print_logs(log, &drained.defmt, &mut progress, &mut recording);
        if let Some(descriptor) = take_descriptors(&mut session, &drained.session)? {
            recording.descriptor = Some(descriptor);
        }
        let unconfirmed = flight
            .as_ref()
            .and_then(|_| not_overwriting(recording.descriptor.as_ref(), begun.elapsed()));
        if let Some(why) = unconfirmed {
            link.hold_trace(false)?;
            flight = None;
            progress.clear_line();
            errln!("warning: {why}: its trace channel is read as it comes");
        }
        let pushed = recording.stream.push(&drained.trace);
        // Whatever the push gave: the generations complete before an unreadable item are kept.
        files.write(recording.stream.take_complete())?;
        if !many_traces_said && files.count() >= MANY_TRACES {
            many_traces_said = true;
            progress.clear_line();
            errln!("warning: {MANY_TRACES} .trace files {:.1} s into the recording: the firmware fills its trace channel faster than it is drained, and each gap its losses leave ends a .trace and begins another (a larger trace channel on the device, polls closer together (--poll-ms), or lossless mode, without --lossy, keeps the trace whole)", begun.elapsed().as_secs_f64());
        }
        if let Err(error) = pushed {
            if recording.stop_at_channel_error(error) {
                if let Err(error) = polled {
                    recording.stop_at_target_error(error);
                }
                break;
            }
        }
        let liveness = match polled {
            Ok(liveness) => liveness,
            Err(error) => {
                recording.stop_at_target_error(error);
                break;
            }
        };
        if aborted(interrupts) {
            break;
        }
        let reading = match &flight {
            Some(flight) => progress::Reading::Held(flight.held()),
            None => progress::Reading::AsItComes(&recording.stream),
        };
        progress.update(reading, recording.log_lines, begun.elapsed());
        if recording.stream.ended() {
            break;
        }
        if let Liveness::Ended(end) = liveness {
            recording.ended = Some(end);
            recording.stopped_by = end.stopped_by();
            break;
        }
        if flight
            .as_mut()
            .is_some_and(|flight| flight.look(link, stop_sent.is_some()))
        {
            break;
        }
        match silent_since_fault {
            None if link.fault().is_some() => {
                silent_since_fault = Some(Instant::now());
                progress.clear_line();
                errln!("gotrace: the firmware hard-faulted (caught at its HardFault handler; the summary says where)");
            }
            Some(_) if drained.len() > 0 => silent_since_fault = Some(Instant::now()),
            Some(at) if at.elapsed() > FAULT_GRACE => {
                progress.clear_line();
                errln!("warning: the firmware has been silent for {FAULT_GRACE:?} since its hard fault, and has not ended (a HardFault handler that does not exit, as cortex-m-rt's default, which loops): the recording ends");
                recording.stopped_by = "the firmware's hard fault";
                break;
            }
            _ => {}
        }
        if drained.len() == 0 {
            match link.idle(poll) {
                Ok(Liveness::Ended(end)) => recording.ended = Some(end),
                Ok(Liveness::Running) => {}
                Err(error) => {
                    recording.stop_at_target_error(error);
                    break;
                }
            }
        }
    }
    progress.clear_line();
    recording.elapsed = begun.elapsed();
    if let Some(flight) = flight {
        flight.collect(link, &mut recording, files)?;
    }
    if recording.target_error.is_some() {
        return Ok(recording);
    }
    // The trace is read (whole, or as far as it goes): a target that can no longer be read after
    // it costs the firmware's last logs, not the check and summary of what was recorded.
    if let Err(error) = read_after_end(link, log, &mut progress, interrupts, poll, &mut recording) {
        errln!("warning: reading the target after the trace stopped failed ({error:#}): the firmware's logs from there on are not shown, and trace bytes it wrote after the last read are not counted");
    }
    Ok(recording)
}

/// Why a flight recording's trace channel is let go of, to be read as it comes, if it is: held
/// on, a lossless firmware's channel would fill and stop it, and a lossy one's would keep its
/// oldest generations. The firmware's `descriptor` says it does not overwrite, or none has come
/// `elapsed` into the recording, past [`START_GRACE`] (a firmware without a session channel, as
/// the scheduler's README's minimal one, which is lossless whatever the command says).
fn not_overwriting(descriptor: Option<&SessionDescriptor>, elapsed: Duration) -> Option<String> {
    match descriptor {
        Some(d) if d.backpressure != Backpressure::Overwrite => Some(format!(
            "the firmware traces {}, not as a flight recorder",
            summary::backpressure_name(d.backpressure)
        )),
        None if elapsed > START_GRACE => Some(format!(
            "no session descriptor has confirmed the flight recorder within {START_GRACE:?} (a firmware without the {:?} channel may wait for the host, whatever the start command said)",
            protocol::SESSION_CHANNEL
        )),
        _ => None,
    }
}

/// What to say when the start command has been on the control channel for [`START_GRACE`]:
/// `unread`, the bytes of it (or more) the firmware has not read, if known.
fn start_not_read(unread: Option<u32>) -> Option<String> {
    let unread = unread.filter(|&n| n > 0)?;
    Some(format!("the firmware has not read the start command within {START_GRACE:?} ({unread} bytes unread on the {:?} channel): it has not polled the channel since the recording began (stuck, asleep with no interrupt to wake it, or never reading it: gotrace-rtt's `ControlChannel::poll` in its loop, see the scheduler's README), so the stop command (Ctrl-C, --duration) will not reach it either; recording on", protocol::CONTROL_CHANNEL))
}

/// Why the firmware did not end its trace after the stop command, as far as the control
/// channel's `unread` bytes (the commands the firmware has not read, if known) tell.
fn stop_not_acted_on(unread: Option<u32>) -> String {
    let waited =
        format!("the firmware did not end its trace within {STOP_GRACE:?} of the stop command");
    match unread {
        Some(0) => format!("{waited}, which it read: it does not end its trace on `Command::Stop` (a firmware ends it with `stop_tracing` once gotrace-rtt's `ControlChannel::poll` gives it: see the scheduler's README)"),
        Some(unread) => format!("{waited}, nor read it: {unread} bytes of commands are still unread on the {:?} channel, so the firmware has not polled it since (stuck, asleep with no interrupt to wake it, or never reading it: gotrace-rtt's `ControlChannel::poll` in its loop, see the scheduler's README)", protocol::CONTROL_CHANNEL),
        None => format!("{waited} (a firmware ends it when its control channel's reader, gotrace-rtt's `ControlChannel::poll`, gives `Command::Stop`: see the scheduler's README)"),
    }
}

/// Reads the logs written after the trace stopped being read (the firmware saying goodbye) until
/// the firmware exits, goes quiet for [`QUIET`], or [`AFTER_END`] is up; trace bytes that still
/// come are counted as late.
fn read_after_end(
    link: &mut dyn Link,
    log: &mut Option<defmt_log::DefmtLog<'_>>,
    progress: &mut progress::Progress,
    interrupts: &AtomicUsize,
    poll: Duration,
    recording: &mut Recording,
) -> Result<()> {
    let mut drained = Drained::default();
    let mut quiet_since = Instant::now();
    let deadline = Instant::now() + AFTER_END;
    while recording.ended.is_none() && Instant::now() < deadline {
        if aborted(interrupts) {
            break;
        }
        drained.clear();
        // Counted and shown before a failed poll's error, as in the session: what it took.
        let polled = link.poll(&mut drained);
        print_logs(log, &drained.defmt, progress, recording);
        recording.late_trace_bytes += drained.trace.len() as u64;
        recording.other_channel_bytes += drained.other;
        if let Liveness::Ended(end) = polled? {
            recording.ended = Some(end);
        }
        if drained.len() > 0 {
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() > QUIET {
            break;
        } else if let Liveness::Ended(end) = link.idle(poll)? {
            recording.ended = Some(end);
        }
    }
    Ok(())
}

/// Prints the firmware's log lines that `defmt` completes (erasing the progress line first),
/// counting them; without a defmt table, counts the bytes that could not be decoded.
fn print_logs(
    log: &mut Option<defmt_log::DefmtLog<'_>>,
    defmt: &[u8],
    progress: &mut progress::Progress,
    recording: &mut Recording,
) {
    let Some(log) = log.as_mut() else {
        // Dropped without a word before: a stripped ELF showed "0 log lines" of a firmware
        // that logged.
        recording.undecoded_log_bytes += defmt.len() as u64;
        return;
    };
    let lines = log.push(defmt);
    if !lines.is_empty() {
        progress.clear_line();
    }
    for line in &lines {
        outln!("{line}");
    }
    recording.log_lines += lines.len() as u64;
}

fn send(link: &mut dyn Link, command: &Command) -> Result<()> {
    let mut buf = [0u8; protocol::MAX_MESSAGE_BYTES];
    let frame = protocol::encode_frame(command, &mut buf)?;
    let sent = link.send_control(frame)?;
    if sent != frame.len() {
        bail!(
            "the control channel took {sent} of the {} bytes of {command:?}: it was full (the firmware has not read the commands before it)",
            frame.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use gotrace_rtt_protocol::{self as protocol, EndRecord, END_MARKER};

    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use anyhow::Result;
    use gotrace_wire::{EventType, Version, HEADER_LEN};

    use super::args::tests::parse;
    use super::elf::{Firmware, Functions, Lines};
    use super::link::{Drained, End, Link, Liveness};
    use super::rtt::Peek;
    use super::segments::{SegmentFiles, Written};
    use super::session::tests::descriptor;
    use super::stream::tests::{batch, end};
    use super::{record, Recording};

    #[test]
    fn a_firmware_that_loads_nothing_at_the_boot_address_is_refused_before_qemu_locks_up_on_it() {
        // Linked without link.x (a `.cargo/config.toml` naming the old target after a switch to
        // thumbv7em): no vector table, its one segment at 0x10000.
        let path = std::path::Path::new("fw.elf");
        let mut firmware = super::elf::Firmware::bare(Functions::default(), Lines::default());
        firmware.loaded = vec![(0x1_0000, 0x200)];
        let refusal = |firmware: &super::elf::Firmware| {
            super::default_machine(firmware, path)
                .unwrap_err()
                .to_string()
        };
        let refused = refusal(&firmware);
        assert!(
            refused.starts_with("fw.elf: it loads nothing at address 0, where the MPS2 boards")
                && refused.contains("link-arg=-Tlink.x"),
            "{refused}"
        );
        firmware.vector_table = Some(0x0800_0000);
        let refused = refusal(&firmware);
        assert!(refused.contains("give --machine"), "{refused}");
        // A vector table by another name (C's `.isr_vector`) loaded at 0 boots: once refused.
        firmware.vector_table = None;
        firmware.loaded = vec![(0, 0x400), (0x2000_0000, 0x100)];
        assert_eq!(
            super::default_machine(&firmware, path).unwrap(),
            "mps2-an385"
        );
        firmware.loaded = vec![(4, 0x400)];
        assert!(refusal(&firmware).contains("loads nothing at address 0"));
        firmware.loaded = vec![(0, 0x400)];
        firmware.vector_table = Some(0);
        firmware.hard_float = true;
        assert_eq!(
            super::default_machine(&firmware, path).unwrap(),
            "mps2-an386"
        );
    }

    /// A target whose trace channel yields the given chunks, one per poll, then exits.
    struct Replay(VecDeque<Vec<u8>>);

    impl Link for Replay {
        fn poll(&mut self, out: &mut Drained) -> Result<Liveness> {
            Ok(match self.0.pop_front() {
                Some(chunk) => {
                    out.trace.extend_from_slice(&chunk);
                    Liveness::Running
                }
                None => Liveness::Ended(End::Exit(0)),
            })
        }

        fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
            Ok(frame.len())
        }

        fn idle(&mut self, _: Duration) -> Result<Liveness> {
            Ok(Liveness::Running)
        }
    }

    /// Records from `link` as `gotrace record --qemu fw.elf -o NAME` would, NAME in the scratch
    /// directory: the recording, and its files.
    fn replay(mut link: impl Link, name: &str) -> (Recording, Vec<Written>) {
        let (recording, written) = record_as(&["fw.elf", "--qemu"], &mut link, name);
        (recording.unwrap(), written)
    }

    /// Records from `link` as `gotrace record ARGS -o NAME` would, NAME in the scratch directory:
    /// the recording or its error, and the files written.
    fn record_as(
        args: &[&str],
        link: &mut dyn Link,
        name: &str,
    ) -> (Result<Recording>, Vec<Written>) {
        let args = parse(args).unwrap();
        let output = gotrace_tests::scratch_dir().join(name);
        let (functions, lines) = (Functions::default(), Lines::default());
        let mut files = SegmentFiles::new(&output, &functions, &lines);
        let interrupts = AtomicUsize::new(0);
        let recording = record(&args, link, &mut None, &interrupts, &mut files);
        (recording, files.finish())
    }

    #[test]
    fn an_unreadable_trace_channel_stops_the_recording_and_keeps_what_came_before() {
        // Generation 1, generation 2 (which completes 1), then a batch header of generation 0,
        // which no device writes.
        let header = Version::Go122.header().to_vec();
        let broken = vec![EventType::EVENT_BATCH.0, 0, 0, 5, 0];
        // All in one poll: the push that meets the error completes generation 1 too.
        let link = Replay([[header, batch(1), batch(2), broken, batch(3)].concat()].into());
        let (recording, written) = replay(link, "unreadable.trace");
        assert_eq!(recording.stopped_by, "an unreadable trace channel");
        let error = recording.channel_error.as_deref().unwrap_or_default();
        assert!(error.contains("generation 0"), "{error}");
        let (segments, _, _) = recording.stream.finish();
        let kept: Vec<_> = segments
            .iter()
            .map(|s| (s.first_generation, s.last_generation))
            .collect();
        assert_eq!(kept, [(1, 1)], "generation 1 was complete before the error");
        assert_eq!(written.len(), 1);
        let file = std::fs::read(&written[0].path).unwrap();
        assert_eq!(file, [Version::Go122.header().to_vec(), batch(1)].concat());
    }

    #[test]
    fn an_unreadable_item_and_what_follows_it_are_late_whatever_the_polls() {
        // Found by a_recording_does_not_depend_on_how_polls_split_the_trace_channel: what came
        // after an unreadable item in later polls was late, what came in its own poll was not.
        let header = Version::Go122.header().to_vec();
        let broken = vec![EventType::EVENT_BATCH.0, 0, 0, 5, 0];
        let items = [header, batch(1), broken.clone(), batch(2)];
        for polls in [vec![items.concat()], items.to_vec()] {
            let (recording, _) = replay(Replay(polls.into()), "late-after-error.trace");
            assert_eq!(recording.stopped_by, "an unreadable trace channel");
            let late = (broken.len() + batch(2).len()) as u64;
            assert_eq!(recording.late_trace_bytes, late);
        }
    }

    /// A flight recorder's target: its trace channel holds `channel` (from its read offset),
    /// which gains `end` (the end record) at the poll after the stop command, or which the
    /// firmware leaves as it is to exit there (`exits_at_stop`, a fault, say). Polls take nothing
    /// from the channel while it is held, all of it otherwise; its first poll brings `session`;
    /// its first `failing_peeks` peeks fail, as a probe's read raced by the firmware; what was
    /// handed back is kept.
    #[derive(Default)]
    struct Flight {
        channel: Vec<u8>,
        end: Vec<u8>,
        exits_at_stop: bool,
        session: Vec<u8>,
        failing_peeks: usize,
        stop_sent: bool,
        held: bool,
        released: Option<Peek>,
    }

    impl Link for Flight {
        fn poll(&mut self, out: &mut Drained) -> Result<Liveness> {
            out.session.append(&mut self.session);
            if self.stop_sent && self.exits_at_stop {
                return Ok(Liveness::Ended(End::Exit(1)));
            }
            if self.stop_sent {
                self.channel.append(&mut self.end);
            }
            if !self.held {
                out.trace.append(&mut self.channel);
            }
            Ok(Liveness::Running)
        }

        fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
            let mut buf = [0; protocol::MAX_MESSAGE_BYTES];
            let stop = protocol::encode_frame(&protocol::Command::Stop, &mut buf)?;
            self.stop_sent |= frame == stop;
            Ok(frame.len())
        }

        fn idle(&mut self, _: Duration) -> Result<Liveness> {
            Ok(Liveness::Running)
        }

        fn hold_trace(&mut self, held: bool) -> Result<()> {
            self.held = held;
            Ok(())
        }

        fn peek_trace(&mut self) -> Result<Option<Peek>> {
            if self.failing_peeks > 0 {
                self.failing_peeks -= 1;
                anyhow::bail!("its read offset moved each of the 8 times it was read");
            }
            Ok(Some(Peek {
                bytes: self.channel.clone(),
                write: self.channel.len() as u32,
            }))
        }

        fn release_trace(&mut self, peek: &Peek) -> Result<()> {
            self.released = Some(peek.clone());
            Ok(())
        }
    }

    /// Records `link` as `gotrace record --qemu --flight-recorder --duration 0 fw.elf -o NAME`
    /// would: the recording, and the files written.
    fn record_flight(link: &mut Flight, name: &str) -> (Recording, Vec<Written>) {
        let args = ["fw.elf", "--qemu", "--flight-recorder", "--duration", "0"];
        let (recording, written) = record_as(&args, link, name);
        (recording.unwrap(), written)
    }

    /// An end record of `batches` produced, `overwritten` of them overwritten.
    fn flight_end(batches: u32, overwritten: u32) -> (EndRecord, Vec<u8>) {
        let size = batch(1).len() as u32;
        let end = EndRecord {
            batches,
            bytes: batches * size,
            overwritten_batches: overwritten,
            overwritten_bytes: overwritten * size,
            ..EndRecord::default()
        };
        (end, [&[END_MARKER][..], &end.to_bytes()].concat())
    }

    #[test]
    fn a_flight_recording_reads_the_channel_once_its_end_record_is_there_the_header_put_back() {
        // Generations 1 and 2 overwritten (with the header before them); 3 and 4 kept. The
        // first looks after the stop command fail (a probe raced by the firmware): looked again.
        let (end, end_bytes) = flight_end(4, 2);
        let mut link = Flight {
            channel: [batch(3), batch(4)].concat(),
            end: end_bytes.clone(),
            failing_peeks: 3,
            ..Flight::default()
        };
        let (recording, written) = record_flight(&mut link, "flight.trace");
        assert!(link.held);
        assert_eq!(recording.stopped_by, "the duration");
        assert_eq!(recording.target_error, None);
        assert_eq!(
            recording.stream.end,
            Some(end),
            "the end record read, its counts agreeing"
        );
        let all = [batch(3), batch(4), end_bytes].concat();
        assert_eq!(link.released.map(|p| p.write), Some(all.len() as u32));
        assert_eq!(written.len(), 1);
        let file = std::fs::read(&written[0].path).unwrap();
        assert_eq!(
            file,
            [Version::Go122.header().to_vec(), batch(3), batch(4)].concat(),
            "generations 3 and 4, the header put back"
        );
        let mismatch = parse(&["fw.elf", "--qemu", "--flight-recorder", "--lossy"]).unwrap_err();
        assert_eq!(mismatch.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn a_flight_recorder_that_ends_without_its_end_record_is_read_as_it_is_and_not_handed_back() {
        // The firmware exits at the stop (as after a fault): its channel, as last read, gives
        // generation 3 whole; 4, which nothing completed, is cut short. Not handed back: a
        // firmware that had not ended could have moved its read offset past the read meanwhile.
        let mut link = Flight {
            channel: [batch(3), batch(4)].concat(),
            exits_at_stop: true,
            ..Flight::default()
        };
        let (recording, written) = record_flight(&mut link, "flight-no-end.trace");
        assert_eq!(recording.ended, Some(End::Exit(1)));
        assert_eq!(recording.stream.end, None);
        assert_eq!(link.released, None);
        assert_eq!(written.len(), 1);
        let file = std::fs::read(&written[0].path).unwrap();
        assert_eq!(file, [Version::Go122.header().to_vec(), batch(3)].concat());
        let (_, losses, _) = recording.stream.finish();
        assert_eq!(losses.cut_short.map(|c| c.generation), Some(4));
    }

    #[test]
    fn a_firmware_that_does_not_overwrite_has_its_trace_channel_read_as_it_comes() {
        // Its descriptor says lossless (a gotrace-rtt without the flight recorder would say
        // lossy): held on, its channel would fill and stop it. The host lets go of it and
        // drains it as in that mode, the whole trace from its header.
        let mut frame = [0; protocol::MAX_MESSAGE_BYTES];
        let session = protocol::encode_frame(&descriptor(0), &mut frame)
            .unwrap()
            .to_vec();
        let (_, end_bytes) = flight_end(2, 0);
        let header = Version::Go122.header().to_vec();
        let mut link = Flight {
            channel: [header.clone(), batch(1), batch(2)].concat(),
            end: end_bytes,
            session,
            ..Flight::default()
        };
        let (recording, written) = record_flight(&mut link, "flight-not-overwriting.trace");
        assert!(!link.held, "let go of");
        assert!(recording.stream.ended(), "drained to its end record");
        assert_eq!(written.len(), 1);
        let file = std::fs::read(&written[0].path).unwrap();
        assert_eq!(file, [header, batch(1), batch(2)].concat());
    }

    #[test]
    fn a_link_that_cannot_hold_the_trace_channel_refuses_a_flight_recording() {
        let mut link = Replay(VecDeque::new());
        let args = ["fw.elf", "--qemu", "--flight-recorder"];
        let error = record_as(&args, &mut link, "no-flight.trace")
            .0
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(
            error.starts_with(
                "--flight-recorder: this link reads the trace channel only by taking its bytes"
            ),
            "{error}"
        );
    }

    /// A [`Replay`] whose control channel has room for the start command and not for the stop
    /// (a firmware that has not read the start, with a channel too small for both); a Ctrl-C
    /// comes after its `ctrl_c_after` polls.
    struct NoRoomForStop<'a> {
        replay: Replay,
        polls: usize,
        ctrl_c_after: usize,
        interrupts: &'a AtomicUsize,
    }

    impl Link for NoRoomForStop<'_> {
        fn poll(&mut self, out: &mut Drained) -> Result<Liveness> {
            self.polls += 1;
            if self.polls == self.ctrl_c_after {
                self.interrupts
                    .store(1, std::sync::atomic::Ordering::SeqCst);
            }
            self.replay.poll(out)
        }

        fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
            let mut buf = [0; protocol::MAX_MESSAGE_BYTES];
            let stop = protocol::encode_frame(&protocol::Command::Stop, &mut buf)?;
            Ok(if frame == stop { 0 } else { frame.len() })
        }

        fn idle(&mut self, _: Duration) -> Result<Liveness> {
            Ok(Liveness::Running)
        }
    }

    #[test]
    fn a_stop_command_that_cannot_be_sent_ends_the_recording_with_what_it_has() {
        // The recording stopped with an error ("the control channel took 0 of the 3
        // bytes"): its files named, but neither checked nor summarised.
        let header = Version::Go122.header().to_vec();
        let polls = [header.clone(), batch(1), batch(2), batch(3)];
        let interrupts = AtomicUsize::new(0);
        let mut link = NoRoomForStop {
            replay: Replay(polls.into()),
            polls: 0,
            ctrl_c_after: 3,
            interrupts: &interrupts,
        };
        let args = parse(&["fw.elf", "--qemu"]).unwrap();
        let output = gotrace_tests::scratch_dir().join("stop-not-sent.trace");
        let (functions, lines) = (Functions::default(), Lines::default());
        let mut files = SegmentFiles::new(&output, &functions, &lines);
        let recording = record(&args, &mut link, &mut None, &interrupts, &mut files).unwrap();
        assert_eq!(recording.stopped_by, "Ctrl-C or a termination signal");
        // Generation 1, completed by generation 2's batch, is written; what came after the
        // stop was asked for is counted as late.
        let written = files.finish();
        assert_eq!(written.len(), 1);
        let file = std::fs::read(&written[0].path).unwrap();
        assert_eq!(file, [header, batch(1)].concat());
        assert_eq!(recording.late_trace_bytes, batch(3).len() as u64);
    }

    #[test]
    fn a_stop_not_acted_on_says_whether_the_firmware_read_it() {
        // It said the same whether the firmware had read the command and ignored it, or never
        // polled its control channel at all (stuck, or asleep with nothing to wake it).
        let unread = super::stop_not_acted_on(Some(8));
        assert!(unread.contains("nor read it: 8 bytes of commands are still unread on the \"gotrace-control\" channel"), "{unread}");
        let read = super::stop_not_acted_on(Some(0));
        assert!(
            read.contains("which it read: it does not end its trace on `Command::Stop`"),
            "{read}"
        );
        let unknown = super::stop_not_acted_on(None);
        assert!(!unknown.contains("read it"), "{unknown}");
        // The start command, looked at once while the recording goes on: said only when it is
        // known to be unread.
        let start = super::start_not_read(Some(5)).unwrap_or_default();
        assert!(start.contains("has not read the start command within 5s (5 bytes unread on the \"gotrace-control\" channel)"), "{start}");
        assert_eq!(super::start_not_read(Some(0)), None);
        assert_eq!(super::start_not_read(None), None);
    }

    /// A [`Replay`] whose every poll also drains `other` bytes from a channel of the firmware's
    /// own and the bytes `defmt` from the `defmt` channel.
    struct Alongside {
        replay: Replay,
        other: u64,
        defmt: Vec<u8>,
    }

    impl Link for Alongside {
        fn poll(&mut self, out: &mut Drained) -> Result<Liveness> {
            out.other += self.other;
            out.defmt.extend_from_slice(&self.defmt);
            self.replay.poll(out)
        }

        fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
            self.replay.send_control(frame)
        }

        fn idle(&mut self, timeout: Duration) -> Result<Liveness> {
            self.replay.idle(timeout)
        }
    }

    /// Records three polls of trace bytes (two generations), each with `other` and `defmt` as
    /// [`Alongside`] drains them.
    fn record_alongside(other: u64, defmt: Vec<u8>, name: &str) -> Recording {
        let header = Version::Go122.header().to_vec();
        let polls = [header, batch(1), batch(2)];
        let link = Alongside {
            replay: Replay(polls.into()),
            other,
            defmt,
        };
        replay(link, name).0
    }

    #[test]
    fn bytes_on_channels_of_the_firmwares_own_are_counted_for_the_summary() {
        // They were drained and dropped without a word.
        let recording = record_alongside(5, Vec::new(), "own-channel.trace");
        // Three polls with trace bytes, then the poll that finds the firmware's exit, and the
        // polls after the end until it is quiet (none: the replay says it exited).
        assert_eq!(recording.other_channel_bytes, 4 * 5);
        let line = super::summary::other_channels_line(recording.other_channel_bytes).unwrap();
        assert!(line.starts_with("note: 20 bytes came on RTT up channels that are none of gotrace's (\"defmt\", \"gotrace\", \"gotrace-session\")"), "{line}");
        assert_eq!(super::summary::other_channels_line(0), None);
    }

    #[test]
    fn logs_an_elf_without_a_defmt_table_cannot_decode_are_counted_for_the_summary() {
        // A stripped ELF (no defmt table): the firmware's logs were dropped, and the summary
        // said "0 log lines" as if it had logged nothing.
        let recording = record_alongside(0, vec![1, 2, 0], "stripped-elf.trace");
        // As for the firmware's own channel: three polls with trace bytes, then the exit's.
        assert_eq!(recording.undecoded_log_bytes, 4 * 3);
        assert_eq!(recording.log_lines, 0);
        let line = super::summary::undecoded_logs_line(recording.undecoded_log_bytes).unwrap();
        assert!(
            line.starts_with("note: 12 bytes came on the \"defmt\" channel but were not shown: the ELF has no defmt table"),
            "{line}"
        );
        assert_eq!(super::summary::undecoded_logs_line(0), None);
    }

    /// A device's trace channel: a whole trace, and its end record if `with_end`.
    fn device_channel(with_end: bool) -> Vec<u8> {
        let trace = super::stream::property::device_traces().swap_remove(0);
        let batches = super::stream::property::batches(&trace).len() as u32;
        let end_record = end(batches, (trace.len() - HEADER_LEN) as u32, 0, 0);
        [trace, if with_end { end_record } else { Vec::new() }].concat()
    }

    /// `channel` recorded in one poll as `gotrace record --qemu fw.elf -o NAME` would (NAME in
    /// the scratch directory), then changed by `change` and summarised.
    fn summarized(
        name: &str,
        channel: Vec<u8>,
        change: impl FnOnce(Recording) -> Recording,
    ) -> super::summary::Summary {
        let args = parse(&["fw.elf", "--qemu"]).unwrap();
        let output = gotrace_tests::scratch_dir().join(name);
        let firmware = Firmware::bare(Functions::default(), Lines::default());
        let mut files = SegmentFiles::new(&output, &firmware.functions, &firmware.lines);
        let interrupts = AtomicUsize::new(0);
        let mut link = Replay([channel].into());
        let recording = record(&args, &mut link, &mut None, &interrupts, &mut files).unwrap();
        super::summary::summarize(change(recording), files, Vec::new(), &firmware).unwrap()
    }

    #[test]
    fn a_recording_is_valid_when_its_trace_is_whole_and_the_firmware_ended_well() {
        let has =
            |summary: &super::summary::Summary, line: &str| summary.lines.iter().any(|l| l == line);
        let whole = summarized("verdict-whole.trace", device_channel(true), |r| r);
        assert!(whole.valid, "{:#?}", whole.lines);
        assert!(has(&whole, "firmware exit status: 0"), "{:#?}", whole.lines);
        // Its trace's line gives the span of device time.
        assert!(
            whole
                .lines
                .iter()
                .any(|l| l.starts_with("trace: ") && l.ends_with(" s of device time")),
            "{:#?}",
            whole.lines
        );
        assert!(
            !whole
                .lines
                .iter()
                .any(|l| l.contains("warning") || l.contains("ERROR")),
            "{:#?}",
            whole.lines
        );
        let exit = |code| {
            move |r| Recording {
                ended: Some(End::Exit(code)),
                ..r
            }
        };
        let failed = summarized("verdict-exit-1.trace", device_channel(true), exit(1));
        assert!(!failed.valid, "{:#?}", failed.lines);
        assert!(
            has(&failed, "firmware exit status: 1"),
            "{:#?}",
            failed.lines
        );
        // Ended without an exit status: whole only as far as the end record says.
        let qemu_ended = |r| Recording {
            ended: Some(End::QemuEnded),
            ..r
        };
        let ended = summarized("verdict-qemu-ended.trace", device_channel(true), qemu_ended);
        assert!(ended.valid, "{:#?}", ended.lines);
        let cut = summarized(
            "verdict-qemu-ended-no-end.trace",
            device_channel(false),
            qemu_ended,
        );
        assert!(!cut.valid, "{:#?}", cut.lines);
        // A hard fault the firmware did not end at.
        let faulted = summarized("verdict-fault.trace", device_channel(true), |r| Recording {
            ended: None,
            fault: Some(super::fault::FaultSite::ProcessStack),
            ..r
        });
        assert!(!faulted.valid, "{:#?}", faulted.lines);
        assert!(
            has(
                &faulted,
                "firmware exit status: none: it hard-faulted, and its handler did not exit"
            ),
            "{:#?}",
            faulted.lines
        );
        // Nothing recorded, though nothing was lost either.
        let empty = [Version::Go122.header().to_vec(), end(0, 0, 0, 0)].concat();
        let nothing = summarized("verdict-nothing.trace", empty, |r| r);
        assert!(!nothing.valid, "{:#?}", nothing.lines);
        assert!(
            has(&nothing, "no complete generation was recorded"),
            "{:#?}",
            nothing.lines
        );
        let stopped = summarized("verdict-stopped.trace", device_channel(true), |r| {
            Recording { ended: None, ..r }
        });
        assert!(stopped.valid, "{:#?}", stopped.lines);
        let error = Some("lost".to_owned());
        let unread = summarized("verdict-channel-error.trace", device_channel(true), |r| {
            Recording {
                channel_error: error.clone(),
                ..r
            }
        });
        let unreachable = summarized("verdict-target-error.trace", device_channel(true), |r| {
            Recording {
                target_error: error.clone(),
                ..r
            }
        });
        for summary in [unread, unreachable] {
            assert!(!summary.valid, "{:#?}", summary.lines);
            assert!(
                summary.lines.iter().any(|l| l.starts_with("ERROR: the ")),
                "{:#?}",
                summary.lines
            );
        }
    }

    #[test]
    fn a_period_asked_for_and_not_kept_is_said_with_the_one_the_traces_time_shows() {
        let asking = |period| {
            move |r| Recording {
                asked: protocol::Command::Start {
                    backpressure: protocol::Backpressure::Lossless,
                    generation_period_us: period,
                },
                ..r
            }
        };
        // The trace's line gives its span of device time and its count of generations.
        let summary = summarized("period-1us.trace", device_channel(true), asking(1));
        let trace = summary
            .lines
            .iter()
            .find(|l| l.starts_with("trace: "))
            .unwrap();
        let number = |text: &str, before: &str, after: &str| -> f64 {
            let from = text.find(before).unwrap() + before.len();
            let to = from + text[from..].find(after).unwrap();
            text[from..to].parse().unwrap()
        };
        let generations = number(trace, "(", ")");
        let span_us = number(trace, "parser), ", " s of device time") * 1e6;
        let period_us = (span_us / generations).round() as u32;
        assert!(period_us > 10, "{trace}");
        let said = |summary: &super::summary::Summary| {
            let said = summary
                .lines
                .iter()
                .find(|l| l.contains("generations of about"));
            said.map(|line| number(line, "about ", " us") as u32)
        };
        assert_eq!(said(&summary), Some(period_us), "{:#?}", summary.lines);
        // Within a factor of two of what was asked: kept, as far as the trace's time tells.
        for asked in [period_us / 2 + 1, period_us, 2 * period_us - 1] {
            let name = format!("period-{asked}us.trace");
            let summary = summarized(&name, device_channel(true), asking(asked));
            assert_eq!(said(&summary), None, "{:#?}", summary.lines);
        }
        let summary = summarized(
            "period-far.trace",
            device_channel(true),
            asking(3 * period_us),
        );
        assert_eq!(said(&summary), Some(period_us), "{:#?}", summary.lines);
    }

    /// The end record after generation 1's one batch, nothing dropped, with its marker.
    fn end_after_batch_1() -> Vec<u8> {
        let end = EndRecord {
            batches: 1,
            bytes: batch(1).len() as u32,
            dropped_batches: 0,
            dropped_bytes: 0,
            ..EndRecord::default()
        };
        [&[END_MARKER][..], &end.to_bytes()].concat()
    }

    /// A recording of generation 1, the end record, then two more batches: in polls of their
    /// own after the end record's (`split`), or all in one poll.
    fn after_end_record(split: bool, name: &str) -> Recording {
        let (header, end) = (Version::Go122.header().to_vec(), end_after_batch_1());
        let polls = match split {
            true => vec![header, batch(1), end, batch(2), batch(3)],
            false => vec![[header, batch(1), end, batch(2), batch(3)].concat()],
        };
        let (recording, _) = replay(Replay(polls.into()), name);
        assert_eq!(recording.stopped_by, "the firmware's end of trace");
        assert_eq!(recording.channel_error, None);
        recording
    }

    /// A [`Replay`] whose polls fail once its chunks are all read (a target that can no longer be
    /// read: a control block a firmware overwrote after its trace ended, a board that went to
    /// sleep or reset, a QEMU no longer answering). With `.1`, the poll that takes the last
    /// chunk fails too, after taking it: a drain that handed the trace channel's read offset
    /// back, then failed on a later channel (a probe's USB error, a QEMU killed under the halt).
    struct FailsAfter(Replay, bool);

    impl Link for FailsAfter {
        fn poll(&mut self, out: &mut Drained) -> Result<Liveness> {
            if self.0 .0.is_empty() {
                anyhow::bail!("the control block looks overwritten");
            }
            let liveness = self.0.poll(out)?;
            match self.1 && self.0 .0.is_empty() {
                true => anyhow::bail!("the session channel's read failed"),
                false => Ok(liveness),
            }
        }

        fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
            self.0.send_control(frame)
        }

        fn idle(&mut self, timeout: Duration) -> Result<Liveness> {
            self.0.idle(timeout)
        }
    }

    /// A [`Replay`] whose firmware runs on once its chunks are all read, and then either
    /// cannot be waited for (`Ran::IdleFails`: a gdb stub that stops answering while the
    /// firmware runs between drains) or has hard-faulted into a handler that loops
    /// (`Ran::FaultedAndLoops`: cortex-m-rt's default), so that nothing more comes.
    struct RunsOn(Replay, Ran);

    #[derive(PartialEq)]
    enum Ran {
        IdleFails,
        FaultedAndLoops,
        /// Faulted, and its handler writes (a byte on a channel of its own each poll) until
        /// this instant, then exits.
        FaultedLogsUntil(std::time::Instant),
    }

    impl Link for RunsOn {
        fn poll(&mut self, out: &mut Drained) -> Result<Liveness> {
            if !self.0 .0.is_empty() {
                return self.0.poll(out);
            }
            match self.1 {
                Ran::FaultedLogsUntil(until) if std::time::Instant::now() >= until => {
                    Ok(Liveness::Ended(End::Exit(1)))
                }
                Ran::FaultedLogsUntil(_) => {
                    std::thread::sleep(Duration::from_millis(10));
                    out.other += 1;
                    Ok(Liveness::Running)
                }
                _ => Ok(Liveness::Running),
            }
        }

        fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
            self.0.send_control(frame)
        }

        fn idle(&mut self, timeout: Duration) -> Result<Liveness> {
            if self.1 == Ran::IdleFails {
                anyhow::bail!("no reply from the gdb stub")
            }
            std::thread::sleep(timeout);
            Ok(Liveness::Running)
        }

        fn fault(&self) -> Option<super::fault::FaultSite> {
            let faulted = self.1 != Ran::IdleFails && self.0 .0.is_empty();
            faulted.then_some(super::fault::FaultSite::Frame {
                pc: 0x2004,
                lr: 0x1035,
            })
        }
    }

    #[test]
    fn a_hard_fault_whose_handler_does_not_exit_ends_the_recording() {
        let header = Version::Go122.header().to_vec();
        let (gen1, gen2) = (batch(1), batch(2));
        let link = RunsOn(
            Replay(vec![header, gen1, gen2].into()),
            Ran::FaultedAndLoops,
        );
        let began = std::time::Instant::now();
        let (recording, _) = replay(link, "fault-loops.trace");
        let took = began.elapsed();
        assert_eq!(recording.stopped_by, "the firmware's hard fault");
        // After the fault's grace, well before the stop command's (there is none: no duration).
        assert!(
            took >= super::FAULT_GRACE && took < super::FAULT_GRACE + super::STOP_GRACE,
            "{took:?}"
        );
        assert_eq!(
            recording.stream.received(),
            (HEADER_LEN + 2 * batch(1).len()) as u64
        );
    }

    #[test]
    fn a_hard_fault_whose_handler_logs_on_is_waited_for_until_it_exits() {
        // Writing for longer than the grace after the fault: the grace counts silence, so the
        // recording goes on to the handler's exit.
        let header = Version::Go122.header().to_vec();
        let until = std::time::Instant::now() + super::FAULT_GRACE + Duration::from_secs(1);
        let link = RunsOn(
            Replay(vec![header, batch(1), batch(2)].into()),
            Ran::FaultedLogsUntil(until),
        );
        let (recording, _) = replay(link, "fault-logs.trace");
        assert_eq!(recording.ended, Some(End::Exit(1)));
        assert_eq!(recording.stopped_by, End::Exit(1).stopped_by());
    }

    /// The recording stopped at a target that could not be read, saying `cause`.
    #[track_caller]
    fn assert_stopped_by_unreadable_target(recording: &Recording, cause: &str) {
        assert_eq!(recording.stopped_by, "a target that could not be read");
        let error = recording.target_error.as_deref().unwrap_or_default();
        assert!(error.contains(cause), "{error}");
    }

    #[test]
    fn a_target_that_cannot_be_waited_for_keeps_and_checks_what_came_before() {
        let header = Version::Go122.header().to_vec();
        let link = RunsOn(
            Replay([header.clone(), batch(1), batch(2)].into()),
            Ran::IdleFails,
        );
        let (recording, written) = replay(link, "target-idle-fails.trace");
        assert_stopped_by_unreadable_target(&recording, "no reply from the gdb stub");
        // That whole, nothing more.
        assert_eq!(
            recording.target_error.as_deref(),
            Some("no reply from the gdb stub")
        );
        assert_eq!(written.len(), 1);
        let file = std::fs::read(&written[0].path).unwrap();
        assert_eq!(file, [header, batch(1)].concat());
    }

    #[test]
    fn a_target_unreadable_after_the_end_record_keeps_the_recording() {
        // The trace whole, its end record read, then the reading of the firmware's last logs
        // failed: the recording was an error ("...; the generations complete until now are in
        // after-end-error.trace (not checked)"), neither checked nor summarised.
        let (header, end) = (Version::Go122.header().to_vec(), end_after_batch_1());
        let link = FailsAfter(Replay([header, batch(1), end].into()), false);
        let (recording, written) = replay(link, "after-end-error.trace");
        assert_eq!(recording.stopped_by, "the firmware's end of trace");
        assert!(recording.stream.ended());
        assert_eq!(written.len(), 1);
    }

    #[test]
    fn a_target_that_cannot_be_read_mid_recording_keeps_and_checks_what_came_before() {
        // A board that reset, a probe unplugged, a gdb stub that stopped answering: the poll's
        // error ended the command ("...; the generations complete until now are in FILE (not
        // checked)", exit 2), the generations kept neither checked nor summarised.
        let header = Version::Go122.header().to_vec();
        let link = FailsAfter(Replay([header.clone(), batch(1), batch(2)].into()), false);
        let (recording, written) = replay(link, "target-unreadable.trace");
        assert_stopped_by_unreadable_target(&recording, "the control block looks overwritten");
        assert_eq!(written.len(), 1);
        let file = std::fs::read(&written[0].path).unwrap();
        assert_eq!(file, [header, batch(1)].concat());
        let (segments, losses, end) = recording.stream.finish();
        assert_eq!(segments.len(), 1);
        assert_eq!(end, None);
        // Generation 2, which nothing completed, is said to be lost.
        assert_eq!(losses.cut_short.map(|c| c.generation), Some(2));
    }

    #[test]
    fn what_a_poll_took_before_it_failed_is_in_the_recording() {
        // The failed poll's bytes were dropped: the firmware had them read (its space handed
        // back), the recording never saw them, and the end record among them went with them:
        // "lost: unknown", generation 2 "cut short", of a trace that came whole.
        let header = Version::Go122.header().to_vec();
        let end = EndRecord {
            batches: 2,
            bytes: 2 * batch(1).len() as u32,
            dropped_batches: 0,
            dropped_bytes: 0,
            ..EndRecord::default()
        };
        let last = [&batch(2)[..], &[END_MARKER], &end.to_bytes()].concat();
        let link = FailsAfter(Replay([header.clone(), batch(1), last].into()), true);
        let (recording, written) = replay(link, "fails-mid-drain.trace");
        assert_stopped_by_unreadable_target(&recording, "the session channel's read failed");
        let file = std::fs::read(&written[0].path).unwrap();
        assert_eq!(file, [header, batch(1), batch(2)].concat());
        let (segments, losses, end_read) = recording.stream.finish();
        assert_eq!(segments.len(), 1);
        assert_eq!(end_read, Some(end), "the end record that came");
        assert_eq!(losses, Default::default(), "nothing lost");
    }

    #[test]
    fn late_bytes_a_failed_poll_took_after_the_end_record_are_counted() {
        // The poll after the end record took a batch off the target and failed: the batch was
        // counted nowhere, as it was in the session before the end record.
        let (header, end) = (Version::Go122.header().to_vec(), end_after_batch_1());
        let link = FailsAfter(Replay([header, batch(1), end, batch(2)].into()), true);
        let (recording, _) = replay(link, "late-in-failed-poll.trace");
        assert_eq!(recording.stopped_by, "the firmware's end of trace");
        assert_eq!(recording.late_trace_bytes, batch(2).len() as u64);
    }

    #[test]
    fn trace_bytes_after_the_end_record_are_counted_not_dropped_unsaid() {
        let recording = after_end_record(true, "late.trace");
        assert_eq!(recording.late_trace_bytes, 2 * batch(2).len() as u64);
    }

    #[test]
    fn the_trace_bytes_received_are_all_counted_once_whatever_the_polls() {
        // Found by a_recording_does_not_depend_on_how_polls_split_the_trace_channel: bytes
        // after the end record counted as received only when in the end record's poll.
        for split in [true, false] {
            let recording = after_end_record(split, "received.trace");
            let all = HEADER_LEN + 3 * batch(1).len() + 1 + EndRecord::LEN;
            let late = recording.late_trace_bytes;
            let received = super::summary::received(&recording.stream, late);
            assert_eq!(received, all as u64, "split: {split}");
        }
    }

    #[test]
    fn trace_bytes_after_the_end_record_in_its_own_poll_are_late_too() {
        // Found by a_recording_does_not_depend_on_how_polls_split_the_trace_channel: in one
        // poll with the end record, they stopped the recording as an unreadable channel ('data
        // after the end record'), with nothing late.
        let recording = after_end_record(false, "late-in-its-poll.trace");
        assert_eq!(recording.late_trace_bytes, 2 * batch(2).len() as u64);
    }

    /// What a recording made of its trace channel, for comparing how polls split it: why it
    /// stopped, the channel's error, the late bytes, the bytes received as the summary counts
    /// them, the segments, the loss account, the end record, and the files written.
    fn outcome(chunks: Vec<Vec<u8>>, name: &str) -> String {
        let (recording, written) = replay(Replay(chunks.into()), name);
        let files: Vec<Vec<u8>> = written
            .iter()
            .map(|w| std::fs::read(&w.path).unwrap())
            .collect();
        let received = super::summary::received(&recording.stream, recording.late_trace_bytes);
        let (segments, losses, end) = recording.stream.finish();
        format!(
            "{} / {:?} / late {} / received {received} / {segments:?} / {losses:?} / {end:?} / {files:?}",
            recording.stopped_by, recording.channel_error, recording.late_trace_bytes
        )
    }

    /// The same trace channel bytes, whatever polls bring them in, make the same recording:
    /// device channels (lossless and lossy), the same with trace bytes after the end record
    /// (which the recording reads as late), cut short, and mutated (the stream's property
    /// test's mutations: read, or refused at the same offset).
    #[test]
    fn a_recording_does_not_depend_on_how_polls_split_the_trace_channel() {
        use super::stream::property::{batches, channel, device_traces, mutate};
        let mut rng = gotrace_tests::rng::Rng::new(0x9011);
        let mut cases = 0;
        for trace in &device_traces() {
            let batches = batches(trace);
            let (first, last) = (batches[0].0, batches[batches.len() - 1].0);
            let lost = first + 1 + rng.below((last - first) as usize) as u64;
            for lost in [None, Some((lost, lost, 1))] {
                let bytes = channel(&batches, lost).bytes;
                let after_end = [bytes.as_slice(), &batch(last + 1), &batch(last + 2)].concat();
                let cut = bytes[..rng.below(bytes.len())].to_vec();
                let mutants = [mutate(&bytes, &mut rng), mutate(&bytes, &mut rng)];
                for bytes in [bytes, after_end, cut].into_iter().chain(mutants) {
                    let whole = outcome(vec![bytes.clone()], &format!("polls-{cases}.trace"));
                    for split in 0..3 {
                        let mut chunks = Vec::new();
                        let mut rest = &bytes[..];
                        while !rest.is_empty() {
                            let (chunk, after) = rest.split_at(1 + rng.below(rest.len().min(512)));
                            chunks.push(chunk.to_vec());
                            rest = after;
                        }
                        let name = format!("polls-{cases}-{split}.trace");
                        assert_eq!(outcome(chunks, &name), whole, "case {cases}, split {split}");
                    }
                    cases += 1;
                }
            }
        }
    }
}
