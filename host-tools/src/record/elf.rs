//! What the host reads from the firmware's ELF: where the RTT control block is, and where RAM
//! is (to scan for the block when the symbol is stripped).

use anyhow::{Context, Result};
use object::{FileFlags, Object, ObjectSection, ObjectSymbol, SectionKind};

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
        Ok(Firmware {
            hard_float,
            bytes,
            rtt_symbol,
            ram: ram.map(|(lo, hi)| (lo, hi - lo)),
        })
    }
}
