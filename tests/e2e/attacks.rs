//! Attacks at evaluation time, through `temper train` and `temper eval`.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config, messages_config};

/// A one-epoch digits run on the CPU with `attacks` appended to its config:
/// its directory and metrics.
fn digits_run_with(sb: &Sandbox, attacks: &str) -> (std::path::PathBuf, serde_json::Value) {
    sb.digits(256, 64, ImageLayout::ParquetBytes);
    let cfg =
        digits_config("digits/train.parquet", "digits/test.parquet", "").replace("epochs = 2", "epochs = 1");
    let cfg = sb.write("c.toml", cfg + attacks);
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--device", "cpu", "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let dir = sb.run_dirs()[0].clone();
    let metrics = sb.json(&dir.join("metrics.json"));
    (dir, metrics)
}

/// Re-evaluating the saved model (with `args`) replays the same attack
/// figures, the worst case included.
fn replays_under_eval(sb: &Sandbox, dir: &std::path::Path, metrics: &serde_json::Value, args: &[&str]) {
    let run = dir.to_str().unwrap();
    let eval = sb.temper(&[&["eval", "--run", run, "--quiet"], args].concat());
    assert_eq!(eval.code, 0, "stderr: {}", eval.stderr);
    let evals: Vec<_> = std::fs::read_dir(dir.join("evals")).unwrap().flatten().collect();
    let again = sb.json(&evals[0].path());
    for table in [
        "attack_accuracy",
        "attack_success_rate",
        "attack_mean_norm",
        "attack_mean_queries",
        "attack_worst_case_accuracy",
        "attack_stage_accuracy",
    ] {
        assert_eq!(again[table], metrics[table], "{table}");
    }
}

#[test]
fn text_attacks_write_their_metrics_and_replay_under_eval() {
    let sb = Sandbox::new();
    // The attacks cover the whole test set, so their accuracy compares with the clean one.
    sb.messages(600, 50);
    let attacks = "[[eval.attacks]]\nname = \"deepwordbug\"\nexamples = 50\n\
                   [[eval.attacks]]\nname = \"textbugger\"\nexamples = 50\nmax-queries = 100\n";
    let cfg = sb.write("c.toml", messages_config("") + attacks);
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let dir = sb.run_dirs()[0].clone();
    let metrics = sb.json(&dir.join("metrics.json"));
    let clean = metrics["clean_accuracy"].as_f64().unwrap();
    let mut flipped = 0.0;
    for (name, max_queries) in [("deepwordbug", 200.0), ("textbugger", 100.0)] {
        let get = |table: &str| {
            metrics[table][name]["0.2"].as_f64().unwrap_or_else(|| panic!("{table}.{name}.0.2 in {metrics}"))
        };
        let (accuracy, success) = (get("attack_accuracy"), get("attack_success_rate"));
        assert!((0.0..=1.0).contains(&success), "{name}: success rate {success}");
        assert!(accuracy <= clean, "{name}: {accuracy} under attack, {clean} clean");
        // Every correctly classified input the attack did not flip is still correct.
        assert!((accuracy - clean * (1.0 - success)).abs() < 1e-9, "{name}: {accuracy} {clean} {success}");
        let share = get("attack_mean_norm");
        assert!((0.0..=0.2).contains(&share), "{name}: mean word share {share}");
        let queries = get("attack_mean_queries");
        assert!((1.0..=max_queries).contains(&queries), "{name}: mean queries {queries}");
        flipped += success;
    }
    assert!(flipped > 0.0, "neither attack flipped anything: {metrics}");
    // A row survives the worst case only if both attacks left it correct.
    let worst = metrics["attack_worst_case_accuracy"]["words"]["0.2"].as_f64().unwrap();
    let least = ["deepwordbug", "textbugger"]
        .iter()
        .map(|a| metrics["attack_accuracy"][a]["0.2"].as_f64().unwrap())
        .fold(1.0, f64::min);
    assert!(worst <= least, "worst case {worst}, least {least}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Worst case at a word share of 0.2"), "{report}");
    assert!(report.contains("| deepwordbug | 0.2 |") && report.contains("mean queries"), "{report}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(">deepwordbug<br>") && html.contains(">textbugger<br>"), "gallery rows: {html}");
    assert!(html.contains("<mark>"), "typos at severity 3 show as marked edits: {html}");
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"event\":\"attacked\"")).count(), 2);

    // Re-evaluating the saved model replays the same attacks.
    replays_under_eval(&sb, &dir, &metrics, &[]);
}

