//! A temporary workspace per test and a way to run the binary in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use temper::synth::{self, ImageLayout};

/// A temporary folder with data and configs; removed on drop.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

/// This package's folder as Cargo gives it to the running test, and only
/// failing that as it was when the test was compiled: a test binary built in
/// another checkout sharing the target folder (Cargo does not rebuild it when
/// only the path differs) must read this checkout's files.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// GPU kernels and autotune results of every test run: in the build's
/// folder, not the user's cache, and shared, so that only the first wgpu
/// run of a kept build folder pays for autotuning on the software driver
/// (about a minute per run there).
pub const KERNEL_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/kernel-cache");

/// A turn at the GPU for a run whose arguments name one: such runs share
/// [`KERNEL_CACHE`], whose store one process may use at a time (a second
/// compiles and tunes in memory, about a minute on the software driver),
/// so the tests' GPU runs take turns.
pub fn gpu_turn(args: &[&str]) -> Option<std::sync::MutexGuard<'static, ()>> {
    static GPU: std::sync::Mutex<()> = std::sync::Mutex::new(());
    args.iter()
        .any(|a| a.starts_with("wgpu") || a.starts_with("cuda") || *a == "auto")
        .then(|| GPU.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// What a run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating folders) and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, contents).expect("write");
        p
    }

    /// Generated digits (`digits/train.csv` + PNGs, or Parquet with bytes).
    pub fn digits(&self, train: usize, test: usize, layout: ImageLayout) -> (PathBuf, PathBuf) {
        synth::write_digits(&self.path().join("digits"), train, test, 7, layout).expect("digits")
    }

    /// Generated messages (`messages/train.csv`, `messages/test.csv`).
    pub fn messages(&self, train: usize, test: usize) -> (PathBuf, PathBuf) {
        synth::write_messages(&self.path().join("messages"), train, test, 7).expect("messages")
    }

    /// Runs `temper` with `args` inside the sandbox.
    pub fn temper(&self, args: &[&str]) -> Run {
        self.temper_with_env(args, &[])
    }

    /// Runs `temper` with `args` and the extra environment variables `env`.
    pub fn temper_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let _turn = gpu_turn(args);
        let out = Command::new(env!("CARGO_BIN_EXE_temper"))
            .args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("TEMPER_KERNEL_CACHE", KERNEL_CACHE)
            .envs(env.iter().copied())
            .output()
            .expect("run temper");
        Run::from(out)
    }

    /// Every run directory under `runs/`.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        self.run_dirs_under("runs")
    }

    /// Starts `temper train --config cfg --out out`, SIGKILLs it once a
    /// checkpoint exists inside epoch 2, and returns the run directory
    /// (`out/<run name>/<id>`), its lock left behind as a killed run leaves it.
    pub fn killed_inside_epoch_two(&self, cfg: &str, out: &str, name: &str) -> PathBuf {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_temper"))
            .args(["train", "--config", cfg, "--quiet", "--out", out])
            .current_dir(self.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let run_dir = loop {
            assert!(std::time::Instant::now() < deadline, "no mid-epoch checkpoint appeared");
            let found = std::fs::read_dir(self.path().join(out).join(name))
                .ok()
                .and_then(|mut d| d.next())
                .and_then(Result::ok);
            if let Some(dir) = found
                && let Ok(bytes) = std::fs::read(dir.path().join("checkpoint/state.json"))
                && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
                && v["state"]["epoch"] == 1
                && v["state"]["batch"].as_u64().is_some_and(|b| b > 0)
            {
                break dir.path();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        child.kill().unwrap();
        child.wait().unwrap();
        run_dir
    }

    /// Trains `cfg` under `out/` to the end: its run directory and metrics.
    pub fn trained(&self, cfg: &str, out: &str) -> (PathBuf, serde_json::Value) {
        let run = self.temper(&["train", "--config", cfg, "--quiet", "--out", out]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let dir = self.run_dirs_under(out)[0].clone();
        let metrics = self.json(&dir.join("metrics.json"));
        (dir, metrics)
    }

    /// Trains `cfg` (run `name`) again, SIGKILLed inside epoch 2 and then
    /// resumed, and asserts it ends with `finished`, the metrics of the
    /// same config trained without a break (run id and timings aside).
    pub fn resumes_to(&self, cfg: &str, name: &str, finished: serde_json::Value) {
        let killed = self.killed_inside_epoch_two(cfg, "killed", name);
        assert!(!killed.join("metrics.json").exists(), "killed before finishing");
        let resumed = self.temper(&["train", "--resume", killed.to_str().unwrap(), "--quiet"]);
        assert_eq!(resumed.code, 0, "{}", resumed.stderr);
        assert_eq!(comparable(finished), comparable(self.json(&killed.join("metrics.json"))));
    }

    /// Every run directory under `root/<name>/`.
    pub fn run_dirs_under(&self, root: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let root = self.path().join(root);
        for name in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            for run in std::fs::read_dir(name.path()).into_iter().flatten().flatten() {
                if run.file_name() != "latest" {
                    out.push(run.path());
                }
            }
        }
        out.sort();
        out
    }

    pub fn json(&self, path: &Path) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("parse json")
    }
}

/// A small, fast image config over `digits/`.
pub fn digits_config(train: &str, test: &str, extra: &str) -> String {
    // CSV tables reference PNG files in a `path` column; Parquet ones embed bytes.
    let column = if train.ends_with(".csv") { "path" } else { "image" };
    format!(
        r#"name = "tiny-digits"
seed = 3
[data]
modality = "image"
train = "{train}"
test = "{test}"
input-column = "{column}"
channels = 1
width = 28
height = 28
[model]
conv-channels = [8, 16]
hidden = 32
dropout = 0.1
[train]
epochs = 2
batch-size = 32
learning-rate = 0.003
{extra}
[eval]
corruptions = ["gaussian_noise", "rotate"]
batch-size = 128
"#
    )
}

/// A small, fast text config over `messages/`.
pub fn messages_config(extra: &str) -> String {
    format!(
        r#"name = "tiny-messages"
seed = 3
[data]
modality = "text"
train = "messages/train.csv"
test = "messages/test.csv"
[model]
buckets = 4096
embedding-dim = 16
hidden = 16
dropout = 0.1
[train]
epochs = 4
batch-size = 32
learning-rate = 0.01
{extra}
[eval]
corruptions = ["typo", "homoglyph"]
"#
    )
}

/// Metrics without wall-clock fields, which legitimately differ between
/// a run and its resumed or repeated twin.
pub fn comparable(mut v: serde_json::Value) -> serde_json::Value {
    v["run"]["id"] = serde_json::Value::Null;
    if let Some(epochs) = v["training"].as_array_mut() {
        for e in epochs {
            e["seconds"] = serde_json::Value::Null;
            e["examples_per_second"] = serde_json::Value::Null;
            e["device_busy_share"] = serde_json::Value::Null;
        }
    }
    v["privacy"]["seconds"] = serde_json::Value::Null;
    if v.get("filter").is_some() {
        v["filter"]["seconds"] = serde_json::Value::Null;
    }
    v
}
