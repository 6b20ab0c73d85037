//! The library's front door: play `scenarios/quickstart.toml` through [`pbxsim::Session`]
//! against the built-in receiver, print the outcome, and exit non-zero unless it is OK.
//!
//! ```text
//! cargo run --example session
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let scenario = match pbxsim::Scenario::load("scenarios/quickstart.toml") {
        Ok(scenario) => scenario,
        Err(diagnostic) => {
            eprintln!("{}", diagnostic.render(false));
            return ExitCode::from(2);
        }
    };
    // As fast as the receiver allows; no target, so the built-in receiver takes the events and
    // checks each call against the vendor document.
    let session = match pbxsim::Session::scripted(scenario, pbxsim::ScriptedOptions::asap()) {
        Ok(session) => session,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit().into();
        }
    };
    match session.run_blocking(&mut pbxsim::session::Quiet) {
        Ok(outcome) => {
            print!("{outcome}");
            outcome.exit.into()
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit().into()
        }
    }
}
