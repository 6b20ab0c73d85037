//! Latency by event type, and the live view of a run in progress.
//!
//! Per-type histograms are kept per worker *thread* (the workers of one thread share them
//! through a `RefCell`, borrowed only between awaits), so memory does not grow with
//! `concurrency`: about 30 histograms of ~26 KB per thread.
//!
//! [`Live`] is what a progress display or a time series samples while the run goes on: atomic
//! counters, and an interval latency histogram into which each worker thread flushes its own
//! every [`FLUSH_EVERY`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::summary::{KINDS, histogram, kind_name};

/// How often worker threads flush their interval histogram into [`Live`].
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The latency of one event type's delivered events, in microseconds.
#[derive(Debug, Clone)]
pub struct TypeLatency {
    /// The wire name (`queue_call`), or `other`.
    pub name: &'static str,
    /// Request start to answer, for the successful attempt.
    pub raw: Histogram<u64>,
    /// Paced runs: the event's intended send time to its answer (retries and waiting included).
    pub corrected: Option<Histogram<u64>>,
}

/// What one worker thread records besides its workers' [`Stats`](super::summary::Stats).
#[derive(Debug)]
pub(crate) struct ThreadLatency {
    pub corrected: Histogram<u64>,
    /// Per kind: (raw, corrected), allocated on first use.
    pub by_type: Vec<Option<(Histogram<u64>, Histogram<u64>)>>,
    /// Since the last flush into [`Live`]: corrected latency where known, else raw.
    pub interval: Histogram<u64>,
    /// Since the last flush into [`Live`]: raw latency.
    pub interval_raw: Histogram<u64>,
}

impl ThreadLatency {
    pub fn new() -> Self {
        Self {
            corrected: histogram(),
            by_type: vec![None; KINDS],
            interval: histogram(),
            interval_raw: histogram(),
        }
    }

    /// A delivered event of `kind`.
    pub fn record(&mut self, kind: u8, raw: Duration, corrected: Option<Duration>) {
        let micros = |d: Duration| (d.as_micros().max(1)).min(u128::from(u64::MAX)) as u64;
        let (raw, corrected) = (micros(raw), corrected.map(micros));
        let slot = &mut self.by_type[(kind as usize).min(KINDS - 1)];
        let (by_raw, by_corrected) = slot.get_or_insert_with(|| (histogram(), histogram()));
        by_raw.saturating_record(raw);
        if let Some(c) = corrected {
            by_corrected.saturating_record(c);
            self.corrected.saturating_record(c);
        }
        self.interval.saturating_record(corrected.unwrap_or(raw));
        self.interval_raw.saturating_record(raw);
    }

    /// Move the interval histograms into `live`.
    pub fn flush(&mut self, live: &Live) {
        if self.interval.is_empty() {
            return;
        }
        let mut shared = live.interval.lock().unwrap_or_else(|e| e.into_inner());
        let _ = shared.0.add(&self.interval);
        let _ = shared.1.add(&self.interval_raw);
        drop(shared);
        self.interval.reset();
        self.interval_raw.reset();
    }

    pub fn merge(&mut self, other: &ThreadLatency) {
        let _ = self.corrected.add(&other.corrected);
        for (mine, theirs) in self.by_type.iter_mut().zip(&other.by_type) {
            if let Some((raw, corrected)) = theirs {
                let (r, c) = mine.get_or_insert_with(|| (histogram(), histogram()));
                let _ = r.add(raw);
                let _ = c.add(corrected);
            }
        }
    }

    /// The per-type latencies of types that had deliveries; corrected ones only when `paced`.
    pub fn by_type(&self, paced: bool) -> Vec<TypeLatency> {
        self.by_type
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| {
                let (raw, corrected) = slot.as_ref()?;
                Some(TypeLatency {
                    name: kind_name(i),
                    raw: raw.clone(),
                    corrected: paced.then(|| corrected.clone()),
                })
            })
            .collect()
    }
}

