//! The command line: clap definitions, and the mapping of each subcommand onto the library.
//!
//! Raw flags are turned into validated library settings here, before any work starts; the
//! library itself knows nothing of clap.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use pbxsim::chaos::Chaos;
use pbxsim::check::{CheckerConfig, Violation};
use pbxsim::deliver::{self, DeliverOptions, Pacing, RetryOn};
use pbxsim::diagnostic::Diagnostic;
use pbxsim::duration::Millis;
use pbxsim::event::{EventType, EventTypeSet};
use pbxsim::receiver::{self, Output, PrintMode, ReceiverConfig};
use pbxsim::report;
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
    /// Play a scenario's calls and send each event to the receiver.
    ///
    /// Without a target (none in the file, no --target) the built-in receiver is started on
    /// a loopback port and checks what arrives. --dry-run prints the events instead.
    #[command(after_help = "Examples:\n  \
        pbxsim run scenarios/quickstart.toml\n  \
        pbxsim run scenarios/queue-outcomes.toml --target http://127.0.0.1:3000/hook --token s3cret\n  \
        pbxsim run scenarios/quickstart.toml --dry-run                # the exact JSON bodies\n  \
        pbxsim run scenarios/quickstart.toml --dry-run --envelope     # with time, target, headers\n  \
        pbxsim run my-pbx.toml --asap --retries 3 --failed failed.ndjson\n  \
        pbxsim run my-pbx.toml --target $URL --asap --truth truth.ndjson  # what your DB should hold\n  \
        pbxsim run my-pbx.toml --unanswered-completion completed      # completions for missed rings\n  \
        pbxsim run my-pbx.toml --asap --chaos duplicate=0.05,reorder=0.02,batch=5\n  \
        pbxsim run my-pbx.toml --chaos wrong_token=0.1 --chaos numbers=e164,durations=string\n  \
        pbxsim run my-pbx.toml --chaos recording_link=url,nulls=string,extra_fields=0.2\n  \
        pbxsim run my-pbx.toml --dry-run --envelope --chaos batch=3   # see what chaos would do\n\n\
        Exit codes: 0 all delivered, no rule broken, every [expect] threshold passed; 1 an event\n\
        failed, a rule was broken, a threshold failed or the receiver accepted a forged token;\n\
        2 usage or scenario error (nothing sent); 3 the target could not be reached (this wins\n\
        over 1); 130 interrupted.")]
    Run(RunArgs),
    /// Send one event of any type, with realistic fake data.
    #[command(after_help = "Examples:\n  \
        pbxsim trigger queue_call --target http://127.0.0.1:3000/hook --token s3cret\n  \
        pbxsim trigger user_inbound_completed --set call_duration=95 --set queue_name=Sales --print\n  \
        pbxsim trigger voicemail --unset email_message --target http://127.0.0.1:3000/hook\n\n\
        --set values are converted to the field's JSON type (`null` for fields that may be null);\n\
        an unknown field is an error. Types: user_inbound, user_inbound_answered,\n\
        user_inbound_completed, user_outbound, user_outbound_answered, user_outbound_completed,\n\
        queue_call, ring_group_call, voicemail, recording_inbound, recording_outbound,\n\
        webhook_component_event.\n\n\
        Exit codes: 0 answered 2xx (or --print); 1 another answer; 2 usage error; 3 unreachable.")]
    Trigger(TriggerArgs),
    /// Play one whole call, correctly sequenced, through a small built-in PBX (or --scenario's).
    #[command(after_help = "Examples:\n  \
        pbxsim call inbound --target http://127.0.0.1:3000/hook --token s3cret\n  \
        pbxsim call inbound --via queue:Support --outcome abandoned\n  \
        pbxsim call inbound --via ring-group:Reception --outcome voicemail --speed 10\n  \
        pbxsim call inbound --via user:1002 --talk 90s --ring 8s --record\n  \
        pbxsim call outbound --outcome no-answer --dry-run\n  \
        pbxsim call inbound --via user:1002 --outcome no-answer --unanswered-completion completed\n  \
        pbxsim call inbound --scenario scenarios/quickstart.toml --via queue:Support\n  \
        pbxsim call inbound --token s3cret --chaos duplicate=0.5,wrong_token=1,nulls=omit\n\n\
        Without --target (and no url in --scenario) the events go to the built-in receiver,\n\
        which checks them. The built-in PBX has queues Support, Sales, Billing, Technical,\n\
        ring groups Reception and Management, and users 1001-1050.")]
    Call(CallArgs),
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
        pbxsim schema scenario > scenario.schema.json\n  \
        pbxsim schema truth > truth.schema.json\n\n\
        To have Taplo / Even Better TOML check a scenario, put this first line in it:\n  \
        #:schema ./scenario.schema.json")]
    Schema {
        /// Which schema.
        what: SchemaKind,
    },
    /// Run a webhook receiver that prints what arrives and checks every call's events.
    #[command(after_help = "Examples:\n  pbxsim listen --port 8080 --token s3cret\n  \
        pbxsim listen --port 0 --save capture.ndjson --exit-after 100\n  \
        pbxsim listen --fail-rate 0.2 --delay 500ms   # rehearse your sender's retries\n\n\
        Exit codes: 0 no violations; 1 violations; 2 usage error or cannot listen.")]
    Listen(ListenArgs),
    /// Check a saved capture (NDJSON: payloads, arrays, or `listen --save` envelopes).
    #[command(after_help = "Examples:\n  pbxsim check capture.ndjson\n  \
        pbxsim check capture.ndjson --types user_inbound,queue_call\n\n\
        Exit codes: 0 no violations; 1 violations; 2 the file cannot be read.")]
    Check(CheckArgs),
    /// Load-test a receiver with generated telephony traffic at a target call rate.
    ///
    /// Without FILE, a built-in mid-size PBX (50 users, 4 queues, 2 ring groups, voicemail,
    /// recording) at 10 calls/s. Without --target, the built-in receiver takes the events.
    /// Rates, --duration and --drain are wall time; each call's own timeline is compressed by
    /// --speed (default 60: a 3-minute call lasts 3 s).
    #[command(after_help = "Examples:\n  \
        pbxsim load                                                  # built-in PBX and receiver, 10 s\n  \
        pbxsim load --target http://127.0.0.1:3000/hook --token s3cret --rate 50/s --duration 5m\n  \
        pbxsim load my-pbx.toml --target $URL --report load.json --stats-csv load.csv\n  \
        pbxsim load --target $URL --rate 200/s --duration 1m --max-calls-in-flight 500\n  \
        pbxsim load --target $URL --asap --max-calls 10000              # highest rate\n  \
        pbxsim load --target $URL --rate 20/s --duration 1m --truth truth.ndjson\n  \
        pbxsim load --target $URL --threshold 'p99<250ms' --threshold 'error_rate<0.1%' --junit load.xml\n\n\
        Open model by default: calls start on schedule whatever the receiver does, and latency is\n\
        measured from each event's intended send time (corrected) as well as from the request's\n\
        start (raw). --max-calls-in-flight makes it closed: new calls wait for a slot.\n\n\
        Exit codes: 0 ok; 1 a threshold failed, an event failed (see --allow-failures) or the\n\
        built-in receiver saw a violation; 2 usage or scenario error (nothing sent); 3 the target\n\
        could not be reached; 130 interrupted.")]
    Load(Box<LoadArgs>),
    /// Send a failure journal (`--failed`) or NDJSON dry-run output again, in file order.
    #[command(after_help = "Lines are bare event payloads, or envelopes with a `body` (and \
                            optionally `target` and `headers`). The whole file is checked before \
                            anything is sent. Lines with the same unique_call_id are sent one \
                            after another.\n\nExamples:\n  pbxsim replay failed.ndjson --target \
                            http://localhost:8080/hook --token s3cret --retries 3")]
    Replay(Box<ReplayArgs>),
}

