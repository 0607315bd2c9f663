//! Mutants of valid traces, for the mutation differential test: each is one plausible mistake a
//! tracer (or a transport) could make — an event dropped, duplicated, reordered or moved, a
//! sequence number, status, thread ID, timestamp or size wrong, batches swapped or lost, the file
//! cut short or a byte flipped — so that Go's verdict and ours can be compared on each.

use gotrace_decoder::raw::{Event, Reader, Writer};
use gotrace_wire::{EventType, Version};

use crate::rng::Rng;

mod versions;

pub use versions::mutate_versioned;

/// A trace split into batches of raw events.
#[derive(Clone, Debug)]
pub struct Trace {
    pub version: Version,
    pub batches: Vec<Batch>,
}

/// What the reader takes as one unit: an `EventBatch` and its events, or (Go 1.23 and later) an
/// `ExperimentalBatch` carrying its payload as data, or (Go 1.26) a lone `EndOfGeneration`.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The `EventBatch` event (`gen`, `m`, `time`, `size`), whose `size` is recomputed on
    /// encoding; or the `ExperimentalBatch` or `EndOfGeneration` event itself, with no events.
    pub header: Event,
    pub events: Vec<Event>,
}

impl Batch {
    fn is_event_batch(&self) -> bool {
        self.header.typ == EventType::EVENT_BATCH
    }

    fn first_type(&self) -> Option<EventType> {
        self.events.first().map(|e| e.typ)
    }
}

/// Event types that start a new unit of the file rather than belong to the current batch.
fn starts_unit(typ: EventType) -> bool {
    matches!(
        typ,
        EventType::EVENT_BATCH | EventType::EXPERIMENTAL_BATCH | EventType::END_OF_GENERATION
    )
}

impl Trace {
    /// Splits a well-formed binary trace at its batch headers (and lone `EndOfGeneration`s).
    pub fn parse(binary: &[u8]) -> Trace {
        let mut reader = Reader::new(binary).expect("a trace header");
        let version = reader.version();
        let mut batches: Vec<Batch> = Vec::new();
        while let Some(event) = reader.read_event().expect("a readable trace") {
            if starts_unit(event.typ) {
                batches.push(Batch {
                    header: event,
                    events: Vec::new(),
                });
            } else {
                batches
                    .last_mut()
                    .expect("events before any batch")
                    .events
                    .push(event);
            }
        }
        Trace { version, batches }
    }

    /// The binary form, each batch's size set to its payload, plus `size_delta` on batch
    /// `size_batch` (to make framing mistakes on purpose).
    pub fn encode_with(&self, size_batch: usize, size_delta: i64) -> Vec<u8> {
        let mut out = self.version.header().to_vec();
        for (i, batch) in self.batches.iter().enumerate() {
            let payload = encode_events(self.version, &batch.events);
            let mut header = batch.header.clone();
            if batch.is_event_batch() {
                let mut size = payload.len() as u64;
                if i == size_batch {
                    size = size.saturating_add_signed(size_delta);
                }
                header.args[3] = size;
            }
            out.extend(encode_events(self.version, std::slice::from_ref(&header)));
            out.extend(payload);
        }
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        self.encode_with(usize::MAX, 0)
    }

    /// (batch, event) positions of every event for which `keep` holds.
    fn positions(&self, keep: impl Fn(&Event) -> bool) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        for (b, batch) in self.batches.iter().enumerate() {
            for (e, event) in batch.events.iter().enumerate() {
                if keep(event) {
                    found.push((b, e));
                }
            }
        }
        found
    }
}

/// The binary form of `events`, without a file header.
fn encode_events(version: Version, events: &[Event]) -> Vec<u8> {
    let mut writer = Writer::new(Vec::new(), version).unwrap();
    for event in events {
        writer
            .write_event(event)
            .expect("mutants keep events encodable");
    }
    writer.into_inner().split_off(gotrace_wire::HEADER_LEN)
}

/// One mutant: what was done, and the resulting file.
#[derive(Clone, Debug)]
pub struct Mutant {
    pub description: String,
    pub binary: Vec<u8>,
}

/// Timed events with arguments: the ones whose ordering rules matter.
fn is_timed(event: &Event) -> bool {
    event.spec().is_some_and(|s| s.is_timed)
}

/// Names of the spec's arguments of `event`, with their indices.
fn named_args(event: &Event) -> Vec<(usize, &'static str)> {
    event
        .spec()
        .map(|s| s.args.iter().copied().enumerate().collect())
        .unwrap_or_default()
}

/// A value near `value`, or one of the values that mean something special in the format.
fn other_value(value: u64, rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0 => value.wrapping_add(1),
        1 => value.wrapping_sub(1),
        2 => value.wrapping_add(2),
        3 => 0,
        4 => 1,
        5 => u64::MAX,
        6 => rng.below(8) as u64,
        _ => value.wrapping_mul(2).wrapping_add(3),
    }
}

