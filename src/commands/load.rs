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

pub(crate) fn load(args: LoadArgs) -> ExitCode {
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
        pbxsim::fd_limit::check_fd_limit(deliver.concurrency, endpoint_count, builtin_receiver)
    {
        return usage_error(e);
    }
    let options = pbxsim::engine::load_plan::LoadOptions {
        seed: engine_opts.seed,
        start: engine_opts.start,
        speed: args.speed,
        asap: args.asap,
        rate: args.rate,
        arrivals: args.arrivals.map(|a| match a {
            ArrivalsArg::Poisson => pbxsim::scenario::traffic::Arrivals::Poisson,
            ArrivalsArg::Uniform => pbxsim::scenario::traffic::Arrivals::Uniform,
        }),
        duration: args.duration,
        drain: args.drain,
        max_calls: args.max_calls,
        max_events: args.max_events,
        sample_every: Duration::from_secs(1).min(args.progress_every),
    };
    let mut plan = match pbxsim::engine::load_plan::plan(scenario, &spec, options) {
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
            let (horizon, exact) = pbxsim::engine::load_plan::horizon(&plan);
            let speed = (!plan.options.asap).then_some(plan.options.speed);
            let lead = pbxsim::time::lead_for(horizon, speed);
            pbxsim::time::Anchor::back_from(chrono::Utc::now(), lead, exact.then_some(horizon))
        }
    };
    plan.options.start = anchor.start;
    deliver.clock_lead = anchor.lead();
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
            let deliver = &deliver;
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
        let on_sample = |sample: &pbxsim::deliver::Sample| {
            progress.update(sample);
            if let Some(s) = series.as_mut()
                && let Err(e) = s.row(sample)
            {
                csv_error.get_or_insert(e.to_string());
            }
        };
        let truth = recorder.as_mut();
        let result = pbxsim::session::load::run_with_truth(
            &plan,
            &deliver,
            &endpoints,
            cancel.clone(),
            on_sample,
            truth,
        )
        .await;
        progress.finish();
        let mut report = match result {
            Ok(r) => r,
            Err(pbxsim::session::load::LoadError::Runaway(r)) => return runaway_error(&r),
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
        let mut code = report.exit(thresholds_failed, args.delivery.allow_failures).code();
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
