//! Go's `time.Unix(sec, nsec).Format(time.RFC3339Nano)`, for the wall clock of Go 1.25 Sync
//! events. Go formats in the local time zone; we format in UTC, which is what Go prints on a
//! machine whose zone is UTC (CI machines, containers).

/// Seconds from Go's absolute epoch to the Unix epoch (Go's `unixToAbsolute`).
const UNIX_TO_ABSOLUTE: u64 = 9_223_372_028_741_760_000;

/// `2025-02-28T15:04:09.000000123Z`: fraction without trailing zeros, none when zero.
pub(crate) fn rfc3339_nano_utc(sec: i64, nsec: i64) -> String {
    // Normalise as Go's time.Unix does.
    let (mut sec, mut nsec) = (sec, nsec);
    if !(0..1_000_000_000).contains(&nsec) {
        let carry = nsec / 1_000_000_000;
        sec = sec.wrapping_add(carry);
        nsec -= carry * 1_000_000_000;
        if nsec < 0 {
            nsec += 1_000_000_000;
            sec = sec.wrapping_sub(1);
        }
    }
    // Go counts seconds from its absolute epoch (March 1 of year -292277022400) in a u64, with
    // wrapping arithmetic: a time before that epoch wraps around to the far future.
    let absolute = (sec as u64).wrapping_add(UNIX_TO_ABSOLUTE);
    let sec = i128::from(absolute) - i128::from(UNIX_TO_ABSOLUTE);
    let days = sec.div_euclid(86_400) as i64; // |days| < 2^64 / 86400
    let of_day = sec.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut text = String::new();
    if year < 0 {
        text.push('-');
    }
    text.push_str(&format!(
        "{:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        year.unsigned_abs(),
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    ));
    if nsec != 0 {
        let fraction = format!("{nsec:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm),
/// in i128 so that no day count can overflow it.
fn civil_from_days(days: i64) -> (i128, u32, u32) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go_in_utc() {
        assert_eq!(
            rfc3339_nano_utc(1_740_755_049, 123),
            "2025-02-28T15:04:09.000000123Z"
        );
        assert_eq!(rfc3339_nano_utc(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano_utc(951_782_400, 500_000_000),
            "2000-02-29T00:00:00.5Z"
        );
        assert_eq!(rfc3339_nano_utc(-1, 0), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339_nano_utc(0, 1_500_000_000), "1970-01-01T00:00:01.5Z");
        // The first days of a year after a century's, as Go prints them.
        assert_eq!(rfc3339_nano_utc(4_139_078_400, 0), "2101-03-01T00:00:00Z");
        assert_eq!(rfc3339_nano_utc(13_606_272_000, 0), "2401-03-02T00:00:00Z");
        // Year 0 takes no sign; the year before it does.
        assert_eq!(rfc3339_nano_utc(-62_167_219_200, 0), "0000-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano_utc(-62_167_219_201, 0),
            "-0001-12-31T23:59:59Z"
        );
        // Absurd inputs format without panicking.
        assert!(!rfc3339_nano_utc(i64::MAX, i64::MAX).is_empty());
        assert!(!rfc3339_nano_utc(i64::MIN, i64::MIN).is_empty());
    }
}
