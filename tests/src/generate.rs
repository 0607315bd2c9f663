//! A generator of large, valid, multi-generation Go 1.22 traces, written with the raw writer.
//!
//! It models a small runtime: `procs` Ps, each owned by one M, each running its own set of
//! goroutines that start, block, get unblocked, get preempted, log, open regions and report heap
//! use. Every generation re-states every P and goroutine (as Go's runtime does), carries its own
//! string and stack tables and its `Frequency`, and batches never exceed the format's size limit.
//! Goroutines never migrate between Ps, so each M's events are valid in any interleaving; that
//! keeps the generator small while exercising the validator's hot paths at full volume.

use gotrace_decoder::raw::{Event, Writer};
use gotrace_wire::{go_status, proc_status, EventType, Version, NO_THREAD};

use crate::rng::Rng;

/// How big a trace to make.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub seed: u64,
    pub procs: u64,
    pub goroutines_per_proc: u64,
    /// Bytes of events per generation, roughly.
    pub generation_bytes: usize,
    /// Bytes in all, roughly (whole generations).
    pub total_bytes: usize,
}

/// Flush a batch once its payload reaches this size, well under the 64 KiB limit.
const BATCH_TARGET: usize = 60 << 10;

const STRINGS: [&str; 8] = [
    "chan receive",
    "select",
    "sleep",
    "preempted",
    "main.worker",
    "/src/app/worker.go",
    "request",
    "handled",
];
// String IDs are 1-based positions in STRINGS.
const REASONS: [u64; 3] = [1, 2, 3];
const PREEMPTED: u64 = 4;
const FUNC: u64 = 5;
const FILE: u64 = 6;
const REGION: u64 = 7;
const KEY: u64 = 7;
const VALUE: u64 = 8;
const STACKS: u64 = 4;

#[derive(Clone, Copy, PartialEq)]
enum G {
    Runnable,
    Waiting,
}

/// One M with its P and goroutines.
struct Thread {
    m: u64,
    p: u64,
    running: Option<u64>,
    /// Status and sequence number (in the current generation) of each goroutine.
    goroutines: Vec<(u64, G, u64)>,
    ts: u64,
    batch: Vec<Event>,
    batch_time: u64,
    last_ts: u64,
    batch_bytes: usize,
    /// Bytes of events emitted so far, flushed or not.
    emitted: usize,
}

/// A Go 1.22 event of type `typ` with `args` and no data.
pub fn ev(typ: EventType, args: Vec<u64>) -> Event {
    Event {
        version: Version::Go122,
        typ,
        args,
        data: Vec::new(),
    }
}

/// The trace and its number of generations.
pub fn generate(shape: Shape) -> (Vec<u8>, u64) {
    let mut rng = Rng::new(shape.seed);
    let mut writer = Writer::new(Vec::new(), Version::Go122).unwrap();
    let mut threads: Vec<Thread> = (0..shape.procs)
        .map(|p| Thread {
            m: 100 + p,
            p,
            running: None,
            goroutines: (0..shape.goroutines_per_proc)
                .map(|k| (1 + p * shape.goroutines_per_proc + k, G::Runnable, 0))
                .collect(),
            ts: 1_000,
            batch: Vec::new(),
            batch_time: 0,
            last_ts: 0,
            batch_bytes: 0,
            emitted: 0,
        })
        .collect();
    let mut gen = 0;
    let mut heap = 1 << 20;
    while writer.get_ref().len() < shape.total_bytes {
        gen += 1;
        let emitted = |threads: &[Thread]| threads.iter().map(|t| t.emitted).sum::<usize>();
        let start = emitted(&threads);
        for t in &mut threads {
            t.open_batch();
            t.restate(&mut rng);
        }
        while emitted(&threads) - start < shape.generation_bytes {
            let t = &mut threads[rng.below(shape.procs as usize)];
            for _ in 0..32 {
                t.step(&mut rng, &mut heap);
            }
            if t.batch_bytes >= BATCH_TARGET {
                t.flush(gen, &mut writer);
                t.open_batch();
            }
        }
        for t in &mut threads {
            t.flush(gen, &mut writer);
        }
        write_tables(gen, &mut writer);
    }
    (writer.into_inner(), gen)
}

/// Writes one batch: its header (generation, M, base time, size), then its events.
pub fn write_batch(w: &mut Writer<Vec<u8>>, gen: u64, m: u64, time: u64, events: &[Event]) {
    let size: usize = events.iter().map(Event::encoded_len).sum();
    let header = vec![gen, m, time, size as u64];
    w.write_event(&ev(EventType::EVENT_BATCH, header)).unwrap();
    for e in events {
        w.write_event(e).unwrap();
    }
}

