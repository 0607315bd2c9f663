//! The host end of SEGGER RTT over plain memory access (QEMU's gdbstub).
//!
//! The firmware's control block (`_SEGGER_RTT`) is a 16-byte identifier, the numbers of up and
//! down channels, then one 24-byte descriptor per channel: name pointer, buffer pointer, size,
//! write offset, read offset, flags. The host owns the read offset of up channels and the write
//! offset of down channels, and may set an up channel's mode in its flags; everything else it
//! only reads. One drain reads all descriptors in one request, then only the bytes that are
//! waiting.

use anyhow::{bail, Context, Result};

/// Byte access to the target's memory (while it is halted, for QEMU).
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
        let descriptors = address + HEADER_BYTES;
        let mut raw = vec![0u8; ((ups + downs) * DESCRIPTOR_BYTES) as usize];
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
            channels.push(Channel {
                name,
                descriptor: descriptors + i as u32 * DESCRIPTOR_BYTES,
                buffer: word(1),
                size: word(2),
            });
        }
        let down = channels.split_off(ups as usize);
        Ok(Some(ControlBlock {
            up: channels,
            down,
            descriptors,
        }))
    }

    /// Finds the control block by its identifier in a RAM range (when the ELF has no symbol).
    pub fn scan(mem: &mut impl Memory, start: u32, len: u32) -> Result<Option<u32>> {
        const CHUNK: u32 = 4096;
        let mut buf = vec![0u8; (CHUNK + 16) as usize];
        let mut at = start;
        while at < start + len {
            let n = (CHUNK + 16).min(start + len - at) as usize;
            mem.read(at, &mut buf[..n])?;
            // The identifier is word-aligned in every implementation.
            for off in (0..n.saturating_sub(15)).step_by(4) {
                if &buf[off..off + 16] == RTT_ID {
                    return Ok(Some(at + off as u32));
                }
            }
            at += CHUNK;
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

    /// Moves every waiting byte of every up channel into `out[channel]` and hands the space
    /// back to the firmware. Returns the number of bytes moved.
    pub fn drain(&self, mem: &mut impl Memory, out: &mut [Vec<u8>]) -> Result<usize> {
        let mut raw = vec![0u8; self.up.len() * DESCRIPTOR_BYTES as usize];
        mem.read(self.descriptors, &mut raw)?;
        let mut moved = 0;
        for (i, channel) in self.up.iter().enumerate() {
            let d = &raw[i * DESCRIPTOR_BYTES as usize..];
            let write = u32::from_le_bytes(d[12..16].try_into().expect("4"));
            let read = u32::from_le_bytes(d[16..20].try_into().expect("4"));
            if write >= channel.size || read >= channel.size {
                bail!(
                    "RTT up channel {i} ({:?}) has offsets write={write} read={read} beyond its size {}",
                    channel.name,
                    channel.size
                );
            }
            if write == read {
                continue;
            }
            let sink = &mut out[i];
            let start = sink.len();
            if write > read {
                sink.resize(start + (write - read) as usize, 0);
                mem.read(channel.buffer + read, &mut sink[start..])?;
            } else {
                let tail = (channel.size - read) as usize;
                sink.resize(start + tail + write as usize, 0);
                mem.read(channel.buffer + read, &mut sink[start..start + tail])?;
                mem.read(channel.buffer, &mut sink[start + tail..])?;
            }
            moved += sink.len() - start;
            mem.write(channel.descriptor + 16, &write.to_le_bytes())?;
        }
        Ok(moved)
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

    /// Writes as much of `data` as fits into down channel `index`; returns how much did.
    pub fn send(&self, mem: &mut impl Memory, index: usize, data: &[u8]) -> Result<usize> {
        let channel = &self.down[index];
        let mut offsets = [0u8; 8];
        mem.read(channel.descriptor + 12, &mut offsets)?;
        let write = u32::from_le_bytes(offsets[..4].try_into().expect("4"));
        let read = u32::from_le_bytes(offsets[4..].try_into().expect("4"));
        if write >= channel.size || read >= channel.size {
            bail!("RTT down channel {index} has offsets beyond its size");
        }
        // One byte always stays free so that full and empty differ.
        let free = (read + channel.size - write - 1) % channel.size;
        let n = data.len().min(free as usize);
        let first = n.min((channel.size - write) as usize);
        mem.write(channel.buffer + write, &data[..first])?;
        if n > first {
            mem.write(channel.buffer, &data[first..n])?;
        }
        let new_write = (write + n as u32) % channel.size;
        mem.write(channel.descriptor + 12, &new_write.to_le_bytes())?;
        Ok(n)
    }
}

fn names(channels: &[Channel]) -> Vec<Option<&str>> {
    channels
        .iter()
        .map(|c| Some(c.name.as_str()).filter(|n| !n.is_empty()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat RAM at 0x2000_0000 standing in for the target.
    struct Ram(Vec<u8>);

    const BASE: u32 = 0x2000_0000;

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
        fn put_u32(&mut self, addr: u32, v: u32) {
            self.write(addr, &v.to_le_bytes()).unwrap();
        }
        fn get_u32(&mut self, addr: u32) -> u32 {
            let mut b = [0u8; 4];
            self.read(addr, &mut b).unwrap();
            u32::from_le_bytes(b)
        }
    }

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

    #[test]
    fn finds_the_block_and_drains_a_wrapped_up_channel() {
        let mut ram = firmware_ram();
        let addr = ControlBlock::scan(&mut ram, BASE, 0x1000).unwrap().unwrap();
        assert_eq!(addr, BASE + 0x100);
        let cb = ControlBlock::read(&mut ram, addr).unwrap().unwrap();
        assert_eq!(cb.up_names(), [Some("up")]);
        assert_eq!(cb.down_names(), [Some("down")]);
        // The firmware wrote 6 bytes that wrap: 12..16 then 0..2.
        ram.write(BASE + 0x400 + 12, b"abcd").unwrap();
        ram.write(BASE + 0x400, b"ef").unwrap();
        ram.put_u32(addr + 24 + 16, 12);
        ram.put_u32(addr + 24 + 12, 2);
        let mut out = vec![Vec::new()];
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 6);
        assert_eq!(out[0], b"abcdef");
        assert_eq!(ram.get_u32(addr + 24 + 16), 2, "read offset handed back");
        assert_eq!(cb.drain(&mut ram, &mut out).unwrap(), 0);
    }

    #[test]
    fn a_down_channel_takes_what_fits_and_wraps() {
        let mut ram = firmware_ram();
        let cb = ControlBlock::read(&mut ram, BASE + 0x100).unwrap().unwrap();
        let down = BASE + 0x100 + 48;
        ram.put_u32(down + 12, 6);
        ram.put_u32(down + 16, 6);
        assert_eq!(cb.send(&mut ram, 0, b"0123456789").unwrap(), 7);
        assert_eq!(ram.get_u32(down + 12), 5);
        let mut buf = [0u8; 8];
        ram.read(BASE + 0x500, &mut buf).unwrap();
        assert_eq!(&buf[6..], b"01");
        assert_eq!(&buf[..5], b"23456");
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

    #[test]
    fn an_uninitialised_block_is_not_taken() {
        let mut ram = Ram(vec![0; 0x1000]);
        assert!(ControlBlock::read(&mut ram, BASE).unwrap().is_none());
        assert!(ControlBlock::scan(&mut ram, BASE, 0x1000)
            .unwrap()
            .is_none());
    }
}
