//! The greedy word-edit search for one text, as a state machine that asks
//! for texts to be scored and takes their class probabilities back. Driving
//! many of them in lockstep ([`run`]) lets one forward pass score the
//! queries of many texts.

use std::ops::Range;

use augment::seed::Rng;
use augment::text::edits::{WordEdit, replace_span, word_spans, word_spans_protected};
use augment::text::{KeyboardLayout, TextContext};
use rand::seq::SliceRandom;
use rayon::prelude::*;

pub use crate::config::Budget;

/// How candidate edits of a word are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One edit drawn at random from the list per word, kept if it helps (DeepWordBug).
    Random(&'static [WordEdit]),
    /// Every edit of the list, the most harmful kept if it helps (TextBugger).
    Best(&'static [WordEdit]),
}

/// How the attack on one text ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The final (possibly edited) text.
    pub text: String,
    /// The clean text was classified correctly.
    pub clean_correct: bool,
    /// The final text is classified correctly.
    pub adversarial_correct: bool,
    /// Words in the clean text.
    pub words: usize,
    /// Words the final text changed.
    pub changed: usize,
    /// Texts sent to the model.
    pub queries: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Clean,
    Rank,
    Edit,
    Done,
}

/// The attack on one text.
#[derive(Debug)]
pub struct TextAttack<'a> {
    text: &'a str,
    label: usize,
    strategy: Strategy,
    layout: KeyboardLayout,
    rng: Rng,
    /// Words the attack may edit (outside protected spans), in order.
    spans: Vec<Range<usize>>,
    /// The replacement of each editable word, once edited.
    edited: Vec<Option<String>>,
    words: usize,
    max_words: usize,
    max_queries: usize,
    queries: usize,
    stage: Stage,
    clean_correct: bool,
    /// True-class probability and prediction of the current text.
    current: (f32, usize),
    /// Editable words, most important first, and the next one to try.
    order: Vec<usize>,
    next: usize,
    /// The word and replacements behind the last edit queries.
    pending: Option<(usize, Vec<String>)>,
}

impl<'a> TextAttack<'a> {
    /// An attack on `text` of class `label`; words in the protected spans
    /// of `context` are never edited.
    pub fn new(
        text: &'a str,
        label: usize,
        strategy: Strategy,
        budget: Budget,
        context: &TextContext,
        seed: u64,
    ) -> Self {
        let spans = word_spans_protected(text, &context.protected);
        let words = word_spans(text).len();
        TextAttack {
            text,
            label,
            strategy,
            layout: context.layout,
            rng: augment::seed::rng(seed),
            edited: vec![None; spans.len()],
            spans,
            words,
            max_words: budget.max_words(words),
            max_queries: budget.max_queries,
            queries: 0,
            stage: Stage::Clean,
            clean_correct: false,
            current: (0.0, 0),
            order: Vec::new(),
            next: 0,
            pending: None,
        }
    }

    /// The texts to score next; empty once the attack is over.
    pub fn queries(&mut self) -> Vec<String> {
        let texts = match self.stage {
            Stage::Clean => vec![self.text.to_owned()],
            Stage::Rank => {
                let room = self.max_queries.saturating_sub(self.queries).min(self.spans.len());
                // One text per word, even if a splice failed, so answers line up with words.
                self.spans[..room]
                    .iter()
                    .map(|s| replace_span(self.text, s.clone(), "").unwrap_or_default())
                    .collect()
            }
            Stage::Edit => self.edit_queries(),
            Stage::Done => Vec::new(),
        };
        if texts.is_empty() {
            self.stage = Stage::Done;
        }
        self.queries += texts.len();
        texts
    }