/// The per-generation batches of no thread: frequency, strings, stacks.
fn write_tables(gen: u64, w: &mut Writer<Vec<u8>>) {
    let mut batch = |events: Vec<Event>| write_batch(w, gen, NO_THREAD, 0, &events);
    batch(vec![ev(EventType::FREQUENCY, vec![15_625_000])]);
    let mut strings = vec![ev(EventType::STRINGS, vec![])];
    for (i, s) in STRINGS.iter().enumerate() {
        let mut e = ev(EventType::STRING, vec![i as u64 + 1]);
        e.data = s.as_bytes().to_vec();
        strings.push(e);
    }
    batch(strings);
    let mut stacks = vec![ev(EventType::STACKS, vec![])];
    for id in 1..=STACKS {
        let mut args = vec![id, id];
        for depth in 0..id {
            args.extend([0x40_1000 + 0x40 * id + depth, FUNC, FILE, 10 * id + depth]);
        }
        stacks.push(ev(EventType::STACK, args));
    }
    batch(stacks);
}

impl Thread {
    fn open_batch(&mut self) {
        self.batch.clear();
        self.batch_bytes = 0;
        self.batch_time = self.ts;
        self.last_ts = self.ts;
    }

    /// Appends a timed event at the thread's next timestamp.
    fn emit(&mut self, rng: &mut Rng, typ: EventType, mut args: Vec<u64>) {
        self.ts += 1 + rng.below(200) as u64;
        args.insert(0, self.ts - self.last_ts);
        self.last_ts = self.ts;
        let e = ev(typ, args);
        self.batch_bytes += e.encoded_len();
        self.emitted += e.encoded_len();
        self.batch.push(e);
    }

    fn flush(&mut self, gen: u64, w: &mut Writer<Vec<u8>>) {
        write_batch(w, gen, self.m, self.batch_time, &self.batch);
        self.batch.clear();
        self.batch_bytes = 0;
    }

    /// The start of a generation: the P, then every goroutine, with sequence numbers reset.
    fn restate(&mut self, rng: &mut Rng) {
        self.emit(
            rng,
            EventType::PROC_STATUS,
            vec![self.p, proc_status::RUNNING],
        );
        if let Some(g) = self.running {
            self.emit(
                rng,
                EventType::GO_STATUS,
                vec![g, self.m, go_status::RUNNING],
            );
        }
        for i in 0..self.goroutines.len() {
            let (g, state, _) = self.goroutines[i];
            if Some(g) == self.running {
                continue;
            }
            let status = match state {
                G::Runnable => go_status::RUNNABLE,
                G::Waiting => go_status::WAITING,
            };
            self.emit(rng, EventType::GO_STATUS, vec![g, NO_THREAD, status]);
        }
        for entry in &mut self.goroutines {
            entry.2 = 0;
        }
    }

    fn step(&mut self, rng: &mut Rng, heap: &mut u64) {
        let stack = 1 + rng.below(STACKS as usize) as u64;
        match self.running {
            Some(g) => match rng.below(10) {
                0..=2 => {
                    self.emit(rng, EventType::USER_REGION_BEGIN, vec![0, REGION, stack]);
                    self.emit(rng, EventType::USER_LOG, vec![0, KEY, VALUE, stack]);
                    self.emit(rng, EventType::USER_REGION_END, vec![0, REGION, stack]);
                }
                3 => {
                    *heap += rng.below(1 << 16) as u64;
                    self.emit(rng, EventType::HEAP_ALLOC, vec![*heap]);
                }
                4..=6 => {
                    let reason = *rng.pick(&REASONS);
                    self.emit(rng, EventType::GO_BLOCK, vec![reason, stack]);
                    self.set(g, G::Waiting);
                    self.running = None;
                }
                _ => {
                    self.emit(rng, EventType::GO_STOP, vec![PREEMPTED, stack]);
                    self.set(g, G::Runnable);
                    self.running = None;
                }
            },
            None => {
                let i = rng.below(self.goroutines.len());
                let (g, state, seq) = self.goroutines[i];
                match state {
                    G::Waiting => {
                        self.emit(rng, EventType::GO_UNBLOCK, vec![g, seq + 1, stack]);
                        self.goroutines[i] = (g, G::Runnable, seq + 1);
                    }
                    G::Runnable => {
                        self.emit(rng, EventType::GO_START, vec![g, seq + 1]);
                        self.goroutines[i].2 = seq + 1;
                        self.running = Some(g);
                    }
                }
            }
        }
    }

    fn set(&mut self, g: u64, state: G) {
        if let Some(entry) = self.goroutines.iter_mut().find(|e| e.0 == g) {
            entry.1 = state;
        }
    }
}
