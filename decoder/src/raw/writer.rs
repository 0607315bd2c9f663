//! The binary writer: the header, then each event as its type byte, varint arguments and data.
//!
//! It writes what it is given, limits included, so that tests can build hostile traces; it only
//! refuses events that have no binary form at all.

use std::fmt;
use std::io::{self, Write};

use gotrace_wire::{varint, Version};

use super::event::{Event, FRAME_FIELDS};

/// Why an event could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The event is of another trace version than the writer's header.
    #[error("mismatched version between writer (go 1.{writer}) and event (go 1.{event})")]
    VersionMismatch {
        /// The writer's minor version (`go 1.N`).
        writer: u32,
        /// The event's.
        event: u32,
    },
    /// The event's type byte names no event of the writer's version.
    #[error("event type {0} is not defined by this trace version")]
    UnknownType(u8),
    /// The event has another number of arguments than its type takes (for a stack, 2 plus 4
    /// per frame its second argument counts).
    #[error("{name} takes {expected} arguments, got {got}")]
    ArgCount {
        /// The event type's name.
        name: &'static str,
        /// The arguments its type takes.
        expected: usize,
        /// The arguments it has.
        got: usize,
    },
    /// The event has data, and its type carries none.
    #[error("{0} carries no data")]
    UnexpectedData(&'static str),
    /// The output failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Writes the binary form.
pub struct Writer<W> {
    out: W,
    version: Version,
    buf: Vec<u8>,
}

/// The version written; any output.
impl<W> fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Writer<W> {
    /// Writes the header.
    pub fn new(mut out: W, version: Version) -> Result<Self, WriteError> {
        out.write_all(&version.header())?;
        Ok(Writer {
            out,
            version,
            buf: Vec::new(),
        })
    }

    /// Writes one event: its type byte, its arguments as varints, and its data (length first)
    /// if its type has any.
    pub fn write_event(&mut self, event: &Event) -> Result<(), WriteError> {
        if event.version != self.version {
            return Err(WriteError::VersionMismatch {
                writer: self.version.minor(),
                event: event.version.minor(),
            });
        }
        let spec = event.spec().ok_or(WriteError::UnknownType(event.typ.0))?;
        let frames = if spec.is_stack {
            event.args.get(1).copied().unwrap_or(0)
        } else {
            0
        };
        let expected = usize::try_from(frames)
            .ok()
            .and_then(|f| f.checked_mul(FRAME_FIELDS.len()))
            .and_then(|n| n.checked_add(spec.args.len()));
        if expected != Some(event.args.len()) {
            return Err(WriteError::ArgCount {
                name: spec.name,
                expected: expected.unwrap_or(usize::MAX),
                got: event.args.len(),
            });
        }
        if !spec.has_data && !event.data.is_empty() {
            return Err(WriteError::UnexpectedData(spec.name));
        }
        self.buf.clear();
        self.buf.push(event.typ.0);
        for &arg in &event.args {
            push_uvarint(&mut self.buf, arg);
        }
        if spec.has_data {
            push_uvarint(&mut self.buf, event.data.len() as u64);
            self.buf.extend_from_slice(&event.data);
        }
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    /// What has been written to so far.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// What has been written to, to take the bytes out of as they are written.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// The output, given back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn push_uvarint(buf: &mut Vec<u8>, value: u64) {
    let mut bytes = [0; varint::MAX_LEN];
    let n = varint::encode(value, &mut bytes);
    buf.extend_from_slice(&bytes[..n]);
}
