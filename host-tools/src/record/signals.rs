//! How a user stops a recording: a first Ctrl-C, SIGTERM or SIGHUP asks for a clean stop (the
//! stop command, the firmware's end of trace, the check and summary); a second Ctrl-C aborts,
//! naming the files that hold the generations complete so far.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{segments, summary};
use crate::stdout::errln;

/// Counts Ctrl-C presses: the first asks the session for a clean stop (stop command, end record),
/// the second for an abort; the session loop sees both, and after an abort ends the QEMU it
/// started (with the link) and exits through [`abort`]. A session that has not done so within
/// [`ABORT_GRACE`] (stuck on a target that no longer answers) is ended from here.
pub(super) fn ctrl_c(opened: segments::Opened) -> Result<Arc<AtomicUsize>> {
    let presses = Arc::new(AtomicUsize::new(0));
    let handler = presses.clone();
    ctrlc::set_handler(move || {
        if handler.fetch_add(1, Ordering::SeqCst) == 1 {
            std::thread::sleep(ABORT_GRACE);
            abort(&opened);
        }
    })
    .context("installing the Ctrl-C handler")?;
    #[cfg(target_os = "linux")]
    stop_on_termination()?;
    Ok(presses)
}

/// Set by SIGTERM or SIGHUP: stop the recording cleanly, as a first Ctrl-C does.
static TERMINATION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes SIGTERM and SIGHUP (`timeout`, a service manager, a closed terminal) stop the recording
/// as a first Ctrl-C does, however many come: `timeout` sends its signal to the process and then
/// to its process group, which `record` is in, and that second SIGTERM, counted as a second
/// press, aborted the recording (exit 130, nothing checked nor summarised) whenever the two were
/// not merged while pending. A service manager that wants it gone follows with SIGKILL, which
/// takes the QEMU `record` started with it ([`qemu`](super::qemu)'s PR_SET_PDEATHSIG).
#[cfg(target_os = "linux")]
fn stop_on_termination() -> Result<()> {
    extern "C" fn on_termination(_: libc::c_int) {
        // An atomic store: async-signal-safe.
        TERMINATION.store(true, Ordering::SeqCst);
    }
    for signal in [libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is a valid one to fill in; the handler only stores to an
        // atomic.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_termination as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            return Err(std::io::Error::last_os_error())
                .context("installing the SIGTERM and SIGHUP handler");
        }
    }
    Ok(())
}

/// Whether the user asked for the recording to stop: a Ctrl-C, SIGTERM or SIGHUP.
pub(super) fn stop_asked(interrupts: &AtomicUsize) -> bool {
    interrupts.load(Ordering::SeqCst) > 0 || TERMINATION.load(Ordering::SeqCst)
}

/// How long the session gets to end by itself after the second Ctrl-C.
const ABORT_GRACE: Duration = Duration::from_secs(2);

/// Whether the user pressed Ctrl-C a second time: the session ends at once, unchecked.
pub(super) fn aborted(interrupts: &AtomicUsize) -> bool {
    interrupts.load(Ordering::SeqCst) >= 2
}

/// Exits with status 130, saying which files hold the generations complete until now.
pub(super) fn abort(opened: &segments::Opened) -> ! {
    // Held until the exit: a generation being written is finished, and none is begun.
    let files = segments::lock(opened);
    errln!("gotrace record: aborted; {}", kept(&files));
    std::process::exit(130);
}

/// Which files hold the generations complete so far, for a recording that ends unchecked: of
/// more than ten (a lossy recording that kept dropping), the first and last three.
pub(super) fn kept(files: &segments::OpenedFiles) -> String {
    let names = files.paths().map(|p| p.display().to_string());
    if names.len() == 0 {
        return "no generation was complete: no trace written".to_owned();
    }
    format!(
        "the generations complete until now are in {} (not checked)",
        summary::joined_ends(names, 10, 3, "files")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_abort_names_the_files_written_the_first_and_last_of_many() {
        let files = |count| super::segments::OpenedFiles::counted("out.trace".as_ref(), count);
        assert_eq!(
            super::kept(&files(0)),
            "no generation was complete: no trace written"
        );
        assert_eq!(
            super::kept(&files(2)),
            "the generations complete until now are in out.trace, out.2.trace (not checked)"
        );
        assert_eq!(
            super::kept(&files(50)),
            "the generations complete until now are in out.trace, out.2.trace, out.3.trace, \
             … 44 files more …, out.48.trace, out.49.trace, out.50.trace (not checked)"
        );
    }
}
