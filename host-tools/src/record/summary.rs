//! The end of a recording: check each segment's `.trace` (written as its generations completed:
//! see `segments`) with the decoder, and print what was recorded (the tasks named by their entry
//! functions) and exactly what was lost.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use gotrace_decoder::{GoId, GoState, Transition};
use gotrace_rtt_protocol::{
    self as protocol, Backpressure, ClockSource, Command, EndRecord, SessionDescriptor,
};

use super::elf::{Firmware, Functions};
use super::link::End;
use super::segments::{SegmentFiles, Written};
use super::stream::{generation_list, LossAccount, Segment, TraceStream};
use super::{Recording, TraceRead};
use crate::stdout::outln;

/// What the decoder found in one written segment.
struct Checked {
    path: PathBuf,
    /// The events as Go's parser gives them, its Sync events included.
    events: u64,
    /// Go's Sync events: one at each generation's start and one at the end, made by the parser,
    /// not written by the device.
    syncs: u64,
    /// Every goroutine seen in the trace.
    tasks: BTreeSet<GoId>,
    /// The goroutines created in this segment.
    creations: Creations,
    first_ts: Option<u64>,
    last_ts: Option<u64>,
    error: Option<String>,
    /// What of its stack frames was named from the ELF, or why not.
    naming: String,
    /// Naming failed part way (said in `naming`).
    naming_failed: bool,
}

pub(super) fn finish(
    recording: Recording,
    files: SegmentFiles<'_>,
    log_warnings: Vec<String>,
    firmware: &Firmware,
) -> Result<ExitCode> {
    let summary = summarize(recording, files, log_warnings, firmware)?;
    for line in &summary.lines {
        outln!("{line}");
    }
    Ok(if summary.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What `finish` prints, and its verdict: whether the traces are valid and whole as far as the
/// device's account says, and the firmware ended well.
pub(super) struct Summary {
    pub lines: Vec<String>,
    pub valid: bool,
}

/// Checks the written traces and says what was recorded and lost.
pub(super) fn summarize(
    recording: Recording,
    files: SegmentFiles<'_>,
    log_warnings: Vec<String>,
    firmware: &Firmware,
) -> Result<Summary> {
    let Recording {
        asked,
        descriptor,
        stream,
        log_lines,
        ended,
        fault,
        overwritten_creations,
        stopped_by,
        channel_error,
        target_error,
        late_trace_bytes,
        other_channel_bytes,
        undecoded_log_bytes,
        elapsed,
        stop_sent_at,
        polling,
        trace_read,
    } = recording;
    let received = received(&stream, late_trace_bytes);
    let (segments, losses, end) = stream.finish();
    let stale = files.stale();
    let mut checked = Vec::new();
    for written in files.finish() {
        checked.push(check(&written)?);
    }
    let mut out = vec![stopped_line(stopped_by, elapsed, stop_sent_at)];
    out.extend(session_lines(descriptor.as_ref(), &asked));
    out.push(received_line(
        received, trace_read, elapsed, polling, log_lines,
    ));
    out.extend(other_channels_line(other_channel_bytes));
    out.extend(undecoded_logs_line(undecoded_log_bytes));
    let (lines, mut valid) = trace_lines(&checked, &segments);
    out.extend(lines);
    let spans = checked
        .iter()
        .zip(&segments)
        .filter_map(|(c, segment)| Some((c.last_ts? - c.first_ts?, segment.generations())));
    out.extend(unconfirmed_period_line(descriptor.as_ref(), &asked, spans));
    out.extend(task_lines(
        &checked,
        &overwritten_creations,
        &firmware.functions,
    ));
    if segments.is_empty() {
        valid = false;
        out.push("no complete generation was recorded".to_owned());
    }
    let overwritten = overwritten_line(
        &asked,
        descriptor.as_ref(),
        &segments,
        &losses,
        end.as_ref(),
    );
    out.extend(overwritten);
    out.extend(few_kept_line(descriptor.as_ref(), &segments, end.as_ref()));
    let (lines, agrees) = loss_lines(&losses, end.as_ref(), ended, late_trace_bytes, received);
    out.extend(lines);
    valid &= agrees;
    if let Some(error) = &channel_error {
        valid = false;
        out.push(format!("ERROR: the trace channel could not be read on: {error}; the generations complete before it are written above"));
    }
    if let Some(error) = &target_error {
        valid = false;
        out.push(format!("ERROR: the target could not be read on: {error}; the generations complete before it are written above"));
    }
    if !stale.is_empty() {
        let names = stale.iter().map(|p| p.display().to_string());
        out.push(format!(
            "warning: {} from an earlier recording to the same output: not part of this one",
            joined_ends(names, 10, 3, "files")
        ));
    }
    out.extend(
        log_warnings
            .iter()
            .map(|warning| format!("warning: {warning}")),
    );
    if let Some(fault) = fault {
        out.push(fault.describe(firmware));
    }
    match ended {
        Some(End::Exit(code)) => {
            out.push(format!("firmware exit status: {code}"));
            valid &= code == 0;
        }
        Some(other) => {
            let why = other.without_exit().unwrap_or_default();
            out.push(format!("firmware exit status: none: {why}"));
            // Nothing then says that the trace is whole but its end record.
            valid &= end.is_some();
        }
        // Recording on after a hard fault whose handler did not end the firmware: a failure,
        // as a fault whose handler exits with its failure status is.
        None if fault.is_some() => {
            out.push(
                "firmware exit status: none: it hard-faulted, and its handler did not exit"
                    .to_owned(),
            );
            valid = false;
        }
        None => {}
    }
    Ok(Summary { lines: out, valid })
}

/// The summary's lines of the session: what the firmware's descriptor says, and where it differs
/// from the start command `asked` (a firmware that began tracing by itself before the command
/// came, or that does not read it); or that none came, so that nothing confirms those settings.
fn session_lines(descriptor: Option<&SessionDescriptor>, asked: &Command) -> Vec<String> {
    let Some(d) = descriptor else {
        // A firmware of one's own may well send none: then it is not known whether it follows
        // --lossy or --generation-us, which it may ignore without a word.
        let mut lines = vec![format!(
            "session: no descriptor came on the {:?} channel: the firmware's clock, buffers and whether it follows the start command (lossless, --lossy or --flight-recorder, --generation-us) are unconfirmed",
            protocol::SESSION_CHANNEL
        )];
        if matches!(
            asked,
            Command::Start {
                backpressure: Backpressure::Overwrite,
                ..
            }
        ) {
            // The one mode a firmware may lack, and whose lack keeps the wrong generations.
            lines.push("  a firmware whose gotrace-rtt is built without the feature `flight-recorder` traces lossy when asked to overwrite (its channel then kept its oldest generations and dropped the newest, said as lost below), and one that does not follow the start command's mode traces in its own".to_owned());
        }
        return lines;
    };
    let mut lines = vec![format!(
        "session: clock {} at {} Hz, {}, trace channel {} B, {} batch buffers of {} B, encoder {}.{}.{}",
        clock_name(d.clock),
        d.clock_hz,
        backpressure_name(d.backpressure),
        d.trace_channel_bytes,
        d.batch_buffers,
        d.batch_buffer_bytes,
        d.encoder_version[0],
        d.encoder_version[1],
        d.encoder_version[2]
    )];
    if let Command::Start {
        backpressure,
        generation_period_us,
    } = *asked
    {
        let mut differs = Vec::new();
        if d.backpressure != backpressure {
            // The one mode a firmware may lack: its sink's code is a feature of its own.
            let lacking = match backpressure {
                Backpressure::Overwrite => {
                    " (its gotrace-rtt built without the feature `flight-recorder`?)"
                }
                _ => "",
            };
            differs.push(format!(
                "{}, not {}{lacking}",
                backpressure_name(d.backpressure),
                backpressure_name(backpressure)
            ));
        }
        if generation_period_us != 0 && d.generation_period_us != generation_period_us {
            differs.push(format!(
                "generations of {} us, not {generation_period_us} us",
                d.generation_period_us
            ));
        }
        if !differs.is_empty() {
            // A firmware may keep periods of whole timer ticks only (the example: whole
            // SysTicks, rounding 1500 us up to 2000): then it followed the command.
            let rounded =
                if d.generation_period_us != generation_period_us && generation_period_us != 0 {
                    ", rounded the period to one it keeps,"
                } else {
                    ","
                };
            lines.push(format!(
                "warning: the firmware traces {} as the start command asked: it began before the command came{rounded} or does not follow it (its log may say why)",
                differs.join(", ")
            ));
        }
    }
    lines
}

/// The clock as the README and a datasheet name it, not as the protocol's enum is spelt
/// (`CmsdkApbTimer` read as Rust's debug form in the summary).
fn clock_name(clock: ClockSource) -> &'static str {
    match clock {
        ClockSource::DwtCycles => "DWT CYCCNT",
        ClockSource::CmsdkApbTimer => "CMSDK APB timer",
        ClockSource::BoardTimer => "the board's timer",
    }
}

/// The mode as `record`'s options say it (lossless by default, `--lossy`, `--flight-recorder`).
pub(super) fn backpressure_name(backpressure: Backpressure) -> &'static str {
    match backpressure {
        Backpressure::Lossless => "lossless",
        Backpressure::Lossy => "lossy",
        Backpressure::Overwrite => "flight recorder",
    }
}

