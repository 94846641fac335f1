//! One model of a run's report, rendered twice: as `report.md` and as
//! `report.html`. The sections, rows and their order are decided here once,
//! so the two files cannot drift apart; renderers only choose the markup
//! (and the HTML page adds the charts and the examples).

use std::fmt::Write as _;

use super::pct;
use super::svg::LineChart;
use crate::eval::examples::Examples;
use crate::run::manifest::Manifest;
use crate::run::metrics::{MetricTable, Metrics};

/// A run of text within a paragraph or list item.
#[derive(Debug, Clone, PartialEq)]
pub enum Span {
    /// Plain text.
    Plain(String),
    /// A name, path or digest, set in code type.
    Code(String),
}

/// A table of plain-text cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column headings.
    pub header: Vec<String>,
    /// Rows, each as wide as the header.
    pub rows: Vec<Vec<String>>,
}

/// One block of a section.
#[derive(Debug, Clone)]
pub enum Block<'a> {
    /// A paragraph.
    Text(Vec<Span>),
    /// A table.
    Table(Table),
    /// A bulleted list.
    List(Vec<Vec<Span>>),
    /// Charts of the section's numbers (HTML only; the tables carry them too).
    Charts(Vec<LineChart>),
    /// The example inputs (HTML only: pictures and marked-up edits).
    Examples(&'a Examples),
}

/// A titled section.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// Its heading.
    pub title: &'static str,
    /// Its content, in order.
    pub blocks: Vec<Block<'a>>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    /// The page title.
    pub title: String,
    /// Paragraphs before the first section.
    pub intro: Vec<Block<'a>>,
    /// The sections, in order; a section without data is left out.
    pub sections: Vec<Section<'a>>,
}

pub(super) fn plain(text: impl Into<String>) -> Span {
    Span::Plain(text.into())
}

pub(super) fn code(text: impl Into<String>) -> Span {
    Span::Code(text.into())
}

/// The report of a run: `examples` are shown where the renderer can.
pub fn document<'a>(metrics: &Metrics, manifest: &Manifest, examples: &'a Examples) -> Document<'a> {
    let r = &metrics.run;
    let mut intro = vec![Block::Text(vec![plain(format!(
        "{} classifier, {} classes, {} training and {} test examples; seed {}, device {}.",
        r.modality,
        r.classes.len(),
        r.train_examples,
        r.test_examples,
        manifest.seed,
        manifest.device
    ))])];
    if r.skipped_rows > 0 {
        intro.push(Block::Text(vec![
            plain(format!("{} bad rows were skipped (", r.skipped_rows)),
            code("on-bad-row = \"skip\""),
            plain("); "),
            code("log.jsonl"),
            plain(" lists them."),
        ]));
    }
    let mut sections = vec![headline(metrics)];
    sections.extend(corruptions(metrics));
    sections.extend(attacks(metrics));
    sections.extend(super::certified::section(metrics));
    sections.extend(super::stealing::section(metrics));
    sections.extend(poisoning(metrics));
    sections.extend(differential_privacy(metrics));
    sections.extend(privacy(metrics));
    sections.extend(canaries(metrics));
    sections.extend(training(metrics));
    if !examples.clean.is_empty() {
        sections.push(Section { title: "Examples", blocks: vec![Block::Examples(examples)] });
    }
    sections.push(provenance(manifest));
    Document { title: format!("Robustness report: {} ({})", r.name, r.id), intro, sections }
}

