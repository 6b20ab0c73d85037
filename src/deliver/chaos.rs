//! Fault injection toward the receiver, applied: every decision is a pure function of the
//! run's seed and the event's call and position ([`Chaos::decide`]), so the same seed faults the
//! same events whatever the timing, and changing one rate leaves the other faults' choices alone.
//! [`Planner`] turns a stream of events into the POSTs to make ([`Post`]): reordered, batched and
//! marked with their faults; delivery and the dry run both use it, and write each event's body
//! with [`Chaos::write_event`] (the payload variants). [`Report`] counts what was done and what
//! the receiver answered. The settings themselves are configuration
//! ([`crate::scenario::chaos`]).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use crate::duration::{Human, Millis};
use crate::engine::Emission;
use crate::engine::feed::Feed;
use crate::event::{EXTRA_FIELD, Str, WireStyle};
pub use crate::scenario::chaos::{Chaos, MAX_BATCH, RecordingLink};

/// What happens to one event (or to the POST it leads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    pub duplicate: bool,
    pub reorder: bool,
    pub delay: Option<Millis>,
    pub wrong_token: bool,
    pub no_token: bool,
}

impl Chaos {
    /// The faults for event `seq` of call `call`: a pure function of the seed, the call, the
    /// position and the fault.
    pub fn decide(&self, call: u64, seq: u32) -> Decision {
        let hit = |salt: u64, p: f64| p > 0.0 && unit(self.seed, call, seq, salt) < p;
        Decision {
            duplicate: hit(1, self.duplicate),
            reorder: hit(2, self.reorder),
            delay: hit(3, self.delay).then_some(self.delay_by),
            wrong_token: hit(4, self.wrong_token),
            no_token: hit(5, self.no_token),
        }
    }

    /// Append the body of `e` to `out` in `style` with this run's payload variants: a
    /// recording link (`recording_link=url`) and, for a fraction of events, an extra field
    /// (`extra_fields`). Like every choice here, a function of the seed and the event.
    pub fn write_event(&self, style: &WireStyle, e: &Emission, out: &mut Vec<u8>) {
        let linked;
        let mut event = &e.event;
        if self.recording_link == Some(RecordingLink::Url) {
            let mut copy = e.event.clone();
            if copy.set_recording_link(self.recording_url(&e.event)) {
                linked = copy;
                event = &linked;
            }
        }
        let extra =
            self.extra_fields > 0.0 && unit(self.seed, e.call, e.seq, 6) < self.extra_fields;
        if !extra {
            return event.write_json_styled(style, out);
        }
        let mut value = event.to_value_styled(style);
        if let Some(map) = value.as_object_mut() {
            map.insert(EXTRA_FIELD.to_string(), extra_value(self.seed, e.call, e.seq));
        }
        serde_json::to_writer(&mut *out, &value).expect("value serializes");
    }

    /// The `call_recording_link` of a voicemail or recording event under `recording_link=url`:
    /// `https://recordings.example.com/<unique_call_id>/<kind>-<16 hex digits>.wav`, the same
    /// for a call and kind whatever the timing, different for another seed.
    pub fn recording_url(&self, event: &crate::event::Event) -> Str {
        let id = event.unique_call_id();
        let kind = match event.event_type() {
            crate::event::EventType::Voicemail => "voicemail",
            crate::event::EventType::RecordingOutbound => "outbound",
            _ => "inbound",
        };
        let digits = id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        let token = (unit(self.seed, digits, 0, 7) * (1u64 << 53) as f64) as u64;
        Str::from(format!("https://recordings.example.com/{id}/{kind}-{token:016x}.wav"))
    }
}

/// The value of the extra field: a string, number, boolean, object or array (seeded), so
/// receivers prove they ignore unknown fields of any JSON type.
fn extra_value(seed: u64, call: u64, seq: u32) -> serde_json::Value {
    use serde_json::json;
    let pick = (unit(seed, call, seq, 8) * 5.0) as u32;
    match pick {
        0 => json!("receivers must ignore fields they do not know"),
        1 => json!(42),
        2 => json!(true),
        3 => json!({"source": "pbxsim", "version": 2}),
        _ => json!(["pbxsim", 1]),
    }
}

