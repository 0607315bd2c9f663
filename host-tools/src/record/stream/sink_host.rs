//! The device's real sink into the host's real parser. The property tests next door
//! (`property.rs`) frame the channel in the test, as the sink should; here the bytes come from
//! gotrace-rtt's own `RttSink` writing into its own ring (`gotrace_rtt::host`, the ring outside a
//! control block), fed the batches of the scheduler's host simulation (the device's encoder) as
//! the encoder hands them over, and the host drains the ring at random points, any amount, into a
//! `TraceStream` in any chunks. Issue 4's contract, over many interleavings: lossy, the device
//! never waits, what arrives parses, and the host reports exactly what was lost (the device's own
//! account); lossless with a draining host, nothing is lost and the trace arrives as produced;
//! overwriting, read once at the end, the newest generations arrive whole and every batch is
//! accounted for.

use std::thread;

use gotrace_rtt::host::{self, Host};
use gotrace_rtt::RttSink;
use gotrace_rtt_protocol::Backpressure;
use gotrace_scheduler::{Offer, Sink};
use gotrace_tests::rng::Rng;

use super::property::{batches, device_traces, events};
use super::*;

/// Interleavings tried, each a seed: a trace, a ring size, where and how much the host drains.
const SEEDS: u64 = 2000;

/// Room a lossy sink leaves for the records that close a trace and the next trace's header (the
/// sink's own `LOSSY_RESERVE`, private there): rings up to a few batches beyond it.
const RESERVE: usize = 1 + LossRecord::LEN + 1 + EndRecord::LEN + HEADER_LEN;

/// What one run gave: the segments' traces as the host would write them, and the stream's
/// account at the end.
struct Run {
    traces: Vec<Vec<u8>>,
    segments: Vec<Segment>,
    losses: LossAccount,
    end: Option<EndRecord>,
}

/// The host's side: what it drained, pushed into the stream in random chunks, the complete
/// generations gathered into one trace per segment.
struct Reader {
    stream: TraceStream,
    traces: Vec<Vec<u8>>,
}

impl Reader {
    fn new() -> Self {
        Reader {
            stream: TraceStream::default(),
            traces: Vec::new(),
        }
    }

    /// Pushes `bytes` in chunks of random sizes; the stream must take every one.
    fn push(&mut self, mut bytes: &[u8], rng: &mut Rng, seed: u64) {
        while !bytes.is_empty() {
            let most = *rng.pick(&[1, 7, 64, bytes.len()]);
            let (chunk, rest) = bytes.split_at(1 + rng.below(most.min(bytes.len())));
            if let Err(e) = self.stream.push(chunk) {
                panic!("seed {seed}: the stream refused what the sink wrote: {e}");
            }
            for complete in self.stream.take_complete() {
                if complete.segment == self.traces.len() {
                    self.traces.push(Version::Go122.header().to_vec());
                }
                assert_eq!(complete.segment + 1, self.traces.len(), "segments in order");
                self.traces[complete.segment].extend(complete.generation.bytes);
            }
            bytes = rest;
        }
    }

    /// Drains the ring: all of it, or a random part (as a probe reads), then pushes it.
    fn drain(&mut self, host: &Host, all: bool, rng: &mut Rng, seed: u64) {
        let limit = if all {
            usize::MAX
        } else {
            let any = 1 + rng.below(4096);
            *rng.pick(&[1, 7, 64, any, usize::MAX])
        };
        let bytes = host.read_at_most(limit);
        self.push(&bytes, rng, seed);
    }

    fn finish(self) -> Run {
        let (segments, losses, end) = self.stream.finish();
        Run {
            traces: self.traces,
            segments,
            losses,
            end,
        }
    }
}

/// Hands `batch` to the sink as the encoder does, a header and a payload, split anywhere (the
/// sink writes the two as one: where the split falls must not matter), offering it again while
/// the sink is full (lossless, until the host reads).
fn write_batch(sink: &mut RttSink, generation: u64, batch: &[u8], rng: &mut Rng) {
    let (header, payload) = batch.split_at(rng.below(batch.len() + 1));
    while sink.write_batch(generation, header, payload) == Offer::Full {
        thread::yield_now();
    }
}

/// The largest batch of the traces: the unit the ring sizes are measured in.
fn largest_batch(traces: &[Vec<u8>]) -> usize {
    traces
        .iter()
        .flat_map(|t| batches(t))
        .map(|(_, b)| b.len())
        .max()
        .expect("the simulation gives batches")
}

