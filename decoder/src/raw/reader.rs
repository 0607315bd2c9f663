//! The streaming binary reader: the header, then one event at a time in file order.
//!
//! It holds one read buffer and the event being read, never the file. Sizes announced by the
//! input (data length, frame count) are checked against the format's limits before anything is
//! allocated for them.

use std::fmt;
use std::io::{self, Read};

use gotrace_wire::{spec, EventType, Version};

use super::event::{Event, FRAME_FIELDS};
use super::limits::{check_args, check_data_len, LimitError};
use super::source::{Source, VarintFailure};
use crate::Location;

/// Why the binary form could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The input does not start with a `go 1.N trace` header.
    #[error("bad file format: not a Go execution trace?")]
    BadHeader,
    /// The header names a minor version `N` (the value) that no known format has.
    #[error("unknown or unsupported trace version go 1.{0}")]
    UnsupportedVersion(u64),
    /// A trace of Go 1.11, 1.19 or 1.21, in the format before Go 1.22's
    /// ([`Version::is_older_format`]): not read.
    #[error("unsupported trace version go 1.{0}: only the Go 1.22 format and later are read")]
    OlderFormat(u32),
    /// An event could not be read: where it starts, its name if its type byte was valid, and
    /// the batch it is in (generation, M, index, offset; that of a batch header being read is
    /// its own index and offset), as the validating reader names them.
    #[error("byte {offset}{}: {problem}{batch}", .event.map(|e| format!(" ({e})")).unwrap_or_default())]
    Event {
        /// Byte offset in the file where the event starts.
        offset: u64,
        /// The event type's name; `None` when its type byte names no event of this version.
        event: Option<&'static str>,
        /// What was wrong with it.
        problem: Problem,
        /// The batch the event is in.
        batch: Box<Location>,
    },
    /// The underlying reader failed.
    #[error("reading byte {offset}: {source}")]
    Io {
        /// Byte offset in the file at which the read was attempted.
        offset: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// What was wrong with an event.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    /// A type byte that names no event of the trace's version.
    #[error("invalid event type: {0}")]
    InvalidType(u8),
    /// The input ended inside the event: what was being read (an argument's name, "data").
    #[error("truncated trace: unexpected EOF reading {0}")]
    Truncated(&'static str),
    /// A varint of more than 64 bits: what was being read.
    #[error("varint overflows a 64-bit integer reading {0}")]
    Overflow(&'static str),
    /// A size beyond the format's limits.
    #[error(transparent)]
    Limit(#[from] LimitError),
}

impl ReadError {
    /// Byte offset in the file of the event (or read) that failed, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            ReadError::Event { offset, .. } | ReadError::Io { offset, .. } => Some(*offset),
            ReadError::BadHeader | ReadError::UnsupportedVersion(_) | ReadError::OlderFormat(_) => {
                None
            }
        }
    }

    /// The batch the event that failed is in, as far as it was read.
    pub fn batch(&self) -> Option<&Location> {
        match self {
            ReadError::Event { batch, .. } => Some(batch),
            _ => None,
        }
    }

    /// Whether the input simply ended too early (as opposed to being malformed).
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            ReadError::Event {
                problem: Problem::Truncated(_),
                ..
            }
        )
    }
}

/// Reads the binary form.
pub struct Reader<R> {
    src: Source<R>,
    version: Version,
    /// The batch headers read so far.
    batches: u64,
    /// The last batch header read: where the events that follow it are.
    batch: Location,
}

