//! Names the PCs of a trace's stack frames after the firmware's functions: `gotrace symbolize`,
//! and `gotrace record` for each generation as it completes.
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
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, ensure, Context, Result};
use gotrace_decoder::input::{Format, Input};
use gotrace_decoder::raw::{self, Event, FRAME_FIELDS};
use gotrace_wire::{
    EventType, Version, HEADER_LEN, MAX_BATCH_SIZE, MAX_EVENT_TRAILER_DATA_SIZE, NO_THREAD,
};

use crate::record::elf::{Firmware, Functions, Lines};
use crate::record::segments::refuse_the_elf;
use crate::stdout::{self, errln, outln};

/// `gotrace symbolize`: names the stack frames of a binary trace after the ELF's functions.
#[derive(clap::Args)]
pub struct Args {
    /// The binary trace, as `gotrace record` or the device wrote it; `-` reads standard input.
    trace: PathBuf,
    /// The firmware ELF the trace was recorded from.
    #[arg(long)]
    elf: PathBuf,
    /// Where to write the named trace, `-` for standard output (default: over TRACE; standard
    /// output when TRACE is `-`).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let stdio = Path::new("-");
    let output = args.output.as_deref().unwrap_or(&args.trace);
    refuse_the_elf(output, &args.elf)?;
    let firmware = Firmware::load_arm(&args.elf)?;
    if let Some(warning) = firmware.unnamed_warning(&args.elf) {
        errln!("warning: {warning}");
    }
    let trace = if args.trace == stdio {
        let mut trace = Vec::new();
        std::io::stdin()
            .read_to_end(&mut trace)
            .context("reading standard input")?;
        trace
    } else {
        std::fs::read(&args.trace).with_context(|| format!("reading {}", args.trace.display()))?
    };
    let source = if args.trace == stdio {
        "standard input".to_owned()
    } else {
        args.trace.display().to_string()
    };
    binary_only(&trace, &source)?;
    let named = symbolize(&trace, &firmware.functions, &firmware.lines)
        .with_context(|| format!("naming the stack frames of {source}"))?;
    if output == stdio {
        // The trace is the output: what naming did goes to stderr.
        let mut out = std::io::stdout().lock();
        out.write_all(&named.trace)
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
        errln!("{}", named.naming.summary());
        return Ok(ExitCode::SUCCESS);
    }
    replace(output, &named.trace)?;
    outln!("{}: {}", output.display(), named.naming.summary());
    stdout::check()?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `output` beside it and renames them over it: a failed write must not lose a
/// recording named in place.
fn replace(output: &Path, bytes: &[u8]) -> Result<()> {
    let partial = output.with_extension("symbolize-partial");
    let written = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, output));
    if written.is_err() {
        // Not left beside (a full disk, an output that is a directory): it was named nowhere.
        let _ = std::fs::remove_file(&partial);
    }
    written.with_context(|| format!("writing {}", output.display()))
}

/// A trace with its stack frames named.
#[derive(Debug)]
pub struct Symbolized {
    /// The binary trace, header included.
    pub trace: Vec<u8>,
    pub naming: Naming,
}

/// What naming did, over all the generations named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Naming {
    /// Frames in the trace's stacks, named or not.
    pub seen: u64,
    /// Frames given a function name.
    pub frames: u64,
    /// Distinct function names used.
    pub functions: u64,
    /// Frames given a source file and line.
    pub lines: u64,
    /// Frames that had a function already, kept as they were.
    pub kept: u64,
}

impl Naming {
    /// What was named, in one line.
    pub fn summary(&self) -> String {
        // A trace whose generations hold no stack (the later files of a lossy recording, whose
        // tasks were all created before) said "0 stack frames named after 0 functions", which
        // reads as the wrong ELF.
        if self.seen == 0 {
            return "no stack frames to name".into();
        }
        let mut summary = format!(
            "{} stack frames named after {} functions of the ELF, {} with their source line",
            self.frames, self.functions, self.lines
        );
        // A trace `record` named already, named again, said "0 stack frames named" alone, as if
        // the ELF were the wrong one.
        if self.kept > 0 {
            summary += &format!("; {} named already, kept", self.kept);
        }
        summary
    }
}

