//! The emulated board: QEMU started (or found running) with its gdbstub, RTT drained through it.
//!
//! QEMU serves memory only while the guest is halted, so each poll halts the guest, reads every
//! waiting byte of every up channel, hands the space back, and lets the guest run again. Between
//! polls the client waits on the socket, so a semihosting exit (a `W` stop reply) is seen at once.

use std::io::{IsTerminal, PipeReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::elf::Firmware;
use super::fault::FaultSite;
use super::gdb::{GdbClient, GdbError, Stop};
use super::link::{ChannelMap, Drained, End, Link, Liveness};
use super::output_tap::OutputTap;
use super::rtt::{ControlBlock, Memory, Peek, MODE_BLOCK_IF_FULL};
use crate::stdout::{errln, make_room_for_stdout, outln, ChildStderr, ERASE_ROW};

impl Memory for GdbClient {
    fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()> {
        Ok(self.read_memory(addr, out)?)
    }
    fn write(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        Ok(self.write_memory(addr, data)?)
    }
}

/// How to reach QEMU.
#[derive(Debug, Clone)]
pub enum Qemu {
    /// Start `qemu-system-arm -machine MACHINE` on the ELF.
    Launch {
        machine: String,
        /// Extra arguments, e.g. `-icount shift=0`.
        extra: Vec<String>,
    },
    /// Attach to a QEMU already serving gdb at this address (started with `-s -S` or similar;
    /// one started without `-S` halts its running guest on the connection, and says so).
    Attach(String),
}

/// A running QEMU guest with its RTT channels.
pub struct QemuLink {
    gdb: GdbClient,
    block: ControlBlock,
    channels: ChannelMap,
    /// The log channel and the mode it had before we made it wait for room.
    log_mode: Option<(usize, u32)>,
    faults: FaultWatch,
    /// The firmware's panic handler, where a flight recording stops it to read the channel
    /// (`None` where the ELF has none, or the guest runs another build).
    panic_handler: Option<u32>,
    /// The breakpoint on `panic_handler`, while it is set: from the trace channel's hold until
    /// the first stop there.
    panic_stop: Option<u32>,
    /// What the held trace channel held when the firmware stopped at a caught hard fault or at
    /// its panic handler: the flight recorder's last generations, read while the guest was
    /// stopped there, before its exit; or why they could not be read (a fault may well have
    /// broken the control block).
    trace_at_stop: Option<Result<Peek, String>>,
    child: Option<Started>,
    exited: Option<End>,
}

/// The breakpoint on the firmware's HardFault handler until it catches a fault, and where that
/// fault happened.
#[derive(Default)]
struct FaultWatch {
    /// The handler's address, if the breakpoint is set.
    handler: Option<u32>,
    caught: Option<FaultSite>,
}

/// The signal of a breakpoint's stop reply (SIGTRAP); an interrupt's is 2.
const BREAKPOINT_SIGNAL: u8 = 5;
/// Where SP, LR and PC are among the core registers.
const SP: usize = 13;
const LR: usize = 14;
const PC: usize = 15;

impl FaultWatch {
    /// Sets the breakpoint on `handler`, if there is one and the stub takes breakpoints.
    fn set(gdb: &mut GdbClient, handler: Option<u32>) -> Result<Self> {
        let handler = match handler {
            Some(handler) => gdb
                .set_breakpoint(handler)
                .context("setting a breakpoint on the HardFault handler")?
                .then_some(handler),
            None => None,
        };
        Ok(FaultWatch {
            handler,
            ..FaultWatch::default()
        })
    }

    /// Looks at why the guest stopped: at the handler's breakpoint, reads where the fault
    /// happened (the first one is kept). A frame that cannot be read is said, not an error of
    /// the recording's.
    fn stopped(&mut self, gdb: &mut GdbClient, stop: Stop) -> Result<(), GdbError> {
        let Some(handler) = self.handler else {
            return Ok(());
        };
        if stop != Stop::Signal(BREAKPOINT_SIGNAL) {
            return Ok(());
        }
        match self.look(gdb, handler) {
            // QEMU's end, which the caller tells by it.
            Err(GdbError::Closed) => Err(GdbError::Closed),
            // A stub that does not give the registers as QEMU does: no fault is looked for, and
            // the recording goes on (the breakpoint left would stop the guest at every resume).
            Err(error) => {
                errln!("gotrace: the guest stopped at a breakpoint, but its registers could not be read ({error}): hard faults are not looked for from here on");
                self.handler = None;
                gdb.remove_breakpoint(handler).map(drop)
            }
            Ok(()) => Ok(()),
        }
    }

    /// Reads where the guest, stopped at a breakpoint, is: at the handler, where the fault was.
    fn look(&mut self, gdb: &mut GdbClient, handler: u32) -> Result<(), GdbError> {
        let registers = gdb.read_core_registers()?;
        if registers[PC] != handler {
            return Ok(());
        }
        // One fault is told, the first: the breakpoint goes, so that the guest can run on
        // (QEMU resumed at a breakpoint stops there again at once) into the handler, whose log
        // says why and whose exit ends the run.
        gdb.remove_breakpoint(handler)?;
        self.handler = None;
        let (exc_return, sp) = (registers[LR], registers[SP]);
        match FaultSite::read(gdb, exc_return, sp, None) {
            Ok(site) => self.caught = Some(site),
            Err(error) => errln!(
                "gotrace: the firmware entered its HardFault handler, but the frame it stacked at {sp:#010x} could not be read: {error:#}"
            ),
        }
        Ok(())
    }
}

/// A QEMU we started, its stdout and stderr, one pipe, passed on to our stderr as they come (see
/// [`OutputTap`]; our stdout is the firmware's logs' and the summary's), their end kept: QEMU's
/// own messages about its end.
struct Started {
    process: Child,
    /// `None` for a child whose output is not ours to read (the tests' stand-ins for QEMU), and
    /// once the tap is finished.
    output: Option<OutputTap>,
    /// The end of QEMU's output, once the tap is finished.
    output_end: String,
    /// The name QEMU opens its messages with (see [`guest_name`]).
    guest: Option<String>,
}

/// How much of QEMU's output is kept: its messages about its end ("terminating on signal", a
/// fatal error and its register dump) after whatever the firmware printed, with room to spare.
const OUTPUT_KEPT: usize = 64 << 10;

/// How long QEMU's ended output may pass on nothing before it is given up: a process QEMU started
/// holding the pipe open, or our stderr not read at all.
const OUTPUT_STALLED: Duration = Duration::from_secs(2);

/// How long `--attach` waits for its connection: a host that drops it (mistyped, a firewall)
/// would otherwise hold `record` silent through the kernel's two minutes of retries.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `HOST:PORT`, each of its addresses in turn, giving up on one after `timeout`.
fn connect(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let mut last = None;
    for socket in std::net::ToSocketAddrs::to_socket_addrs(addr)? {
        match TcpStream::connect_timeout(&socket, timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                last = Some(anyhow::anyhow!("{socket}: no answer within {timeout:?}"));
            }
            Err(error) => last = Some(anyhow::Error::new(error).context(socket)),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("{addr} names no address")))
}

