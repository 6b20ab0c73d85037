//! Reports: statistics, thresholds and their verdicts, text and JUnit output.
//!
//! [`threshold`] parses pass/fail rules such as `p99 < 250ms` or `error_rate < 0.1%` and checks
//! them against anything that implements [`Measure`] (a delivery [`Summary`](crate::deliver::Summary)
//! does); [`junit`] writes the verdicts as a JUnit XML file for CI.

pub mod junit;
mod measure;
pub mod threshold;

pub use junit::junit;
pub use threshold::{
    Measure, Metric, Op, Stat, Threshold, ThresholdError, Verdict, check_all, render,
};
