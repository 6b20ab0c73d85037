//! `pbxsim run` and `pbxsim call`: a scenario's scripted calls, or one whole call, played
//! to a target or to the built-in receiver.

use crate::cli::*;
use crate::commands::*;
use crate::error_reporting::*;
use crate::output::*;
use pbxsim::deliver::{self, Pacing};
use pbxsim::receiver::{Output, PrintMode};
use pbxsim::report;
use pbxsim::scenario::chaos::Chaos;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use pbxsim::Exit;
use pbxsim::session::{
    Observer, ReceiverView, ScriptedOptions, Session, SessionOptions, Started, truth_file,
};
use std::process::ExitCode;
use std::time::Duration;

pub(crate) fn run(args: RunArgs) -> ExitCode {
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
    let pacing = match (args.asap, args.speed) {
        (true, _) => Some(Pacing::Asap),
        (false, speed) => speed.map(Pacing::Speed),
    };
    let options = ScriptedOptions { pacing, seed: args.seed, start_time: args.start_time };
    let session = match Session::scripted(scenario, options) {
        Ok(session) => session,
        Err(e) => return session_error(&e),
    };
    let chaos = args.chaos.chaos(session.scenario().chaos.as_ref(), session.seed());
    let shown = overrides(args.target.as_deref(), args.token.as_deref(), &args.routes);
    if args.dry_run {
        return dry_run(session, args.envelope, shown, chaos, args.truth.as_deref());
    }
    let outputs = RunOutputs {
        command: "run",
        report: args.report,
        junit: args.junit,
        thresholds: args.thresholds.clone(),
        json: args.output == OutputFormat::Json,
        progress_every: args.progress_every,
        html: args.reports.html.clone(),
        service_level: args.reports.service_level,
        settings: super::report::settings(&super::report::SettingsInput {
            scenario: session.scenario(),
            file: Some(&args.file),
            target: args.target.as_deref(),
            token_given: args.token.is_some(),
            routes: &args.routes,
            delivery: &args.delivery,
            chaos: chaos.as_ref(),
            reports: &args.reports,
            thresholds: &args.thresholds,
        }),
    };
    let play = Play {
        overrides: shown,
        delivery: args.delivery,
        chaos,
        quiet: args.quiet,
        outputs,
        ui: args.ui,
        truth: args.truth,
    };
    play.run(session)
}

/// Where a scripted run's results go besides the text summary.
#[derive(Debug, Clone)]
pub(crate) struct RunOutputs {
    /// `run` or `call`, for the report and the JUnit suite.
    command: &'static str,
    report: Option<PathBuf>,
    junit: Option<PathBuf>,
    /// `--threshold`s, checked with the scenario's `[expect]` ones.
    thresholds: Vec<pbxsim::report::Threshold>,
    /// `--output json`: the report on stdout instead of the text.
    json: bool,
    progress_every: Duration,
    /// `--html FILE`.
    html: Option<PathBuf>,
    /// The KPIs' service-level threshold (`--service-level`).
    service_level: Duration,
    /// The run's settings for the reports (never a secret).
    settings: Vec<pbxsim::report::settings::Setting>,
}

impl RunOutputs {
    pub(crate) fn none(command: &'static str) -> Self {
        RunOutputs {
            command,
            report: None,
            junit: None,
            thresholds: Vec::new(),
            json: false,
            progress_every: Duration::from_secs(10),
            html: None,
            service_level: pbxsim::report::kpi::DEFAULT_SERVICE_LEVEL,
            settings: Vec::new(),
        }
    }
}

/// "about 5m2s", for a run header.
pub(crate) fn about(length: Duration) -> String {
    let secs = length.as_secs_f64().round() as u64;
    match secs {
        0 => "under a second".to_string(),
        s => format!("about {}", pbxsim::duration::Human(s * 1000)),
    }
}

