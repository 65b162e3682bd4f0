//! Time values as Unix seconds: RFC 3339 (protobuf JSON `Timestamp`), ASN.1 `GeneralizedTime`
//! with optional fractional seconds (RFC 3161 `genTime`), and X.509 validity times. The
//! calendar arithmetic is `der::DateTime`'s, through `hallmark_sigstore::time`.
//!
//! Fractions of a second are dropped (rounded toward the past): every comparison in this crate
//! is between whole seconds, which is what the Sigstore clients compare too.

pub(crate) use hallmark_sigstore::time::parse_generalized_time;

/// Unix seconds of an X.509 validity time.
pub(crate) fn x509_time(t: &x509_cert::time::Time) -> i64 {
    // `der` only represents times from 1970 to 9999, so the seconds fit in an i64.
    i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Formats Unix seconds as RFC 3339 UTC, for messages (a time outside 1970 to 9999, which no
/// verified time is, shows as its Unix seconds).
pub(crate) fn display(unix: i64) -> String {
    hallmark_sigstore::rfc3339(unix).unwrap_or_else(|_| format!("Unix time {unix}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hallmark_sigstore::time::parse_rfc3339;

    #[test]
    fn display_round_trips_and_names_times_out_of_range() {
        for unix in [0, 1_689_177_396, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&display(unix)), Some(unix));
        }
        assert_eq!(display(-1), "Unix time -1");
    }
}
