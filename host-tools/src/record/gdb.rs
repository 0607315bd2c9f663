//! A small client of GDB's Remote Serial Protocol, enough to pull RTT out of QEMU's gdbstub.
//!
//! QEMU serves memory only while the guest is halted, so draining RTT is a loop of
//! interrupt (`\x03`), memory reads and writes (`m` / `M`), and continue (`c`). The client
//! switches acknowledgements off (`QStartNoAckMode`) when the stub allows it, because every
//! round trip counts when the goal is megabytes per second over a loopback socket.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What went wrong talking to the stub.
#[derive(Debug, thiserror::Error)]
pub enum GdbError {
    #[error("gdb remote connection: {0}")]
    Io(io::Error),
    /// The stub went away: QEMU ended (for example the firmware's semihosting exit).
    #[error("the gdb stub closed the connection")]
    Closed,
    #[error("gdb remote protocol: {0}")]
    Protocol(String),
    /// A packet read corrupted (refused and sent again while acknowledgements are on).
    /// `said`: the packet's two checksum characters as read, hex digits or not.
    #[error(
        "gdb remote protocol: checksum mismatch: packet says {said:?}, computed {computed:02x}"
    )]
    Checksum { said: String, computed: u8 },
    #[error("gdb stub answered {request:?} with error {code}")]
    Stub { request: String, code: String },
    /// Something that is no gdb stub (it accepted the connection and says nothing), a stub that
    /// hangs, or QEMU's serving another debugger already (it accepts a second connection and
    /// says nothing on it): a read without a deadline waited for good.
    #[error("no reply from the gdb stub within {REPLY_TIMEOUT:?} (is it a gdb stub, still running, and not serving another debugger already? QEMU serves one at a time)")]
    NoReply,
}

impl From<io::Error> for GdbError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::UnexpectedEof => GdbError::Closed,
            // Only reads time out, after the stream's read timeout: REPLY_TIMEOUT.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => GdbError::NoReply,
            _ => GdbError::Io(e),
        }
    }
}

/// How long a reply may take: a stub answers a request (or the interrupt that halts the target)
/// at once; only the wait for a running target to stop by itself is longer, and has its own.
/// (The unit tests' silent stub is given up on sooner.)
const REPLY_TIMEOUT: Duration = match cfg!(test) {
    true => Duration::from_millis(200),
    false => Duration::from_secs(10),
};

/// What a memory read's or write's packet holds beside the data's hex digits, at most: `$`,
/// `M`, an address of 8 hex digits, `,`, a length of up to 5, `:`, `#` and the checksum's 2.
const PACKET_OVERHEAD: usize = 32;

/// How many times a packet is sent again when the stub refuses it (`-`), and a reply refused
/// when its checksum is wrong, before the client gives up.
const RESENDS: usize = 3;

/// The longest reply body taken (before run-length expansion): the longest the client asks for
/// is a memory read's hex digits, at most 2 * 16 KiB (`max_read`'s bound).
const MAX_REPLY_BYTES: usize = 64 << 10;

/// Why the target stopped running, as told by a stop reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Halted with this signal (`S`/`T` replies): 2 for our interrupt, 5 for a breakpoint.
    Signal(u8),
    /// The program ended (`W` reply) with this exit status, e.g. a semihosting exit.
    Exited(u8),
    /// The program was killed (`X` reply) by this signal.
    Killed(u8),
}

/// A connection to a gdbstub.
pub struct GdbClient {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    acks: bool,
    /// Largest `m` request whose hex reply fits in the stub's packet buffer.
    max_read: usize,
    running: bool,
}

