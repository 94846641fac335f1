//! Raw config → checked [`Plan`]: defaults, ranges, catalog names, paths.

use std::path::{Path, PathBuf};

use augment::{ImageOp, Policy, PolicyStep, Severity, TextOp};

use super::error::{ConfigError, unknown_value};
use super::plan::*;
use super::raw::*;
use crate::attack::black_box::Budget;
use crate::attack::{AttackKind, AttackPlan, BlackBoxPlan, TextAttackKind, WhiteBoxPlan};

/// Default decoded-image limit: 64 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 64 * 1024 * 1024;

/// Builds errors that all name the same file.
struct Check<'a> {
    file: &'a Path,
    base: &'a Path,
}

impl Check<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::at(self.file, key, message)
    }

    fn int(
        &self,
        key: &str,
        value: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let v = value.unwrap_or(default);
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(self.err(key, format!("must be between {min} and {max} (got {v})")))
        }
    }

    fn usize(
        &self,
        key: &str,
        value: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<usize, ConfigError> {
        self.int(key, value, default, min, max).map(|v| v as usize)
    }

    fn float(
        &self,
        key: &str,
        value: Option<f64>,
        default: f64,
        range: FloatRange,
    ) -> Result<f64, ConfigError> {
        let v = value.unwrap_or(default);
        if v.is_finite() && range.contains(v) {
            Ok(v)
        } else {
            Err(self.err(key, format!("must be {} (got {v})", range.describe())))
        }
    }

    /// Refuses the first key of `present` that is set: it does not apply here.
    fn refuse_set(&self, section: &str, present: &[(&str, bool)], why: &str) -> Result<(), ConfigError> {
        match present.iter().find(|(_, set)| *set) {
            Some((k, _)) => Err(self.err(&format!("{section}.{k}"), why)),
            None => Ok(()),
        }
    }

    fn path(&self, key: &str, value: &str) -> Result<PathBuf, ConfigError> {
        if value.trim().is_empty() {
            return Err(self.err(key, "must name a file"));
        }
        let p = Path::new(value);
        let full = if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) };
        if !full.is_file() {
            return Err(self.err(key, format!("table file {} does not exist", full.display())));
        }
        Ok(full)
    }
}

/// A closed or half-open float range for messages like ruff's.
#[derive(Clone, Copy)]
enum FloatRange {
    /// min <= v <= max
    Closed(f64, f64),
    /// min < v <= max
    OpenLow(f64, f64),
    /// min < v < max
    Open(f64, f64),
    /// min <= v < max
    OpenHigh(f64, f64),
}

impl FloatRange {
    fn contains(self, v: f64) -> bool {
        match self {
            FloatRange::Closed(a, b) => a <= v && v <= b,
            FloatRange::OpenLow(a, b) => a < v && v <= b,
            FloatRange::Open(a, b) => a < v && v < b,
            FloatRange::OpenHigh(a, b) => a <= v && v < b,
        }
    }

    fn describe(self) -> String {
        match self {
            FloatRange::Closed(a, b) => format!("between {a} and {b}"),
            FloatRange::OpenLow(a, b) => format!("greater than {a} and at most {b}"),
            FloatRange::Open(a, b) => format!("strictly between {a} and {b}"),
            FloatRange::OpenHigh(a, b) => format!("at least {a} and less than {b}"),
        }
    }
}

/// Checks a raw config read from `file`; relative paths are resolved
/// against the file's folder.
pub fn resolve(raw: RawConfig, file: &Path) -> Result<Plan, ConfigError> {
    let base = file.parent().unwrap_or(Path::new("."));
    let c = Check { file, base };
    let raw_data = raw.data.ok_or_else(|| c.err("data", "the [data] table is required"))?;
    let data = resolve_data(&c, raw_data)?;
    let model = resolve_model(&c, raw.model.unwrap_or_default(), data.modality)?;
    let train = resolve_train(&c, raw.train.unwrap_or_default(), data.modality, &data.text)?;
    let eval = resolve_eval(&c, raw.eval.unwrap_or_default(), data.modality)?;
    let gate = raw.gate.map(|g| resolve_gate(&c, g)).transpose()?;
    let name = raw.name.unwrap_or_else(|| {
        file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "run".to_owned())
    });
    if name.is_empty()
        || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        || name.starts_with('.')
    {
        return Err(c.err(
            "name",
            format!("must be letters, digits, `-`, `_` or `.`, not starting with `.` (got {name:?})"),
        ));
    }
    let device = raw.device.unwrap_or_else(|| "cpu".to_owned());
    crate::device::check_name(&device).map_err(|m| c.err("device", m))?;
    Ok(Plan {
        source: file.to_path_buf(),
        name,
        seed: raw.seed.unwrap_or(0),
        device,
        data,
        model,
        train,
        eval,
        gate,
    })
}

