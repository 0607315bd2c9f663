//! Names the PCs of a trace's stack frames after the firmware's functions: `gotrace symbolize`,
//! and the last step of `gotrace record`.
//!
//! The device writes each stack frame as a bare PC, its function, file and line 0: it has no
//! symbols, and its trace must be valid without them. `go tool trace` names a goroutine after the
//! function of its start frame, so a device trace shows every task unnamed. This pass adds the
//! name of the function holding each frame's PC (from the ELF's symbol table), and the source file
//! of the PC (from its DWARF line tables), to the frame's generation as new `String` events, in
//! strings batches of their own placed after the generation's strings, and points the frame at
//! them, with the line. Everything else is copied unchanged, event for event; a frame that
//! already names its function (or its file and line) keeps them, and a PC the ELF does not know
//! stays bare.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{ensure, Context, Result};
use gotrace_decoder::raw::{self, Event, FRAME_FIELDS};
use gotrace_wire::{EventType, Version, MAX_BATCH_SIZE, MAX_EVENT_TRAILER_DATA_SIZE, NO_THREAD};

use crate::record::elf::{Firmware, Functions, Lines};

/// `gotrace symbolize`: names the stack frames of a binary trace after the ELF's functions.
#[derive(clap::Args)]
pub struct Args {
    /// The binary trace, as `gotrace record` or the device wrote it.
    trace: PathBuf,
    /// The firmware ELF the trace was recorded from.
    #[arg(long)]
    elf: PathBuf,
    /// Where to write the named trace (default: over TRACE).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let firmware = Firmware::load(&args.elf)?;
    let trace =
        std::fs::read(&args.trace).with_context(|| format!("reading {}", args.trace.display()))?;
    let named = symbolize(&trace, &firmware.functions, &firmware.lines)
        .with_context(|| format!("naming the stack frames of {}", args.trace.display()))?;
    let output = args.output.as_ref().unwrap_or(&args.trace);
    std::fs::write(output, &named.trace)
        .with_context(|| format!("writing {}", output.display()))?;
    println!("{}: {}", output.display(), named.summary());
    Ok(ExitCode::SUCCESS)
}

/// A trace with its stack frames named.
#[derive(Debug)]
pub struct Symbolized {
    /// The binary trace, header included.
    pub trace: Vec<u8>,
    /// Frames given a function name, in all generations.
    pub frames: u64,
    /// Distinct function names used, over all generations.
    pub functions: u64,
    /// Frames given a source file and line.
    pub lines: u64,
}

impl Symbolized {
    /// What was named, in one line.
    pub fn summary(&self) -> String {
        format!(
            "{} stack frames named after {} functions of the ELF, {} with their source line",
            self.frames, self.functions, self.lines
        )
    }
}

/// One batch as read: its `EventBatch` header and its events.
struct Batch {
    header: Event,
    events: Vec<Event>,
    /// An event was changed: the header's size is recomputed when written.
    changed: bool,
}

impl Batch {
    fn generation(&self) -> u64 {
        self.header.args.first().copied().unwrap_or(0)
    }

    fn is_strings(&self) -> bool {
        self.events
            .first()
            .is_some_and(|e| e.typ == EventType::STRINGS)
    }
}

/// Names the stack frames of the binary trace `trace` after `functions`, with the source lines of
/// `lines`.
pub fn symbolize(trace: &[u8], functions: &Functions, lines: &Lines) -> Result<Symbolized> {
    let mut reader = raw::Reader::new(trace)?;
    let version = reader.version();
    let mut batches: Vec<Batch> = Vec::new();
    while let Some(event) = reader.read_event()? {
        if event.typ == EventType::EVENT_BATCH {
            batches.push(Batch {
                header: event,
                events: Vec::new(),
                changed: false,
            });
        } else {
            let batch = batches
                .last_mut()
                .context("an event before the first batch")?;
            batch.events.push(event);
        }
    }

    let mut out = Vec::with_capacity(batches.len());
    let mut named = Named::default();
    let mut all_names = HashSet::new();
    let mut rest = batches.into_iter().peekable();
    while let Some(first) = rest.next() {
        // One generation: its batches are contiguous.
        let gen = first.generation();
        let mut generation = vec![first];
        while let Some(batch) = rest.next_if(|b| b.generation() == gen) {
            generation.push(batch);
        }
        let mut names = Names::after(&generation);
        for batch in &mut generation {
            for event in batch
                .events
                .iter_mut()
                .filter(|e| e.typ == EventType::STACK)
            {
                let before = named;
                name_frames(event, functions, lines, &mut names, &mut named);
                batch.changed |= named != before;
            }
        }
        all_names.extend(names.functions.iter().cloned());
        let added = names.into_batches(version, &generation)?;
        // The new strings go right after the generation's own (or at its end without any).
        let at = generation
            .iter()
            .rposition(Batch::is_strings)
            .map_or(generation.len(), |i| i + 1);
        generation.splice(at..at, added);
        out.extend(generation);
    }

    let mut writer = raw::Writer::new(Vec::with_capacity(trace.len()), version)?;
    for mut batch in out {
        if batch.changed {
            let size: usize = batch.events.iter().map(Event::encoded_len).sum();
            ensure!(
                size as u64 <= MAX_BATCH_SIZE,
                "a stack batch of generation {} would grow past Go's batch limit ({size} bytes)",
                batch.generation()
            );
            if let Some(field) = batch.header.args.get_mut(3) {
                *field = size as u64;
            }
        }
        writer.write_event(&batch.header)?;
        for event in &batch.events {
            writer.write_event(event)?;
        }
    }
    Ok(Symbolized {
        trace: writer.into_inner(),
        frames: named.functions,
        functions: all_names.len() as u64,
        lines: named.lines,
    })
}

