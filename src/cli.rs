//! The command line: clap definitions, and the mapping of each subcommand onto the library.
//!
//! Raw flags are turned into validated library settings here, before any work starts; the
//! library itself knows nothing of clap.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Simulate a hosted PBX and send its webhook events to your receiver.
#[derive(Debug, Parser)]
#[command(name = "pbxsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a JSON Schema.
    #[command(after_help = "Examples:\n  pbxsim schema events > events.schema.json")]
    Schema {
        /// Which schema: `events` (the 12 webhook payloads).
        what: SchemaKind,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    /// The 12 webhook payloads.
    Events,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Schema { what } => {
            let schema = match what {
                SchemaKind::Events => pbxsim::event::json_schema(),
            };
            println!("{}", serde_json::to_string_pretty(&schema).expect("schema serializes"));
            ExitCode::SUCCESS
        }
    }
}
