//! The locations our errors name are true: thousands of mutants of valid traces (the mutation
//! differential's generator, `gotrace_tests::mutate`, on generated multi-generation traces and on
//! traces of the scheduler's host simulation), and for every one our reader rejects, the error's
//! `Location` is checked against the file itself, framed here independently of the decoder:
//!
//! * `batch_offset` is where a batch header starts (its byte is a batch type), `batch` is that
//!   batch's index in file order, and `generation` and `thread` are those its header names;
//! * `event_offset` lies inside that batch's payload, on an event boundary (or where the payload
//!   stops being readable), and the raw event decoded there is the one `event` names;
//! * every error except the exempt kinds listed in [`EXEMPT`] names at least the generation and
//!   the M, and an event naming a stack or string that its generation lacks is named by offset
//!   too (found after the ordering, it is looked for again in its thread's batches), as is a
//!   stack whose frames name a missing string (checked once the generation is read) and an
//!   entry of a string, stack, CPU sample or clock batch that is wrong or a duplicate.
//!
//! Go's parser reports no location at all, so Go is not needed: the file is the judge. The
//! mutation differential (`mutation.rs`) checks the message; this checks where it points. A second
//! test does the same on Go's valid vectors of every version, mutated with the newer formats'
//! mutations too (`mutate_versioned`); it needs Go's installation for the vectors only. A third
//! does it on real traces of Go 1.26's format, which Go's toolchain builds and runs here.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use gotrace_decoder::raw::{text_to_binary, Event, Reader as RawReader};
use gotrace_decoder::{Location, Reader};
use gotrace_go_oracle::require_go;
use gotrace_scheduler::sim::driver::{self, Options};
use gotrace_tests::generate::{generate, Shape};
use gotrace_tests::goprograms::GoPrograms;
use gotrace_tests::mutate::{mutate, mutate_versioned, Mutant, Trace};
use gotrace_tests::rng::Rng;
use gotrace_tests::scratch_dir;
use gotrace_tests::vectors::all_vectors;
use gotrace_wire::{EventType, Version, HEADER_LEN};

const MUTANTS_PER_SEED: usize = 400;

/// Errors that need not name the generation and the M, and why: each a prefix of Go's message.
const EXEMPT: [(&str, &str); 7] = [
    // The file header comes before any batch.
    ("bad file format", "the file header, before any batch"),
    (
        "unknown or unsupported trace version",
        "the file header, before any batch",
    ),
    (
        "expected batch event",
        "a byte where a batch header should start: no header to name a generation or M",
    ),
    (
        "error reading batch",
        "a batch header cut short or with a bad varint: its generation and M may be unread",
    ),
    (
        "no frequency event found",
        "a generation as a whole lacks it: no one batch or M",
    ),
    (
        "no clock snapshot event found",
        "a generation as a whole lacks it: no one batch or M",
    ),
    (
        "incomplete generation found",
        "the trace ends inside a Go 1.26 generation: named by its generation, no one batch or M",
    ),
];

/// Errors about a generation as a whole, which name it (and no batch or M).
const GENERATION_WIDE: [&str; 3] = [
    "no frequency event found",
    "no clock snapshot event found",
    "incomplete generation found",
];

/// One unit of the file as framed here: a batch header and its payload, or a lone
/// `EndOfGeneration`, or the byte where something else stands where a batch should start.
#[derive(Debug)]
struct Unit {
    index: u64,
    offset: u64,
    kind: UnitKind,
    /// The generation and M its header names, if read whole.
    gen: Option<u64>,
    m: Option<i64>,
    /// The payload's bytes in the file (as far as the file goes).
    data: Range<u64>,
}

#[derive(Debug, PartialEq)]
enum UnitKind {
    Batch,
    EndOfGeneration,
    NotABatch,
}