/// The fewest events whose times tell a clock that stands still: a real one at 1 GHz takes more
/// than a nanosecond per event (tens of instructions each).
const STILL_CLOCK_EVENTS: u64 = 64;

/// A warning for a trace whose `events` (Go's parser's, first and last at `first_ts` and
/// `last_ts`, in ns) all came at one time, spread only by the parser's rule that each time be
/// later than the last: the encoder's clock does not advance, and the trace is valid but its
/// times are not the device's.
fn still_clock_line(events: u64, first_ts: Option<u64>, last_ts: Option<u64>) -> Option<String> {
    let span = last_ts?.checked_sub(first_ts?)?;
    (events >= STILL_CLOCK_EVENTS && span < events).then(|| {
        format!("warning: its {events} events span {span} ns: the clock the encoder reads does not advance, so their times are not the device's (a firmware gives the encoder its clock before tracing starts: `*enc.clock_mut() = TraceClock::chosen()` for gotrace-cortex-m-clock's)")
    })
}

/// How the recording stopped and when; when the stop command was sent too, where the firmware
/// took more than a second over it (a `--duration 1` that ended after 6 s said only the 6).
fn stopped_line(stopped_by: &str, elapsed: Duration, stop_sent_at: Option<Duration>) -> String {
    let sent = match stop_sent_at {
        Some(at) if elapsed.saturating_sub(at) > Duration::from_secs(1) => {
            format!(" (the stop command sent at {:.2} s)", at.as_secs_f64())
        }
        _ => String::new(),
    };
    format!(
        "recording stopped by {stopped_by} after {:.2} s{sent}",
        elapsed.as_secs_f64()
    )
}

/// What the summary says of the trace channel's `received` bytes: the rate over the recording
/// and while draining, or, for a flight recording, how it was read: once at the end, when a rate
/// would be the size of the channel over the length of the run, or never.
fn received_line(
    received: u64,
    read: TraceRead,
    elapsed: Duration,
    polling: Duration,
    log_lines: u64,
) -> String {
    let what = format!(
        "received {received} bytes on the trace channel (the header, batches, loss and end records)"
    );
    match read {
        TraceRead::AsItCame => {}
        TraceRead::OnceAtTheEnd => return format!("{what}, read once, at the end of the recording (a flight recording: the generations the device kept); {log_lines} log lines"),
        TraceRead::Never => return format!("{what}: a flight recording whose channel was never read (below: why); {log_lines} log lines"),
    }
    let kib_per_s = |d: Duration| received as f64 / 1024.0 / d.as_secs_f64().max(1e-6);
    format!(
        "{what}: {:.1} KiB/s over the recording, {:.1} KiB/s while draining (the {:.3} s its drains took); {log_lines} log lines",
        kib_per_s(elapsed),
        kib_per_s(polling),
        polling.as_secs_f64(),
    )
}

/// The most traces the summary lists whole; of more, it shows [`SHOWN_AT_EACH_END`] at each end
/// whole, and those between as one line, unless invalid or otherwise worth a warning. A lossy
/// recording that keeps dropping writes a trace per loss: tens of thousands, three lines each.
const LISTED_WHOLE: usize = 20;
const SHOWN_AT_EACH_END: usize = 5;

/// The summary's lines of the written traces (`checked`, each of its `segments`), and whether
/// all are valid.
fn trace_lines(checked: &[Checked], segments: &[Segment]) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut valid = true;
    let mut elided = Elided::default();
    let count = checked.len();
    let still_clocks: Vec<Option<String>> = checked
        .iter()
        .map(|c| still_clock_line(c.events, c.first_ts, c.last_ts))
        .collect();
    let mut shown: Vec<bool> = checked
        .iter()
        .zip(&still_clocks)
        .enumerate()
        .map(|(i, (c, still_clock))| {
            count <= LISTED_WHOLE
                || i < SHOWN_AT_EACH_END
                || i + SHOWN_AT_EACH_END >= count
                || c.error.is_some()
                || c.naming_failed
                || still_clock.is_some()
        })
        .collect();
    // A run of one left out would take a line to say less than its own three do.
    for i in 1..count.saturating_sub(1) {
        if shown[i - 1] && shown[i + 1] {
            shown[i] = true;
        }
    }
    for (i, ((c, segment), still_clock)) in
        checked.iter().zip(segments).zip(still_clocks).enumerate()
    {
        if !shown[i] {
            elided.add(c, segment);
            continue;
        }
        lines.extend(elided.take_line());
        // The decoder's times are nanoseconds, converted with the trace's own frequency.
        let span = match (c.first_ts, c.last_ts) {
            (Some(a), Some(b)) => format!(", {:.6} s of device time", (b - a) as f64 / 1e9),
            _ => String::new(),
        };
        lines.push(format!(
            "trace: {} — generations {}..={} ({}), {} batches, {} tasks, {} events ({} from the device, {} Sync from Go's parser){span}",
            c.path.display(),
            segment.first_generation,
            segment.last_generation,
            segment.generations(),
            segment.batches,
            c.tasks.len() as u64 + c.creations.recreations(),
            c.events,
            c.events - c.syncs,
            c.syncs
        ));
        match &c.error {
            None => lines.push("  valid".to_owned()),
            Some(e) => {
                valid = false;
                lines.push(format!("  INVALID: {e}"));
            }
        }
        lines.extend(still_clock.map(|line| format!("  {line}")));
        lines.push(format!("  {}", c.naming));
    }
    (lines, valid)
}

/// Traces of the summary's list, checked valid and named, left out of it between those shown
/// whole.
#[derive(Default)]
struct Elided<'a> {
    count: u64,
    first: Option<&'a Path>,
    last: Option<&'a Path>,
    generations: u64,
    batches: u64,
    events: u64,
}

impl<'a> Elided<'a> {
    fn add(&mut self, checked: &'a Checked, segment: &Segment) {
        self.count += 1;
        self.first.get_or_insert(&checked.path);
        self.last = Some(&checked.path);
        self.generations += segment.generations();
        self.batches += segment.batches;
        self.events += checked.events - checked.syncs;
    }

    /// The line that stands for the traces added since the last, if any.
    fn take_line(&mut self) -> Option<String> {
        let Elided {
            count,
            first: Some(first),
            last: Some(last),
            generations,
            batches,
            events,
        } = std::mem::take(self)
        else {
            return None;
        };
        Some(format!(
            "… {count} traces more, {} to {}: each valid, {generations} generations, {batches} batches, {events} events from the device in all",
            first.display(),
            last.display()
        ))
    }
}

