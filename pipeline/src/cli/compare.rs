//! `temper compare <run-dir>... [--baseline DIR] [--format ...] [--html FILE] [--fail-if ...]`.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::compare::{self, Format, Gate, GateOutcome};
use crate::exit::GateFailed;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run directories to compare.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The run deltas are measured against (default: the first).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Output format.
    #[arg(long, default_value = "md", value_parser = ["md", "csv", "json"])]
    format: String,
    /// Fail (exit 1) when a metric's change in points trips this, e.g.
    /// "clean_accuracy < -0.5". Repeatable.
    #[arg(long = "fail-if", value_name = "EXPR")]
    fail_if: Vec<String>,
    /// Also write the comparison as an HTML page with charts.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let gates = args.fail_if.iter().map(|e| e.parse::<Gate>()).collect::<Result<Vec<_>, _>>()?;
    let mut runs = Vec::new();
    if let Some(b) = &args.baseline {
        runs.push(compare::load(b)?);
    }
    for dir in &args.runs {
        if args.baseline.as_ref().is_some_and(|b| b == dir) {
            continue;
        }
        runs.push(compare::load(dir)?);
    }
    let format = match args.format.as_str() {
        "csv" => Format::Csv,
        "json" => Format::Json,
        _ => Format::Markdown,
    };
    print!("{}", compare::render(&runs, 0, format));
    if let Some(path) = &args.html {
        crate::run::write_atomic(path, compare::html(&runs, 0).as_bytes())
            .with_context(|| format!("--html: writing {}", path.display()))?;
    }
    let mut failures = Vec::new();
    for run in &runs[1..] {
        for gate in &gates {
            match gate.check(run, &runs[0]) {
                GateOutcome::Pass { .. } => {}
                GateOutcome::Fail { delta } => {
                    failures.push(format!("{}: `{gate}` (change {delta:+.2} points)", run.label))
                }
                GateOutcome::Missing => {
                    failures.push(format!("{}: `{gate}`: metric `{}` is missing", run.label, gate.metric))
                }
            }
        }
    }
    if gates.is_empty() {
        return Ok(());
    }
    if runs.len() < 2 {
        bail!("--fail-if needs a baseline and at least one more run");
    }
    if failures.is_empty() {
        eprintln!("all {} gate(s) passed", gates.len());
        Ok(())
    } else {
        Err(GateFailed(failures.join("; ")).into())
    }
}