/// Go's `binary.Uvarint` at `*pos`: `None` when cut short or overflowing.
fn uvarint(binary: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let byte = *binary.get(*pos)?;
        *pos += 1;
        if i == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// The file's units in order, up to the first that cannot be framed (which is listed too).
fn frame(binary: &[u8]) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut pos = HEADER_LEN;
    while pos < binary.len() {
        let offset = pos as u64;
        let index = units.len() as u64;
        let typ = EventType(binary[pos]);
        pos += 1;
        let mut unit = Unit {
            index,
            offset,
            kind: UnitKind::Batch,
            gen: None,
            m: None,
            data: offset..offset,
        };
        if typ == EventType::END_OF_GENERATION {
            unit.kind = UnitKind::EndOfGeneration;
            unit.m = Some(-1);
            units.push(unit);
            continue;
        }
        if typ != EventType::EVENT_BATCH && typ != EventType::EXPERIMENTAL_BATCH {
            unit.kind = UnitKind::NotABatch;
            units.push(unit);
            break;
        }
        if typ == EventType::EXPERIMENTAL_BATCH {
            pos += 1;
        }
        let fields: Option<Vec<u64>> = (0..4).map(|_| uvarint(binary, &mut pos)).collect();
        let Some(&[gen, m, _time, size]) = fields.as_deref() else {
            units.push(unit);
            break;
        };
        unit.gen = Some(gen);
        unit.m = Some(m as i64);
        let end = pos.saturating_add(size as usize).min(binary.len());
        unit.data = pos as u64..end as u64;
        units.push(unit);
        if size > gotrace_wire::MAX_BATCH_SIZE || end < pos + size as usize {
            break;
        }
        pos = end;
    }
    units
}

/// The raw event at `offset` and its length, read no further than `end`: by the trace's version,
/// or else by the newest, as the validator (like Go's parser) reads events of every version's
/// types whatever the header says.
fn read_at(binary: &[u8], version: Version, offset: u64, end: u64) -> Option<(Event, u64)> {
    [version, Version::Go126].into_iter().find_map(|version| {
        let mut bytes = version.header().to_vec();
        bytes.extend(&binary[offset as usize..end as usize]);
        let mut reader = RawReader::new(&bytes[..]).ok()?;
        let event = reader.read_event().ok()??;
        Some((event, reader.offset() - HEADER_LEN as u64))
    })
}

/// Offsets at which the raw events of the payload `data` start, up to and including the one
/// where reading them fails, if it does.
fn event_starts(binary: &[u8], version: Version, data: &Range<u64>) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut at = data.start;
    while at < data.end {
        starts.push(at);
        match read_at(binary, version, at, data.end) {
            Some((_, len)) => at += len,
            None => break,
        }
    }
    starts
}

