//! Robustness gates: `"<metric> <op> <points>"` against a baseline run.

use super::RunMetrics;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `<`
    Less,
    /// `<=`
    LessEq,
    /// `>`
    Greater,
    /// `>=`
    GreaterEq,
}

impl Comparison {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Comparison::Less => a < b,
            Comparison::LessEq => a <= b,
            Comparison::Greater => a > b,
            Comparison::GreaterEq => a >= b,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Comparison::Less => "<",
            Comparison::LessEq => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterEq => ">=",
        }
    }
}

/// "fail if the change of `metric` (in points) `op` `threshold`".
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// Dotted metric path.
    pub metric: String,
    /// Operator.
    pub op: Comparison,
    /// Threshold in percentage points (change against the baseline).
    pub threshold: f64,
}

/// A gate expression that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("gate {expr:?}: {message} (expected `<metric> <op> <points>`, e.g. \"clean_accuracy < -0.5\")")]
pub struct GateError {
    /// The expression.
    pub expr: String,
    /// What is wrong.
    pub message: String,
}

impl std::str::FromStr for Gate {
    type Err = GateError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        let err = |m: &str| GateError { expr: expr.to_owned(), message: m.to_owned() };
        let ops = [
            ("<=", Comparison::LessEq),
            (">=", Comparison::GreaterEq),
            ("<", Comparison::Less),
            (">", Comparison::Greater),
        ];
        let (pos, sym, op) = ops
            .iter()
            .filter_map(|(s, op)| expr.find(s).map(|p| (p, *s, *op)))
            .min_by_key(|(p, s, _)| (*p, std::cmp::Reverse(s.len())))
            .ok_or_else(|| err("no comparison operator"))?;
        let metric = expr[..pos].trim();
        let value = expr[pos + sym.len()..].trim();
        if metric.is_empty() || metric.contains(char::is_whitespace) {
            return Err(err("the metric must be one dotted path"));
        }
        let threshold: f64 = value.parse().map_err(|_| err(&format!("{value:?} is not a number")))?;
        if !threshold.is_finite() {
            return Err(err("the threshold must be finite"));
        }
        Ok(Gate { metric: metric.to_owned(), op, threshold })
    }
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op.symbol(), self.threshold)
    }
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
    fn parses_operators_and_dotted_paths() {
        let g: Gate = "attack_accuracy.pgd_linf.0.1 < -2.0".parse().expect("test setup");
        assert_eq!(
            (g.metric.as_str(), g.op, g.threshold),
            ("attack_accuracy.pgd_linf.0.1", Comparison::Less, -2.0)
        );
        let g: Gate = "clean_accuracy<=-0.5".parse().expect("test setup");
        assert_eq!(g.op, Comparison::LessEq);
        assert!("clean_accuracy -0.5".parse::<Gate>().is_err());
        assert!("clean_accuracy < x".parse::<Gate>().is_err());
        assert!(" < 1".parse::<Gate>().is_err());
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
}
