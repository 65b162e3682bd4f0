//! Timestamps as the Sigstore documents write them: RFC 3339 (the protobuf JSON form of a
//! `Timestamp`), converted to and from Unix seconds through [`der::DateTime`], which does the
//! calendar arithmetic (and limits years to 1970..=9999, the range X.509 and the Sigstore
//! documents need).
//!
//! Fractions of a second are dropped when read (rounded toward the past): Sigstore clients
//! compare whole seconds.

use std::time::Duration;

use der::DateTime;

use crate::error::{EntryError, Result};

/// Formats Unix seconds as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
///
/// # Errors
///
/// [`EntryError::TimeOutOfRange`] before 1970 or after 9999.
pub fn rfc3339(unix: i64) -> Result<String> {
    let t = u64::try_from(unix)
        .ok()
        .and_then(|s| DateTime::from_unix_duration(Duration::from_secs(s)).ok())
        .ok_or(EntryError::TimeOutOfRange { unix })?;
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    ))
}

/// Unix seconds of a civil UTC date and time, validated by [`der::DateTime`] (month lengths,
/// leap years). A leap second (60) counts as the last second of its minute.
#[must_use]
pub fn unix_from_civil(
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
) -> Option<i64> {
    let t = DateTime::new(year, month, day, hour, minute, second.min(59)).ok()?;
    i64::try_from(t.unix_duration().as_secs()).ok()
}

fn digits<T: TryFrom<u32>>(s: &[u8]) -> Option<T> {
    if s.is_empty() || s.len() > 4 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    T::try_from(s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))).ok()
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
/// `None` for anything else, or a time outside 1970..=9999 (before the offset is applied).
#[must_use]
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let t = unix_from_civil(
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
            let h: i64 = digits(&[*h1, *h2])?;
            let m: i64 = digits(&[*m1, *m2])?;
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

/// Parses the content of a DER `GeneralizedTime` with optional fractional seconds
/// (`YYYYMMDDHHMMSS[.f*]Z`, the RFC 3161 `genTime`) to Unix seconds.
#[must_use]
pub fn parse_generalized_time(value: &[u8]) -> Option<i64> {
    if value.len() < 15 {
        return None;
    }
    let t = unix_from_civil(
        digits(&value[0..4])?,
        digits(&value[4..6])?,
        digits(&value[6..8])?,
        digits(&value[8..10])?,
        digits(&value[10..12])?,
        digits(&value[12..14])?,
    )?;
    (skip_fraction(&value[14..])? == b"Z").then_some(t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), Some(1_483_228_799));
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
            "2023-07-12T24:00:00Z",
            "2023-07-12T15:56:36+24:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for unix in [0, 951_782_400, 1_689_177_396, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(unix).unwrap()), Some(unix));
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

    #[test]
    fn out_of_range_times_are_errors() {
        assert!(rfc3339(-1).is_err());
        assert!(rfc3339(253_402_300_800).is_err(), "year 10000");
        assert_eq!(rfc3339(253_402_300_799).unwrap(), "9999-12-31T23:59:59Z");
    }
}
