//! Character edits inside words: typos, swaps, deletions, insertions, OCR
//! confusions, leetspeak, case changes and inserted separators.
//!
//! Each op chooses the severity's share of words (10..50%) and edits each
//! chosen word once, on grapheme clusters.

use rand::Rng as _;

use super::TextOp;
use super::clusters::{Clusters, graphemes, single_char};
use super::edits;
use super::sample::WORD_SHARE_PARAM;
use super::words::{owned, perturb_words};
use crate::catalog::{Modality, OpInfo, Purpose};
use crate::seed::Rng;

/// A text corruption's catalog entry with the word-share parameter row.
pub(crate) const fn info(name: &'static str, summary: &'static str) -> OpInfo {
    OpInfo {
        name,
        modality: Modality::Text,
        purpose: Purpose::Corruption,
        tables: &[],
        summary,
        params: &[WORD_SHARE_PARAM],
    }
}

/// Accepts every word.
pub(crate) fn any_word(_: &str) -> bool {
    true
}

/// `typo`: one keyboard-neighbour substitution per chosen word, on the
/// context's layout (QWERTY or AZERTY), case kept. nlpaug's KeyboardAug,
/// AugLy's simulate_typos.
pub(crate) const TYPO: TextOp = TextOp::new(
    info(
        "typo",
        "replaces one letter per chosen word with a keyboard neighbour (QWERTY or AZERTY), case kept",
    ),
    |input, s, rng, ctx| {
        perturb_words(input, s, rng, 1, any_word, |w, r, out| {
            edits::keyboard_substitute_into(w, ctx.layout, r, out)
        })
    },
);

/// `char_swap`: swaps two adjacent graphemes in each chosen word.
pub(crate) const CHAR_SWAP: TextOp = TextOp::new(
    info("char_swap", "swaps two adjacent characters per chosen word (DeepWordBug swap)"),
    |input, s, rng, _| perturb_words(input, s, rng, 0, any_word, edits::swap_adjacent_into),
);

/// `char_delete`: deletes one grapheme in each chosen word of two or more.
pub(crate) const CHAR_DELETE: TextOp = TextOp::new(
    info("char_delete", "deletes one character per chosen word (DeepWordBug delete)"),
    |input, s, rng, _| perturb_words(input, s, rng, 0, any_word, edits::delete_random_into),
);

/// `char_insert`: inserts one random letter in each chosen word.
pub(crate) const CHAR_INSERT: TextOp = TextOp::new(
    info("char_insert", "inserts one random letter per chosen word (DeepWordBug insert)"),
    |input, s, rng, _| perturb_words(input, s, rng, 4, any_word, edits::insert_random_into),
);

/// `char_substitute`: replaces one letter in each chosen word with a random
/// letter.
pub(crate) const CHAR_SUBSTITUTE: TextOp = TextOp::new(
    info(
        "char_substitute",
        "replaces one letter per chosen word with a random letter (DeepWordBug substitute)",
    ),
    |input, s, rng, _| perturb_words(input, s, rng, 4, any_word, edits::substitute_random_into),
);

/// `ocr_error`: one OCR confusion per chosen word, among the words that have
/// one (nlpaug's OcrAug).
pub(crate) const OCR_ERROR: TextOp = TextOp::new(
    info("ocr_error", "one OCR confusion per chosen word: 0/O, 1/l, 5/S, rn/m, cl/d, vv/w"),
    |input, s, rng, _| perturb_words(input, s, rng, 1, ocr_possible, owned(ocr_word)),
);

/// `leetspeak`: every leet-able letter of each chosen word (`e`→`3`, `a`→`4`).
pub(crate) const LEETSPEAK: TextOp = TextOp::new(
    info("leetspeak", "writes chosen words in leetspeak: a→4 e→3 i→1 o→0 s→5 t→7"),
    |input, s, rng, _| perturb_words(input, s, rng, 0, |w| w.chars().any(|c| leet(c).is_some()), leet_into),
);

