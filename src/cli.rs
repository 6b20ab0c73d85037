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
use pbxsim::receiver::inspector::InspectorConfig;
use pbxsim::receiver::{self, Output, PrintMode, ReceiverConfig};
use pbxsim::report;
use pbxsim::scenario::Scenario;

// Standard output and error of every command. A closed pipe (`pbxsim run … | head -1`) stops
// the printing, never panics, and leaves the exit code to the command: these shadow std's
// `print!`, `println!`, `eprint!` and `eprintln!` for the rest of this file.
macro_rules! print {
    ($($arg:tt)*) => { crate::cli::write_stdout(format_args!($($arg)*)) };
}
macro_rules! println {
    () => { crate::cli::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! eprint {
    ($($arg:tt)*) => { crate::cli::write_stderr(format_args!($($arg)*)) };
}
macro_rules! eprintln {
    () => { crate::cli::write_stderr(format_args!("\n")) };
    ($($arg:tt)*) => { crate::cli::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Set once stdout is gone (a closed pipe, or another write error): nothing more is printed.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to stdout and flushes; once stdout is closed (`| head -1`), writes nothing more. Any
/// other write error is said once on stderr.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if !STDOUT_CLOSED.swap(true, Ordering::Relaxed)
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            write_stderr(format_args!("pbxsim: cannot write to standard output: {e}\n"));
        }
    }
}

/// Writes to stderr; a closed stderr is not an error.
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// The cancel token of a run. The first SIGINT (Ctrl-C) or SIGTERM fires it: no new events
/// start, requests in flight finish for the grace period, then the summary, the journal and
/// the report files are written. A second signal at least [`deliver::QUIT_GAP`] later ends the
/// process at once (130, or 143 for SIGTERM); copies arriving together (a signal sent to the
/// process group) are one interrupt. Install it before printing the header, so a signal sent
/// once the header is out is never lost.
fn stop_token() -> deliver::CancelToken {
    deliver::on_signals(|event| match event {
        deliver::SignalEvent::Stop(signal) => {
            let (what, again) = match signal {
                deliver::StopSignal::Interrupt => ("interrupted", "press Ctrl-C again"),
                deliver::StopSignal::Terminate => ("terminated (SIGTERM)", "signal again"),
            };
            eprintln!(
                "\npbxsim: {what}; finishing the requests in flight ({again} to quit at once)"
            );
        }
        deliver::SignalEvent::QuitNow(signal) => {
            eprintln!("pbxsim: quitting at once");
            std::process::exit(i32::from(signal.exit_code()));
        }
    })
}

/// A run's exit code, with 130 ("interrupted") made 143 when SIGTERM stopped it.
fn stopped_code(code: u8, cancel: &deliver::CancelToken) -> ExitCode {
    match (code, cancel.signal()) {
        (130, Some(signal)) => ExitCode::from(signal.exit_code()),
        _ => ExitCode::from(code),
    }
}

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
        pbxsim run scenarios/quickstart.toml --target $URL --token s3cret --route queue_call=$URL/queue\n  \
        pbxsim run scenarios/quickstart.toml --dry-run                # the exact JSON bodies\n  \
        pbxsim run scenarios/quickstart.toml --dry-run --envelope     # with time, target, headers\n  \
        pbxsim run my-pbx.toml --asap --retries 3 --failed failed.ndjson\n  \
        pbxsim run my-pbx.toml --target $URL --asap --truth truth.ndjson  # what your DB should hold\n  \
        pbxsim run my-pbx.toml --unanswered-completion completed      # completions for missed rings\n  \
        pbxsim run my-pbx.toml --asap --chaos duplicate=0.05,reorder=0.02,batch=5\n  \
        pbxsim run my-pbx.toml --chaos wrong_token=0.1 --chaos numbers=e164,durations=string\n  \
        pbxsim run my-pbx.toml --chaos recording_link=url,nulls=string,extra_fields=0.2\n  \
        pbxsim run my-pbx.toml --dry-run --envelope --chaos batch=3   # see what chaos would do\n  \
        pbxsim run my-pbx.toml --target $URL --asap --threshold 'p99<250ms' --junit run.xml\n  \
        pbxsim run my-pbx.toml --target $URL --asap --output json > run.json\n  \
        pbxsim run my-pbx.toml --target $URL --asap --truth truth.ndjson  # what your database should hold\n  \
        pbxsim run my-pbx.toml --target $URL -H 'X-Tenant: acme' -H 'Authorization: Bearer $KEY' -v\n\n\
        Without start_time (or --start-time) the PBX clock is anchored so that no event carries\n\
        a time later than its sending; the header says where. Progress goes to stderr (-q: none).\n\
        Ctrl-C or SIGTERM stops starting events, lets requests in flight finish (5 s), then prints\n\
        the summary and writes the journal and reports; a second one, a moment later, quits at once.\n\n\
        Exit codes: 0 all delivered, no rule broken, every threshold passed; 1 an event\n\
        failed, a rule was broken, a threshold failed or the receiver accepted a forged token\n\
        (a summary line says which endpoint and token source a 401/403 came from);\n\
        2 usage or scenario error (nothing sent); 3 the target could not be reached (this wins\n\
        over 1); 130 interrupted (Ctrl-C); 143 stopped by SIGTERM.")]
    Run(RunArgs),
    /// Send one event of any type, with realistic fake data.
    #[command(after_help = "Examples:\n  \
        pbxsim trigger queue_call --target http://127.0.0.1:3000/hook --token s3cret\n  \
        pbxsim trigger user_inbound_completed --set call_duration=95 --set queue_name=Sales --print\n  \
        pbxsim trigger voicemail --unset email_message --target http://127.0.0.1:3000/hook\n  \
        pbxsim trigger queue_call --set status=abandoned --print   # no agent, no talk time\n  \
        pbxsim trigger queue_call --set conversation_duration=999 --raw --print\n  \
        pbxsim trigger queue_call --target https://localhost:8443/hook -k -H 'X-Tenant: acme'\n\n\
        Users, queues, ring groups and numbers come from the built-in PBX of `pbxsim call`.\n\
        --set values are converted to the field's JSON type (`null` for fields that may be null);\n\
        an unknown field is an error. The fields that depend on one set follow it (durations,\n\
        connected_at, call_start_at; a summary's user and talk time for status abandoned or\n\
        timedout; user_name for a built-in user_number); a combination that cannot hold in one\n\
        call is refused. --raw sends the values as given. The request carries\n\
        `X-Pbxsim-Trigger: 1`, so `pbxsim listen` checks it as a one-off.\n\n\
        Types: user_inbound, user_inbound_answered,\n\
        user_inbound_completed, user_outbound, user_outbound_answered, user_outbound_completed,\n\
        queue_call, ring_group_call, voicemail, recording_inbound, recording_outbound,\n\
        webhook_component_event.\n\n\
        Exit codes: 0 answered 2xx (or --print); 1 another answer; 2 usage error; 3 unreachable.")]
    Trigger(TriggerArgs),
    /// Play one whole call, correctly sequenced, through a small built-in PBX (or --scenario's).
    #[command(after_help = "Examples:\n  \
        pbxsim call inbound --target http://127.0.0.1:3000/hook --token s3cret\n  \
        pbxsim call inbound --via queue:Support --outcome abandoned\n  \
        pbxsim call inbound --via ring_group:Reception --outcome voicemail --speed 10\n  \
        pbxsim call inbound --via user:1002 --talk 90s --ring 8s --record\n  \
        pbxsim call outbound --outcome no-answer --dry-run\n  \
        pbxsim call inbound --via user:1002 --outcome no-answer --unanswered-completion completed\n  \
        pbxsim call inbound --scenario scenarios/quickstart.toml --via queue:Support\n  \
        pbxsim call inbound --token s3cret --chaos duplicate=0.5,wrong_token=1,nulls=omit\n  \
        pbxsim call inbound --target $URL --route queue_call=$URL/queue --via queue:Support\n  \
        pbxsim call outbound --from 1003 --target $URL -H 'X-Tenant: acme' -v\n\n\
        Flags that cannot apply are refused: --via (inbound only), --from (outbound only),\n\
        --record and --talk (answered calls only), --outcome timedout (queues, ring groups).\n\n\
        Without --target (and no url in --scenario) the events go to the built-in receiver,\n\
        which checks them. The built-in PBX has queues Support, Sales, Billing, Technical,\n\
        ring groups Reception and Management, and users 1001-1050.")]
    Call(CallArgs),
    /// Check scenario files without running them.
    ///
    /// Exits 0 when every file is valid, 2 when one is not; errors name the file, line and
    /// column, with a hint. A valid file with nothing to play (no [[calls]], no [traffic]) gets
    /// a note: `run` refuses it.
    #[command(after_help = "Examples:\n  \
        pbxsim validate scenarios/quickstart.toml\n  \
        pbxsim validate scenarios/*.toml\n  \
        pbxsim validate scenarios/*.toml --output json\n  \
        PBX_TOKEN=s3cret pbxsim validate my-pbx.toml")]
    Validate {
        /// The scenario files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// `text`, or `json`: one JSON document on stdout, each file ok or its errors with
        /// their positions.
        #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
        output: OutputFormat,
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
        pbxsim listen -p 0 --save capture.ndjson --exit-after 100\n  \
        pbxsim listen --check fields                  # every event is a one-off: no call order\n  \
        pbxsim listen --token old-s3cret --token new-s3cret   # accept either during a rotation\n  \
        pbxsim listen --fail-rate 0.2 --delay 500ms   # rehearse your sender's retries\n  \
        pbxsim listen --ui --token s3cret             # and a live web page of the calls\n\n\
        --ui serves the inspector page at GET / on the same port (webhooks stay POSTs to any\n\
        path; /_pbxsim/ is reserved for the page). It lists calls as they arrive, shows each\n\
        call's timeline, raw requests and violations, and replays events to a URL you type,\n\
        with --token. It keeps the last 1,000 calls; see docs/inspector.md.\n\n\
        Ctrl-C, SIGTERM, --exit-after or a closed stdout ends it: the summary, then the exit\n\
        code. Exit codes: 0 no violations; 1 violations; 2 usage error or cannot listen.")]
    Listen(ListenArgs),
    /// Check a saved capture (NDJSON: payloads, arrays, or `listen --save` envelopes).
    #[command(after_help = "Examples:\n  pbxsim check capture.ndjson\n  \
        pbxsim check capture.ndjson --types user_inbound,queue_call\n  \
        pbxsim check capture.ndjson --output json\n\n\
        A file whose first non-blank line is not JSON is not a capture (exit 2, one message);\n\
        a later line that is not JSON is a `malformed` violation.\n\n\
        Exit codes: 0 no violations; 1 violations, or no events at all; 2 the file cannot be\n\
        read or is not NDJSON.")]
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
        pbxsim load --target $URL --token s3cret --route voicemail=$URL/voicemail\n  \
        pbxsim load --target $URL -c 128 -z 2m -H 'X-Tenant: acme'       # short flags as in oha\n  \
        pbxsim load --target $URL --rate 20/s --duration 1m --truth truth.ndjson\n  \
        pbxsim load --target $URL --threshold 'p99<250ms' --threshold 'error_rate<0.1%' --junit load.xml\n  \
        pbxsim load --target $URL --duration 30s --output json | jq .latency.p99_ms\n\n\
        Open model by default: calls start on schedule whatever the receiver does, and latency is\n\
        measured from each event's intended send time (corrected) as well as from the request's\n\
        start (raw). --max-calls-in-flight makes it closed: new calls wait for a slot.\n\n\
        Exit codes: 0 ok; 1 a threshold failed, an event failed (see --allow-failures), no call\n\
        started, or the built-in receiver saw a violation; 2 usage or scenario error (nothing\n\
        sent); 3 the target could not be reached; 130 interrupted (Ctrl-C); 143 stopped by\n\
        SIGTERM (the report and the journal are written either way).")]
    Load(Box<LoadArgs>),
    /// Send a failure journal (`--failed`) or NDJSON dry-run output again, in file order.
    #[command(after_help = "Lines are bare event payloads, or envelopes with a `body` (and \
                            optionally `target` and `headers`). The whole file is checked before \
                            anything is sent. Lines with the same unique_call_id are sent one \
                            after another. The file is sent as it is (fault injection is for run, call and \
                            load).\n\nExamples:\n  \
                            pbxsim replay failed.ndjson --target http://localhost:8080/hook \
                            --token s3cret --retries 3\n  pbxsim replay failed.ndjson -H \
                            'Authorization: Bearer $KEY' -v   # restore redacted headers\n\n\
                            Exit codes: as for run.")]
    Replay(Box<ReplayArgs>),
    /// Print generated documentation: `docs events` is docs/events.md, the event catalogue.
    #[command(hide = true)]
    Docs(crate::commands::docs::DocsArgs),
}

/// `pbxsim listen` flags.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Port to listen on; 0 picks a free one (printed on the first line).
    #[arg(long, short = 'p', default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Expected X-Pbx-Token; requests without it are answered 401. Repeat it to accept any of
    /// several (a token rotation). Without a token every request is accepted.
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true)]
    pub token: Vec<String>,
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
    /// Also serve the live inspector page on the same port: open the printed URL (`GET /`) to
    /// watch calls arrive, read their timelines and replay events. See docs/inspector.md.
    #[arg(long)]
    pub ui: bool,
}

/// `pbxsim check` flags.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The capture to check; `-` reads standard input.
    pub file: PathBuf,
    #[command(flatten)]
    pub check: CheckFlags,
    /// `text`, or `json`: one JSON document on stdout, the counts and every violation.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub output: OutputFormat,
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
    /// Which rules: `all` (each event and each call's sequence), or `fields` (each event on
    /// its own, as one-off events from `pbxsim trigger`; no call is followed). Requests with
    /// `X-Pbxsim-Trigger: 1` (sent by `pbxsim trigger`) are always checked as one-offs.
    #[arg(long = "check", value_enum, value_name = "RULES", default_value_t = CheckScope::All)]
    pub scope: CheckScope,
}

/// `--check`: which conformance rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckScope {
    /// Every rule.
    All,
    /// Each event's own fields, durations and status only.
    Fields,
}

impl CheckFlags {
    fn config(&self) -> CheckerConfig {
        let ticked = if self.types.is_empty() {
            EventTypeSet::ALL
        } else {
            self.types.iter().copied().collect()
        };
        let scope = match self.scope {
            CheckScope::All => pbxsim::check::Scope::All,
            CheckScope::Fields => pbxsim::check::Scope::Fields,
        };
        CheckerConfig {
            ticked,
            lenient_numbers: self.lenient_numbers,
            scope,
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

/// The command line as clap matched it, so that a command can tell a flag given on the command
/// line from its default ([`given`]).
static MATCHES: std::sync::OnceLock<clap::ArgMatches> = std::sync::OnceLock::new();

/// Parse the command line (exiting on a usage error, as `Cli::parse` does) and keep the matches.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let _ = MATCHES.set(matches);
    cli
}

/// Of `flags` (`(arg id, how it is written)`), those of the running subcommand that were given
/// on the command line: not defaults, not environment variables.
fn given(flags: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    use clap::CommandFactory;
    let Some((name, sub)) = MATCHES.get().and_then(|m| m.subcommand()) else { return Vec::new() };
    let command = Cli::command();
    let Some(defined) = command.find_subcommand(name) else { return Vec::new() };
    flags
        .iter()
        // Asking clap about an id the subcommand does not have is a bug it panics on.
        .filter(|(id, _)| defined.get_arguments().any(|a| a.get_id() == *id))
        .filter(|(id, _)| sub.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        .map(|(_, flag)| *flag)
        .collect()
}

/// Refuse `flags` that were given although `why` they cannot apply: exit 2, naming them.
fn refuse(flags: &[(&'static str, &'static str)], why: &str) -> Result<(), ExitCode> {
    match given(flags).as_slice() {
        [] => Ok(()),
        [one] => Err(usage_error(format!("{one} does not apply: {why}; leave it out"))),
        many => {
            Err(usage_error(format!("{} do not apply: {why}; leave them out", many.join(", "))))
        }
    }
}

/// The flags of `run` and `call` that only matter when events are sent.
const SENDING_FLAGS: [(&str, &str); 12] = [
    ("concurrency", "--concurrency"),
    ("timeout", "--timeout"),
    ("retries", "--retries"),
    ("retry_on", "--retry-on"),
    ("stop_call_on_failure", "--stop-call-on-failure"),
    ("insecure", "--insecure"),
    ("failed", "--failed"),
    ("allow_failures", "--allow-failures"),
    ("verbose", "--verbose"),
    ("speed", "--speed"),
    ("asap", "--asap"),
    ("quiet", "--quiet"),
];

pub fn main() -> ExitCode {
    let cli = parse_cli();
    match cli.command {
        Command::Validate { files, output } => validate(&files, output),
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
        Command::Docs(args) => crate::commands::docs::run(args),
    }
}

fn listen(args: ListenArgs) -> ExitCode {
    let output = Output::stdout();
    let color = receiver::format::color_for_stdout();
    let mut tokens = args.token.into_iter().filter(|t| !t.is_empty());
    let cfg = ReceiverConfig {
        token: tokens.next(),
        extra_tokens: tokens.collect(),
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
        inspector: args.ui.then(InspectorConfig::default),
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
        // Ctrl-C or SIGTERM ends listening (its normal end: the summary, exit 0 or 1); a
        // closed stdout (`| head -1`) ends it too, quietly.
        let stop = deliver::on_signals(|event| {
            if let deliver::SignalEvent::QuitNow(signal) = event {
                std::process::exit(i32::from(signal.exit_code()));
            }
        });
        output.line(&format!("listening on http://{}", running.addr));
        if let Some(url) = running.inspector_url() {
            output.line(&format!("inspector: {url}  (open it in a browser)"));
            if !args.bind.is_loopback() {
                output.line("note: the inspector page answers only connections from this machine");
            }
        }
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
            _ = stop.cancelled() => {}
            _ = output.closed() => {}
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
    let json = args.output == OutputFormat::Json;
    let mut printed = 0;
    let mut violations = Vec::new();
    let mut print = |at: &str, v: &Violation| {
        printed += 1;
        match json {
            true => violations.push(serde_json::json!({
                "at": at, "call_id": v.call_id, "rule": v.rule, "message": v.message,
            })),
            false => println!("{at}: {v}"),
        }
    };
    let stats = pbxsim::check::check_reader(reader, &mut checker, |line, v| {
        print(&format!("{name}:{line}"), v)
    });
    let stats = match stats {
        Ok(stats) => stats,
        Err(e @ pbxsim::check::ReadError::NotNdjson { .. }) => {
            eprintln!("error: {name}: {e}");
            eprintln!("{}", not_a_capture_help(&name));
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: cannot read {name}: {e}");
            return ExitCode::from(2);
        }
    };
    for v in checker.finish() {
        print(&name, &v);
    }
    let summary = checker.summary();
    if json {
        let doc = serde_json::json!({
            "file": name,
            "lines": stats.lines,
            "skipped": stats.skipped,
            "summary": summary,
            "violations": violations,
        });
        print_stdout(&serde_json::to_string_pretty(&doc).expect("JSON serializes"));
        return if summary.violations > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS };
    }
    if printed > 0 {
        println!();
    }
    if stats.skipped > 0 {
        println!(
            "skipped:    {} (envelopes the receiver answered with a failure code)",
            stats.skipped
        );
    }
    println!("{summary}");
    if summary.events == 0 {
        let why = match stats.skipped {
            0 => String::new(),
            n => format!(" (the {n} envelopes in it were answered with a failure code)"),
        };
        let shown = if name == "-" { "standard input" } else { name.as_str() };
        eprintln!("error: no events in {shown}{why}: nothing was checked");
        eprintln!(
            "help: a capture holds one event per line, e.g. from `pbxsim listen --save FILE` or \
             `pbxsim run FILE --dry-run`"
        );
        return ExitCode::from(1);
    }
    if summary.violations > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// The hint for `check` of a file that is not NDJSON.
fn not_a_capture_help(name: &str) -> String {
    let scenario = if name.ends_with(".toml") {
        format!("; to check a scenario file, run `pbxsim validate {name}`")
    } else {
        String::new()
    };
    format!(
        "help: a capture holds one JSON event (or envelope) per line: `pbxsim listen --save FILE`, \
         a `--failed` journal or `pbxsim run FILE --dry-run` output{scenario}"
    )
}

/// Whether diagnostics on stderr may use color: only on a terminal, and never with `NO_COLOR`.
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Prints a line to stdout; a closed pipe (`pbxsim schema scenario | head`) is not an error.
fn print_stdout(line: &str) {
    println!("{line}");
}

/// Prints a diagnostic to stderr.
pub fn report(diagnostic: &Diagnostic) {
    eprint!("{}", diagnostic.render(stderr_color()));
}

fn validate(files: &[PathBuf], output: OutputFormat) -> ExitCode {
    let mut failed = false;
    let mut results = Vec::new();
    for path in files {
        let file = path.display().to_string();
        match pbxsim::scenario::load(path) {
            Ok(scenario) if output == OutputFormat::Json => results.push(serde_json::json!({
                "file": file, "ok": true, "summary": summary(&scenario),
            })),
            Ok(scenario) => {
                print_stdout(&format!("ok: {file}: {}", summary(&scenario)));
                if nothing_to_play(&scenario) {
                    eprintln!(
                        "note: {file}: nothing to play (no [[calls]], no [traffic]); `pbxsim run` \
                         refuses it"
                    );
                }
            }
            Err(diagnostic) => {
                match output {
                    OutputFormat::Json => results.push(serde_json::json!({
                        "file": file, "ok": false, "error": diagnostic.to_json(),
                    })),
                    OutputFormat::Text => report(&diagnostic),
                }
                failed = true;
            }
        }
    }
    if output == OutputFormat::Json {
        let doc = serde_json::json!({ "ok": !failed, "files": results });
        print_stdout(&serde_json::to_string_pretty(&doc).expect("JSON serializes"));
    }
    if failed { ExitCode::from(EXIT_USAGE) } else { ExitCode::SUCCESS }
}

/// `1 call`, `2 calls`.
fn plural(n: u64, one: &str, many: &str) -> String {
    deliver::plural(n, one, many)
}

/// A scenario with neither scripted calls nor generated traffic: `run` has nothing to send.
fn nothing_to_play(scenario: &Scenario) -> bool {
    scenario.calls.is_empty() && scenario.traffic.is_none()
}

/// `run` of a scenario with nothing to play: a usage error, with a call to add.
fn nothing_to_play_error(file: &std::path::Path, scenario: &Scenario) -> ExitCode {
    let file = file.display();
    let help = match scenario.pbx.numbers.first() {
        Some(n) => format!(
            "add a call to one of its numbers:\n\n  [[calls]]\n  at = \"0s\"\n  \
             from = \"61400000001\"\n  to = \"{}\"\n\n\
             or play one call through its PBX: `pbxsim call inbound --scenario {file}`",
            n.number
        ),
        None => "add [[numbers]] with a call flow and [[calls]] to them (see \
                 docs/scenario-format.md), or try `pbxsim run scenarios/quickstart.toml`"
            .to_string(),
    };
    eprintln!("error: {file} has nothing to play: no [[calls]] and no [traffic]\nhelp: {help}");
    ExitCode::from(EXIT_USAGE)
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
    /// The virtual clock's start, RFC 3339 (overrides the file's `start_time`; default: anchored
    /// to now, so that no event is sent before the time it carries).
    #[arg(long, value_name = "RFC3339", value_parser = parse_start_time)]
    pub start_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Send global events here instead of the file's `[webhook] url`.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The X-Pbx-Token for every event (overrides the file's token; a webhook object with a
    /// token of its own keeps it).
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Send one event type to its own URL, with the global token (repeatable; replaces the
    /// file's `[webhook] routes` entry for that type): `--route queue_call=http://…/queue`.
    #[arg(long = "route", value_name = "TYPE=URL", value_parser = RouteParser)]
    pub routes: Vec<(EventType, String)>,
    /// Play N times faster than real time (default: the file's `speed`, else 1).
    #[arg(long, value_name = "N", value_parser = positive_speed, conflicts_with = "asap")]
    pub speed: Option<f64>,
    /// Send as fast as the receiver allows, ignoring virtual time.
    #[arg(long)]
    pub asap: bool,
    /// No progress display; with the built-in receiver, print only violations and the
    /// summaries.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write the run's report as JSON: the summary, histograms, threshold verdicts and the
    /// built-in receiver's counts (the document `--output json` prints).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Pass/fail rule, repeatable, checked with the file's [expect] thresholds: `p99<250ms`,
    /// `p99_raw<100ms`, `error_rate<0.1%`, `throughput>=500`. Any failing rule makes the exit
    /// code 1.
    #[arg(long = "threshold", value_name = "RULE", value_parser = parse_threshold)]
    pub thresholds: Vec<pbxsim::report::Threshold>,
    /// Write the threshold verdicts as JUnit XML (one test case per threshold).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// `text`, or `json`: the report as one JSON document on stdout (diagnostics and progress
    /// stay on stderr).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub output: OutputFormat,
    /// Without a terminal, how often a progress line is printed.
    #[arg(long, hide = true, value_name = "DURATION", default_value = "10s",
          env = "PBXSIM_PROGRESS_EVERY", value_parser = positive_duration)]
    pub progress_every: Duration,
    /// With the built-in receiver: serve the live inspector page on its port (the URL is
    /// printed) and keep it open after the run until Ctrl-C. See docs/inspector.md.
    #[arg(long)]
    pub ui: bool,
    /// Write the ground truth: one JSON line per call as it ends (outcome, who answered,
    /// visits, durations; see `pbxsim schema truth`), to reconcile with your receiver's data.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub chaos: ChaosArgs,
}

/// `--output`: what a command prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Text for people.
    #[default]
    Text,
    /// One JSON document.
    Json,
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

/// The PBX clock of a scripted run: pinned by `--start-time` or the file's `start_time`, else
/// anchored to the wall clock so that no event is sent before the time it carries, given the
/// virtual time of the run's last event and its speed (`None`: as fast as possible, or a dry
/// run, which prints everything at once).
fn scripted_anchor(
    scenario: &Scenario,
    start: Option<chrono::DateTime<chrono::Utc>>,
    last_at: Millis,
    speed: Option<f64>,
) -> pbxsim::time::Anchor {
    use pbxsim::time::{Anchor, lead_for};
    match start.or(scenario.start_time) {
        Some(start) => Anchor::pinned(start),
        None => Anchor::back_from(chrono::Utc::now(), lead_for(last_at, speed), Some(last_at)),
    }
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
    if args.dry_run
        && let Err(code) = refuse(&SENDING_FLAGS, "--dry-run prints the events and sends nothing")
    {
        return code;
    }
    let mut scenario = match pbxsim::scenario::load(&args.file) {
        Ok(s) => s,
        Err(diagnostic) => {
            report(&diagnostic);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if nothing_to_play(&scenario) {
        return nothing_to_play_error(&args.file, &scenario);
    }
    if let Err(code) = args.delivery.apply_headers(&mut scenario) {
        return code;
    }
    args.semantics.apply(&mut scenario);
    let scenario = std::sync::Arc::new(scenario);
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
    let seed = args.seed.unwrap_or(scenario.seed);
    let preview = pbxsim::engine::preview(&scenario, seed);
    if let Some(runaway) = &preview.runaway {
        return runaway_error(runaway);
    }
    let pacing = match (args.asap, args.speed) {
        (true, _) => Pacing::Asap,
        (false, Some(speed)) => Pacing::Speed(speed),
        (false, None) => scenario.speed.map_or(Pacing::Realtime, Pacing::Speed),
    };
    if args.dry_run {
        let anchor = scripted_anchor(&scenario, args.start_time, preview.last_at, None);
        let options = pbxsim::engine::Options::new(seed, anchor.start);
        let chaos = args.chaos.chaos(scenario.chaos.as_ref(), options.seed);
        let shown = overrides(args.target.as_deref(), args.token.as_deref(), &args.routes);
        return dry_run(&scenario, options, args.envelope, &shown, chaos, args.truth.as_deref());
    }
    let anchor = scripted_anchor(&scenario, args.start_time, preview.last_at, pacing.speed());
    let outputs = RunOutputs {
        command: "run",
        report: args.report,
        junit: args.junit,
        thresholds: args.thresholds,
        json: args.output == OutputFormat::Json,
        progress_every: args.progress_every,
    };
    let play = Play {
        target: args.target,
        token: args.token,
        routes: args.routes,
        pacing,
        delivery: args.delivery,
        chaos: args.chaos,
        quiet: args.quiet,
        anchor,
        preview,
        seed,
        outputs,
        ui: args.ui,
        truth: args.truth,
    };
    play.run(scenario)
}

/// Where a scripted run's results go besides the text summary.
#[derive(Debug, Clone)]
struct RunOutputs {
    /// `run` or `call`, for the report and the JUnit suite.
    command: &'static str,
    report: Option<PathBuf>,
    junit: Option<PathBuf>,
    /// `--threshold`s, checked with the scenario's `[expect]` ones.
    thresholds: Vec<pbxsim::report::Threshold>,
    /// `--output json`: the report on stdout instead of the text.
    json: bool,
    progress_every: Duration,
}

impl RunOutputs {
    fn none(command: &'static str) -> Self {
        RunOutputs {
            command,
            report: None,
            junit: None,
            thresholds: Vec::new(),
            json: false,
            progress_every: Duration::from_secs(10),
        }
    }
}

/// "about 5m2s", for a run header.
fn about(length: Duration) -> String {
    let secs = length.as_secs_f64().round() as u64;
    match secs {
        0 => "under a second".to_string(),
        s => format!("about {}", pbxsim::duration::Human(s * 1000)),
    }
}

fn dry_run(
    scenario: &std::sync::Arc<Scenario>,
    options: pbxsim::engine::Options,
    envelope: bool,
    endpoints: &deliver::Overrides,
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
    let backstop = engine.backstop();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match (recorder.as_mut(), chaos) {
        (None, None) => {
            pbxsim::sink::write_ndjson(scenario, &timeline, engine, format, endpoints, &mut out)
        }
        (None, Some(chaos)) => {
            let events = deliver::with_ended_calls(engine);
            pbxsim::sink::write_ndjson_chaos(
                scenario, &timeline, events, &chaos, format, endpoints, &mut out,
            )
        }
        (Some(recorder), None) => {
            let events = deliver::with_truth(engine, recorder).filter_map(|f| match f {
                deliver::Feed::Event(e) => Some(e),
                deliver::Feed::CallEnded(_) => None,
            });
            pbxsim::sink::write_ndjson(scenario, &timeline, events, format, endpoints, &mut out)
        }
        (Some(recorder), Some(chaos)) => {
            let events = deliver::with_truth(engine, recorder);
            pbxsim::sink::write_ndjson_chaos(
                scenario, &timeline, events, &chaos, format, endpoints, &mut out,
            )
        }
    };
    if let Some(runaway) = backstop.tripped() {
        return runaway_error(runaway);
    }
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
    /// `--route TYPE=URL`.
    routes: Vec<(EventType, String)>,
    pacing: Pacing,
    delivery: DeliveryArgs,
    chaos: ChaosArgs,
    quiet: bool,
    /// The PBX clock's start, and why.
    anchor: pbxsim::time::Anchor,
    /// What the run will emit (simulated in advance).
    preview: pbxsim::engine::Preview,
    seed: u64,
    outputs: RunOutputs,
    ui: bool,
    /// `--truth FILE`.
    truth: Option<PathBuf>,
}

impl Play {
    fn run(self, scenario: std::sync::Arc<Scenario>) -> ExitCode {
        deliver::init_tls();
        let json = self.outputs.json;
        let mut opts = self.delivery.options(self.pacing);
        opts.nulls = scenario.nulls;
        opts.ticked = scenario.webhook.events;
        opts.chaos = self.chaos.chaos(scenario.chaos.as_ref(), self.seed);
        opts.clock_lead = self.anchor.lead();
        let builtin = self.target.is_none() && scenario.webhook.url.is_none();
        if let Err(e) = ui_needs_builtin(self.ui, builtin) {
            return usage_error(e);
        }
        let endpoints = endpoint_count(&scenario, &self.routes);
        if let Err(e) = pbxsim::limits::check_fd_limit(opts.concurrency, endpoints, builtin) {
            return usage_error(e);
        }
        for path in self.outputs.report.iter().chain(&self.outputs.junit) {
            if let Err(e) = std::fs::File::create(path) {
                return usage_error(format!("cannot write {}: {e}", path.display()));
            }
        }
        // Text goes to stdout; with --output json, stdout holds the report alone.
        let say = |line: &str| match json {
            true => eprintln!("{line}"),
            false => println!("{line}"),
        };
        let timeline = pbxsim::time::Timeline::new(self.anchor.start, scenario.utc_offset);
        let mut recorder = match open_truth(self.truth.as_deref(), timeline) {
            Ok(r) => r,
            Err(code) => return code,
        };
        let rt = runtime();
        rt.block_on(async move {
            let cancel = stop_token();
            // With no target anywhere, the built-in receiver takes the events and checks them.
            let receiver = if builtin {
                let print = if self.quiet { PrintMode::Quiet } else { PrintMode::Lines };
                let color = receiver::format::color_for_stdout() && !json;
                let output = match json {
                    true => Output::new(std::io::stderr()),
                    false => Output::stdout(),
                };
                match start_builtin_receiver(
                    &scenario,
                    self.token.as_deref(),
                    &opts,
                    print,
                    color,
                    output,
                    self.ui,
                )
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
            let overrides = overrides(target.as_deref(), self.token.as_deref(), &self.routes);
            let endpoints = match deliver::Endpoints::from_scenario(&scenario, &overrides) {
                Ok(e) => e,
                Err(e) => return usage_error(e),
            };
            if let Some(r) = &receiver {
                say(&format!(
                    "no target given: sending to the built-in receiver at {} \
                     (pass --target URL to use yours)",
                    r.url()
                ));
            }
            let speed = match self.pacing {
                Pacing::Asap => "as fast as possible".to_string(),
                Pacing::Realtime => "in real time".to_string(),
                Pacing::Speed(s) => format!("at {s}x speed"),
            };
            let length = pbxsim::play::wall_length(self.preview.last_at, self.pacing.speed());
            let takes = length.map_or(String::new(), |l| format!(": {}", about(l)));
            say(&format!(
                "playing {} ({}, {}) {speed}, seed {}{takes}",
                scenario.name,
                plural(scenario.calls.len() as u64, "call", "calls"),
                plural(self.preview.sent, "event", "events"),
                self.seed,
            ));
            say(&format!("PBX clock  {}", self.anchor.describe(scenario.utc_offset)));
            if let Some(chaos) = &opts.chaos {
                say(&format!("chaos {chaos}"));
            }
            let mut progress = match self.quiet || builtin {
                true => pbxsim::report::progress::Progress::Off,
                false => pbxsim::report::progress::Progress::new(
                    std::io::stderr().is_terminal(),
                    self.outputs.progress_every,
                ),
            };
            let options = pbxsim::play::PlayOptions {
                engine: pbxsim::engine::Options::new(self.seed, self.anchor.start),
                deliver: opts.clone(),
                sample_every: Duration::from_secs(1).min(self.outputs.progress_every),
                length,
            };
            let delivered = pbxsim::play::play(
                scenario.clone(),
                options,
                &endpoints,
                cancel.clone(),
                |s| progress.update(s),
                recorder.as_mut(),
            )
            .await;
            progress.finish();
            let summary = match delivered {
                Ok(summary) => summary,
                Err(e) => return usage_error(e),
            };
            if !json {
                println!();
                print!("{}", summary.render());
            }
            let mut code = summary.exit_code(self.delivery.allow_failures);
            if !finish_truth(recorder, self.truth.as_deref()) {
                code = code.max(1);
            }
            if let Some(message) = summary.chaos.as_ref().and_then(|c| c.accepted_forgery_message())
            {
                eprintln!("error: {message}");
            }
            print_unreachable(summary.unreachable_message(), code);
            // The [expect] thresholds and --threshold's: a failure makes a clean run exit 1; an
            // unreachable target (3) or an interruption (130) keeps its code.
            let thresholds: Vec<_> =
                scenario.expect.iter().chain(&self.outputs.thresholds).cloned().collect();
            let verdicts = report::check_all(&thresholds, &summary);
            if !verdicts.is_empty() {
                if !json {
                    print!("{}", render_verdicts(&verdicts));
                }
                if verdicts.iter().any(|v| !v.pass) && code == 0 {
                    code = 1;
                }
            }
            let mut receiver_json = None;
            if let Some(r) = receiver {
                if code != 130 {
                    linger(&r).await;
                }
                let stats = r.shutdown().await;
                if !json {
                    println!("\nbuilt-in receiver\n{stats}");
                }
                if stats.violations() > 0 && code == 0 {
                    code = 1;
                }
                receiver_json = serde_json::to_value(&stats).ok();
            }
            let command = self.outputs.command;
            if let Some(path) = &self.outputs.junit {
                let suite = format!("pbxsim {command} {}", scenario.name);
                if let Err(e) = std::fs::write(path, report::junit(&suite, &verdicts)) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    code = code.max(1);
                }
            }
            let info = report::run::RunInfo {
                command: command.to_string(),
                scenario: scenario.name.clone(),
                seed: self.seed,
                calls: scenario.calls.len() as u64,
                pacing: report::run::Pacing {
                    speed: self.pacing.speed(),
                    asap: self.pacing == Pacing::Asap,
                    length_s: length.map(|l| l.as_secs_f64()),
                },
                anchor: self.anchor,
            };
            let build = |code| {
                let r = report::run::RunReport::new(
                    info.clone(),
                    &summary,
                    &verdicts,
                    receiver_json.clone(),
                    code,
                );
                serde_json::to_string_pretty(&r).expect("reports serialize")
            };
            if let Some(path) = &self.outputs.report
                && let Err(e) = std::fs::write(path, build(code) + "\n")
            {
                eprintln!("error: cannot write {}: {e}", path.display());
                code = code.max(1);
            }
            if json {
                print_stdout(&build(code));
            }
            stopped_code(code, &cancel)
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
    #[arg(long, short = 'c', default_value_t = 64, value_name = "N",
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
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// An extra header, `'Name: value'` (repeatable, as in curl): on every global event (webhook
    /// objects keep their own headers), or every replayed line. It replaces the file's header
    /// of that name; `'Name:'` removes it. Secret-looking values are shown as `***`.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A line per event as it is delivered or finally fails: time, type, call id, status,
    /// latency.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Write every event that finally failed to this NDJSON file (token redacted), for `replay`.
    #[arg(long, value_name = "FILE")]
    pub failed: Option<PathBuf>,
    /// Exit 0 even if some events finally failed.
    #[arg(long)]
    pub allow_failures: bool,
}

/// `--chaos`, on the commands that generate events (`run`, `call`, `load`); `replay` sends its
/// file as it is.
#[derive(Debug, Clone, Args)]
pub struct ChaosArgs {
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
    /// The `-H` headers, checked; a bad one is a usage error (its value is never printed).
    fn parsed_headers(&self) -> Result<Vec<(String, String)>, ExitCode> {
        self.headers
            .iter()
            .map(|h| deliver::parse_header(h))
            .collect::<Result<_, _>>()
            .map_err(usage_error)
    }

    /// Lay the `-H` headers over the scenario's global webhook headers.
    fn apply_headers(&self, scenario: &mut Scenario) -> Result<(), ExitCode> {
        let extra = self.parsed_headers()?;
        scenario.webhook.headers = deliver::with_headers(&scenario.webhook.headers, &extra);
        Ok(())
    }

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
            on_event: self.verbose.then(verbose_log),
            ..DeliverOptions::default()
        }
    }
}

impl ChaosArgs {
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

/// `-v`: a line per event on stdout as it is delivered or finally fails.
fn verbose_log() -> deliver::EventLog {
    deliver::EventLog::new(|end| println!("{}", verbose_line(end, &chrono::Local::now())))
}

/// `09:00:01.234 queue_call 160455961758 200 3.10 ms`, and for a failure the reason after the
/// status: `… 503 12.0 ms failed: HTTP 503 (after 3 attempts)`; `-` for no latency (never sent).
fn verbose_line(end: &deliver::EventEnd<'_>, at: &chrono::DateTime<chrono::Local>) -> String {
    #[derive(serde::Deserialize)]
    struct Call {
        unique_call_id: Option<serde_json::Value>,
    }
    let call = match serde_json::from_slice::<Call>(end.body).ok().and_then(|c| c.unique_call_id) {
        Some(serde_json::Value::String(id)) => receiver::format::printable(&id).into_owned(),
        Some(other) => other.to_string(),
        None => "-".to_string(),
    };
    let latency = end.latency.map_or("-".to_string(), |d| {
        report::hist::fmt_ms(d.as_secs_f64() * 1000.0).replace(' ', "")
    });
    let mut line =
        format!("{} {} {call} {} {latency}", receiver::format::clock(at), end.kind, end.outcome);
    if let Some(detail) = end.detail.filter(|_| !end.delivered) {
        line.push_str(&format!(" failed: {detail}"));
    }
    line
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

/// A call the engine stopped (a flow that never ends): a scenario error, exit 2.
fn runaway_error(runaway: &pbxsim::engine::Runaway) -> ExitCode {
    usage_error(format!(
        "{runaway}\nhelp: every call may take at most {} call-flow steps and cause at most {} \
         events; `pbxsim validate` points at failover steps that loop",
        pbxsim::engine::MAX_STEPS_PER_CALL,
        pbxsim::engine::MAX_EVENTS_PER_CALL
    ))
}

/// `--route TYPE=URL`, with errors that show the URL with its secrets masked (clap's own
/// "invalid value" message would quote it whole).
#[derive(Debug, Clone, Copy)]
struct RouteParser;

impl clap::builder::TypedValueParser for RouteParser {
    type Value = (EventType, String);

    fn parse_ref(
        &self,
        _: &clap::Command,
        _: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let text = value.to_string_lossy();
        parse_route(&text).map_err(|e| {
            let shown = pbxsim::secret::redact_url(&text);
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("--route {shown}: {e}\n"),
            )
        })
    }
}

fn parse_route(text: &str) -> Result<(EventType, String), String> {
    let Some((kind, url)) = text.split_once('=') else {
        return Err("write it as TYPE=URL, like `queue_call=http://127.0.0.1:3000/queue`".into());
    };
    let kind = kind.trim().parse::<EventType>().map_err(|e| {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        format!("{e} (event types: {})", names.join(", "))
    })?;
    let url = url.trim();
    let shown = pbxsim::secret::redact_url(url);
    match url::Url::parse(url) {
        Err(e) => Err(format!("bad URL `{shown}` for {kind}: {e}")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => Err(format!(
            "bad URL `{shown}` for {kind}: the scheme must be http or https, not `{}`",
            u.scheme()
        )),
        Ok(u) if u.host_str().is_none_or(str::is_empty) => {
            Err(format!("bad URL `{shown}` for {kind}: it has no host"))
        }
        Ok(_) => Ok((kind, url.to_string())),
    }
}

/// Where a `--token` value came from: the flag itself, or clap's fallback to `PBXSIM_TOKEN`.
fn token_source() -> deliver::TokenSource {
    let flag = std::env::args_os().skip(1).any(|a| {
        let a = a.to_string_lossy();
        a == "--token" || a.starts_with("--token=")
    });
    if flag { deliver::TokenSource::Flag } else { deliver::TokenSource::Env }
}

/// The command line's changes to a scenario's endpoints.
fn overrides(
    target: Option<&str>,
    token: Option<&str>,
    routes: &[(EventType, String)],
) -> deliver::Overrides {
    deliver::Overrides {
        target: target.map(str::to_string),
        token: token.map(str::to_string),
        token_source: token_source(),
        routes: routes.to_vec(),
    }
}

/// How many endpoints a run opens connections to, at most: global, objects, routes.
fn endpoint_count(scenario: &Scenario, routes: &[(EventType, String)]) -> usize {
    let mut routed: Vec<EventType> = scenario.webhook.routes.iter().map(|r| r.0).collect();
    routed.extend(routes.iter().map(|r| r.0));
    routed.sort_by_key(|t| t.index());
    routed.dedup();
    1 + scenario.pbx.webhooks.len() + routed.len()
}

/// "could not connect to URL …", printed once at the end of a run: an error when nothing
/// could connect (exit 3), else a warning (another URL of the run was reachable).
fn print_unreachable(message: Option<String>, code: u8) {
    if let Some(message) = message {
        let level = if code == 3 { "error" } else { "warning" };
        for line in message.lines() {
            eprintln!("{level}: {line}");
        }
    }
}

fn replay(args: ReplayArgs) -> ExitCode {
    let headers = match args.delivery.parsed_headers() {
        Ok(h) => h,
        Err(code) => return code,
    };
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
    let mut plan = match deliver::replay::plan_with_headers(
        &args.file,
        args.target.as_deref(),
        args.token.as_deref(),
        &headers,
    ) {
        Ok(plan) => plan,
        Err(e) => return usage_error(e),
    };
    plan.set_token_source(token_source());
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
    let (result, cancel) = rt.block_on(async {
        let cancel = stop_token();
        (deliver::replay::replay(&plan, &opts, cancel.clone()).await, cancel)
    });
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => return usage_error(e),
    };
    print!("{}", summary.render());
    let code = summary.exit_code(args.delivery.allow_failures);
    print_unreachable(summary.unreachable_message(), code);
    stopped_code(code, &cancel)
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
    /// Send the --set values exactly as given: do not recompute the fields that depend on
    /// them (durations, connected_at, a summary's user), nor refuse combinations that cannot
    /// hold. For rehearsing how a receiver copes with inconsistent payloads.
    #[arg(long)]
    pub raw: bool,
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
    #[arg(long, short = 'k')]
    pub insecure: bool,
    /// An extra header, `'Name: value'` (repeatable, as in curl). Secret-looking values are
    /// never printed.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
}

fn trigger(args: TriggerArgs) -> ExitCode {
    use rand::SeedableRng;
    let ty = args.event_type;
    if args.print
        && let Err(code) = refuse(
            &[
                ("target", "--target"),
                ("token", "--token"),
                ("timeout", "--timeout"),
                ("insecure", "--insecure"),
                ("headers", "--header"),
            ],
            "--print prints the body and sends nothing",
        )
    {
        return code;
    }
    let headers = match args
        .headers
        .iter()
        .map(|h| deliver::parse_header(h))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(h) => h,
        Err(e) => return usage_error(e),
    };
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
    let original = body.clone();
    if let Err(e) = pbxsim::trigger::apply_edits(ty, &mut body, &sets, &[]) {
        return usage_error(e);
    }
    if !args.raw {
        match pbxsim::trigger::reconcile(ty, &original, &mut body, &sets) {
            Ok(changed) if !changed.is_empty() && !sets.is_empty() => eprintln!(
                "note: {} adjusted to agree with --set (--raw sends the fields as they were)",
                changed.join(", ")
            ),
            Ok(_) => {}
            Err(e) => {
                return usage_error(format!(
                    "{e}\nhelp: change the --set values so they fit one call, or add --raw to \
                     send them as given"
                ));
            }
        }
    }
    if let Err(e) = pbxsim::trigger::apply_edits(ty, &mut body, &[], &args.unsets) {
        return usage_error(e);
    }
    let body = serde_json::Value::Object(body).to_string();
    if args.print {
        print_stdout(&body);
        return ExitCode::SUCCESS;
    }
    let target = args.target.expect("clap requires --target without --print");
    let shown = pbxsim::secret::redact_url(&target);
    if let Err(e) = url::Url::parse(&target) {
        return usage_error(format!("bad --target `{shown}`: {e}"));
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
        for (name, value) in headers.iter().filter(|(_, v)| !v.is_empty()) {
            let Ok(mut value) = reqwest::header::HeaderValue::from_str(value) else { continue };
            // Kept out of debug output, like every secret header.
            value.set_sensitive(deliver::is_secret_header(name));
            request = request.header(name.as_str(), value);
        }
        // A one-off: a receiver that follows calls (pbxsim listen) checks it on its own.
        request = request.header(pbxsim::check::TRIGGER_HEADER, "1");
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                println!("{ty} → {shown}: {status} {}", text.trim());
                if status.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(e) if e.is_connect() => {
                eprintln!("error: could not connect to {shown}. Is the receiver running?");
                ExitCode::from(3)
            }
            Err(e) => {
                eprintln!("error: {ty} → {shown}: {}", e.without_url());
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
    /// Route an inbound call through `queue:NAME`, `ring_group:NAME` or `user:EXTENSION`
    /// (default: the PBX's first queue).
    #[arg(long, value_name = "KIND:NAME", value_parser = parse_via)]
    pub via: Option<pbxsim::oneshot::Via>,
    /// How the call ends.
    #[arg(long, value_enum, default_value = "answered")]
    pub outcome: CallOutcome,
    /// Conversation length once answered (`--outcome answered` only).
    #[arg(long, default_value = "90s", value_name = "DURATION", value_parser = duration_ms)]
    pub talk: Millis,
    /// How long phones ring before the answer (or before the caller abandons).
    #[arg(long, default_value = "8s", value_name = "DURATION", value_parser = duration_ms)]
    pub ring: Millis,
    /// Record the call (recording_inbound / recording_outbound); answered calls only.
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
    /// Send one event type to its own URL, with the global token (repeatable):
    /// `--route user_inbound_completed=http://…/completed`.
    #[arg(long = "route", value_name = "TYPE=URL", value_parser = RouteParser)]
    pub routes: Vec<(EventType, String)>,
    /// With the built-in receiver: print only violations and the summaries.
    #[arg(long, short)]
    pub quiet: bool,
    /// With the built-in receiver: serve the live inspector page on its port (the URL is
    /// printed) and keep it open after the run until Ctrl-C. See docs/inspector.md.
    #[arg(long)]
    pub ui: bool,
    /// Write the ground truth: one JSON line per call as it ends (outcome, who answered,
    /// visits, durations; see `pbxsim schema truth`), to reconcile with your receiver's data.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub chaos: ChaosArgs,
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

/// `queue:NAME`, `ring_group:NAME` (as in scenario files; `ring-group:` is accepted too) or
/// `user:EXTENSION`.
fn parse_via(text: &str) -> Result<pbxsim::oneshot::Via, String> {
    use pbxsim::oneshot::Via;
    const KINDS: &str = "write queue:NAME, ring_group:NAME or user:EXTENSION";
    let (kind, name) = text.split_once(':').ok_or_else(|| format!("`{text}`: {KINDS}"))?;
    match kind {
        "queue" => Ok(Via::Queue(name.into())),
        "ring_group" | "ring-group" => Ok(Via::RingGroup(name.into())),
        "user" => Ok(Via::User(name.into())),
        other => {
            let hint = pbxsim::suggest::did_you_mean(other, ["queue", "ring_group", "user"]);
            let hint = if hint.is_empty() { String::new() } else { format!(" ({hint})") };
            Err(format!("unknown kind `{other}`{hint}; {KINDS}"))
        }
    }
}

fn duration_ms(text: &str) -> Result<Millis, String> {
    pbxsim::duration::parse(text).map_err(|e| e.to_string())
}

fn call(args: CallArgs) -> ExitCode {
    use pbxsim::oneshot::{Direction, OneCall, Outcome};
    if args.dry_run
        && let Err(code) = refuse(&SENDING_FLAGS, "--dry-run prints the events and sends nothing")
    {
        return code;
    }
    if !matches!(args.outcome, CallOutcome::Answered)
        && let Err(code) = refuse(&[("talk", "--talk")], "only an answered call has a conversation")
    {
        return code;
    }
    let mut base = match &args.scenario {
        Some(path) => match pbxsim::scenario::load(path) {
            Ok(s) => s,
            Err(diagnostic) => {
                report(&diagnostic);
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None => pbxsim::builtin::midsize(),
    };
    if let Err(code) = args.delivery.apply_headers(&mut base) {
        return code;
    }
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
    let seed = scenario.seed;
    let preview = pbxsim::engine::preview(&scenario, seed);
    if let Some(runaway) = &preview.runaway {
        return runaway_error(runaway);
    }
    let pacing = args.speed.map_or(Pacing::Asap, Pacing::Speed);
    if args.dry_run {
        let anchor = scripted_anchor(&scenario, None, preview.last_at, None);
        let options = pbxsim::engine::Options::new(seed, anchor.start);
        let chaos = args.chaos.chaos(scenario.chaos.as_ref(), options.seed);
        let shown = overrides(args.target.as_deref(), args.token.as_deref(), &args.routes);
        return dry_run(&scenario, options, false, &shown, chaos, args.truth.as_deref());
    }
    let play = Play {
        target: args.target,
        token: args.token,
        routes: args.routes,
        pacing,
        delivery: args.delivery,
        chaos: args.chaos,
        quiet: args.quiet,
        anchor: scripted_anchor(&scenario, None, preview.last_at, pacing.speed()),
        preview,
        seed,
        outputs: RunOutputs::none("call"),
        ui: args.ui,
        truth: args.truth,
    };
    play.run(scenario)
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
    /// The X-Pbx-Token for every event (overrides the file's token; a webhook object with a
    /// token of its own keeps it).
    #[arg(long, env = "PBXSIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Send one event type to its own URL, with the global token (repeatable; replaces the
    /// file's `[webhook] routes` entry for that type): `--route queue_call=http://…/queue`.
    #[arg(long = "route", value_name = "TYPE=URL", value_parser = RouteParser)]
    pub routes: Vec<(EventType, String)>,
    /// Calls started per second of wall time, constant (`50/s`, `600/m`); replaces the file's
    /// rate and stages.
    #[arg(long, value_name = "RATE", value_parser = parse_call_rate)]
    pub rate: Option<f64>,
    /// How calls arrive, replacing the file's: `poisson` (random) or `uniform` (evenly spaced).
    #[arg(long, value_enum, value_name = "KIND")]
    pub arrivals: Option<ArrivalsArg>,
    /// No new calls after this much wall time (`30s`, `5m`). Default: the stages' length, else
    /// 10 s unless --max-calls or --max-events ends the run.
    #[arg(long, short = 'z', value_name = "DURATION", value_parser = positive_duration)]
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
    #[arg(long, short = 'n', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
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
    /// The virtual clock's start, RFC 3339 (default: anchored before now, so that no event is
    /// sent before the time it carries).
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
    /// `text`, or `json`: the report (as `--report` writes it) as one JSON document on stdout;
    /// the header, progress and diagnostics stay on stderr.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub output: OutputFormat,
    /// Without a terminal, how often a progress line is printed.
    #[arg(long, hide = true, value_name = "DURATION", default_value = "10s",
          env = "PBXSIM_PROGRESS_EVERY", value_parser = positive_duration)]
    pub progress_every: Duration,
    /// With the built-in receiver: serve the live inspector page on its port (the URL is
    /// printed) and keep it open after the run until Ctrl-C. It keeps the last calls only
    /// (see docs/inspector.md).
    #[arg(long)]
    pub ui: bool,
    /// Write the ground truth: one JSON line per call as it ends (outcome, who answered,
    /// visits, durations; see `pbxsim schema truth`), to reconcile with your receiver's data.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub chaos: ChaosArgs,
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
    output: Output,
    ui: bool,
) -> Result<receiver::RunningReceiver, ExitCode> {
    let token = token
        .map(str::to_string)
        .or_else(|| Some(scenario.webhook.token.clone()).filter(|t| !t.is_empty()));
    let cfg = ReceiverConfig {
        token,
        extra_tokens: scenario.pbx.webhooks.iter().filter_map(|w| w.token.clone()).collect(),
        checker: CheckerConfig {
            ticked: scenario.webhook.events,
            // `--chaos durations=string` is a variant, not a violation.
            lenient_numbers: opts
                .chaos
                .as_ref()
                .is_some_and(|c| c.durations == Some(pbxsim::event::DurationStyle::String)),
            // So is `--chaos extra_fields`: a receiver must ignore fields it does not know.
            extra_fields: opts.chaos.as_ref().is_some_and(|c| c.extra_fields > 0.0),
            ..CheckerConfig::default()
        },
        print,
        color,
        output,
        inspector: ui.then(InspectorConfig::default),
        ..ReceiverConfig::default()
    };
    let running =
        receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await.map_err(|e| {
            eprintln!("error: cannot start the built-in receiver: {e}");
            ExitCode::from(EXIT_USAGE)
        })?;
    if let Some(url) = running.inspector_url() {
        println!("inspector: {url}  (open it in a browser)");
    }
    Ok(running)
}

/// `--ui` serves the page from the built-in receiver, so it needs one.
fn ui_needs_builtin(ui: bool, builtin: bool) -> Result<(), String> {
    if ui && !builtin {
        return Err("--ui shows what the built-in receiver gets, and this run sends to a target \
                    (--target or the file's [webhook] url); drop the target, or run \
                    `pbxsim listen --ui` and make it your target"
            .into());
    }
    Ok(())
}

/// With `--ui`: the run is over, its end-of-stream checks are run (the page shows them), and
/// the page stays open until Ctrl-C.
async fn linger(receiver: &receiver::RunningReceiver) {
    let Some(url) = receiver.inspector_url() else { return };
    receiver.finish_checks();
    println!("\nthe inspector stays open at {url}; press Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
}

fn load(args: LoadArgs) -> ExitCode {
    let (mut scenario, spec, builtin_pbx) = match load_traffic(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Err(code) = args.delivery.apply_headers(&mut scenario) {
        return code;
    }
    args.semantics.apply(&mut scenario);
    let engine_opts = engine_options(&scenario, args.seed, args.start_time);
    let pinned = args.start_time.or(scenario.start_time);
    let mut deliver = args.delivery.options(Pacing::Asap);
    deliver.nulls = scenario.nulls;
    deliver.ticked = scenario.webhook.events;
    deliver.max_calls_in_flight = args.max_calls_in_flight.map(|n| n as usize);
    deliver.chaos = args.chaos.chaos(scenario.chaos.as_ref(), engine_opts.seed);
    let builtin_receiver = args.target.is_none() && scenario.webhook.url.is_none();
    if let Err(e) = ui_needs_builtin(args.ui, builtin_receiver) {
        return usage_error(e);
    }
    let endpoint_count = endpoint_count(&scenario, &args.routes);
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
    let mut plan = match pbxsim::load::plan(scenario, &spec, options) {
        Ok(plan) => plan,
        Err(e) => {
            let source = match &args.file {
                Some(p) => format!("{}: ", p.display()),
                None => String::new(),
            };
            return usage_error(format!("{source}{e}"));
        }
    };
    // The PBX clock: pinned, or anchored so that no event is sent before the time it carries.
    let anchor = match pinned {
        Some(start) => pbxsim::time::Anchor::pinned(start),
        None => {
            let (horizon, exact) = pbxsim::load::horizon(&plan);
            let speed = (!plan.options.asap).then_some(plan.options.speed);
            let lead = pbxsim::time::lead_for(horizon, speed);
            pbxsim::time::Anchor::back_from(chrono::Utc::now(), lead, exact.then_some(horizon))
        }
    };
    plan.options.start = anchor.start;
    plan.options.deliver.clock_lead = anchor.lead();
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
        let cancel = stop_token();
        let receiver = if builtin_receiver {
            let deliver = &plan.options.deliver;
            let quiet = PrintMode::Quiet;
            let output = Output::stdout();
            match start_builtin_receiver(
                &scenario,
                args.token.as_deref(),
                deliver,
                quiet,
                false,
                output,
                args.ui,
            )
            .await
            {
                Ok(r) => Some(r),
                Err(code) => return code,
            }
        } else {
            None
        };
        let target = receiver.as_ref().map(|r| r.url()).or_else(|| args.target.clone());
        let overrides = overrides(target.as_deref(), args.token.as_deref(), &args.routes);
        let endpoints = match deliver::Endpoints::from_scenario(&scenario, &overrides) {
            Ok(e) => e,
            Err(e) => return usage_error(e),
        };
        let o = &plan.options;
        let what = if builtin_pbx {
            "the built-in mid-size PBX".to_string()
        } else {
            scenario.name.clone()
        };
        let limit = match plan.window {
            Some(w) if plan.default_duration => {
                format!("for {:.0} s (default; set --duration)", w.as_secs_f64())
            }
            Some(w) => format!("for {:.0} s", w.as_secs_f64()),
            None => "until a limit is reached".to_string(),
        };
        let how = match o.asap {
            true => format!("as fast as possible {limit} (calls built at {}x)", o.speed),
            false => {
                format!("at {:.2} calls/s {limit}, calls compressed {}x", plan.target_rate, o.speed)
            }
        };
        eprintln!(
            "load: {what} {how}, seed {}{}",
            o.seed,
            match &receiver {
                Some(r) =>
                    format!("; no target given: sending to the built-in receiver at {}", r.url()),
                None => String::new(),
            }
        );
        eprintln!("load: PBX clock {}", anchor.describe(scenario.utc_offset));
        let terminal = std::io::stderr().is_terminal();
        // -v's lines on a terminal take the place of the progress bar.
        let mut progress = match args.quiet || (args.delivery.verbose && terminal) {
            true => pbxsim::report::progress::Progress::Off,
            false => pbxsim::report::progress::Progress::new(terminal, args.progress_every),
        };
        let mut csv_error = None;
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
            pbxsim::load::run_with_truth(&plan, &endpoints, cancel.clone(), on_sample, truth).await;
        progress.finish();
        let mut report = match result {
            Ok(r) => r,
            Err(pbxsim::load::LoadError::Runaway(r)) => return runaway_error(&r),
            Err(e) => return usage_error(e),
        };
        // The scenario's [expect] thresholds, then --threshold's.
        let thresholds: Vec<_> = scenario.expect.iter().chain(&args.thresholds).cloned().collect();
        let verdicts = report.check(&thresholds);
        let thresholds_failed = verdicts.iter().any(|v| !v.pass);
        let json = args.output == OutputFormat::Json;
        if !json {
            print!("{}", report.render());
        }
        let mut code = report.exit_code(thresholds_failed, args.delivery.allow_failures);
        if !finish_truth(recorder, args.truth.as_deref()) {
            code = code.max(1);
        }
        // A run that started no call tested nothing: not a success.
        if let Some(why) = report.no_calls() {
            eprintln!("error: no call started: {why}");
            code = code.max(1);
        }
        if let Some(path) = &args.junit {
            let xml = pbxsim::report::junit(&format!("pbxsim load {}", report.scenario), &verdicts);
            if let Err(e) = std::fs::write(path, xml) {
                eprintln!("error: cannot write {}: {e}", path.display());
                code = code.max(1);
            }
        }
        print_unreachable(report.unreachable.clone(), code);
        if let Some(series) = series {
            if let Err(e) = series.finish() {
                csv_error.get_or_insert(e.to_string());
            }
        }
        if let (Some(path), Some(e)) = (&args.stats_csv, csv_error) {
            eprintln!("error: cannot write {}: {e}", path.display());
            code = code.max(1);
        }
        let text = serde_json::to_string_pretty(&report).expect("reports serialize");
        if let Some(path) = &args.report {
            if let Err(e) = std::fs::write(path, text.clone() + "\n") {
                eprintln!("error: cannot write {}: {e}", path.display());
                code = code.max(1);
            }
        }
        if json {
            print_stdout(&text);
        }
        if let Some(r) = receiver {
            if code != 130 {
                linger(&r).await;
            }
            let stats = r.shutdown().await;
            match json {
                true => eprintln!("\nbuilt-in receiver\n{stats}"),
                false => println!("\nbuilt-in receiver\n{stats}"),
            }
            // Calls cut off at the end of the run are incomplete by design.
            let expected = match report.calls.cut_off + report.events.cut_off {
                0 => 0,
                _ => {
                    stats.check.per_rule.get(&pbxsim::check::Rule::Incomplete).copied().unwrap_or(0)
                }
            };
            if expected > 0 {
                let what = match expected {
                    1 => "violation is of a call",
                    _ => "violations are of calls",
                };
                let note = format!("({expected} incomplete-call {what} cut off at the end)");
                match json {
                    true => eprintln!("{note}"),
                    false => println!("{note}"),
                }
            }
            if stats.violations() > expected && code == 0 {
                code = 1;
            }
        }
        stopped_code(code, &cancel)
    })
}
