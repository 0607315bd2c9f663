//! A deterministic property test of the trace channel's parser. Channels as the device writes
//! them (the scheduler's host simulation, its batches framed with loss and end records as the
//! firmware's sink frames them, lossless and lossy) are cut anywhere, split into any chunks and
//! mutated byte by byte. Whatever arrives: no panic; no more held than one item; an error names
//! the offset where reading stopped; every byte before it is in a segment or accounted for
//! (discarded, a record, cut off); the generations kept and those reported lost leave no gap
//! between them; and what the device could have written gives the segments it should, which the
//! decoder accepts, with their stack frames named too.

use std::io::Cursor;

use gotrace_scheduler::sim::driver::{self, Options};
use gotrace_scheduler::Config;
use gotrace_tests::rng::Rng;

use super::tests::{end, loss};
use super::*;
use crate::record::elf::{Functions, Lines};
use crate::symbolize::symbolize;

/// The most the parser may hold of an item that has not all come: a batch's type byte, its
/// header's four varints and the largest batch.
const MAX_ITEM: usize = 1 + 4 * varint::MAX_LEN + MAX_BATCH_SIZE as usize;

/// A channel the device could write, and what reading it must give.
pub(in crate::record) struct Channel {
    pub bytes: Vec<u8>,
    /// The segments' generations, first and last.
    segments: Vec<(u64, u64)>,
    lost: Vec<(u64, u64)>,
    /// What the device dropped (batches, bytes): its loss records' sum.
    dropped: (u64, u64),
    /// The batches of lost generations that were written before the device dropped the rest
    /// (batches, bytes): the host must discard them, and say so.
    discarded: (u64, u64),
}

/// What reading a channel gave.
struct Read {
    error: Option<String>,
    segments: Vec<Segment>,
    /// Each segment's file as the device wrote it, from the complete generations handed on.
    traces: Vec<Vec<u8>>,
    losses: LossAccount,
}

/// Traces of the device's encoder: one tracing session of the simulated firmware per seed.
pub(in crate::record) fn device_traces() -> Vec<Vec<u8>> {
    // Generations of a few hundred bytes: about ten batches each, 24 to 33 a trace.
    let options = Options {
        steps: 200,
        trace_control: false,
        generations: Some(Config {
            generation_ticks: 0,
            generation_bytes: 400,
        }),
        ..Options::STRESS
    };
    (1..=6)
        .map(|seed| driver::run(seed, &options).traces.swap_remove(0))
        .collect()
}

/// A trace's batches, whole, each with its generation.
pub(in crate::record) fn batches(trace: &[u8]) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    while at < trace.len() {
        let mut to = at + 1;
        let mut fields = [0; 4];
        for field in &mut fields {
            let (value, n) = varint::decode(&trace[to..]).expect("the encoder's varints");
            *field = value;
            to += n;
        }
        to += fields[3] as usize;
        out.push((fields[0], &trace[at..to]));
        at = to;
    }
    out
}

/// The channel of `trace`'s batches, lossless, or lossy with `lost`: generations `first..=last`
/// lost, of which the first `kept` batches of `first` made it before the device dropped the rest.
/// The loss record goes before the next batch written, the end record last, as the sink writes
/// them.
pub(in crate::record) fn channel(
    batches: &[(u64, &[u8])],
    lost: Option<(u64, u64, usize)>,
) -> Channel {
    let mut bytes = Version::Go122.header().to_vec();
    let mut dropped = (0u32, 0u32);
    let mut discarded = (0, 0);
    let mut pending = None;
    let mut seen_of_first = 0;
    for &(generation, batch) in batches {
        if let Some((first, last, kept)) = lost {
            let of_first = generation == first;
            seen_of_first += usize::from(of_first);
            if (first..=last).contains(&generation) {
                if of_first && seen_of_first <= kept {
                    discarded = (discarded.0 + 1, discarded.1 + batch.len() as u64);
                } else {
                    dropped = (dropped.0 + 1, dropped.1 + batch.len() as u32);
                    pending = Some((first, last));
                    continue;
                }
            }
        }
        if let Some((first, last)) = pending.take() {
            bytes.extend(loss(first, last, dropped.0, dropped.1));
        }
        bytes.extend_from_slice(batch);
    }
    if let Some((first, last)) = pending {
        bytes.extend(loss(first, last, dropped.0, dropped.1));
    }
    let total = batches.iter().map(|(_, b)| b.len() as u32).sum();
    bytes.extend(end(batches.len() as u32, total, dropped.0, dropped.1));
    let (first, last) = (batches[0].0, batches[batches.len() - 1].0);
    let (segments, lost) = match lost {
        None => (vec![(first, last)], Vec::new()),
        Some((a, b, _)) => {
            let kept = [(first, a - 1), (b + 1, last)];
            let segments = kept.into_iter().filter(|(x, y)| x <= y).collect();
            (segments, vec![(a, b)])
        }
    };
    Channel {
        bytes,
        segments,
        lost,
        dropped: (dropped.0.into(), dropped.1.into()),
        discarded,
    }
}

