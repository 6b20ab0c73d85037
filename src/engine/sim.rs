//! The discrete-event simulation behind [`Engine`]: calls, agents, queues and ring groups.
//! Which members a queue rings for a waiting call is decided in [`super::strategy`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::strategy::{self, Cursors, MemberHistory};
use super::{
    Backstop, CallEnd, Emission, EndReason, MAX_EVENTS_PER_CALL, MAX_STEPS_PER_CALL, Runaway,
    Target,
};
use crate::duration::Millis;
use crate::event::{self, CallStatus, Event, Str};
use crate::pbx::{
    QueueId, RecordingMode, RecordingSettings, RingGroupId, RingMode, Step, UnansweredCompletion,
    UserId, WrapupBlocks,
};
use crate::scenario::{Answer, Behaviour, CallKind, Scenario, ScriptedCall};
use crate::time::Timeline;

/// How long a direct user step rings when the flow does not say.
pub const DEFAULT_USER_RING: Millis = 20_000;
/// How long an unanswered outbound call rings before the user gives up, unless the call says.
pub const DEFAULT_OUTBOUND_RING: Millis = 30_000;

/// The inputs that are not in the scenario file: the seed and the clock's origin.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub seed: u64,
    pub start: DateTime<Utc>,
    /// Added to every `unique_call_id` (a tenant's range of ids, `load --tenants`); 0 by default.
    pub id_offset: u64,
}

impl Options {
    pub fn new(seed: u64, start: DateTime<Utc>) -> Self {
        Self { seed, start, id_offset: 0 }
    }
}

/// Counters the engine keeps while it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Calls that started.
    pub calls: u64,
    /// Calls that ended.
    pub ended: u64,
    /// Calls a user answered (inbound) or the far end answered (outbound).
    pub answered: u64,
    /// Inbound calls whose caller hung up before an answer.
    pub abandoned: u64,
    /// Inbound calls that ended in a voicemail message.
    pub voicemail: u64,
    /// Calls that ended unanswered otherwise (flow ran out, hang-up step, outbound not answered).
    pub unanswered: u64,
    /// Queue visits that timed out (the call then went on to its failover step).
    pub queue_timeouts: u64,
    /// Outbound calls not placed because their user was already on a call or ringing.
    pub outbound_skipped_busy: u64,
}

