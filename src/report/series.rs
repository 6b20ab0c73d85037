//! The `--stats-csv` time series: one row per sample interval, with the interval's own
//! ("periodic") figures and the run's cumulative ones side by side.

use std::io::{self, Write};
use std::time::Duration;

use super::hist::Hist;
use crate::deliver::LiveCounts;
use crate::deliver::Sample;
use crate::scenario::threshold::Stat;

/// The CSV header.
pub const HEADER: &str = "elapsed_s,calls_started,calls_active,calls_waiting,\
sent,sent_total,delivered,delivered_total,failed,failed_total,errors,errors_total,\
events_per_s,p50_ms,p90_ms,p99_ms,max_ms,p50_total_ms,p90_total_ms,p99_total_ms,max_total_ms";

/// Writes rows as samples come.
pub struct Series<W: Write> {
    out: W,
    prev: LiveCounts,
    prev_elapsed: Duration,
    total: Hist,
}

impl<W: Write> Series<W> {
    /// Starts the series with its header.
    pub fn new(mut out: W) -> io::Result<Self> {
        writeln!(out, "{HEADER}")?;
        Ok(Self {
            out,
            prev: LiveCounts::default(),
            prev_elapsed: Duration::ZERO,
            total: Hist::default(),
        })
    }

    /// One row for `sample`.
    pub fn row(&mut self, sample: &Sample) -> io::Result<()> {
        let (c, p) = (&sample.counts, &self.prev);
        let interval = Hist(sample.interval.clone());
        self.total.add(&interval);
        let secs = (sample.elapsed - self.prev_elapsed.min(sample.elapsed)).as_secs_f64();
        let rate = match secs > 0.0 {
            true => (c.delivered - p.delivered.min(c.delivered)) as f64 / secs,
            false => 0.0,
        };
        let ms = |h: &Hist, q| h.ms(q).map_or(String::new(), |v| format!("{v:.3}"));
        writeln!(
            self.out,
            "{:.3},{},{},{},{},{},{},{},{},{},{},{},{:.1},{},{},{},{},{},{},{},{}",
            sample.elapsed.as_secs_f64(),
            c.calls_started,
            c.calls_active,
            c.calls_waiting,
            c.sent - p.sent.min(c.sent),
            c.sent,
            c.delivered - p.delivered.min(c.delivered),
            c.delivered,
            c.failed - p.failed.min(c.failed),
            c.failed,
            c.errors - p.errors.min(c.errors),
            c.errors,
            rate,
            ms(&interval, Stat::P50),
            ms(&interval, Stat::P90),
            ms(&interval, Stat::P99),
            ms(&interval, Stat::Max),
            ms(&self.total, Stat::P50),
            ms(&self.total, Stat::P90),
            ms(&self.total, Stat::P99),
            ms(&self.total, Stat::Max),
        )?;
        self.prev = *c;
        self.prev_elapsed = sample.elapsed;
        Ok(())
    }

    /// Flush and hand back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_periodic_and_cumulative_columns() {
        let mut s = Series::new(Vec::new()).unwrap();
        let mut h = crate::deliver::new_histogram();
        h.record(2_000).unwrap();
        let mut sample = Sample {
            elapsed: Duration::from_secs(1),
            remaining: None,
            counts: LiveCounts {
                sent: 10,
                delivered: 9,
                failed: 1,
                errors: 1,
                ..Default::default()
            },
            interval: h.clone(),
            interval_raw: h.clone(),
        };
        s.row(&sample).unwrap();
        sample.elapsed = Duration::from_secs(2);
        sample.counts.sent = 25;
        sample.counts.delivered = 24;
        s.row(&sample).unwrap();
        let text = String::from_utf8(s.finish().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let cols = HEADER.split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols), "{text}");
        let row: Vec<&str> = lines[2].split(',').collect();
        assert_eq!((row[4], row[5], row[6], row[7]), ("15", "25", "15", "24"));
        assert_eq!(row[12], "15.0");
    }
}
