//! The report's stealing section: what each API output mode let a thief
//! copy, against the queries spent, and what the copy's adversarial
//! examples do to the model.

use super::pct;
use super::sections::{Block, Section, Table, code, plain};
use super::svg::LineChart;
use crate::run::metrics::Metrics;

/// "Stealing: model extraction", when `[[eval.extraction]]` ran.
pub(super) fn section(m: &Metrics) -> Option<Section<'static>> {
    let e = m.extraction.as_ref()?;
    let mut chart =
        LineChart::new("Fidelity and copy accuracy against queries", "queries", "share of test rows");
    for (name, api) in &e.apis {
        let points = |f: fn(&crate::run::metrics::BudgetMetrics) -> f64| -> Vec<(f64, f64)> {
            api.budgets.iter().map(|(&b, r)| (b as f64, f(r))).collect()
        };
        chart = chart.with_series(&format!("{name} fidelity"), points(|r| r.fidelity));
        chart = chart.with_series(&format!("{name} accuracy"), points(|r| r.accuracy));
    }
    let explain = vec![
        plain(
            "Model extraction (Tramèr et al. 2016; Orekondy et al. 2019): a thief who can only query the \
             model trains a copy of the same family on its answers. Each API returns only what its output mode \
             names, and every query counts against the budget. Fidelity: the share of test rows, never queried, \
             where the copy predicts what the model does; accuracy: the copy's own. Lower is better for the \
             model's owner; ",
        ),
        code("extraction.max_fidelity"),
        plain(format!(" is the worst case, {}. {:.1} s.", pct(e.max_fidelity), e.seconds)),
    ];
    let header = [
        "API",
        "queries from",
        "budget",
        "answered",
        "fidelity",
        "copy accuracy",
        "model accuracy",
        "epochs",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut rows = Vec::new();
    for (name, api) in &e.apis {
        for (budget, r) in &api.budgets {
            rows.push(vec![
                name.clone(),
                api.queries.clone(),
                budget.to_string(),
                r.queries.to_string(),
                pct(r.fidelity),
                pct(r.accuracy),
                pct(api.victim_accuracy),
                r.epochs.to_string(),
            ]);
        }
    }
    let mut blocks =
        vec![Block::Charts(vec![chart]), Block::Text(explain), Block::Table(Table { header, rows })];
    let transfer: Vec<Vec<String>> = e
        .apis
        .iter()
        .flat_map(|(name, api)| {
            api.transfer.iter().map(move |(eps, t)| {
                vec![
                    name.clone(),
                    eps.clone(),
                    t.budget.to_string(),
                    pct(api.victim_accuracy),
                    pct(t.accuracy),
                    pct(t.success_rate),
                    pct(t.surrogate_accuracy),
                ]
            })
        })
        .collect();
    if !transfer.is_empty() {
        blocks.push(Block::Text(vec![plain(
            "Transfer: PGD-10 (L∞) on the copy from the largest budget, the adversarial images then sent to \
             the model. A copy is a white-box stand-in: what fools it often fools the model.",
        )]));
        let header = [
            "API",
            "ε",
            "copy's budget",
            "model clean",
            "model under transfer",
            "success rate",
            "copy under its own attack",
        ]
        .map(str::to_owned)
        .to_vec();
        blocks.push(Block::Table(Table { header, rows: transfer }));
    }
    Some(Section { title: "Stealing: model extraction", blocks })
}
