//! Unicode tricks: look-alike characters and invisible characters.

use rand::Rng as _;

use super::TextOp;
use super::words::{WORD_SHARE_PARAM, graphemes, perturb_words};
use crate::catalog::{Modality, OpInfo, Purpose};
use crate::seed::Rng;

/// `homoglyph`: replaces one letter per chosen word with a Cyrillic or Greek
/// confusable that renders identically in most fonts.
pub(crate) const HOMOGLYPH: TextOp = TextOp::new(
    OpInfo {
        name: "homoglyph",
        modality: Modality::Text,
        purpose: Purpose::Corruption,
        summary: "swaps one letter per chosen word for a Cyrillic/Greek look-alike",
        params: &[WORD_SHARE_PARAM],
    },
    |text, s, rng| perturb_words(text, s, rng, homoglyph_word),
);

/// `zero_width`: inserts one invisible character inside each chosen word.
pub(crate) const ZERO_WIDTH: TextOp = TextOp::new(
    OpInfo {
        name: "zero_width",
        modality: Modality::Text,
        purpose: Purpose::Corruption,
        summary: "inserts a zero-width space, joiner or word joiner inside each chosen word",
        params: &[WORD_SHARE_PARAM],
    },
    |text, s, rng| perturb_words(text, s, rng, zero_width_word),
);

/// Latin letters and their confusables (Unicode confusables.txt, MA class).
const CONFUSABLES: &[(char, char)] = &[
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('i', 'і'),
    ('j', 'ј'),
    ('o', 'о'),
    ('p', 'р'),
    ('s', 'ѕ'),
    ('x', 'х'),
    ('y', 'у'),
    ('h', 'һ'),
    ('v', 'ν'),
    ('A', 'А'),
    ('B', 'В'),
    ('C', 'С'),
    ('E', 'Е'),
    ('H', 'Н'),
    ('I', 'І'),
    ('J', 'Ј'),
    ('K', 'К'),
    ('M', 'М'),
    ('N', 'Ν'),
    ('O', 'О'),
    ('P', 'Р'),
    ('S', 'Ѕ'),
    ('T', 'Т'),
    ('X', 'Х'),
    ('Y', 'Υ'),
    ('Z', 'Ζ'),
];

/// The look-alike of `c`, if it has one.
pub(crate) fn confusable(c: char) -> Option<char> {
    CONFUSABLES.iter().find(|(from, _)| *from == c).map(|(_, to)| *to)
}

/// Zero-width space, non-joiner, joiner, word joiner.
const INVISIBLE: [char; 4] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}'];

fn homoglyph_word(word: &str, rng: &mut Rng) -> Option<String> {
    let g = graphemes(word);
    let swappable: Vec<usize> = (0..g.len())
        .filter(|&i| g[i].chars().count() == 1 && g[i].chars().next().and_then(confusable).is_some())
        .collect();
    if swappable.is_empty() {
        return None;
    }
    let i = swappable[rng.random_range(0..swappable.len())];
    Some(
        g.iter()
            .enumerate()
            .map(|(j, part)| match (j == i).then(|| part.chars().next().and_then(confusable)) {
                Some(Some(c)) => c.to_string(),
                _ => (*part).to_owned(),
            })
            .collect(),
    )
}

fn zero_width_word(word: &str, rng: &mut Rng) -> Option<String> {
    let g = graphemes(word);
    if g.len() < 2 {
        return None;
    }
    let at = rng.random_range(1..g.len());
    let mark = INVISIBLE[rng.random_range(0..INVISIBLE.len())];
    let mut out = String::with_capacity(word.len() + 3);
    for (j, part) in g.iter().enumerate() {
        if j == at {
            out.push(mark);
        }
        out.push_str(part);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homoglyph_changes_bytes_not_length_in_chars() {
        let mut r = crate::seed::rng(1);
        let out = homoglyph_word("paypal", &mut r).expect("has confusables");
        assert_ne!(out, "paypal");
        assert_eq!(out.chars().count(), 6);
    }

    #[test]
    fn zero_width_adds_one_invisible_char() {
        let mut r = crate::seed::rng(1);
        let out = zero_width_word("free", &mut r).expect("long enough");
        assert_eq!(out.chars().count(), 5);
        assert_eq!(out.chars().filter(|c| INVISIBLE.contains(c)).count(), 1);
    }
}