fn headline(m: &Metrics) -> Section<'static> {
    let mut rows = vec![vec!["clean_accuracy".to_owned(), pct(m.clean_accuracy)]];
    if let Some(v) = m.mean_corruption_accuracy {
        rows.push(vec!["mean_corruption_accuracy".to_owned(), pct(v)]);
    }
    if let Some(base) = &m.mce_baseline {
        let opt = |v: Option<f64>| v.map_or("–".into(), pct);
        rows.push(vec![format!("mCE (vs {base})"), opt(m.mce)]);
        rows.push(vec![format!("relative_mCE (vs {base})"), opt(m.relative_mce)]);
    }
    for (attack, by_eps) in &m.attack_accuracy {
        for (_, key, acc) in by_epsilon(by_eps) {
            rows.push(vec![format!("attack_accuracy {attack} ε={key}"), pct(acc)]);
        }
    }
    for (threat, by_eps) in &m.attack_worst_case_accuracy {
        for (_, key, acc) in by_epsilon(by_eps) {
            rows.push(vec![format!("attack_worst_case_accuracy {threat} ε={key}"), pct(acc)]);
        }
    }
    if let Some(p) = &m.privacy {
        rows.push(vec!["privacy.mia_auc".to_owned(), format!("{:.3}", p.mia_auc)]);
        rows.push(vec!["privacy.mia_tpr_at_01pct_fpr".to_owned(), pct(p.mia_tpr_at_01pct_fpr)]);
    }
    if let Some(rate) = m.poison.as_ref().and_then(|p| p.attack_success_rate) {
        rows.push(vec!["poison.attack_success_rate".to_owned(), pct(rate)]);
    }
    if let Some(e) = &m.extraction {
        rows.push(vec!["extraction.max_fidelity".to_owned(), pct(e.max_fidelity)]);
    }
    if let Some(dp) = &m.dp {
        rows.push(vec!["dp.epsilon".to_owned(), format!("{:.3} (δ = {:e})", dp.epsilon, dp.delta)]);
    }
    let header = vec!["metric".to_owned(), "value".to_owned()];
    Section { title: "Headline", blocks: vec![Block::Table(Table { header, rows })] }
}

fn poisoning(m: &Metrics) -> Option<Section<'static>> {
    let mut blocks = Vec::new();
    if let Some(p) = &m.poison {
        blocks.extend(simulated_poison(m, p));
    }
    if let Some(f) = &m.filter {
        let what =
            if f.dropped { "dropped before the final training" } else { "only reported (drop = false)" };
        let method = if f.method == "activation_clustering" {
            "activation clustering, Chen et al. 2018): a first model trained on the training rows as given; in \
             each class, its penultimate-layer features are split in two, and a small, well-separated cluster is \
             flagged"
        } else {
            "spectral signatures, Tran et al. 2018): a first model trained on the training rows as given; in each \
             class, the rows furthest along the top singular direction of its penultimate-layer features are \
             flagged"
        };
        let explain = format!(
            "Poison filter ({method}. {} of {} rows flagged, {what}; filter.tsv lists every row's score ({:.1} s).",
            f.flagged_rows, f.scored_rows, f.seconds
        );
        let mut rows = vec![vec!["flagged rows".to_owned(), f.flagged_rows.to_string()]];
        let opt = |v: Option<f64>| v.map_or("–".to_owned(), pct);
        if f.precision.is_some() {
            rows.push(vec!["precision (flagged rows that were poisoned)".to_owned(), opt(f.precision)]);
            rows.push(vec!["recall (poisoned rows flagged)".to_owned(), opt(f.recall)]);
        }
        if let Some(before) = f.attack_success_rate_before {
            rows.push(vec!["attack success before filtering".to_owned(), pct(before)]);
            let after = m.poison.as_ref().and_then(|p| p.attack_success_rate);
            rows.push(vec!["attack success after filtering".to_owned(), opt(after)]);
        }
        let header = vec!["filter".to_owned(), "value".to_owned()];
        blocks.push(Block::Text(vec![plain(explain)]));
        blocks.push(Block::Table(Table { header, rows }));
    }
    (!blocks.is_empty()).then_some(Section { title: "Poisoning", blocks })
}

