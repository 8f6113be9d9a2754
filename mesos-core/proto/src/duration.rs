//! Mesos' text form of durations (`10secs`, `500ms`, `1.5mins`), as its
//! flags and executor environment variables use it.
//!
//! ```
//! use mesos_proto::duration::{format_duration, parse_duration};
//! use std::time::Duration;
//!
//! assert_eq!(parse_duration("15mins").unwrap(), Duration::from_secs(900));
//! assert_eq!(format_duration(Duration::from_secs(5)), "5secs");
//! assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
//! ```

use std::time::Duration;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// No number at the start.
    #[error("expected a number followed by a unit, as in 10secs")]
    NotANumber,
    /// A number without a unit.
    #[error("missing unit: use ns, us, ms, secs, mins, hrs, days or weeks")]
    MissingUnit,
    /// A unit Mesos does not know.
    #[error("unknown unit `{0}`: use ns, us, ms, secs, mins, hrs, days or weeks")]
    UnknownUnit(String),
    /// Negative, infinite or too large.
    #[error("out of range: {0}")]
    OutOfRange(String),
}

/// Parses a Mesos duration: a number and a unit (`ns`, `us`, `ms`,
/// `secs`, `mins`, `hrs`, `days`, `weeks`).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| DurationError::NotANumber)?;
    let scale = match unit {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "secs" => 1.0,
        "mins" => 60.0,
        "hrs" => 3600.0,
        "days" => 86400.0,
        "weeks" => 604_800.0,
        "" => return Err(DurationError::MissingUnit),
        other => return Err(DurationError::UnknownUnit(other.to_string())),
    };
    Duration::try_from_secs_f64(n * scale).map_err(|e| DurationError::OutOfRange(e.to_string()))
}

/// Writes a duration in the largest unit that keeps it whole, as Mesos
/// does (`5secs`, `15mins`, `1500ms`); it parses back to the same value.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    const UNITS: [(u128, &str); 8] = [
        (604_800_000_000_000, "weeks"),
        (86_400_000_000_000, "days"),
        (3_600_000_000_000, "hrs"),
        (60_000_000_000, "mins"),
        (1_000_000_000, "secs"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if nanos == 0 {
        return "0secs".into();
    }
    for (size, unit) in UNITS {
        if nanos % size == 0 {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_durations() {
        assert_eq!(parse_duration("10secs").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5mins").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2hrs").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("10"), Err(DurationError::MissingUnit));
        assert_eq!(
            parse_duration("10parsecs"),
            Err(DurationError::UnknownUnit("parsecs".into()))
        );
        assert_eq!(parse_duration("secs"), Err(DurationError::NotANumber));
    }

    #[test]
    fn format_round_trips() {
        for d in [
            Duration::ZERO,
            Duration::from_nanos(7),
            Duration::from_millis(1500),
            Duration::from_secs(5),
            Duration::from_secs(900),
            Duration::from_secs(86400 * 14),
        ] {
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
    }
}
