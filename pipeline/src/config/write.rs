//! Plan → TOML: the resolved config saved in every run directory, with
//! every default spelled out and absolute paths, so it re-runs as is.

use super::attack::{AttackKind, AttackPlan, SquarePlan};
use super::plan::*;
use super::raw::*;

/// The plan as a complete config file.
pub fn to_toml(plan: &Plan) -> Result<String, toml::ser::Error> {
    toml::to_string_pretty(&to_raw(plan))
}

fn path(p: &std::path::Path) -> String {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string()
}

fn to_raw(plan: &Plan) -> RawConfig {
    let d = &plan.data;
    let mut data = RawData {
        modality: Some(d.modality.as_str().to_owned()),
        input_column: Some(d.input_column.clone()),
        label_column: Some(d.label_column.clone()),
        on_bad_row: Some(if d.skip_bad_rows { "skip" } else { "fail" }.to_owned()),
        sha256: (!d.pins.is_empty()).then(|| {
            d.pins
                .iter()
                .map(|p| (p.key.trim_start_matches("data.sha256.").to_owned(), p.sha256.clone()))
                .collect()
        }),
        ..RawData::default()
    };
    match &d.source {
        DataSource::Files { train, test } => {
            data.train = Some(path(train));
            data.test = Some(path(test));
        }
        DataSource::SplitColumn { path: p, column } => {
            data.path = Some(path(p));
            data.split_column = Some(column.clone());
        }
        DataSource::Fraction { path: p, test_fraction } => {
            data.path = Some(path(p));
            data.test_fraction = Some(*test_fraction);
        }
    }
    let model = match &plan.model {
        ModelPlan::Cnn(m) => {
            data.channels = Some(i64::from(d.image.channels));
            data.width = Some(i64::from(d.image.width));
            data.height = Some(i64::from(d.image.height));
            data.max_pixels = Some(d.image.max_pixels as i64);
            data.max_side = Some(i64::from(d.image.max_side));
            data.allow_absolute_paths = Some(d.image.allow_absolute_paths);
            RawModel {
                conv_channels: Some(m.conv_channels.iter().map(|&c| c as i64).collect()),
                kernel_size: Some(m.kernel_size as i64),
                hidden: Some(m.hidden as i64),
                dropout: Some(m.dropout),
                norm: Some(m.norm.name().to_owned()),
                ..RawModel::default()
            }
        }
        ModelPlan::Text(m) => {
            data.protected = (!d.text.protected.is_empty()).then(|| d.text.protected.clone());
            data.synonyms = d.text.synonyms.as_deref().map(path);
            data.replacements = d.text.replacements.as_deref().map(path);
            data.keyboard = Some(d.text.keyboard.clone());
            RawModel {
                hidden: Some(m.hidden as i64),
                dropout: Some(m.dropout),
                buckets: Some(m.buckets as i64),
                embedding_dim: (m.hidden > 0).then_some(m.embedding_dim as i64),
                ngram_min: Some(m.ngram_min as i64),
                ngram_max: Some(m.ngram_max as i64),
                max_features: Some(m.max_features as i64),
                word_ngrams: Some(m.word_ngrams as i64),
                weighting: Some(m.weighting.name().to_owned()),
                word_recognition: Some(m.word_recognition),
                ..RawModel::default()
            }
        }
    };
    let t = &plan.train;
    let (optimizer, momentum) = match t.optimizer {
        Optimizer::Adam => ("adam", None),
        Optimizer::AdamW => ("adamw", None),
        Optimizer::Sgd { momentum } => ("sgd", Some(momentum)),
    };
    let steps = |name: &str, min: augment::Severity, max: augment::Severity, p: f32| RawAugmentStep {
        op: name.to_owned(),
        severity: Some(RawSeverity::Range([i64::from(min.level()), i64::from(max.level())])),
        p: Some(f64::from(p)),
    };
    let augment = match &t.augment {
        AugmentPolicy::Image(p) => p.steps().iter().map(|s| steps(s.op.name(), s.min, s.max, s.p)).collect(),
        AugmentPolicy::Text(p) => p.steps().iter().map(|s| steps(s.op.name(), s.min, s.max, s.p)).collect(),
    };
    RawConfig {
        name: Some(plan.name.clone()),
        seed: Some(plan.seed),
        device: Some(plan.device.clone()),
        data: Some(data),
        model: Some(model),
        train: Some(RawTrain {
            epochs: Some(t.epochs as i64),
            batch_size: Some(t.batch_size as i64),
            optimizer: Some(optimizer.to_owned()),
            learning_rate: Some(t.learning_rate),
            weight_decay: Some(t.weight_decay),
            momentum,
            augment: Some(augment),
            checkpoint_every: t.checkpoint_every.map(|v| v as i64),
            checkpoint_minutes: Some(t.checkpoint_minutes),
            validation_share: t.validation.map(|v| v.share),
            patience: t.validation.and_then(|v| v.patience).map(|p| p as i64),
            select_by: t
                .validation
                .map(|v| if v.robust.is_some() { "robust-accuracy" } else { "accuracy" }.to_owned()),
            select_by_examples: t.validation.and_then(|v| v.robust_examples).map(|k| k as i64),
            lr_schedule: Some(t.schedule.name().to_owned()),
            class_weights: Some(t.class_weights.name().to_owned()),
            poison: t.poison.as_ref().map(poison),
            filter: t.filter.map(|f| RawFilter {
                method: Some(f.method.name().to_owned()),
                expected_rate: match f.method {
                    FilterMethod::Spectral { expected_rate } => Some(expected_rate),
                    FilterMethod::ActivationClustering { .. } => None,
                },
                size_threshold: match f.method {
                    FilterMethod::ActivationClustering { size_threshold, .. } => Some(size_threshold),
                    FilterMethod::Spectral { .. } => None,
                },
                silhouette_threshold: match f.method {
                    FilterMethod::ActivationClustering { silhouette_threshold, .. } => {
                        Some(silhouette_threshold)
                    }
                    FilterMethod::Spectral { .. } => None,
                },
                drop: Some(f.drop),
                rounds: Some(f.rounds as i64),
            }),
            privacy: t.privacy.map(|p| RawDp {
                max_grad_norm: Some(p.max_grad_norm),
                noise_multiplier: match p.budget {
                    DpBudget::NoiseMultiplier(s) => Some(s),
                    DpBudget::Epsilon(_) => None,
                },
                epsilon: match p.budget {
                    DpBudget::Epsilon(e) => Some(e),
                    DpBudget::NoiseMultiplier(_) => None,
                },
                delta: p.delta,
            }),
            canaries: t.canaries.as_ref().map(|k| RawCanaries {
                count: Some(k.count as i64),
                repeats: Some(k.repeats.iter().map(|&r| r as i64).collect()),
                candidates: (k.candidates > 0).then_some(k.candidates as i64),
            }),
            noise: t.noise.map(|n| RawNoise {
                sigma: Some(n.sigma),
                copies: Some(n.copies as i64),
                consistency: n
                    .consistency
                    .map(|k| RawConsistency { weight: Some(k.weight), entropy: Some(k.entropy) }),
                macer: n.macer.map(|k| RawMacer {
                    weight: Some(k.weight),
                    margin: Some(k.margin),
                    beta: Some(k.beta),
                }),
            }),
            augmix: t.augmix.map(|a| RawAugmix {
                severity: Some(i64::from(a.severity.level())),
                jsd_weight: Some(a.jsd_weight),
            }),
            adversarial: t.adversarial.as_ref().map(|a| {
                let mut raw = RawAdversarial {
                    ratio: Some(a.ratio),
                    warmup_epochs: Some(a.warmup_epochs as i64),
                    awp_gamma: a.awp.map(|w| w.gamma),
                    awp_warmup_epochs: a.awp.map(|w| w.warmup_epochs as i64),
                    ..RawAdversarial::default()
                };
                match &a.method {
                    AdversarialMethod::Gradient(g) => {
                        raw.ramp_epochs = Some(a.ramp_epochs as i64);
                        raw.attack = Some(g.kind.name().to_owned());
                        raw.epsilon = Some(g.epsilon);
                        // FGSM's step is fixed; resolution refuses PGD keys for it.
                        if g.kind != AttackKind::Fgsm {
                            raw.steps = Some(g.steps as i64);
                            raw.step_size = Some(g.step_size / g.epsilon);
                            raw.random_start = Some(g.random_start);
                        }
                    }
                    AdversarialMethod::Paired { loss, attack, beta } => {
                        // The loss covers every row; resolution refuses `ratio`.
                        raw.ratio = None;
                        raw.ramp_epochs = Some(a.ramp_epochs as i64);
                        raw.attack = Some(loss.attack_name(attack.kind.is_l2()).to_owned());
                        raw.epsilon = Some(attack.epsilon);
                        raw.steps = Some(attack.steps as i64);
                        raw.step_size = Some(attack.step_size / attack.epsilon);
                        raw.beta = Some(*beta);
                    }
                    AdversarialMethod::SmoothAdv { epsilon, steps, samples } => {
                        raw.ramp_epochs = Some(a.ramp_epochs as i64);
                        raw.attack = Some("smoothadv".to_owned());
                        raw.epsilon = Some(*epsilon);
                        raw.steps = Some(*steps as i64);
                        raw.samples = Some(*samples as i64);
                    }
                    AdversarialMethod::Edits { kind, budget, .. } => {
                        raw.attack = Some(kind.name().to_owned());
                        raw.max_word_share = Some(budget.max_word_share);
                        raw.max_queries = Some(budget.max_queries as i64);
                    }
                }
                raw
            }),
        }),
        gate: plan.gate.as_ref().map(|g| RawGate {
            baseline: Some(path(&g.baseline)),
            fail_if: Some(g.fail_if.iter().map(ToString::to_string).collect()),
        }),
        eval: Some(RawEval {
            corruptions: Some(plan.eval.corruptions.iter().map(|s| (*s).to_owned()).collect()),
            corruption_table: Some(plan.eval.corruption_table.name().to_owned()),
            // The resolved tables, so a reloaded config (resume, re-evaluate)
            // uses them whatever suite scoped them.
            corruption_tables: (!plan.eval.tables.is_empty()).then(|| {
                plan.eval.tables.iter().map(|(op, t)| ((*op).to_owned(), t.name().to_owned())).collect()
            }),
            batch_size: Some(plan.eval.batch_size as i64),
            mce_baseline: plan.eval.mce_baseline.as_deref().map(path),
            attacks: (!plan.eval.attacks.is_empty()).then(|| {
                plan.eval
                    .attacks
                    .iter()
                    .map(|a| match a {
                        AttackPlan::WhiteBox(a) if a.kind == AttackKind::Fgsm => RawAttack {
                            name: a.kind.name().to_owned(),
                            epsilons: Some(a.epsilons.clone()),
                            examples: Some(a.examples as i64),
                            ..RawAttack::default()
                        },
                        AttackPlan::WhiteBox(a) if a.kind.sets_own_steps() => RawAttack {
                            name: a.kind.name().to_owned(),
                            epsilons: Some(a.epsilons.clone()),
                            steps: Some(a.steps as i64),
                            // FAB-T makes one search per target: no restarts key.
                            restarts: (!matches!(a.kind, AttackKind::FabT { .. }))
                                .then_some(a.restarts as i64),
                            targets: a.targets.map(|t| t as i64),
                            examples: Some(a.examples as i64),
                            ..RawAttack::default()
                        },
                        AttackPlan::WhiteBox(a) => RawAttack {
                            name: a.kind.name().to_owned(),
                            epsilons: Some(a.epsilons.clone()),
                            steps: Some(a.steps as i64),
                            step_size: Some(a.step_size),
                            random_start: Some(a.random_start),
                            restarts: Some(a.restarts as i64),
                            examples: Some(a.examples as i64),
                            ..RawAttack::default()
                        },
                        AttackPlan::BlackBox(a) => RawAttack {
                            name: a.kind.name().to_owned(),
                            max_word_share: Some(a.budget.max_word_share),
                            max_queries: Some(a.budget.max_queries as i64),
                            examples: Some(a.examples as i64),
                            ..RawAttack::default()
                        },
                        AttackPlan::Square(a) => RawAttack {
                            name: SquarePlan::base(a.norm).to_owned(),
                            epsilons: Some(a.epsilons.clone()),
                            max_queries: Some(a.max_queries as i64),
                            p_init: Some(a.p_init),
                            decimals: a.decimals.map(i64::from),
                            examples: Some(a.examples as i64),
                            ..RawAttack::default()
                        },
                        AttackPlan::AutoAttack(a) => RawAttack {
                            name: a.name().to_owned(),
                            epsilons: Some(a.epsilons.clone()),
                            steps: Some(a.steps as i64),
                            targets: a.targets.map(|t| t as i64),
                            max_queries: Some(a.max_queries as i64),
                            examples: Some(a.examples as i64),
                            ..RawAttack::default()
                        },
                        AttackPlan::Hsja(a) => RawAttack {
                            name: a.norm.hsja_name().to_owned(),
                            epsilons: Some(a.epsilons.clone()),
                            max_queries: Some(a.max_queries as i64),
                            examples: Some(a.examples as i64),
                            ..RawAttack::default()
                        },
                    })
                    .collect()
            }),
            privacy: plan.eval.privacy.as_ref().map(|p| {
                p.attacks
                    .iter()
                    .map(|a| RawPrivacy {
                        attack: a.kind.name().to_owned(),
                        references: a.kind.needs_references().then_some(a.references as i64),
                        variance: (a.kind == PrivacyAttackKind::Lira).then(|| a.variance.name().to_owned()),
                    })
                    .collect()
            }),
            privacy_holdout: plan.eval.privacy.as_ref().map(|p| p.holdout),
            privacy_examples: plan.eval.privacy.as_ref().map(|p| p.examples as i64),
            extraction: (!plan.eval.extraction.is_empty())
                .then(|| plan.eval.extraction.iter().map(|e| extraction(e, plan.data.modality)).collect()),
            certify: plan.eval.certify.as_ref().map(|p| RawCertify {
                sigmas: Some(p.sigmas.clone()),
                n0: Some(p.n0 as i64),
                n: Some(p.n as i64),
                alpha: Some(p.alpha),
                examples: Some(p.examples as i64),
                radii: Some(p.radii.clone()),
                batch: Some(p.batch as i64),
                attack: p.attack.as_ref().map(|a| RawSmoothAttack {
                    steps: Some(a.steps as i64),
                    samples: Some(a.samples as i64),
                    examples: Some(a.examples as i64),
                }),
            }),
        }),
    }
}

