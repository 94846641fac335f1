//! Config in layers: TOML text → [`raw::RawConfig`] (serde, unknown keys
//! rejected) → [`Plan`] (defaults, ranges and catalog names checked).

mod attack;
pub mod device;
mod error;
mod gate;
mod plan;
pub mod raw;
mod resolve;
pub mod sweep;
mod write;

use std::path::Path;

pub use attack::{
    ApgdLoss, Attack, AttackKind, AttackPlan, AutoAttackPlan, BlackBoxPlan, Budget, Distance, HsjaPlan,
    SQUARE_P_INIT, SquarePlan, Stage, TextAttackKind, WhiteBoxPlan,
};
pub use error::ConfigError;
pub use gate::{Comparison, Gate, GateError};
pub use plan::*;
pub use resolve::{DEFAULT_MAX_PIXELS, default_corruptions};
pub use write::to_toml;

/// Values given on the command line in place of the config's: one more
/// raw layer, so they meet the same checks as the file's values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--epochs`, for `train.epochs`.
    pub epochs: Option<u64>,
    /// `--device`.
    pub device: Option<String>,
}

impl Overrides {
    /// Writes the overrides into `raw`, as if the file had said them.
    fn apply(&self, raw: &mut raw::RawConfig) {
        if let Some(seed) = self.seed {
            raw.seed = Some(seed);
        }
        if let Some(epochs) = self.epochs {
            // Beyond i64 is beyond the range check's maximum either way.
            raw.train.get_or_insert_with(Default::default).epochs =
                Some(i64::try_from(epochs).unwrap_or(i64::MAX));
        }
        if let Some(device) = &self.device {
            raw.device = Some(device.clone());
        }
    }

    /// The flag that set `key`, when one did.
    fn flag_for(&self, key: &str) -> Option<&'static str> {
        match key {
            "seed" if self.seed.is_some() => Some("--seed"),
            "train.epochs" if self.epochs.is_some() => Some("--epochs"),
            "device" if self.device.is_some() => Some("--device"),
            _ => None,
        }
    }
}

/// Reads and checks a config file.
pub fn load(path: &Path) -> Result<Plan, ConfigError> {
    load_with(path, &Overrides::default())
}

/// Reads a config file, applies command-line overrides, and checks the result.
pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Plan, ConfigError> {
    load_point(path, overrides, None)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        key: None,
        location: None,
        message: format!("cannot read config: {e}"),
    })
}

/// The points of a config's `[sweep]`, or `None` when it has none.
pub fn sweep_points(path: &Path) -> Result<Option<Vec<sweep::Point>>, ConfigError> {
    sweep::expand(&read(path)?, path)
}

/// Reads a config file, or point `index` of its `[sweep]`, applies the
/// overrides, and checks the result. A sweep needs an index; a plain config
/// refuses one.
pub fn load_point(path: &Path, overrides: &Overrides, index: Option<usize>) -> Result<Plan, ConfigError> {
    let text = read(path)?;
    match (sweep::expand(&text, path)?, index) {
        (None, None) => parse_with(&text, path, overrides),
        (None, Some(_)) => {
            Err(ConfigError::at(path, "sweep", "--sweep-index given, but the config has no [sweep]"))
        }
        (Some(points), None) => Err(ConfigError::at(
            path,
            "sweep",
            format!(
                "the config is a sweep of {} runs; run one with --sweep-index 0..{} (`temper sweep plan` lists them)",
                points.len(),
                points.len() - 1
            ),
        )),
        (Some(points), Some(i)) => {
            let point = points.get(i).ok_or_else(|| {
                ConfigError::at(
                    path,
                    "sweep",
                    format!("--sweep-index {i} is outside 0..{}", points.len() - 1),
                )
            })?;
            parse_point(point, path, overrides)
        }
    }
}

/// Checks one point of the sweep in `path` (from [`sweep_points`]).
pub fn parse_point(point: &sweep::Point, path: &Path, overrides: &Overrides) -> Result<Plan, ConfigError> {
    parse_with(&point.text, path, overrides).map_err(|mut e| {
        // Lines of the generated text would mislead: name the point instead.
        e.location = None;
        e.message = format!("sweep point {} ({}): {}", point.index, point.describe(), e.message);
        e
    })
}

/// Checks config text as if read from `path` (relative paths resolve
/// against its folder).
pub fn parse(text: &str, path: &Path) -> Result<Plan, ConfigError> {
    parse_with(text, path, &Overrides::default())
}

fn parse_with(text: &str, path: &Path, overrides: &Overrides) -> Result<Plan, ConfigError> {
    let mut raw = parse_raw(text, path)?;
    overrides.apply(&mut raw);
    let file = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match resolve::resolve(raw, &file) {
        Ok(mut plan) => {
            plan.source = path.to_path_buf();
            Ok(plan)
        }
        Err(mut e) => {
            if let Some(flag) = e.key.as_deref().and_then(|k| overrides.flag_for(k)) {
                e.message.push_str(&format!(" (set by {flag})"));
            }
            Err(e)
        }
    }
}

