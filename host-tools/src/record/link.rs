//! What `gotrace record` needs from a running target, whatever carries RTT: QEMU's gdbstub or a
//! debug probe through probe-rs.

use anyhow::{bail, Result};
use gotrace_rtt_protocol as protocol;

use super::fault::FaultSite;
use super::rtt::{ControlBlock, Memory, Peek};

/// The RTT channels of the gotrace protocol, by their index in the control block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelMap {
    pub defmt: Option<usize>,
    pub trace: usize,
    pub session: Option<usize>,
    pub control: Option<usize>,
}

impl ChannelMap {
    /// Finds the protocol's channels by name among the control block's up and down channels
    /// (in their order; a channel may have no name): the firmware numbers them as it likes.
    /// Only the trace channel must be there to map them; a recording needs the control channel
    /// too, for its start and stop commands ([`ChannelMap::control_channel`]).
    pub fn find<S: AsRef<str>>(up: &[Option<S>], down: &[Option<S>]) -> Result<Self> {
        let index = |names: &[Option<S>], name: &str| {
            names
                .iter()
                .position(|n| n.as_ref().map(AsRef::as_ref) == Some(name))
        };
        let Some(trace) = index(up, protocol::TRACE_CHANNEL) else {
            bail!(
                "the firmware's RTT has no up channel named {:?}, the one its trace sink writes to (it has {})",
                protocol::TRACE_CHANNEL,
                channel_names(up)
            );
        };
        Ok(ChannelMap {
            defmt: index(up, protocol::DEFMT_CHANNEL),
            trace,
            session: index(up, protocol::SESSION_CHANNEL),
            control: index(down, protocol::CONTROL_CHANNEL),
        })
    }

    /// The control channel's index, which sending a command needs.
    pub fn control_channel(&self) -> Result<usize> {
        let Some(index) = self.control else {
            // A firmware written from scratch may well have only the trace channel: say what
            // this one is for, and that a firmware taking no commands needs it all the same.
            bail!(
                "the firmware's RTT has no down channel named {0:?}, which gotrace record sends its start and stop commands on (gotrace_rtt_protocol::Command, postcard in COBS frames); a firmware that reads none needs it all the same: add it to its rtt_init!, for example `down: {{ 0: {{ size: 64, name: {0:?} }} }}`",
                protocol::CONTROL_CHANNEL
            );
        };
        Ok(index)
    }
}

/// The up channels a control block has, for a user to see which one is missing: `"defmt", #1
/// (no name)` (Rust's debug form of the list, `[Some("defmt"), None]`, was printed).
fn channel_names<S: AsRef<str>>(names: &[Option<S>]) -> String {
    if names.is_empty() {
        return "no up channel".to_owned();
    }
    let names: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(index, name)| match name {
            Some(name) => format!("{:?}", name.as_ref()),
            None => format!("#{index} (no name)"),
        })
        .collect();
    format!("up channels {}", names.join(", "))
}

/// Bytes moved by one poll, per channel.
#[derive(Debug, Default)]
pub struct Drained {
    pub defmt: Vec<u8>,
    pub trace: Vec<u8>,
    pub session: Vec<u8>,
    /// Bytes of up channels that are none of the protocol's: drained (so that a firmware writing
    /// to a channel of its own in blocking mode does not wait for a reader) and shown nowhere,
    /// so counted for the summary.
    pub other: u64,
}

impl Drained {
    pub fn clear(&mut self) {
        self.defmt.clear();
        self.trace.clear();
        self.session.clear();
        self.other = 0;
    }

    pub fn len(&self) -> usize {
        self.defmt.len() + self.trace.len() + self.session.len() + self.other as usize
    }

    /// Drains every up channel of the target's control block (one [`ControlBlock::drain`]):
    /// the protocol's channels into their buffers, the others counted in [`Drained::other`], so
    /// that a firmware writing one of its own in blocking mode is not left waiting for a reader.
    /// What the drain took before an error is kept all the same: the firmware was handed its
    /// space back for it.
    pub fn drain_block(
        &mut self,
        block: &mut ControlBlock,
        mem: &mut impl Memory,
        map: &ChannelMap,
    ) -> Result<()> {
        let mut per_channel = vec![Vec::new(); block.up.len()];
        let drained = block.drain(mem, &mut per_channel);
        self.take_channels(&mut per_channel, map);
        drained.map(drop)
    }

    /// Takes the bytes drained from every up channel (`per_channel[i]`: up channel `i`'s): the
    /// protocol's channels' into their buffers, the others counted in [`Drained::other`].
    fn take_channels(&mut self, per_channel: &mut [Vec<u8>], map: &ChannelMap) {
        for (index, into) in self.by_channel(map) {
            if let Some(bytes) = index.and_then(|i| per_channel.get_mut(i)) {
                into.append(bytes);
            }
        }
        self.other += per_channel.iter().map(|b| b.len() as u64).sum::<u64>();
    }

