//! The format's size limits, applied by every reader so that hostile input cannot make us
//! allocate more than the format allows.

use gotrace_wire::{EventType, MAX_BATCH_SIZE, MAX_EVENT_TRAILER_DATA_SIZE, MAX_FRAMES_PER_STACK};

/// Which limit an event broke, with Go's wording for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A batch's payload larger than 64 KiB: its size as announced.
    #[error("invalid batch size {0}, maximum is {MAX_BATCH_SIZE}")]
    Batch(u64),
    /// A string (or other trailing data) longer than 1 KiB: its length as announced.
    #[error("invalid string size {0}, maximum is {MAX_EVENT_TRAILER_DATA_SIZE}")]
    String(u64),
    /// A stack of more than 128 frames: its frame count as announced.
    #[error("invalid stack size {0}, maximum is {MAX_FRAMES_PER_STACK}")]
    Stack(u64),
}

/// The largest trailing data an event of type `typ` may carry: a string is bounded by its own
/// limit, an experimental batch's payload by the batch limit.
pub fn check_data_len(typ: EventType, len: u64) -> Result<(), LimitError> {
    if typ == EventType::STRING {
        if len > MAX_EVENT_TRAILER_DATA_SIZE {
            return Err(LimitError::String(len));
        }
    } else if len > MAX_BATCH_SIZE {
        return Err(LimitError::Batch(len));
    }
    Ok(())
}

/// Checks the arguments that announce a size: a batch's payload and a stack's frame count.
pub fn check_args(typ: EventType, args: &[u64]) -> Result<(), LimitError> {
    match (typ, args) {
        (EventType::EVENT_BATCH, [_, _, _, size]) if *size > MAX_BATCH_SIZE => {
            Err(LimitError::Batch(*size))
        }
        (EventType::STACK, [_, nframes]) if *nframes > MAX_FRAMES_PER_STACK => {
            Err(LimitError::Stack(*nframes))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_takes_its_size_and_refuses_one_more() {
        let string = EventType::STRING;
        let experimental = EventType::EXPERIMENTAL_BATCH;
        assert_eq!(check_data_len(string, 1_024), Ok(()));
        assert_eq!(
            check_data_len(string, 1_025),
            Err(LimitError::String(1_025))
        );
        assert_eq!(check_data_len(experimental, 65_536), Ok(()));
        assert_eq!(
            check_data_len(experimental, 65_537),
            Err(LimitError::Batch(65_537))
        );
        let batch = |size| check_args(EventType::EVENT_BATCH, &[1, 0, 0, size]);
        assert_eq!(batch(65_536), Ok(()));
        assert_eq!(batch(65_537), Err(LimitError::Batch(65_537)));
        let stack = |frames| check_args(EventType::STACK, &[1, frames]);
        assert_eq!(stack(128), Ok(()));
        assert_eq!(stack(129), Err(LimitError::Stack(129)));
    }
}
