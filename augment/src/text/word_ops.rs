//! Word-level ops: split, merge, delete, swap and crop words; contractions;
//! user replacements; gendered-word swaps.
//!
//! Severity is the share of words (or, for `merge_words` and
//! `contractions`, of the places where the op applies) changed: 10..50%.
//! Protected segments are never removed, moved or merged, and whitespace is
//! only removed next to a word that goes.

use std::borrow::Cow;

use rand::Rng as _;

use super::chars::{any_word, info};
use super::clusters::{char_diff, has_two_clusters, match_case, match_case_into};
use super::edits;
use super::sample::{choose, share_count};
use super::segment::Doc;
use super::words::{Input, perturb_words};
use super::{Perturbed, TextContext, TextOp};
use crate::seed::Rng;
use crate::severity::Severity;

/// `split_words`: one space inside each chosen word (nlpaug's SplitAug,
/// AugLy's split_words).
pub(crate) const SPLIT_WORDS: TextOp = TextOp::new(
    info("split_words", "splits chosen words in two with a space: money → mo ney"),
    |input, s, rng, _| perturb_words(input, s, rng, 1, has_two_clusters, edits::insert_space_into),
);

/// `merge_words`: removes the space between chosen pairs of adjacent words
/// (AugLy's merge_words).
pub(crate) const MERGE_WORDS: TextOp = TextOp::new(
    info("merge_words", "removes the space between chosen pairs of adjacent words: free money → freemoney"),
    merge_words,
);

/// `word_delete`: deletes chosen words with one adjacent space, keeping at
/// least one word (nlpaug's RandomWordAug delete).
pub(crate) const WORD_DELETE: TextOp = TextOp::new(
    info("word_delete", "deletes chosen words (nlpaug RandomWordAug delete), at least one word kept"),
    word_delete,
);

/// `word_swap`: swaps each chosen word with the next word (nlpaug's
/// RandomWordAug swap).
pub(crate) const WORD_SWAP: TextOp = TextOp::new(
    info("word_swap", "swaps chosen words with their right neighbour (nlpaug RandomWordAug swap)"),
    word_swap,
);

/// `word_crop`: deletes one run of consecutive words whose length is the
/// severity's share (nlpaug's RandomWordAug crop).
pub(crate) const WORD_CROP: TextOp = TextOp::new(
    info("word_crop", "deletes one run of consecutive words, the share long (nlpaug RandomWordAug crop)"),
    word_crop,
);

/// `contractions`: contracts `do not` → `don't` and expands `can't` →
/// `cannot` at the chosen share of the places where either applies (AugLy's
/// contractions, both ways).
pub(crate) const CONTRACTIONS: TextOp = TextOp::new(
    info(
        "contractions",
        "contracts (do not → don't) or expands (I'm → I am) a share of the places that allow it",
    ),
    contractions,
);

/// `replace_words`: replaces chosen words that the context's mapping names
/// (AugLy's replace_words).
pub(crate) const REPLACE_WORDS: TextOp = TextOp::new(
    info("replace_words", "replaces a share of the words that the user mapping names, case kept"),
    |input, s, rng, ctx| {
        perturb_words(
            input,
            s,
            rng,
            4,
            |w| ctx.replacements.get(w).is_some(),
            |w, _, out| ctx.replacements.get(w).map(|to| match_case_into(w, to, out)).is_some(),
        )
    },
);

/// `swap_gendered_words`: he ↔ she, man ↔ woman, … on a share of the
/// gendered words (AugLy's swap_gendered_words).
pub(crate) const SWAP_GENDERED_WORDS: TextOp = TextOp::new(
    info("swap_gendered_words", "swaps gendered words: he ↔ she, his ↔ her, man ↔ woman, king ↔ queen"),
    |input, s, rng, _| {
        perturb_words(
            input,
            s,
            rng,
            2,
            |w| gendered(w).is_some(),
            |w, _, out| gendered(w).map(|to| match_case_into(w, to, out)).is_some(),
        )
    },
);

/// A per-segment plan: `None` keeps the segment, `Some(text)` replaces it
/// (an empty text deletes it).
type Plan<'a> = Vec<Option<Cow<'a, str>>>;

fn render(doc: &Doc<'_>, plan: &Plan<'_>, words: usize, chars: usize) -> Perturbed {
    let mut out = String::with_capacity(doc.text.len());
    for (seg, edit) in doc.segs.iter().zip(plan) {
        out.push_str(edit.as_deref().unwrap_or(seg.text));
    }
    Perturbed::new(out, words, chars, doc.words_total)
}

