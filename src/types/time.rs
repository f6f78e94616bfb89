//! Time as a node sees it: microseconds since the run began.
//!
//! Both worlds speak the same time. The threaded runtime reads the machine's monotonic
//! clock and subtracts the moment the run started; the simulator keeps a virtual clock
//! that jumps from event to event. Protocol code sees only [`Time`] through `ctx.now()`,
//! so it cannot tell the two apart, which is the point.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in a run: microseconds since the run began.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Time(pub u64);

impl Time {
    /// The start of every run.
    pub const ZERO: Time = Time(0);

    /// Microseconds since the run began.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// The time elapsed since `earlier` (zero if `earlier` is later).
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }

    /// This time as a duration since the start of the run.
    pub fn as_duration(self) -> Duration {
        Duration::from_micros(self.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(micros(d)))
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, earlier: Time) -> Duration {
        self.since(earlier)
    }
}

impl fmt::Display for Time {
    /// `1.400250s`: seconds, to the microsecond.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// A duration in whole microseconds, saturating (a duration of centuries is "never").
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Parses a human duration: `250us`, `150ms`, `1s`, `1.5s`, `2m`. A bare number is
/// refused, because a reader who typed `--duration 3` could have meant any unit.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("'{text}' has no unit; write e.g. 500ms, 2s, 250us or 1m"))?;
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' does not start with a number; write e.g. 500ms or 2s"))?;
    let scale_us = match unit {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" | "min" => 60e6,
        _ => {
            return Err(format!(
                "'{text}' has an unknown unit '{unit}'; use us, ms, s or m"
            ))
        }
    };
    let us = value * scale_us;
    if !us.is_finite() || us > 1e15 {
        return Err(format!("'{text}' is too long a duration"));
    }
    Ok(Duration::from_micros(us.round() as u64))
}

/// Formats a duration the way [`parse_duration`] reads it, in the largest exact unit.
pub fn format_duration(d: Duration) -> String {
    let us = micros(d);
    if us == 0 {
        "0ms".to_string()
    } else if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(parse_duration("3").unwrap_err().contains("no unit"));
        assert!(parse_duration("3h").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("1.2.3s").is_err());
    }

    #[test]
    fn format_round_trips() {
        for text in ["0ms", "250us", "150ms", "3s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
    }
}
