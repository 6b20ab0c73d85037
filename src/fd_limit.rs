//! Resource limits: a delivery opens up to one connection per worker and endpoint, so before it
//! starts, [`check_fd_limit`] makes sure the process may hold that many open files, raising the
//! soft `RLIMIT_NOFILE` up to the hard limit when needed, or explaining what to do.

/// Files kept for everything but connections: standard streams, the failure journal, the
/// runtimes' event queues and wakers, the built-in receiver's listener, some slack.
pub const OVERHEAD: u64 = 100;

/// The process may not open enough files for the connections a run needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a concurrency of {concurrency}{per} needs about {needed} open files but the limit is {limit} \
     (a limit of {suggest} would do)"
)]
pub struct LimitError {
    pub concurrency: usize,
    /// `" with 3 endpoints"` and the like, or empty.
    pub per: String,
    pub needed: u64,
    /// The hard limit (the soft one can be raised up to it, not beyond).
    pub limit: u64,
    /// A round figure above `needed`.
    pub suggest: u64,
}

/// Open files a delivery may need: one connection per worker (`concurrency`) and endpoint,
/// twice over when the receiver runs in the same process (both ends are ours), plus
/// [`OVERHEAD`].
pub fn files_needed(concurrency: usize, endpoints: usize, in_process_receiver: bool) -> u64 {
    let sides = if in_process_receiver { 2 } else { 1 };
    (concurrency as u64)
        .saturating_mul(endpoints.max(1) as u64)
        .saturating_mul(sides)
        .saturating_add(OVERHEAD)
}

/// What to do about a need of `needed` files under limits `soft` and `hard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// The soft limit is enough.
    Fine,
    /// Raise the soft limit to this (at most the hard limit).
    Raise(u64),
    /// Even the hard limit is too low.
    TooLow,
}

/// Decide, without touching the process.
pub fn plan(needed: u64, soft: u64, hard: u64) -> Plan {
    if needed <= soft {
        Plan::Fine
    } else if needed <= hard {
        Plan::Raise(needed)
    } else {
        Plan::TooLow
    }
}

/// Make sure the process may open [`files_needed`] files: raise the soft limit when the hard
/// one allows, else a [`LimitError`] saying what is needed. Returns the soft limit now in force. Where
/// limits cannot be read (not Unix), nothing is checked.
pub fn check_fd_limit(
    concurrency: usize,
    endpoints: usize,
    in_process_receiver: bool,
) -> Result<u64, LimitError> {
    let needed = files_needed(concurrency, endpoints, in_process_receiver);
    let Some((soft, hard)) = nofile() else { return Ok(needed) };
    let error = |limit: u64| LimitError {
        concurrency,
        per: match (endpoints, in_process_receiver) {
            (0 | 1, false) => String::new(),
            (0 | 1, true) => " with the built-in receiver".into(),
            (n, false) => format!(" with {n} endpoints"),
            (n, true) => format!(" with {n} endpoints and the built-in receiver"),
        },
        needed,
        limit,
        suggest: needed.next_power_of_two().max(1024),
    };
    match plan(needed, soft, hard) {
        Plan::Fine => Ok(soft),
        Plan::Raise(to) => match set_nofile(to, hard) {
            true => Ok(to),
            false => Err(error(soft)),
        },
        Plan::TooLow => Err(error(hard)),
    }
}

/// The soft and hard `RLIMIT_NOFILE`, infinity as `u64::MAX`.
#[cfg(unix)]
pub fn nofile() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if rc != 0 {
        return None;
    }
    // rlim_t is u64 on Linux and macOS, but not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    let widen = |v: libc::rlim_t| if v == libc::RLIM_INFINITY { u64::MAX } else { v as u64 };
    Some((widen(limit.rlim_cur), widen(limit.rlim_max)))
}

#[cfg(not(unix))]
pub fn nofile() -> Option<(u64, u64)> {
    None
}

#[cfg(unix)]
fn set_nofile(soft: u64, hard: u64) -> bool {
    #[allow(clippy::unnecessary_cast)]
    let narrow = |v: u64| if v == u64::MAX { libc::RLIM_INFINITY } else { v as libc::rlim_t };
    let limit = libc::rlimit { rlim_cur: narrow(soft), rlim_max: narrow(hard) };
    // SAFETY: setrlimit only reads the struct.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 }
}

#[cfg(not(unix))]
fn set_nofile(_soft: u64, _hard: u64) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_one_file_per_connection_and_some_overhead() {
        assert_eq!(files_needed(64, 1, false), 64 + OVERHEAD);
        assert_eq!(files_needed(64, 3, false), 192 + OVERHEAD);
        assert_eq!(files_needed(64, 3, true), 384 + OVERHEAD);
        assert_eq!(files_needed(64, 0, false), 64 + OVERHEAD);
        assert_eq!(files_needed(usize::MAX, 9, true), u64::MAX);
    }

    #[test]
    fn plans_within_the_hard_limit() {
        assert_eq!(plan(164, 1024, 4096), Plan::Fine);
        assert_eq!(plan(1024, 1024, 4096), Plan::Fine);
        assert_eq!(plan(2000, 1024, 4096), Plan::Raise(2000));
        assert_eq!(plan(5100, 1024, 4096), Plan::TooLow);
        assert_eq!(plan(5100, 1024, u64::MAX), Plan::Raise(5100));
    }

    #[test]
    fn the_message_states_the_need_and_the_limit() {
        let e = LimitError {
            concurrency: 5000,
            per: String::new(),
            needed: 5100,
            limit: 1024,
            suggest: 5100u64.next_power_of_two(),
        };
        assert_eq!(
            e.to_string(),
            "a concurrency of 5000 needs about 5100 open files but the limit is 1024 (a limit \
             of 8192 would do)"
        );
    }

    #[test]
    fn the_current_limit_is_enough_for_a_small_run() {
        assert!(check_fd_limit(1, 1, false).is_ok());
        if let Some((soft, hard)) = nofile() {
            assert!(soft <= hard);
        }
    }
}
