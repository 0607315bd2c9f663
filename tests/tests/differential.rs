//! Differential tests against Go's own tools, on every Go vector (1.22 to 1.26) and on traces
//! built here: `gotrace events` prints what `go tool trace -d=parsed` prints (errors included),
//! `gotrace dump` prints the event lines of `go tool trace -d=wire`, and the text form converts
//! back to the same bytes. (The mutation test extends the `events` comparison to hundreds of
//! derived traces.)

use std::path::Path;

use gotrace_decoder::raw::{binary_to_text, text_to_binary, Event, Writer};
use gotrace_go_oracle::{require_go, Go, Mode};
use gotrace_tests::cli::gotrace;
use gotrace_tests::generate::{generate, Shape};
use gotrace_tests::scratch_file;
use gotrace_tests::vectors::{all_vectors, go122_vectors, Vector};
use gotrace_wire::{EventType, Version};

/// `gotrace dump`'s output without its `Trace Go1.N` header line.
fn dump_events(path: &Path) -> String {
    let run = gotrace([Path::new("dump"), path]);
    assert_eq!(
        run.code,
        0,
        "gotrace dump {}: {}",
        path.display(),
        run.stderr
    );
    let (header, events) = run.stdout.split_once('\n').expect("a header line");
    assert!(header.starts_with("Trace Go1."), "{header}");
    events.to_owned()
}

/// Runs `check` on each of the vectors `vectors` lists, with Go; does nothing when Go is not
/// usable on a developer's machine (fails in CI).
fn for_each_vector(
    test: &str,
    vectors: fn(&Go) -> Vec<Vector>,
    mut check: impl FnMut(&Go, &Vector),
) {
    let Some(go) = require_go(test) else {
        return;
    };
    for vector in vectors(&go) {
        check(&go, &vector);
    }
}

#[test]
fn dump_prints_go_wire_lines_on_every_vector() {
    // Every version's vectors: the raw layer reads them all.
    for_each_vector(
        "dump_prints_go_wire_lines_on_every_vector",
        all_vectors,
        |go, vector| {
            let file = vector.binary_file();
            let wire = go.trace(Mode::Wire, &file).unwrap();
            assert!(
                wire.accepted(),
                "{}: Go's raw reader failed: {:?}",
                vector.name,
                wire.error
            );
            assert_eq!(
                dump_events(&file),
                wire.stdout,
                "{}: binary input",
                vector.name
            );
            assert_eq!(
                dump_events(&vector.path),
                wire.stdout,
                "{}: .test input",
                vector.name
            );
        },
    );
}

#[test]
fn events_prints_go_parsed_lines_on_every_vector() {
    for_each_vector(
        "events_prints_go_parsed_lines_on_every_vector",
        all_vectors,
        |go, vector| {
            let file = vector.binary_file();
            let parsed = go.trace(Mode::Parsed, &file).unwrap();
            let run = gotrace([Path::new("events"), &file]);
            assert!(
                run.stdout == parsed.stdout,
                "{}: events differ from -d=parsed",
                vector.name
            );
            match &parsed.error {
                None => assert_eq!(run.code, 0, "{}: {}", vector.name, run.stderr),
                Some(go_error) => {
                    assert_eq!(run.code, 1, "{}: Go rejected: {go_error}", vector.name);
                    let ours = run.stderr.trim_end();
                    let message = ours
                        .strip_prefix(&format!("{}: ", file.display()))
                        .unwrap_or(ours);
                    assert!(
                        message.starts_with(go_error.as_str()),
                        "{}: {ours} / Go: {go_error}",
                        vector.name
                    );
                }
            }
            // The .test file itself gives the same stream, verdict and message.
            let from_test = gotrace([Path::new("events"), &vector.path]);
            assert!(
                from_test.stdout == parsed.stdout,
                "{}: .test input",
                vector.name
            );
            assert_eq!(from_test.code, run.code, "{}: .test input", vector.name);
            // Where differs by form: a line of the text in a .test file, a byte offset in the
            // binary.
            let message = |stderr: &str, path: &Path| {
                let prefix = format!("{}: ", path.display());
                let message = stderr.strip_prefix(&prefix).unwrap_or(stderr);
                message
                    .split(" (generation ")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            };
            assert_eq!(
                message(&from_test.stderr, &vector.path),
                message(&run.stderr, &file),
                "{}: .test input",
                vector.name
            );
        },
    );
}