/// Frames given a function, and frames given a source line.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Named {
    functions: u64,
    lines: u64,
}

/// The strings (function names, file paths) added to one generation, and the string IDs they
/// take: after the largest ID the generation already has.
struct Names {
    next_id: u64,
    ids: HashMap<String, u64>,
    /// In ID order.
    added: Vec<(u64, String)>,
    /// Those used as function names.
    functions: HashSet<String>,
}

impl Names {
    fn after(generation: &[Batch]) -> Self {
        let largest = generation
            .iter()
            .flat_map(|b| &b.events)
            .filter(|e| e.typ == EventType::STRING)
            .filter_map(|e| e.args.first().copied())
            .max()
            .unwrap_or(0);
        Names {
            next_id: largest + 1,
            ids: HashMap::new(),
            added: Vec::new(),
            functions: HashSet::new(),
        }
    }

    fn id(&mut self, name: &str) -> u64 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.ids.insert(name.to_owned(), id);
        self.added.push((id, name.to_owned()));
        id
    }

    /// The added names as strings batches of `generation`, each within Go's batch size limit.
    fn into_batches(self, version: Version, generation: &[Batch]) -> Result<Vec<Batch>> {
        let Some(last) = generation.last() else {
            return Ok(Vec::new());
        };
        // The time of the generation's strings batch, else of its last batch: table batches'
        // times are not read by Go, but keep them in the generation's span.
        let time = generation
            .iter()
            .rfind(|b| b.is_strings())
            .unwrap_or(last)
            .header
            .args
            .get(2)
            .copied()
            .unwrap_or(0);
        let event = |typ, args, data| event(version, typ, args, data);
        let mut batches: Vec<Batch> = Vec::new();
        for (id, name) in self.added {
            let string = event(EventType::STRING, vec![id], truncated(&name).to_vec());
            let full = batches.last().is_none_or(|b| {
                let size: usize = b.events.iter().map(Event::encoded_len).sum();
                (size + string.encoded_len()) as u64 > MAX_BATCH_SIZE
            });
            if full {
                let header = vec![last.generation(), NO_THREAD, time, 0];
                batches.push(Batch {
                    header: event(EventType::EVENT_BATCH, header, Vec::new()),
                    events: vec![event(EventType::STRINGS, Vec::new(), Vec::new())],
                    changed: true,
                });
            }
            batches
                .last_mut()
                .context("a strings batch was just made")?
                .events
                .push(string);
        }
        Ok(batches)
    }
}

fn event(version: Version, typ: EventType, args: Vec<u64>, data: Vec<u8>) -> Event {
    Event {
        version,
        typ,
        args,
        data,
    }
}

/// Points every frame of the `Stack` event `event` without a function at the function of
/// `functions` that holds its PC, and every frame without file and line at the source line of
/// `lines` of its PC, counting them in `named`.
fn name_frames(
    event: &mut Event,
    functions: &Functions,
    lines: &Lines,
    names: &mut Names,
    named: &mut Named,
) {
    let fixed = event.spec().map_or(0, |s| s.args.len());
    let Some(frames) = event.args.get_mut(fixed..) else {
        return;
    };
    for frame in frames.chunks_exact_mut(FRAME_FIELDS.len()) {
        let [pc, func, file, line] = frame else {
            continue;
        };
        if *func == 0 {
            if let Some(name) = functions.at(*pc) {
                *func = names.id(name);
                names.functions.insert(name.to_owned());
                named.functions += 1;
            }
        }
        if (*file, *line) == (0, 0) {
            if let Some((path, number)) = lines.at(*pc) {
                *file = names.id(path);
                *line = number.into();
                named.lines += 1;
            }
        }
    }
}