/// Everything wrong with `location` for an error with `message` on `binary`; empty if true.
fn check(binary: &[u8], version: Version, message: &str, location: &Location) -> Vec<String> {
    let mut wrong = Vec::new();
    let units = frame(binary);
    let unit = match location.batch_offset {
        None => None,
        Some(offset) => match units.iter().find(|u| u.offset == offset) {
            Some(unit) => Some(unit),
            None => {
                wrong.push(format!("no batch starts at byte offset {offset}"));
                None
            }
        },
    };
    if let Some(unit) = unit {
        let expected_kind = if message.starts_with("expected batch event") {
            UnitKind::NotABatch
        } else if unit.kind == UnitKind::EndOfGeneration {
            UnitKind::EndOfGeneration
        } else {
            UnitKind::Batch
        };
        if unit.kind != expected_kind {
            wrong.push(format!(
                "the unit at byte offset {} is {:?}, not {expected_kind:?}",
                unit.offset, unit.kind
            ));
        }
        if location.batch != Some(unit.index) {
            wrong.push(format!(
                "batch index {:?}, but the batch at that offset is #{}",
                location.batch, unit.index
            ));
        }
        if let Some(gen) = location.generation {
            if unit.kind == UnitKind::Batch && unit.gen != Some(gen) {
                wrong.push(format!(
                    "generation {gen}, but the batch header says {:?}",
                    unit.gen
                ));
            }
        }
        if let Some(m) = location.thread {
            if unit.m != Some(m) {
                wrong.push(format!("M {m}, but the batch header says {:?}", unit.m));
            }
        }
    } else if location.batch.is_some() {
        wrong.push("a batch index without its offset".to_owned());
    } else if let (Some(gen), Some(m)) = (location.generation, location.thread) {
        // No batch named: the generation and M still name one of the file's batches.
        if !units
            .iter()
            .any(|u| u.kind == UnitKind::Batch && u.gen == Some(gen) && u.m == Some(m))
        {
            wrong.push(format!(
                "generation {gen}, M {m}, but no batch has that header"
            ));
        }
    }
    if let Some(offset) = location.event_offset {
        match unit {
            None => wrong.push("an event offset without its batch".to_owned()),
            Some(unit) if !unit.data.contains(&offset) => wrong.push(format!(
                "event offset {offset} is outside the batch's payload {:?}",
                unit.data
            )),
            Some(unit) => {
                if !event_starts(binary, version, &unit.data).contains(&offset) {
                    wrong.push(format!(
                        "event offset {offset} is not where an event of the batch starts"
                    ));
                }
                if let Some(event) = &location.event {
                    let there = read_at(binary, version, offset, unit.data.end)
                        .map(|(event, _)| event.to_string());
                    if there.as_deref() != Some(event.as_str()) {
                        wrong.push(format!(
                            "the event named is {event:?}, the one at its offset {there:?}"
                        ));
                    }
                }
            }
        }
    }
    if exemption(message).is_none() && (location.generation.is_none() || location.thread.is_none())
    {
        wrong.push("names no generation or no M".to_owned());
    }
    // A generation that lacks something as a whole is named, if the file has batches: before Go
    // 1.26 every generation is its batches' (from then on, one may be a lone `EndOfGeneration`,
    // which has no number).
    if version < Version::Go126 && GENERATION_WIDE.iter().any(|kind| message.starts_with(kind)) {
        let batch_of = |gen| {
            units
                .iter()
                .any(|u| u.kind == UnitKind::Batch && u.gen == Some(gen))
        };
        match location.generation {
            Some(gen) if !batch_of(gen) => {
                wrong.push(format!("generation {gen}, but no batch has it"));
            }
            None if units.iter().any(|u| u.kind == UnitKind::Batch) => {
                wrong.push("names no generation, though the file has batches".to_owned());
            }
            _ => {}
        }
    }
    if names_its_event(message) && location.event_offset.is_none() {
        wrong.push("names no event offset for an event in a thread's batch".to_owned());
    }
    // The event said to name a missing stack or string is one that names it: found again in its
    // thread's batches after the ordering, it could be another of its type.
    static MISSING: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^found invalid (?:stack|string) ID (\d+) for event (\w+)")
            .expect("a valid pattern")
    });
    if let (Some(found), Some(event)) = (MISSING.captures(message), &location.event) {
        let (id, name) = (&found[1], &found[2]);
        let names_id = event
            .split_whitespace()
            .any(|arg| arg.split_once('=').is_some_and(|(_, value)| value == id));
        if !event.starts_with(&format!("{name} ")) || !names_id {
            wrong.push(format!(
                "the event named, {event:?}, is no {name} naming ID {id}"
            ));
        }
    }
    wrong
}

/// Whether an error of this message must name its event by offset: an entry of a string, stack,
/// CPU sample or clock batch that is wrong in itself, or a duplicate; and, although found only
/// after its batch was read, an event that names a stack or string missing from its generation's
/// tables (found after the ordering), or a stack whose frames do (checked once the generation's
/// strings are all read).
fn names_its_event(message: &str) -> bool {
    [
        "expected string event",
        "expected stack event",
        "expected CPU sample event",
        "expected frequency or clock snapshot event",
        "invalid string size",
        "failed to read full string",
        "invalid stack size",
        "multiple strings with the same ID",
        "multiple trace.stacks with the same ID",
        "found multiple frequency events",
        "found multiple clock snapshot events",
        "found invalid stack ID",
        "found invalid string ID",
        "found invalid func string ID",
        "found invalid file string ID",
        "found unknown pc",
    ]
    .iter()
    .any(|prefix| message.starts_with(prefix))
}

/// Why an error of this message need not name the generation and the M, if it need not.
fn exemption(message: &str) -> Option<&'static str> {
    EXEMPT
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map(|&(_, why)| why)
}

