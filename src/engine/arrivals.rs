//! Arrivals: a scenario's [`TrafficModel`] turned into an endless (or, with stages, finite),
//! seeded stream of [`ScriptedCall`]s ([`generate`]), arriving as the model's schedule says.
//!
//! **Arrivals.** `poisson` arrivals are a (non-homogeneous) Poisson process with the rate at
//! each instant, drawn by inverting the integrated rate, so ramps are exact. `uniform` arrivals
//! are evenly spaced at the rate of each instant: the k-th call starts when the integrated rate
//! reaches k + ½, so a constant 120/h puts one call in the middle of every 30 s.

use fake::Fake;
use fake::faker::name::en::{FirstName, LastName};
use rand::distr::Distribution as _;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::duration::Millis;
use crate::event::Str;
use crate::pbx::{NumberId, Pbx};
use crate::scenario::traffic::{Arrivals, Schedule, TrafficModel};
use crate::scenario::{Answer, Behaviour, CallKind, ScriptedCall};

impl TrafficModel {
    /// The expected number of calls starting in the first `duration` of virtual time: the
    /// integral of the rate. Poisson counts scatter around it; uniform ones are within one of it.
    pub fn expected_calls(&self, duration: Millis) -> f64 {
        let horizon = duration as f64 / 1_000.0;
        let mut total = 0.0;
        for segment in segments(&self.schedule) {
            if segment.start >= horizon {
                break;
            }
            let s = (horizon - segment.start).min(segment.length);
            total += segment.mass_until(s);
        }
        total
    }
}

// ---- the arrival process --------------------------------------------------------------------

/// A stretch of linearly changing rate, in seconds and calls per second.
#[derive(Debug, Clone, Copy)]
struct Segment {
    start: f64,
    length: f64,
    from: f64,
    to: f64,
}

impl Segment {
    /// The rate's slope, calls per second per second.
    fn slope(&self) -> f64 {
        if self.length.is_finite() && self.length > 0.0 {
            (self.to - self.from) / self.length
        } else {
            0.0
        }
    }

    /// Expected calls in the first `s` seconds of the segment.
    fn mass_until(&self, s: f64) -> f64 {
        if s <= 0.0 {
            return 0.0;
        }
        self.from * s + self.slope() * s * s / 2.0
    }

    /// Expected calls in the whole segment.
    fn mass(&self) -> f64 {
        if self.length.is_infinite() {
            return if self.from > 0.0 { f64::INFINITY } else { 0.0 };
        }
        self.mass_until(self.length)
    }

    /// The time into the segment at which `m` calls are expected (`m` ≤ [`Self::mass`]).
    fn time_of(&self, m: f64) -> f64 {
        let half_slope = self.slope() / 2.0;
        let s = if half_slope == 0.0 {
            if self.from > 0.0 { m / self.from } else { 0.0 }
        } else {
            // Solves from·s + half_slope·s² = m in its cancellation-free form.
            let root = (self.from * self.from + 4.0 * half_slope * m).max(0.0).sqrt();
            let denominator = self.from + root;
            if denominator > 0.0 { 2.0 * m / denominator } else { 0.0 }
        };
        s.clamp(0.0, self.length)
    }
}

fn segments(schedule: &Schedule) -> Vec<Segment> {
    match schedule {
        Schedule::Constant(rate) => {
            vec![Segment { start: 0.0, length: f64::INFINITY, from: *rate, to: *rate }]
        }
        Schedule::Stages { start, stages } => {
            let (mut from, mut begin) = (*start, 0.0);
            stages
                .iter()
                .map(|stage| {
                    let length = stage.duration as f64 / 1_000.0;
                    let segment = Segment { start: begin, length, from, to: stage.rate };
                    (from, begin) = (stage.rate, begin + length);
                    segment
                })
                .collect()
        }
    }
}

/// Arrival times: the k-th call starts when the integrated rate reaches a target that grows by
/// an exponential(1) step (Poisson) or by exactly 1 from ½ (uniform).
#[derive(Debug)]
struct Clock {
    arrivals: Arrivals,
    segments: Vec<Segment>,
    /// The current segment, and the expected calls before it.
    index: usize,
    mass_before: f64,
    /// The integrated rate at the last arrival.
    target: f64,
    started: bool,
    rng: ChaCha8Rng,
}

