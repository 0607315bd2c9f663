//! The host end of SEGGER RTT over plain memory access (QEMU's gdbstub, a probe through probe-rs).
//!
//! The firmware's control block (`_SEGGER_RTT`) is a 16-byte identifier, the numbers of up and
//! down channels, then one 24-byte descriptor per channel: name pointer, buffer pointer, size,
//! write offset, read offset, flags. The host owns the read offset of up channels and the write
//! offset of down channels, and may set an up channel's mode in its flags; everything else it
//! only reads. One drain reads all descriptors in one request, then only the bytes that are
//! waiting.
//!
//! Everything in the control block is the firmware's to write, a buggy firmware's too: a
//! buffer that cannot be (past the end of the address space, larger than any RTT's), offsets
//! beyond it, or a descriptor that changes after attach are refused with an error naming the
//! channel and the values, never read from or allocated for.

use anyhow::{bail, Context, Result};

/// Byte access to the target's memory (while it is halted, for QEMU; while it runs, for a probe).
pub trait Memory {
    fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()>;
    fn write(&mut self, addr: u32, data: &[u8]) -> Result<()>;
}

/// What the control block starts with once the firmware has initialised it.
pub const RTT_ID: &[u8; 16] = b"SEGGER RTT\0\0\0\0\0\0";
const HEADER_BYTES: u32 = 24;
const DESCRIPTOR_BYTES: u32 = 24;
/// The mode bits of a channel's flags: what the firmware does with a write to a full up channel.
const MODE_MASK: u32 = 3;
/// The mode in which the firmware waits for room (SEGGER's `BlockIfFull`; 0 skips what does
/// not fit, 1 trims it).
pub const MODE_BLOCK_IF_FULL: u32 = 2;
/// A firmware with more channels than this is taken for garbage.
const MAX_CHANNELS: u32 = 16;
const MAX_NAME_BYTES: usize = 32;
/// A channel buffer larger than this is taken for garbage (a wild pointer's write over the
/// control block), not allocated for: RTT buffers live in a microcontroller's RAM, a few KiB to
/// a few hundred, and even parts with external RAM have a few MiB to spare at most.
const MAX_CHANNEL_BYTES: u32 = 16 << 20;
/// The most one drain takes from one channel: what waits beyond it stays for the next drain
/// (the firmware gets its space back as it is read), so one drain's memory stays bounded
/// whatever the channels' sizes.
pub const MAX_DRAIN_BYTES: u32 = 1 << 20;

/// One channel as the control block describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    /// Address of the channel's descriptor in the control block.
    descriptor: u32,
    buffer: u32,
    size: u32,
}

/// A located, initialised control block.
#[derive(Debug, Clone)]
pub struct ControlBlock {
    pub up: Vec<Channel>,
    pub down: Vec<Channel>,
    /// The descriptor area: all up then all down descriptors.
    descriptors: u32,
    /// Each up channel's read offset as the last drain left it (the host's to move): one that
    /// is found otherwise was set by the firmware, which does so only as it sets its RTT up.
    read_left: Vec<Option<u32>>,
    /// The up channel left to the firmware ([`ControlBlock::hold`]): a flight recorder's trace
    /// channel, whose read offset the firmware moves itself, read once at the end.
    held: Option<usize>,
}

/// What an up channel held when it was looked at ([`ControlBlock::peek`]), not taken from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peek {
    /// The bytes from the read offset to the write offset.
    pub bytes: Vec<u8>,
    /// The write offset they end at: what [`ControlBlock::release`] moves the read offset to.
    pub write: u32,
}

/// How many times [`ControlBlock::peek`] looks again at a channel whose read offset moved while
/// it was being read (a firmware making room as it writes), before it gives up.
const PEEK_TRIES: usize = 8;

impl Channel {
    /// Refuses a buffer that no firmware can have: one that runs past the end of the 32-bit
    /// address space, or larger than [`MAX_CHANNEL_BYTES`]. Every address the host computes from
    /// the buffer and its offsets then stays in range, and no read is sized by garbage.
    fn check(&self, kind: &str, index: usize) -> Result<()> {
        let (buffer, size) = (self.buffer, self.size);
        if size > MAX_CHANNEL_BYTES || !fits(buffer, size) {
            bail!(
                "RTT {kind} channel {index} ({:?}) claims a buffer of {size} bytes at {buffer:#x}: \
                 {}; the control block at its descriptor ({:#x}) looks overwritten",
                self.name,
                if size > MAX_CHANNEL_BYTES {
                    format!("more than the {MAX_CHANNEL_BYTES} bytes any firmware's RTT has")
                } else {
                    "past the end of the address space".to_owned()
                },
                self.descriptor
            );
        }
        Ok(())
    }

    /// The write and read offsets of the descriptor's fields as read now (buffer, size, write,
    /// read), refusing a descriptor that no longer says what it said at attach or offsets
    /// outside the buffer. The buffer used is the one found then: a firmware whose descriptor
    /// now names another writes elsewhere (or its control block was overwritten), and what the
    /// old buffer holds is not its data.
    fn offsets(
        &self,
        kind: &str,
        index: usize,
        [buffer, size, write, read]: [u32; 4],
    ) -> Result<(u32, u32)> {
        if (buffer, size, write, read) == (0, 0, 0, 0) {
            bail!(
                "RTT {kind} channel {index} ({:?}): its descriptor at {:#x} is now zeroed, not the {} bytes at {:#x} found at attach: the firmware restarted (a reset: its start-up clears RAM) or its control block was overwritten",
                self.name,
                self.descriptor,
                self.size,
                self.buffer
            );
        }
        if (buffer, size) != (self.buffer, self.size) {
            bail!(
                "RTT {kind} channel {index} ({:?}): its descriptor at {:#x} now says a buffer of {size} bytes at {buffer:#x}, not the {} bytes at {:#x} found at attach: the firmware restarted (a reset) or its control block was overwritten",
                self.name,
                self.descriptor,
                self.size,
                self.buffer
            );
        }
        if write >= self.size || read >= self.size {
            bail!(
                "RTT {kind} channel {index} ({:?}) has offsets write={write} read={read} beyond its size {}",
                self.name,
                self.size
            );
        }
        Ok((write, read))
    }

    /// The write and read offsets as the descriptor says now, read alone (a drain reads all
    /// descriptors at once) and checked by [`Channel::offsets`].
    fn live_offsets(&self, mem: &mut impl Memory, kind: &str, index: usize) -> Result<(u32, u32)> {
        // Buffer, size, write and read offsets.
        let mut fields = [0u8; 16];
        mem.read(self.descriptor + 4, &mut fields)?;
        let word = |k: usize| u32::from_le_bytes(fields[4 * k..4 * k + 4].try_into().expect("4"));
        self.offsets(kind, index, [word(0), word(1), word(2), word(3)])
    }

    /// What an access to `len` bytes of the buffer from `offset` was, for its error: the memory
    /// access's own ("gdb stub answered ... with error E14") names no channel.
    fn access(&self, verb: &str, kind: &str, index: usize, offset: u32, len: usize) -> String {
        format!(
            "{verb} RTT {kind} channel {index} ({:?}): {len} bytes at {:#x} (its buffer of {} bytes at {:#x}, offset {offset})",
            self.name,
            self.buffer + offset,
            self.size,
            self.buffer
        )
    }

    /// The same for the write of the host's offset (`which`, at `field` in the descriptor).
    fn offset_access(&self, kind: &str, index: usize, which: &str, field: u32) -> String {
        format!(
            "writing RTT {kind} channel {index} ({:?})'s {which} offset into its descriptor at {:#x}",
            self.name,
            self.descriptor + field
        )
    }
}