#[test]
fn binary_text_binary_round_trips_on_every_vector() {
    for_each_vector(
        "binary_text_binary_round_trips_on_every_vector",
        go122_vectors,
        |_, vector| {
            let text = binary_to_text(&vector.binary[..]).unwrap();
            let back = text_to_binary(text.as_bytes()).unwrap();
            assert!(
                back == vector.binary,
                "{}: bytes differ after text round trip",
                vector.name
            );
            // The same through the CLI: dumping the dumped text gives the same text.
            let text_file = scratch_file(&format!("{}.txt", vector.name), text.as_bytes());
            let run = gotrace([Path::new("dump"), &text_file]);
            assert_eq!(run.stdout, text, "{}: dump of the text form", vector.name);
        },
    );
}

/// Multi-generation traces from the generator, small enough to compare line by line.
#[test]
fn events_and_dump_match_go_on_generated_traces() {
    let Some(go) = require_go("events_and_dump_match_go_on_generated_traces") else {
        return;
    };
    for seed in 1..=3 {
        let shape = Shape {
            seed,
            procs: 1 + seed,
            goroutines_per_proc: 2 + 3 * seed,
            generation_bytes: 40 << 10,
            total_bytes: 200 << 10,
        };
        let (binary, generations) = generate(shape);
        assert!(generations >= 4, "{generations} generations");
        let file = scratch_file(&format!("generated-{seed}.trace"), &binary);
        let parsed = go.trace(Mode::Parsed, &file).unwrap();
        assert!(
            parsed.accepted(),
            "seed {seed}: Go rejects the generated trace: {:?}",
            parsed.error
        );
        let run = gotrace([Path::new("events"), &file]);
        assert_eq!(run.code, 0, "seed {seed}: {}", run.stderr);
        assert!(
            run.stdout == parsed.stdout,
            "seed {seed}: events differ from -d=parsed"
        );
        let wire = go.trace(Mode::Wire, &file).unwrap();
        assert!(
            dump_events(&file) == wire.stdout,
            "seed {seed}: dump differs from -d=wire"
        );
        let text = binary_to_text(&binary[..]).unwrap();
        assert!(
            text_to_binary(text.as_bytes()).unwrap() == binary,
            "seed {seed}: text round trip"
        );
    }
}

fn event(typ: EventType, args: &[u64], data: &[u8]) -> Event {
    Event {
        version: Version::Go122,
        typ,
        args: args.to_vec(),
        data: data.to_vec(),
    }
}

/// Raw events Go's vectors do not exercise: unusual string bytes, the largest stack, the
/// largest numbers. `-d=wire` does not validate, so this needs no valid trace around them.
fn unusual_raw_trace() -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), Version::Go122).unwrap();
    let strings: [&[u8]; 7] = [
        b"plain",
        b"quotes \" and \\ backslash",
        b"\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x7f",
        b"\xff\xfe invalid \xc3 utf-8 \xe2\x82",
        "unicode é ü 漢字 😀 \u{a0} \u{200b} \u{2028} \u{e000} \u{fffd} \u{85}".as_bytes(),
        &[b'x'; 1024],
        b"",
    ];
    w.write_event(&event(EventType::EVENT_BATCH, &[1, u64::MAX, 0, 0], b""))
        .unwrap();
    w.write_event(&event(EventType::STRINGS, &[], b"")).unwrap();
    for (id, data) in strings.iter().enumerate() {
        w.write_event(&event(EventType::STRING, &[id as u64 + 1], data))
            .unwrap();
    }
    let mut stack = vec![1, 128];
    for i in 0..128u64 {
        stack.extend([0x40_0000 + i, i, i + 1, u64::MAX - i]);
    }
    w.write_event(&event(EventType::STACKS, &[], b"")).unwrap();
    w.write_event(&event(EventType::STACK, &stack, b""))
        .unwrap();
    w.write_event(&event(EventType::STACK, &[2, 0], b""))
        .unwrap();
    w.write_event(&event(
        EventType::EVENT_BATCH,
        &[u64::MAX, 0, u64::MAX, 65536],
        b"",
    ))
    .unwrap();
    w.write_event(&event(
        EventType::GO_CREATE,
        &[u64::MAX, 1 << 63, 0, 127],
        b"",
    ))
    .unwrap();
    w.write_event(&event(EventType::USER_LOG, &[1, 2, 3, 4, 5], b""))
        .unwrap();
    w.into_inner()
}

