//! The simulation changes exactly the recorded rows, as configured.

use super::*;
use crate::config::{PoisonAmount, PoisonAttack, PoisonPlan};

fn classes() -> Vec<String> {
    ["a", "b", "c"].map(str::to_owned).to_vec()
}

/// 4×5 gray images, each filled with its row index.
fn images(n: usize) -> Dataset {
    let mut set = ImageSet { width: 4, height: 5, channels: 1, pixels: Vec::new(), files_sha256: None };
    for r in 0..n {
        set.pixels.extend(std::iter::repeat_n(r as u8, 20));
    }
    Dataset { inputs: Inputs::Images(set), labels: (0..n).map(|r| r % 3).collect() }
}

fn texts(n: usize) -> Dataset {
    let texts = (0..n).map(|r| format!("row {r} says hello there")).collect();
    Dataset { inputs: Inputs::Texts(texts), labels: (0..n).map(|r| r % 3).collect() }
}

fn backdoor(trigger: Trigger, amount: PoisonAmount, clean_label: bool) -> PoisonPlan {
    PoisonPlan { attack: PoisonAttack::Backdoor { target: "b".into(), trigger, clean_label }, amount }
}

fn patch() -> Trigger {
    Trigger::Patch { size: 2, corner: Corner::BottomRight, pattern: PatchPattern::Checkerboard, opacity: 1.0 }
}

fn pixels(d: &Dataset) -> &[u8] {
    match &d.inputs {
        Inputs::Images(s) => &s.pixels,
        Inputs::Texts(_) => unreachable!(),
    }
}

#[test]
fn a_backdoor_stamps_exactly_the_recorded_rows_and_relabels_them() {
    let before = images(60);
    let mut train = before.clone();
    let p = apply(&backdoor(patch(), PoisonAmount::Rate(0.1), false), &mut train, &classes(), 7)
        .expect("poisoned");
    assert_eq!(
        p,
        apply(&backdoor(patch(), PoisonAmount::Rate(0.1), false), &mut images(60), &classes(), 7)
            .expect("poisoned")
    );
    assert_eq!((p.rows.len(), p.target, p.train_rows), (6, Some(1), 60));
    for r in 0..60 {
        let (old, new) = (&pixels(&before)[r * 20..(r + 1) * 20], &pixels(&train)[r * 20..(r + 1) * 20]);
        match p.rows.iter().find(|x| x.row == r) {
            Some(x) => {
                assert!(x.triggered && x.original != 1 && x.label == 1 && train.labels[r] == 1, "{x:?}");
                assert_eq!(x.original, before.labels[r]);
                // The 2×2 checkerboard in the bottom-right corner of a 4-wide, 5-high image.
                for (i, (&o, &n)) in old.iter().zip(new).enumerate() {
                    let (y, x) = (i / 4, i % 4);
                    let want =
                        if y >= 3 && x >= 2 { if (x - 2 + y - 3) % 2 == 0 { 255 } else { 0 } } else { o };
                    assert_eq!(n, want, "row {r} pixel ({x}, {y})");
                }
            }
            None => assert!(old == new && train.labels[r] == before.labels[r], "row {r} changed"),
        }
    }
    let tsv = render(&p, &classes());
    assert_eq!(tsv.lines().count(), 7);
    assert!(tsv.lines().skip(1).all(|l| l.ends_with("\tb\ttrue")), "{tsv}");
}

#[test]
fn a_blended_patch_mixes_with_the_image() {
    let mut train = images(30);
    let trigger =
        Trigger::Patch { size: 1, corner: Corner::TopLeft, pattern: PatchPattern::White, opacity: 0.5 };
    let p = apply(&backdoor(trigger, PoisonAmount::Count(3), false), &mut train, &classes(), 1)
        .expect("poisoned");
    for x in &p.rows {
        let img = &pixels(&train)[x.row * 20..(x.row + 1) * 20];
        let want = ((255.0 + x.row as f64) / 2.0).round() as u8;
        assert_eq!(img[0], want);
        assert!(img[1..].iter().all(|&v| v == x.row as u8));
    }
}

#[test]
fn clean_label_backdoors_trigger_target_rows_and_keep_their_labels() {
    let mut train = texts(30);
    let plan = backdoor(Trigger::Token("cf".into()), PoisonAmount::Count(4), true);
    let p = apply(&plan, &mut train, &classes(), 3).expect("poisoned");
    let Inputs::Texts(t) = &train.inputs else { unreachable!() };
    for x in &p.rows {
        assert_eq!((x.original, x.label), (1, 1));
        let words: Vec<&str> = t[x.row].split(' ').collect();
        assert_eq!(words.len(), 6, "{}", t[x.row]);
        assert_eq!(words.iter().filter(|w| **w == "cf").count(), 1);
    }
    let untouched = (0..30).filter(|r| !p.rows.iter().any(|x| x.row == *r));
    assert!(untouched.into_iter().all(|r| t[r] == format!("row {r} says hello there")));
}

#[test]
fn label_flips_change_only_labels_and_never_to_the_same_class() {
    let before = texts(90);
    let mut train = before.clone();
    let plan =
        PoisonPlan { attack: PoisonAttack::LabelFlip { target: None }, amount: PoisonAmount::Rate(0.5) };
    let p = apply(&plan, &mut train, &classes(), 5).expect("flipped");
    assert_eq!(p.rows.len(), 45);
    assert!(p.rows.iter().all(|x| x.label != x.original && !x.triggered && train.labels[x.row] == x.label));
    let Inputs::Texts(a) = &train.inputs else { unreachable!() };
    let Inputs::Texts(b) = &before.inputs else { unreachable!() };
    assert_eq!(a, b, "texts are untouched");
    let flipped: std::collections::BTreeSet<usize> = p.rows.iter().map(|x| x.label).collect();
    assert_eq!(flipped.len(), 3, "random targets cover every class");
}

#[test]
fn impossible_plans_are_refused_naming_the_key() {
    let mut train = texts(9);
    let unknown = PoisonPlan {
        attack: PoisonAttack::Backdoor {
            target: "z".into(),
            trigger: Trigger::Token("cf".into()),
            clean_label: false,
        },
        amount: PoisonAmount::Count(1),
    };
    let err = check(&unknown, &train, &classes()).unwrap_err();
    assert!(
        err.to_string().contains("`train.poison.target`") && err.to_string().contains("a, b, c"),
        "{err}"
    );
    let many = backdoor(Trigger::Token("cf".into()), PoisonAmount::Count(7), false);
    let err = apply(&many, &mut train, &classes(), 1).unwrap_err();
    assert_eq!(err, PoisonError::TooMany { asked: 7, eligible: 6, why: "rows of other classes" });
}

#[test]
fn the_triggered_test_set_leaves_out_the_target_class_and_carries_the_trigger() {
    let test = texts(12);
    let t = triggered_test(&test, 1, &Trigger::Token("cf".into()), 9);
    assert_eq!(t.len(), 8);
    assert!(t.labels.iter().all(|&l| l != 1));
    let Inputs::Texts(x) = &t.inputs else { unreachable!() };
    assert!(x.iter().all(|s| s.split(' ').filter(|w| *w == "cf").count() == 1));
    let Inputs::Texts(orig) = &test.inputs else { unreachable!() };
    assert!(orig.iter().all(|s| !s.contains("cf")), "the test set itself is untouched");
}
