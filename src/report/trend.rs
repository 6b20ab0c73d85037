//! The run over time, as the JSON report carries it (`series`) and the HTML report draws it:
//! one row per live sample (every second by default) with the interval's requests sent,
//! events delivered and failed, errors, calls, and the interval's corrected and raw latency
//! percentiles.
//!
//! A [`TrendRecorder`] takes the session's samples ([`TrendRecorder::sample`]), whose interval
//! histograms the delivery threads fill (no per-event lock or hook). Its memory is bounded: past [`MAX_ROWS`] rows, neighbouring rows merge in pairs and
//! later rows cover twice the time (counts add; each percentile of a merged row is the larger
//! of the two, so a spike is never smoothed away).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::hist::Hist;
use crate::deliver::{LiveCounts, Sample, new_histogram};
use crate::scenario::threshold::Stat;

/// The most rows a series keeps (an hour of one-second rows).
pub const MAX_ROWS: usize = 3600;

/// A run's time series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// Wall seconds each row covers (the last row may cover less).
    pub every_s: f64,
    /// Whether `latency` (corrected) is measured: paced runs only.
    pub corrected: bool,
    pub rows: Vec<TrendRow>,
}

/// One interval of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendRow {
    /// Wall seconds from the start of delivery to the end of this interval.
    pub t_s: f64,
    /// HTTP requests made in the interval (retries included).
    pub sent: u64,
    /// Events delivered (2xx).
    pub delivered: u64,
    /// Events that finally failed (cut off included).
    pub failed: u64,
    /// Requests that did not get a 2xx answer.
    pub errors: u64,
    /// Calls started in the interval (load runs).
    pub calls_started: u64,
    /// Calls in progress at the end of the interval (load runs).
    pub calls_active: u64,
    /// Corrected latency of the interval's deliveries (paced runs).
    pub latency: Option<Quantiles>,
    /// Raw latency (request start to answer) of the interval's deliveries.
    pub raw: Option<Quantiles>,
}

/// Percentiles of one interval, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Quantiles {
    fn of(h: &Histogram<u64>) -> Option<Quantiles> {
        let h = Hist(h.clone());
        Some(Quantiles {
            p50_ms: h.ms(Stat::P50)?,
            p90_ms: h.ms(Stat::P90)?,
            p99_ms: h.ms(Stat::P99)?,
            max_ms: h.ms(Stat::Max)?,
        })
    }

    fn worst(a: Option<Quantiles>, b: Option<Quantiles>) -> Option<Quantiles> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Quantiles {
                p50_ms: a.p50_ms.max(b.p50_ms),
                p90_ms: a.p90_ms.max(b.p90_ms),
                p99_ms: a.p99_ms.max(b.p99_ms),
                max_ms: a.max_ms.max(b.max_ms),
            }),
            (a, b) => a.or(b),
        }
    }
}

impl TrendRow {
    /// `self` followed by `next`, as one row.
    fn absorb(&mut self, next: &TrendRow) {
        self.t_s = next.t_s;
        self.sent += next.sent;
        self.delivered += next.delivered;
        self.failed += next.failed;
        self.errors += next.errors;
        self.calls_started += next.calls_started;
        self.calls_active = next.calls_active;
        self.latency = Quantiles::worst(self.latency, next.latency);
        self.raw = Quantiles::worst(self.raw, next.raw);
    }
}

impl Trend {
    /// Two generators' series run side by side: rows at the same index add (see
    /// [`TrendRow`]'s merge: counts add, percentiles take the larger).
    pub fn merge(&self, other: &Trend) -> Trend {
        let mut m = self.clone();
        m.every_s = m.every_s.max(other.every_s);
        m.corrected &= other.corrected;
        for (i, row) in other.rows.iter().enumerate() {
            match m.rows.get_mut(i) {
                Some(mine) => {
                    let t = mine.t_s.max(row.t_s);
                    let active = mine.calls_active + row.calls_active;
                    mine.absorb(row);
                    mine.t_s = t;
                    mine.calls_active = active;
                }
                None => m.rows.push(row.clone()),
            }
        }
        m
    }

    /// The sums of the rows' events: (sent, delivered, failed).
    pub fn totals(&self) -> (u64, u64, u64) {
        self.rows.iter().fold((0, 0, 0), |(s, d, f), r| (s + r.sent, d + r.delivered, f + r.failed))
    }
}

/// Builds a [`Trend`] from live samples; see the module docs.
#[derive(Debug)]
pub struct TrendRecorder {
    paced: bool,
    every: Option<Duration>,
    prev: LiveCounts,
    rows: Vec<TrendRow>,
    /// Samples per row (doubles each time the rows are merged in pairs).
    group: usize,
    /// The row being filled while `group > 1`, with its samples so far and its histograms.
    pending: Option<(TrendRow, usize, Histogram<u64>, Histogram<u64>)>,
}

impl TrendRecorder {
    /// A recorder for a run that is `paced` (corrected latency measured) or not.
    pub fn new(paced: bool) -> Self {
        TrendRecorder {
            paced,
            every: None,
            prev: LiveCounts::default(),
            rows: Vec::new(),
            group: 1,
            pending: None,
        }
    }

