//! `[eval]`: corruptions (by name or suite), attacks and the mCE baseline.

use std::path::{Path, PathBuf};

use augment::{ImageOp, TextOp};

use super::check::{Check, FloatRange};
use crate::config::attack::*;
use crate::config::error::ConfigError;
use crate::config::plan::*;
use crate::config::raw::*;
use crate::suggest::unknown_value;

/// The catalog modality of a config modality, to match suites.
fn catalog_modality(m: Modality) -> augment::catalog::Modality {
    match m {
        Modality::Image => augment::catalog::Modality::Image,
        Modality::Text => augment::catalog::Modality::Text,
    }
}

/// The corruptions evaluated when a config names none.
pub fn default_corruptions(modality: Modality) -> Vec<&'static str> {
    match modality {
        Modality::Image => vec!["gaussian_noise", "gaussian_blur", "brightness", "contrast", "rotate"],
        Modality::Text => vec!["typo", "char_swap", "char_delete", "homoglyph", "zero_width"],
    }
}

/// Looks an op name up in one modality's catalog.
type FindName = fn(&str) -> Option<&'static str>;

pub(super) fn resolve_eval(
    c: &Check,
    raw: RawEval,
    modality: Modality,
    image: &ImageSpec,
) -> Result<EvalPlan, ConfigError> {
    // The benchmark family of the suite each op came from, for `auto`.
    let mut scopes: Vec<(&'static str, &'static [augment::Table])> = Vec::new();
    let corruptions = match raw.corruptions.clone() {
        None => default_corruptions(modality),
        Some(list) => {
            let (names, find_name): (Vec<&'static str>, FindName) = match modality {
                Modality::Image => (augment::image::names(), |n| augment::image::find(n).map(ImageOp::name)),
                Modality::Text => (augment::text::names(), |n| augment::text::find(n).map(TextOp::name)),
            };
            let mut out = Vec::with_capacity(list.len());
            let mut from_suites = Vec::new();
            for (i, name) in list.iter().enumerate() {
                let key = format!("eval.corruptions[{i}]");
                if let Some(suite) = augment::suite::suite(name) {
                    if suite.modality != catalog_modality(modality) {
                        let other = match modality {
                            Modality::Image => Modality::Text,
                            Modality::Text => Modality::Image,
                        };
                        return Err(c.err(
                            &key,
                            format!(
                                "`{name}` is a suite of {} operations; this config's data is {}",
                                other.as_str(),
                                modality.as_str()
                            ),
                        ));
                    }
                    // A suite may overlap another suite or an op listed on its own.
                    for &op in suite.ops {
                        if !out.contains(&op) {
                            out.push(op);
                            from_suites.push(op);
                            scopes.push((op, suite.tables));
                        }
                    }
                    continue;
                }
                let mut choices = names.clone();
                choices.extend(
                    augment::suite::SUITES
                        .iter()
                        .filter(|s| s.modality == catalog_modality(modality))
                        .map(|s| s.name),
                );
                let found = find_name(name)
                    .ok_or_else(|| c.err(&key, unknown_value("operation or suite", name, &choices)))?;
                if out.contains(&found) && !from_suites.contains(&found) {
                    return Err(c.err(&key, format!("`{name}` is listed twice")));
                }
                if !out.contains(&found) {
                    out.push(found);
                }
            }
            out
        }
    };
    let (corruption_table, tables) = resolve_tables(c, &raw, &corruptions, &scopes, modality, image)?;
    let mut attacks = Vec::new();
    for (i, a) in raw.attacks.unwrap_or_default().into_iter().enumerate() {
        attacks.push(resolve_attack(c, &format!("eval.attacks[{i}]"), a, modality, &attacks)?);
    }
    let mce_baseline = match raw.mce_baseline {
        None => None,
        Some(dir) => {
            let full = if Path::new(&dir).is_absolute() { PathBuf::from(&dir) } else { c.base.join(&dir) };
            if !full.join("metrics.json").is_file() {
                return Err(c.err(
                    "eval.mce-baseline",
                    format!("{} holds no metrics.json; name a finished run directory", full.display()),
                ));
            }
            Some(full)
        }
    };
    let privacy = resolve_privacy(c, raw.privacy, raw.privacy_holdout, raw.privacy_examples)?;
    let mut extraction: Vec<ExtractionPlan> = Vec::new();
    for (i, r) in raw.extraction.unwrap_or_default().into_iter().enumerate() {
        let plan = resolve_extraction(c, &format!("eval.extraction[{i}]"), r, modality)?;
        if let Some(j) = extraction.iter().position(|e| e.output == plan.output) {
            return Err(c.err(
                &format!("eval.extraction[{i}].output"),
                format!("`{}` is already measured by eval.extraction[{j}]", plan.output.label()),
            ));
        }
        extraction.push(plan);
    }
    let batch_size = c.usize("eval.batch-size", raw.batch_size, 256, 1, 65_536)?;
    let certify = raw.certify.map(|r| resolve_certify(c, r, modality, batch_size)).transpose()?;
    Ok(EvalPlan {
        corruptions,
        corruption_table,
        tables,
        batch_size,
        attacks,
        mce_baseline,
        privacy,
        extraction,
        certify,
    })
}

