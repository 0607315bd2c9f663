//! The session channel: the firmware's session descriptors (its clock, buffers and mode), framed
//! and read as they come, another protocol version refused.

use anyhow::{bail, Result};
use gotrace_rtt_protocol::{self as protocol, SessionDescriptor};

use super::frames::{Cut, ZeroFrames};
use crate::stdout::errln;

/// Feeds the session channel's `bytes` to its frames; returns the last session descriptor among
/// those they complete. An unreadable frame is reported and ignored, and so is a run longer than
/// any frame without its end; a firmware of another protocol version is an error: its loss and
/// end records on the trace channel would be misread, and the account of what was lost with
/// them.
pub(super) fn take_descriptors(
    session: &mut ZeroFrames,
    bytes: &[u8],
) -> Result<Option<SessionDescriptor>> {
    let mut descriptor = None;
    let mut other_version = None;
    session.push(bytes, |cut| match cut {
        Cut::Frame(frame) => {
            match protocol::decode_frame::<SessionDescriptor>(&mut frame.to_vec()) {
                Ok(d) if d.protocol_version != protocol::PROTOCOL_VERSION => {
                    other_version.get_or_insert(d.protocol_version);
                }
                Ok(d) => descriptor = Some(d),
                Err(e) => errln!("warning: unreadable session descriptor frame: {e}"),
            }
        }
        Cut::Overlong(run) => errln!(
            "warning: {run} bytes on the {:?} channel without a frame end (no frame is longer than {}): dropped up to the next frame end",
            protocol::SESSION_CHANNEL,
            protocol::MAX_MESSAGE_BYTES
        ),
    });
    if let Some(version) = other_version {
        bail!(
            "the firmware speaks gotrace RTT protocol {version}, this gotrace {}: build both from the same gotrace",
            protocol::PROTOCOL_VERSION
        );
    }
    Ok(descriptor)
}

#[cfg(test)]
pub(super) mod tests {
    use gotrace_rtt_protocol::{self as protocol, Backpressure, ClockSource, SessionDescriptor};

    use super::super::frames::ZeroFrames;
    use super::take_descriptors;

    fn frame(descriptor: &SessionDescriptor) -> Vec<u8> {
        let mut buf = [0; protocol::MAX_MESSAGE_BYTES];
        protocol::encode_frame(descriptor, &mut buf)
            .unwrap()
            .to_vec()
    }

    /// The descriptor of a firmware like the example's under QEMU, lossless, with generations of
    /// `generation_period_us`.
    pub(in crate::record) fn descriptor(generation_period_us: u32) -> SessionDescriptor {
        SessionDescriptor {
            protocol_version: protocol::PROTOCOL_VERSION,
            encoder_version: [0, 1, 0],
            clock: ClockSource::CmsdkApbTimer,
            clock_hz: 25_000_000,
            trace_channel_bytes: 8192,
            batch_buffer_bytes: 512,
            batch_buffers: 3,
            backpressure: Backpressure::Lossless,
            generation_period_us,
        }
    }

