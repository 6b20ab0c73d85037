//! One whole call (`pbxsim call`): builds a scenario holding a single scripted call through a
//! chosen queue, ring group or user of a PBX, with a chosen outcome.

use crate::duration::Millis;
use crate::event::Str;
use crate::pbx::{Number, Pbx, Step};
use crate::scenario::{Answer, Behaviour, CallKind, Scenario, ScriptedCall};

/// Which way the call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// How the call ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A user (or the far end, outbound) answers and they talk.
    Answered,
    /// The caller hangs up while waiting or ringing.
    Abandoned,
    /// The queue or ring group gives up; the caller hangs up at the voicemail greeting.
    Timedout,
    /// Nobody answers and the caller leaves a message.
    Voicemail,
    /// Nobody answers; the call ends without a message.
    NoAnswer,
}

/// What the call is routed through (inbound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Queue(String),
    RingGroup(String),
    User(String),
}

/// `queue:NAME`, `ring_group:NAME` (as in scenario files; `ring-group:` is accepted too) or
/// `user:EXTENSION`.
impl std::str::FromStr for Via {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        const KINDS: &str = "write queue:NAME, ring_group:NAME or user:EXTENSION";
        let (kind, name) = text.split_once(':').ok_or_else(|| format!("`{text}`: {KINDS}"))?;
        match kind {
            "queue" => Ok(Via::Queue(name.into())),
            "ring_group" | "ring-group" => Ok(Via::RingGroup(name.into())),
            "user" => Ok(Via::User(name.into())),
            other => {
                let hint = crate::suggest::did_you_mean(other, ["queue", "ring_group", "user"]);
                let hint = if hint.is_empty() { String::new() } else { format!(" ({hint})") };
                Err(format!("unknown kind `{other}`{hint}; {KINDS}"))
            }
        }
    }
}

/// Everything `pbxsim call` needs to know.
#[derive(Debug, Clone)]
pub struct OneCall {
    pub direction: Direction,
    pub via: Option<Via>,
    pub outcome: Outcome,
    pub talk: Millis,
    pub ring: Millis,
    pub record: bool,
    /// Outbound: the user's extension (default: the first user).
    pub from: Option<String>,
    /// Inbound: the caller's number; outbound: the number dialled.
    pub number: Option<String>,
    pub caller_name: Option<String>,
}

/// Why the call cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OneCallError {
    #[error("no {kind} named `{name}` in this PBX{hint}")]
    Unknown { kind: &'static str, name: String, hint: String },
    /// The PBX has none of these (`users`, `queues`, ...) for the call to go through.
    #[error("the PBX has no {0}")]
    Missing(&'static str),
    /// An outbound call can only be answered or not answered.
    #[error("an outbound call can only be answered or not answered")]
    OutboundOutcome,
    /// `via` routes an inbound call; an outbound call is placed by a user (`from`).
    #[error("`via` routes an inbound call; an outbound call is placed by a user (`from`)")]
    ViaOutbound,
    /// `from` is the user placing an outbound call; an inbound caller is `number`.
    #[error("`from` is the user placing an outbound call; an inbound caller is `number`")]
    FromInbound,
    /// Only a call that was answered is recorded.
    #[error("`record` needs the outcome answered: only a call that was answered is recorded")]
    RecordUnanswered,
    /// Timing out is a queue's or ring group's; a call to a user ends unanswered otherwise.
    #[error(
        "the outcome timedout is a queue's or ring group's; a call to a user ends unanswered \
         with no-answer or voicemail"
    )]
    TimedoutUser,
}

fn unknown<'a>(
    kind: &'static str,
    name: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> OneCallError {
    let hint = crate::suggest::did_you_mean(name, names);
    let hint = if hint.is_empty() { String::new() } else { format!("; {hint}") };
    OneCallError::Unknown { kind, name: name.to_string(), hint }
}

/// The voicemail box a one-shot call falls back to: the first one, if any.
fn fallback(pbx: &Pbx) -> Option<Box<Step>> {
    (!pbx.voicemail.is_empty()).then(|| Box::new(Step::Voicemail(0)))
}

fn resolve_via(pbx: &Pbx, via: &Via, ring: Millis) -> Result<Step, OneCallError> {
    Ok(match via {
        Via::Queue(name) => Step::Queue {
            queue: pbx
                .queue_by_name(name)
                .ok_or_else(|| unknown("queue", name, pbx.queues.iter().map(|q| &*q.name)))?,
            on_timeout: fallback(pbx),
        },
        Via::RingGroup(name) => Step::RingGroup {
            group: pbx.ring_group_by_name(name).ok_or_else(|| {
                unknown("ring group", name, pbx.ring_groups.iter().map(|g| &*g.name))
            })?,
            on_no_answer: fallback(pbx),
        },
        Via::User(ext) => Step::User {
            user: pbx.user_by_extension(ext).ok_or_else(|| {
                unknown("user with extension", ext, pbx.users.iter().map(|u| &*u.extension))
            })?,
            ring: Some(ring.max(1_000) + 15_000),
        },
    })
}

