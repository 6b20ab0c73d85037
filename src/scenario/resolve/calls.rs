//! Resolving the scripted calls (`[[calls]]`): inbound calls to a number or outbound calls from
//! a user, with who answers checked against who the call flow can ring; sorted by start time.

use std::collections::BTreeSet;

use super::Resolver;
use crate::event::Str;
use crate::pbx::*;
use crate::scenario::file::*;
use crate::scenario::{Answer, Behaviour, CallKind, ScriptedCall};
use crate::suggest;

/// What a call resolves to: its kind, caller ID, caller name and who answers.
type ResolvedCall = (CallKind, String, Option<String>, Answer);

impl Resolver<'_> {
    pub(super) fn calls(&mut self, calls: &[Sp<CallFile>], pbx: &Pbx) -> Vec<ScriptedCall> {
        let mut out = Vec::new();
        for c in calls {
            if let Some(call) = self.call(c.get(), pbx) {
                out.push(call);
            }
        }
        out.sort_by_key(|c| c.at);
        out
    }

    fn call(&mut self, c: &CallFile, pbx: &Pbx) -> Option<ScriptedCall> {
        let at = self.duration(&c.at);
        let defaults = Behaviour::default();
        let answer_after = self.opt_duration(&c.answer_after, defaults.answer_after);
        let talk = self.opt_duration(&c.talk, defaults.talk);
        let abandon_after = c.abandon_after.as_ref().and_then(|d| self.duration(d));
        let voicemail = self.opt_duration(&c.voicemail, defaults.voicemail);
        let from = self.text(&c.from);
        let to = self.text(&c.to);
        let answered_by = self.opt_text(&c.answered_by);
        let caller_name = self.opt_text(&c.caller_name);
        let caller_id = self.opt_text(&c.caller_id);
        let (at, from, to, answered_by) = (at?, from?, to?, answered_by?);
        let (from, to) = (from.trim().to_string(), to.trim().to_string());
        let answered_by = answered_by.map(|a| a.trim().to_string());

        let (kind, caller_id, caller_name, answer) = match c.direction.unwrap_or_default() {
            Direction::Inbound => {
                self.inbound_call(c, pbx, from, &to, answered_by.as_deref(), caller_name.flatten())?
            }
            Direction::Outbound => {
                self.outbound_call(c, pbx, &from, to, answered_by.as_deref(), caller_id.flatten())?
            }
        };
        Some(ScriptedCall {
            at,
            kind,
            caller_id: Str::from(caller_id),
            caller_name: caller_name.map(Str::from),
            behaviour: Behaviour {
                answer,
                answer_after,
                talk,
                abandon_after,
                voicemail,
                no_answer_probability: 0.0,
            },
        })
    }

    /// An inbound call's number, caller and answer.
    fn inbound_call(
        &mut self,
        c: &CallFile,
        pbx: &Pbx,
        from: String,
        to: &str,
        answered_by: Option<&str>,
        caller_name: Option<String>,
    ) -> Option<ResolvedCall> {
        if let Some(id) = &c.caller_id {
            self.error(
                id.span(),
                "caller_id is for outbound calls",
                "an inbound caller's number is `from`",
            );
        }
        if from.is_empty() {
            self.error(
                c.from.span(),
                "empty caller number",
                "write the caller's number, like \"61400000001\"",
            );
        }
        let Some(number) = pbx.number_by_digits(to) else {
            let numbers: Vec<&str> = pbx.numbers.iter().map(|n| &*n.number).collect();
            let help = if numbers.is_empty() {
                "inbound calls arrive on one of the [[numbers]]; there are none: add one"
                    .to_string()
            } else {
                let list = numbers.join(", ");
                match suggest::closest(to, numbers.iter().copied()) {
                    Some(s) => format!("did you mean {s}? (numbers: {list})"),
                    None => format!(
                        "inbound calls go to one of the [[numbers]]: {list}; for a call from a user, set direction = \"outbound\""
                    ),
                }
            };
            self.error(c.to.span(), format!("no number {to} in [[numbers]]"), help);
            return None;
        };
        let answer = self.inbound_answer(c, answered_by, pbx, number)?;
        Some((CallKind::Inbound { number }, from, caller_name, answer))
    }

    /// An outbound call's user, destination, presented caller ID and answer.
    fn outbound_call(
        &mut self,
        c: &CallFile,
        pbx: &Pbx,
        from: &str,
        to: String,
        answered_by: Option<&str>,
        caller_id: Option<String>,
    ) -> Option<ResolvedCall> {
        if let Some(name) = &c.caller_name {
            self.error(
                name.span(),
                "caller_name is for inbound calls",
                "an outbound call presents `caller_id` (a number); remove caller_name",
            );
        }
        if let Some(v) = &c.voicemail {
            self.error(
                v.span(),
                "voicemail is for inbound calls",
                "remove it from this outbound call",
            );
        }
        let Some(user) = pbx.user_by_extension(from) else {
            let help = if pbx.users.is_empty() {
                "outbound calls are made by a user; there are no [[users]]".to_string()
            } else {
                let list: Vec<&str> = pbx.users.iter().map(|u| &*u.extension).collect();
                match suggest::closest(from, list.iter().copied()) {
                    Some(s) => format!(
                        "did you mean {s}? An outbound call's `from` is the calling user's extension"
                    ),
                    None => format!(
                        "an outbound call's `from` is the calling user's extension: {}",
                        list.join(", ")
                    ),
                }
            };
            self.error(c.from.span(), format!("no user with extension {from}"), help);
            return None;
        };
        if to.is_empty() {
            self.error(
                c.to.span(),
                "empty dialled number",
                "write the number dialled, like \"61400000001\"",
            );
        }
        let answer = match answered_by {
            None | Some("any") => Answer::Any,
            Some("none") => Answer::Nobody,
            Some(other) => {
                let span = c.answered_by.as_ref().map_or(c.to.span(), |a| a.span());
                self.error(
                    span,
                    format!("an outbound call cannot be answered by `{other}`"),
                    "the far end answers an outbound call: use \"any\" (answered) or \"none\"",
                );
                return None;
            }
        };
        let u = &pbx.users[user];
        let caller_id = caller_id.unwrap_or_else(|| match &u.outbound_cli {
            Some(cli) => cli.to_string(),
            None => pbx
                .numbers
                .first()
                .map_or_else(|| u.extension.to_string(), |n| n.number.to_string()),
        });
        Some((CallKind::Outbound { user, dest: Str::from(to) }, caller_id, None, answer))
    }

    /// `answered_by` of an inbound call: `any`, `none`, or a user the call flow rings.
    fn inbound_answer(
        &mut self,
        c: &CallFile,
        answered_by: Option<&str>,
        pbx: &Pbx,
        number: NumberId,
    ) -> Option<Answer> {
        let (text, span) = match (answered_by, &c.answered_by) {
            (None | Some("any"), _) => return Some(Answer::Any),
            (Some("none"), _) => return Some(Answer::Nobody),
            (Some(text), Some(value)) => (text, value.span()),
            (Some(_), None) => return Some(Answer::Any),
        };
        let Some(user) = pbx.user_by_extension(text) else {
            let extensions: Vec<&str> = pbx.users.iter().map(|u| &*u.extension).collect();
            let help = match suggest::closest(text, extensions.iter().copied()) {
                Some(s) => format!("did you mean {s}? (or \"any\" / \"none\")"),
                None => "use \"any\", \"none\" or a user's extension".to_string(),
            };
            self.error(span, format!("no user with extension {text}"), help);
            return None;
        };
        let rung = users_rung(pbx, &pbx.numbers[number].flow);
        if !rung.contains(&user) {
            let list: Vec<&str> = rung.iter().map(|&u| &*pbx.users[u].extension).collect();
            let help = if list.is_empty() {
                "this call flow rings nobody; use \"none\"".to_string()
            } else {
                format!("the flow rings {}; use one of them, \"any\" or \"none\"", list.join(", "))
            };
            self.error(
                span,
                format!(
                    "user {text} is never rung by the call flow of {}",
                    pbx.numbers[number].number
                ),
                help,
            );
            return None;
        }
        Some(Answer::User(user))
    }
}

/// Every user a call flow can ring, including its failover and no-answer steps.
fn users_rung(pbx: &Pbx, flow: &[Step]) -> BTreeSet<UserId> {
    fn visit(pbx: &Pbx, step: &Step, out: &mut BTreeSet<UserId>, depth: usize) {
        if depth > 16 {
            return;
        }
        match step {
            Step::User { user, .. } => {
                out.insert(*user);
            }
            Step::Queue { queue, on_timeout } => {
                let q = &pbx.queues[*queue];
                out.extend(q.members.iter().copied());
                for s in on_timeout.iter().chain(q.failover.iter()) {
                    visit(pbx, s, out, depth + 1);
                }
            }
            Step::RingGroup { group, on_no_answer } => {
                let g = &pbx.ring_groups[*group];
                out.extend(g.members.iter().copied());
                for s in on_no_answer.iter().chain(g.no_answer.iter()) {
                    visit(pbx, s, out, depth + 1);
                }
            }
            Step::Webhook(_) | Step::Record | Step::Voicemail(_) | Step::Hangup => {}
        }
    }
    let mut out = BTreeSet::new();
    for step in flow {
        visit(pbx, step, &mut out, 0);
    }
    out
}
