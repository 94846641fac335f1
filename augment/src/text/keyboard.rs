//! Keyboard layouts and the keys next to each key, for typo-style edits.

use std::sync::OnceLock;

/// A physical keyboard layout: which keys a finger slips onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyboardLayout {
    /// US/UK QWERTY.
    #[default]
    Qwerty,
    /// French AZERTY (digits on the shifted top row).
    Azerty,
}

impl KeyboardLayout {
    /// Every layout, for config validation and error messages.
    pub const ALL: [KeyboardLayout; 2] = [KeyboardLayout::Qwerty, KeyboardLayout::Azerty];

    /// The config name: `qwerty` or `azerty`.
    pub fn name(self) -> &'static str {
        match self {
            KeyboardLayout::Qwerty => "qwerty",
            KeyboardLayout::Azerty => "azerty",
        }
    }

    /// The layout with this config name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(name))
    }

    fn rows(self) -> [&'static str; 4] {
        match self {
            KeyboardLayout::Qwerty => ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"],
            KeyboardLayout::Azerty => ["1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn"],
        }
    }

    /// Keys whose centres lie within about one key width of `key`, in the
    /// case of `key`; empty for keys not on the layout's letter/digit block.
    pub fn neighbours(self, key: char) -> &'static [char] {
        let table = match self {
            KeyboardLayout::Qwerty => qwerty(),
            KeyboardLayout::Azerty => azerty(),
        };
        if !key.is_ascii_alphanumeric() {
            return &[];
        }
        let idx = key as usize;
        &table[idx]
    }
}

/// Horizontal offset of each row, in key widths (staggered keyboards).
const ROW_OFFSET: [f32; 4] = [0.0, 0.5, 0.75, 1.25];

fn build(layout: KeyboardLayout) -> Vec<Vec<char>> {
    let rows = layout.rows();
    let mut keys: Vec<(char, f32, f32)> = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for (i, c) in row.chars().enumerate() {
            keys.push((c, r as f32, i as f32 + ROW_OFFSET[r]));
        }
    }
    let mut table = vec![Vec::new(); 128];
    for &(c, r0, x0) in &keys {
        let near: Vec<char> = keys
            .iter()
            .filter(|&&(k, r, x)| {
                let (dy, dx) = (r - r0, x - x0);
                k != c && dy.abs() <= 1.0 && dx.abs() <= 1.0 && dy * dy + dx * dx <= 1.6
            })
            .map(|&(k, _, _)| k)
            .collect();
        if c.is_ascii_alphabetic() {
            table[c.to_ascii_uppercase() as usize] = near
                .iter()
                .map(|k| if k.is_ascii_alphabetic() { k.to_ascii_uppercase() } else { *k })
                .collect();
        }
        table[c as usize] = near;
    }
    table
}

fn qwerty() -> &'static [Vec<char>] {
    static T: OnceLock<Vec<Vec<char>>> = OnceLock::new();
    T.get_or_init(|| build(KeyboardLayout::Qwerty))
}

fn azerty() -> &'static [Vec<char>] {
    static T: OnceLock<Vec<Vec<char>>> = OnceLock::new();
    T.get_or_init(|| build(KeyboardLayout::Azerty))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(layout: KeyboardLayout, c: char) -> Vec<char> {
        let mut n = layout.neighbours(c).to_vec();
        n.sort_unstable();
        n
    }

    #[test]
    fn qwerty_neighbours_of_g_are_its_surroundings() {
        assert_eq!(sorted(KeyboardLayout::Qwerty, 'g'), vec!['b', 'f', 'h', 't', 'v', 'y']);
        assert!(
            KeyboardLayout::Qwerty
                .neighbours('Q')
                .iter()
                .filter(|c| c.is_alphabetic())
                .all(char::is_ascii_uppercase)
        );
        assert!(KeyboardLayout::Qwerty.neighbours('é').is_empty());
    }

    #[test]
    fn azerty_moves_a_q_w_and_m() {
        assert!(sorted(KeyboardLayout::Azerty, 'a').contains(&'z'));
        assert!(sorted(KeyboardLayout::Azerty, 'a').contains(&'q'));
        assert!(sorted(KeyboardLayout::Azerty, 'm').contains(&'l'));
        assert!(sorted(KeyboardLayout::Azerty, 'w').contains(&'x'));
        assert_eq!(KeyboardLayout::from_name("AZERTY"), Some(KeyboardLayout::Azerty));
        assert_eq!(KeyboardLayout::from_name("dvorak"), None);
    }
}
