//! Time values as Unix seconds: RFC 3339 (protobuf JSON `Timestamp`), ASN.1 `GeneralizedTime`
//! with optional fractional seconds (RFC 3161 `genTime`), and X.509 validity times.
//!
//! Fractions of a second are dropped (rounded toward the past): every comparison in this crate
//! is between whole seconds, which is what the Sigstore clients compare too.

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

/// Unix seconds of a validated civil date and time.
fn civil(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    // A leap second (60) is accepted as the last second of its minute.
    let ok = (1..=12).contains(&mo)
        && d >= 1
        && d <= days_in_month(y, mo)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0..=60).contains(&s);
    ok.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59))
}

/// Skips `.digits` (a fraction of a second) at the front of `s`.
fn skip_fraction(s: &[u8]) -> Option<&[u8]> {
    match s.split_first() {
        Some((b'.', rest)) => {
            let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            (n > 0).then(|| &rest[n..])
        }
        _ => Some(s),
    }
}

/// Parses RFC 3339 (`2023-07-12T15:56:36Z`, `...36.999Z`, `...36+02:00`) to Unix seconds.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let t = civil(
        digits(&b[0..4])?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    )?;
    let zone = skip_fraction(&b[19..])?;
    let offset = match zone {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some(t - offset)
}

/// Parses the content of a DER `GeneralizedTime` (`YYYYMMDDHHMMSS[.f*]Z`) to Unix seconds.
pub(crate) fn parse_generalized_time(value: &[u8]) -> Option<i64> {
    if value.len() < 15 {
        return None;
    }
    let t = civil(
        digits(&value[0..4])?,
        digits(&value[4..6])?,
        digits(&value[6..8])?,
        digits(&value[8..10])?,
        digits(&value[10..12])?,
        digits(&value[12..14])?,
    )?;
    (skip_fraction(&value[14..])? == b"Z").then_some(t)
}

/// Unix seconds of an X.509 validity time.
pub(crate) fn x509_time(t: &x509_cert::time::Time) -> i64 {
    // `der` only represents times from 1970 to 9999, so the seconds fit in an i64.
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Formats Unix seconds as RFC 3339 UTC, for messages.
pub(crate) fn display(unix: i64) -> String {
    hallmark_sigstore::rfc3339(unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2023-07-12T15:56:36Z"), Some(1_689_177_396));
        assert_eq!(
            parse_rfc3339("2022-12-31T23:59:59.999Z"),
            Some(1_672_531_199)
        );
        assert_eq!(
            parse_rfc3339("2023-07-12T17:56:36+02:00"),
            Some(1_689_177_396)
        );
        for bad in [
            "",
            "2023-07-12",
            "2023-07-12T15:56:36",
            "2023-13-12T15:56:36Z",
            "2023-02-29T15:56:36Z",
            "2023-07-12T15:56:36.Z",
            "2023-07-12T15:56:36Zjunk",
            "2023-07-12 15:56:36Z",
            "２023-07-12T15:56:36Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for unix in [0, 1_689_177_396, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&display(unix)), Some(unix));
        }
    }

    #[test]
    fn generalized_time_forms() {
        assert_eq!(
            parse_generalized_time(b"20250612120220Z"),
            Some(1_749_729_740)
        );
        assert_eq!(
            parse_generalized_time(b"20250612120220.123Z"),
            Some(1_749_729_740)
        );
        assert_eq!(parse_generalized_time(b"20250612120220"), None);
        assert_eq!(parse_generalized_time(b"20250612120220+0100"), None);
        assert_eq!(parse_generalized_time(b"2025061212022Z"), None);
    }
}
