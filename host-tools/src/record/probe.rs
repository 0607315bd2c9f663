//! A real board: flash and run the ELF through a debug probe with probe-rs, and read the same RTT
//! channels as under QEMU: probe-rs finds the control block and sets the log channel's mode, and
//! our own reader ([`ControlBlock`]) drains the channels through probe-rs's memory access (the
//! probe reads memory while the core runs, so nothing is halted). probe-rs's `UpChannel::read`
//! dropped the bytes it had read when writing the read offset back failed, and does not see a
//! firmware that set its RTT up again; our drain keeps the one and refuses the other, and the
//! gdbstub's tests cover it.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use probe_rs::config::Registry;
use probe_rs::flashing::{download_file, image_format};
use probe_rs::probe::{list::Lister, DebugProbeSelector, Probe};
use probe_rs::rtt::{ChannelMode, Rtt};
use probe_rs::semihosting::SemihostingCommand;
use probe_rs::{BreakpointCause, CoreStatus, HaltReason, MemoryInterface, Permissions, Session};

use super::elf::Firmware;
use super::link::{ChannelMap, Drained, End, Link, Liveness};
use super::rtt::{ControlBlock, Memory, Peek};

/// The board's memory through probe-rs, as our RTT control block reader reads and writes it.
struct CoreMemory<'probe>(probe_rs::Core<'probe>);

impl Memory for CoreMemory<'_> {
    fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()> {
        Ok(self.0.read(u64::from(addr), out)?)
    }

    /// With the widest accesses the alignment allows: a 4-byte offset, aligned, is one 32-bit
    /// write the firmware cannot see half done (`write_8` wrote it a byte at a time, and fails
    /// on memory access ports that do only 32-bit transfers).
    fn write(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        Ok(self.0.write(u64::from(addr), data)?)
    }
}

pub struct ProbeLink {
    session: Session,
    rtt: Rtt,
    /// Our reading of the control block probe-rs found: what `poll` drains and `send_control`
    /// writes through.
    block: ControlBlock,
    channels: ChannelMap,
    /// The log channel and the mode it had before we made it wait for room.
    log_mode: Option<(usize, ChannelMode)>,
}

impl ProbeLink {
    /// Opens the probe (`selector` is `VID:PID[:SERIAL]`, or the only probe), attaches to
    /// `chip`, flashes the ELF, resets, and waits for the firmware's RTT control block.
    pub fn open(
        chip: &str,
        selector: Option<&str>,
        elf: &Path,
        firmware: &Firmware,
    ) -> Result<Self> {
        let checked = check_board(chip, selector)?;
        let probe = open_probe(selector.zip(checked))?;
        let mut session = probe
            .attach(chip, Permissions::default())
            .with_context(|| format!("attaching to {chip}"))?;
        let loader = image_format("elf")
            .ok_or_else(|| anyhow!("this probe-rs cannot load ELF files"))?
            .create_loader(None);
        download_file(&mut session, elf, loader)
            .with_context(|| format!("flashing {}", elf.display()))?;
        session.core(0)?.reset().context("resetting the core")?;
        let mut rtt = attach_rtt(&mut session, firmware)?;
        let channels = map_channels(&mut rtt)?;
        let block = read_control_block(&mut session, &rtt)?;
        // The firmware drops logs that do not fit while nobody may be reading; now we are.
        let mut log_mode = None;
        if let Some(index) = channels.defmt {
            if let Some(channel) = rtt.up_channel(index) {
                let mut core = session.core(0)?;
                log_mode = Some((index, channel.mode(&mut core)?));
                channel
                    .set_mode(&mut core, ChannelMode::BlockIfFull)
                    .context("making the log channel wait for the host")?;
            }
        }
        Ok(ProbeLink {
            session,
            rtt,
            block,
            channels,
            log_mode,
        })
    }
}

