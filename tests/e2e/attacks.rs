//! Attacks at evaluation time, through `temper train` and `temper eval`.

use crate::harness::{Sandbox, messages_config};

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
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("| deepwordbug | 0.2 |") && report.contains("mean queries"), "{report}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains(">deepwordbug<br>") && html.contains(">textbugger<br>"), "gallery rows: {html}");
    assert!(html.contains("<mark>"), "typos at severity 3 show as marked edits: {html}");
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"event\":\"attacked\"")).count(), 2);

    // Re-evaluating the saved model replays the same attacks.
    let eval = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(eval.code, 0, "stderr: {}", eval.stderr);
    let evals: Vec<_> = std::fs::read_dir(dir.join("evals")).unwrap().flatten().collect();
    let again = sb.json(&evals[0].path());
    for table in ["attack_accuracy", "attack_success_rate", "attack_mean_norm", "attack_mean_queries"] {
        assert_eq!(again[table], metrics[table], "{table}");
    }
}
