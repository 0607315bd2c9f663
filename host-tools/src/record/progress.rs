//! One line of live progress on a terminal: bytes, generations, events, rate.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use super::stream::TraceStream;
use crate::stdout;

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
    pub fn update(&mut self, stream: &TraceStream, elapsed: Duration) {
        if !self.enabled
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        let bytes = stream.received();
        let rate = bytes as f64 / elapsed.as_secs_f64().max(1e-3);
        if stdout::progress_line(format_args!(
            "{:.1} KiB, generations {}, events {}, {:.1} KiB/s",
            bytes as f64 / 1024.0,
            stream.complete_generations,
            stream.events,
            rate / 1024.0
        )) {
            self.last = Some(Instant::now());
        }
    }

    /// Erases the progress line, or leaves a line of QEMU's left open after it, before lines on
    /// stdout.
    pub fn clear_line(&mut self) {
        stdout::make_room_for_stdout();
    }
}
