//! The `.trace` files of a recording, written as its generations complete. Each complete
//! generation goes, its stack frames named, to the end of its segment's file (`NAME.trace`, then
//! `NAME.2.trace`, ... after each loss that splits the trace): memory holds no generation once it
//! is complete, however long the session, and a recording cut short (a second Ctrl-C, a crash, a
//! kill) leaves a valid file of the generations complete before, since a file only ever receives
//! whole generations.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result};
use gotrace_wire::{Version, HEADER_LEN};

use super::elf::{Functions, Lines};
use super::stream::Complete;
use crate::symbolize::Symbolizer;

/// The files opened so far. Shared with the Ctrl-C handler, which holds the lock to exit: a
/// generation being written is finished first, and none is begun after.
pub type Opened = Arc<Mutex<OpenedFiles>>;

/// `opened`'s files, whatever a thread that panicked holding them left: counted in one store.
pub fn lock(opened: &Opened) -> MutexGuard<'_, OpenedFiles> {
    opened.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The segment files opened so far: the first `count` of the output's (see [`segment_path`]),
/// counted rather than listed, since a lossy recording that keeps dropping opens one per loss.
#[derive(Debug)]
pub struct OpenedFiles {
    output: PathBuf,
    count: usize,
}

impl OpenedFiles {
    /// The first `count` files of `output`.
    #[cfg(test)]
    pub fn counted(output: &Path, count: usize) -> Self {
        OpenedFiles {
            output: output.to_path_buf(),
            count,
        }
    }

    /// Their paths, in order.
    pub fn paths(&self) -> impl ExactSizeIterator<Item = PathBuf> + '_ {
        (0..self.count).map(|index| segment_path(&self.output, index))
    }
}

/// Writes the complete generations of one recording to its segments' files.
pub struct SegmentFiles<'a> {
    output: PathBuf,
    functions: &'a Functions,
    lines: &'a Lines,
    opened: Opened,
    open: Option<Open<'a>>,
    /// What naming did in each segment closed, in order, and whether it failed: the same words
    /// shared, as most are (thousands of segments of a lossy recording that keeps dropping).
    namings: Vec<(Rc<str>, bool)>,
}

/// The segment being written.
struct Open<'a> {
    index: usize,
    path: PathBuf,
    file: File,
    /// Bytes of the file: its header and the whole generations written.
    len: u64,
    first_generation: u64,
    /// Its own: the summary counts what was named in each segment.
    symbolizer: Symbolizer<'a>,
    /// The generation whose naming failed, and why: it and the rest of the segment are written
    /// as the device wrote them, so that the segment names its frames up to one point only.
    bare_from: Option<(u64, String)>,
}

/// A segment's file, and what naming its stack frames did, in the summary's words.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub naming: String,
    /// Naming failed part way: the summary shows the trace whatever else it leaves out.
    pub naming_failed: bool,
}

impl<'a> SegmentFiles<'a> {
    /// The files `output`, then `segment_path`'s for later segments, named after `functions`
    /// and `lines`. Nothing is created before the first complete generation.
    pub fn new(output: &Path, functions: &'a Functions, lines: &'a Lines) -> Self {
        SegmentFiles {
            output: output.to_path_buf(),
            functions,
            lines,
            opened: Arc::new(Mutex::new(OpenedFiles {
                output: output.to_path_buf(),
                count: 0,
            })),
            open: None,
            namings: Vec::new(),
        }
    }

    pub fn opened(&self) -> Opened {
        self.opened.clone()
    }

