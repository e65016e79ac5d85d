//! Helm's (Go's) duration syntax: `5m0s`, `300s`, `1h2m3.5s`, `250ms`.

use std::time::Duration;

/// A duration string that Go's `time.ParseDuration` would reject (or a negative one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{0}` (expected Helm's syntax, for example 5m0s, 90s or 1h30m)")]
pub struct DurationError(pub String);

/// Parse a Go duration (kube-core's `metav1.Duration` parser, which follows
/// Go's `time.ParseDuration`). Units: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; a
/// bare `0` is zero; surrounding blanks are ignored; empty or negative is refused.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(input.to_string());
    let s = input.trim();
    let unsigned = s.strip_prefix('+').unwrap_or(s);
    if unsigned.is_empty() || unsigned.starts_with(['+', '-']) || too_large(unsigned) {
        return Err(err());
    }
    let parsed: kube::core::Duration = s.parse().map_err(|_| err())?;
    if parsed.is_negative() {
        return Err(err());
    }
    Ok(parsed.into())
}

/// Longer than any duration worth waiting for, or a number the parser's
/// `std::time::Duration` arithmetic would overflow on (it panics): more than
/// 64 characters, or a whole part of more than 12 digits (999999999999h is
/// 114 million years).
fn too_large(s: &str) -> bool {
    s.len() > 64
        || s.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .any(|number| {
                number
                    .split('.')
                    .next()
                    .is_some_and(|whole| whole.len() > 12)
            })
}

/// Format a duration the way Go prints it (`5m0s`, `1h0m0s`, `1.5s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let hours = ms / 3_600_000;
    let minutes = (ms / 60_000) % 60;
    let millis = ms % 60_000;
    let seconds = if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        let text = format!("{:.3}", millis as f64 / 1000.0);
        format!("{}s", text.trim_end_matches('0'))
    };
    match (hours, minutes) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_helm_spellings() {
        assert_eq!(parse_duration("5m0s").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("300s").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("1h2m3.5s").unwrap(),
            Duration::from_millis(3_723_500)
        );
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration(" +90s ").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2µs").unwrap(), Duration::from_micros(2));
        assert_eq!(
            parse_duration("999999999999h").unwrap(),
            Duration::from_secs(999_999_999_999 * 3600)
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "-1s",
            "1.2.3s",
            "s5",
            "+-1s",
            "++1s",
            "9999999999999h",
            "99999999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_duration(Duration::from_secs(300)), "5m0s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }
}