    #[test]
    fn session_frames_are_taken_whole_the_last_descriptor_kept_and_another_version_refused() {
        let ours = descriptor;
        let other_version = SessionDescriptor {
            protocol_version: protocol::PROTOCOL_VERSION + 1,
            ..ours(3)
        };
        let session = || ZeroFrames::new(protocol::MAX_MESSAGE_BYTES);
        let mut frames = session();
        let mut bytes = [frame(&ours(1)), vec![7, 0], frame(&ours(2))].concat();
        let partial = frame(&ours(4));
        bytes.extend_from_slice(&partial[..partial.len() - 1]);
        // An unreadable frame in between is skipped.
        assert_eq!(
            take_descriptors(&mut frames, &bytes).unwrap(),
            Some(ours(2))
        );
        assert_eq!(
            frames.pending(),
            &partial[..partial.len() - 1],
            "the partial frame waits"
        );
        assert_eq!(take_descriptors(&mut frames, &[0]).unwrap(), Some(ours(4)));
        assert!(frames.pending().is_empty());
        assert_eq!(take_descriptors(&mut frames, &[]).unwrap(), None);
        // Garbage without a frame end is not kept waiting for one; a frame after it is read.
        let mut frames = session();
        assert_eq!(
            take_descriptors(&mut frames, &[0x55; 1 << 20]).unwrap(),
            None
        );
        assert!(frames.pending().is_empty());
        let bytes = [&[0][..], &frame(&ours(5))].concat();
        assert_eq!(
            take_descriptors(&mut frames, &bytes).unwrap(),
            Some(ours(5))
        );
        let bytes = [frame(&ours(1)), frame(&other_version)].concat();
        let error = take_descriptors(&mut session(), &bytes)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!(
                "speaks gotrace RTT protocol {}, this gotrace {}",
                protocol::PROTOCOL_VERSION + 1,
                protocol::PROTOCOL_VERSION
            )),
            "{error}"
        );
    }

    #[test]
    fn a_descriptor_frame_cut_short_and_run_into_the_next_is_no_descriptor() {
        // Found by a_frame_that_is_not_one_descriptor_whole_is_no_descriptor: the first 17
        // bytes of one descriptor's frame, then the whole frame of another. It read as a
        // descriptor of neither: the first one's fields, but a generation period of 314 from
        // its last byte and the next frame's first, postcard ignoring the bytes after it.
        let mut bytes = [
            2, 3, 2, 1, 17, 1, 156, 20, 144, 3, 199, 144, 1, 134, 2, 1, 186, 2, 3, 2, 1, 13, 1,
            226, 30, 130, 2, 151, 255, 1, 93, 1, 152, 13, 0,
        ];
        // Each frame's first field, the protocol version (3 when found), as this gotrace's.
        let version = u8::try_from(protocol::PROTOCOL_VERSION).unwrap();
        assert!(version < 0x80, "one byte of postcard varint");
        (bytes[1], bytes[18]) = (version, version);
        let mut frames = ZeroFrames::new(protocol::MAX_MESSAGE_BYTES);
        assert_eq!(take_descriptors(&mut frames, &bytes).unwrap(), None);
        // The frame that was run into, alone: a descriptor.
        let mut frames = ZeroFrames::new(protocol::MAX_MESSAGE_BYTES);
        assert!(take_descriptors(&mut frames, &bytes[17..])
            .unwrap()
            .is_some());
    }

    /// A frame that is not one descriptor whole is none, whatever descriptor it begins with:
    /// a descriptor's frame with bytes after it, or cut short and run into the next one's (a
    /// write that had room for part of it), for descriptors of any values; the whole frames
    /// are read.
    #[test]
    fn a_frame_that_is_not_one_descriptor_whole_is_no_descriptor() {
        let mut rng = gotrace_tests::rng::Rng::new(0xd35c);
        let any = |rng: &mut gotrace_tests::rng::Rng| SessionDescriptor {
            clock: *rng.pick(&[ClockSource::CmsdkApbTimer, ClockSource::DwtCycles]),
            clock_hz: rng.next_u64() >> rng.below(64),
            trace_channel_bytes: (rng.next_u64() >> rng.below(64)) as u32,
            batch_buffer_bytes: rng.below(1 << 16) as u32,
            batch_buffers: rng.below(300) as u32,
            backpressure: *rng.pick(&[
                Backpressure::Lossless,
                Backpressure::Lossy,
                Backpressure::Overwrite,
            ]),
            generation_period_us: (rng.next_u64() >> rng.below(64)) as u32,
            ..descriptor(0)
        };
        let take = |bytes: &[u8]| {
            let mut frames = ZeroFrames::new(protocol::MAX_MESSAGE_BYTES);
            take_descriptors(&mut frames, bytes)
                .map_err(|e| e.to_string())
                .map(|d| d.map(|d| (d, frames.pending().to_vec())))
        };
        for case in 0..FRAME_CASES {
            let (a, b) = (any(&mut rng), any(&mut rng));
            let (whole, next) = (frame(&a), frame(&b));
            assert_eq!(take(&whole), Ok(Some((a, Vec::new()))));
            let extra: Vec<u8> = (0..1 + rng.below(8))
                .map(|_| 1 | rng.next_u64() as u8)
                .collect();
            let longer = [&whole[..whole.len() - 1], &extra, &[0]].concat();
            let cut = [&whole[..1 + rng.below(whole.len() - 2)], &next].concat();
            for bytes in [longer, cut] {
                assert_eq!(take(&bytes), Ok(None), "case {case}: {bytes:?}");
            }
        }
    }

    const FRAME_CASES: usize = 5000;

    #[test]
    fn any_session_channel_bytes_in_any_chunks_neither_panic_nor_pile_up() {
        let mut rng = gotrace_tests::rng::Rng::new(0x5e55);
        let descriptor = SessionDescriptor {
            clock: ClockSource::DwtCycles,
            clock_hz: u64::MAX,
            trace_channel_bytes: u32::MAX,
            backpressure: Backpressure::Lossy,
            ..descriptor(0)
        };
        let valid = frame(&descriptor);
        let (mut read, mut garbled) = (0, 0);
        for _ in 0..500 {
            // Descriptors, some with a byte changed (another version is refused by design: the
            // version's first byte is left alone), runs of garbage, zeros.
            let mut bytes = Vec::new();
            for _ in 0..1 + rng.below(8) {
                match rng.below(4) {
                    0 => bytes.extend_from_slice(&valid),
                    1 => {
                        let mut changed = valid.clone();
                        let at = 2 + rng.below(changed.len() - 2);
                        changed[at] = rng.next_u64() as u8;
                        bytes.extend(changed);
                    }
                    2 => bytes.extend((0..rng.below(300)).map(|_| 1 | rng.next_u64() as u8)),
                    _ => bytes.push(0),
                }
            }
            let mut frames = ZeroFrames::new(protocol::MAX_MESSAGE_BYTES);
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let (chunk, after) = rest.split_at(1 + rng.below(rest.len().min(80)));
                match take_descriptors(&mut frames, chunk) {
                    Ok(Some(d)) if d == descriptor => read += 1,
                    Ok(_) => {}
                    Err(e) => {
                        garbled += 1;
                        assert!(e.to_string().contains("speaks gotrace RTT protocol"), "{e}");
                    }
                }
                assert!(
                    frames.pending().len() <= protocol::MAX_MESSAGE_BYTES,
                    "{}",
                    frames.pending().len()
                );
                rest = after;
            }
        }
        assert!(
            read > 100 && garbled < 100,
            "{read} read, {garbled} refused"
        );
    }
}
