//! Character edits inside one word: typos, swaps, deletions.

use rand::Rng as _;

use super::TextOp;
use super::words::{WORD_SHARE_PARAM, graphemes, perturb_words};
use crate::catalog::{Modality, OpInfo, Purpose};
use crate::seed::Rng;

/// `typo`: one keyboard-neighbour substitution (QWERTY) in each chosen word.
pub(crate) const TYPO: TextOp = TextOp::new(
    OpInfo {
        name: "typo",
        modality: Modality::Text,
        purpose: Purpose::Corruption,
        summary: "replaces one letter per chosen word with a QWERTY neighbour, case kept",
        params: &[WORD_SHARE_PARAM],
    },
    |text, s, rng| perturb_words(text, s, rng, typo_word),
);

/// `char_swap`: swaps two adjacent graphemes in each chosen word.
pub(crate) const CHAR_SWAP: TextOp = TextOp::new(
    OpInfo {
        name: "char_swap",
        modality: Modality::Text,
        purpose: Purpose::Corruption,
        summary: "swaps two adjacent characters per chosen word (DeepWordBug swap)",
        params: &[WORD_SHARE_PARAM],
    },
    |text, s, rng| perturb_words(text, s, rng, swap_word),
);

/// `char_delete`: deletes one grapheme in each chosen word of two or more.
pub(crate) const CHAR_DELETE: TextOp = TextOp::new(
    OpInfo {
        name: "char_delete",
        modality: Modality::Text,
        purpose: Purpose::Corruption,
        summary: "deletes one character per chosen word (DeepWordBug delete)",
        params: &[WORD_SHARE_PARAM],
    },
    |text, s, rng| perturb_words(text, s, rng, delete_in_word),
);

const QWERTY: [&str; 4] = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"];
/// Horizontal offset of each QWERTY row, in key widths.
const ROW_OFFSET: [f32; 4] = [0.0, 0.5, 0.75, 1.25];

/// Keys whose centres lie within 1.25 key widths of `key` on QWERTY.
pub(crate) fn keyboard_neighbours(key: char) -> Vec<char> {
    let lower = key.to_ascii_lowercase();
    let pos = |c: char| {
        QWERTY.iter().enumerate().find_map(|(r, row)| {
            row.chars().position(|k| k == c).map(|i| (r as f32, i as f32 + ROW_OFFSET[r]))
        })
    };
    let Some((r0, x0)) = pos(lower) else { return Vec::new() };
    let mut out = Vec::new();
    for (r, row) in QWERTY.iter().enumerate() {
        for (i, c) in row.chars().enumerate() {
            let (dy, dx) = (r as f32 - r0, i as f32 + ROW_OFFSET[r] - x0);
            if c != lower && dy.abs() <= 1.0 && dx.abs() <= 1.0 && dy * dy + dx * dx <= 1.6 {
                out.push(if key.is_ascii_uppercase() { c.to_ascii_uppercase() } else { c });
            }
        }
    }
    out
}

fn typo_word(word: &str, rng: &mut Rng) -> Option<String> {
    let g = graphemes(word);
    let typeable: Vec<usize> = (0..g.len())
        .filter(|&i| g[i].chars().count() == 1 && g[i].chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    if typeable.is_empty() {
        return None;
    }
    let i = typeable[rng.random_range(0..typeable.len())];
    let c = g[i].chars().next()?;
    let near = keyboard_neighbours(c);
    let replacement = near.get(rng.random_range(0..near.len().max(1)))?;
    let mut out = String::with_capacity(word.len());
    for (j, part) in g.iter().enumerate() {
        if j == i {
            out.push(*replacement);
        } else {
            out.push_str(part);
        }
    }
    Some(out)
}

fn swap_word(word: &str, rng: &mut Rng) -> Option<String> {
    let mut g = graphemes(word);
    if g.len() < 2 {
        return None;
    }
    let i = rng.random_range(0..g.len() - 1);
    g.swap(i, i + 1);
    Some(g.concat())
}

fn delete_in_word(word: &str, rng: &mut Rng) -> Option<String> {
    let mut g = graphemes(word);
    if g.len() < 2 {
        return None;
    }
    g.remove(rng.random_range(0..g.len()));
    Some(g.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_of_g_are_its_surroundings() {
        let mut n = keyboard_neighbours('g');
        n.sort_unstable();
        assert_eq!(n, vec!['b', 'f', 'h', 't', 'v', 'y']);
        assert!(keyboard_neighbours('Q').iter().filter(|c| c.is_alphabetic()).all(char::is_ascii_uppercase));
        assert!(keyboard_neighbours('é').is_empty());
    }

    #[test]
    fn word_edits_change_length_as_documented() {
        let mut r = crate::seed::rng(4);
        assert_eq!(delete_in_word("hello", &mut r).map(|w| w.len()), Some(4));
        let swapped = swap_word("ab", &mut r);
        assert_eq!(swapped.as_deref(), Some("ba"));
        assert_eq!(delete_in_word("a", &mut r), None);
        let typo = typo_word("cat", &mut r).expect("typeable");
        assert_eq!(typo.len(), 3);
        assert_ne!(typo, "cat");
    }
}
