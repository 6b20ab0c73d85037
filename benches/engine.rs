//! Engine throughput and memory: simulates N calls through the built-in mid-size PBX and
//! serializes every event to NDJSON in memory, on one thread.
//!
//! `cargo bench --bench engine -- --calls 1000000` prints events/s and peak memory (VmHWM).
//! `bench/engine.sh` runs it at several sizes to show that memory stays flat.

use std::sync::Arc;
use std::time::Instant;

use pbxsim::engine::{Engine, Options};
use pbxsim::event::{NullStyle, Str};
use pbxsim::scenario::{Answer, Behaviour, CallKind, ScriptedCall};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// An endless, seeded stream of realistic calls: Poisson arrivals every 4 s on average, 20 %
/// outbound, some callers abandoning, messages of 10–40 s.
fn calls(seed: u64, users: usize, numbers: usize) -> impl Iterator<Item = ScriptedCall> + Send {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut at = 0u64;
    std::iter::from_fn(move || {
        let gap: f64 = -4_000.0 * (1.0 - rng.random::<f64>()).ln();
        at += gap as u64;
        let behaviour = Behaviour {
            answer: if rng.random::<f64>() < 0.9 { Answer::Any } else { Answer::Nobody },
            answer_after: rng.random_range(2_000..12_000),
            talk: (-180_000.0 * (1.0 - rng.random::<f64>()).ln()) as u64,
            abandon_after: (rng.random::<f64>() < 0.3).then(|| rng.random_range(20_000..200_000)),
            voicemail: rng.random_range(10_000..40_000),
            no_answer_probability: 0.0,
        };
        let kind = if rng.random::<f64>() < 0.2 {
            let user = rng.random_range(0..users);
            CallKind::Outbound { user, dest: Str::from("61400000000") }
        } else {
            CallKind::Inbound { number: rng.random_range(0..numbers) }
        };
        Some(ScriptedCall {
            at,
            kind,
            caller_id: Str::from(format!("614{:08}", rng.random_range(0..100_000_000u32))),
            caller_name: None,
            behaviour,
        })
    })
}

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
    let scenario = Arc::new(pbxsim::builtin::midsize());
    let users = scenario.pbx.users.len();
    let numbers = scenario.pbx.numbers.len();
    let start = "2026-03-02T09:00:00Z".parse().expect("valid time");
    let started = Instant::now();
    let mut engine = Engine::with_calls(
        Arc::clone(&scenario),
        Options::new(1, start),
        calls(1, users, numbers).take(n_calls),
    );
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