/// `name`'s bytes, cut to the longest string Go reads (at a character boundary).
fn truncated(name: &str) -> &[u8] {
    let limit = MAX_EVENT_TRAILER_DATA_SIZE as usize;
    let mut end = name.len().min(limit);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name.as_bytes()[..end]
}

#[cfg(test)]
mod tests {
    use gotrace_wire::{go_status, proc_status};

    use super::*;

    fn event(typ: EventType, args: &[u64], data: &[u8]) -> Event {
        super::event(Version::Go122, typ, args.to_vec(), data.to_vec())
    }

    /// A binary trace of `batches`: (generation, M, time, events), each with its size.
    fn trace(batches: &[(u64, u64, u64, Vec<Event>)]) -> Vec<u8> {
        let mut writer = raw::Writer::new(Vec::new(), Version::Go122).unwrap();
        for (gen, m, time, events) in batches {
            let size: usize = events.iter().map(Event::encoded_len).sum();
            let header = [*gen, *m, *time, size as u64];
            writer
                .write_event(&event(EventType::EVENT_BATCH, &header, &[]))
                .unwrap();
            for e in events {
                writer.write_event(e).unwrap();
            }
        }
        writer.into_inner()
    }

    /// One generation: G1 running on P0 and M0 creates G<gen + 1> with stack 1 (one frame at 0x1001)
    /// from stack 2 (a frame at 0x2001, in no function, and one at 0x1005 already named
    /// "main.caller", string 1, when the generation has strings; else unnamed).
    fn generation(gen: u64, with_strings: bool) -> Vec<(u64, u64, u64, Vec<Event>)> {
        let mut batches = vec![
            (
                gen,
                0,
                10 * gen,
                vec![
                    event(EventType::PROC_STATUS, &[0, 0, proc_status::RUNNING], &[]),
                    event(EventType::GO_STATUS, &[0, 1, 0, go_status::RUNNING], &[]),
                    event(EventType::GO_CREATE, &[1, gen + 1, 1, 2], &[]),
                ],
            ),
            (
                gen,
                NO_THREAD,
                10 * gen + 5,
                vec![event(EventType::FREQUENCY, &[1_000_000_000], &[])],
            ),
            (
                gen,
                NO_THREAD,
                10 * gen + 5,
                vec![
                    event(EventType::STACKS, &[], &[]),
                    event(EventType::STACK, &[1, 1, 0x1001, 0, 0, 0], &[]),
                    event(
                        EventType::STACK,
                        &[2, 2, 0x2001, 0, 0, 0, 0x1005, u64::from(with_strings), 0, 7],
                        &[],
                    ),
                ],
            ),
        ];
        if with_strings {
            batches.push((
                gen,
                NO_THREAD,
                10 * gen + 5,
                vec![
                    event(EventType::STRINGS, &[], &[]),
                    event(EventType::STRING, &[1], b"main.caller"),
                ],
            ));
        }
        batches
    }

    /// 0x1000 to 0x1004 at line 3 of task.rs, then line 4; 0x2000 to 0x2010 at line 9 of
    /// other.rs.
    fn lines() -> Lines {
        let files = vec!["/src/task.rs".to_owned(), "/src/other.rs".to_owned()];
        Lines::new(
            vec![
                (0x1000, Some((0, 3))),
                (0x1004, Some((0, 4))),
                (0x1100, None),
                (0x2000, Some((1, 9))),
                (0x2010, None),
            ],
            files,
        )
    }

    fn functions() -> Functions {
        Functions::new([
            (0x1000, 0x100, "firmware::task_a".to_owned()),
            (0x3000, 0x10, "firmware::other".to_owned()),
        ])
    }

    /// The validated events of `trace`, in `go tool trace -d=parsed`'s form.
    fn parsed(trace: &[u8]) -> String {
        let mut reader = gotrace_decoder::Reader::new(trace).unwrap();
        let mut out = String::new();
        while let Some(event) = reader.read_event().unwrap() {
            out.push_str(&format!("{event}\n"));
        }
        out
    }

    /// The raw events of `trace`, in Go's text form.
    fn wire(trace: &[u8]) -> String {
        raw::binary_to_text(trace).unwrap()
    }