/// Reads `bytes` in chunks of random sizes (a mix of tiny and large, as polls bring them) and
/// checks what holds for any input.
fn read(bytes: &[u8], rng: &mut Rng) -> Read {
    let mut stream = TraceStream::default();
    let mut error = None;
    let mut traces: Vec<Vec<u8>> = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() && error.is_none() {
        let most = *rng.pick(&[1, 7, 64, 4096, rest.len()]);
        let (chunk, after) = rest.split_at(1 + rng.below(most.min(rest.len())));
        match stream.push(chunk) {
            Ok(()) => assert!(stream.pending.len() <= MAX_ITEM, "{}", stream.pending.len()),
            Err(e) => error = Some(e.to_string()),
        }
        // What was complete before an error too.
        for complete in stream.take_complete() {
            if complete.segment == traces.len() {
                traces.push(Version::Go122.header().to_vec());
            }
            assert_eq!(complete.segment + 1, traces.len(), "segments in order");
            traces[complete.segment].extend(complete.generation.bytes);
        }
        rest = after;
    }
    let consumed = stream.offset;
    let received = stream.received();
    let header = if stream.header_seen { HEADER_LEN } else { 0 };
    let (segments, losses, end) = stream.finish();
    match &error {
        // Reading stopped exactly where the error says, and nothing before it went unsaid.
        Some(e) => assert!(
            e.starts_with(&format!("trace channel offset {consumed}: ")),
            "{e}"
        ),
        None => assert_eq!(
            losses.unfinished,
            (received > consumed).then_some((consumed, received - consumed))
        ),
    }
    assert_eq!(
        losses.unfinished.is_some(),
        error.is_none() && received > consumed
    );
    let records = losses.records.iter().filter(|r| r.batches > 0).count();
    let accounted = header as u64
        + segments.iter().map(|s| s.bytes).sum::<u64>()
        + losses.discarded_bytes
        + (records * (1 + LossRecord::LEN)) as u64
        + end.map_or(0, |_| 1 + EndRecord::LEN as u64);
    assert_eq!(
        accounted, consumed,
        "every byte read is kept or accounted for"
    );
    // Kept and lost generations, in order, follow on without a gap or an overlap.
    let mut spans: Vec<(u64, u64)> = segments
        .iter()
        .map(|s| (s.first_generation, s.last_generation))
        .chain(losses.lost_generations())
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert_eq!(pair[1].0, pair[0].1 + 1, "gap or overlap: {spans:?}");
    }
    assert_eq!(traces.len(), segments.len());
    for (trace, segment) in traces.iter().zip(&segments) {
        assert_eq!((trace.len() - HEADER_LEN) as u64, segment.bytes);
    }
    Read {
        error,
        segments,
        traces,
        losses,
    }
}

/// Reads channel `c` whole, in random chunks: no error, and exactly its segments and its
/// losses: the loss reported is what the device dropped, and what of the lost generations
/// arrived is discarded and counted; nothing unfinished or cut short.
fn read_whole(c: &Channel, rng: &mut Rng) -> Read {
    let whole = read(&c.bytes, rng);
    assert_eq!(whole.error, None, "{:?}", c.bytes);
    assert_eq!(spans(&whole.segments), c.segments);
    let losses = &whole.losses;
    assert_eq!(losses.lost_generations(), c.lost);
    let reported = (
        losses.device_dropped_batches(),
        losses.device_dropped_bytes(),
    );
    assert_eq!(reported, c.dropped);
    let discarded = (losses.discarded_batches, losses.discarded_bytes);
    assert_eq!(discarded, c.discarded);
    assert_eq!((losses.unfinished, losses.cut_short), (None, None));
    whole
}

