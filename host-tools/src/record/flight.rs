//! `record --flight-recorder`: the trace channel read once, when the trace has ended.
//!
//! A flight recorder's firmware (`Backpressure::Overwrite`) keeps its newest whole generations in
//! its trace channel, moving the channel's read offset itself past its oldest ones as it needs
//! room. A host draining the channel as it goes would move the same offset under it, so the
//! channel is left to the firmware ([`Link::hold_trace`]) and only looked at, nothing taken
//! ([`Link::peek_trace`]), until it holds the trace's end record (after the stop command, or the
//! firmware's own end). Then, or when the target has ended (a hard fault or a panic caught: the
//! channel as it was there), its bytes go into the recording as one poll's would; after the end
//! record they are handed back to the firmware, which may be waiting for the host to have read
//! them. The looks also note the goroutines each generation creates while it is still there, so
//! that the summary names tasks created in generations overwritten since.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use anyhow::Result;
use gotrace_wire::Version;

use super::link::Link;
use super::rtt::Peek;
use super::segments::SegmentFiles;
use super::stream::TraceStream;
use super::summary::Creations;
use super::{Recording, TraceRead};
use crate::stdout::errln;

/// The longest time between two looks at the channel while the firmware runs on by itself (each
/// look reads the whole channel); after the stop command, it is looked at every poll.
const LOOK_EVERY: Duration = Duration::from_millis(100);
/// The shortest time between two looks once one has missed no generation.
const LOOK_STEP: Duration = Duration::from_millis(1);

/// The reading of a held trace channel: when it was last looked at, the look that found the
/// trace's end, and the goroutines created in the generations seen so far (a task created in a
/// generation the firmware overwrites later is named by them all the same).
#[derive(Debug, Default)]
pub struct FlightRead {
    last_look: Option<Instant>,
    ended: Option<Peek>,
    creations: Creations,
    /// The last generation whose creations were read.
    read_through: u64,
    /// What the last look found in the channel, for the progress line.
    held: Option<Held>,
    /// The time until the next look: from every poll at first (a firmware creates its tasks in
    /// its first generation, which a channel of a few milliseconds of trace soon overwrites),
    /// doubled after a look that missed no generation, up to [`LOOK_EVERY`], halved after one
    /// that did.
    every: Duration,
}

/// What a look found in the held channel: its bytes and the complete generations among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub bytes: usize,
    /// The oldest and newest complete generations, if there is one.
    pub generations: Option<(u64, u64)>,
    /// The generation whose batches follow them, not complete yet.
    pub collecting: Option<u64>,
}

impl FlightRead {
    /// Looks at the channel, if it is time to (`stopping`: the stop command was sent, so the end
    /// is near): whether it holds the trace's end record, all it will hold.
    pub fn look(&mut self, link: &mut dyn Link, stopping: bool) -> bool {
        if !stopping && self.last_look.is_some_and(|at| at.elapsed() < self.every) {
            return false;
        }
        self.last_look = Some(Instant::now());
        // A look that failed (a probe's read raced by a firmware making room each time) is only
        // a look: the next one, or the read at the end, tells.
        let Ok(Some(peek)) = link.peek_trace() else {
            return false;
        };
        let mut stream = TraceStream::default();
        let ends = stream.push(&with_header(&peek.bytes)).is_ok() && stream.ended();
        let seen_before = self.read_through;
        let mut generations: Option<(u64, u64)> = None;
        for complete in stream.take_complete() {
            let generation = complete.generation;
            let number = generation.number;
            generations =
                Some(generations.map_or((number, number), |(oldest, _)| (oldest, number)));
            if generation.number > self.read_through {
                self.read_through = generation.number;
                let header = Version::Go122.header();
                self.creations
                    .read(&[&header[..], &generation.bytes].concat());
            }
        }
        // A channel of no complete generation (one larger than the channel) has none to miss:
        // looked at every poll, it would be read whole a thousand times a second for nothing.
        let missed = generations.is_some_and(|(oldest, _)| oldest > seen_before + 1);
        self.every = next_look(self.every, missed);
        self.held = Some(Held {
            bytes: peek.bytes.len(),
            generations,
            collecting: stream.collecting(),
        });
        if ends {
            self.ended = Some(peek);
        }
        ends
    }

    /// What the last look found in the channel, if there was one.
    pub fn held(&self) -> Option<Held> {
        self.held
    }

