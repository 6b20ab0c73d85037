//! `pbxsim report show FILE.json`: a saved report of `load` or `run` printed as the text its
//! run printed, and written again as HTML or JUnit; `pbxsim report merge A.json B.json …`:
//! load reports of parallel runs merged ([`pbxsim::report::merge`]); and what `load` and `run`
//! share to write their HTML report and list their settings.

use crate::cli::*;
use crate::commands::token_source;
use crate::error_reporting::*;
use crate::output::*;
use pbxsim::report::load_report::LoadReport;
use pbxsim::report::run::RunReport;
use pbxsim::report::settings::Setting;
use pbxsim::scenario::Scenario;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn report(command: ReportCommand) -> ExitCode {
    match command {
        ReportCommand::Show(args) => show(args),
        ReportCommand::Merge(args) => merge(args),
    }
}

/// A saved report, read and understood.
enum Saved {
    Load(Box<LoadReport>),
    Run(Box<RunReport>),
}

impl Saved {
    /// The report again as JSON, as the live run would have written it.
    fn value(&self) -> serde_json::Value {
        match self {
            Saved::Load(r) => serde_json::to_value(r),
            Saved::Run(r) => serde_json::to_value(r),
        }
        .expect("reports serialize")
    }
}

/// Reads `path` as a report of `load` or `run`; the error names the file (and the line and
/// column of a JSON syntax error).
fn read(path: &Path) -> Result<Saved, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "the JSON ends too early",
            _ => "this is not JSON",
        };
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        format!("{shown}:{}:{}: {what}: {message}", e.line(), e.column().max(1))
    })?;
    let Some(object) = value.as_object() else {
        return Err(format!(
            "{shown}: not a pbxsim report: the file holds JSON {}, not an object",
            kind_of(&value)
        ));
    };
    let version = object.get("version").and_then(|v| v.as_u64());
    let (kind, supported) = if object.contains_key("command") {
        ("run", pbxsim::report::run::RUN_REPORT_VERSION)
    } else if object.contains_key("compression") || object.contains_key("model") {
        ("load", pbxsim::report::load_report::REPORT_VERSION)
    } else {
        return Err(format!(
            "{shown}: not a pbxsim report: it has neither `command` (a report of `run`) nor \
             `model` (a report of `load`); write one with `pbxsim load --report FILE` or \
             `pbxsim run FILE --report OUT.json`"
        ));
    };
    if version.is_some_and(|v| v > u64::from(supported)) {
        return Err(format!(
            "{shown}: a {kind} report of version {}, newer than this pbxsim reads ({supported}); \
             upgrade pbxsim",
            version.unwrap_or_default()
        ));
    }
    let bad = |e: serde_json::Error| format!("{shown}: not a pbxsim {kind} report: {e}");
    match kind {
        "run" => Ok(Saved::Run(Box::new(serde_json::from_value(value).map_err(bad)?))),
        _ => {
            let mut report: LoadReport = serde_json::from_value(value).map_err(bad)?;
            report.wording = WORDING;
            Ok(Saved::Load(Box::new(report)))
        }
    }
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn show(args: ReportShowArgs) -> ExitCode {
    let saved = match read(&args.file) {
        Ok(saved) => saved,
        Err(message) => return usage_error(message),
    };
    for path in args.html.iter().chain(&args.junit) {
        if let Err(e) = std::fs::File::create(path) {
            return usage_error(format!("cannot write {}: {e}", path.display()));
        }
    }
    if !args.quiet {
        let text = match &saved {
            Saved::Load(r) => r.text(),
            Saved::Run(r) => r.text(),
        };
        print_stdout(text.trim_end_matches('\n'));
    }
    if let Some(path) = &args.html
        && let Err(e) = write_html(path, &saved.value())
    {
        return usage_error(e);
    }
    if let Some(path) = &args.junit {
        let (suite, thresholds) = match &saved {
            Saved::Load(r) => (format!("pbxsim load {}", r.scenario), &r.thresholds),
            Saved::Run(r) => (format!("pbxsim {} {}", r.command, r.scenario), &r.thresholds),
        };
        let verdicts = pbxsim::report::verdict::verdicts_from_json(thresholds);
        if let Err(e) = std::fs::write(path, pbxsim::report::junit(&suite, &verdicts)) {
            return usage_error(format!("cannot write {}: {e}", path.display()));
        }
    }
    ExitCode::SUCCESS
}