/// The decoder's verdict on a segment's trace, as `record` writes it (its stack frames named
/// first): its events, or its error. What naming does to a segment the decoder accepts, it
/// accepts too, with the same events; on any other it must not panic. Naming may refuse a
/// segment the decoder accepts: a mutant can hold an event that Go's parser takes in a 1.22
/// trace and its wire form (`-d=wire`, which naming reads with) does not, such as an
/// experimental event (`record` then writes the rest of the segment unnamed).
fn decode(device: &[u8]) -> Result<u64, String> {
    let (verdict, named) = decode_and_name(device);
    if let (Ok(device_events), Ok(named)) = (&verdict, named) {
        assert_eq!(events(&named).as_ref(), Ok(device_events));
    }
    verdict
}

/// A segment of what the device wrote, unmutated: valid, named whole, and read the same named.
fn decode_valid(device: &[u8]) {
    let (verdict, named) = decode_and_name(device);
    let device_events = verdict.expect("a segment of what the device wrote");
    let named = named.expect("naming a segment of what the device wrote");
    assert_eq!(events(&named), Ok(device_events));
}

/// The decoder's verdict on a segment, and the segment with its stack frames named.
fn decode_and_name(device: &[u8]) -> (Result<u64, String>, anyhow::Result<Vec<u8>>) {
    // Every PC in one function with one line: every frame gets named.
    let functions = Functions::new([(0, u64::MAX, "f".to_owned())]);
    let lines = Lines::new(vec![(0, Some((0, 1)))], vec!["f.rs".to_owned()]);
    let named = symbolize(device, &functions, &lines).map(|named| named.trace);
    (events(device), named)
}

/// The events the decoder reads from a trace, or its error.
pub(in crate::record) fn events(trace: &[u8]) -> Result<u64, String> {
    let mut reader = gotrace_decoder::Reader::new(Cursor::new(trace)).map_err(|e| e.to_string())?;
    let mut events = 0;
    while reader.read_event().map_err(|e| e.to_string())?.is_some() {
        events += 1;
    }
    Ok(events)
}

fn spans(segments: &[Segment]) -> Vec<(u64, u64)> {
    segments
        .iter()
        .map(|s| (s.first_generation, s.last_generation))
        .collect()
}

/// One to three byte-level mutations, of the kinds a fuzzer tries first, biased to the bytes
/// that mean something on this channel (batch type, record markers, varint continuation): each
/// replaces a range of the bytes with others.
pub(in crate::record) fn mutate(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = bytes.to_vec();
    for _ in 0..1 + rng.below(3) {
        if data.is_empty() {
            break;
        }
        let at = rng.below(data.len());
        let span = |rng: &mut Rng, most: usize| at..(at + 1 + rng.below(most)).min(data.len());
        let (range, with): (std::ops::Range<usize>, Vec<u8>) = match rng.below(6) {
            0 => (at..at + 1, vec![data[at] ^ 1 << rng.below(8)]),
            1 => (
                at..at + 1,
                vec![*rng.pick(&[0x00, 0x01, 0x7f, 0x80, LOSS_MARKER, END_MARKER])],
            ),
            2 => (span(rng, 32), Vec::new()),
            3 => (
                at..at,
                (0..1 + rng.below(12))
                    .map(|_| rng.next_u64() as u8)
                    .collect(),
            ),
            4 => {
                let to = rng.below(data.len());
                (to..to, data[span(rng, 64)].to_vec())
            }
            _ => (at..data.len(), Vec::new()),
        };
        data.splice(range, with);
    }
    data
}

/// Each device trace's channel, lossless, and three lossy: one to three generations lost from
/// a random one, of whose batches a random number made it before the device dropped the rest.
fn device_channels(rng: &mut Rng) -> Vec<Channel> {
    let mut channels = Vec::new();
    for trace in &device_traces() {
        let batches = batches(trace);
        let (first, last) = (batches[0].0, batches[batches.len() - 1].0);
        assert!(last > first + 2, "the simulation gives several generations");
        channels.push(channel(&batches, None));
        for _ in 0..3 {
            let lost = first + rng.below((last - first + 1) as usize) as u64;
            let until = (lost + rng.below(3) as u64).min(last);
            let of_lost = batches.iter().filter(|(g, _)| *g == lost).count();
            channels.push(channel(&batches, Some((lost, until, rng.below(of_lost)))));
        }
    }
    channels
}

