//! Mutations of the parts of the format that came after Go 1.22: the `EndOfGeneration` marker
//! (Go 1.26), the `Sync` batch and its `ClockSnapshot` (Go 1.25; a `Frequency`-led batch before),
//! `GoStatusStack` (Go 1.23), experimental events and `ExperimentalBatch`es, plus the string and
//! stack tables and generation numbers that real Go traces lean on. Each is a mistake a newer
//! tracer could make, so the validator's newer rules meet Go's on it.

use gotrace_decoder::raw::Event;
use gotrace_wire::{spec, EventType, Version};

use super::{mutate, named_args, other_value, Batch, Mutant, Trace};
use crate::rng::Rng;

/// One mutant of a trace of any version: half of the time one of the general mutations of
/// [`mutate`], otherwise one aimed at a part of the format newer than Go 1.22. `None` when the
/// chosen mutation does not apply to `trace`.
pub fn mutate_versioned(trace: &Trace, rng: &mut Rng) -> Option<Mutant> {
    if rng.below(2) == 0 {
        return mutate(trace, rng);
    }
    let mut t = trace.clone();
    let description = match rng.below(13) {
        0 => end_of_generation(&mut t, rng)?,
        12 => {
            // Cut between two units: at a generation's end the rest is a shorter valid trace,
            // anywhere else Go 1.26 must report the generation incomplete.
            let keep = rng.below(t.batches.len());
            t.batches.truncate(keep);
            format!("trace cut after {keep} batches")
        }
        1 | 2 => sync_batch(&mut t, rng)?,
        3 => sync_event(&mut t, rng)?,
        4 => status_stack(&mut t, rng)?,
        5 | 6 => experimental_event(&mut t, rng)?,
        7 => experimental_batch(&mut t, rng)?,
        8 | 9 => table_entry(&mut t, rng)?,
        _ => other_generation(&mut t, rng)?,
    };
    Some(Mutant {
        description,
        binary: t.encode(),
    })
}

/// Indices of the batches for which `keep` holds.
fn batches_where(t: &Trace, keep: impl Fn(&Batch) -> bool) -> Vec<usize> {
    (0..t.batches.len())
        .filter(|&b| keep(&t.batches[b]))
        .collect()
}

/// Go's test for the batch that opens a generation's clock information.
fn is_sync_batch(version: Version, batch: &Batch) -> bool {
    let first = if version.minor() >= 25 {
        EventType::SYNC
    } else {
        EventType::FREQUENCY
    };
    batch.is_event_batch() && batch.first_type() == Some(first)
}

/// One of the sync batches, if there are any.
fn pick_sync_batch(t: &Trace, rng: &mut Rng) -> Option<usize> {
    let syncs = batches_where(t, |b| is_sync_batch(t.version, b));
    (!syncs.is_empty()).then(|| *rng.pick(&syncs))
}

/// Batch `b` (a `what`) dropped, duplicated, or moved to a random position.
fn relocate_batch(t: &mut Trace, b: usize, what: &str, rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => {
            t.batches.remove(b);
            format!("{what} at batch {b} dropped")
        }
        1 => {
            t.batches.insert(b, t.batches[b].clone());
            format!("{what} at batch {b} duplicated")
        }
        _ => {
            let batch = t.batches.remove(b);
            let to = rng.below(t.batches.len() + 1);
            t.batches.insert(to, batch);
            format!("{what} at batch {b} moved to {to}")
        }
    }
}

/// `EndOfGeneration` dropped, duplicated, moved, or added where a generation does not end.
fn end_of_generation(t: &mut Trace, rng: &mut Rng) -> Option<String> {
    if !t.version.defines(EventType::END_OF_GENERATION) {
        return None;
    }
    let marker = Event {
        version: t.version,
        typ: EventType::END_OF_GENERATION,
        args: Vec::new(),
        data: Vec::new(),
    };
    let ends = batches_where(t, |b| b.header.typ == EventType::END_OF_GENERATION);
    if rng.below(4) == 0 || ends.is_empty() {
        let at = rng.below(t.batches.len() + 1);
        t.batches.insert(
            at,
            Batch {
                header: marker,
                events: Vec::new(),
            },
        );
        return Some(format!("EndOfGeneration inserted at batch {at}"));
    }
    let b = *rng.pick(&ends);
    Some(relocate_batch(t, b, "EndOfGeneration", rng))
}

/// A whole `Sync` batch dropped, duplicated, moved, or its header's thread set to a real M.
fn sync_batch(t: &mut Trace, rng: &mut Rng) -> Option<String> {
    let b = pick_sync_batch(t, rng)?;
    if rng.below(4) > 0 {
        return Some(relocate_batch(t, b, "sync batch", rng));
    }
    let m = rng.below(3) as u64;
    t.batches[b].header.args[1] = m;
    Some(format!("sync batch {b} header m -> {m}"))
}

/// Inside a sync batch: an argument of `Frequency`/`ClockSnapshot` altered, an event dropped or
/// duplicated, or two swapped.
fn sync_event(t: &mut Trace, rng: &mut Rng) -> Option<String> {
    let b = pick_sync_batch(t, rng)?;
    let events = &mut t.batches[b].events;
    let e = rng.below(events.len());
    let name = events[e].name();
    Some(match rng.below(4) {
        0 | 1 => {
            let args = named_args(&events[e]);
            if args.is_empty() {
                return None;
            }
            let &(i, arg) = rng.pick(&args);
            let old = events[e].args[i];
            events[e].args[i] = other_value(old, rng);
            format!("sync batch {b} {name} {arg} {old} -> {}", events[e].args[i])
        }
        2 => {
            events.remove(e);
            format!("sync batch {b} {name} dropped")
        }
        _ => {
            let other = rng.below(events.len());
            if other == e {
                events.insert(e, events[e].clone());
                format!("sync batch {b} {name} duplicated")
            } else {
                events.swap(e, other);
                format!("sync batch {b} events {e} and {other} swapped")
            }
        }
    })
}

