//! The `pbxsim` binary: parse the command line and hand over to the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
