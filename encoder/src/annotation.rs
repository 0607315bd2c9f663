//! User annotations, as Go's `runtime/trace` writes them: tasks, regions, logs, and goroutine
//! labels. One type for all of them, so that a scheduler hands any annotation to the encoder
//! through one call (and one copy of the code that interns names and writes the event).

use gotrace_wire::EventType;

/// A user annotation, written on the context of the running goroutine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Annotation {
    TaskBegin {
        id: u64,
        parent: u64,
        name: &'static str,
    },
    TaskEnd {
        id: u64,
    },
    RegionBegin {
        task: u64,
        name: &'static str,
    },
    RegionEnd {
        task: u64,
        name: &'static str,
    },
    Log {
        task: u64,
        key: &'static str,
        value: &'static str,
    },
    Label(&'static str),
}

/// What an annotation writes: its event type, up to two numbers (`nums` of them), and up to two
/// names (`names` of them), whose string IDs follow the numbers.
pub(crate) struct Parts {
    pub typ: EventType,
    pub nums: [u64; 2],
    pub num_count: usize,
    pub names: [&'static str; 2],
    pub name_count: usize,
}

impl Annotation {
    pub(crate) fn parts(self) -> Parts {
        let (typ, nums, num_count, names, name_count) = match self {
            Annotation::TaskBegin { id, parent, name } => {
                (EventType::USER_TASK_BEGIN, [id, parent], 2, [name, ""], 1)
            }
            Annotation::TaskEnd { id } => (EventType::USER_TASK_END, [id, 0], 1, ["", ""], 0),
            Annotation::RegionBegin { task, name } => {
                (EventType::USER_REGION_BEGIN, [task, 0], 1, [name, ""], 1)
            }
            Annotation::RegionEnd { task, name } => {
                (EventType::USER_REGION_END, [task, 0], 1, [name, ""], 1)
            }
            Annotation::Log { task, key, value } => {
                (EventType::USER_LOG, [task, 0], 1, [key, value], 2)
            }
            Annotation::Label(label) => (EventType::GO_LABEL, [0, 0], 0, [label, ""], 1),
        };
        Parts {
            typ,
            nums,
            num_count,
            names,
            name_count,
        }
    }
}
