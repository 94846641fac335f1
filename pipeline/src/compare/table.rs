//! Rendering a comparison as markdown, CSV or JSON.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::RunMetrics;

/// Output format of `temper compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A markdown table (default).
    Markdown,
    /// CSV with one row per metric.
    Csv,
    /// JSON: metrics by run, and deltas.
    Json,
}

/// Renders metrics side by side; deltas are against `runs[baseline]`, in points.
pub fn render(runs: &[RunMetrics], baseline: usize, format: Format) -> String {
    let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.values.keys()).collect();
    let base = &runs[baseline];
    let delta = |r: &RunMetrics, k: &String| match (r.values.get(k), base.values.get(k)) {
        (Some(a), Some(b)) => Some((a - b) * 100.0),
        _ => None,
    };
    let mut out = String::new();
    match format {
        Format::Markdown => {
            let _ = write!(out, "| metric |");
            for (i, r) in runs.iter().enumerate() {
                let _ = write!(out, " {}{} |", r.label, if i == baseline { " (baseline)" } else { "" });
            }
            let _ = writeln!(out);
            let _ = writeln!(out, "|---|{}", "---|".repeat(runs.len()));
            for k in &keys {
                let _ = write!(out, "| {k} |");
                for (i, r) in runs.iter().enumerate() {
                    let cell = match (r.values.get(*k), delta(r, k)) {
                        (Some(v), Some(d)) if i != baseline => format!("{:.2}% ({d:+.2})", v * 100.0),
                        (Some(v), _) => format!("{:.2}%", v * 100.0),
                        (None, _) => "–".to_owned(),
                    };
                    let _ = write!(out, " {cell} |");
                }
                let _ = writeln!(out);
            }
        }
        Format::Csv => {
            let _ = write!(out, "metric");
            for r in runs {
                let _ = write!(out, ",{0},{0} delta_points", r.label);
            }
            let _ = writeln!(out);
            for k in &keys {
                let _ = write!(out, "{k}");
                for r in runs {
                    let v = r.values.get(*k).map(|v| v.to_string()).unwrap_or_default();
                    let d = delta(r, k).map(|d| format!("{d:.4}")).unwrap_or_default();
                    let _ = write!(out, ",{v},{d}");
                }
                let _ = writeln!(out);
            }
        }
        Format::Json => {
            let value = serde_json::json!({
                "baseline": base.label,
                "runs": runs.iter().map(|r| serde_json::json!({
                    "run": r.label,
                    "dir": r.dir,
                    "metrics": r.values,
                    "delta_points": r.values.keys().filter_map(|k| delta(r, k).map(|d| (k.clone(), d))).collect::<std::collections::BTreeMap<_, _>>(),
                })).collect::<Vec<_>>(),
            });
            out = serde_json::to_string_pretty(&value).unwrap_or_default();
            out.push('\n');
        }
    }
    out
}
