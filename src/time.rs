//! The virtual timeline: milliseconds since the scenario's start, formatted as wire timestamps.

use chrono::{DateTime, Datelike, FixedOffset, SecondsFormat, TimeZone, Utc};

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
        self.format_str(at).to_string()
    }

    /// [`Timeline::format`] as a shared string, with one allocation: the engine's timestamps.
    pub fn format_str(&self, at: Millis) -> crate::event::Str {
        let mut buf = [0u8; WIRE_LEN];
        match self.write_wire(at, &mut buf) {
            // Only ASCII digits and separators were written.
            Some(len) => std::str::from_utf8(&buf[..len]).expect("ASCII").into(),
            None => self.format_by_chrono(at).into(),
        }
    }

    /// What [`Timeline::format`] gives, by chrono: the reference, and the way for years outside
    /// 0000–9999.
    fn format_by_chrono(&self, at: Millis) -> String {
        let instant = self.instant(at);
        match self.offset {
            None => instant.to_rfc3339_opts(SecondsFormat::Millis, true),
            Some(offset) => offset
                .from_utc_datetime(&instant.naive_utc())
                .to_rfc3339_opts(SecondsFormat::Millis, false),
        }
    }

    /// Write the wire timestamp for `at` into `buf` (`YYYY-MM-DDTHH:MM:SS.mmm` then `Z` or
    /// `±HH:MM`, as [`Timeline::format_by_chrono`]) with chrono finding the date but not
    /// formatting it: its length, or `None` for a year outside 0000–9999.
    fn write_wire(&self, at: Millis, buf: &mut [u8; WIRE_LEN]) -> Option<usize> {
        let offset_s = self.offset.map_or(0, |o| i64::from(o.local_minus_utc()));
        let ms = self
            .start
            .timestamp_millis()
            .checked_add(i64::try_from(at).ok()?)?
            .checked_add(offset_s * 1000)?;
        let date = DateTime::from_timestamp_millis(ms)?.date_naive();
        let (year, month, day) = (i64::from(date.year()), date.month(), date.day());
        if !(0..=9999).contains(&year) {
            return None;
        }
        let ms_of_day = ms.rem_euclid(86_400_000);
        let digits = |buf: &mut [u8; WIRE_LEN], at: usize, value: i64, width: usize| {
            let mut v = value;
            for i in (0..width).rev() {
                buf[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        digits(buf, 0, year, 4);
        buf[4] = b'-';
        digits(buf, 5, i64::from(month), 2);
        buf[7] = b'-';
        digits(buf, 8, i64::from(day), 2);
        buf[10] = b'T';
        digits(buf, 11, ms_of_day / 3_600_000, 2);
        buf[13] = b':';
        digits(buf, 14, ms_of_day / 60_000 % 60, 2);
        buf[16] = b':';
        digits(buf, 17, ms_of_day / 1000 % 60, 2);
        buf[19] = b'.';
        digits(buf, 20, ms_of_day % 1000, 3);
        if self.offset.is_none() {
            buf[23] = b'Z';
            return Some(24);
        }
        buf[23] = if offset_s < 0 { b'-' } else { b'+' };
        let minutes = offset_s.abs() / 60;
        digits(buf, 24, minutes / 60, 2);
        buf[26] = b':';
        digits(buf, 27, minutes % 60, 2);
        Some(WIRE_LEN)
    }
}

/// The longest wire timestamp: `2019-10-01T15:31:15.000+10:00`.
const WIRE_LEN: usize = 29;

/// Where a run's PBX clock starts, and why: the origin of every timestamp in its events.
///
/// Pinned (`start_time` in the file, `--start-time`), the clock starts exactly there. Otherwise
/// it is anchored to the wall clock so that no event carries a timestamp later than the moment
/// it is sent: an event at virtual time `at` is sent no earlier than `at / speed` after the
/// start (at once with `--asap`), and its timestamps are at most `start + at`, so starting the
/// clock [`lead_for`] the run's last event in the past keeps every timestamp at or before its
/// sending, and puts the last event's timestamp at about the moment it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The PBX clock's start (virtual time 0).
    pub start: DateTime<Utc>,
    pub kind: AnchorKind,
}

/// How an [`Anchor`] was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    /// Given by the file or the command line; kept as it is.
    Pinned,
    /// `lead` milliseconds before the wall-clock moment the run was prepared (rounded down to
    /// the second, so `lead` may be up to a second more than was asked for).
    Anchored {
        lead: Millis,
        /// The virtual time of the run's last event, when known in advance (by simulating);
        /// `None` when the lead is an estimate (open-ended `load --asap`).
        horizon: Option<Millis>,
    },
}

