//! The one place that decides whether output is coloured: `--color`, then the environment
//! (`NO_COLOR`, `CLICOLOR_FORCE`, `CLICOLOR`, `TERM=dumb`), then whether the stream is a
//! terminal. Every coloured writer (diagnostics, the receiver's lines, clap's help and errors)
//! asks here.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::OnceLock;

/// `--color WHEN`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set (or `CLICOLOR=0`, or `TERM=dumb`);
    /// `CLICOLOR_FORCE` colours a pipe too.
    #[default]
    Auto,
    /// Always colour, whatever the environment says.
    Always,
    /// Never colour.
    Never,
}

/// Which stream a coloured text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records the command line's `--color` (once, before anything is printed).
pub fn set(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// Whether text written to `stream` may carry ANSI colour.
pub fn enabled(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    decide(CHOICE.get().copied().unwrap_or_default(), |name| std::env::var_os(name), terminal)
}

/// The rule, apart from the process: an explicit `always`/`never` wins; under `auto`, a
/// non-empty `NO_COLOR` turns colour off (<https://no-color.org>), then `CLICOLOR_FORCE` other
/// than `0` turns it on even for a pipe, then `CLICOLOR=0` or `TERM=dumb` turn it off, and
/// otherwise a terminal gets colour (<https://bixense.com/clicolors/>).
fn decide(choice: ColorChoice, env: impl Fn(&str) -> Option<OsString>, terminal: bool) -> bool {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if set("NO_COLOR").is_some() => false,
        ColorChoice::Auto if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        ColorChoice::Auto if set("CLICOLOR").is_some_and(|v| v == "0") => false,
        ColorChoice::Auto if set("TERM").is_some_and(|v| v == "dumb") => false,
        ColorChoice::Auto => terminal,
    }
}

/// `--color` as written on the command line, read before clap parses it, so that clap's own
/// help and usage errors follow it too (the last one given wins, as clap's parse does; an
/// unknown value is left to clap to refuse).
fn prescan(args: impl IntoIterator<Item = OsString>) -> Option<ColorChoice> {
    use clap::ValueEnum;
    let mut found = None;
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str().map(str::to_string) else { continue };
        let value = if arg == "--" {
            break;
        } else if arg == "--color" {
            args.next().and_then(|v| v.to_str().map(str::to_string))
        } else if let Some(v) = arg.strip_prefix("--color=") {
            Some(v.to_string())
        } else {
            continue;
        };
        if let Some(choice) = value.and_then(|v| ColorChoice::from_str(&v, false).ok()) {
            found = Some(choice);
        }
    }
    found
}

/// The clap command with its help and error colouring decided here: `--color` if given, else
/// this module's `auto` rule for the stream clap writes to (stderr for errors, stdout for
/// `--help`; one answer for both: stderr's, as a usage error is the common case).
pub fn for_clap(command: clap::Command) -> clap::Command {
    let choice = prescan(std::env::args_os()).unwrap_or_default();
    let on = match choice {
        ColorChoice::Auto => {
            let terminal = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
            decide(choice, |name| std::env::var_os(name), terminal)
        }
        other => other == ColorChoice::Always,
    };
    command.color(if on { clap::ColorChoice::Always } else { clap::ColorChoice::Never })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn the_flag_beats_the_environment() {
        assert!(decide(ColorChoice::Always, env(&[("NO_COLOR", "1")]), false));
        assert!(!decide(ColorChoice::Never, env(&[("CLICOLOR_FORCE", "1")]), true));
    }

    #[test]
    fn auto_follows_no_color_then_clicolor_force_then_the_terminal() {
        assert!(decide(ColorChoice::Auto, env(&[]), true));
        assert!(!decide(ColorChoice::Auto, env(&[]), false));
        assert!(!decide(ColorChoice::Auto, env(&[("NO_COLOR", "1")]), true));
        // An empty NO_COLOR is unset, per no-color.org.
        assert!(decide(ColorChoice::Auto, env(&[("NO_COLOR", "")]), true));
        assert!(decide(ColorChoice::Auto, env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!decide(ColorChoice::Auto, env(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!decide(
            ColorChoice::Auto,
            env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]),
            true
        ));
        assert!(!decide(ColorChoice::Auto, env(&[("CLICOLOR", "0")]), true));
        assert!(decide(
            ColorChoice::Auto,
            env(&[("CLICOLOR", "0"), ("CLICOLOR_FORCE", "1")]),
            false
        ));
        assert!(!decide(ColorChoice::Auto, env(&[("TERM", "dumb")]), true));
    }

    #[test]
    fn prescan_reads_both_spellings_and_stops_at_double_dash() {
        let scan = |args: &[&str]| prescan(args.iter().map(OsString::from));
        assert_eq!(scan(&["pbxsim", "run", "f", "--color", "always"]), Some(ColorChoice::Always));
        assert_eq!(scan(&["pbxsim", "--color=never", "run"]), Some(ColorChoice::Never));
        assert_eq!(scan(&["pbxsim", "--color=never", "--color", "auto"]), Some(ColorChoice::Auto));
        assert_eq!(scan(&["pbxsim", "--color", "sometimes"]), None);
        assert_eq!(scan(&["pbxsim", "x", "--", "--color", "always"]), None);
        assert_eq!(scan(&["pbxsim", "run"]), None);
    }
}