/// The engine: an iterator of [`Emission`]s.
pub struct Engine<'a> {
    scenario: Arc<Scenario>,
    timeline: Timeline,
    rng: ChaCha8Rng,
    id_base: u64,
    arrivals: Box<dyn Iterator<Item = ScriptedCall> + Send + 'a>,
    next_arrival: Option<ScriptedCall>,
    now: Millis,
    timers: BinaryHeap<Reverse<(Millis, u64, Timer)>>,
    timer_seq: u64,
    calls: Vec<Option<CallState>>,
    free_slots: Vec<usize>,
    generation: u32,
    agents: Vec<Agent>,
    queues: Vec<QueueState>,
    /// For each user, the queues they are a member of.
    user_queues: Vec<Vec<QueueId>>,
    out: VecDeque<Emission>,
    stats: Stats,
    call_count: u64,
    /// Calls that ended, when tracked ([`Engine::track_ended_calls`]).
    ended: Option<VecDeque<CallEnd>>,
    /// Set when a call went past a per-call limit; the engine then stops.
    backstop: Backstop,
    halted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct CallRef {
    slot: usize,
    generation: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// A rung user answers.
    Answer { call: CallRef, attempt: u32, user: UserId },
    /// The current ring attempt (queue, ring group member or direct user) ends unanswered.
    RingTimeout { call: CallRef, attempt: u32 },
    /// A queue call's retry pause ends.
    RetryReady { call: CallRef, attempt: u32 },
    /// A queue visit reaches its maximum wait.
    MaxWait { call: CallRef, visit: u32 },
    /// The caller hangs up unless answered.
    Abandon { call: CallRef },
    /// The conversation (inbound or outbound) ends.
    Hangup { call: CallRef },
    /// The caller finishes the voicemail message.
    VoicemailEnd { call: CallRef },
    /// An outbound call's far end answers.
    OutboundAnswer { call: CallRef },
    /// An agent's wrap-up ends.
    WrapupEnd { user: UserId, token: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentState {
    Idle,
    Ringing(CallRef),
    OnCall(CallRef),
}

/// A queue's wrap-up after a call, holding the agent back from that queue's calls (or from
/// every inbound call) until its timer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wrapup {
    queue: QueueId,
    blocks: WrapupBlocks,
    token: u32,
}

#[derive(Debug, Clone)]
struct Agent {
    state: AgentState,
    /// When the agent's last call ended (for `least_recent`).
    last_call_end: Option<Millis>,
    /// Calls the agent answered (for `fewest_calls`).
    answered: u64,
    /// Wrap-ups in progress (one per queue at most).
    wrapups: Vec<Wrapup>,
    /// Bumped whenever a wrap-up starts: its timer ends the wrap-up with that token.
    wrapup_token: u32,
}

#[derive(Debug, Clone, Default)]
struct QueueState {
    /// Waiting calls, first come first served.
    waiting: VecDeque<CallRef>,
    /// Index of the member rung last (for `round_robin`).
    cursor: Option<usize>,
}

/// Where the call's user events are routed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Direct,
    Queue(QueueId),
    RingGroup(RingGroupId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Walking the call flow.
    Routing,
    /// In a queue: waiting for a free member (or in the retry pause), or ringing members.
    Queued { queue: QueueId, ringing: bool, paused: bool },
    /// A ring group is ringing (`member` is the sequential position).
    RingGroup { group: RingGroupId, member: usize },
    /// A direct user step is ringing.
    RingingUser { user: UserId },
    /// Talking to a user (inbound) or the far end (outbound).
    Connected,
    /// Leaving a voicemail message.
    Voicemail,
    /// An outbound call ringing the far end.
    OutboundRinging,
}

#[derive(Debug, Clone, Copy)]
enum RecordingSource {
    Flow,
    User(UserId),
}

#[derive(Debug)]
struct CallState {
    generation: u32,
    index: u64,
    id: Str,
    caller_id: Str,
    caller_name: Option<Str>,
    dest: Str,
    start: Millis,
    start_text: Str,
    behaviour: Behaviour,
    seq: u32,
    /// Call-flow steps taken so far (flow, failover and no-answer steps).
    steps: u32,
    /// Inbound: the number's flow, the next step and a pending failover step.
    number: usize,
    pc: usize,
    pending: Option<Step>,
    /// Outbound: the user who dials.
    outbound_user: Option<UserId>,
    phase: Phase,
    route: Route,
    /// Bumped on every ring attempt and phase change, so stale timers are ignored.
    attempt: u32,
    /// Bumped on each queue visit.
    visit: u32,
    /// The failover step of the current queue or ring-group step, if the flow named one.
    step_failover: Option<Step>,
    ringing: Vec<UserId>,
    /// `linear` queues: the next member to try for this call.
    linear_cursor: usize,
    connected: Option<Connection>,
    recording: Option<(Millis, RecordingSource)>,
}

#[derive(Debug, Clone)]
struct Connection {
    at: Millis,
    text: Str,
    user: Option<UserId>,
}

impl<'a> Engine<'a> {
    /// An engine over the scenario's scripted calls.
    pub fn new(scenario: Arc<Scenario>, options: Options) -> Engine<'static> {
        let calls = scenario.calls.clone();
        Engine::with_calls(scenario, options, calls.into_iter())
    }

    /// An engine over any stream of calls, which must come in non-decreasing `at` order
    /// (generated traffic, or a long repeated script that is never held in memory whole).
    pub fn with_calls(
        scenario: Arc<Scenario>,
        options: Options,
        calls: impl Iterator<Item = ScriptedCall> + Send + 'a,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        // Twelve-digit ids, like real ones (160455961758); consecutive within a run.
        let id_base = rng.random_range(100_000_000_000u64..800_000_000_000) + options.id_offset;
        let timeline = Timeline::new(options.start, scenario.utc_offset);
        let pbx = &scenario.pbx;
        let agents = vec![
            Agent {
                state: AgentState::Idle,
                last_call_end: None,
                answered: 0,
                wrapups: Vec::new(),
                wrapup_token: 0
            };
            pbx.users.len()
        ];
        let mut user_queues = vec![Vec::new(); pbx.users.len()];
        for (q, queue) in pbx.queues.iter().enumerate() {
            for &m in &queue.members {
                if !user_queues[m].contains(&q) {
                    user_queues[m].push(q);
                }
            }
        }
        let queues = vec![QueueState::default(); pbx.queues.len()];
        let mut arrivals: Box<dyn Iterator<Item = ScriptedCall> + Send + 'a> = Box::new(calls);
        let next_arrival = arrivals.next();
        Engine {
            scenario,
            timeline,
            rng,
            id_base,
            arrivals,
            next_arrival,
            now: 0,
            timers: BinaryHeap::new(),
            timer_seq: 0,
            calls: Vec::new(),
            free_slots: Vec::new(),
            generation: 0,
            agents,
            queues,
            user_queues,
            out: VecDeque::new(),
            stats: Stats::default(),
            call_count: 0,
            ended: None,
            backstop: Backstop::default(),
            halted: false,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The virtual time of the last thing that happened.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Report ended calls through [`Engine::take_ended`] (off by default, as the list grows
    /// until it is taken).
    pub fn track_ended_calls(mut self) -> Self {
        self.ended = Some(VecDeque::new());
        self
    }

    /// The next call (by index, as in [`Emission::call`]) that has ended and whose every event
    /// was already yielded: nothing more of it follows. Poll after each `next()`; a call's end
    /// is reported only once its last emission is out, which may be steps after that emission
    /// (a call can end without a final event, e.g. when a direct ring times out and the flow
    /// runs out). Always `None` unless [`Engine::track_ended_calls`] was set.
    pub fn take_ended(&mut self) -> Option<u64> {
        self.take_call_end().map(|end| end.call)
    }

    /// Like [`Engine::take_ended`], with when the call started and ended and how (what
    /// `--truth` needs). Both take from the same list: use one or the other.
    pub fn take_call_end(&mut self) -> Option<CallEnd> {
        match self.out.is_empty() {
            true => self.ended.as_mut()?.pop_front(),
            false => None,
        }
    }

    /// Where a call stopped by a per-call limit ([`MAX_STEPS_PER_CALL`],
    /// [`MAX_EVENTS_PER_CALL`]) is reported; the engine yields nothing more after that. Take the
    /// handle before the engine is consumed, and look at it once the events are out.
    pub fn backstop(&self) -> Backstop {
        self.backstop.clone()
    }

    /// Stops the run: call `r` went past a limit.
    fn halt(&mut self, r: CallRef, steps: bool) {
        let c = self.c(r);
        let (limit, what) = if steps {
            (u64::from(MAX_STEPS_PER_CALL), "call-flow steps")
        } else {
            (u64::from(MAX_EVENTS_PER_CALL), "events")
        };
        let runaway = Runaway {
            call: c.index,
            unique_call_id: c.id.clone(),
            dest: c.dest.clone(),
            limit,
            what,
        };
        self.backstop.trip(runaway);
        self.halted = true;
        self.timers.clear();
        self.next_arrival = None;
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len() - self.free_slots.len()
    }

    /// Runs the simulation until at least one emission is ready or nothing is left.
    fn step(&mut self) -> bool {
        if self.halted {
            return false;
        }
        let next_timer = self.timers.peek().map(|Reverse((at, _, _))| *at);
        let arrival_at = self.next_arrival.as_ref().map(|c| c.at);
        match (next_timer, arrival_at) {
            (None, None) => false,
            (Some(t), Some(a)) if a <= t => {
                self.arrive();
                true
            }
            (None, Some(_)) => {
                self.arrive();
                true
            }
            (Some(_), _) => {
                let Some(Reverse((at, _, timer))) = self.timers.pop() else { return false };
                self.now = self.now.max(at);
                self.fire(timer);
                true
            }
        }
    }

    fn schedule(&mut self, at: Millis, timer: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((at, self.timer_seq, timer)));
    }

    fn call(&self, r: CallRef) -> Option<&CallState> {
        self.calls.get(r.slot)?.as_ref().filter(|c| c.generation == r.generation)
    }

    fn call_mut(&mut self, r: CallRef) -> Option<&mut CallState> {
        self.calls.get_mut(r.slot)?.as_mut().filter(|c| c.generation == r.generation)
    }

    fn c(&self, r: CallRef) -> &CallState {
        self.call(r).expect("live call")
    }

    fn cm(&mut self, r: CallRef) -> &mut CallState {
        self.call_mut(r).expect("live call")
    }

    // ---- arrivals -------------------------------------------------------------------------

    fn arrive(&mut self) {
        let Some(spec) = self.next_arrival.take() else { return };
        self.next_arrival = self.arrivals.next();
        self.now = self.now.max(spec.at);
        let index = self.call_count;
        self.call_count += 1;
        self.stats.calls += 1;

        if let CallKind::Outbound { user, .. } = spec.kind {
            if matches!(self.agents[user].state, AgentState::Ringing(_) | AgentState::OnCall(_)) {
                self.stats.outbound_skipped_busy += 1;
                self.stats.ended += 1;
                if let Some(ended) = &mut self.ended {
                    let now = self.now;
                    ended.push_back(CallEnd {
                        call: index,
                        start: now,
                        end: now,
                        how: EndReason::NotPlaced,
                    });
                }
                return;
            }
        }

        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let (number, dest, outbound_user) = match &spec.kind {
            CallKind::Inbound { number } => {
                (*number, self.scenario.pbx.numbers[*number].number.clone(), None)
            }
            CallKind::Outbound { user, dest } => (0, dest.clone(), Some(*user)),
        };
        let state = CallState {
            generation,
            index,
            id: Str::from((self.id_base + index).to_string()),
            caller_id: spec.caller_id,
            caller_name: spec.caller_name,
            dest,
            start: self.now,
            start_text: self.timeline.format_str(self.now),
            behaviour: spec.behaviour,
            seq: 0,
            steps: 0,
            number,
            pc: 0,
            pending: None,
            outbound_user,
            phase: Phase::Routing,
            route: Route::Direct,
            attempt: 0,
            visit: 0,
            step_failover: None,
            ringing: Vec::new(),
            linear_cursor: 0,
            connected: None,
            recording: None,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.calls[slot] = Some(state);
                slot
            }
            None => {
                self.calls.push(Some(state));
                self.calls.len() - 1
            }
        };
        let r = CallRef { slot, generation };
        match outbound_user {
            Some(user) => self.start_outbound(r, user),
            None => {
                if let Some(after) = self.c(r).behaviour.abandon_after {
                    let at = self.now + after;
                    self.schedule(at, Timer::Abandon { call: r });
                }
                self.advance(r);
            }
        }
    }

    // ---- emission helpers -----------------------------------------------------------------

    fn emit(&mut self, r: CallRef, target: Target, event: Event) {
        if self.halted {
            return;
        }
        if self.c(r).seq >= MAX_EVENTS_PER_CALL {
            return self.halt(r, false);
        }
        let now = self.now;
        let call = self.cm(r);
        let seq = call.seq;
        call.seq += 1;
        let index = call.index;
        self.out.push_back(Emission { at: now, call: index, seq, target, event });
    }

    fn route_names(&self, route: Route) -> (Option<Str>, Option<Str>) {
        let pbx = &self.scenario.pbx;
        match route {
            Route::Direct => (None, None),
            Route::Queue(q) => (Some(pbx.queues[q].name.clone()), None),
            Route::RingGroup(g) => (None, Some(pbx.ring_groups[g].name.clone())),
        }
    }

    fn emit_user_inbound(&mut self, r: CallRef, user: UserId) {
        let c = self.c(r);
        let u = &self.scenario.pbx.users[user];
        let (queue_name, ring_group_name) = self.route_names(c.route);
        let event = Event::UserInbound(event::UserInbound {
            unique_call_id: c.id.clone(),
            caller_id: c.caller_id.clone(),
            caller_name: c.caller_name.clone(),
            user_name: u.name.clone(),
            user_number: u.extension.clone(),
            dest_number: c.dest.clone(),
            call_start_at: c.start_text.clone(),
            queue_name,
            ring_group_name,
        });
        self.emit(r, Target::Global, event);
    }

    // ---- inbound call flow ----------------------------------------------------------------

    /// Runs flow steps from the current position until one takes time or the call ends.
    fn advance(&mut self, r: CallRef) {
        loop {
            if self.halted {
                return;
            }
            if self.c(r).steps >= MAX_STEPS_PER_CALL {
                return self.halt(r, true);
            }
            let step = {
                let scenario = Arc::clone(&self.scenario);
                let c = self.cm(r);
                c.steps += 1;
                c.phase = Phase::Routing;
                c.route = Route::Direct;
                match c.pending.take() {
                    Some(step) => step,
                    None => match scenario.pbx.numbers[c.number].flow.get(c.pc) {
                        Some(step) => {
                            c.pc += 1;
                            step.clone()
                        }
                        None => {
                            self.stats.unanswered += 1;
                            self.end_call(r, EndReason::Unanswered);
                            return;
                        }
                    },
                }
            };
            match step {
                Step::Webhook(w) => self.emit_webhook(r, w),
                Step::Record => {
                    let now = self.now;
                    let c = self.cm(r);
                    if c.recording.is_none() {
                        c.recording = Some((now, RecordingSource::Flow));
                    }
                }
                Step::Hangup => {
                    self.stats.unanswered += 1;
                    self.end_call(r, EndReason::Unanswered);
                    return;
                }
                Step::Voicemail(v) => {
                    self.start_voicemail(r, v);
                    return;
                }
                Step::User { user, ring } => {
                    if self.ring_user(r, user, ring.unwrap_or(DEFAULT_USER_RING)) {
                        return;
                    }
                }
                Step::Queue { queue, on_timeout } => {
                    self.enter_queue(r, queue, on_timeout.map(|s| *s));
                    return;
                }
                Step::RingGroup { group, on_no_answer } => {
                    self.enter_ring_group(r, group, on_no_answer.map(|s| *s));
                    return;
                }
            }
        }
    }

    fn emit_webhook(&mut self, r: CallRef, w: usize) {
        let c = self.c(r);
        let event = Event::WebhookComponentEvent(event::WebhookComponentEvent {
            unique_call_id: c.id.clone(),
            user_name: c.caller_name.clone(),
            user_number: c.caller_id.clone(),
            dest_number: c.dest.clone(),
            call_start_at: c.start_text.clone(),
            component_name: self.scenario.pbx.webhooks[w].name.clone(),
        });
        self.emit(r, Target::Webhook(w), event);
    }

    fn start_voicemail(&mut self, r: CallRef, v: usize) {
        let length = self.c(r).behaviour.voicemail;
        if length == 0 {
            self.stats.unanswered += 1;
            self.end_call(r, EndReason::Unanswered);
            return;
        }
        let at = self.now + length;
        let c = self.cm(r);
        c.phase = Phase::Voicemail;
        c.pending = Some(Step::Voicemail(v));
        self.schedule(at, Timer::VoicemailEnd { call: r });
    }

    fn finish_voicemail(&mut self, r: CallRef) {
        let Some(c) = self.call(r) else { return };
        if c.phase != Phase::Voicemail {
            return;
        }
        let Some(Step::Voicemail(v)) = c.pending.clone() else { return };
        let recorded_at = self.now - c.behaviour.voicemail;
        let vm = &self.scenario.pbx.voicemail[v];
        let event = Event::Voicemail(event::Voicemail {
            unique_call_id: c.id.clone(),
            caller_id: c.caller_id.clone(),
            dest_number: c.dest.clone(),
            recorded_at: self.timeline.format_str(recorded_at),
            emails: join_emails(&vm.emails),
            email_subject: vm.subject.clone(),
            email_message: vm.message.clone(),
            call_recording_link: None,
        });
        self.emit(r, Target::Global, event);
        self.stats.voicemail += 1;
        self.end_call(r, EndReason::Voicemail);
    }

    /// Whether the rung `user` answers this call, and after how long.
    fn answer_delay(&mut self, r: CallRef, user: UserId) -> Option<Millis> {
        let b = &self.c(r).behaviour;
        let (answer, delay, p) = (b.answer, b.answer_after, b.no_answer_probability);
        let willing = match answer {
            Answer::Any => true,
            Answer::User(u) => u == user,
            Answer::Nobody => false,
        };
        if !willing {
            return None;
        }
        if p > 0.0 && self.rng.random::<f64>() < p {
            return None;
        }
        Some(delay)
    }

    /// Whether `user` may ring now: for `queue`'s distribution, or (`None`) for a ring group or
    /// a direct user step. A wrap-up holds the user back from its own queue, or from everything
    /// when it blocks `all`.
    fn available(&self, user: UserId, queue: Option<QueueId>) -> bool {
        let agent = &self.agents[user];
        agent.state == AgentState::Idle
            && agent.wrapups.iter().all(|w| w.blocks != WrapupBlocks::All && Some(w.queue) != queue)
    }

    /// Rings `users` for this call: one `user_inbound` each, and answer timers for those who
    /// answer before `timeout`. Starts a new ring attempt.
    fn ring(&mut self, r: CallRef, users: &[UserId], timeout: Millis) {
        let attempt = {
            let c = self.cm(r);
            c.attempt += 1;
            c.ringing.clear();
            c.ringing.extend_from_slice(users);
            c.attempt
        };
        for &user in users {
            self.agents[user].state = AgentState::Ringing(r);
            self.emit_user_inbound(r, user);
            if let Some(delay) = self.answer_delay(r, user) {
                if delay < timeout {
                    let at = self.now + delay;
                    self.schedule(at, Timer::Answer { call: r, attempt, user });
                }
            }
        }
        let at = self.now + timeout;
        self.schedule(at, Timer::RingTimeout { call: r, attempt });
    }

    /// Stops every phone ringing for this call; returns who was ringing.
    fn stop_ringing(&mut self, r: CallRef) -> Vec<UserId> {
        let ringing = std::mem::take(&mut self.cm(r).ringing);
        for &u in &ringing {
            if self.agents[u].state == AgentState::Ringing(r) {
                self.agents[u].state = AgentState::Idle;
            }
        }
        ringing
    }

    /// Users who rang for this call and stopped without answering: with
    /// `unanswered_completion = "completed"`, each gets a `user_inbound_completed` with
    /// `connected_at: null` and no conversation.
    fn missed(&mut self, r: CallRef, users: &[UserId]) {
        if self.scenario.pbx.unanswered_completion != UnansweredCompletion::Completed {
            return;
        }
        for &user in users {
            let c = self.c(r);
            let u = &self.scenario.pbx.users[user];
            let (queue_name, ring_group_name) = self.route_names(c.route);
            let (call_duration, conversation_duration) = durations(c.start, None, self.now);
            let event = Event::UserInboundCompleted(event::UserInboundCompleted {
                unique_call_id: c.id.clone(),
                caller_id: c.caller_id.clone(),
                caller_name: c.caller_name.clone(),
                user_name: u.name.clone(),
                user_number: u.extension.clone(),
                dest_number: c.dest.clone(),
                call_start_at: c.start_text.clone(),
                connected_at: None,
                call_duration,
                conversation_duration,
                queue_name,
                ring_group_name,
            });
            self.emit(r, Target::Global, event);
        }
    }

    /// Rings a user directly. Returns false (the flow goes on at once) if the user is busy.
    fn ring_user(&mut self, r: CallRef, user: UserId, ring: Millis) -> bool {
        if !self.available(user, None) {
            return false;
        }
        self.cm(r).phase = Phase::RingingUser { user };
        self.ring(r, &[user], ring);
        true
    }

    // ---- queues ---------------------------------------------------------------------------

    fn enter_queue(&mut self, r: CallRef, queue: QueueId, on_timeout: Option<Step>) {
        let max_wait = self.scenario.pbx.queues[queue].max_wait;
        let visit = {
            let c = self.cm(r);
            c.phase = Phase::Queued { queue, ringing: false, paused: false };
            c.route = Route::Queue(queue);
            c.step_failover = on_timeout;
            c.linear_cursor = 0;
            c.visit += 1;
            c.visit
        };
        self.queues[queue].waiting.push_back(r);
        let at = self.now + max_wait;
        self.schedule(at, Timer::MaxWait { call: r, visit });
        self.dispatch(queue);
    }

    /// Offers free members to waiting calls, first come first served.
    fn dispatch(&mut self, queue: QueueId) {
        let scenario = Arc::clone(&self.scenario);
        let q = &scenario.pbx.queues[queue];
        let mut i = 0;
        while i < self.queues[queue].waiting.len() {
            let r = self.queues[queue].waiting[i];
            i += 1;
            let Some(c) = self.call(r) else { continue };
            if c.phase != (Phase::Queued { queue, ringing: false, paused: false }) {
                continue;
            }
            let free: Vec<usize> = (0..q.members.len())
                .filter(|&k| self.available(q.members[k], Some(queue)))
                .collect();
            if free.is_empty() {
                break;
            }
            // Which free members ring: the queue's strategy (see `strategy.rs`).
            let agents = &self.agents;
            let history = |k: usize| {
                let agent = &agents[q.members[k]];
                MemberHistory { last_call_end: agent.last_call_end, answered: agent.answered }
            };
            let call = self.calls[r.slot].as_mut().expect("live call");
            let cursors =
                Cursors { call: &mut call.linear_cursor, queue: &mut self.queues[queue].cursor };
            let picked =
                strategy::pick(q.strategy, &free, q.members.len(), cursors, history, &mut self.rng);
            let Some(picked) = picked else { continue };
            let chosen: Vec<UserId> = picked.into_iter().map(|k| q.members[k]).collect();
            self.cm(r).phase = Phase::Queued { queue, ringing: true, paused: false };
            self.ring(r, &chosen, q.ring_timeout);
        }
    }

    fn leave_queue(&mut self, r: CallRef, queue: QueueId) {
        let waiting = &mut self.queues[queue].waiting;
        if let Some(pos) = waiting.iter().position(|&w| w == r) {
            waiting.remove(pos);
        }
    }

    /// Offers freed agents to the queues they belong to.
    fn agents_freed(&mut self, users: &[UserId]) {
        let mut queues: Vec<QueueId> = Vec::new();
        for &u in users {
            for &q in &self.user_queues[u] {
                if !queues.contains(&q) {
                    queues.push(q);
                }
            }
        }
        queues.sort_unstable();
        for q in queues {
            self.dispatch(q);
        }
    }

    fn ring_timeout(&mut self, r: CallRef, attempt: u32) {
        let Some(c) = self.call(r) else { return };
        if c.attempt != attempt {
            return;
        }
        match c.phase {
            Phase::Queued { queue, ringing: true, .. } => {
                let retry = self.scenario.pbx.queues[queue].retry;
                let freed = self.stop_ringing(r);
                self.missed(r, &freed);
                let c = self.cm(r);
                c.attempt += 1;
                c.phase = Phase::Queued { queue, ringing: false, paused: true };
                let attempt = c.attempt;
                self.schedule(self.now + retry, Timer::RetryReady { call: r, attempt });
                self.agents_freed(&freed);
            }
            Phase::RingGroup { group, member } => {
                let freed = self.stop_ringing(r);
                self.missed(r, &freed);
                let g = &self.scenario.pbx.ring_groups[group];
                if g.mode == RingMode::Sequential && self.ring_next_in_group(r, group, member + 1) {
                    self.agents_freed(&freed);
                    return;
                }
                self.agents_freed(&freed);
                self.group_no_answer(r, group);
            }
            Phase::RingingUser { .. } => {
                let freed = self.stop_ringing(r);
                self.missed(r, &freed);
                self.agents_freed(&freed);
                self.advance(r);
            }
            _ => {}
        }
    }

    fn retry_ready(&mut self, r: CallRef, attempt: u32) {
        let Some(c) = self.call(r) else { return };
        if c.attempt != attempt {
            return;
        }
        if let Phase::Queued { queue, paused: true, .. } = c.phase {
            self.cm(r).phase = Phase::Queued { queue, ringing: false, paused: false };
            self.dispatch(queue);
        }
    }

    fn max_wait(&mut self, r: CallRef, visit: u32) {
        let Some(c) = self.call(r) else { return };
        if c.visit != visit {
            return;
        }
        let Phase::Queued { queue, .. } = c.phase else { return };
        let freed = self.stop_ringing(r);
        self.missed(r, &freed);
        self.leave_queue(r, queue);
        self.emit_summary(r, Route::Queue(queue), CallStatus::Timedout);
        self.stats.queue_timeouts += 1;
        let failover = {
            let c = self.cm(r);
            c.attempt += 1;
            c.step_failover.take()
        };
        let failover =
            failover.or_else(|| self.scenario.pbx.queues[queue].failover.as_deref().cloned());
        self.cm(r).pending = failover;
        self.agents_freed(&freed);
        self.advance(r);
    }

    // ---- ring groups ----------------------------------------------------------------------

    /// Starts ringing a group; if nobody in it is free, the no-answer step follows at once.
    fn enter_ring_group(&mut self, r: CallRef, group: RingGroupId, on_no_answer: Option<Step>) {
        {
            let c = self.cm(r);
            c.route = Route::RingGroup(group);
            c.step_failover = on_no_answer;
        }
        let g = &self.scenario.pbx.ring_groups[group];
        let rang = match g.mode {
            RingMode::Simultaneous => {
                let free: Vec<UserId> =
                    g.members.iter().copied().filter(|&u| self.available(u, None)).collect();
                if free.is_empty() {
                    false
                } else {
                    let ring_time = g.ring_time;
                    self.cm(r).phase = Phase::RingGroup { group, member: 0 };
                    self.ring(r, &free, ring_time);
                    true
                }
            }
            RingMode::Sequential => self.ring_next_in_group(r, group, 0),
        };
        if !rang {
            self.group_no_answer(r, group);
        }
    }

    /// Sequential ring groups: rings the first free member at or after `from`.
    fn ring_next_in_group(&mut self, r: CallRef, group: RingGroupId, from: usize) -> bool {
        let g = &self.scenario.pbx.ring_groups[group];
        let Some(k) = (from..g.members.len()).find(|&k| self.available(g.members[k], None)) else {
            return false;
        };
        let (user, ring_time) = (g.members[k], g.ring_time);
        self.cm(r).phase = Phase::RingGroup { group, member: k };
        self.ring(r, &[user], ring_time);
        true
    }

    fn group_no_answer(&mut self, r: CallRef, group: RingGroupId) {
        self.emit_summary(r, Route::RingGroup(group), CallStatus::Timedout);
        let failover = {
            let c = self.cm(r);
            c.attempt += 1;
            c.step_failover.take()
        };
        let failover =
            failover.or_else(|| self.scenario.pbx.ring_groups[group].no_answer.as_deref().cloned());
        self.cm(r).pending = failover;
        self.advance(r);
    }

    // ---- answer, hang-up, abandonment -----------------------------------------------------

    fn answer(&mut self, r: CallRef, attempt: u32, user: UserId) {
        let Some(c) = self.call(r) else { return };
        if c.attempt != attempt || !c.ringing.contains(&user) {
            return;
        }
        let route = c.route;
        if let Phase::Queued { queue, .. } = c.phase {
            self.leave_queue(r, queue);
        }
        let mut freed = self.stop_ringing(r);
        freed.retain(|&u| u != user);
        let now = self.now;
        let text = self.timeline.format_str(now);
        let talk = {
            let c = self.cm(r);
            c.attempt += 1;
            c.phase = Phase::Connected;
            c.connected = Some(Connection { at: now, text: text.clone(), user: Some(user) });
            c.behaviour.talk
        };
        let agent = &mut self.agents[user];
        agent.state = AgentState::OnCall(r);
        agent.answered += 1;
        self.stats.answered += 1;
        if self.scenario.pbx.users[user].record_inbound && self.c(r).recording.is_none() {
            self.cm(r).recording = Some((now, RecordingSource::User(user)));
        }
        let c = self.c(r);
        let u = &self.scenario.pbx.users[user];
        let (queue_name, ring_group_name) = self.route_names(route);
        let event = Event::UserInboundAnswered(event::UserInboundAnswered {
            unique_call_id: c.id.clone(),
            caller_id: c.caller_id.clone(),
            caller_name: c.caller_name.clone(),
            user_name: u.name.clone(),
            user_number: u.extension.clone(),
            dest_number: c.dest.clone(),
            call_start_at: c.start_text.clone(),
            connected_at: text,
            queue_name,
            ring_group_name,
        });
        self.emit(r, Target::Global, event);
        self.missed(r, &freed);
        self.schedule(now + talk, Timer::Hangup { call: r });
        self.agents_freed(&freed);
    }

    fn hangup(&mut self, r: CallRef) {
        let Some(c) = self.call(r) else { return };
        if c.phase != Phase::Connected {
            return;
        }
        if let Some(user) = c.outbound_user {
            self.finish_outbound(r, user);
            return;
        }
        let conn = c.connected.clone().expect("connected call has a connection");
        let user = conn.user.expect("inbound connection has a user");
        let route = c.route;
        let (call_duration, conversation_duration) = durations(c.start, Some(conn.at), self.now);
        let u = &self.scenario.pbx.users[user];
        let (queue_name, ring_group_name) = self.route_names(route);
        let event = Event::UserInboundCompleted(event::UserInboundCompleted {
            unique_call_id: c.id.clone(),
            caller_id: c.caller_id.clone(),
            caller_name: c.caller_name.clone(),
            user_name: u.name.clone(),
            user_number: u.extension.clone(),
            dest_number: c.dest.clone(),
            call_start_at: c.start_text.clone(),
            connected_at: Some(conn.text.clone()),
            call_duration,
            conversation_duration,
            queue_name,
            ring_group_name,
        });
        self.emit(r, Target::Global, event);
        if route != Route::Direct {
            self.emit_summary(r, route, CallStatus::Answered);
        }
        self.emit_recording_inbound(r);
        // A queue call is followed by the queue's wrap-up, which holds the agent back from
        // that queue (or, with `wrapup_blocks = "all"`, from every inbound call) for a while.
        let wrapup = match route {
            Route::Queue(q) => {
                let queue = &self.scenario.pbx.queues[q];
                (queue.wrapup > 0).then_some((q, queue.wrapup, queue.wrapup_blocks))
            }
            _ => None,
        };
        let now = self.now;
        let agent = &mut self.agents[user];
        agent.last_call_end = Some(now);
        agent.state = AgentState::Idle;
        let mut blocks_all = false;
        if let Some((queue, length, blocks)) = wrapup {
            agent.wrapups.retain(|w| w.queue != queue);
            agent.wrapup_token = agent.wrapup_token.wrapping_add(1);
            let token = agent.wrapup_token;
            agent.wrapups.push(Wrapup { queue, blocks, token });
            blocks_all = blocks == WrapupBlocks::All;
            self.schedule(now + length, Timer::WrapupEnd { user, token });
        }
        self.end_call(r, EndReason::Answered);
        if !blocks_all {
            self.agents_freed(&[user]);
        }
    }

    fn wrapup_end(&mut self, user: UserId, token: u32) {
        let agent = &mut self.agents[user];
        let before = agent.wrapups.len();
        agent.wrapups.retain(|w| w.token != token);
        if agent.wrapups.len() < before && agent.state == AgentState::Idle {
            self.agents_freed(&[user]);
        }
    }

    fn abandon(&mut self, r: CallRef) {
        let Some(c) = self.call(r) else { return };
        let visit = match c.phase {
            Phase::Queued { queue, .. } => Some(Route::Queue(queue)),
            Phase::RingGroup { group, .. } => Some(Route::RingGroup(group)),
            Phase::RingingUser { .. } | Phase::Routing => None,
            // Talking, leaving a message, or an outbound call: nothing to abandon.
            Phase::Connected | Phase::Voicemail | Phase::OutboundRinging => return,
        };
        let freed = self.stop_ringing(r);
        self.missed(r, &freed);
        if let Some(route) = visit {
            if let Route::Queue(queue) = route {
                self.leave_queue(r, queue);
            }
            self.emit_summary(r, route, CallStatus::Abandoned);
        }
        self.stats.abandoned += 1;
        self.end_call(r, EndReason::Abandoned);
        self.agents_freed(&freed);
    }

    /// `queue_call` or `ring_group_call` for the visit that just ended.
    fn emit_summary(&mut self, r: CallRef, route: Route, status: CallStatus) {
        let c = self.c(r);
        let answered = if status == CallStatus::Answered { c.connected.as_ref() } else { None };
        let (call_duration, conversation_duration) =
            durations(c.start, answered.map(|a| a.at), self.now);
        let user = answered.and_then(|a| a.user).map(|u| &self.scenario.pbx.users[u]);
        let user_name = user.map(|u| u.name.clone());
        let user_number = user.map(|u| u.extension.clone());
        let connected_at = answered.map(|a| a.text.clone());
        let pbx = &self.scenario.pbx;
        let event = match route {
            Route::Queue(q) => Event::QueueCall(event::QueueCall {
                unique_call_id: c.id.clone(),
                caller_id: c.caller_id.clone(),
                caller_name: c.caller_name.clone(),
                user_name,
                user_number,
                dest_number: c.dest.clone(),
                call_start_at: c.start_text.clone(),
                connected_at,
                call_duration,
                conversation_duration,
                queue_name: pbx.queues[q].name.clone(),
                status,
            }),
            Route::RingGroup(g) => Event::RingGroupCall(event::RingGroupCall {
                unique_call_id: c.id.clone(),
                caller_id: c.caller_id.clone(),
                caller_name: c.caller_name.clone(),
                user_name,
                user_number,
                dest_number: c.dest.clone(),
                call_start_at: c.start_text.clone(),
                connected_at,
                call_duration,
                conversation_duration,
                ring_group_name: pbx.ring_groups[g].name.clone(),
                status,
            }),
            Route::Direct => return,
        };
        self.emit(r, Target::Global, event);
    }

    fn emit_recording_inbound(&mut self, r: CallRef) {
        let c = self.c(r);
        let Some((start, source)) = c.recording else { return };
        let pbx = &self.scenario.pbx;
        let settings = match source {
            RecordingSource::Flow => &pbx.recording,
            RecordingSource::User(u) => &pbx.users[u].recording,
        };
        let event = Event::RecordingInbound(event::RecordingInbound {
            unique_call_id: c.id.clone(),
            caller_id: c.caller_id.clone(),
            dest_number: c.dest.clone(),
            recorded_at: self.timeline.format_str(start),
            emails: join_emails(&settings.emails),
            email_subject: settings.subject.clone(),
            call_recording_link: None,
            email_message: email_message(settings),
        });
        self.emit(r, Target::Global, event);
    }

    fn end_call(&mut self, r: CallRef, how: EndReason) {
        if let Some((index, start)) = self.call(r).map(|c| (c.index, c.start)) {
            if let Some(ended) = &mut self.ended {
                ended.push_back(CallEnd { call: index, start, end: self.now, how });
            }
            self.calls[r.slot] = None;
            self.free_slots.push(r.slot);
            self.stats.ended += 1;
        }
    }

    // ---- outbound -------------------------------------------------------------------------

    fn start_outbound(&mut self, r: CallRef, user: UserId) {
        self.agents[user].state = AgentState::OnCall(r);
        let c = self.c(r);
        let u = &self.scenario.pbx.users[user];
        let event = Event::UserOutbound(event::UserOutbound {
            unique_call_id: c.id.clone(),
            caller_id: c.caller_id.clone(),
            user_name: u.name.clone(),
            user_number: u.extension.clone(),
            dest_number: c.dest.clone(),
            call_start_at: c.start_text.clone(),
        });
        self.emit(r, Target::Global, event);
        let b = &self.c(r).behaviour;
        let (answer, delay, give_up) =
            (b.answer, b.answer_after, b.abandon_after.unwrap_or(DEFAULT_OUTBOUND_RING));
        self.cm(r).phase = Phase::OutboundRinging;
        if answer != Answer::Nobody && delay < give_up {
            self.schedule(self.now + delay, Timer::OutboundAnswer { call: r });
        } else {
            // Nobody picks up: the user hangs up after `give_up`.
            self.cm(r).phase = Phase::Connected;
            self.schedule(self.now + give_up, Timer::Hangup { call: r });
        }
    }

    fn outbound_answer(&mut self, r: CallRef) {
        let Some(c) = self.call(r) else { return };
        if c.phase != Phase::OutboundRinging {
            return;
        }
        let user = c.outbound_user.expect("outbound call has a user");
        let now = self.now;
        let text = self.timeline.format_str(now);
        let talk = {
            let c = self.cm(r);
            c.phase = Phase::Connected;
            c.connected = Some(Connection { at: now, text: text.clone(), user: Some(user) });
            c.behaviour.talk
        };
        self.stats.answered += 1;
        let c = self.c(r);
        let u = &self.scenario.pbx.users[user];
        let event = Event::UserOutboundAnswered(event::UserOutboundAnswered {
            unique_call_id: c.id.clone(),
            caller_id: c.caller_id.clone(),
            user_name: u.name.clone(),
            user_number: u.extension.clone(),
            dest_number: c.dest.clone(),
            call_start_at: c.start_text.clone(),
            connected_at: text,
        });
        self.emit(r, Target::Global, event);
        self.schedule(now + talk, Timer::Hangup { call: r });
    }

    fn finish_outbound(&mut self, r: CallRef, user: UserId) {
        let scenario = Arc::clone(&self.scenario);
        let c = self.c(r);
        let conn = c.connected.clone();
        let (call_duration, conversation_duration) =
            durations(c.start, conn.as_ref().map(|a| a.at), self.now);
        let u = &scenario.pbx.users[user];
        let event = Event::UserOutboundCompleted(event::UserOutboundCompleted {
            unique_call_id: c.id.clone(),
            caller_id: c.caller_id.clone(),
            user_name: u.name.clone(),
            user_number: u.extension.clone(),
            dest_number: c.dest.clone(),
            call_start_at: c.start_text.clone(),
            connected_at: conn.as_ref().map(|a| a.text.clone()),
            call_duration,
            conversation_duration,
        });
        self.emit(r, Target::Global, event);
        if let Some(conn) = &conn {
            if u.record_outbound {
                let c = self.c(r);
                let settings = &u.recording;
                let event = Event::RecordingOutbound(event::RecordingOutbound {
                    unique_call_id: c.id.clone(),
                    caller_id: c.caller_id.clone(),
                    user_name: u.name.clone(),
                    user_number: u.extension.clone(),
                    dest_number: c.dest.clone(),
                    recorded_at: conn.text.clone(),
                    emails: join_emails(&settings.emails),
                    email_subject: settings.subject.clone(),
                    call_recording_link: None,
                    email_message: email_message(settings),
                    mode: (settings.mode == RecordingMode::Storage).then(|| Str::from("storage")),
                });
                self.emit(r, Target::Global, event);
            }
        } else {
            self.stats.unanswered += 1;
        }
        let how = if conn.is_some() { EndReason::Answered } else { EndReason::Unanswered };
        let now = self.now;
        let agent = &mut self.agents[user];
        agent.state = AgentState::Idle;
        agent.last_call_end = Some(now);
        self.end_call(r, how);
        self.agents_freed(&[user]);
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Answer { call, attempt, user } => self.answer(call, attempt, user),
            Timer::RingTimeout { call, attempt } => self.ring_timeout(call, attempt),
            Timer::RetryReady { call, attempt } => self.retry_ready(call, attempt),
            Timer::MaxWait { call, visit } => self.max_wait(call, visit),
            Timer::Abandon { call } => self.abandon(call),
            Timer::Hangup { call } => self.hangup(call),
            Timer::VoicemailEnd { call } => self.finish_voicemail(call),
            Timer::OutboundAnswer { call } => self.outbound_answer(call),
            Timer::WrapupEnd { user, token } => self.wrapup_end(user, token),
        }
    }
}

impl Iterator for Engine<'_> {
    type Item = Emission;

    fn next(&mut self) -> Option<Emission> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Some(e);
            }
            if !self.step() {
                return None;
            }
        }
    }
}

/// `call_duration` and `conversation_duration` in whole seconds (rounded down).
fn durations(start: Millis, connected: Option<Millis>, end: Millis) -> (u64, u64) {
    let call = (end - start) / 1000;
    let conversation = connected.map_or(0, |c| (end - c) / 1000);
    (call, conversation)
}

fn join_emails(emails: &[Str]) -> Str {
    match emails {
        [one] => one.clone(),
        _ => Str::from(emails.iter().map(|e| &**e).collect::<Vec<_>>().join(",")),
    }
}

/// The email body, or null when the recording goes to storage rather than by email.
fn email_message(settings: &RecordingSettings) -> Option<Str> {
    (settings.mode == RecordingMode::Email).then(|| settings.message.clone())
}
