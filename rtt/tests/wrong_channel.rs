//! `TraceRing::take` gives the trace channel's ring only for the trace channel's own `UpChannel`:
//! given another one, the trace channel's `UpChannel` is still out there (written by rtt-target,
//! or given to `take` a second time), and a ring taken beside it would be a second writer of the
//! same buffer, racing with the first and interleaving their bytes.

use core::sync::atomic::Ordering;

use gotrace_rtt::TraceRing;
use rtt_target::{rtt_init, ChannelMode};

#[test]
fn another_channel_than_the_trace_channel_gives_none() {
    let channels = rtt_init! {
        up: {
            0: { size: 64, mode: ChannelMode::NoBlockSkip, name: "defmt" }
            1: { size: 256, mode: ChannelMode::NoBlockSkip, name: "gotrace" }
            2: { size: 32, mode: ChannelMode::BlockIfFull, name: "other" }
        }
    };
    // The same mode as the trace channel, and another.
    assert!(TraceRing::take(channels.up.0).is_none());
    assert!(TraceRing::take(channels.up.2).is_none());
    assert!(TraceRing::take(channels.up.1).is_some());
    // The modes are as they were declared: the check puts back what it changes.
    assert_eq!(rtt_modes(), [0, 0, 2]);
}

/// The up channels' modes, read from the control block as the host reads them.
fn rtt_modes() -> Vec<usize> {
    #[repr(C)]
    struct Header {
        id: [u8; 16],
        up_channels: usize,
        down_channels: usize,
    }
    #[repr(C)]
    struct Descriptor {
        name: *const u8,
        buffer: *const u8,
        size: usize,
        write: usize,
        read: usize,
        flags: core::sync::atomic::AtomicUsize,
    }
    extern "C" {
        #[link_name = "_SEGGER_RTT"]
        static CONTROL_BLOCK: Header;
    }
    // SAFETY: `rtt_init!` has initialised the control block: a header, then its descriptors.
    let up = unsafe {
        let header = &*core::ptr::addr_of!(CONTROL_BLOCK);
        let first = (header as *const Header).add(1).cast::<Descriptor>();
        core::slice::from_raw_parts(first, header.up_channels)
    };
    up.iter()
        .map(|d| d.flags.load(Ordering::Relaxed) & 3)
        .collect()
}