/// Where the reader is, not its buffer; any stream.
impl<R: Read> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("version", &self.version)
            .field("offset", &self.src.offset())
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Reader<R> {
    /// Reads the header.
    pub fn new(inner: R) -> Result<Self, ReadError> {
        let mut src = Source::new(inner);
        let version = read_header(&mut src)?;
        Ok(Reader {
            src,
            version,
            batches: 0,
            batch: Location::default(),
        })
    }

    /// The version named by the trace's header.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Byte offset of the next event in the file.
    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// The stream read from: an [`Input`](crate::input::Input), to explain an error with.
    pub fn get_ref(&self) -> &R {
        self.src.get_ref()
    }

    /// The stream read from, to [`finish`](crate::input::Input::finish) an input with.
    pub fn get_mut(&mut self) -> &mut R {
        self.src.get_mut()
    }

    /// The next event, or `None` at the end of the input.
    pub fn read_event(&mut self) -> Result<Option<Event>, ReadError> {
        let start = self.src.offset();
        let Some(byte) = self.src.byte().map_err(|source| ReadError::Io {
            offset: start,
            source,
        })?
        else {
            return Ok(None);
        };
        let typ = EventType(byte);
        let Some(spec) = spec(self.version, typ) else {
            return Err(self.error(start, typ, None, Problem::InvalidType(byte)));
        };
        let fail =
            |reader: &Self, problem: Problem| reader.error(start, typ, Some(spec.name), problem);
        let mut args = Vec::with_capacity(spec.args.len());
        for name in spec.args {
            args.push(self.uvarint(start, typ, spec.name, name)?);
        }
        check_args(typ, &args).map_err(|e| fail(self, e.into()))?;
        if spec.is_stack {
            // `check_args` bounded the frame count.
            let frames = args[1] as usize;
            args.reserve_exact(frames * FRAME_FIELDS.len());
            for _ in 0..frames {
                for name in FRAME_FIELDS {
                    args.push(self.uvarint(start, typ, spec.name, name)?);
                }
            }
        }
        let mut data = Vec::new();
        if spec.has_data {
            let len = self.uvarint(start, typ, spec.name, "data length")?;
            check_data_len(typ, len).map_err(|e| fail(self, e.into()))?;
            data.reserve_exact(len as usize);
            let read = self
                .src
                .bytes(len as usize, &mut data)
                .map_err(|source| ReadError::Io {
                    offset: start,
                    source,
                })?;
            if read.is_err() {
                return Err(fail(self, Problem::Truncated("data")));
            }
        }
        if is_batch_header(typ) {
            self.batch = Location {
                // A lone EndOfGeneration (Go 1.26) is a batch without a generation or M, as the
                // validating reader counts it.
                generation: (typ != EventType::END_OF_GENERATION)
                    .then(|| batch_field(typ, &args, 0)),
                thread: (typ != EventType::END_OF_GENERATION)
                    .then(|| batch_field(typ, &args, 1) as i64),
                batch: Some(self.batches),
                batch_offset: Some(start),
                ..Location::default()
            };
            self.batches += 1;
        }
        Ok(Some(Event {
            version: self.version,
            typ,
            args,
            data,
        }))
    }

    /// The error of the event of type `typ` at `start`, in the batch it belongs to: the last
    /// one read, or the one it begins.
    #[cold]
    fn error(
        &self,
        start: u64,
        typ: EventType,
        event: Option<&'static str>,
        problem: Problem,
    ) -> ReadError {
        let batch = if is_batch_header(typ) && event.is_some() {
            Location {
                batch: Some(self.batches),
                batch_offset: Some(start),
                ..Location::default()
            }
        } else {
            self.batch.clone()
        };
        ReadError::Event {
            offset: start,
            event,
            problem,
            batch: Box::new(batch),
        }
    }

    fn uvarint(
        &mut self,
        start: u64,
        typ: EventType,
        event: &'static str,
        what: &'static str,
    ) -> Result<u64, ReadError> {
        let problem = match self.src.uvarint() {
            Ok(v) => return Ok(v),
            Err(VarintFailure::Eof | VarintFailure::Truncated) => Problem::Truncated(what),
            Err(VarintFailure::Overflow) => Problem::Overflow(what),
            Err(VarintFailure::Io(source)) => {
                return Err(ReadError::Io {
                    offset: self.src.offset(),
                    source,
                })
            }
        };
        Err(self.error(start, typ, Some(event), problem))
    }
}

/// Whether events of type `typ` begin a batch (the validating reader's batch headers).
fn is_batch_header(typ: EventType) -> bool {
    typ == EventType::EVENT_BATCH
        || typ == EventType::EXPERIMENTAL_BATCH
        || typ == EventType::END_OF_GENERATION
}

/// Field `index` of a batch header's generation and M (`EventBatch gen m ...`;
/// `ExperimentalBatch exp gen m ...`).
fn batch_field(typ: EventType, args: &[u64], index: usize) -> u64 {
    let skip = usize::from(typ == EventType::EXPERIMENTAL_BATCH);
    args[skip + index]
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Event, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read_event().transpose()
    }
}

/// Reads `go 1.N trace\0\0\0` as Go's `fmt.Fscanf` reads it.
fn read_header<R: Read>(src: &mut Source<R>) -> Result<Version, ReadError> {
    let minor = crate::header::read_minor(|| {
        src.byte()
            .map_err(|source| ReadError::Io { offset: 0, source })
    })?
    .ok_or(ReadError::BadHeader)?;
    match Version::from_minor(minor) {
        Some(version) => Ok(version),
        None if Version::is_older_format(minor) => Err(ReadError::OlderFormat(minor)),
        None => Err(ReadError::UnsupportedVersion(u64::from(minor))),
    }
}
