//! `temper runs list`: every run with its status and headline metrics.

use std::path::PathBuf;

use crate::eval::shard::{SHARDS, Shard};
use crate::report::pct;
use crate::run::LATEST;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List runs under the root folder, newest last, `*` marking `latest`.
    List {
        /// Root folder of run directories.
        #[arg(long, default_value = "runs")]
        root: PathBuf,
    },
}

pub fn run(command: Command) -> anyhow::Result<()> {
    let Command::List { root } = command;
    println!("| run | id | status | clean_accuracy | mean_corruption_accuracy |\n|---|---|---|---|---|");
    let mut names: Vec<_> =
        std::fs::read_dir(&root).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    names.sort();
    for name_dir in names.into_iter().filter(|p| p.is_dir()) {
        let latest = std::fs::read_link(name_dir.join(LATEST)).ok();
        let mut ids: Vec<_> = std::fs::read_dir(&name_dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name() != LATEST && e.path().is_dir())
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        for dir in ids {
            let id = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let read = |f: &str| -> Option<serde_json::Value> {
                serde_json::from_slice(&std::fs::read(dir.join(f)).ok()?).ok()
            };
            let manifest = read("manifest.json");
            let mut status =
                manifest.as_ref().and_then(|m| m["status"].as_str().map(str::to_owned)).unwrap_or("?".into());
            // A sharded evaluation's progress: the shards written so far.
            if let Some(n) = manifest.as_ref().and_then(|m| m["eval_shards"].as_u64())
                && status == "evaluating"
            {
                let n = n as usize;
                let done = (0..n)
                    .filter(|&k| {
                        Shard::new(k, n).is_ok_and(|s| dir.join(SHARDS).join(s.file_name()).is_file())
                    })
                    .count();
                status = format!("evaluating ({done} of {n} shards)");
            }
            let metrics = read("metrics.json");
            let cell = |k: &str| metrics.as_ref().and_then(|m| m[k].as_f64()).map_or("–".to_owned(), pct);
            let mark =
                if latest.as_deref().is_some_and(|l| l.as_os_str() == id.as_str()) { " *" } else { "" };
            println!(
                "| {} | {id}{mark} | {status} | {} | {} |",
                name_dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                cell("clean_accuracy"),
                cell("mean_corruption_accuracy")
            );
        }
    }
    Ok(())
}
