//! How reports word what their caller controls (where a token came from, how to fix it, how to
//! slow a run down or get calls into it): the library's default names no command-line flag; a
//! CLI hands in its own through [`DeliverOptions::wording`](super::DeliverOptions::wording).

use std::fmt;

use super::endpoint::TokenSource;

/// The words a delivery [`Summary`](super::Summary) and a load report use for the things a
/// caller sets. [`Wording::default`] is the library's, in neutral terms ("the token given to
/// the run", "a lower speed, like 10, spaces them out"); a CLI passes one naming its flags.
///
/// Not part of a report's data: it is not serialized, and any two compare equal.
#[derive(Clone, Copy)]
pub struct Wording {
    /// Where an endpoint's token came from: "no token", "the token given to the run", …
    pub token_source: fn(&TokenSource) -> String,
    /// What to do when the receiver refuses that token (lower case, no final stop).
    pub token_fix: fn(&TokenSource) -> String,
    /// How to space a call's events out: a lower speed, with `Some(speed)` one that would.
    pub lower_speed: fn(Option<f64>) -> String,
    /// A load that started no call because the first would arrive after its time: the fix.
    pub more_calls: &'static str,
    /// A load whose traffic made no call at all: the fix.
    pub some_calls: &'static str,
    /// The HTML report's note on an unpaced run, after "the run was not paced": "(asap)".
    pub unpaced: &'static str,
    /// The HTML report's note when no threshold was set: where thresholds come from.
    pub thresholds: &'static str,
}

impl Default for Wording {
    fn default() -> Self {
        Self {
            token_source: TokenSource::describe,
            token_fix: TokenSource::fix,
            lower_speed,
            more_calls: "raise the rate or the duration",
            some_calls: "check the [traffic] table, or give it a rate",
            unpaced: "(asap)",
            thresholds: "thresholds given to the run, or [expect] in the file",
        }
    }
}

/// [`Wording::lower_speed`]'s default.
fn lower_speed(speed: Option<f64>) -> String {
    match speed {
        Some(speed) => format!("a lower speed, like {speed}, spaces them out"),
        None => "a lower speed spaces them out".to_string(),
    }
}

impl fmt::Debug for Wording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wording").finish_non_exhaustive()
    }
}

impl PartialEq for Wording {
    /// Wording is how a report is told, not what it holds: always equal.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Wording {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_names_no_flag_and_no_environment_variable() {
        let w = Wording::default();
        let mut texts = vec![
            (w.lower_speed)(Some(10.0)),
            (w.lower_speed)(None),
            w.more_calls.to_string(),
            w.some_calls.to_string(),
            w.unpaced.to_string(),
            w.thresholds.to_string(),
        ];
        for source in [
            TokenSource::None,
            TokenSource::Flag,
            TokenSource::Env,
            TokenSource::File,
            TokenSource::Object("CRM".into()),
            TokenSource::ObjectNone("CRM".into()),
        ] {
            texts.push((w.token_source)(&source));
            texts.push((w.token_fix)(&source));
        }
        for text in &texts {
            assert!(!text.is_empty());
            assert!(!text.contains("--"), "{text}");
            assert!(!text.contains("PBXSIM_"), "{text}");
        }
        assert_eq!((w.lower_speed)(Some(10.0)), "a lower speed, like 10, spaces them out");
    }
}
