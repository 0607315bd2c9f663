//! `record` on a terminal (a pseudo-terminal by util-linux's `script`): the progress row drawn on
//! one row, which the logs and the summary take over; a flight recording's says what the device
//! holds.

use super::*;

/// On a terminal, `record` shows its progress (bytes, generations, events, rate) on one row it
/// redraws, and the logs and the summary take that row as they come: run in a pseudo-terminal
/// (`script`, from util-linux), the screen it leaves holds every log line and the summary whole,
/// and no progress.
#[test]
fn on_a_terminal_progress_is_drawn_on_one_row_that_logs_and_the_summary_take_over() {
    let test = "terminal-progress";
    let Some(elf) = default_m3(test) else {
        return;
    };
    let Some(terminal) = record_on_a_terminal(test, &elf, "", 200) else {
        return;
    };
    let progress: Vec<Vec<f64>> = progress_drawn(&terminal, " KiB, generations ")
        .into_iter()
        .filter(|figures| figures.len() == 5)
        .collect();
    assert!(
        progress
            .iter()
            .any(|f| f[0] > 0.0 && f[1] > 0.0 && f[2] > 0.0 && f[3] > 0.0 && f[4] > 0.0),
        "no progress drawn with bytes, generations, events, a rate and log lines: {progress:?}\n{terminal:?}"
    );

    let screen = screen_left_by(&terminal);
    assert!(!screen.contains(" KiB, generations "), "{screen}");
    assert_every_log_line(&screen);
    for line in ["  valid", "lost: nothing", "firmware exit status: 0"] {
        assert!(
            screen.lines().any(|l| l == line),
            "no {line:?} row:\n{screen}"
        );
    }
}

/// A flight recording's channel is read only at the end, so its progress row says what the
/// device holds at each look: the newest generation moving on, the oldest too once the firmware
/// overwrites, rather than "0.0 KiB" received the whole run.
#[test]
fn on_a_terminal_a_flight_recording_shows_what_the_device_holds() {
    let test = "terminal-flight";
    let Some(elf) = m3_built(test, "until-stopped", &["--features", "until-stopped"]) else {
        return;
    };
    let options = "--flight-recorder --duration 2 --icount 5";
    // Narrower than the whole row: cut to 71 columns, it never wraps (a wrapped row was erased
    // only in its last line, the rest left behind at each redraw), and still shows the range.
    let Some(terminal) = record_on_a_terminal(test, &elf, options, 72) else {
        return;
    };
    let drawn: Vec<&str> = terminal
        .split("\r\x1b[2K")
        .filter_map(|drawn| drawn.split(['\r', '\n', '\x1b']).next())
        .filter(|line| line.starts_with("flight recorder: "))
        .collect();
    assert!(
        drawn.iter().all(|line| line.chars().count() <= 71)
            && drawn.iter().any(|line| line.chars().count() == 71),
        "progress rows not cut to the terminal's 72 columns: {drawn:?}"
    );
    // "flight recorder: 7.8 KiB held on the device, generations 14..=58, 23 log lines".
    let ranges: Vec<(u64, u64)> = drawn
        .iter()
        .filter_map(|line| {
            let range = line
                .strip_prefix("flight recorder: ")?
                .split(", generations ")
                .nth(1)?
                .split(',')
                .next()?;
            let (oldest, newest) = range.split_once("..=")?;
            Some((oldest.parse().ok()?, newest.parse().ok()?))
        })
        .collect();
    assert!(
        ranges.windows(2).any(|w| w[1].1 > w[0].1) && ranges.iter().any(|&(oldest, _)| oldest > 1),
        "no progress drawn with the held generations moving on and overwritten: {ranges:?}\n{terminal:?}"
    );
    let screen = screen_left_by(&terminal);
    assert!(!screen.contains("flight recorder: "), "{screen}");
    for line in ["  valid", "lost: nothing", "firmware exit status: 0"] {
        assert!(
            screen.lines().any(|l| l == line),
            "no {line:?} row:\n{screen}"
        );
    }
    assert!(
        screen.contains("read once, at the end of the recording (a flight recording"),
        "{screen}"
    );
}

/// Runs `gotrace record --qemu ELF OPTIONS` in a pseudo-terminal (`script`, from util-linux) of
/// `columns` (and 24 rows: a size of no rows, `script`'s without a terminal of its own, is no
/// size), as on a terminal: what the terminal was sent, or `None` without `script` outside
/// CI.
fn record_on_a_terminal(test: &str, elf: &Path, options: &str, columns: u16) -> Option<String> {
    let out = scratch_dir().join(format!("{test}.trace"));
    // Paths in double quotes, for the shell `script` runs the command with.
    let command = format!(
        "stty rows 24 cols {columns} && {:?} record --qemu {:?} -o {:?} {options}",
        gotrace_tests::cli::binary(),
        elf,
        out
    );
    let Ok(run) = Command::new("script")
        .args([
            "--quiet",
            "--flush",
            "--return",
            "--command",
            &command,
            "/dev/null",
        ])
        .stdin(Stdio::null())
        .output()
    else {
        missing_tool(test, "script (util-linux)", "running `script` failed");
        return None;
    };
    let terminal = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{terminal}");
    Some(terminal)
}

/// The figures of each drawing of the progress row (the row erased, then the line) that holds
/// `marker`: the numbers among its words.
fn progress_drawn(terminal: &str, marker: &str) -> Vec<Vec<f64>> {
    terminal
        .split("\r\x1b[2K")
        .skip(1)
        .filter_map(|drawn| {
            let line = drawn.split(['\r', '\n', '\x1b']).next()?;
            let figures = line
                .split([',', ' '])
                .filter_map(|word| word.parse().ok())
                .collect();
            line.contains(marker).then_some(figures)
        })
        .collect()
}

/// The rows a terminal shows after `output`: a carriage return goes to the row's start, `ESC [
/// 2 K` erases the row, a line feed goes down a row, other characters overwrite.
fn screen_left_by(output: &str) -> String {
    let mut rows = vec![Vec::<char>::new()];
    let mut column = 0;
    let mut chars = output.chars();
    while let Some(c) = chars.next() {
        let row = rows.last_mut().unwrap();
        match c {
            '\r' => column = 0,
            '\n' => {
                rows.push(Vec::new());
                column = 0;
            }
            '\x1b' => {
                let sequence: String = chars.by_ref().take(3).collect();
                assert_eq!(sequence, "[2K", "an escape the screen model does not know");
                row.clear();
            }
            c => {
                if column < row.len() {
                    row[column] = c;
                } else {
                    row.resize(column, ' ');
                    row.push(c);
                }
                column += 1;
            }
        }
    }
    rows.iter()
        .map(|row| row.iter().collect::<String>().trim_end().to_owned() + "\n")
        .collect()
}