/// `pbxsim listen` flags.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Port to listen on; 0 picks a free one (printed on the first line).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Expected X-Pbx-Token; requests without it are answered 401. Without a token every
    /// request is accepted.
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Append every request to this NDJSON file (the token is written as `***`).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Answer every valid request with this code (200-599).
    #[arg(long, value_name = "CODE", default_value_t = 200,
          value_parser = clap::value_parser!(u16).range(200..=599))]
    pub status: u16,
    /// Wait this long before answering each valid request, e.g. `500ms`, `2s`.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub delay: Option<Millis>,
    /// Answer 503 to this fraction of valid requests (0 to 1), chosen by `--seed`.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    pub fail_rate: f64,
    /// Seed for `--fail-rate`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Largest body accepted (bytes, or with a unit: `512KiB`, `1MiB`, `2MB`); larger ones get 413.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_body: usize,
    /// Stop after N events, or after a duration such as `30s`, and print the summary.
    #[arg(long, value_name = "N|DURATION", value_parser = parse_exit_after)]
    pub exit_after: Option<ExitAfter>,
    #[command(flatten)]
    pub check: CheckFlags,
    /// Print violations and the summary only, not a line per event.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `pbxsim check` flags.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The capture to check; `-` reads standard input.
    pub file: PathBuf,
    #[command(flatten)]
    pub check: CheckFlags,
}

/// Conformance checker flags shared by `listen` and `check`.
#[derive(Debug, Args)]
pub struct CheckFlags {
    /// The event types the sender has ticked (comma-separated wire names); rules that need an
    /// earlier event of another type are skipped. Default: all 12.
    #[arg(long, value_name = "TYPES", value_delimiter = ',', value_parser = parse_event_type)]
    pub types: Vec<EventType>,
    /// Accept digit strings (`"28"`) where integers are due.
    #[arg(long)]
    pub lenient_numbers: bool,
    /// Accept fields the vendor document does not list (e.g. `--chaos extra_fields`).
    #[arg(long)]
    pub extra_fields: bool,
}

impl CheckFlags {
    fn config(&self) -> CheckerConfig {
        let ticked = if self.types.is_empty() {
            EventTypeSet::ALL
        } else {
            self.types.iter().copied().collect()
        };
        CheckerConfig {
            ticked,
            lenient_numbers: self.lenient_numbers,
            extra_fields: self.extra_fields,
        }
    }
}

/// When `listen` stops by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitAfter {
    Events(u64),
    Time(Millis),
}

fn parse_duration(text: &str) -> Result<Millis, String> {
    pbxsim::duration::parse(text).map_err(|e| e.to_string())
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("`{text}` is not a fraction between 0 and 1, like `0.2`")),
    }
}

fn parse_exit_after(text: &str) -> Result<ExitAfter, String> {
    if let Ok(n) = text.parse::<u64>() {
        return if n == 0 {
            Err("`0` events would stop at once; give 1 or more, or a duration like `30s`".into())
        } else {
            Ok(ExitAfter::Events(n))
        };
    }
    pbxsim::duration::parse(text).map(ExitAfter::Time).map_err(|_| {
        format!("`{text}` is neither a count of events (`100`) nor a duration (`30s`)")
    })
}

fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "cannot read size `{text}`; write it like `65536`, `512KiB` or `1MiB`"
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("cannot read size `{text}`; write it like `65536`, `512KiB` or `1MiB`")
        })
}

fn parse_event_type(text: &str) -> Result<EventType, String> {
    text.trim().parse::<EventType>().map_err(|e| e.to_string())
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SchemaKind {
    /// The 12 webhook payloads.
    Events,
    /// The scenario file format.
    Scenario,
    /// A line of `--truth` (the ground truth of one call).
    Truth,
}

/// Exit code for usage and scenario errors.
const EXIT_USAGE: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { files } => validate(&files),
        Command::Run(args) => run(args),
        Command::Trigger(args) => trigger(args),
        Command::Call(args) => call(args),
        Command::Schema { what } => {
            let schema = match what {
                SchemaKind::Events => pbxsim::event::json_schema(),
                SchemaKind::Scenario => pbxsim::scenario::json_schema(),
                SchemaKind::Truth => pbxsim::truth::json_schema(),
            };
            print_stdout(&serde_json::to_string_pretty(&schema).expect("schema serializes"));
            ExitCode::SUCCESS
        }
        Command::Listen(args) => listen(args),
        Command::Check(args) => check(args),
        Command::Replay(args) => replay(*args),
        Command::Load(args) => load(*args),
    }
}