#[test]
fn the_square_attack_writes_its_metrics_and_replays_under_eval() {
    let sb = Sandbox::new();
    let attacks = "[[eval.attacks]]\nname = \"square\"\nepsilons = [0.1, 0.3]\nmax-queries = 100\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"square\"\nepsilons = [0.3]\nmax-queries = 100\nexamples = 64\n\
                   decimals = 0\n";
    let (dir, metrics) = digits_run_with(&sb, attacks);
    let clean = metrics["clean_accuracy"].as_f64().unwrap();
    let get = |table: &str, eps: &str| {
        metrics[table]["square"][eps].as_f64().unwrap_or_else(|| panic!("{table}.square.{eps} in {metrics}"))
    };
    for (eps, radius) in [("0.1", 0.1), ("0.3", 0.3)] {
        let (accuracy, success) = (get("attack_accuracy", eps), get("attack_success_rate", eps));
        // The attack covers the whole test set, so it can only lower its accuracy.
        assert!(accuracy <= clean + 1e-9, "ε {eps}: {accuracy} under attack, {clean} clean");
        assert!((accuracy - clean * (1.0 - success)).abs() < 1e-9, "ε {eps}: {accuracy} {clean} {success}");
        let norm = get("attack_mean_norm", eps);
        assert!(norm > 0.0 && norm <= radius + 1e-6, "ε {eps}: mean L∞ {norm}");
        let queries = get("attack_mean_queries", eps);
        assert!((1.0..=100.0).contains(&queries), "ε {eps}: mean queries {queries}");
    }
    // A wider ball breaks at least as much, in fewer queries.
    assert!(get("attack_accuracy", "0.3") <= get("attack_accuracy", "0.1"), "{metrics}");
    assert!(get("attack_mean_queries", "0.3") < get("attack_mean_queries", "0.1"), "{metrics}");
    assert!(get("attack_success_rate", "0.3") > 0.5, "ε 0.3 flips most digits: {metrics}");
    // Probabilities rounded to 0 or 1 leave the search no margin to follow
    // until a row flips: it breaks fewer rows, in more queries.
    let rounded = |table: &str| metrics[table]["square-0dp"]["0.3"].as_f64().unwrap();
    assert!(rounded("attack_accuracy") >= get("attack_accuracy", "0.3"), "{metrics}");
    assert!(rounded("attack_mean_queries") > get("attack_mean_queries", "0.3"), "{metrics}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("| square | 0.1 |") && report.contains("mean queries"), "{report}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(">square<br>") && html.contains(">square-0dp<br>"), "gallery rows: {html}");

    replays_under_eval(&sb, &dir, &metrics, &["--device", "cpu"]);
}

#[test]
fn auto_pgd_breaks_at_least_what_pgd_breaks_and_joins_the_worst_case() {
    let sb = Sandbox::new();
    let attacks = "[[eval.attacks]]\nname = \"pgd_linf\"\nepsilons = [0.05, 0.1]\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"apgd_ce_linf\"\nepsilons = [0.05, 0.1]\nsteps = 20\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"apgd_dlr_linf\"\nepsilons = [0.05]\nsteps = 20\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"apgd_ce_l2\"\nepsilons = [1.0]\nsteps = 20\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"apgd_t_linf\"\nepsilons = [0.05]\nsteps = 10\ntargets = 3\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"fab_t_l2\"\nepsilons = [1.0]\nsteps = 10\ntargets = 2\nexamples = 64\n";
    let (dir, metrics) = digits_run_with(&sb, attacks);
    let get = |table: &str, name: &str, eps: &str| {
        metrics[table][name][eps].as_f64().unwrap_or_else(|| panic!("{table}.{name}.{eps} in {metrics}"))
    };
    let clean = metrics["clean_accuracy"].as_f64().unwrap();
    for (name, eps, radius) in [
        ("fab_t_l2", "1", 1.0),
        ("apgd_ce_linf", "0.05", 0.05),
        ("apgd_ce_linf", "0.1", 0.1),
        ("apgd_dlr_linf", "0.05", 0.05),
        ("apgd_t_linf", "0.05", 0.05),
        ("apgd_ce_l2", "1", 1.0),
    ] {
        let accuracy = get("attack_accuracy", name, eps);
        assert!(accuracy <= clean + 1e-9, "{name} ε {eps}: {accuracy} under attack, {clean} clean");
        let norm = get("attack_mean_norm", name, eps);
        assert!(norm > 0.0 && norm <= radius + 1e-6, "{name} ε {eps}: mean norm {norm}");
        assert!(metrics["attack_mean_queries"].get(name).is_none(), "a gradient attack counts no queries");
    }
    // The stronger search: never fewer broken rows than PGD-10 here.
    for eps in ["0.05", "0.1"] {
        let (apgd, pgd) =
            (get("attack_accuracy", "apgd_ce_linf", eps), get("attack_accuracy", "pgd_linf", eps));
        assert!(apgd <= pgd, "ε {eps}: Auto-PGD {apgd}, PGD {pgd}");
    }
    // The worst case takes all four L∞ attacks at 0.05.
    let worst = metrics["attack_worst_case_accuracy"]["linf"]["0.05"].as_f64().unwrap();
    let each = ["pgd_linf", "apgd_ce_linf", "apgd_dlr_linf", "apgd_t_linf"]
        .map(|a| get("attack_accuracy", a, "0.05"));
    assert!(each.iter().all(|&a| worst <= a + 1e-9), "worst {worst} against {each:?}");
    // FAB-T L2 joins the L2 worst case beside Auto-PGD.
    let worst_l2 = metrics["attack_worst_case_accuracy"]["l2"]["1"].as_f64().unwrap();
    let each_l2 = ["apgd_ce_l2", "fab_t_l2"].map(|a| get("attack_accuracy", a, "1"));
    assert!(each_l2.iter().all(|&a| worst_l2 <= a + 1e-9), "worst {worst_l2} against {each_l2:?}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("| apgd_dlr_linf | 0.05 |") && report.contains("| apgd_ce_l2 | 1 |"), "{report}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(">apgd_ce_linf<br>"), "gallery rows: {html}");

    replays_under_eval(&sb, &dir, &metrics, &["--device", "cpu"]);
}

