//! The transport on the host: the ring's copy and wrap, and the sink's byte stream in every mode,
//! read back as `gotrace record` reads a ring (`ring::host`). What the device does with the same
//! code the end-to-end tests record under QEMU (`tests/tests/end_to_end_qemu/`).

extern crate std;

use std::vec::Vec;
use std::{format, thread, vec};

use gotrace_encoder::Sink;
use gotrace_encoder::{Clock, Config, Encoder, GoSlot, GoStatus, Offer, ProcStatus, Scheduling};
use gotrace_rtt_protocol::{Backpressure, EndRecord, LossRecord, END_MARKER, LOSS_MARKER};
use gotrace_wire::{varint, EventType, HEADER_LEN};

use crate::ring::{copy, host, Write};
use crate::RttSink;

/// `len` bytes that differ from their neighbours, starting at `seed`.
fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

fn loss(first_generation: u64, last_generation: u64, batches: u32, bytes: u32) -> Vec<u8> {
    let record = LossRecord {
        first_generation,
        last_generation,
        batches,
        bytes,
    };
    [&[LOSS_MARKER][..], &record.to_bytes()].concat()
}

fn end(record: EndRecord) -> Vec<u8> {
    [&[END_MARKER][..], &record.to_bytes()].concat()
}

#[test]
fn the_copy_is_exact_at_every_alignment_and_length() {
    let src = bytes(1, 200);
    for from in 0..4 {
        for to in 0..4 {
            for len in 0..100 {
                let mut dst = vec![0u8; 110];
                // SAFETY: `len` bytes from `from` and to `to` are inside both vectors.
                unsafe { copy(dst.as_mut_ptr().add(to), src.as_ptr().add(from), len) };
                assert_eq!(
                    &dst[to..to + len],
                    &src[from..from + len],
                    "{from} {to} {len}"
                );
                assert!(dst[..to].iter().chain(&dst[to + len..]).all(|&b| b == 0));
            }
        }
    }
}

#[test]
fn the_ring_writes_two_parts_whole_across_the_wrap_or_nothing() {
    let (mut ring, host) = host::ring(64);
    host.reset_to(50);
    // Else the parts are written from 0, and no wrap is tested.
    assert_eq!(host.write_offset(), 50, "the ring starts at offset 50");
    let (first, second) = (bytes(10, 10), bytes(100, 20));
    assert_eq!(ring.write(&first, &second, 0), Write::Done);
    assert_eq!(host.write_offset(), 16, "the second part wrapped");
    assert_eq!(host.read(), [first.clone(), second].concat());
    // As long as the ring (one byte always stays free): never, whatever the host reads.
    assert_eq!(ring.write(&bytes(0, 60), &bytes(0, 4), 0), Write::Never);
    // 63 bytes of room: 40 fit, then 23 are left, which 24 do not fit and nothing is written.
    assert_eq!(ring.write(&bytes(1, 40), &[], 0), Write::Done);
    assert_eq!(ring.write(&bytes(2, 20), &bytes(3, 4), 0), Write::Full);
    // Room to keep free counts as taken.
    assert_eq!(ring.write(&bytes(2, 20), &[], 4), Write::Full);
    assert_eq!(ring.write(&bytes(2, 20), &[], 3), Write::Done);
    assert_eq!(host.read(), [bytes(1, 40), bytes(2, 20)].concat());
    let watch = ring.watch();
    assert!(watch.is_drained());
    assert_eq!(ring.write(&first, &[], 0), Write::Done);
    assert!(!watch.is_drained());
    host.read();
    assert!(watch.is_drained());
}

#[test]
fn debug_shows_a_rings_offsets_as_they_are_now() {
    let (mut ring, host) = host::ring(64);
    assert_eq!(ring.write(&bytes(0, 10), &[], 0), Write::Done);
    let watch = ring.watch();
    assert_eq!(
        format!("{ring:?}"),
        "TraceRing { size: 64, write: 10, read: 0 }"
    );
    assert_eq!(host.read_at_most(4).len(), 4);
    assert_eq!(
        format!("{watch:?}"),
        "RingWatch { size: 64, write: 10, read: 4 }"
    );
    assert_eq!(
        format!("{host:?}"),
        "Host { size: 64, write: 10, read: 4 }",
        "the host's side shows the same offsets"
    );
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Lossy);
    let shown = format!("{sink:?}");
    assert!(
        shown.starts_with(
            "RttSink { ring: Some(TraceRing { size: 64, write: 10, read: 4 }), backpressure: Lossy,"
        ),
        "{shown}"
    );
}