fn resolve_data(c: &Check, raw: RawData) -> Result<DataPlan, ConfigError> {
    let modality = match raw.modality.as_deref() {
        Some("image") => Modality::Image,
        Some("text") => Modality::Text,
        Some(other) => {
            return Err(c.err("data.modality", unknown_value("modality", other, &["image", "text"])));
        }
        None => return Err(c.err("data.modality", "is required (allowed: image, text)")),
    };
    let source = match (raw.train, raw.test, raw.path) {
        (Some(train), Some(test), None) => {
            if raw.split_column.is_some() || raw.test_fraction.is_some() {
                return Err(c.err(
                    "data",
                    "`split-column` and `test-fraction` go with `path`, not with `train`/`test`",
                ));
            }
            DataSource::Files { train: c.path("data.train", &train)?, test: c.path("data.test", &test)? }
        }
        (None, None, Some(path)) => {
            let path = c.path("data.path", &path)?;
            match (raw.split_column, raw.test_fraction) {
                (Some(column), None) => DataSource::SplitColumn { path, column },
                (None, Some(f)) => DataSource::Fraction {
                    path,
                    test_fraction: c.float("data.test-fraction", Some(f), 0.2, FloatRange::Open(0.0, 1.0))?,
                },
                (None, None) => {
                    return Err(
                        c.err("data.path", "needs `split-column` or `test-fraction` to find the test rows")
                    );
                }
                (Some(_), Some(_)) => {
                    return Err(c.err("data", "give either `split-column` or `test-fraction`, not both"));
                }
            }
        }
        (Some(_), None, None) => return Err(c.err("data.test", "is required with `train`")),
        (None, Some(_), None) => return Err(c.err("data.train", "is required with `test`")),
        (None, None, None) => {
            return Err(c.err(
                "data",
                "name the tables: `train` and `test`, or `path` with `split-column` or `test-fraction`",
            ));
        }
        _ => return Err(c.err("data.path", "give either `path` or `train` and `test`, not both")),
    };
    let default_input = if modality == Modality::Image { "image" } else { "text" };
    let channels = c.int("data.channels", raw.channels, 1, 1, 3)?;
    if channels == 2 {
        return Err(c.err("data.channels", "must be 1 (gray) or 3 (RGB) (got 2)"));
    }
    if modality == Modality::Text
        && (raw.channels.is_some()
            || raw.width.is_some()
            || raw.height.is_some()
            || raw.max_pixels.is_some()
            || raw.max_side.is_some())
    {
        return Err(c.err("data", "`channels`, `width`, `height` and `max-pixels` apply to image data only"));
    }
    if modality == Modality::Image
        && (raw.protected.is_some()
            || raw.synonyms.is_some()
            || raw.replacements.is_some()
            || raw.keyboard.is_some())
    {
        return Err(
            c.err("data", "`protected`, `synonyms`, `replacements` and `keyboard` apply to text data only")
        );
    }
    let text =
        resolve_text(c, raw.protected.unwrap_or_default(), raw.synonyms, raw.replacements, raw.keyboard)?;
    let image = ImageSpec {
        channels: channels as u8,
        width: c.int("data.width", raw.width, 28, 1, 4096)? as u32,
        height: c.int("data.height", raw.height, 28, 1, 4096)? as u32,
        max_pixels: c.int("data.max-pixels", raw.max_pixels, DEFAULT_MAX_PIXELS as i64, 1, 1 << 40)? as u64,
        max_side: c.int("data.max-side", raw.max_side, 16_384, 1, 1 << 20)? as u32,
        allow_absolute_paths: raw.allow_absolute_paths.unwrap_or(false),
    };
    let mut pins = Vec::new();
    for (name, hex) in raw.sha256.unwrap_or_default() {
        let key = format!("data.sha256.{name}");
        let table = name.strip_suffix("-images").unwrap_or(&name);
        let file = match (&source, table) {
            (DataSource::Files { train, .. }, "train") => train.clone(),
            (DataSource::Files { test, .. }, "test") => test.clone(),
            (DataSource::SplitColumn { path, .. } | DataSource::Fraction { path, .. }, "path") => {
                path.clone()
            }
            (DataSource::Files { .. }, _) => {
                let allowed = ["train", "test", "train-images", "test-images"];
                return Err(c.err(&key, unknown_value("table", &name, &allowed)));
            }
            _ => return Err(c.err(&key, unknown_value("table", &name, &["path", "path-images"]))),
        };
        let hex = hex.to_ascii_lowercase();
        if hex.len() != 64 || !hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
            return Err(c.err(&key, format!("must be 64 hexadecimal digits (got {:?})", hex)));
        }
        pins.push(Pin { images: name.ends_with("-images"), key, file, sha256: hex });
    }
    let skip_bad_rows = match raw.on_bad_row.as_deref().unwrap_or("fail") {
        "fail" => false,
        "skip" => true,
        other => return Err(c.err("data.on-bad-row", unknown_value("value", other, &["fail", "skip"]))),
    };
    Ok(DataPlan {
        skip_bad_rows,
        pins,
        modality,
        source,
        input_column: raw.input_column.unwrap_or_else(|| default_input.to_owned()),
        label_column: raw.label_column.unwrap_or_else(|| "label".to_owned()),
        image,
        text,
    })
}