/// `GoStatusStack` turned into `GoStatus` or back, or its stack or status altered.
fn status_stack(t: &mut Trace, rng: &mut Rng) -> Option<String> {
    let statuses =
        t.positions(|e| matches!(e.typ, EventType::GO_STATUS | EventType::GO_STATUS_STACK));
    if statuses.is_empty() {
        return None;
    }
    let &(b, e) = rng.pick(&statuses);
    let event = &mut t.batches[b].events[e];
    let before = event.to_string();
    match rng.below(3) {
        0 if event.typ == EventType::GO_STATUS_STACK => {
            event.typ = EventType::GO_STATUS;
            event.args.pop();
        }
        0 if !t.version.defines(EventType::GO_STATUS_STACK) => return None,
        0 => {
            event.typ = EventType::GO_STATUS_STACK;
            event.args.push(rng.below(4) as u64);
        }
        1 => event.args[3] = rng.below(6) as u64,
        _ => {
            let last = event.args.len() - 1;
            event.args[last] = other_value(event.args[last], rng);
        }
    }
    Some(format!("batch {b} event {e}: {before} -> {event}"))
}

/// An experimental event (allocation, span and stack events of `traceallocfree`) dropped,
/// duplicated, an argument altered, or its type changed to an undefined experimental one.
fn experimental_event(t: &mut Trace, rng: &mut Rng) -> Option<String> {
    let found = t.positions(|e| e.typ.is_experimental());
    if found.is_empty() {
        return None;
    }
    let &(b, e) = rng.pick(&found);
    let events = &mut t.batches[b].events;
    let before = events[e].to_string();
    if rng.below(2) == 0 {
        let how = drop_or_duplicate(events, e, rng);
        return Some(format!("batch {b} event {e} {how}: {before}"));
    }
    Some(match rng.below(2) {
        0 => {
            let args = named_args(&events[e]);
            if args.is_empty() {
                return None;
            }
            let &(i, _) = rng.pick(&args);
            events[e].args[i] = other_value(events[e].args[i], rng);
            format!("batch {b} event {e}: {before} -> {}", events[e])
        }
        _ => {
            // Another experimental event of this version, its arguments kept where they fit.
            let others: Vec<EventType> = (EventType::MAX_EVENT.0 + 1
                ..EventType::MAX_EXPERIMENTAL_EVENT.0)
                .map(EventType)
                .filter(|&typ| typ != events[e].typ)
                .filter(|&typ| spec(t.version, typ).is_some_and(|s| !s.is_stack && !s.has_data))
                .collect();
            if others.is_empty() {
                return None;
            }
            let typ = *rng.pick(&others);
            let event = &mut events[e];
            event.typ = typ;
            event
                .args
                .resize(spec(t.version, typ).map_or(0, |s| s.args.len()), 0);
            format!("batch {b} event {e}: {before} -> {event}")
        }
    })
}

/// An `ExperimentalBatch` dropped, duplicated or moved, its experiment number altered, or its
/// payload cut.
fn experimental_batch(t: &mut Trace, rng: &mut Rng) -> Option<String> {
    let found = batches_where(t, |b| b.header.typ == EventType::EXPERIMENTAL_BATCH);
    if found.is_empty() {
        return None;
    }
    let b = *rng.pick(&found);
    if rng.below(2) == 0 {
        return Some(relocate_batch(t, b, "experimental batch", rng));
    }
    let header = &mut t.batches[b].header;
    if rng.below(2) == 0 {
        let old = header.args[0];
        header.args[0] = other_value(old, rng);
        return Some(format!(
            "experimental batch {b} exp {old} -> {}",
            header.args[0]
        ));
    }
    let len = rng.below(header.data.len() + 1);
    header.data.truncate(len);
    Some(format!("experimental batch {b} payload cut to {len} bytes"))
}

/// A `String` or `Stack` table entry dropped, duplicated, or given another ID.
fn table_entry(t: &mut Trace, rng: &mut Rng) -> Option<String> {
    let found = t.positions(|e| matches!(e.typ, EventType::STRING | EventType::STACK));
    if found.is_empty() {
        return None;
    }
    let &(b, e) = rng.pick(&found);
    let events = &mut t.batches[b].events;
    let name = events[e].name();
    let id = events[e].args[0];
    if rng.below(3) < 2 {
        let how = drop_or_duplicate(events, e, rng);
        return Some(format!("batch {b} {name} id={id} {how}"));
    }
    events[e].args[0] = other_value(id, rng);
    Some(format!("batch {b} {name} id {id} -> {}", events[e].args[0]))
}

/// Event `e` of `events` dropped or duplicated in place; says which.
fn drop_or_duplicate(events: &mut Vec<Event>, e: usize, rng: &mut Rng) -> &'static str {
    if rng.below(2) == 0 {
        events.remove(e);
        "dropped"
    } else {
        events.insert(e, events[e].clone());
        "duplicated"
    }
}

/// A batch of events relabelled into the previous or the next generation.
fn other_generation(t: &mut Trace, rng: &mut Rng) -> Option<String> {
    let found = batches_where(t, Batch::is_event_batch);
    if found.is_empty() {
        return None;
    }
    let b = *rng.pick(&found);
    let gen = &mut t.batches[b].header.args[0];
    let old = *gen;
    *gen = if rng.below(2) == 0 {
        old.saturating_sub(1)
    } else {
        old + 1
    };
    Some(format!("batch {b} moved from generation {old} to {}", *gen))
}