/// Our own reading of the RTT control block, where probe-rs found it.
fn read_control_block(session: &mut Session, rtt: &Rtt) -> Result<ControlBlock> {
    let address = u32::try_from(rtt.ptr()).context("the RTT control block lies above 4 GiB")?;
    ControlBlock::read(&mut CoreMemory(session.core(0)?), address)?
        .ok_or_else(|| anyhow!("the RTT control block at {address:#x} is gone"))
}

fn attach_rtt(session: &mut Session, firmware: &Firmware) -> Result<Rtt> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut core = session.core(0)?;
        let attached = match firmware.rtt_symbol {
            Some(addr) => Rtt::attach_at(&mut core, u64::from(addr)),
            None => Rtt::attach(&mut core),
        };
        match attached {
            Ok(rtt) => return Ok(rtt),
            Err(e) if Instant::now() > deadline => {
                return Err(e).context("no RTT control block appeared within 10 s")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Opens the probe `selector` names (`--probe` as given, and parsed) or else the first one found. probe-rs's
/// own error said neither which probe nor what to check ("The debug probe could not be created.:
/// A USB error occurred.: ...").
fn open_probe(selector: Option<(&str, DebugProbeSelector)>) -> Result<Probe> {
    const CHECK: &str = "is it plugged in, and may this user open it (probe-rs's udev rules)?";
    let lister = Lister::new();
    match selector {
        Some((given, selector)) => lister
            .open(selector)
            .with_context(|| format!("opening the debug probe --probe {given} ({CHECK})")),
        None => {
            let probes = lister.list_all();
            let first = probes
                .first()
                .ok_or_else(|| anyhow!("no debug probe found (is one plugged in?)"))?;
            lister
                .open(first)
                .with_context(|| format!("opening the debug probe {} ({CHECK})", first.identifier))
        }
    }
}

/// Checks `--chip` and `--probe` before any probe is touched: the chip must be one probe-rs
/// knows, the selector `VID:PID[:SERIAL]` in hexadecimal.
fn check_board(chip: &str, selector: Option<&str>) -> Result<Option<DebugProbeSelector>> {
    if chip.trim().is_empty() {
        bail!("--chip is empty: give a chip name probe-rs knows (`probe-rs chip list`)");
    }
    Registry::from_builtin_families()
        .get_target_by_name(chip)
        .with_context(|| {
            format!("--chip {chip}: not a chip probe-rs knows (`probe-rs chip list`)")
        })?;
    selector
        .map(|s| {
            let malformed = |why: String| {
                anyhow!("--probe {s:?}: want VID:PID[:SERIAL], in hexadecimal: {why}")
            };
            let mut fields = s.splitn(3, ':');
            let (vid, pid) = (fields.next().unwrap_or_default(), fields.next());
            let pid = pid.ok_or_else(|| malformed("no ':' between VID and PID".into()))?;
            // probe-rs also takes an interface after the PID (`PID-N`).
            let pid = pid.split('-').next().unwrap_or_default();
            for (name, value) in [("VID", vid), ("PID", pid)] {
                if u16::from_str_radix(value, 16).is_err() {
                    return Err(malformed(format!(
                        "{name} {value:?} is not a 16-bit hexadecimal number"
                    )));
                }
            }
            // probe-rs's own message names a form of its own (with an interface) and repeats
            // its cause: ours is the one the option documents.
            s.parse::<DebugProbeSelector>()
                .map_err(|error| malformed(error.to_string()))
        })
        .transpose()
}

/// The protocol's channels among those probe-rs found in the control block.
fn map_channels(rtt: &mut Rtt) -> Result<ChannelMap> {
    let up: Vec<Option<String>> = rtt
        .up_channels()
        .iter()
        .map(|c| c.name().map(str::to_owned))
        .collect();
    let down: Vec<Option<String>> = rtt
        .down_channels()
        .iter()
        .map(|c| c.name().map(str::to_owned))
        .collect();
    ChannelMap::find(&up, &down)
}

impl Drop for ProbeLink {
    /// The board runs on without us: its log channel goes back to the mode it had, or its
    /// firmware would wait for a reader that has gone once the channel fills.
    fn drop(&mut self) {
        let Some((index, mode)) = self.log_mode else {
            return;
        };
        if let (Ok(mut core), Some(channel)) = (self.session.core(0), self.rtt.up_channel(index)) {
            let _ = channel.set_mode(&mut core, mode);
        }
    }
}

impl Link for ProbeLink {
    fn poll(&mut self, out: &mut Drained) -> Result<Liveness> {
        let mut core = CoreMemory(self.session.core(0)?);
        // Looked at before the drain: a core found stopped has written its last, which the
        // drain then takes (after it, what was written between the two would be left).
        let liveness = board_liveness(&mut core.0)?;
        out.drain_block(&mut self.block, &mut core, &self.channels)?;
        Ok(liveness)
    }

    /// Through our own reading of the control block, not probe-rs's `DownChannel::write`, which
    /// writes what fits: a frame cut short would run into the next one the firmware reads.
    fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
        let index = self.channels.control_channel()?;
        self.block
            .send(&mut CoreMemory(self.session.core(0)?), index, frame)
    }

    /// So that a firmware that did not act on the stop command is said to have read it or not,
    /// as under QEMU.
    fn control_unread(&mut self) -> Result<Option<u32>> {
        let index = self.channels.control_channel()?;
        let unread = self
            .block
            .unread(&mut CoreMemory(self.session.core(0)?), index)?;
        Ok(Some(unread))
    }

    fn idle(&mut self, timeout: Duration) -> Result<Liveness> {
        std::thread::sleep(timeout);
        board_liveness(&mut self.session.core(0)?)
    }

    fn hold_trace(&mut self, held: bool) -> Result<()> {
        self.block.hold(held.then_some(self.channels.trace));
        Ok(())
    }

    /// Read while the core runs (the peek's second look at the read offset tells a firmware
    /// that made room meanwhile), and after its end too: a halted or locked-up core's RAM is
    /// still there, the flight recorder's last generations in it.
    fn peek_trace(&mut self) -> Result<Option<Peek>> {
        let mut core = CoreMemory(self.session.core(0)?);
        self.block.peek(&mut core, self.channels.trace).map(Some)
    }

    fn release_trace(&mut self, peek: &Peek) -> Result<()> {
        let mut core = CoreMemory(self.session.core(0)?);
        self.block.release(&mut core, self.channels.trace, peek)
    }
}

/// Whether the firmware on the board has ended, by its core's state: halted at a breakpoint
/// instruction `bkpt #N`, its exit with status N (the example's `board::exit`), or at a
/// semihosting exit, with its status; halted otherwise (another semihosting call, which nothing
/// serves here, a fault caught, another debugger's halt) or locked up, its end without an exit.
/// A panic or fault mid-trace so ends the recording, where only the trace's end record did, and
/// a recording of a firmware that failed ran until Ctrl-C.
fn board_liveness(core: &mut probe_rs::Core) -> Result<Liveness> {
    let end = match core.status()? {
        CoreStatus::Halted(HaltReason::Breakpoint(BreakpointCause::Semihosting(call))) => {
            match call {
                SemihostingCommand::ExitSuccess => End::Exit(0),
                SemihostingCommand::ExitError(details) => {
                    let status = details.exit_status.unwrap_or(1);
                    End::Exit(u8::try_from(status).unwrap_or(u8::MAX))
                }
                _ => End::BoardHalted,
            }
        }
        CoreStatus::Halted(HaltReason::Breakpoint(_)) => {
            let pc: u32 = core.read_core_reg(core.program_counter())?;
            // A word read, aligned, as every memory access port serves: the instruction is
            // the half of it at `pc`.
            let word = core.read_word_32(u64::from(pc & !3))?;
            let instruction = (word >> (8 * (pc & 2))) as u16;
            exit_status(instruction).map_or(End::BoardHalted, End::Exit)
        }
        CoreStatus::Halted(_) => End::BoardHalted,
        CoreStatus::LockedUp => End::BoardLockedUp,
        CoreStatus::Running | CoreStatus::Sleeping | CoreStatus::Unknown => {
            return Ok(Liveness::Running)
        }
    };
    Ok(Liveness::Ended(end))
}

/// The semihosting breakpoint's number (`bkpt 0xAB`): a call for the debugger to serve.
const SEMIHOSTING_BKPT: u8 = 0xAB;

/// The exit status a Thumb `bkpt #N` (0xBENN) gives, if `instruction` is one and not a
/// semihosting call.
fn exit_status(instruction: u16) -> Option<u8> {
    let [immediate, opcode] = instruction.to_le_bytes();
    (opcode == 0xBE && immediate != SEMIHOSTING_BKPT).then_some(immediate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breakpoint_instruction_gives_its_number_as_the_exit_status() {
        assert_eq!(exit_status(0xBE00), Some(0), "bkpt #0");
        assert_eq!(exit_status(0xBE01), Some(1), "bkpt #1");
        assert_eq!(exit_status(0xBE07), Some(7));
        assert_eq!(exit_status(0xBEAB), None, "a semihosting call");
        assert_eq!(exit_status(0xBF30), None, "wfi");
        assert_eq!(exit_status(0x4770), None, "bx lr");
    }

    #[test]
    fn a_known_chip_and_a_probe_selector_are_accepted() {
        assert!(check_board("nRF52840_xxAA", None).unwrap().is_none());
        let selector = check_board("nRF52840_xxAA", Some("1366:1015:000683457123"))
            .unwrap()
            .unwrap();
        assert_eq!((selector.vendor_id, selector.product_id), (0x1366, 0x1015));
        assert_eq!(selector.serial_number.as_deref(), Some("000683457123"));
    }

    #[test]
    fn a_probe_that_cannot_be_opened_is_named() {
        // No probe has this VID:PID: opening it fails on any machine.
        let given = "ffff:fffe";
        let selector = check_board("nRF52840_xxAA", Some(given)).unwrap().unwrap();
        let error = format!("{:#}", open_probe(Some((given, selector))).err().unwrap());
        assert!(
            error.starts_with("opening the debug probe --probe ffff:fffe (is it plugged in"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_chip_or_a_malformed_selector_is_refused_before_any_probe() {
        let error = check_board("NoSuchChip_xx", None).unwrap_err().to_string();
        assert!(error.contains("--chip NoSuchChip_xx"), "{error}");
        let error = format!("{:#}", check_board(" ", None).unwrap_err());
        assert_eq!(
            error,
            "--chip is empty: give a chip name probe-rs knows (`probe-rs chip list`)"
        );
        // Each says what is wrong with it, once, in the form the option documents.
        for (bad, why) in [
            ("jlink", "no ':' between VID and PID"),
            ("1366", "no ':' between VID and PID"),
            ("zz:1015", "VID \"zz\" is not a 16-bit hexadecimal number"),
            (
                "12345:1",
                "VID \"12345\" is not a 16-bit hexadecimal number",
            ),
            (
                "1366:yy:123",
                "PID \"yy\" is not a 16-bit hexadecimal number",
            ),
        ] {
            let error = format!("{:#}", check_board("nRF52840_xxAA", Some(bad)).unwrap_err());
            assert_eq!(
                error,
                format!("--probe {bad:?}: want VID:PID[:SERIAL], in hexadecimal: {why}")
            );
        }
        let with_interface = check_board("nRF52840_xxAA", Some("1366:1015-0:123")).unwrap();
        assert_eq!(with_interface.unwrap().product_id, 0x1015);
    }
}
