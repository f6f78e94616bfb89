//! What the chapter binaries print, and how it ends when nobody reads it.
//!
//! A reader who pipes a binary into `head -1` closes the pipe after one line; Rust's
//! `println!` then panics ("failed printing to stdout: Broken pipe"). The binaries print
//! with [`outln!`](crate::outln) instead: once the reader is gone, it prints nothing
//! more, quietly, and the program finishes what it was doing (a diagram it was asked to
//! write is written) and ends with the exit code its run earns: 0 when every property
//! held.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::error::{Error, Result};

/// Prints `value` as one line of JSON on stdout.
pub fn print_json(value: &Value) -> Result<()> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Runtime(format!("the summary could not be written as JSON: {e}")))?;
    crate::outln!("{text}");
    Ok(())
}

/// Whether the reader of stdout has gone (closed the pipe): nothing more is printed.
static READER_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `line` and a newline on stdout. A reader who stops reading (`… | head -1`)
/// closes the pipe: from then on nothing more is printed, quietly, rather than panic as
/// `println!` does, and the program goes on to its end. Any other failure to write
/// stdout (a full disk under a redirect) is reported on stderr, once, and printing
/// stops too.
pub fn write_stdout(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if READER_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        READER_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            write_stderr(format_args!("could not write to stdout: {e}"));
        }
    }
}

/// Whether a reader of stdout went away during the run (see [`write_stdout`]).
pub fn reader_gone() -> bool {
    READER_GONE.load(Ordering::Relaxed)
}

/// Writes `line` and a newline on stderr; a closed stderr is ignored (there is nowhere
/// left to say anything).
pub fn write_stderr(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `println!` for the chapter binaries, quiet when the reader closes the pipe (see
/// [`write_stdout`](crate::harness::out::write_stdout)).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::harness::out::write_stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (see [`write_stderr`](crate::harness::out::write_stderr)).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::harness::out::write_stderr(format_args!($($arg)*))
    };
}
