//! Errors at the edge: library errors and bad input turned into messages with advice about
//! flags (exit 2), and the end-of-run warnings about receivers nobody could reach.

use crate::cli::*;
use crate::output::*;
use pbxsim::deliver::{DeliverError, TokenSource, Wording};
use pbxsim::diagnostic::Diagnostic;
use pbxsim::scenario::single_call::OneCallError;
use pbxsim::session::SessionError;
use std::process::ExitCode;

/// Exit code for usage and scenario errors.
pub(crate) const EXIT_USAGE: u8 = 2;

/// The receivers' note when they check no token (`listen`, and `run`/`load`'s built-in one).
pub(crate) const NO_TOKEN_NOTE: &str = "note: no token configured, so X-Pbx-Token is not checked \
                                        (set --token or PBXSIM_TOKEN to check it)";

/// `listen`'s answers and warnings in the words of its flags (the library's name its fields).
pub(crate) const RECEIVER_WORDING: pbxsim::receiver::ReceiverWording =
    pbxsim::receiver::ReceiverWording {
        failed_on_purpose: "simulated failure (--fail-rate)",
        status: "(--status)",
        save_file: "the --save file",
    };

/// The reports' advice in the words of the flags (the library's own names none): handed to
/// every delivery ([`pbxsim::deliver::DeliverOptions::wording`]) and to reports read back.
pub(crate) const WORDING: Wording = Wording {
    token_source,
    token_fix,
    lower_speed,
    more_calls: "raise --rate or --duration",
    some_calls: "check the [traffic] table, or pass --rate",
    unpaced: "(--asap)",
    thresholds: "--threshold, or [expect] in the file",
};

/// "the token from --token", "the token from PBXSIM_TOKEN", else the library's words.
fn token_source(source: &TokenSource) -> String {
    match source {
        TokenSource::Flag => "the token from --token".into(),
        TokenSource::Env => "the token from PBXSIM_TOKEN".into(),
        other => other.describe(),
    }
}

/// What to do about a refused token, with the flags that set one.
fn token_fix(source: &TokenSource) -> String {
    match source {
        TokenSource::None => "pass --token TOKEN, set PBXSIM_TOKEN, or set `token` in the \
                              scenario's [webhook] table"
            .into(),
        TokenSource::Flag => "check that --token is the token the receiver expects".into(),
        TokenSource::Env => "check the value of PBXSIM_TOKEN, or pass --token TOKEN".into(),
        TokenSource::File => {
            "pass --token TOKEN (or set PBXSIM_TOKEN) to send the receiver's token".into()
        }
        other => other.fix(),
    }
}

/// The load report's spacing advice: a lower `--speed`.
fn lower_speed(speed: Option<f64>) -> String {
    match speed {
        Some(speed) => format!("a lower --speed, like --speed {speed}, spaces them out"),
        None => "a lower --speed spaces them out".to_string(),
    }
}

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
            match line.ends_with(pbxsim::deliver::UNTRUSTED_CERTIFICATE) {
                true => eprintln!("{level}: {line} For a self-signed one, pass --insecure."),
                false => eprintln!("{level}: {line}"),
            }
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
        SessionError::Deliver(e) => usage_error(deliver_error(e)),
        SessionError::OpenFiles(e) => limit_error(e),
        other => usage_error(other),
    }
}

/// Too low a limit of open files for the connections: what to raise, or lower.
pub(crate) fn limit_error(e: &pbxsim::fd_limit::LimitError) -> ExitCode {
    usage_error(format!(
        "--concurrency {}{} needs about {} open files but the limit is {}; raise it with \
         `ulimit -n {}` or lower --concurrency",
        e.concurrency, e.per, e.needed, e.limit, e.suggest
    ))
}

/// A `pbxsim call` that cannot be built, in the words of its flags.
pub(crate) fn one_call_error(e: &OneCallError) -> String {
    match e {
        OneCallError::Missing(what) => format!(
            "the PBX has no {what}; pass --via with something it has, or --scenario with another \
             PBX"
        ),
        OneCallError::OutboundOutcome => "an outbound call can only be answered or not answered \
                                          (--outcome answered|no-answer)"
            .into(),
        OneCallError::ViaOutbound => "--via routes an inbound call; an outbound call is placed \
                                      by a user (--from EXTENSION)"
            .into(),
        OneCallError::FromInbound => "--from is the user placing an outbound call; an inbound \
                                      caller is --number DIGITS"
            .into(),
        OneCallError::RecordUnanswered => "--record needs --outcome answered: only a call that \
                                           was answered is recorded"
            .into(),
        OneCallError::TimedoutUser => "--outcome timedout is a queue's or ring group's; a call to \
                                       a user ends unanswered with --outcome no-answer or \
                                       voicemail"
            .into(),
        other => other.to_string(),
    }
}

/// Reports that `report merge` cannot merge, with the flags that tell runs apart.
pub(crate) fn merge_error(e: &pbxsim::report::merge::MergeError) -> ExitCode {
    use pbxsim::report::merge::MergeError;
    let asap = |c: &pbxsim::report::load_report::Compression| match c.asap {
        true => format!("--asap, built at {}x", c.speed),
        false => format!("{}x", c.speed),
    };
    usage_error(match e {
        MergeError::SameSeed { .. } => format!("{e}; give each generator its own --seed"),
        MergeError::Compression { a, b, ca, cb } => format!(
            "{a} and {b} compress calls differently ({} and {}): only parts of one run merge",
            asap(ca),
            asap(cb)
        ),
        other => other.to_string(),
    })
}

