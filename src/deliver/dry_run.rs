//! NDJSON output of a run without HTTP (`run --dry-run`): one JSON body per line, or the body
//! inside a small envelope with virtual time, target and header names (token redacted).

use std::io::{self, Write};

use serde_json::{Map, Value};

use crate::deliver::chaos::{Chaos, Planned, Planner};
use crate::deliver::{Endpoints, Overrides};
use crate::engine::feed::Feed;
use crate::engine::{Emission, Target};
use crate::event::{EventTypeSet, NullStyle};
use crate::scenario::Scenario;
use crate::secret::MASK;
use crate::time::Timeline;

/// What a dry run writes per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRunFormat {
    /// Exactly the JSON body that would be POSTed.
    #[default]
    Body,
    /// `{"at": …, "time": …, "call": …, "target": …, "headers": {…}, "body": {…}}`.
    Envelope,
}

/// How many bytes of lines [`write_ndjson`] gathers before it writes them.
const CHUNK: usize = 1 << 16;

/// Writes the events of a run as NDJSON; returns how many were written and how many the
/// global filter dropped.
pub fn write_ndjson(
    scenario: &Scenario,
    timeline: &Timeline,
    events: impl Iterator<Item = Emission>,
    format: DryRunFormat,
    overrides: &Overrides,
    out: &mut impl Write,
) -> io::Result<DryRunCounts> {
    let ticked: EventTypeSet = scenario.webhook.events;
    let nulls: NullStyle = scenario.nulls;
    let endpoints = dry_run_endpoints(scenario, overrides);
    let mut counts = DryRunCounts::default();
    // Lines are gathered into chunks written at once: one copy per event fewer than writing
    // each line through a buffered writer.
    let mut chunk = Vec::with_capacity(CHUNK + 4096);
    for emission in events {
        counts.generated += 1;
        if !emission.is_sent(ticked) {
            counts.filtered += 1;
            continue;
        }
        match format {
            DryRunFormat::Body => emission.event.write_json(nulls, &mut chunk),
            DryRunFormat::Envelope => {
                let envelope = envelope(scenario, timeline, &emission, &endpoints);
                serde_json::to_writer(&mut chunk, &envelope)?;
            }
        }
        chunk.push(b'\n');
        counts.written += 1;
        if chunk.len() >= CHUNK {
            out.write_all(&chunk)?;
            chunk.clear();
        }
    }
    out.write_all(&chunk)?;
    out.flush()?;
    Ok(counts)
}

/// Like [`write_ndjson`], with `chaos` applied: one line per POST, in the order they would be
/// made. A batch is one line holding a JSON array; every body is in the chaos payload variants.
/// Envelopes also list the POST's faults (`"chaos": ["reorder", "delay:2s", "wrong_token",
/// "no_token", "duplicate"]`) and, for a batch, its events' count; their time is the last
/// event's. `written` counts lines.
pub fn write_ndjson_chaos(
    scenario: &Scenario,
    timeline: &Timeline,
    events: impl Iterator<Item = Feed>,
    chaos: &Chaos,
    format: DryRunFormat,
    overrides: &Overrides,
    out: &mut impl Write,
) -> io::Result<DryRunCounts> {
    let ticked: EventTypeSet = scenario.webhook.events;
    let style = chaos.style(scenario.nulls);
    let endpoints = dry_run_endpoints(scenario, overrides);
    let routes = endpoints.route_table();
    let route = |e: &Emission| {
        e.is_sent(ticked).then_some(match e.target {
            Target::Global => routes[e.event.event_type().index()],
            Target::Webhook(w) => 1 + w as u32,
        })
    };
    let mut counts = DryRunCounts::default();
    let mut line = Vec::with_capacity(1024);
    for planned in Planner::new(events, chaos.clone(), route) {
        let post = match planned {
            Planned::Unsent(_) => {
                counts.generated += 1;
                counts.filtered += 1;
                continue;
            }
            Planned::Post(post) => post,
            Planned::Ended(_) => continue,
        };
        counts.generated += post.events.len() as u64;
        line.clear();
        let body = |out: &mut Vec<u8>| {
            if post.array {
                out.push(b'[');
                for (i, e) in post.events.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    chaos.write_event(&style, e, out);
                }
                out.push(b']');
            } else {
                chaos.write_event(&style, &post.events[0], out);
            }
        };
        match format {
            DryRunFormat::Body => body(&mut line),
            DryRunFormat::Envelope => {
                let (first, last) = (&post.events[0], &post.events[post.events.len() - 1]);
                let mut envelope = envelope(scenario, timeline, last, &endpoints);
                let mut bytes = Vec::new();
                body(&mut bytes);
                let body: Value = serde_json::from_slice(&bytes)?;
                if let Value::Object(map) = &mut envelope {
                    map.insert("seq".into(), Value::from(first.seq));
                    map.insert("body".into(), body);
                    if post.array {
                        map.insert("events".into(), Value::from(post.events.len()));
                    }
                    let faults = post.faults.names();
                    if !faults.is_empty() {
                        map.insert("chaos".into(), Value::from(faults));
                    }
                }
                serde_json::to_writer(&mut line, &envelope)?;
            }
        }
        line.push(b'\n');
        out.write_all(&line)?;
        counts.written += 1;
    }
    out.flush()?;
    Ok(counts)
}

/// Counts from a dry run: `generated = written + filtered` (without batches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DryRunCounts {
    pub generated: u64,
    pub written: u64,
    pub filtered: u64,
}

/// What a dry run shows as an event's target: the run's endpoints, resolved as a live run
/// would ([`Endpoints::resolve`]), with `(built-in receiver)` standing for a missing URL.
pub fn dry_run_endpoints(scenario: &Scenario, overrides: &Overrides) -> Endpoints {
    Endpoints::resolve(scenario, overrides, BUILT_IN)
}

/// The global URL a dry run shows when no target is given.
const BUILT_IN: &str = "(built-in receiver)";

/// The URL an emission goes to (secrets masked), and its header names. The token and extra
/// header values are redacted: extra headers often carry API keys.
pub fn describe_target(endpoints: &Endpoints, emission: &Emission) -> (String, Map<String, Value>) {
    let endpoint = endpoints.for_target(emission.target, emission.event.event_type());
    let mut headers = Map::new();
    headers.insert("content-type".into(), Value::from("application/json"));
    if endpoint.token.is_some() {
        headers.insert("x-pbx-token".into(), Value::from(MASK));
    }
    for (name, _) in &endpoint.headers {
        headers.insert(name.to_ascii_lowercase(), Value::from(MASK));
    }
    (endpoint.url.masked(), headers)
}

fn envelope(
    scenario: &Scenario,
    timeline: &Timeline,
    emission: &Emission,
    endpoints: &Endpoints,
) -> Value {
    let (url, headers) = describe_target(endpoints, emission);
    let mut map = Map::new();
    map.insert("at_ms".into(), Value::from(emission.at));
    map.insert("time".into(), Value::from(timeline.format(emission.at)));
    map.insert("call".into(), Value::from(emission.call));
    map.insert("seq".into(), Value::from(emission.seq));
    map.insert("target".into(), Value::from(url));
    map.insert("headers".into(), Value::Object(headers));
    map.insert("body".into(), emission.event.to_value(scenario.nulls));
    Value::Object(map)
}
