//! Real Go programs as the decoder's test: `tests/goprograms` is built once, each of its scenarios
//! is run under `runtime/trace` at test time (no trace is committed), with a short
//! `GODEBUG=traceadvanceperiod` so that every trace has several generations, and then for every
//! trace:
//!
//! * `gotrace events` prints exactly what `go tool trace -d=parsed` prints, and `gotrace validate`
//!   accepts it;
//! * `gotrace stats` gives each goroutine the figures of `go tool trace`'s goroutine analysis;
//! * `gotrace dump` prints exactly the event lines of `go tool trace -d=wire`, and its text
//!   converts back to the same bytes, but for the batch sizes Go's runtime pads to 10 bytes,
//!   which come back in their shortest form;
//! * the trace holds what its scenario is there for (goroutines re-stated in syscalls across
//!   generations, goroutines created and destroyed in syscalls by exiting C threads, GC ranges,
//!   user annotations, GOMAXPROCS changes, a restarted tracer), so no check passes on a trace that
//!   misses the hard part.
//!
//! One test per scenario, so the test harness runs them in parallel.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gotrace_decoder::raw::{text_to_binary, Reader as RawReader};
use gotrace_decoder::{Event, EventKind, GoState, ProcState, Reader, Transition, NO_THREAD};
use gotrace_go_oracle::{require_go, Go, Mode};
use gotrace_tests::cli::gotrace;
use gotrace_tests::goprograms::GoPrograms;
use gotrace_tests::goroutine_analysis::assert_stats_as_viewer;
use gotrace_tests::scratch_dir;
use gotrace_wire::{varint, EventType};

/// Nanoseconds between generations: short, so that each scenario spans several of them quickly
/// (the scenarios wait for generations to pass where they need them).
const ADVANCE_PERIOD_NS: u64 = 2_000_000;

/// How long the `busy` scenario runs here (the benchmark runs it for much longer).
const BUSY_SECONDS: f64 = 0.02;

/// The callbacks `cgo-callbacks` makes, each from a new C thread: 4 goroutines × 20.
const CGO_CALLBACKS: usize = 80;

/// Runs one scenario (the program is built once per test process) and returns its trace.
fn run_scenario(go: &Go, scenario: &str) -> PathBuf {
    static PROGRAMS: OnceLock<GoPrograms> = OnceLock::new();
    let programs = PROGRAMS.get_or_init(|| GoPrograms::build(go, scratch_dir()));
    let trace = scratch_dir().join(format!("{scenario}.trace"));
    programs.trace(scenario, &trace, ADVANCE_PERIOD_NS, BUSY_SECONDS);
    trace
}

/// The three comparisons with Go that every real trace must pass.
fn assert_read_as_go_reads(go: &Go, scenario: &str, trace: &Path) {
    let parsed = go.trace(Mode::Parsed, trace).unwrap();
    assert!(
        parsed.accepted(),
        "{scenario}: Go rejects its own program's trace: {:?}",
        parsed.error
    );
    let events = gotrace([Path::new("events"), trace]);
    assert_eq!(
        events.code, 0,
        "{scenario}: gotrace events: {}",
        events.stderr
    );
    assert_same_lines(
        scenario,
        "events / -d=parsed",
        &events.stdout,
        &parsed.stdout,
    );

    let viewer = go.open_viewer(trace).unwrap();
    assert_stats_as_viewer(&viewer, trace);

    let validate = gotrace([Path::new("validate"), trace]);
    assert_eq!(
        validate.code, 0,
        "{scenario}: gotrace validate: {}",
        validate.stderr
    );

    let wire = go.trace(Mode::Wire, trace).unwrap();
    assert!(
        wire.accepted(),
        "{scenario}: Go's raw reader: {:?}",
        wire.error
    );
    let dump = gotrace([Path::new("dump"), trace]);
    assert_eq!(dump.code, 0, "{scenario}: gotrace dump: {}", dump.stderr);
    let (header, dumped_events) = dump.stdout.split_once('\n').expect("a header line");
    assert!(
        header.starts_with("Trace Go1.") && header["Trace Go1.".len()..].parse::<u8>().is_ok(),
        "{scenario}: header {header:?}"
    );
    assert_same_lines(scenario, "dump / -d=wire", dumped_events, &wire.stdout);

    let binary = std::fs::read(trace).unwrap();
    let back = text_to_binary(dump.stdout.as_bytes()).expect("our text form reads back");
    let expected = with_minimal_batch_headers(&binary);
    assert!(
        back == expected,
        "{scenario}: binary → text → binary changed more than the batch headers' padding \
         ({} bytes, {} without padding, {} after the round trip)",
        binary.len(),
        expected.len(),
        back.len()
    );
}

