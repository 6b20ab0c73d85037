//! `--chaos` in delivery: the planner's POSTs become jobs, and a worker sends a job's forged
//! copies, holds it back, and sends it again, as its faults say (see [`crate::deliver::chaos`]).
//!
//! Forged copies and duplicates are single attempts outside the event accounting: they are
//! never retried, and they count in the chaos report, not in generated / delivered / failed.

use std::time::Duration;

use tokio::time::Instant;

use hyper::header::{HeaderName, HeaderValue};

use super::super::endpoint::Prepared;
use super::super::{DeliverError, Render};
use super::{Attempts, Item, Job, Settings, run};
use crate::deliver::chaos::{Chaos, Planned, Planner, Post, PostFaults};
use crate::deliver::{CancelToken, Summary};
use crate::engine::Emission;
use crate::engine::feed::Feed;
use crate::event::WireStyle;

/// A job's chaos: its faults, and the kinds of a batch's further events.
#[derive(Debug, Clone)]
pub(crate) struct JobChaos {
    pub faults: PostFaults,
    pub more_kinds: Vec<u8>,
    /// The body is a JSON array (`batch`).
    pub array: bool,
}

impl Job {
    /// The type index of every event this job carries (several for a batch).
    pub(crate) fn kinds(&self) -> impl Iterator<Item = u8> + '_ {
        let more = self.chaos.as_deref().map_or(&[][..], |c| c.more_kinds.as_slice());
        std::iter::once(self.kind).chain(more.iter().copied())
    }

    /// The body of each event this job carries: the body itself, or a batch's elements.
    pub(crate) fn bodies(&self) -> impl Iterator<Item = &[u8]> {
        let elements = match self.chaos.as_deref() {
            Some(c) if c.array => {
                serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(&self.body).ok()
            }
            _ => None,
        };
        let whole = match elements {
            None => Some(&self.body[..]),
            Some(_) => None,
        };
        elements.into_iter().flatten().map(|raw| raw.get().as_bytes()).chain(whole)
    }
}

/// Deliver `events` with `chaos` applied; the summary carries the chaos report.
pub(crate) async fn deliver<I: Iterator<Item = Feed>>(
    events: I,
    chaos: Chaos,
    mut render: Render,
    endpoints: Vec<Prepared>,
    settings: Settings,
    cancel: CancelToken,
) -> Result<Summary, DeliverError> {
    let style = chaos.style(render.nulls());
    let variants = chaos.clone();
    let router = render.router();
    let mut planner = Planner::new(events, chaos, move |e: &Emission| router.route(e).ok());
    let mut summary = {
        let mut items = planner.by_ref().map(|planned| match planned {
            Planned::Unsent(e) => match router.route(&e) {
                Err(unsent) => unsent,
                Ok(_) => Item::Filtered(e.event.event_type().index() as u8, e.call),
            },
            Planned::Post(post) => Item::Send(job(&mut render, post, &style, &variants)),
            Planned::Ended(call) => Item::CallEnded(call),
        });
        run(&mut items, endpoints, settings, cancel).await?
    };
    summary.chaos.get_or_insert_with(Default::default).merge(planner.report());
    Ok(summary)
}

fn job(render: &mut Render, post: Post, style: &WireStyle, chaos: &Chaos) -> Job {
    let Post { events, route, faults, array, release_at } = post;
    let kind = |e: &Emission| e.event.event_type().index() as u8;
    let body = render.body(|out| {
        if array {
            out.push(b'[');
            for (i, e) in events.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                chaos.write_event(style, e, out);
            }
            out.push(b']');
        } else {
            chaos.write_event(style, &events[0], out);
        }
    });
    // A batch is sent when its last event is due; a reordered event when the call's next
    // event, which it was held behind, is due; what a call held when it ended: that hold is
    // chaos's, not the receiver's time.
    let last_at = events.iter().map(|e| e.at).max().unwrap_or(0);
    let offset = render.offset(release_at);
    let held = match (render.offset(last_at), offset) {
        (Some(own), Some(release)) => release.saturating_sub(own),
        _ => Duration::ZERO,
    };
    Job {
        offset,
        chaos: Some(Box::new(JobChaos {
            faults,
            more_kinds: events[1..].iter().map(kind).collect(),
            array,
        })),
        not_before: render.not_before(last_at),
        held,
        ..Job::new(events[0].call, route, kind(&events[0]), body)
    }
}

const TOKEN: HeaderName = HeaderName::from_static("x-pbx-token");