pub(crate) fn dry_run(
    session: Session,
    envelope: bool,
    overrides: deliver::Overrides,
    chaos: Option<Chaos>,
    truth: Option<&Path>,
) -> ExitCode {
    let mut options = SessionOptions { overrides, ..SessionOptions::default() };
    options.deliver.chaos = chaos;
    let mut session = session.with_options(options);
    if let Some(path) = truth {
        match truth_file(path) {
            Ok(file) => session = session.with_truth(file),
            Err(e) => return session_error(&e),
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let done = match session.dry_run(envelope, &mut out) {
        Ok(done) => done,
        Err(e) => return session_error(&e),
    };
    drop(out);
    if let Err(e) = &done.written {
        eprintln!("error: cannot write the events: {e}");
    }
    print_truth(done.truth.as_ref(), truth);
    done.exit.into()
}

/// Sending a scenario's events: to a target, or to the built-in receiver when there is none.
pub(crate) struct Play {
    /// `--target`, `--token`, `--route`.
    overrides: deliver::Overrides,
    delivery: DeliveryArgs,
    chaos: Option<Chaos>,
    quiet: bool,
    outputs: RunOutputs,
    ui: bool,
    /// `--truth FILE`.
    truth: Option<PathBuf>,
}

/// What `run` and `call` show while the session plays: the header, then progress.
struct PlayView {
    json: bool,
    /// The header's lines after the receiver's: `playing …`, `PBX clock …`, `chaos …`.
    header: Vec<String>,
    progress: pbxsim::report::progress::Progress,
}

impl PlayView {
    /// Text goes to stdout; with --output json, stdout holds the report alone.
    fn say(&self, line: &str) {
        match self.json {
            true => eprintln!("{line}"),
            false => println!("{line}"),
        }
    }
}

impl Observer for PlayView {
    fn started(&mut self, started: &Started) {
        if let Some(url) = &started.inspector {
            self.say(&format!("inspector: {url}  (open it in a browser)"));
        }
        if let Some(url) = &started.builtin_receiver {
            self.say(&format!(
                "no target given: sending to the built-in receiver at {url} \
                 (pass --target URL to use yours)"
            ));
        }
        for line in &self.header {
            self.say(line);
        }
    }

    fn sample(&mut self, sample: &deliver::Sample) {
        self.progress.update(sample);
    }

    fn inspector_open(&mut self, url: &str) {
        self.progress.finish();
        self.say(&inspector_open_line(url));
    }
}

impl Play {
    pub(crate) fn run(self, session: Session) -> ExitCode {
        let json = self.outputs.json;
        for path in self.outputs.report.iter().chain(&self.outputs.junit).chain(&self.outputs.html)
        {
            if let Err(e) = std::fs::File::create(path) {
                return usage_error(format!("cannot write {}: {e}", path.display()));
            }
        }
        let scenario = session.scenario().clone();
        let pacing = session.pacing().unwrap_or(Pacing::Asap);
        let mut deliver = self.delivery.options(pacing);
        deliver.chaos = self.chaos.clone();
        let preview = session.preview().cloned().unwrap_or_default();
        let length = session.length();
        let speed = match pacing {
            Pacing::Asap => "as fast as possible".to_string(),
            Pacing::Realtime => "in real time".to_string(),
            Pacing::Speed(s) => format!("at {s}x speed"),
        };
        let takes = length.map_or(String::new(), |l| format!(": {}", about(l)));
        let mut header = vec![
            format!(
                "playing {} ({}, {}) {speed}, seed {}{takes}",
                scenario.name,
                plural(scenario.calls.len() as u64, "call", "calls"),
                plural(preview.sent, "event", "events"),
                session.seed(),
            ),
            format!("PBX clock  {}", session.anchor().describe(scenario.utc_offset)),
        ];
        if let Some(chaos) = &deliver.chaos {
            header.push(format!("chaos {chaos}"));
        }
        let builtin = self.overrides.target.is_none() && scenario.webhook.url.is_none();
        let seed = session.seed();
        let anchor = *session.anchor();
        let rt = runtime();
        rt.block_on(async move {
            let cancel = stop_token();
            let options = SessionOptions {
                overrides: self.overrides.clone(),
                deliver,
                thresholds: self.outputs.thresholds.clone(),
                allow_failures: self.delivery.allow_failures,
                sample_every: Duration::from_secs(1).min(self.outputs.progress_every),
                cancel: cancel.clone(),
                receiver: ReceiverView {
                    print: if self.quiet { PrintMode::Quiet } else { PrintMode::Lines },
                    color: crate::color::enabled(crate::color::Stream::Stdout) && !json,
                    output: match json {
                        true => Output::new(std::io::stderr()),
                        false => Output::stdout(),
                    },
                    ui: self.ui,
                    no_token_note: crate::error_reporting::NO_TOKEN_NOTE.to_string(),
                },
                service_level: self.outputs.service_level,
            };
            let mut session = session.with_options(options);
            if let Some(path) = &self.truth {
                match truth_file(path) {
                    Ok(file) => session = session.with_truth(file),
                    Err(e) => return session_error(&e),
                }
            }
            let progress = match self.quiet || builtin {
                true => pbxsim::report::progress::Progress::Off,
                false => pbxsim::report::progress::Progress::new(
                    std::io::stderr().is_terminal(),
                    self.outputs.progress_every,
                ),
            };
            let mut view = PlayView { json, header, progress };
            let outcome = session.run(&mut view).await;
            view.progress.finish();
            let outcome = match outcome {
                Ok(outcome) => outcome,
                Err(e) => return session_error(&e),
            };
            let Some(summary) = outcome.summary() else { unreachable!("a scripted session") };
            let command = self.outputs.command;
            let info = report::run::RunInfo {
                command: command.to_string(),
                scenario: scenario.name.clone(),
                seed,
                calls: scenario.calls.len() as u64,
                pacing: report::run::Pacing {
                    speed: pacing.speed(),
                    asap: pacing == Pacing::Asap,
                    length_s: length.map(|l| l.as_secs_f64()),
                },
                anchor,
            };
            let verdicts = &outcome.verdicts;
            let receiver_json =
                outcome.receiver.as_ref().and_then(|s| serde_json::to_value(s).ok());
            let mut run_report = report::run::RunReport::new(
                info,
                summary,
                verdicts,
                receiver_json,
                outcome.exit.code(),
            );
            run_report.outcomes =
                outcome.engine_stats.as_ref().map(report::run::CallOutcomes::from);
            run_report.kpis = Some(outcome.kpis.clone());
            run_report.series = Some(outcome.trend.clone());
            run_report.settings = self.outputs.settings.clone();
            run_report.receiver_text = outcome.receiver.as_ref().map(|s| s.to_string());
            // The text comes from the report, so `pbxsim report show` prints the same.
            if !json {
                println!();
                print!("{}", run_report.summary_text());
            }
            let mut exit = outcome.exit;
            print_truth(outcome.truth.as_ref(), self.truth.as_deref());
            if let Some(message) = summary.chaos.as_ref().and_then(|c| c.accepted_forgery_message())
            {
                eprintln!("error: {message}");
            }
            print_unreachable(outcome.unreachable(), exit);
            if !json {
                print!("{}", run_report.tail_text());
            }
            if let Some(path) = &self.outputs.junit {
                let suite = format!("pbxsim {command} {}", scenario.name);
                if let Err(e) = std::fs::write(path, report::junit(&suite, verdicts)) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    exit = exit.and(Exit::Failed);
                }
            }
            let build = |exit: Exit| {
                let mut r = run_report.clone();
                r.exit_code = exit.code();
                r
            };
            if let Some(path) = &self.outputs.report {
                let text = serde_json::to_string_pretty(&build(exit)).expect("reports serialize");
                if let Err(e) = std::fs::write(path, text + "\n") {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    exit = exit.and(Exit::Failed);
                }
            }
            if let Some(path) = &self.outputs.html {
                let value = serde_json::to_value(build(exit)).expect("reports serialize");
                if let Err(e) = super::report::write_html(path, &value) {
                    eprintln!("error: {e}");
                    exit = exit.and(Exit::Failed);
                }
            }
            if json {
                print_stdout(
                    &serde_json::to_string_pretty(&build(exit)).expect("reports serialize"),
                );
            }
            exit.into()
        })
    }
}

pub(crate) fn call(args: CallArgs) -> ExitCode {
    use pbxsim::scenario::single_call::{Direction, OneCall, Outcome};
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
        None => pbxsim::scenario::builtin_pbx::midsize(),
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
    let scenario = match pbxsim::scenario::single_call::build(base, &spec) {
        Ok(mut s) => {
            args.semantics.apply(&mut s);
            std::sync::Arc::new(s)
        }
        Err(e) => return usage_error(one_call_error(&e)),
    };
    let pacing = Some(args.speed.map_or(Pacing::Asap, Pacing::Speed));
    let options = ScriptedOptions { pacing, ..ScriptedOptions::default() };
    let session = match Session::scripted(scenario, options) {
        Ok(session) => session,
        Err(e) => return session_error(&e),
    };
    let chaos = args.chaos.chaos(session.scenario().chaos.as_ref(), session.seed());
    let shown = overrides(args.target.as_deref(), args.token.as_deref(), &args.routes);
    if args.dry_run {
        return dry_run(session, false, shown, chaos, args.truth.as_deref());
    }
    let play = Play {
        overrides: shown,
        delivery: args.delivery,
        chaos,
        quiet: args.quiet,
        outputs: RunOutputs::none("call"),
        ui: args.ui,
        truth: args.truth,
    };
    play.run(session)
}
