//! HDR histograms in reports: percentiles for people, and every recorded bucket so that
//! reports merge exactly later.
//!
//! The serialized form (`"encoding": "pbxsim-hdr-v1"`) keeps the histogram's bounds and
//! precision and a list of `[value, count]` pairs, one per non-empty bucket, `value` being the
//! bucket's highest equivalent value in microseconds. Recording each pair again into a
//! histogram of the same bounds rebuilds it bucket for bucket, so merging two reports gives
//! exactly the histogram of both runs together. (The hdrhistogram crate's V2 serializer needs
//! extra crates; this needs none and stays readable.)

use std::fmt;

use hdrhistogram::Histogram;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::deliver::new_histogram;
use crate::scenario::threshold::Stat;

const ENCODING: &str = "pbxsim-hdr-v1";

/// A latency histogram in microseconds, as reports carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hist(pub Histogram<u64>);

impl Default for Hist {
    fn default() -> Self {
        Hist(new_histogram())
    }
}

impl Hist {
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A statistic in milliseconds; `None` when nothing was recorded.
    pub fn ms(&self, q: Stat) -> Option<f64> {
        let h = &self.0;
        if h.is_empty() {
            return None;
        }
        let micros = match q.quantile() {
            Some(1.0) => h.max() as f64,
            Some(quantile) => h.value_at_quantile(quantile) as f64,
            None => h.mean(),
        };
        Some(micros / 1000.0)
    }

    /// Add `other`'s counts (same bounds: always exact).
    pub fn add(&mut self, other: &Hist) {
        if self.0.add(&other.0).is_err() {
            // Different bounds (a foreign report): record bucket by bucket, saturating.
            for v in other.0.iter_recorded() {
                self.0.saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    /// "p50 1.20 ms  p90 …  max …".
    pub fn line(&self, stats: &[Stat]) -> String {
        let parts: Vec<String> = stats
            .iter()
            .map(|q| format!("{} {}", q.name(), self.ms(*q).map_or("-".into(), fmt_ms)))
            .collect();
        parts.join("  ")
    }
}

/// Milliseconds for people: two decimals below 10 ms, one below 1000, none above.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

impl fmt::Display for Hist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line(&Stat::ALL))
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    count: u64,
    #[serde(default, skip_deserializing)]
    p50_ms: Option<f64>,
    #[serde(default, skip_deserializing)]
    p90_ms: Option<f64>,
    #[serde(default, skip_deserializing)]
    p95_ms: Option<f64>,
    #[serde(default, skip_deserializing)]
    p99_ms: Option<f64>,
    #[serde(default, skip_deserializing)]
    p99_9_ms: Option<f64>,
    #[serde(default, skip_deserializing)]
    max_ms: Option<f64>,
    #[serde(default, skip_deserializing)]
    mean_ms: Option<f64>,
    encoding: String,
    unit: String,
    lowest: u64,
    highest: u64,
    significant_digits: u8,
    buckets: Vec<(u64, u64)>,
}

impl Serialize for Hist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = &self.0;
        let wire = Wire {
            count: h.len(),
            p50_ms: self.ms(Stat::P50),
            p90_ms: self.ms(Stat::P90),
            p95_ms: self.ms(Stat::P95),
            p99_ms: self.ms(Stat::P99),
            p99_9_ms: self.ms(Stat::P999),
            max_ms: self.ms(Stat::Max),
            mean_ms: self.ms(Stat::Mean),
            encoding: ENCODING.into(),
            unit: "us".into(),
            lowest: h.low(),
            highest: h.high(),
            significant_digits: h.sigfig(),
            buckets: h
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        };
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Hist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hist, D::Error> {
        let wire = Wire::deserialize(d)?;
        if wire.encoding != ENCODING {
            return Err(D::Error::custom(format!(
                "unknown histogram encoding `{}` (expected {ENCODING})",
                wire.encoding
            )));
        }
        let mut h = Histogram::new_with_bounds(wire.lowest, wire.highest, wire.significant_digits)
            .map_err(|e| D::Error::custom(format!("bad histogram bounds: {e:?}")))?;
        for (value, count) in wire.buckets {
            h.record_n(value, count)
                .map_err(|e| D::Error::custom(format!("bad histogram bucket {value}: {e:?}")))?;
        }
        Ok(Hist(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seed: u64, n: u64) -> Hist {
        let mut h = Hist::default();
        let mut x = seed;
        for _ in 0..n {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            h.0.record(1 + (x >> 33) % 5_000_000).unwrap();
        }
        h
    }

    #[test]
    fn round_trips_bucket_for_bucket() {
        let h = sample(7, 10_000);
        let json = serde_json::to_string(&h).unwrap();
        let back: Hist = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.ms(Stat::P99), h.ms(Stat::P99));
    }

    #[test]
    fn merging_serialized_histograms_is_exact() {
        let (a, b) = (sample(1, 5_000), sample(2, 7_000));
        let mut both = a.clone();
        both.add(&b);
        let mut merged: Hist = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        merged.add(&serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap());
        assert_eq!(merged, both);
        for q in Stat::ALL {
            assert_eq!(merged.ms(q), both.ms(q), "{q:?}");
        }
    }
}