/// One batch as read: an `EventBatch` header and its events, or an event that stands alone
/// between batches (`ExperimentalBatch`, whose data is its batch, and Go 1.26's
/// `EndOfGeneration`), with no events.
struct Batch {
    header: Event,
    events: Vec<Event>,
}

impl Batch {
    /// The batch's generation; `None` for `EndOfGeneration`, which ends the one before it.
    fn generation(&self) -> Option<u64> {
        let field = match self.header.typ {
            EventType::EVENT_BATCH => 0,
            EventType::EXPERIMENTAL_BATCH => 1,
            _ => return None,
        };
        self.header.args.get(field).copied()
    }

    fn is_event_batch(&self) -> bool {
        self.header.typ == EventType::EVENT_BATCH
    }

    fn is_strings(&self) -> bool {
        self.is_event_batch()
            && self
                .events
                .first()
                .is_some_and(|e| e.typ == EventType::STRINGS)
    }
}

/// Whether an event of type `typ` starts a batch (or is one) rather than belonging to the
/// `EventBatch` before it.
fn starts_batch(typ: EventType) -> bool {
    matches!(
        typ,
        EventType::EVENT_BATCH | EventType::EXPERIMENTAL_BATCH | EventType::END_OF_GENERATION
    )
}

/// The batches of a binary trace, one at a time.
struct Batches<R> {
    reader: raw::Reader<R>,
    /// The header of the next batch, read as the end of the one before.
    next: Option<Event>,
}

impl<R: Read> Batches<R> {
    fn read(&mut self) -> Result<Option<Batch>> {
        let header = match self.next.take() {
            Some(header) => header,
            None => match self.reader.read_event()? {
                Some(event) => event,
                None => return Ok(None),
            },
        };
        ensure!(
            starts_batch(header.typ),
            "a {} event outside any batch",
            header.name()
        );
        let mut batch = Batch {
            events: Vec::new(),
            header,
        };
        if batch.is_event_batch() {
            while let Some(event) = self.reader.read_event()? {
                if starts_batch(event.typ) {
                    self.next = Some(event);
                    break;
                }
                batch.events.push(event);
            }
        }
        Ok(Some(batch))
    }
}

/// Refuses `trace` (from `source`) in a text form, which the other commands read but this one,
/// rewriting the trace in place, would have to write back in another form.
fn binary_only(trace: &[u8], source: &str) -> Result<()> {
    // Anything else, trace or not, is left to the binary reader to judge.
    let form = match Input::new(trace).map(|input| input.format()) {
        Ok(Format::Text) => "Go's text form",
        Ok(Format::Test) => "a Go `.test` file",
        Ok(Format::Binary) | Err(_) => return Ok(()),
    };
    bail!("{source} is {form}: symbolize reads and rewrites the binary form only, as `gotrace record` and the device write it")
}

/// Names the stack frames of the binary trace `trace` after `functions`, with the source lines of
/// `lines`.
pub fn symbolize(trace: &[u8], functions: &Functions, lines: &Lines) -> Result<Symbolized> {
    let reader = raw::Reader::new(trace)?;
    let mut writer = raw::Writer::new(Vec::with_capacity(trace.len()), reader.version())?;
    let mut symbolizer = Symbolizer::new(functions, lines);
    symbolizer.copy(reader, &mut writer)?;
    Ok(Symbolized {
        trace: writer.into_inner(),
        naming: symbolizer.naming(),
    })
}