/// The trace with every batch header's varints written in their shortest form.
///
/// Go's runtime reserves ten bytes for a batch's length and fills them in when the batch is full,
/// as a padded varint; the text form (Go's own) keeps only the value, so a trace written by Go
/// comes back from text with the shortest encoding there, and byte-identical everywhere else.
/// This walks the batch framing on its own (not with the decoder under test).
fn with_minimal_batch_headers(trace: &[u8]) -> Vec<u8> {
    let (header, mut rest) = trace.split_at(gotrace_wire::HEADER_LEN);
    let mut out = header.to_vec();
    while let Some((&typ, after)) = rest.split_first() {
        out.push(typ);
        rest = after;
        match EventType(typ) {
            EventType::END_OF_GENERATION => continue,
            EventType::EVENT_BATCH => {}
            EventType::EXPERIMENTAL_BATCH => {
                out.push(rest[0]);
                rest = &rest[1..];
            }
            other => panic!(
                "byte {} : {other:?} where a batch starts",
                trace.len() - rest.len() - 1
            ),
        }
        let mut size = 0;
        for _field in ["gen", "m", "time", "size"] {
            let (value, len) = varint::decode(rest).expect("a batch header varint");
            let mut short = [0; varint::MAX_LEN];
            let n = varint::encode(value, &mut short);
            out.extend_from_slice(&short[..n]);
            rest = &rest[len..];
            size = value as usize;
        }
        let (body, after) = rest.split_at(size);
        out.extend_from_slice(body);
        rest = after;
    }
    out
}

/// `assert_eq!` for long outputs: names the first differing line instead of printing megabytes.
fn assert_same_lines(scenario: &str, what: &str, ours: &str, go: &str) {
    if ours == go {
        return;
    }
    let mismatch = ours
        .lines()
        .zip(go.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b);
    match mismatch {
        Some((i, (a, b))) => panic!(
            "{scenario}: {what}: first difference at line {}:\n ours: {a}\n   Go: {b}",
            i + 1
        ),
        None => panic!(
            "{scenario}: {what}: {} lines here, {} from Go (one is a prefix of the other)",
            ours.lines().count(),
            go.lines().count()
        ),
    }
}

/// A trace read by our decoder, each event with the number of the generation it is in.
struct Decoded {
    events: Vec<(u64, Event)>,
}

impl Decoded {
    fn read(trace: &Path) -> Decoded {
        let file = std::fs::File::open(trace).unwrap();
        let mut reader = Reader::new(std::io::BufReader::new(file)).unwrap();
        let mut events = Vec::new();
        let mut generation = 0;
        while let Some(event) = reader.read_event().unwrap() {
            if let Some(n) = event.sync_number() {
                generation = n;
            }
            events.push((generation, event));
        }
        Decoded { events }
    }

    fn generations(&self) -> u64 {
        self.events.last().map_or(0, |(g, _)| *g)
    }

    fn of_type(&self, typ: EventType) -> impl Iterator<Item = &(u64, Event)> + '_ {
        self.events
            .iter()
            .filter(move |(_, e)| e.wire_type() == Some(typ))
    }

    fn count(&self, typ: EventType) -> usize {
        self.of_type(typ).count()
    }

    /// Goroutine transitions `from → to`: (generation, event, goroutine).
    fn go_transitions(
        &self,
        from: GoState,
        to: GoState,
    ) -> impl Iterator<Item = (u64, &Event, i64)> + '_ {
        self.events
            .iter()
            .filter_map(move |(gen, e)| match e.state_transition()?.transition {
                Transition::Goroutine { id, from: f, to: t } if f == from && t == to => {
                    Some((*gen, e, id))
                }
                _ => None,
            })
    }

    /// The reasons goroutines gave for blocking.
    fn block_reasons(&self) -> BTreeSet<String> {
        self.of_type(EventType::GO_BLOCK)
            .map(|(_, e)| String::from_utf8_lossy(e.state_transition().unwrap().reason).into())
            .collect()
    }

    /// How many ranges of each name began (STW ranges are named by their reason).
    fn range_begins(&self) -> HashMap<String, usize> {
        let mut names = HashMap::new();
        for (_, e) in &self.events {
            if e.kind() == EventKind::RangeBegin {
                let name = String::from_utf8_lossy(&e.range().unwrap().name).into_owned();
                *names.entry(name).or_default() += 1;
            }
        }
        names
    }
}

