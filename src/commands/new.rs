//! `pbxsim new FILE [--template office|callcentre|load]`: write a commented starter scenario to
//! edit. The templates are the files in `templates/`, built into the binary.
//!
//! A template's first line, `#:schema ../schema/scenario.schema.json`, is right in the
//! repository only. The file written keeps a `#:schema` line only when it can point at a real
//! schema: a `scenario.schema.json` beside it, or in a `schema/` folder, in its directory or
//! one above (up to the directory holding `.git`). Otherwise the line is left out and pbxsim
//! says how to add it: a directive naming a missing file is an error in Taplo.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::NewArgs;

/// Writes the template to `args.file`, never over an existing file (exit 2).
pub fn new(args: NewArgs) -> ExitCode {
    let text = without_directive(args.template.text());
    if args.file.as_os_str() == "-" {
        crate::output::write_stdout(format_args!("{text}"));
        return ExitCode::SUCCESS;
    }
    let shown = args.file.display().to_string();
    let fail = |message: String| {
        crate::output::write_stderr(format_args!("error: {message}\n"));
        ExitCode::from(2)
    };
    // `create_new` refuses an existing file atomically: no check-then-write race.
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&args.file);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return fail(format!(
                "{shown} already exists; pbxsim new does not overwrite files: give another name, \
                 or remove it first"
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return fail(format!("cannot create {shown}: its directory does not exist"));
        }
        Err(e) => return fail(format!("cannot create {shown}: {e}")),
    };
    let schema = schema_beside(&args.file);
    let text = match &schema {
        Some(path) => format!("#:schema {path}\n{text}"),
        None => text.to_string(),
    };
    if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(&args.file);
        return fail(format!("cannot write {shown}: {e}"));
    }
    crate::output::write_stderr(format_args!(
        "wrote {shown} (the {} template); edit it, then:\n  pbxsim validate {shown}\n  {}\n",
        args.template.name(),
        args.template.next(&shown)
    ));
    match schema {
        Some(path) => crate::output::write_stderr(format_args!(
            "editors (Taplo, Even Better TOML) check it with the schema its first line names: \
             {path}\n"
        )),
        None => {
            let dir = match args.file.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => format!("{}/", dir.display()),
                _ => String::new(),
            };
            crate::output::write_stderr(format_args!(
                "editor support (Taplo, Even Better TOML): pbxsim schema scenario > \
                 {dir}scenario.schema.json, and make `#:schema ./scenario.schema.json` the first \
                 line of {shown}\n"
            ));
        }
    }
    ExitCode::SUCCESS
}

/// The template without its first line, the repository's `#:schema` directive.
fn without_directive(template: &str) -> &str {
    match template.split_once('\n') {
        Some((first, rest)) if first.starts_with("#:schema ") => rest,
        _ => template,
    }
}

/// The `#:schema` path for a scenario written at `file` (relative to its directory, as Taplo
/// reads it): the nearest `scenario.schema.json` or `schema/scenario.schema.json` holding
/// pbxsim's scenario schema, in the file's directory or above, up to the one with `.git`.
fn schema_beside(file: &Path) -> Option<String> {
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = dir.canonicalize().ok()?;
    for (up, ancestor) in dir.ancestors().enumerate() {
        for candidate in ["scenario.schema.json", "schema/scenario.schema.json"] {
            if is_scenario_schema(&ancestor.join(candidate)) {
                let prefix = if up == 0 { "./".to_string() } else { "../".repeat(up) };
                return Some(format!("{prefix}{candidate}"));
            }
        }
        if ancestor.join(".git").exists() {
            break;
        }
    }
    None
}

fn is_scenario_schema(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    serde_json::from_str::<serde_json::Value>(&text)
        .is_ok_and(|schema| schema["title"] == "pbxsim scenario")
}
