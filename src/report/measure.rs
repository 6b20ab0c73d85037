//! What a delivery run measures, for thresholds: [`Measure`] for [`Summary`].

use hdrhistogram::Histogram;

use super::verdict::Measure;
use crate::deliver::Summary;
use crate::scenario::threshold::{Metric, Stat};

impl Measure for Summary {
    /// Latency: `p99` from the corrected histogram (from each event's intended send time) when
    /// the run was paced, else from the request latency; `p99_raw` always from the request
    /// latency.
    /// `error_rate` over delivered + failed events, `throughput` in delivered events per second of
    /// wall time; `rate` is not measured (scripted calls have no target rate). With nothing
    /// delivered or failed, nothing is measured.
    fn measure(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Latency(stat) => {
                let corrected = self.corrected.as_ref().filter(|h| !h.is_empty());
                latency_ms(corrected.unwrap_or(&self.latency), stat)
            }
            Metric::RawLatency(stat) => latency_ms(&self.latency, stat),
            Metric::ErrorRate => {
                let total = self.delivered + self.failed;
                (total > 0).then(|| self.failed as f64 / total as f64)
            }
            Metric::Throughput => (self.delivered + self.failed > 0 && !self.wall.is_zero())
                .then(|| self.events_per_second()),
            Metric::Rate => None,
        }
    }
}

/// A statistic of a histogram of microseconds, in milliseconds; `None` when it is empty.
pub(crate) fn latency_ms(histogram: &Histogram<u64>, stat: Stat) -> Option<f64> {
    if histogram.is_empty() {
        return None;
    }
    let micros = match stat.quantile() {
        Some(q) if q >= 1.0 => histogram.max() as f64,
        Some(q) => histogram.value_at_quantile(q) as f64,
        None => histogram.mean(),
    };
    Some(micros / 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_statistics_are_in_milliseconds() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 2)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(latency_ms(&h, Stat::P99), None);
        for n in 1..=1_000u64 {
            h.saturating_record(n * 100);
        }
        let p50 = latency_ms(&h, Stat::P50).unwrap_or_default();
        assert!((p50 - 50.0).abs() < 0.5, "{p50}");
        let max = latency_ms(&h, Stat::Max).unwrap_or_default();
        assert!((max - 100.0).abs() < 1.0, "{max}");
        let mean = latency_ms(&h, Stat::Mean).unwrap_or_default();
        assert!((mean - 50.05).abs() < 0.5, "{mean}");
    }
}