/// A uniform number in `[0, 1)` from the seed, the event and the fault (SplitMix64 finalizer).
fn unit(seed: u64, call: u64, seq: u32, salt: u64) -> f64 {
    let mut x = seed
        ^ call.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ u64::from(seq).wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
        ^ salt.wrapping_mul(0x1656_67b1_9e37_79f9);
    for _ in 0..2 {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
    }
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The faults of one POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PostFaults {
    /// Send it again after it was delivered.
    pub duplicate: bool,
    /// Hold it back this long first.
    pub delay: Option<Millis>,
    /// Send a forged copy with a wrong token first.
    pub wrong_token: bool,
    /// Send a forged copy without a token first.
    pub no_token: bool,
    /// It carries an event moved after its call's next event.
    pub reordered: bool,
}

impl PostFaults {
    /// The fault names, for envelopes: `["duplicate", "delay:2s", …]`.
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.reordered {
            out.push("reorder".to_string());
        }
        if let Some(by) = self.delay {
            out.push(format!("delay:{}", Human(by)));
        }
        if self.wrong_token {
            out.push("wrong_token".into());
        }
        if self.no_token {
            out.push("no_token".into());
        }
        if self.duplicate {
            out.push("duplicate".into());
        }
        out
    }
}

/// One POST: one event, or a batch of a call's consecutive events to the same endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub events: Vec<Emission>,
    /// The endpoint key the router gave the events.
    pub route: u32,
    pub faults: PostFaults,
    /// The body is a JSON array of the events (`batch` is on), even for a single event.
    pub array: bool,
    /// The virtual time at which the POST is due: its last event's; for a reordered event,
    /// that of the call's next event, which it was held behind; for what a call held until it
    /// ended, when the end showed (the latest event read then).
    pub release_at: Millis,
}

/// What the planner yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Planned {
    /// An event the router does not send (filtered, or no endpoint): passed through at once.
    Unsent(Emission),
    Post(Post),
    /// The call ended; everything it held was planned before this.
    Ended(u64),
}

/// How many examples of each fault the report keeps.
const SAMPLES: usize = 3;

/// What chaos did in a run, and what the receiver answered to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The settings, as written (empty for a report of answers only).
    pub settings: String,
    /// POSTs made for events (batches count once).
    pub posts: u64,
    /// Batches (POSTs of a JSON array) and the events in them.
    pub batches: u64,
    pub batched_events: u64,
    /// Events moved after their call's next event.
    pub reordered: u64,
    /// POSTs held back, and by how long each.
    pub delayed: u64,
    pub delay_by: Millis,
    /// POSTs chosen to be sent twice, copies sent, and copies answered 2xx.
    pub duplicated: u64,
    pub duplicates_sent: u64,
    pub duplicates_accepted: u64,
    /// Forged requests chosen (wrong token, no token), sent, and their answers: 401 or 403
    /// (expected), 2xx (the receiver took a bad token!), anything else.
    pub wrong_token: u64,
    pub no_token: u64,
    pub forged_sent: u64,
    pub forged_rejected: u64,
    pub forged_accepted: u64,
    pub forged_other: u64,
    /// Forged requests not made because the endpoint has no token to forge.
    pub forged_skipped: u64,
    /// A few events per fault: `unique_call_id #seq type` (seq: the event's position in its
    /// call).
    pub samples: Vec<(&'static str, String)>,
}

impl Report {
    pub fn merge(&mut self, o: &Report) {
        if self.settings.is_empty() {
            self.settings.clone_from(&o.settings);
        }
        self.posts += o.posts;
        self.batches += o.batches;
        self.batched_events += o.batched_events;
        self.reordered += o.reordered;
        self.delayed += o.delayed;
        self.delay_by = self.delay_by.max(o.delay_by);
        self.duplicated += o.duplicated;
        self.duplicates_sent += o.duplicates_sent;
        self.duplicates_accepted += o.duplicates_accepted;
        self.wrong_token += o.wrong_token;
        self.no_token += o.no_token;
        self.forged_sent += o.forged_sent;
        self.forged_rejected += o.forged_rejected;
        self.forged_accepted += o.forged_accepted;
        self.forged_other += o.forged_other;
        self.forged_skipped += o.forged_skipped;
        self.samples.extend(o.samples.iter().cloned());
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        *self == Report::default()
    }

    /// Counts a forged request's answer (`None`: no answer).
    pub fn forged_answer(&mut self, status: Option<u16>) {
        self.forged_sent += 1;
        match status {
            Some(401 | 403) => self.forged_rejected += 1,
            Some(200..=299) => self.forged_accepted += 1,
            _ => self.forged_other += 1,
        }
    }

    /// Counts a duplicate's answer (`None`: no answer).
    pub fn duplicate_answer(&mut self, status: Option<u16>) {
        self.duplicates_sent += 1;
        if status.is_some_and(|s| (200..300).contains(&s)) {
            self.duplicates_accepted += 1;
        }
    }

