//! The Go 1.26 format, whose generations end with an explicit `EndOfGeneration` and whose Sync
//! batches carry a clock snapshot: a small trace read like Go reads it, and its broken forms
//! rejected with Go's errors.

mod support;

use gotrace_wire::varint;

const GENERATION_1: &str = "EventBatch gen=1 m=0 time=10 size=17
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=2
ProcsChange dt=1 procs_value=4 stack=0
GoStop dt=1 reason_string=0 stack=0
EventBatch gen=1 m=18446744073709551615 time=9 size=16
Sync
Frequency freq=1000000000
ClockSnapshot dt=1 mono=99 sec=1740755049 nsec=123
EventBatch gen=1 m=18446744073709551615 time=0 size=1
Stacks
EventBatch gen=1 m=18446744073709551615 time=0 size=1
Strings
";

const GENERATION_2: &str = "EventBatch gen=2 m=0 time=30 size=11
ProcStatus dt=1 p=0 pstatus=1
GoStatus dt=1 g=1 m=0 gstatus=1
ProcStop dt=1
EventBatch gen=2 m=18446744073709551615 time=29 size=17
Sync
Frequency freq=1000000000
ClockSnapshot dt=1 mono=199 sec=1740755050 nsec=0
";

fn trace(parts: &[&str]) -> Vec<u8> {
    support::to_binary(&format!("Trace Go1.26\n{}", parts.concat()))
}

fn cases() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let end = "EndOfGeneration\n";
    vec![
        (
            "go126-two-generations",
            trace(&[GENERATION_1, end, GENERATION_2, end]),
            None,
        ),
        (
            "go126-missing-end",
            trace(&[GENERATION_1, GENERATION_2, end]),
            Some("broken trace: missing end-of-generation event, or generations are interleaved"),
        ),
        (
            "go126-truncated",
            trace(&[GENERATION_1, end, GENERATION_2]),
            Some("incomplete generation found; trace likely truncated"),
        ),
    ]
}

#[test]
fn go126_traces_get_gos_verdict() {
    for (name, bytes, expected) in cases() {
        let outcome = support::run_ours(&bytes);
        assert_eq!(
            outcome.error.as_ref().map(|e| e.go_message()).as_deref(),
            expected,
            "{name}"
        );
    }
    let truncated = support::run_ours(&cases()[2].1).error.unwrap();
    assert_eq!(
        truncated.location().generation,
        Some(2),
        "the unfinished generation is named: {truncated}"
    );
    let outcome = support::run_ours(&cases()[0].1);
    assert!(
        outcome.printed.starts_with(
            "M=-1 P=-1 G=-1 Sync Time=1 N=1 Trace=10 Mono=99 Wall=2025-02-28T15:04:09.000000123Z\n"
        ),
        "{}",
        outcome.printed
    );
}

#[test]
fn go126_traces_print_like_go() {
    let traces: Vec<(&str, Vec<u8>)> = cases()
        .into_iter()
        .map(|(name, bytes, _)| (name, bytes))
        .collect();
    support::assert_like_go("go126 traces against Go", &traces);
}

/// Wall clocks at the edges of Go's time arithmetic: Go counts seconds from its absolute epoch
/// (year -292277022400) in a u64 that wraps, so a time before that epoch prints in the far
/// future. We printed the year as it is (a negative year of about -292277022657) where Go
/// wraps (292277026596-12-04T15:30:08Z for sec 2^63).
#[test]
fn wall_clocks_at_the_edges_print_like_go() {
    let secs_nsecs = [
        (1u64 << 63, 0u64),                        // i64::MIN
        (u64::MAX - 9_223_372_028_741_760_000, 0), // the second before Go's absolute epoch
        (u64::MAX - 9_223_372_028_741_759_999, 0), // Go's absolute epoch
        (u64::MAX - 9_223_372_028_741_760_000, 999_999_999),
        ((1 << 63) - 1, 999_999_999),   // i64::MAX
        ((1 << 63) - 1, 1_000_000_000), // i64::MAX carried over
        (u64::MAX, u64::MAX),           // -1 s and -1 ns
        (253_402_300_800, 0),           // year 10000
        (u64::MAX - 62_135_596_799, 5), // year 1
    ];
    let traces: Vec<(String, Vec<u8>)> = secs_nsecs
        .iter()
        .map(|&(sec, nsec)| {
            // The Sync batch's size: Sync, Frequency, and ClockSnapshot's type, dt and mono
            // take 10 bytes.
            let size = 10 + varint::encoded_len(sec) + varint::encoded_len(nsec);
            let generation = GENERATION_1
                .replace("sec=1740755049 nsec=123", &format!("sec={sec} nsec={nsec}"))
                .replace("time=9 size=16", &format!("time=9 size={size}"));
            (
                format!("sec={sec} nsec={nsec}"),
                trace(&[&generation, "EndOfGeneration\n"]),
            )
        })
        .collect();
    let traces: Vec<(&str, Vec<u8>)> = traces
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.clone()))
        .collect();
    support::assert_like_go("wall clocks at the edges against Go", &traces);
}
