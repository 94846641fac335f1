//! Edit primitives for black-box word-level attacks: perturb one chosen word.
//!
//! An attack (DeepWordBug, Gao et al. 2018; TextBugger, Li et al. 2019)
//! ranks the words of a text, then tries small edits on the most important
//! ones. This module gives it the edits ([`WordEdit`]), the words
//! ([`word_spans`], honouring protected spans) and the splice
//! ([`replace_span`]). Every edit works on grapheme clusters, so a word in
//! any script stays valid text.

use std::ops::Range;

use rand::Rng as _;
use regex::Regex;

use super::clusters::{Clusters, positions, single_char};
use super::keyboard::KeyboardLayout;
use super::protect;
use super::sample::Small;
use super::segment::Doc;
use crate::seed::Rng;

/// One character-level edit inside a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WordEdit {
    /// Swap two adjacent characters (DeepWordBug, TextBugger "swap").
    Swap,
    /// Replace one letter with a random letter (DeepWordBug "substitute").
    Substitute,
    /// Delete one character (DeepWordBug, TextBugger "delete").
    Delete,
    /// Insert a random letter (DeepWordBug "insert").
    Insert,
    /// Insert a space inside the word (TextBugger "insert").
    InsertSpace,
    /// Replace a letter with a look-alike digit or symbol, `o`→`0`, `l`→`1`,
    /// `a`→`@` (TextBugger "sub-C").
    VisualSubstitute,
    /// Replace a letter with a keyboard neighbour (TextBugger "sub-C").
    KeyboardSubstitute,
}

impl WordEdit {
    /// DeepWordBug's edits.
    pub const DEEPWORDBUG: [WordEdit; 4] =
        [WordEdit::Swap, WordEdit::Substitute, WordEdit::Delete, WordEdit::Insert];
    /// TextBugger's character-level edits.
    pub const TEXTBUGGER: [WordEdit; 5] = [
        WordEdit::InsertSpace,
        WordEdit::Delete,
        WordEdit::Swap,
        WordEdit::VisualSubstitute,
        WordEdit::KeyboardSubstitute,
    ];

    /// A stable snake_case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            WordEdit::Swap => "swap",
            WordEdit::Substitute => "substitute",
            WordEdit::Delete => "delete",
            WordEdit::Insert => "insert",
            WordEdit::InsertSpace => "insert_space",
            WordEdit::VisualSubstitute => "visual_substitute",
            WordEdit::KeyboardSubstitute => "keyboard_substitute",
        }
    }

    /// Applies the edit to `word` with a QWERTY keyboard. `None` when the
    /// word cannot take it (too short, nothing to substitute).
    pub fn apply(self, word: &str, rng: &mut Rng) -> Option<String> {
        self.apply_on(word, KeyboardLayout::Qwerty, rng)
    }

    /// Applies the edit, taking keyboard neighbours from `layout`.
    pub fn apply_on(self, word: &str, layout: KeyboardLayout, rng: &mut Rng) -> Option<String> {
        match self {
            WordEdit::Swap => swap_adjacent(word, rng),
            WordEdit::Substitute => substitute_random(word, rng),
            WordEdit::Delete => delete_random(word, rng),
            WordEdit::Insert => insert_random(word, rng),
            WordEdit::InsertSpace => insert_space(word, rng),
            WordEdit::VisualSubstitute => visual_substitute(word, rng),
            WordEdit::KeyboardSubstitute => keyboard_substitute(word, layout, rng),
        }
    }
}

/// Positions of the graphemes that are one letter or digit.
fn alnum_positions(g: &Clusters<'_>) -> Small<usize, 32> {
    positions(g, |c| c.is_alphanumeric())
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> Option<T> {
    if items.is_empty() { None } else { Some(items[rng.random_range(0..items.len())]) }
}

/// Runs an appending edit into a new string.
fn to_string(word: &str, edit: impl FnOnce(&mut String) -> bool) -> Option<String> {
    let mut out = String::with_capacity(word.len() + 4);
    edit(&mut out).then_some(out)
}

/// Swaps two adjacent graphemes that differ; `None` for words under two
/// graphemes or made of one repeated grapheme.
pub fn swap_adjacent(word: &str, rng: &mut Rng) -> Option<String> {
    to_string(word, |out| swap_adjacent_into(word, rng, out))
}

/// [`swap_adjacent`], appended to `out`; `false` when it does not apply.
pub(crate) fn swap_adjacent_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    let mut pairs: Small<usize, 32> = Small::new();
    for i in 0..g.len().saturating_sub(1) {
        if g.get(i) != g.get(i + 1) {
            pairs.push(i);
        }
    }
    let Some(i) = pick(rng, pairs.as_slice()) else { return false };
    out.push_str(&word[..g.start(i)]);
    out.push_str(g.get(i + 1));
    out.push_str(g.get(i));
    out.push_str(&word[g.start(i + 2)..]);
    true
}

/// Deletes one grapheme; `None` for words under two graphemes.
pub fn delete_random(word: &str, rng: &mut Rng) -> Option<String> {
    to_string(word, |out| delete_random_into(word, rng, out))
}