/// `items` joined with commas; of more than `whole`, the first and last `each_end`, with the
/// count of those between, named `what`.
pub(super) fn joined_ends(
    items: impl ExactSizeIterator<Item = String>,
    whole: usize,
    each_end: usize,
    what: &str,
) -> String {
    debug_assert!(each_end > 0, "nothing shown of a list left out");
    let count = items.len();
    if count <= whole.max(2 * each_end) {
        return items.collect::<Vec<_>>().join(", ");
    }
    let mut shown = Vec::with_capacity(2 * each_end + 1);
    for (i, item) in items.enumerate() {
        if i < each_end || i >= count - each_end {
            shown.push(item);
        }
        if i + 1 == each_end {
            shown.push(format!("… {} {what} more …", count - 2 * each_end));
        }
    }
    shown.join(", ")
}

/// What the summary says of the bytes that came on channels that are not the protocol's.
pub(super) fn other_channels_line(bytes: u64) -> Option<String> {
    (bytes > 0).then(|| {
        format!(
            "note: {bytes} bytes came on RTT up channels that are none of gotrace's ({:?}, {:?}, {:?}): drained so that the firmware does not wait for a reader, and shown nowhere",
            protocol::DEFMT_CHANNEL,
            protocol::TRACE_CHANNEL,
            protocol::SESSION_CHANNEL
        )
    })
}

/// What the summary says of `defmt` bytes that came while the ELF has no defmt table.
pub(super) fn undecoded_logs_line(bytes: u64) -> Option<String> {
    (bytes > 0).then(|| {
        format!(
            "note: {bytes} bytes came on the {:?} channel but were not shown: the ELF has no defmt table (a stripped ELF? record with the firmware as it was built, with its symbols)",
            protocol::DEFMT_CHANNEL
        )
    })
}

/// The trace channel's bytes that came, read or late: the same however the polls split them
/// (what a failed push left unread is late, not also taken).
pub(super) fn received(stream: &TraceStream, late_trace_bytes: u64) -> u64 {
    stream.taken() + late_trace_bytes
}

/// For a flight recording (`asked` to overwrite, and the firmware doing so, as its `descriptor`
/// says: without one, nothing says it did): which generations the firmware overwrote to keep the
/// newest, those before the first that the recording holds or knows lost (`segments`,
/// `losses`), and how much of them by its own account (its end record, if it came). `None` when
/// the recording read nothing to tell it by.
fn overwritten_line(
    asked: &Command,
    descriptor: Option<&SessionDescriptor>,
    segments: &[Segment],
    losses: &LossAccount,
    end: Option<&EndRecord>,
) -> Option<String> {
    let Command::Start { backpressure, .. } = asked else {
        return None;
    };
    let overwriting = |backpressure| backpressure == Backpressure::Overwrite;
    if !overwriting(*backpressure) || !overwriting(descriptor?.backpressure) {
        return None;
    }
    let first = segments
        .iter()
        .map(|s| s.first_generation)
        .chain(
            losses
                .lost_generations()
                .into_iter()
                .map(|(first, _)| first),
        )
        .min()?;
    if first == 1 {
        return Some("overwritten: nothing".to_owned());
    }
    let account = end.map_or(
        " (how many batches, the end record would have said)".to_owned(),
        |end| {
            format!(
                " ({} batches, {} bytes, by the device's account)",
                end.overwritten_batches, end.overwritten_bytes
            )
        },
    );
    Some(format!(
        "overwritten: generations 1..={}, the oldest, by the flight recorder to keep the newest{account}",
        first - 1
    ))
}

/// Where a flight recording overwrote generations and kept fewer than two, why: the firmware's
/// generations do not fit twice in its trace channel (an 8 KiB channel and generations of up to
/// 16 KiB kept the last one alone, cut short, with nothing said).
fn few_kept_line(
    descriptor: Option<&SessionDescriptor>,
    segments: &[Segment],
    end: Option<&EndRecord>,
) -> Option<String> {
    let descriptor = descriptor.filter(|d| d.backpressure == Backpressure::Overwrite)?;
    end.filter(|end| end.overwritten_bytes > 0)?;
    let kept: u64 = segments.iter().map(Segment::generations).sum();
    if kept >= 2 {
        return None;
    }
    Some(format!(
        "  kept {kept} generation{}: the firmware's generations do not fit twice in its trace channel of {} bytes; shorter generations (--generation-us, or the firmware's own limits) or a larger channel keep more",
        if kept == 1 { "" } else { "s" },
        descriptor.trace_channel_bytes
    ))
}

/// The summary's lines of what was lost, and of the device's own account of what it produced and
/// dropped; with whether the loss records agree with that account. `ended`: how the target
/// ended, if it did; `received`: the bytes that came on the trace channel.
fn loss_lines(
    losses: &LossAccount,
    end: Option<&EndRecord>,
    ended: Option<End>,
    late_trace_bytes: u64,
    received: u64,
) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut agrees = true;
    if let Some((offset, bytes)) = losses.unfinished {
        lines.push(format!("lost: the recording ended inside a batch or record of the trace channel: its last {bytes} bytes, from offset {offset}, are in no trace"));
    }
    let device = losses.device_records();
    if !device.is_empty() {
        // The generation cut short has a line of its own: the device reported no loss of it.
        let (cut_batches, cut_bytes) = losses.cut_short.map_or((0, 0), |c| (c.batches, c.bytes));
        lines.push(format!(
            "lost: generations [{}]: the device dropped {} batches ({} bytes); {} batches ({} bytes) of those generations arrived and were discarded",
            generation_list(&LossAccount::ranges(device)),
            losses.device_dropped_batches(),
            losses.device_dropped_bytes(),
            losses.discarded_batches - cut_batches,
            losses.discarded_bytes - cut_bytes
        ));
    }
    if let Some(cut) = losses.cut_short {
        lines.push(format!(
            "lost: generation {}: the recording stopped reading the trace channel before anything completed it (a batch of a later generation, or the end record): its {} batches ({} bytes) that came are in no trace",
            cut.generation, cut.batches, cut.bytes
        ));
    }
    match end {
        Some(end) => {
            if end.untraced > 0 {
                lines.push(format!(
                    "lost: {} scheduling changes the firmware made are in no trace: its tracer could not apply them (gotrace-embassy: a spawn with the task table full, a hook from a context the firmware does not map; its refusals() says which came first), and the trace, valid without them, does not show them",
                    end.untraced
                ));
            }
            if device.is_empty()
                && losses.unfinished.is_none()
                && late_trace_bytes == 0
                && end.untraced == 0
            {
                lines.push("lost: nothing".to_owned());
            }
            let overwritten = match end.overwritten_batches {
                0 => String::new(),
                batches => format!(
                    ", {batches} batches ({} bytes) overwritten",
                    end.overwritten_bytes
                ),
            };
            lines.push(format!(
                "device account: {} batches ({} bytes) produced, {} batches ({} bytes) dropped{overwritten}",
                end.batches, end.bytes, end.dropped_batches, end.dropped_bytes
            ));
            let (batches, bytes) = (
                losses.device_dropped_batches(),
                losses.device_dropped_bytes(),
            );
            // The device's counts wrap at 2^32 (a long lossy session drops more than 4 GiB):
            // the records' sums are compared modulo 2^32, as the stream checks the end record.
            if batches as u32 != end.dropped_batches || bytes as u32 != end.dropped_bytes {
                agrees = false;
                lines.push(format!(
                    "  MISMATCH: loss records account for {batches} dropped batches ({bytes} bytes)"
                ));
            }
        }
        // Without it nothing says what the device produced: bytes it wrote that were not read
        // before the end (a QEMU killed, a firmware that died or exited first) are counted
        // nowhere, and "lost: nothing" would claim what nobody knew.
        None => {
            lines.push("lost: unknown: the trace channel has no end record, the device's account of what it produced and dropped; what it wrote after the last byte read is in no trace".to_owned());
            if received == 0 {
                // Not even the header: no end record is the least of it, and stop_tracing may
                // well be there.
                lines.push("  nothing came on the trace channel, not even the trace's header: the firmware did not start tracing, or its encoder's sink writes to no channel (gotrace-rtt's RttSink writes once attach has given it the trace channel's ring)".to_owned());
            }
            match ended {
                // A firmware written from scratch meets this first: what it lacks is in the
                // protocol, not in the scheduler's API.
                Some(End::Exit(0)) if received > 0 => lines.push("  the firmware exited before an end record was read (or, with --attach, the QEMU attached to was told to end by a signal, which its gdb stub reports as an exit with status 0 too): a firmware ends its trace with the scheduler's stop_tracing, whose Sink::end_trace writes the end record (gotrace_rtt_protocol's END_MARKER and EndRecord), and then waits until the host has read the trace channel empty".to_owned()),
                // A panic, say: how a trace ends is not what it lacked.
                Some(End::Exit(code)) if code != 0 => lines.push(format!("  the firmware failed (exit status {code}) before its trace ended: its log may say why")),
                _ => {}
            }
        }
    }
    if late_trace_bytes > 0 {
        lines.push(format!("lost: {late_trace_bytes} bytes of the trace channel are in no trace: they came after its end record or after the recording stopped, or from an item that could not be read on"));
    }
    (lines, agrees)
}