/// Mutants read per run.
const MUTANTS: usize = 4000;

#[test]
fn device_channels_cut_chunked_or_mutated_are_read_or_refused_with_nothing_unreported() {
    let mut rng = Rng::new(0x7ace);
    let channels = device_channels(&mut rng);
    for c in &channels {
        // Whole: exactly the segments and losses the device's account gives, all valid.
        let whole = read_whole(c, &mut rng);
        for trace in &whole.traces {
            decode_valid(trace);
        }
        // Cut anywhere (the session stopped): still no error, and what is kept is valid.
        for _ in 0..20 {
            let cut = read(&c.bytes[..rng.below(c.bytes.len() + 1)], &mut rng);
            assert_eq!(cut.error, None);
            for trace in &cut.traces {
                decode_valid(trace);
            }
        }
    }
    // Mutated: read or refused, as `read` checks; the decoder judges what is kept, without
    // panicking.
    let (mut refused, mut invalid) = (0, 0);
    for _ in 0..MUTANTS {
        let c = rng.pick(&channels);
        let read = read(&mutate(&c.bytes, &mut rng), &mut rng);
        refused += usize::from(read.error.is_some());
        invalid += usize::from(read.traces.iter().any(|t| decode(t).is_err()));
    }
    // Both ways of refusing are exercised: the parser's (framing, records) and the decoder's
    // (what a batch holds, which only it can judge).
    eprintln!("{refused} of {MUTANTS} refused by the parser, {invalid} by the decoder");
    assert!(
        (MUTANTS / 10..MUTANTS * 9 / 10).contains(&refused),
        "{refused} of {MUTANTS} refused"
    );
    assert!(invalid > MUTANTS / 20, "{invalid} of {MUTANTS} invalid");
}

/// Everything reading a channel gives that the rest of `record` sees: for comparing chunkings.
#[derive(Debug, PartialEq)]
struct Outcome {
    error: Option<String>,
    /// The complete generations handed on, each with its segment, in order.
    complete: Vec<(usize, Generation)>,
    segments: Vec<Segment>,
    losses: LossAccount,
    end: Option<EndRecord>,
    /// Batches, events, complete generations and bytes received (without an error), as the
    /// progress line and the summary show them.
    counts: [u64; 4],
}

/// Reads `bytes` in the chunks `sizes` gives (each at most what is left; empty chunks too), as
/// `record` does: until the end or the first error.
fn outcome(bytes: &[u8], mut sizes: impl FnMut(usize) -> usize) -> Outcome {
    let mut stream = TraceStream::default();
    let mut complete = Vec::new();
    let mut error = None;
    let mut rest = bytes;
    while !rest.is_empty() && error.is_none() {
        let (chunk, after) = rest.split_at(sizes(rest.len()));
        error = stream.push(chunk).err().map(|e| e.to_string());
        complete.extend(stream.take_complete().map(|c| (c.segment, c.generation)));
        rest = after;
    }
    // After an error, what was received depends on how much of the rest its push brought:
    // the error's offset says where reading stopped.
    let received = if error.is_none() {
        stream.received()
    } else {
        0
    };
    let counts = [
        stream.batches,
        stream.events,
        stream.complete_generations,
        received,
    ];
    let (segments, losses, end) = stream.finish();
    Outcome {
        error,
        complete,
        segments,
        losses,
        end,
        counts,
    }
}

/// Random chunk sizes up to `left`: empty, single bytes, a few, and large, as polls bring them.
fn chunk(rng: &mut Rng, left: usize) -> usize {
    match rng.below(5) {
        0 => 0,
        1 => 1.min(left),
        2 => rng.below(left.min(16) + 1),
        3 => rng.below(left.min(4096) + 1),
        _ => rng.below(left + 1),
    }
}

/// Mutants compared per run, each in three chunkings.
const CHUNKED_MUTANTS: usize = 1500;

