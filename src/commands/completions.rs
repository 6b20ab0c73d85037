//! `pbxsim completions SHELL` and `pbxsim man`: shell completion scripts (clap_complete) and
//! the man page (clap_mangen), both generated from the clap definitions so they never drift.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{CompletionsArgs, ManArgs};

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: CompletionsArgs) -> ExitCode {
    let mut command = crate::cli::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pbxsim", &mut script);
    crate::output::write_stdout(format_args!("{}", String::from_utf8_lossy(&script)));
    ExitCode::SUCCESS
}

/// Prints `pbxsim(1)` in roff on stdout, or writes every command's page into `--dir`.
pub fn man(args: ManArgs) -> ExitCode {
    let command = crate::cli::Cli::command();
    if let Some(dir) = args.dir {
        if let Err(e) =
            std::fs::create_dir_all(&dir).and_then(|()| clap_mangen::generate_to(command, &dir))
        {
            crate::output::write_stderr(format_args!(
                "error: cannot write the man pages to {}: {e}\n",
                dir.display()
            ));
            return ExitCode::from(2);
        }
        return ExitCode::SUCCESS;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page).expect("rendering to memory cannot fail");
    crate::output::write_stdout(format_args!("{}", String::from_utf8_lossy(&page)));
    ExitCode::SUCCESS
}
