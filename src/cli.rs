//! The command line: clap definitions and value parsing. Raw flags are turned into validated
//! values here, before any work starts; `commands/` maps them onto the library, which knows
//! nothing of clap.

use clap::{Args, Parser, Subcommand};
use pbxsim::deliver::{self, RetryOn};
use pbxsim::duration::Millis;
use pbxsim::event::EventType;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Simulate a hosted PBX and send its webhook events to your receiver.
#[derive(Debug, Parser)]
#[command(name = "pbxsim", version = env!("PBXSIM_VERSION"), about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// When to colour output (diagnostics, the receiver's lines, help).
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    pub color: crate::color::ColorChoice,
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
        pbxsim run my-pbx.toml --target $URL --html run.html --service-level 30s  # charts, KPIs\n  \
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
        pbxsim load --target $URL --duration 30s --output json | jq .latency.p99_ms\n  \
        pbxsim load --target $URL --duration 1m --html load.html --report load.json  # charts, KPIs\n  \
        pbxsim report show load.json --html again.html            # the same page from the JSON\n  \
        pbxsim load --dry-run --max-calls 1000 --seed 7 --start-time 2026-01-05T09:00:00Z -o day.ndjson\n  \
        pbxsim load --dry-run --envelope --rate 50/s -z 1h | jq -c .body.unique_call_id  # no HTTP\n\n\
        Open model by default: calls start on schedule whatever the receiver does, and latency is\n\
        measured from each event's intended send time (corrected) as well as from the request's\n\
        start (raw). --max-calls-in-flight makes it closed: new calls wait for a slot.\n\n\
        Exit codes: 0 ok; 1 a threshold failed, an event failed (see --allow-failures), no call\n\
        started, or the built-in receiver saw a violation; 2 usage or scenario error (nothing\n\
        sent); 3 the target could not be reached; 130 interrupted (Ctrl-C); 143 stopped by\n\
        SIGTERM (the report and the journal are written either way).")]
    Load(Box<LoadArgs>),
    /// Read a saved JSON report again: as text, HTML or JUnit.
    #[command(after_help = "Examples:\n  \
        pbxsim report show load.json\n  \
        pbxsim report show load.json --html load.html --junit load.xml")]
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
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
    /// Print generated documentation in Markdown: `docs events` is the event catalogue.
    #[command(after_help = "Examples:\n  \
        pbxsim docs events | less              # the 12 types: when, fields, a sample body\n  \
        pbxsim docs events > docs/events.md    # refresh the checked-in copy")]
    Docs {
        /// Which document.
        what: DocsKind,
    },
    /// Write a commented starter scenario to edit (office, callcentre, or the built-in load PBX).
    #[command(after_help = "Examples:\n  \
        pbxsim new my-pbx.toml                        # the office template\n  \
        pbxsim new callcentre.toml --template callcentre\n  \
        pbxsim new midsize.toml --template load       # the PBX and [traffic] of `pbxsim load`\n  \
        pbxsim new - --template load | less           # print it instead\n\n\
        An existing FILE is never overwritten (exit 2).\n\n\
        Editors: the file starts with `#:schema PATH`, for Taplo / Even Better TOML, when there \
        is a scenario schema to point at: scenario.schema.json beside FILE or in a schema/ \
        folder, in FILE's directory or one above it (up to the one holding .git). Otherwise \
        that line is left out and pbxsim says how to add it (pbxsim schema scenario > \
        scenario.schema.json).")]
    New(NewArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell or elvish) on stdout.
    #[command(after_help = "Install:\n  \
        pbxsim completions bash > ~/.local/share/bash-completion/completions/pbxsim\n  \
        pbxsim completions zsh > ~/.zfunc/_pbxsim      # with fpath+=(~/.zfunc) before compinit\n  \
        pbxsim completions fish > ~/.config/fish/completions/pbxsim.fish\n  \
        pbxsim completions powershell >> $PROFILE\n  \
        pbxsim completions elvish >> ~/.config/elvish/rc.elv")]
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout, or every command's page into --dir.
    #[command(after_help = "Install:\n  \
        mkdir -p ~/.local/share/man/man1\n  \
        pbxsim man > ~/.local/share/man/man1/pbxsim.1\n  \
        pbxsim man --dir ~/.local/share/man/man1        # pbxsim.1, pbxsim-run.1, ...\n  \
        man pbxsim")]
    Man(ManArgs),
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

