//! The gotrace command-line tool: one module per subcommand, dispatched from [`Command`].
//!
//! Every subcommand returns the process exit code it wants (0 fine, 1 the trace is not valid) or
//! an error, which means the command could not do its job (bad usage, unreadable file): exit 2.

mod dump;
mod events;
mod input;
mod record;
mod stats;
mod stdout;
mod symbolize;
mod validate;

use std::process::ExitCode;

use crate::stdout::errln;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gotrace",
    version,
    about = "Go execution traces for microcontroller firmware"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Validate(validate::Args),
    /// Print the raw events of a trace (binary, text or .test) in Go's text form.
    Dump(input::FileArgs),
    /// Print the validated events of a trace (binary, text or .test), as `go tool trace -d=parsed`.
    Events(input::FileArgs),
    /// Record a trace over RTT from firmware under QEMU or on a board.
    Record(record::RecordArgs),
    /// Name the stack frames of a recorded trace after the firmware's functions (ELF symbols).
    Symbolize(symbolize::Args),
    /// Where each goroutine's (task's) time went, as `go tool trace`'s goroutine analysis shows it.
    Stats(input::FileArgs),
}

fn main() -> ExitCode {
    write_errors_past_a_file_size_limit();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Dump(args) => dump::run(args),
        Command::Events(args) => events::run(args),
        Command::Record(args) => record::run(&args),
        Command::Symbolize(args) => symbolize::run(args),
        Command::Stats(args) => stats::run(args),
    };
    outcome.unwrap_or_else(|error| {
        errln!("gotrace: {error:#}");
        ExitCode::from(2)
    })
}

/// A write past the file size limit (`ulimit -f`) is an error (EFBIG) that the writers handle,
/// as a full disk's is (`record` cuts the output back to whole generations and names the file;
/// `symbolize` removes its partial file), rather than SIGXFSZ killing the process mid-write.
fn write_errors_past_a_file_size_limit() {
    #[cfg(target_os = "linux")]
    // SAFETY: sets a signal's disposition to ignored, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn validate_s_help_gives_its_exit_statuses() {
        // The README's 0 valid / 1 invalid / 2 unreadable were nowhere in `gotrace validate --help`.
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("validate")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(
            help.contains("Exit status: 0 when every trace is valid; 1 when any is not"),
            "{help}"
        );
        assert!(help.contains("2 when a file cannot be read"), "{help}");
        Cli::command().debug_assert();
    }
}