/// A run's live view, shared with whoever samples it (`Arc<Live>` in
/// [`DeliverOptions::live`](super::DeliverOptions::live)).
#[derive(Debug)]
pub struct Live {
    sent: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
    errors: AtomicU64,
    calls_started: AtomicU64,
    calls_active: AtomicU64,
    calls_waiting: AtomicU64,
    /// Since the last sample: (corrected where paced else raw, raw).
    interval: Mutex<(Histogram<u64>, Histogram<u64>)>,
}

/// Cumulative counters of a run in progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// HTTP requests made, retries included.
    pub sent: u64,
    /// Events delivered (2xx).
    pub delivered: u64,
    /// Events finally failed (cut off included).
    pub failed: u64,
    /// Attempts that did not get a 2xx answer.
    pub errors: u64,
    /// Calls started (load runs only).
    pub calls_started: u64,
    /// Calls in progress (load runs only).
    pub calls_active: u64,
    /// Calls waiting for a slot under `--max-calls-in-flight`.
    pub calls_waiting: u64,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            calls_started: AtomicU64::new(0),
            calls_active: AtomicU64::new(0),
            calls_waiting: AtomicU64::new(0),
            interval: Mutex::new((histogram(), histogram())),
        }
    }
}

impl Live {
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters so far.
    pub fn counts(&self) -> LiveCounts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LiveCounts {
            sent: get(&self.sent),
            delivered: get(&self.delivered),
            failed: get(&self.failed),
            errors: get(&self.errors),
            calls_started: get(&self.calls_started),
            calls_active: get(&self.calls_active),
            calls_waiting: get(&self.calls_waiting),
        }
    }

    /// The latencies (µs) recorded since the last call, up to [`FLUSH_EVERY`] old: corrected
    /// where the run is paced (else raw), and raw; the interval histograms start again empty.
    pub fn take_interval(&self) -> (Histogram<u64>, Histogram<u64>) {
        let mut h = self.interval.lock().unwrap_or_else(|e| e.into_inner());
        let out = h.clone();
        h.0.reset();
        h.1.reset();
        out
    }

    /// A [`Sample`] of the run now, `elapsed` into it: the counters, and the interval's
    /// latencies (taken, so the next sample starts empty).
    pub fn sample(&self, elapsed: Duration, remaining: Option<Duration>) -> Sample {
        let (interval, interval_raw) = self.take_interval();
        Sample { elapsed, remaining, counts: self.counts(), interval, interval_raw }
    }

    pub(crate) fn sent(&self, delivered: bool) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        match delivered {
            true => self.delivered.fetch_add(1, Ordering::Relaxed),
            false => self.errors.fetch_add(1, Ordering::Relaxed),
        };
    }

    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn calls(&self, started: u64, active: usize, waiting: usize) {
        self.calls_started.store(started, Ordering::Relaxed);
        self.calls_active.store(active as u64, Ordering::Relaxed);
        self.calls_waiting.store(waiting as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_by_type_and_flushes_the_interval() {
        let live = Live::new();
        let mut t = ThreadLatency::new();
        t.record(3, Duration::from_millis(2), Some(Duration::from_millis(5)));
        t.record(3, Duration::from_millis(4), None);
        t.flush(&live);
        assert!(t.interval.is_empty());
        let (interval, raw) = live.take_interval();
        assert_eq!(interval.len(), 2);
        assert_eq!((raw.len(), raw.min() / 1000, raw.max() / 1000), (2, 2, 4), "raw: 2 and 4 ms");
        assert!(live.take_interval().0.is_empty());
        let types = t.by_type(true);
        assert_eq!(types.len(), 1);
        assert_eq!(types[0].raw.len(), 2);
        assert_eq!(types[0].corrected.as_ref().map(|h| h.len()), Some(1));
        let mut other = ThreadLatency::new();
        other.merge(&t);
        assert_eq!(other.corrected.len(), 1);
    }
}

/// One live sample, every `sample_every`.
#[derive(Debug, Clone)]
pub struct Sample {
    pub elapsed: Duration,
    /// Time left until no more calls start, when known.
    pub remaining: Option<Duration>,
    pub counts: LiveCounts,
    /// Latencies (µs, corrected when paced) since the previous sample.
    pub interval: Histogram<u64>,
    /// Raw latencies (µs, request to answer) since the previous sample.
    pub interval_raw: Histogram<u64>,
}
