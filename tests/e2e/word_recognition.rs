//! `model.word-recognition`: a text model that maps unseen words to their
//! training neighbours, through `temper train` and `temper eval`.

use temper::hash::sha256_bytes;
use temper::model::lexicon::Lexicon;

use crate::harness::{Sandbox, messages_config};

fn config(name: &str, recognise: bool) -> String {
    let attacks = "[[eval.attacks]]\nname = \"deepwordbug\"\nexamples = 80\n";
    messages_config("")
        .replace("name = \"tiny-messages\"", &format!("name = \"{name}\""))
        .replace("[model]\n", &format!("[model]\nword-recognition = {recognise}\n"))
        + attacks
}

#[test]
fn word_recognition_undoes_edits_keeps_its_lexicon_and_refuses_a_changed_one() {
    let sb = Sandbox::new();
    sb.messages(600, 80);
    let mut metrics = Vec::new();
    for (name, recognise) in [("plain", false), ("words", true)] {
        let cfg = sb.write(&format!("{name}.toml"), config(name, recognise));
        let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
        assert_eq!(run.code, 0, "stderr: {}", run.stderr);
        let dir = sb.run_dirs().into_iter().find(|d| d.parent().unwrap().ends_with(name)).unwrap();
        metrics.push((dir.clone(), sb.json(&dir.join("metrics.json")), sb.json(&dir.join("manifest.json"))));
    }
    let [(plain_dir, plain, plain_manifest), (dir, words, manifest)] = &metrics[..] else { unreachable!() };
    assert!(!plain_dir.join("lexicon.tsv").exists());
    assert!(plain_manifest.get("lexicon_sha256").is_none(), "{plain_manifest}");

    // The lexicon is every training word with its count, hashed in the manifest.
    let bytes = std::fs::read(dir.join("lexicon.tsv")).unwrap();
    assert_eq!(manifest["lexicon_sha256"].as_str(), Some(sha256_bytes(&bytes).as_str()));
    let lexicon = Lexicon::from_text(std::str::from_utf8(&bytes).unwrap()).unwrap();
    let train = std::fs::read_to_string(sb.path().join("messages/train.csv")).unwrap();
    // `"text",label` rows; quotes are not word characters.
    assert_eq!(lexicon, Lexicon::fit(train.lines().skip(1).map(|l| l.rsplit_once(',').unwrap().0)));

    // The same weights' training is unchanged on clean text (every
    // training word is known), and the edits are undone under attack.
    let get = |m: &serde_json::Value, table: &str| m[table]["deepwordbug"]["0.2"].as_f64().unwrap();
    let clean = |m: &serde_json::Value| m["clean_accuracy"].as_f64().unwrap();
    assert!((clean(words) - clean(plain)).abs() <= 0.025, "clean {} against {}", clean(words), clean(plain));
    assert!(
        get(words, "attack_accuracy") >= get(plain, "attack_accuracy") + 0.1,
        "deepwordbug: {} with word recognition, {} without",
        get(words, "attack_accuracy"),
        get(plain, "attack_accuracy")
    );
    let typo = |m: &serde_json::Value| m["corruption_accuracy"]["typo"]["3"].as_f64().unwrap();
    assert!(typo(words) > typo(plain), "typo at 3: {} against {}", typo(words), typo(plain));

    // A saved run is evaluated with its lexicon: the same numbers again.
    let eval = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(eval.code, 0, "stderr: {}", eval.stderr);
    let evals: Vec<_> = std::fs::read_dir(dir.join("evals")).unwrap().flatten().collect();
    let again = sb.json(&evals[0].path());
    for table in ["clean_accuracy", "corruption_accuracy", "attack_accuracy", "attack_mean_queries"] {
        assert_eq!(again[table], words[table], "{table}");
    }

    // A changed or missing lexicon is refused, naming the file.
    std::fs::write(dir.join("lexicon.tsv"), [&bytes[..], b"refund\t1\n"].concat()).unwrap();
    let changed = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--quiet"]);
    assert_ne!(changed.code, 0);
    assert!(
        changed.stderr.contains("lexicon.tsv: SHA-256 does not match the manifest"),
        "{}",
        changed.stderr
    );
    std::fs::remove_file(dir.join("lexicon.tsv")).unwrap();
    let missing = sb.temper(&["eval", "--run", dir.to_str().unwrap(), "--quiet"]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("lexicon.tsv"), "{}", missing.stderr);
    assert_eq!(std::fs::read_dir(dir.join("evals")).unwrap().count(), 1, "no evaluation written");
}
