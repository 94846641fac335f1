//! `[train]`: optimiser, augmentation policy, AugMix and adversarial training.

use augment::{Policy, PolicyStep, Severity};

use super::check::{Check, FloatRange};
use crate::config::attack::*;
use crate::config::error::ConfigError;
use crate::config::plan::*;
use crate::config::raw::*;
use crate::suggest::unknown_value;

/// `[train.noise]`: σ, and the copies with the consistency regulariser of
/// Jeong & Shin (2020), whose defaults (m 2, λ 10, η 0.5) are the
/// reference code's for σ 0.25, or MACER's loss (Zhai et al. 2020: k 16,
/// λ 12, γ 8, β 16, the paper's CIFAR-10 settings at σ 0.25).
fn resolve_noise(c: &Check, n: RawNoise) -> Result<NoisePlan, ConfigError> {
    let sigma = c.float("train.noise.sigma", n.sigma, 0.25, FloatRange::OpenLow(0.0, 4.0))?;
    let consistency = match n.consistency {
        None => None,
        Some(k) => Some(ConsistencyPlan {
            weight: c.float(
                "train.noise.consistency.weight",
                k.weight,
                10.0,
                FloatRange::Closed(0.0, 1000.0),
            )?,
            entropy: c.float(
                "train.noise.consistency.entropy",
                k.entropy,
                0.5,
                FloatRange::Closed(0.0, 1000.0),
            )?,
        }),
    };
    let macer = match n.macer {
        None => None,
        Some(_) if consistency.is_some() => {
            return Err(c.err(
                "train.noise.macer",
                "replaces the cross-entropy over the copies that [train.noise.consistency] regularises: choose one",
            ));
        }
        Some(k) => Some(MacerPlan {
            weight: c.float("train.noise.macer.weight", k.weight, 12.0, FloatRange::Closed(0.0, 1000.0))?,
            margin: c.float("train.noise.macer.margin", k.margin, 8.0, FloatRange::OpenLow(0.0, 100.0))?,
            beta: c.float("train.noise.macer.beta", k.beta, 16.0, FloatRange::OpenLow(0.0, 1000.0))?,
        }),
    };
    let default_copies = match (&consistency, &macer) {
        (Some(_), _) => 2,
        (_, Some(_)) => 16,
        _ => 1,
    };
    let copies = c.usize("train.noise.copies", n.copies, default_copies, 1, 64)?;
    if consistency.is_some() && copies < 2 {
        return Err(c.err(
            "train.noise.copies",
            "[train.noise.consistency] compares the noisy copies of each image: needs at least 2",
        ));
    }
    Ok(NoisePlan { sigma, copies, consistency, macer })
}

