//! What the host reads from the firmware's ELF: where the RTT control block is, where RAM is (to
//! scan for the block when the symbol is stripped), and which function and source line a code
//! address is in (to name the tasks by their entry points, and the trace's stack frames).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::stdout::errln;
use anyhow::{Context, Result};
use gimli::{EndianSlice, RunTimeEndian};
use object::{
    FileFlags, Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind, SymbolKind,
};

/// Facts about the firmware image.
#[derive(Debug, Clone)]
pub struct Firmware {
    pub bytes: Vec<u8>,
    /// Address of `_SEGGER_RTT`, if the symbol table has it.
    pub rtt_symbol: Option<u32>,
    /// Built for the hard-float ABI (thumbv7em-none-eabihf): it needs an FPU (Cortex-M4F).
    pub hard_float: bool,
    /// The instruction set the ELF is for (`Arm` for a Cortex-M firmware).
    pub architecture: object::Architecture,
    /// The image's RAM sections (`.data`, `.bss`, `.uninit`, ...) as (start, length), sorted,
    /// those that touch merged: where to scan for the control block. Not the span from the
    /// lowest to the highest: a section in a second RAM (an STM32F4's CCM at 0x1000_0000) made
    /// that a scan of the gap between them, megabytes that may not be memory at all.
    pub ram: Vec<(u32, u32)>,
    /// Where `cortex-m-rt`'s `.vector_table` section is: the memory the image boots from.
    pub vector_table: Option<u32>,
    /// The memory the image loads bytes into from the file (its segments' start and length):
    /// what a board boots from must be among it.
    pub loaded: Vec<(u32, u32)>,
    /// The vector table's first entries (up to [`VECTOR_TABLE_HEAD`] bytes): a firmware that
    /// runs is this ELF if its memory there holds the same.
    pub vector_table_head: Vec<u8>,
    /// The HardFault handler's first instruction (the vector table's fourth entry, the Thumb bit
    /// cleared), where the host stops the core to see where a fault happened.
    pub hard_fault_handler: Option<u32>,
    /// Address of the firmware's panic handler (`rust_begin_unwind`, whatever its mangling), if
    /// the symbol table has it: where a flight recording reads its channel at a panic.
    pub panic_handler: Option<u32>,
    pub functions: Functions,
    /// Empty when the ELF has no line tables (or they could not be read: see `load`).
    pub lines: Lines,
}

/// The ELF's function symbols, by address.
#[derive(Debug, Clone, Default)]
pub struct Functions {
    /// (start, end, name): the address ranges where the innermost symbol holding an address is
    /// the same one, its name demangled without the hash; sorted, not overlapping.
    spans: Vec<(u64, u64, Arc<str>)>,
}

impl Functions {
    /// From (address, size, symbol name) triples, names mangled or not. Where symbols overlap
    /// (one nested in another, two from one address, aliases), an address is named by the
    /// smallest symbol holding it, and by the first name of aliases of the same span.
    pub fn new(symbols: impl IntoIterator<Item = (u64, u64, String)>) -> Self {
        let mut symbols: Vec<(u64, u64, Arc<str>)> = symbols
            .into_iter()
            .filter(|(_, size, _)| *size > 0)
            .map(|(address, size, name)| {
                let start = code_address(address);
                let name = format!("{:#}", rustc_demangle::demangle(&name));
                // A symbol running past the address space (a damaged ELF) ends at its end.
                (start, start.saturating_add(size), name.into())
            })
            .collect();
        symbols.sort();
        // Every address where a symbol starts or ends begins a range; in each, the symbols that
        // hold it are those begun and not yet ended, the innermost the smallest of them.
        let mut bounds: Vec<u64> = symbols.iter().flat_map(|&(s, e, _)| [s, e]).collect();
        bounds.sort_unstable();
        bounds.dedup();
        let mut holding = BTreeSet::new();
        let mut next = symbols.iter().enumerate().peekable();
        let mut spans: Vec<(u64, u64, Arc<str>)> = Vec::new();
        for range in bounds.windows(2) {
            let (start, end) = (range[0], range[1]);
            while let Some((index, (s, e, name))) = next.next_if(|(_, (s, _, _))| *s <= start) {
                holding.insert((e - s, name.clone(), index));
            }
            holding.retain(|&(_, _, index)| symbols[index].1 > start);
            let Some((_, name, _)) = holding.first() else {
                continue;
            };
            match spans.last_mut() {
                Some(last) if last.1 == start && last.2 == *name => last.1 = end,
                _ => spans.push((start, end, name.clone())),
            }
        }
        Functions { spans }
    }

    /// The function whose code holds `pc` (a Thumb address, or a function pointer with the Thumb
    /// bit set).
    pub fn at(&self, pc: u64) -> Option<&str> {
        let pc = code_address(pc);
        let after = self.spans.partition_point(|(start, _, _)| *start <= pc);
        let (_, end, name) = self.spans[..after].last()?;
        (pc < *end).then_some(name)
    }

    /// Whether no symbol names any address.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

/// The source lines of code addresses, from the ELF's DWARF line tables.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    /// Each line table row: its address, and its file (an index into `files`) and line, or `None`
    /// where a sequence of rows ends or a row has no line (no line for the addresses after it).
    /// Sorted by address.
    rows: Vec<(u64, Option<(usize, u32)>)>,
    files: Vec<String>,
    skipped_units: usize,
}