    /// One live sample: the interval since the previous one becomes (part of) a row.
    pub fn sample(&mut self, sample: &Sample) {
        let raw = &sample.interval_raw;
        if self.every.is_none() && sample.elapsed > Duration::ZERO {
            self.every = Some(sample.elapsed);
        }
        let (c, p) = (&sample.counts, &self.prev);
        let d = |now: u64, before: u64| now.saturating_sub(before);
        let mut row = TrendRow {
            t_s: sample.elapsed.as_secs_f64(),
            sent: d(c.sent, p.sent),
            delivered: d(c.delivered, p.delivered),
            failed: d(c.failed, p.failed),
            errors: d(c.errors, p.errors),
            calls_started: d(c.calls_started, p.calls_started),
            calls_active: c.calls_active,
            latency: None,
            raw: None,
        };
        self.prev = *c;
        let corrected = if self.paced { sample.interval.clone() } else { new_histogram() };
        if self.group == 1 {
            row.latency = Quantiles::of(&corrected);
            row.raw = Quantiles::of(raw);
            self.push(row);
            return;
        }
        let (mut acc, n, mut hc, mut hr) = self
            .pending
            .take()
            .unwrap_or_else(|| (TrendRow::default(), 0, new_histogram(), new_histogram()));
        acc.absorb(&row);
        let _ = hc.add(&corrected);
        let _ = hr.add(raw);
        if n + 1 < self.group {
            self.pending = Some((acc, n + 1, hc, hr));
            return;
        }
        acc.latency = Quantiles::of(&hc);
        acc.raw = Quantiles::of(&hr);
        self.push(acc);
    }

    /// [`Self::sample`], unless nothing happened since the previous sample (the run's last,
    /// partial interval).
    pub fn sample_if_new(&mut self, sample: &Sample) {
        if sample.counts != self.prev
            || !sample.interval_raw.is_empty()
            || !sample.interval.is_empty()
        {
            self.sample(sample);
        }
    }

    fn push(&mut self, row: TrendRow) {
        self.rows.push(row);
        if self.rows.len() < MAX_ROWS {
            return;
        }
        let rows = std::mem::take(&mut self.rows);
        for pair in rows.chunks(2) {
            let mut merged = pair[0].clone();
            if let Some(next) = pair.get(1) {
                merged.absorb(next);
            }
            self.rows.push(merged);
        }
        self.group *= 2;
    }

    /// The series: the samples' rows, and a row still being filled.
    pub fn finish(mut self) -> Trend {
        if let Some((mut acc, _, hc, hr)) = self.pending.take() {
            acc.latency = Quantiles::of(&hc);
            acc.raw = Quantiles::of(&hr);
            self.rows.push(acc);
        }
        let every = self.every.unwrap_or(Duration::from_secs(1)).as_secs_f64();
        Trend { every_s: every * self.group as f64, corrected: self.paced, rows: self.rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(secs: u64, sent: u64, delivered: u64, failed: u64, ms: &[u64]) -> Sample {
        let mut interval = new_histogram();
        for m in ms {
            interval.record(m * 1000).unwrap();
        }
        Sample {
            elapsed: Duration::from_secs(secs),
            remaining: None,
            counts: LiveCounts {
                sent,
                delivered,
                failed,
                errors: sent - delivered,
                ..Default::default()
            },
            interval,
            interval_raw: new_histogram(),
        }
    }

    #[test]
    fn rows_hold_each_intervals_counts_and_both_latencies() {
        let mut t = TrendRecorder::new(true);
        let mut first = sample(1, 10, 9, 1, &[5, 7]);
        first.interval_raw.record(2_000).unwrap();
        t.sample(&first);
        t.sample(&sample(2, 25, 23, 1, &[]));
        let trend = t.finish();
        assert_eq!(trend.every_s, 1.0);
        assert!(trend.corrected);
        let r = &trend.rows;
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].sent, r[0].delivered, r[0].failed, r[0].errors), (10, 9, 1, 1));
        assert_eq!((r[1].sent, r[1].delivered, r[1].failed, r[1].errors), (15, 14, 0, 1));
        let raw = r[0].raw.unwrap();
        assert!((raw.p50_ms - 2.0).abs() < 0.05, "{raw:?}");
        let corrected = r[0].latency.unwrap();
        assert!((corrected.max_ms - 7.0).abs() < 0.1, "{corrected:?}");
        assert_eq!((r[1].latency, r[1].raw), (None, None), "nothing delivered with a latency");
        assert_eq!(trend.totals(), (25, 23, 1));
    }

    #[test]
    fn unpaced_runs_have_no_corrected_latency() {
        let mut t = TrendRecorder::new(false);
        t.sample(&sample(1, 1, 1, 0, &[5]));
        let trend = t.finish();
        assert!(!trend.corrected);
        assert_eq!(trend.rows[0].latency, None);
    }

    #[test]
    fn long_runs_merge_rows_in_pairs_and_lose_no_event() {
        let mut t = TrendRecorder::new(true);
        let n = MAX_ROWS as u64 * 2 + 3;
        for i in 1..=n {
            let ms: &[u64] = if i == 1000 { &[900] } else { &[1] };
            t.sample(&sample(i, i * 2, i * 2, 0, ms));
        }
        let trend = t.finish();
        assert!(trend.rows.len() < MAX_ROWS, "{}", trend.rows.len());
        assert_eq!(trend.every_s, 4.0);
        assert_eq!(trend.totals().1, n * 2);
        let worst =
            trend.rows.iter().filter_map(|r| r.latency).map(|q| q.max_ms).fold(0.0, f64::max);
        assert!(worst > 800.0, "a spike survives merging: {worst}");
        assert_eq!(trend.rows.last().unwrap().t_s, n as f64);
    }

    #[test]
    fn merged_series_add_row_by_row() {
        let mut a = TrendRecorder::new(true);
        a.sample(&sample(1, 4, 4, 0, &[3]));
        let mut b = TrendRecorder::new(true);
        b.sample(&sample(1, 6, 5, 1, &[9]));
        b.sample(&sample(2, 8, 7, 1, &[9]));
        let m = a.finish().merge(&b.finish());
        assert_eq!(m.rows.len(), 2);
        assert_eq!(m.totals(), (12, 11, 1));
        assert!(m.rows[0].latency.unwrap().max_ms > 8.0);
    }
}
