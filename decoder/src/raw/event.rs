//! One raw event and its text form, which is byte for byte the line Go's raw reader prints.

use std::fmt;

use gotrace_wire::{spec, varint, EventSpec, EventType, Version};

use super::quote::quote;

/// The names of the four numbers of each stack frame, in wire order.
pub const FRAME_FIELDS: [&str; 4] = ["pc", "func", "file", "line"];

/// An event as it is encoded: its type, its arguments and its trailing data.
///
/// For a `Stack` event, `args` holds the spec's arguments (`id`, `nframes`) followed by four
/// numbers per frame (see [`FRAME_FIELDS`]), exactly as they follow each other on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The trace version whose spec table gives `typ` its name and arguments.
    pub version: Version,
    /// The event type, the byte that starts the event on the wire.
    pub typ: EventType,
    /// The arguments in wire order, decoded from their varints (for `Stack`, see above).
    pub args: Vec<u64>,
    /// The trailing bytes of events whose spec has data (`String`); empty otherwise.
    pub data: Vec<u8>,
}

impl Event {
    /// The event's spec, if its version defines its type.
    pub fn spec(&self) -> Option<&'static EventSpec> {
        spec(self.version, self.typ)
    }

    /// The event's name in the text form.
    pub fn name(&self) -> &'static str {
        self.spec().map_or("Invalid", |s| s.name)
    }

    /// Bytes of the binary form: type byte, varint arguments, and for events with data its
    /// varint length and the bytes.
    pub fn encoded_len(&self) -> usize {
        let args: usize = self.args.iter().map(|&a| varint::encoded_len(a)).sum();
        let data = match self.spec() {
            Some(spec) if spec.has_data => {
                varint::encoded_len(self.data.len() as u64) + self.data.len()
            }
            _ => 0,
        };
        1 + args + data
    }

    /// The stack frames of a `Stack` event, four numbers each; empty for other events.
    pub fn frames(&self) -> impl Iterator<Item = &[u64]> {
        let fixed = self.spec().filter(|s| s.is_stack).map(|s| s.args.len());
        let frames = match fixed {
            Some(n) if n <= self.args.len() => &self.args[n..],
            _ => &[],
        };
        frames.chunks(FRAME_FIELDS.len())
    }
}

/// Go's raw text form: `Name arg=value ...`, then one indented line per stack frame and one for
/// the data. Go prints no data line when the data is empty, because its binary reader leaves empty
/// data unset; we do the same so that `gotrace dump` matches `go tool trace -d=wire`.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(spec) = self.spec() else {
            write!(f, "Invalid({})", self.typ.0)?;
            for (i, arg) in self.args.iter().enumerate() {
                write!(f, " arg{i}={arg}")?;
            }
            return Ok(());
        };
        f.write_str(spec.name)?;
        for (name, value) in spec.args.iter().zip(&self.args) {
            write!(f, " {name}={value}")?;
        }
        if spec.is_stack {
            for frame in self.frames() {
                f.write_str("\n\t")?;
                for (i, (name, value)) in FRAME_FIELDS.iter().zip(frame).enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{name}={value}")?;
                }
            }
        }
        if !self.data.is_empty() {
            f.write_str("\n\tdata=")?;
            f.write_str(&quote(&self.data))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(typ: EventType, args: Vec<u64>) -> Event {
        Event {
            version: Version::Go122,
            typ,
            args,
            data: Vec::new(),
        }
    }

    #[test]
    fn names_come_from_the_versions_spec() {
        assert_eq!(event(EventType::PROC_STEAL, vec![]).name(), "ProcSteal");
        assert_eq!(event(EventType(99), vec![]).name(), "Invalid");
    }

    /// `args` is the caller's to fill: a `Stack` event built short of its own arguments has no
    /// frames, rather than a panic.
    #[test]
    fn a_stack_short_of_its_arguments_has_no_frames() {
        let short = event(EventType::STACK, vec![5]);
        assert_eq!(short.frames().count(), 0);
        assert_eq!(short.to_string(), "Stack id=5");
        let whole = event(EventType::STACK, vec![5, 1, 16, 2, 3, 7]);
        assert_eq!(whole.frames().collect::<Vec<_>>(), [&[16, 2, 3, 7][..]]);
        assert_eq!(
            whole.to_string(),
            "Stack id=5 nframes=1\n\tpc=16 func=2 file=3 line=7"
        );
    }
}