impl Lines {
    /// Reads the line tables of the ELF `file`. Sequences at address 0 are left out: the linker
    /// puts the rows of functions it dropped there, and no Cortex-M code is at 0 (the vector
    /// table is).
    pub fn read(file: &object::File) -> Result<Self> {
        let (sections, endian) = dwarf_sections(file)?;
        let dwarf = sections.borrow(|data| EndianSlice::new(data, endian));
        // Embassy's task pools, by address, with their sizes: a task's creation PC lies in one.
        let pools: HashMap<u64, u64> = file
            .symbols()
            .filter(|s| {
                s.kind() == SymbolKind::Data
                    && s.name()
                        .is_ok_and(|name| naming_symbol(s.kind(), name).is_some())
            })
            .map(|s| (s.address(), s.size()))
            .collect();
        Lines::of_dwarf(&dwarf, &pools)
    }

    /// The line tables of `dwarf`, and a row for each Embassy task pool in `pools` (its address
    /// and size).
    fn of_dwarf<R: gimli::Reader>(
        dwarf: &gimli::Dwarf<R>,
        pools: &HashMap<u64, u64>,
    ) -> Result<Self> {
        let mut rows = Rows::default();
        let mut skipped_units = 0;
        let mut units = dwarf.units();
        while let Some(header) = units.next()? {
            // A unit this reader cannot read costs its own lines only (and is counted).
            if dwarf
                .unit(header)
                .map_err(anyhow::Error::from)
                .and_then(|unit| {
                    rows.add_unit(dwarf, &unit)?;
                    rows.add_task_pools(dwarf, &unit, pools)
                })
                .is_err()
            {
                skipped_units += 1;
            }
        }
        let mut lines = Lines::new(rows.table, rows.files);
        lines.skipped_units = skipped_units;
        Ok(lines)
    }

    /// What to say of the ELF at `path` if some of its line tables could not be read.
    pub fn skipped_warning(&self, path: &std::path::Path) -> Option<String> {
        (self.skipped_units > 0).then(|| {
            format!(
                "{} compilation units of {} have line tables this reader cannot read: their \
                 code has no source lines",
                self.skipped_units,
                path.display()
            )
        })
    }

    /// From line table rows (address, and file index and line, or `None` where a sequence ends)
    /// in any order, and the files they index.
    pub fn new(mut rows: Vec<(u64, Option<(usize, u32)>)>, files: Vec<String>) -> Self {
        // At one address, a sequence's end comes before the next one's first row.
        rows.sort_by_key(|(address, row)| (*address, row.is_some()));
        Lines {
            rows,
            files,
            skipped_units: 0,
        }
    }

    /// The source file and line of the code at `pc` (a Thumb address, or a function pointer
    /// with the Thumb bit set).
    pub fn at(&self, pc: u64) -> Option<(&str, u32)> {
        let pc = code_address(pc);
        let after = self.rows.partition_point(|(address, _)| *address <= pc);
        let (_, row) = self.rows[..after].last()?;
        let (file, line) = (*row)?;
        Some((self.files.get(file)?.as_str(), line))
    }
}

/// The line table rows of the units read so far, and the files they index.
#[derive(Default)]
struct Rows {
    table: Vec<(u64, Option<(usize, u32)>)>,
    files: Vec<String>,
    /// Each file's index in `files`, by path.
    file_indexes: HashMap<String, usize>,
}

impl Rows {
    /// The index of the file at `path` in `files`, added if it is not there.
    fn file(&mut self, path: String) -> usize {
        let next = self.files.len();
        let index = *self.file_indexes.entry(path.clone()).or_insert(next);
        if index == next {
            self.files.push(path);
        }
        index
    }

    /// Adds the rows of `unit`'s line table, a whole sequence at a time (none of a sequence the
    /// reader fails in).
    fn add_unit<R: gimli::Reader>(
        &mut self,
        dwarf: &gimli::Dwarf<R>,
        unit: &gimli::Unit<R>,
    ) -> Result<()> {
        let Some(program) = unit.line_program.clone() else {
            return Ok(());
        };
        // This unit's file entries, by their number in its line table.
        let mut unit_files: HashMap<u64, usize> = HashMap::new();
        let mut sequence = Vec::new();
        let mut rows = program.rows();
        while let Some((header, row)) = rows.next_row()? {
            if row.end_sequence() {
                sequence.push((row.address(), None));
                if sequence.first().is_some_and(|(address, _)| *address != 0) {
                    self.table.append(&mut sequence);
                }
                sequence.clear();
                continue;
            }
            let index = match unit_files.get(&row.file_index()) {
                Some(&index) => index,
                None => {
                    let path = row
                        .file(header)
                        .map(|entry| file_path(dwarf, unit, header, entry))
                        .transpose()?
                        .unwrap_or_default();
                    let index = self.file(path);
                    unit_files.insert(row.file_index(), index);
                    index
                }
            };
            // Line 0 is DWARF's "no source line" (code the compiler made up): no line, like the
            // addresses after a sequence's end.
            let line = row.line().and_then(|l| u32::try_from(l.get()).ok());
            sequence.push((row.address(), line.map(|line| (index, line))));
        }
        Ok(())
    }