/// A sink writing into a new ring of `size` bytes as `backpressure` says, and the host's side
/// of that ring.
fn attached_sink(size: usize, backpressure: Backpressure) -> (RttSink, Host) {
    let (ring, host) = host::ring(size);
    let mut sink = RttSink::new();
    sink.attach(ring, backpressure);
    (sink, host)
}

/// Lossy: the sink writes a trace into a ring of `size` bytes while the host drains it at random
/// points (before each batch, with a chance of `drain_percent` in 100), then the host
/// drains the rest after the end record. Returns the run and the sink's own account.
fn lossy_run(
    trace: &[u8],
    size: usize,
    drain_percent: usize,
    rng: &mut Rng,
    seed: u64,
) -> (Run, EndRecord) {
    let (mut sink, host) = attached_sink(size, Backpressure::Lossy);
    let mut reader = Reader::new();
    sink.begin_trace(&trace[..HEADER_LEN]);
    for (generation, batch) in batches(trace) {
        if rng.below(100) < drain_percent {
            reader.drain(&host, false, rng, seed);
        }
        write_batch(&mut sink, generation, batch, rng);
    }
    sink.end_trace();
    reader.drain(&host, true, rng, seed);
    (reader.finish(), sink.account())
}

/// Each generation's batches, as the encoder produced them.
fn generations(trace: &[u8]) -> std::collections::BTreeMap<u64, Vec<u8>> {
    let mut out = std::collections::BTreeMap::<u64, Vec<u8>>::new();
    for (generation, batch) in batches(trace) {
        out.entry(generation).or_default().extend_from_slice(batch);
    }
    out
}

/// The generations of `run`'s segments and those its loss account names lost, as ranges in
/// order: together they must follow on without a gap.
fn kept_and_lost(run: &Run) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = run
        .segments
        .iter()
        .map(|s| (s.first_generation, s.last_generation))
        .chain(run.losses.lost_generations())
        .collect();
    spans.sort();
    spans
}

/// Checks that every segment of `run` is a trace Go's rules accept, of whole generations as the
/// encoder produced them (`originals`).
fn assert_whole_generations(
    run: &Run,
    originals: &std::collections::BTreeMap<u64, Vec<u8>>,
    context: &str,
) {
    assert_eq!(run.traces.len(), run.segments.len(), "{context}");
    for (file, segment) in run.traces.iter().zip(&run.segments) {
        if let Err(e) = events(file) {
            panic!("{context}: segment {segment:?} does not decode: {e}");
        }
        let expected: Vec<u8> = (segment.first_generation..=segment.last_generation)
            .flat_map(|g| originals[&g].iter().copied())
            .collect();
        assert!(file[HEADER_LEN..] == expected[..], "{context}: {segment:?}");
    }
}

/// Checks a lossy `run` of `trace` against the sink's own `account` (`context` says which run):
/// every segment is a valid trace of whole generations as the encoder produced them, the host's
/// loss account is the device's, every batch is kept, discarded or dropped, and kept and lost
/// generations cover the trace without a gap or an overlap. Returns the batches kept.
fn assert_exact_loss(run: &Run, trace: &[u8], account: EndRecord, context: &str) -> u64 {
    // The end record is the device's own account, whatever was dropped.
    assert_eq!(run.end, Some(account), "{context}");
    let end = account;
    let losses = &run.losses;
    let produced = batches(trace);
    let originals = generations(trace);
    assert_whole_generations(run, &originals, context);
    assert_eq!(
        (
            losses.device_dropped_batches(),
            losses.device_dropped_bytes()
        ),
        (end.dropped_batches.into(), end.dropped_bytes.into()),
        "{context}"
    );
    assert_eq!(
        (losses.unfinished, losses.cut_short),
        (None, None),
        "{context}"
    );
    let kept: (u64, u64) = run
        .segments
        .iter()
        .fold((0, 0), |(b, n), s| (b + s.batches, n + s.bytes));
    let total_bytes = produced.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
    assert_eq!(
        (u64::from(end.batches), u64::from(end.bytes)),
        (produced.len() as u64, total_bytes)
    );
    assert_eq!(
        (
            kept.0 + losses.discarded_batches + losses.device_dropped_batches(),
            kept.1 + losses.discarded_bytes + losses.device_dropped_bytes()
        ),
        (produced.len() as u64, total_bytes),
        "{context}: kept {kept:?}, discarded {}, dropped {}",
        losses.discarded_batches,
        losses.device_dropped_batches()
    );
    let spans = kept_and_lost(run);
    assert_eq!(spans.first().map(|s| s.0), originals.keys().next().copied());
    assert_eq!(spans.last().map(|s| s.1), originals.keys().last().copied());
    for pair in spans.windows(2) {
        assert_eq!(pair[1].0, pair[0].1 + 1, "{context}: {spans:?}");
    }
    kept.0
}

