//! Contact-centre KPIs per queue and ring group (offered, answered, abandoned, timed out,
//! service level, average speed of answer, average handle time, occupancy), computed from the
//! events the engine generates: the `queue_call` / `ring_group_call` summaries and the agents'
//! completions. See docs/report.md for every definition.
//!
//! A [`KpiCollector`] watches the feed on its way to delivery ([`KpiCollector::observe`]) and
//! keeps counts and sums only (plus the calls in progress that left a queue timed out), so its
//! memory does not grow with the run; [`KpiCollector::kpis`] gives the figures. Every figure
//! is one a receiver can compute from the bodies it received:
//!
//! - the **answer delay** of an answered visit is `connected_at − call_start_at` of its summary
//!   (milliseconds; measured from the call's arrival on the PBX, so a queue reached after other
//!   steps counts them too);
//! - **service level** = visits answered within the threshold ÷ visits offered;
//! - **ASA** = mean answer delay of answered visits; **AHT** = mean `conversation_duration` of
//!   answered visits (talk time: the events carry no after-call work);
//! - **occupancy** = the members' talk time on any call (inbound completions with a
//!   `connected_at`, outbound completions) ÷ (members × the run's span in PBX time).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::Emission;
use crate::engine::feed::Feed;
use crate::event::{CallStatus, Event};
use crate::pbx::Pbx;

/// The service-level threshold when none is given: answered within 20 seconds.
pub const DEFAULT_SERVICE_LEVEL: Duration = Duration::from_secs(20);

/// The KPIs of a run, per queue and per ring group (every one the PBX has, in its order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// A visit answered within this many seconds counts toward the service level.
    pub service_level_s: f64,
    /// PBX seconds from the run's first event to its last: the time each agent is counted as
    /// available for [`GroupKpis::occupancy`].
    pub span_s: f64,
    pub queues: Vec<GroupKpis>,
    pub ring_groups: Vec<GroupKpis>,
}

/// One queue's or ring group's figures: counts and sums (which add when reports merge), then
/// the figures derived from them (`null` when there is nothing to divide by).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupKpis {
    pub name: String,
    /// Members (agents) of the queue or ring group.
    pub agents: u64,
    /// Visits: summaries generated (one per visit; a call may visit twice).
    pub offered: u64,
    pub answered: u64,
    /// The caller hung up while waiting.
    pub abandoned: u64,
    /// The queue gave up (`max_wait`), or nobody in the ring group answered.
    pub timedout: u64,
    /// Of the timed-out visits, those whose call then left a voicemail message (before any
    /// other queue or ring-group visit).
    pub timedout_to_voicemail: u64,
    /// Answered visits whose answer delay was at most the service-level threshold.
    pub answered_within: u64,
    /// Sum of the answered visits' answer delays (`connected_at − call_start_at`), in ms.
    pub answer_delay_ms: u64,
    /// The longest answer delay, in ms.
    pub max_answer_delay_ms: u64,
    /// Sum of the answered visits' `conversation_duration`, in seconds.
    pub talk_s: u64,
    /// Sum of the abandoned visits' `call_duration` (arrival to hang-up), in seconds.
    pub abandon_wait_s: u64,
    /// The members' talk time on every call they answered or placed, in seconds.
    pub agent_talk_s: u64,
    /// `answered_within / offered`.
    pub service_level: Option<f64>,
    /// `abandoned / offered`.
    pub abandon_rate: Option<f64>,
    /// Average speed of answer: `answer_delay_ms / answered`, in seconds.
    pub asa_s: Option<f64>,
    /// Average handle time: `talk_s / answered`, in seconds.
    pub aht_s: Option<f64>,
    /// Average time to abandon: `abandon_wait_s / abandoned`, in seconds.
    pub avg_abandon_s: Option<f64>,
    /// `agent_talk_s / (agents × span_s)`.
    pub occupancy: Option<f64>,
}

impl GroupKpis {
    fn new(name: &str, agents: usize) -> Self {
        GroupKpis { name: name.to_string(), agents: agents as u64, ..GroupKpis::default() }
    }