impl Started {
    /// `output`: the reading end of the one pipe QEMU's stdout and stderr both write to, so that
    /// the firmware's `hprintln!` and `heprintln!` lines stay in the order it printed them (two
    /// pipes, read by two threads, swapped some).
    fn new(process: Child, output: Option<PipeReader>, guest: Option<String>) -> Self {
        // On a terminal, each line opens by erasing the progress line the cursor may be on.
        let line_start: &[u8] = match std::io::stderr().is_terminal() {
            true => ERASE_ROW,
            false => b"",
        };
        let output = output.map(|o| OutputTap::start(o, ChildStderr, OUTPUT_KEPT, line_start));
        Started {
            process,
            output,
            output_end: String::new(),
            guest,
        }
    }

    /// The end of QEMU's output, once the last of it has been passed on or given up. What was
    /// given up is said on stdout, since stderr may be what did not take it.
    fn output_end(&mut self) -> &str {
        if let Some(tap) = self.output.take() {
            let end = tap.finish(OUTPUT_STALLED);
            // Its last line may be left open, the progress line drawn: the summary comes next.
            make_room_for_stdout();
            if end.not_passed_on + end.being_written > 0 {
                outln!(
                    "gotrace record: the end of QEMU's output was not shown in time (stderr did not take it, or a process QEMU started held its pipe open): {} bytes of it were not shown, {} more were being written to stderr",
                    end.not_passed_on, end.being_written
                );
            }
            self.output_end = end.kept;
        }
        &self.output_end
    }

    /// What QEMU, ended, said of its end, as `: TEXT` (see [`qemu_said`]); empty if nothing.
    fn said(&mut self) -> String {
        self.output_end();
        let said = qemu_said(&self.output_end, self.guest.as_deref());
        match said.is_empty() {
            true => said,
            false => format!(": {said}"),
        }
    }

    /// Why it has ended, with what it said; `None` if it runs on.
    fn ended(&mut self) -> Option<String> {
        let status = exit_within(&mut self.process, Duration::from_secs(1)).ok()??;
        Some(format!("QEMU ended ({status}){}", self.said()))
    }

    /// Ends it, unless it ends by itself within `time`, and waits for the last of its output to
    /// be passed on.
    fn end_within(&mut self, time: Duration) {
        if !matches!(exit_within(&mut self.process, time), Ok(Some(_))) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
        self.output_end();
    }
}

/// What QEMU said of its end in `output`, the end of what it wrote: its own lines
/// (`qemu-system-arm: terminating on signal 15 from pid ...`, `qemu: fatal: Lockup: ...`, either
/// after a time with `-msg timestamp=on`), the firmware's prints around them left out, joined by
/// `; `; without any, its last line that is not blank (an abort's message), said to be that.
fn qemu_said(output: &str, guest: Option<&str>) -> String {
    let mut own = Vec::new();
    let mut last = "";
    for line in output
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        if is_qemus_own(line, guest) {
            own.push(line);
        }
        last = line;
    }
    match (own.is_empty(), last.is_empty()) {
        (false, _) => own.join("; "),
        (true, false) => format!("its last output line: {last}"),
        (true, true) => String::new(),
    }
}

/// Whether `line` is one of QEMU's messages: `qemu-system-arm: ...` (its error reports) or
/// `qemu: fatal: ...` (a CPU abort), after the time `-msg timestamp=on` opens it with
/// (`2026-12-03T17:41:02.123456Z qemu-system-arm:`) and, for an error report, the guest's name
/// `guest` that `-msg guest-name=on` adds (`my board qemu-system-arm:`, see [`guest_name`]). A
/// firmware's print naming QEMU otherwise is not.
fn is_qemus_own(line: &str, guest: Option<&str>) -> bool {
    let message = match line.split_once(' ') {
        Some((time, rest))
            if time.ends_with('Z')
                && time.contains('T')
                && time
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"-:.TZ".contains(&b)) =>
        {
            rest
        }
        _ => line,
    };
    let report = guest
        .and_then(|name| message.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or(message);
    message.starts_with("qemu: ") || report.starts_with("qemu-system-arm: ")
}

/// The name QEMU opens its error reports with, if `args` (what the user added to its command)
/// ask for it: `-msg guest-name=on` with `-name NAME` or `-name guest=NAME[,...]`.
fn guest_name(args: &[String]) -> Option<String> {
    let value = |option: &str| {
        let at = args
            .iter()
            .position(|a| a.trim_start_matches('-') == option && a.starts_with('-'))?;
        args.get(at + 1).map(String::as_str)
    };
    value("msg")?
        .split(',')
        .any(|setting| setting == "guest-name=on")
        .then_some(())?;
    let name = value("name")?;
    let items: Vec<&str> = name.split(',').collect();
    items
        .iter()
        .find_map(|item| item.strip_prefix("guest="))
        .or_else(|| items.first().filter(|first| !first.contains('=')).copied())
        .map(str::to_owned)
}