impl ControlBlock {
    /// Reads the control block at `address`; `Ok(None)` while the firmware has not written its
    /// identifier yet.
    pub fn read(mem: &mut impl Memory, address: u32) -> Result<Option<Self>> {
        let mut header = [0u8; HEADER_BYTES as usize];
        mem.read(address, &mut header)?;
        if &header[..16] != RTT_ID {
            return Ok(None);
        }
        let ups = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
        let downs = u32::from_le_bytes(header[20..24].try_into().expect("4 bytes"));
        if ups > MAX_CHANNELS || downs > MAX_CHANNELS {
            bail!("RTT control block at {address:#x} claims {ups} up and {downs} down channels");
        }
        let area = (ups + downs) * DESCRIPTOR_BYTES;
        let descriptors = address.wrapping_add(HEADER_BYTES);
        if !fits(address, HEADER_BYTES + area) {
            bail!("RTT control block at {address:#x} with {ups} up and {downs} down channels runs past the end of the address space");
        }
        let mut raw = vec![0u8; area as usize];
        mem.read(descriptors, &mut raw)?;
        let mut channels = Vec::new();
        for (i, d) in raw.chunks(DESCRIPTOR_BYTES as usize).enumerate() {
            let word = |k: usize| u32::from_le_bytes(d[4 * k..4 * k + 4].try_into().expect("4"));
            let name_ptr = word(0);
            let name = if name_ptr == 0 {
                String::new()
            } else {
                let mut bytes = [0u8; MAX_NAME_BYTES];
                mem.read(name_ptr, &mut bytes)
                    .with_context(|| format!("reading RTT channel name at {name_ptr:#x}"))?;
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(MAX_NAME_BYTES);
                String::from_utf8_lossy(&bytes[..end]).into_owned()
            };
            let channel = Channel {
                name,
                descriptor: descriptors + i as u32 * DESCRIPTOR_BYTES,
                buffer: word(1),
                size: word(2),
            };
            let (kind, index) = match i.checked_sub(ups as usize) {
                None => ("up", i),
                Some(down) => ("down", down),
            };
            channel.check(kind, index)?;
            channels.push(channel);
        }
        let down = channels.split_off(ups as usize);
        Ok(Some(ControlBlock {
            read_left: vec![None; channels.len()],
            held: None,
            up: channels,
            down,
            descriptors,
        }))
    }

    /// Finds the control block by its identifier in a RAM range (when the ELF has no symbol).
    pub fn scan(mem: &mut impl Memory, start: u32, len: u32) -> Result<Option<u32>> {
        const CHUNK: u32 = 4096;
        let mut buf = vec![0u8; (CHUNK + 16) as usize];
        // In 64 bits: a RAM range may end at the very top of the address space.
        let end = u64::from(start) + u64::from(len);
        let mut at = u64::from(start);
        while at < end {
            let n = (u64::from(CHUNK) + 16).min(end - at) as usize;
            mem.read(at as u32, &mut buf[..n])?;
            // The identifier is word-aligned in every implementation.
            for off in (0..n.saturating_sub(15)).step_by(4) {
                if &buf[off..off + 16] == RTT_ID {
                    return Ok(Some(at as u32 + off as u32));
                }
            }
            at += u64::from(CHUNK);
        }
        Ok(None)
    }

    /// The up channels' names, in order (`None` for a channel without one).
    pub fn up_names(&self) -> Vec<Option<&str>> {
        names(&self.up)
    }

    /// The down channels' names, in order (`None` for a channel without one).
    pub fn down_names(&self) -> Vec<Option<&str>> {
        names(&self.down)
    }

