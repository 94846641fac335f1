use super::*;
use crate::config::{ApiOutput, QueryPool};
use crate::data::Inputs;

fn plan(queries: QueryPool, budgets: Vec<usize>, examples: usize) -> ExtractionPlan {
    ExtractionPlan {
        output: ApiOutput::Top1,
        budgets,
        queries,
        examples,
        width: 1.0,
        steps: 10,
        transfer_epsilons: Vec::new(),
    }
}

fn texts(n: usize) -> Dataset {
    Dataset {
        inputs: Inputs::Texts((0..n).map(|i| format!("message number {i} about a refund")).collect()),
        labels: (0..n).map(|i| i % 3).collect(),
    }
}

#[test]
fn fidelity_and_accuracy_are_agreement_shares() {
    // Hand computation: the copy agrees with the victim on 3 of 5 rows and
    // with the labels on 2 of 5.
    let victim = [0, 1, 2, 2, 1];
    let copy = [0, 1, 1, 2, 0];
    let labels = [0, 2, 1, 1, 1];
    assert_eq!(agreement(&copy, &victim), 0.6);
    assert_eq!(agreement(&copy, &labels), 0.4);
    assert!(agreement(&[], &[]).is_nan());
}

#[test]
fn answers_become_targets_that_carry_what_they_reveal_and_no_more() {
    let answers = [
        Answer::Labels(vec![2]),
        Answer::Labels(vec![1, 3, 0]),
        Answer::Probabilities(vec![0.1, 0.2, 0.3, 0.2]),
        Answer::Probabilities(vec![0.0; 4]),
    ];
    let t = soft_targets(&answers, 4);
    let rows: Vec<&[f32]> = t.values.chunks(4).collect();
    assert_eq!(rows[0], [0.0, 0.0, 1.0, 0.0]);
    assert_eq!(rows[1], [0.0, 1.0, 0.0, 0.0], "the thief learns the first of ranked labels");
    for (got, want) in rows[2].iter().zip([0.125, 0.25, 0.375, 0.25]) {
        assert!((got - want).abs() < 1e-6, "{:?}", rows[2]);
    }
    assert_eq!(rows[3], [0.25; 4]);
    for r in rows {
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}

#[test]
fn queries_never_include_measured_rows_and_budgets_share_a_prefix() {
    let test = texts(50);
    let p = plan(QueryPool::Test, vec![10, 30], 20);
    let measured = queries::measured(&p, &test);
    let from = queries::Source { data: &test, skip: 20 };
    let pool = queries::pool(from, 7);
    assert_eq!(measured, (0..20).collect::<Vec<_>>());
    assert_eq!(pool.len(), 30);
    assert!(pool.iter().all(|r| *r >= 20), "{pool:?}");
    let small = queries::make(&p, from, 10, 7).expect("queries");
    let large = queries::make(&p, from, 30, 7).expect("queries");
    let (Inputs::Texts(a), Inputs::Texts(b)) = (&small.inputs, &large.inputs) else { panic!("texts") };
    assert_eq!(a[..], b[..10], "a smaller budget asks the first queries of a larger one");
    assert!(small.labels.iter().all(|&l| l == 0), "the thief does not see labels");
    // The order depends on the seed.
    assert_ne!(queries::pool(from, 8), pool);
}

#[test]
fn synthetic_queries_vary_their_few_seed_rows() {
    let test = texts(40);
    let p = plan(QueryPool::Synthetic { seed_rows: 3 }, vec![60], 20);
    let from = queries::Source { data: &test, skip: 20 };
    let q = queries::make(&p, from, 60, 5).expect("queries");
    let Inputs::Texts(t) = &q.inputs else { panic!("texts") };
    assert_eq!(t.len(), 60);
    let distinct: std::collections::BTreeSet<&String> = t.iter().collect();
    assert!(distinct.len() > 10, "only {} distinct queries from 3 seeds", distinct.len());
    let again = queries::make(&p, from, 60, 5).expect("queries");
    assert_eq!(again.inputs, q.inputs, "seeded");
}

#[test]
fn the_check_names_the_key_that_does_not_fit() {
    let test = texts(50);
    let ok = plan(QueryPool::Test, vec![10, 30], 20);
    assert!(check(std::slice::from_ref(&ok), &test, &[None]).is_ok());
    let over = plan(QueryPool::Test, vec![10, 31], 20);
    let err = check(&[ok.clone(), over], &test, &[None, None]).unwrap_err().to_string();
    assert!(err.contains("`eval.extraction[1].budgets[1]`") && err.contains("31 queries"), "{err}");
    let err = check(&[plan(QueryPool::Test, vec![10], 50)], &test, &[None]).unwrap_err().to_string();
    assert!(err.contains("`eval.extraction[0].examples`"), "{err}");
    let synthetic = plan(QueryPool::Synthetic { seed_rows: 31 }, vec![1000], 20);
    let err = check(&[synthetic], &test, &[None]).unwrap_err().to_string();
    assert!(err.contains("`eval.extraction[0].seed-rows`"), "{err}");
    assert!(check(&[plan(QueryPool::Synthetic { seed_rows: 30 }, vec![1000], 20)], &test, &[None]).is_ok());
    // A query table may measure on every test row; its own size bounds the budgets.
    let table = plan(QueryPool::Table { path: "q.csv".into() }, vec![10, 40], 50);
    assert!(check(std::slice::from_ref(&table), &test, &[Some(texts(40))]).is_ok());
    let err = check(&[table], &test, &[Some(texts(39))]).unwrap_err().to_string();
    assert!(err.contains("`eval.extraction[0].budgets[1]`") && err.contains("39 rows in its table"), "{err}");
}

#[test]
fn the_thief_trains_plainly_for_about_the_steps_asked() {
    let dir = std::env::temp_dir().join(format!("temper-extraction-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("test setup");
    for f in ["train.csv", "test.csv"] {
        std::fs::write(dir.join(f), "text,label\nhi,a\nyo,b\n").expect("test setup");
    }
    let cfg = "name = \"t\"\n[data]\nmodality = \"text\"\ntrain = \"train.csv\"\ntest = \"test.csv\"\n\
               input-column = \"text\"\nlabel-column = \"label\"\n[train]\nbatch-size = 64\n\
               [[train.augment]]\nop = \"typo\"\nseverity = 2\n";
    let train = crate::config::parse(cfg, &dir.join("c.toml")).expect("config").train;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(&train.augment, AugmentPolicy::Text(p) if !p.is_empty()));
    let t = surrogate_training(&train, 500, 2000);
    // 32 batches per epoch: 16 epochs make 512 steps.
    assert_eq!(t.epochs, 16);
    assert!(t.privacy.is_none() && t.adversarial.is_none() && t.augmix.is_none());
    assert!(matches!(&t.augment, AugmentPolicy::Text(p) if p.is_empty()), "the thief does not augment");
    assert_eq!(surrogate_training(&train, 500, 100_000).epochs, 1);
}

#[test]
fn a_query_table_is_queried_whole_and_in_a_seeded_order() {
    let table = texts(12);
    let p = plan(QueryPool::Table { path: "q.csv".into() }, vec![12], 5);
    let q = queries::make(&p, queries::Source { data: &table, skip: 0 }, 12, 3).expect("queries");
    let (Inputs::Texts(got), Inputs::Texts(all)) = (&q.inputs, &table.inputs) else { panic!("texts") };
    let mut sorted = got.clone();
    sorted.sort();
    let mut want = all.clone();
    want.sort();
    assert_eq!(sorted, want, "every row once");
    assert_ne!(got, all, "shuffled");
}

#[test]
fn a_linear_text_model_is_copied_by_a_linear_surrogate() {
    let plan = |hidden| {
        ModelPlan::Text(crate::config::TextPlan {
            buckets: 64,
            embedding_dim: 32,
            hidden,
            dropout: 0.0,
            word_ngrams: 2,
            weighting: crate::config::TextWeighting::TfIdf,
            ngram_min: 2,
            ngram_max: 4,
            max_features: 16,
            word_recognition: false,
        })
    };
    let ModelPlan::Text(linear) = surrogate_model(&plan(0), 0.5) else { unreachable!("text") };
    assert_eq!((linear.hidden, linear.embedding_dim), (0, 32));
    let ModelPlan::Text(deep) = surrogate_model(&plan(64), 0.5) else { unreachable!("text") };
    assert_eq!((deep.hidden, deep.embedding_dim), (32, 16));
}
