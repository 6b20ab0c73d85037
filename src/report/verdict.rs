//! Threshold verdicts: a run's measurements ([`Measure`]) checked against the scenario's
//! [`Threshold`]s ([`check_all`]), one [`Verdict`] each, as text ([`render`]) or JSON.
//!
//! The thresholds themselves, and their parser, are configuration: they live in
//! [`crate::scenario::threshold`].

use serde::Serialize;

use crate::scenario::threshold::{Metric, Threshold};

/// The measurements a run can give.
pub trait Measure {
    /// The value of `metric`, in the threshold's units (see [`Threshold::limit`]); `None` when
    /// this run does not measure it (the threshold then fails as "not measured").
    fn measure(&self, metric: Metric) -> Option<f64>;
}

/// One threshold checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub threshold: Threshold,
    /// The measured value; `None`: not measured.
    pub actual: Option<f64>,
    pub pass: bool,
}

impl Verdict {
    /// `31.2ms`, or `not measured`.
    pub fn actual_text(&self) -> String {
        match self.actual {
            Some(v) => self.threshold.metric.format_value(v),
            None => "not measured".to_string(),
        }
    }
}

/// Checks every threshold against `m`. A threshold passes only when measured and holding.
pub fn check_all(thresholds: &[Threshold], m: &impl Measure) -> Vec<Verdict> {
    thresholds
        .iter()
        .map(|t| {
            let actual = m.measure(t.metric);
            let pass = actual.is_some_and(|a| t.passes(a));
            Verdict { threshold: t.clone(), actual, pass }
        })
        .collect()
}

/// The verdicts as report JSON: each verdict's fields (`threshold` in normal form, `actual`,
/// null when not measured, `pass`) and `actual_text`.
pub fn verdicts_json(verdicts: &[Verdict]) -> Vec<serde_json::Value> {
    verdicts
        .iter()
        .map(|v| {
            let mut value = serde_json::to_value(v).unwrap_or_default();
            if let Some(map) = value.as_object_mut() {
                map.insert("actual_text".into(), v.actual_text().into());
            }
            value
        })
        .collect()
}

/// Human lines, one per verdict: `pass  p99 < 250ms         (31.2ms)`.
pub fn render(verdicts: &[Verdict]) -> String {
    let texts: Vec<String> = verdicts.iter().map(|v| v.threshold.to_string()).collect();
    let width = texts.iter().map(|t| t.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (v, text) in verdicts.iter().zip(&texts) {
        let word = if v.pass { "pass" } else { "fail" };
        out.push_str(&format!("{word}  {text:<width$}  ({})\n", v.actual_text()));
    }
    out
}

/// The verdicts under a run's summary: `thresholds 1 passed, 1 failed`, then each verdict's
/// [`render`] line indented.
pub fn render_with_count(verdicts: &[Verdict]) -> String {
    let failed = verdicts.iter().filter(|v| !v.pass).count();
    let mut out = format!("thresholds {} passed, {failed} failed\n", verdicts.len() - failed);
    for line in render(verdicts).lines() {
        out.push_str(&format!("           {line}\n"));
    }
    out
}

/// The verdicts back from report JSON ([`verdicts_json`]); an entry whose threshold does not
/// parse is left out.
pub fn verdicts_from_json(values: &[serde_json::Value]) -> Vec<Verdict> {
    values
        .iter()
        .filter_map(|v| {
            let threshold = v["threshold"].as_str()?.parse::<Threshold>().ok()?;
            let actual = v["actual"].as_f64();
            let pass = v["pass"].as_bool().unwrap_or(false);
            Some(Verdict { threshold, actual, pass })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::threshold::Stat;

    fn t(text: &str) -> Threshold {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    struct Fixed;
    impl Measure for Fixed {
        fn measure(&self, metric: Metric) -> Option<f64> {
            match metric {
                Metric::Latency(Stat::P99) => Some(31.25),
                Metric::Latency(Stat::Max) => Some(f64::NAN),
                Metric::ErrorRate => Some(0.025),
                Metric::Throughput => Some(812.34),
                _ => None,
            }
        }
    }

    #[test]
    fn verdicts_pass_only_when_measured_and_holding() {
        let thresholds: Vec<Threshold> =
            ["p99 < 250ms", "p99 >= 250ms", "error_rate < 0.1%", "rate >= 95%", "max < 1s"]
                .iter()
                .map(|s| t(s))
                .collect();
        let verdicts = check_all(&thresholds, &Fixed);
        let passes: Vec<bool> = verdicts.iter().map(|v| v.pass).collect();
        assert_eq!(passes, [true, false, false, false, false]);
        assert_eq!(verdicts[0].actual, Some(31.25));
        assert_eq!(verdicts[3].actual, None);
        assert_eq!(
            render(&verdicts[..4]),
            "pass  p99 < 250ms        (31.2ms)\n\
             fail  p99 >= 250ms       (31.2ms)\n\
             fail  error_rate < 0.1%  (2.5%)\n\
             fail  rate >= 95%        (not measured)\n"
        );
        let back = verdicts_from_json(&verdicts_json(&verdicts[..4]));
        assert_eq!(back, verdicts[..4], "verdicts survive the report's JSON");
        let text = render_with_count(&verdicts[..2]);
        assert!(text.starts_with("thresholds 1 passed, 1 failed\n           pass  "), "{text}");
    }
}
