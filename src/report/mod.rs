//! Reports: statistics, histograms, outputs and progress of a run.
//!
//! - [`hist`]: HDR latency histograms as reports carry them (exact merge);
//! - [`load`]: the load run's report, as text and JSON;
//! - [`series`]: the `--stats-csv` time series;
//! - [`progress`]: live progress on a terminal, or plain lines without one.

pub mod hist;
pub mod load;
pub mod progress;
pub mod series;

pub use hist::{Hist, Quantile};
pub use load::LoadReport;
