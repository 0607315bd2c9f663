//! What the host reads from the firmware's ELF: where the RTT control block is, where RAM is (to
//! scan for the block when the symbol is stripped), and which function a code address is in (to
//! name the tasks by their entry points).

use anyhow::{Context, Result};
use object::{FileFlags, Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

/// Facts about the firmware image.
#[derive(Debug, Clone)]
pub struct Firmware {
    pub bytes: Vec<u8>,
    /// Address of `_SEGGER_RTT`, if the symbol table has it.
    pub rtt_symbol: Option<u32>,
    /// Built for the hard-float ABI (thumbv7em-none-eabihf): it needs an FPU (Cortex-M4F).
    pub hard_float: bool,
    /// The span of the image's RAM sections (`.data`, `.bss`, `.uninit`), to scan.
    pub ram: Option<(u32, u32)>,
    pub functions: Functions,
}

/// The ELF's function symbols, by address.
#[derive(Debug, Clone, Default)]
pub struct Functions {
    /// (start, end, demangled name without the hash), sorted by start.
    spans: Vec<(u64, u64, String)>,
}

impl Functions {
    /// From (address, size, symbol name) triples, names mangled or not.
    pub fn new(symbols: impl IntoIterator<Item = (u64, u64, String)>) -> Self {
        let mut spans: Vec<_> = symbols
            .into_iter()
            .filter(|(_, size, _)| *size > 0)
            .map(|(address, size, name)| {
                let start = code_address(address);
                let name = format!("{:#}", rustc_demangle::demangle(&name));
                (start, start + size, name)
            })
            .collect();
        spans.sort();
        Functions { spans }
    }

    /// The function whose code holds `pc` (a Thumb address, or a function pointer with the Thumb
    /// bit set).
    pub fn at(&self, pc: u64) -> Option<&str> {
        let pc = code_address(pc);
        let after = self.spans.partition_point(|(start, _, _)| *start <= pc);
        let (_, end, name) = self.spans[..after].last()?;
        (pc < *end).then_some(name.as_str())
    }
}

/// A code address without the Thumb bit, which Arm ELF symbols and function pointers carry.
fn code_address(address: u64) -> u64 {
    address & !1
}

impl Firmware {
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading firmware {}", path.display()))?;
        let file = object::File::parse(&*bytes)
            .with_context(|| format!("{} is not an ELF file", path.display()))?;
        let rtt_symbol = file
            .symbols()
            .find(|s| s.name() == Ok("_SEGGER_RTT"))
            .map(|s| s.address() as u32);
        let mut ram: Option<(u32, u32)> = None;
        for section in file.sections() {
            let writable = matches!(
                section.kind(),
                SectionKind::Data | SectionKind::UninitializedData
            );
            if !writable || section.size() == 0 {
                continue;
            }
            let start = section.address() as u32;
            let end = start.saturating_add(section.size() as u32);
            ram = Some(match ram {
                Some((lo, hi)) => (lo.min(start), hi.max(end)),
                None => (start, end),
            });
        }
        // EF_ARM_ABI_FLOAT_HARD in the ELF header's flags.
        let hard_float =
            matches!(file.flags(), FileFlags::Elf { e_flags, .. } if e_flags & 0x400 != 0);
        let functions = Functions::new(
            file.symbols()
                .filter(|s| s.kind() == SymbolKind::Text)
                .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_owned()))),
        );
        Ok(Firmware {
            functions,
            hard_float,
            bytes,
            rtt_symbol,
            ram: ram.map(|(lo, hi)| (lo, hi - lo)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
