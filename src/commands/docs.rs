//! `pbxsim docs events` (hidden): prints generated documentation, so the checked-in copy can be
//! refreshed and a test can hold it to the code.

use std::process::ExitCode;

/// `pbxsim docs` arguments.
#[derive(Debug, clap::Args)]
pub struct DocsArgs {
    /// Which document: `events` is docs/events.md.
    pub what: DocsKind,
}

/// The generated documents.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DocsKind {
    /// The event catalogue: when each of the 12 types fires, its fields and a sample body.
    Events,
}

/// Prints the document in Markdown on stdout; a closed pipe (`| head`) is not an error.
pub fn run(args: DocsArgs) -> ExitCode {
    use std::io::Write;
    let text = match args.what {
        DocsKind::Events => pbxsim::event::catalogue_markdown(),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            // Not through cli's helpers, so that commands/ does not import cli.
            let _ = writeln!(std::io::stderr(), "pbxsim: cannot write to standard output: {e}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}