    /// Reads the channel into the recording, its complete generations into their files: the
    /// look that found the end, whose bytes it hands back, else the channel as it is now (the
    /// session stopped otherwise: the stop command not acted on, the firmware's exit, a fault).
    pub fn collect(
        self,
        link: &mut dyn Link,
        recording: &mut Recording,
        files: &mut SegmentFiles<'_>,
    ) -> Result<()> {
        let ended = self.ended.is_some();
        recording.overwritten_creations = self.creations;
        recording.trace_read = TraceRead::Never;
        let peek = match self.ended {
            Some(peek) => Some(peek),
            None if recording.target_error.is_some() => None,
            None => link.peek_trace().unwrap_or_else(|error| {
                recording.stop_at_target_error(error);
                None
            }),
        };
        let Some(peek) = peek else {
            if recording.target_error.is_none() {
                // The firmware's RAM went with it: not a trace that was incomplete.
                recording.channel_error = Some("the flight recorder's channel was never read: the firmware ended before its end record was there, and no hard fault or panic was caught to read it at".to_owned());
            }
            return Ok(());
        };
        recording.trace_read = TraceRead::OnceAtTheEnd;
        let pushed = recording.stream.push(&with_header(&peek.bytes));
        files.write(recording.stream.take_complete())?;
        if let Err(error) = pushed {
            recording.stop_at_channel_error(error);
        }
        // Handed back only after the end record, when the firmware writes no more: before, it
        // may have moved the read offset past where this read ended, which the release would
        // move back to the middle of an item.
        if ended {
            if let Err(error) = link.release_trace(&peek) {
                errln!("warning: handing the trace channel back to the firmware failed ({error:#}): a firmware waiting for the host to have read its trace waits in vain");
            }
        }
        Ok(())
    }
}

/// The time until the next look after one whose wait was `every`: halved if that look `missed`
/// generations overwritten since the one before (their goroutines' creations unread), else
/// doubled, from [`LOOK_STEP`] to [`LOOK_EVERY`].
fn next_look(every: Duration, missed: bool) -> Duration {
    match missed {
        true => every / 2,
        false => (every * 2).clamp(LOOK_STEP, LOOK_EVERY),
    }
}

/// The channel's bytes as a trace: the firmware's first generation, and with it the header
/// written before it, may have been overwritten, and a trace of any later generation is read
/// the same once the header is put back.
pub(super) fn with_header(bytes: &[u8]) -> Cow<'_, [u8]> {
    let header = Version::Go122.header();
    if bytes.is_empty() || bytes.starts_with(&header) {
        Cow::Borrowed(bytes)
    } else {
        Cow::Owned([&header[..], bytes].concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::link::{Drained, Liveness};

    /// A held trace channel, empty, that counts the looks at it.
    #[derive(Default)]
    struct CountsLooks(usize);

    impl Link for CountsLooks {
        fn poll(&mut self, _: &mut Drained) -> Result<Liveness> {
            Ok(Liveness::Running)
        }

        fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
            Ok(frame.len())
        }

        fn idle(&mut self, _: Duration) -> Result<Liveness> {
            Ok(Liveness::Running)
        }

        fn peek_trace(&mut self) -> Result<Option<Peek>> {
            self.0 += 1;
            Ok(Some(Peek {
                bytes: Vec::new(),
                write: 0,
            }))
        }
    }

    #[test]
    fn the_first_look_is_made_at_once_and_after_the_stop_command_every_call_looks() {
        let mut link = CountsLooks::default();
        // The longest wait between looks from the start, so that the calls below come within it.
        let mut read = FlightRead {
            every: LOOK_EVERY,
            ..FlightRead::default()
        };
        // The tasks a firmware creates at its start are in its first generation: looked at
        // before the wait between looks has begun.
        assert!(!read.look(&mut link, false));
        assert_eq!(link.0, 1, "the first look was not made");
        // After the stop command the end record is near: each call looks, however recent the
        // last look.
        assert!(!read.look(&mut link, true));
        assert!(!read.look(&mut link, true));
        assert_eq!(link.0, 3, "a look after the stop command waited");
    }

    #[test]
    fn looks_come_closer_after_one_that_missed_generations_and_further_apart_after_one_that_did_not(
    ) {
        let mut every = Duration::ZERO;
        let mut waits = Vec::new();
        for missed in [false, false, false, true, true, false] {
            every = next_look(every, missed);
            waits.push(every.as_micros());
        }
        assert_eq!(waits, [1000, 2000, 4000, 2000, 1000, 2000]);
        // Never longer than the longest wait, and down to every poll.
        assert_eq!(next_look(Duration::from_millis(80), false), LOOK_EVERY);
        assert_eq!(
            next_look(Duration::from_millis(1), true),
            Duration::from_micros(500)
        );
        assert_eq!(next_look(Duration::ZERO, true), Duration::ZERO);
    }
}