fn resolve_text(
    c: &Check,
    protected: Vec<String>,
    synonyms: Option<String>,
    replacements: Option<String>,
    keyboard: Option<String>,
) -> Result<TextSpec, ConfigError> {
    use augment::text::{KeyboardLayout, SynonymTable, TextContext, WordMap};
    let mut context = TextContext::default();
    for (i, pattern) in protected.iter().enumerate() {
        let compiled = TextContext::compile_protected(std::slice::from_ref(pattern))
            .map_err(|e| c.err(&format!("data.protected[{i}]"), e.to_string()))?;
        context.protected.extend(compiled);
    }
    let keyboard = keyboard.unwrap_or_else(|| "qwerty".to_owned());
    context.layout = KeyboardLayout::from_name(&keyboard).ok_or_else(|| {
        c.err("data.keyboard", unknown_value("keyboard layout", &keyboard, &["qwerty", "azerty"]))
    })?;
    let read = |key: &str, value: &str| -> Result<(PathBuf, String), ConfigError> {
        let path = c.path(key, value)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| c.err(key, format!("cannot read {}: {e}", path.display())))?;
        Ok((path, text))
    };
    let synonyms = match synonyms {
        Some(v) => {
            let (path, text) = read("data.synonyms", &v)?;
            let table = SynonymTable::parse(&text)
                .map_err(|e| c.err("data.synonyms", format!("{}: {e}", path.display())))?;
            context.synonyms = Some(table);
            Some(path)
        }
        None => None,
    };
    let replacements = match replacements {
        Some(v) => {
            let (path, text) = read("data.replacements", &v)?;
            context.replacements = WordMap::parse(&text)
                .map_err(|e| c.err("data.replacements", format!("{}: {e}", path.display())))?;
            Some(path)
        }
        None => None,
    };
    Ok(TextSpec { protected, synonyms, replacements, keyboard, context })
}