fn simulated_poison(m: &Metrics, p: &crate::run::metrics::PoisonMetrics) -> Vec<Block<'static>> {
    let what = match (p.attack.as_str(), &p.target) {
        ("backdoor", Some(t)) if p.clean_label => {
            format!("a clean-label backdoor: the trigger put on rows of class {t}, which keep their label")
        }
        ("backdoor", Some(t)) => {
            format!("a backdoor (BadNets): the trigger put on rows relabelled as class {t}")
        }
        (_, Some(t)) => format!("labels flipped to class {t}"),
        _ => "labels flipped to random other classes".to_owned(),
    };
    let mut explain = format!(
        "Simulated poisoning: {} training rows ({}) changed by an attacker, {what}; poison.tsv lists them. \
         Clean accuracy above is measured on the untouched test set.",
        p.poisoned_rows,
        pct(p.rate)
    );
    if let Some(rate) = p.attack_success_rate {
        let _ = write!(
            explain,
            " Attack success: {} of {} test inputs of other classes, with the trigger, are predicted as the target.",
            pct(rate),
            p.triggered_test_rows
        );
    }
    let mut rows = vec![
        vec!["attack".to_owned(), p.attack.clone()],
        vec!["poisoned rows".to_owned(), format!("{} ({})", p.poisoned_rows, pct(p.rate))],
        vec!["clean accuracy".to_owned(), pct(m.clean_accuracy)],
    ];
    if let Some(rate) = p.attack_success_rate {
        rows.push(vec!["attack success rate".to_owned(), pct(rate)]);
    }
    let header = vec!["metric".to_owned(), "value".to_owned()];
    vec![Block::Text(vec![plain(explain)]), Block::Table(Table { header, rows })]
}

fn differential_privacy(m: &Metrics) -> Option<Section<'static>> {
    let dp = m.dp.as_ref()?;
    let target = dp.target_epsilon.map(|t| format!(", solved for a target ε of {t}")).unwrap_or_default();
    let explain = vec![plain(format!(
        "Trained with DP-SGD (Abadi et al. 2016): {} steps on batches drawn by Poisson sampling at rate {:.5}, \
         each example's gradient clipped to norm {}, Gaussian noise of {:.4} times that norm added to their sum{target}. \
         The model is ({:.3}, {:e})-differentially private with respect to each training row: no training row \
         changes what it reveals by more than a factor e^ε, except with probability δ (Rényi DP accountant, \
         Mironov et al. 2019). An image CNN trains with group norm or none under DP-SGD: batch norm mixes the \
         examples whose gradients are clipped one by one. The membership-inference figures below measure what an \
         attacker gets in practice.",
        dp.steps, dp.sample_rate, dp.max_grad_norm, dp.noise_multiplier, dp.epsilon, dp.delta
    ))];
    let header = ["epoch", "ε spent", "train accuracy"].map(str::to_owned).to_vec();
    let rows = m
        .training
        .iter()
        .filter_map(|e| Some(vec![e.epoch.to_string(), format!("{:.3}", e.epsilon?), pct(e.accuracy)]))
        .collect();
    Some(Section {
        title: "Privacy: differential privacy",
        blocks: vec![Block::Text(explain), Block::Table(Table { header, rows })],
    })
}

fn canaries(m: &Metrics) -> Option<Section<'static>> {
    let c = m.canaries.as_ref()?;
    let explain = vec![plain(format!(
        "{} unique canaries per group, each planted in the training data as many times as its group says ({} rows in all; canaries.tsv lists them, rows.tsv does not); group 0 was never planted. Recall: the share answered with the planted label (chance {}). Exposure (texts): how far the planted secret stands out among other secrets in the same sentence, in bits{}.",
        c.per_group,
        c.planted_rows,
        pct(c.chance),
        c.max_exposure.map(|x| format!(" (at most {x:.1})")).unwrap_or_default()
    ))];
    let mut groups: Vec<(usize, &String)> =
        c.recall.keys().filter_map(|k| k.parse::<usize>().ok().map(|n| (n, k))).collect();
    groups.sort();
    let header = ["times planted", "recall", "mean exposure"].map(str::to_owned).to_vec();
    let rows = groups
        .into_iter()
        .map(|(_, k)| {
            vec![k.clone(), pct(c.recall[k]), c.exposure.get(k).map_or("–".into(), |e| format!("{e:.2}"))]
        })
        .collect();
    Some(Section {
        title: "Privacy: memorised canaries",
        blocks: vec![Block::Text(explain), Block::Table(Table { header, rows })],
    })
}

