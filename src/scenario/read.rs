//! Reading a scenario: TOML text → [`ScenarioFile`] → checked, resolved [`Scenario`] ([`load`],
//! [`parse`]).
//!
//! Every mistake becomes a [`Diagnostic`] pointing at the value in the file, with a hint. Syntax
//! and type errors stop at the first one (that is where the TOML reader stops; their messages
//! are reworded in [`toml_errors`](super::toml_errors)); semantic errors are all collected by
//! [`resolve`](super::resolve) and reported in file order. Diagnostics quote the file with its
//! secret values masked ([`redact`](super::redact)).

use std::path::Path;

use super::Scenario;
use super::env::Env;
use super::file::ScenarioFile;
use super::redact::redact_secrets;
use super::resolve::resolve;
use super::toml_errors::toml_error;
use crate::diagnostic::Diagnostic;

/// Reads and checks the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, Box<Diagnostic>> {
    let name = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        let help = "check the path, e.g. `scenarios/quickstart.toml`";
        Box::new(Diagnostic::plain(
            format!("cannot read scenario file `{name}`: {e}"),
            Some(help.to_string()),
        ))
    })?;
    parse(&source, &name)
}

/// Checks the scenario text `source`; `file_name` names it in diagnostics and gives the default
/// scenario name. `${VAR}` references read the process environment.
pub fn parse(source: &str, file_name: &str) -> Result<Scenario, Box<Diagnostic>> {
    parse_with_env(source, file_name, &|name| std::env::var(name).ok())
}

pub(crate) fn parse_with_env(
    source: &str,
    file_name: &str,
    env: Env,
) -> Result<Scenario, Box<Diagnostic>> {
    // Diagnostics show the file with secret values masked; offsets are unchanged.
    let shown = redact_secrets(source);
    let file: ScenarioFile =
        toml::from_str(source).map_err(|e| Box::new(toml_error(&e, file_name, &shown)))?;
    let (scenario, mut errors) = resolve(&file, file_name, &shown, env);
    if errors.is_empty() {
        return Ok(scenario);
    }
    errors.sort_by_key(|d| d.span().map(|s| s.start));
    let first = errors.remove(0);
    Err(Box::new(first.with_related(errors)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PBX_TOKEN" => Some("tok-from-env".into()),
            "HOOK_HOST" => Some("hooks.example.com".into()),
            _ => None,
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_input(source in "(\\PC|\n|=|\"|token|\\$\\{|\\[\\[users\\]\\])*") {
            let shown = redact_secrets(&source);
            proptest::prop_assert_eq!(shown.len(), source.len());
            let _ = parse_with_env(&source, "fuzz.toml", &env);
        }

        #[test]
        fn never_panics_on_an_edited_scenario(
            at in 0usize..10_000,
            cut in 0usize..40,
            insert in "(\\PC|\n|\"|\\$\\{X\\}|-|:|\\[|\\]|\\{|\\}|,|=)*",
        ) {
            let base = include_str!("../../scenarios/quickstart.toml");
            let boundary = |i: &usize| base.is_char_boundary(*i);
            let at = (0..=at.min(base.len())).rev().find(boundary).unwrap_or(0);
            let end = (at + cut..=base.len()).find(boundary).unwrap_or(base.len());
            let source = format!("{}{insert}{}", &base[..at], &base[end..]);
            if let Err(d) = parse_with_env(&source, "fuzz.toml", &env) {
                let _ = d.render(false);
            }
        }
    }
}