/// `[eval.certify]`. Cohen et al. certify with n0 = 100, n = 100,000 and
/// α = 0.001; the default n is 1,000 so a CPU run certifies in minutes
/// (it caps the radius at 2.46 σ, which the report says). Noisy copies go
/// to the model `eval.batch-size` at a time unless `batch` says otherwise:
/// the size the user already fitted to memory (and on the CPU 256 copies a
/// call certified digits 10-20% faster than 1,000).
fn resolve_certify(
    c: &Check,
    r: RawCertify,
    modality: Modality,
    batch_size: usize,
) -> Result<CertifyPlan, ConfigError> {
    if modality == Modality::Text {
        return Err(c.err(
            "eval.certify",
            "randomized smoothing certifies image models (Gaussian noise on pixels), not text",
        ));
    }
    let increasing = |key: &str, list: Vec<f64>, low: FloatRange| -> Result<Vec<f64>, ConfigError> {
        if list.is_empty() {
            return Err(c.err(key, "must list at least one value"));
        }
        let mut out: Vec<f64> = Vec::with_capacity(list.len());
        for (j, v) in list.into_iter().enumerate() {
            let at = format!("{key}[{j}]");
            let v = c.float(&at, Some(v), 0.0, low)?;
            if out.last().is_some_and(|&last| v <= last) {
                return Err(c.err(&at, "values must be listed in increasing order"));
            }
            out.push(v);
        }
        Ok(out)
    };
    let sigmas = increasing(
        "eval.certify.sigmas",
        r.sigmas.unwrap_or_else(|| vec![0.25]),
        FloatRange::OpenLow(0.0, 4.0),
    )?;
    let radii = increasing(
        "eval.certify.radii",
        r.radii.unwrap_or_else(|| vec![0.0, 0.25, 0.5, 0.75, 1.0]),
        FloatRange::Closed(0.0, 100.0),
    )?;
    let examples = c.usize("eval.certify.examples", r.examples, 500, 1, i64::MAX)?;
    let attack = r.attack.map(|a| resolve_smooth_attack(c, a, examples)).transpose()?;
    Ok(CertifyPlan {
        sigmas,
        n0: c.usize("eval.certify.n0", r.n0, 100, 1, 10_000_000)?,
        n: c.usize("eval.certify.n", r.n, 1000, 10, 100_000_000)?,
        alpha: c.float("eval.certify.alpha", r.alpha, 0.001, FloatRange::Open(0.0, 0.5))?,
        examples,
        radii,
        batch: c.usize("eval.certify.batch", r.batch, batch_size as i64, 1, 65_536)?,
        attack,
    })
}