fn resolve_model(c: &Check, raw: RawModel, modality: Modality) -> Result<ModelPlan, ConfigError> {
    let dropout = c.float("model.dropout", raw.dropout, 0.25, FloatRange::OpenHigh(0.0, 1.0))?;
    match modality {
        Modality::Image => {
            let text_only = [
                ("buckets", raw.buckets.is_some()),
                ("embedding-dim", raw.embedding_dim.is_some()),
                ("ngram-min", raw.ngram_min.is_some()),
                ("ngram-max", raw.ngram_max.is_some()),
                ("max-features", raw.max_features.is_some()),
            ];
            c.refuse_set("model", &text_only, "applies to text models only")?;
            let channels = raw.conv_channels.unwrap_or_else(|| vec![32, 64]);
            if channels.is_empty() || channels.len() > 6 {
                return Err(c.err(
                    "model.conv-channels",
                    format!("must list 1 to 6 widths (got {})", channels.len()),
                ));
            }
            let conv_channels = channels
                .iter()
                .enumerate()
                .map(|(i, &w)| c.usize(&format!("model.conv-channels[{i}]"), Some(w), 32, 1, 1024))
                .collect::<Result<Vec<_>, _>>()?;
            let kernel_size = c.usize("model.kernel-size", raw.kernel_size, 3, 1, 11)?;
            if kernel_size % 2 == 0 {
                return Err(c.err("model.kernel-size", format!("must be odd (got {kernel_size})")));
            }
            Ok(ModelPlan::Cnn(CnnPlan {
                conv_channels,
                kernel_size,
                hidden: c.usize("model.hidden", raw.hidden, 128, 1, 65536)?,
                dropout,
            }))
        }
        Modality::Text => {
            if raw.conv_channels.is_some() || raw.kernel_size.is_some() {
                return Err(c.err("model", "`conv-channels` and `kernel-size` apply to image models only"));
            }
            let ngram_min = c.usize("model.ngram-min", raw.ngram_min, 2, 1, 8)?;
            let ngram_max = c.usize("model.ngram-max", raw.ngram_max, 4, 1, 8)?;
            if ngram_max < ngram_min {
                return Err(c.err(
                    "model.ngram-max",
                    format!("must be at least ngram-min ({ngram_min}) (got {ngram_max})"),
                ));
            }
            Ok(ModelPlan::Text(TextPlan {
                buckets: c.usize("model.buckets", raw.buckets, 1 << 15, 16, 1 << 22)?,
                embedding_dim: c.usize("model.embedding-dim", raw.embedding_dim, 64, 1, 1024)?,
                hidden: c.usize("model.hidden", raw.hidden, 64, 1, 65536)?,
                dropout,
                ngram_min,
                ngram_max,
                max_features: c.usize("model.max-features", raw.max_features, 512, 1, 100_000)?,
            }))
        }
    }
}

fn resolve_train(
    c: &Check,
    raw: RawTrain,
    modality: Modality,
    text: &TextSpec,
) -> Result<TrainPlan, ConfigError> {
    let optimizer = match raw.optimizer.as_deref().unwrap_or("adam") {
        "adam" => {
            if raw.momentum.is_some() {
                return Err(c.err("train.momentum", "applies to `optimizer = \"sgd\"` only"));
            }
            Optimizer::Adam
        }
        "sgd" => Optimizer::Sgd {
            momentum: c.float("train.momentum", raw.momentum, 0.9, FloatRange::OpenHigh(0.0, 1.0))?,
        },
        other => return Err(c.err("train.optimizer", unknown_value("optimizer", other, &["adam", "sgd"]))),
    };
    let steps = raw.augment.unwrap_or_default();
    let augment = match modality {
        Modality::Image => {
            AugmentPolicy::Image(policy(c, &steps, augment::image::find, &augment::image::names())?)
        }
        Modality::Text => AugmentPolicy::Text(Box::new(
            policy(c, &steps, augment::text::find, &augment::text::names())?
                .with_context(text.context.clone()),
        )),
    };
    let adversarial = match raw.adversarial {
        None => None,
        Some(a) if modality == Modality::Text => Some(resolve_text_adversarial(c, a, text)?),
        Some(a) => Some(resolve_adversarial(c, a)?),
    };
    let augmix = match raw.augmix {
        None => None,
        Some(_) if modality == Modality::Text => {
            return Err(c.err("train.augmix", "AugMix mixes image operations; this config's data is text"));
        }
        Some(a) => Some(AugmixPlan {
            severity: Severity::new(c.int("train.augmix.severity", a.severity, 3, 1, 5)?)
                .map_err(|e| c.err("train.augmix.severity", e.to_string()))?,
            jsd_weight: c.float(
                "train.augmix.jsd-weight",
                a.jsd_weight,
                12.0,
                FloatRange::Closed(0.0, 1000.0),
            )?,
        }),
    };
    Ok(TrainPlan {
        adversarial,
        augmix,
        epochs: c.usize("train.epochs", raw.epochs, 3, 1, 100_000)?,
        batch_size: c.usize("train.batch-size", raw.batch_size, 64, 1, 65_536)?,
        optimizer,
        learning_rate: c.float(
            "train.learning-rate",
            raw.learning_rate,
            1e-3,
            FloatRange::OpenLow(0.0, 10.0),
        )?,
        weight_decay: c.float("train.weight-decay", raw.weight_decay, 0.0, FloatRange::Closed(0.0, 1.0))?,
        augment,
        checkpoint_every: match raw.checkpoint_every {
            Some(v) => Some(c.usize("train.checkpoint-every", Some(v), 1, 1, 1 << 40)?),
            None => None,
        },
        checkpoint_minutes: c.float(
            "train.checkpoint-minutes",
            raw.checkpoint_minutes,
            10.0,
            FloatRange::OpenLow(0.0, 1e6),
        )?,
    })
}

