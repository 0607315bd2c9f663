//! The trace channel's RTT ring buffer, written in place.
//!
//! `rtt-target` writes one slice per call, so a batch (a header and a payload, two slices) could
//! only be written all-or-nothing by first copying it whole into a scratch buffer. This writer
//! takes over the trace up channel after `rtt_init!` has set it up, and copies every part of a
//! batch straight into the ring, publishing the new write offset once, after the last part: the
//! host sees the whole batch or none of it. The layout is SEGGER's RTT control block, which the
//! host side reads too (`host-tools/src/record/rtt.rs`): a 16-byte identifier, the numbers of up
//! and down channels, then one descriptor per channel.

use core::sync::atomic::{AtomicUsize, Ordering};

use gotrace_rtt_protocol::TRACE_CHANNEL;
use rtt_target::{ChannelMode, UpChannel};

/// What became of a [`TraceRing::write`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Write {
    /// Written whole.
    Done,
    /// Nothing written: no room now; there may be once the host reads.
    Full,
    /// Nothing written, and never will be: longer than the ring (or no ring at all).
    Never,
}

/// One channel descriptor of the control block.
#[repr(C)]
struct Descriptor {
    name: *const u8,
    buffer: *mut u8,
    size: usize,
    /// Owned by the device for up channels.
    write: AtomicUsize,
    /// Owned by the host for up channels.
    read: AtomicUsize,
    flags: AtomicUsize,
}

impl Descriptor {
    /// The ring's size and offsets as they are now, for `Debug`: what a firmware developer
    /// looks at when the host seems not to read.
    fn offsets(&self, mut f: core::fmt::DebugStruct<'_, '_>) -> core::fmt::Result {
        f.field("size", &self.size)
            .field("write", &self.write.load(Ordering::Relaxed))
            .field("read", &self.read.load(Ordering::Acquire))
            .finish()
    }

    /// The same, as a defmt value.
    #[cfg(feature = "defmt")]
    fn format_offsets(&self, f: defmt::Formatter<'_>, name: &str) {
        defmt::write!(
            f,
            "{=str} {{ size: {=usize}, write: {=usize}, read: {=usize} }}",
            name,
            self.size,
            self.write.load(Ordering::Relaxed),
            self.read.load(Ordering::Acquire)
        );
    }
}

/// The control block's header.
#[repr(C)]
struct Header {
    id: [u8; 16],
    up_channels: usize,
    down_channels: usize,
}

/// The sole writer of the trace channel's ring, given to [`RttSink::attach`](crate::RttSink::attach).
pub struct TraceRing {
    descriptor: &'static Descriptor,
}

// SAFETY: the ring has one writer, whoever owns this value; the host only moves the read offset.
unsafe impl Send for TraceRing {}

impl core::fmt::Debug for TraceRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.descriptor.offsets(f.debug_struct("TraceRing"))
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for TraceRing {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.descriptor.format_offsets(f, "TraceRing");
    }
}

impl TraceRing {
    /// Takes over the trace channel: the up channel that `rtt_init!` declared with the name
    /// [`TRACE_CHANNEL`] (`"gotrace"`, the one `gotrace record` reads). `channel` must be that
    /// channel, consumed so that `rtt-target` never writes it again. `None` if no initialised up
    /// channel has that name, or if `channel` is another one: the trace channel's own
    /// `UpChannel` would then still be out there (written by `rtt-target`, or given to `take`
    /// again), a second writer of the ring.
    #[must_use = "the channel is consumed: a ring dropped unused is a channel lost"]
    pub fn take(channel: UpChannel) -> Option<Self> {
        Self::take_named(channel, TRACE_CHANNEL)
    }