    /// Where each protocol channel's bytes go: the up channel's index in the control block (if
    /// the firmware has that channel), and the buffer it is drained into.
    pub fn by_channel(&mut self, map: &ChannelMap) -> [(Option<usize>, &mut Vec<u8>); 3] {
        [
            (map.defmt, &mut self.defmt),
            (Some(map.trace), &mut self.trace),
            (map.session, &mut self.session),
        ]
    }
}

/// Whether the firmware is still there after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Running,
    Ended(End),
}

/// How the target ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The firmware's exit (semihosting under QEMU) with this status.
    Exit(u8),
    /// QEMU ended without the firmware's exit: told to (a signal), or, attached to, its gdb
    /// stub closed the connection without a word (its exit status is for its starter to see).
    QemuEnded,
    /// A board's core halted other than at the firmware's exit (a fault caught by the debugger,
    /// a breakpoint of another kind, another debugger's halt).
    #[cfg_attr(not(feature = "probe-rs"), allow(dead_code))]
    BoardHalted,
    /// A board's core locked up (a fault while handling a fault).
    #[cfg_attr(not(feature = "probe-rs"), allow(dead_code))]
    BoardLockedUp,
}

impl End {
    /// What stopped the recording, for its summary's "stopped by".
    pub fn stopped_by(self) -> &'static str {
        match self {
            End::Exit(_) => "the firmware's exit",
            End::QemuEnded => "QEMU's end",
            End::BoardHalted => "the board's core halting",
            End::BoardLockedUp => "the board's core locking up",
        }
    }

    /// Why there is no exit status, for an end that is not the firmware's exit.
    pub fn without_exit(self) -> Option<&'static str> {
        match self {
            End::Exit(_) => None,
            End::QemuEnded => Some("QEMU ended without the firmware's exit"),
            End::BoardHalted => Some(
                "the board's core halted, not at the firmware's exit (a fault caught, a \
                 semihosting call nothing serves, another debugger's halt)",
            ),
            End::BoardLockedUp => {
                Some("the board's core locked up (a fault while handling a fault)")
            }
        }
    }
}

/// A target whose RTT channels can be polled.
pub trait Link {
    /// Moves whatever is waiting on the up channels into `out` (appending).
    fn poll(&mut self, out: &mut Drained) -> Result<Liveness>;
    /// Writes a control frame on the down channel, whole or not at all; returns how many of its
    /// bytes it wrote.
    fn send_control(&mut self, frame: &[u8]) -> Result<usize>;
    /// Waits up to `timeout` for the next poll to be worth it (or for the firmware to end).
    fn idle(&mut self, timeout: std::time::Duration) -> Result<Liveness>;
    /// Where the first hard fault the debugger caught happened, if it caught one.
    fn fault(&self) -> Option<FaultSite> {
        None
    }
    /// Leaves the trace channel to the firmware from now on (`held`), or no longer: polls do not
    /// read it while it is held. A flight recorder's firmware moves the channel's read offset
    /// itself as it overwrites its oldest generations; the host reads the channel once, at the
    /// end ([`Link::peek_trace`]). A link that cannot read a channel without taking its bytes
    /// refuses to hold it.
    fn hold_trace(&mut self, held: bool) -> Result<()> {
        if held {
            bail!("this link reads the trace channel only by taking its bytes, which a flight recorder's firmware overwrites meanwhile");
        }
        Ok(())
    }
    /// What the held trace channel holds now, not taken from it. Once the target has ended,
    /// what it held when the debugger caught a hard fault, if it caught one (read then, with
    /// the core stopped in the handler), else `None`.
    fn peek_trace(&mut self) -> Result<Option<Peek>> {
        Ok(None)
    }
    /// Hands a peek's bytes back to the firmware, as read (a firmware waiting for the host to
    /// have read its trace may then end). Nothing to do once the target has ended.
    fn release_trace(&mut self, _peek: &Peek) -> Result<()> {
        Ok(())
    }
    /// Bytes of commands on the control channel that the firmware has not read, where that can
    /// be known (`None`: it cannot, or the firmware has exited): whether a firmware that did not
    /// act on the stop command read it at all.
    fn control_unread(&mut self) -> Result<Option<u32>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::rtt::test_ram::{Ram, BASE};
    use crate::record::rtt::{Memory, RTT_ID};

