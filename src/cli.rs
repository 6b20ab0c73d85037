//! The command line: clap definitions, and the mapping of each subcommand onto the library.
//!
//! Raw flags are turned into validated library settings here, before any work starts; the
//! library itself knows nothing of clap.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use pbxsim::deliver::{self, DeliverOptions, Pacing, RetryOn};

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
    /// Send a failure journal (`--failed`) or NDJSON dry-run output again, in file order.
    #[command(after_help = "Lines are bare event payloads, or envelopes with a `body` (and \
                            optionally `target` and `headers`). The whole file is checked before \
                            anything is sent. Lines with the same unique_call_id are sent one \
                            after another.\n\nExamples:\n  pbxsim replay failed.ndjson --target \
                            http://localhost:8080/hook --token s3cret --retries 3")]
    Replay(Box<ReplayArgs>),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The NDJSON file to send.
    pub file: PathBuf,
    /// Send every line here, instead of the target each journal line carries.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The X-Pbx-Token sent with every line (journals hold it redacted).
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// Flags of every command that posts events.
#[derive(Debug, Clone, Args)]
pub struct DeliveryArgs {
    /// Requests in flight at most; each call has at most one.
    #[arg(long, default_value_t = 64, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub concurrency: u32,
    /// Per-attempt timeout, connecting included (`500ms`, `10s`).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = positive_duration)]
    pub timeout: Duration,
    /// Retries of a failed attempt, with exponential backoff and jitter; `Retry-After` is
    /// honoured (up to 60 s).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub retries: u32,
    /// Which failures are retried: a comma list of `connect`, `timeout`, `4xx`, `5xx` and status
    /// codes, or `none`.
    #[arg(long, default_value = "connect,timeout,429,5xx", value_name = "LIST",
          value_parser = retry_on)]
    pub retry_on: RetryOn,
    /// After an event finally fails, skip the rest of its call (counted as failed, "skipped").
    #[arg(long)]
    pub stop_call_on_failure: bool,
    /// Accept invalid TLS certificates (self-signed receivers).
    #[arg(long)]
    pub insecure: bool,
    /// Write every event that finally failed to this NDJSON file (token redacted), for `replay`.
    #[arg(long, value_name = "FILE")]
    pub failed: Option<PathBuf>,
    /// Exit 0 even if some events finally failed.
    #[arg(long)]
    pub allow_failures: bool,
}

impl DeliveryArgs {
    /// The library settings for these flags.
    pub fn options(&self, pacing: Pacing) -> DeliverOptions {
        DeliverOptions {
            pacing,
            concurrency: self.concurrency as usize,
            timeout: self.timeout,
            retries: self.retries,
            retry_on: self.retry_on,
            stop_call_on_failure: self.stop_call_on_failure,
            insecure: self.insecure,
            failed_journal: self.failed.clone(),
            ..DeliverOptions::default()
        }
    }
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match pbxsim::duration::parse(text) {
        Ok(0) => Err("must be more than zero, like `500ms` or `10s`".into()),
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(e) => Err(e.to_string()),
    }
}

fn retry_on(text: &str) -> Result<RetryOn, String> {
    text.parse().map_err(|e: deliver::RetryOnError| e.to_string())
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
        Command::Replay(args) => replay(*args),
    }
}

/// A multi-threaded tokio runtime for the commands that do I/O.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn replay(args: ReplayArgs) -> ExitCode {
    if let Some(failed) = &args.delivery.failed {
        let same = match (failed.canonicalize(), args.file.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => failed == &args.file,
        };
        if same {
            return usage_error(format!(
                "--failed {} is the file being replayed; write the new journal elsewhere",
                failed.display()
            ));
        }
    }
    let plan =
        match deliver::replay::plan(&args.file, args.target.as_deref(), args.token.as_deref()) {
            Ok(plan) => plan,
            Err(e) => return usage_error(e),
        };
    if plan.redacted_headers && args.token.is_none() {
        eprintln!(
            "warning: {} holds redacted secrets (***) that are not sent again; pass --token or \
             set PBXSIM_TOKEN to send a token",
            args.file.display()
        );
    }
    let opts = args.delivery.options(Pacing::Asap);
    let rt = runtime();
    let result = rt.block_on(async {
        let cancel = deliver::ctrl_c_token();
        deliver::replay::replay(&plan, &opts, cancel).await
    });
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => return usage_error(e),
    };
    print!("{}", summary.render());
    let code = summary.exit_code(args.delivery.allow_failures);
    if code == 3
        && let Some(message) = summary.unreachable_message()
    {
        eprintln!("error: {message}");
    }
    ExitCode::from(code)
}
