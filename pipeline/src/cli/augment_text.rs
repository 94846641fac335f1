//! `temper augment-text --op <name> --severity N --seed S "text"`: shows what
//! a text operation does.

use anyhow::anyhow;
use augment::Severity;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The text operation (`temper list --modality text`).
    #[arg(long)]
    op: String,
    /// Severity 0..=5.
    #[arg(long, default_value_t = 3)]
    severity: i64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The text; read from stdin (one line at a time) when absent.
    text: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let op = augment::text::find(&args.op).ok_or_else(|| {
        anyhow!(
            "--op: {}",
            crate::suggest::unknown_value("text operation", &args.op, &augment::text::names())
        )
    })?;
    let severity = Severity::new(args.severity).map_err(|e| anyhow!("--severity: {e}"))?;
    match args.text {
        Some(text) => println!("{}", op.apply(&text, severity, args.seed)),
        None => {
            for (i, line) in std::io::stdin().lines().enumerate() {
                let line = line.map_err(|e| anyhow!("reading stdin: {e}"))?;
                let seed = augment::seed::derive(args.seed, i as u64, 0, op.name());
                println!("{}", op.apply(&line, severity, seed));
            }
        }
    }
    Ok(())
}