    /// Fill in the derived figures from the counts and sums.
    fn derive(&mut self, span_s: f64) {
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        self.service_level = ratio(self.answered_within, self.offered);
        self.abandon_rate = ratio(self.abandoned, self.offered);
        self.asa_s = ratio(self.answer_delay_ms, self.answered).map(|ms| ms / 1000.0);
        self.aht_s = ratio(self.talk_s, self.answered);
        self.avg_abandon_s = ratio(self.abandon_wait_s, self.abandoned);
        let available = self.agents as f64 * span_s;
        self.occupancy = (available > 0.0).then(|| self.agent_talk_s as f64 / available);
    }

    fn add(&mut self, o: &GroupKpis) {
        self.agents += o.agents;
        self.offered += o.offered;
        self.answered += o.answered;
        self.abandoned += o.abandoned;
        self.timedout += o.timedout;
        self.timedout_to_voicemail += o.timedout_to_voicemail;
        self.answered_within += o.answered_within;
        self.answer_delay_ms += o.answer_delay_ms;
        self.max_answer_delay_ms = self.max_answer_delay_ms.max(o.max_answer_delay_ms);
        self.talk_s += o.talk_s;
        self.abandon_wait_s += o.abandon_wait_s;
        self.agent_talk_s += o.agent_talk_s;
    }
}

impl Kpis {
    /// Whether the PBX has any queue or ring group to report on.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty() && self.ring_groups.is_empty()
    }

    /// Two runs' KPIs as one (reports of generators run in parallel): counts and sums add,
    /// agents add (each generator simulates its own), the span is the longer one. With
    /// different service-level thresholds the service level cannot be combined: it is left
    /// out (`answered_within` and `service_level` become 0 and null).
    pub fn merge(&self, other: &Kpis) -> Kpis {
        let same_threshold = (self.service_level_s - other.service_level_s).abs() < 1e-9;
        let mut m = self.clone();
        m.span_s = m.span_s.max(other.span_s);
        for (mine, theirs) in
            [(&mut m.queues, &other.queues), (&mut m.ring_groups, &other.ring_groups)]
        {
            for g in theirs {
                match mine.iter_mut().find(|x| x.name == g.name) {
                    Some(x) => x.add(g),
                    None => mine.push(g.clone()),
                }
            }
        }
        for g in m.queues.iter_mut().chain(m.ring_groups.iter_mut()) {
            if !same_threshold {
                g.answered_within = 0;
            }
            g.derive(m.span_s);
            if !same_threshold {
                g.service_level = None;
            }
        }
        m
    }

    /// The KPI table for people: a header line, then one line per queue and ring group.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            return out;
        }
        let rows: Vec<(String, &GroupKpis)> = self
            .queues
            .iter()
            .map(|g| (format!("queue {}", g.name), g))
            .chain(self.ring_groups.iter().map(|g| (format!("ring group {}", g.name), g)))
            .collect();
        let width = rows.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0).max(5);
        let _ = writeln!(
            out,
            "kpis       service level: answered within {} s of arrival, of offered; occupancy \
             over {:.0} s of PBX time",
            fmt_num(self.service_level_s),
            self.span_s
        );
        let _ = writeln!(
            out,
            "           {:width$}  {:>6}  {:>7}  {:>8}  {:>9}  {:>8}  {:>7}  {:>8}  {:>8}  {:>9}",
            "",
            "agents",
            "offered",
            "answered",
            "abandoned",
            "timedout",
            "SL",
            "ASA",
            "AHT",
            "occupancy"
        );
        for (name, g) in rows {
            let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
            let secs = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} s"));
            let _ = writeln!(
                out,
                "           {name:width$}  {:>6}  {:>7}  {:>8}  {:>9}  {:>8}  {:>7}  {:>8}  {:>8}  {:>9}",
                g.agents,
                g.offered,
                g.answered,
                g.abandoned,
                g.timedout,
                pct(g.service_level),
                secs(g.asa_s),
                secs(g.aht_s),
                pct(g.occupancy),
            );
        }
        out
    }
}

/// `20`, `7.5`: seconds without a needless `.0`.
fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v}") }
}

/// Which group a summary belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Queue(usize),
    RingGroup(usize),
}

