//! Standard output and error of every command: a closed pipe (`pbxsim run … | head -1`) stops
//! the printing, never panics, and leaves the exit code to the command. The macros here shadow
//! std's `print!`, `println!`, `eprint!` and `eprintln!` in every module declared after this
//! one (`#[macro_use]` in `main.rs`).

macro_rules! print {
    ($($arg:tt)*) => { crate::output::write_stdout(format_args!($($arg)*)) };
}
macro_rules! println {
    () => { crate::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
macro_rules! eprint {
    ($($arg:tt)*) => { crate::output::write_stderr(format_args!($($arg)*)) };
}
macro_rules! eprintln {
    () => { crate::output::write_stderr(format_args!("\n")) };
    ($($arg:tt)*) => { crate::output::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Set once stdout is gone (a closed pipe, or another write error): nothing more is printed.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to stdout and flushes; once stdout is closed (`| head -1`), writes nothing more. Any
/// other write error is said once on stderr.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if !STDOUT_CLOSED.swap(true, Ordering::Relaxed)
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            write_stderr(format_args!("pbxsim: cannot write to standard output: {e}\n"));
        }
    }
}

/// Writes to stderr; a closed stderr is not an error.
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Whether diagnostics on stderr may use color: only on a terminal, and never with `NO_COLOR`.
pub fn stderr_color() -> bool {
    crate::color::enabled(crate::color::Stream::Stderr)
}

/// Prints a line to stdout; a closed pipe (`pbxsim schema scenario | head`) is not an error.
pub(crate) fn print_stdout(line: &str) {
    println!("{line}");
}

/// `1 call`, `2 calls`.
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    pbxsim::deliver::plural(n, one, many)
}
