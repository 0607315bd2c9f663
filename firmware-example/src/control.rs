//! The control channel (host → device) and the session descriptor (device → host).

use gotrace_rtt_protocol::{
    decode_frame, encode_frame, Command, SessionDescriptor, MAX_MESSAGE_BYTES,
};
use rtt_target::{DownChannel, UpChannel};

/// Collects COBS frames from the down channel.
pub struct Control {
    channel: DownChannel,
    frame: [u8; MAX_MESSAGE_BYTES],
    len: usize,
}

impl Control {
    pub fn new(channel: DownChannel) -> Self {
        Control {
            channel,
            frame: [0; MAX_MESSAGE_BYTES],
            len: 0,
        }
    }

    /// The next complete command, if one has arrived. Garbage frames are skipped.
    pub fn poll(&mut self) -> Option<Command> {
        let mut byte = [0u8; 1];
        while self.channel.read(&mut byte) == 1 {
            if byte[0] != 0 {
                if self.len < self.frame.len() {
                    self.frame[self.len] = byte[0];
                    self.len += 1;
                }
                continue;
            }
            let len = core::mem::take(&mut self.len);
            if let Ok(command) = decode_frame::<Command>(&mut self.frame[..len]) {
                return Some(command);
            }
        }
        None
    }
}

/// Sends the session descriptor up its channel.
pub fn announce(channel: &mut UpChannel, descriptor: &SessionDescriptor) {
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    if let Ok(frame) = encode_frame(descriptor, &mut buf) {
        channel.write(frame);
    }
}
