//! Progress on stderr for long work: an exhaustive search, a sweep of thousands of
//! seeds, an experiment of thousands of trials.
//!
//! Drawn only when stderr is a terminal: piped or redirected, nothing is printed, so a
//! `--json` summary on stdout, a log on stderr and the tests see exactly what they would
//! without it. The bar is [`indicatif`]'s, which redraws at most a few times a second.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar or spinner on stderr, or nothing when stderr is not a terminal.
/// Cleared when dropped.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `len` steps of `what` (`"seeds"`, `"trials"`).
    pub fn bar(len: u64, what: &str) -> Progress {
        Progress::shown(|| {
            let style = ProgressStyle::with_template(&format!(
                "{{spinner}} {{human_pos}}/{{human_len}} {what} [{{bar:30}}] {{eta}} left {{msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            ProgressBar::new(len).with_style(style)
        })
    }

    /// A spinner that counts `what` without knowing how many there will be (`"states"`).
    pub fn counter(what: &str) -> Progress {
        Progress::shown(|| {
            let style = ProgressStyle::with_template(&format!(
                "{{spinner}} {{human_pos}} {what} in {{elapsed}} {{msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            ProgressBar::new_spinner().with_style(style)
        })
    }

    /// Nothing at all, whatever stderr is.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    fn shown(make: impl FnOnce() -> ProgressBar) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = make();
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar: Some(bar) }
    }

    /// Whether anything is drawn.
    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// `n` more steps done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Sets how many steps are done.
    pub fn set(&self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
        }
    }

    /// Shows `text` after the figures (`"2 failed"`).
    pub fn note(&self, text: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.into());
        }
    }

    /// Prints `line` above the bar (a failing seed, say), or on stderr as it is when no
    /// bar is drawn.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => super::out::write_stderr(format_args!("{line}")),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