fn resolve_text_adversarial(
    c: &Check,
    raw: RawAdversarial,
    text: &TextSpec,
) -> Result<AdversarialPlan, ConfigError> {
    let image_only = [
        ("epsilon", raw.epsilon.is_some()),
        ("steps", raw.steps.is_some()),
        ("step-size", raw.step_size.is_some()),
        ("random-start", raw.random_start.is_some()),
    ];
    c.refuse_set("train.adversarial", &image_only, "applies to image models only")?;
    let names: Vec<&str> = TextAttackKind::ALL.iter().map(|k| k.name()).collect();
    let name = raw.attack.as_deref().unwrap_or("textbugger");
    let kind = TextAttackKind::find(name)
        .ok_or_else(|| c.err("train.adversarial.attack", unknown_value("text attack", name, &names)))?;
    Ok(AdversarialPlan {
        method: AdversarialMethod::Edits {
            kind,
            budget: Budget {
                max_word_share: c.float(
                    "train.adversarial.max-word-share",
                    raw.max_word_share,
                    0.2,
                    FloatRange::OpenLow(0.0, 1.0),
                )?,
                max_queries: c.usize("train.adversarial.max-queries", raw.max_queries, 50, 1, 100_000)?,
            },
            context: Box::new(text.context.clone()),
        },
        ratio: c.float("train.adversarial.ratio", raw.ratio, 0.5, FloatRange::OpenLow(0.0, 1.0))?,
        warmup_epochs: c.usize("train.adversarial.warmup-epochs", raw.warmup_epochs, 0, 0, 100_000)?,
    })
}

fn resolve_adversarial(c: &Check, raw: RawAdversarial) -> Result<AdversarialPlan, ConfigError> {
    let text_only =
        [("max-word-share", raw.max_word_share.is_some()), ("max-queries", raw.max_queries.is_some())];
    c.refuse_set("train.adversarial", &text_only, "applies to text models only")?;
    let names: Vec<&str> = AttackKind::ALL.iter().map(|k| k.name()).collect();
    let name = raw.attack.as_deref().unwrap_or("pgd_linf");
    let kind = AttackKind::find(name)
        .ok_or_else(|| c.err("train.adversarial.attack", unknown_value("attack", name, &names)))?;
    let max = if kind.is_l2() { 1000.0 } else { 1.0 };
    let default_eps = if kind.is_l2() { 1.0 } else { 0.1 };
    let epsilon =
        c.float("train.adversarial.epsilon", raw.epsilon, default_eps, FloatRange::OpenLow(0.0, max))?;
    let fgsm = kind == AttackKind::Fgsm;
    let steps = if fgsm { 1 } else { c.usize("train.adversarial.steps", raw.steps, 7, 1, 1000)? };
    let share = c.float(
        "train.adversarial.step-size",
        raw.step_size,
        2.5 / steps as f64,
        FloatRange::OpenLow(0.0, 10.0),
    )?;
    Ok(AdversarialPlan {
        method: AdversarialMethod::Gradient(crate::attack::Attack {
            kind,
            epsilon,
            steps,
            step_size: if fgsm { epsilon } else { share * epsilon },
            random_start: raw.random_start.unwrap_or(true) && !fgsm,
            restarts: 1,
        }),
        ratio: c.float("train.adversarial.ratio", raw.ratio, 0.5, FloatRange::OpenLow(0.0, 1.0))?,
        warmup_epochs: c.usize("train.adversarial.warmup-epochs", raw.warmup_epochs, 0, 0, 100_000)?,
    })
}