    /// Appends each complete generation to its segment's file, its stack frames named unless
    /// naming failed earlier in the segment.
    pub fn write(&mut self, complete: impl IntoIterator<Item = Complete>) -> Result<()> {
        for Complete {
            segment,
            generation,
        } in complete
        {
            let mut open = match self.open.take() {
                Some(open) if open.index == segment => open,
                before => {
                    if let Some(before) = before {
                        self.close(before);
                    }
                    self.create(segment, generation.number)?
                }
            };
            let named = match open.bare_from {
                Some(_) => None,
                None => match open.symbolizer.name(&generation.bytes) {
                    Ok(named) => Some(named),
                    Err(e) => {
                        open.bare_from = Some((generation.number, format!("{e:#}")));
                        None
                    }
                },
            };
            let mut opened = lock(&self.opened);
            let bytes = named.as_deref().unwrap_or(&generation.bytes);
            if let Err(error) = append_whole(&mut open.file, open.len, bytes) {
                if open.len == HEADER_LEN as u64 {
                    // Its first generation did not fit: no trace in it, a file not to name (the
                    // last opened).
                    opened.count = open.index;
                    drop(open.file);
                    let _ = std::fs::remove_file(&open.path);
                }
                return Err(error).with_context(|| format!("writing {}", open.path.display()));
            }
            open.len += bytes.len() as u64;
            self.open = Some(open);
        }
        Ok(())
    }

    /// Creates segment `index`'s file with the trace's header.
    fn create(&self, index: usize, first_generation: u64) -> Result<Open<'a>> {
        let path = segment_path(&self.output, index);
        let mut opened = lock(&self.opened);
        let mut file = create_locked(&path)?;
        let header = Version::Go122.header();
        if let Err(error) = append_whole(&mut file, 0, &header) {
            // Not even a header (a full disk): no trace file to name, nor to leave behind.
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(error).with_context(|| format!("writing {}", path.display()));
        }
        opened.count = index + 1;
        Ok(Open {
            index,
            path,
            file,
            len: header.len() as u64,
            first_generation,
            symbolizer: Symbolizer::new(self.functions, self.lines),
            bare_from: None,
        })
    }

    /// Closes segment `open`'s file, keeping what naming did in it.
    fn close(&mut self, open: Open<'_>) {
        let failed = open.bare_from.is_some();
        let naming = open.naming();
        let shared = match self.namings.last() {
            Some((last, _)) if **last == *naming => last.clone(),
            _ => Rc::from(naming),
        };
        self.namings.push((shared, failed));
    }

    /// How many files the recording has opened.
    pub fn count(&self) -> usize {
        lock(&self.opened).count
    }

    /// Closes the files: those written, in order.
    pub fn finish(mut self) -> Vec<Written> {
        if let Some(open) = self.open.take() {
            self.close(open);
        }
        let output = self.output;
        self.namings
            .into_iter()
            .enumerate()
            .map(|(index, (naming, naming_failed))| Written {
                path: segment_path(&output, index),
                naming: naming.to_string(),
                naming_failed,
            })
            .collect()
    }

    /// Segment files of an earlier recording to the same output that this one did not write
    /// over (`NAME.2.trace` after one without a loss, `NAME.trace` itself after one that
    /// completed no generation): they read as part of it. Not removed (they are the user's),
    /// but named.
    pub fn stale(&self) -> Vec<PathBuf> {
        let written = self.namings.len() + usize::from(self.open.is_some());
        (written..)
            .map(|index| segment_path(&self.output, index))
            .take_while(|path| path.is_file())
            .collect()
    }
}

impl Open<'_> {
    /// What naming did in the segment, in the summary's words.
    fn naming(self) -> String {
        let named = self.symbolizer.naming().summary();
        match self.bare_from {
            None => named,
            Some((from, error)) if from == self.first_generation => {
                format!("stack frames left as bare PCs: {error}")
            }
            Some((from, error)) => format!(
                "{named} in generations {}..={}; stack frames of generations {from} on left as bare PCs: {error}",
                self.first_generation,
                from - 1
            ),
        }
    }
}

