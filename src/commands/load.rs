//! `pbxsim load`: generated traffic at a target call rate, with a report and thresholds.

use crate::cli::*;
use crate::commands::*;
use crate::error_reporting::*;
use crate::output::*;
use pbxsim::deliver::{self, Pacing};
use pbxsim::receiver::{Output, PrintMode};
use pbxsim::scenario::Scenario;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use pbxsim::Exit;
use pbxsim::engine::load_plan::LoadOptions;
use pbxsim::report::load_report::receiver_section;
use pbxsim::scenario::traffic::Arrivals;
use pbxsim::session::{
    Observer, ReceiverView, Session, SessionError, SessionOptions, Started, truth_file,
};

/// The scenario and traffic of a load run: FILE's, or the built-in mid-size PBX.
pub(crate) fn load_traffic(
    args: &LoadArgs,
) -> Result<(Scenario, pbxsim::scenario::traffic::TrafficSpec, bool), ExitCode> {
    let Some(path) = &args.file else {
        let mut spec = pbxsim::scenario::builtin_pbx::midsize_traffic();
        if args.rate.is_none() {
            spec.rate = Some(format!("{}/s", pbxsim::engine::load_plan::BUILTIN_RATE));
            spec.stages = None;
        }
        return Ok((pbxsim::scenario::builtin_pbx::midsize(), spec, true));
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
        None if args.rate.is_some() => pbxsim::scenario::traffic::TrafficSpec::default(),
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

/// The flags of `load` that only matter when events are sent or a report is written.
const NOT_IN_A_DRY_RUN: [(&str, &str); 17] = [
    ("concurrency", "--concurrency"),
    ("timeout", "--timeout"),
    ("retries", "--retries"),
    ("retry_on", "--retry-on"),
    ("stop_call_on_failure", "--stop-call-on-failure"),
    ("insecure", "--insecure"),
    ("failed", "--failed"),
    ("allow_failures", "--allow-failures"),
    ("verbose", "--verbose"),
    ("max_calls_in_flight", "--max-calls-in-flight"),
    ("report", "--report"),
    ("junit", "--junit"),
    ("stats_csv", "--stats-csv"),
    ("html", "--html"),
    ("thresholds", "--threshold"),
    ("ui", "--ui"),
    ("output", "--output"),
];

pub(crate) fn load(args: LoadArgs) -> ExitCode {
    if args.dry_run
        && let Err(code) = refuse(
            &NOT_IN_A_DRY_RUN,
            "--dry-run writes the events, sends nothing and measures nothing",
        )
    {
        return code;
    }
    let (mut scenario, spec, builtin_pbx) = match load_traffic(&args) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if let Err(code) = args.delivery.apply_headers(&mut scenario) {
        return code;
    }
    args.semantics.apply(&mut scenario);
    let seed = args.seed.unwrap_or(scenario.seed);
    let mut deliver = args.delivery.options(Pacing::Asap);
    deliver.max_calls_in_flight = args.max_calls_in_flight.map(|n| n as usize);
    deliver.chaos = args.chaos.chaos(scenario.chaos.as_ref(), seed);
    let mut settings = super::report::settings(&super::report::SettingsInput {
        scenario: &scenario,
        file: args.file.as_deref(),
        target: args.target.as_deref(),
        token_given: args.token.is_some(),
        routes: &args.routes,
        delivery: &args.delivery,
        chaos: deliver.chaos.as_ref(),
        reports: &args.reports,
        thresholds: &args.thresholds,
    });
    if let Some(n) = args.max_calls {
        settings.push(pbxsim::report::settings::Setting::new("max calls", n));
    }
    if let Some(n) = args.max_events {
        settings.push(pbxsim::report::settings::Setting::new("max events", n));
    }
    if args.tenants > 1 {
        settings.push(pbxsim::report::settings::Setting::new("tenants", args.tenants));
    }
    let shard = match (args.shard, args.shards) {
        (Some(shard), _) => Some(shard),
        (None, Some(count)) => match job_completion_index(count) {
            Ok(shard) => Some(shard),
            Err(message) => return usage_error(message),
        },
        (None, None) => None,
    };
    if let Some(shard) = shard {
        settings.push(pbxsim::report::settings::Setting::new("shard", shard));
    }
    if let Some(a) = args.arrivals {
        settings.push(pbxsim::report::settings::Setting::new(
            "arrivals",
            format!("{a:?}").to_lowercase(),
        ));
    }
    let options = LoadOptions {
        seed,
        speed: args.speed,
        asap: args.asap,
        rate: args.rate,
        arrivals: args.arrivals.map(|a| match a {
            ArrivalsArg::Poisson => Arrivals::Poisson,
            ArrivalsArg::Uniform => Arrivals::Uniform,
        }),
        duration: args.duration,
        drain: args.drain,
        max_calls: args.max_calls,
        max_events: args.max_events,
        sample_every: Duration::from_secs(1).min(args.progress_every),
        tenants: args.tenants,
        shard,
        ..LoadOptions::default()
    };
    if let Some(at) = args.start_at
        && at - chrono::Utc::now() > chrono::Duration::hours(24)
    {
        return usage_error(format!(
            "--start-at {} is more than 24 hours away: give the common start of a run about to \
             begin, a few minutes ahead",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    let session = match Session::load(scenario, &spec, options, args.start_time, args.start_at) {
        Ok(session) => session,
        Err(SessionError::Plan(e)) => {
            let source = match &args.file {
                Some(p) => format!("{}: ", p.display()),
                None => String::new(),
            };
            return usage_error(format!("{source}{e}"));
        }
        Err(e) => return session_error(&e),
    };
    if args.dry_run {
        let overrides = overrides(args.target.as_deref(), args.token.as_deref(), &args.routes);
        return dry_run(session, &args, overrides, deliver.chaos);
    }
    let series = match &args.stats_csv {
        Some(path) => match std::fs::File::create(path)
            .and_then(|f| pbxsim::report::series::Series::new(std::io::BufWriter::new(f)))
        {
            Ok(s) => Some(s),
            Err(e) => return usage_error(format!("cannot write {}: {e}", path.display())),
        },
        None => None,
    };
    for path in args.report.iter().chain(&args.junit).chain(&args.reports.html) {
        if let Err(e) = std::fs::File::create(path) {
            return usage_error(format!("cannot write {}: {e}", path.display()));
        }
    }
    let Some(plan) = session.plan() else { unreachable!("a load session") };
    let o = &plan.options;
    let what = match builtin_pbx {
        true => "the built-in mid-size PBX".to_string(),
        false => plan.scenario.name.clone(),
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
    let mut header = format!("load: {what} {how}, seed {}", o.seed);
    if o.tenants > 1 {
        header.push_str(&format!(", {} tenants", o.tenants));
    }
    if let Some(shard) = o.shard {
        header.push_str(&format!(", playing shard {shard}"));
    }
    let mut clock =
        format!("load: PBX clock {}", session.anchor().describe(plan.scenario.utc_offset));
    if let Some(at) = args.start_at {
        let ahead = at > chrono::Utc::now();
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        match ahead {
            true => clock.push_str(&format!("\nload: waiting for the common start at {at}")),
            false => {
                clock.push_str(&format!("\nload: the common start {at} has passed: starting now"))
            }
        }
    }
    let json = args.output == OutputFormat::Json;
    let rt = runtime();
    rt.block_on(async move {
        let cancel = stop_token();
        let options = SessionOptions {
            overrides: overrides(args.target.as_deref(), args.token.as_deref(), &args.routes),
            deliver,
            thresholds: args.thresholds.clone(),
            allow_failures: args.delivery.allow_failures,
            sample_every: Duration::from_secs(1).min(args.progress_every),
            cancel: cancel.clone(),
            receiver: ReceiverView {
                print: PrintMode::Quiet,
                color: false,
                // With --output json, stdout holds the report alone.
                output: match json {
                    true => Output::new(std::io::stderr()),
                    false => Output::stdout(),
                },
                ui: args.ui,
                no_token_note: crate::error_reporting::NO_TOKEN_NOTE.to_string(),
            },
            service_level: args.reports.service_level,
        };
        let mut session = session.with_options(options);
        if let Some(path) = &args.truth {
            match truth_file(path) {
                Ok(file) => session = session.with_truth(file),
                Err(e) => return session_error(&e),
            }
        }
        let terminal = std::io::stderr().is_terminal();
        // -v's lines on a terminal take the place of the progress bar.
        let progress = match args.quiet || (args.delivery.verbose && terminal) {
            true => pbxsim::report::progress::Progress::Off,
            false => pbxsim::report::progress::Progress::new(terminal, args.progress_every),
        };
        let mut view = LoadView { header, clock, progress, series, csv_error: None };
        let outcome = session.run(&mut view).await;
        view.progress.finish();
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => return session_error(&e),
        };
        let Some(report) = outcome.load_report() else { unreachable!("a load session") };
        let mut report = report.clone();
        report.settings = settings;
        report.receiver_text = outcome.receiver.as_ref().map(|stats| stats.to_string());
        report.expected_incomplete = outcome.expected_incomplete;
        let report = &report;
        if !json {
            print!("{}", report.render());
        }
        let mut exit = outcome.exit;
        print_truth(outcome.truth.as_ref(), args.truth.as_deref());
        if let Some(why) = report.no_calls() {
            eprintln!("error: no call started: {why}");
        }
        if let Some(path) = &args.junit {
            let xml = pbxsim::report::junit(
                &format!("pbxsim load {}", report.scenario),
                &outcome.verdicts,
            );
            if let Err(e) = std::fs::write(path, xml) {
                eprintln!("error: cannot write {}: {e}", path.display());
                exit = exit.and(Exit::Failed);
            }
        }
        print_unreachable(report.unreachable.clone(), exit);
        let mut csv_error = view.csv_error.take();
        if let Some(series) = view.series.take()
            && let Err(e) = series.finish()
        {
            csv_error.get_or_insert(e.to_string());
        }
        if let (Some(path), Some(e)) = (&args.stats_csv, csv_error) {
            eprintln!("error: cannot write {}: {e}", path.display());
            exit = exit.and(Exit::Failed);
        }
        let text = serde_json::to_string_pretty(report).expect("reports serialize");
        if let Some(path) = &args.report
            && let Err(e) = std::fs::write(path, text.clone() + "\n")
        {
            eprintln!("error: cannot write {}: {e}", path.display());
            exit = exit.and(Exit::Failed);
        }
        if let Some(path) = &args.reports.html {
            let value = serde_json::to_value(report).expect("reports serialize");
            if let Err(e) = super::report::write_html(path, &value) {
                eprintln!("error: {e}");
                exit = exit.and(Exit::Failed);
            }
        }
        if json {
            print_stdout(&text);
        }
        if let Some(stats) = &report.receiver_text {
            let section = receiver_section(stats, report.expected_incomplete);
            match json {
                true => eprint!("{section}"),
                false => print!("{section}"),
            }
        }
        exit.into()
    })
}

/// What `load` shows while the session plays: the header on stderr, then progress, and the
/// `--stats-csv` rows.
struct LoadView {
    header: String,
    clock: String,
    progress: pbxsim::report::progress::Progress,
    series: Option<pbxsim::report::series::Series<std::io::BufWriter<std::fs::File>>>,
    csv_error: Option<String>,
}

impl Observer for LoadView {
    fn started(&mut self, started: &Started) {
        if let Some(url) = &started.inspector {
            eprintln!("inspector: {url}  (open it in a browser)");
        }
        match &started.builtin_receiver {
            Some(url) => eprintln!(
                "{}; no target given: sending to the built-in receiver at {url}",
                self.header
            ),
            None => eprintln!("{}", self.header),
        }
        eprintln!("{}", self.clock);
    }

    fn sample(&mut self, sample: &deliver::Sample) {
        self.progress.update(sample);
        if let Some(s) = self.series.as_mut()
            && let Err(e) = s.row(sample)
        {
            self.csv_error.get_or_insert(e.to_string());
        }
    }

    fn inspector_open(&mut self, url: &str) {
        self.progress.finish();
        // Diagnostics, like the header: stdout holds the report alone.
        eprintln!("{}", inspector_open_line(url));
    }
}

/// `load --dry-run`: the session's events as NDJSON on stdout or in `--out FILE`, sending
/// nothing.
fn dry_run(
    session: Session,
    args: &LoadArgs,
    overrides: deliver::Overrides,
    chaos: Option<pbxsim::scenario::chaos::Chaos>,
) -> ExitCode {
    let mut options = SessionOptions { overrides, ..SessionOptions::default() };
    options.deliver.chaos = chaos;
    let mut session = session.with_options(options);
    if let Some(path) = &args.truth {
        match truth_file(path) {
            Ok(file) => session = session.with_truth(file),
            Err(e) => return session_error(&e),
        }
    }
    let sink: Box<dyn std::io::Write> = match &args.dry_run_out {
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => Box::new(file),
            Err(e) => return usage_error(format!("cannot write {}: {e}", path.display())),
        },
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, sink);
    let done = match session.dry_run(args.envelope, &mut out) {
        Ok(done) => done,
        Err(e) => return session_error(&e),
    };
    drop(out);
    if let Err(e) = &done.written {
        let shown =
            args.dry_run_out.as_ref().map_or("the events".into(), |p| p.display().to_string());
        eprintln!("error: cannot write {shown}: {e}");
    }
    print_truth(done.truth.as_ref(), args.truth.as_deref());
    done.exit.into()
}

/// `--shards N`: the shard of the 0-based `JOB_COMPLETION_INDEX` that a Kubernetes Indexed Job
/// (or another batch scheduler) sets, or what to do.
fn job_completion_index(count: u32) -> Result<pbxsim::engine::load_plan::Shard, String> {
    let Some(raw) = std::env::var_os("JOB_COMPLETION_INDEX") else {
        return Err(format!(
            "--shards {count} takes the shard from JOB_COMPLETION_INDEX, which is not set: run \
             it in an Indexed Job, set JOB_COMPLETION_INDEX=0..{} yourself, or pass --shard K/{count}",
            count.saturating_sub(1)
        ));
    };
    let text = raw.to_string_lossy();
    let index: u32 = text.trim().parse().map_err(|_| {
        format!("JOB_COMPLETION_INDEX={text:?} is not an index: it must be 0 to {}", count - 1)
    })?;
    if index >= count {
        return Err(format!(
            "JOB_COMPLETION_INDEX={index} with --shards {count}: the index must be 0 to {} \
             (completions and --shards must agree)",
            count - 1
        ));
    }
    pbxsim::engine::load_plan::Shard::from_index(index, count).map_err(|e| e.to_string())
}
