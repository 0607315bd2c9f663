//! Where a hard fault happened, named from the firmware's ELF.
//!
//! As it enters the HardFault handler, the core has stacked the faulting code's r0–r3, r12, LR,
//! PC and xPSR, and put an EXC_RETURN value in LR that says which stack holds them. The host
//! stops the core there (under QEMU, a breakpoint on the handler's first instruction, read from
//! the vector table), reads the stacked PC and LR, and the summary names them after the ELF's
//! functions and source lines: what a user would otherwise do by hand with `addr2line`, for any
//! firmware, whatever its handler logs (a firmware that logs nothing gave only an exit status).

use anyhow::Result;

use super::elf::{Firmware, Functions, Lines, SourceFrame};
use super::rtt::Memory;

/// EXC_RETURN bit 2: the frame is on the process stack (PSP), not the main one (MSP).
const EXC_RETURN_PROCESS_STACK: u32 = 1 << 2;

/// Where the stacked PC is in the exception frame: after r0–r3, r12 and LR. The same in the
/// frame with floating-point state, which only adds to its end.
const FRAME_PC_OFFSET: u32 = 6 * 4;
const FRAME_LR_OFFSET: u32 = 5 * 4;

/// Where the core was when it faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultSite {
    /// The faulting code's PC and LR, as the core stacked them.
    Frame { pc: u32, lr: u32 },
    /// The frame is on the process stack, whose pointer the debugger does not give (QEMU's gdb
    /// stub describes no PSP register for M-profile cores).
    ProcessStack,
}

impl FaultSite {
    /// Reads the frame the core stacked, at the handler's first instruction: `exc_return` is LR
    /// there, `main_sp` the main stack pointer, `process_sp` the process stack pointer if the
    /// debugger gives it.
    pub fn read(
        memory: &mut impl Memory,
        exc_return: u32,
        main_sp: u32,
        process_sp: Option<u32>,
    ) -> Result<Self> {
        let frame = if exc_return & EXC_RETURN_PROCESS_STACK == 0 {
            main_sp
        } else {
            match process_sp {
                Some(sp) => sp,
                None => return Ok(FaultSite::ProcessStack),
            }
        };
        let mut word = |offset: u32| -> Result<u32> {
            let mut bytes = [0u8; 4];
            memory.read(frame.wrapping_add(offset), &mut bytes)?;
            Ok(u32::from_le_bytes(bytes))
        };
        Ok(FaultSite::Frame {
            pc: word(FRAME_PC_OFFSET)?,
            lr: word(FRAME_LR_OFFSET)?,
        })
    }

    /// The summary's lines: each address with the functions inlined there and their source
    /// lines, from the firmware's DWARF (as `addr2line -i` gives them); the function symbol and
    /// line table alone where that says nothing.
    pub fn describe(&self, firmware: &Firmware) -> String {
        match *self {
            FaultSite::Frame { pc, lr } => {
                let [at_pc, at_lr] = firmware.source_frames([pc, lr]).unwrap_or_default();
                format!(
                    "hard fault at PC {}\n  (LR {})",
                    named(pc, at_pc, firmware),
                    named(lr, at_lr, firmware)
                )
            }
            FaultSite::ProcessStack => "hard fault on the process stack (PSP), which the debugger \
                                        does not show: where it happened is unknown"
                .to_owned(),
        }
    }
}

/// `0x0000a1b2 in f at src/m.rs:12`, then a line `inlined into g at src/m.rs:30` for each
/// function it was inlined into: the DWARF's `frames` there, or the symbol and line tables'.
fn named(address: u32, mut frames: Vec<SourceFrame>, firmware: &Firmware) -> String {
    if frames.is_empty() {
        frames.push(symbol_frame(address, &firmware.functions, &firmware.lines));
    }
    let mut text = format!("{address:#010x}");
    for (depth, frame) in frames.iter().enumerate() {
        text.push_str(match (depth, &frame.function) {
            (0, Some(_)) => " in ",
            (0, None) => ", in no function of the ELF",
            (_, Some(_)) => "\n    inlined into ",
            (_, None) => "\n    inlined into a function the ELF does not name",
        });
        if let Some(function) = &frame.function {
            text.push_str(function);
        }
        if let Some((file, line)) = &frame.line {
            text.push_str(&format!(" at {file}:{line}"));
        }
    }
    text
}

