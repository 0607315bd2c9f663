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

/// A sink in `backpressure` mode on the trace channel `channel` (up channel 0), whose read offset
/// the host has put outside it (a confused host, a memory fault), offered one batch of 7 bytes:
/// checks that nothing was written, and returns the sink's account. (The program sets up its
/// control block, `rtt_init!`: one here would be every including program's second.)
#[allow(dead_code)] // used by some of the test programs that include this module
pub fn offer_past_a_wild_read_offset(
    channel: rtt_target::UpChannel,
    backpressure: gotrace_rtt_protocol::Backpressure,
) -> gotrace_rtt_protocol::EndRecord {
    use gotrace_encoder::{Offer, Sink};
    let ring = gotrace_rtt::TraceRing::take(channel).expect("the trace channel is found");
    let mut sink = gotrace_rtt::RttSink::new();
    sink.attach(ring, backpressure);
    sink.begin_trace(b"go 1.22 trace\0\0\0");
    let trace = &up_channels()[0];
    let write = trace.write.load(Ordering::Relaxed);
    assert_eq!(write, 16, "the header is written");
    trace.read.store(trace.size + 200, Ordering::Release);
    assert_eq!(sink.write_batch(1, &[1, 2, 3], &[4, 5, 6, 7]), Offer::Taken);
    assert_eq!(
        trace.write.load(Ordering::Relaxed),
        write,
        "nothing is written while the read offset is outside the channel"
    );
    sink.account()
}
