//! Errors at the edge: library errors and bad input turned into messages with advice about
//! flags (exit 2), and the end-of-run warnings about receivers nobody could reach.

use crate::cli::*;
use crate::output::*;
use pbxsim::diagnostic::Diagnostic;
use pbxsim::session::SessionError;
use std::process::ExitCode;

/// Exit code for usage and scenario errors.
pub(crate) const EXIT_USAGE: u8 = 2;

/// Refuse `flags` that were given although `why` they cannot apply: exit 2, naming them.
pub(crate) fn refuse(flags: &[(&'static str, &'static str)], why: &str) -> Result<(), ExitCode> {
    match given(flags).as_slice() {
        [] => Ok(()),
        [one] => Err(usage_error(format!("{one} does not apply: {why}; leave it out"))),
        many => {
            Err(usage_error(format!("{} do not apply: {why}; leave them out", many.join(", "))))
        }
    }
}

/// Prints a diagnostic to stderr.
pub fn report(diagnostic: &Diagnostic) {
    eprint!("{}", diagnostic.render(stderr_color()));
}

pub(crate) fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// A call the engine stopped (a flow that never ends): a scenario error, exit 2.
pub(crate) fn runaway_error(runaway: &pbxsim::engine::Runaway) -> ExitCode {
    usage_error(format!(
        "{runaway}\nhelp: every call may take at most {} call-flow steps and cause at most {} \
         events; `pbxsim validate` points at failover steps that loop",
        pbxsim::engine::MAX_STEPS_PER_CALL,
        pbxsim::engine::MAX_EVENTS_PER_CALL
    ))
}

/// "could not connect to URL …", printed once at the end of a run: an error when nothing
/// could connect (exit 3), else a warning (another URL of the run was reachable).
pub(crate) fn print_unreachable(message: Option<String>, exit: pbxsim::Exit) {
    if let Some(message) = message {
        let level = if exit == pbxsim::Exit::Unreachable { "error" } else { "warning" };
        for line in message.lines() {
            eprintln!("{level}: {line}");
        }
    }
}

/// A session that could not run: its error with the advice about flags that goes with it.
pub(crate) fn session_error(e: &SessionError) -> ExitCode {
    match e {
        SessionError::Runaway(runaway) => runaway_error(runaway),
        SessionError::InspectorNeedsBuiltin => usage_error(
            "--ui shows what the built-in receiver gets, and this run sends to a target \
             (--target or the file's [webhook] url); drop the target, or run \
             `pbxsim listen --ui` and make it your target",
        ),
        other => usage_error(other),
    }
}
