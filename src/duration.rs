//! Human durations (`15s`, `2m`, `1h30m`, `250ms`) in whole milliseconds of virtual time.

use std::fmt;

/// Virtual time and durations are whole milliseconds.
pub type Millis = u64;

/// Why a duration string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; write it like `15s`, `2m` or `1h30m`")]
    Empty,
    #[error("negative duration `{0}`; durations must be zero or more, like `0s` or `15s`")]
    Negative(String),
    #[error("cannot read duration `{0}`; write it like `15s`, `2m`, `1h30m` or `250ms`")]
    Invalid(String),
}

/// Parse `15s`, `2m`, `1h30m`, `1.5s`, `250ms` or `0`. Units: `ms`, `s`, `m`, `h`, `d`.
pub fn parse(input: &str) -> Result<Millis, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative(input.to_string()));
    }
    if text == "0" {
        return Ok(0);
    }
    let invalid = || DurationError::Invalid(input.to_string());
    let bytes = text.as_bytes();
    let mut total: f64 = 0.0;
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        while pos < bytes.len() && (bytes[pos].is_ascii_digit() || bytes[pos] == b'.') {
            pos += 1;
        }
        if start == pos {
            return Err(invalid());
        }
        let number: f64 = text[start..pos].parse().map_err(|_| invalid())?;
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let factor = match &text[unit_start..pos] {
            "ms" => 1.0,
            "s" | "sec" => 1_000.0,
            "m" | "min" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return Err(invalid()),
        };
        total += number * factor;
    }
    if !total.is_finite() || total > 1e15 {
        return Err(invalid());
    }
    Ok(total.round() as Millis)
}

/// Formats milliseconds the way [`parse`] reads them: `1h30m`, `15s`, `1.5s`, `250ms`.
pub struct Human(pub Millis);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 1_000 {
            return write!(f, "{ms}ms");
        }
        let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
        let (m, rem) = (rem / 60_000, rem % 60_000);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if rem > 0 {
            if rem % 1_000 == 0 {
                write!(f, "{}s", rem / 1_000)?;
            } else {
                write!(f, "{}s", rem as f64 / 1_000.0)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("15s"), Ok(15_000));
        assert_eq!(parse("2m"), Ok(120_000));
        assert_eq!(parse("1h30m"), Ok(5_400_000));
        assert_eq!(parse("250ms"), Ok(250));
        assert_eq!(parse("1.5s"), Ok(1_500));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("0s"), Ok(0));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(parse("-5s"), Err(DurationError::Negative(_))));
        assert!(matches!(parse("5"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("5x"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("s"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse(""), Err(DurationError::Empty)));
    }

    #[test]
    fn formats_back() {
        for ms in [0, 250, 1_000, 1_500, 15_000, 120_000, 5_400_000, 3_723_000] {
            assert_eq!(parse(&Human(ms).to_string()), Ok(ms), "{}", Human(ms));
        }
    }
}