fn policy<Op: augment::policy::Perturb>(
    c: &Check,
    steps: &[RawAugmentStep],
    find: fn(&str) -> Option<&'static Op>,
    names: &[&str],
) -> Result<Policy<Op>, ConfigError> {
    let mut out = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let key = format!("train.augment[{i}]");
        let op = find(&step.op)
            .ok_or_else(|| c.err(&format!("{key}.op"), unknown_value("operation", &step.op, names)))?;
        let (min, max) = match step.severity.unwrap_or(RawSeverity::Range([1, 5])) {
            RawSeverity::One(s) => (s, s),
            RawSeverity::Range([a, b]) => (a, b),
        };
        let sev = |v: i64| Severity::new(v).map_err(|e| c.err(&format!("{key}.severity"), e.to_string()));
        let (min, max) = (sev(min)?, sev(max)?);
        if min > max {
            return Err(c.err(&format!("{key}.severity"), format!("range [{min}, {max}] is reversed")));
        }
        let p = c.float(&format!("{key}.p"), step.p, 1.0, FloatRange::Closed(0.0, 1.0))? as f32;
        out.push(PolicyStep { op, min, max, p });
    }
    Ok(Policy::new(out))
}

fn resolve_gate(c: &Check, raw: RawGate) -> Result<GatePlan, ConfigError> {
    let baseline = raw
        .baseline
        .ok_or_else(|| c.err("gate.baseline", "is required: the run directory to compare with"))?;
    let baseline =
        if Path::new(&baseline).is_absolute() { PathBuf::from(&baseline) } else { c.base.join(&baseline) };
    let exprs = raw.fail_if.unwrap_or_default();
    if exprs.is_empty() {
        return Err(c.err("gate.fail-if", "lists no gate, e.g. [\"clean_accuracy < -0.5\"]"));
    }
    let fail_if = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.parse().map_err(|err: crate::compare::GateError| {
                c.err(&format!("gate.fail-if[{i}]"), err.to_string())
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(GatePlan { baseline, fail_if })
}

/// A named list of corruptions, usable in `eval.corruptions`.
pub struct Suite {
    /// Config name.
    pub name: &'static str,
    /// Which data it applies to.
    pub modality: Modality,
    /// Catalog operations, in report order.
    pub ops: &'static [&'static str],
}

/// The named suites: ImageNet-C's 15 corruptions and its 4 held-out extras
/// (Hendrycks & Dietterich 2019), MNIST-C's 15 (Mu & Gilmer 2019), and a
/// default set of character-level text noise.
pub const SUITES: &[Suite] = &[
    Suite {
        name: "imagenet_c",
        modality: Modality::Image,
        ops: &[
            "gaussian_noise",
            "shot_noise",
            "impulse_noise",
            "defocus_blur",
            "glass_blur",
            "motion_blur",
            "zoom_blur",
            "snow",
            "frost",
            "fog",
            "brightness",
            "contrast",
            "elastic_transform",
            "pixelate",
            "jpeg_compression",
        ],
    },
    Suite {
        name: "imagenet_c_extra",
        modality: Modality::Image,
        ops: &["speckle_noise", "gaussian_blur", "spatter", "saturate"],
    },
    Suite {
        name: "mnist_c",
        modality: Modality::Image,
        ops: &[
            "shot_noise",
            "impulse_noise",
            "glass_blur",
            "motion_blur",
            "shear",
            "scale",
            "rotate",
            "brightness",
            "translate",
            "stripe",
            "fog",
            "spatter",
            "dotted_line",
            "zigzag",
            "canny_edges",
        ],
    },
    Suite {
        name: "text_noise",
        modality: Modality::Text,
        ops: &[
            "typo",
            "char_swap",
            "char_delete",
            "char_insert",
            "homoglyph",
            "zero_width",
            "leetspeak",
            "ocr_error",
            "insert_whitespace",
            "change_case",
        ],
    },
];

/// Looks a suite up by name.
pub fn suite(name: &str) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.name == name)
}