/// [`delete_random`], appended to `out`; `false` when it does not apply.
pub(crate) fn delete_random_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    if g.len() < 2 {
        return false;
    }
    let at = rng.random_range(0..g.len());
    out.push_str(&word[..g.start(at)]);
    out.push_str(&word[g.start(at + 1)..]);
    true
}

/// A random ASCII letter in the case of `like`.
fn random_letter(rng: &mut Rng, like: char) -> char {
    let c = char::from(b'a' + rng.random_range(0..26u8));
    if like.is_uppercase() { c.to_ascii_uppercase() } else { c }
}

/// Replaces one letter with a different random letter: an ASCII letter for
/// ASCII words, another of the word's own graphemes otherwise (so the script
/// stays the same).
pub fn substitute_random(word: &str, rng: &mut Rng) -> Option<String> {
    to_string(word, |out| substitute_random_into(word, rng, out))
}

/// [`substitute_random`], appended to `out`; `false` when it does not apply.
pub(crate) fn substitute_random_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    let Some(i) = pick(rng, alnum_positions(&g).as_slice()) else { return false };
    let Some(c) = single_char(g.get(i)) else { return false };
    if c.is_ascii() {
        let lower = c.to_ascii_lowercase();
        let r = if lower.is_ascii_lowercase() {
            let mut n = rng.random_range(0..25u8);
            if n >= lower as u8 - b'a' {
                n += 1;
            }
            char::from(b'a' + n)
        } else {
            char::from(b'a' + rng.random_range(0..26u8))
        };
        let r = if c.is_ascii_uppercase() { r.to_ascii_uppercase() } else { r };
        g.push_replaced(out, i, r.encode_utf8(&mut [0; 4]));
        return true;
    }
    let others: Vec<&str> = g.iter().filter(|o| *o != g.get(i)).collect();
    let Some(with) = pick(rng, &others) else { return false };
    g.push_replaced(out, i, with);
    true
}

/// Inserts one random letter at a random position (a copy of one of the
/// word's graphemes for non-ASCII words).
pub fn insert_random(word: &str, rng: &mut Rng) -> Option<String> {
    to_string(word, |out| insert_random_into(word, rng, out))
}

/// [`insert_random`], appended to `out`; `false` for an empty word.
pub(crate) fn insert_random_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    if g.len() == 0 {
        return false;
    }
    let at = rng.random_range(0..=g.len());
    let mut buf = [0; 4];
    let new: &str = if word.is_ascii() {
        let like = g.get(at.min(g.len() - 1)).chars().next().unwrap_or('a');
        random_letter(rng, if at == 0 { like } else { like.to_ascii_lowercase() }).encode_utf8(&mut buf)
    } else {
        g.get(rng.random_range(0..g.len()))
    };
    out.push_str(&word[..g.start(at)]);
    out.push_str(new);
    out.push_str(&word[g.start(at)..]);
    true
}

/// Inserts a space between two graphemes; `None` for words under two
/// graphemes.
pub fn insert_space(word: &str, rng: &mut Rng) -> Option<String> {
    let mut out = String::with_capacity(word.len() + 1);
    insert_space_into(word, rng, &mut out).then_some(out)
}

/// [`insert_space`], appended to `out`; `false` (nothing appended) for
/// words under two graphemes.
pub(crate) fn insert_space_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    if g.len() < 2 {
        return false;
    }
    let at = g.start(rng.random_range(1..g.len()));
    out.push_str(&word[..at]);
    out.push(' ');
    out.push_str(&word[at..]);
    true
}

/// Letters and the digits or symbols that look like them (TextBugger).
const VISUAL: &[(char, char)] = &[
    ('o', '0'),
    ('O', '0'),
    ('l', '1'),
    ('I', '1'),
    ('i', '1'),
    ('a', '@'),
    ('s', '$'),
    ('S', '$'),
    ('e', '3'),
    ('E', '3'),
    ('g', '9'),
    ('b', '6'),
    ('B', '8'),
    ('t', '7'),
    ('T', '7'),
    ('z', '2'),
    ('Z', '2'),
];

/// The look-alike digit or symbol of a letter (TextBugger's visual table).
pub fn visual_lookalike(c: char) -> Option<char> {
    VISUAL.iter().find(|(from, _)| *from == c).map(|(_, to)| *to)
}

/// Replaces one letter with its look-alike digit or symbol.
pub fn visual_substitute(word: &str, rng: &mut Rng) -> Option<String> {
    let g = Clusters::new(word);
    let i = pick(rng, positions(&g, |c| visual_lookalike(c).is_some()).as_slice())?;
    let to = single_char(g.get(i)).and_then(visual_lookalike)?;
    to_string(word, |out| {
        g.push_replaced(out, i, to.encode_utf8(&mut [0; 4]));
        true
    })
}

/// Replaces one ASCII letter or digit with a neighbouring key on `layout`,
/// keeping its case.
pub fn keyboard_substitute(word: &str, layout: KeyboardLayout, rng: &mut Rng) -> Option<String> {
    to_string(word, |out| keyboard_substitute_into(word, layout, rng, out))
}

