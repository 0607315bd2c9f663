//! `gotrace stats FILE`: where each goroutine's time went (on a device: each task's), in the
//! figures of `go tool trace`'s goroutine analysis, without a browser.
//!
//! Two tables: the goroutines grouped by start location (their entry function) with their
//! execution time, as its `/goroutines` page lists them; then each goroutine with its total time
//! and where that went, as its `/goroutine?name=` pages show them, with the same column names
//! and Go's duration format, so that a figure is looked up in either. A column a goroutine never
//! had a figure in shows `-` (the viewer shows `0s` there); notes after the tables say where the
//! viewer's figures read otherwise than they look. An invalid trace is summed up to the error, as
//! the viewer does, then the error goes to stderr and the exit status is 1.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::ExitCode;

use gotrace_decoder::{GoroutineSummary, Summarizer};

use crate::input::{open, validating_reader, FileArgs, Opened};
use crate::stdout::{self, errln, outln};

/// How the viewer names a goroutine of no stack seen.
const UNNAMED: &str = "(Inactive, no stack trace sampled)";

pub fn run(args: FileArgs) -> anyhow::Result<ExitCode> {
    let file = &args.file;
    let (input, failure) = match open(file)? {
        Opened::Trace(input, failure) => (input, failure),
        Opened::NotATrace(error) => {
            errln!("{}: {error}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut reader = match validating_reader(file, input)? {
        Ok(opened) => opened,
        Err(error) => {
            failure.check(file)?;
            errln!("{}: {error}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut summarizer = Summarizer::new();
    let mut span = None;
    let error = loop {
        match reader.read_event_ref() {
            Ok(Some(event)) => {
                let (first, _) = span.get_or_insert((event.time(), event.time()));
                span = Some((*first, event.time()));
                summarizer.event(event);
            }
            // A text's lines after where the reader stopped are converted too.
            Ok(None) => break reader.get_mut().finish().err(),
            Err(error) => break Some(error),
        }
    };
    if error.is_some() {
        // A read that failed is why the trace looked cut: no verdict.
        failure.check(file)?;
    }
    let goroutines = summarizer.finish();
    let (first, last) = span.unwrap_or_default();
    outln!(
        "{}: {} goroutines over {} (first to last event){}",
        file.display(),
        goroutines.len(),
        go_duration(last - first),
        if error.is_some() {
            ", up to the error below"
        } else {
            ""
        }
    );
    print_groups(&goroutines);
    print_goroutines(&goroutines);
    stdout::check()?;
    Ok(match error {
        Some(error) => {
            errln!("{}: {}", file.display(), reader.get_ref().explain(error));
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    })
}

/// The goroutines by start location, the most executing first (the viewer's `/goroutines`).
fn print_groups(goroutines: &[GoroutineSummary]) {
    let mut groups: BTreeMap<&[u8], (usize, i64)> = BTreeMap::new();
    for g in goroutines {
        let group = groups.entry(&g.name).or_default();
        group.0 += 1;
        // Modulo 2^64, as Go adds durations: a trace's times may span most of that range.
        group.1 = group.1.wrapping_add(g.times.exec);
    }
    let all = groups
        .values()
        .map(|&(_, exec)| exec)
        .fold(0, i64::wrapping_add);
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by_key(|&(name, (_, exec))| (std::cmp::Reverse(exec), name));
    let row = |i: usize| {
        let (name, (count, exec)) = groups[i];
        let share = if all > 0 {
            format!("{:.2}%", exec as f64 / all as f64 * 100.0)
        } else {
            String::new()
        };
        vec![location(name), count.to_string(), go_duration(exec), share]
    };
    print_table(
        &[
            "Start location",
            "Count",
            "Total execution time",
            "Of all execution",
        ],
        groups.len(),
        row,
    );
}

/// Each goroutine, the longest in the trace first (the viewer's `/goroutine?name=` pages, all
/// groups in one table). Its rows are made twice, to measure the columns and to print them,
/// rather than held: a trace of 200,000 goroutines held them as 2 million strings.
fn print_goroutines(goroutines: &[GoroutineSummary]) {
    let figures =
        |g: &GoroutineSummary| -> BTreeMap<String, i64> { g.times.named().into_iter().collect() };
    // The viewer's order of its columns: "Execution time" first, then by name.
    let mut others: BTreeSet<String> = BTreeSet::new();
    let mut overcounted = false;
    for g in goroutines {
        let figures = figures(g);
        overcounted |= figures.values().map(|&time| i128::from(time)).sum::<i128>()
            > i128::from(g.times.total);
        others.extend(figures.into_keys().filter(|name| name != "Execution time"));
    }
    let mut columns: Vec<&str> = vec!["Execution time"];
    columns.extend(others.iter().map(String::as_str));
    let ranges: BTreeSet<&[u8]> = goroutines
        .iter()
        .flat_map(|g| g.times.ranges.keys().map(Vec::as_slice))
        .collect();
    let mut order: Vec<usize> = (0..goroutines.len()).collect();
    order.sort_by_key(|&i| {
        (
            std::cmp::Reverse(goroutines[i].times.total),
            goroutines[i].id,
        )
    });
    let row = |i: usize| {
        let g = &goroutines[order[i]];
        let figures = figures(g);
        let mut row = vec![g.id.to_string(), go_duration(g.times.total)];
        row.extend(columns.iter().map(|&column| {
            figures
                .get(column)
                .map_or_else(|| "-".to_owned(), |&time| go_duration(time))
        }));
        row.extend(ranges.iter().map(|&range| {
            g.times
                .ranges
                .get(range)
                .map_or_else(|| "-".to_owned(), |&time| go_duration(time))
        }));
        row.push(location(&g.name));
        row
    };
    let range_headers: Vec<String> = ranges
        .iter()
        .map(|range| format!("Range: {}", String::from_utf8_lossy(range)))
        .collect();
    let mut headers = vec!["Goroutine", "Total"];
    headers.extend(columns.iter().copied());
    headers.extend(range_headers.iter().map(String::as_str));
    headers.push("Start location");
    print_table(&headers, order.len(), row);
    // The viewer's figures where they read otherwise than they look, after a blank line.
    let mut notes = Vec::new();
    if columns.contains(&"Block time ()") {
        notes.push("Block time (): waiting from the start of the generation it was first seen in, for no reason the trace gives");
    }
    if overcounted {
        notes.push("Figures adding up to more than Total: a system call still going at the trace's end whose P was taken counts as Syscall execution time throughout and also, since the loss, as Sched wait time, as the viewer counts it");
    }
    if !notes.is_empty() {
        outln!("");
        for note in notes {
            outln!("{note}");
        }
    }
}

fn location(name: &[u8]) -> String {
    if name.is_empty() {
        UNNAMED.to_owned()
    } else {
        String::from_utf8_lossy(name).into_owned()
    }
}

/// A blank line, then `headers` and the `count` rows that `row` makes, in columns two spaces
/// apart; the last column is not padded (a start location can be long). Each row is made twice
/// (measured, then printed), none kept.
fn print_table(headers: &[&str], count: usize, row: impl Fn(usize) -> Vec<String>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for i in 0..count {
        for (width, cell) in widths.iter_mut().zip(row(i)) {
            *width = (*width).max(cell.chars().count());
        }
    }
    outln!("");
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut line = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        outln!("{}", line.trim_end());
    };
    line(&mut headers.iter().copied());
    for i in 0..count {
        line(&mut row(i).iter().map(String::as_str));
    }
}

/// A duration in nanoseconds as Go's `time.Duration` prints it (`1.5µs`, `2m3.25s`), which is
/// how the viewer shows its figures.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    const SECOND: u64 = 1_000_000_000;
    let body = if u < SECOND {
        let (scale, unit) = match u {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        format!("{}{unit}", decimal(u, scale))
    } else {
        let seconds = format!("{}s", decimal(u % (60 * SECOND), SECOND));
        let minutes = u / SECOND / 60;
        match minutes {
            0 => seconds,
            1..60 => format!("{minutes}m{seconds}"),
            _ => format!("{}h{}m{seconds}", minutes / 60, minutes % 60),
        }
    };
    format!("{sign}{body}")
}

/// `value / scale` in decimal, its fraction without trailing zeros (none when whole).
fn decimal(value: u64, scale: u64) -> String {
    let (whole, fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = scale.ilog10() as usize;
    let fraction = format!("{fraction:0digits$}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn durations_print_as_go_prints_them() {
        // Each as Go's `time.Duration(n).String()` gives it.
        for (nanos, go) in [
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_000, "1µs"),
            (1_500, "1.5µs"),
            (1_234_567, "1.234567ms"),
            (100_000_000, "100ms"),
            (1_000_000_000, "1s"),
            (1_500_000_001, "1.500000001s"),
            (60_000_000_000, "1m0s"),
            (61_500_000_000, "1m1.5s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (-1_500, "-1.5µs"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(go_duration(nanos), go, "{nanos} ns");
        }
    }
}