/// The corruptions evaluated when a config names none.
pub fn default_corruptions(modality: Modality) -> Vec<&'static str> {
    match modality {
        Modality::Image => vec!["gaussian_noise", "gaussian_blur", "brightness", "contrast", "rotate"],
        Modality::Text => vec!["typo", "char_swap", "char_delete", "homoglyph", "zero_width"],
    }
}

/// Looks an op name up in one modality's catalog.
type FindName = fn(&str) -> Option<&'static str>;

fn resolve_eval(c: &Check, raw: RawEval, modality: Modality) -> Result<EvalPlan, ConfigError> {
    let corruptions = match raw.corruptions {
        None => default_corruptions(modality),
        Some(list) => {
            let (names, find_name): (Vec<&'static str>, FindName) = match modality {
                Modality::Image => (augment::image::names(), |n| augment::image::find(n).map(ImageOp::name)),
                Modality::Text => (augment::text::names(), |n| augment::text::find(n).map(TextOp::name)),
            };
            let mut out = Vec::with_capacity(list.len());
            let mut from_suites = Vec::new();
            for (i, name) in list.iter().enumerate() {
                let key = format!("eval.corruptions[{i}]");
                if let Some(suite) = suite(name) {
                    if suite.modality != modality {
                        return Err(c.err(
                            &key,
                            format!(
                                "`{name}` is a suite of {} operations; this config's data is {}",
                                suite.modality.as_str(),
                                modality.as_str()
                            ),
                        ));
                    }
                    // A suite may overlap another suite or an op listed on its own.
                    for &op in suite.ops {
                        if !out.contains(&op) {
                            out.push(op);
                            from_suites.push(op);
                        }
                    }
                    continue;
                }
                let mut choices = names.clone();
                choices.extend(SUITES.iter().filter(|s| s.modality == modality).map(|s| s.name));
                let found = find_name(name)
                    .ok_or_else(|| c.err(&key, unknown_value("operation or suite", name, &choices)))?;
                if out.contains(&found) && !from_suites.contains(&found) {
                    return Err(c.err(&key, format!("`{name}` is listed twice")));
                }
                if !out.contains(&found) {
                    out.push(found);
                }
            }
            out
        }
    };
    let mut attacks = Vec::new();
    for (i, a) in raw.attacks.unwrap_or_default().into_iter().enumerate() {
        attacks.push(resolve_attack(c, &format!("eval.attacks[{i}]"), a, modality, &attacks)?);
    }
    let mce_baseline = match raw.mce_baseline {
        None => None,
        Some(dir) => {
            let full = if Path::new(&dir).is_absolute() { PathBuf::from(&dir) } else { c.base.join(&dir) };
            if !full.join("metrics.json").is_file() {
                return Err(c.err(
                    "eval.mce-baseline",
                    format!("{} holds no metrics.json; name a finished run directory", full.display()),
                ));
            }
            Some(full)
        }
    };
    Ok(EvalPlan {
        corruptions,
        batch_size: c.usize("eval.batch-size", raw.batch_size, 256, 1, 65_536)?,
        attacks,
        mce_baseline,
    })
}

/// Default radii on the [0, 1] pixel scale: L∞ for FGSM/PGD-L∞, L2 for PGD-L2.
const LINF_EPSILONS: [f64; 3] = [0.05, 0.1, 0.2];
const L2_EPSILONS: [f64; 3] = [0.5, 1.0, 2.0];

