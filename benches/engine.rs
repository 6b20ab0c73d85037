//! Engine throughput and memory: simulates N calls of the built-in traffic model
//! (`builtin::MIDSIZE_TRAFFIC`) through the built-in mid-size PBX and serializes every event to
//! NDJSON in memory, on one thread. Generating the calls is part of the measured work.
//!
//! `cargo bench --bench engine -- --calls 1000000` prints events/s and peak memory (VmHWM).
//! `bench/engine.sh` runs it at several sizes to show that memory stays flat.

use std::sync::Arc;
use std::time::Instant;

use pbxsim::engine::arrivals;
use pbxsim::engine::{Engine, Options};
use pbxsim::event::NullStyle;
use pbxsim::scenario::builtin_pbx as builtin;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n_calls: usize = args
        .iter()
        .position(|a| a == "--calls")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let scenario = Arc::new(builtin::midsize());
    let model = builtin::midsize_traffic().resolve(&scenario.pbx).expect("built-in traffic");
    let start = "2026-03-02T09:00:00Z".parse().expect("valid time");
    let started = Instant::now();
    let calls = arrivals::generate(model, &scenario.pbx, 1).take(n_calls);
    let mut engine = Engine::with_calls(Arc::clone(&scenario), Options::new(1, start), calls);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut events = 0u64;
    let mut bytes = 0u64;
    for emission in engine.by_ref() {
        emission.event.write_json(NullStyle::Null, &mut buf);
        buf.push(b'\n');
        events += 1;
        if buf.len() > (1 << 20) - 1024 {
            bytes += buf.len() as u64;
            buf.clear();
        }
    }
    bytes += buf.len() as u64;
    let secs = started.elapsed().as_secs_f64();
    let stats = engine.stats();
    println!(
        "calls={n_calls} events={events} bytes={bytes} secs={secs:.3} events_per_sec={:.0} \
         peak_rss_kib={} answered={} abandoned={} voicemail={}",
        events as f64 / secs,
        peak_rss_kib().map_or("?".to_string(), |k| k.to_string()),
        stats.answered,
        stats.abandoned,
        stats.voicemail,
    );
}
