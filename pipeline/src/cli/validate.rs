//! `temper validate <config>`.

use std::path::Path;

use anyhow::Context;

use crate::{config, data};

pub fn run(path: &Path) -> anyhow::Result<()> {
    let plan = config::load(path)?;
    let split = data::load(&plan.data, plan.seed)
        .with_context(|| format!("loading the data of {}", path.display()))?;
    println!(
        "{}: ok ({} data, {} training and {} test examples, {} classes: {})",
        path.display(),
        plan.data.modality.as_str(),
        split.train.len(),
        split.test.len(),
        split.classes.len(),
        split.classes.join(", ")
    );
    Ok(())
}
