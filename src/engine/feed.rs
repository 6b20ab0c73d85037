//! The stream glue between the engine and delivery: a [`Feed`] carries the engine's events and
//! its ended calls, recording the ground truth on the way when asked.

use std::collections::VecDeque;

use crate::engine::Emission;

/// What a delivery stream carries: events, and calls that ended
/// ([`Engine::take_ended`](crate::engine::Engine::take_ended)), which let a partial batch or a
/// held event go as soon as its call is over.
// Nearly every item is an event: boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    Event(Emission),
    /// Call `.0` (as in [`Emission::call`]) has no more events.
    CallEnded(u64),
}

impl From<Emission> for Feed {
    fn from(e: Emission) -> Self {
        Feed::Event(e)
    }
}

/// The engine's events with its ended calls in between: what delivery needs for `batch` and
/// `reorder` to send a call's last events as soon as the call is over.
pub fn with_ended_calls(engine: super::Engine<'_>) -> impl Iterator<Item = Feed> + '_ {
    ended_calls_feed(engine, None)
}

/// Like [`with_ended_calls`], recording the ground truth (`--truth`) on the way: every event
/// and every call's end go to `recorder` before they are passed on.
pub fn with_truth<'a, 'r>(
    engine: super::Engine<'a>,
    recorder: &'r mut super::truth::Recorder,
) -> impl Iterator<Item = Feed> + Send + 'r
where
    'a: 'r,
{
    ended_calls_feed(engine, Some(recorder))
}

/// [`with_truth`] when there is a recorder, else [`with_ended_calls`].
pub fn with_ended_calls_and_truth<'a, 'r>(
    engine: super::Engine<'a>,
    recorder: Option<&'r mut super::truth::Recorder>,
) -> impl Iterator<Item = Feed> + Send + 'r
where
    'a: 'r,
{
    ended_calls_feed(engine, recorder)
}

fn ended_calls_feed<'a, 'r>(
    engine: super::Engine<'a>,
    mut recorder: Option<&'r mut super::truth::Recorder>,
) -> impl Iterator<Item = Feed> + Send + 'r
where
    'a: 'r,
{
    let mut engine = engine.track_ended_calls();
    let mut ended: VecDeque<u64> = VecDeque::new();
    std::iter::from_fn(move || {
        if let Some(call) = ended.pop_front() {
            return Some(Feed::CallEnded(call));
        }
        let next = engine.next();
        if let (Some(e), Some(r)) = (&next, recorder.as_deref_mut()) {
            r.event(e);
        }
        while let Some(end) = engine.take_call_end() {
            if let Some(r) = recorder.as_deref_mut() {
                r.ended(&end);
            }
            ended.push_back(end.call);
        }
        match next {
            Some(e) => Some(Feed::Event(e)),
            None => ended.pop_front().map(Feed::CallEnded),
        }
    })
}