impl QemuLink {
    /// Starts or attaches, runs the firmware until it has set up RTT, and maps the channels.
    pub fn open(qemu: &Qemu, elf: &Path, firmware: &Firmware) -> Result<Self> {
        let (stream, child, command) = match qemu {
            Qemu::Launch { machine, extra } => launch(machine, extra, elf)?,
            Qemu::Attach(addr) => (
                connect(addr, CONNECT_TIMEOUT)
                    .with_context(|| format!("connecting to gdbstub {addr}"))?,
                None,
                format!("gdbstub at {addr}"),
            ),
        };
        match attach(stream, &command, firmware) {
            Ok(Attached {
                gdb,
                block,
                channels,
                log_mode,
                faults,
                panic_handler,
            }) => Ok(QemuLink {
                gdb,
                block,
                channels,
                log_mode,
                faults,
                panic_handler,
                panic_stop: None,
                trace_at_stop: None,
                child,
                exited: None,
            }),
            // The QEMU we started must not outlive a failed start (a Child is not killed when
            // dropped): it would run on, a firmware without RTT spinning for good. One that died (a
            // firmware locked up in a fault, a kernel for another machine) says why on its
            // stderr, which the gdb error alone ("closed the connection") does not.
            Err(error) => Err(match child {
                Some(mut child) => match child.ended() {
                    Some(why) => error.context(why),
                    None => {
                        child.end_within(Duration::ZERO);
                        error
                    }
                },
                None => error,
            }),
        }
    }

    /// Runs `f` with the guest halted (QEMU serves memory only then), then resumes it; `None`
    /// once the firmware has exited, or QEMU has ended before `f` was done. A QEMU that ends
    /// after it, at the resume, still gives `f`'s value (what it read off the target, the last
    /// of the trace maybe), the end found at the next call.
    fn halted<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        if self.exited.is_some() {
            return Ok(None);
        }
        match self.halt_and_run(f) {
            Ok(Some(value)) => match self.gdb.resume() {
                Ok(()) => Ok(Some(value)),
                Err(GdbError::Closed) => {
                    self.exited = Some(self.end(None)?);
                    Ok(Some(value))
                }
                Err(error) => Err(error.into()),
            },
            // QEMU ended under us: at the halt, or while the guest was halted (killed, or
            // aborting), which closed the connection under `f`'s reads.
            Err(error) if matches!(error.downcast_ref(), Some(GdbError::Closed)) => {
                self.exited = Some(self.end(None)?);
                Ok(None)
            }
            other => other,
        }
    }

    /// Halts the guest and runs `f`, leaving it halted; `None` if the halt found it ended.
    fn halt_and_run<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        let stop = self.gdb.halt()?;
        if let Some(end) = self.ended_by(stop)? {
            self.exited = Some(end);
            return Ok(None);
        }
        f(self).map(Some)
    }

    /// The end a stop reply tells of, if any.
    fn ended_by(&mut self, stop: Stop) -> Result<Option<End>> {
        Ok(match stop {
            Stop::Signal(_) => {
                let caught = self.faults.caught.is_some();
                self.faults.stopped(&mut self.gdb, stop)?;
                let panicked = self.stopped_at_panic(stop)?;
                if panicked || (!caught && self.faults.caught.is_some()) {
                    self.read_trace_at_stop();
                }
                None
            }
            Stop::Exited(code) => Some(self.end(Some(code))?),
            Stop::Killed(signal) => {
                errln!("gotrace: the gdb stub says the program was killed (signal {signal})");
                Some(End::QemuEnded)
            }
        })
    }

    /// How QEMU ended: `replied`, the exit status of its `W` reply, or none when the connection
    /// closed under us. A QEMU we started says more: whether a signal ended it.
    fn end(&mut self, replied: Option<u8>) -> Result<End> {
        let Some(child) = self.child.as_mut() else {
            return Ok(match replied {
                Some(code) => End::Exit(code),
                None => {
                    errln!("gotrace: the QEMU attached to ended (its gdb stub closed the connection) without the firmware's exit");
                    End::QemuEnded
                }
            });
        };
        let Some(status) = exit_within(&mut child.process, Duration::from_secs(5))? else {
            return match replied {
                Some(code) => Ok(End::Exit(code)),
                None => bail!("the gdb stub closed the connection but QEMU is still running"),
            };
        };
        let said = child.said();
        // Told to end (SIGTERM, SIGINT: "terminating on signal 15 from pid ..."), QEMU replies
        // `W00` as if the firmware had exited; killed (SIGKILL, an abort on a locked-up guest),
        // it replies nothing and has no status.
        if status.code().is_none() || said.contains("terminating on signal") {
            errln!("gotrace: QEMU ended ({status}){said}: not the firmware's exit");
            return Ok(End::QemuEnded);
        }
        // After the firmware's exit, what QEMU said was shown as it came; ended by itself (a
        // fatal error), its words are why.
        if replied.is_none() {
            errln!("gotrace: QEMU ended ({status}){said}");
        }
        Ok(End::Exit(replied.unwrap_or_else(|| {
            status.code().map_or(u8::MAX, |c| c as u8)
        })))
    }

    /// Whether the guest, stopped by `stop`, is at the panic handler's breakpoint; the breakpoint
    /// goes there (QEMU resumed at a breakpoint stops there again at once), so that the handler
    /// runs on into its log and exit.
    fn stopped_at_panic(&mut self, stop: Stop) -> Result<bool> {
        let Some(handler) = self.panic_stop else {
            return Ok(false);
        };
        if stop != Stop::Signal(BREAKPOINT_SIGNAL) || self.gdb.read_core_registers()?[PC] != handler
        {
            return Ok(false);
        }
        self.gdb.remove_breakpoint(handler)?;
        self.panic_stop = None;
        Ok(true)
    }

    /// Reads the held trace channel while the guest is stopped at a hard fault or a panic: the
    /// firmware may exit next, and its RAM with it.
    fn read_trace_at_stop(&mut self) {
        if self.block.held().is_some() && self.trace_at_stop.is_none() {
            let peek = self.block.peek(&mut self.gdb, self.channels.trace);
            self.trace_at_stop = Some(peek.map_err(|error| format!("{error:#}")));
        }
    }

    fn liveness(&self) -> Liveness {
        match self.exited {
            Some(end) => Liveness::Ended(end),
            None => Liveness::Running,
        }
    }
}