    /// Takes over the up channel named `name` as [`take`](Self::take) does the trace channel:
    /// the session channel is written by this ring's writer too (`SessionChannel`).
    pub(crate) fn take_named(mut channel: UpChannel, name: &str) -> Option<Self> {
        extern "C" {
            #[link_name = "_SEGGER_RTT"]
            static CONTROL_BLOCK: Header;
        }
        // SAFETY: `rtt_init!` defined and initialised the control block, a header followed by
        // its up channel descriptors; only their name and buffer fields are read here. The
        // pointers come from the block's own address, not from a reference to its header (which
        // covers the header only), and the references to the descriptors end with this block,
        // before `channel` (a raw pointer to one of them) is used.
        let descriptor: *const Descriptor = unsafe {
            let block = core::ptr::addr_of!(CONTROL_BLOCK);
            let first = block.add(1).cast::<Descriptor>();
            let descriptors = core::slice::from_raw_parts(first, (*block).up_channels);
            let index = descriptors
                .iter()
                .position(|d| !d.buffer.is_null() && d.size > 1 && name_is(d.name, name))?;
            first.add(index)
        };
        // SAFETY: a field of the descriptor just found, in the static control block.
        let flags = unsafe { core::ptr::addr_of!((*descriptor).flags) };
        if !is_channel_of(&mut channel, flags) {
            return None;
        }
        // SAFETY: the descriptor is in the static control block; `channel`, its only other
        // writer, is consumed here and never used again.
        Some(TraceRing {
            descriptor: unsafe { &*descriptor },
        })
    }

    /// Whether `len` bytes (a write's parts and the room it must leave) can never fit, even in
    /// the empty ring: one byte of it always stays free.
    #[inline]
    pub(crate) fn never_fits(&self, len: usize) -> bool {
        len >= self.descriptor.size
    }

    /// Bytes that fit now, and the write offset to put them at.
    #[inline]
    fn room(&self) -> (usize, usize) {
        let d = self.descriptor;
        let write = d.write.load(Ordering::Relaxed);
        let read = d.read.load(Ordering::Acquire);
        if read >= d.size || write >= d.size {
            // Only a confused host or a memory fault leaves this; wait for it to be put right.
            return (0, write);
        }
        // One byte always stays free, so that a full ring differs from an empty one.
        let free = if read > write {
            read - write - 1
        } else {
            d.size - write + read - 1
        };
        (free, write)
    }

    /// Copies `bytes` (at most the room there is) at offset `write`; returns the next offset.
    /// Out of line, one copy for both parts of a write (32 bytes of flash less), and the copy
    /// after the wrap only when there is one: that saves the empty call the inline form made
    /// for each part, so the call costs no instruction more per batch.
    #[inline(never)]
    fn put(&self, write: usize, bytes: &[u8]) -> usize {
        let d = self.descriptor;
        let first = bytes.len().min(d.size - write);
        // SAFETY: `write < size`, `first <= size - write`, and the rest (at most the room, which
        // ends before the read offset) goes at the start; the host reads none of it until the
        // write offset moves past it.
        unsafe {
            copy(d.buffer.add(write), bytes.as_ptr(), first);
            if first < bytes.len() {
                copy(d.buffer, bytes.as_ptr().add(first), bytes.len() - first);
            }
        }
        let next = write + bytes.len();
        if next >= d.size {
            next - d.size
        } else {
            next
        }
    }

    /// Writes `first` then `second` as one unit if they fit now with `keep_free` bytes of room
    /// left after them, else nothing. Parts that could never fit (as long as the ring or longer)
    /// are [`Write::Never`] written: the caller counts them as lost. Two parts, not a slice of
    /// them: a batch is a header and a payload, a record its marker and its fields, the trace
    /// header one part and an empty one. It never waits: a writer that must not drop waits
    /// itself, or has the encoder wait (`RttSink`), reading the clock meanwhile.
    pub(crate) fn write(&mut self, first: &[u8], second: &[u8], keep_free: usize) -> Write {
        let len = first.len() + second.len() + keep_free;
        if self.never_fits(len) {
            return Write::Never;
        }
        let (free, write) = self.room();
        if len > free {
            return Write::Full;
        }
        let write = self.put(write, first);
        let write = self.put(write, second);
        self.descriptor.write.store(write, Ordering::Release);
        Write::Done
    }

