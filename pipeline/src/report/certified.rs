//! The report's certification section: what randomized smoothing proves
//! about the model, radius by radius, beside what the attacks found.

use super::pct;
use super::sections::{Block, Section, Table, code, plain};
use super::svg::LineChart;
use crate::run::metrics::Metrics;

/// "Evasion: certified robustness", when `[eval.certify]` ran.
pub(super) fn section(m: &Metrics) -> Option<Section<'static>> {
    let first = m.certification.values().next()?;
    // Every σ certifies at the same radii (one plan).
    let mut radii: Vec<(f64, &String)> =
        first.accuracy.keys().filter_map(|k| k.parse::<f64>().ok().map(|r| (r, k))).collect();
    radii.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut chart = LineChart::new("Certified accuracy against L2 radius", "L2 radius", "certified accuracy");
    for (sigma, c) in &m.certification {
        let points = radii.iter().filter_map(|(r, k)| Some((*r, *c.accuracy.get(*k)?))).collect();
        chart = chart.with_series(&format!("σ = {sigma}"), points);
        if let Some(a) = &c.attack {
            let points = radii.iter().filter_map(|(r, k)| Some((*r, *a.accuracy.get(*k)?))).collect();
            chart = chart.with_series(&format!("σ = {sigma}, SmoothAdv"), points);
        }
    }
    let explain = vec![
        plain(format!(
            "Randomized smoothing (Cohen, Rosenfeld & Kolter 2019): the smoothed model answers the class the \
             model most often predicts under Gaussian pixel noise of standard deviation σ, and is proven to keep \
             that answer within the L2 radius shown, except with probability {} per row. Certified accuracy is a \
             lower bound on robustness where attack accuracy is an upper one. {} test rows, {} samples to pick \
             each row's class and {} to bound it; a row whose bound does not pass ½ abstains. Train with ",
            first.alpha, first.examples, first.n0, first.n
        )),
        code("[train.noise]"),
        plain(" at the same σ to certify anything."),
    ];
    let mut header = vec!["σ".to_owned()];
    header.extend(radii.iter().map(|(_, k)| format!("r = {k}")));
    header.extend(["abstained", "mean radius", "largest certifiable"].map(str::to_owned));
    let rows = m
        .certification
        .iter()
        .map(|(sigma, c)| {
            let mut row = vec![sigma.clone()];
            row.extend(radii.iter().map(|(_, k)| c.accuracy.get(*k).map_or("–".into(), |&a| pct(a))));
            row.extend([
                pct(c.abstain_rate),
                format!("{:.3}", c.mean_radius),
                format!("{:.3}", c.max_radius),
            ]);
            row
        })
        .collect();
    let mut blocks =
        vec![Block::Charts(vec![chart]), Block::Text(explain), Block::Table(Table { header, rows })];
    let capped: Vec<String> = m
        .certification
        .iter()
        .filter_map(|(sigma, c)| {
            let beyond: Vec<&str> =
                radii.iter().filter(|(r, _)| *r > c.max_radius).map(|(_, k)| k.as_str()).collect();
            (!beyond.is_empty()).then(|| {
                format!(
                    "At σ = {sigma}, {} samples cannot certify beyond {:.3}: certified accuracy at r = {} is 0 \
                     whatever the model; raise eval.certify.n to certify further.",
                    c.n,
                    c.max_radius,
                    beyond.join(", ")
                )
            })
        })
        .collect();
    if !capped.is_empty() {
        blocks.push(Block::List(capped.into_iter().map(|s| vec![plain(s)]).collect()));
    }
    blocks.extend(attacked(m, &radii));
    Some(Section { title: "Evasion: certified robustness", blocks })
}

