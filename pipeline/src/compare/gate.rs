//! Robustness gates checked against a baseline run; the expressions are
//! parsed with the config (`crate::config::Gate`).

use super::{LoadError, RunMetrics};
pub use crate::config::{Comparison, Gate, GateError};

/// One gate's verdict on a run, as the log and the error message say it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The gate expression.
    pub gate: String,
    /// Whether the run passed it.
    pub passed: bool,
    /// The change in points, or why it could not be measured.
    pub detail: String,
}

/// Checks every gate on `run` against `baseline`.
pub fn verdicts(gates: &[Gate], run: &RunMetrics, baseline: &RunMetrics) -> Vec<Verdict> {
    gates
        .iter()
        .map(|g| {
            let (passed, detail) = match g.check(run, baseline) {
                GateOutcome::Pass { delta } => (true, format!("{delta:+.2} points")),
                GateOutcome::Fail { delta } => (false, format!("{delta:+.2} points")),
                GateOutcome::Missing => (false, format!("metric `{}` is missing", g.metric)),
            };
            Verdict { gate: g.to_string(), passed, detail }
        })
        .collect()
}

/// Loads the run in `dir` and the baseline, and checks every gate.
pub fn check_run(
    gates: &[Gate],
    dir: &std::path::Path,
    baseline: &std::path::Path,
) -> Result<(RunMetrics, Vec<Verdict>), LoadError> {
    let baseline = super::load(baseline)?;
    let run = super::load(dir)?;
    let verdicts = verdicts(gates, &run, &baseline);
    Ok((baseline, verdicts))
}

/// The verdict of one gate on one run.
#[derive(Debug, Clone, PartialEq)]
pub enum GateOutcome {
    /// The change is acceptable.
    Pass {
        /// Change in points.
        delta: f64,
    },
    /// The change trips the gate.
    Fail {
        /// Change in points.
        delta: f64,
    },
    /// The metric is absent from the run or the baseline: a gate on a
    /// metric nobody measured fails, so a typo cannot pass silently.
    Missing,
}

impl Gate {
    /// Checks `run` against `baseline`.
    pub fn check(&self, run: &RunMetrics, baseline: &RunMetrics) -> GateOutcome {
        match (run.values.get(&self.metric), baseline.values.get(&self.metric)) {
            (Some(a), Some(b)) => {
                // Points for fractions; perturbation sizes and queries in their own units.
                let delta = if super::table::is_fraction(&self.metric) { (a - b) * 100.0 } else { a - b };
                if self.op.holds(delta, self.threshold) {
                    GateOutcome::Fail { delta }
                } else {
                    GateOutcome::Pass { delta }
                }
            }
            _ => GateOutcome::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn run(v: &[(&str, f64)]) -> RunMetrics {
        RunMetrics {
            dir: "r".into(),
            label: "r".into(),
            values: v.iter().map(|(k, x)| ((*k).to_owned(), *x)).collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn drops_are_measured_in_points() {
        let base = run(&[("clean_accuracy", 0.95)]);
        let g: Gate = "clean_accuracy < -0.5".parse().expect("test setup");
        assert!(
            matches!(g.check(&run(&[("clean_accuracy", 0.944)]), &base), GateOutcome::Fail { delta } if (delta + 0.6).abs() < 1e-9)
        );
        assert!(matches!(g.check(&run(&[("clean_accuracy", 0.947)]), &base), GateOutcome::Pass { .. }));
        assert_eq!(g.check(&run(&[]), &base), GateOutcome::Missing);
    }

    #[test]
    fn verdicts_name_the_change_or_the_missing_metric() {
        let base = run(&[("clean_accuracy", 0.95)]);
        let gates: Vec<Gate> = ["clean_accuracy < -0.5", "attack_accuracy.fgsm.0.1 < -1"]
            .iter()
            .map(|g| g.parse().expect("gate"))
            .collect();
        let v = verdicts(&gates, &run(&[("clean_accuracy", 0.944)]), &base);
        assert_eq!((v[0].passed, v[0].detail.as_str()), (false, "-0.60 points"));
        assert_eq!(
            (v[1].passed, v[1].detail.as_str()),
            (false, "metric `attack_accuracy.fgsm.0.1` is missing")
        );
    }
}
