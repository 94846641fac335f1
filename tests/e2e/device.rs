//! Device choice: backends left out of the build, devices that fail to
//! start, `auto`, and (with the `wgpu` or `webgpu` feature) training on
//! wgpu with parity against the CPU backend. Without a GPU, wgpu runs on
//! Mesa's software Vulkan driver (lavapipe), which `make test` installs.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config};

fn tiny(sb: &Sandbox, extra_top: &str) -> String {
    sb.digits(512, 128, ImageLayout::ParquetBytes);
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", "")
        .replace("epochs = 2", "epochs = 1")
        .replace("corruptions = [\"gaussian_noise\", \"rotate\"]", "corruptions = [\"rotate\"]");
    let path = sb.write("c.toml", format!("{extra_top}{cfg}"));
    path.to_str().unwrap().to_owned()
}

// Only a build without the backend can refuse it.
#[cfg(not(feature = "cuda"))]
#[test]
fn a_backend_not_compiled_in_names_the_feature_to_build_it_with() {
    let sb = Sandbox::new();
    let cfg = tiny(&sb, "");
    let run = sb.temper(&["train", "--config", &cfg, "--device", "cuda:0", "--quiet"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--features cuda"), "{}", run.stderr);
    assert!(run.stderr.contains("available"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(sb.run_dirs().is_empty(), "no run directory for a refused device");
}

// A CUDA build trains on the card where there is one; where there is none
// (CI) it says so in one line, without the loader's panic, and leaves no run.
#[cfg(feature = "cuda")]
#[test]
fn a_cuda_build_trains_on_the_card_or_says_in_one_line_that_there_is_no_driver() {
    let sb = Sandbox::new();
    let cfg = tiny(&sb, "");
    let run = sb.temper(&["train", "--config", &cfg, "--device", "cuda", "--quiet"]);
    if run.code == 0 {
        let manifest = sb.json(&sb.run_dirs()[0].join("manifest.json"));
        assert!(manifest["device"].as_str().unwrap().starts_with("cuda:0 ("), "{}", manifest["device"]);
        return;
    }
    assert_eq!(run.code, 2, "{}", run.stderr);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].contains("device `cuda`") && lines[0].contains("NVIDIA driver"), "{}", lines[0]);
    assert!(lines[0].len() < 400, "{}", lines[0]);
    for leak in ["unwrap", "panicked", "RecvError", "searched for library names"] {
        assert!(!lines[0].contains(leak), "{}", lines[0]);
    }
    assert!(sb.run_dirs().is_empty(), "no run directory for a device that did not start");
}

#[test]
fn a_misspelt_device_in_a_config_names_the_key_and_the_choices() {
    let sb = Sandbox::new();
    let cfg = tiny(&sb, "device = \"gpu\"\n");
    let run = sb.temper(&["validate", &cfg]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("device"), "{}", run.stderr);
    assert!(run.stderr.contains("wgpu") && run.stderr.contains("cuda"), "{}", run.stderr);
}

#[test]
fn bench_refuses_an_unknown_device_before_reading_its_config() {
    let sb = Sandbox::new();
    let run = sb.temper(&["bench", "--config", "missing.toml", "--device", "cpu", "--device", "gpu"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("device `gpu`"), "{}", run.stderr);
    assert!(run.stderr.contains("available in this build: "), "{}", run.stderr);
    assert!(!run.stderr.contains("missing.toml"), "the config was read first: {}", run.stderr);
}

#[test]
fn auto_never_picks_a_software_adapter_and_the_manifest_says_what_ran() {
    let sb = Sandbox::new();
    let cfg = tiny(&sb, "device = \"auto\"\n");
    let run = sb.temper(&["train", "--config", &cfg, "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let manifest = sb.json(&sb.run_dirs()[0].join("manifest.json"));
    assert_eq!(manifest["device_requested"], "auto");
    let device = manifest["device"].as_str().unwrap();
    // A hardware adapter where there is one (GPU CI), else the CPU; never a
    // software one such as lavapipe, which `make test` installs.
    if device.starts_with("wgpu") || device.starts_with("cuda") {
        assert!(!device.contains("software"), "auto picked a software adapter: {device}");
        assert!(device.ends_with(')') && device.len() > "wgpu ()".len(), "no adapter name: {device}");
    } else {
        assert_eq!(device, "cpu (burn flex)", "{device}");
    }
}

#[cfg(feature = "webgpu")]
mod wgpu {
    use std::path::{Path, PathBuf};

    use super::*;

    /// Per-batch losses from a run's log, in order.
    fn batch_losses(run: &Path) -> Vec<f64> {
        let log = std::fs::read_to_string(run.join("log.jsonl")).unwrap();
        log.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event"] == "batch")
            .map(|v| v["loss"].as_f64().unwrap())
            .collect()
    }

    #[test]
    fn trains_on_wgpu_and_the_manifest_names_the_adapter() {
        let sb = Sandbox::new();
        let cfg = tiny(&sb, "");
        let run = sb.temper(&["train", "--config", &cfg, "--device", "wgpu", "--quiet"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let dir = &sb.run_dirs()[0];
        let manifest = sb.json(&dir.join("manifest.json"));
        let device = manifest["device"].as_str().unwrap();
        assert!(device.starts_with("wgpu (") && device.len() > "wgpu ()".len(), "{device}");
        // On Vulkan (lavapipe here) the build decides the kernels' language:
        // SPIR-V with `wgpu`, WGSL with `webgpu` alone; the graphics API is
        // named after it.
        let language = if cfg!(feature = "wgpu") { ", SPIR-V, Vulkan)" } else { ", WGSL, Vulkan)" };
        assert!(device.ends_with(language), "{device}");
        let losses = batch_losses(dir);
        assert_eq!(losses.len(), 16, "512 examples in batches of 32");
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        let (first, last) = (mean(&losses[..4]), mean(&losses[12..]));
        assert!(last < first - 0.1, "the loss should fall on wgpu: first batches {first}, last {last}");
        let metrics = sb.json(&dir.join("metrics.json"));
        let busy = metrics["training"][0]["device_busy_share"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&busy), "{busy}");
    }

    /// Bytes under `dir`, all the way down.
    fn stored_bytes(dir: &Path) -> u64 {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => stored_bytes(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
    }

    #[test]
    fn a_gpu_run_says_its_first_batch_time_and_keeps_its_kernel_cache() {
        let sb = Sandbox::new();
        let cfg = tiny(&sb, "");
        let cache = sb.path().join("kernels");
        let env = [("TEMPER_KERNEL_CACHE", cache.to_str().unwrap())];
        let run = sb.temper_with_env(&["train", "--config", &cfg, "--device", "wgpu", "--out", "gpu"], &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        // Without a terminal the lines for people are JSON events on stderr and in the log.
        let warm_up = |stderr: &str| -> f64 {
            let seconds: Vec<f64> = stderr
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|v| v["event"] == "gpu_warm_up")
                .map(|v| v["seconds"].as_f64().unwrap())
                .collect();
            assert_eq!(seconds.len(), 1, "{stderr}");
            seconds[0]
        };
        let cold = warm_up(&run.stderr);
        let dir = sb.run_dirs_under("gpu").remove(0);
        let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
        assert_eq!(log.matches("\"gpu_warm_up\"").count(), 1, "{log}");
        assert!(stored_bytes(&cache) > 0, "nothing was kept in {}", cache.display());
        // A second process reads the autotune results and compiled kernels
        // instead of measuring again (measured on lavapipe with SPIR-V: 149 s,
        // then 4 s, for the digits CNN at batch 128).
        let run = sb.temper_with_env(&["train", "--config", &cfg, "--device", "wgpu", "--out", "gpu"], &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let warm = warm_up(&run.stderr);
        assert!(warm < cold / 2.0, "first batch {cold:.1}s with an empty cache, {warm:.1}s with it");
        // The CPU compiles nothing and keeps no cache.
        let cpu = sb.path().join("cpu-kernels");
        let env = [("TEMPER_KERNEL_CACHE", cpu.to_str().unwrap())];
        let run = sb.temper_with_env(&["train", "--config", &cfg, "--device", "cpu", "--out", "cpu"], &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(!run.stderr.contains("gpu_warm_up"), "{}", run.stderr);
        assert!(!cpu.exists());
    }

    /// Trains `cfg` (written into a fresh sandbox from the tiny config by
    /// `edit`) on the CPU and on wgpu; checks the first 8 batch losses agree
    /// and returns both run directories. Same initial weights and batches:
    /// the first steps differ only by float summation order, which compounds
    /// slowly (measured: the first 16 losses agree to about 3e-4).
    fn trained_on_both(sb: &Sandbox, edit: impl Fn(String) -> String) -> (PathBuf, PathBuf) {
        let base = std::fs::read_to_string(tiny(sb, "")).unwrap();
        // No dropout: its masks come from each backend's own generator.
        let cfg = sb.write("parity.toml", edit(base.replace("dropout = 0.1", "dropout = 0.0")));
        let cfg = cfg.to_str().unwrap();
        for (device, out) in [("cpu", "on-cpu"), ("wgpu", "on-wgpu")] {
            let run = sb.temper(&["train", "--config", cfg, "--device", device, "--quiet", "--out", out]);
            assert_eq!(run.code, 0, "{device}: {}", run.stderr);
        }
        let cpu = sb.run_dirs_under("on-cpu").remove(0);
        let gpu = sb.run_dirs_under("on-wgpu").remove(0);
        let (a, b) = (batch_losses(&cpu), batch_losses(&gpu));
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).take(8).enumerate() {
            assert!((x - y).abs() <= 1e-3, "batch {}: cpu {x}, wgpu {y}", i + 1);
        }
        (cpu, gpu)
    }

    #[test]
    fn cpu_and_wgpu_agree_on_losses_and_accuracy() {
        let sb = Sandbox::new();
        let (cpu, gpu) = trained_on_both(&sb, |c| c);
        let acc = |d: &Path| sb.json(&d.join("metrics.json"))["clean_accuracy"].as_f64().unwrap();
        let (ca, ga) = (acc(&cpu), acc(&gpu));
        assert!((ca - ga).abs() <= 0.01, "clean accuracy cpu {ca}, wgpu {ga}");
    }

    #[test]
    fn dp_sgd_on_wgpu_agrees_with_the_cpu() {
        let sb = Sandbox::new();
        // Sampling and noise are drawn on the host from the seed, so both
        // devices take the same noisy steps.
        let (cpu, gpu) = trained_on_both(&sb, |c| {
            c.replace(
                "learning-rate = 0.003",
                "learning-rate = 0.003\n[train.privacy]\nnoise-multiplier = 0.8",
            )
        });
        let eps = |d: &Path| sb.json(&d.join("metrics.json"))["dp"]["epsilon"].as_f64().unwrap();
        assert_eq!(eps(&cpu), eps(&gpu));
    }

    #[test]
    fn gradient_attacks_on_wgpu_agree_with_the_cpu() {
        let sb = Sandbox::new();
        // The one-epoch model misclassifies most rows, which Auto-PGD leaves
        // alone: a row put back wrong shows in the mean norm. Before the
        // input gradient was laid out row-major, PGD here returned images
        // 0.6-1.0 from the clean ones (refused since: outside the ε-ball).
        let attacks = "[[eval.attacks]]\nname = \"pgd_linf\"\nepsilons = [0.03]\nexamples = 128\n\
                       [[eval.attacks]]\nname = \"apgd_ce_linf\"\nepsilons = [0.03]\nsteps = 10\nexamples = 128\n";
        let cfg = std::fs::read_to_string(tiny(&sb, "")).unwrap() + attacks;
        let cfg = sb.write("attacks.toml", cfg);
        let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--device", "cpu", "--quiet"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let dir = sb.run_dirs().remove(0);
        let eval = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--device", "wgpu", "--quiet"]);
        assert_eq!(eval.code, 0, "{}", eval.stderr);
        let on_cpu = sb.json(&dir.join("metrics.json"));
        let files: Vec<_> = std::fs::read_dir(dir.join("evals")).unwrap().flatten().collect();
        let on_gpu = sb.json(&files[0].path());
        // The same attacks from the same starts; float summation order may
        // tip a borderline row.
        for attack in ["pgd_linf", "apgd_ce_linf"] {
            let get = |m: &serde_json::Value, t: &str| m[t][attack]["0.03"].as_f64().unwrap();
            let (c, g) = (get(&on_cpu, "attack_accuracy"), get(&on_gpu, "attack_accuracy"));
            assert!((c - g).abs() <= 1.0 / 128.0 + 1e-9, "{attack}: cpu {c}, wgpu {g}");
            let (c, g) = (get(&on_cpu, "attack_mean_norm"), get(&on_gpu, "attack_mean_norm"));
            assert!((c - g).abs() <= 0.02 * c, "{attack}: mean norm cpu {c}, wgpu {g}");
        }
    }

    /// `temper bench` arguments for the least work that opens wgpu and
    /// prints its row: one training step on a batch of 4, no attack.
    fn one_wgpu_step(cfg: &str) -> [&str; 11] {
        ["bench", "--config", cfg, "--device", "wgpu", "--batch", "4", "--steps", "1", "--pgd-steps", "0"]
    }

    #[test]
    fn opening_wgpu_without_a_display_prints_no_driver_noise() {
        let sb = Sandbox::new();
        let cfg = tiny(&sb, "");
        // As on a server or in CI: no session directory, no Wayland display.
        let _turn = crate::harness::gpu_turn(&one_wgpu_step(&cfg));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_temper"))
            .args(one_wgpu_step(&cfg))
            .current_dir(sb.path())
            .env("TEMPER_KERNEL_CACHE", crate::harness::KERNEL_CACHE)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("| wgpu ("), "the row was measured on wgpu");
    }

    #[test]
    fn without_a_vulkan_driver_wgpu_says_it_fell_back_to_opengl() {
        let sb = Sandbox::new();
        let cfg = tiny(&sb, "");
        // The Vulkan loader pointed at a driver that is not there (both its
        // old and its new variable): wgpu settles on OpenGL, Mesa's llvmpipe
        // here, and runs. A run must say which API it ran on; the kernels'
        // language alone (WGSL) would not tell OpenGL from Vulkan.
        let nowhere = "/nonexistent/vulkan_icd.json";
        let run = sb.temper_with_env(
            &one_wgpu_step(&cfg),
            &[("VK_ICD_FILENAMES", nowhere), ("VK_DRIVER_FILES", nowhere)],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let cells = row(&run.stdout, "| wgpu (");
        assert!(cells[0].ends_with(", WGSL, OpenGL)"), "{cells:?}");
        // And says so before it measures, with what to do about it.
        assert!(
            run.stderr.contains("warning: wgpu found no Vulkan adapter and runs on OpenGL"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("Vulkan driver"), "{}", run.stderr);
    }

    /// The cells of the first table row that starts with `prefix`.
    fn row<'a>(stdout: &'a str, prefix: &str) -> Vec<&'a str> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {stdout}"));
        line.trim_matches('|').split('|').map(str::trim).collect()
    }

    #[test]
    fn bench_counts_the_kernels_a_gpu_step_launches_and_none_on_the_cpu() {
        let sb = Sandbox::new();
        let cfg = tiny(&sb, "");
        let run = sb.temper(&[
            "bench",
            "--config",
            &cfg,
            "--device",
            "cpu",
            "--device",
            "wgpu",
            "--batch",
            "4",
            "--steps",
            "2",
            "--pgd-steps",
            "2",
            "--attack-batches",
            "1",
            "--kernels",
            "3",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let (throughput, launches) = run.stdout.split_once("Kernel launches").expect("a launch table");
        assert!(throughput.contains("| cpu (burn flex) | 4 |"), "{}", run.stdout);
        // Only the GPU row has launch figures.
        assert!(!launches.contains("| cpu"), "{}", run.stdout);
        // Per phase: kernels launched, their time (each timed alone, by the
        // device or the host's clock) and the phase's whole time.
        let phase = |name: &str| -> (f64, f64, f64) {
            let line = launches
                .lines()
                .find(|l| l.starts_with("| wgpu (") && l.contains(&format!("| {name} |")))
                .unwrap_or_else(|| panic!("no {name} row in {launches}"));
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let number = |c: &str| c.trim_end_matches(" (host-timed)").parse::<f64>().unwrap();
            (number(cells[3]), number(cells[4]), number(cells[5]))
        };
        let (train, kernel_ms, step_ms) = phase("train step");
        let (inference, inference_kernel_ms, inference_ms) = phase("inference batch");
        let (pgd, pgd_kernel_ms, pgd_ms) = phase("PGD-2 batch");
        // A training step runs the forward pass and more (backward, update);
        // a PGD-2 batch runs forward and input-gradient passes twice.
        assert!(inference >= 1.0 && train > inference && pgd > inference, "{launches}");
        for ms in [kernel_ms, step_ms, inference_kernel_ms, inference_ms, pgd_kernel_ms, pgd_ms] {
            assert!(ms > 0.0, "{launches}");
        }
        // The three kernels that took most of that time, with their launches.
        let (_, listed) = launches.split_once("Kernels of a training step").expect("a kernel list");
        assert!(listed.contains("the most time first"), "{listed}");
        let kernels: Vec<(f64, f64)> = listed
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| kernel"))
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                (cells[1].parse().unwrap(), cells[2].parse().unwrap())
            })
            .collect();
        assert_eq!(kernels.len(), 3, "{listed}");
        let (counts, ms): (Vec<f64>, Vec<f64>) = kernels.into_iter().unzip();
        assert!(ms.windows(2).all(|w| w[0] >= w[1]) && ms[0] > 0.0, "{listed}");
        assert!(ms.iter().sum::<f64>() <= kernel_ms + 0.01, "{listed}");
        assert!(counts.iter().sum::<f64>() <= train, "{listed}");
    }

    #[test]
    fn a_wgpu_device_that_cannot_start_is_one_clear_error() {
        let sb = Sandbox::new();
        let cfg = tiny(&sb, "");
        // An index past any machine's adapters (a GPU box may well have 8).
        let _turn = crate::harness::gpu_turn(&["wgpu"]);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_temper"))
            .args(["train", "--config", &cfg, "--device", "wgpu:99", "--quiet"])
            .current_dir(sb.path())
            .env("TEMPER_KERNEL_CACHE", crate::harness::KERNEL_CACHE)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("wgpu:99") && stderr.contains("adapter"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(sb.run_dirs().is_empty());
    }
}