#[test]
fn the_lossy_sink_drained_anyhow_gives_valid_segments_and_exactly_its_loss() {
    let traces = device_traces();
    let largest = largest_batch(&traces);
    let (mut dropped_runs, mut dropped_batches, mut discarded_batches, mut kept_batches) =
        (0, 0, 0, 0);
    for seed in 1..=SEEDS {
        let mut rng = Rng::new(seed);
        let trace = &traces[rng.below(traces.len())];
        // From a little more than one batch (some never fit beside the reserve) to a few.
        let size = largest + 1 + rng.below(3 * largest + RESERVE);
        let drain_percent = *rng.pick(&[0, 10, 50, 90, 100]);
        let (run, account) = lossy_run(trace, size, drain_percent, &mut rng, seed);
        let context = format!("seed {seed}, ring {size}, drain {drain_percent}%");
        kept_batches += assert_exact_loss(&run, trace, account, &context);
        dropped_runs += u64::from(account.dropped_batches > 0);
        dropped_batches += u64::from(account.dropped_batches);
        discarded_batches += run.losses.discarded_batches;
    }
    println!(
        "{SEEDS} lossy runs ({dropped_runs} with loss): {kept_batches} batches kept, \
         {discarded_batches} discarded by the host, {dropped_batches} dropped by the device"
    );
    // The sizes and drains must make the sink drop in most runs, yet not in all: else this
    // tests one side only.
    assert!(dropped_runs > SEEDS / 2 && dropped_runs < SEEDS * 19 / 20);
    assert!(discarded_batches > 0);
}

#[test]
fn the_lossy_sink_read_while_it_writes_gives_valid_segments_and_exactly_its_loss() {
    // As a probe reads a running board (nothing halted, unlike QEMU's gdbstub): the host drains
    // on its own thread, any amount, while the sink copies batches and records into the ring
    // and moves its write offset; the host sees only what the offset published.
    let traces = device_traces();
    let largest = largest_batch(&traces);
    let (mut dropped_runs, mut kept_runs) = (0, 0);
    for seed in 1..=SEEDS {
        let mut rng = Rng::new(seed);
        let trace = traces[rng.below(traces.len())].clone();
        let size = largest + 1 + rng.below(3 * largest + RESERVE);
        let (run, account) = read_while_written(&trace, size, Backpressure::Lossy, &mut rng, seed);
        let context = format!("seed {seed}, ring {size}, read concurrently");
        let kept = assert_exact_loss(&run, &trace, account, &context);
        dropped_runs += u32::from(account.dropped_batches > 0);
        kept_runs += u32::from(kept > 0);
    }
    // The device outruns the host in some runs and not in all.
    assert!(
        dropped_runs > 0 && kept_runs > 0,
        "{dropped_runs} {kept_runs}"
    );
}

/// The sink writes `trace` into a ring of `size` bytes as `backpressure` says while the host,
/// on its own thread, drains it any amount at a time, in any chunks, until the end record has
/// come. Returns the run and the sink's own account.
fn read_while_written(
    trace: &[u8],
    size: usize,
    backpressure: Backpressure,
    rng: &mut Rng,
    seed: u64,
) -> (Run, EndRecord) {
    let (mut sink, host) = attached_sink(size, backpressure);
    let mut host_rng = Rng::new(seed ^ 0x5eed);
    let reader = thread::spawn(move || {
        let mut reader = Reader::new();
        while !reader.stream.ended() {
            reader.drain(&host, false, &mut host_rng, seed);
            thread::yield_now();
        }
        reader.finish()
    });
    sink.begin_trace(&trace[..HEADER_LEN]);
    for (generation, batch) in batches(trace) {
        write_batch(&mut sink, generation, batch, rng);
    }
    sink.end_trace();
    // The end record, written last, is where the host stops: it has read everything then.
    (reader.join().expect("the host's thread"), sink.account())
}

