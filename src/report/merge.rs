//! Merging the load reports of generators run in parallel (`pbxsim report merge`): checks
//! that they are parts of one run, adds them up exactly ([`LoadReport::merge`]: counters add,
//! HDR histograms merge bucket for bucket so percentiles are those of the whole run, rates and
//! per-type tables and KPIs are recomputed from the sums), and checks the thresholds again on
//! the merged result.
//!
//! Reports are parts of one run when they come from the same scenario, with the same
//! compression and the same histogram settings, and play different calls: two reports of the
//! same seed played the same calls, and adding them would count every call twice.

use super::hist::Hist;
use super::load_report::{Compression, LoadReport};
use super::settings::Setting;
use super::verdict::Verdict;
use crate::exit::Exit;
use crate::scenario::threshold::Threshold;

/// Why reports cannot be merged; each message names the reports (by the names given to
/// [`merge`]) and what differs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give at least one report")]
    Empty,
    #[error(
        "{a} and {b} are reports of different scenarios (`{sa}` and `{sb}`): only parts of \
         one run merge"
    )]
    Scenario { a: String, b: String, sa: String, sb: String },
    /// Each generator needs a seed of its own.
    #[error(
        "{a} and {b} were both played with seed {seed}: the same calls twice, which would count \
         every call twice"
    )]
    SameSeed { a: String, b: String, seed: u64 },
    #[error(
        "{a} and {b} are not parts of one run: {a} played {ta}, {b} {tb}; shards of one run are \
         started with the same flags"
    )]
    Parts { a: String, b: String, ta: String, tb: String },
    #[error("{a} and {b} are both shard {shard}: the same calls twice")]
    SameShard { a: String, b: String, shard: String },
    #[error(
        "{a} and {b} compress calls differently ({} and {}): only parts of one run merge",
        compression(.ca),
        compression(.cb)
    )]
    Compression { a: String, b: String, ca: Compression, cb: Compression },
    #[error(
        "{b}'s {which} histogram has other settings than {a}'s ({hb} against {ha}): HDR \
         histograms merge exactly only with the same bounds and precision"
    )]
    Histogram { a: String, b: String, which: String, ha: String, hb: String },
    #[error("{name}: threshold `{text}` in the report cannot be read: {error}")]
    Threshold { name: String, text: String, error: String },
}

/// `600x`, or `as fast as possible, built at 600x`.
fn compression(c: &Compression) -> String {
    match c.asap {
        true => format!("as fast as possible, built at {}x", c.speed),
        false => format!("{}x", c.speed),
    }
}

/// The merged report, its threshold verdicts (also in `report.thresholds`) and how it ends.
#[derive(Debug, Clone)]
pub struct Merged {
    pub report: LoadReport,
    pub verdicts: Vec<Verdict>,
    /// 1 when a threshold failed, else 0.
    pub exit: Exit,
}

/// Merges `reports` (each with a name for messages, such as its file) and checks the
/// thresholds: every report's own (its `[expect]` and `--threshold`s, as it recorded them),
/// then `extra`, each once.
pub fn merge(reports: &[(String, LoadReport)], extra: &[Threshold]) -> Result<Merged, MergeError> {
    let Some((first_name, first)) = reports.first() else { return Err(MergeError::Empty) };
    let mut thresholds: Vec<Threshold> = Vec::new();
    for (i, (name, r)) in reports.iter().enumerate() {
        if r.scenario != first.scenario {
            return Err(MergeError::Scenario {
                a: first_name.clone(),
                b: name.clone(),
                sa: first.scenario.clone(),
                sb: r.scenario.clone(),
            });
        }
        if r.compression != first.compression {
            return Err(MergeError::Compression {
                a: first_name.clone(),
                b: name.clone(),
                ca: first.compression,
                cb: r.compression,
            });
        }
        let part = |r: &LoadReport| match r.shard {
            Some(s) => format!("shard {s} of {} tenants with seed {}", r.tenants, r.seed),
            None => format!("{} tenant(s), unsharded", r.tenants),
        };
        let count = |r: &LoadReport| r.shard.map(|s| s.count());
        let one_run = r.tenants == first.tenants
            && count(r) == count(first)
            && (r.shard.is_none() || r.seed == first.seed);
        if !one_run {
            return Err(MergeError::Parts {
                a: first_name.clone(),
                b: name.clone(),
                ta: part(first),
                tb: part(r),
            });
        }
        if let Some((other, o)) = reports[..i].iter().find(|(_, o)| o.seed == r.seed) {
            match r.shard {
                Some(shard) if o.shard == Some(shard) => {
                    return Err(MergeError::SameShard {
                        a: other.clone(),
                        b: name.clone(),
                        shard: shard.to_string(),
                    });
                }
                Some(_) => {}
                None => {
                    return Err(MergeError::SameSeed {
                        a: other.clone(),
                        b: name.clone(),
                        seed: r.seed,
                    });
                }
            }
        }
        let settings = bounds(&first.raw_latency);
        for (which, h) in histograms(r) {
            if bounds(h) != settings {
                return Err(MergeError::Histogram {
                    a: first_name.clone(),
                    b: name.clone(),
                    which,
                    ha: describe(settings),
                    hb: describe(bounds(h)),
                });
            }
        }
        for v in &r.thresholds {
            let text = v["threshold"].as_str().unwrap_or_default();
            let t: Threshold =
                text.parse().map_err(|e: crate::report::ThresholdError| MergeError::Threshold {
                    name: name.clone(),
                    text: text.to_string(),
                    error: e.to_string(),
                })?;
            push_once(&mut thresholds, t);
        }
    }
    for t in extra {
        push_once(&mut thresholds, t.clone());
    }
    let mut merged = first.clone();
    for (_, r) in &reports[1..] {
        merged = merged.merge(r);
    }
    let parts: Vec<String> = reports
        .iter()
        .map(|(name, r)| match r.shard {
            Some(shard) => format!("{name} (seed {}, shard {shard})", r.seed),
            None => format!("{name} (seed {})", r.seed),
        })
        .collect();
    merged.settings.push(Setting::new("merged from", parts.join(", ")));
    if let Some(count) = first.shard.map(|s| s.count()) {
        let missing: Vec<String> = (1..=count)
            .filter(|k| !reports.iter().any(|(_, r)| r.shard.is_some_and(|s| s.number() == *k)))
            .map(|k| format!("{k}/{count}"))
            .collect();
        if !missing.is_empty() {
            merged.settings.push(Setting::new("missing shards", missing.join(", ")));
        }
    }
    merged.shard = None;
    let verdicts = merged.check(&thresholds);
    let exit = Exit::Ok.failed_if(verdicts.iter().any(|v| !v.pass));
    Ok(Merged { report: merged, verdicts, exit })
}

