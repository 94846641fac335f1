//! `temper validate <config>`.

use std::path::Path;

use anyhow::Context;

use crate::config::DpBudget;
use crate::train::dp::DpRun;
use crate::{config, data};

pub fn run(path: &Path) -> anyhow::Result<()> {
    // A sweep: every point must resolve; the first one's data is checked below.
    let plan = match config::sweep_points(path)? {
        Some(points) => {
            let plans = points
                .iter()
                .map(|p| config::parse_point(p, path, &config::Overrides::default()))
                .collect::<Result<Vec<_>, _>>()?;
            println!("{}: a sweep of {} runs; every one resolves", path.display(), points.len());
            plans.into_iter().next().ok_or_else(|| anyhow::anyhow!("{}: an empty sweep", path.display()))?
        }
        None => config::load(path)?,
    };
    let split = data::load(&plan.data, plan.seed)
        .with_context(|| format!("loading the data of {}", path.display()))?;
    crate::attack::check_classes(&plan.eval.attacks, split.classes.len())
        .with_context(|| format!("{}: `eval.attacks` against the data's classes", path.display()))?;
    println!(
        "{}: ok ({} data, {} training and {} test examples, {} classes: {})",
        path.display(),
        plan.data.modality.as_str(),
        split.train.len(),
        split.test.len(),
        split.classes.len(),
        split.classes.join(", ")
    );
    // As the run holds them out: members, then validation over those.
    let held = crate::experiment::held_out(&plan, split.clone())
        .with_context(|| format!("poisoning the data of {}", path.display()))?;
    let mut trained = split.train.len();
    if let Some(m) = &held.membership {
        trained = m.members.len();
        println!(
            "  membership inference: {} training rows held out as non-members, {} trained on; {} of each side attacked",
            m.held_out.len(),
            m.members.len() - held.validation.as_ref().map_or(0, Vec::len),
            m.member_targets.len()
        );
    }
    if let Some(c) = &plan.train.canaries {
        let rows = c.planted_rows();
        println!(
            "  canaries: {} planted rows ({} per repeat count {:?}) and {} never planted",
            rows, c.count, c.repeats, c.count
        );
        trained += rows;
    }
    if let (Some(v), Some(held)) = (&plan.train.validation, &held.validation) {
        // Never trained on: DP-SGD samples from the other rows.
        trained -= held.len();
        let patience =
            v.patience.map_or_else(|| "every epoch trained".to_owned(), |p| format!("patience {p}"));
        println!(
            "  validation: {} training rows held out, the best of up to {} epochs kept ({patience})",
            held.len(),
            plan.train.epochs
        );
    }
    if let Some(p) = &plan.train.privacy {
        let run = DpRun::new(p, trained, plan.train.batch_size, plan.train.epochs)?;
        let solved = match p.budget {
            DpBudget::Epsilon(e) => format!(" (solved for ε {e})"),
            DpBudget::NoiseMultiplier(_) => String::new(),
        };
        println!(
            "  DP-SGD: noise multiplier {:.4}{solved}, clipping norm {}, sampling rate {:.5}, {} steps; ε {:.3} at δ {:e} by the last epoch",
            run.noise_multiplier,
            run.max_grad_norm,
            run.sample_rate,
            run.steps_per_epoch * plan.train.epochs,
            run.epsilon_after(plan.train.epochs),
            run.delta
        );
    }
    let tables = crate::extraction::load_tables(&plan.eval.extraction, &plan.data)?;
    crate::extraction::check(&plan.eval.extraction, &split.test, &tables)?;
    for (e, table) in plan.eval.extraction.iter().zip(&tables) {
        let pool = match &e.queries {
            config::QueryPool::Test => format!("{} unmeasured test rows", split.test.len() - e.examples),
            config::QueryPool::Synthetic { seed_rows } => {
                format!("augmented copies of {seed_rows} unmeasured test rows")
            }
            config::QueryPool::Table { path } => {
                format!("the {} rows of {}", table.as_ref().map_or(0, data::Dataset::len), path.display())
            }
        };
        let budgets: Vec<String> = e.budgets.iter().map(usize::to_string).collect();
        println!(
            "  extraction through a {} API: budgets {} from {pool}; {} surrogates of {} steps, measured on {} test rows",
            e.output.label(),
            budgets.join(", "),
            e.budgets.len(),
            e.steps,
            e.examples
        );
    }
    Ok(())
}
