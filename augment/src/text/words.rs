//! Choosing which words an op perturbs.

use rand::seq::index;
use unicode_segmentation::UnicodeSegmentation;

use crate::seed::Rng;
use crate::severity::Severity;

/// Share of eligible words perturbed at severities 1..=5 (at least one word).
pub(crate) const WORD_SHARE: [f32; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

/// The parameter row every word-level op documents.
pub(crate) const WORD_SHARE_PARAM: crate::catalog::Param =
    crate::catalog::Param { name: "share_of_words", values: ["10%", "20%", "30%", "40%", "50%"] };

/// Whether a word segment is worth perturbing (contains a letter or digit).
fn eligible(segment: &str) -> bool {
    segment.chars().any(char::is_alphanumeric)
}

/// Rebuilds `text` with `edit` applied to a severity-sized random share of
/// its words. `edit` returns `None` when a word cannot take the edit (it is
/// then left alone). Segments between words are kept byte for byte.
pub(crate) fn perturb_words(
    text: &str,
    severity: Severity,
    rng: &mut Rng,
    mut edit: impl FnMut(&str, &mut Rng) -> Option<String>,
) -> String {
    let segments: Vec<&str> = text.split_word_bounds().collect();
    let candidates: Vec<usize> =
        segments.iter().enumerate().filter(|(_, s)| eligible(s)).map(|(i, _)| i).collect();
    if candidates.is_empty() {
        return text.to_owned();
    }
    let share = severity.pick(&WORD_SHARE);
    let k = ((candidates.len() as f32 * share).ceil() as usize).clamp(1, candidates.len());
    let mut chosen: Vec<usize> =
        index::sample(rng, candidates.len(), k).into_iter().map(|i| candidates[i]).collect();
    chosen.sort_unstable();
    let mut out = String::with_capacity(text.len() + 8);
    let mut next = chosen.iter().peekable();
    for (i, seg) in segments.iter().enumerate() {
        if next.peek() == Some(&&i) {
            next.next();
            match edit(seg, rng) {
                Some(edited) => out.push_str(&edited),
                None => out.push_str(seg),
            }
        } else {
            out.push_str(seg);
        }
    }
    out
}

/// A word's grapheme clusters.
pub(crate) fn graphemes(word: &str) -> Vec<&str> {
    word.graphemes(true).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng;

    #[test]
    fn perturbs_the_documented_share() {
        let text = "one two three four five six seven eight nine ten";
        let mut r = rng(1);
        let out =
            perturb_words(text, Severity::new(3).expect("valid"), &mut r, |w, _| Some(w.to_uppercase()));
        let changed = out.split(' ').filter(|w| w.chars().all(char::is_uppercase)).count();
        assert_eq!(changed, 3);
    }

    #[test]
    fn keeps_separators() {
        let mut r = rng(2);
        let out = perturb_words("a,  b!", Severity::new(5).expect("valid"), &mut r, |_, _| Some("x".into()));
        assert!(out == "x,  b!" || out == "a,  x!", "{out}");
    }
}
