//! Use pbxsim as a library: load a scenario, play it, and look at its events in your own code.
//!
//! `cargo run --example events -- scenarios/queue-outcomes.toml`

use std::sync::Arc;

use pbxsim::engine::{Engine, Options};
use pbxsim::event::{Event, EventType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "scenarios/quickstart.toml".into());
    let scenario = match pbxsim::scenario::load(path.as_ref()) {
        Ok(s) => Arc::new(s),
        Err(diagnostic) => {
            eprintln!("{}", diagnostic.render(false));
            std::process::exit(2);
        }
    };
    let start = scenario.start_time.unwrap_or_else(|| "2026-03-02T09:00:00Z".parse().unwrap());
    let engine = Engine::new(Arc::clone(&scenario), Options::new(scenario.seed, start));
    for emission in engine {
        // Typed access: match on the payload.
        if let Event::QueueCall(summary) = &emission.event {
            println!(
                "call {} left queue {} {} after {} s",
                summary.unique_call_id, summary.queue_name, summary.status, summary.call_duration
            );
        }
        // Or the exact wire JSON.
        if emission.event.event_type() == EventType::Voicemail {
            println!("{}", emission.event.to_json(scenario.nulls));
        }
    }
    Ok(())
}