/// Reads the written file back with the decoder: Go's ordering rules, every event. `naming` is
/// what naming its stack frames did, for the summary.
fn check(written: &Written) -> Result<Checked> {
    let path = &written.path;
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut checked = Checked {
        path: path.to_path_buf(),
        events: 0,
        syncs: 0,
        tasks: BTreeSet::new(),
        creations: Creations::default(),
        first_ts: None,
        last_ts: None,
        error: None,
        naming: written.naming.clone(),
        naming_failed: written.naming_failed,
    };
    let mut reader = match gotrace_decoder::Reader::new(std::io::BufReader::new(file)) {
        Ok(r) => r,
        Err(e) => {
            checked.error = Some(e.to_string());
            return Ok(checked);
        }
    };
    loop {
        match reader.read_event() {
            Ok(Some(event)) => {
                checked.events += 1;
                checked.syncs += u64::from(event.kind() == gotrace_decoder::EventKind::Sync);
                let time = event.time() as u64;
                checked.first_ts.get_or_insert(time);
                checked.last_ts = Some(time);
                if event.goroutine() != gotrace_decoder::NO_GOROUTINE {
                    checked.tasks.insert(event.goroutine());
                }
                if let Some(id) = checked.creations.note(&event) {
                    checked.tasks.insert(id);
                }
            }
            Ok(None) => break,
            Err(e) => {
                checked.error = Some(e.to_string());
                break;
            }
        }
    }
    Ok(checked)
}

/// The goroutines a trace's events create, as the summary names them.
#[derive(Debug, Default)]
pub(super) struct Creations {
    /// Each goroutine created with a stack: the PC of its entry function, and how many times its
    /// ID was created (more than once where the device's 16-bit IDs came round again).
    entries: BTreeMap<GoId, (u64, u64)>,
    /// Goroutines that came into being in a syscall (`GoCreateSyscall`): on a device, the
    /// tracked callbacks of interrupt handlers, which have no entry function.
    callbacks: BTreeSet<GoId>,
}

impl Creations {
    /// Notes what `event` creates; the goroutine, if it was created with its entry.
    fn note(&mut self, event: &gotrace_decoder::Event) -> Option<GoId> {
        match created(event)? {
            Created::WithEntry(id, pc) => {
                let (entry, times) = self.entries.entry(id).or_insert((pc, 0));
                *entry = pc;
                *times += 1;
                Some(id)
            }
            Created::InSyscall(id) => {
                self.callbacks.insert(id);
                None
            }
        }
    }

    /// Creations of an ID created before in the trace: tasks that its distinct IDs undercount.
    fn recreations(&self) -> u64 {
        self.entries.values().map(|&(_, times)| times - 1).sum()
    }

    /// Notes the creations of a trace (a generation a flight recorder may overwrite later,
    /// read while it is still there), as far as it reads.
    pub(super) fn read(&mut self, trace: &[u8]) {
        let Ok(mut reader) = gotrace_decoder::Reader::new(trace) else {
            return;
        };
        while let Ok(Some(event)) = reader.read_event_ref() {
            self.note(event);
        }
    }
}

/// How a goroutine came into being, where the summary can name it.
enum Created {
    /// Created with its starting stack: its ID and the PC of its entry function.
    WithEntry(GoId, u64),
    /// Came into being in a syscall (`GoCreateSyscall`), without a stack.
    InSyscall(GoId),
}

/// How `event` made a goroutine, if it made one the summary can name.
fn created(event: &gotrace_decoder::Event) -> Option<Created> {
    let transition = event.state_transition()?;
    let Transition::Goroutine {
        id,
        from: GoState::NotExist,
        to,
    } = transition.transition
    else {
        return None;
    };
    if to == GoState::Syscall {
        return Some(Created::InSyscall(id));
    }
    let entry = transition.stack?.frames().next()?.pc;
    Some(Created::WithEntry(id, entry))
}

/// Where no descriptor confirms the generation period asked for (`--generation-us`), what the
/// trace shows of it, if that is far from the one asked (under half or over twice it): a firmware
/// that keeps a period of its own says nothing. `spans` gives each trace's device time (ns) and
/// its generations; three generations at least make a period to go by.
fn unconfirmed_period_line(
    descriptor: Option<&SessionDescriptor>,
    asked: &Command,
    spans: impl Iterator<Item = (u64, u64)>,
) -> Option<String> {
    let Command::Start {
        generation_period_us: asked,
        ..
    } = *asked
    else {
        return None;
    };
    if descriptor.is_some() || asked == 0 {
        return None;
    }
    let (nanos, generations) = spans.fold((0, 0), |(n, g), (span, gens)| (n + span, g + gens));
    if generations < 3 {
        return None;
    }
    let seen_us = nanos as f64 / generations as f64 / 1000.0;
    let asked_us = asked as f64;
    (seen_us < asked_us / 2.0 || seen_us > asked_us * 2.0).then(|| {
        format!("  generations of about {seen_us:.0} us by the trace's time, not the {asked} us asked for: the firmware keeps a period of its own (--generation-us is for a firmware that follows the start command)")
    })
}

/// One line naming every task of the recording by its entry function (from the ELF's symbols).
/// Interrupt callbacks (goroutines that came into being in a syscall) have no entry function and
/// are named as callbacks; goroutines that existed before tracing started have no entry to name.
/// A flight recording's tasks created in generations it overwrote are named from those
/// generations as they were read before (`overwritten`). All are accounted for, so that the line
/// covers every task the summary counts; tasks of one name (a task spawned again and again) are
/// named once, with their count and IDs.
fn task_lines(checked: &[Checked], overwritten: &Creations, functions: &Functions) -> Vec<String> {
    // Each ID's entry, and how many tasks had it: counted in the written traces, each read once
    // (a flight recorder's overwritten generations may have been read at several looks).
    let mut entries: BTreeMap<GoId, (u64, u64)> = BTreeMap::new();
    let mut callbacks: BTreeSet<GoId> = BTreeSet::new();
    for creations in checked.iter().map(|c| &c.creations) {
        for (&id, &(pc, times)) in &creations.entries {
            entries.entry(id).or_insert((pc, 0)).1 += times;
        }
        callbacks.extend(&creations.callbacks);
    }
    for (&id, &(pc, _)) in &overwritten.entries {
        entries.entry(id).or_insert((pc, 1));
    }
    callbacks.extend(&overwritten.callbacks);
    let tasks: BTreeSet<GoId> = checked
        .iter()
        .flat_map(|c| c.tasks.iter().copied())
        .collect();
    if tasks.is_empty() {
        return Vec::new();
    }
    let described = tasks.iter().map(|&id| {
        let what = match entries.get(&id) {
            Some((pc, _)) => match functions.at(*pc) {
                Some(name) => name.to_string(),
                None => format!("at {pc:#x}"),
            },
            None if callbacks.contains(&id) => {
                "interrupt callback (GoCreateSyscall: no entry function)".to_owned()
            }
            None => "(entry unknown: not created with a stack in this trace)".to_owned(),
        };
        let times = entries.get(&id).map_or(1, |&(_, times)| times.max(1));
        (id, what, times)
    });
    let mut lines = vec![format!("tasks: {}", task_groups(described).join(", "))];
    lines.extend(reused_ids_line(&entries));
    lines
}

