//! Batches: the unit in which a trace is written. Each starts with an `EventBatch` header
//! (generation, thread, base timestamp, payload size) and carries at most 64 KiB of events of one
//! thread, or one of the per-generation tables (strings, stacks, CPU samples, frequency).
//!
//! Only the header is decoded here; the payload is kept as bytes and decoded by whoever consumes
//! the batch, as Go's reader does.

use std::io::Read;

use gotrace_wire::{EventType, MAX_BATCH_SIZE};

use crate::error::{Error, Location};
use crate::source::{Source, VarintError};

/// Go's `NoExperiment`: a plain `EventBatch`.
pub(crate) const NO_EXPERIMENT: u8 = 0;

/// One batch, its payload not yet decoded.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The thread that wrote it (Go's `ThreadID`, -1 for no thread).
    pub m: i64,
    /// Base timestamp, in the trace's clock units.
    pub time: u64,
    pub data: Vec<u8>,
    /// The experiment of an `ExperimentalBatch`, else [`NO_EXPERIMENT`].
    pub exp: u8,
    /// Index of the batch in the file.
    pub index: u64,
    /// Byte offset of the batch header in the file.
    pub offset: u64,
    /// Byte offset of the first payload byte in the file.
    pub data_offset: u64,
}

impl Batch {
    fn first_type(&self) -> Option<EventType> {
        if self.exp != NO_EXPERIMENT {
            return None;
        }
        self.data.first().map(|&b| EventType(b))
    }

    pub(crate) fn is_strings(&self) -> bool {
        self.first_type() == Some(EventType::STRINGS)
    }

    pub(crate) fn is_stacks(&self) -> bool {
        self.first_type() == Some(EventType::STACKS)
    }

    pub(crate) fn is_cpu_samples(&self) -> bool {
        self.first_type() == Some(EventType::CPU_SAMPLES)
    }

    /// The batch holding the generation's clock data: a lone `Frequency` before Go 1.25, a `Sync`
    /// batch from then on.
    pub(crate) fn is_sync(&self, version: gotrace_wire::Version) -> bool {
        match self.first_type() {
            Some(EventType::FREQUENCY) => version < gotrace_wire::Version::Go125,
            Some(EventType::SYNC) => version >= gotrace_wire::Version::Go125,
            _ => false,
        }
    }

    pub(crate) fn is_end_of_generation(&self) -> bool {
        self.first_type() == Some(EventType::END_OF_GENERATION)
    }

    /// Where this batch is, for errors about it.
    pub(crate) fn location(&self, generation: u64) -> Location {
        Location {
            generation: Some(generation),
            thread: Some(self.m),
            batch: Some(self.index),
            batch_offset: Some(self.offset),
            ..Location::default()
        }
    }
}

/// An event batch kept for the merge: only what reading its events and placing their errors
/// needs (its thread is that of its list, and it is no experiment). 48 bytes against a
/// [`Batch`]'s 72: a device's trace has a batch every 200 bytes or so, and the smaller records
/// took its peak heap from 1.72 to 1.55 times its largest generation.
#[derive(Debug)]
pub(crate) struct EventBatch {
    /// Base timestamp, in the trace's clock units.
    pub time: u64,
    pub data: Box<[u8]>,
    /// Index of the batch in the file.
    pub index: u64,
    /// Byte offset of the batch header in the file.
    pub offset: u64,
    /// Byte offset of the first payload byte in the file.
    pub data_offset: u64,
}

impl From<Batch> for EventBatch {
    fn from(batch: Batch) -> Self {
        EventBatch {
            time: batch.time,
            // Read with its exact size as capacity: no copy.
            data: batch.data.into_boxed_slice(),
            index: batch.index,
            offset: batch.offset,
            data_offset: batch.data_offset,
        }
    }
}