    /// Adds a row for each of `unit`'s Embassy task pools (its `POOL` statics whose address is in
    /// `pools`, with their sizes): the line the variable is declared at, in the task function
    /// (`#[embassy_executor::task]` declares it there), for the whole pool.
    fn add_task_pools<R: gimli::Reader>(
        &mut self,
        dwarf: &gimli::Dwarf<R>,
        unit: &gimli::Unit<R>,
        pools: &HashMap<u64, u64>,
    ) -> Result<()> {
        let Some(program) = &unit.line_program else {
            return Ok(());
        };
        let header = program.header();
        let mut entries = unit.entries();
        while let Some((_, entry)) = entries.next_dfs()? {
            if entry.tag() != gimli::DW_TAG_variable {
                continue;
            }
            let Some(gimli::AttributeValue::Exprloc(location)) =
                entry.attr_value(gimli::DW_AT_location)?
            else {
                continue;
            };
            let mut operations = location.operations(unit.encoding());
            let Ok(Some(gimli::Operation::Address { address })) = operations.next() else {
                continue;
            };
            let Some(&size) = pools.get(&address) else {
                continue;
            };
            let (Some(gimli::AttributeValue::FileIndex(file)), Some(line)) = (
                entry.attr_value(gimli::DW_AT_decl_file)?,
                entry
                    .attr_value(gimli::DW_AT_decl_line)?
                    .and_then(|l| l.udata_value()),
            ) else {
                continue;
            };
            let (Some(entry), Ok(line)) = (header.file(file), u32::try_from(line)) else {
                continue;
            };
            let index = self.file(file_path(dwarf, unit, header, entry)?);
            self.table.push((address, Some((index, line))));
            self.table.push((address + size, None));
        }
        Ok(())
    }
}

/// The path of a line table's file entry: its name, under its directory, under the unit's
/// compilation directory, as far as each is relative.
fn file_path<R: gimli::Reader>(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    header: &gimli::LineProgramHeader<R>,
    entry: &gimli::FileEntry<R>,
) -> Result<String, gimli::Error> {
    let text = |value| -> Result<String, gimli::Error> {
        Ok(dwarf
            .attr_string(unit, value)?
            .to_string_lossy()?
            .into_owned())
    };
    let mut path = unit
        .comp_dir
        .as_ref()
        .map(|dir| dir.to_string_lossy().map(|d| d.into_owned()))
        .transpose()?
        .map(PathBuf::from)
        .unwrap_or_default();
    if let Some(dir) = entry.directory(header) {
        path.push(text(dir)?);
    }
    path.push(text(entry.path_name())?);
    Ok(path.to_string_lossy().into_owned())
}

/// The name a symbol gives the addresses it holds, if it names any: a function's own, and an
/// Embassy task pool's (the `POOL` static `#[embassy_executor::task]` puts in the task function)
/// the task function's. `gotrace-embassy` writes a task's storage address, which Embassy gives as
/// its task ID, as the PC of its creation stack: the pool names the task.
fn naming_symbol(kind: SymbolKind, name: &str) -> Option<String> {
    match kind {
        SymbolKind::Text => Some(name.to_owned()),
        SymbolKind::Data => {
            let name = format!("{:#}", rustc_demangle::demangle(name));
            Some(name.strip_suffix("::POOL")?.to_owned())
        }
        _ => None,
    }
}

/// The DWARF sections of the ELF `file`, and its byte order.
fn dwarf_sections<'data>(
    file: &object::File<'data>,
) -> Result<(gimli::DwarfSections<Cow<'data, [u8]>>, RunTimeEndian)> {
    let endian = if file.is_little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    // A compressed debug section (`--compress-debug-sections`) is not DWARF as stored: it is
    // refused by name rather than read as garbage ("unexpected end of input"). `object` is
    // built without its decompressors (zlib and zstd), which no firmware build here needs.
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<[u8]>> {
        match file.section_by_name(id.name()) {
            Some(section) => section
                .uncompressed_data()
                .with_context(|| format!("decompressing {}", id.name())),
            None => Ok(Cow::Borrowed(&[])),
        }
    })?;
    Ok((sections, endian))
}

/// One function of a code address's inline chain: its name (demangled, without the hash) and
/// the source line the address is at in it, as far as the DWARF says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFrame {
    pub function: Option<String>,
    pub line: Option<(String, u32)>,
}

/// How much of the vector table is kept to tell the firmware by: the stack pointer and the
/// system exceptions' handlers, which differ from build to build.
pub const VECTOR_TABLE_HEAD: usize = 64;

/// The HardFault handler's address in the vector table `table` (its fourth entry, the Thumb bit
/// cleared), unless another exception or interrupt shares it (a default handler for all): a stop
/// there would not tell a hard fault.
fn hard_fault_handler(table: &[u8]) -> Option<u32> {
    let entries: Vec<u32> = table
        .chunks_exact(4)
        .map(|entry| u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]))
        .collect();
    let handler = *entries.get(3)?;
    // Entry 0 is the initial stack pointer, entry 1 the reset handler.
    let shared = entries
        .iter()
        .enumerate()
        .any(|(index, &entry)| index >= 2 && index != 3 && entry == handler);
    (handler != 0 && !shared).then_some(handler & !1)
}

/// A code address without the Thumb bit, which Arm ELF symbols and function pointers carry.
fn code_address(address: u64) -> u64 {
    address & !1
}

impl Firmware {
    /// Whether the image loads all of `len` bytes from `address` on.
    pub fn loads(&self, address: u32, len: u32) -> bool {
        self.loaded.iter().any(|&(start, length)| {
            address >= start
                && u64::from(address) + u64::from(len) <= u64::from(start) + u64::from(length)
        })
    }

    /// A firmware of no ELF (no DWARF, no vector table), for the tests to fill in.
    #[cfg(test)]
    pub fn bare(functions: Functions, lines: Lines) -> Self {
        Firmware {
            bytes: Vec::new(),
            rtt_symbol: None,
            hard_float: false,
            architecture: object::Architecture::Arm,
            ram: Vec::new(),
            vector_table: None,
            loaded: Vec::new(),
            vector_table_head: Vec::new(),
            hard_fault_handler: None,
            panic_handler: None,
            functions,
            lines,
        }
    }