/// `flush` is what a firmware calls before it exits or resets, so that the host gets the end of
/// the trace: it must wait for the host's read, not return at once.
#[test]
fn flush_waits_until_the_host_has_read_everything() {
    let (mut ring, host) = host::ring(64);
    let watch = ring.watch();
    assert_eq!(ring.write(&bytes(0, 10), &[], 0), Write::Done);
    let reader = thread::spawn(move || {
        thread::sleep(std::time::Duration::from_millis(50));
        host.read()
    });
    watch.flush();
    assert!(watch.is_drained(), "flush returned before the host read");
    assert_eq!(reader.join().unwrap(), bytes(0, 10));
}

#[test]
fn a_sink_is_attached_only_once_given_its_channel() {
    let (ring, _host) = host::ring(256);
    let mut sink = RttSink::new();
    assert!(!sink.is_attached());
    sink.attach(ring, Backpressure::Lossy);
    assert!(sink.is_attached());
}

#[test]
fn lossless_batches_are_offered_again_until_the_host_reads_and_all_arrive() {
    let (ring, host) = host::ring(256);
    let watch = ring.watch();
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Lossless);
    let header = bytes(0xA0, 16);
    let batches: Vec<(Vec<u8>, Vec<u8>)> = (0..100)
        .map(|i| (bytes(i as u8, 5), bytes(i as u8 ^ 0x55, (i * 37) % 201)))
        .collect();
    let mut expected = header.clone();
    for (h, p) in &batches {
        expected.extend_from_slice(h);
        expected.extend_from_slice(p);
    }
    let total = (expected.len() - header.len()) as u32;
    expected.extend(end(EndRecord {
        batches: 100,
        bytes: total,
        dropped_batches: 0,
        dropped_bytes: 0,
        ..EndRecord::default()
    }));
    // The host reads while the device writes ten times the ring's size.
    let want = expected.len();
    let reader = thread::spawn(move || {
        // Bytes lost would leave the reader waiting for them for good: a deadline fails it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut got = Vec::new();
        while got.len() < want {
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {want} bytes arrived",
                got.len()
            );
            got.extend(host.read());
            thread::yield_now();
        }
        got
    });
    sink.begin_trace(&header);
    // The encoder's part: offering a batch again while the sink is full.
    for (i, (h, p)) in batches.iter().enumerate() {
        while sink.write_batch(1 + i as u64 / 10, h, p) == Offer::Full {
            thread::yield_now();
        }
    }
    sink.end_trace();
    watch.flush();
    assert_eq!(reader.join().unwrap(), expected);
    assert_eq!(sink.account().dropped_batches, 0);
}

#[test]
fn lossy_batches_are_dropped_by_generation_and_the_loss_reported_exactly() {
    // 255 bytes of room; a lossy batch leaves 66 of them free (the closing records, a header).
    let (ring, host) = host::ring(256);
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Lossy);
    let header = bytes(0xA0, 16);
    let [a, b, c, d, e, f, g] = [100, 100, 10, 50, 200, 10, 90].map(|len| bytes(len as u8, len));
    sink.begin_trace(&header);
    // Lossy, every batch is taken at once, written or dropped.
    let mut offer = |generation, header: &[u8], payload: &[u8]| {
        assert_eq!(sink.write_batch(generation, header, payload), Offer::Taken);
    };
    offer(1, &a[..4], &a[4..]); // 100 + 66 of 239: written
    offer(1, &b, &[]); // 166 of 139: dropped
    offer(1, &c, &[]); // fits, but its generation is broken: dropped
    assert_eq!(host.read(), [&header[..], &a].concat());
    offer(2, &d, &[]); // the loss record, then the batch
    offer(2, &e, &[]); // 266, more than the ring: dropped
    offer(3, &f, &[]); // the loss record, then the batch
    offer(3, &g, &[]); // 156 of 145: dropped

    // The closing records fit in the reserve, with nobody reading.
    sink.end_trace();
    let account = EndRecord {
        batches: 7,
        bytes: 560,
        dropped_batches: 4,
        dropped_bytes: 400,
        ..EndRecord::default()
    };
    assert_eq!(sink.account(), account);
    let expected = [
        loss(1, 1, 2, 110),
        d,
        loss(2, 2, 1, 200),
        f,
        loss(3, 3, 1, 90),
        end(account),
    ]
    .concat();
    assert_eq!(host.read(), expected);
    // A trace started again has an account of its own, and its header fits without waiting.
    sink.begin_trace(&header);
    assert_eq!(sink.account(), EndRecord::from_bytes(&[0; EndRecord::LEN]));
    assert_eq!(host.read(), header);
}

