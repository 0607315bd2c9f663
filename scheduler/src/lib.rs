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
//! * **Another executor** (RTIC, Embassy, one's own) uses [`TracedMachine`], the checked state
//!   machine and encoder this scheduler is built on, from its own hooks.
//!
//! Every scheduling step is checked and applied by the scheduler's own state machine and, with
//! the `trace` feature (on by default), written by the `gotrace-encoder` inside the same critical
//! section, so the trace is consistent whatever interrupt lands next. Without `trace` the
//! scheduler runs the same way and none of the encoder's writing is linked (only its lock,
//! `Shared`, the annotations' constructors and its error type: about 1 KB). The core has no
//! Cortex-M dependency: the [`Platform`] trait is the only hardware hook.
//!
//! With the `sim` feature, the `sim` module runs the same scheduler on the host with simulated
//! interrupt contexts driven by a seeded random generator.
//!
//! # Using it in a firmware
//!
//! 1. A `critical-section` implementation (on a single-core Cortex-M: `cortex-m` with the
//!    `critical-section-single-core` feature): the scheduler's lock.
//! 2. A [`Platform`] (the current context: 0 in thread mode, 1.. per interrupt level that calls
//!    the scheduler, from the active exception number), a [`Clock`] (a free-running 32-bit
//!    counter that wraps at 2^32: DWT CYCCNT on a board; under QEMU, which does not count CYCCNT,
//!    a timer such as the MPS2 boards' CMSDK APB timer 0) and a [`Sink`] (where whole batches
//!    go: an RTT up channel; `gotrace-rtt`'s `RttSink` writes them into the trace channel as
//!    `gotrace record` reads them, lossless, lossy or as a flight recorder).
//! 3. One `static` [`Scheduler`] made with [`Scheduler::new`], its sink and clock made ready in
//!    `main` through [`Scheduler::with_encoder`] if they need run-time values (an RTT channel).
//! 4. [`Scheduler::spawn`] the tasks, [`Scheduler::start_tracing`], then
//!    [`Scheduler::run_executor`] in a loop (or [`Scheduler::run`], which never returns);
//!    generations end by [`Config`]'s limits or [`Scheduler::advance_generation`] from a timer.
//! 5. [`Scheduler::stop_tracing`] ends the trace (the last generation, then
//!    [`Sink::end_trace`]); let the host read the sink's channel empty before exiting
//!    (`gotrace-rtt`'s `RingWatch::flush`).
//!
//! To be recorded by `gotrace record`, the firmware also speaks its RTT protocol
//! (`gotrace-rtt-protocol`, in `rtt-protocol`): the trace on an up channel named
//! `gotrace` (the header, each batch whole, and at the end `END_MARKER` followed by an
//! `EndRecord`, written by [`Sink::end_trace`]: without it the last generation cannot be known
//! complete), and a down channel named `gotrace-control` for the host's `Start` and `Stop`
//! commands (read with `gotrace-rtt`'s `ControlChannel`; end the trace on `Stop`). The
//! crate's README ("Adding it to your own firmware") gives a whole minimal firmware for QEMU
//! `mps2-an385`, which the end-to-end tests build from its text and record;
//! `tests/minimal-firmware` is the same as a crate of its own, and `firmware-example` adds lossy
//! mode, logs and the session descriptor.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
// The front page links the tracing calls, which exist only with `trace`: built without it, the
// docs keep those names as text rather than warn.
#![cfg_attr(not(feature = "trace"), allow(rustdoc::broken_intra_doc_links))]

mod context;
mod error;
mod kernel;
mod machine;
mod platform;
mod scheduler;
#[cfg(feature = "sim")]
pub mod sim;
mod task;
mod traced;

pub use context::{Annotate, CallbackCx, TaskCx};
pub use error::Error;
/// The encoder the scheduler drives (sinks, clocks, statistics, state inspection).
pub use gotrace_encoder as encoder;
pub use gotrace_encoder::{Clock, Config, Offer, Sink};
pub use platform::Platform;
pub use scheduler::Scheduler;
pub use task::{Step, TaskFn, TaskId};
pub use traced::TracedMachine;
