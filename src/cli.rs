//! The command line: clap definitions, and the mapping of each subcommand onto the library.
//!
//! Raw flags are turned into validated library settings here, before any work starts; the
//! library itself knows nothing of clap.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pbxsim::diagnostic::Diagnostic;
use pbxsim::scenario::Scenario;

/// Simulate a hosted PBX and send its webhook events to your receiver.
#[derive(Debug, Parser)]
#[command(name = "pbxsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check scenario files without running them.
    ///
    /// Exits 0 when every file is valid, 2 when one is not; errors name the file, line and
    /// column, with a hint.
    #[command(after_help = "Examples:\n  \
        pbxsim validate scenarios/quickstart.toml\n  \
        pbxsim validate scenarios/*.toml\n  \
        PBX_TOKEN=s3cret pbxsim validate my-pbx.toml")]
    Validate {
        /// The scenario files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print a JSON Schema.
    #[command(after_help = "Examples:\n  \
        pbxsim schema events > events.schema.json\n  \
        pbxsim schema scenario > scenario.schema.json\n\n\
        To have Taplo / Even Better TOML check a scenario, put this first line in it:\n  \
        #:schema ./scenario.schema.json")]
    Schema {
        /// Which schema.
        what: SchemaKind,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    /// The 12 webhook payloads.
    Events,
    /// The scenario file format.
    Scenario,
}

/// Exit code for usage and scenario errors.
const EXIT_USAGE: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Schema { what } => {
            let schema = match what {
                SchemaKind::Events => pbxsim::event::json_schema(),
                SchemaKind::Scenario => pbxsim::scenario::json_schema(),
            };
            print_stdout(&serde_json::to_string_pretty(&schema).expect("schema serializes"));
            ExitCode::SUCCESS
        }
    }
}

/// Whether diagnostics on stderr may use color: only on a terminal, and never with `NO_COLOR`.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints a line to stdout; a closed pipe (`pbxsim schema scenario | head`) is not an error.
fn print_stdout(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Prints a diagnostic to stderr.
pub fn report(diagnostic: &Diagnostic) {
    eprint!("{}", diagnostic.render(stderr_color()));
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for path in files {
        match pbxsim::scenario::load(path) {
            Ok(scenario) => {
                print_stdout(&format!("ok: {}: {}", path.display(), summary(&scenario)))
            }
            Err(diagnostic) => {
                report(&diagnostic);
                failed = true;
            }
        }
    }
    if failed { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS }
}

/// "3 users, 1 queue, 5 calls": the non-empty parts of a scenario.
fn summary(scenario: &Scenario) -> String {
    let pbx = &scenario.pbx;
    let counts = [
        (pbx.users.len(), "user", "users"),
        (pbx.queues.len(), "queue", "queues"),
        (pbx.ring_groups.len(), "ring group", "ring groups"),
        (pbx.voicemail.len(), "voicemail box", "voicemail boxes"),
        (pbx.webhooks.len(), "webhook object", "webhook objects"),
        (pbx.numbers.len(), "number", "numbers"),
    ];
    let mut parts: Vec<String> = counts
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|&(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
    let calls = scenario.calls.len();
    parts.push(format!("{calls} call{}", if calls == 1 { "" } else { "s" }));
    for (present, table) in
        [(scenario.traffic.is_some(), "[traffic]"), (scenario.expect.is_some(), "[expect]")]
    {
        if present {
            parts.push(format!("{table} reserved, not used yet"));
        }
    }
    parts.join(", ")
}