fn privacy(m: &Metrics) -> Option<Section<'static>> {
    let p = m.privacy.as_ref()?;
    let explain = vec![plain(format!(
        "Membership inference: can an attacker tell the model's training rows from rows it never saw? {} training rows were held out (membership.tsv lists them); {} members and {} non-members were attacked; {} reference models trained; {:.1} s. AUC 0.5 means no leakage; the true-positive rate at a low false-positive rate is what an attacker can claim with confidence (Carlini et al. 2022).",
        p.holdout_rows, p.members, p.non_members, p.reference_models, p.seconds
    ))];
    let header =
        ["attack", "AUC", "balanced accuracy", "TPR at 1% FPR", "TPR at 0.1% FPR", "reference models"]
            .map(str::to_owned)
            .to_vec();
    let rows = p
        .attacks
        .iter()
        .map(|(name, a)| {
            vec![
                name.clone(),
                format!("{:.3}", a.auc),
                pct(a.balanced_accuracy),
                pct(a.tpr_at_1pct_fpr),
                pct(a.tpr_at_01pct_fpr),
                a.reference_models.to_string(),
            ]
        })
        .collect();
    let mut blocks = Vec::new();
    if p.attacks.values().any(|a| !a.roc.is_empty()) {
        let floor = 1e-4;
        let mut chart =
            LineChart::new("ROC of each attack (log-log)", "false-positive rate", "true-positive rate")
                .log_log(floor)
                .with_series("chance", vec![(floor, floor), (1.0, 1.0)]);
        for (name, a) in &p.attacks {
            chart = chart.with_series(name, a.roc.iter().map(|&[f, t]| (f, t)).collect());
        }
        blocks.push(Block::Charts(vec![chart]));
    }
    blocks.push(Block::Text(explain));
    blocks.push(Block::Table(Table { header, rows }));
    Some(Section { title: "Privacy: membership inference", blocks })
}

fn corruptions(m: &Metrics) -> Option<Section<'static>> {
    if m.corruption_accuracy.is_empty() {
        return None;
    }
    let mut chart = LineChart::new("Accuracy versus severity", "severity (0 = clean)", "accuracy");
    for (op, by_sev) in &m.corruption_accuracy {
        let mut points = vec![(0.0, m.clean_accuracy)];
        points.extend(by_sev.iter().filter_map(|(k, v)| Some((k.parse::<f64>().ok()?, *v))));
        chart = chart.with_series(op, points);
    }
    let ce = !m.corruption_error.is_empty();
    let tables = !m.corruption_table.is_empty();
    let mut header: Vec<String> = ["op", "0", "1", "2", "3", "4", "5", "mean"].map(str::to_owned).to_vec();
    if ce {
        header.push("CE".to_owned());
    }
    if tables {
        header.push("parameter table".to_owned());
    }
    let rows = m
        .corruption_accuracy
        .iter()
        .map(|(op, by_sev)| {
            let mut row = vec![op.clone(), pct(m.clean_accuracy)];
            row.extend((1..=5).map(|k| by_sev.get(&k.to_string()).map_or("–".into(), |v| pct(*v))));
            row.push(pct(by_sev.values().sum::<f64>() / by_sev.len().max(1) as f64));
            if ce {
                row.push(m.corruption_error.get(op).map_or("–".into(), |v| pct(*v)));
            }
            if tables {
                row.push(m.corruption_table.get(op).cloned().unwrap_or_else(|| "–".into()));
            }
            row
        })
        .collect();
    Some(Section {
        title: "Accuracy under corruption",
        blocks: vec![
            Block::Charts(vec![chart]),
            Block::Table(Table { header, rows }),
            Block::Text(vec![plain(if tables {
                "Severity 0 is the clean test set. Parameter table: the benchmark whose severity parameters \
                 the op used (eval.corruption-table; temper list prints them)."
            } else {
                "Severity 0 is the clean test set."
            })]),
        ],
    })
}