    /// Takes the class probabilities of the texts of the last [`Self::queries`].
    pub fn answer(&mut self, probs: &[Vec<f32>]) {
        match self.stage {
            Stage::Clean => {
                let Some(p) = probs.first() else {
                    self.stage = Stage::Done;
                    return;
                };
                self.current = (true_prob(p, self.label), argmax(p));
                self.clean_correct = self.current.1 == self.label;
                let hopeless = self.max_words == 0 || self.spans.is_empty();
                self.stage = if !self.clean_correct || hopeless { Stage::Done } else { Stage::Rank };
            }
            Stage::Rank => {
                let base = self.current.0;
                let mut drop: Vec<(usize, f32)> =
                    probs.iter().enumerate().map(|(i, p)| (i, base - true_prob(p, self.label))).collect();
                // Most important first; ties and unscored words keep text order.
                drop.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                self.order = drop.into_iter().map(|(i, _)| i).chain(probs.len()..self.spans.len()).collect();
                self.stage = Stage::Edit;
            }
            Stage::Edit => self.take_best(probs),
            Stage::Done => {}
        }
    }

    /// What the attack did; call once [`Self::queries`] is empty.
    pub fn outcome(&self) -> Outcome {
        Outcome {
            text: self.render(None),
            clean_correct: self.clean_correct,
            adversarial_correct: self.clean_correct && self.current.1 == self.label,
            words: self.words,
            changed: self.edited.iter().filter(|e| e.is_some()).count(),
            queries: self.queries,
        }
    }

    /// Candidates for the next word that has any, within the query budget.
    fn edit_queries(&mut self) -> Vec<String> {
        while self.next < self.order.len() {
            let room = self.max_queries.saturating_sub(self.queries);
            let changed = self.edited.iter().filter(|e| e.is_some()).count();
            if room == 0 || changed >= self.max_words {
                return Vec::new();
            }
            let word_index = self.order[self.next];
            self.next += 1;
            let word = &self.text[self.spans[word_index].clone()];
            let mut candidates = self.candidates(word);
            candidates.truncate(room);
            if !candidates.is_empty() {
                let texts = candidates.iter().map(|c| self.render(Some((word_index, c)))).collect();
                self.pending = Some((word_index, candidates));
                return texts;
            }
        }
        Vec::new()
    }

    fn candidates(&mut self, word: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        match self.strategy {
            Strategy::Random(edits) => {
                let mut shuffled = edits.to_vec();
                shuffled.shuffle(&mut self.rng);
                if let Some(w) = shuffled.iter().find_map(|e| e.apply_on(word, self.layout, &mut self.rng)) {
                    out.push(w);
                }
            }
            Strategy::Best(edits) => {
                for e in edits {
                    if let Some(w) = e.apply_on(word, self.layout, &mut self.rng)
                        && !out.contains(&w)
                    {
                        out.push(w);
                    }
                }
            }
        }
        out.retain(|w| w != word);
        out
    }

    /// Keeps the candidate that lowers the true-class probability most, if any does.
    fn take_best(&mut self, probs: &[Vec<f32>]) {
        let Some((word_index, candidates)) = self.pending.take() else { return };
        let best = probs
            .iter()
            .zip(candidates)
            .map(|(p, c)| (true_prob(p, self.label), argmax(p), c))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((prob, pred, candidate)) = best
            && prob < self.current.0
        {
            self.edited[word_index] = Some(candidate);
            self.current = (prob, pred);
            if pred != self.label {
                self.stage = Stage::Done;
            }
        }
    }

    /// The text with every kept edit, and `extra` on top.
    fn render(&self, extra: Option<(usize, &String)>) -> String {
        let mut out = String::with_capacity(self.text.len() + 8);
        let mut at = 0;
        for (i, span) in self.spans.iter().enumerate() {
            let with = match extra {
                Some((j, w)) if j == i => Some(w),
                _ => self.edited[i].as_ref(),
            };
            if let Some(w) = with {
                out.push_str(&self.text[at..span.start]);
                out.push_str(w);
                at = span.end;
            }
        }
        out.push_str(&self.text[at..]);
        out
    }
}

fn true_prob(p: &[f32], label: usize) -> f32 {
    p.get(label).copied().unwrap_or(0.0)
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).map_or(0, |(i, _)| i)
}