#[test]
fn autoattack_runs_its_three_attacks_as_a_cascade_and_reports_one_figure() {
    let sb = Sandbox::new();
    let attacks = "[[eval.attacks]]\nname = \"autoattack_linf\"\nepsilons = [0.05, 0.1]\nsteps = 10\ntargets = 3\nmax-queries = 200\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"apgd_ce_linf\"\nepsilons = [0.05]\nsteps = 10\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"apgd_t_linf\"\nepsilons = [0.05]\nsteps = 10\ntargets = 3\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"fab_t_linf\"\nepsilons = [0.05]\nsteps = 10\ntargets = 3\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"autoattack_l2\"\nepsilons = [1.0]\nsteps = 10\ntargets = 3\nmax-queries = 200\nexamples = 64\n\
                   [[eval.attacks]]\nname = \"square_l2\"\nepsilons = [1.0]\nmax-queries = 200\nexamples = 64\n";
    let (dir, metrics) = digits_run_with(&sb, attacks);
    let get = |table: &str, name: &str, eps: &str| {
        metrics[table][name][eps].as_f64().unwrap_or_else(|| panic!("{table}.{name}.{eps} in {metrics}"))
    };
    let clean = metrics["clean_accuracy"].as_f64().unwrap();
    // FAB-T alone: rows it found no perturbation within ε for come back clean.
    let (fab, fab_norm) =
        (get("attack_accuracy", "fab_t_linf", "0.05"), get("attack_mean_norm", "fab_t_linf", "0.05"));
    assert!(fab < clean && fab_norm > 0.0 && fab_norm <= 0.05 + 1e-6, "FAB-T {fab}, mean L∞ {fab_norm}");
    for (eps, radius) in [("0.05", 0.05), ("0.1", 0.1)] {
        let (accuracy, success) = (
            get("attack_accuracy", "autoattack_linf", eps),
            get("attack_success_rate", "autoattack_linf", eps),
        );
        assert!(accuracy <= clean + 1e-9, "ε {eps}: {accuracy} under attack, {clean} clean");
        assert!(success > 0.0, "ε {eps}: the cascade broke nothing: {metrics}");
        // Rows no stage broke come back clean and count 0.
        let norm = get("attack_mean_norm", "autoattack_linf", eps);
        assert!(norm > 0.0 && norm <= radius + 1e-6, "ε {eps}: mean L∞ {norm}");
    }
    assert!(metrics["attack_mean_queries"].get("autoattack_linf").is_none(), "{metrics}");
    // What each stage left: non-increasing, in order, ending at the figure.
    for eps in ["0.05", "0.1"] {
        let stages = &metrics["attack_stage_accuracy"]["autoattack_linf"][eps];
        let left = ["apgd_ce_linf", "apgd_t_linf", "fab_t_linf", "square"]
            .map(|s| stages[s].as_f64().unwrap_or_else(|| panic!("stage {s} at ε {eps}: {metrics}")));
        assert!(left[0] <= clean + 1e-9 && left.windows(2).all(|w| w[1] <= w[0]), "ε {eps}: {left:?}");
        assert_eq!(left[3], get("attack_accuracy", "autoattack_linf", eps), "ε {eps}");
    }
    assert!(metrics["attack_stage_accuracy"].get("apgd_ce_linf").is_none(), "single attacks have no stages");
    // The L2 cascade: its own four stages, L2 sizes, the L2 worst case.
    let stages = &metrics["attack_stage_accuracy"]["autoattack_l2"]["1"];
    let left = ["apgd_ce_l2", "apgd_t_l2", "fab_t_l2", "square_l2"]
        .map(|s| stages[s].as_f64().unwrap_or_else(|| panic!("stage {s}: {metrics}")));
    assert!(left.windows(2).all(|w| w[1] <= w[0]) && left[0] <= clean + 1e-9, "{left:?}");
    assert_eq!(left[3], get("attack_accuracy", "autoattack_l2", "1"));
    let norm = get("attack_mean_norm", "autoattack_l2", "1");
    assert!(norm > 0.0 && norm <= 1.0 + 1e-5, "mean L2 {norm}");
    // The L2 Square Attack alone: queries counted, perturbations within the L2 ball.
    let (sq, sq_norm) = (get("attack_accuracy", "square_l2", "1"), get("attack_mean_norm", "square_l2", "1"));
    assert!(
        sq <= clean + 1e-9 && sq_norm > 0.0 && sq_norm <= 1.0 + 1e-5,
        "square_l2 {sq}, mean L2 {sq_norm}"
    );
    assert!((1.0..=200.0).contains(&get("attack_mean_queries", "square_l2", "1")), "{metrics}");
    let worst_l2 = metrics["attack_worst_case_accuracy"]["l2"]["1"].as_f64().unwrap();
    assert!(worst_l2 <= left[3].min(sq) + 1e-9, "worst {worst_l2}");
    let wider = get("attack_accuracy", "autoattack_linf", "0.1");
    assert!(wider <= get("attack_accuracy", "autoattack_linf", "0.05"), "{metrics}");
    // Its first three stages are these attacks (the Auto-PGDs from other
    // random starts): it breaks what each breaks alone, give or take a row
    // of the 64.
    let cascade = get("attack_accuracy", "autoattack_linf", "0.05");
    for single in ["apgd_ce_linf", "apgd_t_linf", "fab_t_linf"] {
        let alone = get("attack_accuracy", single, "0.05");
        assert!(cascade <= alone + 1.0 / 64.0 + 1e-9, "cascade {cascade}, {single} alone {alone}");
    }
    // It joins the worst case of its threat model.
    let worst = metrics["attack_worst_case_accuracy"]["linf"]["0.05"].as_f64().unwrap();
    assert!(worst <= cascade + 1e-9, "worst {worst}, cascade {cascade}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("| autoattack_linf | 0.05 |"), "{report}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(">autoattack_linf<br>"), "gallery rows: {html}");

    replays_under_eval(&sb, &dir, &metrics, &["--device", "cpu"]);
}

