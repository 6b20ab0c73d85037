//! Writes synthetic webhook events as NDJSON (bare payloads, as `run --dry-run` prints them) for
//! the delivery benchmark: `cargo run --release --example bench_events N > events.ndjson`.
//!
//! Each call has four events (`user_inbound`, `user_inbound_answered`, `user_inbound_completed`,
//! `queue_call`), about 330 bytes each on average; calls are interleaved as a busy PBX's are.

use std::io::{BufWriter, Write};

use pbxsim::event::{
    CallStatus, Event, NullStyle, QueueCall, Str, UserInbound, UserInboundAnswered,
    UserInboundCompleted,
};

fn call_events(call: u64) -> [Event; 4] {
    let s = |text: String| Str::from(text.as_str());
    let id = s(format!("{}", 160_455_961_758u64 + call));
    let caller = s(format!("614{:08}", call % 100_000_000));
    let dest = s("61300000000".into());
    let start = s("2019-10-01T15:31:15.000Z".into());
    let connected = s("2019-10-01T15:31:29.000Z".into());
    let user = s(format!("Agent {}", call % 50));
    let ext = s(format!("{}", 1000 + call % 50));
    let queue = s("Support".into());
    [
        Event::UserInbound(UserInbound {
            unique_call_id: id.clone(),
            caller_id: caller.clone(),
            caller_name: Some(s("Jane Citizen".into())),
            user_name: user.clone(),
            user_number: ext.clone(),
            dest_number: dest.clone(),
            call_start_at: start.clone(),
            queue_name: Some(queue.clone()),
            ring_group_name: None,
        }),
        Event::UserInboundAnswered(UserInboundAnswered {
            unique_call_id: id.clone(),
            caller_id: caller.clone(),
            caller_name: Some(s("Jane Citizen".into())),
            user_name: user.clone(),
            user_number: ext.clone(),
            dest_number: dest.clone(),
            call_start_at: start.clone(),
            connected_at: connected.clone(),
            queue_name: Some(queue.clone()),
            ring_group_name: None,
        }),
        Event::UserInboundCompleted(UserInboundCompleted {
            unique_call_id: id.clone(),
            caller_id: caller.clone(),
            caller_name: Some(s("Jane Citizen".into())),
            user_name: user.clone(),
            user_number: ext.clone(),
            dest_number: dest.clone(),
            call_start_at: start.clone(),
            connected_at: Some(connected.clone()),
            call_duration: 28,
            conversation_duration: 14,
            queue_name: Some(queue.clone()),
            ring_group_name: None,
        }),
        Event::QueueCall(QueueCall {
            unique_call_id: id,
            caller_id: caller,
            caller_name: Some(s("Jane Citizen".into())),
            user_name: Some(user),
            user_number: Some(ext),
            dest_number: dest,
            call_start_at: start,
            connected_at: Some(connected),
            call_duration: 28,
            conversation_duration: 14,
            queue_name: queue,
            status: CallStatus::Answered,
        }),
    ]
}

fn main() -> std::io::Result<()> {
    let total: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    // 256 calls in progress at a time, each advancing one event per round.
    const OPEN: u64 = 256;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut written = 0;
    let mut buf = Vec::with_capacity(512);
    let mut first_call = 0;
    while written < total {
        let block: Vec<[Event; 4]> = (first_call..first_call + OPEN).map(call_events).collect();
        first_call += OPEN;
        for step in 0..4 {
            for events in &block {
                if written == total {
                    return out.flush();
                }
                buf.clear();
                events[step].write_json(NullStyle::Null, &mut buf);
                buf.push(b'\n');
                out.write_all(&buf)?;
                written += 1;
            }
        }
    }
    out.flush()
}
