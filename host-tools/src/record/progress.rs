//! One line of live progress on a terminal: bytes, generations, events, rate; for a flight
//! recording, what the device's channel holds, since nothing is read from it before the end.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use super::flight::Held;
use super::stream::TraceStream;
use crate::stdout;

/// How the trace is being read, which decides what progress means.
pub enum Reading<'a> {
    /// Drained as it comes: what has arrived.
    AsItComes(&'a TraceStream),
    /// A flight recording's channel, left to the firmware and only looked at: what the last look
    /// found there (none yet before the first).
    Held(Option<Held>),
}

pub struct Progress {
    enabled: bool,
    last: Option<Instant>,
}

impl Progress {
    /// Shows progress only when stderr is a terminal, so logs and pipes stay clean.
    pub fn new() -> Self {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    /// Draws the progress line, at most every 200 ms, and not while a line of QEMU's is open
    /// (passed on in pieces): drawn, it would erase it.
    pub fn update(&mut self, reading: Reading<'_>, log_lines: u64, elapsed: Duration) {
        if !self.enabled
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        let line = line(reading, log_lines, elapsed);
        let width = terminal_size::terminal_size_of(std::io::stderr())
            .map_or(usize::MAX, |(terminal_size::Width(columns), _)| {
                columns.into()
            });
        if stdout::progress_line(format_args!("{}", fit(&line, width))) {
            self.last = Some(Instant::now());
        }
    }

    /// Erases the progress line, or leaves a line of QEMU's left open after it, before lines on
    /// stdout.
    pub fn clear_line(&mut self) {
        stdout::make_room_for_stdout();
    }
}

/// The progress line's text. A flight recording's says what is held on the device and that it
/// is read at the end: counted as received, it would read "0.0 KiB" until then, as if stalled.
fn line(reading: Reading<'_>, log_lines: u64, elapsed: Duration) -> String {
    let kib = |bytes: f64| bytes / 1024.0;
    match reading {
        Reading::AsItComes(stream) => {
            let bytes = stream.received() as f64;
            // The device's loss records so far: a lossy recording's drops, seen as they come.
            let losses = match stream.losses.records.len() {
                0 => String::new(),
                n => format!(", losses {n}"),
            };
            format!(
                "{:.1} KiB, generations {}, events {}, {:.1} KiB/s, {log_lines} log lines{losses}",
                kib(bytes),
                stream.complete_generations,
                stream.events,
                kib(bytes / elapsed.as_secs_f64().max(1e-3)),
            )
        }
        Reading::Held(None) => format!(
            "flight recorder: the device's trace channel not looked at yet, {log_lines} log lines"
        ),
        // The generation being written is said only while there is no complete one: a
        // generation larger than the channel (its length or its share of the channel too large)
        // would otherwise show nothing moving.
        Reading::Held(Some(held)) => {
            let generations = match (held.generations, held.collecting) {
                (Some((oldest, newest)), _) => format!("generations {oldest}..={newest}"),
                (None, Some(collecting)) => {
                    format!("no complete generation, part of generation {collecting}")
                }
                (None, None) => "no complete generation".to_owned(),
            };
            format!(
                "flight recorder: {:.1} KiB held on the device, {generations}, {log_lines} log lines",
                kib(held.bytes as f64)
            )
        }
    }
}

/// `line` cut to a column less than `width` (a character a column), so that it never wraps: a
/// wrapped row is erased only in its last line, and the rest stays behind at each redraw; a row
/// that fills the last column wraps at once on some terminals.
fn fit(line: &str, width: usize) -> &str {
    match line.char_indices().nth(width.saturating_sub(1)) {
        Some((cut, _)) => &line[..cut],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flight_recording_shows_what_the_device_holds_not_what_has_arrived() {
        let held = |bytes, generations, collecting| {
            Reading::Held(Some(Held {
                bytes,
                generations,
                collecting,
            }))
        };
        for (reading, log_lines, shown) in [
            (
                held(6348, Some((6684, 6727)), Some(6728)),
                12,
                "flight recorder: 6.2 KiB held on the device, generations 6684..=6727, 12 log lines",
            ),
            // A generation larger than the channel: the one being written is what moves on.
            (
                held(8100, None, Some(3)),
                0,
                "flight recorder: 7.9 KiB held on the device, no complete generation, part of generation 3, 0 log lines",
            ),
            (
                held(0, None, None),
                0,
                "flight recorder: 0.0 KiB held on the device, no complete generation, 0 log lines",
            ),
            (
                Reading::Held(None),
                2,
                "flight recorder: the device's trace channel not looked at yet, 2 log lines",
            ),
        ] {
            assert_eq!(line(reading, log_lines, Duration::from_secs(1)), shown);
        }
    }

    #[test]
    fn the_row_is_cut_to_the_terminal_so_that_it_never_wraps() {
        let row = "flight recorder: 7.8 KiB held on the device, generations 49..=92, 23 log lines";
        assert_eq!(fit(row, 80), row);
        assert_eq!(fit(row, 20), "flight recorder: 7.");
        assert_eq!(fit(row, usize::MAX), row);
        assert_eq!(fit(row, 0), "");
        assert_eq!(fit("é µs", 3), "é ");
    }

    #[test]
    fn a_drained_recording_shows_what_has_arrived_and_its_rate() {
        use crate::record::stream::tests::{batch, loss};
        // The header, then 100 batches of 9 bytes and one timed event each in generation 1,
        // which the first batch of generation 2 completes: 925 bytes.
        let mut stream = TraceStream::default();
        stream.push(&gotrace_wire::Version::Go122.header()).unwrap();
        for _ in 0..100 {
            stream.push(&batch(1)).unwrap();
        }
        stream.push(&batch(2)).unwrap();
        assert_eq!(
            line(Reading::AsItComes(&stream), 5, Duration::from_secs(2)),
            "0.9 KiB, generations 1, events 101, 0.5 KiB/s, 5 log lines"
        );
        // A lossy recording's drops, as the device's loss records come.
        stream.push(&loss(2, 3, 4, 100)).unwrap();
        stream.push(&batch(4)).unwrap();
        assert!(line(Reading::AsItComes(&stream), 5, Duration::from_secs(2))
            .ends_with(", 5 log lines, losses 1"),);
    }
}
