//! Reports: statistics, thresholds and their verdicts, text, JSON, JUnit and CSV output, and
//! progress.
//!
//! - [`verdict`] checks the scenario's pass/fail rules (`p99 < 250ms`, `error_rate < 0.1%`,
//!   parsed in [`crate::scenario::threshold`]) against anything that implements [`Measure`] (a
//!   delivery [`Summary`](crate::deliver::Summary) and a [`LoadReport`] do); [`junit`](mod@junit) writes the
//!   verdicts as a JUnit XML file for CI;
//! - [`hist`]: HDR latency histograms as reports carry them (exact merge);
//! - [`load_report`]: the load run's report, as text and JSON; [`run`]: a scripted run's, as JSON;
//! - [`merge`](mod@merge): load reports of parallel generators merged exactly, thresholds checked again;
//! - [`series`]: the `--stats-csv` time series; [`trend`]: the time series the JSON report
//!   carries (`series`) and the HTML report draws;
//! - [`kpi`]: contact-centre KPIs per queue and ring group; [`html`](mod@html): the
//!   self-contained HTML report, drawn from a report's JSON;
//! - [`progress`]: live progress on a terminal, or plain lines without one.

pub mod hist;
pub mod html;
pub mod junit;
pub mod kpi;
pub mod load_report;
mod measure;
pub mod merge;
pub mod progress;
pub mod run;
pub mod series;
pub mod settings;
pub mod trend;
pub mod verdict;

pub use crate::scenario::threshold::{Metric, Op, Stat, Threshold, ThresholdError};
pub use hist::Hist;
pub use junit::junit;
pub use load_report::LoadReport;
pub use verdict::{Measure, Verdict, check_all, render, verdicts_json};
