//! Which line of a text trace each event of its binary form came from, to name errors by line.
//!
//! Kept for every event a reader may report an error at (a whole `.test` trace; a window of a
//! streamed text), so it is kept small: two varints an event, the growth of its offset and line
//! from the event before (usually one byte each), walked from the first on the rare look-up.

use std::collections::VecDeque;

use gotrace_wire::varint;

/// Where each event of a binary form converted from text began in the text: of every event, or
/// (converted as it is read, [`TextToBinary`](super::TextToBinary)) of those a reader may still
/// report an error at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineMap {
    /// The first event kept: its byte offset in the binary form and its line.
    first: Option<(u64, usize)>,
    /// The last event pushed, which the next one's growth is from.
    last: (u64, usize),
    /// Of each event after the first, its offset and line less the event's before, as varints.
    steps: VecDeque<u8>,
}

impl LineMap {
    /// Notes the event at byte `offset` of the binary form, which began on `line`; events come
    /// in file order.
    pub(crate) fn push(&mut self, offset: u64, line: usize) {
        if self.first.is_none() {
            self.first = Some((offset, line));
        } else {
            let mut encoded = [0; varint::MAX_LEN];
            for growth in [offset - self.last.0, (line - self.last.1) as u64] {
                let len = varint::encode(growth, &mut encoded);
                self.steps.extend(&encoded[..len]);
            }
        }
        self.last = (offset, line);
    }

    /// The events kept, from the first: each one's offset and line, and the bytes of `steps`
    /// read to reach it.
    fn events(&self) -> impl Iterator<Item = (u64, usize, usize)> + '_ {
        let mut bytes = self.steps.iter().copied();
        let mut read = 0;
        let mut varint = move || {
            let mut value = 0;
            for (i, byte) in bytes.by_ref().enumerate() {
                read += 1;
                value |= u64::from(byte & 0x7f) << (7 * i);
                if byte < 0x80 {
                    return Some((value, read));
                }
            }
            None
        };
        let mut next = self.first.map(|(offset, line)| (offset, line, 0));
        std::iter::from_fn(move || {
            let event @ (offset, line, _) = next?;
            next = match (varint(), varint()) {
                (Some((offset_growth, _)), Some((line_growth, read))) => {
                    Some((offset + offset_growth, line + line_growth as usize, read))
                }
                _ => None,
            };
            Some(event)
        })
    }

    /// Forgets the events before byte `offset` of the binary form.
    pub(crate) fn forget_before(&mut self, offset: u64) {
        let kept = self.events().find(|&(start, _, _)| start >= offset);
        match kept {
            Some((start, line, read)) => {
                self.steps.drain(..read);
                self.first = Some((start, line));
            }
            None => {
                self.steps.clear();
                self.first = None;
            }
        }
    }

    /// The line of the event that holds byte `offset` of the binary form (`None` for the header,
    /// and for an event forgotten).
    pub fn line_of(&self, offset: u64) -> Option<usize> {
        self.events()
            .take_while(|&(start, _, _)| start <= offset)
            .last()
            .map(|(_, line, _)| line)
    }

    /// The bytes the events after the first take.
    #[cfg(test)]
    pub(crate) fn held_bytes(&self) -> usize {
        self.steps.len()
    }

    /// Moves every line `lines` down: a `.test` file's trace section begins below its first line.
    pub fn shift(&mut self, lines: usize) {
        if let Some((_, line)) = &mut self.first {
            *line += lines;
        }
        self.last.1 += lines;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events far apart in offset and in lines (growths of more than one varint byte, 128
    /// among them, whose first byte is 0x80), looked up at their first byte and within.
    #[test]
    fn names_the_line_of_each_event_and_of_bytes_within_it() {
        let events = [
            (16, 2),
            (20, 3),
            (148, 131),
            (40_000, 132),
            (40_005, 70_000),
        ];
        let mut map = LineMap::default();
        for (offset, line) in events {
            map.push(offset, line);
        }
        assert_eq!(map.line_of(15), None);
        for (offset, line) in events {
            assert_eq!(map.line_of(offset), Some(line), "at {offset}");
        }
        assert_eq!(map.line_of(147), Some(3));
        assert_eq!(map.line_of(39_999), Some(131));
        assert_eq!(map.line_of(u64::MAX), Some(70_000));
        map.forget_before(100);
        assert_eq!(map.line_of(147), None);
        assert_eq!(map.line_of(148), Some(131));
    }

    /// A `.test` file's trace begins below the file's first line: lines shifted, and those
    /// pushed after the shift counted from there.
    #[test]
    fn shifted_lines_move_down_and_later_events_follow_on() {
        let mut map = LineMap::default();
        map.push(16, 2);
        map.push(20, 3);
        map.shift(10);
        assert_eq!(map.line_of(16), Some(12));
        assert_eq!(map.line_of(20), Some(13));
        map.push(30, 15);
        assert_eq!(map.line_of(30), Some(15));
    }
}