/// `change_case`: upper, lower, title or alternating case per chosen word.
pub(crate) const CHANGE_CASE: TextOp = TextOp::new(
    info("change_case", "changes the case of chosen words: UPPER, lower, Title or aLtErNaTiNg"),
    |input, s, rng, _| {
        perturb_words(input, s, rng, 0, |w| w.chars().any(char::is_alphabetic), owned(change_case_word))
    },
);

/// `insert_punctuation`: a punctuation mark between every two graphemes of
/// each chosen word, `f.r.e.e` (AugLy's insert_punctuation_chars).
pub(crate) const INSERT_PUNCTUATION: TextOp = TextOp::new(
    info("insert_punctuation", "puts one punctuation mark between the characters of chosen words: f.r.e.e"),
    |input, s, rng, _| perturb_words(input, s, rng, 8, any_word, punctuate_into),
);

/// `insert_whitespace`: a space between every two graphemes of each chosen
/// word, `f r e e` (AugLy's insert_whitespace_chars).
pub(crate) const INSERT_WHITESPACE: TextOp = TextOp::new(
    info("insert_whitespace", "spaces out the characters of chosen words: f r e e"),
    |input, s, rng, _| perturb_words(input, s, rng, 8, any_word, |w, _, out| space_into(w, out)),
);

/// OCR confusions: grapheme sequences read as another.
const OCR: &[(&str, &str)] = &[
    ("0", "O"),
    ("O", "0"),
    ("o", "0"),
    ("1", "l"),
    ("l", "1"),
    ("I", "l"),
    ("i", "1"),
    ("5", "S"),
    ("S", "5"),
    ("8", "B"),
    ("B", "8"),
    ("2", "Z"),
    ("Z", "2"),
    ("9", "g"),
    ("g", "9"),
    ("6", "b"),
    ("e", "c"),
    ("c", "e"),
    ("u", "v"),
    ("rn", "m"),
    ("m", "rn"),
    ("cl", "d"),
    ("d", "cl"),
    ("vv", "w"),
    ("w", "vv"),
];

/// Whether a word has an OCR confusion: a cheap test on its characters
/// first, the exact one only when the word has a two-letter pattern's
/// first letter and nothing else.
fn ocr_possible(word: &str) -> bool {
    let single = |c: char| OCR.iter().any(|(from, _)| from.len() == 1 && from.starts_with(c));
    word.chars().any(single) || !ocr_sites(&graphemes(word)).is_empty()
}

/// Every (grapheme index, pattern length in graphemes, replacement) where
/// an OCR confusion applies.
fn ocr_sites(g: &[&str]) -> Vec<(usize, usize, &'static str)> {
    let mut sites = Vec::new();
    for i in 0..g.len() {
        for (from, to) in OCR {
            let n = from.len();
            if n == 1 && g[i] == *from {
                sites.push((i, 1, *to));
            } else if n == 2 && i + 1 < g.len() && g[i].len() == 1 && g[i + 1].len() == 1 {
                let b = from.as_bytes();
                if g[i].as_bytes()[0] == b[0] && g[i + 1].as_bytes()[0] == b[1] {
                    sites.push((i, 2, *to));
                }
            }
        }
    }
    sites
}

fn ocr_word(word: &str, rng: &mut Rng) -> Option<String> {
    let g = graphemes(word);
    let sites = ocr_sites(&g);
    if sites.is_empty() {
        return None;
    }
    let (at, len, to) = sites[rng.random_range(0..sites.len())];
    let mut out = String::with_capacity(word.len() + 1);
    out.extend(g[..at].iter().copied());
    out.push_str(to);
    out.extend(g[at + len..].iter().copied());
    Some(out)
}

/// The leetspeak form of a letter.
fn leet(c: char) -> Option<char> {
    Some(match c.to_ascii_lowercase() {
        'a' => '4',
        'e' => '3',
        'i' => '1',
        'o' => '0',
        's' => '5',
        't' => '7',
        'b' => '8',
        'g' => '9',
        'z' => '2',
        _ => return None,
    })
}

fn leet_into(word: &str, _: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    for part in g.iter() {
        match single_char(part).and_then(leet) {
            Some(c) => out.push(c),
            None => out.push_str(part),
        }
    }
    true
}