    #[test]
    fn channels_are_found_by_name_in_any_order() {
        let map = ChannelMap::find(
            &[
                Some("gotrace-session"),
                None,
                Some("gotrace"),
                Some("defmt"),
            ],
            &[Some("other"), Some("gotrace-control")],
        )
        .unwrap();
        assert_eq!(
            map,
            ChannelMap {
                defmt: Some(3),
                trace: 2,
                session: Some(0),
                control: Some(1),
            }
        );
    }

    #[test]
    fn every_up_channel_is_drained_the_firmwares_own_counted() {
        // Up channels 0 (defmt), 1 (a channel of the firmware's own), 2 (the trace), 3 (another
        // of its own, unnamed): 32-byte buffers from +0x400, each with `waiting` bytes written.
        let names = [Some("defmt"), Some("mine"), Some("gotrace"), None];
        let waiting: [&[u8]; 4] = [&[1, 2], &[0; 5], &[3, 4, 5], &[0; 11]];
        let mut ram = Ram(vec![0; 0x1000]);
        let block = BASE + 0x100;
        ram.put_u32(block + 16, 4);
        for (i, (name, bytes)) in names.into_iter().zip(waiting).enumerate() {
            let descriptor = block + 24 + 24 * i as u32;
            let buffer = BASE + 0x400 + 0x20 * i as u32;
            if let Some(name) = name {
                let at = BASE + 0x10 * (i as u32 + 1);
                ram.write(at, format!("{name}\0").as_bytes()).unwrap();
                ram.put_u32(descriptor, at);
            }
            ram.put_u32(descriptor + 4, buffer);
            ram.put_u32(descriptor + 8, 0x20);
            ram.write(buffer, bytes).unwrap();
            ram.put_u32(descriptor + 12, bytes.len() as u32);
        }
        ram.write(block, RTT_ID).unwrap();
        let mut control = ControlBlock::read(&mut ram, block).unwrap().unwrap();
        let map = ChannelMap::find(&control.up_names(), &control.down_names()).unwrap();

        let mut drained = Drained::default();
        drained.drain_block(&mut control, &mut ram, &map).unwrap();
        assert_eq!(drained.defmt, [1, 2]);
        assert_eq!(drained.trace, [3, 4, 5]);
        assert_eq!(drained.other, 5 + 11);
        for (i, bytes) in waiting.iter().enumerate() {
            let read_offset = ram.get_u32(block + 24 + 24 * i as u32 + 16);
            assert_eq!(
                read_offset,
                bytes.len() as u32,
                "channel {i} read to its end"
            );
        }
    }

    #[test]
    fn only_the_trace_channel_is_required() {
        let map = ChannelMap::find(&[Some("gotrace")], &[]).unwrap();
        assert_eq!(
            (map.trace, map.defmt, map.session, map.control),
            (0, None, None, None)
        );
        let error = map.control_channel().unwrap_err().to_string();
        assert!(
            error.contains("no down channel named \"gotrace-control\", which gotrace record sends its start and stop commands on"),
            "says what it is for: {error}"
        );
        assert!(
            error.contains("name: \"gotrace-control\" }"),
            "and how to add it: {error}"
        );
        let error = ChannelMap::find(&[Some("defmt"), None], &[Some("gotrace-control")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no up channel named \"gotrace\", the one its trace sink writes to"),
            "{error}"
        );
        assert!(
            error.contains("(it has up channels \"defmt\", #1 (no name))"),
            "names what there is, not in Rust's debug form: {error}"
        );
        let error = ChannelMap::find::<&str>(&[], &[]).unwrap_err().to_string();
        assert!(error.ends_with("(it has no up channel)"), "{error}");
    }

    #[test]
    fn bytes_of_channels_that_are_not_the_protocols_are_counted_not_dropped_unseen() {
        // Up channels: a channel of the firmware's own, the trace, an unnamed one, defmt.
        let map = ChannelMap::find(
            &[Some("mine"), Some("gotrace"), None, Some("defmt")],
            &[Some("gotrace-control")],
        )
        .unwrap();
        let mut drained = Drained::default();
        let mut per_channel = vec![vec![1; 5], vec![2; 3], vec![3; 7], vec![4; 2]];
        drained.take_channels(&mut per_channel, &map);
        assert_eq!(drained.trace, [2; 3]);
        assert_eq!(drained.defmt, [4; 2]);
        assert!(drained.session.is_empty());
        assert_eq!(
            drained.other, 12,
            "the firmware's own channel and the unnamed one"
        );
        assert_eq!(drained.len(), 17);
        drained.take_channels(&mut [vec![], vec![2], vec![], vec![]], &map);
        assert_eq!(
            (drained.trace.len(), drained.other),
            (4, 12),
            "appended, summed"
        );
        drained.clear();
        assert_eq!(drained.len(), 0);
    }
}