/// When `listen` stops by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitAfter {
    Events(u64),
    Time(Millis),
}

pub(crate) fn parse_duration(text: &str) -> Result<Millis, String> {
    pbxsim::duration::parse(text).map_err(|e| e.to_string())
}

pub(crate) fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("`{text}` is not a fraction between 0 and 1, like `0.2`")),
    }
}

pub(crate) fn parse_exit_after(text: &str) -> Result<ExitAfter, String> {
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

pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
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

pub(crate) fn parse_event_type(text: &str) -> Result<EventType, String> {
    text.trim().parse::<EventType>().map_err(|e| e.to_string())
}

/// The documents `pbxsim docs` prints, generated from the code.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DocsKind {
    /// The event catalogue (docs/events.md): when each of the 12 types fires, its fields and a
    /// sample body.
    Events,
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

/// The command line as clap matched it, so that a command can tell a flag given on the command
/// line from its default ([`given`]).
static MATCHES: std::sync::OnceLock<clap::ArgMatches> = std::sync::OnceLock::new();

/// Parse the command line (exiting on a usage error, as `Cli::parse` does) and keep the matches.
pub(crate) fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let matches = crate::color::for_clap(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let _ = MATCHES.set(matches);
    cli
}

/// Of `flags` (`(arg id, how it is written)`), those of the running subcommand that were given
/// on the command line: not defaults, not environment variables.
pub(crate) fn given(flags: &[(&'static str, &'static str)]) -> Vec<&'static str> {
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

/// The flags of `run` and `call` that only matter when events are sent.
pub(crate) const SENDING_FLAGS: [(&str, &str); 12] = [
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
    pub reports: ReportArgs,
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

pub(crate) fn parse_unanswered_completion(
    text: &str,
) -> Result<pbxsim::pbx::UnansweredCompletion, String> {
    text.parse()
}

pub(crate) fn positive_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(format!("`{text}` is not a speed; write a number above 0, like 1, 10 or 0.5")),
    }
}

pub(crate) fn parse_start_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}; write it like 2026-03-02T09:00:00Z"))
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
pub struct ChaosList(pub Vec<pbxsim::scenario::chaos::Setting>);

pub(crate) fn parse_chaos(text: &str) -> Result<ChaosList, String> {
    pbxsim::scenario::chaos::parse_list(text).map(ChaosList).map_err(|e| e.one_line())
}

pub(crate) fn positive_duration(text: &str) -> Result<Duration, String> {
    match pbxsim::duration::parse(text) {
        Ok(0) => Err("must be more than zero, like `500ms` or `10s`".into()),
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(e) => Err(e.to_string()),
    }
}

pub(crate) fn retry_on(text: &str) -> Result<RetryOn, String> {
    text.parse().map_err(|e: deliver::RetryOnError| e.message("--retry-on"))
}

/// `--route TYPE=URL`, with errors that show the URL with its secrets masked (clap's own
/// "invalid value" message would quote it whole).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteParser;

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

