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

    /// Any bytes in any chunks give what the bytes alone say: split at their zeros, each piece
    /// a zero ended is a frame if it fits and an overlong run if not, the last piece is pending
    /// (or overlong, and dropped). Every byte is in exactly one place: a frame, a zero, the
    /// dropped count or the pending frame; and no more than a frame is ever held.
    #[test]
    fn any_bytes_in_any_chunks_are_cut_as_their_zeros_say() {
        let mut rng = gotrace_tests::rng::Rng::new(0xf4a);
        for _ in 0..CASES {
            let max = 1 + rng.below(40);
            let mut bytes = Vec::new();
            for _ in 0..rng.below(30) {
                let run = *rng.pick(&[0, 1, max - 1, max, max + 1, 3 * max]);
                bytes.extend((0..run).map(|_| 1 | rng.next_u64() as u8));
                bytes.extend(std::iter::repeat_n(0, rng.below(3)));
            }
            // What the bytes say, whatever the chunks.
            let pieces: Vec<&[u8]> = bytes.split(|&b| b == 0).collect();
            let (last, ended) = pieces.split_last().expect("split gives one piece at least");
            let mut expected: Vec<Result<Vec<u8>, usize>> = ended
                .iter()
                .map(|p| match p.len() <= max {
                    true => Ok(p.to_vec()),
                    false => Err(0),
                })
                .collect();
            let last_fits = last.len() <= max;
            if !last_fits {
                expected.push(Err(0));
            }
            let mut frames = ZeroFrames::new(max);
            let mut got = Vec::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let (chunk, after) = rest.split_at(rng.below(rest.len().min(3 * max) + 1));
                got.extend(cuts(&mut frames, &[chunk]));
                assert!(frames.pending().len() <= max);
                rest = after;
            }
            // An overlong run is said when it cannot be a frame: with the bytes come by then.
            for cut in &mut got {
                if let Err(run) = cut {
                    assert!(
                        *run > max,
                        "{run} bytes said overlong, the longest frame {max}"
                    );
                    *run = 0;
                }
            }
            assert_eq!(got, expected, "max {max}: {bytes:?}");
            let pending: &[u8] = if last_fits { last } else { &[] };
            assert_eq!(frames.pending(), pending);
            let framed: usize = got.iter().flatten().map(Vec::len).sum();
            let zeros = pieces.len() - 1;
            assert_eq!(
                framed + zeros + frames.dropped_bytes as usize + pending.len(),
                bytes.len()
            );
        }
    }

    const CASES: usize = 20_000;

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
