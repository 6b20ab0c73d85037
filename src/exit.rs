//! Exit codes: the one table of what a run's end means, and the one rule for which code wins
//! when several apply.
//!
//! | code | [`Exit`]        | meaning                                                          |
//! |------|-----------------|------------------------------------------------------------------|
//! | 0    | `Ok`            | everything was delivered and every check passed                  |
//! | 1    | `Failed`        | events failed, a threshold failed, the receiver broke a rule, or a file could not be written |
//! | 2    | `Usage`         | bad input (flags, scenario file): nothing was sent               |
//! | 3    | `Unreachable`   | no receiver could be reached at all                              |
//! | 130  | `Interrupted`   | stopped by Ctrl-C (SIGINT); the summary and files were written   |
//! | 143  | `Terminated`    | stopped by SIGTERM; the summary and files were written           |
//!
//! **Which code wins** ([`Exit::and`]): the more severe, in the order
//! `Usage` > `Unreachable` > `Interrupted` = `Terminated` > `Failed` > `Ok`. So a failed
//! threshold turns a clean run into 1, but an unreachable target keeps 3 and an interrupted run
//! keeps 130 whatever else went wrong.

use std::fmt;

/// How a command ended; see the module docs for the table and the precedence rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Exit {
    #[default]
    Ok,
    Failed,
    Usage,
    Unreachable,
    Interrupted,
    Terminated,
}

impl Exit {
    /// Every exit, in the order of the table.
    pub const ALL: [Exit; 6] = [
        Exit::Ok,
        Exit::Failed,
        Exit::Usage,
        Exit::Unreachable,
        Exit::Interrupted,
        Exit::Terminated,
    ];

    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Unreachable => 3,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }

    /// The exit of a process code, if it is one of the table's.
    pub fn from_code(code: u8) -> Option<Exit> {
        Exit::ALL.into_iter().find(|e| e.code() == code)
    }

    /// Whether the run passed (code 0).
    pub fn is_ok(self) -> bool {
        self == Exit::Ok
    }

    /// Whether a signal stopped the run.
    pub fn is_stopped(self) -> bool {
        matches!(self, Exit::Interrupted | Exit::Terminated)
    }

    fn severity(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Interrupted | Exit::Terminated => 2,
            Exit::Unreachable => 3,
            Exit::Usage => 4,
        }
    }

    /// The code that wins when both apply: the more severe; of two equally severe, `self`.
    #[must_use]
    pub fn and(self, other: Exit) -> Exit {
        if other.severity() > self.severity() { other } else { self }
    }

    /// `self`, or [`Exit::Failed`] when `failed` and nothing more severe applies.
    #[must_use]
    pub fn failed_if(self, failed: bool) -> Exit {
        if failed { self.and(Exit::Failed) } else { self }
    }
}

impl Exit {
    /// [`Exit::Terminated`] in place of [`Exit::Interrupted`] when SIGTERM, not Ctrl-C,
    /// stopped the run.
    #[must_use]
    pub fn terminated_if(self, sigterm: bool) -> Exit {
        match self {
            Exit::Interrupted if sigterm => Exit::Terminated,
            other => other,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_the_table() {
        for exit in Exit::ALL {
            assert_eq!(Exit::from_code(exit.code()), Some(exit));
        }
        assert_eq!(Exit::from_code(101), None);
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 130, 143]);
    }

    #[test]
    fn the_more_severe_code_wins_whatever_the_order() {
        use Exit::*;
        let cases = [
            (Ok, Failed, Failed),
            (Failed, Interrupted, Interrupted),
            (Interrupted, Unreachable, Unreachable),
            (Unreachable, Usage, Usage),
            (Terminated, Failed, Terminated),
            (Interrupted, Terminated, Interrupted),
        ];
        for (a, b, wins) in cases {
            assert_eq!(a.and(b), wins, "{a:?} and {b:?}");
            if a.severity() != b.severity() {
                assert_eq!(b.and(a), wins, "{b:?} and {a:?}");
            }
        }
        assert_eq!(Ok.failed_if(true), Failed);
        assert_eq!(Unreachable.failed_if(true), Unreachable);
        assert_eq!(Interrupted.failed_if(false), Interrupted);
    }
}