pub(crate) fn parse_route(text: &str) -> Result<(EventType, String), String> {
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

/// `pbxsim call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Which way the call goes.
    #[arg(value_enum)]
    pub direction: CallDirection,
    /// Route an inbound call through `queue:NAME`, `ring_group:NAME` or `user:EXTENSION`
    /// (default: the PBX's first queue).
    #[arg(long, value_name = "KIND:NAME", value_parser = clap::value_parser!(pbxsim::scenario::single_call::Via))]
    pub via: Option<pbxsim::scenario::single_call::Via>,
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

pub(crate) fn duration_ms(text: &str) -> Result<Millis, String> {
    pbxsim::duration::parse(text).map_err(|e| e.to_string())
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
    #[arg(long, value_name = "N", default_value_t = pbxsim::engine::load_plan::DEFAULT_SPEED,
          value_parser = positive_speed)]
    pub speed: f64,
    /// Send as fast as the receiver allows, ignoring the schedule (for the highest rate).
    #[arg(long)]
    pub asap: bool,
    /// Play N independent copies of the PBX (tenants): the same topology and rate each, each
    /// seeded from the seed and its index, with its own unique_call_id range; the limits count
    /// the whole run.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub tenants: u32,
    /// Play only shard K of N (1-based, like 2/3): the tenants t with t mod N = K-1. Start every
    /// shard with the same flags; each simulates the whole run (the limits mean the whole run)
    /// and sends only its own tenants' events. Needs --tenants of at least N.
    #[arg(long, value_name = "K/N", env = "PBXSIM_SHARD", conflicts_with = "shards")]
    pub shard: Option<pbxsim::engine::load_plan::Shard>,
    /// Play shard JOB_COMPLETION_INDEX+1 of N: the index a Kubernetes Indexed Job (or another
    /// batch scheduler) gives each pod, 0 to N-1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,
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
    /// Start the schedule at this wall-clock instant, RFC 3339 (waits until then, at most 24 h
    /// ahead): give every shard the same one. The PBX clock is anchored from it, so shards share
    /// one clock; a run that starts late says how late in its report.
    #[arg(long, value_name = "RFC3339", value_parser = parse_start_time)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
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
    /// Write the generated events as NDJSON (one exact JSON body per line) instead of sending
    /// them, at engine speed; `pbxsim replay` sends such a file. --duration bounds the schedule
    /// (duration × --speed of PBX time), with or without --asap.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: wrap each body with its virtual time, target and header names.
    #[arg(long, requires = "dry_run")]
    pub envelope: bool,
    /// With --dry-run: write the events to FILE instead of stdout.
    #[arg(long = "out", short = 'o', value_name = "FILE", requires = "dry_run")]
    pub dry_run_out: Option<PathBuf>,
    #[command(flatten)]
    pub reports: ReportArgs,
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

pub(crate) fn parse_threshold(text: &str) -> Result<pbxsim::report::Threshold, String> {
    text.parse::<pbxsim::report::Threshold>().map_err(|e| match &e.help {
        Some(help) => format!("{e}; {help}"),
        None => e.to_string(),
    })
}

pub(crate) fn parse_call_rate(text: &str) -> Result<f64, String> {
    match text.parse::<pbxsim::scenario::traffic::Rate>() {
        Ok(r) if r.as_per_second() > 0.0 => Ok(r.as_per_second()),
        Ok(_) => Err("a rate of zero starts no calls; give one like `10/s`".into()),
        Err(e) => Err(e.to_string()),
    }
}

pub(crate) fn any_duration(text: &str) -> Result<Duration, String> {
    pbxsim::duration::parse(text).map(Duration::from_millis).map_err(|e| e.to_string())
}

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
            Template::Office => include_str!("../templates/office.toml"),
            Template::Callcentre => include_str!("../templates/callcentre.toml"),
            Template::Load => include_str!("../templates/load.toml"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Template::Office => "office",
            Template::Callcentre => "callcentre",
            Template::Load => "load",
        }
    }

    /// What to run next on the new file.
    pub fn next(self, file: &str) -> String {
        match self {
            Template::Office => format!("pbxsim run {file}"),
            Template::Callcentre => format!("pbxsim run {file} --asap   or   pbxsim load {file}"),
            Template::Load => format!("pbxsim load {file}"),
        }
    }
}

