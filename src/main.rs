//! The `pbxsim` binary: parse the command line and hand over to the library.

mod color;
#[macro_use]
mod output;
mod cli;
mod commands;
mod error_reporting;

/// jemalloc, like oha: the delivery path allocates a little per request, and glibc's allocator
/// costs measurably more there (see README "Performance").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    commands::main()
}
