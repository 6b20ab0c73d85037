//! Live progress of a load run: an indicatif line on a terminal, refreshed every sample; a
//! plain line every `every` (10 s by default) otherwise.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::hist::{Hist, fmt_ms};
use crate::deliver::LiveCounts;
use crate::deliver::Sample;
use crate::scenario::threshold::Stat;

/// Where progress goes.
pub enum Progress {
    /// Nothing (`--quiet`).
    Off,
    /// An indicatif line on stderr (a terminal).
    Bar { bar: ProgressBar, last: Last },
    /// A plain line on stderr every `every`.
    Plain { every: Duration, last: Last, next_at: Duration, window: Hist },
}

/// The previous sample, for rates.
#[derive(Debug, Default, Clone, Copy)]
pub struct Last {
    counts: LiveCounts,
    elapsed: Duration,
}

impl Progress {
    /// A bar on a terminal, else plain lines every `every`.
    pub fn new(terminal: bool, every: Duration) -> Self {
        if terminal {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            Progress::Bar { bar, last: Last::default() }
        } else {
            Progress::Plain {
                every,
                last: Last::default(),
                next_at: every,
                window: Hist::default(),
            }
        }
    }

    pub fn update(&mut self, s: &Sample) {
        match self {
            Progress::Off => {}
            Progress::Bar { bar, last } => {
                let line = line(s, last, &Hist(s.interval.clone()));
                bar.set_message(line);
                bar.tick();
                *last = Last { counts: s.counts, elapsed: s.elapsed };
            }
            Progress::Plain { every, last, next_at, window } => {
                window.add(&Hist(s.interval.clone()));
                if s.elapsed < *next_at {
                    return;
                }
                let text = line(s, last, window);
                let _ = writeln!(std::io::stderr().lock(), "progress {text}");
                *last = Last { counts: s.counts, elapsed: s.elapsed };
                *window = Hist::default();
                while *next_at <= s.elapsed {
                    *next_at += *every;
                }
            }
        }
    }

    /// Clear the bar before the report is printed.
    pub fn finish(&mut self) {
        if let Progress::Bar { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

/// "12s elapsed, 48s left | calls 35 in progress | sent 812/s delivered 810/s | errors 0 |
/// p50 1.2 ms p99 8.0 ms".
fn line(s: &Sample, last: &Last, latency: &Hist) -> String {
    let secs = s.elapsed.saturating_sub(last.elapsed).as_secs_f64().max(1e-3);
    let per_s = |now: u64, then: u64| now.saturating_sub(then) as f64 / secs;
    let c = &s.counts;
    let left = match s.remaining {
        None => String::new(),
        Some(r) if r.is_zero() => ", draining".to_string(),
        Some(r) => format!(", {}s left", r.as_secs()),
    };
    let waiting = match c.calls_waiting {
        0 => String::new(),
        n => format!(" ({n} waiting)"),
    };
    let q = |q| latency.ms(q).map_or("-".into(), fmt_ms);
    format!(
        "{}s elapsed{left} | calls {} in progress{waiting}, {} started | sent {:.0}/s, \
         delivered {:.0}/s | errors {} | p50 {} p99 {}",
        s.elapsed.as_secs(),
        c.calls_active,
        c.calls_started,
        per_s(c.sent, last.counts.sent),
        per_s(c.delivered, last.counts.delivered),
        c.errors,
        q(Stat::P50),
        q(Stat::P99),
    )
}
