//! `gotrace record`'s command line: the ways to the firmware (QEMU started or attached to, a
//! board through probe-rs), each with only its own options, and what the recording is asked
//! for. Checked as it is parsed, so that no option is taken and then ignored without a word.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Arguments of `gotrace record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The firmware ELF (with its symbols: RTT block, defmt table).
    pub elf: PathBuf,
    /// Run the ELF under QEMU (qemu-system-arm) and read RTT through QEMU's gdbstub.
    // Each way of reaching the target excludes the others, and the options of one are refused
    // with another: `--qemu --attach`, `--chip --attach`, `--attach --machine` were taken and the
    // option ignored without a word.
    #[arg(long, conflicts_with_all = ["chip", "probe", "attach"])]
    pub qemu: bool,
    /// QEMU machine for --qemu; by default mps2-an386 (Cortex-M4F) for a hard-float ELF,
    /// mps2-an385 (Cortex-M3) otherwise, for an image that boots from their memory (a vector
    /// table in the first 4 MiB): another board's (an STM32's flash at 0x08000000) needs its own.
    #[arg(long, conflicts_with_all = ["attach", "chip"])]
    pub machine: Option<String>,
    /// Attach to a QEMU already serving gdb at HOST:PORT instead of starting one.
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port, conflicts_with_all = ["chip", "probe"])]
    pub attach: Option<String>,
    /// QEMU's instruction counting (`-icount shift=N`): deterministic virtual time. More of
    /// QEMU's icount options may follow (`5,align=on`: the guest kept at its virtual rate, 32 ns
    /// an instruction; with a large shift, where the guest runs slower than the host could, each
    /// poll's halt delays it further: poll less often, `--poll-ms 100`). `off` runs QEMU without
    /// it.
    #[arg(long, default_value = "0", conflicts_with_all = ["attach", "chip"])]
    pub icount: String,
    /// Target chip of a real board, flashed and read through probe-rs (e.g. nRF52840_xxAA).
    #[arg(long)]
    pub chip: Option<String>,
    /// Debug probe selector (VID:PID or VID:PID:SERIAL, hexadecimal) for --chip; the first probe
    /// found if omitted.
    #[arg(long, requires = "chip")]
    pub probe: Option<String>,
    /// Where to write the trace (by default the ELF's file name with `.trace`, in the current
    /// directory); more files `NAME.2.trace`, ... if losses split it.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// `--output` given after the ELF, as `scripts/record-qemu.sh` takes it.
    #[arg(value_name = "OUTPUT", conflicts_with = "output")]
    pub output_after_elf: Option<PathBuf>,
    /// Stop after this many seconds (of host time).
    #[arg(long, value_parser = seconds)]
    pub duration: Option<f64>,
    /// Never block the firmware: drop what does not fit, and report it.
    #[arg(long)]
    pub lossy: bool,
    /// Never block the firmware, and keep its newest generations: it overwrites its oldest in
    /// its trace channel (a flight recorder), which is read once, when the trace ends or the
    /// firmware hard-faults or panics (the last generations before it; under QEMU).
    #[arg(long, conflicts_with = "lossy")]
    pub flight_recorder: bool,
    /// Generation length in microseconds of device time (0: the firmware's default).
    #[arg(long, default_value_t = 0)]
    pub generation_us: u32,
    /// Milliseconds between two drains of the RTT buffers, at most 1000: a longer wait outlasted
    /// the 5 s the firmware is given to end its trace after the stop command, whose end then
    /// came after the recording had given up on it, and the firmware was blamed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub poll_ms: u64,
}

/// `record` needs one of its ways to the firmware; none given, each is named.
pub(super) fn check_target_named(args: &RecordArgs) -> Result<()> {
    if !args.qemu && args.attach.is_none() && args.chip.is_none() {
        bail!(
            "say where the firmware runs: --qemu, --attach HOST:PORT for a QEMU already running, \
             or --chip CHIP for a board through a debug probe{}",
            if cfg!(feature = "probe-rs") {
                ""
            } else {
                " (a gotrace built with --features probe-rs)"
            }
        );
    }
    Ok(())
}

/// A duration in seconds, 0 or more: `--duration=-1` or `nan` would compare false with every
/// elapsed time, and be taken without a word as 0 (stop at once) or as no duration at all.
fn seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s >= 0.0 => Ok(s),
        Ok(_) => Err("a number of seconds, 0 or more".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// `--attach`'s `HOST:PORT` (a bracketed IPv6 host too), checked as it is parsed: a port alone or
/// a host alone got std's "invalid socket address" as the QEMU's connection failed.
fn host_port(text: &str) -> Result<String, String> {
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(text.to_owned()),
        _ => Err("want HOST:PORT, where a QEMU started with `-gdb tcp::PORT` serves gdb (localhost:1234)".to_owned()),
    }
}

pub(super) fn default_output(elf: &Path) -> PathBuf {
    let stem = elf
        .file_stem()
        .map_or("firmware".into(), |s| s.to_string_lossy());
    PathBuf::from(format!("{stem}.trace"))
}

#[cfg(test)]
pub(super) mod tests {
    use clap::Parser;