/// Appends `bytes` to `file`, which holds `len` bytes, whole or not at all: a write that fails
/// part way (a full disk, a file size limit) is cut off again, so that the file still holds whole
/// generations only, as the error that stops the recording says (it names the file as holding
/// the generations complete until then). Left in, the part made the whole file unreadable.
fn append_whole(file: &mut File, len: u64, bytes: &[u8]) -> std::io::Result<()> {
    let Err(error) = file.write_all(bytes) else {
        return Ok(());
    };
    match file.set_len(len) {
        Ok(()) => Err(error),
        Err(cut) => Err(std::io::Error::new(
            error.kind(),
            format!("{error}; and cutting off the part written failed ({cut}): the file ends with a generation cut short, which makes it invalid past byte {len}"),
        )),
    }
}

/// Refuses an output that is the firmware ELF `elf` by any path to it, a hard link too (cargo
/// links `target/<triple>/debug/NAME` to `deps/NAME-<hash>`): the trace would replace the
/// firmware it came from.
pub fn refuse_the_elf(output: &Path, elf: &Path) -> Result<()> {
    anyhow::ensure!(
        !same_file(output, elf),
        "cannot write {}: it is the firmware ELF; name the trace otherwise",
        output.display()
    );
    Ok(())
}

/// Whether two paths name one existing file: its device and inode, where there are such.
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Whether two paths name one existing file, by their canonical paths.
#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// Refuses, before anything is recorded, an output that cannot be created: in a directory that
/// does not exist, a directory itself, a file another recording is writing, or `elf`, the
/// firmware itself (read whole before the recording, it would be replaced by its trace). Found
/// only at the first complete generation, each would lose a recording that ran for nothing.
pub fn check_output(output: &Path, elf: &Path) -> Result<()> {
    refuse_the_elf(output, elf)?;
    // Written generation by generation, and cut back to its last whole generation when one does
    // not fit: a file it is, not a stream (`-`, a pipe, a FIFO: the check's own open below
    // waited for good on a FIFO without a writer, and an output that cannot be truncated failed
    // only at the first generation).
    const A_FILE: &str = "record writes a file generation by generation (and cuts off a \
                          generation that does not fit), so give a file's path";
    anyhow::ensure!(
        output != Path::new("-"),
        "cannot write the trace to standard output: {A_FILE}, and read it from there"
    );
    if let Ok(metadata) = std::fs::metadata(output) {
        anyhow::ensure!(
            metadata.is_file() || metadata.is_dir(),
            "cannot write {}: it is not a regular file (a pipe, a FIFO, a device): {A_FILE}",
            output.display()
        );
    }
    let dir = match output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // A directory that is not there is said so: "is not a directory" read as if it were a file.
    anyhow::ensure!(
        dir.exists(),
        "cannot write {}: the directory {} does not exist",
        output.display(),
        dir.display()
    );
    anyhow::ensure!(
        dir.is_dir(),
        "cannot write {}: {} is not a directory",
        output.display(),
        dir.display()
    );
    anyhow::ensure!(
        !output.is_dir(),
        "cannot write {}: it is a directory",
        output.display()
    );
    // Another recording writing it: said now rather than at the first generation. The lock is
    // taken for good by `create_locked`.
    if let Ok(file) = File::open(output) {
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
            return Err(held_by_another(output));
        }
    }
    // A directory or a file this user may not write, a read-only file system: found only at the
    // first complete generation, the firmware having run for nothing. Opened as `create_locked`
    // opens it, without emptying it, and removed again if this made it.
    let existed = output.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    if !existed {
        let _ = std::fs::remove_file(output);
    }
    Ok(())
}

/// The refusal of a file whose lock another recording holds, up front or at its creation.
fn held_by_another(path: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{} is being written by another recording (it holds the file's lock)",
        path.display()
    )
}

/// Creates `path` empty, holding an exclusive lock on it for as long as it is open: two
/// recordings writing the same file would interleave their generations, and each would read
/// back a corrupt trace ("no frequency event found") and blame its firmware. Opened before it
/// is emptied, so that the loser leaves the winner's file whole.
fn create_locked(path: &Path) -> Result<File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(held_by_another(path)),
        // A file system without locks (some network and FUSE ones): the recording matters more
        // than the guard against a second one, which goes unguarded there.
        Err(std::fs::TryLockError::Error(_)) => {}
    }
    file.set_len(0)
        .with_context(|| format!("emptying {}", path.display()))?;
    Ok(file)
}

