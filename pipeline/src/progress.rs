//! What a run shows while it works: progress bars on a terminal, JSON lines
//! on stderr for log collectors when there is no TTY or `--quiet` is given.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes.
#[derive(Debug, Clone)]
pub struct Progress {
    bars: Option<MultiProgress>,
    json: bool,
}

impl Progress {
    /// Bars when stdout is a terminal and not quiet; JSON lines otherwise.
    pub fn new(quiet: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let bars = (tty && !quiet).then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Progress { bars, json: !tty || quiet }
    }

    /// Nothing shown at all (library use, tests).
    pub fn silent() -> Self {
        Progress { bars: None, json: false }
    }

    /// A bar of `len` steps; hidden without a terminal.
    pub fn bar(&self, len: u64, prefix: &str) -> ProgressBar {
        match &self.bars {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(len));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(prefix.to_owned());
                bar.enable_steady_tick(Duration::from_millis(250));
                bar
            }
            None => ProgressBar::hidden(),
        }
    }

    /// One structured event: a JSON line on stderr in JSON mode.
    pub fn event(&self, value: &serde_json::Value) {
        if self.json {
            eprintln!("{value}");
        }
    }

    /// A line for people, on stdout, unless in JSON mode.
    pub fn say(&self, line: &str) {
        if self.json {
            return;
        }
        match &self.bars {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => println!("{line}"),
        }
    }
}