    /// The bytes written and not read yet, to walk from the read offset on: the flight recorder
    /// reads back what it wrote to find where the oldest generation ends.
    #[cfg(feature = "flight-recorder")]
    pub(crate) fn unread(&self) -> Unread {
        let d = self.descriptor;
        let write = d.write.load(Ordering::Relaxed);
        let read = d.read.load(Ordering::Acquire);
        let left = if read >= d.size || write >= d.size {
            // As in `room`: offsets outside the ring start no walk.
            0
        } else if write >= read {
            write - read
        } else {
            d.size - read + write
        };
        Unread {
            descriptor: d,
            at: read,
            left,
        }
    }

    /// Gives up the unread bytes before `rest` (the flight recorder, which moves the read offset
    /// itself: its host reads only once the trace has ended).
    #[cfg(feature = "flight-recorder")]
    pub(crate) fn discard_before(&mut self, rest: Unread) {
        self.descriptor.read.store(rest.at, Ordering::Release);
    }

    /// Gives up every unread byte: what an earlier flight-recorder trace left, never read.
    #[cfg(feature = "flight-recorder")]
    pub(crate) fn discard_unread(&mut self) {
        let d = self.descriptor;
        d.read
            .store(d.write.load(Ordering::Relaxed), Ordering::Release);
    }

    /// A view of this ring that only tells whether the host has caught up: it can be kept
    /// outside the lock that guards the writer (this value, inside the encoder's sink).
    #[must_use]
    pub fn watch(&self) -> RingWatch {
        RingWatch {
            descriptor: self.descriptor,
        }
    }
}

/// A walk through the bytes of a [`TraceRing`] not read yet ([`TraceRing::unread`]), wrapping
/// at the ring's end and stopping at its write offset: a copy keeps a place in it.
#[cfg(feature = "flight-recorder")]
#[derive(Clone, Copy)]
pub(crate) struct Unread {
    descriptor: &'static Descriptor,
    /// The offset of the next byte.
    at: usize,
    /// Bytes from there to the write offset.
    left: usize,
}

#[cfg(feature = "flight-recorder")]
impl Unread {
    /// Bytes from here to the write offset.
    pub(crate) fn left(&self) -> usize {
        self.left
    }

    /// Goes `count` bytes on; `None`, without moving, if fewer are left.
    pub(crate) fn skip(&mut self, count: usize) -> Option<()> {
        self.left = self.left.checked_sub(count)?;
        // Subtracted, not `%`: ARMv6-M has no divide instruction.
        self.at += count;
        if self.at >= self.descriptor.size {
            self.at -= self.descriptor.size;
        }
        Some(())
    }

    /// The next byte; `None` at the write offset.
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let at = self.at;
        self.skip(1)?;
        // SAFETY: an unread byte, so `at < size` (`unread` starts no walk from an offset outside
        // the ring), written before the write offset was moved past it.
        Some(unsafe { *self.descriptor.buffer.add(at) })
    }
}

/// Whether the host has read what the [`TraceRing`] wrote: its two offsets, read only. Made by
/// [`TraceRing::watch`] before the ring goes into the sink, for the wait before the firmware
/// exits.
#[derive(Clone, Copy)]
pub struct RingWatch {
    descriptor: &'static Descriptor,
}

impl core::fmt::Debug for RingWatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.descriptor.offsets(f.debug_struct("RingWatch"))
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for RingWatch {
    fn format(&self, f: defmt::Formatter<'_>) {
        self.descriptor.format_offsets(f, "RingWatch");
    }
}

impl RingWatch {
    /// Whether the host has read everything written so far.
    #[must_use = "a question, not a wait: `flush` waits"]
    pub fn is_drained(&self) -> bool {
        let d = self.descriptor;
        d.write.load(Ordering::Relaxed) == d.read.load(Ordering::Acquire)
    }

