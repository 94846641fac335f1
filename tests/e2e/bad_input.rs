//! Every kind of bad input: exit code 2, one clear message naming the
//! file, row or key, no panic, and no run directory left behind.

use temper::synth::ImageLayout;

use crate::harness::{Sandbox, digits_config, messages_config};

/// Trains with `config` and checks the failure.
fn fails_with(sb: &Sandbox, config: &str, needles: &[&str]) {
    let cfg = sb.write("bad.toml", config);
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--quiet"]);
    assert_eq!(run.code, 2, "expected exit 2; stderr: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    for n in needles {
        assert!(run.stderr.contains(n), "{n:?} not in: {}", run.stderr);
    }
    assert!(sb.run_dirs().is_empty(), "a run directory was left behind: {:?}", sb.run_dirs());
}

#[test]
fn unknown_key_quotes_it_and_the_nearest() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    let cfg = messages_config("").replace("learning-rate", "learnig-rate");
    fails_with(&sb, &cfg, &["bad.toml:", "`train.learnig-rate`", "did you mean `learning-rate`?"]);
}

#[test]
fn out_of_range_quotes_the_range() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    fails_with(
        &sb,
        &messages_config("").replace("dropout = 0.1", "dropout = 1.5"),
        &["`model.dropout`", "at least 0 and less than 1 (got 1.5)"],
    );
    fails_with(
        &sb,
        &messages_config("").replace("epochs = 4", "epochs = -1"),
        &["`train.epochs`", "between 1 and 100000 (got -1)"],
    );
}

#[test]
fn missing_table_file() {
    let sb = Sandbox::new();
    fails_with(&sb, &messages_config(""), &["`data.train`", "messages/train.csv", "does not exist"]);
}

#[test]
fn missing_column() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    let cfg =
        messages_config("").replace("modality = \"text\"", "modality = \"text\"\ninput-column = \"body\"");
    fails_with(
        &sb,
        &cfg,
        &["train.csv", "no column `body`", "data.input-column", "columns are: text, label"],
    );
}

#[test]
fn empty_table() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    sb.write("messages/train.csv", "text,label\n");
    fails_with(&sb, &messages_config(""), &["train.csv", "has no rows"]);
}

#[test]
fn label_missing_in_a_row() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    sb.write("messages/train.csv", "text,label\nhello there,billing\nwhere is it,\nfree prize,spam\n");
    fails_with(&sb, &messages_config(""), &["train.csv", "row 2", "`label` is empty"]);
}

#[test]
fn test_label_never_seen_in_training() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    sb.write("messages/test.csv", "text,label\nhello,billing\nmy refund,refunds\n");
    fails_with(
        &sb,
        &messages_config(""),
        &["test.csv", "row 2", "\"refunds\" never occurs in the training data"],
    );
}

fn image_case(rows: &str) -> Sandbox {
    let sb = Sandbox::new();
    sb.digits(30, 10, ImageLayout::CsvPaths);
    sb.write("digits/test.csv", format!("path,label\ntest/00000.png,1\n{rows}"));
    sb
}

#[test]
fn image_path_that_does_not_exist() {
    let sb = image_case("test/nope.png,2\n");
    fails_with(
        &sb,
        &digits_config("digits/train.csv", "digits/test.csv", ""),
        &["test.csv", "row 2", "nope.png does not exist"],
    );
}

#[test]
fn image_path_outside_the_dataset_folder() {
    let sb = image_case("../outside.png,2\n");
    std::fs::copy(sb.path().join("digits/test/00001.png"), sb.path().join("outside.png")).unwrap();
    fails_with(
        &sb,
        &digits_config("digits/train.csv", "digits/test.csv", ""),
        &["test.csv", "row 2", "outside the dataset folder"],
    );
    let abs = sb.path().join("outside.png");
    let sb2 = image_case(&format!("{},2\n", abs.display()));
    fails_with(
        &sb2,
        &digits_config("digits/train.csv", "digits/test.csv", ""),
        &["row 2", "outside the dataset folder"],
    );
}

#[cfg(unix)]
#[test]
fn symlink_leading_outside_is_refused() {
    let sb = image_case("test/link.png,2\n");
    std::fs::copy(sb.path().join("digits/test/00001.png"), sb.path().join("secret.png")).unwrap();
    std::os::unix::fs::symlink(sb.path().join("secret.png"), sb.path().join("digits/test/link.png")).unwrap();
    fails_with(
        &sb,
        &digits_config("digits/train.csv", "digits/test.csv", ""),
        &["row 2", "outside the dataset folder"],
    );
}