#[test]
fn the_lossless_sink_with_a_draining_host_loses_nothing() {
    let traces = device_traces();
    let largest = largest_batch(&traces);
    for seed in 1..=SEEDS / 10 {
        let mut rng = Rng::new(seed);
        let trace = traces[rng.below(traces.len())].clone();
        // From just the largest batch to a few: the sink waits for the host.
        let size = largest + 2 + rng.below(3 * largest);
        let (run, account) =
            read_while_written(&trace, size, Backpressure::Lossless, &mut rng, seed);
        let context = format!("seed {seed}, ring {size}");
        assert_eq!(run.traces, std::slice::from_ref(&trace), "{context}");
        assert_eq!(run.segments.len(), 1, "{context}");
        assert_eq!(run.segments[0].batches, batches(&trace).len() as u64);
        assert_eq!(run.end, Some(account), "{context}");
        assert_eq!((account.dropped_batches, account.dropped_bytes), (0, 0));
        assert_eq!(run.losses.records, [], "{context}");
        assert_eq!(run.losses.discarded_batches, 0, "{context}");
    }
}

#[test]
fn a_flight_recorders_channel_read_at_its_end_holds_its_newest_generations_whole() {
    // As `record --flight-recorder` reads it: nothing until the end record, then the channel
    // whole, the header put back where the sink overwrote it.
    let traces = device_traces();
    let largest = largest_batch(&traces);
    let (mut overwriting_runs, mut dropping_runs) = (0, 0);
    for seed in 1..=SEEDS / 4 {
        let mut rng = Rng::new(seed);
        let trace = &traces[rng.below(traces.len())];
        // From a little more than one batch (some never fit beside the reserve) to many.
        let size = largest + 1 + rng.below(8 * largest + RESERVE);
        let (mut sink, host) = attached_sink(size, Backpressure::Overwrite);
        sink.begin_trace(&trace[..HEADER_LEN]);
        for (generation, batch) in batches(trace) {
            write_batch(&mut sink, generation, batch, &mut rng);
        }
        sink.end_trace();
        let account = sink.account();
        let mut reader = Reader::new();
        reader.push(
            &super::super::flight::with_header(&host.peek()),
            &mut rng,
            seed,
        );
        let run = reader.finish();
        let context = format!("seed {seed}, ring {size}");
        assert_eq!(run.end, Some(account), "{context}");
        let originals = generations(trace);
        assert_whole_generations(&run, &originals, &context);
        // The loss records the host reads count the end record's drops, as the summary checks:
        // those of the records overwritten went to the overwritten counts.
        let losses = &run.losses;
        assert_eq!(
            (
                losses.device_dropped_batches(),
                losses.device_dropped_bytes()
            ),
            (account.dropped_batches.into(), account.dropped_bytes.into()),
            "{context}"
        );
        // Kept and lost generations follow on to the last one produced; those before the
        // first were overwritten.
        let spans = kept_and_lost(&run);
        assert_eq!(
            spans.last().map(|s| s.1),
            originals.keys().last().copied(),
            "{context}"
        );
        for pair in spans.windows(2) {
            assert_eq!(pair[1].0, pair[0].1 + 1, "{context}: {spans:?}");
        }
        // Every batch produced is kept, discarded by the host, dropped or overwritten.
        let produced = batches(trace);
        let total_bytes = produced.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
        let kept = run
            .segments
            .iter()
            .fold((0, 0), |(b, n), s| (b + s.batches, n + s.bytes));
        assert_eq!(
            (
                kept.0
                    + losses.discarded_batches
                    + u64::from(account.dropped_batches)
                    + u64::from(account.overwritten_batches),
                kept.1
                    + losses.discarded_bytes
                    + u64::from(account.dropped_bytes)
                    + u64::from(account.overwritten_bytes)
            ),
            (produced.len() as u64, total_bytes),
            "{context}"
        );
        overwriting_runs += u32::from(account.overwritten_batches > 0);
        dropping_runs += u32::from(account.dropped_batches > 0);
    }
    // The sizes must make the sink overwrite in most runs, and drop a generation larger than
    // the channel in some.
    assert!(
        overwriting_runs > SEEDS as u32 / 8 && dropping_runs > 0,
        "{overwriting_runs} {dropping_runs}"
    );
}
