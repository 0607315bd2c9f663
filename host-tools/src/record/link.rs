//! What `gotrace record` needs from a running target, whatever carries RTT: QEMU's gdbstub or a
//! debug probe through probe-rs.

use anyhow::Result;

/// The RTT channels of the gotrace protocol, by their index in the control block.
#[derive(Debug, Clone, Copy)]
pub struct ChannelMap {
    pub defmt: Option<usize>,
    pub trace: usize,
    pub session: Option<usize>,
    pub control: Option<usize>,
}

/// Bytes moved by one poll, per channel.
#[derive(Debug, Default)]
pub struct Drained {
    pub defmt: Vec<u8>,
    pub trace: Vec<u8>,
    pub session: Vec<u8>,
}

impl Drained {
    pub fn clear(&mut self) {
        self.defmt.clear();
        self.trace.clear();
        self.session.clear();
    }

    pub fn len(&self) -> usize {
        self.defmt.len() + self.trace.len() + self.session.len()
    }
}

/// Whether the firmware is still there after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Running,
    /// The firmware ended (semihosting exit under QEMU) with this status.
    Exited(u8),
}

/// A target whose RTT channels can be polled.
pub trait Link {
    /// Moves whatever is waiting on the up channels into `out` (appending).
    fn poll(&mut self, out: &mut Drained) -> Result<Liveness>;
    /// Writes a control frame on the down channel; returns how many bytes fit.
    fn send_control(&mut self, frame: &[u8]) -> Result<usize>;
    /// Waits up to `timeout` for the next poll to be worth it (or for the firmware to end).
    fn idle(&mut self, timeout: std::time::Duration) -> Result<Liveness>;
}