/// What to say where IDs were created more than once: the device numbers goroutines in 16 bits,
/// and past 65,535 gives an ended task's ID to a new one, which Go's viewer takes for one
/// goroutine.
fn reused_ids_line(entries: &BTreeMap<GoId, (u64, u64)>) -> Option<String> {
    let created: u64 = entries.values().map(|&(_, times)| times).sum();
    let reused = entries.values().filter(|&&(_, times)| times > 1).count();
    (reused > 0).then(|| {
        format!(
            "  goroutine IDs reused: {created} tasks were created under {} IDs, {reused} of them more than once (the device numbers goroutines in 16 bits, and past 65535 gives an ended task's ID to a new one): `go tool trace` counts each ID as one goroutine",
            entries.len()
        )
    })
}

/// How many runs of IDs a group of tasks of one name lists before it says how many more.
const SHOWN_ID_RUNS: usize = 4;

/// `G1 name` for a task alone in its name; `name [7 tasks: G4..=G9, G12]` for tasks that share
/// one, in the order of their first IDs (`tasks` by ID, each with how many tasks had it).
/// Brackets, as an interrupt callback's name has parentheses of its own.
fn task_groups(tasks: impl Iterator<Item = (GoId, String, u64)>) -> Vec<String> {
    /// A name, the runs of consecutive IDs of its tasks (first, last), and how many tasks.
    type Group = (String, Vec<(GoId, GoId)>, u64);
    let mut groups: Vec<Group> = Vec::new();
    for (id, what, times) in tasks {
        let Some((_, runs, count)) = groups.iter_mut().find(|(w, _, _)| *w == what) else {
            groups.push((what, vec![(id, id)], times));
            continue;
        };
        *count += times;
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == id => *last = id,
            _ => runs.push((id, id)),
        }
    }
    groups
        .into_iter()
        .map(|(what, runs, count)| {
            let mut ids: Vec<String> = runs
                .iter()
                .take(SHOWN_ID_RUNS)
                .map(|&(first, last)| match first == last {
                    true => format!("G{first}"),
                    false => format!("G{first}..=G{last}"),
                })
                .collect();
            if runs.len() > SHOWN_ID_RUNS {
                ids.push(format!("and {} more", runs.len() - SHOWN_ID_RUNS));
            }
            match count {
                1 => format!("{} {what}", ids[0]),
                _ => format!("{what} [{count} tasks: {}]", ids.join(", ")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use gotrace_wire::Version;

    use super::*;

    #[test]
    fn a_stop_acted_on_late_says_when_it_was_sent() {
        let secs = Duration::from_secs_f64;
        assert_eq!(
            stopped_line("the duration", secs(6.01), Some(secs(1.0))),
            "recording stopped by the duration after 6.01 s (the stop command sent at 1.00 s)"
        );
        // Acted on within a second, or no stop sent (the firmware ended): the time alone.
        assert_eq!(
            stopped_line("the duration", secs(1.2), Some(secs(1.0))),
            "recording stopped by the duration after 1.20 s"
        );
        assert_eq!(
            stopped_line("the duration", secs(2.0), Some(secs(1.0))),
            "recording stopped by the duration after 2.00 s",
            "a second exactly"
        );
        assert_eq!(
            stopped_line("the firmware's end of trace", secs(3.0), None),
            "recording stopped by the firmware's end of trace after 3.00 s"
        );
    }

    /// A valid trace of segment `i` (`t.trace`, `t.2.trace`, ...; generations `10 i + 1 ..=
    /// 10 i + 4`, 9 batches, 25 events and 5 Syncs, over 3 ms), or an invalid one.
    fn written(i: u64, error: Option<&str>) -> (Checked, Segment) {
        let checked = Checked {
            path: super::super::segments::segment_path("t.trace".as_ref(), i as usize),
            events: 30,
            syncs: 5,
            tasks: BTreeSet::new(),
            creations: Creations::default(),
            first_ts: Some(0),
            last_ts: Some(3_000_000),
            error: error.map(str::to_owned),
            naming: "no stack frames to name".to_owned(),
            naming_failed: false,
        };
        let segment = Segment {
            first_generation: 10 * i + 1,
            last_generation: 10 * i + 4,
            batches: 9,
            bytes: 400,
        };
        (checked, segment)
    }

    fn listed(traces: u64, change: impl Fn(u64, &mut Checked)) -> (Vec<String>, bool) {
        let (checked, segments): (Vec<_>, Vec<_>) = (0..traces)
            .map(|i| {
                let (mut c, s) = written(i, None);
                change(i, &mut c);
                (c, s)
            })
            .unzip();
        trace_lines(&checked, &segments)
    }

    #[test]
    fn many_traces_are_listed_whole_at_each_end_and_invalid_ones_wherever_they_are() {
        // Twenty: all whole, three lines each.
        let (lines, valid) = listed(20, |_, _| {});
        assert!(valid);
        assert_eq!(lines.len(), 60);
        // Twenty-one: five at each end, and the eleven between as one line.
        let (lines, valid) = listed(21, |_, _| {});
        assert!(valid);
        assert_eq!(lines.len(), 10 * 3 + 1);
        assert_eq!(
            lines[15],
            "… 11 traces more, t.6.trace to t.16.trace: each valid, 44 generations, 99 batches, \
             275 events from the device in all"
        );
        assert!(lines[0].starts_with("trace: t.trace — generations 1..=4 (4), 9 batches"));
        assert!(lines[16].starts_with("trace: t.17.trace — generations 161..=164"));
        // A lossy recording's thousands: five at each end, the one invalid trace and the one
        // whose naming failed, and a line for each run between them.
        let (lines, valid) = listed(5000, |i, c| match i {
            2000 => c.error = Some("broken".to_owned()),
            3000 => {
                c.naming = "stack frames left as bare PCs: no".to_owned();
                c.naming_failed = true;
            }
            _ => {}
        });
        assert!(!valid);
        let elided: Vec<&String> = lines.iter().filter(|l| l.starts_with("… ")).collect();
        assert_eq!(elided.len(), 3, "{elided:?}");
        assert!(elided[0].starts_with("… 1995 traces more, t.6.trace to t.2000.trace:"));
        assert!(elided[1].starts_with("… 999 traces more, t.2002.trace to t.3000.trace:"));
        assert!(elided[2].starts_with("… 1994 traces more, t.3002.trace to t.4995.trace:"));
        assert_eq!(lines.len(), 12 * 3 + 3);
        assert!(lines.contains(&"  INVALID: broken".to_owned()));
        assert!(lines.contains(&"  stack frames left as bare PCs: no".to_owned()));
        assert!(
            lines[lines.len() - 3].starts_with("trace: t.5000.trace — generations 49991..=49994")
        );
        // Invalid traces one apart: the valid one between is shown too, not a run of one.
        let (lines, _) = listed(30, |i, c| {
            if i == 10 || i == 12 {
                c.error = Some("broken".to_owned());
            }
        });
        let elided: Vec<&String> = lines.iter().filter(|l| l.starts_with("… ")).collect();
        assert_eq!(elided.len(), 2, "{elided:?}");
        assert!(elided[0].starts_with("… 5 traces more, t.6.trace to t.10.trace:"));
        assert!(elided[1].starts_with("… 12 traces more, t.14.trace to t.25.trace:"));
        assert_eq!(lines.len(), 13 * 3 + 2);
    }

    #[test]
    fn a_flight_recording_gives_no_drain_rate_and_says_whether_its_channel_was_read() {
        let line = |read| {
            received_line(
                8029,
                read,
                Duration::from_secs(2),
                Duration::from_millis(100),
                7,
            )
        };
        assert_eq!(
            line(TraceRead::AsItCame),
            "received 8029 bytes on the trace channel (the header, batches, loss and end \
             records): 3.9 KiB/s over the recording, 78.4 KiB/s while draining (the 0.100 s its \
             drains took); 7 log lines"
        );
        assert_eq!(
            line(TraceRead::OnceAtTheEnd),
            "received 8029 bytes on the trace channel (the header, batches, loss and end \
             records), read once, at the end of the recording (a flight recording: the \
             generations the device kept); 7 log lines"
        );
        assert!(line(TraceRead::Never).contains("a flight recording whose channel was never read"));
    }

    #[test]
    fn a_period_the_firmware_did_not_keep_is_said_where_no_descriptor_confirms_it() {
        let asked = |us| Command::Start {
            backpressure: Backpressure::Lossless,
            generation_period_us: us,
        };
        let line = |descriptor, us, spans: &[(u64, u64)]| {
            super::unconfirmed_period_line(descriptor, &asked(us), spans.iter().copied())
        };
        // 41 generations over 0.2 s: about 4878 us each, where 50 ms were asked.
        let seen = line(None, 50_000, &[(200_000_000, 41)]).expect("said");
        assert!(
            seen.contains("about 4878 us") && seen.contains("50000 us asked"),
            "{seen}"
        );
        // Kept (the first generation is a part of one), or not asked, or too few to go by.
        assert_eq!(line(None, 5_000, &[(200_000_000, 41)]), None);
        assert_eq!(line(None, 0, &[(200_000_000, 41)]), None);
        assert_eq!(line(None, 50_000, &[(10_000_000, 2)]), None);
        // Over several traces (a lossy recording's segments), together.
        assert!(line(None, 1_000, &[(30_000_000, 3), (30_000_000, 3)]).is_some());
        // A descriptor says what the firmware does: its own line tells a difference.
        let descriptor = descriptor(5_000);
        assert_eq!(line(Some(&descriptor), 50_000, &[(200_000_000, 41)]), None);
    }

    #[test]
    fn a_list_is_joined_whole_unless_longer_than_both_its_ends_and_the_bound() {
        let joined = |count: usize, whole, each_end| {
            let items = (1..=count).map(|i| i.to_string()).collect::<Vec<_>>();
            super::joined_ends(items.into_iter(), whole, each_end, "items")
        };
        assert_eq!(joined(4, 4, 1), "1, 2, 3, 4");
        assert_eq!(joined(5, 4, 1), "1, … 3 items more …, 5");
        assert_eq!(joined(7, 4, 2), "1, 2, … 3 items more …, 6, 7");
        // A bound below both ends: the ends decide.
        assert_eq!(joined(6, 2, 3), "1, 2, 3, 4, 5, 6");
        assert_eq!(joined(8, 2, 3), "1, 2, 3, … 2 items more …, 6, 7, 8");
    }

    #[test]
    fn tasks_of_one_name_are_named_once_with_their_ids() {
        let named = |tasks: &[(i64, &str)]| {
            super::task_groups(tasks.iter().map(|&(id, what)| (id, what.to_owned(), 1)))
        };
        assert_eq!(named(&[(1, "a"), (2, "b")]), ["G1 a", "G2 b"]);
        let mut tasks = vec![(1, "main"), (2, "cb")];
        tasks.extend((3..=1000).map(|id| (id, "spawned")));
        tasks.extend([(1002, "spawned"), (1004, "cb")]);
        assert_eq!(
            named(&tasks),
            [
                "G1 main",
                "cb [2 tasks: G2, G1004]",
                "spawned [999 tasks: G3..=G1000, G1002]"
            ]
        );
        let scattered: Vec<(i64, &str)> = (0..10).map(|i| (2 * i, "s")).collect();
        assert_eq!(
            named(&scattered),
            ["s [10 tasks: G0, G2, G4, G6, and 6 more]"]
        );
    }

    #[test]
    fn tasks_created_under_reused_ids_are_counted_and_said_to_be() {
        // 300,000 spawns of one task under 16-bit IDs: once listed as 65,531 tasks, the IDs'
        // count, with nothing said of the reuse.
        let ids = 5..=65535;
        let times = |id: i64| if id <= 38_000 { 5 } else { 4 };
        let groups = super::task_groups(ids.clone().map(|id| (id, "child".to_owned(), times(id))));
        let created: u64 = ids.clone().map(times).sum();
        assert_eq!(groups, [format!("child [{created} tasks: G5..=G65535]")]);
        let entries: BTreeMap<GoId, (u64, u64)> = ids.map(|id| (id, (0x100, times(id)))).collect();
        let line = super::reused_ids_line(&entries).unwrap();
        assert!(
            line.starts_with(&format!(
                "  goroutine IDs reused: {created} tasks were created under 65531 IDs, 65531 of them more than once"
            )),
            "{line}"
        );
        let once: BTreeMap<GoId, (u64, u64)> = [(1, (0x100, 1)), (2, (0x200, 1))].into();
        assert_eq!(super::reused_ids_line(&once), None);
    }

    use gotrace_rtt_protocol::{
        Backpressure, Command, EndRecord, LossRecord, SessionDescriptor, END_MARKER,
    };

    use super::{loss_lines, overwritten_line, session_lines, still_clock_line, End};
    use crate::record::session::tests::descriptor;
    use crate::record::stream::{
        tests::{batch, end, loss},
        LossAccount, Segment, TraceStream,
    };

    #[test]
    fn a_flight_recording_that_kept_one_generation_says_they_do_not_fit_its_channel() {
        let overwriting = SessionDescriptor {
            backpressure: Backpressure::Overwrite,
            trace_channel_bytes: 8192,
            ..descriptor(0)
        };
        let kept = |first_generation, generations| Segment {
            first_generation,
            last_generation: first_generation + generations - 1,
            ..Segment::default()
        };
        let account = EndRecord {
            overwritten_batches: 9000,
            overwritten_bytes: 612 * 14_600,
            ..EndRecord::default()
        };
        let line = super::few_kept_line(Some(&overwriting), &[kept(613, 1)], Some(&account));
        assert_eq!(
            line.as_deref(),
            Some(
                "  kept 1 generation: the firmware's generations do not fit twice in its trace \
                 channel of 8192 bytes; shorter generations (--generation-us, or the firmware's \
                 own limits) or a larger channel keep more"
            )
        );
        // Two kept, nothing overwritten, or no flight recorder: nothing to say.
        assert_eq!(
            super::few_kept_line(Some(&overwriting), &[kept(600, 2)], Some(&account)),
            None
        );
        let nothing = EndRecord::default();
        assert_eq!(
            super::few_kept_line(Some(&overwriting), &[kept(1, 1)], Some(&nothing)),
            None
        );
        let lossy = descriptor(0);
        assert_eq!(
            super::few_kept_line(Some(&lossy), &[kept(613, 1)], Some(&account)),
            None
        );
    }

    #[test]
    fn a_flight_recording_names_the_generations_overwritten_and_the_devices_count_of_them() {
        let asked = |backpressure| Command::Start {
            backpressure,
            generation_period_us: 0,
        };
        let kept = |first_generation| Segment {
            first_generation,
            last_generation: first_generation + 2,
            ..Segment::default()
        };
        let account = EndRecord {
            overwritten_batches: 9,
            overwritten_bytes: 900,
            ..EndRecord::default()
        };
        let flight = asked(Backpressure::Overwrite);
        let overwriting = SessionDescriptor {
            backpressure: Backpressure::Overwrite,
            ..descriptor(0)
        };
        let none = LossAccount::default();
        let line = |segments: &[Segment], losses: &LossAccount, end: Option<&EndRecord>| {
            overwritten_line(&flight, Some(&overwriting), segments, losses, end)
        };
        assert_eq!(
            line(&[kept(4)], &none, Some(&account)).as_deref(),
            Some("overwritten: generations 1..=3, the oldest, by the flight recorder to keep the newest (9 batches, 900 bytes, by the device's account)")
        );
        assert_eq!(
            line(&[kept(4)], &none, None).as_deref(),
            Some("overwritten: generations 1..=3, the oldest, by the flight recorder to keep the newest (how many batches, the end record would have said)")
        );
        assert_eq!(
            line(&[kept(1)], &none, Some(&account)).as_deref(),
            Some("overwritten: nothing")
        );
        // Generation 3 dropped (its loss record kept in the channel), 4 on kept: 1 and 2 were
        // overwritten, not 3.
        let dropped_3 = LossAccount {
            records: vec![LossRecord {
                first_generation: 3,
                last_generation: 3,
                batches: 2,
                bytes: 40,
            }],
            ..LossAccount::default()
        };
        assert!(line(&[kept(4)], &dropped_3, None)
            .is_some_and(|l| l.starts_with("overwritten: generations 1..=2, ")));
        assert_eq!(line(&[], &none, None), None, "nothing read");
        // Not a flight recording, or a firmware that kept to another mode (its sink built
        // without the flight recorder), or one that did not say: nothing is said overwritten.
        let lossy = SessionDescriptor {
            backpressure: Backpressure::Lossy,
            ..descriptor(0)
        };
        assert_eq!(
            overwritten_line(&flight, Some(&lossy), &[kept(4)], &none, None),
            None
        );
        assert_eq!(
            overwritten_line(&flight, None, &[kept(4)], &none, None),
            None
        );
        let asked_lossy = asked(Backpressure::Lossy);
        assert_eq!(
            overwritten_line(&asked_lossy, Some(&overwriting), &[kept(4)], &none, None),
            None
        );
    }

    #[test]
    fn a_session_is_confirmed_by_its_descriptor_or_said_unconfirmed() {
        let asked = Command::Start {
            backpressure: Backpressure::Lossless,
            generation_period_us: 500,
        };
        // A firmware that sends no descriptor: the summary said nothing of the session, and
        // nothing told that --lossy or --generation-us may have been ignored.
        let lines = session_lines(None, &asked);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains("no descriptor came on the \"gotrace-session\" channel")
                && lines[0].contains("unconfirmed"),
            "{lines:?}"
        );
        // A flight recording without one: the feature its sink may lack is named.
        let flight = Command::Start {
            backpressure: Backpressure::Overwrite,
            generation_period_us: 0,
        };
        let lines = session_lines(None, &flight);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[1].contains("feature `flight-recorder`"), "{lines:?}");
        let descriptor = descriptor(500);
        let lines = session_lines(Some(&descriptor), &asked);
        assert_eq!(lines.len(), 1, "as asked: no warning {lines:?}");
        // The enums' debug forms were printed: "clock CmsdkApbTimer at 25000000 Hz, Lossless".
        assert!(
            lines[0].starts_with("session: clock CMSDK APB timer at 25000000 Hz, lossless,"),
            "{lines:?}"
        );
        // A board's cycle counter, and a timer of another board's (its firmware had to call it
        // one of the other two).
        use gotrace_rtt_protocol::ClockSource::{BoardTimer, DwtCycles};
        for (clock, clock_hz, said) in [
            (DwtCycles, 64_000_000, "DWT CYCCNT at 64000000 Hz"),
            (
                BoardTimer,
                1_000_000_000,
                "the board's timer at 1000000000 Hz",
            ),
        ] {
            let board = SessionDescriptor {
                clock,
                clock_hz,
                ..descriptor
            };
            let lines = session_lines(Some(&board), &asked);
            assert!(
                lines[0].starts_with(&format!("session: clock {said}, lossless,")),
                "{lines:?}"
            );
        }
        // A firmware that began with its own defaults (lossy, 1 ms) before the command came.
        let own = SessionDescriptor {
            backpressure: Backpressure::Lossy,
            generation_period_us: 1000,
            ..descriptor
        };
        let lines = session_lines(Some(&own), &asked);
        assert_eq!(
            lines[1],
            "warning: the firmware traces lossy, not lossless, generations of 1000 us, not 500 us as the start command asked: it began before the command came, rounded the period to one it keeps, or does not follow it (its log may say why)"
        );
        // The mode alone: no period to have rounded.
        let lossy = SessionDescriptor {
            backpressure: Backpressure::Lossy,
            ..descriptor
        };
        assert_eq!(
            session_lines(Some(&lossy), &asked)[1],
            "warning: the firmware traces lossy, not lossless as the start command asked: it began before the command came, or does not follow it (its log may say why)"
        );
        // A period left to the firmware (0) is no difference.
        let default_period = Command::Start {
            backpressure: Backpressure::Lossy,
            generation_period_us: 0,
        };
        assert_eq!(session_lines(Some(&own), &default_period).len(), 1);
        // Asked to overwrite, tracing lossy: the feature its sink may lack is named.
        assert_eq!(
            session_lines(Some(&lossy), &flight)[1],
            "warning: the firmware traces lossy, not flight recorder (its gotrace-rtt built without the feature `flight-recorder`?) as the start command asked: it began before the command came, or does not follow it (its log may say why)"
        );
    }

    #[test]
    fn a_trace_without_end_record_is_no_loss_of_the_device_and_says_what_it_needs() {
        // A firmware whose sink writes no end record (or that exits before the host read it):
        // generation 2 was being collected when the channel ended. The summary said "lost:
        // generations [2]: the device dropped 0 batches (0 bytes)", as if the device had
        // reported a loss, and not "lost: unknown", nor what the firmware lacked.
        let mut stream = TraceStream::default();
        for item in [Version::Go122.header().to_vec(), batch(1), batch(2)] {
            stream.push(&item).unwrap();
        }
        assert_eq!(stream.take_complete().count(), 1);
        let (_, losses, end) = stream.finish();
        let (lines, agrees) = loss_lines(&losses, end.as_ref(), Some(End::Exit(0)), 0, SOME_BYTES);
        let text = lines.join("\n");
        assert!(agrees, "{text}");
        assert!(!text.contains("the device dropped"), "{text}");
        assert!(
            text.contains(&format!(
                "lost: generation 2: the recording stopped reading the trace channel before anything completed it (a batch of a later generation, or the end record): its 1 batches ({} bytes) that came are in no trace",
                batch(2).len()
            )),
            "{text}"
        );
        assert!(
            text.contains("lost: unknown: the trace channel has no end record"),
            "{text}"
        );
        assert!(
            text.contains("Sink::end_trace"),
            "says what writes it: {text}"
        );
        // A QEMU killed under the recording is no firmware's fault: no advice then.
        for ended in [None, Some(End::QemuEnded)] {
            let (lines, _) = loss_lines(&losses, end.as_ref(), ended, 0, SOME_BYTES);
            assert!(!lines.join("\n").contains("Sink::end_trace"), "{lines:?}");
        }
        // Nor is how a trace ends what a firmware that failed (a panic) lacked.
        let (lines, _) = loss_lines(&losses, end.as_ref(), Some(End::Exit(1)), 0, SOME_BYTES);
        let text = lines.join("\n");
        assert!(!text.contains("Sink::end_trace"), "{text}");
        assert!(
            text.contains("the firmware failed (exit status 1) before its trace ended"),
            "{text}"
        );
    }

    #[test]
    fn a_clock_that_stands_still_is_warned_of() {
        // A firmware that never gave the encoder its clock: every reading 0, the trace valid,
        // "0.000000 s of device time" and no word of why.
        let line = still_clock_line(1000, Some(5), Some(5 + 999)).unwrap();
        assert!(line.contains("1000 events span 999 ns"), "{line}");
        assert!(line.contains("TraceClock::chosen()"), "{line}");
        // A clock that counts: a microsecond for a thousand events is fast, but not still.
        assert_eq!(still_clock_line(1000, Some(5), Some(5 + 1000)), None);
        // Too few events to tell.
        assert_eq!(still_clock_line(10, Some(5), Some(5)), None);
        assert_eq!(still_clock_line(1000, None, None), None);
    }

    /// Bytes of a trace channel on which something came.
    const SOME_BYTES: u64 = 100;

    #[test]
    fn a_trace_channel_on_which_nothing_came_is_not_blamed_on_a_missing_end() {
        // A firmware whose encoder has no sink attached calls stop_tracing, exits, and sent
        // nothing: the advice to end the trace with stop_tracing sent its author the wrong way.
        let (_, losses, end) = TraceStream::default().finish();
        let (lines, _) = loss_lines(&losses, end.as_ref(), Some(End::Exit(0)), 0, 0);
        let text = lines.join("\n");
        assert!(text.contains("lost: unknown"), "{text}");
        assert!(
            text.contains("nothing came on the trace channel, not even the trace's header"),
            "{text}"
        );
        assert!(!text.contains("Sink::end_trace"), "{text}");
        // A firmware that failed before it traced (no clock, say) is told both.
        let (lines, _) = loss_lines(&losses, end.as_ref(), Some(End::Exit(1)), 0, 0);
        let text = lines.join("\n");
        assert!(text.contains("nothing came on the trace channel"), "{text}");
        assert!(
            text.contains("the firmware failed (exit status 1)"),
            "{text}"
        );
    }

    /// Whatever a trace channel read without an error gave: the summary agrees exactly when
    /// the loss records account for the end record's dropped batches and bytes (modulo 2^32,
    /// as the device counts), says "lost: nothing" exactly when nothing was, and names every
    /// loss it holds. Modelled device channels (lossless and lossy), and mutants of them.
    #[test]
    fn the_loss_lines_say_exactly_what_the_account_holds() {
        use crate::record::stream::property::{modelled_channel, mutate};
        let mut rng = gotrace_tests::rng::Rng::new(0x5a11);
        let (mut read, mut disagreeing) = (0, 0);
        for case in 0..CASES {
            let channel = modelled_channel(&mut rng).bytes;
            let bytes = match case % 3 {
                0 => channel,
                1 => mutate(&channel, &mut rng),
                // The end record's dropped and produced counts moved by one amount: what
                // arrived still adds up, but the loss records no longer account for the drops.
                _ => {
                    let (items, record) = channel.split_at(channel.len() - EndRecord::LEN);
                    let mut end = EndRecord::from_bytes(record.try_into().unwrap());
                    let delta = 1 + rng.below(1000) as u32;
                    match rng.below(2) {
                        0 => {
                            end.dropped_batches = end.dropped_batches.wrapping_add(delta);
                            end.batches = end.batches.wrapping_add(delta);
                        }
                        _ => {
                            end.dropped_bytes = end.dropped_bytes.wrapping_add(delta);
                            end.bytes = end.bytes.wrapping_add(delta);
                        }
                    }
                    [items, &end.to_bytes()].concat()
                }
            };
            let mut stream = TraceStream::default();
            let pushed = stream.push(&bytes);
            stream.take_complete().for_each(drop);
            let (_, losses, end) = stream.finish();
            if pushed.is_err() {
                continue;
            }
            read += 1;
            let (lines, agrees) =
                loss_lines(&losses, end.as_ref(), Some(End::Exit(0)), 0, SOME_BYTES);
            let text = lines.join("\n");
            let wrapped = |sum: u64| sum as u32;
            let consistent = end.as_ref().is_none_or(|end| {
                wrapped(losses.device_dropped_batches()) == end.dropped_batches
                    && wrapped(losses.device_dropped_bytes()) == end.dropped_bytes
            });
            assert_eq!(agrees, consistent, "{text}");
            disagreeing += usize::from(!consistent);
            let nothing_lost = end.as_ref().is_some_and(|end| end.untraced == 0)
                && losses.records.is_empty()
                && losses.unfinished.is_none()
                && losses.discarded_batches == 0;
            assert_eq!(
                lines.contains(&"lost: nothing".to_owned()),
                nothing_lost,
                "{text}"
            );
            if let Some((offset, bytes)) = losses.unfinished {
                assert!(text.contains(&format!("its last {bytes} bytes, from offset {offset}")));
            }
            if let Some(untraced) = end.as_ref().map(|end| end.untraced).filter(|&n| n > 0) {
                assert!(text.contains(&format!("lost: {untraced} scheduling changes ")));
            }
            if let Some(cut) = losses.cut_short {
                assert!(text.contains(&format!("lost: generation {}:", cut.generation)));
            }
            if !losses.device_records().is_empty() {
                let dropped = format!(
                    "the device dropped {} batches ({} bytes)",
                    losses.device_dropped_batches(),
                    losses.device_dropped_bytes()
                );
                assert!(text.contains(&dropped), "{text}");
            }
        }
        eprintln!("{read} of {CASES} read, {disagreeing} with records and end record disagreeing");
        assert!(read > CASES / 2 && disagreeing > 0);
    }

    const CASES: usize = 4000;

    #[test]
    fn loss_records_that_do_not_account_for_the_dropped_bytes_disagree() {
        // Found by the_loss_lines_say_exactly_what_the_account_holds: loss records of 9 bytes
        // dropped, an end record of 14 (and 5 more produced, so that what arrived adds up):
        // only the batches were compared, and the summary agreed.
        let account = |records: &[(u64, u32, u32)], end: Vec<u8>| {
            let mut stream = TraceStream::default();
            stream.push(&Version::Go122.header()).unwrap();
            stream.push(&batch(1)).unwrap();
            for &(generation, batches, bytes) in records {
                stream
                    .push(&loss(generation, generation, batches, bytes))
                    .unwrap();
            }
            stream.push(&end).unwrap();
            stream.take_complete().for_each(drop);
            let (_, losses, end) = stream.finish();
            loss_lines(&losses, end.as_ref(), Some(End::Exit(0)), 0, SOME_BYTES)
        };
        let (lines, agrees) = account(&[(2, 1, 9)], end(2, 9 + 14, 1, 14));
        assert!(!agrees, "{lines:?}");
        assert!(
            lines.contains(
                &"  MISMATCH: loss records account for 1 dropped batches (9 bytes)".into()
            ),
            "{lines:?}"
        );
        assert!(account(&[(2, 1, 9)], end(2, 9 + 9, 1, 9)).1);
        // More than 4 GiB dropped: the end record's count wrapped, the records' sum did not.
        let dropped = [(2, 1, 3_000_000_000), (3, 1, 3_000_000_000)];
        let wrapped = 6_000_000_000u64 as u32;
        assert!(account(&dropped, end(3, 9u32.wrapping_add(wrapped), 2, wrapped)).1);
    }

    #[test]
    fn trace_bytes_after_the_end_record_are_a_loss_not_nothing() {
        // The end record was read, then more trace bytes came on the channel after the recording
        // stopped reading it: the summary said "lost: nothing" and then "lost: N bytes".
        let mut stream = TraceStream::default();
        let produced = batch(1).len() as u32;
        for item in [
            Version::Go122.header().to_vec(),
            batch(1),
            end(1, produced, 0, 0),
        ] {
            stream.push(&item).unwrap();
        }
        assert_eq!(stream.take_complete().count(), 1);
        let (_, losses, end) = stream.finish();
        let (lines, agrees) = loss_lines(&losses, end.as_ref(), Some(End::Exit(0)), 0, SOME_BYTES);
        assert!(agrees, "{lines:?}");
        assert!(lines.contains(&"lost: nothing".to_owned()), "{lines:?}");
        let (lines, _) = loss_lines(&losses, end.as_ref(), Some(End::Exit(0)), 7, SOME_BYTES);
        let text = lines.join("\n");
        assert!(!text.contains("lost: nothing"), "{text}");
        assert!(
            text.contains("lost: 7 bytes of the trace channel are in no trace"),
            "{text}"
        );
    }

    #[test]
    fn changes_the_firmware_could_not_trace_are_a_loss_not_nothing() {
        // Every batch arrived, but the device's tracer refused 3 of its executor's hooks: the
        // trace is valid and lacks them.
        let mut stream = TraceStream::default();
        let produced = batch(1).len() as u32;
        let account = EndRecord {
            batches: 1,
            bytes: produced,
            untraced: 3,
            ..EndRecord::default()
        };
        let end_record = [&[END_MARKER][..], &account.to_bytes()].concat();
        for item in [Version::Go122.header().to_vec(), batch(1), end_record] {
            stream.push(&item).unwrap();
        }
        assert_eq!(stream.take_complete().count(), 1);
        let (_, losses, end) = stream.finish();
        let (lines, agrees) = loss_lines(&losses, end.as_ref(), Some(End::Exit(0)), 0, SOME_BYTES);
        assert!(agrees, "the batches' account is whole: {lines:?}");
        assert!(!lines.contains(&"lost: nothing".to_owned()), "{lines:?}");
        assert!(
            lines[0].starts_with("lost: 3 scheduling changes the firmware made are in no trace: "),
            "{lines:?}"
        );
    }
}
