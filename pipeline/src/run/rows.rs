//! `rows.tsv`: one line per example (split, content hash, label), written
//! with every run so `temper diff-data` can show what changed between the
//! datasets of two runs: the signature of a poisoning attempt.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use crate::data::{Dataset, Inputs, Split};

/// File name inside a run directory.
pub const ROWS: &str = "rows.tsv";

/// The first 128 bits of an example's SHA-256, as hex.
pub fn hash_row(data: &Dataset, i: usize) -> String {
    let digest = match &data.inputs {
        Inputs::Images(set) => crate::hash::sha256_bytes(set.bytes(i)),
        Inputs::Texts(t) => crate::hash::sha256_bytes(t[i].as_bytes()),
    };
    digest[..32].to_owned()
}

/// The TSV text for a split (decoded pixels for images, text for text).
pub fn render(split: &Split) -> String {
    let mut out = String::from("split\tsha256_128\tlabel\n");
    for (name, data) in [("train", &split.train), ("test", &split.test)] {
        for i in 0..data.len() {
            let label = split.classes[data.labels[i]].replace(['\t', '\n'], " ");
            let _ = writeln!(out, "{name}\t{}\t{label}", hash_row(data, i));
        }
    }
    out
}

/// The TSV text listing `rows` of `data` (row number in the training table
/// as trained, content hash, label): which rows a validation split held out.
pub fn render_rows(data: &Dataset, rows: &[usize], classes: &[String]) -> String {
    let mut out = String::from("row\tsha256_128\tlabel\n");
    for &r in rows {
        let label = classes[data.labels[r]].replace(['\t', '\n'], " ");
        let _ = writeln!(out, "{r}\t{}\t{label}", hash_row(data, r));
    }
    out
}

/// Content hash → labels seen with it, per split, from a run's `rows.tsv`.
type Rows = BTreeMap<(String, String), BTreeSet<String>>;

fn read(run: &Path) -> anyhow::Result<Rows> {
    let path = run.join(ROWS);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Rows::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let mut parts = line.splitn(3, '\t');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(split), Some(hash), Some(label)) => {
                rows.entry((split.to_owned(), hash.to_owned())).or_default().insert(label.to_owned());
            }
            _ => anyhow::bail!("{}: line {}: expected `split<TAB>hash<TAB>label`", path.display(), n + 1),
        }
    }
    Ok(rows)
}

/// What changed from run `a`'s data to run `b`'s.
#[derive(Debug, Default, PartialEq, serde::Serialize)]
pub struct DataDiff {
    /// Examples only in `b`, per split.
    pub added: BTreeMap<String, usize>,
    /// Examples only in `a`, per split.
    pub removed: BTreeMap<String, usize>,
    /// Examples in both whose label changed: (split, hash, labels in a, labels in b).
    pub label_changed: Vec<(String, String, Vec<String>, Vec<String>)>,
}

/// Compares the datasets of two runs by row content hash.
pub fn diff(a: &Path, b: &Path) -> anyhow::Result<DataDiff> {
    let (ra, rb) = (read(a)?, read(b)?);
    let mut d = DataDiff::default();
    for (key, labels) in &rb {
        match ra.get(key) {
            None => *d.added.entry(key.0.clone()).or_default() += 1,
            Some(old) if old != labels => d.label_changed.push((
                key.0.clone(),
                key.1.clone(),
                old.iter().cloned().collect(),
                labels.iter().cloned().collect(),
            )),
            Some(_) => {}
        }
    }
    for key in ra.keys().filter(|k| !rb.contains_key(*k)) {
        *d.removed.entry(key.0.clone()).or_default() += 1;
    }
    Ok(d)
}