impl Clock {
    /// The next arrival, in virtual milliseconds; `None` once the stages are over.
    fn next(&mut self) -> Option<Millis> {
        let step = match (self.arrivals, self.started) {
            (Arrivals::Uniform, false) => 0.5,
            (Arrivals::Uniform, true) => 1.0,
            (Arrivals::Poisson, _) => -(1.0 - self.rng.random::<f64>()).ln(),
        };
        self.started = true;
        self.target += step;
        loop {
            let segment = self.segments.get(self.index)?;
            let mass = segment.mass();
            if self.target < self.mass_before + mass {
                let t = segment.start + segment.time_of(self.target - self.mass_before);
                return Some((t * 1_000.0).round() as Millis);
            }
            self.mass_before += mass;
            self.index += 1;
        }
    }
}

// ---- call generation ------------------------------------------------------------------------

/// Formats of the callers' and dialled numbers: Australian mobiles and landlines.
const NUMBER_FORMATS: [&str; 7] = [
    "614########",
    "614########",
    "614########",
    "612########",
    "613########",
    "617########",
    "618########",
];

/// The endless (or, with stages, finite) stream of generated calls; see [`generate`].
#[derive(Debug)]
pub struct Generator {
    model: TrafficModel,
    clock: Clock,
    rng: ChaCha8Rng,
    numbers: Option<WeightedIndex<f64>>,
    /// The caller ID each user presents on outbound calls.
    outbound_cli: Vec<Str>,
    /// This generator's tenant and the run's number of tenants (`0, 1` for a single PBX); see
    /// [`Generator::for_tenant`].
    tenant: (u32, u32),
}