/// `out.trace`, then `out.2.trace`, `out.3.trace`, ... for later segments.
pub fn segment_path(output: &Path, index: usize) -> PathBuf {
    if index == 0 {
        return output.to_path_buf();
    }
    let stem = output
        .file_stem()
        .map_or("trace".into(), |s| s.to_string_lossy());
    output.with_file_name(format!("{stem}.{}.trace", index + 1))
}

#[cfg(test)]
mod tests {
    use gotrace_decoder::raw;
    use gotrace_wire::EventType;

    use super::*;
    use crate::record::stream::property::{batches, channel, device_traces};
    use crate::record::stream::{Generation, TraceStream};
    use crate::symbolize::symbolize;

    /// The generations of the batches of the binary trace `trace`, in order, each once.
    fn generations(trace: &[u8]) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::new();
        for event in raw::Reader::new(trace).unwrap() {
            let event = event.unwrap();
            if event.typ == EventType::EVENT_BATCH && out.last() != Some(&event.args[0]) {
                out.push(event.args[0]);
            }
        }
        out
    }

    #[test]
    fn each_generation_is_in_its_file_as_it_completes_and_the_files_are_as_named_whole() {
        // Every PC in one function with one line: every frame gets named.
        let functions = Functions::new([(0, u64::MAX, "f".to_owned())]);
        let lines = Lines::new(vec![(0, Some((0, 1)))], vec!["f.rs".to_owned()]);
        let dir = gotrace_tests::scratch_dir();
        for (i, trace) in device_traces().iter().enumerate() {
            let batches = batches(trace);
            let largest_batch = batches.iter().map(|(_, b)| b.len()).max().unwrap();
            let largest_generation = batches
                .iter()
                .map(|(g, _)| {
                    let of = batches.iter().filter(|(h, _)| h == g);
                    of.map(|(_, b)| b.len()).sum::<usize>()
                })
                .max()
                .unwrap();
            let (first, last) = (batches[0].0, batches[batches.len() - 1].0);
            let middle = (first + last) / 2;
            for lost in [None, Some((middle, middle + 1, 1))] {
                let c = channel(&batches, lost);
                let output = dir.join(format!("streamed-{i}-{}.trace", lost.is_some()));
                let mut files = SegmentFiles::new(&output, &functions, &lines);
                let mut stream = TraceStream::default();
                // Each segment as the device wrote it, and its generations so far.
                let mut device: Vec<(Vec<u8>, Vec<u64>)> = Vec::new();
                for chunk in c.bytes.chunks(97) {
                    stream.push(chunk).unwrap();
                    for complete in stream.take_complete() {
                        if complete.segment == device.len() {
                            device.push((Version::Go122.header().to_vec(), Vec::new()));
                        }
                        let (bytes, numbers) = &mut device[complete.segment];
                        bytes.extend_from_slice(&complete.generation.bytes);
                        numbers.push(complete.generation.number);
                        let path = segment_path(&output, complete.segment);
                        files.write([complete]).unwrap();
                        // On disk now, valid, with exactly the generations complete so far.
                        let file = std::fs::read(&path).unwrap();
                        let mut reader = gotrace_decoder::Reader::new(file.as_slice()).unwrap();
                        while reader.read_event().unwrap().is_some() {}
                        assert_eq!(&generations(&file), numbers);
                    }
                    // Nothing held but the generation being collected and an item not all
                    // come.
                    assert!(
                        stream.held_bytes() <= largest_generation + largest_batch,
                        "{} bytes held; the largest generation has {largest_generation}",
                        stream.held_bytes()
                    );
                }
                let (segments, _, _) = stream.finish();
                assert_eq!(segments.len(), 1 + usize::from(lost.is_some()));
                let written = files.finish();
                assert_eq!(written.len(), segments.len());
                // Each file as naming its segment whole makes it.
                for (w, (device, _)) in written.iter().zip(&device) {
                    let whole = symbolize(device, &functions, &lines).unwrap();
                    assert!(whole.naming.frames > 0);
                    assert_eq!(w.naming, whole.naming.summary());
                    assert!(std::fs::read(&w.path).unwrap() == whole.trace, "{w:?}");
                }
            }
        }
    }

    #[test]
    fn segment_files_of_an_earlier_recording_are_named() {
        let functions = Functions::default();
        let lines = Lines::default();
        let output = gotrace_tests::scratch_dir().join("stale.trace");
        let earlier = [
            output.clone(),
            segment_path(&output, 1),
            segment_path(&output, 2),
        ];
        for path in &earlier {
            std::fs::write(path, b"an earlier recording's").unwrap();
        }
        let mut files = SegmentFiles::new(&output, &functions, &lines);
        // Nothing written yet: all three are an earlier recording's.
        assert_eq!(files.stale(), earlier);
        let trace = &device_traces()[0];
        let mut stream = TraceStream::default();
        stream.push(&channel(&batches(trace), None).bytes).unwrap();
        files.write(stream.take_complete()).unwrap();
        // One segment written over NAME.trace: the other two are not this recording's.
        assert_eq!(files.stale(), earlier[1..]);
    }

    #[test]
    fn a_file_being_written_by_another_recording_is_left_whole() {
        let dir = gotrace_tests::scratch_dir();
        let path = dir.join("locked.trace");
        let mut first = create_locked(&path).unwrap();
        first.write_all(b"the first recording's").unwrap();
        let early = check_output(&path, Path::new("fw.elf")).unwrap_err();
        assert!(
            format!("{early:#}").contains("being written by another recording"),
            "{early:#}"
        );
        let second = create_locked(&path).unwrap_err();
        assert!(
            format!("{second:#}").contains("being written by another recording"),
            "{second:#}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"the first recording's");
        drop(first);
        create_locked(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn an_output_in_no_directory_is_refused_before_recording() {
        let dir = gotrace_tests::scratch_dir();
        let elf = gotrace_tests::scratch_file("firmware.elf", b"\x7fELF");
        check_output(&dir.join("fine.trace"), &elf).unwrap();
        check_output(Path::new("relative.trace"), &elf).unwrap();
        let missing = check_output(&dir.join("no-such-dir/x.trace"), &elf).unwrap_err();
        assert!(
            format!("{missing}").ends_with("no-such-dir does not exist"),
            "{missing}"
        );
        let in_a_file = check_output(&elf.join("x.trace"), &elf).unwrap_err();
        assert!(
            format!("{in_a_file}").ends_with("firmware.elf is not a directory"),
            "{in_a_file}"
        );
        let itself = check_output(dir, &elf).unwrap_err();
        assert!(
            format!("{itself}").contains("it is a directory"),
            "{itself}"
        );
        // The ELF itself, by another path to it.
        let over = check_output(&dir.join(".").join(elf.file_name().unwrap()), &elf).unwrap_err();
        assert!(
            format!("{over}").contains("it is the firmware ELF"),
            "{over}"
        );
        // Checked by opening it, which leaves no file behind.
        assert!(!dir.join("fine.trace").exists());
    }

    #[test]
    #[cfg(unix)]
    fn a_hard_link_to_the_elf_a_fifo_and_standard_output_are_refused_as_outputs() {
        let dir = gotrace_tests::scratch_dir().join("outputs-refused");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let elf = dir.join("firmware.elf");
        std::fs::write(&elf, b"\x7fELF").unwrap();
        // As cargo links the build's ELF: canonical paths differed, and the ELF was overwritten.
        let link = dir.join("linked.elf");
        std::fs::hard_link(&elf, &link).unwrap();
        let linked = check_output(&link, &elf).unwrap_err();
        assert!(
            format!("{linked}").contains("it is the firmware ELF"),
            "{linked}"
        );
        // The check's own open of a FIFO waited for a writer for good, saying nothing.
        let fifo = dir.join("out.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let refused = check_output(&fifo, &elf).unwrap_err();
        assert!(
            format!("{refused}").contains("it is not a regular file"),
            "{refused}"
        );
        let stdout = check_output(Path::new("-"), &elf).unwrap_err();
        assert!(
            format!("{stdout}").contains("cannot write the trace to standard output"),
            "{stdout}"
        );
        assert!(!Path::new("-").exists());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn an_output_that_cannot_be_created_is_refused_before_recording() {
        // A directory in which no file can be made (here /proc, for any user: permissions would
        // not stop a test run as root): it was found only at the first complete generation,
        // "creating /proc/x.trace: No such file or directory", the firmware's run lost.
        let elf = gotrace_tests::scratch_file("firmware.elf", b"\x7fELF");
        let refused = check_output(Path::new("/proc/gotrace-x.trace"), &elf).unwrap_err();
        assert!(
            format!("{refused:#}").starts_with("cannot write /proc/gotrace-x.trace: "),
            "{refused:#}"
        );
    }

    #[test]
    fn a_generation_that_cannot_be_named_leaves_the_rest_of_its_segment_bare() {
        let functions = Functions::new([(0, u64::MAX, "f".to_owned())]);
        let lines = Lines::default();
        let trace = &device_traces()[0];
        let batches = batches(trace);
        let whole = |number| {
            let of: Vec<_> = batches.iter().filter(|(g, _)| *g == number).collect();
            Generation {
                number,
                batches: of.len() as u64,
                bytes: of.iter().flat_map(|(_, b)| b.iter().copied()).collect(),
            }
        };
        // A batch whose one event has a type no trace has: the stream checks framing only, so
        // a garbled channel can bring one.
        let broken = |number| Generation {
            number,
            batches: 1,
            bytes: vec![EventType::EVENT_BATCH.0, number as u8, 0, 5, 1, 0xff],
        };
        let first = batches[0].0;
        let complete = [
            (0, whole(first)),
            (0, broken(first + 1)),
            (0, whole(first + 2)),
            (1, broken(first + 4)),
            (1, whole(first + 5)),
        ];
        let output = gotrace_tests::scratch_dir().join("bare.trace");
        let mut files = SegmentFiles::new(&output, &functions, &lines);
        let complete = complete.map(|(segment, generation)| Complete {
            segment,
            generation,
        });
        let device: Vec<_> = complete
            .iter()
            .map(|c| c.generation.bytes.clone())
            .collect();
        files.write(complete).unwrap();
        let written = files.finish();
        let header = Version::Go122.header().to_vec();
        let named = symbolize(
            &[header.clone(), device[0].clone()].concat(),
            &functions,
            &lines,
        )
        .unwrap();
        // The first segment: named up to the broken generation, then as the device wrote it.
        let named_first = &named.trace[header.len()..];
        assert_eq!(
            std::fs::read(&written[0].path).unwrap(),
            [&header[..], named_first, &device[1], &device[2]].concat()
        );
        // The broken generation's error names the batch it is in (of the bytes named at once).
        let error = |generation: u64| {
            format!("byte 21: invalid event type: 255 (generation {generation}, M 0, batch #0 at byte offset 16)")
        };
        assert_eq!(
            written[0].naming,
            format!(
                "{} in generations {first}..={first}; stack frames of generations {} on left as bare PCs: {}",
                named.naming.summary(),
                first + 1,
                error(first + 1)
            )
        );
        // The next segment tries again: from its first generation on, bare.
        assert_eq!(
            std::fs::read(&written[1].path).unwrap(),
            [&header[..], &device[3], &device[4]].concat()
        );
        assert_eq!(
            written[1].naming,
            format!("stack frames left as bare PCs: {}", error(first + 4))
        );
    }
}
