//! `pbxsim run` and `pbxsim call`: a scenario's scripted calls, or one whole call, played
//! to a target or to the built-in receiver.

use crate::cli::*;
use crate::commands::*;
use crate::error_reporting::*;
use crate::output::*;
use pbxsim::deliver::{self, Pacing};
use pbxsim::event::EventType;
use pbxsim::receiver::{self, Output, PrintMode};
use pbxsim::report;
use pbxsim::scenario::Scenario;
use pbxsim::scenario::chaos::Chaos;
use std::io::IsTerminal;
use std::path::PathBuf;
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
    scenario: &std::sync::Arc<Scenario>,
    options: pbxsim::engine::Options,
    envelope: bool,
    endpoints: &deliver::Overrides,
    chaos: Option<Chaos>,
    truth: Option<&std::path::Path>,
) -> ExitCode {
    let format = if envelope {
        pbxsim::deliver::dry_run::DryRunFormat::Envelope
    } else {
        pbxsim::deliver::dry_run::DryRunFormat::Body
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
        (None, None) => pbxsim::deliver::dry_run::write_ndjson(
            scenario, &timeline, engine, format, endpoints, &mut out,
        ),
        (None, Some(chaos)) => {
            let events = deliver::with_ended_calls(engine);
            pbxsim::deliver::dry_run::write_ndjson_chaos(
                scenario, &timeline, events, &chaos, format, endpoints, &mut out,
            )
        }
        (Some(recorder), None) => {
            let events = deliver::with_truth(engine, recorder).filter_map(|f| match f {
                deliver::Feed::Event(e) => Some(e),
                deliver::Feed::CallEnded(_) => None,
            });
            pbxsim::deliver::dry_run::write_ndjson(
                scenario, &timeline, events, format, endpoints, &mut out,
            )
        }
        (Some(recorder), Some(chaos)) => {
            let events = deliver::with_truth(engine, recorder);
            pbxsim::deliver::dry_run::write_ndjson_chaos(
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

/// Sending a scenario's events: to a target, or to the built-in receiver when there is none.
pub(crate) struct Play {
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
    pub(crate) fn run(self, scenario: std::sync::Arc<Scenario>) -> ExitCode {
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
        if let Err(e) = pbxsim::fd_limit::check_fd_limit(opts.concurrency, endpoints, builtin) {
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
            let length =
                pbxsim::session::play::wall_length(self.preview.last_at, self.pacing.speed());
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
            let options = pbxsim::session::play::PlayOptions {
                engine: pbxsim::engine::Options::new(self.seed, self.anchor.start),
                deliver: opts.clone(),
                sample_every: Duration::from_secs(1).min(self.outputs.progress_every),
                length,
            };
            let delivered = pbxsim::session::play::play(
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
            let mut code = summary.exit(self.delivery.allow_failures).code();
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