/// Deletes segments `first..=last` (all but protected ones) and one free
/// space beside them: the following one, else the preceding one. Returns
/// the chars removed. Callers deleting several runs go right to left, so
/// that a run at the end of the text takes the space before it.
fn delete_run(doc: &Doc<'_>, plan: &mut Plan<'_>, first: usize, last: usize) -> usize {
    let mut removed = 0;
    for (seg, edit) in doc.segs[first..=last].iter().zip(&mut plan[first..=last]) {
        if !seg.frozen {
            removed += seg.text.chars().count();
            *edit = Some(Cow::Borrowed(""));
        }
    }
    let free = |j: usize| doc.segs.get(j).is_some_and(|s| s.is_free_space()) && plan[j].is_none();
    let space = if free(last + 1) {
        Some(last + 1)
    } else if first > 0 && free(first - 1) {
        Some(first - 1)
    } else {
        None
    };
    if let Some(j) = space {
        removed += doc.segs[j].text.chars().count();
        plan[j] = Some(Cow::Borrowed(""));
    }
    removed
}

fn merge_words(input: &Input<'_>, s: Severity, rng: &mut Rng, _: &TextContext) -> Perturbed {
    let doc = &input.doc();
    let words = doc.candidates(any_word);
    let sites: Vec<usize> = words
        .windows(2)
        .filter(|w| w[1] == w[0] + 2 && doc.segs[w[0] + 1].is_free_space())
        .map(|w| w[0] + 1)
        .collect();
    if sites.is_empty() {
        return doc.unchanged();
    }
    let mut plan: Plan = vec![None; doc.segs.len()];
    let mut chars = 0;
    let (mut touched, mut merged) = (vec![false; doc.segs.len()], 0);
    for &c in choose(rng, sites.len(), share_count(sites.len(), s)).as_slice() {
        let space = sites[c];
        // No chains: a word merges with one neighbour at most.
        if touched[space - 1] {
            continue;
        }
        chars += doc.segs[space].text.chars().count();
        plan[space] = Some(Cow::Borrowed(""));
        for w in [space - 1, space + 1] {
            merged += usize::from(!touched[w]);
            touched[w] = true;
        }
    }
    render(doc, &plan, merged, chars)
}

fn word_delete(input: &Input<'_>, s: Severity, rng: &mut Rng, _: &TextContext) -> Perturbed {
    let doc = &input.doc();
    let words = doc.candidates(any_word);
    if words.len() < 2 {
        return doc.unchanged();
    }
    let k = share_count(words.len(), s).min(words.len() - 1);
    let mut plan: Plan = vec![None; doc.segs.len()];
    let mut chars = 0;
    for &c in choose(rng, words.len(), k).as_slice().iter().rev() {
        chars += delete_run(doc, &mut plan, words[c], words[c]);
    }
    render(doc, &plan, k, chars)
}

fn word_swap(input: &Input<'_>, s: Severity, rng: &mut Rng, _: &TextContext) -> Perturbed {
    let doc = &input.doc();
    let words = doc.candidates(any_word);
    if words.len() < 2 {
        return doc.unchanged();
    }
    let mut order: Vec<usize> = (0..words.len()).collect();
    for &p in choose(rng, words.len(), share_count(words.len(), s)).as_slice() {
        let q = if p + 1 < words.len() { p + 1 } else { p - 1 };
        order.swap(p, q);
    }
    let mut plan: Plan = vec![None; doc.segs.len()];
    let (mut changed, mut chars) = (0, 0);
    for (p, &from) in order.iter().enumerate() {
        let (old, new) = (doc.segs[words[p]].text, doc.segs[words[from]].text);
        if old != new {
            changed += 1;
            chars += char_diff(old, new);
            plan[words[p]] = Some(Cow::Borrowed(new));
        }
    }
    render(doc, &plan, changed, chars)
}

fn word_crop(input: &Input<'_>, s: Severity, rng: &mut Rng, _: &TextContext) -> Perturbed {
    let doc = &input.doc();
    let words = doc.candidates(any_word);
    if words.len() < 2 {
        return doc.unchanged();
    }
    let k = share_count(words.len(), s).min(words.len() - 1);
    let start = rng.random_range(0..=words.len() - k);
    let (first, last) = (words[start], words[start + k - 1]);
    let mut plan: Plan = vec![None; doc.segs.len()];
    let chars = delete_run(doc, &mut plan, first, last);
    render(doc, &plan, k, chars)
}