impl Attempts<'_> {
    /// Deliver `job` with its faults: hold it back, send its forged copies, send it (with
    /// retries, as always), then send it again. Returns whether it was delivered. A hold moves
    /// the job's due time (and `held`) by its length: lateness and corrected latency count
    /// from the end of the hold, and the call's later events cannot be due before it.
    pub(super) async fn deliver_with_faults(&mut self, job: &mut Job) -> bool {
        let Some(faults) = job.chaos.as_ref().map(|c| c.faults) else {
            return self.deliver(job).await;
        };
        if let Some(ms) = faults.delay {
            let hold = Duration::from_millis(ms);
            tokio::select! {
                _ = tokio::time::sleep(hold) => {}
                _ = self.shared.cancel.cancelled() => {}
            }
            job.offset = job.offset.map(|o| o.saturating_add(hold));
            job.held += hold;
        }
        let job = &*job;
        if faults.wrong_token {
            self.forge(job, false).await;
        }
        if faults.no_token {
            self.forge(job, true).await;
        }
        let delivered = self.deliver(job).await;
        if delivered && faults.duplicate && !self.shared.cancel.is_cancelled() {
            let status = self.once(job, None).await;
            self.stats.chaos.duplicate_answer(status);
        }
        delivered
    }

    /// Send a forged copy of `job`: with a wrong token, or with none (`missing`).
    async fn forge(&mut self, job: &Job, missing: bool) {
        let shared = self.shared;
        if shared.cancel.is_cancelled() {
            return;
        }
        let ep = &shared.endpoints[job.endpoint as usize];
        let Some(real) = ep.headers.get(&TOKEN) else {
            self.stats.chaos.forged_skipped += 1;
            return;
        };
        let forged = ep.with_headers(|headers| {
            if missing {
                headers.remove(&TOKEN);
            } else {
                headers.insert(TOKEN, wrong_token(real));
            }
        });
        let status = self.once(job, Some(&forged)).await;
        self.stats.chaos.forged_answer(status);
    }

    /// One attempt, no retry, within the timeout: the status, or `None` without an answer.
    async fn once(&mut self, job: &Job, endpoint: Option<&Prepared>) -> Option<u16> {
        let shared = self.shared;
        let index = job.endpoint as usize;
        let ep = endpoint.unwrap_or(&shared.endpoints[index]);
        let send = self.client.send(index, ep, job.body.clone(), Instant::now());
        match tokio::time::timeout(shared.settings.timeout, send).await {
            Ok(Ok(answer)) => Some(answer.status),
            Ok(Err(_)) => None,
            Err(_) => {
                self.client.discard(index);
                None
            }
        }
    }
}

/// The real token with its last character changed: same length, so a receiver that compares
/// only a prefix, or only lengths, is caught too.
fn wrong_token(real: &HeaderValue) -> HeaderValue {
    let mut bytes = real.as_bytes().to_vec();
    match bytes.last_mut() {
        Some(b) => *b = if *b == b'x' { b'y' } else { b'x' },
        None => bytes.push(b'x'),
    }
    let mut value =
        HeaderValue::from_bytes(&bytes).unwrap_or(HeaderValue::from_static("pbxsim-wrong-token"));
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_token_differs_only_at_the_end() {
        let wrong = wrong_token(&HeaderValue::from_static("s3cret"));
        assert_eq!(wrong.as_bytes(), b"s3crex");
        assert_eq!(wrong_token(&HeaderValue::from_static("abx")).as_bytes(), b"aby");
        assert!(wrong.is_sensitive());
    }

    #[test]
    fn a_batch_job_carries_every_kind() {
        let job = Job {
            chaos: Some(Box::new(JobChaos {
                faults: PostFaults::default(),
                more_kinds: vec![4, 5],
                array: true,
            })),
            ..Job::new(1, 0, 3, bytes::Bytes::new())
        };
        assert_eq!(job.kinds().collect::<Vec<_>>(), vec![3, 4, 5]);
        let body = br#"[{"type":"a","n":[1,2]}, {"type":"b"},{"type":"c"}]"#;
        let job = Job { body: bytes::Bytes::from_static(body), ..job };
        let bodies: Vec<&[u8]> = job.bodies().collect();
        let expected: Vec<&[u8]> =
            vec![br#"{"type":"a","n":[1,2]}"#, br#"{"type":"b"}"#, br#"{"type":"c"}"#];
        assert_eq!(bodies, expected);
        let single = Job { chaos: None, ..job };
        assert_eq!(single.bodies().collect::<Vec<_>>(), vec![&body[..]]);
    }
}