fn listen(args: ListenArgs) -> ExitCode {
    let output = Output::stdout();
    let color = receiver::format::color_for_stdout();
    let cfg = ReceiverConfig {
        token: args.token.filter(|t| !t.is_empty()),
        extra_tokens: Vec::new(),
        save: args.save,
        status: args.status,
        delay: args.delay.unwrap_or(0),
        fail_rate: args.fail_rate,
        max_body: args.max_body,
        checker: args.check.config(),
        print: if args.quiet { PrintMode::Quiet } else { PrintMode::Lines },
        color,
        seed: args.seed,
        stop_after: match args.exit_after {
            Some(ExitAfter::Events(n)) => Some(n),
            _ => None,
        },
        output: output.clone(),
        ..ReceiverConfig::default()
    };
    let bind = SocketAddr::new(args.bind, args.port);
    runtime().block_on(async move {
        let running = match receiver::start(bind, cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot listen on {bind}: {e}");
                return ExitCode::from(2);
            }
        };
        output.line(&format!("listening on http://{}", running.addr));
        output.line("press Ctrl-C to stop and print the summary");
        let time_limit = async {
            match args.exit_after {
                Some(ExitAfter::Time(ms)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = running.stopped() => {}
            _ = time_limit => {}
        }
        let stats = running.shutdown().await;
        output.line(&format!("\nsummary\n{stats}"));
        if stats.violations() > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
    })
}

fn check(args: CheckArgs) -> ExitCode {
    use std::io::BufRead;
    let name = args.file.display().to_string();
    let reader: Box<dyn BufRead> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(&args.file) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let mut checker = pbxsim::check::Checker::new(args.check.config());
    let mut printed = 0;
    let mut print = |at: &str, v: &Violation| {
        printed += 1;
        println!("{at}: {v}");
    };
    let stats = pbxsim::check::check_reader(reader, &mut checker, |line, v| {
        print(&format!("{name}:{line}"), v)
    });
    let stats = match stats {
        Ok(stats) => stats,
        Err(e) => {
            eprintln!("error: cannot read {name}: {e}");
            return ExitCode::from(2);
        }
    };
    for v in checker.finish() {
        print(&name, &v);
    }
    if printed > 0 {
        println!();
    }
    let summary = checker.summary();
    if stats.skipped > 0 {
        println!(
            "skipped:    {} (envelopes the receiver answered with a failure code)",
            stats.skipped
        );
    }
    println!("{summary}");
    if summary.violations > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
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
    if scenario.traffic.is_some() {
        parts.push("generated traffic for `pbxsim load`".to_string());
    }
    let thresholds = scenario.expect.len();
    if thresholds > 0 {
        parts.push(format!("{thresholds} threshold{}", if thresholds == 1 { "" } else { "s" }));
    }
    parts.join(", ")
}

/// `pbxsim run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print one line per event (the exact JSON body) instead of sending.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: wrap each body with its virtual time, target and header names.
    #[arg(long, requires = "dry_run")]
    pub envelope: bool,
    /// The RNG seed (overrides the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The virtual clock's start, RFC 3339 (overrides the file's `start_time`; default: now).
    #[arg(long, value_name = "RFC3339", value_parser = parse_start_time)]
    pub start_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Send global events here instead of the file's `[webhook] url`.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The X-Pbx-Token for global events (overrides the file's token).
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Play N times faster than real time (default: the file's `speed`, else 1).
    #[arg(long, value_name = "N", value_parser = positive_speed, conflicts_with = "asap")]
    pub speed: Option<f64>,
    /// Send as fast as the receiver allows, ignoring virtual time.
    #[arg(long)]
    pub asap: bool,
    /// With the built-in receiver: print only violations and the summaries.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write the ground truth: one JSON line per call as it ends (outcome, who answered,
    /// visits, durations; see `pbxsim schema truth`), to reconcile with your receiver's data.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// Choices the vendor document leaves open, overriding the scenario file's (`run`, `call`,
/// `load`).
#[derive(Debug, Args)]
pub struct SemanticsArgs {
    /// What a user who rang but did not answer gets: `none` (no event) or `completed` (a
    /// user_inbound_completed with connected_at null and conversation_duration 0). Overrides
    /// the file's `unanswered_completion`; default none.
    #[arg(long, value_name = "none|completed", value_parser = parse_unanswered_completion)]
    pub unanswered_completion: Option<pbxsim::pbx::UnansweredCompletion>,
}

impl SemanticsArgs {
    pub fn apply(&self, scenario: &mut Scenario) {
        if let Some(v) = self.unanswered_completion {
            scenario.pbx.unanswered_completion = v;
        }
    }
}

fn parse_unanswered_completion(text: &str) -> Result<pbxsim::pbx::UnansweredCompletion, String> {
    text.parse().map_err(|()| {
        let names = pbxsim::pbx::UnansweredCompletion::NAMES;
        match pbxsim::suggest::closest(text, names) {
            Some(name) => format!("did you mean `{name}`? (one of {})", names.join(", ")),
            None => format!("write one of {}", names.join(", ")),
        }
    })
}

fn positive_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!("`{text}` is not a speed; write a number above 0, like 1, 10 or 0.5")),
    }
}

fn parse_start_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}; write it like 2026-03-02T09:00:00Z"))
}

/// The seed and start time of a run: flags, else the file, else the defaults (seed from the
/// file's default, start = now rounded down to the second).
fn engine_options(
    scenario: &Scenario,
    seed: Option<u64>,
    start: Option<chrono::DateTime<chrono::Utc>>,
) -> pbxsim::engine::Options {
    use chrono::{SubsecRound, Utc};
    let start = start.or(scenario.start_time).unwrap_or_else(|| Utc::now().trunc_subsecs(0));
    pbxsim::engine::Options::new(seed.unwrap_or(scenario.seed), start)
}

