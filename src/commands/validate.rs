//! `pbxsim validate`: check scenario files and say what they hold.

use crate::cli::*;
use crate::commands::*;
use crate::error_reporting::*;
use crate::output::*;
use std::path::PathBuf;
use std::process::ExitCode;

pub(crate) fn validate(files: &[PathBuf], output: OutputFormat) -> ExitCode {
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