impl GdbClient {
    /// Connects and negotiates packet size and no-ack mode. The target is assumed halted.
    pub fn connect(stream: TcpStream) -> Result<Self, GdbError> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        let mut client = GdbClient {
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone()?),
            writer: BufWriter::new(stream),
            acks: true,
            max_read: 1024,
            running: false,
        };
        let features = client.request("qSupported:multiprocess-;swbreak+;hwbreak+")?;
        for feature in features.split(';') {
            if let Some(size) = feature.strip_prefix("PacketSize=") {
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| GdbError::Protocol(format!("bad PacketSize {size:?}")))?;
                // Two hex digits per byte, and room for a write's header (`M` with its address
                // and length: up to 19 bytes) and framing; however small the stub's buffer,
                // no chunk of a read or write outgrows it (a floor of 16 bytes did).
                client.max_read = (size.saturating_sub(PACKET_OVERHEAD) / 2).clamp(1, 16 * 1024);
            }
        }
        if features.split(';').any(|f| f == "QStartNoAckMode+")
            && client.request("QStartNoAckMode")? == "OK"
        {
            client.acks = false;
        }
        // The stop reason of the initial halt; also flushes any pending notification.
        client.request("?")?;
        Ok(client)
    }

    /// Reads target memory, in as many packets as the stub's buffer requires.
    pub fn read_memory(&mut self, addr: u32, out: &mut [u8]) -> Result<(), GdbError> {
        let mut done = 0;
        while done < out.len() {
            let len = (out.len() - done).min(self.max_read);
            let at = addr.wrapping_add(done as u32);
            let reply = self.request(&format!("m{at:x},{len:x}"))?;
            let bytes = reply.as_bytes();
            if bytes.len() != 2 * len {
                return Err(GdbError::Protocol(format!(
                    "memory read of {len} bytes at {at:#x} returned {} hex digits",
                    bytes.len()
                )));
            }
            decode_hex(bytes, &mut out[done..done + len])?;
            done += len;
        }
        Ok(())
    }

    /// Writes target memory.
    pub fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<(), GdbError> {
        for (i, chunk) in data.chunks(self.max_read).enumerate() {
            let at = addr.wrapping_add((i * self.max_read) as u32);
            let mut packet = format!("M{at:x},{:x}:", chunk.len());
            for b in chunk {
                packet.push_str(&format!("{b:02x}"));
            }
            let reply = self.request(&packet)?;
            if reply != "OK" {
                return Err(GdbError::Protocol(format!(
                    "memory write at {at:#x} answered {reply:?}"
                )));
            }
        }
        Ok(())
    }

    /// Reads the halted target's core registers r0–r15 (r13 SP, r14 LR, r15 PC): the start of
    /// the `g` packet's reply, whatever the stub's register description has after them. (QEMU
    /// answers `p`, one register, only to a debugger that has read its description.)
    pub fn read_core_registers(&mut self) -> Result<[u32; 16], GdbError> {
        let reply = self.request("g")?;
        let hex = reply.as_bytes();
        if hex.len() < 16 * 8 {
            return Err(GdbError::Protocol(format!(
                "the registers read as {} hex digits, fewer than r0-r15's 128",
                hex.len()
            )));
        }
        let mut registers = [0u32; 16];
        for (register, digits) in registers.iter_mut().zip(hex.chunks(8)) {
            let mut bytes = [0u8; 4];
            decode_hex(digits, &mut bytes)?;
            // The target's order: little-endian on every Cortex-M.
            *register = u32::from_le_bytes(bytes);
        }
        Ok(registers)
    }

    /// Sets a breakpoint on the Thumb instruction at `addr`: `false` if the stub has none to
    /// give (it does not know the request).
    pub fn set_breakpoint(&mut self, addr: u32) -> Result<bool, GdbError> {
        self.breakpoint('Z', addr)
    }

    /// Removes the breakpoint [`GdbClient::set_breakpoint`] set at `addr`.
    pub fn remove_breakpoint(&mut self, addr: u32) -> Result<bool, GdbError> {
        self.breakpoint('z', addr)
    }

    /// A software breakpoint request (`Z0` or `z0`), of kind 2: a 16-bit Thumb instruction.
    fn breakpoint(&mut self, request: char, addr: u32) -> Result<bool, GdbError> {
        match self.request(&format!("{request}0,{addr:x},2"))?.as_str() {
            "OK" => Ok(true),
            "" => Ok(false),
            other => Err(GdbError::Protocol(format!(
                "breakpoint request {request}0 at {addr:#x} answered {other:?}"
            ))),
        }
    }

    /// Lets the target run. No reply comes until it stops.
    pub fn resume(&mut self) -> Result<(), GdbError> {
        self.send_packet("c")?;
        self.running = true;
        Ok(())
    }

    /// Halts a running target and returns the stop reply.
    pub fn halt(&mut self) -> Result<Stop, GdbError> {
        if !self.running {
            return Ok(Stop::Signal(0));
        }
        // A stop reply already come (the firmware's exit, say) is the answer: QEMU may have
        // closed the connection after it, and an interrupt sent then failed the halt, its reply
        // unread (an attached recording that had its whole trace ended in an error).
        if let Some(stop) = self.stop_come()? {
            return Ok(stop);
        }
        let interrupt = self
            .writer
            .write_all(&[0x03])
            .and_then(|()| self.writer.flush());
        if let Err(e) = interrupt {
            // The reply may have come, and the stub closed, since the look.
            return match self.stop_come() {
                Ok(Some(stop)) => Ok(stop),
                _ => Err(e.into()),
            };
        }
        self.next_stop()
    }

    /// Waits for the running target to stop by itself, at most `timeout`: `None` if it is still
    /// running then.
    pub fn wait_stop(&mut self, timeout: Option<Duration>) -> Result<Option<Stop>, GdbError> {
        if !self.running {
            return Ok(Some(Stop::Signal(0)));
        }
        let Some(timeout) = timeout else {
            return self.next_stop().map(Some);
        };
        if self.reader.buffer().is_empty() && !self.bytes_within(timeout)? {
            return Ok(None);
        }
        // Bytes came: the stop reply, or the program's console output as it runs on.
        self.stop_come()
    }

    /// The stop reply, if the stub has sent it by now, taken without waiting for more; the
    /// program's console output (`O` packets) before it passed over.
    fn stop_come(&mut self) -> Result<Option<Stop>, GdbError> {
        while self.reply_waiting()? {
            let reply = self.receive_packet()?;
            if !is_console_output(&reply) {
                self.running = false;
                return parse_stop(&reply).map(Some);
            }
        }
        Ok(None)
    }

    /// Reads up to the stop reply, passing over the program's console output.
    fn next_stop(&mut self) -> Result<Stop, GdbError> {
        loop {
            let reply = self.receive_packet()?;
            if !is_console_output(&reply) {
                self.running = false;
                return parse_stop(&reply);
            }
        }
    }

    /// Whether bytes from the stub wait to be read, without waiting for any (a read timeout
    /// would: the kernel rounds it up to a scheduler tick, milliseconds at every halt).
    fn reply_waiting(&self) -> Result<bool, GdbError> {
        if !self.reader.buffer().is_empty() {
            return Ok(true);
        }
        let stream = self.reader.get_ref();
        stream.set_nonblocking(true)?;
        let peeked = stream.peek(&mut [0u8; 1]);
        stream.set_nonblocking(false)?;
        match peeked {
            Ok(0) => Err(GdbError::Closed),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether bytes from the stub come within `timeout` (none buffered yet).
    fn bytes_within(&self, timeout: Duration) -> Result<bool, GdbError> {
        let stream = self.reader.get_ref();
        stream.set_read_timeout(Some(timeout.max(Duration::from_micros(1))))?;
        let peeked = stream.peek(&mut [0u8; 1]);
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        match peeked {
            // QEMU ended: the callers tell this from a protocol error by its variant.
            Ok(0) => Err(GdbError::Closed),
            Ok(_) => Ok(true),
            // A signal (the user's Ctrl-C) cuts the wait short: a read with a timeout is not
            // restarted. The target is still running, as after a timeout.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a packet and returns its reply, checking for `Exx` errors.
    fn request(&mut self, packet: &str) -> Result<String, GdbError> {
        self.send_packet(packet)?;
        let reply = self.receive_packet()?;
        if reply.len() == 3 && reply.starts_with('E') {
            return Err(GdbError::Stub {
                request: packet.chars().take(32).collect(),
                code: reply,
            });
        }
        Ok(reply)
    }

    fn send_packet(&mut self, data: &str) -> Result<(), GdbError> {
        let sum = data.bytes().fold(0u8, |s, b| s.wrapping_add(b));
        write!(self.writer, "${data}#{sum:02x}")?;
        self.writer.flush()?;
        if self.acks {
            let mut resent = 0;
            loop {
                match self.read_byte()? {
                    b'+' => break,
                    // The stub read it corrupted and asks for it again (GDB's protocol; over
                    // TCP it should not happen, so a few times at most).
                    b'-' if resent < RESENDS => {
                        resent += 1;
                        write!(self.writer, "${data}#{sum:02x}")?;
                        self.writer.flush()?;
                    }
                    b'-' => {
                        return Err(GdbError::Protocol(format!(
                            "the stub refused the packet {} times",
                            RESENDS + 1
                        )))
                    }
                    // A stop reply the stub sent by itself before reading ours: QEMU does on a
                    // connection to a running guest, which it halts ('$T02thread:01;#04'), and
                    // `--attach` to a QEMU started without -S failed on it ("expected ack, got
                    // '$'"). Taken (and acknowledged); the target is halted, as assumed. One
                    // read corrupted is passed over, not refused: the stub, sending it again,
                    // would have its copy taken for the reply to ours, and ours go unanswered.
                    b'$' => match self.receive_body() {
                        Ok(_) | Err(GdbError::Checksum { .. }) => {}
                        Err(e) => return Err(e),
                    },
                    other => {
                        return Err(GdbError::Protocol(format!(
                            "expected ack, got {:?}",
                            other as char
                        )))
                    }
                }
            }
        }
        Ok(())
    }

    fn receive_packet(&mut self) -> Result<String, GdbError> {
        self.skip_to_packet_start()?;
        self.receive_packet_after_start()
    }

    /// Reads up to a packet's `$`, skipping stray acks and anything before it: a few bytes,
    /// not a stream of them (a peer sending anything but a packet would hold the client for
    /// as long as it sends, each read answered in time).
    fn skip_to_packet_start(&mut self) -> Result<(), GdbError> {
        let mut skipped = 0;
        while self.read_byte()? != b'$' {
            skipped += 1;
            if skipped > MAX_REPLY_BYTES {
                return Err(GdbError::Protocol(format!(
                    "more than {MAX_REPLY_BYTES} bytes before a reply's start"
                )));
            }
        }
        Ok(())
    }

    /// The rest of a packet whose `$` has been read. With acknowledgements on, one whose
    /// checksum is wrong is refused (`-`) for the stub to send it again, a few times at most.
    fn receive_packet_after_start(&mut self) -> Result<String, GdbError> {
        let mut refused = 0;
        loop {
            match self.receive_body() {
                Err(GdbError::Checksum { .. }) if self.acks && refused < RESENDS => {
                    refused += 1;
                    self.writer.write_all(b"-")?;
                    self.writer.flush()?;
                    self.skip_to_packet_start()?;
                }
                other => return other,
            }
        }
    }

    /// The rest of a packet whose `$` has been read, acknowledged if acknowledgements are on.
    fn receive_body(&mut self) -> Result<String, GdbError> {
        let mut body = Vec::new();
        let mut sum = 0u8;
        loop {
            let b = self.read_byte()?;
            if b == b'#' {
                break;
            }
            // A peer that never ends its packet (garbage, or no stub at all) would otherwise be
            // buffered for as long as it sends.
            if body.len() == MAX_REPLY_BYTES {
                return Err(GdbError::Protocol(format!(
                    "a reply longer than {MAX_REPLY_BYTES} bytes, more than any asked for"
                )));
            }
            sum = sum.wrapping_add(b);
            body.push(b);
        }
        let mut check = [0u8; 2];
        self.reader.read_exact(&mut check)?;
        // A checksum that is not hex was read corrupted as surely as one that does not match.
        let said = hex_digit(check[0]).and_then(|high| Ok((high << 4) | hex_digit(check[1])?));
        if said.ok() != Some(sum) {
            return Err(GdbError::Checksum {
                said: String::from_utf8_lossy(&check).into_owned(),
                computed: sum,
            });
        }
        if self.acks {
            let acked = self
                .writer
                .write_all(b"+")
                .and_then(|()| self.writer.flush());
            // A stub that reports the program's end (`W`, `X`) may close at once, before our
            // ack: the reply stands.
            if let Err(e) = acked {
                if !matches!(body.first(), Some(b'W' | b'X')) {
                    return Err(e.into());
                }
            }
        }
        let body = unescape(&body);
        String::from_utf8(body).map_err(|_| GdbError::Protocol("reply is not text".into()))
    }

    fn read_byte(&mut self) -> Result<u8, GdbError> {
        let mut b = [0u8; 1];
        match self.reader.read_exact(&mut b) {
            Ok(()) => Ok(b[0]),
            Err(e) => Err(e.into()),
        }
    }
}

/// Undoes the `}`-escaping and `*` run-length encoding of reply bodies.
fn unescape(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'}' if i + 1 < body.len() => {
                out.push(body[i + 1] ^ 0x20);
                i += 2;
            }
            b'*' if i + 1 < body.len() && !out.is_empty() => {
                let repeat = body[i + 1].saturating_sub(29) as usize;
                let last = *out.last().expect("checked non-empty");
                out.extend(std::iter::repeat_n(last, repeat));
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Whether a packet is the running program's console output (`O` and hex digits), which a stub
/// may send before the stop reply.
fn is_console_output(reply: &str) -> bool {
    reply
        .strip_prefix('O')
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn parse_stop(reply: &str) -> Result<Stop, GdbError> {
    // Two hex digits: `from_str_radix` alone also takes a sign ("W+a" read as exit status 10).
    let code = |s: &str| {
        s.get(..2)
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|digits| u8::from_str_radix(digits, 16).ok())
            .ok_or_else(|| GdbError::Protocol(format!("bad stop reply {reply:?}")))
    };
    match reply.as_bytes().first() {
        Some(b'S' | b'T') => Ok(Stop::Signal(code(&reply[1..])?)),
        Some(b'W') => Ok(Stop::Exited(code(&reply[1..])?)),
        Some(b'X') => Ok(Stop::Killed(code(&reply[1..])?)),
        // A File-I/O request: the firmware made a semihosting call (a print, say) that QEMU,
        // started with `-semihosting` alone and a debugger attached, hands to the debugger.
        Some(b'F') => Err(GdbError::Protocol(format!(
            "the firmware made a semihosting call ({reply:?}) that its QEMU hands to the debugger: start that QEMU with `-semihosting-config enable=on,target=native`, so that it serves the call itself"
        ))),
        _ => Err(GdbError::Protocol(format!(
            "expected a stop reply, got {reply:?}"
        ))),
    }
}

/// Fills `out` from the hex digit pairs of `hex` (as many pairs as `out` has bytes).
fn decode_hex(hex: &[u8], out: &mut [u8]) -> Result<(), GdbError> {
    for (slot, pair) in out.iter_mut().zip(hex.chunks(2)) {
        *slot = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Ok(())
}

fn hex_digit(c: u8) -> Result<u8, GdbError> {
    (c as char)
        .to_digit(16)
        .map(|d| d as u8)
        .ok_or_else(|| GdbError::Protocol(format!("bad hex digit {:?}", c as char)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    #[test]
    fn stop_replies_are_told_apart() {
        assert_eq!(parse_stop("T02thread:01;").unwrap(), Stop::Signal(2));
        assert_eq!(parse_stop("S05").unwrap(), Stop::Signal(5));
        assert_eq!(parse_stop("W00").unwrap(), Stop::Exited(0));
        assert_eq!(parse_stop("W01").unwrap(), Stop::Exited(1));
        assert!(parse_stop("OK").is_err());
    }

    #[test]
    fn a_semihosting_call_handed_to_the_debugger_says_how_to_start_qemu() {
        // It was "expected a stop reply, got \"Fwrite,1,20000100,6\"".
        let error = parse_stop("Fwrite,1,20000100,6").unwrap_err().to_string();
        assert!(
            error.contains("semihosting call") && error.contains("enable=on,target=native"),
            "{error}"
        );
    }

    #[test]
    fn a_stop_code_with_a_sign_is_no_stop() {
        // Found by any_body_expands_boundedly_and_any_text_is_a_stop_or_an_error.
        for reply in ["W+a", "S+5", "T-1", "X+0;"] {
            assert!(parse_stop(reply).is_err(), "{reply:?}");
        }
        assert_eq!(parse_stop("W0a").unwrap(), Stop::Exited(10));
    }

    /// The stop reply QEMU sends unasked on a connection to a running guest, which it halts.
    const HALTED_ON_CONNECTION: &str = "$T02thread:01;#04";

    /// A stub serving 64 KiB of memory at 0x1000 (byte `i` is `i % 256`) through a packet
    /// buffer of `packet_size` bytes, the way QEMU answers, that sends `on_connection` first,
    /// unasked (a guest running when the client connects).
    fn fake_stub(
        listener: std::net::TcpListener,
        on_connection: Option<&'static str>,
        packet_size: usize,
    ) {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut memory: Vec<u8> = (0..64 << 10).map(|i| i as u8).collect();
        let mut acks = true;
        let reply = |w: &mut TcpStream, body: &str| {
            let sum = body.bytes().fold(0u8, |s, b| s.wrapping_add(b));
            write!(w, "${body}#{sum:02x}").unwrap();
        };
        if let Some(packet) = on_connection {
            writer.write_all(packet.as_bytes()).unwrap();
        }
        // Address and length of `m ADDR,LEN` / `M ADDR,LEN:DATA`, as an index into `memory`.
        let span = |args: &str| -> (usize, usize) {
            let (a, l) = args.split_once(',').unwrap();
            let l = l.split(':').next().unwrap();
            let a = usize::from_str_radix(a, 16).unwrap() - 0x1000;
            (a, usize::from_str_radix(l, 16).unwrap())
        };
        let mut byte = [0u8; 1];
        while reader.read_exact(&mut byte).is_ok() {
            if byte[0] == 0x03 {
                reply(&mut writer, "T02thread:01;");
                continue;
            }
            if byte[0] != b'$' {
                continue;
            }
            let mut body = Vec::new();
            reader.read_until(b'#', &mut body).unwrap();
            body.pop();
            let mut sum = [0u8; 2];
            reader.read_exact(&mut sum).unwrap();
            if acks {
                writer.write_all(b"+").unwrap();
            }
            let body = String::from_utf8(body).unwrap();
            match body.as_bytes()[0] {
                b'q' => reply(
                    &mut writer,
                    &format!("PacketSize={packet_size:x};QStartNoAckMode+"),
                ),
                b'Q' => {
                    reply(&mut writer, "OK");
                    acks = false;
                }
                b'?' => reply(&mut writer, "S05"),
                b'm' => {
                    let (addr, len) = span(&body[1..]);
                    // A reply that would not fit in its buffer (`$`, hex digits, `#`, checksum).
                    if 2 * len + 4 > packet_size {
                        reply(&mut writer, "E22");
                        continue;
                    }
                    let hex: String = memory[addr..addr + len]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    reply(&mut writer, &hex);
                }
                b'M' => {
                    let (addr, len) = span(&body[1..]);
                    let data = body.split_once(':').unwrap().1;
                    for i in 0..len {
                        memory[addr + i] = u8::from_str_radix(&data[2 * i..2 * i + 2], 16).unwrap();
                    }
                    reply(&mut writer, "OK");
                }
                // r0-r15 (rN = 0x0N0N0N0N), then, as QEMU's reply has, more registers.
                b'g' => {
                    let mut hex: String = (0u8..16)
                        .map(|n| format!("{:08x}", u32::from_be_bytes([n; 4])))
                        .collect();
                    hex.push_str("0000000001000000");
                    reply(&mut writer, &hex);
                }
                b'Z' | b'z' if body.ends_with(",2") => reply(&mut writer, "OK"),
                b'c' => {}
                _ => reply(&mut writer, ""),
            }
        }
    }

    #[test]
    fn talks_to_a_stub_chunking_reads_to_its_packet_size() {
        talks_to_a_stub(None);
    }

    #[test]
    fn takes_the_stop_reply_of_a_guest_halted_on_connection() {
        talks_to_a_stub(Some(HALTED_ON_CONNECTION));
    }

    #[test]
    fn an_unasked_stop_reply_read_corrupted_is_passed_over() {
        // Refused ('-'), it had the stub's reply to the client's first packet taken for its copy
        // sent again, and the client waited for good on an acknowledgement already read.
        talks_to_a_stub(Some("$T02thread:01;#05"));
        // Its checksum's digits read corrupted too: that failed with "bad hex digit".
        talks_to_a_stub(Some("$T02thread:01;#0g"));
    }

    /// A client connected, as a recording connects, to a [`fake_stub`] serving in a thread.
    fn connect_to_fake_stub(
        on_connection: Option<&'static str>,
        packet_size: usize,
    ) -> (GdbClient, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stub = std::thread::spawn(move || fake_stub(listener, on_connection, packet_size));
        let gdb = GdbClient::connect(TcpStream::connect(addr).unwrap()).unwrap();
        (gdb, stub)
    }

    fn talks_to_a_stub(on_connection: Option<&'static str>) {
        let (mut gdb, stub) = connect_to_fake_stub(on_connection, 0x60);
        assert!(!gdb.acks, "no-ack mode negotiated");
        assert_eq!(
            gdb.max_read, 32,
            "PacketSize 0x60 leaves room for 32 bytes per read or write"
        );
        let mut out = [0u8; 100];
        gdb.read_memory(0x1000 + 10, &mut out).unwrap();
        assert!(out.iter().enumerate().all(|(i, &b)| b as usize == i + 10));
        gdb.write_memory(0x1000, &[0xaa, 0xbb]).unwrap();
        let mut two = [0u8; 2];
        gdb.read_memory(0x1000, &mut two).unwrap();
        assert_eq!(two, [0xaa, 0xbb]);
        // More than a packet holds: written in chunks, each at its own address.
        let long: Vec<u8> = (0..100).map(|i| 0x80 | i).collect();
        gdb.write_memory(0x1000 + 3, &long).unwrap();
        let mut back = [0u8; 104];
        gdb.read_memory(0x1000, &mut back).unwrap();
        assert_eq!(back[..3], [0xaa, 0xbb, 2]);
        assert_eq!(back[3..103], long[..]);
        assert_eq!(back[103], 103);
        let registers = gdb.read_core_registers().unwrap();
        assert_eq!((registers[0], registers[13]), (0, 0x0d0d_0d0d));
        assert_eq!((registers[14], registers[15]), (0x0e0e_0e0e, 0x0f0f_0f0f));
        assert!(gdb.set_breakpoint(0x1234).unwrap());
        assert!(gdb.remove_breakpoint(0x1234).unwrap());
        gdb.resume().unwrap();
        assert_eq!(
            gdb.wait_stop(Some(Duration::from_millis(20))).unwrap(),
            None
        );
        assert_eq!(gdb.halt().unwrap(), Stop::Signal(2));
        drop(gdb);
        stub.join().unwrap();
    }

    #[test]
    fn reads_from_a_stub_with_a_huge_packet_buffer_are_cut_to_replies_the_client_takes() {
        // A stub's 1 MiB buffer taken at its word: a read of 40 KiB in one packet, whose 80 KiB
        // reply the client refuses as longer than any it asks for.
        let (mut gdb, stub) = connect_to_fake_stub(None, 1 << 20);
        assert_eq!(gdb.max_read, 16 << 10, "reads of 16 KiB at most");
        let mut out = vec![0u8; 40 << 10];
        gdb.read_memory(0x1000, &mut out).unwrap();
        assert!(out.iter().enumerate().all(|(i, &b)| b == i as u8));
        drop(gdb);
        stub.join().unwrap();
    }

    /// A stub that keeps acknowledgements on, as QEMU 7.2 does (no `QStartNoAckMode`), and that
    /// answers `c` with `run_reply`'s packets, then closes the connection if they end with an
    /// exit (QEMU ending at the firmware's exit), or halts the guest on an interrupt.
    fn acking_stub(listener: std::net::TcpListener, run_reply: &'static [&'static str]) {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let packet = |body: &str| {
            let sum = body.bytes().fold(0u8, |s, b| s.wrapping_add(b));
            format!("${body}#{sum:02x}")
        };
        let mut byte = [0u8; 1];
        while reader.read_exact(&mut byte).is_ok() {
            if byte[0] == 0x03 {
                writer
                    .write_all(packet("T02thread:01;").as_bytes())
                    .unwrap();
                continue;
            }
            if byte[0] != b'$' {
                continue;
            }
            let mut body = Vec::new();
            reader.read_until(b'#', &mut body).unwrap();
            reader.read_exact(&mut [0u8; 2]).unwrap();
            let reply = match body[0] {
                b'q' => packet("PacketSize=1000"),
                // Not offered: the client must not ask for it.
                b'Q' => panic!("no-ack mode asked for: {}", String::from_utf8_lossy(&body)),
                b'?' => packet("S05"),
                b'c' => run_reply.iter().map(|body| packet(body)).collect(),
                _ => packet(""),
            };
            // The ack and the reply in one write, so that they come in one read.
            writer.write_all(format!("+{reply}").as_bytes()).unwrap();
            if body[0] == b'c' && run_reply.last().is_some_and(|r| r.starts_with('W')) {
                return;
            }
        }
    }

    /// Connects to a stub of `acking_stub` whose guest runs to `run_reply` and lets it run.
    fn run_on_acking_stub(
        run_reply: &'static [&'static str],
    ) -> (GdbClient, std::thread::JoinHandle<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stub = std::thread::spawn(move || acking_stub(listener, run_reply));
        let mut gdb = GdbClient::connect(TcpStream::connect(addr).unwrap()).unwrap();
        assert!(gdb.acks);
        gdb.resume().unwrap();
        (gdb, stub)
    }

    #[test]
    fn an_exit_reply_come_before_the_halt_is_its_answer() {
        // QEMU's ack of `c` and the firmware's exit came in one read, and QEMU closed the
        // connection: the halt's interrupt, then the ack of the exit reply, failed, and an
        // attached recording that had its whole trace ended with "the gdb stub closed the
        // connection" (a review helper's strace of a real run).
        let (mut gdb, stub) = run_on_acking_stub(&["W00"]);
        stub.join().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(gdb.halt().unwrap(), Stop::Exited(0));
    }

    #[test]
    fn console_output_while_running_is_passed_over_for_the_stop_reply() {
        // "expected a stop reply, got \"O6865...\"": GDB's protocol lets a stub send the
        // program's console output, `O` and hex, before the stop reply.
        let (mut gdb, stub) = run_on_acking_stub(&["O68690a", "W01"]);
        stub.join().unwrap();
        assert_eq!(
            gdb.wait_stop(Some(Duration::from_secs(5))).unwrap(),
            Some(Stop::Exited(1))
        );
    }

    #[test]
    fn console_output_alone_leaves_the_target_running() {
        // Taken for a stop reply's coming, it made the halt send no interrupt and wait for a
        // stop reply that never came (a review of the change that passed it over).
        let (mut gdb, stub) = run_on_acking_stub(&["O68690a"]);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            gdb.wait_stop(Some(Duration::from_millis(20))).unwrap(),
            None
        );
        let (mut gdb2, stub2) = run_on_acking_stub(&["O68690a"]);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(gdb2.halt().unwrap(), Stop::Signal(2));
        assert!(is_console_output("O0a") && !is_console_output("OK") && !is_console_output("O"));
        drop((gdb, gdb2));
        stub.join().unwrap();
        stub2.join().unwrap();
    }

    /// A stub that keeps acknowledgements on and is hard to please: it refuses (`-`) the first
    /// `refuse` sends of each packet, and sends each reply `corrupt` times with a wrong checksum
    /// before the right one, checking each time that the client refuses it (and acknowledges the
    /// right one).
    fn grudging_stub(listener: std::net::TcpListener, refuse: usize, corrupt: usize) {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut byte = [0u8; 1];
        let mut sends = 0;
        while reader.read_exact(&mut byte).is_ok() {
            if byte[0] != b'$' {
                continue;
            }
            let mut body = Vec::new();
            reader.read_until(b'#', &mut body).unwrap();
            reader.read_exact(&mut [0u8; 2]).unwrap();
            sends += 1;
            if sends <= refuse {
                writer.write_all(b"-").unwrap();
                continue;
            }
            sends = 0;
            writer.write_all(b"+").unwrap();
            let reply = match body[0] {
                b'q' => "PacketSize=1000",
                b'?' => "S05",
                _ => "",
            };
            let sum = reply.bytes().fold(0u8, |s, b| s.wrapping_add(b));
            for _ in 0..corrupt {
                write!(writer, "${reply}#{:02x}", sum ^ 0x5a).unwrap();
                // The client may give up, and hang up.
                if reader.read_exact(&mut byte).is_err() {
                    return;
                }
                assert_eq!(byte[0], b'-', "a corrupted reply taken");
            }
            write!(writer, "${reply}#{sum:02x}").unwrap();
            reader.read_exact(&mut byte).unwrap();
            assert_eq!(byte[0], b'+', "the right reply not acknowledged");
        }
    }

    /// Connects to a [`grudging_stub`], hangs up and returns what `connect` gave once the stub
    /// has ended: its checks of the client's `-` and `+` fail the test from there.
    fn connect_to_grudging_stub(refuse: usize, corrupt: usize) -> Result<bool, GdbError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stub = std::thread::spawn(move || grudging_stub(listener, refuse, corrupt));
        let acks = GdbClient::connect(TcpStream::connect(addr).unwrap()).map(|gdb| gdb.acks);
        stub.join().expect("the stub's checks of the client");
        acks
    }

    #[test]
    fn packets_refused_or_read_corrupted_are_sent_again_a_few_times() {
        // GDB's protocol: `-` asks for the packet again. The client took a stub's `-` for an
        // error ("expected ack, got '-'") and gave up on a reply whose checksum was wrong.
        assert!(connect_to_grudging_stub(RESENDS, RESENDS).unwrap());
        let refused = connect_to_grudging_stub(RESENDS + 1, 0).err().unwrap();
        assert!(
            refused.to_string().contains("refused the packet 4 times"),
            "{refused}"
        );
        let corrupted = connect_to_grudging_stub(0, RESENDS + 1).err().unwrap();
        assert!(
            matches!(corrupted, GdbError::Checksum { .. }),
            "{corrupted}"
        );
    }

    #[test]
    fn a_listener_that_never_answers_is_no_stub() {
        // Something else on the port (`--attach` to the wrong one) that accepts and says
        // nothing: connect waited for its reply for good.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            // Held open until the client has given up.
            let mut byte = [0u8; 1];
            let mut stream = stream;
            while matches!(stream.read(&mut byte), Ok(1..)) {}
        });
        let (done, connected) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(GdbClient::connect(TcpStream::connect(addr).unwrap()).err());
        });
        let error = connected
            .recv_timeout(Duration::from_secs(5))
            .expect("connect still waiting after 5 s")
            .expect("a silent listener accepted as a stub");
        assert!(matches!(error, GdbError::NoReply), "{error}");
        silent.join().unwrap();
    }

    /// A client connected to the stub at `addr` without the negotiation (acknowledgements off,
    /// as with QEMU; the target halted).
    fn client_without_acks(addr: std::net::SocketAddr) -> GdbClient {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        GdbClient {
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone().unwrap()),
            writer: BufWriter::new(stream),
            acks: false,
            max_read: 1024,
            running: false,
        }
    }

    /// What the client makes of `bytes` sent by a stub, which then closes: the first reply in
    /// them (`receive` given the client), acknowledgements off, as with QEMU.
    fn client_reading<T>(
        bytes: Vec<u8>,
        receive: impl FnOnce(&mut GdbClient) -> Result<T, GdbError>,
    ) -> Result<T, GdbError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stub = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // Whatever the client makes of it; then read until it hangs up, so that closing
            // with its request unread resets nothing it has still to read.
            let _ = stream.write_all(&bytes);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
        });
        let mut client = client_without_acks(addr);
        let result = receive(&mut client);
        drop(client);
        stub.join().unwrap();
        result
    }

    /// `body` as a stub frames it: the characters the protocol reserves escaped, and (when
    /// `compress`) runs of four or more of one character run-length encoded, with a count that
    /// is neither `#` nor `$` nor past `~`.
    fn packet(body: &[u8], compress: bool) -> Vec<u8> {
        let mut framed = Vec::new();
        let mut i = 0;
        while i < body.len() {
            let b = body[i];
            if matches!(b, b'#' | b'$' | b'}' | b'*') {
                framed.extend([b'}', b ^ 0x20]);
                i += 1;
                continue;
            }
            let run = body[i..].iter().take_while(|&&c| c == b).count().min(98);
            let repeat = run - 1;
            if compress && run >= 4 && !matches!(repeat + 29, 35 | 36) {
                framed.extend([b, b'*', (repeat + 29) as u8]);
                i += run;
            } else {
                framed.push(b);
                i += 1;
            }
        }
        let sum = framed.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        [b"$".as_slice(), &framed, format!("#{sum:02x}").as_bytes()].concat()
    }

    /// A reply body of text: hex digits in runs, the characters the protocol reserves, and
    /// other text, UTF-8 beyond ASCII too.
    fn body(rng: &mut gotrace_tests::rng::Rng) -> Vec<u8> {
        let mut body = Vec::new();
        for _ in 0..rng.below(40) {
            match rng.below(4) {
                0 => {
                    let digit = *rng.pick(b"0123456789abcdef");
                    body.extend(std::iter::repeat_n(digit, 1 + rng.below(150)));
                }
                1 => body.push(*rng.pick(b"#$}*+-:;,")),
                2 => body.extend_from_slice("é€".as_bytes()),
                _ => body.extend((0..rng.below(8)).map(|_| 0x20 + rng.below(0x5f) as u8)),
            }
        }
        body
    }

    /// Replies in any framing a stub may give (escapes, run-length encoding, acks and noise
    /// before the `$`) read back as the text sent; corrupted ones (a byte changed, a `$` put
    /// in, the checksum wrong, cut short, arbitrary mutations) give an error or, where a
    /// change can keep the checksum right, some text, and never a panic.
    #[test]
    fn replies_read_back_exactly_or_corrupted_give_an_error() {
        let mut rng = gotrace_tests::rng::Rng::new(0x9db);
        let (mut exact, mut refused, mut arbitrary) = (0, 0, 0);
        for case in 0..REPLY_CASES {
            let text = body(&mut rng);
            let framed = packet(&text, rng.below(2) == 0);
            let noise: Vec<u8> = (0..rng.below(4)).map(|_| *rng.pick(b"+-#x\0")).collect();
            let sent = [noise.as_slice(), &framed].concat();
            let read = |bytes: Vec<u8>| client_reading(bytes, GdbClient::receive_packet);
            let body_at = noise.len() + 1..sent.len() - 3;
            let mut corrupt = sent.clone();
            match case % 6 {
                0 => {
                    assert_eq!(read(sent).unwrap().as_bytes(), text);
                    exact += 1;
                    continue;
                }
                // Any byte of the body but '#' changes the sum of the bytes it is checked by.
                1 if !body_at.is_empty() => {
                    let at = body_at.start + rng.below(body_at.len());
                    corrupt[at] = match rng.next_u64() as u8 {
                        b'#' => b'$',
                        b if b == sent[at] => b ^ 1,
                        b => b,
                    };
                }
                2 => {
                    let at = body_at.start + rng.below(body_at.len() + 1);
                    corrupt.insert(at, b'$');
                }
                3 => {
                    let at = sent.len() - 1 - rng.below(2);
                    corrupt[at] = *rng.pick(b"0123456789abcdefgX");
                    if corrupt == sent {
                        corrupt[at] = b'g';
                    }
                }
                4 => corrupt.truncate(rng.below(sent.len())),
                _ => {
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(corrupt.len() + 1);
                        let byte = *rng.pick(b"$#}*\0\xff~ 0f");
                        match rng.below(3) {
                            0 => corrupt.insert(at, byte),
                            1 if at < corrupt.len() => corrupt[at] = byte,
                            _ => corrupt.truncate(at),
                        }
                    }
                    // Reading it must end, in an error or some text; which depends on where
                    // the changes fell.
                    arbitrary += usize::from(read(corrupt).is_ok());
                    continue;
                }
            }
            let result = read(corrupt.clone());
            assert!(
                result.is_err(),
                "case {case}: {:?} read as {result:?}",
                String::from_utf8_lossy(&corrupt)
            );
            refused += 1;
        }
        eprintln!("{exact} read back exactly, {refused} corrupted refused, {arbitrary} of the arbitrary mutants read as text");
        assert!(exact > 0 && refused > REPLY_CASES / 2);
    }

    const REPLY_CASES: usize = 1200;

    /// r0–r15 are the reply's first 128 hex digits, whatever follows them; a shorter reply is
    /// refused, not read as registers of 0.
    #[test]
    fn the_core_registers_are_the_first_128_digits_of_a_reply_and_a_shorter_one_is_refused() {
        let digits: String = (0u8..16)
            .map(|n| format!("{:08x}", u32::from_be_bytes([n, 0, 0, 0x10 + n])))
            .collect();
        let expected: [u32; 16] = std::array::from_fn(|n| (n as u32) | (0x10 + n as u32) << 24);
        for reply in [digits.clone(), format!("{digits}0000000001000000")] {
            let read = client_reading(packet(reply.as_bytes(), false), |client| {
                client.read_core_registers()
            });
            assert_eq!(read.unwrap(), expected, "{reply}");
        }
        for len in [127, 120, 24, 2, 0] {
            let read = client_reading(packet(&digits.as_bytes()[..len], false), |client| {
                client.read_core_registers()
            });
            let error = read.expect_err("a short reply read as registers");
            assert!(
                error.to_string().contains(&format!("{len} hex digits")),
                "{error}"
            );
        }
    }

    /// A running target's wait for its stop: the stop reply that comes during the wait ends it;
    /// with nothing come, the wait lasts its timeout (the recording's pause between two drains)
    /// and the target is still running; a stub that closes ends it as `Closed`.
    #[test]
    fn a_wait_for_the_stop_ends_with_the_stop_reply_its_timeout_or_the_stubs_end() {
        let stopped = client_reading(packet(b"S05", false), |client| {
            client.running = true;
            client.wait_stop(Some(Duration::from_secs(5)))
        });
        assert_eq!(stopped.unwrap(), Some(Stop::Signal(5)));
        let closed = client_reading(Vec::new(), |client| {
            client.running = true;
            client.wait_stop(Some(Duration::from_secs(5)))
        });
        assert!(matches!(closed, Err(GdbError::Closed)), "{closed:?}");

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (hang_up, hung_up) = std::sync::mpsc::channel::<()>();
        let silent = std::thread::spawn(move || {
            let _connection = listener.accept().unwrap();
            let _ = hung_up.recv();
        });
        let mut client = client_without_acks(addr);
        client.running = true;
        let wait = Duration::from_millis(100);
        let start = std::time::Instant::now();
        assert_eq!(client.wait_stop(Some(wait)).unwrap(), None);
        assert!(start.elapsed() >= wait, "waited {:?}", start.elapsed());
        assert!(client.running);
        drop(hang_up);
        silent.join().unwrap();
    }

    /// A stub that resets the connection while the target runs (it ended with the client's
    /// packet unread) ends the wait as `Closed`, not as a target still running.
    #[test]
    fn a_connection_reset_while_waiting_for_the_stop_is_the_stubs_end() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stub = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            // Closed with the `c` packet unread: the kernel resets the connection.
            stream.peek(&mut [0u8; 1]).unwrap();
        });
        let mut client = client_without_acks(addr);
        client.resume().unwrap();
        stub.join().unwrap();
        let waited = client.wait_stop(Some(Duration::from_secs(5)));
        assert!(matches!(waited, Err(GdbError::Closed)), "{waited:?}");
    }

    /// A stub's error reply (`E` and two digits) is its error, whatever was asked.
    #[test]
    fn an_error_reply_is_the_stubs_error() {
        let write = client_reading(packet(b"E14", false), |client| {
            client.write_memory(0x2000_0000, &[1])
        });
        match write {
            Err(GdbError::Stub { request, code }) => {
                assert_eq!((request.as_str(), code.as_str()), ("M20000000,1:01", "E14"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A breakpoint request's reply: `OK` grants it, an empty one says the stub has none to
    /// give, anything else is an error.
    #[test]
    fn a_breakpoint_request_is_granted_refused_or_an_error() {
        for remove in [false, true] {
            let request = |client: &mut GdbClient| match remove {
                false => client.set_breakpoint(0x1234),
                true => client.remove_breakpoint(0x1234),
            };
            let granted = client_reading(packet(b"OK", false), request);
            assert!(granted.unwrap());
            let unknown = client_reading(packet(b"", false), request);
            assert!(!unknown.unwrap());
            let error = client_reading(packet(b"S05", false), request).unwrap_err();
            assert!(error.to_string().contains("answered \"S05\""), "{error}");
        }
    }

    /// Memory read replies of every kind (the right hex digits, framed any way; too few or too
    /// many; not hex; a stub error): the bytes they spell, exactly, or an error.
    #[test]
    fn a_memory_read_gives_the_bytes_the_reply_spells_or_an_error() {
        let mut rng = gotrace_tests::rng::Rng::new(0x3e3);
        let mut read = 0;
        for _ in 0..MEMORY_CASES {
            let len = 1 + rng.below(64);
            let memory: Vec<u8> = (0..len)
                .map(|_| {
                    let any = rng.next_u64() as u8;
                    *rng.pick(&[0, 0xff, any])
                })
                .collect();
            let mut hex: Vec<u8> = memory
                .iter()
                .flat_map(|b| format!("{b:02x}").into_bytes())
                .collect();
            let right = rng.below(3) > 0;
            if !right {
                match rng.below(5) {
                    0 => hex.truncate(rng.below(hex.len())),
                    1 => hex.extend_from_slice(b"00"),
                    2 => {
                        let at = rng.below(hex.len());
                        hex[at] = *rng.pick(b"gG xX-}*#$");
                    }
                    3 => hex.pop().map_or((), drop),
                    _ => hex = b"E14".to_vec(),
                }
            }
            let reply = packet(&hex, rng.below(2) == 0);
            let mut out = vec![0xaa; len];
            let result = client_reading(reply, |client| client.read_memory(0x1000, &mut out));
            match right {
                true => {
                    result.unwrap();
                    assert_eq!(out, memory);
                    read += 1;
                }
                false => assert!(result.is_err(), "{:?}", String::from_utf8_lossy(&hex)),
            }
        }
        assert!(read > MEMORY_CASES / 2);
    }

    const MEMORY_CASES: usize = 600;

    /// A stub that sends a reply with no end (garbage, or something that is no stub at all)
    /// is refused once the reply is longer than any the client asks for, not buffered whole.
    #[test]
    fn a_reply_longer_than_any_asked_for_is_refused_not_buffered() {
        let endless = [b"$".as_slice(), &vec![b'0'; 256 << 10]].concat();
        let error = client_reading(endless, GdbClient::receive_packet).unwrap_err();
        assert!(
            matches!(&error, GdbError::Protocol(e) if e.contains("longer than")),
            "{error}"
        );
    }

    /// A peer that sends anything but a packet is refused once it has sent more than any
    /// reply, not read for as long as it sends.
    #[test]
    fn bytes_without_a_packet_start_are_refused_not_read_on() {
        let error = client_reading(vec![b'+'; 256 << 10], GdbClient::receive_packet).unwrap_err();
        assert!(
            matches!(&error, GdbError::Protocol(e) if e.contains("before a reply's start")),
            "{error}"
        );
        // The bound: as many stray bytes as the longest reply are passed over, one more is not.
        for (stray, taken) in [(MAX_REPLY_BYTES, true), (MAX_REPLY_BYTES + 1, false)] {
            let bytes = [vec![b'+'; stray], packet(b"OK", false)].concat();
            let read = client_reading(bytes, GdbClient::receive_packet);
            assert_eq!(
                read.is_ok(),
                taken,
                "{stray} bytes before the reply: {read:?}"
            );
        }
    }

    /// Any reply body, however malformed its escapes and run lengths (a '}' or '*' last, a
    /// count below 29 or above '~', a '*' first): expanded without a panic, to at most 113
    /// bytes per byte of it (a '*' and a count of 255 give 226). Any text as a stop reply: the
    /// stop it spells (one of S, T, W, X and two hex digits), or an error, never a panic.
    #[test]
    fn any_body_expands_boundedly_and_any_text_is_a_stop_or_an_error() {
        let mut rng = gotrace_tests::rng::Rng::new(0x57);
        for _ in 0..BODY_CASES {
            let mut body: Vec<u8> = (0..rng.below(24))
                .map(|_| match rng.below(3) {
                    0 => *rng.pick(b"}*#$"),
                    1 => *rng.pick(&[0, 28, 29, 30, 126, 127, 255]),
                    _ => rng.next_u64() as u8,
                })
                .collect();
            // Often something like a stop reply.
            if rng.below(2) == 0 {
                let kind = *rng.pick(b"STWXO");
                let like: Vec<u8> = (0..2).map(|_| *rng.pick(b"0aF+- g\xc3")).collect();
                body.splice(0..0, [kind].into_iter().chain(like));
            }
            let expanded = unescape(&body);
            assert!(expanded.len() <= 113 * body.len().max(1), "{body:?}");
            let text = String::from_utf8_lossy(&body);
            let stop = match parse_stop(&text) {
                Ok(Stop::Signal(c)) => Some((b"ST".as_slice(), c)),
                Ok(Stop::Exited(c)) => Some((b"W".as_slice(), c)),
                Ok(Stop::Killed(c)) => Some((b"X".as_slice(), c)),
                Err(_) => None,
            };
            let spelled = text
                .get(1..3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|h| u8::from_str_radix(h, 16).expect("two hex digits"));
            match stop {
                Some((kinds, code)) => {
                    assert!(kinds.contains(&text.as_bytes()[0]), "{text:?}");
                    assert_eq!(Some(code), spelled, "{text:?}");
                }
                None => assert!(
                    !b"STWX".contains(&body.first().copied().unwrap_or(0)) || spelled.is_none(),
                    "{text:?} refused"
                ),
            }
        }
    }

    const BODY_CASES: usize = 50_000;

    #[test]
    fn run_length_and_escapes_are_expanded() {
        assert_eq!(unescape(b"0* "), b"0000");
        assert_eq!(unescape(b"a}\x03b"), b"a#b");
        // Any byte may come escaped, not only the four the protocol reserves: its bit 0x20
        // flipped either way.
        assert_eq!(unescape(b"}a}\x01}\x0a"), b"A!*");
    }
}