/// `[eval.certify.attack]`. Salman et al. attack with 20 PGD steps; 8
/// noise draws is the largest m they trained with, and 100 rows keep the
/// attack near the certification's own cost on the CPU. The rows must be
/// certified rows, so both bounds are reported on the same rows.
fn resolve_smooth_attack(
    c: &Check,
    a: RawSmoothAttack,
    certified: usize,
) -> Result<SmoothAttackPlan, ConfigError> {
    let examples =
        c.usize("eval.certify.attack.examples", a.examples, 100.min(certified as i64), 1, i64::MAX)?;
    if examples > certified {
        return Err(c.err(
            "eval.certify.attack.examples",
            format!(
                "{examples} exceeds eval.certify.examples ({certified}): the attacked rows are certified rows, \
                 so the two bounds meet on the same rows"
            ),
        ));
    }
    Ok(SmoothAttackPlan {
        steps: c.usize("eval.certify.attack.steps", a.steps, 20, 1, 10_000)?,
        samples: c.usize("eval.certify.attack.samples", a.samples, 8, 1, 4_096)?,
        examples,
    })
}

/// Output modes in configs.
const OUTPUTS: [&str; 3] = ["top-1", "top-k", "probabilities"];

/// One `[[eval.extraction]]` entry. Budgets must fit the query pool, which
/// is known once the data is loaded (`extraction::check`).
fn resolve_extraction(
    c: &Check,
    key: &str,
    r: RawExtraction,
    modality: Modality,
) -> Result<ExtractionPlan, ConfigError> {
    let at = |k: &str| format!("{key}.{k}");
    let output = match r.output.as_str() {
        "top-1" => ApiOutput::Top1,
        "top-k" => ApiOutput::TopK(c.usize(&at("k"), r.k, 3, 2, 1_000_000)?),
        "probabilities" => ApiOutput::Probabilities {
            decimals: r
                .decimals
                .map(|d| c.usize(&at("decimals"), Some(d), 0, 0, 8).map(|d| d as u32))
                .transpose()?,
        },
        other => return Err(c.err(&at("output"), unknown_value("API output", other, &OUTPUTS))),
    };
    if output.kind() != "top-k" && r.k.is_some() {
        return Err(c.err(&at("k"), "only `output = \"top-k\"` returns k labels"));
    }
    if output.kind() != "probabilities" && r.decimals.is_some() {
        return Err(c.err(&at("decimals"), "only `output = \"probabilities\"` returns scores to round"));
    }
    let Some(raw_budgets) = r.budgets else {
        return Err(c.err(&at("budgets"), "list the query budgets to measure, e.g. [500, 2000, 10000]"));
    };
    if raw_budgets.is_empty() {
        return Err(c.err(&at("budgets"), "must list at least one budget"));
    }
    let mut budgets = Vec::with_capacity(raw_budgets.len());
    for (j, b) in raw_budgets.into_iter().enumerate() {
        let b = c.usize(&format!("{key}.budgets[{j}]"), Some(b), 0, 10, 100_000_000)?;
        if budgets.last().is_some_and(|&last| b <= last) {
            return Err(c.err(&format!("{key}.budgets[{j}]"), "budgets must be listed in increasing order"));
        }
        budgets.push(b);
    }
    let queries = match r.queries.as_deref() {
        None | Some("test") => QueryPool::Test,
        Some("synthetic") => {
            QueryPool::Synthetic { seed_rows: c.usize(&at("seed-rows"), r.seed_rows, 100, 1, 1_000_000)? }
        }
        Some("table") => match r.table.as_deref() {
            Some(t) => QueryPool::Table { path: c.path(&at("table"), t)? },
            None => return Err(c.err(&at("table"), "`queries = \"table\"` needs the table file of queries")),
        },
        Some(other) => {
            return Err(
                c.err(&at("queries"), unknown_value("query pool", other, &["test", "synthetic", "table"]))
            );
        }
    };
    if !matches!(queries, QueryPool::Synthetic { .. }) && r.seed_rows.is_some() {
        return Err(c.err(&at("seed-rows"), "applies to `queries = \"synthetic\"`"));
    }
    if !matches!(queries, QueryPool::Table { .. }) && r.table.is_some() {
        return Err(c.err(&at("table"), "applies to `queries = \"table\"`"));
    }
    let transfer_epsilons = match (r.transfer_epsilons, modality) {
        (Some(_), Modality::Text) => {
            return Err(c.err(
                &at("transfer-epsilons"),
                "transfer attacks are PGD on images; text surrogates are measured by fidelity",
            ));
        }
        (None, Modality::Text) => Vec::new(),
        (None, Modality::Image) => vec![0.1],
        (Some(list), Modality::Image) => {
            let mut out = Vec::with_capacity(list.len());
            for (j, e) in list.into_iter().enumerate() {
                out.push(c.float(
                    &format!("{key}.transfer-epsilons[{j}]"),
                    Some(e),
                    0.0,
                    FloatRange::OpenLow(0.0, 1.0),
                )?);
            }
            out
        }
    };
    Ok(ExtractionPlan {
        output,
        budgets,
        queries,
        examples: c.usize(&at("examples"), r.examples, 1000, 10, i64::MAX)?,
        width: c.float(&at("width"), r.width, 1.0, FloatRange::OpenLow(0.0, 8.0))?,
        steps: c.usize(&at("steps"), r.steps, 500, 1, 10_000_000)?,
        transfer_epsilons,
    })
}