    /// The error when the receiver accepted a forged request.
    pub fn accepted_forgery_message(&self) -> Option<String> {
        (self.forged_accepted > 0).then(|| {
            format!(
                "the receiver accepted {} request(s) with a wrong or missing X-Pbx-Token (answered \
                 2xx); it must refuse them, with 401 or 403",
                self.forged_accepted
            )
        })
    }

    /// The summary's chaos lines.
    pub fn render(&self, w: &mut String) {
        let _ = writeln!(w, "chaos      {}", self.settings);
        let mut line = Vec::new();
        if self.duplicated > 0 {
            line.push(format!(
                "duplicated {} (copies sent {}, accepted {})",
                self.duplicated, self.duplicates_sent, self.duplicates_accepted
            ));
        }
        if self.reordered > 0 {
            line.push(format!("reordered {}", self.reordered));
        }
        if self.delayed > 0 {
            line.push(format!("delayed {} by {}", self.delayed, Human(self.delay_by)));
        }
        if self.batches > 0 {
            line.push(format!(
                "batched {} events in {} POSTs of arrays",
                self.batched_events, self.batches
            ));
        }
        if !line.is_empty() {
            let _ = writeln!(w, "           {}", line.join(", "));
        }
        if self.wrong_token + self.no_token > 0 {
            let _ = writeln!(
                w,
                "           forged requests: wrong token {}, no token {}; answered 401/403 {} \
                 (expected), 2xx {}, other {}{}",
                self.wrong_token,
                self.no_token,
                self.forged_rejected,
                self.forged_accepted,
                self.forged_other,
                match self.forged_skipped {
                    0 => String::new(),
                    n => format!("; {n} not sent (endpoint without a token)"),
                }
            );
        }
        for name in ["duplicate", "reorder", "delay", "wrong_token", "no_token"] {
            let examples: Vec<&str> =
                self.samples.iter().filter(|(f, _)| *f == name).map(|(_, s)| s.as_str()).collect();
            if !examples.is_empty() {
                let _ = writeln!(w, "           e.g. {name}: {}", examples.join("; "));
            }
        }
        if let Some(message) = self.accepted_forgery_message() {
            let _ = writeln!(w, "ERROR      {message}");
        }
    }
}

/// A call's batch being filled.
struct Batch {
    route: u32,
    events: Vec<Emission>,
    reordered: bool,
    release_at: Millis,
}

/// Turns a stream of events into POSTs with their faults: reorders (per call), batches (per
/// call and endpoint), and decides each POST's faults. `route` gives an event's endpoint key,
/// or `None` when it is not sent.
pub struct Planner<I, R> {
    input: I,
    chaos: Chaos,
    route: R,
    /// Per call: an event waiting to be sent after the call's next one.
    held: HashMap<u64, (u32, Emission)>,
    /// Per call: the batch being filled.
    batches: HashMap<u64, Batch>,
    out: VecDeque<Planned>,
    report: Report,
    finished: bool,
    /// The virtual time of the latest event read: what a call's end releases is due then.
    now: Millis,
}

