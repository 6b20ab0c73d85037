//! The `pbxsim` binary: parse the command line and hand over to the library.

mod cli;
mod commands;

fn main() -> std::process::ExitCode {
    cli::main()
}