/// Builds and runs `scenario`, checks its trace against Go and that it spans at least
/// `min_generations`, then hands the trace's path and our reading of it to `check`, which asserts
/// what the scenario is there for. Returns
/// without checking when Go is not usable on a developer's machine (fails in CI).
fn with_scenario(scenario: &str, min_generations: u64, check: impl FnOnce(&Path, &Decoded)) {
    let Some(go) = require_go(scenario) else {
        return;
    };
    let trace = run_scenario(&go, scenario);
    assert_read_as_go_reads(&go, scenario, &trace);
    let decoded = Decoded::read(&trace);
    assert!(
        decoded.generations() >= min_generations,
        "{scenario}: {} generations, wanted at least {min_generations}",
        decoded.generations()
    );
    check(&trace, &decoded);
}

#[test]
fn channels_mutexes() {
    with_scenario("channels-mutexes", 4, |_, t| {
        let reasons = t.block_reasons();
        for reason in ["chan receive", "chan send", "sync", "sleep"] {
            assert!(
                reasons.contains(reason),
                "no block on {reason:?}: {reasons:?}"
            );
        }
        assert!(t.count(EventType::GO_UNBLOCK) >= 100);
        assert!(
            t.count(EventType::GO_CREATE) >= 16 + 2,
            "a worker pool, a producer, a closer"
        );
    });
}

/// Seed 002: goroutines sitting in a syscall are re-stated with their M at every generation
/// boundary; sysmon takes their Ps away; they come back without a P.
#[test]
fn syscall_pipes() {
    with_scenario("syscall-pipes", 6, |_, t| {
        let mut restated: HashMap<i64, BTreeSet<u64>> = HashMap::new();
        for (gen, event, g) in t.go_transitions(GoState::Syscall, GoState::Syscall) {
            assert_ne!(
                event.thread(),
                NO_THREAD,
                "goroutine {g} in a syscall without its M"
            );
            restated.entry(g).or_default().insert(gen);
        }
        let across_many = restated.values().filter(|gens| gens.len() >= 3).count();
        assert!(
            across_many >= 4,
            "the 4 pipe readers should each be re-stated in a syscall in 3+ generations: {restated:?}"
        );
        assert!(t.count(EventType::PROC_STEAL) >= 1, "sysmon never took a P");
        assert!(
            t.count(EventType::GO_SYSCALL_END_BLOCKED) >= 1,
            "no goroutine came back without a P"
        );
    });
}

/// Seed 000: callbacks from C threads that exit: goroutines created and destroyed in a syscall,
/// goroutine IDs reused, and Ps abandoned by destroyed threads stolen afterwards.
#[test]
fn cgo_callbacks() {
    with_scenario("cgo-callbacks", 4, |_, t| {
        assert_eq!(t.count(EventType::GO_CREATE_SYSCALL), CGO_CALLBACKS);
        assert_eq!(t.count(EventType::GO_DESTROY_SYSCALL), CGO_CALLBACKS);
        let created: Vec<i64> = t
            .go_transitions(GoState::NotExist, GoState::Syscall)
            .map(|(_, _, g)| g)
            .collect();
        let distinct: HashSet<i64> = created.iter().copied().collect();
        assert!(
            distinct.len() < created.len() / 2,
            "callback goroutine IDs should be reused: {} IDs for {} callbacks",
            distinct.len(),
            created.len()
        );
        let creating_generations: BTreeSet<u64> = t
            .of_type(EventType::GO_CREATE_SYSCALL)
            .map(|(gen, _)| *gen)
            .collect();
        assert!(creating_generations.len() >= 3, "{creating_generations:?}");
        let abandoned_steals = t
            .of_type(EventType::PROC_STEAL)
            .filter(|(_, e)| {
                matches!(
                    e.state_transition().unwrap().transition,
                    Transition::Proc {
                        from: ProcState::Idle,
                        ..
                    }
                )
            })
            .count();
        assert!(
            abandoned_steals >= 1,
            "no steal of a P left by an exited thread"
        );
    });
}

#[test]
fn gc_pressure() {
    with_scenario("gc-pressure", 3, |_, t| {
        let ranges = t.range_begins();
        for (name, at_least) in [
            ("GC concurrent mark phase", 3),
            ("GC incremental sweep", 10),
            ("stop-the-world (GC sweep termination)", 3),
            ("stop-the-world (GC mark termination)", 3),
        ] {
            let n = ranges.get(name).copied().unwrap_or(0);
            assert!(
                n >= at_least,
                "{n} ranges {name:?}, wanted {at_least}+: {ranges:?}"
            );
        }
        assert!(t.count(EventType::HEAP_GOAL) >= 3);
        assert!(t.count(EventType::HEAP_ALLOC) >= 100);
    });
}

