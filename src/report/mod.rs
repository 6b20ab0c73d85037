//! Reports: statistics, thresholds and their verdicts, text, JSON, JUnit and CSV output, and
//! progress.
//!
//! - [`threshold`] parses pass/fail rules such as `p99 < 250ms` or `error_rate < 0.1%` and
//!   checks them against anything that implements [`Measure`] (a delivery
//!   [`Summary`](crate::deliver::Summary) and a [`LoadReport`] do); [`junit`] writes the
//!   verdicts as a JUnit XML file for CI;
//! - [`hist`]: HDR latency histograms as reports carry them (exact merge);
//! - [`load`]: the load run's report, as text and JSON; [`run`]: a scripted run's, as JSON;
//! - [`series`]: the `--stats-csv` time series;
//! - [`progress`]: live progress on a terminal, or plain lines without one.

pub mod hist;
pub mod junit;
pub mod load;
mod measure;
pub mod progress;
pub mod run;
pub mod series;
pub mod threshold;

pub use hist::Hist;
pub use junit::junit;
pub use load::LoadReport;
pub use threshold::{
    Measure, Metric, Op, Stat, Threshold, ThresholdError, Verdict, check_all, render, verdicts_json,
};