fn merge(args: ReportMergeArgs) -> ExitCode {
    let mut reports = Vec::new();
    for path in &args.files {
        match read(path) {
            Ok(Saved::Load(r)) => reports.push((path.display().to_string(), *r)),
            Ok(Saved::Run(_)) => {
                return usage_error(format!(
                    "{}: a report of `run`; `report merge` merges reports of `load` runs",
                    path.display()
                ));
            }
            Err(message) => return usage_error(message),
        }
    }
    let merged = match pbxsim::report::merge::merge(&reports, &args.thresholds) {
        Ok(m) => m,
        Err(e) => return merge_error(&e),
    };
    if let Some(path) = &args.out {
        let text = serde_json::to_string_pretty(&merged.report).expect("reports serialize");
        if let Err(e) = std::fs::write(path, text + "\n") {
            return usage_error(format!("cannot write {}: {e}", path.display()));
        }
    }
    if !args.quiet {
        print_stdout(merged.report.text().trim_end_matches('\n'));
    }
    merged.exit.into()
}

/// Writes the HTML report of `report` (a report's JSON) to `path`.
pub(crate) fn write_html(path: &Path, report: &serde_json::Value) -> Result<(), String> {
    std::fs::write(path, pbxsim::report::html::html_in(report, &WORDING))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// What `run` and `load` were told to do with their events, for the reports' settings: the
/// target and routes (secrets masked), where the token came from (never the token), the names
/// of extra headers (never their values), delivery, chaos, the service level and thresholds.
pub(crate) struct SettingsInput<'a> {
    pub scenario: &'a Scenario,
    /// The scenario file, when there is one.
    pub file: Option<&'a Path>,
    pub target: Option<&'a str>,
    pub token_given: bool,
    pub routes: &'a [(pbxsim::event::EventType, String)],
    pub delivery: &'a DeliveryArgs,
    pub chaos: Option<&'a pbxsim::scenario::chaos::Chaos>,
    pub reports: &'a ReportArgs,
    pub thresholds: &'a [pbxsim::report::Threshold],
}

pub(crate) fn settings(input: &SettingsInput<'_>) -> Vec<Setting> {
    let s = input.scenario;
    let mut out = Vec::new();
    out.push(Setting::new(
        "scenario file",
        input.file.map_or("none (the built-in PBX)".to_string(), |p| p.display().to_string()),
    ));
    match input
        .target
        .map(str::to_string)
        .or_else(|| s.webhook.url.as_ref().map(|u| u.expose().to_string()))
    {
        Some(url) => out.push(Setting::url("target", &url)),
        None => out.push(Setting::new("target", "the built-in receiver")),
    }
    let mut routes: Vec<(String, String)> =
        s.webhook.routes.iter().map(|(t, u)| (t.to_string(), u.expose().to_string())).collect();
    for (t, u) in input.routes {
        routes.retain(|(name, _)| name != t.as_str());
        routes.push((t.to_string(), u.clone()));
    }
    for (t, url) in routes {
        out.push(Setting::url(format!("route {t}"), &url));
    }
    let token = match (input.token_given, token_source()) {
        (true, pbxsim::deliver::TokenSource::Flag) => "from --token (not shown)",
        (true, _) => "from PBXSIM_TOKEN (not shown)",
        (false, _) if !s.webhook.token.is_empty() => "from the file's [webhook] token (not shown)",
        (false, _) => "none",
    };
    out.push(Setting::new("token", token));
    let headers: Vec<&str> = s.webhook.headers.iter().map(|(name, _)| name.as_str()).collect();
    if !headers.is_empty() {
        out.push(Setting::new("headers (values not shown)", headers.join(", ")));
    }
    let d = input.delivery;
    out.push(Setting::new("concurrency", d.concurrency));
    out.push(Setting::new("timeout", format!("{:?}", d.timeout)));
    out.push(Setting::new("retries", d.retries));
    out.push(Setting::new("retry on", d.retry_on));
    if d.stop_call_on_failure {
        out.push(Setting::new("stop call on failure", "yes"));
    }
    if d.allow_failures {
        out.push(Setting::new("allow failures", "yes"));
    }
    if d.insecure {
        out.push(Setting::new("insecure TLS", "yes"));
    }
    if let Some(chaos) = input.chaos {
        out.push(Setting::new("chaos", chaos));
    }
    out.push(Setting::new(
        "service level",
        format!("answered within {:?}", input.reports.service_level),
    ));
    let thresholds: Vec<String> =
        s.expect.iter().chain(input.thresholds).map(|t| t.to_string()).collect();
    if !thresholds.is_empty() {
        out.push(Setting::new("thresholds", thresholds.join(", ")));
    }
    out
}
