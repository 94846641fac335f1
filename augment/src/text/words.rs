//! The word-level driver: what every op receives ([`Input`]) and
//! [`perturb_words`], which rebuilds a text with an edit applied to a
//! severity-sized share of its words.
//!
//! The parts live beside it: [`super::segment`] splits a text into Unicode
//! words, [`super::sample`] chooses which ones change, and
//! [`super::clusters`] edits inside a word by grapheme cluster.

use std::ops::Range;

use super::Perturbed;
use super::clusters::char_diff;
use super::sample::{Small, choose, share_count};
use super::segment::{Doc, each_word};
use crate::seed::Rng;
use crate::severity::Severity;

/// What every op receives: the text and its protected byte ranges.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'a> {
    /// The whole text.
    pub text: &'a str,
    /// Sorted, merged byte ranges no op may touch.
    pub protected: &'a [Range<usize>],
}

impl<'a> Input<'a> {
    /// The text split into segments, for ops that move or remove them.
    pub fn doc(&self) -> Doc<'a> {
        Doc::new(self.text, self.protected)
    }
}

/// Rebuilds the text with `edit` applied to a severity-sized random share of
/// the free words that `applicable` accepts. `edit` appends the edited word
/// to the output and returns `true`, or returns `false` when the word cannot
/// take the edit (it is then kept; anything `edit` appended is dropped).
/// Everything else is kept byte for byte. `slack` is the number of bytes an
/// edit is expected to add to a word, to size the output once.
pub(crate) fn perturb_words(
    input: &Input<'_>,
    severity: Severity,
    rng: &mut Rng,
    slack: usize,
    applicable: impl Fn(&str) -> bool,
    mut edit: impl FnMut(&str, &mut Rng, &mut String) -> bool,
) -> Perturbed {
    perturb_words_counted(input, severity, rng, slack, applicable, |word, rng, out| {
        let mark = out.len();
        edit(word, rng, out).then(|| char_diff(word, &out[mark..]))
    })
}

/// [`perturb_words`] for edits that count what they changed: `edit`
/// returns the number of characters it changed (0: the word came out the
/// same), or `None` when the word cannot take the edit.
pub(crate) fn perturb_words_counted(
    input: &Input<'_>,
    severity: Severity,
    rng: &mut Rng,
    slack: usize,
    applicable: impl Fn(&str) -> bool,
    mut edit: impl FnMut(&str, &mut Rng, &mut String) -> Option<usize>,
) -> Perturbed {
    let text = input.text;
    let mut candidates: Small<(usize, usize), 48> = Small::new();
    let words_total = each_word(text, input.protected, |start, s, frozen| {
        if !frozen && applicable(s) {
            candidates.push((start, start + s.len()));
        }
    });
    let candidates = candidates.as_slice();
    if candidates.is_empty() {
        return Perturbed::identity(text);
    }
    let chosen = choose(rng, candidates.len(), share_count(candidates.len(), severity));
    let chosen = chosen.as_slice();
    let mut out = String::with_capacity(text.len() + chosen.len() * slack);
    let (mut words, mut chars, mut at) = (0, 0, 0);
    for &c in chosen {
        let (start, end) = candidates[c];
        push_span(&mut out, text, at, start);
        let word = &text[start..end];
        let mark = out.len();
        match edit(word, rng, &mut out) {
            Some(changed) => {
                if changed > 0 {
                    words += 1;
                    chars += changed;
                }
            }
            None => {
                out.truncate(mark);
                out.push_str(word);
            }
        }
        at = end;
    }
    out.push_str(&text[at..]);
    Perturbed::new(out, words, chars, words_total)
}

/// Appends `text[from..to]`. A short span is copied as a fixed 32 bytes and
/// the excess cut off: a fixed-size copy is a few vector moves, where a
/// variable-size one calls `memcpy` and mispredicts on the length.
#[inline]
pub(crate) fn push_span(out: &mut String, text: &str, from: usize, to: usize) {
    const WIDE: usize = 32;
    let len = to - from;
    if len <= WIDE
        && let Some(wide) = text.get(from..from + WIDE)
    {
        let keep = out.len() + len;
        out.push_str(wide);
        out.truncate(keep);
        return;
    }
    out.push_str(&text[from..to]);
}

/// Adapts an edit that returns a new word to [`perturb_words`]' appending
/// form.
pub(crate) fn owned(
    mut edit: impl FnMut(&str, &mut Rng) -> Option<String>,
) -> impl FnMut(&str, &mut Rng, &mut String) -> bool {
    move |word, rng, out| match edit(word, rng) {
        Some(new) => {
            out.push_str(&new);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng;

    fn sev(level: i64) -> Severity {
        Severity::new(level).expect("valid")
    }

    #[test]
    fn perturbs_the_documented_share() {
        let text = "one two three four five six seven eight nine ten";
        let input = Input { text, protected: &[] };
        let out =
            perturb_words(&input, sev(3), &mut rng(1), 0, |_| true, owned(|w, _| Some(w.to_uppercase())));
        let changed = out.text.split(' ').filter(|w| w.chars().all(char::is_uppercase)).count();
        assert_eq!(changed, 3);
        assert_eq!(out.words_changed, 3);
        assert!((out.intensity - 30.0).abs() < 1e-4);
    }

    #[test]
    fn keeps_separators() {
        let input = Input { text: "a,  b!", protected: &[] };
        let out = perturb_words(&input, sev(5), &mut rng(2), 0, |_| true, owned(|_, _| Some("x".into())));
        assert!(out.text == "x,  b!" || out.text == "a,  x!", "{}", out.text);
        assert_eq!(out.chars_changed, 1);
    }

    #[test]
    fn long_texts_keep_the_share() {
        let text = vec!["word"; 300].join(" ");
        let input = Input { text: &text, protected: &[] };
        let out =
            perturb_words(&input, sev(5), &mut rng(3), 0, |_| true, owned(|w, _| Some(w.to_uppercase())));
        assert_eq!(out.words_changed, 150);
        assert_eq!(out.text.matches("WORD").count(), 150);
    }
}