fn attacks(m: &Metrics) -> Option<Section<'static>> {
    if m.attack_accuracy.is_empty() {
        return None;
    }
    let charts = m
        .attack_accuracy
        .iter()
        .map(|(attack, by_eps)| {
            let mut points = vec![(0.0, m.clean_accuracy)];
            points.extend(by_epsilon(by_eps).into_iter().map(|(eps, _, acc)| (eps, acc)));
            LineChart::new(
                &format!("Accuracy under {attack}"),
                &super::markup::epsilon_label(attack),
                "accuracy",
            )
            .with_series(attack, points)
        })
        .collect();
    let explain = vec![
        plain(
            "Attacks on the model in evaluation mode; ε 0 is the clean test set. Success rate: the share of \
             correctly classified inputs the attack flipped. Norm: mean L∞ (L2 for ",
        ),
        code("pgd_l2"),
        plain(
            ") of the applied perturbation on the [0, 1] pixel scale; for text attacks ε is the largest share \
             of words that may change and the norm the mean share that did. Queries: mean inputs sent to the \
             model per attacked row, the clean one included (black-box attacks). ",
        ),
        code("square"),
        plain(
            " reads only the model's scores, never its gradients: where it breaks more inputs than PGD at the \
             same ε, the model's gradients are masked and PGD's figure overstates its robustness.",
        ),
    ];
    let header =
        ["attack", "ε", "accuracy", "success rate", "mean norm", "mean queries"].map(str::to_owned).to_vec();
    let mut rows = Vec::new();
    for (attack, by_eps) in &m.attack_accuracy {
        for (_, eps, acc) in by_epsilon(by_eps) {
            let get = |t: &MetricTable| t.get(attack).and_then(|x| x.get(eps)).copied();
            rows.push(vec![
                attack.clone(),
                eps.clone(),
                pct(acc),
                get(&m.attack_success_rate).map_or("–".into(), pct),
                get(&m.attack_mean_norm).map_or("–".into(), |v| format!("{v:.3}")),
                get(&m.attack_mean_queries).map_or("–".into(), |v| format!("{v:.1}")),
            ]);
        }
    }
    let mut blocks = vec![Block::Charts(charts), Block::Text(explain), Block::Table(Table { header, rows })];
    blocks.extend(worst_cases(m).into_iter().map(|line| Block::Text(vec![plain(line)])));
    blocks.extend(cascades(m).into_iter().map(|line| Block::Text(vec![plain(line)])));
    blocks.extend(weak_pgd(m).into_iter().map(|finding| Block::Text(vec![plain(finding)])));
    blocks.extend(masked_gradients(m).into_iter().map(|finding| Block::Text(vec![plain(finding)])));
    Some(Section { title: "Accuracy under attack", blocks })
}

/// One sentence per threat model and ε with a worst case: the attacks it
/// takes and what they left together.
pub(super) fn worst_cases(m: &Metrics) -> Vec<String> {
    let mut out = Vec::new();
    for (threat, per) in &m.attack_worst_case_accuracy {
        let scale = match threat.as_str() {
            "linf" => "L∞ ε",
            "l2" => "L2 ε",
            _ => "a word share of",
        };
        for (_, eps, acc) in by_epsilon(per) {
            let attacks: Vec<&str> = m
                .attack_accuracy
                .iter()
                .filter(|(a, by)| crate::attack::threat(a) == Some(threat.as_str()) && by.contains_key(eps))
                .map(|(a, _)| a.as_str())
                .collect();
            out.push(format!(
                "Worst case at {scale} {eps}, a row counted as broken when any of {} broke it: {} correct.",
                attacks.join(", "),
                pct(acc)
            ));
        }
    }
    out
}

/// A cascade's stages at one ε in the order they ran, each with the
/// accuracy left after it.
fn stages(by_stage: &std::collections::BTreeMap<String, f64>) -> Vec<(&str, f64)> {
    use crate::config::AutoAttackPlan;
    let mut out: Vec<(&str, f64)> = by_stage.iter().map(|(s, &a)| (s.as_str(), a)).collect();
    let order = |s: &str| {
        crate::config::Distance::ALL
            .into_iter()
            .find_map(|n| AutoAttackPlan::stage_names(n).iter().position(|k| *k == s))
            .unwrap_or(usize::MAX)
    };
    out.sort_by_key(|(s, _)| order(s));
    out
}

/// One sentence per cascade and ε: what each stage left.
pub(super) fn cascades(m: &Metrics) -> Vec<String> {
    let mut out = Vec::new();
    for (cascade, per) in &m.attack_stage_accuracy {
        let mut by_eps: Vec<(f64, &String)> =
            per.keys().filter_map(|k| Some((k.parse::<f64>().ok()?, k))).collect();
        by_eps.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, eps) in by_eps {
            let steps: Vec<String> =
                stages(&per[eps]).into_iter().map(|(s, a)| format!("{} after {s}", pct(a))).collect();
            out.push(format!(
                "{cascade} at ε {eps}, each attack run on the rows the ones before it left correct: {}.",
                steps.join(", ")
            ));
        }
    }
    out
}

