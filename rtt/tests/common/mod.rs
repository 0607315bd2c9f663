//! SEGGER's control block as the host reads it, for the tests that look at the channels
//! `rtt_init!` set up (each test file its own program, with its own control block).

use core::sync::atomic::AtomicUsize;

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