/// Contractions and their expansions, lowercase, straight apostrophe.
const CONTRACTED: &[(&str, &str)] = &[
    ("don't", "do not"),
    ("doesn't", "does not"),
    ("didn't", "did not"),
    ("can't", "cannot"),
    ("won't", "will not"),
    ("wouldn't", "would not"),
    ("shouldn't", "should not"),
    ("couldn't", "could not"),
    ("mustn't", "must not"),
    ("needn't", "need not"),
    ("isn't", "is not"),
    ("aren't", "are not"),
    ("wasn't", "was not"),
    ("weren't", "were not"),
    ("haven't", "have not"),
    ("hasn't", "has not"),
    ("hadn't", "had not"),
    ("i'm", "i am"),
    ("you're", "you are"),
    ("we're", "we are"),
    ("they're", "they are"),
    ("it's", "it is"),
    ("that's", "that is"),
    ("there's", "there is"),
    ("here's", "here is"),
    ("what's", "what is"),
    ("he's", "he is"),
    ("she's", "she is"),
    ("i've", "i have"),
    ("you've", "you have"),
    ("we've", "we have"),
    ("they've", "they have"),
    ("i'll", "i will"),
    ("you'll", "you will"),
    ("we'll", "we will"),
    ("they'll", "they will"),
    ("he'll", "he will"),
    ("she'll", "she will"),
    ("it'll", "it will"),
    ("i'd", "i would"),
    ("you'd", "you would"),
    ("we'd", "we would"),
    ("they'd", "they would"),
    ("let's", "let us"),
];

/// The expansion of a contracted word (`’` accepted for `'`).
fn expansion(word: &str) -> Option<&'static str> {
    if !word.contains(['\'', '’']) {
        return None;
    }
    let key = word.to_lowercase().replace('’', "'");
    CONTRACTED.iter().find(|(c, _)| *c == key).map(|(_, e)| *e)
}

/// The contraction of a one- or two-word phrase, `cannot` or `do not`.
fn contraction(phrase: &str) -> Option<&'static str> {
    CONTRACTED.iter().find(|(_, e)| e.eq_ignore_ascii_case(phrase)).map(|(c, _)| *c)
}

/// `i` as a word is always capital `I`.
fn fix_pronoun(mut s: String) -> String {
    if s.starts_with("i ") || s.starts_with("i'") || s == "i" {
        s.replace_range(..1, "I");
    }
    s
}

fn contractions(input: &Input<'_>, s: Severity, rng: &mut Rng, _: &TextContext) -> Perturbed {
    let doc = &input.doc();
    // (first segment, last segment, replacement)
    let mut sites: Vec<(usize, usize, String)> = Vec::new();
    let segs = &doc.segs;
    for (i, seg) in segs.iter().enumerate() {
        if !seg.is_free_word() {
            continue;
        }
        if let Some(e) = expansion(seg.text) {
            sites.push((i, i, fix_pronoun(match_case(seg.text, e))));
        } else if let Some(c) = contraction(seg.text) {
            sites.push((i, i, fix_pronoun(match_case(seg.text, c))));
        }
        let pair =
            segs.get(i + 1).filter(|sp| sp.is_free_space()).zip(segs.get(i + 2).filter(|w| w.is_free_word()));
        if let Some((_, second)) = pair {
            let phrase = format!("{} {}", seg.text, second.text);
            if let Some(c) = contraction(&phrase) {
                sites.push((i, i + 2, fix_pronoun(match_case(seg.text, c))));
            }
        }
    }
    if sites.is_empty() {
        return doc.unchanged();
    }
    let mut plan: Plan = vec![None; segs.len()];
    let (mut words, mut chars) = (0, 0);
    for &c in choose(rng, sites.len(), share_count(sites.len(), s)).as_slice() {
        let (first, last, ref with) = sites[c];
        if plan[first..=last].iter().any(Option::is_some) {
            continue;
        }
        let old = &doc.text[segs[first].range.start..segs[last].range.end];
        chars += char_diff(old, with);
        words += if first == last { 1 } else { 2 };
        plan[first] = Some(Cow::Borrowed(with.as_str()));
        for p in &mut plan[first + 1..=last] {
            *p = Some(Cow::Borrowed(""));
        }
    }
    render(doc, &plan, words, chars)
}