/// Text plans have no transfer ε; an image plan writes its list even when
/// empty, since an absent key means the default.
fn extraction(e: &ExtractionPlan, modality: Modality) -> RawExtraction {
    let (k, decimals) = match e.output {
        ApiOutput::Top1 => (None, None),
        ApiOutput::TopK(k) => (Some(k as i64), None),
        ApiOutput::Probabilities { decimals } => (None, decimals.map(i64::from)),
    };
    let (seed_rows, table) = match &e.queries {
        QueryPool::Test => (None, None),
        QueryPool::Synthetic { seed_rows } => (Some(*seed_rows as i64), None),
        QueryPool::Table { path: p } => (None, Some(path(p))),
    };
    RawExtraction {
        output: e.output.kind().to_owned(),
        k,
        decimals,
        budgets: Some(e.budgets.iter().map(|&b| b as i64).collect()),
        queries: Some(e.queries.name().to_owned()),
        seed_rows,
        table,
        examples: Some(e.examples as i64),
        width: Some(e.width),
        steps: Some(e.steps as i64),
        transfer_epsilons: (modality == Modality::Image).then(|| e.transfer_epsilons.clone()),
    }
}

fn poison(p: &PoisonPlan) -> RawPoison {
    let mut raw = RawPoison::default();
    match p.amount {
        PoisonAmount::Rate(r) => raw.rate = Some(r),
        PoisonAmount::Count(n) => raw.count = Some(n as i64),
    }
    match &p.attack {
        PoisonAttack::LabelFlip { target } => {
            raw.attack = Some("label_flip".to_owned());
            raw.target = target.clone();
        }
        PoisonAttack::Backdoor { target, trigger, clean_label } => {
            raw.attack = Some("backdoor".to_owned());
            raw.target = Some(target.clone());
            raw.clean_label = Some(*clean_label);
            match trigger {
                Trigger::Patch { size, corner, pattern, opacity } => {
                    raw.patch_size = Some(i64::from(*size));
                    raw.position = Some(corner.name().to_owned());
                    raw.pattern = Some(pattern.name().to_owned());
                    raw.opacity = Some(*opacity);
                }
                Trigger::Token(t) => raw.trigger = Some(t.clone()),
            }
        }
    }
    raw
}
