//! The control channel (host → device) and the session descriptor (device → host).

use gotrace_rtt_protocol::{
    encode_frame, Command, CommandFrames, SessionDescriptor, MAX_MESSAGE_BYTES,
};
use rtt_target::{DownChannel, UpChannel};

/// The host's commands, from the down channel.
pub struct Control {
    channel: DownChannel,
    frames: CommandFrames,
}

impl Control {
    pub fn new(channel: DownChannel) -> Self {
        Control {
            channel,
            frames: CommandFrames::new(),
        }
    }

    /// The next complete command, if one has arrived. Garbage frames are skipped.
    pub fn poll(&mut self) -> Option<Command> {
        let mut byte = [0u8; 1];
        while self.channel.read(&mut byte) == 1 {
            if let Some(command) = self.frames.push(byte[0]) {
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