/// Gendered word pairs; the first pair naming a word gives its swap.
const GENDERED: &[(&str, &str)] = &[
    ("he", "she"),
    ("his", "her"),
    ("him", "her"),
    ("his", "hers"),
    ("himself", "herself"),
    ("man", "woman"),
    ("men", "women"),
    ("boy", "girl"),
    ("boys", "girls"),
    ("father", "mother"),
    ("fathers", "mothers"),
    ("dad", "mom"),
    ("son", "daughter"),
    ("sons", "daughters"),
    ("brother", "sister"),
    ("brothers", "sisters"),
    ("husband", "wife"),
    ("husbands", "wives"),
    ("boyfriend", "girlfriend"),
    ("king", "queen"),
    ("kings", "queens"),
    ("prince", "princess"),
    ("mr", "mrs"),
    ("mr", "ms"),
    ("sir", "madam"),
    ("uncle", "aunt"),
    ("nephew", "niece"),
    ("grandfather", "grandmother"),
    ("grandson", "granddaughter"),
    ("male", "female"),
    ("males", "females"),
    ("gentleman", "lady"),
    ("gentlemen", "ladies"),
    ("actor", "actress"),
    ("waiter", "waitress"),
    ("masculine", "feminine"),
];

/// The other-gender form of a word, lowercase.
fn gendered(word: &str) -> Option<&'static str> {
    if word.len() > 12 || !word.is_ascii() {
        return None;
    }
    GENDERED.iter().find_map(|&(m, f)| {
        if word.eq_ignore_ascii_case(m) {
            Some(f)
        } else if word.eq_ignore_ascii_case(f) {
            Some(m)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::WordMap;

    fn sev(level: i64) -> Severity {
        Severity::new(level).expect("valid")
    }

    fn run(op: &TextOp, text: &str, level: i64, seed: u64) -> Perturbed {
        op.apply_with(text, sev(level), seed, &TextContext::default())
    }

    #[test]
    fn contractions_go_both_ways() {
        assert_eq!(run(&CONTRACTIONS, "I am sure", 5, 0).text, "I'm sure");
        assert_eq!(run(&CONTRACTIONS, "Don't stop", 5, 0).text, "Do not stop");
        assert_eq!(run(&CONTRACTIONS, "you CANNOT", 5, 0).text, "you CAN'T");
        assert_eq!(run(&CONTRACTIONS, "it’s fine", 5, 0).text, "it is fine");
        assert_eq!(run(&CONTRACTIONS, "i'll go", 5, 0).text, "I will go");
        let out = run(&CONTRACTIONS, "no such phrase here", 5, 0);
        assert_eq!((out.text.as_str(), out.words_changed), ("no such phrase here", 0));
    }

    #[test]
    fn gendered_words_swap_with_case() {
        assert_eq!(run(&SWAP_GENDERED_WORDS, "He", 5, 1).text, "She");
        assert_eq!(run(&SWAP_GENDERED_WORDS, "the QUEEN", 5, 1).text, "the KING");
        assert_eq!(gendered("her"), Some("his"));
        assert_eq!(gendered("table"), None);
    }

    #[test]
    fn deletion_keeps_one_word_and_tidy_spaces() {
        assert_eq!(run(&WORD_DELETE, "alone", 5, 1).text, "alone");
        for seed in 0..20 {
            let out = run(&WORD_DELETE, "one two three four", 5, seed);
            assert_eq!(out.text.split(' ').count(), 2, "{}", out.text);
            assert!(!out.text.starts_with(' ') && !out.text.ends_with(' '), "{:?}", out.text);
            assert_eq!(out.words_changed, 2);
        }
    }

    #[test]
    fn crop_removes_a_contiguous_run() {
        let all = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        for seed in 0..20 {
            let out = run(&WORD_CROP, &all.join(" "), 5, seed);
            let left: Vec<&str> = out.text.split(' ').collect();
            assert_eq!(left.len(), 5, "{}", out.text);
            let gone: Vec<usize> = (0..all.len()).filter(|&i| !left.contains(&all[i])).collect();
            assert_eq!(gone.last().map(|l| l - gone[0]), Some(4), "{}", out.text);
        }
    }

    #[test]
    fn swap_and_merge() {
        assert_eq!(run(&WORD_SWAP, "free money", 1, 3).text, "money free");
        assert_eq!(run(&MERGE_WORDS, "free money", 1, 3).text, "freemoney");
        assert_eq!(run(&MERGE_WORDS, "free, money", 5, 3).text, "free, money");
        let out = run(&SPLIT_WORDS, "money", 1, 3);
        assert_eq!(out.text.replace(' ', ""), "money");
        assert_eq!(out.text.split(' ').count(), 2);
    }

    #[test]
    fn replace_words_uses_the_mapping() {
        let ctx =
            TextContext { replacements: WordMap::from_pairs([("free", "gratis")]), ..Default::default() };
        let out = REPLACE_WORDS.apply_with("Free money, free!", sev(5), 1, &ctx);
        assert!(out.text == "Gratis money, free!" || out.text == "Free money, gratis!", "{}", out.text);
        assert_eq!(run(&REPLACE_WORDS, "Free money", 5, 1).text, "Free money");
    }
}
