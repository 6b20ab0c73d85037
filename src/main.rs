//! The `pbxsim` binary: parse the command line and hand over to the library.

mod color;
#[macro_use]
mod output;
mod cli;
mod commands;
mod error_reporting;

fn main() -> std::process::ExitCode {
    commands::main()
}