/// `[[eval.privacy]]` with `eval.privacy-holdout` and `eval.privacy-examples`;
/// those two keys without an attack are an error (they would hold rows out
/// of training for nothing).
fn resolve_privacy(
    c: &Check,
    raw: Option<Vec<RawPrivacy>>,
    holdout: Option<f64>,
    examples: Option<i64>,
) -> Result<Option<PrivacyPlan>, ConfigError> {
    let list = raw.unwrap_or_default();
    if list.is_empty() {
        c.refuse_set(
            "eval",
            &[("privacy-holdout", holdout.is_some()), ("privacy-examples", examples.is_some())],
            "applies to membership inference; add an `[[eval.privacy]]` attack or remove it",
        )?;
        return Ok(None);
    }
    let mut attacks: Vec<PrivacyAttack> = Vec::new();
    for (i, r) in list.into_iter().enumerate() {
        let key = format!("eval.privacy[{i}]");
        let names: Vec<&str> = PrivacyAttackKind::ALL.iter().map(|k| k.name()).collect();
        let kind = PrivacyAttackKind::parse(&r.attack).ok_or_else(|| {
            c.err(&format!("{key}.attack"), unknown_value("privacy attack", &r.attack, &names))
        })?;
        if attacks.iter().any(|a| a.kind == kind) {
            return Err(c.err(&format!("{key}.attack"), format!("`{}` is configured twice", kind.name())));
        }
        if !kind.needs_references() {
            c.refuse_set(
                &key,
                &[("references", r.references.is_some()), ("variance", r.variance.is_some())],
                "the loss attack uses no reference models",
            )?;
        }
        if kind != PrivacyAttackKind::Lira && r.variance.is_some() {
            return Err(c.err(&format!("{key}.variance"), "only `lira` fits a variance"));
        }
        let references = if kind.needs_references() {
            c.usize(&format!("{key}.references"), r.references, 4, 1, 256)?
        } else {
            0
        };
        let variance = match r.variance.as_deref() {
            None | Some("global") => Variance::Global,
            Some("per-example") if references >= 2 => Variance::PerExample,
            Some("per-example") => {
                return Err(
                    c.err(&format!("{key}.variance"), "a per-example variance needs at least 2 references")
                );
            }
            Some(other) => {
                return Err(c.err(
                    &format!("{key}.variance"),
                    unknown_value("variance", other, &["global", "per-example"]),
                ));
            }
        };
        attacks.push(PrivacyAttack { kind, references, variance });
    }
    Ok(Some(PrivacyPlan {
        holdout: c.float("eval.privacy-holdout", holdout, 0.1, FloatRange::Open(0.0, 0.99))?,
        examples: c.usize("eval.privacy-examples", examples, 1000, 10, i64::MAX)?,
        attacks,
    }))
}