    /// For each of `pcs`, the functions inlined there, innermost first, each with its source
    /// line: what `addr2line -i` says. Empty where the DWARF knows no function there. Parses the
    /// DWARF anew, once for all of them: for the odd addresses (a fault's), not a trace's frames.
    pub fn source_frames<const N: usize>(&self, pcs: [u32; N]) -> Result<[Vec<SourceFrame>; N]> {
        let file = object::File::parse(&*self.bytes)?;
        let (sections, endian) = dwarf_sections(&file)?;
        let context =
            addr2line::Context::from_dwarf(sections.borrow(|data| EndianSlice::new(data, endian)))?;
        let mut all = std::array::from_fn(|_| Vec::new());
        for (pc, found) in pcs.into_iter().zip(&mut all) {
            let mut frames = context
                .find_frames(code_address(pc.into()))
                .skip_all_loads()?;
            while let Some(frame) = frames.next()? {
                let function = match &frame.function {
                    Some(name) => {
                        Some(format!("{:#}", rustc_demangle::demangle(&name.raw_name()?)))
                    }
                    None => None,
                };
                let line = frame
                    .location
                    .and_then(|location| Some((location.file?.to_owned(), location.line?)));
                found.push(SourceFrame { function, line });
            }
        }
        Ok(all)
    }

    /// What to say of an ELF (at `path`) without function symbols, if it is one: a stripped ELF
    /// names no task and no stack frame, and the summary's "0 stack frames named" alone does not
    /// say why.
    pub fn unnamed_warning(&self, path: &std::path::Path) -> Option<String> {
        // Linked without `cortex-m-rt`'s `link.x`, nothing keeps the firmware's code: no
        // function is left, and no vector table either.
        let why = match self.vector_table {
            Some(_) => "stripped?",
            None => "and no vector table: stripped, or linked without cortex-m-rt's `link.x`?",
        };
        self.functions.is_empty().then(|| format!(
            "{} has no function symbols ({why}): no task and no stack frame of the trace can be named from it; give the ELF as the build left it, before `strip` or `objcopy`",
            path.display()
        ))
    }

    /// [`Firmware::load`], refusing an ELF that is not 32-bit Arm: a host program or a kernel of
    /// another architecture locks QEMU's Cortex-M up at once (all the gdb stub would say is that
    /// it closed the connection), and names no frame of a device's trace.
    pub fn load_arm(path: &std::path::Path) -> Result<Self> {
        let firmware = Firmware::load(path)?;
        let architecture = firmware.architecture;
        anyhow::ensure!(
            architecture == object::Architecture::Arm,
            "{} is not a 32-bit Arm firmware: its ELF is for {architecture:?} (build the firmware for a thumbv6m/v7m/v7em/v8m target)",
            path.display()
        );
        Ok(firmware)
    }

    pub fn load(path: &std::path::Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading firmware {}", path.display()))?;
        let file = object::File::parse(&*bytes)
            .with_context(|| format!("{} is not an ELF file", path.display()))?;
        let rtt_symbol = file
            .symbols()
            .find(|s| s.name() == Ok("_SEGGER_RTT"))
            .map(|s| s.address() as u32);
        let panic_handler = file
            .symbols()
            .find(|s| s.kind() == SymbolKind::Text && s.name().is_ok_and(is_panic_handler))
            .map(|s| s.address() as u32 & !1);
        let mut sections: Vec<(u32, u32)> = Vec::new();
        for section in file.sections() {
            let writable = matches!(
                section.kind(),
                SectionKind::Data | SectionKind::UninitializedData
            );
            if !writable || section.size() == 0 {
                continue;
            }
            let start = section.address() as u32;
            sections.push((start, start.saturating_add(section.size() as u32)));
        }
        sections.sort_unstable();
        let mut ram: Vec<(u32, u32)> = Vec::new();
        for (start, end) in sections {
            match ram.last_mut() {
                Some((_, last_end)) if start <= *last_end => *last_end = (*last_end).max(end),
                _ => ram.push((start, end)),
            }
        }
        let vector_table_section = file.section_by_name(".vector_table");
        let vector_table = vector_table_section
            .as_ref()
            .map(|section| section.address() as u32);
        let vector_table_data = vector_table_section
            .and_then(|section| section.data().ok())
            .unwrap_or_default();
        let hard_fault_handler = hard_fault_handler(vector_table_data);
        let vector_table_head =
            vector_table_data[..vector_table_data.len().min(VECTOR_TABLE_HEAD)].to_vec();
        // EF_ARM_ABI_FLOAT_HARD in the ELF header's flags.
        let hard_float =
            matches!(file.flags(), FileFlags::Elf { e_flags, .. } if e_flags & 0x400 != 0);
        let functions = Functions::new(file.symbols().filter_map(|s| {
            let name = naming_symbol(s.kind(), s.name().ok()?)?;
            Some((s.address(), s.size(), name))
        }));
        // Source lines are a nicety of the trace's stack frames: without them, or with line tables
        // this reader cannot read, frames name their functions only.
        let lines = Lines::read(&file).unwrap_or_else(|error| {
            errln!(
                "gotrace: no source lines from {}: its DWARF line tables: {error:#}",
                path.display()
            );
            Lines::default()
        });
        if let Some(warning) = lines.skipped_warning(path) {
            errln!("gotrace: {warning}");
        }
        let architecture = file.architecture();
        let loaded = file
            .segments()
            .filter_map(|segment| {
                let length = segment.data().ok()?.len() as u32;
                (length > 0).then_some((segment.address() as u32, length))
            })
            .collect();
        Ok(Firmware {
            functions,
            lines,
            hard_float,
            architecture,
            bytes,
            rtt_symbol,
            ram: ram
                .into_iter()
                .map(|(start, end)| (start, end - start))
                .collect(),
            vector_table,
            loaded,
            vector_table_head,
            hard_fault_handler,
            panic_handler,
        })
    }
}