/// A guest whose RTT is set up, as [`attach`] leaves it.
struct Attached {
    gdb: GdbClient,
    block: ControlBlock,
    channels: ChannelMap,
    /// The log channel and the mode it had before we made it wait for room.
    log_mode: Option<(usize, u32)>,
    faults: FaultWatch,
    /// The ELF's panic handler, if the guest runs the ELF.
    panic_handler: Option<u32>,
}

/// Whether the firmware the guest runs is the ELF's, as far as its vector table tells; said when
/// it is not (an attached QEMU started on another build), as the logs, task names and stack
/// frames would be read with the wrong ELF's tables, wrong without a word.
fn runs_the_elf(gdb: &mut GdbClient, firmware: &Firmware) -> Result<bool> {
    let Some(address) = firmware.vector_table else {
        return Ok(true);
    };
    let mut running = vec![0; firmware.vector_table_head.len()];
    gdb.read_memory(address, &mut running)
        .context("reading the running firmware's vector table")?;
    let same = running == firmware.vector_table_head;
    if !same {
        errln!("warning: the firmware running is not this ELF (its vector table at {address:#010x} differs): its logs, task names and stack frames are read with this ELF's tables, and will be wrong; give the ELF it was started with");
    }
    Ok(same)
}

/// Connects to the stub, runs the guest (halted at the start, `-S`) until its RTT block is
/// initialised, maps the channels, and makes the log channel wait for room.
fn attach(stream: TcpStream, command: &str, firmware: &Firmware) -> Result<Attached> {
    let mut gdb = GdbClient::connect(stream).map_err(|error| {
        let hint = match error {
            // QEMU takes a second debugger's connection and closes it.
            GdbError::Closed => " (it closed the connection at once: QEMU serves one debugger at a time; is another attached?)",
            _ => "",
        };
        anyhow::Error::new(error).context(format!("talking to {command}{hint}"))
    })?;
    let same = runs_the_elf(&mut gdb, firmware)?;
    // Before the firmware runs: a fault as it starts, before its RTT is set up, is caught too.
    // Not on another firmware: the ELF's handler address may be any code of its.
    let handler = firmware.hard_fault_handler.filter(|_| same);
    let mut faults = FaultWatch::set(&mut gdb, handler)?;
    let block = find_block(&mut gdb, firmware, &mut faults)?;
    let channels = ChannelMap::find(&block.up_names(), &block.down_names())?;
    // The firmware drops logs that do not fit while nobody may be reading; now we are.
    let log_mode = match channels.defmt {
        Some(defmt) => Some((
            defmt,
            block
                .set_mode(&mut gdb, defmt, MODE_BLOCK_IF_FULL)
                .context("making the log channel wait for the host")?,
        )),
        None => None,
    };
    Ok(Attached {
        gdb,
        block,
        channels,
        log_mode,
        faults,
        panic_handler: firmware.panic_handler.filter(|_| same),
    })
}

