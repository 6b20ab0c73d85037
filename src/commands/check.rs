//! `pbxsim check`: conformance checks over captured events.

use crate::cli::*;
use crate::output::*;
use pbxsim::check::{CheckerConfig, Violation};
use pbxsim::event::EventTypeSet;
use std::process::ExitCode;

impl CheckFlags {
    pub(crate) fn config(&self) -> CheckerConfig {
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

pub(crate) fn check(args: CheckArgs) -> ExitCode {
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
pub(crate) fn not_a_capture_help(name: &str) -> String {
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
