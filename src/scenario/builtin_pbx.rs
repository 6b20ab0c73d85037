//! Built-in PBX models: a realistic mid-size PBX for `load`, `call` and benchmarks when no
//! scenario file is given.

use crate::event::{EventTypeSet, Str};
use crate::pbx::{
    GlobalWebhook, Number, Pbx, Queue, RecordingMode, RecordingSettings, RingGroup, RingMode, Step,
    Strategy, User, VoicemailBox, WebhookObject,
};
use crate::scenario::Scenario;
use crate::scenario::traffic::TrafficSpec;

const FIRST: [&str; 25] = [
    "Olivia",
    "Liam",
    "Charlotte",
    "Noah",
    "Amelia",
    "Jack",
    "Isla",
    "William",
    "Mia",
    "Oliver",
    "Ava",
    "Leo",
    "Grace",
    "Lucas",
    "Chloe",
    "Henry",
    "Zoe",
    "Thomas",
    "Ella",
    "James",
    "Ruby",
    "Ethan",
    "Sophie",
    "Mason",
    "Harper",
];
const LAST: [&str; 10] =
    ["Nguyen", "Smith", "Patel", "Williams", "Brown", "Chen", "Wilson", "Taylor", "Singh", "Kelly"];

fn s(text: &str) -> Str {
    Str::from(text)
}

fn recording(emails: &str, subject: &str, mode: RecordingMode) -> RecordingSettings {
    RecordingSettings {
        emails: vec![s(emails)],
        subject: s(subject),
        message: s("A recording of your call is attached."),
        mode,
    }
}

/// The first number of the mid-size PBX (its main line).
pub const MAIN_NUMBER: &str = "61290000000";

/// A realistic mid-size PBX: 50 users, 4 queues, 2 ring groups, voicemail, recording, a CRM
/// webhook object, and six numbers. The global webhook has no URL and no token: the run's
/// `--target` and `--token` supply them, and the webhook object (no URL, no token of its own)
/// follows them.
pub fn midsize() -> Scenario {
    let users: Vec<User> = (0..50)
        .map(|i| {
            let name =
                format!("{} {}", FIRST[i % FIRST.len()], LAST[(i * 7 + i / 25) % LAST.len()]);
            let extension = format!("{}", 1001 + i);
            let email = format!("{}@example.com", extension);
            User {
                name: Str::from(name),
                extension: Str::from(extension),
                record_inbound: i % 5 == 0,
                record_outbound: i % 4 == 0,
                recording: recording(
                    &email,
                    "Your call recording",
                    if i % 8 == 0 { RecordingMode::Storage } else { RecordingMode::Email },
                ),
                outbound_cli: None,
            }
        })
        .collect();
    let queue = |name: &str, members: std::ops::Range<usize>, strategy, vm: usize| Queue {
        name: s(name),
        members: members.collect(),
        strategy,
        ring_timeout: 15_000,
        retry: 5_000,
        max_wait: 180_000,
        wrapup: 15_000,
        wrapup_blocks: Default::default(),
        failover: Some(Box::new(Step::Voicemail(vm))),
    };
    let voicemail = |name: &str, email: &str| VoicemailBox {
        name: s(name),
        emails: vec![s(email)],
        subject: s(&format!("New voicemail for {name}")),
        message: s("You have a new voicemail message."),
    };
    let pbx = Pbx {
        users,
        queues: vec![
            queue("Support", 0..15, Strategy::RoundRobin, 1),
            queue("Sales", 15..25, Strategy::Ringall, 2),
            queue("Billing", 25..33, Strategy::LeastRecent, 3),
            queue("Technical", 33..45, Strategy::FewestCalls, 1),
        ],
        ring_groups: vec![
            RingGroup {
                name: s("Reception"),
                members: vec![45, 46, 47],
                mode: RingMode::Simultaneous,
                ring_time: 20_000,
                no_answer: Some(Box::new(Step::Voicemail(0))),
            },
            RingGroup {
                name: s("Management"),
                members: vec![48, 49, 47],
                mode: RingMode::Sequential,
                ring_time: 15_000,
                no_answer: Some(Box::new(Step::Voicemail(0))),
            },
        ],
        voicemail: vec![
            voicemail("Main", "reception@example.com"),
            voicemail("Support", "support@example.com"),
            voicemail("Sales", "sales@example.com"),
            voicemail("Billing", "billing@example.com"),
        ],
        // Posts to the global target with the global token (`--token`), like the global
        // events; its one extra header, `X-Crm-Source: pbxsim`, shows receivers a webhook
        // object's own headers (docs/load.md; `pbxsim new --template load` writes the whole PBX).
        webhooks: vec![WebhookObject {
            name: s("CRM lookup"),
            url: None,
            token: None,
            headers: vec![("X-Crm-Source".into(), "pbxsim".into())],
        }],
        numbers: vec![
            Number {
                number: s(MAIN_NUMBER),
                flow: vec![
                    Step::Webhook(0),
                    Step::RingGroup { group: 0, on_no_answer: None },
                    Step::Voicemail(0),
                ],
            },
            Number {
                number: s("61290000001"),
                flow: vec![
                    Step::Webhook(0),
                    Step::Record,
                    Step::Queue { queue: 0, on_timeout: None },
                ],
            },
            Number {
                number: s("61290000002"),
                flow: vec![Step::Webhook(0), Step::Queue { queue: 1, on_timeout: None }],
            },
            Number {
                number: s("61290000003"),
                flow: vec![Step::Record, Step::Queue { queue: 2, on_timeout: None }],
            },
            Number {
                number: s("61290000004"),
                flow: vec![Step::Queue { queue: 3, on_timeout: None }],
            },
            Number {
                number: s("61290000005"),
                flow: vec![Step::RingGroup { group: 1, on_no_answer: None }, Step::Hangup],
            },
        ],
        recording: recording("recordings@example.com", "Call recording", RecordingMode::Email),
        unanswered_completion: Default::default(),
    };
    Scenario {
        name: "built-in mid-size PBX".into(),
        seed: 1,
        pbx,
        webhook: GlobalWebhook { events: EventTypeSet::ALL, ..GlobalWebhook::default() },
        ..Scenario::default()
    }
}

