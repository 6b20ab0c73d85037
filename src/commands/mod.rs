//! The commands: each file turns its subcommand's arguments into library options, calls the
//! library, and prints; this one dispatches and holds what several commands share.

mod check;
pub mod completions;
mod listen;
mod load;
pub mod new;
mod replay;
mod report;
mod run;
mod trigger;
mod validate;

use crate::cli::*;
use crate::error_reporting::*;
use crate::output::*;
use pbxsim::deliver::{self, DeliverOptions, Pacing};
use pbxsim::event::EventType;
use pbxsim::receiver::{self};
use pbxsim::scenario::Scenario;
use pbxsim::scenario::chaos::Chaos;
use pbxsim::secret::{Secret, SecretUrl};
use std::process::ExitCode;

/// The cancel token of a run. The first SIGINT (Ctrl-C) or SIGTERM fires it: no new events
/// start, requests in flight finish for the grace period, then the summary, the journal and
/// the report files are written. A second signal at least [`deliver::QUIT_GAP`] later ends the
/// process at once (130, or 143 for SIGTERM); copies arriving together (a signal sent to the
/// process group) are one interrupt. Install it before printing the header, so a signal sent
/// once the header is out is never lost.
pub(crate) fn stop_token() -> deliver::CancelToken {
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

pub fn main() -> ExitCode {
    let cli = parse_cli();
    crate::color::set(cli.color);
    match cli.command {
        Command::Validate { files, output } => validate::validate(&files, output),
        Command::Run(args) => run::run(args),
        Command::Trigger(args) => trigger::trigger(args),
        Command::Call(args) => run::call(args),
        Command::Schema { what } => {
            let schema = match what {
                SchemaKind::Events => pbxsim::event::json_schema(),
                SchemaKind::Scenario => pbxsim::scenario::json_schema(),
                SchemaKind::Truth => pbxsim::engine::truth::json_schema(),
            };
            print_stdout(&serde_json::to_string_pretty(&schema).expect("schema serializes"));
            ExitCode::SUCCESS
        }
        Command::Docs { what } => {
            match what {
                DocsKind::Events => print!("{}", pbxsim::event::catalogue_markdown()),
            }
            ExitCode::SUCCESS
        }
        Command::Listen(args) => listen::listen(args),
        Command::Check(args) => check::check(args),
        Command::Replay(args) => replay::replay(*args),
        Command::Load(args) => load::load(*args),
        Command::Report { command } => report::report(command),
        Command::New(args) => new::new(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    }
}

/// A scenario with neither scripted calls nor generated traffic: `run` has nothing to send.
pub(crate) fn nothing_to_play(scenario: &Scenario) -> bool {
    scenario.calls.is_empty() && scenario.traffic.is_none()
}

/// `run` of a scenario with nothing to play: a usage error, with a call to add.
pub(crate) fn nothing_to_play_error(file: &std::path::Path, scenario: &Scenario) -> ExitCode {
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
pub(crate) fn summary(scenario: &Scenario) -> String {
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

impl SemanticsArgs {
    pub fn apply(&self, scenario: &mut Scenario) {
        if let Some(v) = self.unanswered_completion {
            scenario.pbx.unanswered_completion = v;
        }
    }
}

impl DeliveryArgs {
    /// The `-H` headers, checked; a bad one is a usage error (its value is never printed).
    pub(crate) fn parsed_headers(&self) -> Result<Vec<(String, Secret)>, ExitCode> {
        self.headers
            .iter()
            .map(|h| deliver::parse_header(h))
            .collect::<Result<_, _>>()
            .map_err(header_error)
    }

    /// Lay the `-H` headers over the scenario's global webhook headers.
    pub(crate) fn apply_headers(&self, scenario: &mut Scenario) -> Result<(), ExitCode> {
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
            wording: crate::error_reporting::WORDING,
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
pub(crate) fn verbose_log() -> deliver::EventLog {
    deliver::EventLog::new(|end| println!("{}", verbose_line(end, &chrono::Local::now())))
}

/// `09:00:01.234 queue_call 160455961758 200 3.10 ms`, and for a failure the reason after the
/// status: `… 503 12.0 ms failed: HTTP 503 (after 3 attempts)`; `-` for no latency (never sent).
pub(crate) fn verbose_line(
    end: &deliver::EventEnd<'_>,
    at: &chrono::DateTime<chrono::Local>,
) -> String {
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
        pbxsim::report::hist::fmt_ms(d.as_secs_f64() * 1000.0).replace(' ', "")
    });
    let mut line =
        format!("{} {} {call} {} {latency}", receiver::format::clock(at), end.kind, end.outcome);
    if let Some(detail) = end.detail.filter(|_| !end.delivered) {
        line.push_str(&format!(" failed: {detail}"));
    }
    line
}

/// A multi-threaded tokio runtime for the commands that do I/O.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

/// Where a `--token` value came from: the flag itself, or clap's fallback to `PBXSIM_TOKEN`.
pub(crate) fn token_source() -> deliver::TokenSource {
    match given(&[("token", "--token")]).is_empty() {
        true => deliver::TokenSource::Env,
        false => deliver::TokenSource::Flag,
    }
}

/// The command line's changes to a scenario's endpoints.
pub(crate) fn overrides(
    target: Option<&str>,
    token: Option<&str>,
    routes: &[(EventType, String)],
) -> deliver::Overrides {
    deliver::Overrides {
        target: target.map(SecretUrl::from),
        token: token.map(Secret::from),
        token_source: token_source(),
        routes: routes.iter().map(|(t, url)| (*t, url.as_str().into())).collect(),
    }
}

/// Says on stderr what the `--truth` file holds, or why it could not be written.
pub(crate) fn print_truth(
    truth: Option<&std::io::Result<pbxsim::engine::truth::TruthStats>>,
    path: Option<&std::path::Path>,
) {
    let (Some(truth), Some(path)) = (truth, path) else { return };
    match truth {
        Ok(stats) => {
            let unfinished = match stats.unfinished {
                0 => String::new(),
                n => format!(" ({n} calls still in progress at the end have no line)"),
            };
            eprintln!("truth: {} calls written to {}{unfinished}", stats.lines, path.display());
        }
        Err(e) => eprintln!("error: cannot write {}: {e}", path.display()),
    }
}

/// With `--ui`: the run is over, its end-of-stream checks are run (the page shows them), and
/// the page stays open until Ctrl-C.
pub(crate) fn inspector_open_line(url: &str) -> String {
    format!("\nthe inspector stays open at {url}; press Ctrl-C to stop")
}