#[test]
fn image_that_does_not_decode() {
    let sb = image_case("test/broken.png,2\n");
    sb.write("digits/test/broken.png", b"\x89PNG\r\n\x1a\nthis is not really a png");
    fails_with(
        &sb,
        &digits_config("digits/train.csv", "digits/test.csv", ""),
        &["test.csv", "row 2", "broken.png does not decode"],
    );
}

#[test]
fn image_larger_than_the_pixel_limit() {
    let sb = Sandbox::new();
    sb.digits(30, 10, ImageLayout::CsvPaths);
    let cfg = digits_config("digits/train.csv", "digits/test.csv", "")
        .replace("height = 28", "height = 28\nmax-pixels = 500");
    fails_with(&sb, &cfg, &["train.csv", "row 1", "28x28 = 784 pixels, over the limit of 500"]);
}

/// A Parquet file whose page makes polars panic (found by fuzzing
/// `table_load`): one error naming the file, no crash.
#[test]
fn corrupt_parquet_page_is_an_error_not_a_crash() {
    let sb = Sandbox::new();
    let bytes =
        std::fs::read(crate::harness::manifest_dir().join("../tests/e2e/fixtures/corrupt-page.parquet"))
            .expect("fixture");
    sb.write("t.parquet", bytes);
    let cfg = "[data]\nmodality = \"image\"\npath = \"t.parquet\"\ntest-fraction = 0.5\ninput-column = \"image\"\nwidth = 8\nheight = 8\n";
    fails_with(&sb, cfg, &["t.parquet", "corrupt"]);
}

#[test]
fn command_line_overrides_meet_the_config_range_checks() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    let cfg = sb.write("c.toml", messages_config(""));
    for (epochs, range) in [("0", "(got 0)"), ("100001", "(got 100001)")] {
        let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--epochs", epochs, "--quiet"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        for needle in ["c.toml", "`train.epochs`", "between 1 and 100000", range, "(set by --epochs)"] {
            assert!(run.stderr.contains(needle), "{needle:?} not in: {}", run.stderr);
        }
        assert!(sb.run_dirs().is_empty(), "no run for a refused override");
    }
    let run = sb.temper(&["train", "--config", cfg.to_str().unwrap(), "--device", "gpu", "--quiet"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("`device`") && run.stderr.contains("(set by --device)"), "{}", run.stderr);
}

#[test]
fn a_header_that_repeats_a_column_names_the_file_and_the_column() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    let train = sb.path().join("messages/train.csv");
    let text = std::fs::read_to_string(&train).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: String = lines.map(|l| format!("{l},other\n")).collect();
    std::fs::write(&train, format!("{header},label\n{body}")).unwrap();
    fails_with(&sb, &messages_config(""), &["train.csv", "`label` twice"]);
}

#[test]
fn fgsm_refuses_the_pgd_settings_it_would_ignore() {
    let sb = Sandbox::new();
    sb.digits(16, 8, ImageLayout::ParquetBytes);
    let attack = "[[eval.attacks]]\nname = \"fgsm\"\nsteps = 10\n";
    let cfg = digits_config("digits/train.parquet", "digits/test.parquet", "");
    fails_with(&sb, &format!("{cfg}{attack}"), &["`eval.attacks[0].steps`", "PGD only"]);
}

#[test]
fn a_bad_data_thread_count_is_refused_before_any_work() {
    let sb = Sandbox::new();
    sb.messages(40, 10);
    let cfg = sb.write("ok.toml", messages_config(""));
    let run = sb.temper_with_env(
        &["train", "--config", cfg.to_str().unwrap(), "--quiet"],
        &[("TEMPER_DATA_THREADS", "zero")],
    );
    assert_eq!(run.code, 2, "expected exit 2; stderr: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    assert!(run.stderr.contains("TEMPER_DATA_THREADS") && run.stderr.contains("`zero`"), "{}", run.stderr);
    assert!(sb.run_dirs().is_empty(), "a run directory was left behind: {:?}", sb.run_dirs());
}

#[test]
fn a_targeted_attack_aiming_past_the_wrong_classes_is_refused_before_training() {
    let sb = Sandbox::new();
    sb.digits(30, 10, ImageLayout::CsvPaths);
    let cfg = digits_config("digits/train.csv", "digits/test.csv", "")
        + "[[eval.attacks]]\nname = \"apgd_t_linf\"\ntargets = 10\n";
    // Ten digit classes: nine wrong ones to aim at.
    fails_with(&sb, &cfg, &["`apgd_t_linf` cannot aim at 10 classes", "10, so 9 wrong ones"]);
}