/// Runs `attacks` to the end; each round gathers every pending query into
/// one call of `score`, which returns class probabilities per text. The
/// first error `score` returns stops the search and is returned.
pub fn run<E>(
    attacks: &mut [TextAttack],
    score: &mut impl FnMut(&[String]) -> Result<Vec<Vec<f32>>, E>,
) -> Result<(), E> {
    loop {
        let asked: Vec<Vec<String>> = attacks.par_iter_mut().map(TextAttack::queries).collect();
        let texts: Vec<String> = asked.iter().flatten().cloned().collect();
        if texts.is_empty() {
            return Ok(());
        }
        let probs = score(&texts)?;
        let mut at = 0;
        for (attack, q) in attacks.iter_mut().zip(&asked) {
            if !q.is_empty() {
                attack.answer(probs.get(at..at + q.len()).unwrap_or(&[]));
                at += q.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "please send the refund for order number twelve today";

    fn attack<'a>(
        text: &'a str,
        strategy: Strategy,
        budget: Budget,
        context: &TextContext,
        seed: u64,
    ) -> TextAttack<'a> {
        TextAttack::new(text, 1, strategy, budget, context, seed)
    }

    fn plain() -> TextContext {
        TextContext::default()
    }

    const DWB: Strategy = Strategy::Random(&WordEdit::DEEPWORDBUG);
    const TB: Strategy = Strategy::Best(&WordEdit::TEXTBUGGER);

    /// Class 1 while `refund` is present, with a little help from each
    /// intact word of `TEXT`, so every edit lowers it a bit.
    fn hinge(text: &str) -> Vec<f32> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let intact = TEXT.split(' ').filter(|w| words.contains(w)).count() as f32;
        let p = if words.contains(&"refund") { 0.6 + 0.03 * intact } else { 0.1 };
        vec![1.0 - p, p]
    }

    /// Class 1, less so for each edited word, never flipping.
    fn stubborn(text: &str) -> Vec<f32> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let intact = TEXT.split(' ').filter(|w| words.contains(w)).count() as f32;
        let p = 0.6 + 0.03 * intact;
        vec![1.0 - p, p]
    }

    fn drive(a: &mut TextAttack, model: fn(&str) -> Vec<f32>, log: &mut Vec<String>) -> Outcome {
        let done: Result<(), ()> = run(std::slice::from_mut(a), &mut |texts: &[String]| {
            log.extend(texts.iter().cloned());
            Ok(texts.iter().map(|t| model(t)).collect())
        });
        assert_eq!(done, Ok(()));
        a.outcome()
    }

    fn budget(share: f64, queries: usize) -> Budget {
        Budget { max_word_share: share, max_queries: queries }
    }

    #[test]
    fn a_model_hinging_on_one_word_is_flipped_by_editing_it() {
        for strategy in [DWB, TB] {
            for seed in 0..20 {
                let mut a = attack(TEXT, strategy, budget(0.2, 200), &plain(), seed);
                let out = drive(&mut a, hinge, &mut Vec::new());
                assert!(out.clean_correct && !out.adversarial_correct, "{strategy:?} seed {seed}: {out:?}");
                assert_eq!(out.changed, 1, "{out:?}");
                assert!(!out.text.split_whitespace().any(|w| w == "refund"), "{}", out.text);
                // One clean query, one per word, then the edits of `refund` only.
                let edits = if strategy == DWB { 1 } else { 5 };
                assert!(out.queries <= 1 + 9 + edits, "{out:?}");
            }
        }
    }

    #[test]
    fn the_word_budget_is_never_exceeded() {
        for (strategy, share) in [(DWB, 0.2), (DWB, 0.5), (TB, 0.3), (TB, 1.0)] {
            let mut a = attack(TEXT, strategy, budget(share, 1000), &plain(), 5);
            let out = drive(&mut a, stubborn, &mut Vec::new());
            let allowed = (share * 9.0 + 1e-9).floor() as usize;
            // Edits are kept while they help, so the budget is used up.
            assert_eq!(out.changed, allowed, "{strategy:?} {share}: {out:?}");
            let words: Vec<&str> = out.text.split_whitespace().collect();
            let lost = TEXT.split(' ').filter(|w| !words.contains(w)).count();
            assert_eq!(lost, allowed, "{}", out.text);
            assert!(out.adversarial_correct);
        }
    }

    #[test]
    fn the_query_budget_is_never_exceeded() {
        for strategy in [DWB, TB] {
            for max in [1, 2, 5, 10, 12, 13, 40] {
                let mut log = Vec::new();
                let mut a = attack(TEXT, strategy, budget(1.0, max), &plain(), 3);
                let out = drive(&mut a, stubborn, &mut log);
                assert_eq!(out.queries, log.len());
                assert!(log.len() <= max, "{strategy:?}: {} queries for a budget of {max}", log.len());
            }
        }
    }

    #[test]
    fn edits_that_do_not_help_are_dropped() {
        let mut log = Vec::new();
        let mut a = attack(TEXT, TB, budget(1.0, 1000), &plain(), 2);
        let out = drive(&mut a, |_| vec![0.2, 0.8], &mut log);
        assert_eq!((out.text.as_str(), out.changed), (TEXT, 0));
        assert!(out.adversarial_correct && log.len() > 10);
    }

    #[test]
    fn protected_spans_are_never_touched() {
        let text = "call 555-0100 about the refund or mail help@acme.example today";
        let protected =
            TextContext::default().with_protected(&[r"\d{3}-\d{4}", r"\S+@\S+"]).expect("patterns");
        let model = |t: &str| {
            // Class 1 is held up by every word; the protected ones count most.
            let words = ["call", "555-0100", "about", "the", "refund", "or", "mail", "help@acme.example"];
            let here: Vec<&str> = t.split_whitespace().collect();
            let p = words.iter().map(|w| if here.contains(w) { 0.1 } else { 0.0 }).sum::<f32>();
            let p = if here.contains(&"555-0100") { p } else { p - 0.5 };
            vec![1.0 - p.clamp(0.0, 1.0), p.clamp(0.0, 1.0)]
        };
        for strategy in [DWB, TB] {
            for seed in 0..10 {
                let mut log = Vec::new();
                let mut a = attack(text, strategy, budget(1.0, 500), &protected, seed);
                let out = drive(&mut a, model, &mut log);
                assert!(out.changed > 0, "{out:?}");
                for t in log.iter().chain([&out.text]) {
                    assert!(t.contains(" 555-0100 ") && t.contains(" help@acme.example "), "{t}");
                }
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_attack() {
        for strategy in [DWB, TB] {
            let outs: Vec<Outcome> = (0..2)
                .map(|_| {
                    drive(
                        &mut attack(TEXT, strategy, budget(0.5, 100), &plain(), 9),
                        stubborn,
                        &mut Vec::new(),
                    )
                })
                .collect();
            assert_eq!(outs[0], outs[1]);
            let texts: std::collections::BTreeSet<String> = (0..10)
                .map(|s| {
                    drive(
                        &mut attack(TEXT, strategy, budget(0.5, 100), &plain(), s),
                        stubborn,
                        &mut Vec::new(),
                    )
                    .text
                })
                .collect();
            assert!(texts.len() > 1, "{strategy:?}: every seed made the same text");
        }
    }

    #[test]
    fn misclassified_texts_cost_one_query() {
        let mut a = attack(TEXT, DWB, budget(0.2, 200), &plain(), 1);
        let out = drive(&mut a, |_| vec![0.9, 0.1], &mut Vec::new());
        assert_eq!(
            (out.clean_correct, out.adversarial_correct, out.queries, out.changed),
            (false, false, 1, 0)
        );
    }

    #[test]
    fn lockstep_matches_one_at_a_time() {
        let texts = [TEXT, "refund please", "where is my refund for the order I placed last week"];
        let alone: Vec<Outcome> = texts
            .iter()
            .map(|t| drive(&mut attack(t, TB, budget(0.3, 50), &plain(), 4), hinge, &mut Vec::new()))
            .collect();
        let mut all: Vec<TextAttack> =
            texts.iter().map(|t| attack(t, TB, budget(0.3, 50), &plain(), 4)).collect();
        let mut calls = 0;
        let done: Result<(), ()> = run(&mut all, &mut |q: &[String]| {
            calls += 1;
            Ok(q.iter().map(|t| hinge(t)).collect())
        });
        assert_eq!(done, Ok(()));
        let together: Vec<Outcome> = all.iter().map(TextAttack::outcome).collect();
        assert_eq!(together, alone);
        assert!(calls <= 4, "{calls} rounds");
    }
}