impl<I, R> Planner<I, R>
where
    I: Iterator<Item = Feed>,
    R: FnMut(&Emission) -> Option<u32>,
{
    pub fn new(input: I, chaos: Chaos, route: R) -> Self {
        let report = Report {
            settings: format!("{chaos} (seed {})", chaos.seed),
            delay_by: chaos.delay_by,
            ..Report::default()
        };
        Self {
            input,
            chaos,
            route,
            held: HashMap::new(),
            batches: HashMap::new(),
            out: VecDeque::new(),
            report,
            finished: false,
            now: 0,
        }
    }

    /// What was planned so far.
    pub fn report(&self) -> &Report {
        &self.report
    }

    pub fn chaos(&self) -> &Chaos {
        &self.chaos
    }

    fn event(&mut self, e: Emission) {
        self.now = self.now.max(e.at);
        let Some(route) = (self.route)(&e) else {
            self.out.push_back(Planned::Unsent(e));
            return;
        };
        if let Some((held_route, held)) = self.held.remove(&e.call) {
            self.report.reordered += 1;
            self.sample("reorder", &held);
            let release_at = e.at;
            self.add_to_batch(route, e, false, release_at);
            self.add_to_batch(held_route, held, true, release_at);
        } else if self.chaos.reorder > 0.0 && self.chaos.decide(e.call, e.seq).reorder {
            self.held.insert(e.call, (route, e));
        } else {
            let at = e.at;
            self.add_to_batch(route, e, false, at);
        }
    }

    /// Adds `e` to its call's batch, or posts it; `release_at` is when it is due (its own
    /// time, or later when it was held).
    fn add_to_batch(&mut self, route: u32, e: Emission, reordered: bool, release_at: Millis) {
        if self.chaos.batch <= 1 {
            return self.post(route, vec![e], reordered, release_at);
        }
        let call = e.call;
        if self.batches.get(&call).is_some_and(|b| b.route != route) {
            self.flush_batch(call);
        }
        let batch = self.batches.entry(call).or_insert_with(|| Batch {
            route,
            events: Vec::with_capacity(self.chaos.batch),
            reordered: false,
            release_at: 0,
        });
        batch.events.push(e);
        batch.reordered |= reordered;
        batch.release_at = batch.release_at.max(release_at);
        if batch.events.len() >= self.chaos.batch {
            self.flush_batch(call);
        }
    }

    fn flush_batch(&mut self, call: u64) {
        if let Some(b) = self.batches.remove(&call)
            && !b.events.is_empty()
        {
            self.post(b.route, b.events, b.reordered, b.release_at);
        }
    }

    /// The call ended: send what it still holds, due now (it was held until the end showed).
    fn ended(&mut self, call: u64) {
        let now = self.now;
        if let Some((route, held)) = self.held.remove(&call) {
            self.add_to_batch(route, held, false, now);
        }
        if let Some(b) = self.batches.get_mut(&call) {
            b.release_at = b.release_at.max(now);
        }
        self.flush_batch(call);
        self.out.push_back(Planned::Ended(call));
    }

    fn post(&mut self, route: u32, events: Vec<Emission>, reordered: bool, release_at: Millis) {
        let first = &events[0];
        let release_at = events.iter().map(|e| e.at).fold(release_at, Millis::max);
        let d = self.chaos.decide(first.call, first.seq);
        let faults = PostFaults {
            duplicate: d.duplicate,
            delay: d.delay,
            wrong_token: d.wrong_token,
            no_token: d.no_token,
            reordered,
        };
        let r = &mut self.report;
        r.posts += 1;
        if self.chaos.batch > 1 {
            r.batches += 1;
            r.batched_events += events.len() as u64;
        }
        r.duplicated += u64::from(d.duplicate);
        r.delayed += u64::from(d.delay.is_some());
        r.wrong_token += u64::from(d.wrong_token);
        r.no_token += u64::from(d.no_token);
        for (name, on) in [
            ("duplicate", d.duplicate),
            ("delay", d.delay.is_some()),
            ("wrong_token", d.wrong_token),
            ("no_token", d.no_token),
        ] {
            if on {
                self.sample(name, &events[0]);
            }
        }
        let array = self.chaos.batch > 1;
        self.out.push_back(Planned::Post(Post { events, route, faults, array, release_at }));
    }

    fn sample(&mut self, fault: &'static str, e: &Emission) {
        if self.report.samples.iter().filter(|(f, _)| *f == fault).count() < SAMPLES {
            let text = format!("{} #{} {}", e.event.unique_call_id(), e.seq, e.event.event_type());
            self.report.samples.push((fault, text));
        }
    }

    /// The stream is over: send everything held, in call order.
    fn finish(&mut self) {
        let mut calls: Vec<u64> = self.held.keys().chain(self.batches.keys()).copied().collect();
        calls.sort_unstable();
        calls.dedup();
        for call in calls {
            self.ended(call);
        }
    }
}