/// The calls of a traffic model on `pbx`, in non-decreasing `at` order, reproducible for a
/// seed. Endless for a constant rate (limit it with `take` or `take_while` on `at`); with stages,
/// it ends with the last stage.
///
/// Inbound calls come from fake numbers (`614…` mobiles and `612…`/`613…`/`617…`/`618…`
/// landlines) with fake names (none for the `unnamed` share), on a number drawn by weight.
/// Outbound calls come from a user drawn at random and dial a fake number; their caller ID is
/// the user's `outbound_cli`, else the PBX's first number, else the extension. The far end of an
/// outbound call fails to answer with the `no_answer` chance; otherwise it answers after an
/// `answer_after` sample. Patience applies to inbound calls only.
pub fn generate(model: TrafficModel, pbx: &Pbx, seed: u64) -> Generator {
    // Arrival times and call details draw from streams of their own, so changing a distribution
    // keeps the arrival times; the engine uses stream 0 of the same seed.
    let mut clock_rng = ChaCha8Rng::seed_from_u64(seed);
    clock_rng.set_stream(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(2);
    let outbound_cli = pbx
        .users
        .iter()
        .map(|u| match (&u.outbound_cli, pbx.numbers.first()) {
            (Some(cli), _) => cli.clone(),
            (None, Some(first)) => first.number.clone(),
            (None, None) => u.extension.clone(),
        })
        .collect();
    Generator {
        clock: Clock {
            arrivals: model.arrivals,
            segments: segments(&model.schedule),
            index: 0,
            mass_before: 0.0,
            target: 0.0,
            started: false,
            rng: clock_rng,
        },
        numbers: WeightedIndex::new(model.number_weights.iter().copied()).ok(),
        model,
        rng,
        outbound_cli,
        tenant: (0, 1),
    }
}

impl Generator {
    /// The calls of tenant `index` of `count` (`load --tenants`): the random digits of its
    /// callers' and dialled numbers are `index` modulo `count`, so no two tenants' far ends share a
    /// number. One tenant of one is [`generate`]'s stream unchanged.
    pub fn for_tenant(mut self, index: u32, count: u32) -> Self {
        assert!(index < count, "tenant {index} of {count}");
        self.tenant = (index, count);
        self
    }

    /// A fake number of [`NUMBER_FORMATS`]: what fake's `NumberWithFormat` gives for the same
    /// draws (one digit from `0..10` per `#`), written straight into a buffer, then made this
    /// tenant's.
    fn fake_number(&mut self) -> Str {
        let format = NUMBER_FORMATS[self.rng.random_range(0..NUMBER_FORMATS.len())];
        let mut number = [0u8; NUMBER_LEN];
        for (digit, spec) in number.iter_mut().zip(format.bytes()) {
            *digit = match spec {
                b'#' => b'0' + self.rng.random_range(0..10u32) as u8,
                other => other,
            };
        }
        tenant_number(&mut number, self.tenant);
        Str::from(std::str::from_utf8(&number).unwrap_or_default())
    }

    /// A fake full name: what fake's `Name()` gives for the same draws (a first name, then a
    /// last name, joined by a space), without its template's two `str::replace`s.
    fn fake_name(&mut self) -> Str {
        let first: &str = FirstName().fake_with_rng(&mut self.rng);
        let last: &str = LastName().fake_with_rng(&mut self.rng);
        let mut name = String::with_capacity(first.len() + 1 + last.len());
        name.push_str(first);
        name.push(' ');
        name.push_str(last);
        Str::from(name)
    }

    fn behaviour(&mut self, outbound: bool) -> Behaviour {
        let m = &self.model;
        let (talk, answer_after, voicemail) = (m.talk, m.answer_after, m.voicemail);
        let (patience, no_answer) = (m.patience, m.no_answer);
        let rng = &mut self.rng;
        let mut behaviour = Behaviour {
            answer: Answer::Any,
            answer_after: answer_after.sample(rng),
            talk: talk.sample(rng),
            abandon_after: None,
            voicemail: voicemail.sample(rng),
            no_answer_probability: 0.0,
        };
        if outbound {
            if no_answer > 0.0 && rng.random::<f64>() < no_answer {
                behaviour.answer = Answer::Nobody;
            }
        } else {
            behaviour.abandon_after = patience.map(|p| p.sample(rng));
            behaviour.no_answer_probability = no_answer;
        }
        behaviour
    }
}

impl Iterator for Generator {
    type Item = ScriptedCall;

    fn next(&mut self) -> Option<ScriptedCall> {
        let at = self.clock.next()?;
        let outbound_share = self.model.outbound;
        let outbound = match &self.numbers {
            None => true,
            Some(_) => outbound_share > 0.0 && self.rng.random::<f64>() < outbound_share,
        };
        if outbound {
            let user = self.rng.random_range(0..self.outbound_cli.len().max(1));
            let caller_id = self.outbound_cli.get(user)?.clone();
            let dest = self.fake_number();
            let behaviour = self.behaviour(true);
            return Some(ScriptedCall {
                at,
                kind: CallKind::Outbound { user, dest },
                caller_id,
                caller_name: None,
                behaviour,
            });
        }
        let number: NumberId = self.numbers.as_ref()?.sample(&mut self.rng);
        let caller_id = self.fake_number();
        let unnamed = self.model.unnamed;
        let caller_name = if unnamed > 0.0 && self.rng.random::<f64>() < unnamed {
            None
        } else {
            Some(self.fake_name())
        };
        let behaviour = self.behaviour(false);
        Some(ScriptedCall {
            at,
            kind: CallKind::Inbound { number },
            caller_id,
            caller_name,
            behaviour,
        })
    }
}

/// `number` (a [`NUMBER_FORMATS`] number) made tenant `index` of `count`'s: its random digits,
/// read as one value, moved to the nearest value at or below it that is `index` modulo `count`
/// (or to `index` itself when there is none). Numbers of different tenants differ in their
/// prefix or in that value's remainder, so they never meet; for one tenant it is `number`.
fn tenant_number(number: &mut [u8; NUMBER_LEN], (index, count): (u32, u32)) {
    if count <= 1 {
        return;
    }
    let digits = &mut number[NUMBER_LEN - NUMBER_DIGITS..];
    let value = digits.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    let (count, index) = (u64::from(count), u64::from(index));
    let mut moved = value - value % count + index;
    if moved > value && moved >= count {
        moved -= count;
    }
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (moved % 10) as u8;
        moved /= 10;
    }
}

/// How long each of [`NUMBER_FORMATS`] is, and how many random digits it ends with.
const NUMBER_LEN: usize = 11;
const NUMBER_DIGITS: usize = 8;

#[cfg(test)]
mod tests;