/// [`keyboard_substitute`], appended to `out`; `false` when no character
/// has a neighbour.
pub(crate) fn keyboard_substitute_into(
    word: &str,
    layout: KeyboardLayout,
    rng: &mut Rng,
    out: &mut String,
) -> bool {
    let g = Clusters::new(word);
    let Some(i) = pick(rng, positions(&g, |c| !layout.neighbours(c).is_empty()).as_slice()) else {
        return false;
    };
    let Some(c) = single_char(g.get(i)) else { return false };
    let Some(to) = pick(rng, layout.neighbours(c)) else { return false };
    g.push_replaced(out, i, to.encode_utf8(&mut [0; 4]));
    true
}

/// Byte ranges of the words of `text` (Unicode word segments holding a
/// letter or digit), in order.
pub fn word_spans(text: &str) -> Vec<Range<usize>> {
    word_spans_protected(text, &[])
}

/// Byte ranges of the words of `text` that no `protected` regex match
/// overlaps: the words an attack may edit.
pub fn word_spans_protected(text: &str, protected: &[Regex]) -> Vec<Range<usize>> {
    let ranges = protect::ranges(text, protected);
    Doc::new(text, &ranges).segs.into_iter().filter(|s| s.is_free_word()).map(|s| s.range).collect()
}

/// `text` with the byte range `span` (from [`word_spans`]) replaced by
/// `with`. `None` when `span` is out of bounds or not on char boundaries.
pub fn replace_span(text: &str, span: Range<usize>, with: &str) -> Option<String> {
    let (head, tail) = (text.get(..span.start)?, text.get(span.end..)?);
    text.get(span)?;
    let mut out = String::with_capacity(head.len() + with.len() + tail.len());
    out.push_str(head);
    out.push_str(with);
    out.push_str(tail);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng;
    use crate::text::clusters::graphemes;

    #[test]
    fn deepwordbug_edits_change_one_character() {
        let mut r = rng(4);
        for seed in 0..50 {
            let mut r2 = rng(seed);
            let s = WordEdit::Substitute.apply("money", &mut r2).expect("edit");
            assert_eq!(s.len(), 5);
            assert_eq!(s.chars().zip("money".chars()).filter(|(a, b)| a != b).count(), 1, "{s}");
            assert_eq!(WordEdit::Insert.apply("money", &mut r2).map(|w| w.len()), Some(6));
        }
        assert_eq!(WordEdit::Delete.apply("hello", &mut r).map(|w| w.len()), Some(4));
        assert_eq!(WordEdit::Swap.apply("ab", &mut r).as_deref(), Some("ba"));
        assert_eq!(WordEdit::Swap.apply("aaa", &mut r), None);
        assert_eq!(WordEdit::Delete.apply("a", &mut r), None);
    }

    #[test]
    fn textbugger_edits() {
        let mut r = rng(1);
        assert_eq!(
            WordEdit::VisualSubstitute.apply("lol", &mut r).map(|w| w.contains(['0', '1'])),
            Some(true)
        );
        assert_eq!(WordEdit::VisualSubstitute.apply("xyw", &mut r), None);
        let spaced = WordEdit::InsertSpace.apply("free", &mut r).expect("edit");
        assert_eq!(spaced.replace(' ', ""), "free");
        let typo = WordEdit::KeyboardSubstitute.apply("g", &mut r).expect("edit");
        assert!(["b", "f", "h", "t", "v", "y"].contains(&typo.as_str()), "{typo}");
        let az = WordEdit::KeyboardSubstitute.apply_on("Q", KeyboardLayout::Azerty, &mut r).expect("edit");
        assert!(["A", "S", "W", "Z"].contains(&az.as_str()), "{az}");
        assert_eq!(WordEdit::TEXTBUGGER.len() + WordEdit::DEEPWORDBUG.len(), 9);
    }

    #[test]
    fn edits_keep_graphemes_of_other_scripts() {
        for seed in 0..30 {
            let mut r = rng(seed);
            for edit in WordEdit::DEEPWORDBUG.into_iter().chain(WordEdit::TEXTBUGGER) {
                if let Some(out) = edit.apply("नमस्ते", &mut r) {
                    for g in graphemes(&out) {
                        assert!(
                            ["न", "म", "स्", "ते", "स्ते", " "].contains(&g),
                            "{edit:?} made {g:?} from {out}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn spans_skip_protected_words_and_splice() {
        let text = "Call 555-0100 or visit acme.example today";
        let spans = word_spans(text);
        let words: Vec<&str> = spans.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(words, ["Call", "555", "0100", "or", "visit", "acme.example", "today"]);
        let re = [Regex::new(r"\w+\.example").expect("re")];
        let free: Vec<&str> = word_spans_protected(text, &re).iter().map(|r| &text[r.clone()]).collect();
        assert!(!free.contains(&"acme.example"));
        assert_eq!(
            replace_span(text, spans[0].clone(), "Ca ll").as_deref(),
            Some("Ca ll 555-0100 or visit acme.example today")
        );
        assert_eq!(replace_span("é", 1..2, "x"), None);
        assert_eq!(replace_span("abc", 2..9, "x"), None);
    }
}