/// The exit status of `child` if it ends within `time`.
fn exit_within(child: &mut Child, time: Duration) -> std::io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + time;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Link for QemuLink {
    fn fault(&self) -> Option<FaultSite> {
        self.faults.caught
    }

    fn poll(&mut self, out: &mut Drained) -> Result<Liveness> {
        // What the drain took before it failed or QEMU ended under it (channels read and
        // handed back) is the recording's too, whatever came after: it is in `out` already.
        self.halted(|link| out.drain_block(&mut link.block, &mut link.gdb, &link.channels))?;
        Ok(self.liveness())
    }

    /// Held, the channel is read at a panic too: a breakpoint on the panic handler, where the
    /// stub takes one.
    fn hold_trace(&mut self, held: bool) -> Result<()> {
        self.block.hold(held.then_some(self.channels.trace));
        match (held, self.panic_handler, self.panic_stop) {
            (true, Some(handler), None) => {
                let set = self.halted(|link| Ok(link.gdb.set_breakpoint(handler)?))?;
                self.panic_stop = set.unwrap_or(false).then_some(handler);
            }
            (false, _, Some(handler)) => {
                self.halted(|link| Ok(link.gdb.remove_breakpoint(handler)?))?;
                self.panic_stop = None;
            }
            _ => {}
        }
        Ok(())
    }

    fn peek_trace(&mut self) -> Result<Option<Peek>> {
        let trace = self.channels.trace;
        match self.halted(|link| link.block.peek(&mut link.gdb, trace))? {
            Some(peek) => Ok(Some(peek)),
            None => {
                match &self.trace_at_stop {
                    Some(Ok(peek)) => Ok(Some(peek.clone())),
                    Some(Err(error)) => {
                        bail!("reading the trace channel at the firmware's hard fault or panic: {error}")
                    }
                    None => Ok(None),
                }
            }
        }
    }

    fn release_trace(&mut self, peek: &Peek) -> Result<()> {
        let trace = self.channels.trace;
        self.halted(|link| link.block.release(&mut link.gdb, trace, peek))
            .map(drop)
    }

    fn send_control(&mut self, frame: &[u8]) -> Result<usize> {
        let index = self.channels.control_channel()?;
        match self.halted(|link| link.block.send(&mut link.gdb, index, frame))? {
            Some(sent) => Ok(sent),
            // Not "took 0 of the N bytes: it was full", as if the firmware did not read its
            // commands.
            None => bail!("the firmware has exited"),
        }
    }

    fn control_unread(&mut self) -> Result<Option<u32>> {
        let index = self.channels.control_channel()?;
        self.halted(|link| link.block.unread(&mut link.gdb, index))
    }

    fn idle(&mut self, timeout: Duration) -> Result<Liveness> {
        if self.exited.is_none() {
            match self.gdb.wait_stop(Some(timeout)) {
                Err(GdbError::Closed) => self.exited = Some(self.end(None)?),
                Ok(None) => {}
                Ok(Some(stop)) => {
                    self.exited = self.ended_by(stop)?;
                    // Stopped by itself (a breakpoint or fault): let it go on. A QEMU ending
                    // right then (aborting on the fault) closes the connection at the resume:
                    // its end.
                    if self.exited.is_none() {
                        match self.gdb.resume() {
                            Err(GdbError::Closed) => self.exited = Some(self.end(None)?),
                            other => other?,
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.liveness())
    }
}

impl Drop for QemuLink {
    fn drop(&mut self) {
        // A QEMU we attached to runs on without us: its log channel goes back to the mode it
        // had, or its firmware would wait for a reader that has gone once the channel fills, and
        // our breakpoints go, or a fault or panic would halt it for a debugger that has gone.
        let breakpoints = || self.faults.handler.into_iter().chain(self.panic_stop);
        if self.child.is_none() && (self.log_mode.is_some() || breakpoints().next().is_some()) {
            let breakpoints: Vec<u32> = breakpoints().collect();
            let _ = self.halted(|link| {
                if let Some((index, mode)) = link.log_mode {
                    link.block.set_mode(&mut link.gdb, index, mode)?;
                }
                for handler in breakpoints {
                    link.gdb.remove_breakpoint(handler)?;
                }
                Ok(())
            });
        }
        if let Some(child) = &mut self.child {
            // Give a firmware that is about to exit a moment, then end the QEMU we started.
            child.end_within(Duration::from_millis(500));
        }
    }
}

fn launch(
    machine: &str,
    extra: &[String],
    elf: &Path,
) -> Result<(TcpStream, Option<Started>, String)> {
    // A free port: bind, note it, release it for QEMU.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let gdb = format!("tcp:127.0.0.1:{port}");
    let (output, output_end) = std::io::pipe().context("making a pipe for QEMU's output")?;
    let mut cmd = Command::new("qemu-system-arm");
    cmd.args(["-machine", machine, "-nographic", "-monitor", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-serial", "null", "-gdb", &gdb, "-S", "-kernel"])
        .arg(elf)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(output_end.try_clone()?)
        .stderr(output_end);
    // A process group of its own: the terminal sends Ctrl-C to its foreground group, and QEMU
    // would end at once on it, before the firmware could end its trace on our stop command.
    // Ours ends it when the session is over (`QemuLink`'s drop), after an abort too.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // Out of the group, QEMU no longer gets the signals that kill us unhandled (SIGKILL, `timeout
    // -k`): it would run on alone, a lossless firmware spinning on its full channel for good.
    #[cfg(target_os = "linux")]
    die_with_parent(&mut cmd);
    let command = format!("{cmd:?}");
    let process = cmd
        .spawn()
        .context("starting qemu-system-arm (is it installed? apt-get install qemu-system-arm)")?;
    // Its copies of the pipe's writing end: the pipe ends, for the tap, once QEMU's are closed.
    drop(cmd);
    let mut child = Started::new(process, Some(output), guest_name(extra));
    errln!("gotrace: running {} on QEMU {machine}", elf.display());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            return Ok((stream, Some(child), command));
        }
        if let Some(status) = child.process.try_wait()? {
            bail!(
                "{command} ended ({status}) before serving gdb{}",
                child.said()
            );
        }
        if Instant::now() > deadline {
            child.end_within(Duration::ZERO);
            bail!("{command} did not serve gdb on port {port} within 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Has the kernel send SIGKILL to the command's process when the thread that spawns it ends.
/// That is the thread, not the process: `record` launches QEMU from its main thread, whose end
/// is the process's; launched from a thread that ends sooner, QEMU would be killed with it.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls are made (prctl, getppid, kill).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Died before the prctl took: nobody would send the signal.
            if libc::getppid() as u32 != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
}

/// Runs the guest in short steps until the control block carries its identifier.
fn find_block(
    gdb: &mut GdbClient,
    firmware: &Firmware,
    faults: &mut FaultWatch,
) -> Result<ControlBlock> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut address = firmware.rtt_symbol;
    loop {
        if address.is_none() {
            for &(start, len) in &firmware.ram {
                address = ControlBlock::scan(gdb, start, len)?;
                if address.is_some() {
                    break;
                }
            }
        }
        if let Some(addr) = address {
            if let Some(block) = ControlBlock::read(gdb, addr)? {
                return Ok(block);
            }
        }
        if Instant::now() > deadline {
            bail!(
                "no RTT control block appeared within 10 s ({})",
                match address {
                    Some(a) => format!("symbol _SEGGER_RTT at {a:#x} never initialised"),
                    None => "no _SEGGER_RTT symbol, and a RAM scan found nothing: a firmware sets RTT up with rtt-target's `rtt_init!`, as the scheduler's README shows".to_owned(),
                }
            );
        }
        gdb.resume()?;
        let stop = match gdb.wait_stop(Some(Duration::from_millis(5)))? {
            Some(stop) => stop,
            None => gdb.halt()?,
        };
        faults.stopped(gdb, stop)?;
        if let Stop::Exited(code) | Stop::Killed(code) = stop {
            let fault = faults.caught.map_or(String::new(), |site| {
                format!(" ({})", site.describe(firmware))
            });
            bail!("the firmware ended (status {code}) before setting up RTT{fault}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};

    use super::*;
    use crate::record::rtt::RTT_ID;

    /// Where [`fake_qemu`] closes the connection, as a QEMU that ends (killed, or aborting).
    #[derive(Clone, Copy, PartialEq)]
    enum EndsAt {
        /// At the second memory read, while the guest is halted for a poll.
        SecondRead,
        /// At the second resume, the guest having stopped by itself after the first.
        SecondResume,
        /// At the first resume, after a poll's reads.
        FirstResume,
    }

    /// A gdb stub whose target holds, at 0x2000_0000, an RTT control block without channels,
    /// answering memory reads from it until it ends at `ends`.
    fn fake_qemu(listener: TcpListener, ends: EndsAt) {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut memory = RTT_ID.to_vec();
        memory.extend([0; 8]);
        let mut reply = |body: &str| {
            let sum = body.bytes().fold(0u8, |s, b| s.wrapping_add(b));
            write!(writer, "+${body}#{sum:02x}").unwrap();
        };
        let (mut reads, mut resumes) = (0, 0);
        let mut byte = [0u8; 1];
        while reader.read_exact(&mut byte).is_ok() {
            match byte[0] {
                0x03 => reply("T02thread:01;"),
                b'$' => {
                    let mut body = Vec::new();
                    reader.read_until(b'#', &mut body).unwrap();
                    reader.read_exact(&mut [0; 2]).unwrap();
                    match body[0] {
                        b'q' => reply("PacketSize=1000"),
                        b'?' => reply("S05"),
                        b'm' if reads == 0 => {
                            reads += 1;
                            reply(
                                &memory
                                    .iter()
                                    .map(|b| format!("{b:02x}"))
                                    .collect::<String>(),
                            );
                        }
                        // QEMU ends: the connection closes with the read unanswered.
                        b'm' if ends == EndsAt::SecondRead => return,
                        b'c' if ends == EndsAt::FirstResume => return,
                        b'c' if resumes == 0 => {
                            resumes += 1;
                            // Acknowledged, then stopped by itself (a fault).
                            reply("T05thread:01;");
                        }
                        // QEMU ends: the resume is never acknowledged.
                        b'c' if ends == EndsAt::SecondResume => return,
                        _ => reply(""),
                    }
                }
                _ => {}
            }
        }
    }

    /// A link to [`fake_qemu`] ending at `ends`, for a QEMU started as `child` (`None`:
    /// attached to).
    fn link_to_fake_qemu(ends: EndsAt, child: Option<Child>) -> QemuLink {
        link_to_stub(child, move |listener| fake_qemu(listener, ends))
    }

    /// A link to the gdb stub `serve` runs, the control block at 0x2000_0000 read, its up
    /// channel 0 the trace's, for a QEMU started as `child` (`None`: attached to).
    fn link_to_stub(
        child: Option<Child>,
        serve: impl FnOnce(TcpListener) + Send + 'static,
    ) -> QemuLink {
        let child = child.map(|process| Started::new(process, None, None));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || serve(listener));
        let mut gdb = GdbClient::connect(TcpStream::connect(addr).unwrap()).unwrap();
        let block = ControlBlock::read(&mut gdb, 0x2000_0000).unwrap().unwrap();
        QemuLink {
            gdb,
            block,
            channels: ChannelMap {
                defmt: None,
                trace: 0,
                session: None,
                control: None,
            },
            log_mode: None,
            faults: FaultWatch::default(),
            panic_handler: None,
            panic_stop: None,
            trace_at_stop: None,
            child,
            exited: None,
        }
    }

    #[test]
    fn a_qemu_that_ends_while_the_guest_is_halted_is_taken_for_its_end() {
        // Killed between the halt and the resume, QEMU took the reads with it: its end was
        // reported as "the gdb stub closed the connection", and not by its exit status.
        let read = |link: &mut QemuLink| Ok(link.gdb.read_memory(0x2000_0000, &mut [0; 4])?);
        let started = Command::new("true").spawn().unwrap();
        let mut link = link_to_fake_qemu(EndsAt::SecondRead, Some(started));
        assert_eq!(link.halted(read).unwrap(), None);
        assert_eq!(link.liveness(), Liveness::Ended(End::Exit(0)));
        // Attached, the recording has its end without an exit status, not an error: the trace
        // read until then stands (a review helper's QEMU that aborted after the end record).
        let mut link = link_to_fake_qemu(EndsAt::SecondRead, None);
        assert_eq!(link.halted(read).unwrap(), None);
        assert_eq!(link.liveness(), Liveness::Ended(End::QemuEnded));
    }

    #[test]
    fn a_qemu_that_ends_at_the_resume_after_a_poll_keeps_what_the_poll_read() {
        // Ended after the reads, the poll's bytes (the end record maybe) were dropped with the
        // closed connection (a review helper's reading of the code).
        let started = Command::new("true").spawn().unwrap();
        let mut link = link_to_fake_qemu(EndsAt::FirstResume, Some(started));
        assert_eq!(
            link.halted(|_| Ok("what the poll read")).unwrap(),
            Some("what the poll read")
        );
        assert_eq!(link.liveness(), Liveness::Ended(End::Exit(0)));
        assert_eq!(link.halted(|_| Ok("more")).unwrap(), None);
    }

    /// A gdb stub whose target's memory at 0x2000_0000 is `ram`, served to memory reads and
    /// writes until the `closes_at`th read (from 1), where QEMU ends with it unanswered.
    fn fake_qemu_with_ram(listener: TcpListener, mut ram: Vec<u8>, closes_at: usize) {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut reply = |body: &str| {
            let sum = body.bytes().fold(0u8, |s, b| s.wrapping_add(b));
            write!(writer, "+${body}#{sum:02x}").unwrap();
        };
        let number = |text: &[u8]| usize::from_str_radix(std::str::from_utf8(text).unwrap(), 16);
        let mut reads = 0;
        let mut byte = [0u8; 1];
        while reader.read_exact(&mut byte).is_ok() {
            if byte[0] != b'$' {
                continue;
            }
            let mut body = Vec::new();
            reader.read_until(b'#', &mut body).unwrap();
            body.pop();
            reader.read_exact(&mut [0; 2]).unwrap();
            let (kind, rest) = body.split_first().unwrap();
            let mut fields = rest.split(|&b| b == b',' || b == b':');
            let mut field = || number(fields.next().unwrap_or_default());
            match kind {
                b'm' => {
                    reads += 1;
                    if reads == closes_at {
                        return;
                    }
                    let (at, len) = (field().unwrap() - 0x2000_0000, field().unwrap());
                    let hex: String = ram[at..at + len]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    reply(&hex);
                }
                b'M' => {
                    let (at, len) = (field().unwrap() - 0x2000_0000, field().unwrap());
                    let data = rest.split(|&b| b == b':').nth(1).unwrap();
                    for i in 0..len {
                        ram[at + i] = number(&data[2 * i..2 * i + 2]).unwrap() as u8;
                    }
                    reply("OK");
                }
                b'q' => reply("PacketSize=1000"),
                // The core stopped in a HardFault handler at 0x100, its frame at 0x2000_0080 on
                // the main stack, then QEMU's further registers.
                b'g' => {
                    let mut registers = [0u32; 16];
                    registers[13] = 0x2000_0080;
                    registers[14] = 0xffff_fff9;
                    registers[15] = 0x100;
                    let mut hex: String = registers
                        .iter()
                        .flat_map(|r| r.to_le_bytes())
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    hex.push_str(&"0".repeat(104 * 2));
                    reply(&hex);
                }
                b'Z' | b'z' => reply("OK"),
                _ => reply(""),
            }
        }
    }

    /// A gdb client of a [`fake_qemu_with_ram`] whose RAM is `ram`.
    fn client_of_ram(ram: Vec<u8>) -> GdbClient {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || fake_qemu_with_ram(listener, ram, usize::MAX));
        GdbClient::connect(TcpStream::connect(addr).unwrap()).unwrap()
    }

    #[test]
    fn a_stop_at_the_hardfault_handler_reads_where_the_fault_was_once() {
        let mut ram = vec![0u8; 0x100];
        // The frame: r0-r3, r12, LR, PC, xPSR.
        for (k, word) in [0, 1, 2, 3, 12, 0x1235, 0x2000, 0x0100_0000u32]
            .into_iter()
            .enumerate()
        {
            ram[0x80 + 4 * k..0x84 + 4 * k].copy_from_slice(&word.to_le_bytes());
        }
        let mut gdb = client_of_ram(ram);
        // Another breakpoint's stop, and an interrupt's, are no fault.
        let mut elsewhere = FaultWatch::set(&mut gdb, Some(0x200)).unwrap();
        elsewhere.stopped(&mut gdb, Stop::Signal(5)).unwrap();
        elsewhere.stopped(&mut gdb, Stop::Signal(2)).unwrap();
        assert_eq!((elsewhere.handler, elsewhere.caught), (Some(0x200), None));
        let mut watch = FaultWatch::set(&mut gdb, Some(0x100)).unwrap();
        watch.stopped(&mut gdb, Stop::Signal(5)).unwrap();
        let site = FaultSite::Frame {
            pc: 0x2000,
            lr: 0x1235,
        };
        assert_eq!((watch.handler, watch.caught), (None, Some(site)));
    }

    #[test]
    fn a_stub_that_does_not_give_the_registers_stops_the_fault_watch_not_the_recording() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || fake_qemu(listener, EndsAt::SecondResume));
        let mut gdb = GdbClient::connect(TcpStream::connect(addr).unwrap()).unwrap();
        let mut watch = FaultWatch {
            handler: Some(0x100),
            ..FaultWatch::default()
        };
        watch.stopped(&mut gdb, Stop::Signal(5)).unwrap();
        assert_eq!((watch.handler, watch.caught), (None, None));
    }

    #[test]
    fn a_firmware_whose_vector_table_differs_from_the_elfs_is_not_taken_for_it() {
        // Attached to a QEMU started on another build, the logs, task names and stack frames
        // were read with this ELF's tables, wrong without a word, and the HardFault breakpoint
        // set at an address of this ELF's, any code of the one running.
        let vector_table: Vec<u8> = (0..64).collect();
        for (running, same) in [(vector_table.clone(), true), (vec![0; 64], false)] {
            let mut ram = running;
            ram.resize(0x100, 0);
            let mut gdb = client_of_ram(ram);
            let mut firmware = Firmware::bare(Default::default(), Default::default());
            firmware.vector_table = Some(0x2000_0000);
            firmware.vector_table_head = vector_table.clone();
            assert_eq!(runs_the_elf(&mut gdb, &firmware).unwrap(), same);
        }
    }

    #[test]
    fn a_poll_keeps_what_it_took_before_qemu_ended_under_it() {
        // Two up channels: the trace's (16 bytes at +0x100, "abc" waiting) and another (8 bytes
        // at +0x200, 2 waiting), whose read QEMU ends under. The trace channel's bytes, read and
        // handed back, were dropped with the poll: the end record among them maybe.
        let mut ram = vec![0u8; 0x300];
        ram[..16].copy_from_slice(RTT_ID);
        ram[16..20].copy_from_slice(&2u32.to_le_bytes());
        for (descriptor, buffer, size, write) in [(24, 0x100, 16, 3), (48, 0x200, 8, 2)] {
            let words: [u32; 6] = [0, 0x2000_0000 + buffer, size, write, 0, 0];
            for (k, word) in words.into_iter().enumerate() {
                let at = descriptor + 4 * k;
                ram[at..at + 4].copy_from_slice(&word.to_le_bytes());
            }
        }
        ram[0x100..0x103].copy_from_slice(b"abc");
        // Reads: the block's header and descriptors (attach), the descriptors and the trace
        // channel's buffer (the poll), then the other channel's buffer.
        let mut link = link_to_stub(None, move |listener| fake_qemu_with_ram(listener, ram, 5));
        let mut out = Drained::default();
        assert_eq!(
            link.poll(&mut out).unwrap(),
            Liveness::Ended(End::QemuEnded)
        );
        assert_eq!(out.trace, b"abc");
    }

    #[test]
    fn a_qemu_that_ends_as_a_guest_stopped_by_itself_is_resumed_is_taken_for_its_end() {
        let started = Command::new("true").spawn().unwrap();
        let mut link = link_to_fake_qemu(EndsAt::SecondResume, Some(started));
        link.gdb.resume().unwrap();
        let idle = link.idle(Duration::from_secs(5)).unwrap();
        assert_eq!(idle, Liveness::Ended(End::Exit(0)));
    }

    #[test]
    fn what_qemu_said_of_its_end_is_its_own_lines_among_the_firmwares() {
        // The first paragraph of the first 64 KiB was kept: past 64 KiB of a firmware's prints,
        // "terminating on signal" was not seen and a QEMU told to end was taken for the
        // firmware's exit; a fatal error after a print, or a print's blank line first, was not
        // said (a review helper's runs).
        let prints = "task 3 done\n\n".repeat(10_000);
        let told_to_end =
            format!("{prints}qemu-system-arm: terminating on signal 15 from pid 7 (bash)\n");
        let kept = &told_to_end[told_to_end.len() - OUTPUT_KEPT..];
        assert_eq!(
            qemu_said(kept, None),
            "qemu-system-arm: terminating on signal 15 from pid 7 (bash)"
        );
        let locked_up = "\npanicked at src/main.rs:9\nqemu: fatal: Lockup: can't escalate 3 to HardFault \
                         (current priority -1)\n\nR00=00000000 R01=00000001\nPSR=40000193 -Z-- A handler\n";
        assert_eq!(
            qemu_said(locked_up, None),
            "qemu: fatal: Lockup: can't escalate 3 to HardFault (current priority -1)"
        );
        assert_eq!(
            qemu_said("boot\n**\nERROR: assertion failed\n\n", None),
            "its last output line: ERROR: assertion failed"
        );
        assert_eq!(
            qemu_said(
                "task 1\n2026-12-03T17:41:02.123456Z qemu-system-arm: terminating on signal 2\n",
                None
            ),
            "2026-12-03T17:41:02.123456Z qemu-system-arm: terminating on signal 2"
        );
        // A review helper's: a print naming QEMU is the firmware's, even at its start.
        assert_eq!(
            qemu_said(
                "running on qemu-system-arm\npanicked at src/main.rs:3\n",
                None
            ),
            "its last output line: panicked at src/main.rs:3"
        );
        assert_eq!(
            qemu_said("qemu test 4 passed\nqemu-system-arm rocks\n", None),
            "its last output line: qemu-system-arm rocks"
        );
        // `-name "guest=my board" -msg guest-name=on,timestamp=on`, as QEMU 7.2 writes it; a
        // firmware's line with QEMU's opening further on is still its own (a review helper's).
        let guest = guest_name(&[
            "-name".into(),
            "guest=my board,debug-threads=on".into(),
            "-msg".into(),
            "guest-name=on,timestamp=on".into(),
        ]);
        assert_eq!(guest.as_deref(), Some("my board"));
        let output = "task 1\n2026-12-04T07:29:23.453047Z my board qemu-system-arm: terminating on signal 15 from pid 9 (kill)\nbooted on qemu-system-arm: ok\n";
        assert_eq!(
            qemu_said(output, guest.as_deref()),
            "2026-12-04T07:29:23.453047Z my board qemu-system-arm: terminating on signal 15 from pid 9 (kill)"
        );
        assert_eq!(
            qemu_said(output, None),
            "its last output line: booted on qemu-system-arm: ok",
            "without -msg guest-name=on, no line opens with a name"
        );
        assert_eq!(qemu_said("\n\n", None), "");
    }

    #[test]
    fn the_guest_name_is_taken_only_where_qemu_is_asked_to_write_it() {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(
            guest_name(&args(&["-name", "board1", "-msg", "guest-name=on"])).as_deref(),
            Some("board1")
        );
        assert_eq!(
            guest_name(&args(&[
                "--msg",
                "timestamp=on,guest-name=on",
                "--name",
                "b,process=q"
            ]))
            .as_deref(),
            Some("b")
        );
        assert_eq!(guest_name(&args(&["-name", "board1"])), None, "no -msg");
        assert_eq!(
            guest_name(&args(&["-msg", "guest-name=off", "-name", "board1"])),
            None
        );
        assert_eq!(
            guest_name(&args(&["-msg", "guest-name=on"])),
            None,
            "no -name"
        );
    }

    /// `--attach` to a host that never answers (a firewall dropping the connection) gives up,
    /// saying so, rather than waiting out the kernel's retries. Such a host is a listener whose
    /// accept queue is full: Linux drops the next connection's SYNs.
    #[test]
    #[cfg(target_os = "linux")]
    fn attach_gives_up_on_a_host_that_does_not_answer() {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen(2) on a socket this test owns, to make its accept queue one long.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let addr = listener.local_addr().unwrap().to_string();
        let _queued = TcpStream::connect(&addr).unwrap();
        let error = connect(&addr, Duration::from_millis(300)).unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            format!("{addr}: no answer within 300ms")
        );
        drop(listener);
        let refused = connect(&addr, Duration::from_millis(300)).unwrap_err();
        assert!(format!("{refused:#}").contains("refused"), "{refused:#}");
    }
}