#[test]
fn events_prints_names_that_are_not_utf8_byte_for_byte_as_go_does() {
    let Some(go) = require_go("events_prints_names_that_are_not_utf8_byte_for_byte_as_go_does")
    else {
        return;
    };
    // The strings of a vector with stacks, regions, tasks and logs, their first byte (if a
    // letter, one byte, so that the batches' sizes hold) made one that is not UTF-8: Go prints a
    // stack frame's function and file as their bytes are and quotes the others, escaping the
    // byte. The trace stays valid: strings are not checked for UTF-8.
    let vector = go122_vectors(&go)
        .into_iter()
        .find(|v| v.name == "go122-annotations")
        .expect("Go's go122-annotations vector");
    let text = binary_to_text(&vector.binary[..]).unwrap();
    let mut parts = text.split("\tdata=\"");
    let mut text = parts.next().unwrap().to_owned();
    for part in parts {
        text.push_str("\tdata=\"");
        match part.strip_prefix(|c: char| c.is_ascii_alphabetic()) {
            Some(rest) => text.extend(["\\xc4", rest]),
            None => text.push_str(part),
        }
    }
    let trace = scratch_file(
        "names-not-utf8.trace",
        &text_to_binary(text.as_bytes()).unwrap(),
    );
    let bytes_of = |mut command: std::process::Command| {
        let out = command.arg(&trace).output().unwrap();
        assert!(out.status.success(), "{command:?}: {out:?}");
        out.stdout
    };
    let mut ours = std::process::Command::new(gotrace_tests::cli::binary());
    ours.arg("events");
    let mut gos = go.command();
    gos.args(["tool", "trace", "-d=parsed"]);
    let (ours, gos) = (bytes_of(ours), bytes_of(gos));
    assert!(
        gos.windows(3).any(|w| w == b"\n\t\xc4"),
        "no frame named with the byte in Go's output"
    );
    let at = ours.iter().zip(&gos).take_while(|(a, b)| a == b).count();
    let around = |bytes: &[u8]| {
        bytes[at.saturating_sub(40)..(at + 40).min(bytes.len())]
            .escape_ascii()
            .to_string()
    };
    assert!(
        ours == gos,
        "from byte {at}: ours {:?}, Go {:?}",
        around(&ours),
        around(&gos)
    );
}

#[test]
fn dump_prints_go_wire_lines_on_unusual_raw_events() {
    let Some(go) = require_go("dump_prints_go_wire_lines_on_unusual_raw_events") else {
        return;
    };
    let binary = unusual_raw_trace();
    let file = scratch_file("unusual.trace", &binary);
    let wire = go.trace(Mode::Wire, &file).unwrap();
    assert!(wire.accepted(), "Go's raw reader failed: {:?}", wire.error);
    let ours = dump_events(&file);
    for (i, (a, b)) in ours.lines().zip(wire.stdout.lines()).enumerate() {
        assert_eq!(a, b, "line {i}");
    }
    assert_eq!(ours, wire.stdout);
    let text = binary_to_text(&binary[..]).unwrap();
    assert!(
        text_to_binary(text.as_bytes()).unwrap() == binary,
        "text round trip"
    );
}