    /// Moves the waiting bytes of every up channel (up to [`MAX_DRAIN_BYTES`] a channel) into
    /// `out[channel]` and hands the space back to the firmware. Returns the number of bytes
    /// moved. On an error, `out` holds the bytes taken before it, and only those.
    ///
    /// Every channel's descriptor is checked before any is read: a bad one (a wild write over
    /// it) is an error with nothing taken, where taking the channels before it would hand their
    /// bytes back to the firmware as read and then drop them with the error. So is a read offset
    /// other than the last drain left: the firmware set its RTT up again (it restarted), and the
    /// bytes from there on are a new session's, not the next ones of this one.
    pub fn drain(&mut self, mem: &mut impl Memory, out: &mut [Vec<u8>]) -> Result<usize> {
        let mut raw = vec![0u8; self.up.len() * DESCRIPTOR_BYTES as usize];
        mem.read(self.descriptors, &mut raw)?;
        let offsets = self
            .up
            .iter()
            .enumerate()
            .map(|(i, channel)| {
                let d = &raw[i * DESCRIPTOR_BYTES as usize..];
                let word =
                    |k: usize| u32::from_le_bytes(d[4 * k..4 * k + 4].try_into().expect("4"));
                // A channel without a buffer at attach is one the firmware left unused (SEGGER's
                // RTT has a fixed number of descriptors, zeroed until configured; rtt-target can
                // leave one for C code to set up later): no protocol channel, so never read,
                // whatever it says later.
                if channel.size == 0 || self.held == Some(i) {
                    return Ok((0, 0));
                }
                let (write, read) =
                    channel.offsets("up", i, [word(1), word(2), word(3), word(4)])?;
                match self.read_left[i] {
                    Some(left) if left != read => bail!(
                        "RTT up channel {i} ({:?}): its read offset is {read}, where this host left it at {left}: the firmware restarted (a reset, or its RTT set up again) or another host reads the channel; what it writes from there on is not this recording's",
                        channel.name
                    ),
                    _ => Ok((write, read)),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let mut moved = 0;
        for (i, (channel, (write, read))) in self.up.iter().zip(offsets).enumerate() {
            self.read_left[i] = Some(read);
            if write == read {
                continue;
            }
            // The waiting bytes from `read` on: to the end of the buffer if they wrap.
            let contiguous = if write > read { write } else { channel.size } - read;
            let waiting = if write > read {
                contiguous
            } else {
                contiguous + write
            };
            let take = waiting.min(MAX_DRAIN_BYTES);
            let first = take.min(contiguous);
            let sink = &mut out[i];
            let start = sink.len();
            sink.resize(start + take as usize, 0);
            let (head, wrapped) = sink[start..].split_at_mut(first as usize);
            // `check` made the buffer fit the address space, and `read < size`.
            let copied = mem
                .read(channel.buffer + read, head)
                .with_context(|| channel.access("reading", "up", i, read, head.len()))
                .and_then(|()| match wrapped.is_empty() {
                    true => Ok(()),
                    false => mem
                        .read(channel.buffer, wrapped)
                        .with_context(|| channel.access("reading", "up", i, 0, wrapped.len())),
                });
            if let Err(error) = copied {
                // Nothing of this channel taken: `out` holds what the drain took before (the
                // other channels' bytes, handed back), which the caller keeps, and not the
                // zeros made room with.
                sink.truncate(start);
                return Err(error);
            }
            moved += take as usize;
            let new_read = (read + take) % channel.size;
            mem.write(channel.descriptor + 16, &new_read.to_le_bytes())
                .with_context(|| channel.offset_access("up", i, "read", 16))?;
            self.read_left[i] = Some(new_read);
        }
        Ok(moved)
    }

    /// Leaves up channel `index` to the firmware (`None`: none): drains neither read it nor look
    /// at its offsets from then on (a flight recorder's trace channel, whose read offset the
    /// firmware moves itself as it overwrites its oldest data); [`ControlBlock::peek`] and
    /// [`ControlBlock::release`] read it once, at the end.
    pub fn hold(&mut self, index: Option<usize>) {
        self.held = index;
    }

    /// The up channel left to the firmware, if one is ([`ControlBlock::hold`]).
    pub fn held(&self) -> Option<usize> {
        self.held
    }

    /// The bytes waiting in up channel `index` now, without taking them. A firmware that runs
    /// meanwhile (a probe reads while the core runs) may move the read offset as it makes room:
    /// the bytes are kept only if the read offset is the same after they were read as before,
    /// since the firmware overwrites only what it has moved the read offset past.
    pub fn peek(&self, mem: &mut impl Memory, index: usize) -> Result<Peek> {
        let Some(channel) = self.up.get(index) else {
            bail!("RTT has no up channel {index}");
        };
        for _ in 0..PEEK_TRIES {
            let (write, read) = channel.live_offsets(mem, "up", index)?;
            let mut bytes = vec![0; ((write + channel.size - read) % channel.size) as usize];
            let first = bytes.len().min((channel.size - read) as usize);
            let (head, wrapped) = bytes.split_at_mut(first);
            mem.read(channel.buffer + read, head)
                .with_context(|| channel.access("reading", "up", index, read, head.len()))?;
            if !wrapped.is_empty() {
                mem.read(channel.buffer, wrapped)
                    .with_context(|| channel.access("reading", "up", index, 0, wrapped.len()))?;
            }
            if channel.live_offsets(mem, "up", index)?.1 == read {
                return Ok(Peek { bytes, write });
            }
        }
        bail!(
            "RTT up channel {index} ({:?}): its read offset moved each of the {PEEK_TRIES} times it was read: the firmware overwrites it faster than the host reads it",
            channel.name
        )
    }

    /// Hands the bytes of a [`Peek`] of up channel `index` back to the firmware: its read offset
    /// moves to where they ended, as a drain leaves it (a firmware waiting for the host to have
    /// read its trace may then end).
    pub fn release(&self, mem: &mut impl Memory, index: usize, peek: &Peek) -> Result<()> {
        let Some(channel) = self.up.get(index) else {
            bail!("RTT has no up channel {index}");
        };
        mem.write(channel.descriptor + 16, &peek.write.to_le_bytes())
            .with_context(|| channel.offset_access("up", index, "read", 16))
    }

    /// Sets what the firmware does with a write to up channel `index` when it is full (its
    /// flags' mode bits, the others kept), and returns the mode it had: a host makes a channel
    /// that the firmware writes without waiting while nobody may be reading (its logs) wait for
    /// room while it reads, and hands it back as it found it.
    pub fn set_mode(&self, mem: &mut impl Memory, index: usize, mode: u32) -> Result<u32> {
        let Some(channel) = self.up.get(index) else {
            bail!("RTT has no up channel {index}");
        };
        let at = channel.descriptor + 20;
        let mut flags = [0u8; 4];
        mem.read(at, &mut flags)?;
        let flags = u32::from_le_bytes(flags);
        mem.write(at, &(flags & !MODE_MASK | mode & MODE_MASK).to_le_bytes())?;
        Ok(flags & MODE_MASK)
    }

    /// Down channel `index` and its write and read offsets as read now.
    fn down_offsets(&self, mem: &mut impl Memory, index: usize) -> Result<(&Channel, u32, u32)> {
        let Some(channel) = self.down.get(index) else {
            bail!("RTT has no down channel {index}");
        };
        let (write, read) = channel.live_offsets(mem, "down", index)?;
        Ok((channel, write, read))
    }

    /// Bytes written into down channel `index` that the firmware has not read yet.
    pub fn unread(&self, mem: &mut impl Memory, index: usize) -> Result<u32> {
        let (channel, write, read) = self.down_offsets(mem, index)?;
        Ok((write + channel.size - read) % channel.size)
    }

    /// Writes `data` (a frame) into down channel `index` if all of it fits, else nothing: a frame
    /// cut short would run into the next one the firmware reads and spoil both. Returns how many
    /// bytes it wrote.
    pub fn send(&self, mem: &mut impl Memory, index: usize, data: &[u8]) -> Result<usize> {
        // A frame that even an empty channel cannot hold (one declared smaller than the
        // commands) is refused as such: taken as a channel full for now, it was reported as a
        // firmware that does not read its commands.
        if let Some(channel) = self.down.get(index) {
            if data.len() >= channel.size as usize {
                bail!(
                    "RTT down channel {index} ({:?}) holds at most {} bytes, and a frame of {} never fits: give it more room in the firmware's rtt_init! (64 bytes, say)",
                    channel.name,
                    channel.size.saturating_sub(1),
                    data.len()
                );
            }
        }
        let (channel, write, read) = self.down_offsets(mem, index)?;
        // `check` bounded the size, so these sums stay far from overflowing.
        // One byte always stays free so that full and empty differ.
        let free = (read + channel.size - write - 1) % channel.size;
        if data.len() > free as usize {
            return Ok(0);
        }
        let n = data.len();
        let first = n.min((channel.size - write) as usize);
        mem.write(channel.buffer + write, &data[..first])
            .with_context(|| channel.access("writing", "down", index, write, first))?;
        if n > first {
            mem.write(channel.buffer, &data[first..n])
                .with_context(|| channel.access("writing", "down", index, 0, n - first))?;
        }
        let new_write = (write + n as u32) % channel.size;
        mem.write(channel.descriptor + 12, &new_write.to_le_bytes())
            .with_context(|| channel.offset_access("down", index, "write", 12))?;
        Ok(n)
    }
}

/// Whether `len` bytes from `address` lie inside the 32-bit address space (they may end at its
/// very top).
fn fits(address: u32, len: u32) -> bool {
    u64::from(address) + u64::from(len) <= 1 << 32
}

fn names(channels: &[Channel]) -> Vec<Option<&str>> {
    channels
        .iter()
        .map(|c| Some(c.name.as_str()).filter(|n| !n.is_empty()))
        .collect()
}

/// A target's RAM for host tests: control blocks laid out in it as a firmware lays them out.
#[cfg(test)]
pub mod test_ram {
    use super::*;

    /// A flat RAM at [`BASE`] standing in for the target.
    pub struct Ram(pub Vec<u8>);

    pub const BASE: u32 = 0x2000_0000;

    impl Memory for Ram {
        fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()> {
            let at = (addr - BASE) as usize;
            out.copy_from_slice(&self.0[at..at + out.len()]);
            Ok(())
        }
        fn write(&mut self, addr: u32, data: &[u8]) -> Result<()> {
            let at = (addr - BASE) as usize;
            self.0[at..at + data.len()].copy_from_slice(data);
            Ok(())
        }
    }

    impl Ram {
        pub fn put_u32(&mut self, addr: u32, v: u32) {
            self.write(addr, &v.to_le_bytes()).unwrap();
        }
        pub fn get_u32(&mut self, addr: u32) -> u32 {
            let mut b = [0u8; 4];
            self.read(addr, &mut b).unwrap();
            u32::from_le_bytes(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_ram::{Ram, BASE};
    use super::*;

    /// Lays out a control block at +0x100 with one up channel "up" (16 bytes at +0x400) and one
    /// down channel "down" (8 bytes at +0x500), as firmware would.
    fn firmware_ram() -> Ram {
        let mut ram = Ram(vec![0; 0x1000]);
        let cb = BASE + 0x100;
        ram.write(BASE + 0x10, b"up\0").unwrap();
        ram.write(BASE + 0x20, b"down\0").unwrap();
        ram.put_u32(cb + 16, 1);
        ram.put_u32(cb + 20, 1);
        for (d, name, buf, size) in [(cb + 24, 0x10, 0x400, 16), (cb + 48, 0x20, 0x500, 8)] {
            ram.put_u32(d, BASE + name);
            ram.put_u32(d + 4, BASE + buf);
            ram.put_u32(d + 8, size);
        }
        ram.write(cb, RTT_ID).unwrap();
        ram
    }

    /// Has the firmware of [`firmware_ram`] write 6 bytes that wrap in its up channel: `abcd` at
    /// 12..16, then `ef` at 0..2.
    fn write_wrapped(ram: &mut Ram) {
        let descriptor = BASE + 0x100 + 24;
        ram.write(BASE + 0x400 + 12, b"abcd").unwrap();
        ram.write(BASE + 0x400, b"ef").unwrap();
        ram.put_u32(descriptor + 16, 12);
        ram.put_u32(descriptor + 12, 2);
    }

    #[test]
    fn finds_the_block_and_drains_a_wrapped_up_channel() {
        let mut ram = firmware_ram();
        let addr = ControlBlock::scan(&mut ram, BASE, 0x1000).unwrap().unwrap();
        assert_eq!(addr, BASE + 0x100);
        let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        assert_eq!(cb.up_names(), [Some("up")]);
        assert_eq!(cb.down_names(), [Some("down")]);
        write_wrapped(&mut ram);
        let mut out = vec![Vec::new()];
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 6);
        assert_eq!(out[0], b"abcdef");
        assert_eq!(ram.get_u32(addr + 24 + 16), 2, "read offset handed back");
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 0);
    }

    #[test]
    fn a_read_offset_the_host_did_not_leave_is_a_restarted_rtt_not_data() {
        // A firmware that restarts (a reset, its RTT set up again) sets the read offset back to
        // 0 and writes a new trace from there: the drain took the new bytes as the old trace's
        // next ones, and the recording met them as "unexpected byte 0x67 between batches (a
        // batch that came in part...)", the restart unsaid.
        let mut ram = firmware_ram();
        let addr = BASE + 0x100;
        let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        ram.write(BASE + 0x400, b"abcdef").unwrap();
        ram.put_u32(addr + 24 + 12, 6);
        let mut out = vec![Vec::new()];
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 6);
        // Set up again: both offsets at 0, then 3 new bytes.
        ram.put_u32(addr + 24 + 16, 0);
        ram.write(BASE + 0x400, b"go ").unwrap();
        ram.put_u32(addr + 24 + 12, 3);
        let error = format!("{:#}", cb.drain(&mut ram, &mut out).unwrap_err());
        assert!(
            error.contains(
                "RTT up channel 0 (\"up\"): its read offset is 0, where this host left it at 6"
            ),
            "{error}"
        );
        assert!(error.contains("restarted"), "{error}");
        assert_eq!(out[0], b"abcdef", "nothing more taken");
        assert_eq!(ram.get_u32(addr + 24 + 16), 0, "nothing handed back");
    }

    #[test]
    fn a_descriptor_zeroed_since_attach_is_said_to_be_a_restart_maybe() {
        // A reset under the recording: the firmware's start-up clears its RAM, the control block
        // with it, before it sets RTT up again. It was said to "look overwritten", as by a wild
        // write, where a user's board had reset.
        let mut ram = firmware_ram();
        let addr = BASE + 0x100;
        let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        ram.0[0x100..0x100 + 72].fill(0);
        let error = format!("{:#}", cb.drain(&mut ram, &mut [Vec::new()]).unwrap_err());
        assert!(
            error.contains("RTT up channel 0 (\"up\"): its descriptor at 0x20000118 is now zeroed, not the 16 bytes at 0x20000400 found at attach: the firmware restarted (a reset: its start-up clears RAM)"),
            "{error}"
        );
        // Caught half cleared, or half set up again: another buffer, which a restart gives too.
        let mut ram = firmware_ram();
        ram.put_u32(addr + 24 + 4, 0);
        let error = format!("{:#}", cb.drain(&mut ram, &mut [Vec::new()]).unwrap_err());
        assert!(
            error.ends_with("now says a buffer of 16 bytes at 0x0, not the 16 bytes at 0x20000400 found at attach: the firmware restarted (a reset) or its control block was overwritten"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_descriptor_takes_nothing_from_any_channel() {
        // Up channel 0 holds 5 bytes; up channel 1's write offset is then overwritten beyond
        // its size. Channel 0 used to be drained, its read offset handed back, and its bytes
        // dropped with the error (a review helper's test).
        let mut ram = Ram(vec![0; 0x1000]);
        let cb = BASE + 0x100;
        ram.put_u32(cb + 16, 2);
        for (i, buf) in [(0u32, 0x400u32), (1, 0x500)] {
            ram.put_u32(cb + 24 + 24 * i + 4, BASE + buf);
            ram.put_u32(cb + 24 + 24 * i + 8, 16);
        }
        ram.write(cb, RTT_ID).unwrap();
        let mut block = ControlBlock::read(&mut ram, cb).unwrap().unwrap();
        ram.write(BASE + 0x400, b"trace").unwrap();
        ram.put_u32(cb + 24 + 12, 5);
        ram.put_u32(cb + 48 + 12, 99);
        let mut out = vec![Vec::new(), Vec::new()];
        let error = block.drain(&mut ram, &mut out).unwrap_err().to_string();
        assert!(error.contains("up channel 1"), "{error}");
        assert_eq!(
            ram.get_u32(cb + 24 + 16),
            0,
            "channel 0's bytes left unread"
        );
        assert!(out.iter().all(Vec::is_empty));
        // Mended, the next drain takes them.
        ram.put_u32(cb + 48 + 12, 0);
        assert_eq!(block.drain(&mut ram, &mut out).unwrap(), 5);
        assert_eq!(out[0], b"trace");
    }

    /// The down channel's descriptor in [`firmware_ram`].
    const DOWN: u32 = BASE + 0x100 + 48;

    /// [`firmware_ram`] read as a control block, its down channel's write and read offsets set.
    fn with_down_offsets(write: u32, read: u32) -> (Ram, ControlBlock) {
        let mut ram = firmware_ram();
        let cb = ControlBlock::read(&mut ram, BASE + 0x100).unwrap().unwrap();
        ram.put_u32(DOWN + 12, write);
        ram.put_u32(DOWN + 16, read);
        (ram, cb)
    }

    #[test]
    fn a_down_channel_takes_a_frame_whole_or_not_at_all_and_wraps() {
        // 2 bytes free of the 7 it holds.
        let (mut ram, cb) = with_down_offsets(3, 6);
        assert_eq!(cb.send(&mut ram, 0, b"012").unwrap(), 0, "2 bytes free");
        assert_eq!(ram.get_u32(DOWN + 12), 3, "nothing written");
        ram.put_u32(DOWN + 12, 6);
        assert_eq!(cb.send(&mut ram, 0, b"0123456").unwrap(), 7);
        assert_eq!(ram.get_u32(DOWN + 12), 5);
        let mut buf = [0u8; 8];
        ram.read(BASE + 0x500, &mut buf).unwrap();
        assert_eq!(&buf[6..], b"01");
        assert_eq!(&buf[..5], b"23456");
        // Unread by the firmware: the 7 bytes sent, across the wrap, then none once it reads.
        assert_eq!(cb.unread(&mut ram, 0).unwrap(), 7);
        ram.put_u32(DOWN + 16, 5);
        assert_eq!(cb.unread(&mut ram, 0).unwrap(), 0);
    }

    #[test]
    fn a_frame_whose_part_after_the_wrap_cannot_be_written_is_not_handed_over() {
        // 5 bytes from offset 6 of the 8-byte down channel: 2 at its end, then 3 at its start,
        // which the target refuses. The error names that second write, and the write offset
        // stays where it was, so the firmware reads no part of the frame.
        let (mut ram, cb) = with_down_offsets(6, 6);
        let error = cb.send(&mut FailsAt(&mut ram, BASE + 0x500), 0, b"01234");
        assert_eq!(
            format!("{:#}", error.unwrap_err()),
            "writing RTT down channel 0 (\"down\"): 3 bytes at 0x20000500 (its buffer of 8 bytes at 0x20000500, offset 0): no reply"
        );
        assert_eq!(ram.get_u32(DOWN + 12), 6, "write offset moved");
        assert_eq!(cb.unread(&mut ram, 0).unwrap(), 0);
    }

    #[test]
    fn a_frame_larger_than_a_down_channel_can_hold_is_refused_as_such() {
        // It was taken as a full channel (sent: 0), which `record` reports as "it was full (the
        // firmware has not read the commands before it)": a control channel declared too small
        // for the commands (8 bytes hold 7) sent the user looking for a firmware that does not
        // read them.
        let mut ram = firmware_ram();
        let cb = ControlBlock::read(&mut ram, BASE + 0x100).unwrap().unwrap();
        for frame in [&b"01234567"[..], b"0123456789"] {
            let error = cb.send(&mut ram, 0, frame).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("RTT down channel 0 (\"down\") holds at most 7 bytes, and a frame of {} never fits", frame.len())),
                "{error}"
            );
        }
        assert_eq!(ram.get_u32(BASE + 0x100 + 48 + 12), 0, "nothing written");
        assert_eq!(cb.send(&mut ram, 0, b"0123456").unwrap(), 7);
    }

    #[test]
    fn an_up_channel_mode_is_set_and_handed_back_keeping_its_other_flags() {
        let mut ram = firmware_ram();
        let addr = BASE + 0x100;
        let cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        // NoBlockSkip, with a bit above the mode set.
        ram.put_u32(addr + 24 + 20, 0x100);
        ram.put_u32(addr + 48 + 20, 0x1);
        let before = cb.set_mode(&mut ram, 0, MODE_BLOCK_IF_FULL).unwrap();
        assert_eq!(before, 0);
        assert_eq!(ram.get_u32(addr + 24 + 20), 0x102);
        assert_eq!(
            ram.get_u32(addr + 48 + 20),
            0x1,
            "the down channel untouched"
        );
        assert_eq!(
            cb.set_mode(&mut ram, 0, before).unwrap(),
            MODE_BLOCK_IF_FULL
        );
        assert_eq!(ram.get_u32(addr + 24 + 20), 0x100, "handed back as found");
        // NoBlockTrim becomes BlockIfFull too, and is told.
        ram.put_u32(addr + 24 + 20, 0x1);
        assert_eq!(cb.set_mode(&mut ram, 0, MODE_BLOCK_IF_FULL).unwrap(), 1);
        assert_eq!(ram.get_u32(addr + 24 + 20), 0x2);
        assert!(cb.set_mode(&mut ram, 1, MODE_BLOCK_IF_FULL).is_err());
    }

    /// The block with its down channel's descriptor taken for a second up channel that the
    /// firmware left unused: zeroed.
    fn with_unused_up_channel(ram: &mut Ram) {
        let cb = BASE + 0x100;
        ram.put_u32(cb + 16, 2);
        ram.put_u32(cb + 20, 0);
        ram.write(cb + 48, &[0; 24]).unwrap();
    }

    #[test]
    fn a_channel_buffer_no_firmware_can_have_is_refused_naming_the_channel() {
        let addr = BASE + 0x100;
        for (channel, buffer, size, why) in [
            (0, BASE + 0x400, 0xffff_fff0, "more than the 16777216 bytes"),
            (
                0,
                BASE + 0x400,
                (16 << 20) + 1,
                "more than the 16777216 bytes",
            ),
            (1, 0xffff_ff01, 0x100, "past the end of the address space"),
            (
                1,
                0xffff_0000,
                0x1_0001,
                "past the end of the address space",
            ),
        ] {
            let mut ram = firmware_ram();
            let d = addr + 24 + 24 * channel;
            ram.put_u32(d + 4, buffer);
            ram.put_u32(d + 8, size);
            let error = ControlBlock::read(&mut ram, addr).unwrap_err().to_string();
            let kind = ["up channel 0 (\"up\")", "down channel 0 (\"down\")"][channel as usize];
            let claim = format!("RTT {kind} claims a buffer of {size} bytes at {buffer:#x}: {why}");
            assert!(error.starts_with(&claim), "{error}");
        }
        // The largest buffer there can be, ending at the top of the address space: taken.
        let mut ram = firmware_ram();
        ram.put_u32(addr + 24 + 4, 0xff00_0000);
        ram.put_u32(addr + 24 + 8, 16 << 20);
        assert!(ControlBlock::read(&mut ram, addr).is_ok());
    }

    #[test]
    fn a_descriptor_overwritten_after_attach_is_refused_and_its_buffer_not_read() {
        let mut ram = firmware_ram();
        let addr = BASE + 0x100;
        let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        // A wild write over the up channel's buffer pointer, with offsets that look sane.
        ram.put_u32(addr + 24 + 4, BASE + 0x800);
        ram.put_u32(addr + 24 + 12, 3);
        let mut out = vec![Vec::new()];
        let error = cb.drain(&mut ram, &mut out).unwrap_err().to_string();
        assert!(
            error.starts_with("RTT up channel 0 (\"up\"): its descriptor at 0x20000118 now says a buffer of 16 bytes at 0x20000800, not the 16 bytes at 0x20000400 found at attach"),
            "{error}"
        );
        assert!(out[0].is_empty());
        ram.put_u32(addr + 48 + 4, 0);
        let error = cb.send(&mut ram, 0, b"x").unwrap_err().to_string();
        assert!(
            error.starts_with("RTT down channel 0 (\"down\"): its descriptor at 0x20000130 now says a buffer of 8 bytes at 0x0"),
            "{error}"
        );
    }

    #[test]
    fn a_channel_that_cannot_be_read_or_written_is_named() {
        // A buffer (or descriptor) in memory the target does not answer for: the error was the
        // memory access's alone ("gdb stub answered \"m20002000,3\" with error E14"), naming
        // no channel.
        let mut ram = firmware_ram();
        let addr = BASE + 0x100;
        ram.put_u32(addr + 24 + 4, BASE + 0x2000);
        ram.put_u32(addr + 48 + 4, BASE + 0x3000);
        let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        ram.put_u32(addr + 24 + 12, 3);
        let mut out = vec![Vec::new()];
        let error = cb.drain(&mut Watched(&mut ram, Vec::new()), &mut out);
        let error = format!("{:#}", error.unwrap_err());
        assert!(
            error.starts_with("reading RTT up channel 0 (\"up\"): 3 bytes at 0x20002000 (its buffer of 16 bytes at 0x20002000, offset 0): ")
                && error.ends_with("past the RAM"),
            "{error}"
        );
        let error = cb.send(&mut Watched(&mut ram, Vec::new()), 0, b"x");
        let error = format!("{:#}", error.unwrap_err());
        assert!(
            error.starts_with("writing RTT down channel 0 (\"down\"): 1 bytes at 0x20003000 (its buffer of 8 bytes at 0x20003000, offset 0): ")
                && error.ends_with("past the RAM"),
            "{error}"
        );
        // The gdb client's errors are still told apart under the context (a QEMU that ended).
        let closed = anyhow::Error::from(crate::record::gdb::GdbError::Closed).context("reading");
        assert!(closed
            .downcast_ref::<crate::record::gdb::GdbError>()
            .is_some());
    }

    /// A scan finds the identifier wherever it is in the range, across the boundaries of the
    /// chunks it reads (4 KiB and the 16 bytes an identifier starting at the chunk's end takes).
    #[test]
    fn a_scan_finds_the_block_anywhere_in_its_range_reading_it_in_chunks() {
        let len = 0x3000;
        for at in [0, 4080, 4084, 4092, 4096, 8188, len - 16] {
            let mut ram = Ram(vec![0; len as usize]);
            ram.write(BASE + at, RTT_ID).unwrap();
            let mut watched = Watched(&mut ram, Vec::new());
            let found = ControlBlock::scan(&mut watched, BASE, len).unwrap();
            assert_eq!(found, Some(BASE + at));
            assert!(
                watched.1.iter().all(|&(_, n)| n <= 4096 + 16),
                "{:?}",
                watched.1
            );
        }
        let mut ram = Ram(vec![0; len as usize]);
        assert_eq!(ControlBlock::scan(&mut ram, BASE, len).unwrap(), None);
    }

    /// A control block of up to 16 up and 16 down channels is a firmware's (SEGGER's default
    /// has 3 each); one more is taken for garbage.
    #[test]
    fn a_control_block_of_sixteen_channels_a_kind_is_read_and_one_more_refused() {
        for (ups, downs, taken) in [(16, 16, true), (17, 0, false), (0, 17, false)] {
            let mut ram = Ram(vec![0; 0x1000]);
            ram.write(BASE, RTT_ID).unwrap();
            ram.put_u32(BASE + 16, ups);
            ram.put_u32(BASE + 20, downs);
            match ControlBlock::read(&mut ram, BASE) {
                Ok(Some(cb)) => {
                    assert!(taken, "{ups} up and {downs} down channels read");
                    assert_eq!((cb.up.len(), cb.down.len()), (16, 16));
                }
                Ok(None) => panic!("no control block found"),
                Err(error) => {
                    assert!(
                        !taken,
                        "{ups} up and {downs} down channels refused: {error}"
                    );
                    assert_eq!(
                        error.to_string(),
                        format!(
                            "RTT control block at 0x20000000 claims {ups} up and {downs} down \
                             channels"
                        )
                    );
                }
            }
        }
    }

    /// The target's memory with its channel descriptors refusing writes (a stub that answers
    /// a write there with an error): the host's offsets cannot be written back.
    struct DescriptorsReadOnly<'a>(&'a mut Ram);

    impl Memory for DescriptorsReadOnly<'_> {
        fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()> {
            self.0.read(addr, out)
        }
        fn write(&mut self, addr: u32, data: &[u8]) -> Result<()> {
            let descriptors = BASE + 0x100 + 24..BASE + 0x100 + 72;
            match descriptors.contains(&addr) {
                true => bail!("{} bytes at {addr:#x}: read-only", data.len()),
                false => self.0.write(addr, data),
            }
        }
    }

    #[test]
    fn an_offset_that_cannot_be_written_back_is_named_with_its_channel() {
        let mut ram = firmware_ram();
        let mut cb = ControlBlock::read(&mut ram, BASE + 0x100).unwrap().unwrap();
        write_wrapped(&mut ram);
        let mut out = vec![Vec::new()];
        let error = cb.drain(&mut DescriptorsReadOnly(&mut ram), &mut out);
        assert_eq!(
            format!("{:#}", error.unwrap_err()),
            "writing RTT up channel 0 (\"up\")'s read offset into its descriptor at 0x20000128: \
             4 bytes at 0x20000128: read-only"
        );
        let peek = cb.peek(&mut ram, 0).unwrap();
        let error = cb.release(&mut DescriptorsReadOnly(&mut ram), 0, &peek);
        assert_eq!(
            format!("{:#}", error.unwrap_err()),
            "writing RTT up channel 0 (\"up\")'s read offset into its descriptor at 0x20000128: \
             4 bytes at 0x20000128: read-only"
        );
        let error = cb.send(&mut DescriptorsReadOnly(&mut ram), 0, b"x");
        assert_eq!(
            format!("{:#}", error.unwrap_err()),
            "writing RTT down channel 0 (\"down\")'s write offset into its descriptor at \
             0x2000013c: 4 bytes at 0x2000013c: read-only"
        );
    }

    #[test]
    fn an_unused_up_channel_is_skipped() {
        let mut ram = firmware_ram();
        with_unused_up_channel(&mut ram);
        let addr = BASE + 0x100;
        let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        assert_eq!(cb.up_names(), [Some("up"), None]);
        ram.write(BASE + 0x400, b"abc").unwrap();
        ram.put_u32(addr + 24 + 12, 3);
        let mut out = vec![Vec::new(), Vec::new()];
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 3);
        assert_eq!(out, [b"abc".to_vec(), Vec::new()]);
        // Set up after attach (by C code, say): still not ours to read.
        ram.put_u32(addr + 48 + 4, BASE + 0x600);
        ram.put_u32(addr + 48 + 8, 16);
        ram.put_u32(addr + 48 + 12, 4);
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 0);
    }