fn resolve_attack(
    c: &Check,
    key: &str,
    raw: RawAttack,
    modality: Modality,
    earlier: &[AttackPlan],
) -> Result<AttackPlan, ConfigError> {
    let names: Vec<&str> = AttackKind::ALL
        .iter()
        .map(|k| k.name())
        .chain(TextAttackKind::ALL.iter().map(|k| k.name()))
        .collect();
    if !names.contains(&raw.name.as_str()) {
        return Err(c.err(&format!("{key}.name"), unknown_value("attack", &raw.name, &names)));
    }
    if earlier.iter().any(|p| p.name() == raw.name) {
        return Err(c.err(&format!("{key}.name"), format!("`{}` is listed twice", raw.name)));
    }
    let plan = match (AttackKind::find(&raw.name), TextAttackKind::find(&raw.name), modality) {
        (Some(kind), _, Modality::Image) => AttackPlan::WhiteBox(resolve_white_box(c, key, kind, raw)?),
        (_, Some(kind), Modality::Text) => AttackPlan::BlackBox(resolve_black_box(c, key, kind, raw)?),
        (Some(_), _, _) => {
            return Err(c.err(
                &format!("{key}.name"),
                format!("`{}` is a white-box image attack; this config's data is text", raw.name),
            ));
        }
        _ => {
            return Err(c.err(
                &format!("{key}.name"),
                format!("`{}` is a black-box text attack; this config's data is image", raw.name),
            ));
        }
    };
    Ok(plan)
}

/// Refuses keys that belong to the other family of attacks.
fn only_for(
    c: &Check,
    key: &str,
    name: &str,
    present: &[(&str, bool)],
    family: &str,
) -> Result<(), ConfigError> {
    c.refuse_set(key, present, &format!("applies to {family} only, not `{name}`"))
}

fn resolve_white_box(
    c: &Check,
    key: &str,
    kind: AttackKind,
    raw: RawAttack,
) -> Result<WhiteBoxPlan, ConfigError> {
    let text_keys =
        [("max-word-share", raw.max_word_share.is_some()), ("max-queries", raw.max_queries.is_some())];
    only_for(c, key, &raw.name, &text_keys, "text attacks (deepwordbug, textbugger)")?;
    let epsilons = match raw.epsilons {
        None if kind.is_l2() => L2_EPSILONS.to_vec(),
        None => LINF_EPSILONS.to_vec(),
        Some(list) => {
            if list.is_empty() {
                return Err(c.err(&format!("{key}.epsilons"), "must list at least one radius"));
            }
            for (j, &e) in list.iter().enumerate() {
                let max = if kind.is_l2() { 1000.0 } else { 1.0 };
                c.float(&format!("{key}.epsilons[{j}]"), Some(e), 0.0, FloatRange::OpenLow(0.0, max))?;
            }
            list
        }
    };
    let steps = c.usize(&format!("{key}.steps"), raw.steps, 10, 1, 10_000)?;
    Ok(WhiteBoxPlan {
        kind,
        epsilons,
        steps,
        // Madry et al.'s rule of thumb: 2.5·ε/steps reaches the boundary from anywhere in the ball.
        step_size: c.float(
            &format!("{key}.step-size"),
            raw.step_size,
            2.5 / steps as f64,
            FloatRange::OpenLow(0.0, 10.0),
        )?,
        random_start: raw.random_start.unwrap_or(true),
        restarts: c.usize(&format!("{key}.restarts"), raw.restarts, 1, 1, 100)?,
        examples: c.usize(&format!("{key}.examples"), raw.examples, 1000, 1, i64::MAX)?,
    })
}

fn resolve_black_box(
    c: &Check,
    key: &str,
    kind: TextAttackKind,
    raw: RawAttack,
) -> Result<BlackBoxPlan, ConfigError> {
    let image_keys = [
        ("epsilons", raw.epsilons.is_some()),
        ("steps", raw.steps.is_some()),
        ("step-size", raw.step_size.is_some()),
        ("random-start", raw.random_start.is_some()),
        ("restarts", raw.restarts.is_some()),
    ];
    only_for(c, key, &raw.name, &image_keys, "white-box attacks (fgsm, pgd_linf, pgd_l2)")?;
    Ok(BlackBoxPlan {
        kind,
        budget: Budget {
            max_word_share: c.float(
                &format!("{key}.max-word-share"),
                raw.max_word_share,
                0.2,
                FloatRange::OpenLow(0.0, 1.0),
            )?,
            max_queries: c.usize(&format!("{key}.max-queries"), raw.max_queries, 200, 1, 100_000)?,
        },
        examples: c.usize(&format!("{key}.examples"), raw.examples, 1000, 1, i64::MAX)?,
    })
}