    /// Waits until the host has read everything written so far: without a host, forever (for a
    /// wait with a time limit, ask [`is_drained`](Self::is_drained) against a clock).
    pub fn flush(&self) {
        while !self.is_drained() {
            core::hint::spin_loop();
        }
    }
}

/// Whether `channel` writes the descriptor whose flags are at `flags`: `rtt-target` does not say
/// which descriptor an `UpChannel` writes, but its mode is the descriptor's flags, so a change of
/// the mode must show there. The mode is put back as it was. Out of line: inlined in the example
/// firmware's `main`, it made the flash difference with and without tracing 4 bytes larger
/// (`scripts/measure-firmware.sh`: layout, as both builds have it).
#[inline(never)]
fn is_channel_of(channel: &mut UpChannel, flags: *const AtomicUsize) -> bool {
    // SAFETY: a shared reference to the atomic flags, made anew for each read, while nothing
    // else accesses the descriptor (the host does not write the trace channel's flags).
    let flags = || unsafe { (*flags).load(Ordering::SeqCst) & 3 };
    // `ChannelMode` is not `Copy`: its flags are kept, and a mode made from them.
    let mode = |flags: usize| match flags {
        1 => ChannelMode::NoBlockTrim,
        2 => ChannelMode::BlockIfFull,
        _ => ChannelMode::NoBlockSkip,
    };
    let declared = channel.mode() as usize;
    let other = if declared == 2 { 0 } else { 2 };
    let before = flags();
    channel.set_mode(mode(other));
    let after = flags();
    channel.set_mode(mode(declared));
    before == declared && after == other
}

/// Copies `len` bytes from `src` to `dst`, eight words at a time with unaligned loads and
/// stores, which ARMv7-M does in one instruction each (on a core without them the compiler
/// splits them into byte accesses: still correct). Instead of `copy_nonoverlapping`: its
/// `memcpy` (compiler-builtins) cannot assume unaligned accesses, and when the ring offset and
/// the batch differ in alignment (most batches) it merges shifted words, about 2.5 instructions
/// a byte: with it, a batch of the measured rounds (`measure.rs`) cost about 1350 instructions
/// more, 11 per scheduling event.
/// Written as eight named words: an array of eight, loaded then stored in loops, LLVM turns back
/// into a call of compiler-builtins' `memcpy` (`__aeabi_memcpy`).
///
/// # Safety
///
/// The caller passes `len` readable bytes at `src`, `len` writable bytes at `dst`, not
/// overlapping.
pub(crate) unsafe fn copy(mut dst: *mut u8, mut src: *const u8, len: usize) {
    let load = |p: *const u8, i: usize| p.add(4 * i).cast::<u32>().read_unaligned();
    let store = |p: *mut u8, i: usize, w: u32| p.add(4 * i).cast::<u32>().write_unaligned(w);
    let end = src.add(len);
    let blocks_end = src.add(len & !31);
    while src != blocks_end {
        let (w0, w1, w2, w3) = (load(src, 0), load(src, 1), load(src, 2), load(src, 3));
        let (w4, w5, w6, w7) = (load(src, 4), load(src, 5), load(src, 6), load(src, 7));
        store(dst, 0, w0);
        store(dst, 1, w1);
        store(dst, 2, w2);
        store(dst, 3, w3);
        store(dst, 4, w4);
        store(dst, 5, w5);
        store(dst, 6, w6);
        store(dst, 7, w7);
        src = src.add(32);
        dst = dst.add(32);
    }
    while end as usize - src as usize >= 4 {
        store(dst, 0, load(src, 0));
        src = src.add(4);
        dst = dst.add(4);
    }
    while src != end {
        *dst = *src;
        src = src.add(1);
        dst = dst.add(1);
    }
}