pub(super) fn resolve_train(
    c: &Check,
    raw: RawTrain,
    modality: Modality,
    text: &TextSpec,
    image: &ImageSpec,
) -> Result<TrainPlan, ConfigError> {
    let optimizer = match raw.optimizer.as_deref().unwrap_or("adam") {
        "adam" => {
            if raw.momentum.is_some() {
                return Err(c.err("train.momentum", "applies to `optimizer = \"sgd\"` only"));
            }
            Optimizer::Adam
        }
        "adamw" => {
            if raw.momentum.is_some() {
                return Err(c.err("train.momentum", "applies to `optimizer = \"sgd\"` only"));
            }
            Optimizer::AdamW
        }
        "sgd" => Optimizer::Sgd {
            momentum: c.float("train.momentum", raw.momentum, 0.9, FloatRange::OpenHigh(0.0, 1.0))?,
        },
        other => {
            return Err(
                c.err("train.optimizer", unknown_value("optimizer", other, &["adam", "adamw", "sgd"]))
            );
        }
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
    let noise = match raw.noise {
        None => None,
        Some(_) if modality == Modality::Text => {
            return Err(c.err("train.noise", "Gaussian noise is added to pixels; this config's data is text"));
        }
        Some(_) if augmix.is_some() => {
            return Err(c.err(
                "train.noise",
                "cannot be combined with [train.augmix], whose loss compares clean and augmented views",
            ));
        }
        Some(n) => Some(resolve_noise(c, n)?),
    };
    if noise.is_none()
        && adversarial.as_ref().is_some_and(|a| matches!(a.method, AdversarialMethod::SmoothAdv { .. }))
    {
        return Err(c.err(
            "train.adversarial.attack",
            "`smoothadv` attacks the smoothed classifier, whose noise [train.noise] sets: add [train.noise]",
        ));
    }
    if let Some(AdversarialMethod::Paired { loss, .. }) = adversarial.as_ref().map(|a| &a.method) {
        let clashes = [
            (augmix.is_some(), "[train.augmix], whose loss compares its own three views"),
            (
                raw.privacy.is_some(),
                "[train.privacy], whose accountant counts one clipped gradient per example",
            ),
            (
                noise.is_some_and(|n| n.trains_on_copies()),
                "[train.noise]'s several noisy copies or its regularisers",
            ),
        ];
        if let Some((_, what)) = clashes.iter().find(|(clash, _)| *clash) {
            return Err(c.err(
                "train.adversarial.attack",
                format!(
                    "{} trains on its own loss over clean and adversarial images: not with {what}",
                    loss.label()
                ),
            ));
        }
    }
    if adversarial.as_ref().is_some_and(|a| a.awp.is_some()) && raw.privacy.is_some() {
        return Err(c.err(
            "train.adversarial.awp-gamma",
            "adversarial weight perturbation takes a second gradient of each batch, which \
             [train.privacy]'s accountant does not count",
        ));
    }
    if noise.is_some_and(|n| n.macer.is_some()) {
        if raw.class_weights.as_deref() == Some("balanced") {
            return Err(c.err(
                "train.noise.macer",
                "its cross-entropy of the mean prediction is unweighted: not with `class-weights = \"balanced\"`",
            ));
        }
        if adversarial.as_ref().is_some_and(|a| matches!(a.method, AdversarialMethod::SmoothAdv { .. })) {
            return Err(c.err(
                "train.noise.macer",
                "MACER is attack-free and SmoothAdv trains on attacked copies: choose one",
            ));
        }
    }
    if let Some(n) = noise.filter(NoisePlan::trains_on_copies)
        && raw.privacy.is_some()
    {
        let (key, what) = match n.macer {
            Some(_) => ("train.noise.macer", "MACER's loss over noisy copies".to_owned()),
            None => ("train.noise.copies", format!("{} noisy copies of each image", n.copies)),
        };
        return Err(c.err(
            key,
            format!(
                "{what} cannot train under [train.privacy], whose accountant counts one gradient per example"
            ),
        ));
    }
    let canaries = match raw.canaries {
        None => None,
        Some(r) => {
            let mut repeats = Vec::new();
            for (i, &n) in r.repeats.clone().unwrap_or_else(|| vec![1, 4, 16]).iter().enumerate() {
                let n = c.usize(&format!("train.canaries.repeats[{i}]"), Some(n), 1, 1, 10_000)?;
                if repeats.last().is_some_and(|&last| n <= last) {
                    return Err(c.err("train.canaries.repeats", "must be increasing, each at least 1"));
                }
                repeats.push(n);
            }
            if repeats.is_empty() {
                return Err(c.err("train.canaries.repeats", "needs at least one repeat count"));
            }
            Some(CanaryPlan {
                count: c.usize("train.canaries.count", r.count, 10, 1, 10_000)?,
                repeats,
                candidates: if modality == Modality::Text {
                    c.usize("train.canaries.candidates", r.candidates, 1000, 10, 1_000_000)?
                } else {
                    c.refuse_set(
                        "train.canaries",
                        &[("candidates", r.candidates.is_some())],
                        "applies to text canaries only",
                    )?;
                    0
                },
            })
        }
    };
    let privacy = match raw.privacy {
        None => None,
        Some(r) => {
            if augmix.is_some() {
                return Err(c.err(
                    "train.privacy",
                    "cannot be combined with [train.augmix], whose loss couples three views of each example",
                ));
            }
            let budget = match (r.noise_multiplier, r.epsilon) {
                (Some(_), Some(_)) => {
                    return Err(c.err(
                        "train.privacy",
                        "set either `noise-multiplier` or a target `epsilon`, not both",
                    ));
                }
                (None, None) => {
                    return Err(c.err("train.privacy", "needs `noise-multiplier` or a target `epsilon`"));
                }
                (Some(s), None) => DpBudget::NoiseMultiplier(c.float(
                    "train.privacy.noise-multiplier",
                    Some(s),
                    1.0,
                    FloatRange::OpenLow(0.0, 1000.0),
                )?),
                (None, Some(e)) => DpBudget::Epsilon(c.float(
                    "train.privacy.epsilon",
                    Some(e),
                    1.0,
                    FloatRange::OpenLow(0.0, 1000.0),
                )?),
            };
            Some(DpPlan {
                max_grad_norm: c.float(
                    "train.privacy.max-grad-norm",
                    r.max_grad_norm,
                    1.0,
                    FloatRange::OpenLow(0.0, 1e6),
                )?,
                budget,
                delta: match r.delta {
                    Some(d) => {
                        Some(c.float("train.privacy.delta", Some(d), 1e-5, FloatRange::Open(0.0, 1.0))?)
                    }
                    None => None,
                },
            })
        }
    };
    let poison = raw.poison.map(|p| resolve_poison(c, p, modality, image)).transpose()?;
    let filter = match raw.filter {
        None => None,
        Some(f) => {
            let method = match f.method.as_deref().unwrap_or("spectral") {
                "spectral" => {
                    c.refuse_set(
                        "train.filter",
                        &[
                            ("size-threshold", f.size_threshold.is_some()),
                            ("silhouette-threshold", f.silhouette_threshold.is_some()),
                        ],
                        "applies to `method = \"activation_clustering\"`",
                    )?;
                    FilterMethod::Spectral {
                        expected_rate: c.float(
                            "train.filter.expected-rate",
                            f.expected_rate,
                            0.1,
                            FloatRange::Open(0.0, 0.5),
                        )?,
                    }
                }
                "activation_clustering" => {
                    c.refuse_set(
                        "train.filter",
                        &[("expected-rate", f.expected_rate.is_some())],
                        "applies to `method = \"spectral\"`",
                    )?;
                    FilterMethod::ActivationClustering {
                        size_threshold: c.float(
                            "train.filter.size-threshold",
                            f.size_threshold,
                            0.35,
                            FloatRange::Open(0.0, 0.5),
                        )?,
                        silhouette_threshold: c.float(
                            "train.filter.silhouette-threshold",
                            f.silhouette_threshold,
                            0.1,
                            FloatRange::OpenHigh(-1.0, 1.0),
                        )?,
                    }
                }
                other => {
                    return Err(c.err(
                        "train.filter.method",
                        unknown_value("filter", other, &["spectral", "activation_clustering"]),
                    ));
                }
            };
            Some(FilterPlan {
                method,
                // On real data the filter only reports unless told to drop;
                // on simulated poison, dropping is the point.
                drop: f.drop.unwrap_or(poison.is_some()),
                rounds: c.usize("train.filter.rounds", f.rounds, 1, 1, 10)?,
            })
        }
    };
    let validation = match raw.validation_share {
        None => {
            if raw.patience.is_some() {
                return Err(c.err(
                    "train.patience",
                    "needs `train.validation-share`: early stopping watches a validation split",
                ));
            }
            if raw.select_by.is_some() {
                return Err(c.err(
                    "train.select-by",
                    "needs `train.validation-share`: the epoch is selected on a validation split",
                ));
            }
            if raw.select_by_examples.is_some() {
                return Err(c.err(
                    "train.select-by-examples",
                    "needs `train.validation-share` and `train.select-by = \"robust-accuracy\"`",
                ));
            }
            None
        }
        Some(_) if canaries.is_some() => {
            return Err(c.err(
                "train.validation-share",
                "cannot be combined with [train.canaries]: the validation split could hold out a planted canary, which would then be scored as memorised or not without ever being trained on",
            ));
        }
        Some(v) => Some(ValidationPlan {
            share: c.float("train.validation-share", Some(v), 0.1, FloatRange::Open(0.0, 0.5))?,
            patience: match raw.patience {
                Some(p) => Some(c.usize("train.patience", Some(p), 3, 1, 100_000)?),
                None => None,
            },
            robust: match raw.select_by.as_deref().unwrap_or("accuracy") {
                "accuracy" => None,
                "robust-accuracy" => Some(validation_attack(c, adversarial.as_ref())?),
                other => {
                    return Err(c.err(
                        "train.select-by",
                        unknown_value("selection", other, &["accuracy", "robust-accuracy"]),
                    ));
                }
            },
            robust_examples: match raw.select_by_examples {
                None => None,
                Some(_) if raw.select_by.as_deref() != Some("robust-accuracy") => {
                    return Err(c.err(
                        "train.select-by-examples",
                        "caps the rows `train.select-by = \"robust-accuracy\"` attacks: set that too",
                    ));
                }
                Some(k) => Some(c.usize("train.select-by-examples", Some(k), 1000, 1, 10_000_000)?),
            },
        }),
    };
    let schedule = c.choice(
        "train.lr-schedule",
        "schedule",
        raw.lr_schedule.as_deref(),
        Schedule::Constant,
        &Schedule::ALL,
        Schedule::name,
    )?;
    let class_weights = c.choice(
        "train.class-weights",
        "class weighting",
        raw.class_weights.as_deref(),
        ClassWeights::None,
        &ClassWeights::ALL,
        ClassWeights::name,
    )?;
    if class_weights != ClassWeights::None && privacy.is_some() {
        return Err(c.err(
            "train.class-weights",
            "cannot be combined with [train.privacy]: DP-SGD clips each example's unweighted gradient",
        ));
    }
    Ok(TrainPlan {
        validation,
        schedule,
        class_weights,
        filter,
        poison,
        privacy,
        adversarial,
        augmix,
        noise,
        canaries,
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

fn resolve_poison(
    c: &Check,
    raw: RawPoison,
    modality: Modality,
    image: &ImageSpec,
) -> Result<PoisonPlan, ConfigError> {
    let amount = match (raw.rate, raw.count) {
        (Some(_), Some(_)) => return Err(c.err("train.poison", "set either `rate` or `count`, not both")),
        (None, None) => {
            return Err(c.err("train.poison", "needs `rate` (a share of the training rows) or `count`"));
        }
        (Some(r), None) => {
            PoisonAmount::Rate(c.float("train.poison.rate", Some(r), 0.01, FloatRange::OpenLow(0.0, 0.5))?)
        }
        (None, Some(n)) => PoisonAmount::Count(c.usize("train.poison.count", Some(n), 1, 1, 1 << 40)?),
    };
    let image_keys = [
        ("patch-size", raw.patch_size.is_some()),
        ("position", raw.position.is_some()),
        ("pattern", raw.pattern.is_some()),
        ("opacity", raw.opacity.is_some()),
    ];
    let trigger_keys = [("trigger", raw.trigger.is_some()), ("clean-label", raw.clean_label.is_some())];
    let target = match &raw.target {
        Some(t) if t.is_empty() => return Err(c.err("train.poison.target", "must name a class")),
        t => t.clone(),
    };
    let attack = match raw.attack.as_deref().unwrap_or("backdoor") {
        "label_flip" => {
            c.refuse_set("train.poison", &image_keys, "applies to `attack = \"backdoor\"` only")?;
            c.refuse_set("train.poison", &trigger_keys, "applies to `attack = \"backdoor\"` only")?;
            PoisonAttack::LabelFlip { target }
        }
        "backdoor" => {
            let target =
                target.ok_or_else(|| c.err("train.poison.target", "a backdoor needs a target class"))?;
            let trigger = match modality {
                Modality::Image => {
                    c.refuse_set(
                        "train.poison",
                        &[("trigger", raw.trigger.is_some())],
                        "applies to text data only",
                    )?;
                    let side = i64::from(image.width.min(image.height));
                    let size = c.usize("train.poison.patch-size", raw.patch_size, 3, 1, side)?;
                    let corner = c.choice(
                        "train.poison.position",
                        "position",
                        raw.position.as_deref(),
                        Corner::BottomRight,
                        &Corner::ALL,
                        Corner::name,
                    )?;
                    let pattern = c.choice(
                        "train.poison.pattern",
                        "pattern",
                        raw.pattern.as_deref(),
                        PatchPattern::Checkerboard,
                        &PatchPattern::ALL,
                        PatchPattern::name,
                    )?;
                    let opacity =
                        c.float("train.poison.opacity", raw.opacity, 1.0, FloatRange::OpenLow(0.0, 1.0))?;
                    Trigger::Patch { size: size as u32, corner, pattern, opacity }
                }
                Modality::Text => {
                    c.refuse_set("train.poison", &image_keys, "applies to image data only")?;
                    let token = raw.trigger.unwrap_or_else(|| "cf".to_owned());
                    if token.trim().is_empty() || token.trim() != token {
                        return Err(c.err(
                            "train.poison.trigger",
                            "must be a word or phrase without surrounding spaces",
                        ));
                    }
                    Trigger::Token(token)
                }
            };
            PoisonAttack::Backdoor { target, trigger, clean_label: raw.clean_label.unwrap_or(false) }
        }
        other => {
            return Err(c.err(
                "train.poison.attack",
                unknown_value("poisoning attack", other, &["backdoor", "label_flip"]),
            ));
        }
    };
    Ok(PoisonPlan { attack, amount })
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
        ("samples", raw.samples.is_some()),
        ("ramp-epochs", raw.ramp_epochs.is_some()),
        ("beta", raw.beta.is_some()),
        ("awp-gamma", raw.awp_gamma.is_some()),
        ("awp-warmup-epochs", raw.awp_warmup_epochs.is_some()),
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
        ramp_epochs: 0,
        awp: None,
    })
}

fn resolve_adversarial(c: &Check, raw: RawAdversarial) -> Result<AdversarialPlan, ConfigError> {
    let text_only =
        [("max-word-share", raw.max_word_share.is_some()), ("max-queries", raw.max_queries.is_some())];
    c.refuse_set("train.adversarial", &text_only, "applies to text models only")?;
    if raw.attack.as_deref() == Some(SMOOTHADV) {
        return resolve_smooth_adv(c, raw);
    }
    c.refuse_set("train.adversarial", &[("samples", raw.samples.is_some())], "applies to `smoothadv` only")?;
    if let Some((loss, kind)) = raw.attack.as_deref().and_then(PairedLoss::find) {
        return resolve_paired(c, raw, loss, kind);
    }
    c.refuse_set("train.adversarial", &[("beta", raw.beta.is_some())], "applies to TRADES and MART only")?;
    let mut names: Vec<&str> = AttackKind::TRAINING.iter().map(|k| k.name()).collect();
    names.push(SMOOTHADV);
    names.extend(PairedLoss::ATTACKS);
    let name = raw.attack.as_deref().unwrap_or("pgd_linf");
    let kind = AttackKind::find(name)
        .ok_or_else(|| c.err("train.adversarial.attack", unknown_value("attack", name, &names)))?;
    if !AttackKind::TRAINING.contains(&kind) {
        return Err(c.err(
            "train.adversarial.attack",
            format!(
                "`{name}` is an evaluation attack (a hundred steps a batch); train with one of {}",
                names.join(", ")
            ),
        ));
    }
    if kind == AttackKind::Fgsm {
        let pgd_keys = [
            ("steps", raw.steps.is_some()),
            ("step-size", raw.step_size.is_some()),
            ("random-start", raw.random_start.is_some()),
        ];
        let why = "applies to PGD only: `fgsm` is one step of size ε from the clean input";
        c.refuse_set("train.adversarial", &pgd_keys, why)?;
    }
    let (epsilon, steps, share) = pgd_settings(c, &raw, kind, 7, 2.5)?;
    Ok(AdversarialPlan {
        method: AdversarialMethod::Gradient(Attack::new(
            kind,
            epsilon,
            steps,
            share,
            raw.random_start.unwrap_or(true),
            1,
        )),
        ratio: c.float("train.adversarial.ratio", raw.ratio, 0.5, FloatRange::OpenLow(0.0, 1.0))?,
        warmup_epochs: c.usize("train.adversarial.warmup-epochs", raw.warmup_epochs, 0, 0, 100_000)?,
        ramp_epochs: c.usize("train.adversarial.ramp-epochs", raw.ramp_epochs, 0, 0, 100_000)?,
        awp: resolve_awp(c, &raw)?,
    })
}

/// `awp-gamma` and `awp-warmup-epochs`: the authors train PGD with γ 0.01
/// from the first epoch and TRADES with γ 0.005 after 10 of 200 epochs;
/// γ has no default, as it turns the perturbation on.
fn resolve_awp(c: &Check, raw: &RawAdversarial) -> Result<Option<AwpPlan>, ConfigError> {
    let Some(gamma) = raw.awp_gamma else {
        let why = "applies with `awp-gamma`, which turns adversarial weight perturbation on";
        c.refuse_set("train.adversarial", &[("awp-warmup-epochs", raw.awp_warmup_epochs.is_some())], why)?;
        return Ok(None);
    };
    Ok(Some(AwpPlan {
        gamma: c.float("train.adversarial.awp-gamma", Some(gamma), gamma, FloatRange::OpenLow(0.0, 1.0))?,
        warmup_epochs: c.usize(
            "train.adversarial.awp-warmup-epochs",
            raw.awp_warmup_epochs,
            0,
            0,
            100_000,
        )?,
    }))
}

/// A training PGD's radius (default 0.1 under L∞, 1 under L2), steps and
/// step size as a share of ε (default `travel` / steps: how many radii the
/// steps add up to).
fn pgd_settings(
    c: &Check,
    raw: &RawAdversarial,
    kind: AttackKind,
    default_steps: i64,
    travel: f64,
) -> Result<(f64, usize, f64), ConfigError> {
    let default_eps = if kind.is_l2() { 1.0 } else { 0.1 };
    let epsilon = c.float(
        "train.adversarial.epsilon",
        raw.epsilon,
        default_eps,
        FloatRange::OpenLow(0.0, kind.max_epsilon()),
    )?;
    let steps = c.usize("train.adversarial.steps", raw.steps, default_steps, 1, 1000)?;
    let share = c.float(
        "train.adversarial.step-size",
        raw.step_size,
        travel / steps as f64,
        FloatRange::OpenLow(0.0, 10.0),
    )?;
    Ok((epsilon, steps, share))
}

/// The validation attack of `train.select-by = "robust-accuracy"`: PGD-10
/// from a random start under the training attack's norm, at its ε, with
/// steps of 2.5ε/10.
fn validation_attack(c: &Check, adversarial: Option<&AdversarialPlan>) -> Result<Attack, ConfigError> {
    let (kind, epsilon) = match adversarial.map(|a| &a.method) {
        Some(AdversarialMethod::Gradient(a)) => (a.kind, a.epsilon),
        Some(AdversarialMethod::Paired { attack, .. }) => (attack.kind, attack.epsilon),
        _ => {
            return Err(c.err(
                "train.select-by",
                "`robust-accuracy` scores the validation rows under the training attack: it needs image \
                 adversarial training with a gradient attack, TRADES or MART",
            ));
        }
    };
    let kind = if kind.is_l2() { AttackKind::PgdL2 } else { AttackKind::PgdLinf };
    let steps = VALIDATION_ATTACK_STEPS;
    Ok(Attack::new(kind, epsilon, steps, 2.5 / steps as f64, true, 1))
}

/// The attack name of SmoothAdv training.
const SMOOTHADV: &str = "smoothadv";

/// `[train.adversarial]` with a TRADES or MART attack name. The TRADES
/// reference trains CIFAR-10 with β 6 and 10 steps of 0.007 at L∞ 0.031
/// (0.23 ε, near 2.5 ε / steps) and takes L2 steps of 2 ε / steps; MART's
/// trains with the same attack and β; those are the defaults. Their loss
/// covers every row and their start is fixed, so `ratio` and `random-start`
/// are refused.
fn resolve_paired(
    c: &Check,
    raw: RawAdversarial,
    loss: PairedLoss,
    kind: AttackKind,
) -> Result<AdversarialPlan, ConfigError> {
    let fixed = [("ratio", raw.ratio.is_some()), ("random-start", raw.random_start.is_some())];
    c.refuse_set(
        "train.adversarial",
        &fixed,
        &format!(
            "does not apply to {}, whose loss covers every row and whose attack starts 0.001·N(0, 1) off the clean image",
            loss.label()
        ),
    )?;
    let (epsilon, steps, share) = pgd_settings(c, &raw, kind, 10, if kind.is_l2() { 2.0 } else { 2.5 })?;
    Ok(AdversarialPlan {
        method: AdversarialMethod::Paired {
            loss,
            attack: Attack::new(kind, epsilon, steps, share, false, 1),
            beta: c.float("train.adversarial.beta", raw.beta, 6.0, FloatRange::Closed(0.0, 1000.0))?,
        },
        ratio: 1.0,
        warmup_epochs: c.usize("train.adversarial.warmup-epochs", raw.warmup_epochs, 0, 0, 100_000)?,
        ramp_epochs: c.usize("train.adversarial.ramp-epochs", raw.ramp_epochs, 0, 0, 100_000)?,
        awp: resolve_awp(c, &raw)?,
    })
}

/// `[train.adversarial]` with `attack = "smoothadv"`. Salman et al. train
/// every row adversarially with 1-10 steps and 1-8 noise draws at ε 0.25-1;
/// 2 steps on 2 draws at ε 0.5 costs four gradient passes a batch. The step
/// length and the zero start are the reference code's, not settings.
fn resolve_smooth_adv(c: &Check, raw: RawAdversarial) -> Result<AdversarialPlan, ConfigError> {
    let fixed = [("step-size", raw.step_size.is_some()), ("random-start", raw.random_start.is_some())];
    c.refuse_set(
        "train.adversarial",
        &fixed,
        "does not apply to `smoothadv`, which steps 2ε/steps from δ = 0",
    )?;
    c.refuse_set("train.adversarial", &[("beta", raw.beta.is_some())], "applies to TRADES and MART only")?;
    let awp =
        [("awp-gamma", raw.awp_gamma.is_some()), ("awp-warmup-epochs", raw.awp_warmup_epochs.is_some())];
    c.refuse_set(
        "train.adversarial",
        &awp,
        "applies to PGD, FGSM, TRADES and MART training, not `smoothadv`",
    )?;
    Ok(AdversarialPlan {
        method: AdversarialMethod::SmoothAdv {
            epsilon: c.float(
                "train.adversarial.epsilon",
                raw.epsilon,
                0.5,
                FloatRange::OpenLow(0.0, AttackKind::PgdL2.max_epsilon()),
            )?,
            steps: c.usize("train.adversarial.steps", raw.steps, 2, 1, 1000)?,
            samples: c.usize("train.adversarial.samples", raw.samples, 2, 1, 256)?,
        },
        ratio: c.float("train.adversarial.ratio", raw.ratio, 1.0, FloatRange::OpenLow(0.0, 1.0))?,
        warmup_epochs: c.usize("train.adversarial.warmup-epochs", raw.warmup_epochs, 0, 0, 100_000)?,
        ramp_epochs: c.usize("train.adversarial.ramp-epochs", raw.ramp_epochs, 0, 0, 100_000)?,
        awp: None,
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