/// Whether a symbol is the panic handler's: `rust_begin_unwind`, as the legacy mangling leaves
/// it, or `__rustc::rust_begin_unwind` in the v0 mangling's demangled form.
fn is_panic_handler(name: &str) -> bool {
    name == "rust_begin_unwind"
        || format!("{:#}", rustc_demangle::demangle(name)) == "__rustc::rust_begin_unwind"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panic_handler_is_found_by_its_name_in_either_mangling() {
        assert!(is_panic_handler("rust_begin_unwind"));
        assert!(is_panic_handler(
            "_RNvCsfLfy6EI15iL_7___rustc17rust_begin_unwind"
        ));
        assert!(!is_panic_handler(
            "_RNvCsfLfy6EI15iL_7___rustc18rust_begin_unwind2"
        ));
        assert!(!is_panic_handler("my_rust_begin_unwind"));
    }

    #[test]
    fn the_image_loads_a_range_only_if_one_segment_holds_all_of_it() {
        let mut firmware = Firmware::bare(Functions::default(), Lines::default());
        firmware.loaded = vec![(0x100, 0x10), (0x110, 0x10), (0xffff_fff0, 0x10)];
        assert!(firmware.loads(0x100, 0x10));
        assert!(firmware.loads(0x108, 8));
        assert!(!firmware.loads(0x108, 9), "across two segments");
        assert!(!firmware.loads(0xff, 1));
        assert!(!firmware.loads(0x120, 1));
        assert!(
            firmware.loads(0xffff_fff8, 8),
            "up to the end of the address space"
        );
        assert!(!firmware.loads(0xffff_fff8, 9));
    }

    /// The control block the firmware defines, by name: this test executable's.
    #[unsafe(no_mangle)]
    static _SEGGER_RTT: [u8; 24] = *b"SEGGER RTT\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

    #[test]
    fn the_control_block_and_the_panic_handler_are_found_by_their_symbols() {
        // This test executable defines both: `_SEGGER_RTT` above, and std's panic handler.
        std::hint::black_box(&_SEGGER_RTT);
        let path = std::env::current_exe().unwrap();
        let firmware = Firmware::load(&path).unwrap();
        let file = object::File::parse(&*firmware.bytes).unwrap();
        // The control block's address as it is (a byte array may be at an odd one), a code
        // address without the Thumb bit.
        let control_block = file
            .symbols()
            .find(|s| s.name() == Ok("_SEGGER_RTT"))
            .map(|s| s.address() as u32);
        assert!(control_block.is_some());
        assert_eq!(firmware.rtt_symbol, control_block);
        let panic_handler = file
            .symbols()
            .find(|s| s.kind() == SymbolKind::Text && s.name().is_ok_and(is_panic_handler))
            .map(|s| s.address() as u32 & !1);
        assert!(panic_handler.is_some_and(|address| address != 0));
        assert_eq!(firmware.panic_handler, panic_handler);
        // Its code is in what the image loads from the file.
        assert!(
            firmware.loads(panic_handler.unwrap(), 2),
            "{:x?}",
            firmware.loaded
        );
    }

    #[test]
    fn the_hard_fault_handler_is_the_fourth_vector_unless_shared() {
        let table = |entries: &[u32]| -> Vec<u8> {
            entries
                .iter()
                .flat_map(|entry| entry.to_le_bytes())
                .collect()
        };
        // Stack pointer, reset, NMI, HardFault, MemManage (the default handler), an interrupt.
        let own = table(&[0x2000_4000, 0x101, 0x201, 0x301, 0x401, 0x401]);
        assert_eq!(hard_fault_handler(&own), Some(0x300));
        let shared = table(&[0x2000_4000, 0x101, 0x201, 0x401, 0x401]);
        assert_eq!(hard_fault_handler(&shared), None);
        // An interrupt handled by the HardFault handler too: a stop there is no fault.
        let interrupt = table(&[0x2000_4000, 0x101, 0x201, 0x301, 0x401, 0x301]);
        assert_eq!(hard_fault_handler(&interrupt), None);
        assert_eq!(
            hard_fault_handler(&table(&[0x2000_4000, 0x101, 0x201])),
            None
        );
        assert_eq!(
            hard_fault_handler(&table(&[0x2000_4000, 0x101, 0x201, 0])),
            None
        );
    }

    #[test]
    fn a_pc_is_named_by_the_function_holding_it_demangled_and_without_thumb_bit() {
        let functions = Functions::new([
            // As rustc writes them for Thumb: odd addresses, legacy mangling with a hash.
            (
                0x1001,
                0x20,
                "_ZN24gotrace_firmware_example8workload8transfer17h0123456789abcdefE".to_owned(),
            ),
            (0x1041, 0x10, "plain_c_function".to_owned()),
            (0x2001, 0, "a_label_without_size".to_owned()),
        ]);
        let transfer = Some("gotrace_firmware_example::workload::transfer");
        assert_eq!(functions.at(0x1001), transfer, "a function pointer");
        assert_eq!(functions.at(0x1000), transfer);
        assert_eq!(functions.at(0x101f), transfer, "the last byte");
        assert_eq!(functions.at(0x1020), None, "between functions");
        assert_eq!(functions.at(0x1045), Some("plain_c_function"));
        assert_eq!(
            functions.at(0x2001),
            None,
            "symbols without a size name nothing"
        );
        assert_eq!(functions.at(0x0fff), None, "before the first");

        let past_the_end = Functions::new([(u64::MAX - 1, 0x10, "damaged".to_owned())]);
        assert_eq!(past_the_end.at(u64::MAX - 1), Some("damaged"));
    }

    #[test]
    fn an_embassy_task_pool_names_the_tasks_in_it_after_their_function() {
        // `#[embassy_executor::task] async fn blink()` in crate `app`, pool of 2 tasks.
        let pool = "_ZN3app5blink4POOL17h0123456789abcdefE";
        assert_eq!(
            naming_symbol(SymbolKind::Data, pool).as_deref(),
            Some("app::blink")
        );
        assert_eq!(naming_symbol(SymbolKind::Data, "_SEGGER_RTT"), None);
        assert_eq!(
            naming_symbol(SymbolKind::Data, "_ZN3app6BUFFER17h0123456789abcdefE"),
            None,
            "other statics name nothing"
        );
        assert_eq!(
            naming_symbol(SymbolKind::Text, "plain_c_function").as_deref(),
            Some("plain_c_function")
        );
        let functions = Functions::new([(
            0x2000_0100,
            0x40,
            naming_symbol(SymbolKind::Data, pool).unwrap(),
        )]);
        assert_eq!(
            functions.at(0x2000_0120),
            Some("app::blink"),
            "the second task"
        );
    }

    #[test]
    fn overlapping_symbols_name_a_pc_by_the_innermost_that_holds_it() {
        // The last symbol starting at or before the PC was taken, and nothing else looked at:
        // past the end of a symbol nested in another, the PC was in no function, and of two
        // starting at one address the larger was taken over the one holding it more closely.
        let functions = Functions::new([
            (0x1001, 0x100, "outer".to_owned()),
            (0x1011, 0x10, "nested".to_owned()),
            (0x10f1, 0x20, "overlapping".to_owned()),
            (0x1201, 0x40, "large".to_owned()),
            (0x1201, 0x10, "small".to_owned()),
            // Aliases: one span, two names; the first by name, whatever their order.
            (0x1301, 0x10, "zeta".to_owned()),
            (0x1301, 0x10, "alpha".to_owned()),
            (0x1301, 0, "a_zero_sized_label".to_owned()),
        ]);
        assert_eq!(functions.at(0x1005), Some("outer"));
        assert_eq!(functions.at(0x1015), Some("nested"));
        assert_eq!(functions.at(0x1025), Some("outer"), "after the nested one");
        assert_eq!(functions.at(0x10f5), Some("overlapping"));
        assert_eq!(functions.at(0x1105), Some("overlapping"), "past outer");
        assert_eq!(functions.at(0x1111), None, "past both");
        assert_eq!(functions.at(0x1205), Some("small"));
        assert_eq!(functions.at(0x1215), Some("large"));
        assert_eq!(functions.at(0x1305), Some("alpha"));
        assert_eq!(functions.at(0x1311), None);
    }

    /// The ELF header of a 32-bit Arm executable and nothing after it: no section, no symbol
    /// (as stripped as an ELF gets).
    fn arm_elf_without_symbols() -> Vec<u8> {
        arm_elf(&[])
    }

    const SHT_PROGBITS: u32 = 1;
    const SHT_NOBITS: u32 = 8;
    /// SHF_WRITE | SHF_ALLOC: a RAM section.
    const WRITE_ALLOC: u32 = 3;

    /// A 32-bit Arm executable with no symbol and the sections `sections` (name, type, flags,
    /// address, size; a `SHT_PROGBITS` one's bytes zeros), and their names' table after them.
    fn arm_elf(sections: &[(&str, u32, u32, u32, u32)]) -> Vec<u8> {
        let sections: Vec<_> = sections
            .iter()
            .map(|&(name, kind, flags, address, size)| (name, kind, flags, address, size, &[][..]))
            .collect();
        arm_elf_holding(&sections)
    }

    /// A section of [`arm_elf_holding`]: name, type, flags, address, size, and a
    /// `SHT_PROGBITS` one's first bytes (zeros after them).
    type SectionHolding<'a> = (&'a str, u32, u32, u32, u32, &'a [u8]);

    /// [`arm_elf`] with each `SHT_PROGBITS` section's first bytes given.
    fn arm_elf_holding(sections: &[SectionHolding]) -> Vec<u8> {
        const HEADER: usize = 52;
        let mut body = Vec::new();
        let mut headers = vec![[0u32; 10]]; // the null section
        let mut names = b"\0.shstrtab\0".to_vec();
        for &(name, kind, flags, address, size, bytes) in sections {
            let offset = HEADER + body.len();
            if kind == SHT_PROGBITS {
                body.extend_from_slice(bytes);
                body.resize(offset - HEADER + size as usize, 0);
            }
            let name_at = names.len() as u32;
            names.extend_from_slice(name.as_bytes());
            names.push(0);
            headers.push([
                name_at,
                kind,
                flags,
                address,
                offset as u32,
                size,
                0,
                0,
                4,
                0,
            ]);
        }
        const SHT_STRTAB: u32 = 3;
        let names_at = HEADER + body.len();
        headers.push([
            1,
            SHT_STRTAB,
            0,
            0,
            names_at as u32,
            names.len() as u32,
            0,
            0,
            1,
            0,
        ]);
        body.extend_from_slice(&names);
        body.resize(body.len().next_multiple_of(4), 0);
        let section_headers = match sections {
            [] => 0,
            _ => HEADER + body.len(),
        };
        let mut elf = b"\x7fELF\x01\x01\x01".to_vec();
        elf.resize(16, 0);
        for half in [2u16, 40] {
            elf.extend_from_slice(&half.to_le_bytes()); // e_type EXEC, e_machine ARM
        }
        // e_version, e_entry, e_phoff, e_shoff, e_flags (EABI 5)
        for word in [1u32, 0x101, 0, section_headers as u32, 0x0500_0000] {
            elf.extend_from_slice(&word.to_le_bytes());
        }
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        let (count, names_index) = match sections {
            [] => (0, 0),
            _ => (headers.len() as u16, headers.len() as u16 - 1),
        };
        for half in [52u16, 32, 0, 40, count, names_index] {
            elf.extend_from_slice(&half.to_le_bytes());
        }
        if !sections.is_empty() {
            elf.extend_from_slice(&body);
            for word in headers.iter().flatten() {
                elf.extend_from_slice(&word.to_le_bytes());
            }
        }
        elf
    }

    #[test]
    fn the_ram_scanned_for_the_control_block_is_the_ram_sections_not_the_span_between() {
        // A firmware with a section in a second RAM (QEMU mps2-an385's PSRAM at 0x2100_0000,
        // an STM32F4's CCM at 0x1000_0000): its stripped ELF was scanned from its lowest RAM
        // section to its highest, 16 MiB on mps2-an385 read over the gdb stub a pass at a time,
        // and the control block at 0x2000_0010 was not found within 10 s ("a RAM scan found
        // nothing"); the gap between two RAMs may not be memory at all.
        let path = gotrace_tests::scratch_dir().join("two-rams.elf");
        std::fs::write(
            &path,
            arm_elf(&[
                (".data", SHT_PROGBITS, WRITE_ALLOC, 0x2000_0000, 0x10),
                (".bss", SHT_NOBITS, WRITE_ALLOC, 0x2000_0010, 0x2000),
                (".psram", SHT_NOBITS, WRITE_ALLOC, 0x2100_0000, 4),
            ]),
        )
        .unwrap();
        let firmware = Firmware::load_arm(&path).unwrap();
        let scanned: u32 = firmware.ram.iter().map(|&(_, len)| len).sum();
        assert_eq!(scanned, 0x2014, "{:x?}", firmware.ram);
        // Sections that touch are one range.
        assert_eq!(
            firmware.ram,
            [(0x2000_0000, 0x2010), (0x2100_0000, 4)],
            "{:x?}",
            firmware.ram
        );
        for address in [0x2000_0000, 0x2000_2000, 0x2100_0000] {
            assert!(
                firmware
                    .ram
                    .iter()
                    .any(|&(start, len)| (start..start + len).contains(&address)),
                "{address:#x} not in {:x?}",
                firmware.ram
            );
        }
    }

    #[test]
    fn an_elf_without_function_symbols_is_said_to_name_nothing() {
        // A stripped ELF named no task and no stack frame, and nothing said why: the summary's
        // "0 stack frames named" alone, as if the firmware had none.
        let path = gotrace_tests::scratch_dir().join("stripped.elf");
        // Flash (SHF_ALLOC), where cortex-m-rt's link.x puts it.
        std::fs::write(&path, arm_elf(&[(".vector_table", SHT_PROGBITS, 2, 0, 8)])).unwrap();
        let firmware = Firmware::load_arm(&path).unwrap();
        let warning = firmware.unnamed_warning(&path).unwrap_or_default();
        assert!(
            warning.starts_with(&format!(
                "{} has no function symbols (stripped?): ",
                path.display()
            )),
            "{warning}"
        );
        // Linked without link.x: no function kept, no vector table (a user's `.cargo/config.toml`
        // naming the old target after switching to thumbv7em), once said to be stripped.
        std::fs::write(&path, arm_elf_without_symbols()).unwrap();
        let firmware = Firmware::load_arm(&path).unwrap();
        let warning = firmware.unnamed_warning(&path).unwrap_or_default();
        assert!(
            warning.contains(
                "(and no vector table: stripped, or linked without cortex-m-rt's `link.x`?)"
            ),
            "{warning}"
        );
        let named = Firmware::load(&std::env::current_exe().unwrap()).unwrap();
        assert_eq!(named.unnamed_warning(&path), None);
    }

    /// A function of its own in the test executable, whose line tables say where it is.
    #[inline(never)]
    fn a_function_of_known_line() -> u32 {
        line!()
    }

    #[test]
    fn the_line_tables_of_a_real_elf_give_a_function_its_source_file_and_line() {
        // This test executable: DWARF as rustc writes it (file names relative to the unit's
        // compilation directory, the workspace), sequences of dropped functions at 0.
        // Called through an opaque pointer, so that it is not folded into its caller and dropped.
        let function: fn() -> u32 = std::hint::black_box(a_function_of_known_line);
        let body = function();
        let path = std::env::current_exe().unwrap();
        let firmware = Firmware::load(&path).unwrap();
        let name = "record::elf::tests::a_function_of_known_line";
        let address = object::File::parse(&*firmware.bytes)
            .unwrap()
            .symbols()
            .find(|s| {
                let symbol = format!("{:#}", rustc_demangle::demangle(s.name().unwrap_or("")));
                symbol.ends_with(name)
            })
            .map(|s| s.address())
            .unwrap_or_else(|| panic!("no {name} in {}", path.display()));
        assert_eq!(
            firmware.functions.at(address).map(|f| f.ends_with(name)),
            Some(true)
        );
        let (file, line) = firmware.lines.at(address).expect("a line for the function");
        assert_eq!(
            file,
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/record/elf.rs")
        );
        // Its first row is one of its three lines (as optimised, `ret` at the closing brace).
        assert!(
            (body - 1..=body + 1).contains(&line),
            "line {line}, body at {body}"
        );
        // rustc writes line 0 for code of no source line: no address gets line 0; every unit
        // was read.
        let lines = &firmware.lines;
        assert!(lines.rows.len() > 1000, "{} rows", lines.rows.len());
        assert!(
            lines
                .rows
                .iter()
                .all(|(_, row)| row.is_none_or(|(_, line)| line > 0)),
            "a row of line 0"
        );
        assert_eq!(lines.skipped_units, 0);
        assert_eq!(lines.skipped_warning(&path), None);
    }

    #[test]
    fn compilation_units_whose_entries_cannot_be_read_are_counted_and_the_others_read() {
        // `.debug_abbrev`: at offset 0 a table with one abbreviation (code 1, a compile unit of
        // no attribute), at offset 6 an empty table.
        let abbreviations = [1, 0x11, 0, 0, 0, 0, 0];
        // A DWARF 4 unit (length, version, its abbreviations' offset, address size) whose root
        // entry has abbreviation code 1: known in the first table, unknown in the second.
        let unit = |abbreviations_at: u32| {
            let mut unit = 8u32.to_le_bytes().to_vec();
            unit.extend_from_slice(&4u16.to_le_bytes());
            unit.extend_from_slice(&abbreviations_at.to_le_bytes());
            unit.extend_from_slice(&[4, 1]);
            unit
        };
        let info = [unit(6), unit(0), unit(6)].concat();
        let path = gotrace_tests::scratch_dir().join("unreadable-units.elf");
        std::fs::write(
            &path,
            arm_elf_holding(&[
                (".debug_abbrev", SHT_PROGBITS, 0, 0, 7, &abbreviations),
                (".debug_info", SHT_PROGBITS, 0, 0, info.len() as u32, &info),
            ]),
        )
        .unwrap();
        let firmware = Firmware::load_arm(&path).unwrap();
        assert_eq!(firmware.lines.skipped_units, 2);
        assert_eq!(
            firmware.lines.skipped_warning(&path),
            Some(format!(
                "2 compilation units of {} have line tables this reader cannot read: their code \
                 has no source lines",
                path.display()
            ))
        );
    }

    #[test]
    fn a_task_pool_has_the_line_of_its_declaration_over_its_whole_size_and_no_further() {
        use gimli::write::{self, AttributeValue, DwarfUnit, EndianVec, LineProgram, LineString};
        // One unit, as rustc writes an Embassy task's pool: a variable at the pool's address,
        // declared in the task function's file and line.
        let encoding = gimli::Encoding {
            format: gimli::Format::Dwarf32,
            version: 4,
            address_size: 4,
        };
        let mut unit = DwarfUnit::new(encoding);
        unit.unit.line_program = LineProgram::new(
            encoding,
            gimli::LineEncoding::default(),
            LineString::String(b"/app".to_vec()),
            LineString::String(b"src/main.rs".to_vec()),
            None,
        );
        let directory = unit.unit.line_program.default_directory();
        let file = unit.unit.line_program.add_file(
            LineString::String(b"src/main.rs".to_vec()),
            directory,
            None,
        );
        let pool = |unit: &mut DwarfUnit, address: u64, line: u64| {
            let root = unit.unit.root();
            let variable = unit.unit.add(root, gimli::DW_TAG_variable);
            let mut location = write::Expression::new();
            location.op_addr(write::Address::Constant(address));
            let entry = unit.unit.get_mut(variable);
            entry.set(gimli::DW_AT_location, AttributeValue::Exprloc(location));
            entry.set(
                gimli::DW_AT_decl_file,
                AttributeValue::FileIndex(Some(file)),
            );
            entry.set(gimli::DW_AT_decl_line, AttributeValue::Udata(line));
        };
        pool(&mut unit, 0x2000_0100, 12);
        // A variable that is no pool (not in the symbols' pools) has no line.
        pool(&mut unit, 0x2000_0200, 20);
        let mut sections = write::Sections::new(EndianVec::new(RunTimeEndian::Little));
        unit.write(&mut sections).unwrap();
        let dwarf = gimli::Dwarf::load(|id| -> Result<_, gimli::Error> {
            let data = sections.get(id).map_or(&[][..], |section| section.slice());
            Ok(EndianSlice::new(data, RunTimeEndian::Little))
        })
        .unwrap();
        let lines = Lines::of_dwarf(&dwarf, &HashMap::from([(0x2000_0100, 0x40)])).unwrap();
        assert_eq!(lines.skipped_units, 0);
        for pc in [0x2000_0100, 0x2000_0120, 0x2000_013f] {
            assert_eq!(lines.at(pc), Some(("src/main.rs", 12)), "{pc:#x}");
        }
        for pc in [0x2000_00ff, 0x2000_0140, 0x2000_0200] {
            assert_eq!(lines.at(pc), None, "{pc:#x}");
        }
    }

    #[test]
    fn a_pc_has_the_line_of_the_last_row_at_or_before_it_within_its_sequence() {
        let files = vec!["src/a.rs".to_owned(), "src/b.rs".to_owned()];
        // Two sequences, given out of order: 0x1000..0x1010 and 0x1010..0x1020 (b.rs), then a
        // gap until 0x2000.
        let lines = Lines::new(
            vec![
                (0x1010, Some((1, 30))),
                (0x1020, None),
                (0x1000, Some((0, 10))),
                (0x1008, Some((0, 12))),
                (0x1010, None),
            ],
            files,
        );
        assert_eq!(
            lines.at(0x1001),
            Some(("src/a.rs", 10)),
            "a function pointer"
        );
        assert_eq!(lines.at(0x1007), Some(("src/a.rs", 10)));
        assert_eq!(lines.at(0x1008), Some(("src/a.rs", 12)));
        assert_eq!(
            lines.at(0x1010),
            Some(("src/b.rs", 30)),
            "the next sequence starts where the first ends"
        );
        assert_eq!(lines.at(0x1020), None, "after the last sequence");
        assert_eq!(lines.at(0x0fff), None, "before the first");
    }
}
