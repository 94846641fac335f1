//! `[sweep]`: one file, a grid of experiments. Each key under `[sweep]` is a
//! dotted config key (`seed`, `train.learning-rate`, written quoted or as
//! nested tables) with the list of values it takes; the grid is every
//! combination, in a stable order (keys sorted, the last varying fastest),
//! so index N names the same point on every machine: the unit of work of an
//! array job. Each point is an ordinary config named `<name>-<N>`.

use std::path::Path;

use toml::{Table, Value};

use super::error::ConfigError;

/// Points a sweep may have.
const MAX_POINTS: usize = 10_000;

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its index in the grid.
    pub index: usize,
    /// Its run name.
    pub name: String,
    /// The value each swept key takes, in key order.
    pub assignments: Vec<(String, Value)>,
    /// The config text of this point alone.
    pub text: String,
}

impl Point {
    /// `key=value` pairs, for listings and messages.
    pub fn describe(&self) -> String {
        self.assignments.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

/// The points of `text`'s sweep, or `None` when it has no `[sweep]`.
pub fn expand(text: &str, path: &Path) -> Result<Option<Vec<Point>>, ConfigError> {
    let err = |key: &str, message: String| ConfigError::at(path, key, message);
    let Ok(mut table) = text.parse::<Table>() else {
        // Not TOML: the ordinary parse reports where.
        return Ok(None);
    };
    let Some(sweep) = table.remove("sweep") else { return Ok(None) };
    let Value::Table(sweep) = sweep else {
        return Err(err("sweep", "must be a table of dotted keys and value lists".to_owned()));
    };
    let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
    flatten(&sweep, "", &mut axes, path)?;
    if axes.is_empty() {
        return Err(err("sweep", "lists no key to sweep".to_owned()));
    }
    axes.sort_by(|a, b| a.0.cmp(&b.0));
    let total = axes.iter().try_fold(1usize, |n, (_, v)| n.checked_mul(v.len())).filter(|&n| n <= MAX_POINTS);
    let Some(total) = total else {
        return Err(err(
            "sweep",
            format!("more than {MAX_POINTS} points; split the study into several files"),
        ));
    };
    let base = match table.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => path.file_stem().map_or_else(|| "sweep".to_owned(), |s| s.to_string_lossy().into_owned()),
    };
    let mut points = Vec::with_capacity(total);
    for index in 0..total {
        let mut rest = index;
        let mut assignments = vec![(String::new(), Value::Boolean(false)); axes.len()];
        for (k, (key, values)) in axes.iter().enumerate().rev() {
            assignments[k] = (key.clone(), values[rest % values.len()].clone());
            rest /= values.len();
        }
        let mut point = table.clone();
        for (key, value) in &assignments {
            set(&mut point, key, value.clone()).map_err(|m| err(&format!("sweep.{key}"), m))?;
        }
        let name = format!("{base}-{index}");
        point.insert("name".to_owned(), Value::String(name.clone()));
        let text = toml::to_string(&point).map_err(|e| err("sweep", e.to_string()))?;
        points.push(Point { index, name, assignments, text });
    }
    Ok(Some(points))
}

/// Every leaf of `table` as (dotted key, values).
fn flatten(
    table: &Table,
    prefix: &str,
    out: &mut Vec<(String, Vec<Value>)>,
    path: &Path,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Table(t) => flatten(t, &key, out, path)?,
            Value::Array(values) if !values.is_empty() => out.push((key, values.clone())),
            _ => {
                return Err(ConfigError::at(
                    path,
                    format!("sweep.{key}"),
                    "must list the values to sweep, e.g. [0.05, 0.1]",
                ));
            }
        }
    }
    Ok(())
}

/// Sets dotted `key` in `table`, creating tables on the way.
fn set(table: &mut Table, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut here = table;
    for part in &parts[..parts.len() - 1] {
        let next = here.entry((*part).to_owned()).or_insert_with(|| Value::Table(Table::new()));
        here = match next {
            Value::Table(t) => t,
            _ => return Err(format!("`{part}` is not a table in the config, so `{key}` cannot be set")),
        };
    }
    here.insert(parts[parts.len() - 1].to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name = \"study\"\nseed = 1\n[train]\nepochs = 2\nlearning-rate = 0.1\n";

    #[test]
    fn the_grid_is_every_combination_in_a_stable_order() {
        let text = format!("{BASE}[sweep]\nseed = [1, 2]\n\"train.learning-rate\" = [0.001, 0.01, 0.1]\n");
        let points = expand(&text, Path::new("s.toml")).expect("expands").expect("a sweep");
        assert_eq!(points.len(), 6);
        // Keys sorted: `seed` before `train.learning-rate`, which varies fastest.
        assert_eq!(points[1].describe(), "seed=1 train.learning-rate=0.01");
        assert_eq!(points[3].describe(), "seed=2 train.learning-rate=0.001");
        assert_eq!(points[3].name, "study-3");
        let t: Table = points[3].text.parse().expect("toml");
        assert_eq!(t["seed"].as_integer(), Some(2));
        assert_eq!(t["train"]["learning-rate"].as_float(), Some(0.001));
        assert_eq!(t["train"]["epochs"].as_integer(), Some(2), "the rest is kept");
        assert!(!t.contains_key("sweep"));
        // Nested tables say the same as quoted dotted keys.
        let nested =
            format!("{BASE}[sweep]\nseed = [1, 2]\n[sweep.train]\nlearning-rate = [0.001, 0.01, 0.1]\n");
        assert_eq!(expand(&nested, Path::new("s.toml")).expect("expands").expect("a sweep"), points);
    }

    #[test]
    fn a_config_without_a_sweep_is_left_alone_and_bad_sweeps_name_the_key() {
        assert_eq!(expand(BASE, Path::new("s.toml")).expect("plain"), None);
        let bad = |extra: &str| {
            expand(&format!("{BASE}{extra}"), Path::new("s.toml")).unwrap_err().key.unwrap_or_default()
        };
        assert_eq!(bad("[sweep]\nseed = 3\n"), "sweep.seed");
        assert_eq!(bad("[sweep]\nseed = []\n"), "sweep.seed");
        assert_eq!(bad("[sweep]\n\"seed.x\" = [1]\n"), "sweep.seed.x");
        assert_eq!(bad("[sweep]\n"), "sweep");
    }
}
