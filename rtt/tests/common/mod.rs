//! SEGGER's control block as the host reads it, for the tests that look at the channels
//! `rtt_init!` set up (each test file its own program, with its own control block).

use core::sync::atomic::{AtomicUsize, Ordering};

/// The control block's header: the identifier, the channel counts, then the descriptors (up
/// channels first).
#[repr(C)]
pub struct Header {
    pub id: [u8; 16],
    pub up_channels: usize,
    pub down_channels: usize,
}

#[repr(C)]
pub struct Descriptor {
    pub name: *const u8,
    pub buffer: *const u8,
    pub size: usize,
    pub write: AtomicUsize,
    pub read: AtomicUsize,
    pub flags: AtomicUsize,
}

extern "C" {
    #[link_name = "_SEGGER_RTT"]
    static CONTROL_BLOCK: Header;
}

/// The up channels' descriptors, as the host finds them.
pub fn up_channels() -> &'static [Descriptor] {
    // SAFETY: `rtt_init!` has initialised the control block: a header, then its descriptors.
    unsafe {
        let block = core::ptr::addr_of!(CONTROL_BLOCK);
        let header = &*block;
        assert_eq!(&header.id[..10], b"SEGGER RTT");
        let first = block.add(1).cast::<Descriptor>();
        core::slice::from_raw_parts(first, header.up_channels)
    }
}

/// The down channels' descriptors, after the up channels'.
#[allow(dead_code)] // used by some of the test programs that include this module
pub fn down_channels() -> &'static [Descriptor] {
    let up = up_channels();
    // SAFETY: as in `up_channels`; the down descriptors follow the up ones.
    unsafe {
        let block = core::ptr::addr_of!(CONTROL_BLOCK);
        core::slice::from_raw_parts(up.as_ptr().add(up.len()), (*block).down_channels)
    }
}

/// What the host reads from up channel `d`: the bytes from the read offset to the write offset
/// (the tests' writes do not wrap), then the read offset moved past them.
#[allow(dead_code)] // used by some of the test programs that include this module
pub fn read(d: &Descriptor) -> Vec<u8> {
    let (read, write) = (
        d.read.load(Ordering::Relaxed),
        d.write.load(Ordering::Acquire),
    );
    // SAFETY: the device published the bytes up to `write`, inside the channel's buffer.
    let bytes = unsafe { core::slice::from_raw_parts(d.buffer.add(read), write - read) }.to_vec();
    d.read.store(write, Ordering::Release);
    bytes
}