/// The seeds: generated multi-generation traces and the scheduler's simulated traces.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for seed in 1..=4 {
        let shape = Shape {
            seed,
            procs: 1 + seed % 3,
            goroutines_per_proc: 3,
            generation_bytes: 600,
            total_bytes: 3000,
        };
        seeds.push((format!("generated-{seed}"), generate(shape).0));
    }
    for seed in 1..=4 {
        let outcome = driver::run(seed, &Options::STRESS);
        for (i, trace) in outcome.traces.into_iter().enumerate() {
            seeds.push((format!("simulated-{seed}.{i}"), trace));
        }
    }
    seeds
}

#[derive(Default)]
struct Counts {
    rejected: usize,
    /// Naming the generation and the M.
    located: usize,
    /// Naming a batch by its offset, checked against the file's framing.
    at_batch: usize,
    /// Naming an event by its offset and raw text, both checked against the bytes there.
    at_event: usize,
}

/// The first few words of Go's message, for counting by kind.
fn kind(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default();
    first
        .split(|c: char| c == ':' || c.is_ascii_digit())
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// What a set of mutants gave: counts, and every wrong location found.
struct Tally {
    total: usize,
    by_kind: BTreeMap<String, Counts>,
    failures: Vec<String>,
}

/// `per_seed` mutants of each seed by `operator`, each rejected one's location checked.
fn check_mutants(
    seeds: &[(String, Vec<u8>)],
    per_seed: usize,
    operator: fn(&Trace, &mut Rng) -> Option<Mutant>,
) -> Tally {
    let mut total = 0;
    let mut by_kind: BTreeMap<String, Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    for (s, (name, binary)) in seeds.iter().enumerate() {
        let trace = Trace::parse(binary);
        let version = trace.version;
        let mut rng = Rng::new(0x6c6f_6361_7465 ^ s as u64);
        let mut made = 0;
        while made < per_seed {
            let Some(mutant) = operator(&trace, &mut rng) else {
                continue;
            };
            made += 1;
            total += 1;
            let Some(error) = first_error(&mutant) else {
                continue;
            };
            let message = error.go_message();
            let location = error.location();
            let counts = by_kind.entry(kind(&message)).or_default();
            counts.rejected += 1;
            counts.located +=
                usize::from(location.generation.is_some() && location.thread.is_some());
            counts.at_batch += usize::from(location.batch_offset.is_some());
            counts.at_event +=
                usize::from(location.event_offset.is_some() && location.event.is_some());
            let wrong = check(&mutant.binary, version, &message, location);
            if !wrong.is_empty() {
                failures.push(format!(
                    "{name}: {}: {error}\n    {}",
                    mutant.description,
                    wrong.join("\n    ")
                ));
            }
        }
    }
    Tally {
        total,
        by_kind,
        failures,
    }
}

/// Prints the tally's counts per kind and its first failures; returns (rejected, at a batch, at
/// an event).
fn report(set: &str, seeds: usize, tally: &Tally) -> (usize, usize, usize) {
    let Tally {
        total,
        by_kind,
        failures,
    } = tally;
    let rejected: usize = by_kind.values().map(|c| c.rejected).sum();
    let located: usize = by_kind.values().map(|c| c.located).sum();
    let at_batch: usize = by_kind.values().map(|c| c.at_batch).sum();
    let at_event: usize = by_kind.values().map(|c| c.at_event).sum();
    eprintln!(
        "{set}: {total} mutants of {seeds} seeds: {rejected} rejected, {located} naming \
         generation and M, {at_batch} a batch by offset, {at_event} an event by offset and text"
    );
    eprintln!("rejected, located, at a batch, at an event: kind");
    for (kind, c) in by_kind {
        let why = exemption(kind).map_or(String::new(), |why| format!(" (exempt: {why})"));
        eprintln!(
            "  {:5} {:5} {:5} {:5}: {kind}{why}",
            c.rejected, c.located, c.at_batch, c.at_event
        );
    }
    for failure in failures.iter().take(200) {
        eprintln!("{failure}");
    }
    (rejected, at_batch, at_event)
}

#[test]
fn every_rejected_mutant_names_where_it_is_wrong_truly() {
    let seeds = seeds();
    let tally = check_mutants(&seeds, MUTANTS_PER_SEED, mutate);
    let (rejected, at_batch, at_event) = report("Go 1.22", seeds.len(), &tally);
    let (total, failures) = (tally.total, &tally.failures);
    assert!(total >= 3000, "only {total} mutants");
    assert!(rejected >= 1000, "only {rejected} rejected");
    assert!(
        at_batch >= 1000 && at_event >= 1000,
        "too few locations to check: {at_batch} batches, {at_event} events"
    );
    assert!(failures.is_empty(), "{} wrong locations", failures.len());
}

/// Our reader's error on the mutant, if it rejects it.
fn first_error(mutant: &Mutant) -> Option<gotrace_decoder::Error> {
    let mut reader = match Reader::new(&mutant.binary[..]) {
        Ok(reader) => reader,
        Err(error) => return Some(error),
    };
    loop {
        match reader.read_event() {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(error) => return Some(error),
        }
    }
}

/// Reads a one-generation trace whose thread starts with a running P and then has `event` (6
/// bytes, in Go's raw text form of version `text_version`), its header then made `header`'s (to
/// put a newer event in an older trace, as a flipped bit can): the error must be `message`, its
/// location true by [`check`], and the event it names exactly `event`.
fn assert_names_the_event(text_version: Version, header: Version, event: &str, message: &str) {
    let text = format!(
        "Trace Go1.{}
EventBatch gen=1 m=0 time=0 size=10
ProcStatus dt=1 p=0 pstatus=1
{event}
EventBatch gen=1 m=18446744073709551615 time=0 size=5
Frequency freq=15625000
EventBatch gen=1 m=18446744073709551615 time=0 size=1
Stacks
EventBatch gen=1 m=18446744073709551615 time=0 size=11
Strings
String id=1
\tdata=\"my task\"
",
        text_version.minor()
    );
    let mut binary = text_to_binary(text.as_bytes()).expect("a valid text trace");
    binary[..HEADER_LEN].copy_from_slice(&header.header());
    let error = first_error(&Mutant {
        description: String::new(),
        binary: binary.clone(),
    })
    .expect("a rejected trace");
    let wrong = check(&binary, header, &error.go_message(), error.location());
    assert!(wrong.is_empty(), "{error}: {wrong:?}");
    assert_eq!(error.go_message(), message);
    assert_eq!(error.location().event.as_deref(), Some(event), "{error}");
}

/// A mutant of a simulated trace (`swap batch 6 events 1 and 2`) put a `UserTaskBegin` with
/// parent task 0 where no goroutine runs; the ordering had made that parent `NO_TASK` in place
/// before it failed, and the location named `parent_task=18446744073709551615`, an event that is
/// nowhere in the file.
#[test]
fn the_event_named_is_as_written_not_as_the_ordering_changed_it() {
    assert_names_the_event(
        Version::Go122,
        Version::Go122,
        "UserTaskBegin dt=1 task=2 parent_task=0 name_string=1 stack=0",
        "expected a goroutine but didn't have one",
    );
}

/// A mutant of a generated trace (`flip bit 5 of byte 620`) made a Go 1.22 `GoStatus` a
/// `GoStatusStack` (type 48, Go 1.23's), which the validator reads by the newest table as Go
/// does; the location printed it as `Invalid(48) arg0=30 arg1=3 ...`.
#[test]
fn an_event_of_a_newer_version_is_named_by_the_table_it_was_read_with() {
    assert_names_the_event(
        Version::Go123,
        Version::Go122,
        "GoStatusStack dt=1 g=3 m=0 gstatus=42 stack=0",
        "invalid status for goroutine 3: 42",
    );
}

/// The same on Go's valid vectors of every version (Go 1.23's `ExperimentalBatch`es, Go 1.25's
/// `Sync` batches) with the mutations of the newer formats too; Go's installation holds them.
#[test]
fn every_rejected_mutant_of_gos_vectors_names_where_it_is_wrong_truly() {
    let Some(go) = require_go("every_rejected_mutant_of_gos_vectors_names_where_it_is_wrong_truly")
    else {
        return;
    };
    let seeds: Vec<(String, Vec<u8>)> = all_vectors(&go)
        .into_iter()
        .filter(|v| v.is_valid())
        .map(|v| (v.name, v.binary))
        .collect();
    assert_versioned_mutants_located_truly("Go's vectors", &seeds, 1000, 500);
}

/// The same on real traces of Go 1.26's format, which no vector of Go's is in (generations ended
/// by `EndOfGeneration`, read by a path of their own): three `goprograms` scenarios, traced here
/// with generations of 2 ms so that each has several.
#[test]
fn every_rejected_mutant_of_a_go_1_26_trace_names_where_it_is_wrong_truly() {
    let Some(go) =
        require_go("every_rejected_mutant_of_a_go_1_26_trace_names_where_it_is_wrong_truly")
    else {
        return;
    };
    let programs = GoPrograms::build(&go, scratch_dir());
    let seeds: Vec<(String, Vec<u8>)> = ["channels-mutexes", "syscall-pipes", "start-stop"]
        .into_iter()
        .map(|scenario| {
            let path = scratch_dir().join(format!("{scenario}.trace"));
            programs.trace(scenario, &path, 2_000_000, 0.0);
            let binary = std::fs::read(&path).expect("reading the trace");
            assert_eq!(Trace::parse(&binary).version, Version::Go126, "{scenario}");
            (scenario.to_owned(), binary)
        })
        .collect();
    assert_versioned_mutants_located_truly("Go 1.26 traces", &seeds, 300, 100);
}

/// Mutates `seeds` with the newer formats' mutations too and checks where every rejected mutant's
/// error points; at least `rejected` must be rejected and `at_event` located to an event, for
/// the set (`set`, in the report) to have checked something.
fn assert_versioned_mutants_located_truly(
    set: &str,
    seeds: &[(String, Vec<u8>)],
    rejected: usize,
    at_event: usize,
) {
    let tally = check_mutants(seeds, MUTANTS_PER_SEED, mutate_versioned);
    let (were_rejected, _, were_at_event) = report(set, seeds.len(), &tally);
    assert!(
        were_rejected >= rejected && were_at_event >= at_event,
        "too few to check"
    );
    assert!(
        tally.failures.is_empty(),
        "{} wrong locations",
        tally.failures.len()
    );
}

/// A text trace is converted as it is read, and only the lines a reader can still report an
/// error at are kept ([`gotrace_decoder::raw::TextToBinary`]): an error found at the first
/// event of a generation, when the reader has read that whole generation (400 KB, three times
/// what the converter keeps beyond it) and the next one's first batch, still names that event's
/// line, in each of the later generations.
#[test]
fn a_streamed_text_names_the_line_of_an_error_at_a_generations_start() {
    let (binary, generations) = generate(Shape {
        seed: 3,
        procs: 4,
        goroutines_per_proc: 4,
        generation_bytes: 400 << 10,
        total_bytes: 4 << 20,
    });
    assert!(generations >= 8, "{generations} generations");
    let text = gotrace_decoder::raw::binary_to_text(&binary[..]).expect("a valid trace");
    let lines: Vec<&str> = text.lines().collect();
    for generation in [3, 5, generations] {
        let batch = lines
            .iter()
            .position(|l| l.starts_with(&format!("EventBatch gen={generation} ")))
            .expect("the generation's first batch");
        // The first event naming a stack, made to name one the generation lacks: the same
        // length, so the batch's size still holds.
        let event = batch
            + lines[batch..]
                .iter()
                .position(|l| l.ends_with(" stack=4"))
                .expect("an event naming stack 4");
        let mut broken = lines.clone();
        let wrong = lines[event].replace(" stack=4", " stack=9");
        broken[event] = &wrong;
        let broken = broken.join("\n") + "\n";
        let input = gotrace_decoder::input::Input::new(broken.as_bytes()).expect("a text trace");
        let mut reader = Reader::new(input).expect("its header");
        let error = loop {
            match reader.read_event() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("generation {generation}: the broken trace was accepted"),
                Err(error) => break reader.get_ref().explain(error),
            }
        };
        let shown = error.to_string();
        // Lines count from 1.
        let expected = format!("event at line {}: {wrong})", event + 1);
        assert!(
            shown.ends_with(&expected),
            "generation {generation}: {shown}"
        );
        assert!(
            shown.contains(&format!("generation {generation}")),
            "{shown}"
        );
    }
}
