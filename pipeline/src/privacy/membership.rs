//! Members and non-members: a seeded share of the training table is held
//! out before training, and seeded samples of both sides are the targets
//! the attacks score. Everything depends on (seed, table) only, so a resumed
//! run holds out the same rows.

use std::fmt::Write as _;

use rand::seq::SliceRandom;

use crate::config::PrivacyPlan;
use crate::data::Dataset;

/// File name inside a run directory.
pub const MEMBERSHIP: &str = "membership.tsv";

/// Which rows of the loaded training table trained the model and which are
/// attacked. Indices are positions in that table (0-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    /// Rows the model trains on, in table order.
    pub members: Vec<usize>,
    /// Rows held out, in table order; never trained on.
    pub held_out: Vec<usize>,
    /// The members attacked.
    pub member_targets: Vec<usize>,
    /// The held-out rows attacked.
    pub non_member_targets: Vec<usize>,
}

/// As many targets on each side as `examples` and the smaller side allow,
/// each side's drawn from (seed, side) only.
fn targets(members: &[usize], held_out: &[usize], examples: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let per_side = examples.min(held_out.len()).min(members.len());
    let sample = |rows: &[usize], what: &str| {
        let mut rows = rows.to_vec();
        rows.shuffle(&mut augment::seed::rng(augment::seed::derive(seed, 0, 0, what)));
        rows.truncate(per_side);
        rows.sort_unstable();
        rows
    };
    (sample(members, "privacy-members"), sample(held_out, "privacy-non-members"))
}

impl Membership {
    /// Splits a training table of `n` rows as `plan` says.
    pub fn split(n: usize, plan: &PrivacyPlan, seed: u64) -> Membership {
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut augment::seed::rng(augment::seed::derive(seed, 0, 0, "privacy-holdout")));
        let held =
            ((n as f64 * plan.holdout).round() as usize).clamp(usize::from(n > 1), n.saturating_sub(1));
        let mut held_out = order[..held].to_vec();
        let mut members = order[held..].to_vec();
        held_out.sort_unstable();
        members.sort_unstable();
        let (member_targets, non_member_targets) = targets(&members, &held_out, plan.examples, seed);
        Membership { members, held_out, member_targets, non_member_targets }
    }

    /// Leaves the members `rows` (sorted), which training holds out for
    /// validation, out of the member targets: both sides' targets are drawn
    /// again from the members trained on.
    pub fn hold_for_validation(&mut self, rows: &[usize], plan: &PrivacyPlan, seed: u64) {
        let trained: Vec<usize> =
            self.members.iter().copied().filter(|r| rows.binary_search(r).is_err()).collect();
        (self.member_targets, self.non_member_targets) =
            targets(&trained, &self.held_out, plan.examples, seed);
    }

    /// The rows reference models may train on: every row of the table but
    /// the targets, so each reference is an "out" model for every target.
    pub fn reference_pool(&self) -> Vec<usize> {
        // Members and held-out rows together are the whole table.
        (0..self.members.len() + self.held_out.len())
            .filter(|r| self.member_targets.binary_search(r).is_err())
            .filter(|r| self.non_member_targets.binary_search(r).is_err())
            .collect()
    }

    /// `membership.tsv`: every held-out row and every member target, with
    /// its content hash and label, so the split can be audited and repeated.
    pub fn render(&self, table: &Dataset, classes: &[String]) -> String {
        let mut out = String::from("role\trow\tsha256_128\tlabel\n");
        let mut line = |role: &str, r: usize| {
            let label = classes[table.labels[r]].replace(['\t', '\n'], " ");
            let _ = writeln!(out, "{role}\t{r}\t{}\t{label}", crate::run::rows::hash_row(table, r));
        };
        for &r in &self.held_out {
            let role = if self.non_member_targets.binary_search(&r).is_ok() {
                "non_member_target"
            } else {
                "non_member"
            };
            line(role, r);
        }
        for &r in &self.member_targets {
            line("member_target", r);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PrivacyAttack, PrivacyAttackKind, Variance};

    fn plan(holdout: f64, examples: usize) -> PrivacyPlan {
        let loss = PrivacyAttack { kind: PrivacyAttackKind::Loss, references: 0, variance: Variance::Global };
        PrivacyPlan { holdout, examples, attacks: vec![loss] }
    }

    #[test]
    fn the_split_is_seeded_disjoint_and_covers_the_table() {
        let m = Membership::split(1000, &plan(0.2, 50), 7);
        assert_eq!(m, Membership::split(1000, &plan(0.2, 50), 7));
        assert_ne!(m.held_out, Membership::split(1000, &plan(0.2, 50), 8).held_out);
        assert_eq!((m.held_out.len(), m.members.len()), (200, 800));
        let mut all: Vec<usize> = m.members.iter().chain(&m.held_out).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!((m.member_targets.len(), m.non_member_targets.len()), (50, 50));
        assert!(m.member_targets.iter().all(|r| m.members.binary_search(r).is_ok()));
        assert!(m.non_member_targets.iter().all(|r| m.held_out.binary_search(r).is_ok()));
        let pool = m.reference_pool();
        assert_eq!(pool.len(), 900);
        assert!(pool.iter().all(|r| !m.member_targets.contains(r) && !m.non_member_targets.contains(r)));
    }

    #[test]
    fn validation_rows_are_never_member_targets() {
        let plan = plan(0.2, 50);
        let plain = Membership::split(1000, &plan, 7);
        let mut m = plain.clone();
        // Every member target but one held for validation, and other members.
        let mut rows: Vec<usize> = plain.member_targets[1..].to_vec();
        rows.extend(plain.members.iter().step_by(10));
        rows.sort_unstable();
        rows.dedup();
        m.hold_for_validation(&rows, &plan, 7);
        assert_eq!((m.members.clone(), m.held_out.clone()), (plain.members.clone(), plain.held_out.clone()));
        assert_eq!((m.member_targets.len(), m.non_member_targets.len()), (50, 50));
        assert!(m.member_targets.iter().all(|r| m.members.binary_search(r).is_ok()));
        assert!(m.member_targets.iter().all(|r| rows.binary_search(r).is_err()));
        assert_eq!(m.non_member_targets, plain.non_member_targets);
        // Reference models may still train on validation rows: they are in the table.
        assert_eq!(m.reference_pool().len(), 900);
    }

    #[test]
    fn both_sides_get_as_many_targets_as_the_smaller_has() {
        let m = Membership::split(100, &plan(0.1, 1000), 1);
        assert_eq!((m.member_targets.len(), m.non_member_targets.len()), (10, 10));
    }
}