/// The gradient-free attacks, whether each is L2 (else L∞), and who they are.
const GRADIENT_FREE: [(&str, bool, &str); 4] = [
    ("square", false, "the Square Attack, which never reads gradients,"),
    ("square_l2", true, "the L2 Square Attack, which never reads gradients,"),
    ("hsja_linf", false, "HopSkipJump, which reads only the predicted label,"),
    ("hsja_l2", true, "HopSkipJump, which reads only the predicted label,"),
];

/// Of the gradient attacks `keep` picks, the one that left the fewest rows
/// correct at `eps`, and that share.
fn lowest<'m>(
    m: &'m Metrics,
    eps: &str,
    keep: impl Fn(crate::config::AttackKind) -> bool,
) -> Option<(&'m str, f64)> {
    m.attack_accuracy
        .iter()
        .filter(|(a, _)| crate::config::AttackKind::find(a).is_some_and(&keep))
        .filter_map(|(a, by)| Some((a.as_str(), *by.get(eps)?)))
        .min_by(|x, y| x.1.total_cmp(&y.1))
}

/// One sentence per ε at which a gradient-free attack left at least a
/// point less accuracy than every gradient attack of its norm: their
/// figures there overstate the robustness, the usual sign of masked
/// gradients. (Where only a stronger gradient attack is needed, that
/// attack itself shows it, and `weak_pgd` says so.)
pub(super) fn masked_gradients(m: &Metrics) -> Vec<String> {
    let mut out = Vec::new();
    for (free, l2, who) in GRADIENT_FREE {
        let Some(free) = m.attack_accuracy.get(free) else { continue };
        out.extend(by_epsilon(free).into_iter().filter_map(|(_, eps, fr)| {
            // The strongest gradient attack of the norm (`fgsm`, `pgd_*`, `apgd_*`).
            let (name, best) = lowest(m, eps, |k| k.is_l2() == l2)?;
            (fr <= best - 0.01).then(|| {
                format!(
                    "At ε {eps} {who} left {} correct against {name}'s {}: the model's gradients look \
                     masked, and the gradient attacks' figures overstate its robustness; the lower one is the \
                     better estimate.",
                    pct(fr),
                    pct(best)
                )
            })
        }));
    }
    // Within a cascade: the gradient-free stage breaking rows both Auto-PGDs left.
    for (cascade, per) in &m.attack_stage_accuracy {
        for (eps, by_stage) in per {
            let order = stages(by_stage);
            use crate::config::SquarePlan;
            let square = |s: &str| s == SquarePlan::NAME || s == SquarePlan::NAME_L2;
            let Some(i) = order.iter().position(|(s, _)| square(s)).filter(|&i| i > 0) else { continue };
            let (before, after) = (order[i - 1].1, order[i].1);
            if after <= before - 0.01 {
                out.push(format!(
                    "At ε {eps} the Square Attack stage of {cascade}, which never reads gradients, took the \
                     accuracy its gradient stages left from {} to {}: the model's gradients look masked, and \
                     gradient attacks alone overstate its robustness.",
                    pct(before),
                    pct(after)
                ));
            }
        }
    }
    out
}

/// One sentence per norm and ε at which an Auto-PGD left at least a point
/// less accuracy than fixed-step PGD: PGD stopped short of what the model
/// allows, so a gate on its figure would pass a model that is less robust.
pub(super) fn weak_pgd(m: &Metrics) -> Vec<String> {
    use crate::config::AttackKind;
    let mut out = Vec::new();
    for pgd_kind in [AttackKind::PgdLinf, AttackKind::PgdL2] {
        let Some(pgd) = m.attack_accuracy.get(pgd_kind.name()) else { continue };
        for (_, eps, pg) in by_epsilon(pgd) {
            let auto =
                lowest(m, eps, |k| matches!(k, AttackKind::Apgd { .. }) && k.is_l2() == pgd_kind.is_l2());
            let Some((name, ap)) = auto.filter(|&(_, ap)| ap <= pg - 0.01) else { continue };
            out.push(format!(
                "At ε {eps} Auto-PGD ({name}) left {} correct against {}'s {}: fixed-step PGD stops short \
                 on this model and its figure overstates the robustness; gate on {name} or the worst case.",
                pct(ap),
                pgd_kind.name(),
                pct(pg)
            ));
        }
    }
    out
}