#[test]
fn annotations() {
    with_scenario("annotations", 2, |_, t| {
        let begun: HashMap<u64, (u64, String)> = t
            .of_type(EventType::USER_TASK_BEGIN)
            .map(|(gen, e)| {
                let task = e.task().unwrap();
                (
                    task.id,
                    (*gen, String::from_utf8_lossy(task.task_type).into()),
                )
            })
            .collect();
        let mut types: Vec<&str> = begun.values().map(|(_, ty)| ty.as_str()).collect();
        types.sort();
        assert_eq!(
            types,
            ["request", "step0", "step1", "step2", "step3", "step4", "step5"]
        );
        // Every end names its task's type, even when the begin was generations earlier.
        let mut ended_later = 0;
        for (gen, e) in t.of_type(EventType::USER_TASK_END) {
            let task = e.task().unwrap();
            let (begin_gen, ty) = &begun[&task.id];
            assert_eq!(String::from_utf8_lossy(task.task_type), *ty);
            ended_later += usize::from(gen > begin_gen);
        }
        assert_eq!(t.count(EventType::USER_TASK_END), 7);
        assert!(ended_later >= 1, "no task outlived its generation");
        let regions = |typ| -> Vec<String> {
            t.of_type(typ)
                .map(|(_, e)| String::from_utf8_lossy(e.region().unwrap().region_type).into())
                .collect()
        };
        for typ in [EventType::USER_REGION_BEGIN, EventType::USER_REGION_END] {
            let names = regions(typ);
            assert_eq!(names.iter().filter(|n| *n == "compute").count(), 6);
            assert_eq!(names.iter().filter(|n| *n == "inner").count(), 6);
        }
        let logs: Vec<(String, String)> = t
            .of_type(EventType::USER_LOG)
            .map(|(_, e)| {
                let log = e.log().unwrap();
                (
                    String::from_utf8_lossy(log.category).into(),
                    String::from_utf8_lossy(log.message).into(),
                )
            })
            .collect();
        assert_eq!(logs.iter().filter(|(c, _)| c == "index").count(), 6);
        assert_eq!(logs.iter().filter(|(c, _)| c == "phase").count(), 6);
        assert!(
            logs.contains(&(String::new(), "unkeyed log".into())),
            "{logs:?}"
        );
    });
}

#[test]
fn gomaxprocs() {
    with_scenario("gomaxprocs", 5, |_, t| {
        let values: BTreeSet<u64> = t
            .of_type(EventType::PROCS_CHANGE)
            .map(|(_, e)| e.metric().unwrap().value)
            .collect();
        for n in [1, 2, 3, 4, 8] {
            assert!(
                values.contains(&n),
                "GOMAXPROCS {n} never traced: {values:?}"
            );
        }
        let stw = t.range_begins();
        assert!(
            stw.get("stop-the-world (GOMAXPROCS)").copied().unwrap_or(0) >= 6,
            "{stw:?}"
        );
    });
}

/// The file holds the last of three tracing sessions: its generations do not start at 1, and the
/// goroutines that lived through the earlier sessions appear only through their statuses.
#[test]
fn start_stop() {
    with_scenario("start-stop", 3, |trace, t| {
        let mut raw = RawReader::new(std::fs::File::open(trace).unwrap()).unwrap();
        let first_batch = std::iter::from_fn(|| raw.read_event().unwrap())
            .find(|e| e.typ == EventType::EVENT_BATCH)
            .expect("a batch");
        assert!(
            first_batch.args[0] > 2,
            "the third session should not start at generation {}",
            first_batch.args[0]
        );
        let created: HashSet<i64> = t
            .go_transitions(GoState::NotExist, GoState::Runnable)
            .map(|(_, _, g)| g)
            .collect();
        let destroyed_from_before = t
            .go_transitions(GoState::Running, GoState::NotExist)
            .filter(|(_, _, g)| !created.contains(g))
            .count();
        assert!(
            destroyed_from_before >= 10,
            "pipe readers, waiters and spinners from earlier sessions end in this one: {destroyed_from_before}"
        );
        let found_in_syscall = t
            .go_transitions(GoState::Undetermined, GoState::Syscall)
            .filter(|(gen, _, _)| *gen == 1)
            .count();
        assert!(
            found_in_syscall >= 2,
            "pipe readers found in read(2): {found_in_syscall}"
        );
    });
}

/// The benchmark's workload, briefly: a mix of all the above in one trace.
#[test]
fn busy() {
    with_scenario("busy", 3, |_, t| {
        for typ in [
            EventType::GC_BEGIN,
            EventType::USER_TASK_BEGIN,
            EventType::USER_REGION_BEGIN,
            EventType::GO_SYSCALL_BEGIN,
            EventType::GO_UNBLOCK,
        ] {
            assert!(t.count(typ) > 0, "no {typ:?} in the busy mix");
        }
    });
}