    #[test]
    fn a_held_channel_is_not_drained_its_read_offset_the_firmwares_and_a_peek_takes_nothing() {
        let mut ram = firmware_ram();
        let addr = BASE + 0x100;
        let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        cb.hold(Some(0));
        // The firmware wrote 6 bytes that wrap, and moved the read offset itself (a flight
        // recorder making room): no drain takes them, nor calls it a restart.
        write_wrapped(&mut ram);
        let mut out = vec![Vec::new()];
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 0);
        ram.put_u32(addr + 24 + 16, 13);
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 0, "no restart said");
        assert!(out[0].is_empty());
        let peek = cb.peek(&mut ram, 0).unwrap();
        assert_eq!(
            peek,
            Peek {
                bytes: b"bcdef".to_vec(),
                write: 2
            }
        );
        assert_eq!(ram.get_u32(addr + 24 + 16), 13, "nothing taken");
        cb.release(&mut ram, 0, &peek).unwrap();
        assert_eq!(ram.get_u32(addr + 24 + 16), 2, "handed back where it ended");
    }

    /// `Ram` whose up channel 0's read offset (its buffer: 16 bytes at +0x400) the firmware
    /// moves by one at each of the first `.1` reads of its buffer, as a flight recorder making
    /// room while a probe reads.
    struct MakesRoomWhileRead<'a>(&'a mut Ram, usize);

    impl Memory for MakesRoomWhileRead<'_> {
        fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()> {
            self.0.read(addr, out)?;
            if (BASE + 0x400..BASE + 0x410).contains(&addr) && self.1 > 0 {
                self.1 -= 1;
                let read = self.0.get_u32(BASE + 0x100 + 24 + 16);
                self.0.put_u32(BASE + 0x100 + 24 + 16, read + 1);
            }
            Ok(())
        }
        fn write(&mut self, addr: u32, data: &[u8]) -> Result<()> {
            self.0.write(addr, data)
        }
    }

    #[test]
    fn a_peek_keeps_only_bytes_read_while_the_read_offset_stood_still() {
        let mut ram = firmware_ram();
        let addr = BASE + 0x100;
        let cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        ram.write(BASE + 0x400, b"abcdefgh").unwrap();
        ram.put_u32(addr + 24 + 12, 8);
        let peek = cb.peek(&mut MakesRoomWhileRead(&mut ram, 2), 0).unwrap();
        assert_eq!(peek.bytes, b"cdefgh", "read again after each move");
        let error = cb
            .peek(&mut MakesRoomWhileRead(&mut ram, PEEK_TRIES), 0)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("its read offset moved each of the 8 times it was read"),
            "{error}"
        );
    }

    /// `Ram` whose reads and writes that start at `.1` fail (a memory access the stub or probe
    /// refuses).
    struct FailsAt<'a>(&'a mut Ram, u32);

    impl Memory for FailsAt<'_> {
        fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()> {
            if addr == self.1 {
                bail!("no reply");
            }
            self.0.read(addr, out)
        }
        fn write(&mut self, addr: u32, data: &[u8]) -> Result<()> {
            if addr == self.1 {
                bail!("no reply");
            }
            self.0.write(addr, data)
        }
    }

    #[test]
    fn a_drain_that_fails_leaves_out_exactly_what_it_took() {
        // Up channel 0 (16 bytes at +0x400) drained and handed back, then up channel 1's
        // buffer (8 bytes at +0x500) fails to be read: all of it, or only its part after the
        // wrap. Its bytes were left in `out` as zeros, which the recording, keeping what a
        // failed poll took, would have taken for trace data.
        let addr = BASE + 0x100;
        for (read, write) in [(0, 3), (6, 2)] {
            let mut ram = firmware_ram();
            ram.put_u32(addr + 16, 2);
            ram.put_u32(addr + 20, 0);
            let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
            ram.write(BASE + 0x400, b"abc").unwrap();
            ram.put_u32(addr + 24 + 12, 3);
            ram.write(BASE + 0x500, b"xyzuvwst").unwrap();
            ram.put_u32(addr + 48 + 12, write);
            ram.put_u32(addr + 48 + 16, read);
            let mut out = vec![Vec::new(), Vec::new()];
            let failing = &mut FailsAt(&mut ram, BASE + 0x500);
            let error = format!("{:#}", cb.drain(failing, &mut out).unwrap_err());
            assert!(error.contains("reading RTT up channel 1"), "{error}");
            assert_eq!(out, [b"abc".to_vec(), Vec::new()], "read from {read}");
            assert_eq!(ram.get_u32(addr + 24 + 16), 3, "channel 0 handed back");
            assert_eq!(ram.get_u32(addr + 48 + 16), read, "channel 1 not");
            // The next drain takes channel 1's bytes from where they were.
            let mut out = vec![Vec::new(), Vec::new()];
            cb.drain(&mut ram, &mut out).unwrap();
            let waiting = [
                &b"xyzuvwst"[read as usize..],
                &b"xyzuvwst"[..write as usize],
            ];
            let waiting = if read < write {
                b"xyz".to_vec()
            } else {
                waiting.concat()
            };
            assert_eq!(out, [Vec::new(), waiting]);
        }
    }

    #[test]
    fn one_drain_takes_at_most_a_mebibyte_a_channel_and_leaves_the_rest_waiting() {
        // A 3 MiB channel, wrapped: 2 MiB waiting from offset 2 MiB, then 1 MiB from 0.
        let mib = 1usize << 20;
        let mut ram = Ram(vec![0; 4 * mib]);
        let addr = BASE + 0x100;
        let buffer = BASE + mib as u32;
        ram.put_u32(addr + 16, 1);
        ram.put_u32(addr + 24 + 4, buffer);
        ram.put_u32(addr + 24 + 8, 3 * mib as u32);
        ram.write(addr, RTT_ID).unwrap();
        for (i, byte) in ram.0[mib..4 * mib].iter_mut().enumerate() {
            *byte = (i / mib) as u8;
        }
        ram.put_u32(addr + 24 + 16, 2 * mib as u32 - 5);
        ram.put_u32(addr + 24 + 12, mib as u32);
        let mut cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        let mut out = vec![Vec::new()];
        let mut takes = Vec::new();
        while let n @ 1.. = cb.drain(&mut ram, &mut out).unwrap() {
            takes.push(n);
        }
        assert_eq!(takes, [mib, mib, 5]);
        let expected: Vec<u8> = [(1, 5), (2, mib), (0, mib)]
            .iter()
            .flat_map(|&(b, n)| std::iter::repeat_n(b, n))
            .collect();
        assert!(out[0] == expected, "the bytes in order, across the wrap");
        assert_eq!(ram.get_u32(addr + 24 + 16), mib as u32);
    }

    /// `Ram` as the property tests see it: an access outside it is an error, not a panic (so
    /// that garbage addresses are the code's to handle), and every read is recorded.
    struct Watched<'a>(&'a mut Ram, Vec<(u32, usize)>);

    impl Watched<'_> {
        fn span(&self, addr: u32, len: usize) -> Result<std::ops::Range<usize>> {
            let at = addr.checked_sub(BASE).context("below the RAM")? as usize;
            match at.checked_add(len) {
                Some(end) if end <= self.0 .0.len() => Ok(at..end),
                _ => bail!("{len} bytes at {addr:#x}: past the RAM"),
            }
        }
    }

    impl Memory for Watched<'_> {
        fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<()> {
            self.1.push((addr, out.len()));
            let span = self.span(addr, out.len())?;
            out.copy_from_slice(&self.0 .0[span]);
            Ok(())
        }
        fn write(&mut self, addr: u32, data: &[u8]) -> Result<()> {
            let span = self.span(addr, data.len())?;
            self.0 .0[span].copy_from_slice(data);
            Ok(())
        }
    }

    /// A control block at +0x100 with one up channel of `size` bytes at +0x400, its offsets
    /// both at `start` (the firmware may have written and been read before the host attached).
    fn ring(size: u32, start: u32) -> Ram {
        let mut ram = Ram(vec![0; 0x1000]);
        let cb = BASE + 0x100;
        ram.put_u32(cb + 16, 1);
        ram.put_u32(cb + 24 + 4, BASE + 0x400);
        ram.put_u32(cb + 24 + 8, size);
        ram.put_u32(cb + 24 + 12, start);
        ram.put_u32(cb + 24 + 16, start);
        ram.write(cb, RTT_ID).unwrap();
        ram
    }

    /// The up channel's descriptor words of `ring`: buffer, size, write and read offsets.
    const UP: u32 = BASE + 0x100 + 24;

    /// The firmware's side of `ring`: writes up to `most` random bytes, as many as fit with one
    /// byte free, wrapping, and returns them.
    fn firmware_writes(ram: &mut Ram, rng: &mut gotrace_tests::rng::Rng, most: u32) -> Vec<u8> {
        let (size, mut write, read) = (
            ram.get_u32(UP + 8),
            ram.get_u32(UP + 12),
            ram.get_u32(UP + 16),
        );
        let free = (read + size - write - 1) % size;
        let n = rng.below(free.min(most) as usize + 1);
        let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
        for &b in &bytes {
            ram.write(BASE + 0x400 + write, &[b]).unwrap();
            write = (write + 1) % size;
        }
        ram.put_u32(UP + 12, write);
        bytes
    }

    /// Reads outside the descriptors and the channel's buffer.
    fn stray(reads: &[(u32, usize)], size: u32) -> Vec<(u32, usize)> {
        let inside = |&(addr, len): &(u32, usize), from: u32, bytes: u32| {
            addr >= from && u64::from(addr) + len as u64 <= u64::from(from) + u64::from(bytes)
        };
        reads
            .iter()
            .filter(|r| !inside(r, UP, 24) && !inside(r, BASE + 0x400, size))
            .copied()
            .collect()
    }

    /// The firmware writing and the host draining in any interleaving, whatever the ring's size
    /// and where its offsets start: the drains, run together, are the bytes written, in order;
    /// each hands back the space it took; nothing outside the descriptors and the buffer is read.
    #[test]
    fn drains_at_any_points_give_the_bytes_written_in_order() {
        let mut rng = gotrace_tests::rng::Rng::new(0x277);
        for _ in 0..RING_CASES {
            let size = 2 + rng.below(63) as u32;
            let mut ram = ring(size, rng.below(size as usize) as u32);
            let mut cb = ControlBlock::read(&mut ram, BASE + 0x100).unwrap().unwrap();
            let (mut written, mut out) = (Vec::new(), vec![Vec::new()]);
            let mut reads = Vec::new();
            let mut drain = |ram: &mut Ram, out: &mut Vec<Vec<u8>>| {
                let mut watched = Watched(ram, Vec::new());
                let moved = cb.drain(&mut watched, out).unwrap();
                reads.extend(watched.1);
                moved
            };
            for _ in 0..rng.below(40) {
                if rng.below(2) == 0 {
                    let most = *rng.pick(&[1, 3, size]);
                    written.extend(firmware_writes(&mut ram, &mut rng, most));
                } else {
                    let before = out[0].len();
                    let moved = drain(&mut ram, &mut out);
                    assert_eq!(out[0].len(), before + moved);
                    assert_eq!(out[0], written[..out[0].len()]);
                    assert_eq!(ram.get_u32(UP + 16), ram.get_u32(UP + 12), "all taken");
                }
            }
            while drain(&mut ram, &mut out) > 0 {}
            assert_eq!(out[0], written);
            assert_eq!(stray(&reads, size), []);
        }
    }

    const RING_CASES: usize = 10_000;

    /// A descriptor the firmware (or a wild write) changed after attach: any of its words
    /// overwritten with anything. The drain refuses it exactly when its buffer is not the one
    /// found at attach or an offset is outside it, and then reads nothing from the buffer and
    /// hands nothing back; otherwise it takes the bytes from the read offset to the write
    /// offset, wrapping.
    #[test]
    fn a_drain_of_any_descriptor_takes_what_it_says_or_refuses_it() {
        let mut rng = gotrace_tests::rng::Rng::new(0xde5c);
        let (mut refused, mut taken) = (0, 0);
        for _ in 0..DESCRIPTOR_CASES {
            let size = 2 + rng.below(63) as u32;
            let mut ram = ring(size, rng.below(size as usize) as u32);
            let mut cb = ControlBlock::read(&mut ram, BASE + 0x100).unwrap().unwrap();
            firmware_writes(&mut ram, &mut rng, size);
            let buffer: Vec<u8> = ram.0[0x400..0x400 + size as usize].to_vec();
            for _ in 0..1 + rng.below(2) {
                let word = UP + 4 * (1 + rng.below(4) as u32);
                let now = ram.get_u32(word);
                let any = rng.next_u64() as u32;
                let value = *rng.pick(&[
                    any,
                    any % (2 * size),
                    now.wrapping_add(1),
                    now.wrapping_sub(1),
                    size,
                    size - 1,
                    0,
                    u32::MAX,
                ]);
                ram.put_u32(word, value);
            }
            let words = [4, 8, 12, 16].map(|k| ram.get_u32(UP + k));
            let [buffer_at, size_now, write, read] = words;
            let valid =
                (buffer_at, size_now) == (BASE + 0x400, size) && write < size && read < size;
            let mut out = vec![Vec::new()];
            let mut watched = Watched(&mut ram, Vec::new());
            let result = cb.drain(&mut watched, &mut out);
            let reads = watched.1;
            assert_eq!(result.is_ok(), valid, "{words:x?}: {result:?}");
            assert_eq!(stray(&reads, size), []);
            if valid {
                let expected: Vec<u8> = (0..(write + size - read) % size)
                    .map(|i| buffer[((read + i) % size) as usize])
                    .collect();
                assert_eq!(out[0], expected);
                assert_eq!(ram.get_u32(UP + 16), write);
                taken += 1;
            } else {
                assert_eq!(reads, [(UP, 24)], "only the descriptor read");
                assert!(out[0].is_empty());
                assert_eq!(ram.get_u32(UP + 16), read, "nothing handed back");
                refused += 1;
            }
        }
        assert!(refused > DESCRIPTOR_CASES / 4 && taken > DESCRIPTOR_CASES / 10);
    }

    const DESCRIPTOR_CASES: usize = 20_000;

    /// Control blocks of garbage after the identifier: any numbers of channels, descriptors of
    /// any words. Reading one never panics and never sizes a read by garbage; one taken has at
    /// most 16 channels of each kind, each buffer within the address space and 16 MiB; a drain
    /// of it never panics either.
    #[test]
    fn a_control_block_of_garbage_is_refused_or_bounded() {
        let mut rng = gotrace_tests::rng::Rng::new(0xb10c);
        let mut taken = 0;
        for _ in 0..BLOCK_CASES {
            let mut ram = Ram(vec![0; 0x1000]);
            let cb = BASE + 0x100;
            ram.write(cb, RTT_ID).unwrap();
            let count = |rng: &mut gotrace_tests::rng::Rng| {
                let any = rng.next_u64() as u32;
                *rng.pick(&[0, 1, 2, 16, 17, any])
            };
            let (ups, downs) = (count(&mut rng), count(&mut rng));
            ram.put_u32(cb + 16, ups);
            ram.put_u32(cb + 20, downs);
            for word in 0..(32 * 6) {
                let any = rng.next_u64() as u32;
                let small = any % 0x100;
                let value = *rng.pick(&[
                    0,
                    BASE + any % 0x1000,
                    small,
                    (16 << 20) + any % 2,
                    u32::MAX - small,
                    any,
                ]);
                ram.put_u32(cb + 24 + 4 * word, value);
            }
            let mut watched = Watched(&mut ram, Vec::new());
            let result = ControlBlock::read(&mut watched, cb);
            let largest = watched.1.iter().map(|&(_, len)| len).max().unwrap_or(0);
            assert!(largest <= 2 * 16 * 24, "a read of {largest} bytes");
            let Ok(Some(mut block)) = result else {
                continue;
            };
            taken += 1;
            assert!(block.up.len() <= 16 && block.down.len() <= 16);
            for channel in block.up.iter().chain(&block.down) {
                assert!(channel.size <= MAX_CHANNEL_BYTES && fits(channel.buffer, channel.size));
            }
            let mut out = vec![Vec::new(); block.up.len()];
            let _ = block.drain(&mut Watched(&mut ram, Vec::new()), &mut out);
            assert!(out.iter().all(|o| o.len() <= MAX_CHANNEL_BYTES as usize));
        }
        assert!(taken > BLOCK_CASES / 50, "{taken} of {BLOCK_CASES} taken");
    }

    const BLOCK_CASES: usize = 20_000;

    /// Memory holding an initialised control block with one up channel at every address, as
    /// a wild address or RAM range might find: only arithmetic on addresses is tested.
    struct Everywhere;

    impl Memory for Everywhere {
        fn read(&mut self, _: u32, out: &mut [u8]) -> Result<()> {
            let mut block = RTT_ID.to_vec();
            block.extend_from_slice(&1u32.to_le_bytes());
            block.extend_from_slice(&0u32.to_le_bytes());
            for (i, b) in out.iter_mut().enumerate() {
                *b = block.get(i).copied().unwrap_or(0);
            }
            Ok(())
        }
        fn write(&mut self, _: u32, _: &[u8]) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn addresses_at_the_top_of_the_address_space_do_not_overflow() {
        let top = 0xffff_f000;
        assert_eq!(
            ControlBlock::scan(&mut Everywhere, top, 0x1000).unwrap(),
            Some(top)
        );
        assert_eq!(
            ControlBlock::scan(&mut Ram(vec![0; 16]), top, 0).unwrap(),
            None
        );
        let error = ControlBlock::read(&mut Everywhere, 0xffff_fff0)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("runs past the end of the address space"),
            "{error}"
        );
        assert!(ControlBlock::read(&mut Everywhere, u32::MAX - 48 + 1).is_ok());
    }

    #[test]
    fn an_uninitialised_block_is_not_taken() {
        let mut ram = Ram(vec![0; 0x1000]);
        assert!(ControlBlock::read(&mut ram, BASE).unwrap().is_none());
        assert!(ControlBlock::scan(&mut ram, BASE, 0x1000)
            .unwrap()
            .is_none());
    }
}
