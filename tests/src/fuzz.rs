//! The fuzz target over the whole reader, shared by the `cargo fuzz` crate (`decoder/fuzz/`) and
//! the smoke test that replays seeds and deterministic mutations in CI.
//!
//! One input goes through everything a user's file goes through: form detection (binary, text,
//! `.test`), the raw reader (each event must re-encode and read back to itself), and the
//! validating reader to its end or its first error (explained, and the input finished, as
//! `gotrace validate` does), with the goroutine summary of what it validated (`gotrace stats`'s
//! figures). Any panic is a bug; so is an error that is not reported as one.

use gotrace_decoder::input::Input;
use gotrace_decoder::raw::{Reader as RawReader, Writer};
use gotrace_decoder::{Reader, Summarizer};

/// Runs one input through every reader. Returns how many validated events it produced.
pub fn check_input(data: &[u8]) -> usize {
    if let Ok(input) = Input::new(data) {
        if let Ok(mut raw) = RawReader::new(input) {
            let version = raw.version();
            while let Ok(Some(event)) = raw.read_event() {
                let mut writer = Writer::new(Vec::new(), version).expect("writing to a Vec");
                writer
                    .write_event(&event)
                    .expect("every event read can be written");
                let bytes = writer.into_inner();
                let back = RawReader::new(&bytes[..])
                    .and_then(|mut r| r.read_event())
                    .expect("a written event reads back");
                assert_eq!(back.as_ref(), Some(&event), "event round trip");
                // The text form is exercised for every event too.
                let _ = event.to_string();
            }
        }
    }
    let mut events = 0;
    if let Ok(input) = Input::new(data) {
        if let Ok(mut reader) = Reader::new(input) {
            // `gotrace stats` sums up whatever the reader validated, up to its first error.
            let mut summarizer = Summarizer::new();
            loop {
                match reader.read_event() {
                    Ok(Some(event)) => {
                        let _ = event.to_string();
                        // What a failing assert shows of an event and of its transition's stack.
                        let _ = format!("{event:?} {:?}", event.state_transition());
                        summarizer.event(&event);
                        events += 1;
                    }
                    // As `gotrace validate` ends a read: the rest of a text converted, an error
                    // named by its line.
                    Ok(None) => {
                        let _ = reader.get_mut().finish().map_err(|e| e.to_string());
                        break;
                    }
                    Err(error) => {
                        let _ = reader.get_ref().explain(error).to_string();
                        break;
                    }
                }
            }
            for goroutine in summarizer.finish() {
                let _ = goroutine.times.named();
            }
        }
    }
    events
}
