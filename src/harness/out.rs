//! What the chapter binaries print, and how it ends when nobody reads it.
//!
//! A reader who pipes a binary into `head -1` closes the pipe after one line; Rust's
//! `println!` then panics ("failed printing to stdout: Broken pipe"). The binaries print
//! with [`outln!`](crate::outln) instead, which ends the program at once, quietly, with
//! exit code 0: the reader has what they wanted.

use serde_json::Value;

use crate::error::{Error, Result};

/// Prints `value` as one line of JSON on stdout.
pub fn print_json(value: &Value) -> Result<()> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Runtime(format!("the summary could not be written as JSON: {e}")))?;
    crate::outln!("{text}");
    Ok(())
}

/// Writes `line` and a newline on stdout. A reader who stops reading (`… | head -1`)
/// closes the pipe: the program then ends at once, quietly, with exit code 0, rather
/// than panic as `println!` does. Any other failure to write stdout (a full disk under
/// a redirect) is reported on stderr and ends the program with exit code 1.
pub fn write_stdout(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        write_stderr(format_args!("could not write to stdout: {e}"));
        std::process::exit(1);
    }
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