impl Anchor {
    /// A start given by the file or the command line.
    pub fn pinned(start: DateTime<Utc>) -> Self {
        Self { start, kind: AnchorKind::Pinned }
    }

    /// The clock starts `lead` ms before `now`, rounded down to the second.
    pub fn back_from(now: DateTime<Utc>, lead: Millis, horizon: Option<Millis>) -> Self {
        use chrono::SubsecRound;
        let lead = i64::try_from(lead).unwrap_or(i64::MAX / 4).min(100 * 365 * 86_400_000);
        let start = (now - chrono::Duration::milliseconds(lead)).trunc_subsecs(0);
        let lead = (now - start).num_milliseconds().max(0) as Millis;
        Self { start, kind: AnchorKind::Anchored { lead, horizon } }
    }

    /// How far the clock starts before the moment the run was prepared; `None` when pinned.
    /// Delivery uses it as a backstop: an event at virtual `at` is not sent before
    /// `at - lead` after its start, so that even an estimate cannot send a timestamp from the
    /// future.
    pub fn lead(&self) -> Option<Millis> {
        match self.kind {
            AnchorKind::Pinned => None,
            AnchorKind::Anchored { lead, .. } => Some(lead),
        }
    }

    /// For a run header: `pinned at 2026-03-02T19:00:00+10:00`, `now, 2026-…`, or
    /// `4m30s back, at 2026-… (so the last event's timestamp is not ahead of its sending)`.
    pub fn describe(&self, offset: Option<FixedOffset>) -> String {
        let at = format_seconds(self.start, offset);
        match self.kind {
            AnchorKind::Pinned => format!("pinned at {at}"),
            AnchorKind::Anchored { lead, .. } if lead < 1_000 => format!("now, {at}"),
            AnchorKind::Anchored { lead, horizon: Some(_) } => format!(
                "{} back, at {at}, so that the last event's time is when it is sent",
                crate::duration::Human(lead / 1_000 * 1_000)
            ),
            AnchorKind::Anchored { lead, horizon: None } => format!(
                "{} back, at {at}, so that no timestamp is ahead of the wall clock",
                crate::duration::Human(lead / 1_000 * 1_000)
            ),
        }
    }
}

/// How far back the PBX clock must start so that a run whose last event is at virtual time
/// `horizon` (ms), sent at `speed` virtual seconds per wall second (`None`: as fast as
/// possible), sends no event before the time it carries: `horizon` with `--asap`,
/// `horizon × (1 − 1/speed)` faster than real time, nothing at real time or slower.
pub fn lead_for(horizon: Millis, speed: Option<f64>) -> Millis {
    match speed {
        None => horizon,
        Some(s) if s > 1.0 && s.is_finite() => (horizon as f64 * (1.0 - 1.0 / s)).ceil() as Millis,
        Some(_) => 0,
    }
}