fn push_once(list: &mut Vec<Threshold>, t: Threshold) {
    if !list.iter().any(|x| x.to_string() == t.to_string()) {
        list.push(t);
    }
}

/// Lowest, highest and significant digits.
fn bounds(h: &Hist) -> (u64, u64, u8) {
    (h.0.low(), h.0.high(), h.0.sigfig())
}

fn describe((low, high, digits): (u64, u64, u8)) -> String {
    format!("{low}..{high} us, {digits} significant digits")
}

/// Every histogram of a report, by what it measures.
fn histograms(r: &LoadReport) -> Vec<(String, &Hist)> {
    let mut out = vec![("raw latency".to_string(), &r.raw_latency)];
    out.extend(r.latency.iter().map(|h| ("latency".to_string(), h)));
    for (name, t) in &r.by_type {
        out.extend(t.latency.iter().map(|h| (format!("{name} latency"), h)));
        out.extend(t.raw_latency.iter().map(|h| (format!("{name} raw latency"), h)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load_report::tests::report;

    fn named(k: u64) -> (String, LoadReport) {
        (format!("r{k}.json"), report(k))
    }

    #[test]
    fn counts_add_and_the_thresholds_of_every_report_are_checked_once() {
        let (mut a, mut b) = (named(1), named(2));
        let rule: Threshold = "error_rate < 50%".parse().unwrap();
        a.1.check(std::slice::from_ref(&rule));
        b.1.check(&[rule.clone(), "p99 < 1us".parse().unwrap()]);
        let m = merge(&[a.clone(), b.clone()], &["p50 < 60m".parse().unwrap()]).unwrap();
        assert_eq!(m.report.events.delivered, a.1.events.delivered + b.1.events.delivered);
        let names: Vec<String> = m.verdicts.iter().map(|v| v.threshold.to_string()).collect();
        assert_eq!(names, ["error_rate < 50%", "p99 < 1us", "p50 < 3600s"]);
        assert_eq!(m.exit, Exit::Failed, "p99 < 1us fails on the merged result");
        assert_eq!(m.report.thresholds.len(), 3);
        let passing = merge(&[named(1), named(2)], &[rule]).unwrap();
        assert_eq!(passing.exit, Exit::Ok);
        let setting = passing.report.settings.last().unwrap();
        assert_eq!(setting.value, "r1.json (seed 1), r2.json (seed 2)");
    }

    #[test]
    fn reports_that_are_not_parts_of_one_run_are_refused() {
        assert_eq!(merge(&[], &[]).unwrap_err(), MergeError::Empty);
        let same = merge(&[named(1), ("again.json".into(), report(1))], &[]).unwrap_err();
        assert!(matches!(same, MergeError::SameSeed { seed: 1, .. }), "{same}");
        let mut other = named(2);
        other.1.scenario = "callcentre".into();
        let e = merge(&[named(1), other], &[]).unwrap_err();
        assert!(e.to_string().contains("`midsize` and `callcentre`"), "{e}");
        let mut faster = named(2);
        faster.1.compression.speed = 120.0;
        let e = merge(&[named(1), faster.clone()], &[]).unwrap_err();
        assert!(matches!(e, MergeError::Compression { .. }), "{e}");
        assert!(e.to_string().contains("(60x and 120x)"), "{e}");
        faster.1.compression.asap = true;
        let e = merge(&[named(1), faster], &[]).unwrap_err();
        assert!(e.to_string().contains("(60x and as fast as possible, built at 120x)"), "{e}");
        assert!(!e.to_string().contains("--") && !same.to_string().contains("--"), "{e}");
        let mut finer = named(2);
        let mut h = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        h.record(5).unwrap();
        finer.1.by_type.get_mut("queue_call").unwrap().raw_latency = Some(Hist(h));
        let e = merge(&[named(1), finer], &[]).unwrap_err();
        assert!(e.to_string().contains("queue_call raw latency histogram"), "{e}");
    }
}
