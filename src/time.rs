//! The virtual timeline: milliseconds since the scenario's start, formatted as wire timestamps.

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeZone, Utc};

use crate::duration::Millis;

/// Maps virtual milliseconds onto calendar timestamps in the scenario's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    start: DateTime<Utc>,
    /// `None` formats in UTC with a `Z` suffix (`2019-10-01T15:31:15.000Z`), the default.
    offset: Option<FixedOffset>,
}

impl Timeline {
    pub fn new(start: DateTime<Utc>, offset: Option<FixedOffset>) -> Self {
        Self { start, offset }
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn offset(&self) -> Option<FixedOffset> {
        self.offset
    }

    /// The instant `at` milliseconds after the start.
    pub fn instant(&self, at: Millis) -> DateTime<Utc> {
        self.start + chrono::Duration::milliseconds(at as i64)
    }

    /// The wire timestamp for `at` milliseconds after the start.
    pub fn format(&self, at: Millis) -> String {
        let instant = self.instant(at);
        match self.offset {
            None => instant.to_rfc3339_opts(SecondsFormat::Millis, true),
            Some(offset) => offset
                .from_utc_datetime(&instant.naive_utc())
                .to_rfc3339_opts(SecondsFormat::Millis, false),
        }
    }
}

/// Parse a time zone offset such as `+10:00`, `-05:30` or `Z`.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    if text == "Z" || text == "UTC" {
        return FixedOffset::east_opt(0);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = text[1..].split_once(':').unwrap_or((&text[1..], "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_millis_by_default() {
        let start = "2019-10-01T15:31:15Z".parse().unwrap();
        let t = Timeline::new(start, None);
        assert_eq!(t.format(0), "2019-10-01T15:31:15.000Z");
        assert_eq!(t.format(14_250), "2019-10-01T15:31:29.250Z");
    }

    #[test]
    fn formats_with_an_offset() {
        let start = "2019-10-01T15:31:15Z".parse().unwrap();
        let t = Timeline::new(start, parse_offset("+10:00"));
        assert_eq!(t.format(0), "2019-10-02T01:31:15.000+10:00");
        assert_eq!(parse_offset("-05:30").unwrap().local_minus_utc(), -(5 * 3600 + 1800));
        assert_eq!(parse_offset("10:00"), None);
    }
}
