//! Decodes the firmware's `defmt` frames from RTT channel 0 with the table in its ELF.

use anyhow::{Context, Result};
use defmt_decoder::{DecodeError, StreamDecoder, Table};

/// The ELF's defmt table, if the firmware uses defmt.
pub fn table(elf: &[u8]) -> Result<Option<Table>> {
    Table::parse(elf).context("reading the defmt table from the ELF")
}

/// A decoder fed with channel bytes as they arrive.
pub struct DefmtLog<'t> {
    decoder: Box<dyn StreamDecoder + Send + Sync + 't>,
    /// Frames that could not be decoded.
    pub malformed: u64,
    /// Whether the encoding lets the decoder skip a malformed frame (rzcobs does, raw does not).
    recoverable: bool,
}

impl<'t> DefmtLog<'t> {
    pub fn new(table: &'t Table) -> Self {
        DefmtLog {
            decoder: table.new_stream_decoder(),
            malformed: 0,
            recoverable: table.encoding().can_recover(),
        }
    }

    /// Feeds bytes and returns every log line they complete, as "LEVEL message".
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.decoder.received(bytes);
        let mut lines = Vec::new();
        loop {
            match self.decoder.decode() {
                Ok(frame) => lines.push(frame.display(false).to_string()),
                Err(DecodeError::UnexpectedEof) => return lines,
                Err(DecodeError::Malformed) => {
                    self.malformed += 1;
                    if !self.recoverable {
                        return lines;
                    }
                }
            }
        }
    }
}