/// Watches a run's generated events and computes its [`Kpis`]; see the module docs.
#[derive(Debug)]
pub struct KpiCollector {
    service_level_ms: u64,
    queues: Vec<GroupKpis>,
    ring_groups: Vec<GroupKpis>,
    queue_index: HashMap<String, usize>,
    ring_group_index: HashMap<String, usize>,
    /// Per group, its members' extensions.
    queue_members: Vec<Vec<String>>,
    ring_group_members: Vec<Vec<String>>,
    /// Talk seconds per extension.
    talk: BTreeMap<String, u64>,
    /// Calls whose last visit timed out and that have not reached another visit or their end.
    timed_out: HashMap<u64, Group>,
    first_at: Option<u64>,
    last_at: u64,
}

impl KpiCollector {
    /// A collector for `pbx`'s queues and ring groups, counting a visit answered within
    /// `service_level` toward the service level.
    pub fn new(pbx: &Pbx, service_level: Duration) -> Self {
        let extensions = |members: &[usize]| -> Vec<String> {
            members
                .iter()
                .filter_map(|&u| pbx.users.get(u))
                .map(|u| u.extension.to_string())
                .collect()
        };
        let queues = pbx.queues.iter().map(|q| GroupKpis::new(&q.name, q.members.len())).collect();
        let ring_groups =
            pbx.ring_groups.iter().map(|g| GroupKpis::new(&g.name, g.members.len())).collect();
        KpiCollector {
            service_level_ms: service_level.as_millis().min(u128::from(u64::MAX)) as u64,
            queues,
            ring_groups,
            queue_index: pbx
                .queues
                .iter()
                .enumerate()
                .map(|(i, q)| (q.name.to_string(), i))
                .collect(),
            ring_group_index: pbx
                .ring_groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.name.to_string(), i))
                .collect(),
            queue_members: pbx.queues.iter().map(|q| extensions(&q.members)).collect(),
            ring_group_members: pbx.ring_groups.iter().map(|g| extensions(&g.members)).collect(),
            talk: BTreeMap::new(),
            timed_out: HashMap::new(),
            first_at: None,
            last_at: 0,
        }
    }

    /// One item of the delivery feed: an event, or a call's end.
    pub fn observe(&mut self, item: &Feed) {
        match item {
            Feed::Event(e) => self.event(e),
            Feed::CallEnded(call) => {
                self.timed_out.remove(call);
            }
        }
    }

    /// One generated event (any type, before the `[webhook] events` filter and chaos).
    pub fn event(&mut self, e: &Emission) {
        self.first_at = Some(self.first_at.map_or(e.at, |f| f.min(e.at)));
        self.last_at = self.last_at.max(e.at);
        match &e.event {
            Event::QueueCall(x) => {
                let group = self.queue_index.get(&*x.queue_name).copied();
                self.visit(
                    e.call,
                    group.map(Group::Queue),
                    x.status,
                    &x.call_start_at,
                    x.connected_at.as_deref(),
                    x.call_duration,
                    x.conversation_duration,
                );
            }
            Event::RingGroupCall(x) => {
                let group = self.ring_group_index.get(&*x.ring_group_name).copied();
                self.visit(
                    e.call,
                    group.map(Group::RingGroup),
                    x.status,
                    &x.call_start_at,
                    x.connected_at.as_deref(),
                    x.call_duration,
                    x.conversation_duration,
                );
            }
            Event::UserInboundCompleted(x) if x.connected_at.is_some() => {
                self.add_talk(&x.user_number, x.conversation_duration);
            }
            Event::UserOutboundCompleted(x) => {
                self.add_talk(&x.user_number, x.conversation_duration);
            }
            Event::Voicemail(_) => {
                if let Some(group) = self.timed_out.remove(&e.call) {
                    self.group_mut(group).timedout_to_voicemail += 1;
                }
            }
            _ => {}
        }
    }

    /// `seconds` more talk for the user at `extension` (a new key only for a user's first call).
    fn add_talk(&mut self, extension: &str, seconds: u64) {
        match self.talk.get_mut(extension) {
            Some(talk) => *talk += seconds,
            None => {
                self.talk.insert(extension.to_owned(), seconds);
            }
        }
    }

    fn group_mut(&mut self, group: Group) -> &mut GroupKpis {
        match group {
            Group::Queue(i) => &mut self.queues[i],
            Group::RingGroup(i) => &mut self.ring_groups[i],
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn visit(
        &mut self,
        call: u64,
        group: Option<Group>,
        status: CallStatus,
        call_start_at: &str,
        connected_at: Option<&str>,
        call_duration: u64,
        conversation_duration: u64,
    ) {
        self.timed_out.remove(&call);
        // A summary naming no queue of this PBX cannot come from the engine; ignore it.
        let Some(group) = group else { return };
        let within = self.service_level_ms;
        let g = self.group_mut(group);
        g.offered += 1;
        match status {
            CallStatus::Answered => {
                g.answered += 1;
                g.talk_s += conversation_duration;
                if let Some(delay) = connected_at.and_then(|c| answer_delay_ms(call_start_at, c)) {
                    g.answer_delay_ms += delay;
                    g.max_answer_delay_ms = g.max_answer_delay_ms.max(delay);
                    g.answered_within += u64::from(delay <= within);
                }
            }
            CallStatus::Abandoned => {
                g.abandoned += 1;
                g.abandon_wait_s += call_duration;
            }
            CallStatus::Timedout => {
                g.timedout += 1;
                self.timed_out.insert(call, group);
            }
        }
    }

    /// The figures so far.
    pub fn kpis(&self) -> Kpis {
        let span_ms = self.first_at.map_or(0, |f| self.last_at - f);
        let span_s = span_ms as f64 / 1000.0;
        let talk_of =
            |members: &[String]| -> u64 { members.iter().filter_map(|m| self.talk.get(m)).sum() };
        let finish = |groups: &[GroupKpis], members: &[Vec<String>]| -> Vec<GroupKpis> {
            groups
                .iter()
                .zip(members)
                .map(|(g, m)| {
                    let mut g = g.clone();
                    g.agent_talk_s = talk_of(m);
                    g.derive(span_s);
                    g
                })
                .collect()
        };
        Kpis {
            service_level_s: self.service_level_ms as f64 / 1000.0,
            span_s,
            queues: finish(&self.queues, &self.queue_members),
            ring_groups: finish(&self.ring_groups, &self.ring_group_members),
        }
    }
}

/// `connected_at − call_start_at` in milliseconds (0 when connected before the start, which
/// the engine never does); `None` when either is not an RFC 3339 timestamp.
pub fn answer_delay_ms(call_start_at: &str, connected_at: &str) -> Option<u64> {
    let start = chrono::DateTime::parse_from_rfc3339(call_start_at).ok()?;
    let connected = chrono::DateTime::parse_from_rfc3339(connected_at).ok()?;
    Some((connected - start).num_milliseconds().max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Target;
    use crate::event::{
        QueueCall, RingGroupCall, Str, UserInboundCompleted, UserOutboundCompleted,
    };

    fn s(text: &str) -> Str {
        Str::from(text)
    }

    fn pbx() -> Pbx {
        let scenario = crate::scenario::builtin_pbx::midsize();
        scenario.pbx
    }

    fn emission(at: u64, call: u64, event: Event) -> Feed {
        Feed::Event(Emission { at, call, seq: 0, target: Target::Global, event })
    }

    fn queue_call(
        queue: &str,
        status: CallStatus,
        connected: Option<&str>,
        dur: u64,
        talk: u64,
    ) -> Event {
        Event::QueueCall(QueueCall {
            unique_call_id: s("160455961758"),
            caller_id: s("61400000001"),
            caller_name: None,
            user_name: connected.map(|_| s("Agent")),
            user_number: connected.map(|_| s("1001")),
            dest_number: s("61290000001"),
            call_start_at: s("2024-03-01T09:00:00.000Z"),
            connected_at: connected.map(s),
            call_duration: dur,
            conversation_duration: talk,
            queue_name: s(queue),
            status,
        })
    }

    fn completed(user: &str, talk: u64) -> Event {
        Event::UserInboundCompleted(UserInboundCompleted {
            unique_call_id: s("160455961758"),
            caller_id: s("61400000001"),
            caller_name: None,
            user_name: s("Agent"),
            user_number: s(user),
            dest_number: s("61290000001"),
            call_start_at: s("2024-03-01T09:00:00.000Z"),
            connected_at: Some(s("2024-03-01T09:00:05.000Z")),
            call_duration: talk + 5,
            conversation_duration: talk,
            queue_name: None,
            ring_group_name: None,
        })
    }

    fn voicemail() -> Event {
        Event::Voicemail(crate::event::Voicemail {
            unique_call_id: s("1"),
            caller_id: s("2"),
            dest_number: s("3"),
            recorded_at: s("2024-03-01T09:05:00.000Z"),
            emails: s(""),
            email_subject: s(""),
            email_message: s(""),
            call_recording_link: None,
        })
    }

    #[test]
    fn summaries_make_offered_answered_abandoned_timedout_and_the_service_level() {
        let pbx = pbx();
        let q = pbx.queues[0].name.to_string();
        let agents = pbx.queues[0].members.len() as u64;
        let member = pbx.users[pbx.queues[0].members[0]].extension.to_string();
        let mut k = KpiCollector::new(&pbx, Duration::from_secs(20));
        // Answered after 12.5 s (within) and after exactly 20 s (within: at most), and 20.001 s.
        k.observe(&emission(
            0,
            0,
            queue_call(&q, CallStatus::Answered, Some("2024-03-01T09:00:12.500Z"), 100, 87),
        ));
        k.observe(&emission(
            1000,
            1,
            queue_call(&q, CallStatus::Answered, Some("2024-03-01T09:00:20.000Z"), 80, 60),
        ));
        k.observe(&emission(
            2000,
            2,
            queue_call(&q, CallStatus::Answered, Some("2024-03-01T09:00:20.001Z"), 80, 59),
        ));
        k.observe(&emission(3000, 3, queue_call(&q, CallStatus::Abandoned, None, 30, 0)));
        k.observe(&emission(4000, 4, queue_call(&q, CallStatus::Timedout, None, 300, 0)));
        k.observe(&emission(5000, 4, voicemail()));
        k.observe(&emission(6000, 5, queue_call(&q, CallStatus::Timedout, None, 300, 0)));
        k.observe(&Feed::CallEnded(5));
        k.observe(&emission(100_000, 5, completed(&member, 206)));
        let kpis = k.kpis();
        assert_eq!(kpis.span_s, 100.0);
        let g = &kpis.queues[0];
        assert_eq!(g.name, q);
        assert_eq!((g.offered, g.answered, g.abandoned, g.timedout), (6, 3, 1, 2));
        assert_eq!(g.timedout_to_voicemail, 1, "call 4 left a message, call 5 ended");
        assert_eq!(g.answered_within, 2);
        assert_eq!(g.service_level, Some(2.0 / 6.0));
        assert_eq!(g.abandon_rate, Some(1.0 / 6.0));
        assert_eq!(g.answer_delay_ms, 12_500 + 20_000 + 20_001);
        assert_eq!(g.max_answer_delay_ms, 20_001);
        assert_eq!(g.asa_s, Some(52.501 / 3.0));
        assert_eq!(g.aht_s, Some((87 + 60 + 59) as f64 / 3.0));
        assert_eq!(g.avg_abandon_s, Some(30.0));
        assert_eq!(g.agent_talk_s, 206);
        assert_eq!(g.occupancy, Some(206.0 / (agents as f64 * 100.0)));
        // The other queues saw nothing: zero counts, no ratios.
        let other = &kpis.queues[1];
        assert_eq!((other.offered, other.service_level, other.asa_s), (0, None, None));
        assert_eq!(kpis.queues.len(), pbx.queues.len());
        assert_eq!(kpis.ring_groups.len(), pbx.ring_groups.len());
    }

    #[test]
    fn ring_groups_and_outbound_talk_count_too_and_unknown_names_are_ignored() {
        let pbx = pbx();
        let rg = pbx.ring_groups[0].name.to_string();
        let member = pbx.users[pbx.ring_groups[0].members[0]].extension.to_string();
        let mut k = KpiCollector::new(&pbx, Duration::from_millis(7_500));
        let summary = |status, connected: Option<&str>| {
            Event::RingGroupCall(RingGroupCall {
                unique_call_id: s("1"),
                caller_id: s("2"),
                caller_name: None,
                user_name: None,
                user_number: None,
                dest_number: s("3"),
                call_start_at: s("2024-03-01T19:00:00.000+10:00"),
                connected_at: connected.map(s),
                call_duration: 40,
                conversation_duration: 30,
                ring_group_name: s(&rg),
                status,
            })
        };
        k.event(&Emission {
            at: 0,
            call: 0,
            seq: 0,
            target: Target::Global,
            event: summary(CallStatus::Answered, Some("2024-03-01T09:00:07.500Z")),
        });
        k.observe(&emission(10_000, 1, summary(CallStatus::Timedout, None)));
        k.observe(&emission(
            20_000,
            2,
            queue_call("No such queue", CallStatus::Answered, None, 1, 1),
        ));
        let outbound = Event::UserOutboundCompleted(UserOutboundCompleted {
            unique_call_id: s("9"),
            caller_id: s("61290000001"),
            user_name: s("Agent"),
            user_number: s(&member),
            dest_number: s("61400000009"),
            call_start_at: s("2024-03-01T09:00:00.000Z"),
            connected_at: Some(s("2024-03-01T09:00:03.000Z")),
            call_duration: 13,
            conversation_duration: 10,
        });
        k.observe(&emission(20_000, 3, outbound));
        let kpis = k.kpis();
        let g = &kpis.ring_groups[0];
        assert_eq!((g.offered, g.answered, g.timedout, g.answered_within), (2, 1, 1, 1));
        assert_eq!(g.asa_s, Some(7.5), "the +10:00 offset is the same instant");
        assert_eq!(g.agent_talk_s, 10);
        assert_eq!(kpis.service_level_s, 7.5);
        assert!(kpis.queues.iter().all(|q| q.offered == 0), "{:?}", kpis.queues);
        let text = kpis.render();
        assert!(text.contains("answered within 7.5 s"), "{text}");
        assert!(text.contains(&format!("ring group {rg}")), "{text}");
        assert!(text.lines().count() == 2 + pbx.queues.len() + pbx.ring_groups.len(), "{text}");
    }

    #[test]
    fn merged_kpis_add_counts_and_recompute_the_ratios() {
        let pbx = pbx();
        let q = pbx.queues[0].name.to_string();
        let run = |delay: &str| {
            let mut k = KpiCollector::new(&pbx, DEFAULT_SERVICE_LEVEL);
            k.observe(&emission(0, 0, queue_call(&q, CallStatus::Answered, Some(delay), 10, 5)));
            k.observe(&emission(50_000, 1, queue_call(&q, CallStatus::Abandoned, None, 10, 0)));
            k.kpis()
        };
        let (a, b) = (run("2024-03-01T09:00:10.000Z"), run("2024-03-01T09:00:30.000Z"));
        let m = a.merge(&b);
        let g = &m.queues[0];
        assert_eq!((g.offered, g.answered, g.answered_within), (4, 2, 1));
        assert_eq!(g.service_level, Some(0.25));
        assert_eq!(g.asa_s, Some(20.0));
        assert_eq!(g.agents, 2 * pbx.queues[0].members.len() as u64);
        let json: Kpis = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(json, m);
        let mut other = b.clone();
        other.service_level_s = 30.0;
        let mixed = a.merge(&other);
        assert_eq!(mixed.queues[0].service_level, None, "different thresholds do not add");
    }

    #[test]
    fn answer_delays_are_milliseconds_between_instants() {
        assert_eq!(
            answer_delay_ms("2024-03-01T09:00:00.000Z", "2024-03-01T09:00:01.250Z"),
            Some(1250)
        );
        assert_eq!(answer_delay_ms("2024-03-01T09:00:00Z", "2024-03-01T08:59:59Z"), Some(0));
        assert_eq!(answer_delay_ms("yesterday", "2024-03-01T08:59:59Z"), None);
    }
}