#[test]
fn untraced_changes_go_into_the_next_end_record_whenever_they_happened() {
    let (ring, host) = host::ring(256);
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Lossy);
    let header = bytes(0xA0, 16);
    // Missed while tracing was off: the next trace starts from a state that lacks it.
    sink.untraced(2);
    sink.begin_trace(&header);
    sink.untraced(3);
    assert_eq!(sink.account().untraced, 5);
    sink.end_trace();
    let reported = EndRecord {
        untraced: 5,
        ..EndRecord::default()
    };
    assert_eq!(host.read(), [header.clone(), end(reported)].concat());
    // Reported once: the next trace's end record counts only what came after.
    sink.begin_trace(&header);
    sink.untraced(u32::MAX);
    sink.untraced(2);
    sink.end_trace();
    let wrapped = EndRecord {
        untraced: 1,
        ..EndRecord::default()
    };
    assert_eq!(host.read(), [header, end(wrapped)].concat());
}

/// A lossy trace leaves exactly the room to close it (the last loss record and the end record)
/// and start the next one (its header) without waiting for the host: a batch that would eat into
/// it by one byte is dropped. With less room, ending or restarting a trace waits for a host that
/// may never read.
#[test]
fn a_lossy_trace_keeps_exactly_the_room_to_close_and_start_again() {
    const HEADER: &[u8] = b"go 1.22 trace\0\0\0";
    let reserve = 1 + LossRecord::LEN + 1 + EndRecord::LEN + HEADER.len();
    // 255 bytes of room in a 256-byte ring, the header written first.
    let fitting = 255 - HEADER.len() - reserve;
    for (len, dropped) in [(fitting, 0), (fitting + 1, 1)] {
        let (ring, _host) = host::ring(256);
        let mut sink = RttSink::new();
        sink.attach(ring, Backpressure::Lossy);
        sink.begin_trace(HEADER);
        assert_eq!(
            sink.write_batch(1, &[1, 2, 3], &bytes(0, len - 3)),
            Offer::Taken
        );
        assert_eq!(
            sink.account().dropped_batches,
            dropped,
            "a batch of {len} bytes beside the header and the {reserve}-byte reserve"
        );
    }
}

#[test]
fn before_it_is_attached_every_batch_counts_as_dropped() {
    let mut sink = RttSink::default();
    sink.begin_trace(&[0; 16]);
    assert_eq!(sink.write_batch(1, &[1; 3], &[2; 7]), Offer::Taken);
    sink.end_trace();
    let account = sink.account();
    assert_eq!((account.batches, account.bytes), (1, 10));
    assert_eq!((account.dropped_batches, account.dropped_bytes), (1, 10));
}

