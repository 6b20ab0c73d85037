//! `pbxsim new FILE [--template office|callcentre|load]`: write a commented starter scenario to
//! edit. The templates are the files in `templates/`, built into the binary.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::NewArgs;

/// Writes the template to `args.file`, never over an existing file (exit 2).
pub fn new(args: NewArgs) -> ExitCode {
    let text = args.template.text();
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
    ExitCode::SUCCESS
}