/// Names stack frames one generation at a time, and counts what it named over all of them: a
/// whole trace (`symbolize`), or a trace whose generations come one by one (`gotrace record`
/// writes each as it completes). Go's format keeps each generation's batches together, and its
/// strings and stacks are its own, so no more than one generation is held.
pub struct Symbolizer<'a> {
    functions: &'a Functions,
    lines: &'a Lines,
    named: Named,
    /// The function names used, for their count.
    names: HashSet<String>,
}

impl<'a> Symbolizer<'a> {
    pub fn new(functions: &'a Functions, lines: &'a Lines) -> Self {
        Symbolizer {
            functions,
            lines,
            named: Named::default(),
            names: HashSet::new(),
        }
    }

    /// What was named so far.
    pub fn naming(&self) -> Naming {
        Naming {
            seen: self.named.seen,
            frames: self.named.functions,
            functions: self.names.len() as u64,
            lines: self.named.lines,
            kept: self.named.kept,
        }
    }

    /// Names the frames of `batches`, whole batches of Go 1.22 as the device writes them after
    /// the trace's header (one generation or more, each whole), and returns them so, without a
    /// header. On an error nothing of the generation that failed is counted.
    pub fn name(&mut self, batches: &[u8]) -> Result<Vec<u8>> {
        let version = Version::Go122;
        let header = version.header();
        let reader = raw::Reader::new(header.as_slice().chain(batches))?;
        let mut writer = raw::Writer::new(Vec::with_capacity(HEADER_LEN + batches.len()), version)?;
        self.copy(reader, &mut writer)?;
        let mut named = writer.into_inner();
        named.drain(..HEADER_LEN);
        Ok(named)
    }

    /// Names the frames of the batches of `reader` to `writer`, one generation at a time.
    fn copy<R: Read, W: Write>(
        &mut self,
        reader: raw::Reader<R>,
        writer: &mut raw::Writer<W>,
    ) -> Result<()> {
        let version = reader.version();
        let mut batches = Batches { reader, next: None };
        let mut generation: Vec<Batch> = Vec::new();
        loop {
            let batch = batches.read()?;
            // The end of the trace, or a batch of another generation, ends the one held.
            let current = generation.first().and_then(Batch::generation);
            let other =
                |b: &Batch| current.is_some() && b.generation().is_some_and(|g| Some(g) != current);
            if batch.as_ref().is_none_or(other) {
                self.generation(&mut generation, version, writer)?;
            }
            let Some(batch) = batch else {
                return Ok(());
            };
            let end_of_generation = batch.generation().is_none();
            generation.push(batch);
            if end_of_generation {
                self.generation(&mut generation, version, writer)?;
            }
        }
    }

    /// Names and writes the batches of one `generation`, and counts them once all are written.
    fn generation<W: Write>(
        &mut self,
        generation: &mut Vec<Batch>,
        version: Version,
        writer: &mut raw::Writer<W>,
    ) -> Result<()> {
        let mut named = self.named;
        let names = name_generation(generation, version, self.functions, self.lines, &mut named)?;
        write_batches(writer, generation.drain(..))?;
        self.named = named;
        self.names.extend(names);
        Ok(())
    }
}

/// Names the frames of the stacks of the batches of one `generation`, adding the strings they
/// take as strings batches of their own: after the generation's strings, else before its
/// `EndOfGeneration`, else at its end. Returns the function names used.
fn name_generation(
    generation: &mut Vec<Batch>,
    version: Version,
    functions: &Functions,
    lines: &Lines,
    named: &mut Named,
) -> Result<HashSet<String>> {
    let mut names = Names::after(generation);
    for batch in generation.iter_mut() {
        for event in batch
            .events
            .iter_mut()
            .filter(|e| e.typ == EventType::STACK)
        {
            name_frames(event, functions, lines, &mut names, named)?;
        }
    }
    let functions = std::mem::take(&mut names.functions);
    let added = names.into_batches(version, generation)?;
    let end =
        generation.len() - usize::from(generation.last().is_some_and(|b| b.generation().is_none()));
    let at = generation
        .iter()
        .rposition(Batch::is_strings)
        .map_or(end, |i| i + 1);
    generation.splice(at..at, added);
    Ok(functions)
}