#[test]
fn every_ring_size_and_offset_takes_what_fits_whole_and_refuses_the_rest() {
    // Each size, each offset the writes start at, each split of a write into its two parts, and
    // each room kept free: a write is taken exactly when it fits with that room beside the
    // host's unread bytes (one byte always stays free), and then read back whole, wrapped or not.
    for size in 2..=19 {
        let (mut ring, host) = host::ring(size);
        for at in 0..size {
            for unread in 0..size {
                for len in 0..=size {
                    for split in 0..=len {
                        for keep_free in [0, 1, 3] {
                            host.reset_to(at);
                            let before = bytes(0x40, unread);
                            if unread > 0 {
                                assert_eq!(ring.write(&before, &[], 0), Write::Done);
                            }
                            let data = bytes(len as u8, len);
                            let fits = unread + len + keep_free < size;
                            let outcome = if fits {
                                Write::Done
                            } else if len + keep_free < size {
                                Write::Full
                            } else {
                                Write::Never
                            };
                            let (first, second) = data.split_at(split);
                            let wrote = ring.write(first, second, keep_free);
                            assert_eq!(
                                wrote, outcome,
                                "{size} {at} {unread} {len} {split} {keep_free}"
                            );
                            let expected = if fits {
                                [before, data].concat()
                            } else {
                                before
                            };
                            assert_eq!(host.read(), expected, "{size} {at} {unread} {len} {split}");
                        }
                    }
                }
            }
        }
    }
}

/// A clock 2^28 ticks further at each reading (16 readings a wrap) that plays the host too: it
/// reads nothing of the ring until `resume`, then all of it at each reading, kept in `got`.
struct HostClock {
    now: u64,
    resume: u64,
    host: host::Host,
    got: Vec<u8>,
}

impl Clock for HostClock {
    fn now(&mut self) -> u32 {
        self.now += 1 << 28;
        if self.now >= self.resume {
            self.got.extend(self.host.read());
        }
        self.now as u32
    }

    fn frequency(&self) -> u64 {
        1_000_000_000
    }
}

/// One executor, held by context 0 or idle; no goroutine.
struct OneProc(bool);

impl Scheduling for OneProc {
    fn context_proc(&self, m: usize) -> Option<usize> {
        (self.0 && m == 0).then_some(0)
    }

    fn context_go(&self, _: usize) -> Option<GoSlot> {
        None
    }

    fn proc_status(&self, _: usize) -> ProcStatus {
        if self.0 {
            ProcStatus::Running
        } else {
            ProcStatus::Idle
        }
    }

    fn go_status(&self, _: GoSlot) -> GoStatus {
        GoStatus::Dead
    }
}

/// The base times of the `EventBatch` headers in `stream` (a file header, then batches), up to
/// its end record.
fn batch_times(stream: &[u8]) -> Vec<u64> {
    let mut at = HEADER_LEN;
    let mut times = Vec::new();
    while stream[at] == EventType::EVENT_BATCH.0 {
        at += 1;
        let mut fields = [0; 4];
        for field in &mut fields {
            let (value, len) = varint::decode(&stream[at..]).unwrap();
            *field = value;
            at += len;
        }
        let [_generation, _m, time, size] = fields;
        times.push(time);
        at += size as usize;
    }
    assert_eq!(
        stream[at], END_MARKER,
        "the stream ends with its end record"
    );
    times
}

#[test]
fn a_lossless_wait_longer_than_a_clock_wrap_leaves_later_times_right() {
    // The host stops reading at once and comes back 16 wraps of the clock later; meanwhile the
    // channel fills and the encoder offers its batch again and again, reading the clock. The
    // wraps of the wait are counted: the last batch (the tables written as tracing stops) is
    // at the clock's last reading, not a multiple of 2^32 ticks before it.
    let (ring, host) = host::ring(256);
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Lossless);
    let clock = HostClock {
        now: 0,
        resume: 16 << 32,
        host,
        got: Vec::new(),
    };
    let mut e: Encoder<HostClock, RttSink, 1, 1, 1, 64> = Encoder::new(clock, sink, Config::MANUAL);
    let mut w = OneProc(false);
    e.start(0, &w).unwrap();
    for _ in 0..100 {
        w.0 = true;
        e.proc_start(0, 0, &w);
        w.0 = false;
        e.proc_stop(0, &w);
    }
    e.stop(0).unwrap();
    let clock = e.clock_mut();
    assert!(clock.now > clock.resume, "the host never came back");
    let last_reading = clock.now;
    clock.got.extend(clock.host.read());
    let times = batch_times(&clock.got);
    assert_eq!(times.last(), Some(&last_reading), "{times:?}");
    assert!(times.windows(2).all(|t| t[0] <= t[1]), "{times:?}");
    assert_eq!(e.sink().account().dropped_batches, 0);
}

