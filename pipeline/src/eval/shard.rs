//! Sharded evaluation. An evaluation is made of independent cells: clean
//! accuracy, each corruption at each severity, each attack at each ε, each
//! certification σ. Each cell computes the same numbers whichever process
//! runs it (its perturbations, attack starts and smoothing noise are seeded
//! by the run seed and the cell only), so N processes can each evaluate a
//! deterministic 1/N of the cells and `temper merge` can put their results
//! together into exactly what one process would have written. Cells go to
//! shards by expected cost, longest first, so an array job's tasks finish
//! at about the same time.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attack::epsilon_key;
use crate::config::{AttackPlan, EvalPlan};
use crate::run::metrics::{CertifyMetrics, MetricTable, RowTable, RunInfo, StageTable};

/// Version of the shard file layout.
pub const SHARD_SCHEMA: u32 = 2;
/// The folder of a run directory holding shard results.
pub const SHARDS: &str = "shards";

/// One independent piece of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "cell", rename_all = "snake_case")]
pub enum Cell {
    /// Accuracy on the unperturbed test set.
    Clean,
    /// One corruption at one severity.
    Corruption {
        /// Operation name.
        op: String,
        /// Severity 1..=5.
        severity: u8,
    },
    /// One attack at one ε (the word share for text attacks), as metric keys write them.
    Attack {
        /// Attack name.
        attack: String,
        /// ε as a metric key.
        epsilon: String,
    },
    /// Randomized smoothing's certificates at one noise level.
    Certify {
        /// σ as a metric key.
        sigma: String,
    },
}

impl Cell {
    /// The attack cell of `attack` at `epsilon`.
    pub fn attack(attack: &str, epsilon: f64) -> Cell {
        Cell::Attack { attack: attack.to_owned(), epsilon: epsilon_key(epsilon) }
    }

    /// The certification cell at noise level `sigma`.
    pub fn certify(sigma: f64) -> Cell {
        Cell::Certify { sigma: epsilon_key(sigma) }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Clean => f.write_str("clean"),
            Cell::Corruption { op, severity } => write!(f, "{op} severity {severity}"),
            Cell::Attack { attack, epsilon } => write!(f, "{attack} ε={epsilon}"),
            Cell::Certify { sigma } => write!(f, "certify σ={sigma}"),
        }
    }
}

/// The cells one process evaluates.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Cells {
    /// Every cell: an unsharded evaluation.
    #[default]
    All,
    /// A shard's cells.
    Only(BTreeSet<Cell>),
}

impl Cells {
    /// Whether `cell` is evaluated here.
    pub fn has(&self, cell: &Cell) -> bool {
        match self {
            Cells::All => true,
            Cells::Only(set) => set.contains(cell),
        }
    }
}

/// Why a shard was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    /// Not `K/N`.
    #[error("a shard is written K/N (K from 0 to N-1, as array indices count), not `{0}`")]
    Syntax(String),
    /// K out of range or N zero.
    #[error("shard {index}/{count}: K must be below N (shards are numbered from 0, as array indices are)")]
    Range {
        /// K.
        index: usize,
        /// N.
        count: usize,
    },
}

