//! Commands other than train: list, validate, and exit codes.

use crate::harness::{Sandbox, messages_config};

#[test]
fn list_shows_every_operation_with_its_table() {
    let sb = Sandbox::new();
    let out = sb.temper(&["list"]);
    assert_eq!(out.code, 0);
    for name in augment::image::names().into_iter().chain(augment::text::names()) {
        assert!(out.stdout.contains(&format!("\n{name} (")), "{name} missing");
    }
    assert!(out.stdout.contains("severity"));
    // Each benchmark table of a corruption, with its parameters.
    let noise =
        out.stdout.split("\ngaussian_noise (").nth(1).expect("gaussian_noise").split("\n\n").next().unwrap();
    for table in ["imagenet_c:", "cifar10_c:", "sigma"] {
        assert!(noise.contains(table), "{table} missing from:\n{noise}");
    }
    assert!(
        noise.contains("0.08") && noise.contains("0.38"),
        "CIFAR-10-C's and ImageNet-C's sigmas:\n{noise}"
    );
    let names = sb.temper(&["list", "--names", "--modality", "text"]);
    assert_eq!(names.stdout.lines().count(), augment::text::names().len());
}

#[test]
fn validate_checks_config_and_data_without_training() {
    let sb = Sandbox::new();
    sb.messages(80, 20);
    let cfg = sb.write("c.toml", messages_config(""));
    let out = sb.temper(&["validate", cfg.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("80 training and 20 test examples"), "{}", out.stdout);
    assert!(sb.run_dirs().is_empty());
    let bad = sb.write(
        "bad.toml",
        messages_config("").replace("label-column", "x").replace("[data]", "[data]\nlabel-column = \"kind\""),
    );
    let out = sb.temper(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no column `kind`"), "{}", out.stderr);
}

#[test]
fn every_bundled_config_parses() {
    let root = crate::harness::manifest_dir().join("../configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            // Table files may not be generated yet: parse the raw layer and
            // resolve against stand-in tables in a sandbox.
            let text = std::fs::read_to_string(&path).unwrap();
            let sb = Sandbox::new();
            for line in text.lines().filter(|l| l.starts_with("train =") || l.starts_with("test =")) {
                let rel = line.split('"').nth(1).unwrap().trim_start_matches("../");
                sb.write(rel, "x,label\n");
            }
            let cfg = sb.write("configs/c.toml", &text);
            temper::config::load(&cfg).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} configs");
}

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    assert_eq!(sb.temper(&["train"]).code, 2);
    assert_eq!(sb.temper(&["frobnicate"]).code, 2);
    assert_eq!(sb.temper(&["--help"]).code, 0);
}

#[test]
fn a_reader_that_stops_early_gets_no_panic() {
    // As `temper validate c.toml | head -0`: the pipe is closed before
    // temper prints (it loads the data first).
    let sb = Sandbox::new();
    sb.messages(200, 50);
    let cfg = sb.write("c.toml", messages_config(""));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_temper"))
        .args(["validate", cfg.to_str().unwrap()])
        .current_dir(sb.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(done.status.code(), Some(0), "{stderr}");
}