#[test]
fn overwrite_is_applied_only_with_the_feature() {
    let (ring, _host) = host::ring(256);
    let mut sink = RttSink::new();
    sink.attach(ring, Backpressure::Overwrite);
    let applied = if cfg!(feature = "flight-recorder") {
        Backpressure::Overwrite
    } else {
        Backpressure::Lossy
    };
    assert_eq!(sink.backpressure(), applied);
}

#[cfg(not(feature = "flight-recorder"))]
#[test]
fn without_the_feature_overwrite_writes_what_lossy_writes() {
    // The lossy test's batches, through a lossy sink and an overwriting one: the same bytes.
    let stream = |backpressure| {
        let (ring, host) = host::ring(256);
        let mut sink = RttSink::new();
        sink.attach(ring, backpressure);
        sink.begin_trace(&bytes(0xA0, 16));
        for (generation, len) in [(1, 100), (1, 100), (1, 10), (2, 50), (2, 200), (3, 10)] {
            assert_eq!(
                sink.write_batch(generation, &bytes(len as u8, len), &[]),
                Offer::Taken
            );
        }
        sink.end_trace();
        (host.read(), sink.account())
    };
    let (overwrite, lossy) = (stream(Backpressure::Overwrite), stream(Backpressure::Lossy));
    assert_eq!(overwrite, lossy);
    assert_ne!(lossy.1.dropped_batches, 0, "the lossy sink dropped nothing");
}

/// The flight recorder (`Backpressure::Overwrite`), read as its host reads it: from the read
/// offset the sink moved, once the trace has ended (`host::Host::peek` in between, which does not
/// move it).
#[cfg(feature = "flight-recorder")]
mod flight_recorder {
    use std::collections::BTreeMap;

    use super::*;

    const HEADER: &[u8; HEADER_LEN] = b"go 1.22 trace\0\0\0";

    /// An `EventBatch` of `generation` with `size` bytes of payload, as its header and payload:
    /// 5 bytes of header below 128 for both.
    fn batch(generation: u64, size: usize) -> (Vec<u8>, Vec<u8>) {
        let mut header = vec![EventType::EVENT_BATCH.0];
        for field in [generation, 0, 0, size as u64] {
            let mut buf = [0; varint::MAX_LEN];
            let len = varint::encode(field, &mut buf);
            header.extend_from_slice(&buf[..len]);
        }
        (header, bytes(generation as u8, size))
    }