/// The table each corruption uses, by op name.
type OpTables = Vec<(&'static str, augment::Table)>;

/// `eval.corruption-table` and `eval.corruption-tables`: the parameter
/// table of every image corruption that has benchmark tables. A per-op
/// entry wins, then a fixed table; `auto` picks by the configured image
/// size within the op's suite's benchmark family. A table an op lacks is
/// an error naming the key, never a substitute.
fn resolve_tables(
    c: &Check,
    raw: &RawEval,
    corruptions: &[&'static str],
    scopes: &[(&'static str, &'static [augment::Table])],
    modality: Modality,
    image: &ImageSpec,
) -> Result<(augment::TableChoice, OpTables), ConfigError> {
    use augment::{Table, TableChoice};
    let choice = match &raw.corruption_table {
        None => TableChoice::Auto,
        Some(name) => TableChoice::parse(name).ok_or_else(|| {
            c.err("eval.corruption-table", unknown_value("corruption table", name, &TableChoice::names()))
        })?,
    };
    let per_op = raw.corruption_tables.clone().unwrap_or_default();
    if modality == Modality::Text {
        if choice != TableChoice::Auto || !per_op.is_empty() {
            let key = if per_op.is_empty() { "eval.corruption-table" } else { "eval.corruption-tables" };
            return Err(c.err(key, "benchmark tables are for image corruptions; this config's data is text"));
        }
        return Ok((choice, Vec::new()));
    }
    for op in per_op.keys() {
        if !corruptions.contains(&op.as_str()) {
            return Err(c.err(
                &format!("eval.corruption-tables.{op}"),
                format!("`{op}` is not among this config's corruptions"),
            ));
        }
    }
    let dims = (image.width, image.height, image.channels);
    let mut tables = Vec::new();
    for &name in corruptions {
        let Some(op) = augment::image::find(name) else { continue };
        let (choice, key) = match per_op.get(name) {
            Some(t) => {
                let key = format!("eval.corruption-tables.{name}");
                let table = Table::parse(t).ok_or_else(|| {
                    let names: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
                    c.err(&key, unknown_value("corruption table", t, &names))
                })?;
                (TableChoice::Fixed(table), key)
            }
            None => (choice, "eval.corruption-table".to_owned()),
        };
        let within = scopes.iter().find(|(op, _)| *op == name).map(|&(_, t)| t).filter(|t| !t.is_empty());
        match op.resolve(choice, within, dims) {
            Ok(Some(table)) => tables.push((name, table)),
            Ok(None) => {}
            Err(e) => return Err(c.err(&key, e.to_string())),
        }
    }
    Ok((choice, tables))
}

/// Default radii on the [0, 1] pixel scale: L∞ for FGSM/PGD-L∞, L2 for PGD-L2.
const LINF_EPSILONS: [f64; 3] = [0.05, 0.1, 0.2];
const L2_EPSILONS: [f64; 3] = [0.5, 1.0, 2.0];

/// AutoAttack's Auto-PGD iterations (Croce & Hein 2020, the standard version).
const APGD_STEPS: i64 = 100;

fn resolve_attack(
    c: &Check,
    key: &str,
    raw: RawAttack,
    modality: Modality,
    earlier: &[AttackPlan],
) -> Result<AttackPlan, ConfigError> {
    let names: Vec<&str> = AttackKind::ALL
        .iter()
        .map(|k| k.name())
        .chain([SquarePlan::NAME, SquarePlan::NAME_L2, AutoAttackPlan::NAME, AutoAttackPlan::NAME_L2])
        .chain(Distance::ALL.iter().map(|n| n.hsja_name()))
        .chain(TextAttackKind::ALL.iter().map(|k| k.name()))
        .collect();
    if !names.contains(&raw.name.as_str()) {
        return Err(c.err(&format!("{key}.name"), unknown_value("attack", &raw.name, &names)));
    }
    let plan = resolve_named(c, key, raw, modality)?;
    if earlier.iter().any(|p| p.name() == plan.name()) {
        return Err(c.err(&format!("{key}.name"), format!("`{}` is listed twice", plan.name())));
    }
    Ok(plan)
}

fn resolve_named(
    c: &Check,
    key: &str,
    raw: RawAttack,
    modality: Modality,
) -> Result<AttackPlan, ConfigError> {
    if let Some(norm) = Distance::ALL.into_iter().find(|&n| raw.name == SquarePlan::base(n)) {
        if modality != Modality::Image {
            return Err(c.err(
                &format!("{key}.name"),
                format!("`{}` is an image attack (it perturbs pixels); this config's data is text", raw.name),
            ));
        }
        return Ok(AttackPlan::Square(resolve_square(c, key, norm, raw)?));
    }
    if let Some(norm) = Distance::ALL.into_iter().find(|&n| raw.name == AutoAttackPlan::base(n)) {
        if modality != Modality::Image {
            return Err(c.err(
                &format!("{key}.name"),
                format!("`{}` is an image attack (it perturbs pixels); this config's data is text", raw.name),
            ));
        }
        return Ok(AttackPlan::AutoAttack(resolve_autoattack(c, key, norm, raw)?));
    }
    let why = format!("applies to `square` and `square_l2` only, not `{}`", raw.name);
    c.refuse_set(key, &[("p-init", raw.p_init.is_some()), ("decimals", raw.decimals.is_some())], &why)?;
    if !AttackKind::find(&raw.name).is_some_and(AttackKind::is_targeted) {
        let why = format!(
            "applies to the targeted attacks (`apgd_t_linf`, `apgd_t_l2`, `fab_t_linf`, `fab_t_l2`, `autoattack_linf`, `autoattack_l2`) only, not `{}`",
            raw.name
        );
        c.refuse_set(key, &[("targets", raw.targets.is_some())], &why)?;
    }
    if let Some(norm) = Distance::ALL.into_iter().find(|n| n.hsja_name() == raw.name) {
        if modality != Modality::Image {
            return Err(c.err(
                &format!("{key}.name"),
                format!("`{}` is an image attack (it perturbs pixels); this config's data is text", raw.name),
            ));
        }
        return Ok(AttackPlan::Hsja(resolve_hsja(c, key, norm, raw)?));
    }
    let plan = match (AttackKind::find(&raw.name), TextAttackKind::find(&raw.name), modality) {
        (Some(kind), _, Modality::Image) => AttackPlan::WhiteBox(resolve_white_box(c, key, kind, raw)?),
        (_, Some(kind), Modality::Text) => AttackPlan::BlackBox(resolve_black_box(c, key, kind, raw)?),
        (Some(_), _, _) => {
            return Err(c.err(
                &format!("{key}.name"),
                format!("`{}` is a white-box image attack; this config's data is text", raw.name),
            ));
        }
        _ => {
            return Err(c.err(
                &format!("{key}.name"),
                format!("`{}` is a black-box text attack; this config's data is image", raw.name),
            ));
        }
    };
    Ok(plan)
}

/// An attack's radii, `default` where the config gives none; each in (0, `max`].
fn radii(
    c: &Check,
    key: &str,
    given: Option<Vec<f64>>,
    default: &[f64],
    max: f64,
) -> Result<Vec<f64>, ConfigError> {
    let Some(list) = given else { return Ok(default.to_vec()) };
    if list.is_empty() {
        return Err(c.err(&format!("{key}.epsilons"), "must list at least one radius"));
    }
    for (j, &e) in list.iter().enumerate() {
        c.float(&format!("{key}.epsilons[{j}]"), Some(e), 0.0, FloatRange::OpenLow(0.0, max))?;
    }
    Ok(list)
}

/// A radius list in `norm`: its default radii where none are given, each at
/// most the norm's largest (the whole pixel range under L∞).
fn norm_radii(
    c: &Check,
    key: &str,
    norm: Distance,
    given: Option<Vec<f64>>,
) -> Result<Vec<f64>, ConfigError> {
    match norm {
        Distance::L2 => radii(c, key, given, &L2_EPSILONS, AttackKind::PgdL2.max_epsilon()),
        Distance::Linf => radii(c, key, given, &LINF_EPSILONS, 1.0),
    }
}

/// Refuses keys that belong to the other family of attacks.
fn only_for(
    c: &Check,
    key: &str,
    name: &str,
    present: &[(&str, bool)],
    family: &str,
) -> Result<(), ConfigError> {
    c.refuse_set(key, present, &format!("applies to {family} only, not `{name}`"))
}

fn resolve_white_box(
    c: &Check,
    key: &str,
    kind: AttackKind,
    raw: RawAttack,
) -> Result<WhiteBoxPlan, ConfigError> {
    let text_keys =
        [("max-word-share", raw.max_word_share.is_some()), ("max-queries", raw.max_queries.is_some())];
    only_for(c, key, &raw.name, &text_keys, "text attacks (deepwordbug, textbugger)")?;
    if kind == AttackKind::Fgsm {
        let pgd_keys = [
            ("steps", raw.steps.is_some()),
            ("step-size", raw.step_size.is_some()),
            ("random-start", raw.random_start.is_some()),
            ("restarts", raw.restarts.is_some()),
        ];
        let why = "applies to PGD only: `fgsm` is one step of size ε from the clean input";
        c.refuse_set(key, &pgd_keys, why)?;
    }
    let apgd = matches!(kind, AttackKind::Apgd { .. });
    if apgd {
        let pgd_keys = [("step-size", raw.step_size.is_some()), ("random-start", raw.random_start.is_some())];
        let why = format!(
            "does not apply to `{}`: Auto-PGD starts at a random point and sets its own step size \
             (keys: epsilons, steps, restarts, examples)",
            raw.name
        );
        c.refuse_set(key, &pgd_keys, &why)?;
    }
    if matches!(kind, AttackKind::FabT { .. }) {
        let pgd_keys = [
            ("step-size", raw.step_size.is_some()),
            ("random-start", raw.random_start.is_some()),
            ("restarts", raw.restarts.is_some()),
        ];
        let why = format!(
            "does not apply to `{}`: FAB-T starts at the clean image, sizes its own steps and, as AutoAttack \
             runs it, makes one search per target (keys: epsilons, steps, targets, examples)",
            raw.name
        );
        c.refuse_set(key, &pgd_keys, &why)?;
    }
    let default = if kind.is_l2() { &L2_EPSILONS } else { &LINF_EPSILONS };
    let epsilons = radii(c, key, raw.epsilons, default, kind.max_epsilon())?;
    // AutoAttack runs Auto-PGD and FAB-T for 100 iterations; PGD's default is 10.
    let own = kind.sets_own_steps();
    let steps = c.usize(&format!("{key}.steps"), raw.steps, if own { APGD_STEPS } else { 10 }, 1, 10_000)?;
    Ok(WhiteBoxPlan {
        kind,
        epsilons,
        steps,
        // Madry et al.'s rule of thumb: 2.5·ε/steps reaches the boundary from anywhere in the ball.
        step_size: c.float(
            &format!("{key}.step-size"),
            raw.step_size,
            2.5 / steps as f64,
            FloatRange::OpenLow(0.0, 10.0),
        )?,
        random_start: raw.random_start.unwrap_or(true),
        restarts: c.usize(&format!("{key}.restarts"), raw.restarts, 1, 1, 100)?,
        // Checked against the model's classes when the data is loaded.
        targets: raw.targets.map(|t| c.usize(&format!("{key}.targets"), Some(t), 9, 1, 1000)).transpose()?,
        examples: c.usize(&format!("{key}.examples"), raw.examples, 1000, 1, i64::MAX)?,
    })
}

/// The PGD and text-attack keys a query attack on images refuses.
fn not_for_queries(raw: &RawAttack) -> [(&'static str, bool); 5] {
    [
        ("steps", raw.steps.is_some()),
        ("step-size", raw.step_size.is_some()),
        ("random-start", raw.random_start.is_some()),
        ("restarts", raw.restarts.is_some()),
        ("max-word-share", raw.max_word_share.is_some()),
    ]
}

/// AutoAttack's standard Square Attack: 5,000 queries, squares covering
/// 80% of the image at first ([`SQUARE_P_INIT`]; Croce & Hein 2020).
const SQUARE_QUERIES: i64 = 5000;

/// AutoAttack's standard settings: 100 Auto-PGD and FAB iterations, 9 targets,
/// 5,000 Square queries; `restarts` (1 in the standard version),
/// `step-size` and `p-init` are the cascade's own.
fn resolve_autoattack(
    c: &Check,
    key: &str,
    norm: Distance,
    raw: RawAttack,
) -> Result<AutoAttackPlan, ConfigError> {
    let others = [
        ("step-size", raw.step_size.is_some()),
        ("random-start", raw.random_start.is_some()),
        ("restarts", raw.restarts.is_some()),
        ("p-init", raw.p_init.is_some()),
        ("decimals", raw.decimals.is_some()),
        ("max-word-share", raw.max_word_share.is_some()),
    ];
    c.refuse_set(
        key,
        &others,
        &format!(
            "does not apply to `{}`, which runs AutoAttack's standard settings \
             (keys: epsilons, steps, targets, max-queries, examples)",
            raw.name
        ),
    )?;
    Ok(AutoAttackPlan {
        norm,
        epsilons: norm_radii(c, key, norm, raw.epsilons)?,
        steps: c.usize(&format!("{key}.steps"), raw.steps, APGD_STEPS, 1, 10_000)?,
        // Checked against the model's classes when the data is loaded.
        targets: raw.targets.map(|t| c.usize(&format!("{key}.targets"), Some(t), 9, 1, 1000)).transpose()?,
        max_queries: c.usize(&format!("{key}.max-queries"), raw.max_queries, SQUARE_QUERIES, 2, 1_000_000)?,
        examples: c.usize(&format!("{key}.examples"), raw.examples, 1000, 1, i64::MAX)?,
    })
}

fn resolve_square(c: &Check, key: &str, norm: Distance, raw: RawAttack) -> Result<SquarePlan, ConfigError> {
    let others = not_for_queries(&raw);
    c.refuse_set(
        key,
        &others,
        &format!(
            "does not apply to `{}` (keys: epsilons, max-queries, p-init, decimals, examples)",
            raw.name
        ),
    )?;
    Ok(SquarePlan {
        norm,
        epsilons: norm_radii(c, key, norm, raw.epsilons)?,
        // The clean query and the first (striped) guess come before any square.
        max_queries: c.usize(&format!("{key}.max-queries"), raw.max_queries, SQUARE_QUERIES, 2, 1_000_000)?,
        p_init: c.float(
            &format!("{key}.p-init"),
            raw.p_init,
            SQUARE_P_INIT,
            FloatRange::OpenLow(0.0, 1.0),
        )?,
        decimals: raw
            .decimals
            .map(|d| c.usize(&format!("{key}.decimals"), Some(d), 0, 0, 8).map(|d| d as u32))
            .transpose()?,
        examples: c.usize(&format!("{key}.examples"), raw.examples, 1000, 1, i64::MAX)?,
    })
}

/// HopSkipJumpAttack's default budget is `square`'s, so the score-based
/// and the label-only attacker compare at one budget.
const HSJA_QUERIES: i64 = 5000;

fn resolve_hsja(c: &Check, key: &str, norm: Distance, raw: RawAttack) -> Result<HsjaPlan, ConfigError> {
    let others = not_for_queries(&raw);
    c.refuse_set(
        key,
        &others,
        &format!("does not apply to `{}` (keys: epsilons, max-queries, examples)", raw.name),
    )?;
    Ok(HsjaPlan {
        norm,
        epsilons: norm_radii(c, key, norm, raw.epsilons)?,
        // The clean query, one random start and one step at least.
        max_queries: c.usize(&format!("{key}.max-queries"), raw.max_queries, HSJA_QUERIES, 3, 1_000_000)?,
        examples: c.usize(&format!("{key}.examples"), raw.examples, 1000, 1, i64::MAX)?,
    })
}

fn resolve_black_box(
    c: &Check,
    key: &str,
    kind: TextAttackKind,
    raw: RawAttack,
) -> Result<BlackBoxPlan, ConfigError> {
    let image_keys = [
        ("epsilons", raw.epsilons.is_some()),
        ("steps", raw.steps.is_some()),
        ("step-size", raw.step_size.is_some()),
        ("random-start", raw.random_start.is_some()),
        ("restarts", raw.restarts.is_some()),
    ];
    only_for(c, key, &raw.name, &image_keys, "white-box attacks (fgsm, pgd_linf, pgd_l2)")?;
    Ok(BlackBoxPlan {
        kind,
        budget: Budget {
            max_word_share: c.float(
                &format!("{key}.max-word-share"),
                raw.max_word_share,
                0.2,
                FloatRange::OpenLow(0.0, 1.0),
            )?,
            max_queries: c.usize(&format!("{key}.max-queries"), raw.max_queries, 200, 1, 100_000)?,
        },
        examples: c.usize(&format!("{key}.examples"), raw.examples, 1000, 1, i64::MAX)?,
    })
}