#[test]
fn hopskipjump_reads_labels_only_and_reports_each_radius_of_one_search() {
    let sb = Sandbox::new();
    let attacks = "[[eval.attacks]]\nname = \"hsja_linf\"\nepsilons = [0.1, 0.3]\nmax-queries = 300\nexamples = 32\n\
                   [[eval.attacks]]\nname = \"hsja_l2\"\nepsilons = [3.0]\nmax-queries = 300\nexamples = 32\n";
    let (dir, metrics) = digits_run_with(&sb, attacks);
    let get = |table: &str, name: &str, eps: &str| {
        metrics[table][name][eps].as_f64().unwrap_or_else(|| panic!("{table}.{name}.{eps} in {metrics}"))
    };
    for (name, eps, radius) in [("hsja_linf", "0.1", 0.1), ("hsja_linf", "0.3", 0.3), ("hsja_l2", "3", 3.0)] {
        let (accuracy, success) = (get("attack_accuracy", name, eps), get("attack_success_rate", name, eps));
        assert!((0.0..=1.0).contains(&accuracy) && (0.0..=1.0).contains(&success), "{name} ε {eps}");
        let norm = get("attack_mean_norm", name, eps);
        // Rows left alone count 0.
        assert!((0.0..=radius + 1e-6).contains(&norm), "{name} ε {eps}: mean distance {norm}");
        let queries = get("attack_mean_queries", name, eps);
        assert!((1.0..=300.0).contains(&queries), "{name} ε {eps}: mean queries {queries}");
    }
    // One search serves both radii: the wider one is reached no later, by
    // every row, and breaks at least as many.
    let linf = |table: &str, eps: &str| get(table, "hsja_linf", eps);
    assert!(linf("attack_accuracy", "0.3") <= linf("attack_accuracy", "0.1"), "{metrics}");
    assert!(linf("attack_mean_queries", "0.3") <= linf("attack_mean_queries", "0.1"), "{metrics}");
    assert!(
        linf("attack_success_rate", "0.3") > 0.5,
        "ε 0.3 flips most digits through labels alone: {metrics}"
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("| hsja_linf | 0.1 |") && report.contains("| hsja_l2 | 3 |"), "{report}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(">hsja_linf<br>") && html.contains(">hsja_l2<br>"), "gallery rows: {html}");

    replays_under_eval(&sb, &dir, &metrics, &["--device", "cpu"]);
}