/// `pbxsim completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `pbxsim man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (`pbxsim.1`, `pbxsim-run.1`, …) into DIR instead of printing
    /// `pbxsim(1)` on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The HTML report and the contact-centre KPIs' setting (`run`, `load`).
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write the report as one self-contained HTML page: throughput and latency over time, the
    /// latency histogram, answers and errors, calls by outcome, thresholds, settings and the
    /// contact-centre KPIs (inline SVG; it loads nothing from the network).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// The KPIs' service level counts queue and ring-group visits answered within this long of
    /// the call's arrival (`connected_at - call_start_at`), e.g. `20s`, `30s`.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = positive_duration)]
    pub service_level: Duration,
}

/// `pbxsim report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Print a saved JSON report as the text its run printed, and write HTML or JUnit from it.
    #[command(after_help = "Examples:\n  \
        pbxsim load --target $URL --report load.json && pbxsim report show load.json\n  \
        pbxsim report show load.json --html load.html     # the charts, from the saved numbers\n  \
        pbxsim report show run.json --junit run.xml       # the threshold verdicts for CI\n  \
        pbxsim run my-pbx.toml --output json > run.json; pbxsim report show run.json\n\n\
        FILE is a report of `load` or `run` (`--report FILE` or `--output json`). The text is\n\
        what the run printed after it ended (the summary, the KPIs, the verdicts and the built-in\n\
        receiver's counts); the header and progress lines are not kept.\n\n\
        Exit codes: 0 shown (and written); 2 FILE cannot be read or is not a pbxsim report\n\
        (the error names the file, and the line and column of a JSON syntax error), or an output\n\
        file cannot be written.")]
    Show(ReportShowArgs),
    /// Merge the JSON reports of `load` runs played in parallel into one, exactly, and check
    /// the thresholds on the whole run.
    #[command(after_help = "Examples:\n  \
        pbxsim load --target $URL --seed 1 --report a.json & pbxsim load --target $URL --seed 2 --report b.json\n  \
        pbxsim report merge a.json b.json -o total.json        # prints the whole run's report\n  \
        pbxsim report merge reports/*.json --threshold 'p99<250ms' -q   # CI: the exit code only\n\n\
        Counters add up; the HDR histograms merge bucket for bucket, so the percentiles are\n\
        those of one histogram fed with every run's samples; rates (calls started per second),\n\
        throughput, the per-type table and the KPIs are recomputed from the sums. The\n\
        thresholds each report recorded (its [expect] and --threshold rules) and --threshold\n\
        are checked again on the merged result.\n\n\
        Reports merge only as parts of one run: the same scenario, compression and histogram\n\
        settings, and a different seed each (the same seed played the same calls).\n\n\
        Exit codes: 0 merged, every threshold passed; 1 a threshold failed on the merged result;\n\
        2 a file cannot be read, is not a load report, or the reports do not merge (the error\n\
        says which two differ and how).")]
    Merge(ReportMergeArgs),
}

/// `pbxsim report merge`.
#[derive(Debug, Args)]
pub struct ReportMergeArgs {
    /// The reports of `load --report` (or `--output json`) to merge.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Write the merged report (JSON, as `load --report` writes one) to FILE.
    #[arg(long = "out", short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Pass/fail rule checked on the merged result, repeatable, with the reports' own.
    #[arg(long = "threshold", value_name = "RULE", value_parser = parse_threshold)]
    pub thresholds: Vec<pbxsim::report::Threshold>,
    /// Print nothing (only write -o and set the exit code).
    #[arg(long, short)]
    pub quiet: bool,
}

/// `pbxsim report show`.
#[derive(Debug, Args)]
pub struct ReportShowArgs {
    /// The saved report (JSON), from `load`/`run` `--report` or `--output json`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also write the report as a self-contained HTML page.
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Also write the threshold verdicts as JUnit XML.
    #[arg(long, value_name = "OUT.xml")]
    pub junit: Option<PathBuf>,
    /// Print nothing (only write --html / --junit).
    #[arg(long, short)]
    pub quiet: bool,
}
