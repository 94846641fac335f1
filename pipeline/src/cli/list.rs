//! `temper list`: the perturbation catalog with severity tables.

use augment::catalog::{self, Modality, Purpose};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this modality (`image` or `text`).
    #[arg(long, value_parser = ["image", "text"])]
    modality: Option<String>,
    /// Names only, one per line.
    #[arg(long)]
    names: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let wanted = |m: Modality| match args.modality.as_deref() {
        Some("image") => m == Modality::Image,
        Some("text") => m == Modality::Text,
        _ => true,
    };
    let mut last = None;
    for op in catalog::all().into_iter().filter(|op| wanted(op.modality)) {
        if args.names {
            println!("{}", op.name);
            continue;
        }
        if last != Some(op.modality) {
            let title = if op.modality == Modality::Image { "Image operations" } else { "Text operations" };
            println!("\n{title}\n{}", "=".repeat(title.len()));
            last = Some(op.modality);
        }
        let purpose = if op.purpose == Purpose::Corruption { "corruption" } else { "augmentation" };
        println!("\n{} ({purpose}): {}", op.name, op.summary);
        if op.params.is_empty() {
            continue;
        }
        let width = op.params.iter().map(|p| p.name.len()).max().unwrap_or(0).max(9);
        println!("  {:width$}  {:>8} {:>8} {:>8} {:>8} {:>8}", "severity", 1, 2, 3, 4, 5);
        for p in op.params {
            let v = p.values;
            println!("  {:width$}  {:>8} {:>8} {:>8} {:>8} {:>8}", p.name, v[0], v[1], v[2], v[3], v[4]);
        }
    }
    Ok(())
}
