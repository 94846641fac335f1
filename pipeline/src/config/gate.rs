//! Robustness gate expressions, `"<metric> <op> <points>"`: parsed with the
//! config; checked against runs by `crate::compare`.

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
    /// Whether `a op b`.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Comparison::Less => a < b,
            Comparison::LessEq => a <= b,
            Comparison::Greater => a > b,
            Comparison::GreaterEq => a >= b,
        }
    }

    /// How a config writes it.
    pub fn symbol(self) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operators_and_dotted_paths() {
        let g: Gate = "attack_accuracy.pgd_linf.0.1 < -2.0".parse().expect("test setup");
        assert_eq!(
            (g.metric.as_str(), g.op, g.threshold),
            ("attack_accuracy.pgd_linf.0.1", Comparison::Less, -2.0)
        );
        let g: Gate = "clean_accuracy<=-0.5".parse().expect("test setup");
        assert_eq!(g.op, Comparison::LessEq);
        assert_eq!(g.to_string(), "clean_accuracy <= -0.5");
        assert!("clean_accuracy -0.5".parse::<Gate>().is_err());
        assert!("clean_accuracy < x".parse::<Gate>().is_err());
        assert!(" < 1".parse::<Gate>().is_err());
    }
}