fn parse_raw(text: &str, path: &Path) -> Result<raw::RawConfig, ConfigError> {
    let located = |message: String, span: Option<std::ops::Range<usize>>, key: Option<String>| ConfigError {
        file: path.to_path_buf(),
        key,
        location: span.map(|s| line_col(text, s.start)),
        message,
    };
    let de =
        toml::de::Deserializer::parse(text).map_err(|e| located(e.message().to_owned(), e.span(), None))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let (message, key) = explain(inner.message(), key);
        located(message, inner.span(), Some(key))
    })
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`" into a
/// message that names the full key and the nearest valid one.
fn explain(message: &str, path: String) -> (String, String) {
    let ticked: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    if message.starts_with("unknown field") && !ticked.is_empty() {
        let given = ticked[0];
        let allowed = &ticked[1..];
        // serde_path_to_error's path already ends with the unknown key.
        let key = if path == "." || path.is_empty() {
            given.to_owned()
        } else if path == given || path.ends_with(&format!(".{given}")) {
            path.clone()
        } else {
            format!("{path}.{given}")
        };
        let mut msg = "unknown key".to_owned();
        if let Some(near) = crate::suggest::nearest(given, allowed.iter().copied()) {
            msg.push_str(&format!("; did you mean `{near}`?"));
        }
        msg.push_str(&format!(" (valid keys here: {})", allowed.join(", ")));
        return (msg, key);
    }
    (message.trim().to_owned(), if path == "." { String::new() } else { path })
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture_dir() -> (tempdir::Dir, PathBuf) {
        let dir = tempdir::Dir::new();
        std::fs::write(dir.path().join("train.csv"), "text,label\nhi,a\n").expect("test setup");
        std::fs::write(dir.path().join("test.csv"), "text,label\nyo,a\n").expect("test setup");
        let cfg = dir.path().join("c.toml");
        (dir, cfg)
    }

    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "temper-cfg-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).expect("test setup");
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    const BASE: &str = "[data]\nmodality = \"text\"\ntrain = \"train.csv\"\ntest = \"test.csv\"\n";

    #[test]
    fn overrides_meet_the_same_range_checks_as_the_file() {
        let (_d, cfg) = fixture_dir();
        let o = Overrides { epochs: Some(0), ..Overrides::default() };
        let e = parse_with(BASE, &cfg, &o).expect_err("0 epochs");
        assert_eq!(e.key.as_deref(), Some("train.epochs"));
        assert!(
            e.message.contains("between 1 and 100000 (got 0)") && e.message.ends_with("(set by --epochs)"),
            "{e}"
        );
        let o = Overrides { epochs: Some(100_001), ..Overrides::default() };
        assert!(parse_with(BASE, &cfg, &o).is_err(), "the maximum applies too");
        let o = Overrides { seed: Some(9), epochs: Some(7), device: Some("cpu".into()) };
        let plan = parse_with(BASE, &cfg, &o).expect("valid overrides");
        assert_eq!((plan.seed, plan.train.epochs, plan.device.as_str()), (9, 7, "cpu"));
        let o = Overrides { device: Some("gpu".into()), ..Overrides::default() };
        let e = parse_with(BASE, &cfg, &o).expect_err("misspelt device");
        assert!(e.message.contains("(set by --device)"), "{e}");
    }

    #[test]
    fn fgsm_refuses_pgd_keys_instead_of_ignoring_them() {
        let (_d, cfg) = fixture_dir();
        for key in ["steps = 5", "step-size = 0.5", "restarts = 2", "random-start = false"] {
            let text = format!("{IMAGE}[[eval.attacks]]\nname = \"fgsm\"\n{key}\n");
            let e = parse(&text, &cfg).expect_err(key);
            let name = key.split(' ').next().unwrap_or_default();
            assert_eq!(e.key.as_deref(), Some(format!("eval.attacks[0].{name}").as_str()), "{e}");
            assert!(e.message.contains("PGD only"), "{e}");
            if name != "restarts" {
                let text = format!("{IMAGE}[train.adversarial]\nattack = \"fgsm\"\n{key}\n");
                let e = parse(&text, &cfg).expect_err(key);
                assert_eq!(e.key.as_deref(), Some(format!("train.adversarial.{name}").as_str()), "{e}");
            }
        }
        let plan = parse(&format!("{IMAGE}[[eval.attacks]]\nname = \"fgsm\"\n"), &cfg).expect("plain fgsm");
        let text = to_toml(&plan).expect("toml");
        assert!(parse(&text, &cfg).is_ok(), "the saved config of an fgsm run loads again:\n{text}");
    }

    #[test]
    fn the_poison_filter_drops_by_default_only_on_simulated_poison() {
        let (_d, cfg) = fixture_dir();
        let drop =
            |extra: &str| parse(&format!("{BASE}{extra}"), &cfg).expect("valid").train.filter.map(|f| f.drop);
        assert_eq!(drop("[train.filter]\n"), Some(false), "real data: report only");
        assert_eq!(drop("[train.poison]\nrate = 0.01\ntarget = \"a\"\n[train.filter]\n"), Some(true));
        assert_eq!(drop("[train.filter]\ndrop = true\n"), Some(true));
        assert_eq!(drop(""), None);
    }

    #[test]
    fn minimal_text_config_resolves_with_defaults() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(BASE, &cfg).expect("test setup");
        assert_eq!(plan.name, "c");
        assert_eq!(plan.train.epochs, 3);
        assert_eq!(plan.eval.corruptions, default_corruptions(Modality::Text));
        assert!(matches!(plan.model, ModelPlan::Text(_)));
    }

    #[test]
    fn unknown_key_names_path_and_nearest() {
        let (_d, cfg) = fixture_dir();
        let e = parse(&format!("{BASE}[train]\nlearning-rat = 0.1\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.learning-rat"));
        assert!(e.message.contains("did you mean `learning-rate`?"), "{}", e.message);
        assert_eq!(e.location.map(|l| l.0), Some(6));
    }

    #[test]
    fn out_of_range_quotes_the_range() {
        let (_d, cfg) = fixture_dir();
        let e = parse(&format!("{BASE}[train]\nepochs = 0\n"), &cfg).unwrap_err();
        assert_eq!(e.to_string().rsplit(": ").next(), Some("must be between 1 and 100000 (got 0)"));
        let e = parse(&format!("{BASE}[train]\nlearning-rate = nan\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.learning-rate"));
    }

    #[test]
    fn unknown_op_suggests_and_lists() {
        let (_d, cfg) = fixture_dir();
        let e = parse(&format!("{BASE}[[train.augment]]\nop = \"tpyo\"\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.augment[0].op"));
        assert!(
            e.message.contains("did you mean `typo`?") && e.message.contains("homoglyph"),
            "{}",
            e.message
        );
        let e =
            parse(&format!("{BASE}[[train.augment]]\nop = \"typo\"\nseverity = [4, 2]\n"), &cfg).unwrap_err();
        assert!(e.message.contains("reversed"));
        let e = parse(&format!("{BASE}[[train.augment]]\nop = \"typo\"\nseverity = 7\n"), &cfg).unwrap_err();
        assert!(e.message.contains("between 0 and 5"));
    }

    #[test]
    fn wrong_type_and_missing_file_are_named() {
        let (_d, cfg) = fixture_dir();
        let e = parse(&format!("{BASE}[train]\nepochs = \"three\"\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.epochs"));
        let e = parse("[data]\nmodality = \"text\"\ntrain = \"nope.csv\"\ntest = \"test.csv\"\n", &cfg)
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("data.train"));
        assert!(e.message.contains("nope.csv"));
    }

    #[test]
    fn resolved_config_round_trips() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(
            &format!("seed = 5\n{BASE}[[train.augment]]\nop = \"typo\"\nseverity = [1, 2]\np = 0.5\n"),
            &cfg,
        )
        .expect("test setup");
        let text = to_toml(&plan).expect("test setup");
        let again = parse(&text, &cfg).expect("test setup");
        assert_eq!(to_toml(&again).expect("test setup"), text);
    }

    const IMAGE: &str = "[data]\nmodality = \"image\"\ntrain = \"train.csv\"\ntest = \"test.csv\"\n";

    #[test]
    fn attacks_resolve_with_defaults_and_round_trip() {
        let (_d, cfg) = fixture_dir();
        let text = format!(
            "{IMAGE}[[eval.attacks]]\nname = \"pgd_l2\"\n[[eval.attacks]]\nname = \"fgsm\"\nepsilons = [0.03]\n"
        );
        let plan = parse(&text, &cfg).expect("test setup");
        let [AttackPlan::WhiteBox(l2), AttackPlan::WhiteBox(fgsm)] = &plan.eval.attacks[..] else {
            panic!("two white-box attacks")
        };
        assert_eq!(l2.epsilons, vec![0.5, 1.0, 2.0]);
        assert_eq!((l2.steps, l2.restarts, l2.examples, l2.random_start), (10, 1, 1000, true));
        assert!((l2.step_size - 0.25).abs() < 1e-12);
        assert_eq!(fgsm.epsilons, vec![0.03]);
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
    }

    #[test]
    fn bad_attacks_name_the_key() {
        let (_d, cfg) = fixture_dir();
        let e = parse(&format!("{IMAGE}[[eval.attacks]]\nname = \"pgd\"\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].name"));
        assert!(e.message.contains("pgd_linf"), "{}", e.message);
        let e = parse(&format!("{IMAGE}[[eval.attacks]]\nname = \"fgsm\"\nepsilons = [1.5]\n"), &cfg)
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].epsilons[0]"));
        let e = parse(&format!("{BASE}[[eval.attacks]]\nname = \"fgsm\"\n"), &cfg).unwrap_err();
        assert!(e.message.contains("text"), "{}", e.message);
        let twice = format!("{IMAGE}[[eval.attacks]]\nname = \"fgsm\"\n[[eval.attacks]]\nname = \"fgsm\"\n");
        assert!(parse(&twice, &cfg).unwrap_err().message.contains("twice"));
    }

    #[test]
    fn the_square_attack_resolves_with_autoattacks_defaults_and_round_trips() {
        let (_d, cfg) = fixture_dir();
        let text = format!(
            "{IMAGE}[[eval.attacks]]\nname = \"square\"\n\
             [[eval.attacks]]\nname = \"pgd_linf\"\n"
        );
        let plan = parse(&text, &cfg).expect("test setup");
        let [AttackPlan::Square(sq), AttackPlan::WhiteBox(_)] = &plan.eval.attacks[..] else {
            panic!("square, then PGD")
        };
        assert_eq!(sq.epsilons, vec![0.05, 0.1, 0.2]);
        assert_eq!((sq.max_queries, sq.p_init, sq.examples), (5000, 0.8, 1000));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
        let set = format!(
            "{IMAGE}[[eval.attacks]]\nname = \"square\"\nepsilons = [0.3]\nmax-queries = 50\np-init = 0.1\nexamples = 9\n"
        );
        let plan = parse(&set, &cfg).expect("test setup");
        let [AttackPlan::Square(sq)] = &plan.eval.attacks[..] else { panic!("one square attack") };
        assert_eq!((sq.epsilons.clone(), sq.max_queries, sq.p_init, sq.examples), (vec![0.3], 50, 0.1, 9));
        assert_eq!((sq.decimals, sq.name()), (None, "square".to_owned()));
    }

    #[test]
    fn the_l2_square_attack_resolves_with_l2_radii_and_its_own_names() {
        let (_d, cfg) = fixture_dir();
        let sq = |extra: &str| format!("[[eval.attacks]]\nname = \"square_l2\"\n{extra}");
        let text = format!(
            "{IMAGE}{}{}[[eval.attacks]]\nname = \"square\"\n",
            sq(""),
            sq("decimals = 2\nepsilons = [3.0]\n")
        );
        let plan = parse(&text, &cfg).expect("test setup");
        let [AttackPlan::Square(a), AttackPlan::Square(b), AttackPlan::Square(linf)] = &plan.eval.attacks[..]
        else {
            panic!("three square attacks")
        };
        assert_eq!(
            (a.norm, a.epsilons.clone(), a.max_queries, a.p_init),
            (Distance::L2, vec![0.5, 1.0, 2.0], 5000, 0.8)
        );
        assert_eq!(
            (b.epsilons.clone(), b.name(), linf.norm),
            (vec![3.0], "square_l2-2dp".to_owned(), Distance::Linf)
        );
        let names: Vec<String> = plan.eval.attacks.iter().map(AttackPlan::name).collect();
        assert_eq!(names, ["square_l2", "square_l2-2dp", "square"]);
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
        let e = parse(&format!("{IMAGE}{}", sq("steps = 3\n")), &cfg).unwrap_err();
        assert!(e.message.contains("does not apply to `square_l2`"), "{}", e.message);
        let e = parse(&format!("{BASE}{}", sq("")), &cfg).unwrap_err();
        assert!(e.message.contains("`square_l2` is an image attack"), "{}", e.message);
        assert_eq!(
            (
                crate::attack::threat("square_l2"),
                crate::attack::threat("square_l2-2dp"),
                crate::attack::threat("square")
            ),
            (Some("l2"), Some("l2"), Some("linf"))
        );
    }

    #[test]
    fn a_square_attack_on_rounded_probabilities_is_its_own_attack() {
        let (_d, cfg) = fixture_dir();
        let square = |extra: &str| format!("[[eval.attacks]]\nname = \"square\"\n{extra}");
        let text = format!("{IMAGE}{}{}{}", square(""), square("decimals = 2\n"), square("decimals = 0\n"));
        let plan = parse(&text, &cfg).expect("test setup");
        let names: Vec<String> = plan.eval.attacks.iter().map(AttackPlan::name).collect();
        assert_eq!(names, ["square", "square-2dp", "square-0dp"]);
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
        let twice = format!("{IMAGE}{}{}", square("decimals = 1\n"), square("decimals = 1\n"));
        let e = parse(&twice, &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[1].name"));
        assert!(e.message.contains("`square-1dp` is listed twice"), "{}", e.message);
        let e = parse(&format!("{IMAGE}{}", square("decimals = 9\n")), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].decimals"));
        let e =
            parse(&format!("{IMAGE}[[eval.attacks]]\nname = \"fgsm\"\ndecimals = 1\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].decimals"));
    }

    #[test]
    fn the_square_attack_refuses_other_attacks_keys_and_text_data() {
        let (_d, cfg) = fixture_dir();
        let square = |extra: &str| format!("{IMAGE}[[eval.attacks]]\nname = \"square\"\n{extra}");
        for (extra, key) in [
            ("steps = 5\n", "eval.attacks[0].steps"),
            ("max-word-share = 0.2\n", "eval.attacks[0].max-word-share"),
            ("p-init = 0\n", "eval.attacks[0].p-init"),
            ("p-init = 1.5\n", "eval.attacks[0].p-init"),
            ("max-queries = 1\n", "eval.attacks[0].max-queries"),
            ("epsilons = [2.0]\n", "eval.attacks[0].epsilons[0]"),
        ] {
            let e = parse(&square(extra), &cfg).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{extra}: {}", e.message);
        }
        let e = parse(&format!("{IMAGE}[[eval.attacks]]\nname = \"pgd_linf\"\np-init = 0.5\n"), &cfg)
            .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].p-init"));
        assert!(e.message.contains("square"), "{}", e.message);
        let e = parse(&format!("{BASE}[[eval.attacks]]\nname = \"square\"\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].name"));
        assert!(e.message.contains("image attack"), "{}", e.message);
    }

    #[test]
    fn hopskipjump_resolves_per_norm_refuses_other_keys_and_round_trips() {
        let (_d, cfg) = fixture_dir();
        let hsja = |name: &str, extra: &str| format!("[[eval.attacks]]\nname = \"{name}\"\n{extra}");
        let text = format!(
            "{IMAGE}{}{}",
            hsja("hsja_l2", ""),
            hsja("hsja_linf", "max-queries = 300\nexamples = 7\n")
        );
        let plan = parse(&text, &cfg).expect("test setup");
        let [AttackPlan::Hsja(l2), AttackPlan::Hsja(linf)] = &plan.eval.attacks[..] else {
            panic!("two HopSkipJump attacks")
        };
        assert_eq!(
            (l2.norm, l2.epsilons.clone(), l2.max_queries, l2.examples),
            (Distance::L2, vec![0.5, 1.0, 2.0], 5000, 1000)
        );
        assert_eq!(
            (linf.norm, linf.epsilons.clone(), linf.max_queries, linf.examples),
            (Distance::Linf, vec![0.05, 0.1, 0.2], 300, 7)
        );
        let names: Vec<String> = plan.eval.attacks.iter().map(AttackPlan::name).collect();
        assert_eq!(names, ["hsja_l2", "hsja_linf"]);
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
        for (extra, key) in [
            ("steps = 5\n", "eval.attacks[0].steps"),
            ("p-init = 0.5\n", "eval.attacks[0].p-init"),
            ("decimals = 1\n", "eval.attacks[0].decimals"),
            ("max-queries = 2\n", "eval.attacks[0].max-queries"),
            ("epsilons = [1.5]\n", "eval.attacks[0].epsilons[0]"),
        ] {
            let e = parse(&format!("{IMAGE}{}", hsja("hsja_linf", extra)), &cfg).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{extra}: {}", e.message);
        }
        // An L2 radius may exceed 1.
        assert!(parse(&format!("{IMAGE}{}", hsja("hsja_l2", "epsilons = [1.5]\n")), &cfg).is_ok());
        let e = parse(&format!("{BASE}{}", hsja("hsja_l2", "")), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].name"));
        assert!(e.message.contains("image attack"), "{}", e.message);
    }

    #[test]
    fn auto_pgd_resolves_with_autoattacks_defaults_refuses_pgd_keys_and_round_trips() {
        let (_d, cfg) = fixture_dir();
        let apgd = |name: &str, extra: &str| format!("[[eval.attacks]]\nname = \"{name}\"\n{extra}");
        let text = format!(
            "{IMAGE}{}{}{}{}{}{}",
            apgd("apgd_ce_linf", ""),
            apgd("apgd_dlr_linf", "steps = 20\nrestarts = 2\nepsilons = [0.1]\n"),
            apgd("apgd_ce_l2", ""),
            apgd("apgd_dlr_l2", "examples = 9\n"),
            apgd("apgd_t_linf", "targets = 3\n"),
            apgd("apgd_t_l2", ""),
        );
        let plan = parse(&text, &cfg).expect("test setup");
        let [
            AttackPlan::WhiteBox(ce),
            AttackPlan::WhiteBox(dlr),
            AttackPlan::WhiteBox(ce2),
            AttackPlan::WhiteBox(dlr2),
            AttackPlan::WhiteBox(t),
            AttackPlan::WhiteBox(t2),
        ] = &plan.eval.attacks[..]
        else {
            panic!("six white-box attacks")
        };
        assert_eq!((t.targets, t.kind.min_classes(), t.kind.is_targeted()), (Some(3), 4, true));
        assert_eq!((t2.targets, t2.kind.is_l2(), t2.steps), (None, true, 100));
        assert_eq!(t.at(0.1).targets, Some(3));
        assert_eq!(ce.kind, AttackKind::Apgd { loss: ApgdLoss::CrossEntropy, norm: Distance::Linf });
        assert_eq!((ce.epsilons.clone(), ce.steps, ce.restarts), (vec![0.05, 0.1, 0.2], 100, 1));
        assert_eq!((dlr.epsilons.clone(), dlr.steps, dlr.restarts), (vec![0.1], 20, 2));
        assert_eq!((ce2.epsilons.clone(), ce2.kind.is_l2()), (vec![0.5, 1.0, 2.0], true));
        assert_eq!((dlr2.kind.min_classes(), dlr2.examples), (3, 9));
        // The first step is 2ε from a random start, whatever PGD's defaults.
        let at = dlr.at(0.1);
        assert!((at.step_size - 0.2).abs() < 1e-12 && at.random_start);
        let names: Vec<String> = plan.eval.attacks.iter().map(AttackPlan::name).collect();
        assert_eq!(
            names,
            ["apgd_ce_linf", "apgd_dlr_linf", "apgd_ce_l2", "apgd_dlr_l2", "apgd_t_linf", "apgd_t_l2"]
        );
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
        for (extra, key, message) in [
            ("step-size = 0.1\n", "eval.attacks[0].step-size", "sets its own step size"),
            ("random-start = false\n", "eval.attacks[0].random-start", "random point"),
            ("max-queries = 10\n", "eval.attacks[0].max-queries", "text attacks"),
            ("steps = 0\n", "eval.attacks[0].steps", "between 1"),
            ("targets = 3\n", "eval.attacks[0].targets", "apgd_t_linf"),
        ] {
            let e = parse(&format!("{IMAGE}{}", apgd("apgd_ce_linf", extra)), &cfg).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{extra}: {}", e.message);
            assert!(e.message.contains(message), "{extra}: {}", e.message);
        }
        let e = parse(&format!("{BASE}{}", apgd("apgd_dlr_linf", "")), &cfg).unwrap_err();
        assert!(e.message.contains("white-box image attack"), "{}", e.message);
        // An evaluation attack, not a training one.
        let e = parse(&format!("{IMAGE}[train.adversarial]\nattack = \"apgd_ce_linf\"\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.attack"));
        assert!(e.message.contains("evaluation attack") && e.message.contains("pgd_linf"), "{}", e.message);
    }

    #[test]
    fn fab_t_resolves_with_autoattacks_defaults_and_refuses_pgds_keys() {
        let (_d, cfg) = fixture_dir();
        let fab = |extra: &str| format!("{IMAGE}[[eval.attacks]]\nname = \"fab_t_linf\"\n{extra}");
        let plan = parse(&fab("targets = 3\n"), &cfg).expect("test setup");
        let [AttackPlan::WhiteBox(f)] = &plan.eval.attacks[..] else { panic!("one white-box attack") };
        assert_eq!(
            (f.kind, f.steps, f.targets, f.epsilons.clone()),
            (AttackKind::FabT { norm: Distance::Linf }, 100, Some(3), vec![0.05, 0.1, 0.2])
        );
        let at = f.at(0.1);
        assert_eq!(
            (at.random_start, at.restarts, at.targets, at.kind.is_targeted()),
            (false, 1, Some(3), true)
        );
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
        for (extra, key) in [
            ("step-size = 0.1\n", "eval.attacks[0].step-size"),
            ("random-start = true\n", "eval.attacks[0].random-start"),
            ("restarts = 2\n", "eval.attacks[0].restarts"),
        ] {
            let e = parse(&fab(extra), &cfg).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{extra}: {}", e.message);
            assert!(e.message.contains("FAB-T starts at the clean image"), "{extra}: {}", e.message);
        }
        let e = parse(&format!("{IMAGE}[train.adversarial]\nattack = \"fab_t_linf\"\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.attack"), "{}", e.message);
    }

    #[test]
    fn autoattack_resolves_to_the_standard_cascade_refuses_its_fixed_keys_and_round_trips() {
        let (_d, cfg) = fixture_dir();
        let auto = |extra: &str| format!("[[eval.attacks]]\nname = \"autoattack_linf\"\n{extra}");
        let plan = parse(&format!("{IMAGE}{}", auto("")), &cfg).expect("test setup");
        let [AttackPlan::AutoAttack(a)] = &plan.eval.attacks[..] else { panic!("one cascade") };
        assert_eq!(
            (a.epsilons.clone(), a.steps, a.targets, a.max_queries, a.examples),
            (vec![0.05, 0.1, 0.2], 100, None, 5000, 1000)
        );
        // APGD-CE, APGD-T and FAB-T (9 targets unless set), Square at p-init 0.8, all L∞ at one ε.
        let [Stage::Gradient(ce), Stage::Gradient(t), Stage::Gradient(fab), Stage::Square(sq)] =
            a.stages(0.1)
        else {
            panic!("three gradient stages, then the Square Attack")
        };
        assert_eq!(
            (fab.kind, fab.steps, fab.targets, fab.random_start),
            (AttackKind::FabT { norm: Distance::Linf }, 100, None, false)
        );
        assert_eq!(ce.kind, AttackKind::Apgd { loss: ApgdLoss::CrossEntropy, norm: Distance::Linf });
        assert_eq!(t.kind, AttackKind::Apgd { loss: ApgdLoss::TargetedDlr, norm: Distance::Linf });
        assert_eq!((ce.steps, ce.restarts, ce.epsilon, t.steps, t.targets), (100, 1, 0.1, 100, None));
        assert!((ce.step_size - 0.2).abs() < 1e-12 && ce.random_start);
        assert_eq!(
            (sq.epsilons.clone(), sq.max_queries, sq.p_init, sq.decimals),
            (vec![0.1], 5000, 0.8, None)
        );
        assert_eq!(plan.eval.attacks[0].name(), "autoattack_linf");
        assert_eq!(a.stages(0.1).map(|s| s.name()), AutoAttackPlan::stage_names(Distance::Linf));
        assert_eq!(a.norm, Distance::Linf);
        let set = "epsilons = [0.03]\nsteps = 20\ntargets = 3\nmax-queries = 100\nexamples = 50\n";
        let plan = parse(&format!("{IMAGE}{}", auto(set)), &cfg).expect("test setup");
        let [AttackPlan::AutoAttack(a)] = &plan.eval.attacks[..] else { panic!("one cascade") };
        assert_eq!(
            (a.epsilons.clone(), a.steps, a.targets, a.max_queries, a.examples),
            (vec![0.03], 20, Some(3), 100, 50)
        );
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
        for (extra, key) in [
            ("step-size = 0.1\n", "eval.attacks[0].step-size"),
            ("restarts = 2\n", "eval.attacks[0].restarts"),
            ("p-init = 0.5\n", "eval.attacks[0].p-init"),
            ("decimals = 2\n", "eval.attacks[0].decimals"),
        ] {
            let e = parse(&format!("{IMAGE}{}", auto(extra)), &cfg).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{extra}: {}", e.message);
            assert!(e.message.contains("AutoAttack's standard settings"), "{extra}: {}", e.message);
        }
        let e = parse(&format!("{IMAGE}{}", auto("epsilons = [1.5]\n")), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].epsilons[0]"), "{}", e.message);
        let e = parse(&format!("{BASE}{}", auto("")), &cfg).unwrap_err();
        assert!(e.message.contains("image attack"), "{}", e.message);
        let e = parse(&format!("{IMAGE}{}{}", auto(""), auto("")), &cfg).unwrap_err();
        assert!(e.message.contains("listed twice"), "{}", e.message);
        // The L2 cascade: L2 radii, the L2 versions of the four attacks.
        let l2 =
            parse(&format!("{IMAGE}[[eval.attacks]]\nname = \"autoattack_l2\"\n"), &cfg).expect("test setup");
        let [AttackPlan::AutoAttack(a)] = &l2.eval.attacks[..] else { panic!("one cascade") };
        assert_eq!(
            (a.norm, a.epsilons.clone(), a.name()),
            (Distance::L2, vec![0.5, 1.0, 2.0], "autoattack_l2")
        );
        assert_eq!(a.stages(1.0).map(|s| s.name()), ["apgd_ce_l2", "apgd_t_l2", "fab_t_l2", "square_l2"]);
        let again = parse(&to_toml(&l2).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, l2.eval.attacks);
        assert_eq!(crate::attack::threat("autoattack_l2"), Some("l2"));
    }

    #[test]
    fn text_attacks_resolve_with_defaults_and_round_trip() {
        let (_d, cfg) = fixture_dir();
        let text = format!(
            "{BASE}[[eval.attacks]]\nname = \"deepwordbug\"\n\
             [[eval.attacks]]\nname = \"textbugger\"\nmax-word-share = 0.5\nmax-queries = 40\nexamples = 7\n"
        );
        let plan = parse(&text, &cfg).expect("test setup");
        let [AttackPlan::BlackBox(dwb), AttackPlan::BlackBox(tb)] = &plan.eval.attacks[..] else {
            panic!("two black-box attacks")
        };
        assert_eq!(dwb.kind, TextAttackKind::DeepWordBug);
        assert_eq!((dwb.budget.max_word_share, dwb.budget.max_queries, dwb.examples), (0.2, 200, 1000));
        assert_eq!(tb.kind, TextAttackKind::TextBugger);
        assert_eq!((tb.budget.max_word_share, tb.budget.max_queries, tb.examples), (0.5, 40, 7));
        let written = to_toml(&plan).expect("test setup");
        assert!(!written.contains("steps") && !written.contains("epsilons"), "{written}");
        let again = parse(&written, &cfg).expect("test setup");
        assert_eq!(again.eval.attacks, plan.eval.attacks);
    }

    #[test]
    fn adamw_round_trips_with_its_decay_and_refuses_momentum() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(&format!("{BASE}[train]\noptimizer = \"adamw\"\nweight-decay = 0.3\n"), &cfg)
            .expect("test setup");
        assert_eq!((plan.train.optimizer, plan.train.weight_decay), (Optimizer::AdamW, 0.3));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!((again.train.optimizer, again.train.weight_decay), (Optimizer::AdamW, 0.3));
        let e = parse(&format!("{BASE}[train]\noptimizer = \"adamw\"\nmomentum = 0.9\n"), &cfg)
            .expect_err("momentum");
        assert_eq!(e.key.as_deref(), Some("train.momentum"));
        let e = parse(&format!("{BASE}[train]\noptimizer = \"adamx\"\n"), &cfg).expect_err("unknown");
        assert!(e.message.contains("adamw"), "{e}");
    }

    #[test]
    fn word_recognition_round_trips_and_is_refused_where_it_cannot_apply() {
        let (_d, cfg) = fixture_dir();
        let text_plan = |plan: &Plan| match &plan.model {
            ModelPlan::Text(p) => p.word_recognition,
            ModelPlan::Cnn(_) => panic!("a text model"),
        };
        assert!(!text_plan(&parse(BASE, &cfg).expect("test setup")), "off by default");
        let plan = parse(&format!("{BASE}[model]\nword-recognition = true\n"), &cfg).expect("test setup");
        assert!(text_plan(&plan));
        let written = to_toml(&plan).expect("test setup");
        assert!(written.contains("word-recognition = true"), "{written}");
        assert!(text_plan(&parse(&written, &cfg).expect("test setup")));
        let private = format!(
            "{BASE}[model]\nword-recognition = true\nweighting = \"mean\"\n[train.privacy]\nepsilon = 1.0\n"
        );
        let e = parse(&private, &cfg).expect_err("a lexicon under DP-SGD");
        assert_eq!(e.key.as_deref(), Some("model.word-recognition"));
        assert!(e.message.contains("leak what DP-SGD protects"), "{e}");
        let e = parse(&format!("{IMAGE}[model]\nword-recognition = false\n"), &cfg).expect_err("images");
        assert_eq!(e.key.as_deref(), Some("model.word-recognition"));
        assert!(e.message.contains("text models only"), "{e}");
    }

    #[test]
    fn bad_text_attacks_name_the_key() {
        let (_d, cfg) = fixture_dir();
        let attack = |body: &str| format!("{BASE}[[eval.attacks]]\n{body}\n");
        let cases = [
            (
                "name = \"deepwordbug\"\nmax-word-share = 0",
                "eval.attacks[0].max-word-share",
                "greater than 0",
            ),
            ("name = \"deepwordbug\"\nmax-word-share = 1.5", "eval.attacks[0].max-word-share", "at most 1"),
            ("name = \"textbugger\"\nmax-queries = 0", "eval.attacks[0].max-queries", "between 1 and 100000"),
            ("name = \"textbugger\"\nmax-queries = 100001", "eval.attacks[0].max-queries", "100000"),
            ("name = \"textbugger\"\nexamples = 0", "eval.attacks[0].examples", "between 1"),
            ("name = \"deepwordbug\"\nsteps = 3", "eval.attacks[0].steps", "white-box attacks"),
            ("name = \"textbugger\"\nepsilons = [0.1]", "eval.attacks[0].epsilons", "white-box attacks"),
            ("name = \"deepwordbug\"\nrandom-start = false", "eval.attacks[0].random-start", "white-box"),
            ("name = \"textbuger\"", "eval.attacks[0].name", "did you mean `textbugger`"),
            ("name = \"pgd_linf\"", "eval.attacks[0].name", "white-box image attack"),
            ("name = \"deepwordbug\"\nmax-querys = 3", "eval.attacks[0].max-querys", "max-queries"),
        ];
        for (body, key, message) in cases {
            let e = parse(&attack(body), &cfg).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{body}: {e}");
            assert!(e.message.contains(message), "{body}: {}", e.message);
        }
        let on_images =
            parse(&format!("{IMAGE}[[eval.attacks]]\nname = \"textbugger\"\n"), &cfg).unwrap_err();
        assert_eq!(on_images.key.as_deref(), Some("eval.attacks[0].name"));
        assert!(on_images.message.contains("text attack"), "{}", on_images.message);
        let share_on_fgsm = format!("{IMAGE}[[eval.attacks]]\nname = \"fgsm\"\nmax-word-share = 0.2\n");
        let e = parse(&share_on_fgsm, &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("eval.attacks[0].max-word-share"));
        assert!(e.message.contains("text attacks"), "{}", e.message);
        let twice = attack("name = \"textbugger\"\n[[eval.attacks]]\nname = \"textbugger\"");
        assert!(parse(&twice, &cfg).unwrap_err().message.contains("twice"));
    }

    #[test]
    fn every_bundled_config_parses_and_resolves() {
        // Resolution checks that the tables exist; stand-ins take the place of generated data.
        let dir = tempdir::Dir::new();
        for table in
            ["digits/train.parquet", "digits/test.parquet", "messages/train.csv", "messages/test.csv"]
        {
            let p = dir.path().join("data/generated").join(table);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("test setup");
            std::fs::write(&p, "").expect("test setup");
        }
        std::fs::create_dir_all(dir.path().join("configs")).expect("test setup");
        let root = crate::manifest_dir().join("../configs");
        let mut seen = 0;
        for entry in std::fs::read_dir(&root).expect("configs/") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).expect("read");
                let at = dir.path().join("configs").join(path.file_name().expect("name"));
                if let Err(e) = parse(&text, &at) {
                    panic!("{}: {e}", path.display());
                }
                seen += 1;
            }
        }
        assert!(seen >= 4, "found {seen} configs");
    }

    #[test]
    fn suites_expand_and_name_real_operations() {
        let (_d, cfg) = fixture_dir();
        let plan =
            parse(&format!("{IMAGE}[eval]\ncorruptions = [\"imagenet_c\", \"imagenet_c_extra\"]\n"), &cfg)
                .expect("test setup");
        assert_eq!(plan.eval.corruptions.len(), 19);
        // Overlapping suites count each op once.
        let plan = parse(&format!("{IMAGE}[eval]\ncorruptions = [\"mnist_c\", \"imagenet_c\"]\n"), &cfg)
            .expect("test setup");
        let mut ops = plan.eval.corruptions.clone();
        ops.sort_unstable();
        ops.dedup();
        assert_eq!(ops.len(), plan.eval.corruptions.len());
        let e = parse(&format!("{BASE}[eval]\ncorruptions = [\"imagenet_c\"]\n"), &cfg).unwrap_err();
        assert!(e.message.contains("image"), "{}", e.message);
        let plan =
            parse(&format!("{BASE}[eval]\ncorruptions = [\"text_noise\"]\n"), &cfg).expect("test setup");
        assert_eq!(plan.eval.corruptions.len(), 10);
    }

    #[test]
    fn adversarial_training_resolves_per_modality() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(&format!("{IMAGE}[train.adversarial]\nsteps = 5\nratio = 1.0\n"), &cfg)
            .expect("test setup");
        let adv = plan.train.adversarial.clone().expect("adversarial");
        let AdversarialMethod::Gradient(attack) = &adv.method else { panic!("images use a gradient attack") };
        assert_eq!((attack.epsilon, attack.steps, adv.ratio), (0.1, 5, 1.0));
        assert!((attack.step_size - 0.05).abs() < 1e-12, "2.5·ε/steps");
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.adversarial, plan.train.adversarial);
        let e = parse(&format!("{IMAGE}[train.adversarial]\nratio = 0\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.ratio"));
        let e = parse(&format!("{IMAGE}[train.adversarial]\nmax-queries = 5\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.max-queries"));

        let plan =
            parse(&format!("{BASE}[train.adversarial]\nattack = \"deepwordbug\"\nmax-queries = 30\n"), &cfg)
                .expect("test setup");
        let adv = plan.train.adversarial.clone().expect("adversarial");
        let AdversarialMethod::Edits { kind, budget, .. } = &adv.method else { panic!("texts use edits") };
        assert_eq!((kind.name(), budget.max_queries, budget.max_word_share), ("deepwordbug", 30, 0.2));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.adversarial, plan.train.adversarial);
        let e = parse(&format!("{BASE}[train.adversarial]\nepsilon = 0.1\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.epsilon"));
        let e = parse(&format!("{BASE}[train.adversarial]\nattack = \"pgd_linf\"\n"), &cfg).unwrap_err();
        assert!(e.message.contains("textbugger"), "{}", e.message);
    }

    #[test]
    fn smoothadv_training_needs_the_noise_it_smooths_with_and_round_trips() {
        let (_d, cfg) = fixture_dir();
        let smooth = "[train.noise]\n[train.adversarial]\nattack = \"smoothadv\"\n";
        let plan = parse(&format!("{IMAGE}{smooth}"), &cfg).expect("test setup");
        let adv = plan.train.adversarial.clone().expect("adversarial");
        assert_eq!(adv.method, AdversarialMethod::SmoothAdv { epsilon: 0.5, steps: 2, samples: 2 });
        assert_eq!((adv.ratio, adv.warmup_epochs, adv.ramp_epochs), (1.0, 0, 0));
        assert_eq!(adv.ramp(0), 1.0, "no ramp: full ε from the first epoch");
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.adversarial, plan.train.adversarial);
        let set =
            parse(&format!("{IMAGE}{smooth}epsilon = 0.25\nsteps = 4\nsamples = 8\nratio = 0.5\n"), &cfg)
                .expect("test setup");
        let adv = set.train.adversarial.expect("adversarial");
        assert_eq!(adv.method, AdversarialMethod::SmoothAdv { epsilon: 0.25, steps: 4, samples: 8 });
        assert_eq!(adv.ratio, 0.5);
        let key = |t: &str| parse(&format!("{IMAGE}{t}"), &cfg).unwrap_err().key;
        assert_eq!(
            key("[train.adversarial]\nattack = \"smoothadv\"\n").as_deref(),
            Some("train.adversarial.attack"),
            "no [train.noise]"
        );
        assert_eq!(
            key(&format!("{smooth}step-size = 0.5\n")).as_deref(),
            Some("train.adversarial.step-size")
        );
        assert_eq!(key(&format!("{smooth}samples = 0\n")).as_deref(), Some("train.adversarial.samples"));
        assert_eq!(key("[train.adversarial]\nsamples = 4\n").as_deref(), Some("train.adversarial.samples"));
        let e = parse(&format!("{IMAGE}[train.adversarial]\nattack = \"smoothad\"\n"), &cfg).unwrap_err();
        assert!(e.message.contains("smoothadv"), "the choices name it: {}", e.message);
        let e = parse(&format!("{BASE}[train.adversarial]\nsamples = 2\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.samples"));
    }

    #[test]
    fn weight_perturbation_resolves_beside_gradient_and_paired_training_only() {
        let (_d, cfg) = fixture_dir();
        let pgd = "[train.adversarial]\nwarmup-epochs = 2\nawp-gamma = 0.01\n";
        let plan = parse(&format!("{IMAGE}{pgd}"), &cfg).expect("test setup");
        let adv = plan.train.adversarial.clone().expect("adversarial");
        assert_eq!(adv.awp, Some(AwpPlan { gamma: 0.01, warmup_epochs: 0 }));
        // From the first attacked epoch, as the attack's warm-up comes first.
        let gammas: Vec<Option<f64>> = (0..4).map(|e| adv.awp_gamma(e)).collect();
        assert_eq!(gammas, [None, None, Some(0.01), Some(0.01)]);
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.adversarial, plan.train.adversarial);

        let trades =
            "[train.adversarial]\nattack = \"trades_l2\"\nawp-gamma = 0.005\nawp-warmup-epochs = 3\n";
        let plan = parse(&format!("{IMAGE}{trades}"), &cfg).expect("test setup");
        let adv = plan.train.adversarial.clone().expect("adversarial");
        assert_eq!(adv.awp, Some(AwpPlan { gamma: 0.005, warmup_epochs: 3 }));
        assert_eq!((adv.awp_gamma(2), adv.awp_gamma(3)), (None, Some(0.005)));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.adversarial, plan.train.adversarial);
        let plain = parse(&format!("{IMAGE}[train.adversarial]\n"), &cfg).expect("test setup");
        assert_eq!(plain.train.adversarial.expect("adversarial").awp, None, "off unless asked for");

        let key = |t: &str| parse(t, &cfg).unwrap_err().key;
        for (config, want) in [
            (format!("{IMAGE}[train.adversarial]\nawp-gamma = 0\n"), "train.adversarial.awp-gamma"),
            (format!("{IMAGE}[train.adversarial]\nawp-gamma = 1.5\n"), "train.adversarial.awp-gamma"),
            (
                format!("{IMAGE}[train.adversarial]\nawp-warmup-epochs = 2\n"),
                "train.adversarial.awp-warmup-epochs",
            ),
            (
                format!(
                    "{IMAGE}[train.noise]\n[train.adversarial]\nattack = \"smoothadv\"\nawp-gamma = 0.01\n"
                ),
                "train.adversarial.awp-gamma",
            ),
            (format!("{BASE}[train.adversarial]\nawp-gamma = 0.01\n"), "train.adversarial.awp-gamma"),
            (format!("{IMAGE}{pgd}[train.privacy]\nnoise-multiplier = 1\n"), "train.adversarial.awp-gamma"),
        ] {
            assert_eq!(key(&config).as_deref(), Some(want), "{config}");
        }
    }

    #[test]
    fn trades_and_mart_training_resolve_with_the_reference_defaults_and_refuse_what_their_loss_excludes() {
        let (_d, cfg) = fixture_dir();
        let trades = "[train.adversarial]\nattack = \"trades_linf\"\n";
        let plan = parse(&format!("{IMAGE}{trades}"), &cfg).expect("test setup");
        let adv = plan.train.adversarial.clone().expect("adversarial");
        let AdversarialMethod::Paired { loss, attack, beta } = &adv.method else {
            panic!("TRADES: {:?}", adv.method)
        };
        assert_eq!(
            (*loss, attack.kind, attack.epsilon, attack.steps, *beta),
            (PairedLoss::Trades, AttackKind::PgdLinf, 0.1, 10, 6.0)
        );
        assert!((attack.step_size - 0.025).abs() < 1e-12, "2.5·ε/steps");
        assert!(!attack.random_start);
        assert_eq!((adv.ratio, adv.warmup_epochs, adv.ramp_epochs), (1.0, 0, 0));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.adversarial, plan.train.adversarial);
        let set = "[train.adversarial]\nattack = \"trades_l2\"\nepsilon = 0.5\nsteps = 4\nbeta = 1.0\nramp-epochs = 2\n";
        let plan = parse(&format!("{IMAGE}{set}"), &cfg).expect("test setup");
        let adv = plan.train.adversarial.clone().expect("adversarial");
        let AdversarialMethod::Paired { loss, attack, beta } = &adv.method else {
            panic!("TRADES: {:?}", adv.method)
        };
        assert_eq!(*loss, PairedLoss::Trades);
        assert_eq!(
            (attack.kind, attack.epsilon, attack.steps, *beta, adv.ramp_epochs),
            (AttackKind::PgdL2, 0.5, 4, 1.0, 2)
        );
        assert!((attack.step_size - 0.25).abs() < 1e-12, "the reference's 2·ε/steps");
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.adversarial, plan.train.adversarial);

        let mart = "[train.adversarial]\nattack = \"mart_linf\"\nsteps = 4\nbeta = 5.0\n";
        let plan = parse(&format!("{IMAGE}{mart}"), &cfg).expect("test setup");
        let adv = plan.train.adversarial.clone().expect("adversarial");
        let AdversarialMethod::Paired { loss, attack, beta } = &adv.method else {
            panic!("MART: {:?}", adv.method)
        };
        assert_eq!(
            (*loss, attack.kind, attack.epsilon, attack.steps, *beta),
            (PairedLoss::Mart, AttackKind::PgdLinf, 0.1, 4, 5.0)
        );
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.adversarial, plan.train.adversarial);

        let err = |t: &str| parse(&format!("{IMAGE}{t}"), &cfg).unwrap_err();
        let e = err(&format!("{mart}ratio = 0.5\n"));
        assert!(e.key.as_deref() == Some("train.adversarial.ratio") && e.message.contains("MART"), "{e}");
        let e = err(&format!("{mart}[train.augmix]\n"));
        assert!(e.key.as_deref() == Some("train.adversarial.attack") && e.message.contains("MART"), "{e}");
        for (extra, key) in [
            ("ratio = 0.5\n", "train.adversarial.ratio"),
            ("random-start = true\n", "train.adversarial.random-start"),
            ("beta = -1\n", "train.adversarial.beta"),
        ] {
            assert_eq!(err(&format!("{trades}{extra}")).key.as_deref(), Some(key), "{extra}");
        }
        assert_eq!(err("[train.adversarial]\nbeta = 6\n").key.as_deref(), Some("train.adversarial.beta"));
        let smooth = "[train.noise]\n[train.adversarial]\nattack = \"smoothadv\"\nbeta = 6\n";
        assert_eq!(err(smooth).key.as_deref(), Some("train.adversarial.beta"));
        for clash in [
            "[train.augmix]\n",
            "[train.privacy]\nnoise-multiplier = 1\n",
            "[train.noise]\ncopies = 2\n",
            "[train.noise.consistency]\n",
        ] {
            let e = err(&format!("{trades}{clash}"));
            assert!(
                e.key.as_deref() == Some("train.adversarial.attack") && e.message.contains("TRADES"),
                "{clash}: {e}"
            );
        }
        // One noisy copy is data augmentation, which TRADES trains on.
        parse(&format!("{IMAGE}{trades}[train.noise]\n"), &cfg).expect("noise then TRADES");
        let e = parse(&format!("{BASE}{trades}"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.attack"), "text models: {e}");
        let e = parse(&format!("{BASE}[train.adversarial]\nbeta = 6\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.beta"));
        let e = err("[train.adversarial]\nattack = \"trade\"\n");
        assert!(
            e.message.contains("trades_linf") && e.message.contains("trades_l2"),
            "the choices name them: {e}"
        );
    }

    #[test]
    fn robust_selection_validates_under_pgd_10_at_the_training_norm_and_radius() {
        let (_d, cfg) = fixture_dir();
        let select = "validation-share = 0.2\nselect-by = \"robust-accuracy\"\n";
        for (attack, kind, epsilon) in [
            ("attack = \"fgsm\"\nepsilon = 0.2\n", AttackKind::PgdLinf, 0.2),
            ("attack = \"pgd_l2\"\nepsilon = 1.5\n", AttackKind::PgdL2, 1.5),
            ("attack = \"trades_l2\"\nepsilon = 0.5\n", AttackKind::PgdL2, 0.5),
            ("attack = \"mart_linf\"\n", AttackKind::PgdLinf, 0.1),
        ] {
            let text = format!("{IMAGE}[train]\n{select}[train.adversarial]\n{attack}");
            let plan = parse(&text, &cfg).expect("test setup");
            let robust = plan.train.validation.and_then(|v| v.robust).expect("a validation attack");
            assert_eq!(
                (robust.kind, robust.epsilon, robust.steps),
                (kind, epsilon, VALIDATION_ATTACK_STEPS),
                "{attack}"
            );
            assert!(robust.random_start && (robust.step_size - 0.25 * epsilon).abs() < 1e-12, "2.5ε/10");
            let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
            assert_eq!(again.train.validation, plan.train.validation);
        }
        let plain = parse(&format!("{IMAGE}[train]\nvalidation-share = 0.2\n"), &cfg).expect("test setup");
        assert_eq!(plain.train.validation.and_then(|v| v.robust), None);
        let again = parse(&to_toml(&plain).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.validation, plain.train.validation);
        let smooth =
            format!("{IMAGE}[train]\n{select}[train.noise]\n[train.adversarial]\nattack = \"smoothadv\"\n");
        let e = parse(&smooth, &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.select-by"), "SmoothAdv's smoothed classifier: {e}");
        let capped = format!("{IMAGE}[train]\n{select}select-by-examples = 500\n[train.adversarial]\n");
        let plan = parse(&capped, &cfg).expect("test setup");
        assert_eq!(plan.train.validation.and_then(|v| v.robust_examples), Some(500));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.validation, plan.train.validation);
        assert_eq!(
            parse(&to_toml(&plain).expect("test setup"), &cfg).expect("test setup").train.validation,
            plain.train.validation,
            "no cap written for plain selection"
        );
        let zero = format!("{IMAGE}[train]\n{select}select-by-examples = 0\n[train.adversarial]\n");
        assert_eq!(parse(&zero, &cfg).unwrap_err().key.as_deref(), Some("train.select-by-examples"));
    }

    #[test]
    fn epsilon_ramps_up_over_the_first_attacking_epochs_for_image_attacks_only() {
        let (_d, cfg) = fixture_dir();
        for attack in
            ["[train.noise]\n[train.adversarial]\nattack = \"smoothadv\"\n", "[train.adversarial]\n"]
        {
            let text = format!("{IMAGE}{attack}warmup-epochs = 2\nramp-epochs = 4\n");
            let plan = parse(&text, &cfg).expect("test setup");
            let adv = plan.train.adversarial.clone().expect("adversarial");
            // Epochs 0 and 1 train clean; epoch 2 is the first to attack, at ε/4.
            let shares: Vec<f64> = (2..8).map(|e| adv.ramp(e)).collect();
            assert_eq!(shares, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
            let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
            assert_eq!(again.train.adversarial.map(|a| a.ramp_epochs), Some(4));
        }
        let e = parse(&format!("{BASE}[train.adversarial]\nramp-epochs = 2\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.adversarial.ramp-epochs"));
        let text = parse(&format!("{BASE}[train.adversarial]\n"), &cfg).expect("test setup");
        let again = parse(&to_toml(&text).expect("test setup"), &cfg)
            .expect("a text plan round-trips without the key");
        assert_eq!(again.train.adversarial.map(|a| a.ramp_epochs), Some(0));
    }

    #[test]
    fn augmix_resolves_and_refuses_text() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(&format!("{IMAGE}[train.augmix]\n"), &cfg).expect("test setup");
        let a = plan.train.augmix.expect("augmix");
        assert_eq!((a.severity.level(), a.jsd_weight), (3, 12.0));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.augmix, plan.train.augmix);
        let e = parse(&format!("{BASE}[train.augmix]\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.augmix"));
        let e = parse(&format!("{IMAGE}[train.augmix]\nseverity = 6\n"), &cfg).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("train.augmix.severity"));
    }

    #[test]
    fn certification_and_training_noise_resolve_round_trip_and_refuse_what_does_not_fit() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(&format!("{IMAGE}[train.noise]\n[eval.certify]\n"), &cfg).expect("test setup");
        assert_eq!(
            plan.train.noise,
            Some(NoisePlan { sigma: 0.25, copies: 1, consistency: None, macer: None })
        );
        let c = plan.eval.certify.clone().expect("certify");
        assert_eq!(
            (c.sigmas.as_slice(), c.n0, c.n, c.alpha, c.examples, c.batch),
            (&[0.25][..], 100, 1000, 0.001, 500, 256)
        );
        assert_eq!(c.radii, [0.0, 0.25, 0.5, 0.75, 1.0]);
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!((again.train.noise, again.eval.certify), (plan.train.noise, plan.eval.certify));
        // Noisy copies follow the evaluation batch unless set.
        let small =
            parse(&format!("{IMAGE}[eval]\nbatch-size = 64\n[eval.certify]\n"), &cfg).expect("test setup");
        assert_eq!(small.eval.certify.as_ref().map(|c| c.batch), Some(64));
        let key = |text: &str| parse(&format!("{IMAGE}{text}"), &cfg).unwrap_err().key;
        assert_eq!(key("[eval.certify]\nsigmas = [0.5, 0.25]\n").as_deref(), Some("eval.certify.sigmas[1]"));
        assert_eq!(key("[eval.certify]\nsigmas = []\n").as_deref(), Some("eval.certify.sigmas"));
        assert_eq!(key("[eval.certify]\nsigmas = [0]\n").as_deref(), Some("eval.certify.sigmas[0]"));
        assert_eq!(key("[eval.certify]\nalpha = 0.5\n").as_deref(), Some("eval.certify.alpha"));
        assert_eq!(key("[eval.certify]\nradii = [-1]\n").as_deref(), Some("eval.certify.radii[0]"));
        assert_eq!(key("[eval.certify]\nn = 5\n").as_deref(), Some("eval.certify.n"));
        assert_eq!(key("[train.noise]\nsigma = 0\n").as_deref(), Some("train.noise.sigma"));
        assert_eq!(key("[train.augmix]\n[train.noise]\n").as_deref(), Some("train.noise"));
        let text = |t: &str| parse(&format!("{BASE}{t}"), &cfg).unwrap_err();
        let e = text("[eval.certify]\n");
        assert!(e.key.as_deref() == Some("eval.certify") && e.message.contains("image"), "{e}");
        assert_eq!(text("[train.noise]\n").key.as_deref(), Some("train.noise"));
    }

    #[test]
    fn consistency_defaults_to_the_reference_settings_round_trips_and_refuses_one_copy() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(&format!("{IMAGE}[train.noise.consistency]\n"), &cfg).expect("test setup");
        let weights = Some(ConsistencyPlan { weight: 10.0, entropy: 0.5 });
        assert_eq!(
            plan.train.noise,
            Some(NoisePlan { sigma: 0.25, copies: 2, consistency: weights, macer: None })
        );
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.noise, plan.train.noise);
        let set =
            "[train.noise]\nsigma = 0.5\ncopies = 4\n[train.noise.consistency]\nweight = 20\nentropy = 0\n";
        let plan = parse(&format!("{IMAGE}{set}"), &cfg).expect("test setup");
        let weights = Some(ConsistencyPlan { weight: 20.0, entropy: 0.0 });
        assert_eq!(
            plan.train.noise,
            Some(NoisePlan { sigma: 0.5, copies: 4, consistency: weights, macer: None })
        );
        // Copies without the regulariser: the mean cross-entropy over them.
        let plain = parse(&format!("{IMAGE}[train.noise]\ncopies = 3\n"), &cfg).expect("test setup");
        assert_eq!(plain.train.noise.map(|n| (n.copies, n.consistency)), Some((3, None)));
        let err = |text: &str| parse(&format!("{IMAGE}{text}"), &cfg).unwrap_err();
        let e = err("[train.noise]\ncopies = 1\n[train.noise.consistency]\n");
        assert!(e.key.as_deref() == Some("train.noise.copies") && e.message.contains("at least 2"), "{e}");
        let key = |text: &str| err(text).key;
        assert_eq!(key("[train.noise]\ncopies = 0\n").as_deref(), Some("train.noise.copies"));
        assert_eq!(
            key("[train.noise.consistency]\nweight = -1\n").as_deref(),
            Some("train.noise.consistency.weight")
        );
        assert_eq!(
            key("[train.noise.consistency]\nentropy = -0.5\n").as_deref(),
            Some("train.noise.consistency.entropy")
        );
        let e = err("[train.noise.consistency]\nlambda = 1\n");
        assert!(e.to_string().contains("lambda"), "unknown keys are refused: {e}");
        let e = err("[train.noise.consistency]\n[train.privacy]\nnoise-multiplier = 1\n");
        assert!(e.key.as_deref() == Some("train.noise.copies") && e.message.contains("privacy"), "{e}");
        // One copy still trains under DP-SGD as before.
        parse(&format!("{IMAGE}[train.noise]\n[train.privacy]\nnoise-multiplier = 1\n"), &cfg)
            .expect("one copy");
    }

    #[test]
    fn macer_defaults_to_the_paper_settings_round_trips_and_refuses_what_it_replaces() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(&format!("{IMAGE}[train.noise.macer]\n"), &cfg).expect("test setup");
        let macer = Some(MacerPlan { weight: 12.0, margin: 8.0, beta: 16.0 });
        assert_eq!(plan.train.noise, Some(NoisePlan { sigma: 0.25, copies: 16, consistency: None, macer }));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.train.noise, plan.train.noise);
        let set = "[train.noise]\ncopies = 4\n[train.noise.macer]\nweight = 4\nmargin = 2\nbeta = 8\n";
        let plan = parse(&format!("{IMAGE}{set}"), &cfg).expect("test setup");
        let macer = Some(MacerPlan { weight: 4.0, margin: 2.0, beta: 8.0 });
        assert_eq!(plan.train.noise.map(|n| (n.copies, n.macer)), Some((4, macer)));
        let err = |text: &str| parse(&format!("{IMAGE}{text}"), &cfg).unwrap_err();
        let e = err("[train.noise.consistency]\n[train.noise.macer]\n");
        assert!(e.key.as_deref() == Some("train.noise.macer") && e.message.contains("choose one"), "{e}");
        let e = err("[train]\nclass-weights = \"balanced\"\n[train.noise.macer]\n");
        assert!(e.key.as_deref() == Some("train.noise.macer") && e.message.contains("balanced"), "{e}");
        let e = err("[train.noise.macer]\n[train.adversarial]\nattack = \"smoothadv\"\n");
        assert!(e.key.as_deref() == Some("train.noise.macer") && e.message.contains("SmoothAdv"), "{e}");
        let e =
            err("[train.noise]\ncopies = 1\n[train.noise.macer]\n[train.privacy]\nnoise-multiplier = 1\n");
        assert!(e.key.as_deref() == Some("train.noise.macer") && e.message.contains("privacy"), "{e}");
        assert_eq!(err("[train.noise.macer]\nmargin = 0\n").key.as_deref(), Some("train.noise.macer.margin"));
        assert_eq!(err("[train.noise.macer]\nbeta = 0\n").key.as_deref(), Some("train.noise.macer.beta"));
        assert_eq!(
            err("[train.noise.macer]\nweight = -1\n").key.as_deref(),
            Some("train.noise.macer.weight")
        );
    }

    #[test]
    fn smoothadv_resolves_within_the_certified_rows_and_round_trips() {
        let (_d, cfg) = fixture_dir();
        let plan = parse(&format!("{IMAGE}[eval.certify.attack]\n"), &cfg).expect("test setup");
        let c = plan.eval.certify.clone().expect("certify");
        assert_eq!(c.attack, Some(SmoothAttackPlan { steps: 20, samples: 8, examples: 100 }));
        let again = parse(&to_toml(&plan).expect("test setup"), &cfg).expect("test setup");
        assert_eq!(again.eval.certify, plan.eval.certify);
        // Fewer certified rows than the default attack: all of them.
        let few =
            parse(&format!("{IMAGE}[eval.certify]\nexamples = 30\n[eval.certify.attack]\nsteps = 5\n"), &cfg)
                .expect("test setup");
        let a = few.eval.certify.and_then(|c| c.attack).expect("attack");
        assert_eq!((a.steps, a.samples, a.examples), (5, 8, 30));
        let err = |t: &str| parse(&format!("{IMAGE}{t}"), &cfg).unwrap_err();
        let e = err("[eval.certify]\nexamples = 30\n[eval.certify.attack]\nexamples = 31\n");
        assert_eq!(e.key.as_deref(), Some("eval.certify.attack.examples"));
        assert!(e.message.contains("eval.certify.examples (30)"), "{e}");
        assert_eq!(
            err("[eval.certify.attack]\nsteps = 0\n").key.as_deref(),
            Some("eval.certify.attack.steps")
        );
        assert_eq!(
            err("[eval.certify.attack]\nsamples = 0\n").key.as_deref(),
            Some("eval.certify.attack.samples")
        );
        assert!(err("[eval.certify.attack]\nstep = 3\n").to_string().contains("step"));
    }
}