/// A bad `-H` value, in the words of the flag.
pub(crate) fn header_error(e: pbxsim::deliver::HeaderError) -> ExitCode {
    use pbxsim::deliver::HeaderError;
    usage_error(match e {
        HeaderError::NoColon => {
            "-H needs `Name: value`, like -H 'X-Env: staging' (this one has no colon)".into()
        }
        HeaderError::Token(name) => {
            format!("-H {name}: the token goes in --token (or PBXSIM_TOKEN)")
        }
        HeaderError::BadName => "-H: the part before the colon is not a valid header name".into(),
        other => format!("-H {other}"),
    })
}

/// A `trigger --set` / `--unset` that cannot be applied, in the words of the flags.
pub(crate) fn edit_error(e: pbxsim::trigger::EditError) -> ExitCode {
    usage_error(edit_message(&e))
}

/// [`edit_error`]'s message.
pub(crate) fn edit_message(e: &pbxsim::trigger::EditError) -> String {
    use pbxsim::trigger::EditError;
    match e {
        EditError::NotAnAssignment(text) => {
            format!("`{text}` is not of the form field=value; write e.g. --set queue_name=Support")
        }
        EditError::TypeField => {
            "the type is chosen by the TYPE argument, not by --set/--unset".to_string()
        }
        EditError::UnansweredButAnswered => "connected_at=null means nobody answered, but \
                                             status is answered; add --set status=abandoned \
                                             (or timedout)"
            .to_string(),
        other => other.to_string(),
    }
}

/// A replay file that cannot be sent as it is, with the flag that fixes it.
pub(crate) fn replay_error(e: &pbxsim::deliver::ReplayError) -> ExitCode {
    use pbxsim::deliver::ReplayError;
    use pbxsim::deliver::replay::TargetProblem;
    match e {
        ReplayError::Target { problem: TargetProblem::Missing, .. } => {
            usage_error(format!("{e}; pass --target URL"))
        }
        ReplayError::Target { problem: TargetProblem::Masked(_), .. } => {
            usage_error(format!("{e}; pass --target with the full URL"))
        }
        other => usage_error(other),
    }
}

/// A delivery that could not start, in the words of the flags that fix it.
pub(crate) fn deliver_error(e: &DeliverError) -> String {
    match e {
        DeliverError::NoTarget => {
            "no target URL: pass --target URL, or set `url` in the scenario's [webhook] table"
                .into()
        }
        DeliverError::ChaosWithoutToken => "--chaos wrong_token / no_token need a token to \
                                             forge: pass --token or set the scenario's \
                                             [webhook] token"
            .into(),
        DeliverError::RouteNotSent(ty) => format!(
            "--route {ty}=…: the scenario never sends `{ty}` (it is not in its [webhook] \
             events); add it there or drop the route"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI's wording is today's text, byte for byte, for every token source and both
    /// spacing hints (the goldens and integration tests cover them end to end too).
    #[test]
    fn the_cli_wording_names_the_flags_as_before() {
        let w = WORDING;
        let object = TokenSource::Object("CRM".into());
        let object_none = TokenSource::ObjectNone("CRM".into());
        for (source, describe, fix) in [
            (
                &TokenSource::None,
                "no token",
                "pass --token TOKEN, set PBXSIM_TOKEN, or set `token` in the scenario's \
                 [webhook] table",
            ),
            (
                &TokenSource::Flag,
                "the token from --token",
                "check that --token is the token the receiver expects",
            ),
            (
                &TokenSource::Env,
                "the token from PBXSIM_TOKEN",
                "check the value of PBXSIM_TOKEN, or pass --token TOKEN",
            ),
            (
                &TokenSource::File,
                "the token from the scenario's [webhook] token",
                "pass --token TOKEN (or set PBXSIM_TOKEN) to send the receiver's token",
            ),
            (
                &object,
                "webhook object `CRM`'s own token",
                "remove `token` from webhook object `CRM` to send the global token, or give it \
                 the token its receiver expects",
            ),
            (
                &object_none,
                "no token (webhook object `CRM` sets `token = \"\"`)",
                "remove `token = \"\"` from webhook object `CRM` to send the global token",
            ),
        ] {
            assert_eq!((w.token_source)(source), describe);
            assert_eq!((w.token_fix)(source), fix);
        }
        assert_eq!(
            (w.lower_speed)(Some(100.0)),
            "a lower --speed, like --speed 100, spaces them out"
        );
        assert_eq!((w.lower_speed)(None), "a lower --speed spaces them out");
        assert_eq!(w.more_calls, "raise --rate or --duration");
        assert_eq!(w.some_calls, "check the [traffic] table, or pass --rate");
        assert_eq!(w.unpaced, "(--asap)");
        assert_eq!(w.thresholds, "--threshold, or [expect] in the file");
        let r = RECEIVER_WORDING;
        assert_eq!(r.failed_on_purpose, "simulated failure (--fail-rate)");
        assert_eq!(
            format!("answering 500 on purpose {}", r.status),
            "answering 500 on purpose (--status)"
        );
        assert_eq!(r.save_file, "the --save file");
    }
}