fn run(args: RunArgs) -> ExitCode {
    let scenario = match pbxsim::scenario::load(&args.file) {
        Ok(mut s) => {
            args.semantics.apply(&mut s);
            std::sync::Arc::new(s)
        }
        Err(diagnostic) => {
            report(&diagnostic);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if scenario.traffic.is_some() {
        let file = args.file.display();
        if scenario.calls.is_empty() {
            eprintln!(
                "error: {file} has no [[calls]] to play: `run` plays scripted calls only.\n\
                 help: its [traffic] section is generated traffic; run it with `pbxsim load {file}`"
            );
            return ExitCode::from(EXIT_USAGE);
        }
        eprintln!(
            "note: `run` plays the [[calls]] of {file} only; for its [traffic] section, use \
             `pbxsim load {file}`"
        );
    }
    let options = engine_options(&scenario, args.seed, args.start_time);
    if args.dry_run {
        let chaos = args.delivery.chaos(scenario.chaos.as_ref(), options.seed);
        let (target, truth) = (args.target.as_deref(), args.truth.as_deref());
        return dry_run(&scenario, options, args.envelope, target, chaos, truth);
    }
    let pacing = match (args.asap, args.speed) {
        (true, _) => Pacing::Asap,
        (false, Some(speed)) => Pacing::Speed(speed),
        (false, None) => scenario.speed.map_or(Pacing::Realtime, Pacing::Speed),
    };
    let play = Play {
        target: args.target,
        token: args.token,
        pacing,
        delivery: args.delivery,
        quiet: args.quiet,
        truth: args.truth,
    };
    play.run(scenario, options)
}

fn dry_run(
    scenario: &std::sync::Arc<Scenario>,
    options: pbxsim::engine::Options,
    envelope: bool,
    target: Option<&str>,
    chaos: Option<Chaos>,
    truth: Option<&std::path::Path>,
) -> ExitCode {
    let format = if envelope {
        pbxsim::sink::DryRunFormat::Envelope
    } else {
        pbxsim::sink::DryRunFormat::Body
    };
    let timeline = pbxsim::time::Timeline::new(options.start, scenario.utc_offset);
    let mut recorder = match open_truth(truth, timeline) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let engine = pbxsim::engine::Engine::new(std::sync::Arc::clone(scenario), options);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match (recorder.as_mut(), chaos) {
        (None, None) => {
            pbxsim::sink::write_ndjson(scenario, &timeline, engine, format, target, &mut out)
        }
        (None, Some(chaos)) => {
            let events = deliver::with_ended_calls(engine);
            pbxsim::sink::write_ndjson_chaos(
                scenario, &timeline, events, &chaos, format, target, &mut out,
            )
        }
        (Some(recorder), None) => {
            let events = deliver::with_truth(engine, recorder).filter_map(|f| match f {
                deliver::Feed::Event(e) => Some(e),
                deliver::Feed::CallEnded(_) => None,
            });
            pbxsim::sink::write_ndjson(scenario, &timeline, events, format, target, &mut out)
        }
        (Some(recorder), Some(chaos)) => {
            let events = deliver::with_truth(engine, recorder);
            pbxsim::sink::write_ndjson_chaos(
                scenario, &timeline, events, &chaos, format, target, &mut out,
            )
        }
    };
    let mut code = match written {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the events: {e}");
            ExitCode::from(1)
        }
    };
    if !finish_truth(recorder, truth) {
        code = ExitCode::from(1);
    }
    code
}

/// Opens `--truth FILE` before anything is sent (a file that cannot be created is a usage
/// error); `Ok(None)` without the flag.
fn open_truth(
    path: Option<&std::path::Path>,
    timeline: pbxsim::time::Timeline,
) -> Result<Option<pbxsim::truth::Recorder>, ExitCode> {
    let Some(path) = path else { return Ok(None) };
    match std::fs::File::create(path) {
        Ok(file) => Ok(Some(pbxsim::truth::Recorder::new(timeline, std::io::BufWriter::new(file)))),
        Err(e) => Err(usage_error(format!("cannot write {}: {e}", path.display()))),
    }
}

/// Flushes the truth file and says on stderr what it holds; false after a write error.
fn finish_truth(recorder: Option<pbxsim::truth::Recorder>, path: Option<&std::path::Path>) -> bool {
    let (Some(recorder), Some(path)) = (recorder, path) else { return true };
    match recorder.finish() {
        Ok(stats) => {
            let unfinished = match stats.unfinished {
                0 => String::new(),
                n => format!(" ({n} calls still in progress at the end have no line)"),
            };
            eprintln!("truth: {} calls written to {}{unfinished}", stats.lines, path.display());
            true
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", path.display());
            false
        }
    }
}

/// Sending a scenario's events: to a target, or to the built-in receiver when there is none.
struct Play {
    target: Option<String>,
    token: Option<String>,
    pacing: Pacing,
    delivery: DeliveryArgs,
    quiet: bool,
    /// `--truth FILE`.
    truth: Option<PathBuf>,
}

impl Play {
    fn run(self, scenario: std::sync::Arc<Scenario>, options: pbxsim::engine::Options) -> ExitCode {
        deliver::init_tls();
        let mut opts = self.delivery.options(self.pacing);
        opts.nulls = scenario.nulls;
        opts.ticked = scenario.webhook.events;
        opts.chaos = self.delivery.chaos(scenario.chaos.as_ref(), options.seed);
        let builtin = self.target.is_none() && scenario.webhook.url.is_none();
        let endpoints = 1 + scenario.pbx.webhooks.len();
        if let Err(e) = pbxsim::limits::check_fd_limit(opts.concurrency, endpoints, builtin) {
            return usage_error(e);
        }
        let timeline = pbxsim::time::Timeline::new(options.start, scenario.utc_offset);
        let mut recorder = match open_truth(self.truth.as_deref(), timeline) {
            Ok(r) => r,
            Err(code) => return code,
        };
        let rt = runtime();
        rt.block_on(async move {
            // With no target anywhere, the built-in receiver takes the events and checks them.
            let receiver = if builtin {
                let print = if self.quiet { PrintMode::Quiet } else { PrintMode::Lines };
                let color = receiver::format::color_for_stdout();
                match start_builtin_receiver(&scenario, self.token.as_deref(), &opts, print, color)
                    .await
                {
                    Ok(r) => Some(r),
                    Err(code) => return code,
                }
            } else {
                None
            };
            let target = match &receiver {
                Some(r) => Some(r.url()),
                None => self.target.clone(),
            };
            let endpoints = match deliver::Endpoints::from_scenario(
                &scenario,
                target.as_deref(),
                self.token.as_deref(),
            ) {
                Ok(e) => e,
                Err(e) => return usage_error(e),
            };
            if let Some(r) = &receiver {
                println!(
                    "no target given: sending to the built-in receiver at {} \
                     (pass --target URL to use yours)",
                    r.url()
                );
            }
            let speed = match self.pacing {
                Pacing::Asap => "as fast as possible".to_string(),
                Pacing::Realtime => "in real time".to_string(),
                Pacing::Speed(s) => format!("at {s}x speed"),
            };
            println!(
                "playing {} ({} calls) {speed}, seed {}, start {}",
                scenario.name,
                scenario.calls.len(),
                options.seed,
                options.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            if let Some(chaos) = &opts.chaos {
                println!("chaos {chaos}");
            }
            let engine = pbxsim::engine::Engine::new(std::sync::Arc::clone(&scenario), options);
            let cancel = deliver::ctrl_c_token();
            let delivered = match (recorder.as_mut(), &opts.chaos) {
                (Some(recorder), _) => {
                    let events = deliver::with_truth(engine, recorder);
                    deliver::deliver(events, &endpoints, &opts, cancel).await
                }
                (None, Some(_)) => {
                    let events = deliver::with_ended_calls(engine);
                    deliver::deliver(events, &endpoints, &opts, cancel).await
                }
                (None, None) => deliver::deliver(engine, &endpoints, &opts, cancel).await,
            };
            let summary = match delivered {
                Ok(summary) => summary,
                Err(e) => return usage_error(e),
            };
            println!();
            print!("{}", summary.render());
            let mut code = summary.exit_code(self.delivery.allow_failures);
            if !finish_truth(recorder, self.truth.as_deref()) {
                code = code.max(1);
            }
            if let Some(message) = summary.chaos.as_ref().and_then(|c| c.accepted_forgery_message())
            {
                eprintln!("error: {message}");
            }
            if code == 3
                && let Some(message) = summary.unreachable_message()
            {
                eprintln!("error: {message}");
            }
            // The [expect] thresholds: a failure makes a clean run exit 1; an unreachable target
            // (3) or an interruption (130) keeps its code.
            if !scenario.expect.is_empty() {
                let verdicts = report::check_all(&scenario.expect, &summary);
                print!("{}", render_verdicts(&verdicts));
                if verdicts.iter().any(|v| !v.pass) && code == 0 {
                    code = 1;
                }
            }
            if let Some(r) = receiver {
                let stats = r.shutdown().await;
                println!("\nbuilt-in receiver\n{stats}");
                if stats.violations() > 0 && code == 0 {
                    code = 1;
                }
            }
            ExitCode::from(code)
        })
    }
}

/// The thresholds' verdicts under a run's summary:
/// `thresholds 1 passed, 1 failed` then one indented `pass  p99 < 250ms  (3.1ms)` line each.
pub fn render_verdicts(verdicts: &[report::Verdict]) -> String {
    let failed = verdicts.iter().filter(|v| !v.pass).count();
    let mut out = format!("thresholds {} passed, {failed} failed\n", verdicts.len() - failed);
    for line in report::render(verdicts).lines() {
        out.push_str(&format!("           {line}\n"));
    }
    out
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
    /// Inject faults toward the receiver, seeded by the run's seed: a comma list of
    /// `duplicate=P`, `reorder=P`, `delay=P:D`, `wrong_token=P`, `no_token=P`, `batch=N`,
    /// `numbers=digits|e164|local`, `nulls=null|empty|omit|string`, `durations=int|string`,
    /// `recording_link=null|url`, `extra_fields=P` (P: `0.05` or `5%`). Repeatable; overrides
    /// the scenario's [chaos] key by key.
    #[arg(long, value_name = "LIST", value_parser = parse_chaos)]
    pub chaos: Vec<ChaosList>,
}

/// One `--chaos` value.
#[derive(Debug, Clone)]
pub struct ChaosList(Vec<pbxsim::chaos::Setting>);

fn parse_chaos(text: &str) -> Result<ChaosList, String> {
    pbxsim::chaos::parse_list(text).map(ChaosList).map_err(|e| e.one_line())
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

    /// The chaos of a run: the scenario's `[chaos]`, then the `--chaos` flags; `None` when
    /// nothing is injected.
    pub fn chaos(&self, base: Option<&Chaos>, seed: u64) -> Option<Chaos> {
        let mut chaos = base.cloned().unwrap_or_default();
        for list in &self.chaos {
            chaos.apply_all(&list.0);
        }
        chaos.seed = seed;
        chaos.is_active().then_some(chaos)
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
    if !args.delivery.chaos.is_empty() {
        return usage_error("replay sends the file as it is: --chaos works with run and call");
    }
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
    let endpoints = plan.endpoints().len();
    if let Err(e) = pbxsim::limits::check_fd_limit(opts.concurrency, endpoints, false) {
        return usage_error(e);
    }
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

/// `pbxsim trigger`.
#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The event type, by wire name (e.g. `queue_call`).
    #[arg(value_name = "TYPE", value_parser = parse_event_type)]
    pub event_type: EventType,
    /// Where to POST it.
    #[arg(long, value_name = "URL", required_unless_present = "print")]
    pub target: Option<String>,
    /// The X-Pbx-Token to send.
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Set a field: `field=value` (repeatable).
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub sets: Vec<String>,
    /// Leave a field out of the body (repeatable).
    #[arg(long = "unset", value_name = "FIELD")]
    pub unsets: Vec<String>,
    /// Print the body instead of sending it.
    #[arg(long)]
    pub print: bool,
    /// Seed for the fake data (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = positive_duration)]
    pub timeout: Duration,
    /// Accept invalid TLS certificates.
    #[arg(long)]
    pub insecure: bool,
}

fn trigger(args: TriggerArgs) -> ExitCode {
    use rand::SeedableRng;
    let ty = args.event_type;
    let mut sets = Vec::new();
    for text in &args.sets {
        match pbxsim::trigger::parse_assignment(text) {
            Ok(pair) => sets.push(pair),
            Err(e) => return usage_error(e),
        }
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    let event = pbxsim::trigger::fake_event(ty, &mut rng, now);
    let mut body = match event.to_value(pbxsim::event::NullStyle::Null) {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("payloads are objects"),
    };
    if let Err(e) = pbxsim::trigger::apply_edits(ty, &mut body, &sets, &args.unsets) {
        return usage_error(e);
    }
    let body = serde_json::Value::Object(body).to_string();
    if args.print {
        print_stdout(&body);
        return ExitCode::SUCCESS;
    }
    let target = args.target.expect("clap requires --target without --print");
    if let Err(e) = url::Url::parse(&target) {
        return usage_error(format!("bad --target `{target}`: {e}"));
    }
    deliver::init_tls();
    let client = match deliver::one_off_client(args.insecure) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let token = args.token.filter(|t| !t.is_empty());
    runtime().block_on(async move {
        let mut request = client
            .post(&target)
            .timeout(args.timeout)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(token) = &token {
            request = request.header(deliver::TOKEN_HEADER, token);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                println!("{ty} → {target}: {status} {}", text.trim());
                if status.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(e) if e.is_connect() => {
                eprintln!("error: could not connect to {target}. Is the receiver running?");
                ExitCode::from(3)
            }
            Err(e) => {
                eprintln!("error: {ty} → {target}: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// `pbxsim call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Which way the call goes.
    #[arg(value_enum)]
    pub direction: CallDirection,
    /// Route an inbound call through `queue:NAME`, `ring-group:NAME` or `user:EXTENSION`
    /// (default: the PBX's first queue).
    #[arg(long, value_name = "KIND:NAME", value_parser = parse_via)]
    pub via: Option<pbxsim::oneshot::Via>,
    /// How the call ends.
    #[arg(long, value_enum, default_value = "answered")]
    pub outcome: CallOutcome,
    /// Conversation length once answered.
    #[arg(long, default_value = "90s", value_name = "DURATION", value_parser = duration_ms)]
    pub talk: Millis,
    /// How long phones ring before the answer (or before the caller abandons).
    #[arg(long, default_value = "8s", value_name = "DURATION", value_parser = duration_ms)]
    pub ring: Millis,
    /// Record the call (recording_inbound / recording_outbound).
    #[arg(long)]
    pub record: bool,
    /// Outbound: the calling user's extension (default: the PBX's first user).
    #[arg(long, value_name = "EXTENSION")]
    pub from: Option<String>,
    /// Inbound: the caller's number; outbound: the number dialled.
    #[arg(long, value_name = "DIGITS")]
    pub number: Option<String>,
    /// Use this scenario file's PBX (and its webhook settings) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Send N times faster than real time (default: as fast as possible).
    #[arg(long, value_name = "N", value_parser = positive_speed)]
    pub speed: Option<f64>,
    /// Print the events instead of sending them.
    #[arg(long)]
    pub dry_run: bool,
    /// Send the events here.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The X-Pbx-Token for the events.
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// With the built-in receiver: print only violations and the summaries.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write the ground truth: one JSON line per call as it ends (outcome, who answered,
    /// visits, durations; see `pbxsim schema truth`), to reconcile with your receiver's data.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CallDirection {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CallOutcome {
    Answered,
    Abandoned,
    Timedout,
    Voicemail,
    NoAnswer,
}

fn parse_via(text: &str) -> Result<pbxsim::oneshot::Via, String> {
    use pbxsim::oneshot::Via;
    let (kind, name) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: write queue:NAME, ring-group:NAME or user:EXTENSION"))?;
    match kind {
        "queue" => Ok(Via::Queue(name.into())),
        "ring-group" | "ring_group" => Ok(Via::RingGroup(name.into())),
        "user" => Ok(Via::User(name.into())),
        other => Err(format!(
            "unknown kind `{other}`; write queue:NAME, ring-group:NAME or user:EXTENSION"
        )),
    }
}

fn duration_ms(text: &str) -> Result<Millis, String> {
    pbxsim::duration::parse(text).map_err(|e| e.to_string())
}

fn call(args: CallArgs) -> ExitCode {
    use pbxsim::oneshot::{Direction, OneCall, Outcome};
    let base = match &args.scenario {
        Some(path) => match pbxsim::scenario::load(path) {
            Ok(s) => s,
            Err(diagnostic) => {
                report(&diagnostic);
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => pbxsim::builtin::midsize(),
    };
    let spec = OneCall {
        direction: match args.direction {
            CallDirection::Inbound => Direction::Inbound,
            CallDirection::Outbound => Direction::Outbound,
        },
        via: args.via,
        outcome: match args.outcome {
            CallOutcome::Answered => Outcome::Answered,
            CallOutcome::Abandoned => Outcome::Abandoned,
            CallOutcome::Timedout => Outcome::Timedout,
            CallOutcome::Voicemail => Outcome::Voicemail,
            CallOutcome::NoAnswer => Outcome::NoAnswer,
        },
        talk: args.talk,
        ring: args.ring,
        record: args.record,
        from: args.from,
        number: args.number,
        caller_name: Some("Jane Citizen".into()),
    };
    let scenario = match pbxsim::oneshot::build(base, &spec) {
        Ok(mut s) => {
            args.semantics.apply(&mut s);
            std::sync::Arc::new(s)
        }
        Err(e) => return usage_error(e),
    };
    let options = engine_options(&scenario, None, None);
    if args.dry_run {
        let chaos = args.delivery.chaos(scenario.chaos.as_ref(), options.seed);
        let (target, truth) = (args.target.as_deref(), args.truth.as_deref());
        return dry_run(&scenario, options, false, target, chaos, truth);
    }
    let play = Play {
        target: args.target,
        token: args.token,
        pacing: args.speed.map_or(Pacing::Asap, Pacing::Speed),
        delivery: args.delivery,
        quiet: args.quiet,
        truth: args.truth,
    };
    play.run(scenario, options)
}

/// `pbxsim load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// A scenario file with a `[traffic]` table (default: the built-in mid-size PBX).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Send global events here (default: the file's `[webhook] url`, else the built-in receiver).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The X-Pbx-Token for global events.
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Calls started per second of wall time, constant (`50/s`, `600/m`); replaces the file's
    /// rate and stages.
    #[arg(long, value_name = "RATE", value_parser = parse_call_rate)]
    pub rate: Option<f64>,
    /// How calls arrive, replacing the file's: `poisson` (random) or `uniform` (evenly spaced).
    #[arg(long, value_enum, value_name = "KIND")]
    pub arrivals: Option<ArrivalsArg>,
    /// No new calls after this much wall time (`30s`, `5m`). Default: the stages' length, else
    /// 10 s unless --max-calls or --max-events ends the run.
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub duration: Option<Duration>,
    /// After --duration, calls in progress may finish for this long; the rest is cut off.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = any_duration)]
    pub drain: Duration,
    /// PBX seconds per wall second: compresses each call's timeline.
    #[arg(long, value_name = "N", default_value_t = pbxsim::load::DEFAULT_SPEED,
          value_parser = positive_speed)]
    pub speed: f64,
    /// Send as fast as the receiver allows, ignoring the schedule (for the highest rate).
    #[arg(long)]
    pub asap: bool,
    /// Start no more than N calls.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_calls: Option<u64>,
    /// Send no more than N events (calls then in progress are cut off).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_events: Option<u64>,
    /// Closed model: at most N calls in progress; new calls wait for a slot.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_calls_in_flight: Option<u64>,
    /// The RNG seed (default: the file's, else 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The virtual clock's start, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339", value_parser = parse_start_time)]
    pub start_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Write the full report, histograms included, as JSON.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Pass/fail rule, repeatable: `p99<250ms`, `p99_raw<100ms`, `error_rate<0.1%`,
    /// `rate>=95%`, `throughput>=500`. Any failing rule makes the exit code 1.
    #[arg(long = "threshold", value_name = "RULE", value_parser = parse_threshold)]
    pub thresholds: Vec<pbxsim::report::Threshold>,
    /// Write the threshold verdicts as JUnit XML (one test case per threshold).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a time series: one CSV row per second, periodic and cumulative columns.
    #[arg(long, value_name = "FILE")]
    pub stats_csv: Option<PathBuf>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
    /// Without a terminal, how often a progress line is printed.
    #[arg(long, hide = true, value_name = "DURATION", default_value = "10s",
          env = "PBXSIM_PROGRESS_EVERY", value_parser = positive_duration)]
    pub progress_every: Duration,
    /// Write the ground truth: one JSON line per call as it ends (outcome, who answered,
    /// visits, durations; see `pbxsim schema truth`), to reconcile with your receiver's data.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ArrivalsArg {
    Poisson,
    Uniform,
}

fn parse_threshold(text: &str) -> Result<pbxsim::report::Threshold, String> {
    text.parse::<pbxsim::report::Threshold>().map_err(|e| match &e.help {
        Some(help) => format!("{e}; {help}"),
        None => e.to_string(),
    })
}

fn parse_call_rate(text: &str) -> Result<f64, String> {
    match text.parse::<pbxsim::traffic::Rate>() {
        Ok(r) if r.as_per_second() > 0.0 => Ok(r.as_per_second()),
        Ok(_) => Err("a rate of zero starts no calls; give one like `10/s`".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn any_duration(text: &str) -> Result<Duration, String> {
    pbxsim::duration::parse(text).map(Duration::from_millis).map_err(|e| e.to_string())
}

/// The scenario and traffic of a load run: FILE's, or the built-in mid-size PBX.
fn load_traffic(
    args: &LoadArgs,
) -> Result<(Scenario, pbxsim::traffic::TrafficSpec, bool), ExitCode> {
    let Some(path) = &args.file else {
        let mut spec = pbxsim::builtin::midsize_traffic();
        if args.rate.is_none() {
            spec.rate = Some(format!("{}/s", pbxsim::load::BUILTIN_RATE));
            spec.stages = None;
        }
        return Ok((pbxsim::builtin::midsize(), spec, true));
    };
    let scenario = match pbxsim::scenario::load(path) {
        Ok(s) => s,
        Err(diagnostic) => {
            report(&diagnostic);
            return Err(ExitCode::from(EXIT_USAGE));
        }
    };
    let spec = match scenario.traffic.clone() {
        Some(spec) => spec,
        None if args.rate.is_some() => pbxsim::traffic::TrafficSpec::default(),
        None => {
            eprintln!(
                "error: {} has no [traffic] table; add one (see docs/load.md) or pass --rate \
                 like `--rate 10/s`",
                path.display()
            );
            return Err(ExitCode::from(EXIT_USAGE));
        }
    };
    Ok((scenario, spec, false))
}

/// Start the built-in receiver on a loopback port for a run with no target: it accepts the
/// token (`--token`, else the scenario's) and every webhook object's token, and checks each
/// call's events. A failure to start is reported; the `Err` is the exit code.
async fn start_builtin_receiver(
    scenario: &Scenario,
    token: Option<&str>,
    opts: &DeliverOptions,
    print: PrintMode,
    color: bool,
) -> Result<receiver::RunningReceiver, ExitCode> {
    let token = token
        .map(str::to_string)
        .or_else(|| Some(scenario.webhook.token.clone()).filter(|t| !t.is_empty()));
    let cfg = ReceiverConfig {
        token,
        extra_tokens: scenario.pbx.webhooks.iter().map(|w| w.token.clone()).collect(),
        checker: CheckerConfig {
            ticked: scenario.webhook.events,
            // `--chaos durations=string` is a variant, not a violation.
            lenient_numbers: opts
                .chaos
                .as_ref()
                .is_some_and(|c| c.durations == Some(pbxsim::event::DurationStyle::String)),
            // So is `--chaos extra_fields`: a receiver must ignore fields it does not know.
            extra_fields: opts.chaos.as_ref().is_some_and(|c| c.extra_fields > 0.0),
        },
        print,
        color,
        ..ReceiverConfig::default()
    };
    receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await.map_err(|e| {
        eprintln!("error: cannot start the built-in receiver: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

fn load(args: LoadArgs) -> ExitCode {
    let (mut scenario, spec, builtin_pbx) = match load_traffic(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    args.semantics.apply(&mut scenario);
    let engine_opts = engine_options(&scenario, args.seed, args.start_time);
    let mut deliver = args.delivery.options(Pacing::Asap);
    deliver.nulls = scenario.nulls;
    deliver.ticked = scenario.webhook.events;
    deliver.max_calls_in_flight = args.max_calls_in_flight.map(|n| n as usize);
    deliver.chaos = args.delivery.chaos(scenario.chaos.as_ref(), engine_opts.seed);
    let builtin_receiver = args.target.is_none() && scenario.webhook.url.is_none();
    let endpoint_count = 1 + scenario.pbx.webhooks.len();
    if let Err(e) =
        pbxsim::limits::check_fd_limit(deliver.concurrency, endpoint_count, builtin_receiver)
    {
        return usage_error(e);
    }
    let options = pbxsim::load::LoadOptions {
        seed: engine_opts.seed,
        start: engine_opts.start,
        speed: args.speed,
        asap: args.asap,
        rate: args.rate,
        arrivals: args.arrivals.map(|a| match a {
            ArrivalsArg::Poisson => pbxsim::traffic::Arrivals::Poisson,
            ArrivalsArg::Uniform => pbxsim::traffic::Arrivals::Uniform,
        }),
        duration: args.duration,
        drain: args.drain,
        max_calls: args.max_calls,
        max_events: args.max_events,
        deliver,
        sample_every: Duration::from_secs(1).min(args.progress_every),
    };
    let plan = match pbxsim::load::plan(scenario, &spec, options) {
        Ok(plan) => plan,
        Err(e) => {
            let source = match &args.file {
                Some(p) => format!("{}: ", p.display()),
                None => String::new(),
            };
            return usage_error(format!("{source}{e}"));
        }
    };
    let mut series = match &args.stats_csv {
        Some(path) => match std::fs::File::create(path)
            .and_then(|f| pbxsim::report::series::Series::new(std::io::BufWriter::new(f)))
        {
            Ok(s) => Some(s),
            Err(e) => return usage_error(format!("cannot write {}: {e}", path.display())),
        },
        None => None,
    };
    for path in args.report.iter() {
        if let Err(e) = std::fs::File::create(path) {
            return usage_error(format!("cannot write {}: {e}", path.display()));
        }
    }
    let timeline = pbxsim::time::Timeline::new(plan.options.start, plan.scenario.utc_offset);
    let mut recorder = match open_truth(args.truth.as_deref(), timeline) {
        Ok(r) => r,
        Err(code) => return code,
    };
    deliver::init_tls();
    let scenario = plan.scenario.clone();
    let rt = runtime();
    rt.block_on(async move {
        let receiver = if builtin_receiver {
            let deliver = &plan.options.deliver;
            let quiet = PrintMode::Quiet;
            match start_builtin_receiver(&scenario, args.token.as_deref(), deliver, quiet, false)
                .await
            {
                Ok(r) => Some(r),
                Err(code) => return code,
            }
        } else {
            None
        };
        let target = receiver.as_ref().map(|r| r.url()).or_else(|| args.target.clone());
        let endpoints = match deliver::Endpoints::from_scenario(
            &scenario,
            target.as_deref(),
            args.token.as_deref(),
        ) {
            Ok(e) => e,
            Err(e) => return usage_error(e),
        };
        let o = &plan.options;
        let what = if builtin_pbx {
            "the built-in mid-size PBX".to_string()
        } else {
            scenario.name.clone()
        };
        let pacing = if o.asap {
            "as fast as possible".to_string()
        } else {
            format!("calls compressed {}x", o.speed)
        };
        let limit = match plan.window {
            Some(w) if plan.default_duration => {
                format!("for {:.0} s (default; set --duration)", w.as_secs_f64())
            }
            Some(w) => format!("for {:.0} s", w.as_secs_f64()),
            None => "until a limit is reached".to_string(),
        };
        eprintln!(
            "load: {what} at {:.2} calls/s {limit}, {pacing}, seed {}{}",
            plan.target_rate,
            o.seed,
            match &receiver {
                Some(r) =>
                    format!("; no target given: sending to the built-in receiver at {}", r.url()),
                None => String::new(),
            }
        );
        let terminal = std::io::stderr().is_terminal();
        let mut progress = match args.quiet {
            true => pbxsim::report::progress::Progress::Off,
            false => pbxsim::report::progress::Progress::new(terminal, args.progress_every),
        };
        let mut csv_error = None;
        let cancel = deliver::ctrl_c_token();
        let on_sample = |sample: &pbxsim::load::Sample| {
            progress.update(sample);
            if let Some(s) = series.as_mut()
                && let Err(e) = s.row(sample)
            {
                csv_error.get_or_insert(e.to_string());
            }
        };
        let truth = recorder.as_mut();
        let result =
            pbxsim::load::run_with_truth(&plan, &endpoints, cancel, on_sample, truth).await;
        progress.finish();
        let mut report = match result {
            Ok(r) => r,
            Err(e) => return usage_error(e),
        };
        // The scenario's [expect] thresholds, then --threshold's.
        let thresholds: Vec<_> = scenario.expect.iter().chain(&args.thresholds).cloned().collect();
        let verdicts = report.check(&thresholds);
        let thresholds_failed = verdicts.iter().any(|v| !v.pass);
        print!("{}", report.render());
        let mut code = report.exit_code(thresholds_failed, args.delivery.allow_failures);
        if !finish_truth(recorder, args.truth.as_deref()) {
            code = code.max(1);
        }
        if let Some(path) = &args.junit {
            let xml = pbxsim::report::junit(&format!("pbxsim load {}", report.scenario), &verdicts);
            if let Err(e) = std::fs::write(path, xml) {
                eprintln!("error: cannot write {}: {e}", path.display());
                code = code.max(1);
            }
        }
        if let Some(msg) = report.unreachable.as_ref().filter(|_| code == 3) {
            eprintln!("error: {msg}");
        }
        if let Some(series) = series {
            if let Err(e) = series.finish() {
                csv_error.get_or_insert(e.to_string());
            }
        }
        if let (Some(path), Some(e)) = (&args.stats_csv, csv_error) {
            eprintln!("error: cannot write {}: {e}", path.display());
            code = code.max(1);
        }
        if let Some(path) = &args.report {
            let json = serde_json::to_string_pretty(&report).expect("reports serialize");
            if let Err(e) = std::fs::write(path, json + "\n") {
                eprintln!("error: cannot write {}: {e}", path.display());
                code = code.max(1);
            }
        }
        if let Some(r) = receiver {
            let stats = r.shutdown().await;
            println!("\nbuilt-in receiver\n{stats}");
            // Calls cut off at the end of the run are incomplete by design.
            let expected = match report.calls.cut_off + report.events.cut_off {
                0 => 0,
                _ => {
                    stats.check.per_rule.get(&pbxsim::check::Rule::Incomplete).copied().unwrap_or(0)
                }
            };
            if expected > 0 {
                println!("({expected} incomplete-call violations are of calls cut off at the end)");
            }
            if stats.violations() > expected && code == 0 {
                code = 1;
            }
        }
        ExitCode::from(code)
    })
}
