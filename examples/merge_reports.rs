//! Merge the `--report` files of several `pbxsim load` processes into one report, exactly, and
//! check thresholds on the whole run: what works today for running across many machines (see
//! the README) until sharding and a `report merge` command exist (issue 14).
//!
//! ```sh
//! pbxsim load --target $URL --rate 50/s --duration 5m --seed 1 --report load-1.json   # machine 1
//! pbxsim load --target $URL --rate 50/s --duration 5m --seed 2 --report load-2.json   # machine 2
//! cargo run --example merge_reports -- load-1.json load-2.json --threshold 'p99<250ms' \
//!     --report total.json
//! ```
//!
//! The reports carry every histogram's buckets, so counts and histograms add exactly and the
//! merged percentiles are those of the whole run; rates add (the processes ran side by side)
//! and the wall time is the longer one. The exit code is the merged run's: 0, or 1 when a
//! threshold failed or an event finally failed in any of the runs; 2 when a file cannot be
//! read.

use std::process::ExitCode;

use pbxsim::report::LoadReport;

/// Reads a `pbxsim load --report` file.
pub fn read_report(path: &str) -> Result<LoadReport, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not a pbxsim load report: {e}"))
}

/// The reports at `paths` as one.
pub fn merge_files(paths: &[String]) -> Result<LoadReport, String> {
    let mut reports = paths.iter().map(|p| read_report(p));
    let first = reports.next().ok_or("no report to merge")??;
    reports.try_fold(first, |total, next| Ok(total.merge(&next?)))
}

fn main() -> ExitCode {
    let mut files = Vec::new();
    let mut thresholds = Vec::new();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threshold" | "--report" => {
                let Some(value) = args.next() else {
                    eprintln!("error: {arg} needs a value");
                    return ExitCode::from(2);
                };
                if arg == "--report" {
                    out = Some(value);
                    continue;
                }
                match value.parse::<pbxsim::scenario::threshold::Threshold>() {
                    Ok(t) => thresholds.push(t),
                    Err(e) => {
                        eprintln!("error: --threshold {value}: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            _ => files.push(arg),
        }
    }
    let mut total = match merge_files(&files) {
        Ok(total) => total,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "usage: merge_reports FILE.json... [--threshold RULE]... [--report OUT.json]"
            );
            return ExitCode::from(2);
        }
    };
    let verdicts = total.check(&thresholds);
    print!("{}", total.render());
    if let Some(path) = out {
        let json = serde_json::to_string_pretty(&total).expect("reports serialize");
        if let Err(e) = std::fs::write(&path, json + "\n") {
            eprintln!("error: cannot write {path}: {e}");
            return ExitCode::from(2);
        }
    }
    // As a load run ends: 1 when a threshold failed, or an event finally failed in any run.
    let failed = verdicts.iter().any(|v| !v.pass);
    total.exit(failed, false).into()
}
