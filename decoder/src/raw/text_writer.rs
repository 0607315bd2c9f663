//! The text writer: `Trace Go1.N`, then each event's text form on its own line(s).

use std::fmt;
use std::io::Write;

use gotrace_wire::Version;

use super::event::Event;
use super::writer::WriteError;

/// Writes Go's raw text form.
pub struct TextWriter<W> {
    out: W,
    version: Version,
}

/// The version written; any output.
impl<W> fmt::Debug for TextWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextWriter")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl<W: Write> TextWriter<W> {
    /// Writes the header line.
    pub fn new(mut out: W, version: Version) -> Result<Self, WriteError> {
        writeln!(out, "Trace Go1.{}", version.minor())?;
        Ok(TextWriter { out, version })
    }

    /// Writes one event as its text line; an event of another version than the header's is an
    /// error.
    pub fn write_event(&mut self, event: &Event) -> Result<(), WriteError> {
        if event.version != self.version {
            return Err(WriteError::VersionMismatch {
                writer: self.version.minor(),
                event: event.version.minor(),
            });
        }
        writeln!(self.out, "{event}")?;
        Ok(())
    }

    /// Gives back the output the text was written to.
    pub fn into_inner(self) -> W {
        self.out
    }
}
