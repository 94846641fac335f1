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
    if let Some(p) = &plan.eval.privacy {
        let m = crate::privacy::Membership::split(split.train.len(), p, plan.seed);
        println!(
            "  membership inference: {} training rows held out as non-members, {} trained on; {} of each side attacked",
            m.held_out.len(),
            m.members.len(),
            m.member_targets.len()
        );
    }
    if let Some(c) = &plan.train.canaries {
        let rows: usize = c.repeats.iter().sum::<usize>() * c.count;
        println!(
            "  canaries: {} planted rows ({} per repeat count {:?}) and {} never planted",
            rows, c.count, c.repeats, c.count
        );
    }
    Ok(())
}
