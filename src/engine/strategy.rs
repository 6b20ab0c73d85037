//! How a queue picks an agent: the one place that decides which members ring for a waiting
//! call, by the queue's [`Strategy`] (`strategy` in the scenario file).
//!
//! The engine's dispatch offers a queue's calls, first come first served, to the members who
//! are *free*: idle, and not held back by a wrap-up (from this queue, or from every call when it
//! blocks `all`). For each waiting call it asks [`pick`] which of the free members ring:
//!
//! - `ringall`: every free member at once;
//! - `linear`: one at a time in the order listed, from the first on each new queue visit
//!   (the call keeps its own place in the list);
//! - `round_robin`: one at a time, starting after the member the queue rang last (the queue
//!   keeps its place, shared by all its calls);
//! - `least_recent`: the free member whose last call ended longest ago (never called first;
//!   ties go to the first listed);
//! - `fewest_calls`: the free member who has answered the fewest calls (ties: first listed);
//! - `random`: a free member drawn from the engine's seeded RNG, so a seed gives the same picks.
//!
//! Nobody who picks up is chosen here: whether and when a rung member answers is the call's
//! behaviour, decided by the engine.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use crate::duration::Millis;
use crate::pbx::Strategy;

/// What a strategy knows about one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct MemberHistory {
    /// When the member's last call ended (`least_recent`); `None`: no call yet.
    pub last_call_end: Option<Millis>,
    /// Calls the member answered (`fewest_calls`).
    pub answered: u64,
}

/// The places strategies keep between picks.
pub(super) struct Cursors<'a> {
    /// `linear`: the position of the next member to try for this call.
    pub call: &'a mut usize,
    /// `round_robin`: the position of the member the queue rang last.
    pub queue: &'a mut Option<usize>,
}

/// The members that ring for a waiting call, as positions in the queue's member list (of
/// `members` entries). `free` lists the positions of the free members in list order and is not
/// empty; `history` tells about the member at a position. `None` when no member rings for this
/// call now. Updates `cursors` for `linear` and `round_robin`; `random` draws from `rng`.
pub(super) fn pick(
    strategy: Strategy,
    free: &[usize],
    members: usize,
    cursors: Cursors<'_>,
    history: impl Fn(usize) -> MemberHistory,
    rng: &mut ChaCha8Rng,
) -> Option<Vec<usize>> {
    let one = match strategy {
        Strategy::Ringall => return Some(free.to_vec()),
        Strategy::Linear => {
            let k = first_free_from(free, *cursors.call, members)?;
            *cursors.call = (k + 1) % members;
            k
        }
        Strategy::RoundRobin => {
            let start = cursors.queue.map_or(0, |c| c + 1);
            let k = first_free_from(free, start, members)?;
            *cursors.queue = Some(k);
            k
        }
        Strategy::LeastRecent => {
            *free.iter().min_by_key(|&&k| history(k).last_call_end).expect("free is not empty")
        }
        Strategy::FewestCalls => {
            *free.iter().min_by_key(|&&k| history(k).answered).expect("free is not empty")
        }
        Strategy::Random => free[rng.random_range(0..free.len())],
    };
    Some(vec![one])
}

/// The first member position in `free` at or after `start`, wrapping around `n` members.
fn first_free_from(free: &[usize], start: usize, n: usize) -> Option<usize> {
    (0..n).map(|o| (start + o) % n).find(|k| free.contains(k))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn history(k: usize) -> MemberHistory {
        // Member 0 ended a call last, 2 longest ago, 3 never had one; 1 answered the fewest.
        [
            MemberHistory { last_call_end: Some(9_000), answered: 4 },
            MemberHistory { last_call_end: Some(5_000), answered: 1 },
            MemberHistory { last_call_end: Some(1_000), answered: 2 },
            MemberHistory { last_call_end: None, answered: 3 },
        ][k]
    }

    /// Picks for one call on a fresh queue of four members.
    fn picks(strategy: Strategy, free: &[usize], rounds: usize) -> Vec<Option<Vec<usize>>> {
        let (mut call, mut queue) = (0, None);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        (0..rounds)
            .map(|_| {
                let cursors = Cursors { call: &mut call, queue: &mut queue };
                pick(strategy, free, 4, cursors, history, &mut rng)
            })
            .collect()
    }

    #[test]
    fn each_strategy_picks_its_members() {
        let free = [0, 1, 2, 3];
        assert_eq!(picks(Strategy::Ringall, &[1, 3], 1), [Some(vec![1, 3])]);
        assert_eq!(picks(Strategy::Linear, &free, 5), [0, 1, 2, 3, 0].map(|k| Some(vec![k])));
        assert_eq!(picks(Strategy::Linear, &[1, 3], 3), [1, 3, 1].map(|k| Some(vec![k])));
        assert_eq!(picks(Strategy::RoundRobin, &[0, 2], 3), [0, 2, 0].map(|k| Some(vec![k])));
        assert_eq!(picks(Strategy::LeastRecent, &free, 1), [Some(vec![3])], "never called");
        assert_eq!(picks(Strategy::LeastRecent, &[0, 1, 2], 1), [Some(vec![2])]);
        assert_eq!(picks(Strategy::FewestCalls, &free, 1), [Some(vec![1])]);
        let random = picks(Strategy::Random, &free, 20);
        assert!(random.iter().all(|p| p.as_ref().is_some_and(|p| p.len() == 1 && p[0] < 4)));
        assert_eq!(random, picks(Strategy::Random, &free, 20), "the seed decides");
    }

    #[test]
    fn linear_keeps_the_calls_place_and_round_robin_the_queues() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut call, mut queue) = (2, Some(3));
        let cursors = Cursors { call: &mut call, queue: &mut queue };
        assert_eq!(pick(Strategy::Linear, &[0, 3], 4, cursors, history, &mut rng), Some(vec![3]));
        assert_eq!((call, queue), (0, Some(3)), "linear moves the call's place only");
        let cursors = Cursors { call: &mut call, queue: &mut queue };
        let picked = pick(Strategy::RoundRobin, &[0, 3], 4, cursors, history, &mut rng);
        assert_eq!(picked, Some(vec![0]), "after the last member, the first");
        assert_eq!((call, queue), (0, Some(0)));
    }
}