fn change_case_word(word: &str, rng: &mut Rng) -> Option<String> {
    let start = rng.random_range(0..4);
    (0..4).map(|k| case_mode(word, (start + k) % 4)).find(|w| w != word)
}

fn case_mode(word: &str, mode: usize) -> String {
    match mode {
        0 => word.to_uppercase(),
        1 => word.to_lowercase(),
        2 => {
            let g = graphemes(word);
            let mut out = String::with_capacity(word.len());
            for (j, part) in g.iter().enumerate() {
                out.push_str(&if j == 0 { part.to_uppercase() } else { part.to_lowercase() });
            }
            out
        }
        _ => {
            let g = graphemes(word);
            let mut out = String::with_capacity(word.len());
            for (j, part) in g.iter().enumerate() {
                out.push_str(&if j % 2 == 1 { part.to_uppercase() } else { part.to_lowercase() });
            }
            out
        }
    }
}

const PUNCTUATION: [char; 10] = ['.', ',', '-', '_', '*', ':', ';', '!', '?', '\''];

fn punctuate_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    if g.len() < 2 {
        return false;
    }
    let mark = PUNCTUATION[rng.random_range(0..PUNCTUATION.len())];
    g.push_interleaved(out, mark);
    true
}

fn space_into(word: &str, out: &mut String) -> bool {
    let g = Clusters::new(word);
    if g.len() < 2 {
        return false;
    }
    g.push_interleaved(out, ' ');
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng;
    use crate::severity::Severity;
    use crate::text::TextContext;

    fn to_string(edit: impl FnOnce(&mut String) -> bool) -> Option<String> {
        let mut out = String::new();
        edit(&mut out).then_some(out)
    }

    fn leet_word(w: &str, r: &mut Rng) -> Option<String> {
        to_string(|o| leet_into(w, r, o))
    }

    fn punctuate_word(w: &str, r: &mut Rng) -> Option<String> {
        to_string(|o| punctuate_into(w, r, o))
    }

    fn space_word(w: &str) -> Option<String> {
        to_string(|o| space_into(w, o))
    }

    fn sev(level: i64) -> Severity {
        Severity::new(level).expect("valid")
    }

    #[test]
    fn ocr_confusions() {
        let mut r = rng(3);
        assert_eq!(ocr_word("rn", &mut r).as_deref(), Some("m"));
        assert_eq!(ocr_word("xyz", &mut r), None);
        let hello = ocr_word("hello", &mut r).expect("has l, e, o");
        assert!(["he1lo", "hel1o", "hcllo", "hell0"].contains(&hello.as_str()), "{hello}");
    }

    #[test]
    fn leetspeak_and_case() {
        let mut r = rng(0);
        assert_eq!(leet_word("Leetspeak", &mut r).as_deref(), Some("L3375p34k"));
        assert_eq!(case_mode("hello", 0), "HELLO");
        assert_eq!(case_mode("HeLLo", 1), "hello");
        assert_eq!(case_mode("hello", 2), "Hello");
        assert_eq!(case_mode("hello", 3), "hElLo");
        assert_eq!(case_mode("éa\u{301}", 0), "ÉA\u{301}");
        assert_ne!(change_case_word("x", &mut r).as_deref(), Some("x"));
    }

    #[test]
    fn separators_go_between_graphemes() {
        assert_eq!(space_word("free").as_deref(), Some("f r e e"));
        assert_eq!(space_word("ne\u{301}").as_deref(), Some("n e\u{301}"));
        let p = punctuate_word("win", &mut rng(1)).expect("long enough");
        assert_eq!(p.chars().count(), 5);
        assert_eq!(p.chars().nth(1), p.chars().nth(3));
    }

    #[test]
    fn typo_follows_the_layout() {
        let ctx = TextContext { layout: crate::text::KeyboardLayout::Azerty, ..Default::default() };
        let out = TYPO.apply_with("q", sev(1), 5, &ctx);
        assert!(["a", "z", "s", "w"].contains(&out.text.as_str()), "{}", out.text);
        assert_eq!((out.words_changed, out.chars_changed), (1, 1));
        assert_eq!(CHAR_INSERT.apply_with("word", sev(1), 5, &ctx).chars_changed, 1);
    }
}