/// The SmoothAdv table: on the attacked rows, the certified accuracy (the
/// lower bound) above the attacked one (the upper bound), radius by radius.
fn attacked(m: &Metrics, radii: &[(f64, &String)]) -> Vec<Block<'static>> {
    let Some(first) = m.certification.values().find_map(|c| c.attack.as_ref()) else { return Vec::new() };
    let explain = vec![plain(format!(
        "SmoothAdv (Salman et al. 2019) attacks the smoothed model itself: {} PGD steps under L2 on the \
         softmax averaged over {} noise draws, then PREDICT (Cohen et al.) answers on the attacked image, \
         abstaining (counted wrong) unless its vote passes a binomial test at the certificates' level. On the \
         first {} rows the smoothed model's true robust accuracy lies between the certified figure and the \
         attacked one, up to the noise of their samples: PREDICT can abstain on a close vote a certificate \
         still covers.",
        first.steps, first.samples, first.examples
    ))];
    let mut header = vec!["σ".to_owned(), "on the attacked rows".to_owned()];
    header.extend(radii.iter().map(|(_, k)| format!("r = {k}")));
    let mut rows = Vec::new();
    for (sigma, c) in &m.certification {
        let Some(a) = &c.attack else { continue };
        for (what, values) in [
            ("certified (lower bound)", &a.certified),
            ("SmoothAdv, then PREDICT (upper bound)", &a.accuracy),
            ("PREDICT abstained", &a.abstain),
        ] {
            let mut row = vec![sigma.clone(), what.to_owned()];
            row.extend(radii.iter().map(|(_, k)| values.get(*k).map_or("–".into(), |&v| pct(v))));
            rows.push(row);
        }
    }
    vec![Block::Text(explain), Block::Table(Table { header, rows })]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::run::metrics::CertifyMetrics;

    fn metrics(max_radius: f64) -> Metrics {
        let mut m: Metrics = serde_json::from_str(
            r#"{"schema_version":1,"run":{"name":"n","id":"i","modality":"image","classes":["a","b"],
                "train_examples":10,"test_examples":10},"clean_accuracy":0.9,"corruption_accuracy":{},
                "mean_corruption_accuracy":null,"training":[]}"#,
        )
        .expect("minimal metrics");
        let accuracy: BTreeMap<String, f64> =
            [("0", 0.8), ("0.5", 0.6), ("1", 0.0)].map(|(k, v)| (k.to_owned(), v)).into();
        m.certification.insert(
            "0.25".into(),
            CertifyMetrics {
                examples: 10,
                n0: 100,
                n: 1000,
                alpha: 0.001,
                accuracy,
                abstain_rate: 0.1,
                mean_radius: 0.31,
                max_radius,
                attack: None,
            },
        );
        m
    }

    #[test]
    fn the_table_orders_radii_by_value_and_names_the_sample_cap() {
        let s = section(&metrics(0.616)).expect("a section");
        let table = s.blocks.iter().find_map(|b| if let Block::Table(t) = b { Some(t) } else { None });
        let t = table.expect("a table");
        assert_eq!(t.header[..4], ["σ", "r = 0", "r = 0.5", "r = 1"]);
        assert_eq!(t.rows[0][..5], ["0.25", "80.0%", "60.0%", "0.0%", "10.0%"]);
        let list = s.blocks.iter().find_map(|b| if let Block::List(l) = b { Some(l) } else { None });
        let text = format!("{:?}", list.expect("the cap is named"));
        assert!(text.contains("cannot certify beyond 0.616") && text.contains("r = 1"), "{text}");
        // No cap line when every radius is reachable.
        let s = section(&metrics(1.5)).expect("a section");
        assert!(!s.blocks.iter().any(|b| matches!(b, Block::List(_))));
    }

    #[test]
    fn an_attacked_sigma_gets_its_bounds_side_by_side() {
        let mut m = metrics(1.5);
        let share = |a: f64, b: f64, c: f64| -> BTreeMap<String, f64> {
            [("0", a), ("0.5", b), ("1", c)].map(|(k, v)| (k.to_owned(), v)).into()
        };
        let c = m.certification.get_mut("0.25").expect("σ");
        c.attack = Some(crate::run::metrics::SmoothAttackMetrics {
            examples: 5,
            steps: 20,
            samples: 8,
            accuracy: share(0.8, 0.6, 0.4),
            abstain: share(0.2, 0.2, 0.4),
            certified: share(0.8, 0.4, 0.0),
        });
        let s = section(&m).expect("a section");
        let tables: Vec<&Table> =
            s.blocks.iter().filter_map(|b| if let Block::Table(t) = b { Some(t) } else { None }).collect();
        assert_eq!(tables.len(), 2);
        let t = tables[1];
        assert_eq!(t.header[2..], ["r = 0", "r = 0.5", "r = 1"]);
        assert_eq!(t.rows[0][1..], ["certified (lower bound)", "80.0%", "40.0%", "0.0%"]);
        assert_eq!(t.rows[1][2..], ["80.0%", "60.0%", "40.0%"]);
        assert_eq!(t.rows[2][2..], ["20.0%", "20.0%", "40.0%"]);
        let text = format!("{:?}", s.blocks);
        assert!(text.contains("20 PGD steps") && text.contains("first 5 rows"), "{text}");
        // Without the attack, one table only.
        assert_eq!(
            section(&metrics(1.5))
                .expect("a section")
                .blocks
                .iter()
                .filter(|b| matches!(b, Block::Table(_)))
                .count(),
            1
        );
    }

    #[test]
    fn no_certification_no_section() {
        let mut m = metrics(1.0);
        m.certification.clear();
        assert!(section(&m).is_none());
    }
}