impl<I, R> Iterator for Planner<I, R>
where
    I: Iterator<Item = Feed>,
    R: FnMut(&Emission) -> Option<u32>,
{
    type Item = Planned;

    fn next(&mut self) -> Option<Planned> {
        loop {
            if let Some(p) = self.out.pop_front() {
                return Some(p);
            }
            if self.finished {
                return None;
            }
            match self.input.next() {
                Some(Feed::Event(e)) => self.event(e),
                Some(Feed::CallEnded(call)) => self.ended(call),
                None => {
                    self.finish();
                    self.finished = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Target;
    use crate::engine::feed::with_ended_calls;
    use crate::event::{DurationStyle, NullStyle, NumberStyle};
    use crate::scenario::chaos::*;

    fn emission(call: u64, seq: u32) -> Emission {
        let mut event = crate::trigger::fake_event(
            crate::event::EventType::UserInbound,
            &mut <rand::rngs::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(call),
            chrono::DateTime::UNIX_EPOCH,
        );
        if let crate::event::Event::UserInbound(e) = &mut event {
            e.user_name = format!("seq-{seq}").into();
        }
        Emission { at: u64::from(seq) * 10 + call, call, seq, target: Target::Global, event }
    }

    /// `calls` calls of `n` events, interleaved.
    fn stream(calls: u64, n: u32) -> Vec<Feed> {
        let mut out = Vec::new();
        for seq in 0..n {
            for call in 0..calls {
                out.push(Feed::Event(emission(call, seq)));
            }
        }
        out
    }

    fn plan(chaos: Chaos, feed: Vec<Feed>) -> (Vec<Planned>, Report) {
        let mut planner = Planner::new(feed.into_iter(), chaos, |_: &Emission| Some(0));
        let out: Vec<Planned> = planner.by_ref().collect();
        (out, planner.report().clone())
    }

    fn posts(planned: &[Planned]) -> Vec<&Post> {
        planned
            .iter()
            .filter_map(|p| match p {
                Planned::Post(p) => Some(p),
                Planned::Unsent(_) | Planned::Ended(_) => None,
            })
            .collect()
    }

    #[test]
    fn parses_the_documented_list() {
        let text = "duplicate=0.05,reorder=0.02,delay=0.1:2s,wrong_token=0.01,no_token=1%,\
                    batch=5,numbers=e164,nulls=omit,durations=string,recording_link=url,\
                    extra_fields=10%";
        let chaos = Chaos::from_settings(&parse_list(text).unwrap());
        assert_eq!(chaos.duplicate, 0.05);
        assert_eq!(chaos.reorder, 0.02);
        assert_eq!((chaos.delay, chaos.delay_by), (0.1, 2_000));
        assert_eq!((chaos.wrong_token, chaos.no_token), (0.01, 0.01));
        assert_eq!(chaos.batch, 5);
        assert_eq!(chaos.numbers, Some(NumberStyle::E164));
        assert_eq!(chaos.nulls, Some(NullStyle::Omit));
        assert_eq!(chaos.durations, Some(DurationStyle::String));
        assert_eq!(chaos.recording_link, Some(RecordingLink::Url));
        assert_eq!(chaos.extra_fields, 0.1);
        assert!(chaos.is_active() && chaos.has_token_faults());
        // Display writes it back in the same form.
        let again = Chaos::from_settings(&parse_list(&chaos.to_string()).unwrap());
        assert_eq!(again, chaos);
        assert!(!Chaos::default().is_active());
        assert_eq!(parse_list(" , ").unwrap(), vec![]);
    }

    #[test]
    fn each_payload_variant_alone_makes_chaos_active() {
        for text in ["recording_link=url", "extra_fields=0.5", "nulls=string"] {
            assert!(Chaos::from_settings(&parse_list(text).unwrap()).is_active(), "{text}");
        }
        assert!(!Chaos::from_settings(&parse_list("recording_link=null").unwrap()).is_active());
        let e = parse_list("recording_link=uri").unwrap_err();
        assert!(e.help.contains("did you mean `url`?"), "{}", e.help);
        assert!(parse_list("extra_fields=2").is_err());
    }

    /// A voicemail event of call `call` (event `seq` of it), with its id derived from `call`.
    fn voicemail(call: u64, seq: u32) -> Emission {
        let mut rng = <rand::rngs::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(call);
        let event = crate::trigger::fake_event(
            crate::event::EventType::Voicemail,
            &mut rng,
            chrono::DateTime::UNIX_EPOCH,
        );
        Emission { at: 0, call, seq, target: Target::Global, event }
    }

    fn body(chaos: &Chaos, e: &Emission) -> serde_json::Value {
        let mut out = Vec::new();
        chaos.write_event(&chaos.style(NullStyle::Null), e, &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn recording_links_are_https_urls_fixed_per_call_and_seed() {
        let chaos = Chaos { recording_link: Some(RecordingLink::Url), seed: 5, ..Chaos::default() };
        let a = voicemail(1, 3);
        let link = body(&chaos, &a)["call_recording_link"].as_str().unwrap().to_string();
        let id = a.event.unique_call_id();
        assert!(
            link.starts_with(&format!("https://recordings.example.com/{id}/voicemail-")),
            "{link}"
        );
        assert!(link.ends_with(".wav"), "{link}");
        // The same call gives the same link at any position; another call or seed another.
        assert_eq!(body(&chaos, &voicemail(1, 7))["call_recording_link"], link.as_str());
        assert_ne!(body(&chaos, &voicemail(2, 3))["call_recording_link"], link.as_str());
        let other = Chaos { seed: 6, ..chaos.clone() };
        assert_ne!(body(&other, &a)["call_recording_link"], link.as_str());
        // Events without a recording link are unchanged; without the variant it stays null.
        let inbound = emission(1, 0);
        assert_eq!(body(&chaos, &inbound), inbound.event.to_value(NullStyle::Null));
        assert!(body(&Chaos::default(), &a)["call_recording_link"].is_null());
    }

    #[test]
    fn extra_fields_go_to_a_seeded_fraction_of_bodies_at_the_end() {
        let chaos = Chaos { extra_fields: 0.25, seed: 9, ..Chaos::default() };
        let events: Vec<Emission> =
            (0..400).flat_map(|call| (0..5).map(move |seq| emission(call, seq))).collect();
        let with_extra: Vec<bool> = events
            .iter()
            .map(|e| {
                let v = body(&chaos, e);
                let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
                let extra = v.get(EXTRA_FIELD).is_some();
                if extra {
                    assert_eq!(keys.last().map(|k| k.as_str()), Some(EXTRA_FIELD), "last key");
                    // Everything else is the event as it was.
                    let mut rest = v.clone();
                    rest.as_object_mut().unwrap().shift_remove(EXTRA_FIELD);
                    assert_eq!(rest, e.event.to_value(NullStyle::Null));
                }
                extra
            })
            .collect();
        let n = with_extra.iter().filter(|x| **x).count();
        assert!((400..600).contains(&n), "{n} of 2000");
        let again: Vec<bool> =
            events.iter().map(|e| body(&chaos, e).get(EXTRA_FIELD).is_some()).collect();
        assert_eq!(again, with_extra, "reproducible");
        // Values of several JSON types appear.
        let kinds: std::collections::BTreeSet<&str> = events
            .iter()
            .filter_map(|e| {
                body(&chaos, e).get(EXTRA_FIELD).map(|v| match v {
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Number(_) => "number",
                    serde_json::Value::Bool(_) => "bool",
                    serde_json::Value::Object(_) => "object",
                    _ => "array",
                })
            })
            .collect();
        assert_eq!(kinds.len(), 5, "{kinds:?}");
    }

    #[test]
    fn nulls_string_writes_the_text_null() {
        let chaos = Chaos { nulls: Some(NullStyle::String), ..Chaos::default() };
        let e = emission(0, 0);
        let v = body(&chaos, &e);
        let plain = e.event.to_value(NullStyle::Null);
        for (k, was) in plain.as_object().unwrap() {
            let want = if was.is_null() { serde_json::json!("null") } else { was.clone() };
            assert_eq!(v[k], want, "{k}");
        }
        assert!(plain.as_object().unwrap().values().any(|x| x.is_null()), "the sample has nulls");
    }

    #[test]
    fn later_settings_override_earlier_ones() {
        let mut chaos = Chaos::from_settings(&parse_list("duplicate=0.5,batch=3").unwrap());
        chaos.apply_all(&parse_list("duplicate=0").unwrap());
        assert_eq!((chaos.duplicate, chaos.batch), (0.0, 3));
    }

    #[test]
    fn errors_say_what_is_wrong_and_where() {
        let e = parse_list("batch=5,dupliate=0.05").unwrap_err();
        assert_eq!(e.message, "unknown fault `dupliate`");
        assert!(e.help.starts_with("did you mean `duplicate`?"), "{}", e.help);
        assert_eq!(&"batch=5,dupliate=0.05"[e.span.clone()], "dupliate");

        let e = parse_list("duplicate=1.5").unwrap_err();
        assert!(e.message.contains("not a probability from 0 to 1"), "{}", e.message);
        assert_eq!(&"duplicate=1.5"[e.span.clone()], "1.5");
        assert!(parse_list("reorder=-0.1").is_err());
        assert!(parse_list("reorder=abc").unwrap_err().help.contains("reorder=0.05"));
        assert!(parse_list("delay=0.1").unwrap_err().help.contains("delay=0.1:2s"));
        assert!(parse_list("delay=0.1:0s").is_err());
        assert!(parse_list("delay=0.1:fast").is_err());
        assert!(parse_list("batch=0").is_err());
        assert!(parse_list("batch=1001").is_err());
        assert!(parse_list("duplicate").unwrap_err().help.contains("key=value"));
        let e = parse_list("numbers=e146").unwrap_err();
        assert_eq!(e.message, "unknown numbers style `e146`");
        assert!(e.help.contains("did you mean `e164`?"), "{}", e.help);
        assert!(parse_list("nulls=none").unwrap_err().help.contains("null, empty, omit"));
        assert!(parse_list("durations=text").is_err());
    }

    #[test]
    fn decisions_are_seeded_and_near_their_rates() {
        let chaos = Chaos { duplicate: 0.1, reorder: 0.3, seed: 7, ..Chaos::default() };
        let n = 20_000;
        let dup = (0..n).filter(|i| chaos.decide(*i, 0).duplicate).count();
        let reo = (0..n).filter(|i| chaos.decide(*i, 0).reorder).count();
        assert!((1_700..2_300).contains(&dup), "{dup}");
        assert!((5_500..6_500).contains(&reo), "{reo}");
        // Same seed, same choices; another seed, other choices.
        let again = chaos.clone();
        assert!((0..1000).all(|i| chaos.decide(i, 3) == again.decide(i, 3)));
        let other = Chaos { seed: 8, ..chaos.clone() };
        assert!((0..1000).any(|i| chaos.decide(i, 3) != other.decide(i, 3)));
        // One fault's rate does not move another fault's choices.
        let more = Chaos { duplicate: 0.9, ..chaos.clone() };
        assert!((0..1000).all(|i| chaos.decide(i, 1).reorder == more.decide(i, 1).reorder));
        assert!((0..1000).all(|i| !Chaos::default().decide(i, 0).duplicate));
        let all = Chaos { duplicate: 1.0, ..Chaos::default() };
        assert!((0..1000).all(|i| all.decide(i, 0).duplicate));
    }

    #[test]
    fn reorder_swaps_an_event_with_its_calls_next_one() {
        let chaos = Chaos { reorder: 0.3, seed: 3, ..Chaos::default() };
        let (out, report) = plan(chaos.clone(), stream(20, 6));
        let posts = posts(&out);
        assert_eq!(posts.len(), 120, "nothing lost or added");
        assert!(report.reordered > 0);
        for call in 0..20 {
            let seqs: Vec<u32> = posts
                .iter()
                .flat_map(|p| &p.events)
                .filter(|e| e.call == call)
                .map(|e| e.seq)
                .collect();
            let mut sorted = seqs.clone();
            sorted.sort();
            assert_eq!(sorted, (0..6).collect::<Vec<_>>());
            // Every displacement is a swap of neighbours.
            for (i, s) in seqs.iter().enumerate() {
                assert!((*s as i64 - i as i64).abs() <= 1, "call {call}: {seqs:?}");
            }
        }
        let swapped = posts.iter().filter(|p| p.faults.reordered).count() as u64;
        assert_eq!(swapped, report.reordered);
        // A reordered event is due when the event it was held behind is (the hold is chaos's,
        // not the receiver's); every other POST when its own event is, or when it was let go.
        for (i, p) in posts.iter().enumerate() {
            let own = p.events[0].at;
            if p.faults.reordered {
                let ahead = posts[..i].iter().rev().find(|q| q.events[0].call == p.events[0].call);
                let ahead = ahead.map(|q| q.events[0].at);
                assert_eq!(Some(p.release_at), ahead, "{p:?}");
                assert!(p.release_at > own);
            } else if p.release_at != own {
                // Held to the end of the stream (its call's end never showed): due then.
                assert_eq!(p.release_at, 5 * 10 + 19, "{p:?}");
            }
        }
        // Reproducible.
        assert_eq!(plan(chaos, stream(20, 6)).0, out);
    }

    #[test]
    fn batches_keep_call_order_and_flush_when_the_call_ends() {
        let chaos = Chaos { batch: 4, ..Chaos::default() };
        let mut feed = stream(3, 6);
        // Call 1 ends after its 6 events (before the stream does).
        feed.push(Feed::CallEnded(1));
        feed.push(Feed::Event(emission(0, 6)));
        let (out, report) = plan(chaos, feed);
        let posts = posts(&out);
        let shape: Vec<(u64, Vec<u32>)> = posts
            .iter()
            .map(|p| (p.events[0].call, p.events.iter().map(|e| e.seq).collect()))
            .collect();
        assert!(
            posts.iter().all(|p| p.array && p.events.iter().all(|e| e.call == p.events[0].call))
        );
        assert_eq!(
            shape,
            vec![
                (0, vec![0, 1, 2, 3]),
                (1, vec![0, 1, 2, 3]),
                (2, vec![0, 1, 2, 3]),
                (1, vec![4, 5]),
                (0, vec![4, 5, 6]),
                (2, vec![4, 5]),
            ]
        );
        assert_eq!((report.batches, report.batched_events), (6, 19));
    }

    #[test]
    fn a_batch_never_mixes_endpoints_and_unsent_events_pass_through() {
        let chaos = Chaos { batch: 10, ..Chaos::default() };
        let feed: Vec<Feed> = (0..6).map(|s| Feed::Event(emission(0, s))).collect();
        // seq 2 goes to endpoint 1, seq 4 is not sent.
        let route = |e: &Emission| match e.seq {
            2 => Some(1),
            4 => None,
            _ => Some(0),
        };
        let out: Vec<Planned> = Planner::new(feed.into_iter(), chaos, route).collect();
        let shape: Vec<String> = out
            .iter()
            .map(|p| match p {
                Planned::Unsent(e) => format!("unsent {}", e.seq),
                Planned::Ended(call) => format!("ended {call}"),
                Planned::Post(p) => {
                    format!("{}:{:?}", p.route, p.events.iter().map(|e| e.seq).collect::<Vec<_>>())
                }
            })
            .collect();
        // The stream's end ends the call: what it held goes, then the end itself.
        assert_eq!(shape, vec!["0:[0, 1]", "1:[2]", "unsent 4", "0:[3, 5]", "ended 0"]);
    }

    #[test]
    fn post_faults_follow_the_decisions_and_are_counted() {
        let chaos = Chaos {
            duplicate: 0.2,
            delay: 0.2,
            delay_by: 1_500,
            wrong_token: 0.1,
            no_token: 0.1,
            seed: 11,
            ..Chaos::default()
        };
        let (out, report) = plan(chaos.clone(), stream(50, 4));
        let posts = posts(&out);
        for p in &posts {
            let d = chaos.decide(p.events[0].call, p.events[0].seq);
            assert_eq!(p.faults.duplicate, d.duplicate);
            assert_eq!(p.faults.delay, d.delay);
            assert_eq!((p.faults.wrong_token, p.faults.no_token), (d.wrong_token, d.no_token));
        }
        let count =
            |f: fn(&PostFaults) -> bool| posts.iter().filter(|p| f(&p.faults)).count() as u64;
        assert_eq!(report.duplicated, count(|f| f.duplicate));
        assert_eq!(report.delayed, count(|f| f.delay.is_some()));
        assert_eq!(report.wrong_token, count(|f| f.wrong_token));
        assert_eq!(report.no_token, count(|f| f.no_token));
        assert!(report.duplicated > 0 && report.delayed > 0 && report.wrong_token > 0);
        assert_eq!(report.posts, 200);
        let mut text = String::new();
        report.render(&mut text);
        assert!(text.contains("chaos      duplicate=0.2,delay=0.2:1.5s"), "{text}");
        assert!(text.contains("e.g. duplicate: "), "{text}");
        assert!(!text.contains("ERROR"), "{text}");
    }

    #[test]
    fn ended_calls_come_as_soon_as_the_engine_reports_them() {
        let text = r#"
[[users]]
name = "Alice"
extension = "1010"

[[numbers]]
number = "61290000000"
flow = ["user:1010"]

[[calls]]
at = "0s"
from = "61400000001"
to = "61290000000"
talk = "10s"

[[calls]]
at = "1m"
from = "61400000002"
to = "61290000000"
talk = "10s"
"#;
        let scenario = std::sync::Arc::new(crate::scenario::parse(text, "t.toml").unwrap());
        let options = crate::engine::Options::new(1, chrono::DateTime::UNIX_EPOCH);
        let feed: Vec<Feed> =
            with_ended_calls(crate::engine::Engine::new(scenario, options)).collect();
        let shape: Vec<String> = feed
            .iter()
            .map(|f| match f {
                Feed::Event(e) => format!("{}", e.call),
                Feed::CallEnded(c) => format!("end {c}"),
            })
            .collect();
        assert_eq!(shape, vec!["0", "0", "0", "end 0", "1", "1", "1", "end 1"]);

        // A batch of call 0 goes when call 0 ends, before call 1's events are read.
        let chaos = Chaos { batch: 10, ..Chaos::default() };
        let read = std::cell::Cell::new(0);
        let route = |_: &Emission| {
            read.set(read.get() + 1);
            Some(0)
        };
        let mut planner = Planner::new(feed.into_iter(), chaos, route);
        let Some(Planned::Post(first)) = planner.next() else { panic!("a post") };
        assert_eq!((first.events.len(), first.events[0].call, read.get()), (3, 0, 3));
        assert!(matches!(planner.next(), Some(Planned::Ended(0))), "the end follows the batch");
        let Some(Planned::Post(second)) = planner.next() else { panic!("a post") };
        assert_eq!((second.events.len(), second.events[0].call, read.get()), (3, 1, 6));
    }

    #[test]
    fn forged_answers_are_classified() {
        let mut r = Report::default();
        for status in [Some(401), Some(403), Some(200), Some(500), None] {
            r.forged_answer(status);
        }
        assert_eq!(
            (r.forged_sent, r.forged_rejected, r.forged_accepted, r.forged_other),
            (5, 2, 1, 2)
        );
        assert!(r.accepted_forgery_message().unwrap().contains("accepted 1 request"));
        let mut text = String::new();
        r.render(&mut text);
        assert!(text.contains("ERROR"), "{text}");
    }
}
