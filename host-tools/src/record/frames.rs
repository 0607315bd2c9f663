//! Frames that end at a zero byte, cut from a channel's bytes as they arrive: the session
//! channel's COBS frames and `defmt`'s rzcobs ones. The bytes are the firmware's, a buggy
//! firmware's too: a run longer than any frame without its zero is none, and it is dropped up to
//! the next zero rather than kept waiting for a zero that garbage may never send.

/// What the bytes pushed held, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Cut<'a> {
    /// A frame's bytes, without its zero (none for a zero right after a zero).
    Frame(&'a [u8]),
    /// The frame being received has run past the longest frame, with this many bytes: it is
    /// none, and it is dropped, with the rest of it up to its zero.
    Overlong(usize),
}

/// A channel's zero-terminated frames of at most `max` bytes, as the bytes arrive.
pub struct ZeroFrames {
    max: usize,
    /// Bytes of the frame being received, since the last zero.
    frame: Vec<u8>,
    /// The frame being received has run past `max`: the rest of it, up to the next zero, is
    /// dropped.
    overlong: bool,
    /// Bytes of overlong runs, dropped.
    pub dropped_bytes: u64,
}

impl ZeroFrames {
    pub fn new(max: usize) -> Self {
        ZeroFrames {
            max,
            frame: Vec::new(),
            overlong: false,
            dropped_bytes: 0,
        }
    }

    /// Feeds `bytes`, handing `each` every frame they end and every run that becomes overlong.
    pub fn push(&mut self, bytes: &[u8], mut each: impl FnMut(Cut<'_>)) {
        let mut pieces = bytes.split(|&b| b == 0).peekable();
        while let Some(piece) = pieces.next() {
            if self.overlong {
                self.dropped_bytes += piece.len() as u64;
            } else if self.frame.len() + piece.len() > self.max {
                let run = self.frame.len() + piece.len();
                self.overlong = true;
                self.dropped_bytes += run as u64;
                self.frame.clear();
                each(Cut::Overlong(run));
            } else {
                self.frame.extend_from_slice(piece);
            }
            // Every piece but the last ended at a zero: the end of a frame.
            if pieces.peek().is_some() {
                if !std::mem::take(&mut self.overlong) {
                    each(Cut::Frame(&self.frame));
                }
                self.frame.clear();
            }
        }
    }

    /// The bytes of the frame being received, which no zero has ended yet.
    pub fn pending(&self) -> &[u8] {
        &self.frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What pushing `chunks` in turn gave, frames as owned bytes.
    fn cuts(frames: &mut ZeroFrames, chunks: &[&[u8]]) -> Vec<Result<Vec<u8>, usize>> {
        let mut out = Vec::new();
        for chunk in chunks {
            frames.push(chunk, |cut| {
                out.push(match cut {
                    Cut::Frame(frame) => Ok(frame.to_vec()),
                    Cut::Overlong(run) => Err(run),
                })
            });
        }
        out
    }

    #[test]
    fn frames_come_whole_whatever_the_chunks() {
        let mut frames = ZeroFrames::new(4);
        let got = cuts(&mut frames, &[&[1, 2], &[3, 0, 4], &[0, 0, 5]]);
        assert_eq!(got, [Ok(vec![1, 2, 3]), Ok(vec![4]), Ok(vec![])]);
        assert_eq!(frames.pending(), [5]);
        assert_eq!(frames.dropped_bytes, 0);
    }

    #[test]
    fn a_run_past_the_longest_frame_is_one_overlong_cut_and_dropped_to_its_zero() {
        let mut frames = ZeroFrames::new(4);
        let garbage = [9u8; 3];
        let chunks: Vec<&[u8]> = std::iter::repeat_n(&garbage[..], 1000).collect();
        // Said once, as soon as it cannot be a frame, not once a chunk nor when its zero comes.
        assert_eq!(cuts(&mut frames, &chunks), [Err(6)]);
        assert!(frames.pending().is_empty());
        assert_eq!(cuts(&mut frames, &[&[9, 0, 1, 0]]), [Ok(vec![1])]);
        assert_eq!(frames.dropped_bytes, 3001);
    }
}
