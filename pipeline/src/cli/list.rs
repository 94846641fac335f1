//! `temper list`: the perturbation catalog with severity tables, and the
//! named corruption suites of each modality.

use augment::catalog::{self, Modality, OpInfo, Purpose};
use augment::suite::{SUITES, Suite};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this modality (`image` or `text`).
    #[arg(long, value_parser = ["image", "text"])]
    modality: Option<String>,
    /// Operation names only, one per line (no suites).
    #[arg(long)]
    names: bool,
}

/// Suite op lists are wrapped to this many columns.
const WRAP: usize = 100;

pub fn run(args: Args) -> anyhow::Result<()> {
    let wanted = |m: Modality| match args.modality.as_deref() {
        Some("image") => m == Modality::Image,
        Some("text") => m == Modality::Text,
        _ => true,
    };
    let all = catalog::all();
    for modality in [Modality::Image, Modality::Text].into_iter().filter(|&m| wanted(m)) {
        let ops = all.iter().filter(|op| op.modality == modality);
        if args.names {
            ops.for_each(|op| println!("{}", op.name));
            continue;
        }
        let title = if modality == Modality::Image { "Image operations" } else { "Text operations" };
        println!("\n{title}\n{}", "=".repeat(title.len()));
        ops.for_each(print_op);
        let mut suites = SUITES.iter().filter(|s| s.modality == modality).peekable();
        if suites.peek().is_some() {
            println!("\nSuites\n------");
            suites.for_each(print_suite);
        }
    }
    Ok(())
}

/// An operation's name, purpose, summary and severity table, or each of
/// its benchmark tables (`eval.corruption-table` picks one).
fn print_op(op: &OpInfo) {
    let purpose = if op.purpose == Purpose::Corruption { "corruption" } else { "augmentation" };
    println!("\n{} ({purpose}): {}", op.name, op.summary);
    let names =
        op.params.iter().map(|p| p.name).chain(op.tables.iter().flat_map(|t| t.rows.iter().map(|r| r.name)));
    let width = names.map(str::len).max().unwrap_or(0).max(9);
    let line = |name: &str, v: [String; 5]| {
        println!("  {name:width$}  {:>8} {:>8} {:>8} {:>8} {:>8}", v[0], v[1], v[2], v[3], v[4]);
    };
    let header = || line("severity", [1, 2, 3, 4, 5].map(|s: u8| s.to_string()));
    if !op.params.is_empty() {
        header();
        for p in op.params {
            line(p.name, p.values.map(str::to_owned));
        }
    }
    for t in op.tables {
        let only = t
            .benchmark_severity
            .map(|s| format!(" (the published set uses severity {s})"))
            .unwrap_or_default();
        println!("  {}{only}: {}", t.table.name(), t.table.summary());
        header();
        for r in t.rows {
            line(r.name, r.values.map(|v| format!("{v}")));
        }
    }
}

/// A suite's name and summary, then its operations in report order,
/// comma-separated and wrapped.
fn print_suite(suite: &Suite) {
    println!("\n{} ({} ops): {}", suite.name, suite.ops.len(), suite.summary);
    let mut line = String::from(" ");
    for (i, op) in suite.ops.iter().enumerate() {
        let sep = if i + 1 < suite.ops.len() { "," } else { "" };
        if line.len() > 2 && line.len() + 1 + op.len() + sep.len() > WRAP {
            println!("{line}");
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(op);
        line.push_str(sep);
    }
    println!("{line}");
}