/// Writes `batches`, each `EventBatch` with the size of its events as written. Not only those
/// whose events changed: every event is written anew, and a varint that the device wrote longer
/// than it needs to be (Go reads one so) is written short, so the old size would swallow the
/// bytes after the batch.
fn write_batches<W: Write>(
    writer: &mut raw::Writer<W>,
    batches: impl Iterator<Item = Batch>,
) -> Result<()> {
    for mut batch in batches {
        if batch.is_event_batch() {
            let size: usize = batch.events.iter().map(Event::encoded_len).sum();
            ensure!(
                size as u64 <= MAX_BATCH_SIZE,
                "a stack batch of generation {} would grow past Go's batch limit ({size} bytes)",
                batch.generation().unwrap_or_default()
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
    Ok(())
}

/// Frames seen, frames given a function, frames given a source line, and frames that had a
/// function.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Named {
    seen: u64,
    functions: u64,
    lines: u64,
    kept: u64,
}

/// The strings (function names, file paths) added to one generation, and the string IDs they
/// take: after the largest ID the generation already has.
struct Names {
    next_id: Option<u64>,
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
            // `None` once the IDs are used up (a trace with string ID 2^64 - 1): see `id`.
            next_id: largest.checked_add(1),
            ids: HashMap::new(),
            added: Vec::new(),
            functions: HashSet::new(),
        }
    }

    fn id(&mut self, name: &str) -> Result<u64> {
        if let Some(&id) = self.ids.get(name) {
            return Ok(id);
        }
        let id = self
            .next_id
            .context("no string ID is left after the generation's largest")?;
        self.next_id = id.checked_add(1);
        self.ids.insert(name.to_owned(), id);
        self.added.push((id, name.to_owned()));
        Ok(id)
    }

    /// The added names as strings batches of `generation`, each within Go's batch size limit.
    fn into_batches(self, version: Version, generation: &[Batch]) -> Result<Vec<Batch>> {
        // The time of the generation's strings batch, else of its last batch: table batches'
        // times are not read by Go, but keep them in the generation's span.
        let Some(last) = generation.iter().rfind(|b| b.is_event_batch()) else {
            return Ok(Vec::new());
        };
        let gen = last.generation().unwrap_or_default();
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
        // The size of the events of the last of `batches`.
        let mut size = 0;
        for (id, name) in self.added {
            let string = event(EventType::STRING, vec![id], truncated(&name).to_vec());
            if batches.is_empty() || (size + string.encoded_len()) as u64 > MAX_BATCH_SIZE {
                let strings = event(EventType::STRINGS, Vec::new(), Vec::new());
                size = strings.encoded_len();
                batches.push(Batch {
                    header: event(
                        EventType::EVENT_BATCH,
                        vec![gen, NO_THREAD, time, 0],
                        Vec::new(),
                    ),
                    events: vec![strings],
                });
            }
            size += string.encoded_len();
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
) -> Result<()> {
    let fixed = event.spec().map_or(0, |s| s.args.len());
    let Some(frames) = event.args.get_mut(fixed..) else {
        return Ok(());
    };
    for frame in frames.chunks_exact_mut(FRAME_FIELDS.len()) {
        let [pc, func, file, line] = frame else {
            continue;
        };
        named.seen += 1;
        if *func == 0 {
            if let Some(name) = functions.at(*pc) {
                *func = names.id(name)?;
                names.functions.insert(name.to_owned());
                named.functions += 1;
            }
        } else {
            named.kept += 1;
        }
        if (*file, *line) == (0, 0) {
            if let Some((path, number)) = lines.at(*pc) {
                *file = names.id(path)?;
                *line = number.into();
                named.lines += 1;
            }
        }
    }
    Ok(())
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

    #[test]
    fn a_trace_in_text_form_is_refused_as_such() {
        // Go's text form (`gotrace dump`'s) or a `.test` file was refused as "bad file format:
        // not a Go execution trace?", as if it were no trace at all.
        let binary = trace(&generation(1, true));
        let text = wire(&binary);
        let test = format!("-- expect --\nSUCCESS\n-- trace --\n{text}");
        for (form, input) in [("Go's text form", &text), ("a Go `.test` file", &test)] {
            let error = binary_only(input.as_bytes(), "T").unwrap_err();
            assert_eq!(
                format!("{error:#}"),
                format!("T is {form}: symbolize reads and rewrites the binary form only, as `gotrace record` and the device write it"),
            );
        }
        binary_only(&binary, "T").unwrap();
    }

    #[test]
    fn a_failed_write_leaves_no_partial_file() {
        // The output is a directory: the rename fails, and the partial file it was written to
        // stayed beside it ("OUT.symbolize-partial"), said nowhere.
        let dir = gotrace_tests::scratch_dir().join("symbolize-into-a-directory");
        std::fs::create_dir_all(&dir).unwrap();
        let error = replace(&dir, &Version::Go122.header()).unwrap_err();
        assert!(format!("{error:#}").starts_with("writing "), "{error:#}");
        assert!(!dir.with_extension("symbolize-partial").exists());
    }

    #[test]
    fn an_output_that_is_the_elf_is_refused_and_the_elf_kept() {
        // `-o` naming the firmware: the named trace replaced the ELF it was named from.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let elf = gotrace_tests::scratch_file("symbolize-firmware.elf", &exe);
        let trace = gotrace_tests::scratch_file("symbolize-own.trace", &Version::Go122.header());
        let args = Args {
            trace,
            elf: elf.clone(),
            output: Some(
                elf.parent()
                    .unwrap()
                    .join(".")
                    .join(elf.file_name().unwrap()),
            ),
        };
        let error = run(args).unwrap_err();
        assert!(
            format!("{error:#}").contains("it is the firmware ELF"),
            "{error:#}"
        );
        assert!(std::fs::read(&elf).unwrap() == exe, "the ELF was changed");
    }

    fn event(typ: EventType, args: &[u64], data: &[u8]) -> Event {
        super::event(Version::Go122, typ, args.to_vec(), data.to_vec())
    }

    /// A batch, or an event alone between batches (`ExperimentalBatch`, `EndOfGeneration`).
    enum Unit {
        /// (generation, M, time, events), written with its size.
        Batch(u64, u64, u64, Vec<Event>),
        Alone(Event),
    }

    /// A binary trace of `units` in the format of `version`.
    fn trace_of(version: Version, units: Vec<Unit>) -> Vec<u8> {
        let mut writer = raw::Writer::new(Vec::new(), version).unwrap();
        for unit in units {
            let events = match unit {
                Unit::Batch(gen, m, time, events) => {
                    let size: usize = events.iter().map(Event::encoded_len).sum();
                    let header = vec![gen, m, time, size as u64];
                    let header = super::event(version, EventType::EVENT_BATCH, header, Vec::new());
                    writer.write_event(&header).unwrap();
                    events
                }
                Unit::Alone(event) => vec![event],
            };
            for e in &events {
                writer.write_event(e).unwrap();
            }
        }
        writer.into_inner()
    }

    /// A Go 1.22 binary trace of `batches`: (generation, M, time, events), each with its size.
    fn trace(batches: &[(u64, u64, u64, Vec<Event>)]) -> Vec<u8> {
        let units = batches
            .iter()
            .map(|(gen, m, time, events)| Unit::Batch(*gen, *m, *time, events.clone()))
            .collect();
        trace_of(Version::Go122, units)
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
            (
                named.naming.frames,
                named.naming.functions,
                named.naming.lines
            ),
            (3, 1, 4),
            "{}",
            named.naming.summary()
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
    fn a_trace_named_already_is_said_to_be() {
        let device = trace(&[generation(1, true), generation(2, false)].concat());
        let named = symbolize(&device, &functions(), &lines()).unwrap();
        // Generation 1's frame at 0x1005 has its function in the device's trace.
        assert_eq!(named.naming.kept, 1);
        let again = symbolize(&named.trace, &functions(), &lines()).unwrap();
        assert_eq!(again.trace, named.trace);
        assert_eq!((again.naming.frames, again.naming.kept), (0, 4));
        assert_eq!(
            again.naming.summary(),
            "0 stack frames named after 0 functions of the ELF, 0 with their source line; 4 named already, kept"
        );
    }

    /// A trace with no stacks at all (a later file of a lossy recording, its tasks all created
    /// before) says so, not "0 stack frames named after 0 functions", which reads as the wrong
    /// ELF; frames the ELF does not name still say that.
    #[test]
    fn a_trace_without_stacks_says_it_has_none_to_name() {
        let mut batches = generation(1, false);
        batches[0].3.truncate(2); // no GoCreate
        batches.remove(2); // no Stacks batch
        let named = symbolize(&trace(&batches), &functions(), &lines()).unwrap();
        assert_eq!(named.naming.seen, 0);
        assert_eq!(named.naming.summary(), "no stack frames to name");
        let unnamed = symbolize(
            &trace(&generation(1, false)),
            &Functions::default(),
            &Lines::default(),
        )
        .unwrap();
        assert_eq!(
            unnamed.naming.summary(),
            "0 stack frames named after 0 functions of the ELF, 0 with their source line"
        );
    }

    #[test]
    fn a_trace_with_nothing_to_name_is_copied_byte_for_byte() {
        let device = trace(&generation(1, true));
        let named = symbolize(&device, &Functions::default(), &Lines::default()).unwrap();
        assert_eq!(
            (
                named.naming.frames,
                named.naming.functions,
                named.naming.lines
            ),
            (0, 0, 0)
        );
        assert_eq!(named.trace, device);
    }

    #[test]
    fn a_batch_with_a_varint_longer_than_it_needs_is_written_with_its_new_size() {
        let minimal = trace(&generation(1, true));
        // The first event's time delta (0) written in two bytes, as Go reads it too: the first
        // batch's header (type, generation, M, time, size) is bytes 16 to 20.
        let mut device = minimal[..22].to_vec();
        device[20] += 1;
        device.extend([0x80, 0x00]);
        device.extend_from_slice(&minimal[23..]);
        assert_eq!(parsed(&device), parsed(&minimal));
        for (functions, lines) in [(functions(), lines()), Default::default()] {
            let named = symbolize(&device, &functions, &lines).unwrap();
            let expected = symbolize(&minimal, &functions, &lines).unwrap();
            assert_eq!(named.trace, expected.trace);
        }
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
        assert_eq!((named.naming.frames, named.naming.functions), (200, 200));
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
    fn a_name_longer_than_go_reads_is_written_cut() {
        let name = format!("firmware::{}", "é".repeat(1000));
        let functions = Functions::new([(0x1000, 0x100, name.clone())]);
        let named =
            symbolize(&trace(&generation(1, false)), &functions, &Lines::default()).unwrap();
        let events = parsed(&named.trace);
        let cut = std::str::from_utf8(truncated(&name)).unwrap();
        assert!(cut.len() < name.len());
        assert!(events.contains(&format!("\t{cut} @ 0x1001\n")), "{events}");
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
    fn go_1_26_strings_go_before_the_end_of_generation_and_experimental_batches_stay_whole() {
        let v = Version::Go126;
        let event =
            |typ, args: &[u64], data: &[u8]| super::event(v, typ, args.to_vec(), data.to_vec());
        // Each generation: its sync batch, a goroutine created with stack 1 (a frame at 0x1001),
        // the stacks batch, an experimental batch (AllocFree, its data opaque here) between it
        // and the end of the generation. No strings: the new ones are the generation's only.
        let units = (1..=2)
            .flat_map(|gen| {
                let t = 100 * gen;
                [
                    Unit::Batch(
                        gen,
                        NO_THREAD,
                        t,
                        vec![
                            event(EventType::SYNC, &[], &[]),
                            event(EventType::FREQUENCY, &[1_000_000_000], &[]),
                            event(EventType::CLOCK_SNAPSHOT, &[1, t, 1_700_000_000, 0], &[]),
                        ],
                    ),
                    Unit::Batch(
                        gen,
                        0,
                        t + 1,
                        vec![
                            event(EventType::PROC_STATUS, &[0, 0, proc_status::RUNNING], &[]),
                            event(EventType::GO_STATUS, &[0, 1, 0, go_status::RUNNING], &[]),
                            event(EventType::GO_CREATE, &[1, gen + 1, 1, 0], &[]),
                        ],
                    ),
                    Unit::Batch(
                        gen,
                        NO_THREAD,
                        t + 2,
                        vec![
                            event(EventType::STACKS, &[], &[]),
                            event(EventType::STACK, &[1, 1, 0x1001, 0, 0, 0], &[]),
                        ],
                    ),
                    Unit::Alone(event(
                        EventType::EXPERIMENTAL_BATCH,
                        &[1, gen, 0, t + 3],
                        &[],
                    )),
                    Unit::Alone(event(EventType::END_OF_GENERATION, &[], &[])),
                ]
            })
            .collect();
        let named = symbolize(&trace_of(v, units), &functions(), &lines()).unwrap();
        assert_eq!(
            (named.naming.frames, named.naming.lines),
            (2, 2),
            "{}",
            named.naming.summary()
        );
        let events = parsed(&named.trace);
        assert_eq!(
            events
                .matches("\tfirmware::task_a @ 0x1001\n\t\t/src/task.rs:3\n")
                .count(),
            2,
            "{events}"
        );
        let text = wire(&named.trace);
        for gen in [1, 2] {
            // The new strings batch takes the time of the last batch (the stacks batch's).
            let (stacks, experimental) = (100 * gen + 2, 100 * gen + 3);
            let expected = format!(
                "EventBatch gen={gen} m=18446744073709551615 time={stacks} size=9\nStacks\n\
                Stack id=1 nframes=1\n\tpc=4097 func=1 file=2 line=3\n\
                ExperimentalBatch exp=1 gen={gen} m=0 time={experimental}\n\
                EventBatch gen={gen} m=18446744073709551615 time={stacks} size=35\nStrings\n"
            );
            assert!(text.contains(&expected), "{expected}\nnot in\n{text}");
        }
        assert!(
            text.ends_with("data=\"/src/task.rs\"\nEndOfGeneration\n"),
            "{text}"
        );
    }

    #[test]
    fn a_generation_whose_string_ids_are_used_up_is_an_error_not_a_panic() {
        let mut batches = generation(1, true);
        batches[3].3[1] = event(EventType::STRING, &[u64::MAX], b"main.caller");
        // The frame at 0x1005 names string 1: make it the last string's ID.
        batches[2].3[2].args[7] = u64::MAX;
        let error = symbolize(&trace(&batches), &functions(), &lines()).unwrap_err();
        assert!(
            format!("{error:#}").contains("no string ID is left"),
            "{error:#}"
        );
    }

    #[test]
    fn an_event_outside_any_batch_is_an_error() {
        let mut writer = raw::Writer::new(Vec::new(), Version::Go122).unwrap();
        writer
            .write_event(&event(EventType::FREQUENCY, &[1], &[]))
            .unwrap();
        let error = symbolize(&writer.into_inner(), &functions(), &lines()).unwrap_err();
        assert!(
            format!("{error:#}").contains("a Frequency event outside any batch"),
            "{error:#}"
        );
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
