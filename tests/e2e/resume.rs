//! Scheduled-job behaviour: a run killed mid-epoch resumes to the same
//! metrics as an uninterrupted run; locks keep two writers apart.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Sandbox, comparable, messages_config};

#[test]
fn killed_mid_epoch_then_resumed_equals_uninterrupted() {
    let sb = Sandbox::new();
    sb.messages(1500, 200);
    // A text backdoor too: the same rows poisoned, the same trigger positions.
    let extra = "checkpoint-every = 5\n[[train.augment]]\nop = \"typo\"\nseverity = [1, 3]\np = 0.5\n\
                 [train.poison]\nrate = 0.02\ntarget = \"spam\"\n\
                 [train.filter]\nexpected-rate = 0.05\n";
    let cfg = sb.write(
        "c.toml",
        messages_config(extra)
            .replace("epochs = 4", "epochs = 3")
            .replace("batch-size = 32", "batch-size = 16")
            // Membership inference too: the same rows held out, the same reference models.
            + "privacy-examples = 100\n[[eval.privacy]]\nattack = \"loss\"\n\
               [[eval.privacy]]\nattack = \"lira\"\nreferences = 2\n",
    );
    let cfg = cfg.to_str().unwrap();

    let full = sb.temper(&["train", "--config", cfg, "--quiet", "--out", "full"]);
    assert_eq!(full.code, 0, "{}", full.stderr);

    // Start the same run and SIGKILL it once a checkpoint exists inside epoch 2.
    let run_dir = sb.killed_inside_epoch_two(cfg, "killed", "tiny-messages");
    assert!(!run_dir.join("metrics.json").exists(), "the run was killed before finishing");

    // The killed process's lock died with it: the retry needs no person.
    assert!(run_dir.join("lock").exists(), "the killed run left its lock file");
    // A live holder still keeps others out: this test holds the lock for a moment.
    {
        let held = std::fs::OpenOptions::new().write(true).open(run_dir.join("lock")).unwrap();
        held.try_lock().unwrap();
        let blocked = sb.temper(&["train", "--resume", run_dir.to_str().unwrap(), "--quiet"]);
        assert_eq!(blocked.code, 2, "{}", blocked.stderr);
        assert!(blocked.stderr.contains("is in use by process"), "{}", blocked.stderr);
    }
    let resumed = sb.temper(&["train", "--resume", run_dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let a = sb.json(&sb.run_dirs_under("full")[0].join("metrics.json"));
    let b = sb.json(&run_dir.join("metrics.json"));
    assert!(a["privacy"]["attacks"]["lira"]["auc"].is_f64(), "{a}");
    assert!(a["poison"]["attack_success_rate"].is_f64(), "{a}");
    // The filter runs again on resume and flags the same rows.
    assert!(a["filter"]["flagged_rows"].as_u64().is_some_and(|n| n > 0), "{a}");
    assert_eq!(comparable(a), comparable(b));
    let manifest = sb.json(&run_dir.join("manifest.json"));
    assert_eq!(manifest["status"], "completed");
    let unkilled = sb.json(&sb.run_dirs_under("full")[0].join("manifest.json"));
    assert_eq!(manifest["weights_sha256"], unkilled["weights_sha256"], "the same weights, byte for byte");
    assert!(!run_dir.join("lock").exists(), "the lock is released");
    let log = std::fs::read_to_string(run_dir.join("log.jsonl")).unwrap();
    assert!(log.contains("\"event\":\"resumed\""));
    assert!(log.contains("\"event\":\"lock_taken_over\""), "the takeover is logged");
}

#[test]
fn resume_refuses_a_completed_run_and_a_missing_one() {
    let sb = Sandbox::new();
    sb.messages(200, 50);
    let cfg = sb.write("c.toml", messages_config("").replace("epochs = 4", "epochs = 1"));
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = sb.run_dirs()[0].clone();
    let again = sb.temper(&["train", "--resume", dir.to_str().unwrap()]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already completed"), "{}", again.stderr);
    let missing = sb.temper(&["train", "--resume", "runs/nope/123"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("not a run directory"), "{}", missing.stderr);
}

#[cfg(unix)]
#[test]
fn sigterm_checkpoints_exits_3_and_the_run_resumes() {
    let sb = Sandbox::new();
    sb.messages(3000, 100);
    let cfg = sb.write(
        "c.toml",
        messages_config("checkpoint-every = 1000000\n")
            .replace("epochs = 4", "epochs = 30")
            .replace("batch-size = 32", "batch-size = 8"),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_temper"))
        .args(["train", "--config", cfg.to_str().unwrap(), "--quiet"])
        .current_dir(sb.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training is under way (the first epoch's checkpoint), then ask it to stop.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !sb.run_dirs().first().is_some_and(|d| d.join("checkpoint/state.json").exists()) {
        assert!(Instant::now() < deadline, "training never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = sb.run_dirs()[0].clone();
    let manifest = sb.json(&dir.join("manifest.json"));
    assert_eq!(manifest["status"], "interrupted");
    assert!(!dir.join("lock").exists(), "a clean stop releases the lock");
    let resumed = sb.temper(&["train", "--resume", dir.to_str().unwrap(), "--quiet", "--epochs", "2"]);
    assert_eq!(resumed.code, 2, "--resume cannot change the plan");
    let cfg_text = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(cfg_text.contains("epochs = 30"));
}

#[test]
fn a_nan_loss_stops_with_epoch_and_batch_and_keeps_the_last_checkpoint() {
    let sb = Sandbox::new();
    sb.messages(300, 50);
    let cfg = sb.write("c.toml", messages_config(""));
    let out = Command::new(env!("CARGO_BIN_EXE_temper"))
        .args(["train", "--config", cfg.to_str().unwrap(), "--quiet"])
        .current_dir(sb.path())
        .env("TEMPER_FAULT_NAN_AT", "2:3")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the training loss became NaN at epoch 2, batch 3"), "{stderr}");
    let dir = sb.run_dirs()[0].clone();
    let manifest = sb.json(&dir.join("manifest.json"));
    assert_eq!(manifest["status"], "failed");
    let state = sb.json(&dir.join("checkpoint/state.json"));
    assert_eq!(state["state"]["epoch"], 1, "the epoch-1 checkpoint is kept");
    assert!(!dir.join("metrics.json").exists());
}

#[test]
fn a_retried_task_resumes_its_own_unfinished_run() {
    let sb = Sandbox::new();
    sb.messages(300, 60);
    let cfg = sb.write(
        "retry.toml",
        messages_config("checkpoint-every = 3\n").replace("batch-size = 32", "batch-size = 16"),
    );
    let cfg = cfg.to_str().unwrap();
    let killed = sb.killed_inside_epoch_two(cfg, "runs", "tiny-messages");
    // What a scheduler's retry runs: the same command line, with --retry.
    let retry = sb.temper(&["train", "--config", cfg, "--quiet", "--retry"]);
    assert_eq!(retry.code, 0, "{}", retry.stderr);
    assert_eq!(sb.run_dirs(), std::slice::from_ref(&killed), "no new run directory");
    let log = std::fs::read_to_string(killed.join("log.jsonl")).unwrap();
    assert!(log.contains("\"event\":\"resumed\"") && log.contains("lock_taken_over"), "{log}");
    // A finished run is not resumed: a retry after success starts a new one.
    let again = sb.temper(&["train", "--config", cfg, "--quiet", "--retry"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(sb.run_dirs().len(), 2);
}
