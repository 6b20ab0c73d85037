//! `pbxsim new FILE [--template office|callcentre|load]`: write a commented starter scenario to
//! edit. The templates are the files in `templates/`, built into the binary.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// `pbxsim new` arguments.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The scenario file to create (it must not exist yet); `-` prints the template instead.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Which starter file.
    #[arg(long, short, value_enum, default_value_t = Template::Office)]
    pub template: Template,
}

/// The starter files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// A small office: reception, direct lines, a sales queue, voicemail, recording, a CRM
    /// lookup, and scripted calls that send all 12 event types (for `run`).
    Office,
    /// A call centre: two queues, wrap-up, overflow, voicemail, the outcomes a receiver must
    /// handle as scripted calls, and [traffic] for `load`.
    Callcentre,
    /// The built-in mid-size PBX of `pbxsim load` (50 users, 4 queues, 2 ring groups), with its
    /// [traffic]: what `pbxsim load` plays without a file.
    Load,
}

impl Template {
    /// The template's text, as shipped in `templates/`.
    pub fn text(self) -> &'static str {
        match self {
            Template::Office => include_str!("../../templates/office.toml"),
            Template::Callcentre => include_str!("../../templates/callcentre.toml"),
            Template::Load => include_str!("../../templates/load.toml"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Template::Office => "office",
            Template::Callcentre => "callcentre",
            Template::Load => "load",
        }
    }

    /// What to run next on the new file.
    fn next(self, file: &str) -> String {
        match self {
            Template::Office => format!("pbxsim run {file}"),
            Template::Callcentre => format!("pbxsim run {file} --asap   or   pbxsim load {file}"),
            Template::Load => format!("pbxsim load {file}"),
        }
    }
}

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