/// An attack's ε entries in increasing order; keys that are not numbers
/// are left out.
fn by_epsilon(by_eps: &std::collections::BTreeMap<String, f64>) -> Vec<(f64, &String, f64)> {
    let mut rows: Vec<(f64, &String, f64)> =
        by_eps.iter().filter_map(|(k, v)| Some((k.parse::<f64>().ok()?, k, *v))).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows
}

fn training(m: &Metrics) -> Option<Section<'static>> {
    let epochs = &m.training;
    if epochs.is_empty() {
        return None;
    }
    let validated = m.validation.is_some();
    let robust = m.validation.as_ref().is_some_and(|v| v.robust_accuracy.is_some());
    let mut header: Vec<String> = ["epoch", "loss", "accuracy"].map(str::to_owned).to_vec();
    if validated {
        header.extend(["validation loss", "validation accuracy"].map(str::to_owned));
    }
    if robust {
        header.push("validation accuracy under attack".to_owned());
    }
    header.extend(["seconds", "examples/s", "device busy"].map(str::to_owned));
    let rows = epochs
        .iter()
        .map(|e| {
            let mut row = vec![e.epoch.to_string(), format!("{:.4}", e.loss), pct(e.accuracy)];
            if validated {
                row.push(e.validation_loss.map_or_else(|| "–".to_owned(), |l| format!("{l:.4}")));
                row.push(e.validation_accuracy.map_or_else(|| "–".to_owned(), pct));
            }
            if robust {
                row.push(e.validation_robust_accuracy.map_or_else(|| "–".to_owned(), pct));
            }
            row.extend([
                format!("{:.1}", e.seconds),
                format!("{:.0}", e.examples_per_second),
                pct(e.device_busy_share),
            ]);
            row
        })
        .collect();
    let mut blocks = Vec::new();
    if let Some(v) = &m.validation {
        blocks.push(Block::Text(vec![plain(format!(
            "{} training rows were held out for validation (validation.tsv). The model has the weights of \
             epoch {} ({}validation accuracy {}, loss {:.4}), the best {}of {} trained{}.",
            v.rows,
            v.best_epoch,
            match (v.robust_accuracy, v.robust_rows) {
                (Some(r), Some(k)) if k < v.rows =>
                    format!("under the training attack {} on {k} of them, ", pct(r)),
                (Some(r), _) => format!("under the training attack {}, ", pct(r)),
                _ => String::new(),
            },
            pct(v.accuracy),
            v.loss,
            if v.robust_accuracy.is_some() { "under attack " } else { "" },
            v.epochs_trained,
            if v.stopped_early { "; training stopped early (train.patience)" } else { "" }
        ))]));
    }
    blocks.push(Block::Table(Table { header, rows }));
    Some(Section { title: "Training", blocks })
}

fn provenance(m: &Manifest) -> Section<'static> {
    let mut items = Vec::new();
    for input in &m.inputs {
        let mut item = vec![code(&input.path), plain(": sha256 "), code(&input.sha256)];
        if let Some(d) = &input.images_sha256 {
            item.extend([plain("; referenced images sha256 "), code(d)]);
        }
        items.push(item);
    }
    items.push(vec![plain("config "), code(&m.config_file), plain(", sha256 "), code(&m.config_sha256)]);
    if let Some(w) = &m.weights_sha256 {
        items.push(vec![plain("weights sha256 "), code(w)]);
    }
    items.push(vec![
        plain(format!("seed {}, device {} (requested ", m.seed, m.device)),
        code(&m.device_requested),
        plain(")"),
    ]);
    let v = &m.versions;
    items.push(vec![plain(format!("temper {}, burn {}, polars {}", v.temper, v.burn, v.polars))]);
    if let Some(g) = &m.git_revision {
        items.push(vec![plain("git revision "), code(g)]);
    }
    let finished = m.finished_at.as_deref().map_or(String::new(), |f| format!(", finished {f}"));
    items.push(vec![plain(format!("started {}{finished}", m.started_at))]);
    Section { title: "Provenance", blocks: vec![Block::List(items)] }
}