/// The generated traffic of the built-in mid-size PBX: a busy hour, in `[traffic]` form.
pub const MIDSIZE_TRAFFIC: &str = r#"
arrivals = "poisson"
rate = "12/m"
outbound = 0.2
unnamed = 0.2
numbers = { "61290000000" = 2, "61290000001" = 4, "61290000002" = 3, "61290000003" = 2, "61290000004" = 3, "61290000005" = 1 }
talk = { dist = "lognormal", mean = "3m", sigma = 0.8 }
answer_after = { dist = "uniform", min = "2s", max = "12s" }
patience = { dist = "exponential", mean = "2m" }
voicemail = { dist = "uniform", min = "10s", max = "40s" }
no_answer = 0.05
"#;

/// [`MIDSIZE_TRAFFIC`], read; resolve it against [`midsize`]'s PBX.
pub fn midsize_traffic() -> TrafficSpec {
    let table: toml::Table = toml::from_str(MIDSIZE_TRAFFIC).expect("built-in traffic is TOML");
    TrafficSpec::from_toml(table).expect("built-in traffic is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midsize_is_consistent() {
        let sc = midsize();
        let pbx = &sc.pbx;
        assert_eq!(pbx.users.len(), 50);
        assert_eq!(pbx.queues.len(), 4);
        assert_eq!(pbx.ring_groups.len(), 2);
        let mut exts: Vec<&str> = pbx.users.iter().map(|u| &*u.extension).collect();
        exts.sort();
        exts.dedup();
        assert_eq!(exts.len(), 50);
        for q in &pbx.queues {
            assert!(q.members.iter().all(|&m| m < pbx.users.len()));
        }
    }

    #[test]
    fn midsize_traffic_resolves_on_midsize() {
        let model = midsize_traffic().resolve(&midsize().pbx).expect("resolves");
        assert!(model.number_weights.iter().all(|&w| w > 0.0));
        assert_eq!(model.expected_calls(3_600_000), 720.0);
    }
}