#[test]
fn any_chunking_of_the_same_bytes_reads_the_same_as_one_push() {
    let mut rng = Rng::new(0xc4ab);
    let channels: Vec<Vec<u8>> = device_channels(&mut rng)
        .into_iter()
        .map(|c| c.bytes)
        .collect();
    let compare = |bytes: &[u8], rng: &mut Rng| {
        let whole = outcome(bytes, |left| left);
        let chunked = outcome(bytes, |left| chunk(rng, left));
        assert_eq!(chunked, whole, "one push against random chunks");
        whole.error.is_some()
    };
    // Valid channels, whole, byte by byte and in random chunks, and cut anywhere.
    for bytes in &channels {
        assert!(!compare(bytes, &mut rng));
        assert_eq!(outcome(bytes, |_| 1), outcome(bytes, |left| left));
        for _ in 0..10 {
            let cut = rng.below(bytes.len() + 1);
            assert!(!compare(&bytes[..cut], &mut rng));
        }
    }
    // Mutants: the same error at the same offset, and the same up to it, in any chunks.
    let mut refused = 0;
    for _ in 0..CHUNKED_MUTANTS {
        let bytes: &Vec<u8> = rng.pick(&channels);
        let mutant = mutate(bytes, &mut rng);
        for _ in 0..3 {
            refused += usize::from(compare(&mutant, &mut rng));
        }
    }
    eprintln!(
        "{refused} of {} chunked mutants refused",
        3 * CHUNKED_MUTANTS
    );
    assert!(refused > CHUNKED_MUTANTS / 2, "both outcomes exercised");
}

#[test]
fn absurd_sizes_and_ranges_are_refused_or_held_without_allocating_for_them() {
    let header = Version::Go122.header().to_vec();
    // A batch header claiming more than the largest batch (4 GiB, the largest varint): refused
    // as soon as its header is in, whatever follows.
    let claim = |size: u64| {
        let mut bytes = header.clone();
        bytes.extend([EventType::EVENT_BATCH.0, 1, 0, 5]);
        let mut varint = [0; varint::MAX_LEN];
        let n = varint::encode(size, &mut varint);
        bytes.extend_from_slice(&varint[..n]);
        bytes
    };
    for size in [MAX_BATCH_SIZE + 1, 1 << 32, u64::MAX] {
        let mut stream = TraceStream::default();
        let error = stream.push(&claim(size)).unwrap_err().to_string();
        assert!(
            error.starts_with("trace channel offset 16: bad batch header"),
            "{error}"
        );
        assert!(stream.held_bytes() <= MAX_ITEM, "{}", stream.held_bytes());
    }
    // The largest batch claimed, its bytes coming in pieces: what is held is what came, no
    // more, until the last byte completes it.
    let mut stream = TraceStream::default();
    let largest = claim(MAX_BATCH_SIZE);
    stream.push(&largest).unwrap();
    let mut came = largest.len() - HEADER_LEN;
    let whole = came + MAX_BATCH_SIZE as usize;
    while came < whole - 1 {
        let piece = (whole - 1 - came).min(1000);
        stream.push(&vec![0; piece]).unwrap();
        came += piece;
        assert_eq!(stream.held_bytes(), came);
        assert!(stream.pending.capacity() <= 2 * MAX_ITEM);
    }
    let (_, losses, _) = stream.finish();
    assert_eq!(losses.unfinished, Some((HEADER_LEN as u64, came as u64)));
    // A varint longer than any: refused, not waited for.
    let mut stream = TraceStream::default();
    let mut overlong = header.clone();
    overlong.extend([EventType::EVENT_BATCH.0]);
    overlong.extend([0x80; varint::MAX_LEN + 1]);
    assert!(stream.push(&overlong).is_err());
    // A loss of generations 1 to 2^64-1 is one range, listed as such; nothing can follow it.
    let mut stream = TraceStream::default();
    stream
        .push(&[header.as_slice(), &loss(1, u64::MAX, u32::MAX, u32::MAX)].concat())
        .unwrap();
    assert!(stream.push(&super::tests::batch(2)).is_err());
    let (_, losses, _) = stream.finish();
    assert_eq!(losses.lost_generations(), [(1, u64::MAX)]);
    assert_eq!(losses.device_dropped_bytes(), u64::from(u32::MAX));
}

/// A batch of generation `generation` with `events` timed events: batches of many sizes, so
/// that counting batches for bytes (or bytes for batches) shows.
fn sized_batch(generation: u64, events: usize) -> Vec<u8> {
    let body = [EventType::PROC_START.0, 1, 0, 1].repeat(events);
    let mut out = vec![EventType::EVENT_BATCH.0];
    for field in [generation, 0, 5, body.len() as u64] {
        let mut varint = [0; varint::MAX_LEN];
        let n = varint::encode(field, &mut varint);
        out.extend_from_slice(&varint[..n]);
    }
    out.extend(body);
    out
}