/// Derives one mutant of `trace`; `None` when the chosen mutation does not apply to it.
pub fn mutate(trace: &Trace, rng: &mut Rng) -> Option<Mutant> {
    let mut t = trace.clone();
    let timed = t.positions(is_timed);
    let nb = t.batches.len();
    if timed.is_empty() || nb == 0 {
        return None;
    }
    let description = match rng.below(16) {
        0 => {
            let &(b, e) = rng.pick(&timed);
            let gone = t.batches[b].events.remove(e);
            format!("drop batch {b} event {e}: {gone}")
        }
        1 => {
            let &(b, e) = rng.pick(&timed);
            let copy = t.batches[b].events[e].clone();
            t.batches[b].events.insert(e + 1, copy.clone());
            format!("duplicate batch {b} event {e}: {copy}")
        }
        2 => {
            let &(b, e) = rng.pick(&timed);
            if e + 1 >= t.batches[b].events.len() {
                return None;
            }
            t.batches[b].events.swap(e, e + 1);
            format!("swap batch {b} events {e} and {}", e + 1)
        }
        3 => {
            let &(b, e) = rng.pick(&timed);
            let to = rng.below(nb);
            let event = t.batches[b].events.remove(e);
            let at = rng.below(t.batches[to].events.len() + 1);
            t.batches[to].events.insert(at, event.clone());
            format!("move batch {b} event {e} to batch {to} at {at}: {event}")
        }
        4 | 5 => {
            // Any argument of a timed event (IDs, stacks, strings, reasons, timestamps).
            let &(b, e) = rng.pick(&timed);
            let event = &mut t.batches[b].events[e];
            let args = named_args(event);
            if args.is_empty() {
                return None;
            }
            let &(i, name) = rng.pick(&args);
            let old = event.args[i];
            event.args[i] = other_value(old, rng);
            format!(
                "batch {b} event {e} {}: {name} {old} -> {}",
                event.name(),
                event.args[i]
            )
        }
        6 | 7 => alter_named(&mut t, rng, |n| n.ends_with("seq"), "sequence number")?,
        8 => alter_named(&mut t, rng, |n| n.ends_with("status"), "status")?,
        9 => alter_named(
            &mut t,
            rng,
            |n| n == "m" || n == "g" || n == "p",
            "thread/goroutine/proc ID",
        )?,
        10 => {
            let b = rng.below(nb);
            let header = &mut t.batches[b].header;
            let fields: Vec<(usize, &str)> = named_args(header)
                .into_iter()
                .filter(|&(_, name)| name != "size")
                .collect();
            if fields.is_empty() {
                return None;
            }
            let &(field, name) = rng.pick(&fields);
            let old = header.args[field];
            header.args[field] = other_value(old, rng);
            format!("batch {b} header {name} {old} -> {}", header.args[field])
        }
        11 => {
            let (a, c) = (rng.below(nb), rng.below(nb));
            if a == c {
                return None;
            }
            t.batches.swap(a, c);
            format!("swap batches {a} and {c}")
        }
        12 => {
            let b = rng.below(nb);
            t.batches.remove(b);
            format!("drop batch {b}")
        }
        13 => {
            let b = rng.below(nb);
            if !t.batches[b].is_event_batch() {
                return None;
            }
            let delta = *rng.pick(&[-3i64, -1, 1, 2, 70000]);
            let binary = t.encode_with(b, delta);
            return Some(Mutant {
                description: format!("batch {b} size off by {delta}"),
                binary,
            });
        }
        14 => {
            let (len, binary) = cut_short(&t.encode(), rng);
            return Some(Mutant {
                description: format!("truncate to {len} bytes"),
                binary,
            });
        }
        _ => {
            let mut binary = t.encode();
            let at = rng.below(binary.len());
            let bit = rng.below(8);
            binary[at] ^= 1 << bit;
            return Some(Mutant {
                description: format!("flip bit {bit} of byte {at}"),
                binary,
            });
        }
    };
    Some(Mutant {
        description,
        binary: t.encode(),
    })
}

/// The file `binary` exactly as it was written, cut at a random byte: unlike the other mutants it
/// keeps the writer's own encoding (Go's runtime pads each batch's size varint to 10 bytes).
pub fn truncate_as_written(binary: &[u8], rng: &mut Rng) -> Mutant {
    let (len, binary) = cut_short(binary, rng);
    Mutant {
        description: format!("original file cut to {len} bytes"),
        binary,
    }
}

/// `binary` cut at a random byte after its header, and its new length.
fn cut_short(binary: &[u8], rng: &mut Rng) -> (usize, Vec<u8>) {
    let len = gotrace_wire::HEADER_LEN + rng.below(binary.len() - gotrace_wire::HEADER_LEN);
    (len, binary[..len].to_vec())
}

/// Changes one argument whose name satisfies `which`, in a timed event.
fn alter_named(
    t: &mut Trace,
    rng: &mut Rng,
    which: impl Fn(&str) -> bool,
    what: &str,
) -> Option<String> {
    let candidates: Vec<(usize, usize, usize)> = t
        .positions(is_timed)
        .into_iter()
        .flat_map(|(b, e)| {
            named_args(&t.batches[b].events[e])
                .into_iter()
                .filter(|(_, n)| which(n))
                .map(move |(i, _)| (b, e, i))
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let &(b, e, i) = rng.pick(&candidates);
    let event = &mut t.batches[b].events[e];
    let old = event.args[i];
    event.args[i] = if what == "status" {
        rng.below(6) as u64
    } else {
        other_value(old, rng)
    };
    Some(format!(
        "{what}: batch {b} event {e} {} arg {i} {old} -> {}",
        event.name(),
        event.args[i]
    ))
}
