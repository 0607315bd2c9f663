//! A small cooperative scheduler for microcontrollers, traced in Go's execution-trace format.
//!
//! * **Tasks** ([`TaskFn`]) are poll functions in a static table, each bound to an executor.
//!   They run, [`Step::Yield`], [`Step::Wait`] until woken ([`Scheduler::wake`], from a task or
//!   an interrupt), or finish ([`Step::Done`]).
//! * **Executors** (Go's Ps) run their tasks on whichever execution context drives them:
//!   [`Scheduler::run`] in thread mode, [`Scheduler::run_executor`] from an interrupt handler.
//! * **Execution contexts** (Go's Ms) are thread mode (0) and each interrupt priority level that
//!   calls into the scheduler (1, 2, ...), named by the [`Platform`].
//! * **Blocking operations** ([`TaskCx::blocking`]) keep the executor, which a higher-priority
//!   context may steal meanwhile ([`Scheduler::run_executor`] from an interrupt); long ones
//!   ([`TaskCx::blocking_detached`]) give it up at once.
//! * **Interrupt callbacks** ([`Scheduler::callback`]) run tracked code in a handler, with the
//!   same M and goroutine each time; they may take an executor and even leave it held.
//! * **Annotations** ([`Annotate`]): Go's user tasks, regions, logs and labels.
//!
//! Every scheduling step is checked and applied by the scheduler's own state machine and, with
//! the `trace` feature (on by default), written by the `gotrace-encoder` inside the same critical
//! section, so the trace is consistent whatever interrupt lands next. Without `trace` the
//! scheduler runs the same way and no encoder code is linked. The core has no Cortex-M
//! dependency: the [`Platform`] trait is the only hardware hook.
//!
//! With the `sim` feature, [`sim`] runs the same scheduler on the host with simulated interrupt
//! contexts driven by a seeded random generator.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

mod context;
mod error;
mod kernel;
mod machine;
mod platform;
mod scheduler;
#[cfg(feature = "sim")]
pub mod sim;
mod task;

pub use context::{Annotate, Annotator, CallbackCx, TaskCx};
pub use error::Error;
/// The encoder the scheduler drives (sinks, clocks, statistics, state inspection).
pub use gotrace_encoder as encoder;
pub use gotrace_encoder::{Clock, Config, Sink};
pub use platform::Platform;
pub use scheduler::Scheduler;
pub use task::{Step, TaskFn, TaskId};