    #[test]
    fn frames_get_their_function_and_source_line_and_the_trace_stays_valid() {
        let before: Vec<_> = [generation(1, true), generation(2, false)].concat();
        let device = trace(&before);
        let bare = parsed(&device);
        assert!(bare.contains("\t @ 0x1001\n\t\t:0\n"), "{bare}");

        let named = symbolize(&device, &functions(), &lines()).unwrap();
        // Functions: 0x1001 in both generations, 0x1005 in generation 2 (generation 1 names it
        // already). Lines: 0x1001 and 0x2001 in both (0x1005 has its line 7 already).
        assert_eq!(
            (named.frames, named.functions, named.lines),
            (3, 1, 4),
            "{}",
            named.summary()
        );
        let events = parsed(&named.trace);
        let count = |frame: &str| events.matches(frame).count();
        // The new goroutine's start frame, in both generations.
        assert_eq!(
            count("\tfirmware::task_a @ 0x1001\n\t\t/src/task.rs:3\n"),
            2,
            "{events}"
        );
        // A PC in no function keeps no name but gets its line; a frame's own names stay.
        assert_eq!(count("\t @ 0x2001\n\t\t/src/other.rs:9\n"), 2, "{events}");
        assert_eq!(count("\tmain.caller @ 0x1005\n\t\t:7\n"), 1, "{events}");
        assert_eq!(
            count("\tfirmware::task_a @ 0x1005\n\t\t:7\n"),
            1,
            "{events}"
        );

        let text = wire(&named.trace);
        let added = |first: u64| {
            format!(
                "Strings\nString id={first}\n\tdata=\"firmware::task_a\"\nString id={}\n\tdata=\"/src/task.rs\"\nString id={}\n\tdata=\"/src/other.rs\"\n",
                first + 1,
                first + 2
            )
        };
        // Generation 1 had string 1: the new strings take 2 to 4, in a strings batch after it;
        // generation 2 had none: they take 1 to 3, in a strings batch at the generation's end.
        let after_first = "data=\"main.caller\"\nEventBatch gen=1 m=18446744073709551615 time=15 ";
        assert!(text.contains(after_first), "{text}");
        assert!(text.contains(&added(2)), "{text}");
        assert!(text.ends_with(&added(1)), "{text}");
        assert!(text.contains("pc=4097 func=2 file=3 line=3"), "{text}");
        assert!(text.contains("pc=4097 func=1 file=2 line=3"), "{text}");
        assert_eq!(
            text.matches("pc=4101 func=1 file=0 line=7").count(),
            2,
            "{text}"
        );
    }

    #[test]
    fn a_trace_with_nothing_to_name_is_copied_byte_for_byte() {
        let device = trace(&generation(1, true));
        let named = symbolize(&device, &Functions::default(), &Lines::default()).unwrap();
        assert_eq!((named.frames, named.functions, named.lines), (0, 0, 0));
        assert_eq!(named.trace, device);
    }

    #[test]
    fn many_long_names_are_split_into_batches_within_the_limit() {
        // Two stacks of 100 frames, each frame in a function of its own with a 1000-byte name:
        // 200 KB of strings.
        let pcs: Vec<u64> = (0..200).map(|i| 0x10_000 + 0x100 * i).collect();
        let mut batches = generation(1, true);
        for (id, half) in (1..).zip(pcs.chunks(100)) {
            let mut args = vec![id, half.len() as u64];
            for &pc in half {
                args.extend([pc, 0, 0, 0]);
            }
            batches[2].3[id as usize] = event(EventType::STACK, &args, &[]);
        }
        let functions = Functions::new(pcs.iter().map(|&pc| (pc, 0x10, format!("{pc:0>1000}"))));
        let named = symbolize(&trace(&batches), &functions, &Lines::default()).unwrap();
        assert_eq!((named.frames, named.functions), (200, 200));
        let mut reader = raw::Reader::new(named.trace.as_slice()).unwrap();
        let mut strings_batches = 0;
        while let Some(e) = reader.read_event().unwrap() {
            if e.typ == EventType::EVENT_BATCH {
                assert!(e.args[3] <= MAX_BATCH_SIZE, "{e}");
            }
            strings_batches += usize::from(e.typ == EventType::STRINGS);
        }
        assert_eq!(strings_batches, 1 + 4, "200 KB of names in 64 KiB batches");
        let events = parsed(&named.trace);
        assert!(
            events.contains(&format!("\t{:0>1000} @ 0x10000\n", 0x10_000)),
            "{events}"
        );
    }

    #[test]
    fn names_longer_than_go_reads_are_cut_at_a_character_boundary() {
        let name = "é".repeat(600);
        let cut = truncated(&name);
        assert_eq!(cut.len(), 1024);
        assert!(std::str::from_utf8(cut).is_ok());
        assert_eq!(truncated("short"), b"short");
    }

    #[test]
    fn a_damaged_trace_is_an_error_not_a_panic() {
        let mut device = trace(&generation(1, true));
        device.truncate(device.len() - 3);
        let error = symbolize(&device, &functions(), &lines()).unwrap_err();
        assert!(
            format!("{error:#}").contains("byte 106 (String): truncated trace"),
            "{error:#}"
        );
    }
}