/// An instant to the second, in `offset` (`2026-03-02T19:00:00+10:00`) or UTC (`…Z`).
pub fn format_seconds(instant: DateTime<Utc>, offset: Option<FixedOffset>) -> String {
    match offset {
        None => instant.to_rfc3339_opts(SecondsFormat::Secs, true),
        Some(offset) => offset
            .from_utc_datetime(&instant.naive_utc())
            .to_rfc3339_opts(SecondsFormat::Secs, false),
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

    proptest::proptest! {
        #[test]
        fn the_wire_format_is_chronos(
            start_s in -62_000_000_000i64..253_402_300_000,
            at in 0u64..10_000_000_000_000,
            offset_min in -14 * 60i32..=14 * 60,
            utc in proptest::bool::ANY,
        ) {
            let start = DateTime::from_timestamp(start_s, 0).unwrap();
            let offset = (!utc).then(|| FixedOffset::east_opt(offset_min * 60).unwrap());
            let t = Timeline::new(start, offset);
            proptest::prop_assert_eq!(t.format(at), t.format_by_chrono(at));
            proptest::prop_assert_eq!(&*t.format_str(at), t.format_by_chrono(at));
        }
    }

    #[test]
    fn the_wire_format_is_chronos_at_the_edges() {
        for (start, at, offset) in [
            ("0000-01-01T00:00:00Z", 0, None),
            ("9999-12-31T23:59:59Z", 999, None),
            ("9999-12-31T23:59:59Z", 1_000, None),
            ("9999-12-31T23:59:59Z", 0, parse_offset("+01:00")),
            ("0000-01-01T00:00:00Z", 0, parse_offset("-00:30")),
            ("2024-02-29T23:59:59.999Z", 1, parse_offset("-05:30")),
            ("1969-12-31T23:59:59.999Z", 0, None),
        ] {
            let t = Timeline::new(start.parse().unwrap(), offset);
            assert_eq!(t.format(at), t.format_by_chrono(at), "{start} + {at} {offset:?}");
        }
    }

    #[test]
    fn formats_with_an_offset() {
        let start = "2019-10-01T15:31:15Z".parse().unwrap();
        let t = Timeline::new(start, parse_offset("+10:00"));
        assert_eq!(t.format(0), "2019-10-02T01:31:15.000+10:00");
        assert_eq!(parse_offset("-05:30").unwrap().local_minus_utc(), -(5 * 3600 + 1800));
        assert_eq!(parse_offset("10:00"), None);
    }
    #[test]
    fn the_lead_keeps_the_last_event_at_or_before_its_sending() {
        assert_eq!(lead_for(600_000, None), 600_000);
        assert_eq!(lead_for(600_000, Some(10.0)), 540_000);
        assert_eq!(lead_for(600_000, Some(1.0)), 0);
        assert_eq!(lead_for(600_000, Some(0.5)), 0);
        // Every event at or before the horizon is sent at or after its own time.
        for (h, s) in [(1_234_567u64, 7.0), (999, 60.0), (86_400_000, 3.3)] {
            let lead = lead_for(h, Some(s));
            for at in [0, h / 3, h / 2, h] {
                let sent_ms = at as f64 / s;
                assert!(at as f64 - lead as f64 <= sent_ms + 1e-6, "{h} {s} {at}");
            }
        }
    }

    #[test]
    fn anchors_round_down_to_the_second_and_describe_themselves() {
        let now: DateTime<Utc> = "2026-03-02T09:00:00.750Z".parse().unwrap();
        let a = Anchor::back_from(now, 90_000, Some(100_000));
        assert_eq!(a.start, "2026-03-02T08:58:30Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(a.lead(), Some(90_750));
        let text = a.describe(parse_offset("+10:00"));
        assert!(text.starts_with("1m30s back, at 2026-03-02T18:58:30+10:00"), "{text}");
        let now_anchor = Anchor::back_from(now, 0, Some(0));
        assert_eq!(now_anchor.describe(None), "now, 2026-03-02T09:00:00Z");
        let pinned = Anchor::pinned(now);
        assert_eq!(pinned.lead(), None);
        assert!(pinned.describe(None).starts_with("pinned at "));
    }
}