    /// An item of the channel; a batch as its generation and its bytes (header and payload).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Item {
        Header,
        Batch { generation: u64, bytes: u32 },
        Loss(LossRecord),
        End(EndRecord),
    }

    use Item::{Batch, End, Header, Loss};

    /// The channel's bytes as whole items: fails at a byte that starts none, or an item cut short.
    fn items(channel: &[u8]) -> Vec<Item> {
        let mut items = Vec::new();
        let mut at = 0;
        while at < channel.len() {
            let rest = &channel[at..];
            let (item, len) = match rest[0] {
                b'g' => {
                    assert_eq!(&rest[..HEADER_LEN], HEADER, "at {at}: {channel:?}");
                    (Header, HEADER_LEN)
                }
                LOSS_MARKER => {
                    let fields = rest[1..1 + LossRecord::LEN].try_into().unwrap();
                    (Loss(LossRecord::from_bytes(fields)), 1 + LossRecord::LEN)
                }
                END_MARKER => {
                    let fields = rest[1..1 + EndRecord::LEN].try_into().unwrap();
                    (End(EndRecord::from_bytes(fields)), 1 + EndRecord::LEN)
                }
                b if b == EventType::EVENT_BATCH.0 => {
                    let mut len = 1;
                    let mut fields = [0; 4];
                    for field in &mut fields {
                        let (value, n) = varint::decode(&rest[len..]).unwrap();
                        *field = value;
                        len += n;
                    }
                    let [generation, _m, _time, size] = fields;
                    len += size as usize;
                    assert!(len <= rest.len(), "a batch cut short at {at}: {channel:?}");
                    let bytes = len as u32;
                    (Batch { generation, bytes }, len)
                }
                other => panic!("byte {other} at {at} starts no item: {channel:?}"),
            };
            items.push(item);
            at += len;
        }
        items
    }

    /// The batches of `items` and their bytes.
    fn batches_in(items: &[Item]) -> (u32, u32) {
        items
            .iter()
            .fold((0, 0), |(batches, total), item| match item {
                Batch { bytes, .. } => (batches + 1, total + bytes),
                _ => (batches, total),
            })
    }

    /// The batches and bytes that should be in the channel by the sink's `account`: produced, less
    /// dropped, less overwritten.
    fn arrived(account: EndRecord) -> (u32, u32) {
        (
            account.batches - account.dropped_batches - account.overwritten_batches,
            account.bytes - account.dropped_bytes - account.overwritten_bytes,
        )
    }

    /// `generations` of `per_generation` batches of `size` bytes of payload, as items.
    fn batch_items(
        generations: core::ops::RangeInclusive<u64>,
        per_generation: usize,
        size: usize,
    ) -> Vec<Item> {
        generations
            .flat_map(|generation| {
                let bytes = (5 + size) as u32;
                vec![Batch { generation, bytes }; per_generation]
            })
            .collect()
    }

    /// An overwriting sink on a ring of `size` bytes whose trace begins at offset `at`, and the
    /// ring's host.
    fn recorder(size: usize, at: usize) -> (RttSink, host::Host) {
        let (ring, host) = host::ring(size);
        host.reset_to(at);
        let mut sink = RttSink::new();
        sink.attach(ring, Backpressure::Overwrite);
        sink.begin_trace(HEADER);
        (sink, host)
    }

    /// Writes a batch of `generation` with `size` bytes of payload (taken at once, written or
    /// dropped).
    fn write(sink: &mut RttSink, generation: u64, size: usize) {
        let (header, payload) = batch(generation, size);
        assert_eq!(
            sink.write_batch(generation, &header, &payload),
            Offer::Taken
        );
    }

    /// Ten generations of three 25-byte batches through a 256-byte ring from offset `at`, the
    /// channel checked to be whole items after each: the items left.
    fn ten_generations(at: usize) -> Vec<Item> {
        let (mut sink, host) = recorder(256, at);
        for generation in 1..=10 {
            for _ in 0..3 {
                write(&mut sink, generation, 20);
                items(&host.peek());
            }
        }
        items(&host.read())
    }

    #[test]
    fn the_newest_whole_generations_are_kept_and_the_channel_parses() {
        // 255 bytes of room, 66 of them kept free: generations 9 and 10 (150 bytes) and not a
        // third, which the second batch of 10 evicted (8, 9 and a batch of 10: 175 bytes, with
        // another batch and the reserve 266).
        assert_eq!(ten_generations(0), batch_items(9..=10, 3, 20));
    }

    #[test]
    fn eviction_reads_items_across_the_rings_wrap() {
        // From every offset, so that every item and every field of a batch header is cut by the
        // wrap somewhere: the same generations kept.
        // Under Miri (scripts/miri.sh), every 17th: each offset takes seconds there.
        for at in (0..256).step_by(if cfg!(miri) { 17 } else { 1 }) {
            assert_eq!(ten_generations(at), batch_items(9..=10, 3, 20), "from {at}");
        }
    }

    #[test]
    fn eviction_reads_batch_headers_whose_varints_take_two_bytes() {
        // Generations from 128 and payloads of 128 bytes: both varints take two bytes, the first
        // 0x80 (no bits, more to come). Misread, eviction skips the wrong bytes, finds no item
        // after them and gives up, and every later batch is dropped.
        let (mut sink, host) = recorder(1024, 0);
        for generation in 128..=140 {
            write(&mut sink, generation, 128);
            items(&host.peek());
        }
        let account = sink.account();
        assert_eq!(
            (account.dropped_batches, account.dropped_bytes),
            (0, 0),
            "every batch fits once older generations are evicted: {account:?}"
        );
        let generations: Vec<u64> = items(&host.read())
            .iter()
            .map(|item| match item {
                Batch { generation, .. } => *generation,
                other => panic!("only batches are left, not {other:?}"),
            })
            .collect();
        assert_eq!(
            generations,
            (134..=140).collect::<Vec<_>>(),
            "the newest generations that fit are kept"
        );
    }

    #[test]
    fn the_header_is_evicted_with_generation_1() {
        // 149 bytes of room: the header and two batches of 1 (66 bytes), then a batch of 2 and
        // the reserve (91) fit only without them.
        let (mut sink, host) = recorder(150, 0);
        write(&mut sink, 1, 20);
        write(&mut sink, 1, 20);
        let before = [vec![Header], batch_items(1..=1, 2, 20)].concat();
        assert_eq!(items(&host.peek()), before);
        write(&mut sink, 2, 20);
        assert_eq!(items(&host.read()), batch_items(2..=2, 1, 20));
        let account = sink.account();
        assert_eq!(
            (account.overwritten_batches, account.overwritten_bytes),
            (2, 50)
        );
    }

    #[test]
    fn the_account_counts_exactly_what_was_overwritten() {
        // Generations 1 to 6 of three 25-byte batches: 5 and 6 kept, 1 to 4 overwritten, and
        // produced less dropped less overwritten is what the channel holds, at every batch.
        let (mut sink, host) = recorder(256, 0);
        for generation in 1..=6 {
            for _ in 0..3 {
                write(&mut sink, generation, 20);
                assert_eq!(arrived(sink.account()), batches_in(&items(&host.peek())));
            }
        }
        sink.end_trace();
        let account = EndRecord {
            batches: 18,
            bytes: 450,
            dropped_batches: 0,
            dropped_bytes: 0,
            overwritten_batches: 12,
            overwritten_bytes: 300,
            untraced: 0,
        };
        assert_eq!(sink.account(), account);
        let expected = [batch_items(5..=6, 3, 20), vec![End(account)]].concat();
        assert_eq!(items(&host.read()), expected);
    }

    #[test]
    fn a_batch_never_evicts_its_own_generation() {
        // Generation 2 fills the channel: its eighth batch finds only generation 2 there and is
        // dropped, the seven before it kept.
        let (mut sink, host) = recorder(256, 0);
        write(&mut sink, 1, 20);
        for _ in 0..8 {
            write(&mut sink, 2, 20);
        }
        assert_eq!(items(&host.peek()), batch_items(2..=2, 7, 20));
        let account = sink.account();
        assert_eq!((account.dropped_batches, account.dropped_bytes), (1, 25));
        assert_eq!(
            (account.overwritten_batches, account.overwritten_bytes),
            (1, 25)
        );
    }

    #[test]
    fn a_generation_larger_than_the_channel_is_dropped_with_a_loss_record_and_the_trace_goes_on() {
        // Generation 2 (10 batches, 250 bytes) does not fit beside the reserve: its eighth batch
        // and the rest are dropped. Generation 3 evicts what was kept of it, then writes the loss
        // record and its batches.
        let (mut sink, host) = recorder(256, 0);
        for (generation, batches) in [(1, 2), (2, 10), (3, 2)] {
            for _ in 0..batches {
                write(&mut sink, generation, 20);
            }
        }
        sink.end_trace();
        let account = EndRecord {
            batches: 14,
            bytes: 350,
            dropped_batches: 3,
            dropped_bytes: 75,
            overwritten_batches: 9,
            overwritten_bytes: 225,
            untraced: 0,
        };
        let loss = LossRecord {
            first_generation: 2,
            last_generation: 2,
            batches: 3,
            bytes: 75,
        };
        let expected = [
            vec![Loss(loss)],
            batch_items(3..=3, 2, 20),
            vec![End(account)],
        ]
        .concat();
        assert_eq!(items(&host.read()), expected);
    }

    #[test]
    fn beginning_a_trace_empties_the_channel() {
        // A trace ended and never read: the next one starts in an empty channel, its own header
        // first.
        let (mut sink, host) = recorder(256, 0);
        write(&mut sink, 1, 20);
        sink.end_trace();
        sink.begin_trace(HEADER);
        assert_eq!(items(&host.peek()), [Header]);
        assert_eq!(sink.account(), EndRecord::default());
    }

    /// A deterministic stream of pseudo-random numbers (xorshift64).
    struct Random(u64);

    impl Random {
        /// A number below `bound`.
        fn below(&mut self, bound: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % bound
        }
    }

    /// Checks the channel against what was written: whole items; batch generations ascending and
    /// contiguous (a gap only where a loss record between names it), ending with the newest
    /// generation written; every generation there with all the batches written of it; and the
    /// account's produced less dropped less overwritten is what the channel holds.
    fn check(channel: &[u8], written: &BTreeMap<u64, u32>, account: EndRecord) {
        let items = items(channel);
        let mut last: Option<u64> = None;
        // The loss records since the last batch.
        let mut losses: Vec<LossRecord> = Vec::new();
        let mut batches_of = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            match *item {
                Header => assert_eq!(i, 0, "a header after the first item: {items:?}"),
                End(_) => panic!("an end record before the end: {items:?}"),
                Loss(loss) => losses.push(loss),
                Batch { generation, .. } => {
                    *batches_of.entry(generation).or_insert(0) += 1;
                    if let Some(last) = last {
                        let named = |missing: u64| {
                            losses.iter().any(|loss| {
                                (loss.first_generation..=loss.last_generation).contains(&missing)
                            })
                        };
                        assert!(
                            generation >= last && (last + 1..generation).all(named),
                            "generation {generation} after {last}: {items:?}"
                        );
                    }
                    losses.clear();
                    last = Some(generation);
                }
            }
        }
        assert_eq!(last, written.keys().next_back().copied(), "{items:?}");
        for (generation, batches) in &batches_of {
            assert_eq!(
                Some(batches),
                written.get(generation),
                "generation {generation} not whole: {items:?}"
            );
        }
        assert_eq!(arrived(account), batches_in(&items), "{account:?}");
    }

    #[test]
    fn random_batches_leave_whole_contiguous_generations_ending_with_the_newest() {
        // Small rings from any offset, generations of random batches: mostly smaller than the
        // channel, sometimes larger (dropped, with the rest of their generation), sometimes a
        // batch that can never fit.
        let (mut lossy_seeds, mut overwritten_loss_seeds) = (0, 0);
        for seed in 1..=300u64 {
            let mut random = Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let size = 80 + random.below(400) as usize;
            let (mut sink, host) = recorder(size, random.below(size as u64) as usize);
            let mut written = BTreeMap::new();
            let mut dropped_in_all = 0;
            for generation in 1..=40 {
                let most = if random.below(8) == 0 { 30 } else { 5 };
                let batches = 1 + random.below(most);
                for _ in 0..batches {
                    let payload = if random.below(40) == 0 {
                        size
                    } else {
                        random.below(size as u64 / 3) as usize
                    };
                    // Written, it is the channel's last item, and the write offset moved for it
                    // (a dropped batch may leave a loss record last, or nothing written at all:
                    // the account cannot tell, since evicting a loss record moves its drops to
                    // the overwritten counts).
                    let before = host.write_offset();
                    write(&mut sink, generation, payload);
                    let last = items(&host.peek()).last().copied();
                    if host.write_offset() != before && matches!(last, Some(Batch { .. })) {
                        *written.entry(generation).or_insert(0) += 1;
                    } else {
                        dropped_in_all += 1;
                    }
                    check(&host.peek(), &written, sink.account());
                }
            }
            sink.end_trace();
            let items = items(&host.read());
            let account = sink.account();
            assert_eq!(items.last(), Some(&End(account)), "seed {seed}");
            // What the host checks: the loss records it reads count the end record's drops, those
            // of the records overwritten moved to the overwritten counts.
            let recorded = items
                .iter()
                .fold((0, 0), |(batches, bytes), item| match item {
                    Loss(loss) => (batches + loss.batches, bytes + loss.bytes),
                    _ => (batches, bytes),
                });
            assert_eq!(
                recorded,
                (account.dropped_batches, account.dropped_bytes),
                "seed {seed}: {items:?}"
            );
            lossy_seeds += u32::from(recorded.0 > 0);
            overwritten_loss_seeds += u32::from(dropped_in_all > account.dropped_batches);
        }
        // Both kinds of run: loss records kept to the end, and loss records overwritten.
        assert!(
            lossy_seeds > 0 && overwritten_loss_seeds > 0,
            "{lossy_seeds} {overwritten_loss_seeds}"
        );
    }
}