/// Shard `index` of `count`, numbered from 0 as scheduler array indices are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    /// K.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl Shard {
    /// Shard `index` of `count`, checked.
    pub fn new(index: usize, count: usize) -> Result<Shard, ShardError> {
        if index >= count {
            return Err(ShardError::Range { index, count });
        }
        Ok(Shard { index, count })
    }

    /// Parses `K/N`; `auto` for K asks `auto_index` (the scheduler's array index).
    pub fn parse(value: &str, auto_index: impl FnOnce() -> anyhow::Result<usize>) -> anyhow::Result<Shard> {
        let (k, n) = value.split_once('/').ok_or_else(|| ShardError::Syntax(value.to_owned()))?;
        let count: usize = n.trim().parse().map_err(|_| ShardError::Syntax(value.to_owned()))?;
        let index = match k.trim() {
            "auto" => auto_index()?,
            k => k.parse().map_err(|_| ShardError::Syntax(value.to_owned()))?,
        };
        Ok(Shard::new(index, count)?)
    }

    /// `shard-K-of-N.json`, under [`SHARDS`].
    pub fn file_name(self) -> String {
        format!("shard-{}-of-{}.json", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Every cell of `eval` in the order an unsharded evaluation runs them,
/// with its expected cost in model passes over one input (`test_rows` is
/// the test set's size).
pub fn cells(eval: &EvalPlan, test_rows: usize) -> Vec<(Cell, f64)> {
    let rows = test_rows as f64;
    let mut out = vec![(Cell::Clean, rows)];
    for &op in &eval.corruptions {
        for severity in augment::Severity::all() {
            // Perturbing an input costs about as much as a forward pass.
            out.push((Cell::Corruption { op: op.to_owned(), severity: severity.level() }, 2.0 * rows));
        }
    }
    for plan in &eval.attacks {
        match plan {
            AttackPlan::WhiteBox(p) => {
                let n = p.examples.min(test_rows) as f64;
                // A gradient step is about three passes (forward and backward);
                // clean and attacked predictions are two more.
                let passes = 3.0 * (p.steps * p.restarts.max(1)) as f64 + 2.0;
                out.extend(p.epsilons.iter().map(|&e| (Cell::attack(p.kind.name(), e), n * passes)));
            }
            AttackPlan::BlackBox(p) => {
                let n = p.examples.min(test_rows) as f64;
                // Searches stop at success; half the query budget is the guess.
                let passes = (p.budget.max_queries as f64 / 2.0).max(1.0);
                out.push((Cell::attack(p.kind.name(), p.budget.max_word_share), n * passes));
            }
            AttackPlan::Square(p) => {
                let n = p.examples.min(test_rows) as f64;
                let passes = (p.max_queries as f64 / 2.0).max(1.0);
                out.extend(p.epsilons.iter().map(|&e| (Cell::attack(&p.name(), e), n * passes)));
            }
            AttackPlan::AutoAttack(p) => {
                let n = p.examples.min(test_rows) as f64;
                // Auto-PGD on every row; the targeted ones (FAB-T a pass
                // more a step) and the Square Attack on the rows it leaves,
                // a guessed half.
                let targets = p.targets.unwrap_or(9) as f64;
                let passes = 3.0 * p.steps as f64 * (1.0 + targets * 7.0 / 6.0) + p.max_queries as f64 / 4.0;
                out.extend(p.epsilons.iter().map(|&e| (Cell::attack(p.name(), e), n * passes)));
            }
            AttackPlan::Hsja(p) => {
                let n = p.examples.min(test_rows) as f64;
                // Each cell runs the whole search when alone on its shard;
                // rows broken at its radius stop early.
                let passes = (p.max_queries as f64 / 2.0).max(1.0);
                out.extend(p.epsilons.iter().map(|&e| (Cell::attack(p.norm.hsja_name(), e), n * passes)));
            }
        }
    }
    if let Some(p) = &eval.certify {
        // Every row takes n0 + n noisy passes; an attacked row, PREDICT's n
        // at each radius and, at each non-zero one, `steps` forward and
        // backward passes (about three forwards) over `samples` copies.
        let attacked = p.attack.as_ref().map_or(0.0, |a| {
            let radii = p.radii.iter().filter(|&&r| r > 0.0).count() as f64;
            a.examples.min(test_rows) as f64
                * (p.radii.len() as f64 * p.n as f64 + radii * (3 * a.steps * a.samples) as f64)
        });
        let cost = p.examples.min(test_rows) as f64 * (p.n0 + p.n) as f64 + attacked;
        out.extend(p.sigmas.iter().map(|&s| (Cell::certify(s), cost)));
    }
    out
}

/// The cells of `shard`: every cell goes, most expensive first, to the
/// shard with the least work so far (the lowest index on a tie), so the
/// split depends on the plan and the test set's size only.
pub fn assign(eval: &EvalPlan, test_rows: usize, shard: Shard) -> BTreeSet<Cell> {
    let all = cells(eval, test_rows);
    let mut order: Vec<usize> = (0..all.len()).collect();
    // Stable: equal costs keep the evaluation's order.
    order.sort_by(|&a, &b| all[b].1.total_cmp(&all[a].1));
    let mut load = vec![0.0f64; shard.count];
    let mut mine = BTreeSet::new();
    for i in order {
        let least = (0..shard.count).min_by(|&a, &b| load[a].total_cmp(&load[b])).unwrap_or(0);
        load[least] += all[i].1;
        if least == shard.index {
            mine.insert(all[i].0.clone());
        }
    }
    mine
}

/// What one shard measured, written to `<run>/shards/shard-K-of-N.json`.
/// Numbers read back bit for bit (serde_json's `float_roundtrip`), so the
/// merged metrics are what one process would have computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    /// [`SHARD_SCHEMA`].
    pub schema_version: u32,
    /// Which shard.
    pub shard: Shard,
    /// The SHA-256 of the weights evaluated.
    pub weights_sha256: String,
    /// The evaluated config: `None` for the run's own, else the file given.
    pub config: Option<String>,
    /// The SHA-256 of the evaluated config, resolved.
    pub config_sha256: String,
    /// The evaluation seed.
    pub seed: u64,
    /// The run and test set as evaluated.
    pub run: RunInfo,
    /// The corruption tables by op (metrics' `corruption_table`).
    pub corruption_table: BTreeMap<String, String>,
    /// The cells this shard evaluated, in order.
    pub cells: Vec<Cell>,
    /// Clean accuracy, when this shard has that cell.
    pub clean_accuracy: Option<f64>,
    /// This shard's corruption cells.
    pub corruption_accuracy: MetricTable,
    /// This shard's attack cells: `attack_accuracy`.
    pub attack_accuracy: MetricTable,
    /// `attack_success_rate`.
    pub attack_success_rate: MetricTable,
    /// `attack_mean_norm`.
    pub attack_mean_norm: MetricTable,
    /// `attack_mean_queries`.
    pub attack_mean_queries: MetricTable,
    /// Each attack cell's per-row outcomes, so the merge can take the worst
    /// case over attacks that ran on different shards.
    pub attack_rows_correct: RowTable,
    /// `attack_stage_accuracy`: cascades' accuracy after each stage
    /// (absent from shards without a cascade, and from older ones).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attack_stage_accuracy: StageTable,
    /// `certification`: this shard's certify cells (absent from shards
    /// without one, and from older ones).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub certification: BTreeMap<String, CertifyMetrics>,
    /// Wall seconds of the shard's evaluation.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AttackKind, WhiteBoxPlan};

    fn plan(corruptions: Vec<&'static str>, epsilons: Vec<f64>) -> EvalPlan {
        EvalPlan {
            corruptions,
            corruption_table: augment::TableChoice::default(),
            tables: Vec::new(),
            batch_size: 32,
            attacks: vec![AttackPlan::WhiteBox(WhiteBoxPlan {
                kind: AttackKind::PgdLinf,
                epsilons,
                steps: 10,
                step_size: 0.25,
                random_start: true,
                restarts: 1,
                targets: None,
                examples: 100,
            })],
            mce_baseline: None,
            privacy: None,
            extraction: Vec::new(),
            certify: None,
        }
    }

    #[test]
    fn shards_partition_the_cells() {
        let eval = plan(vec!["gaussian_noise", "fog", "contrast"], vec![0.05, 0.1, 0.2]);
        let all: BTreeSet<Cell> = cells(&eval, 1000).into_iter().map(|(c, _)| c).collect();
        assert_eq!(all.len(), 1 + 15 + 3);
        for n in [1, 2, 3, 7, 40] {
            let mut seen = BTreeSet::new();
            for k in 0..n {
                for c in assign(&eval, 1000, Shard::new(k, n).expect("in range")) {
                    assert!(seen.insert(c.clone()), "{c} in two shards of {n}");
                }
            }
            assert_eq!(seen, all, "{n} shards cover every cell once");
        }
    }

    #[test]
    fn shards_are_balanced_by_cost() {
        // Three PGD-10 cells over 100 rows cost 3,200 passes each; fifteen
        // corruption cells over 1,000 rows 2,000 each; clean 1,000.
        let eval = plan(vec!["gaussian_noise", "fog", "contrast"], vec![0.05, 0.1, 0.2]);
        let cost: BTreeMap<Cell, f64> = cells(&eval, 1000).into_iter().collect();
        let loads: Vec<f64> = (0..3)
            .map(|k| assign(&eval, 1000, Shard { index: k, count: 3 }).iter().map(|c| cost[c]).sum())
            .collect();
        let total: f64 = cost.values().sum();
        assert_eq!(loads.iter().sum::<f64>(), total);
        let (lo, hi) = loads.iter().fold((f64::MAX, 0.0f64), |(lo, hi), &l| (lo.min(l), hi.max(l)));
        // Longest-first greedy: no shard exceeds the mean by more than the largest cell.
        assert!(hi - total / 3.0 <= 3200.0, "{loads:?}");
        assert!(hi - lo <= 3200.0, "{loads:?}");
        // Each shard gets one of the three expensive attack cells.
        for k in 0..3 {
            let s = assign(&eval, 1000, Shard { index: k, count: 3 });
            assert_eq!(s.iter().filter(|c| matches!(c, Cell::Attack { .. })).count(), 1, "shard {k}");
        }
    }

    #[test]
    fn numbers_read_back_to_the_same_bits() {
        // Values whose shortest decimal form a fast float parser can misread.
        let hard = [0.1 + 0.2, 1.0 / 3.0, 2.0f64.powi(-1074), 9007199254740993.0, 0.9876543210987654, 7e-8];
        let mut table = MetricTable::new();
        for (i, v) in hard.iter().enumerate() {
            table.entry("op".into()).or_default().insert(i.to_string(), *v);
        }
        let r = ShardResult {
            schema_version: SHARD_SCHEMA,
            shard: Shard { index: 0, count: 1 },
            weights_sha256: String::new(),
            config: None,
            config_sha256: String::new(),
            seed: 1,
            run: RunInfo {
                name: "n".into(),
                id: "i".into(),
                modality: "image".into(),
                classes: vec![],
                train_examples: 0,
                test_examples: 0,
                skipped_rows: 0,
            },
            corruption_table: BTreeMap::new(),
            cells: vec![Cell::Clean],
            clean_accuracy: Some(hard[3]),
            corruption_accuracy: table.clone(),
            attack_accuracy: table.clone(),
            attack_success_rate: MetricTable::new(),
            attack_mean_norm: table,
            attack_mean_queries: MetricTable::new(),
            attack_rows_correct: RowTable::new(),
            attack_stage_accuracy: StageTable::new(),
            certification: BTreeMap::new(),
            seconds: 0.5,
        };
        let back: ShardResult =
            serde_json::from_slice(&serde_json::to_vec_pretty(&r).expect("serialises")).expect("parses");
        for (a, b) in r.corruption_accuracy["op"].values().zip(back.corruption_accuracy["op"].values()) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert_eq!(back, r);
    }

    #[test]
    fn shard_syntax_and_range() {
        let never = || -> anyhow::Result<usize> { anyhow::bail!("not asked") };
        assert_eq!(Shard::parse("2/3", never).expect("valid"), Shard { index: 2, count: 3 });
        assert_eq!(Shard::parse("auto/4", || Ok(1)).expect("valid"), Shard { index: 1, count: 4 });
        let err = |v: &str| Shard::parse(v, never).expect_err("refused").to_string();
        assert!(err("3/3").contains("K must be below N"), "{}", err("3/3"));
        assert!(err("0/0").contains("K must be below N"));
        assert!(err("1").contains("written K/N"));
        assert!(err("a/3").contains("written K/N"));
        assert_eq!(Shard { index: 0, count: 3 }.file_name(), "shard-0-of-3.json");
    }
}