/// Whether the NUL-terminated string at `ptr` is `name`.
fn name_is(ptr: *const u8, name: &str) -> bool {
    if ptr.is_null() {
        return false;
    }
    // SAFETY: a channel name is a NUL-terminated string in flash; reading stops at the first
    // difference or at the NUL, so it never reads past the string.
    name.bytes()
        .chain(core::iter::once(0))
        .enumerate()
        .all(|(i, b)| unsafe { *ptr.add(i) } == b)
}

/// The host's side of a ring, for tests on the host (this crate's, and with the `host-ring`
/// feature other crates': `gotrace record`'s parser fed by the real sink): rings of any size
/// outside a control block, read as `gotrace record` reads them (bytes from the read offset to
/// the write offset, then the read offset moved past them). Never on a device: it allocates.
#[cfg(any(test, feature = "host-ring"))]
pub mod host {
    extern crate std;

    use std::boxed::Box;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// The reader of one ring; `Send`, so that a thread can drain a lossless writer.
    pub struct Host(&'static Descriptor);

    // SAFETY: the host only reads the bytes the writer published and moves the read offset, as
    // the debug probe does.
    unsafe impl Send for Host {}

    impl core::fmt::Debug for Host {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            self.0.offsets(f.debug_struct("Host"))
        }
    }

    /// A ring of `size` bytes (one stays free) and its reader; leaked, as a control block is
    /// static.
    pub fn ring(size: usize) -> (TraceRing, Host) {
        let buffer = Box::leak(vec![0u8; size].into_boxed_slice());
        let descriptor = Box::leak(Box::new(Descriptor {
            name: c"gotrace".as_ptr().cast(),
            buffer: buffer.as_mut_ptr(),
            size,
            write: AtomicUsize::new(0),
            read: AtomicUsize::new(0),
            flags: AtomicUsize::new(0),
        }));
        (TraceRing { descriptor }, Host(descriptor))
    }

    impl Host {
        /// Reads everything published so far.
        pub fn read(&self) -> Vec<u8> {
            self.read_at_most(usize::MAX)
        }

        /// Reads at most `limit` of the bytes published so far, as a probe reading part of the
        /// ring does: the rest stays for the next read.
        pub fn read_at_most(&self, limit: usize) -> Vec<u8> {
            let (bytes, read) = self.unread(limit);
            self.0.read.store(read, Ordering::Release);
            bytes
        }

        /// Everything published and not read yet, left unread: the channel of a flight recorder
        /// (whose writer moves the read offset itself) as a host would read it then.
        #[cfg(any(feature = "flight-recorder", feature = "host-ring"))]
        pub fn peek(&self) -> Vec<u8> {
            self.unread(usize::MAX).0
        }

        /// At most `limit` of the bytes published and not read yet, and the read offset after
        /// them.
        fn unread(&self, limit: usize) -> (Vec<u8>, usize) {
            let d = self.0;
            let write = d.write.load(Ordering::Acquire);
            let mut read = d.read.load(Ordering::Acquire);
            let mut bytes = Vec::new();
            while read != write && bytes.len() < limit {
                // SAFETY: `read < size`; the writer published the bytes up to `write`.
                bytes.push(unsafe { *d.buffer.add(read) });
                read = (read + 1) % d.size;
            }
            (bytes, read)
        }

        /// The write offset: where the writer's next bytes go, moved by every write it makes.
        pub fn write_offset(&self) -> usize {
            self.0.write.load(Ordering::Acquire)
        }

        /// Moves both offsets to `at` (an empty ring whose next write starts there), which must
        /// be inside the ring: the writer copies to the offsets it finds, unchecked.
        pub fn reset_to(&self, at: usize) {
            assert!(
                at < self.0.size,
                "offset {at} outside a ring of {}",
                self.0.size
            );
            self.0.write.store(at, Ordering::Relaxed);
            self.0.read.store(at, Ordering::Relaxed);
        }
    }
}