/// What the symbol table and line tables say of `address`, for an ELF whose DWARF does not.
fn symbol_frame(address: u32, functions: &Functions, lines: &Lines) -> SourceFrame {
    SourceFrame {
        function: functions.at(address.into()).map(str::to_owned),
        line: lines
            .at(address.into())
            .map(|(file, line)| (file.to_owned(), line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory of words from `base`, the rest unreadable.
    struct Words {
        base: u32,
        words: Vec<u32>,
    }

    impl Memory for Words {
        fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()> {
            let index = addr
                .checked_sub(self.base)
                .map(|offset| offset as usize / 4)
                .filter(|_| addr.is_multiple_of(4) && out.len() == 4);
            match index.and_then(|index| self.words.get(index)) {
                Some(word) => {
                    out.copy_from_slice(&word.to_le_bytes());
                    Ok(())
                }
                None => anyhow::bail!("no memory at {addr:#x}"),
            }
        }
        fn write(&mut self, _: u32, _: &[u8]) -> Result<()> {
            unreachable!("a fault's frame is only read")
        }
    }

    /// A frame as the core stacks it: r0–r3, r12, LR, PC, xPSR.
    fn frame(lr: u32, pc: u32) -> Vec<u32> {
        vec![0, 1, 2, 3, 12, lr, pc, 0x0100_0000]
    }

    #[test]
    fn the_frame_is_read_from_the_stack_exc_return_names() {
        let mut main = Words {
            base: 0x2000_0f00,
            words: frame(0x0000_1235, 0x0000_2000),
        };
        // Thread mode on the main stack, as cortex-m-rt's firmwares run.
        let site = FaultSite::read(&mut main, 0xffff_fff9, 0x2000_0f00, None).unwrap();
        assert_eq!(
            site,
            FaultSite::Frame {
                pc: 0x2000,
                lr: 0x1235
            }
        );
        // A handler faulting: the main stack too.
        let site = FaultSite::read(&mut main, 0xffff_fff1, 0x2000_0f00, Some(0x2000_0100));
        assert_eq!(
            site.unwrap(),
            FaultSite::Frame {
                pc: 0x2000,
                lr: 0x1235
            }
        );
        let mut process = Words {
            base: 0x2000_0100,
            words: frame(0x0000_3001, 0x0000_4000),
        };
        let site = FaultSite::read(&mut process, 0xffff_fffd, 0x2000_0f00, Some(0x2000_0100));
        assert_eq!(
            site.unwrap(),
            FaultSite::Frame {
                pc: 0x4000,
                lr: 0x3001
            }
        );
        let site = FaultSite::read(&mut process, 0xffff_fffd, 0x2000_0f00, None).unwrap();
        assert_eq!(site, FaultSite::ProcessStack);
    }

    #[test]
    fn a_frame_that_cannot_be_read_is_an_error() {
        let mut nothing = Words {
            base: 0x2000_0000,
            words: Vec::new(),
        };
        assert!(FaultSite::read(&mut nothing, 0xffff_fff9, 0x2000_0f00, None).is_err());
    }

    #[test]
    fn without_dwarf_each_address_is_named_by_its_symbol_and_line_table_row() {
        let functions = Functions::new([
            (0x1001, 0x100, "app::logger".to_owned()),
            (0x2001, 0x10, "app::read".to_owned()),
        ]);
        let lines = Lines::new(
            vec![(0x2000, Some((0, 157))), (0x2008, None)],
            vec!["src/app.rs".to_owned()],
        );
        let firmware = Firmware::bare(functions, lines);
        let site = FaultSite::Frame {
            pc: 0x2004,
            lr: 0x1035,
        };
        assert_eq!(
            site.describe(&firmware),
            "hard fault at PC 0x00002004 in app::read at src/app.rs:157\n  (LR 0x00001035 in \
             app::logger)"
        );
        let outside = FaultSite::Frame {
            pc: 0x9000,
            lr: 0xffff_fff9,
        };
        assert_eq!(
            outside.describe(&firmware),
            "hard fault at PC 0x00009000, in no function of the ELF\n  (LR 0xfffffff9, in no \
             function of the ELF)"
        );
        assert!(FaultSite::ProcessStack
            .describe(&firmware)
            .contains("process stack"));
    }
}