/// A channel a device could write, made item by item: generations of one to four batches from
/// a random first one; each lost with a chance of 1 in 12, the device dropping it from a random batch
/// on (what came before arrives) along with up to two of the generations after it, then
/// writing one loss record of them, or two when the range splits; the end record with the
/// device's counts.
pub(in crate::record) fn modelled_channel(rng: &mut Rng) -> Channel {
    let mut bytes = Version::Go122.header().to_vec();
    let (mut produced, mut dropped, mut discarded) = ((0u64, 0u64), (0u64, 0u64), (0, 0));
    let (mut segments, mut lost) = (Vec::<(u64, u64)>::new(), Vec::<(u64, u64)>::new());
    let first = 1 + rng.below(300) as u64;
    let mut generation = first;
    let last = first + rng.below(12) as u64;
    let batches_of = |rng: &mut Rng, g: u64| -> Vec<Vec<u8>> {
        (0..1 + rng.below(4))
            .map(|_| sized_batch(g, 1 + rng.below(20)))
            .collect()
    };
    while generation <= last {
        let batches = batches_of(rng, generation);
        produced = add(produced, &batches);
        if rng.below(12) > 0 {
            bytes.extend(batches.concat());
            match segments.last_mut() {
                Some((_, end)) if *end + 1 == generation => *end = generation,
                _ => segments.push((generation, generation)),
            }
            generation += 1;
            continue;
        }
        // Lost: the batches before `kept` arrived; the rest, and whole generations after.
        let kept = rng.below(batches.len());
        bytes.extend(batches[..kept].concat());
        discarded = add(discarded, &batches[..kept]);
        let until = (generation + rng.below(3) as u64).min(last);
        let mut records = vec![(generation, until, add((0, 0), &batches[kept..]))];
        for g in generation + 1..=until {
            let whole = batches_of(rng, g);
            produced = add(produced, &whole);
            // A record of its own when the device wrote one in between (it could not be
            // written either), if the range has room to split.
            if rng.below(2) == 0 {
                records.push((g, until, (0, 0)));
            }
            let (_, _, count) = records.last_mut().expect("one record at least");
            *count = add(*count, &whole);
            if let [.., before, (g_first, _, _)] = records.as_mut_slice() {
                before.1 = before.1.min(*g_first - 1);
            }
        }
        for (from, to, (n, size)) in records {
            bytes.extend(loss(from, to, n as u32, size as u32));
            dropped = (dropped.0 + n, dropped.1 + size);
        }
        match lost.last_mut() {
            Some((_, end)) if *end + 1 == generation => *end = until,
            _ => lost.push((generation, until)),
        }
        generation = until + 1;
    }
    bytes.extend(end(
        produced.0 as u32,
        produced.1 as u32,
        dropped.0 as u32,
        dropped.1 as u32,
    ));
    Channel {
        bytes,
        segments,
        lost,
        dropped,
        discarded,
    }
}

/// `count` with `batches` added: their number and bytes.
fn add(count: (u64, u64), batches: &[Vec<u8>]) -> (u64, u64) {
    let bytes: usize = batches.iter().map(Vec::len).sum();
    (count.0 + batches.len() as u64, count.1 + bytes as u64)
}

/// Channels modelled per run.
const MODELLED: usize = 20_000;

#[test]
fn modelled_channels_give_their_segments_and_exactly_their_losses_in_any_chunks() {
    let mut rng = Rng::new(0x10557);
    let mut lossy = 0;
    for _ in 0..MODELLED {
        let c = modelled_channel(&mut rng);
        lossy += usize::from(!c.lost.is_empty());
        read_whole(&c, &mut rng);
        let one_push = outcome(&c.bytes, |left| left);
        assert_eq!(outcome(&c.bytes, |left| chunk(&mut rng, left)), one_push);
        // Cut anywhere: read without an error, everything accounted for (`read` checks).
        let cut = read(&c.bytes[..rng.below(c.bytes.len() + 1)], &mut rng);
        assert_eq!(cut.error, None);
    }
    assert!((MODELLED / 4..MODELLED * 3 / 4).contains(&lossy), "{lossy}");
}