    use super::{check_target_named, RecordArgs};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RecordArgs,
    }

    pub(in crate::record) fn parse(args: &[&str]) -> Result<RecordArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("record").chain(args.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn a_board_is_named_by_chip_and_optionally_probe() {
        let args = parse(&["fw.elf", "--chip", "nRF52840_xxAA", "--probe", "1366:1015"]).unwrap();
        assert_eq!(args.chip.as_deref(), Some("nRF52840_xxAA"));
        assert_eq!(args.probe.as_deref(), Some("1366:1015"));
        assert!(!args.qemu);
    }

    #[test]
    fn the_output_may_follow_the_elf_or_be_named_but_not_both() {
        // Taken after the ELF as the script takes it, it was an unexpected argument.
        let args = parse(&["--qemu", "fw.elf", "out.trace"]).unwrap();
        assert_eq!(
            args.output_after_elf.as_deref(),
            Some(std::path::Path::new("out.trace"))
        );
        let args = parse(&["--qemu", "fw.elf", "-o", "out.trace"]).unwrap();
        assert_eq!(
            args.output.as_deref(),
            Some(std::path::Path::new("out.trace"))
        );
        assert_eq!(
            parse(&["fw.elf", "a.trace", "-o", "b.trace"])
                .err()
                .map(|e| e.kind()),
            Some(clap::error::ErrorKind::ArgumentConflict)
        );
    }

    #[test]
    fn a_probe_needs_a_chip_and_qemu_excludes_both() {
        let kind = |args: &[&str]| parse(args).err().map(|e| e.kind());
        assert_eq!(
            kind(&["fw.elf", "--probe", "1366:1015"]),
            Some(clap::error::ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            kind(&["fw.elf", "--qemu", "--chip", "nRF52840_xxAA"]),
            Some(clap::error::ErrorKind::ArgumentConflict)
        );
        assert_eq!(kind(&["fw.elf", "--qemu"]), None);
    }

    #[test]
    fn one_way_to_the_target_and_only_its_options() {
        // Each of these was taken, one option ignored without a word (--qemu, --attach,
        // --machine, --icount).
        use clap::error::ErrorKind::ArgumentConflict;
        let kind = |args: &[&str]| parse(args).err().map(|e| e.kind());
        let cases: [(&[&str], _); 6] = [
            (&["--qemu", "--attach", "localhost:1234"], ArgumentConflict),
            (
                &["--chip", "nRF52840_xxAA", "--attach", "localhost:1234"],
                ArgumentConflict,
            ),
            (
                &["--attach", "localhost:1234", "--machine", "mps2-an505"],
                ArgumentConflict,
            ),
            (
                &["--attach", "localhost:1234", "--icount", "5"],
                ArgumentConflict,
            ),
            (
                &["--chip", "nRF52840_xxAA", "--machine", "mps2-an505"],
                ArgumentConflict,
            ),
            (
                &["--chip", "nRF52840_xxAA", "--icount", "off"],
                ArgumentConflict,
            ),
        ];
        for (args, expected) in cases {
            let args = [&["fw.elf"], args].concat();
            assert_eq!(kind(&args), Some(expected), "{args:?}");
        }
        // What each way takes, and the icount default (no --icount given) with any of them.
        for ok in [
            &["--qemu", "--machine", "mps2-an505", "--icount", "off"][..],
            &["--attach", "localhost:1234"],
            &["--chip", "nRF52840_xxAA"],
        ] {
            let args = [&["fw.elf"], ok].concat();
            assert_eq!(kind(&args), None, "{args:?}");
        }
    }

    #[test]
    fn no_way_to_the_target_names_each_of_them() {
        let error = check_target_named(&parse(&["fw.elf"]).unwrap()).unwrap_err();
        let error = error.to_string();
        for way in ["--qemu", "--attach HOST:PORT", "--chip CHIP"] {
            assert!(error.contains(way), "{error}");
        }
        assert_eq!(
            error.contains("--features probe-rs"),
            !cfg!(feature = "probe-rs"),
            "{error}"
        );
        for way in [
            &["--qemu"][..],
            &["--attach", "localhost:1"],
            &["--chip", "x"],
        ] {
            let args = parse(&[&["fw.elf"], way].concat()).unwrap();
            assert!(check_target_named(&args).is_ok(), "{way:?}");
        }
    }

    #[test]
    fn attach_takes_a_host_and_a_port() {
        let attach = |a: &str| parse(&["fw.elf", "--attach", a]).map(|args| args.attach);
        for good in ["localhost:1234", "127.0.0.1:1", "[::1]:1234"] {
            assert_eq!(attach(good).unwrap().as_deref(), Some(good));
        }
        for bad in [
            "localhost",
            ":1234",
            "1234",
            "localhost:",
            "localhost:99999",
        ] {
            let error = attach(bad).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{bad}"
            );
            assert!(
                error.to_string().contains("want HOST:PORT"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn a_duration_is_zero_seconds_or_more() {
        let duration = |d: &str| parse(&["fw.elf", "--qemu", &format!("--duration={d}")]);
        assert_eq!(duration("0").unwrap().duration, Some(0.0));
        assert_eq!(duration("2.5").unwrap().duration, Some(2.5));
        for bad in ["-1", "NaN", "soon"] {
            assert_eq!(
                duration(bad).err().map(|e| e.kind()),
                Some(clap::error::ErrorKind::ValueValidation),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_poll_interval_is_a_second_at_most() {
        // `--poll-ms 6000`: a Ctrl-C's stop command was acted on, but the end record came after
        // the 5 s the recording waits for it, which then blamed the firmware.
        let poll = |ms: &str| parse(&["fw.elf", "--qemu", "--poll-ms", ms]);
        assert_eq!(poll("0").unwrap().poll_ms, 0);
        assert_eq!(poll("1000").unwrap().poll_ms, 1000);
        assert_eq!(
            poll("1001").err().map(|e| e.kind()),
            Some(clap::error::ErrorKind::ValueValidation)
        );
    }
}