/// A scenario with `base`'s PBX and webhook settings and a single call as `spec` describes.
/// Fails on an unknown name, and on a setting that cannot apply to the call: `via` outbound,
/// `from` inbound, `record` without an answer, `Timedout` through a user.
pub fn build(mut base: Scenario, spec: &OneCall) -> Result<Scenario, OneCallError> {
    match spec.direction {
        Direction::Outbound if spec.via.is_some() => return Err(OneCallError::ViaOutbound),
        Direction::Inbound if spec.from.is_some() => return Err(OneCallError::FromInbound),
        _ => {}
    }
    if spec.record && spec.outcome != Outcome::Answered {
        return Err(OneCallError::RecordUnanswered);
    }
    let pbx = &mut base.pbx;
    let behaviour = |answer, abandon_after, voicemail| Behaviour {
        answer,
        answer_after: spec.ring,
        talk: spec.talk,
        abandon_after,
        voicemail,
        no_answer_probability: 0.0,
    };
    let call = match spec.direction {
        Direction::Outbound => {
            let user = match &spec.from {
                Some(ext) => pbx.user_by_extension(ext).ok_or_else(|| {
                    unknown("user with extension", ext, pbx.users.iter().map(|u| &*u.extension))
                })?,
                None if pbx.users.is_empty() => return Err(OneCallError::Missing("users")),
                None => 0,
            };
            let answer = match spec.outcome {
                Outcome::Answered => Answer::Any,
                Outcome::NoAnswer => Answer::Nobody,
                _ => return Err(OneCallError::OutboundOutcome),
            };
            if spec.record {
                pbx.users[user].record_outbound = true;
            }
            let caller_id = pbx.users[user]
                .outbound_cli
                .clone()
                .or_else(|| pbx.numbers.first().map(|n| n.number.clone()))
                .unwrap_or_else(|| pbx.users[user].extension.clone());
            let dest = Str::from(spec.number.as_deref().unwrap_or("61400000000"));
            ScriptedCall {
                at: 0,
                kind: CallKind::Outbound { user, dest },
                caller_id,
                caller_name: None,
                behaviour: behaviour(answer, Some(spec.ring.max(1_000) + 20_000), 0),
            }
        }
        Direction::Inbound => {
            let via = match &spec.via {
                Some(via) => via.clone(),
                None => match pbx.queues.first() {
                    Some(q) => Via::Queue(q.name.to_string()),
                    None => match pbx.users.first() {
                        Some(u) => Via::User(u.extension.to_string()),
                        None => return Err(OneCallError::Missing("users")),
                    },
                },
            };
            let step = resolve_via(pbx, &via, spec.ring)?;
            if spec.outcome == Outcome::Timedout && matches!(step, Step::User { .. }) {
                return Err(OneCallError::TimedoutUser);
            }
            let mut flow = Vec::new();
            if spec.record {
                flow.push(Step::Record);
            }
            flow.push(step);
            if let Some(vm) = fallback(pbx) {
                flow.push(*vm);
            }
            let number = Str::from("61299999999");
            pbx.numbers.push(Number { number: number.clone(), flow });
            let number_id = pbx.numbers.len() - 1;
            let message = 20_000;
            let (answer, abandon, voicemail) = match spec.outcome {
                Outcome::Answered => (Answer::Any, None, message),
                Outcome::Abandoned => (Answer::Nobody, Some(spec.ring.max(1_000)), 0),
                Outcome::Timedout => (Answer::Nobody, None, 0),
                Outcome::Voicemail => (Answer::Nobody, None, message),
                Outcome::NoAnswer => {
                    // Ring, then the PBX hangs up: no voicemail step.
                    let flow = &mut pbx.numbers[number_id].flow;
                    flow.retain(|s| !matches!(s, Step::Voicemail(_)));
                    match flow.last_mut() {
                        Some(Step::Queue { on_timeout, .. }) => {
                            *on_timeout = Some(Box::new(Step::Hangup))
                        }
                        Some(Step::RingGroup { on_no_answer, .. }) => {
                            *on_no_answer = Some(Box::new(Step::Hangup))
                        }
                        _ => {}
                    }
                    (Answer::Nobody, None, 0)
                }
            };
            ScriptedCall {
                at: 0,
                kind: CallKind::Inbound { number: number_id },
                caller_id: Str::from(spec.number.as_deref().unwrap_or("61400000001")),
                caller_name: spec.caller_name.as_deref().map(Str::from),
                behaviour: behaviour(answer, abandon, voicemail),
            }
        }
    };
    base.calls = vec![call];
    Ok(base)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::{Engine, Options};

    fn spec(direction: Direction, via: Option<Via>, outcome: Outcome) -> OneCall {
        OneCall {
            direction,
            via,
            outcome,
            talk: 30_000,
            ring: 6_000,
            // Only an answered call can be recorded.
            record: outcome == Outcome::Answered,
            from: None,
            number: None,
            caller_name: Some("Jane Citizen".into()),
        }
    }

    fn types(sc: Scenario) -> Vec<&'static str> {
        let start = "2026-03-02T09:00:00Z".parse().unwrap();
        Engine::new(Arc::new(sc), Options::new(1, start))
            .map(|e| e.event.event_type().as_str())
            .collect()
    }

    #[test]
    fn each_outcome_through_a_queue() {
        let q = || Some(Via::Queue("Sales".into()));
        let base = crate::scenario::builtin_pbx::midsize;
        let answered =
            types(build(base(), &spec(Direction::Inbound, q(), Outcome::Answered)).unwrap());
        assert_eq!(answered.last(), Some(&"recording_inbound"));
        assert!(answered.contains(&"queue_call"));
        let abandoned =
            types(build(base(), &spec(Direction::Inbound, q(), Outcome::Abandoned)).unwrap());
        assert_eq!(abandoned.last(), Some(&"queue_call"));
        let timedout =
            types(build(base(), &spec(Direction::Inbound, q(), Outcome::Timedout)).unwrap());
        assert_eq!(timedout.last(), Some(&"queue_call"));
        let vm = types(build(base(), &spec(Direction::Inbound, q(), Outcome::Voicemail)).unwrap());
        assert_eq!(vm.last(), Some(&"voicemail"));
        let none = types(build(base(), &spec(Direction::Inbound, q(), Outcome::NoAnswer)).unwrap());
        assert!(!none.contains(&"voicemail"));
    }

    #[test]
    fn user_and_outbound_calls() {
        let base = crate::scenario::builtin_pbx::midsize;
        let user = Some(Via::User("1002".into()));
        let t = types(build(base(), &spec(Direction::Inbound, user, Outcome::Answered)).unwrap());
        assert_eq!(t[..3], ["user_inbound", "user_inbound_answered", "user_inbound_completed"]);
        let t = types(build(base(), &spec(Direction::Outbound, None, Outcome::Answered)).unwrap());
        assert_eq!(
            t,
            [
                "user_outbound",
                "user_outbound_answered",
                "user_outbound_completed",
                "recording_outbound"
            ]
        );
        let err = build(base(), &spec(Direction::Outbound, None, Outcome::Voicemail)).unwrap_err();
        assert_eq!(err, OneCallError::OutboundOutcome);
    }

    #[test]
    fn settings_that_cannot_apply_are_refused() {
        let base = crate::scenario::builtin_pbx::midsize;
        let mut outbound =
            spec(Direction::Outbound, Some(Via::Queue("Sales".into())), Outcome::Answered);
        assert_eq!(build(base(), &outbound).unwrap_err(), OneCallError::ViaOutbound);
        outbound.via = None;
        outbound.outcome = Outcome::NoAnswer;
        assert_eq!(build(base(), &outbound).unwrap_err(), OneCallError::RecordUnanswered);
        outbound.record = false;
        assert!(build(base(), &outbound).is_ok());
        let mut inbound = spec(Direction::Inbound, None, Outcome::Answered);
        inbound.from = Some("1001".into());
        assert_eq!(build(base(), &inbound).unwrap_err(), OneCallError::FromInbound);
        let mut user = spec(Direction::Inbound, Some(Via::User("1002".into())), Outcome::Timedout);
        user.record = false;
        assert_eq!(build(base(), &user).unwrap_err(), OneCallError::TimedoutUser);
        user.via = Some(Via::RingGroup("Reception".into()));
        assert!(build(base(), &user).is_ok());
    }

    #[test]
    fn unknown_names_suggest() {
        let err = build(
            crate::scenario::builtin_pbx::midsize(),
            &spec(Direction::Inbound, Some(Via::Queue("Suport".into())), Outcome::Answered),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "no queue named `Suport` in this PBX; did you mean `Support`?");
    }
}
