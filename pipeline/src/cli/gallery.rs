//! `temper gallery --image <file> [--ops a,b] --out gallery.png`: a contact
//! sheet with a row per operation and columns for severities 0..5.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use augment::image::{self, ImageOp};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The input image (PNG or JPEG).
    #[arg(long)]
    image: PathBuf,
    /// Operations to show, comma separated (default: all image operations).
    #[arg(long, value_delimiter = ',')]
    ops: Vec<String>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output PNG.
    #[arg(long, default_value = "gallery.png")]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let ops: Vec<&ImageOp> = if args.ops.is_empty() {
        image::ops().iter().collect()
    } else {
        args.ops
            .iter()
            .map(|name| {
                image::find(name).ok_or_else(|| {
                    anyhow!(
                        "--ops: {}",
                        crate::suggest::unknown_value("image operation", name, &image::names())
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };
    let input = crate::report::read_image(&args.image)
        .with_context(|| format!("reading {}", args.image.display()))?;
    let sheet = image::gallery::contact_sheet(&input, &ops, args.seed);
    crate::report::write_png(&args.out, &sheet)?;
    println!("{} ({} operations × severities 0..5)", args.out.display(), ops.len());
    Ok(())
}
