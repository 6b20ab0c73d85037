//! Resolving the PBX: users, queues, ring groups, voicemail boxes, webhook objects and numbers,
//! their names checked for duplicates and turned into indices, and call-flow steps (strings
//! such as `"queue:Support"` and tables) into [`Step`]s.

use std::collections::HashMap;
use std::ops::Range;

use super::Resolver;
use crate::event::Str;
use crate::pbx::*;
use crate::scenario::file::*;
use crate::suggest;

/// Names of the PBX's objects, by index, for resolving references. With duplicates the first
/// one wins (the duplicate itself is reported).
#[derive(Default)]
struct Names {
    extensions: Vec<String>,
    user_names: Vec<String>,
    queues: Vec<String>,
    ring_groups: Vec<String>,
    voicemail: Vec<String>,
    webhooks: Vec<String>,
}

/// The kinds of call-flow steps, as written.
const STEP_KINDS: [&str; 7] =
    ["webhook", "record", "queue", "ring_group", "user", "voicemail", "hangup"];

impl Resolver<'_> {
    pub(super) fn pbx(&mut self, file: &ScenarioFile) -> Pbx {
        let mut names = Names::default();
        let mut pbx = Pbx {
            recording: self.recording(file.recording.as_ref()),
            unanswered_completion: file.unanswered_completion.unwrap_or_default(),
            ..Pbx::default()
        };

        let mut seen_names = HashMap::new();
        let mut seen_extensions = HashMap::new();
        for u in &file.users {
            let u = u.get();
            let name = self.name(&u.name, "user name");
            self.unique(&mut seen_names, &name, u.name.span(), "user name");
            let extension = self.digits(&u.extension, "extension");
            self.unique(&mut seen_extensions, &extension, u.extension.span(), "extension");
            let outbound_cli =
                u.outbound_cli.as_ref().map(|c| Str::from(self.digits(c, "phone number")));
            names.extensions.push(extension.clone());
            names.user_names.push(name.clone());
            pbx.users.push(User {
                name: name.into(),
                extension: extension.into(),
                record_inbound: u.record_inbound,
                record_outbound: u.record_outbound,
                // Without its own table, a user's recordings go where the PBX's do.
                recording: match &u.recording {
                    Some(r) => self.recording(Some(r)),
                    None => pbx.recording.clone(),
                },
                outbound_cli,
            });
        }

        let mut seen = HashMap::new();
        for v in &file.voicemail {
            let v = v.get();
            let name = self.name(&v.name, "voicemail box name");
            self.unique(&mut seen, &name, v.name.span(), "voicemail box");
            names.voicemail.push(name.clone());
            pbx.voicemail.push(VoicemailBox {
                name: name.into(),
                emails: self.emails(&v.emails),
                subject: self.text_or(&v.subject, "New voicemail"),
                message: self.text_or(&v.message, "You have a new voicemail."),
            });
        }

        let mut seen = HashMap::new();
        for w in &file.webhooks {
            let w = w.get();
            let name = self.name(&w.name, "webhook object name");
            self.unique(&mut seen, &name, w.name.span(), "webhook object");
            names.webhooks.push(name.clone());
            pbx.webhooks.push(WebhookObject {
                name: name.into(),
                url: self.url(&w.url),
                token: self.token(&w.token),
                headers: self.headers(&w.headers),
            });
        }

        // Queues and ring groups may refer to each other in their failover steps: collect all
        // their names before resolving any step.
        let mut seen = HashMap::new();
        for q in &file.queues {
            let name = self.name(&q.get().name, "queue name");
            self.unique(&mut seen, &name, q.get().name.span(), "queue");
            names.queues.push(name);
        }
        let mut seen = HashMap::new();
        for g in &file.ring_groups {
            let name = self.name(&g.get().name, "ring group name");
            self.unique(&mut seen, &name, g.get().name.span(), "ring group");
            names.ring_groups.push(name);
        }

        for (q, name) in file.queues.iter().zip(&names.queues) {
            let q = q.get();
            pbx.queues.push(Queue {
                name: Str::from(name.as_str()),
                members: self.members(&q.members, "queue", name, &names),
                strategy: q.strategy.unwrap_or_default(),
                ring_timeout: self.positive_duration(
                    q.ring_timeout.as_ref(),
                    20_000,
                    "ring_timeout",
                ),
                retry: self.opt_duration(&q.retry, 5_000),
                max_wait: self.positive_duration(q.max_wait.as_ref(), 300_000, "max_wait"),
                wrapup: self.opt_duration(&q.wrapup, 0),
                wrapup_blocks: q.wrapup_blocks.unwrap_or_default(),
                failover: q.failover.as_ref().and_then(|s| self.step(s, &names)).map(Box::new),
            });
        }
        for (g, name) in file.ring_groups.iter().zip(&names.ring_groups) {
            let g = g.get();
            pbx.ring_groups.push(RingGroup {
                name: Str::from(name.as_str()),
                members: self.members(&g.members, "ring group", name, &names),
                mode: g.mode.unwrap_or_default(),
                ring_time: self.positive_duration(g.ring_time.as_ref(), 20_000, "ring_time"),
                no_answer: g.no_answer.as_ref().and_then(|s| self.step(s, &names)).map(Box::new),
            });
        }

        let mut seen = HashMap::new();
        for n in &file.numbers {
            let n = n.get();
            let number = self.digits(&n.number, "phone number");
            self.unique(&mut seen, &number, n.number.span(), "number");
            if n.flow.get().is_empty() {
                self.error(
                    n.flow.span(),
                    format!("the call flow of {number} has no steps"),
                    "list at least one step, like flow = [\"queue:Support\", \"voicemail:Support VM\"]",
                );
            }
            let flow = n.flow.get().iter().filter_map(|s| self.step(s, &names)).collect();
            pbx.numbers.push(Number { number: number.into(), flow });
        }
        pbx
    }

    fn user(&mut self, value: &Sp<String>, names: &Names) -> Option<UserId> {
        let extension = self.text(value)?;
        self.user_by_extension(extension.trim(), value.span(), names)
    }

    fn user_by_extension(
        &mut self,
        extension: &str,
        span: Range<usize>,
        names: &Names,
    ) -> Option<UserId> {
        if let Some(id) = names.extensions.iter().position(|e| e == extension) {
            return Some(id);
        }
        let help = if let Some(id) = names.user_names.iter().position(|n| n == extension) {
            format!("users are named by extension: `{extension}` is {}", names.extensions[id])
        } else if names.extensions.is_empty() {
            "there are no [[users]]; add one with this extension".to_string()
        } else {
            match suggest::closest(extension, names.extensions.iter().map(String::as_str)) {
                Some(s) => {
                    format!("did you mean {s}? (extensions: {})", names.extensions.join(", "))
                }
                None => format!("extensions: {}", names.extensions.join(", ")),
            }
        };
        self.error(span, format!("no user with extension {extension}"), help);
        None
    }

    fn members(
        &mut self,
        members: &Sp<Vec<Sp<String>>>,
        what: &str,
        name: &str,
        names: &Names,
    ) -> Vec<UserId> {
        if members.get().is_empty() {
            self.error(
                members.span(),
                format!("{what} `{name}` has no members"),
                "list member extensions, like members = [\"1010\", \"1011\"]",
            );
        }
        let mut out: Vec<UserId> = Vec::new();
        let mut seen = HashMap::new();
        for m in members.get() {
            if let Some(id) = self.user(m, names) {
                if self.unique(&mut seen, &names.extensions[id], m.span(), "member") {
                    out.push(id);
                }
            }
        }
        out
    }

    /// Looks `name` up among `candidates`, reporting an unknown one with a suggestion.
    fn lookup(
        &mut self,
        span: Range<usize>,
        name: &str,
        candidates: &[String],
        what: &str,
        section: &str,
    ) -> Option<usize> {
        if let Some(i) = candidates.iter().position(|c| c == name) {
            return Some(i);
        }
        let help = if candidates.is_empty() {
            format!("there are no [[{section}]]; add one named `{name}`")
        } else {
            let list = candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
            match suggest::closest(name, candidates.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`? (defined: {list})"),
                None => format!("defined: {list}"),
            }
        };
        self.error(span, format!("no {what} named `{name}`"), help);
        None
    }

    fn step(&mut self, value: &Sp<StepFile>, names: &Names) -> Option<Step> {
        let span = value.span();
        match value.get() {
            StepFile::Text(raw) => {
                let text = self.text(&Sp::new(raw.clone(), span.clone()))?;
                let (kind, name) = match text.split_once(':') {
                    Some((k, n)) => (k.trim(), Some(n.trim())),
                    None => (text.trim(), None),
                };
                self.text_step(span, kind, name, names)
            }
            StepFile::Table(t) => self.table_step(span, t, names),
        }
    }

    fn text_step(
        &mut self,
        span: Range<usize>,
        kind: &str,
        name: Option<&str>,
        names: &Names,
    ) -> Option<Step> {
        let takes_name = !matches!(kind, "record" | "hangup");
        if !STEP_KINDS.contains(&kind) {
            let help = match suggest::closest(kind, STEP_KINDS) {
                Some(s) => format!("did you mean `{s}`? (step kinds: {})", STEP_KINDS.join(", ")),
                None => format!(
                    "write a step as \"kind:name\" or \"record\" / \"hangup\"; kinds: {}",
                    STEP_KINDS.join(", ")
                ),
            };
            self.error(span, format!("unknown step kind `{kind}`"), help);
            return None;
        }
        match name {
            Some(n) if !takes_name => {
                self.error(
                    span,
                    format!("the `{kind}` step takes no name (found `{n}`)"),
                    format!("write just \"{kind}\""),
                );
                return None;
            }
            None | Some("") if takes_name => {
                let example = if kind == "user" { "1010" } else { "NAME" };
                self.error(
                    span,
                    format!("the `{kind}` step needs a name"),
                    format!("write it as \"{kind}:{example}\""),
                );
                return None;
            }
            _ => {}
        }
        let name = name.unwrap_or("");
        Some(match kind {
            "record" => Step::Record,
            "hangup" => Step::Hangup,
            "webhook" => Step::Webhook(self.lookup(
                span,
                name,
                &names.webhooks,
                "webhook object",
                "webhooks",
            )?),
            "voicemail" => Step::Voicemail(self.lookup(
                span,
                name,
                &names.voicemail,
                "voicemail box",
                "voicemail",
            )?),
            "queue" => Step::Queue {
                queue: self.lookup(span, name, &names.queues, "queue", "queues")?,
                on_timeout: None,
            },
            "ring_group" => Step::RingGroup {
                group: self.lookup(span, name, &names.ring_groups, "ring group", "ring_groups")?,
                on_no_answer: None,
            },
            _ => Step::User { user: self.user_by_extension(name, span, names)?, ring: None },
        })
    }

    fn table_step(&mut self, span: Range<usize>, t: &StepTable, names: &Names) -> Option<Step> {
        let kinds: Vec<(&str, &Sp<String>)> = [
            ("webhook", &t.webhook),
            ("queue", &t.queue),
            ("ring_group", &t.ring_group),
            ("user", &t.user),
            ("voicemail", &t.voicemail),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
        let [(kind, value)] = kinds[..] else {
            let message = if kinds.is_empty() {
                "this step table names no step".to_string()
            } else {
                let found: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
                format!("this step table names several steps: {}", found.join(", "))
            };
            self.error(
                span,
                message,
                "give exactly one of queue, ring_group, user, webhook or voicemail, like { queue = \"Support\", on_timeout = \"voicemail:Support VM\" }",
            );
            return None;
        };
        let misplaced = [
            ("on_timeout", t.on_timeout.as_ref().map(|s| s.span()), "queue"),
            ("on_no_answer", t.on_no_answer.as_ref().map(|s| s.span()), "ring_group"),
            ("ring", t.ring.as_ref().map(|s| s.span()), "user"),
        ];
        let mut ok = true;
        for (option, option_span, owner) in misplaced {
            if let Some(option_span) = option_span {
                if owner != kind {
                    self.error(
                        option_span,
                        format!("`{option}` does not apply to a {kind} step"),
                        format!("`{option}` belongs to {owner} steps; remove it"),
                    );
                    ok = false;
                }
            }
        }
        let name = self.text(value)?;
        let step = self.text_step(value.span(), kind, Some(name.trim()), names)?;
        if !ok {
            return None;
        }
        Some(match step {
            Step::Queue { queue, .. } => Step::Queue {
                queue,
                on_timeout: t.on_timeout.as_ref().and_then(|s| self.step(s, names)).map(Box::new),
            },
            Step::RingGroup { group, .. } => Step::RingGroup {
                group,
                on_no_answer: t
                    .on_no_answer
                    .as_ref()
                    .and_then(|s| self.step(s, names))
                    .map(Box::new),
            },
            Step::User { user, .. } => {
                let ring = t.ring.as_ref().map(|r| self.positive_duration(Some(r), 20_000, "ring"));
                Step::User { user, ring }
            }
            other => other,
        })
    }
}