/// Reads the next batch and its generation number; `None` at a clean end of the stream.
///
/// Like Go's reader, this accepts the header byte of any batch kind whatever the version, and a
/// lone `EndOfGeneration` byte; what is allowed where is decided by the generation reader.
pub(crate) fn read_batch<R: Read>(
    source: &mut Source<R>,
    index: u64,
) -> Result<Option<(Batch, u64)>, Error> {
    let offset = source.offset();
    let location = Location {
        batch: Some(index),
        batch_offset: Some(offset),
        ..Location::default()
    };
    let header = match source.read_byte() {
        Ok(Some(byte)) => EventType(byte),
        Ok(None) => return Ok(None),
        Err(e) => return Err(Error::io(e.to_string(), e).at(&location)),
    };
    if header == EventType::END_OF_GENERATION {
        let batch = Batch {
            m: -1,
            time: 0,
            data: vec![header.0],
            exp: NO_EXPERIMENT,
            index,
            offset,
            data_offset: offset,
        };
        return Ok(Some((batch, 0)));
    }
    if header != EventType::EVENT_BATCH && header != EventType::EXPERIMENTAL_BATCH {
        return Err(
            Error::new(format!("expected batch event, got event {}", header.0)).at(&location),
        );
    }
    let mut exp = NO_EXPERIMENT;
    if header == EventType::EXPERIMENTAL_BATCH {
        exp = match source.read_byte() {
            Ok(Some(byte)) => byte,
            // Go's reader sees io.EOF here, which its callers take for the end of the trace.
            Ok(None) => return Ok(None),
            Err(e) => return Err(Error::io(e.to_string(), e).at(&location)),
        };
    }
    let mut field = |what: &str| {
        source.read_uvarint().map_err(|e| {
            let message = format!("error reading batch {what}: {}", e.go_text());
            match e {
                VarintError::Io(io) => Error::io(message, io),
                _ => Error::new(message),
            }
            .at(&location)
        })
    };
    let gen = field("gen")?;
    let m = field("M ID")?;
    let time = field("timestamp")?;
    let size = field("size")?;
    let location = Location {
        generation: Some(gen),
        thread: Some(m as i64),
        ..location
    };
    if size > MAX_BATCH_SIZE {
        return Err(Error::new(format!(
            "invalid batch size {size}, maximum is {MAX_BATCH_SIZE}"
        ))
        .at(&location));
    }
    // Bounded by MAX_BATCH_SIZE just above.
    let size = size as usize;
    let data_offset = source.offset();
    let mut data = Vec::with_capacity(size);
    let read = source.read_up_to(size, &mut data);
    if data.len() != size {
        return Err(Error::new(format!(
            "failed to read full batch: read {} but wanted {size}",
            data.len()
        ))
        .at(&location));
    }
    if let Err(e) = read {
        return Err(Error::io(format!("copying batch data: {e}"), e).at(&location));
    }
    let batch = Batch {
        m: m as i64,
        time,
        data,
        exp,
        index,
        offset,
        data_offset,
    };
    Ok(Some((batch, gen)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Option<(Batch, u64)>, String> {
        read_batch(&mut Source::new(bytes), 0).map_err(|e| e.go_message())
    }

    #[test]
    fn reads_a_batch_header_and_payload() {
        let (batch, gen) = read(&[1, 3, 7, 100, 2, 0xaa, 0xbb]).unwrap().unwrap();
        assert_eq!(
            (gen, batch.m, batch.time, batch.data),
            (3, 7, 100, vec![0xaa, 0xbb])
        );
        assert_eq!(batch.data_offset, 5);
        assert!(read(&[]).unwrap().is_none());
    }

    #[test]
    fn reports_gos_errors() {
        assert_eq!(read(&[9]).unwrap_err(), "expected batch event, got event 9");
        assert_eq!(read(&[1]).unwrap_err(), "error reading batch gen: EOF");
        assert_eq!(
            read(&[1, 1, 0x80]).unwrap_err(),
            "error reading batch M ID: unexpected EOF"
        );
        assert_eq!(
            read(&[1, 1, 0, 0, 0x81, 0x80, 0x04]).unwrap_err(),
            "invalid batch size 65537, maximum is 65536"
        );
        assert_eq!(
            read(&[1, 1, 0, 0, 3, 0]).unwrap_err(),
            "failed to read full batch: read 1 but wanted 3"
        );
    }
}
