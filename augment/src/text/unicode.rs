//! Unicode tricks: look-alike characters, invisible characters,
//! bidirectional overrides, styled and upside-down letters.
//!
//! Each op chooses the severity's share of words (10..50%). Only graphemes
//! made of one code point are remapped, so a letter with a combining accent
//! or an emoji sequence is kept whole.

use rand::Rng as _;

use super::TextOp;
use super::chars::{any_word, info};
use super::clusters::{Clusters, bytes_are_clusters, char_diff, has_two_clusters, positions, single_char};
use super::words::{perturb_words, perturb_words_counted};
use crate::seed::Rng;

/// `homoglyph`: replaces one letter per chosen word with a Cyrillic or Greek
/// confusable that renders identically in most fonts.
pub(crate) const HOMOGLYPH: TextOp = TextOp::new(
    info("homoglyph", "swaps one letter per chosen word for a Cyrillic/Greek look-alike"),
    |input, s, rng, _| {
        perturb_words(input, s, rng, 1, |w| w.chars().any(|c| confusable(c).is_some()), homoglyph_into)
    },
);

/// `similar_unicode`: replaces one letter or digit per chosen word with a
/// similar-looking character: accented, full-width (AugLy's
/// replace_similar_unicode_chars).
pub(crate) const SIMILAR_UNICODE: TextOp = TextOp::new(
    info(
        "similar_unicode",
        "swaps one letter per chosen word for an accented or full-width variant: a→á, e→ｅ",
    ),
    |input, s, rng, _| {
        perturb_words(input, s, rng, 2, |w| w.chars().any(|c| c.is_ascii_alphanumeric()), similar_into)
    },
);

/// `zero_width`: inserts one invisible character inside each chosen word.
pub(crate) const ZERO_WIDTH: TextOp = TextOp::new(
    info("zero_width", "inserts a zero-width space, joiner or word joiner inside each chosen word"),
    |input, s, rng, _| perturb_words(input, s, rng, 3, any_word, zero_width_into),
);

/// `bidi`: writes each chosen word reversed inside a right-to-left override,
/// so it renders unchanged but reads backwards (AugLy's
/// replace_bidirectional, per word).
pub(crate) const BIDI: TextOp = TextOp::new(
    info("bidi", "stores chosen words reversed inside RLO…PDF so they render unchanged"),
    |input, s, rng, _| {
        perturb_words_counted(input, s, rng, 6, has_two_clusters, |w, _, out| Some(bidi_into(w, out)))
    },
);

/// `fun_fonts`: writes each chosen word in one Mathematical Alphanumeric
/// style (bold, script, fraktur, sans-serif, monospace).
pub(crate) const FUN_FONTS: TextOp = TextOp::new(
    info("fun_fonts", "writes chosen words in a mathematical alphanumeric style: 𝐛𝐨𝐥𝐝, 𝓼𝓬𝓻𝓲𝓹𝓽, 𝚖𝚘𝚗𝚘"),
    |input, s, rng, _| {
        perturb_words(input, s, rng, 24, |w| w.chars().any(|c| c.is_ascii_alphanumeric()), fun_font_into)
    },
);

/// `upside_down`: writes each chosen word upside down (letters flipped,
/// order reversed), `hello` → `ollǝɥ` (AugLy's replace_upside_down, per word).
pub(crate) const UPSIDE_DOWN: TextOp = TextOp::new(
    info("upside_down", "writes chosen words upside down: hello → ollǝɥ"),
    |input, s, rng, _| {
        perturb_words(
            input,
            s,
            rng,
            8,
            |w| w.chars().any(|c| flip(c).is_some()),
            |w, _, out| {
                upside_down_into(w, out);
                true
            },
        )
    },
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
pub(crate) const INVISIBLE: [char; 4] = ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}'];

/// Right-to-left override and pop directional formatting.
const RLO: char = '\u{202E}';
const PDF: char = '\u{202C}';

fn homoglyph_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    let able = positions(&g, |c| confusable(c).is_some());
    let able = able.as_slice();
    if able.is_empty() {
        return false;
    }
    let i = able[rng.random_range(0..able.len())];
    let Some(to) = single_char(g.get(i)).and_then(confusable) else { return false };
    g.push_replaced(out, i, to.encode_utf8(&mut [0; 4]));
    true
}

/// Accented variants of each lowercase letter a..z.
const ACCENTED: [&str; 26] = [
    "àáâãäåāą",
    "ḃḅ",
    "çćĉċč",
    "ďḋḍ",
    "èéêëēėęě",
    "ḟ",
    "ĝğġģ",
    "ĥḣḥ",
    "ìíîïīį",
    "ĵ",
    "ķḱ",
    "ĺļľḷ",
    "ḿṁṃ",
    "ñńņňṅ",
    "òóôõöøōő",
    "ṕṗ",
    "q",
    "ŕŗřṙ",
    "śŝşšṡ",
    "ţťṫ",
    "ùúûüūůűų",
    "ṽṿ",
    "ŵẁẃẅ",
    "ẋẍ",
    "ýÿŷẏ",
    "źżžẓ",
];

/// A look-similar variant of an ASCII letter or digit: accented (in the
/// letter's case) or full-width.
fn similar(c: char, rng: &mut Rng) -> Option<char> {
    if !c.is_ascii_alphanumeric() {
        return None;
    }
    let fullwidth = char::from_u32(u32::from(c) + 0xFEE0);
    if c.is_ascii_digit() {
        return fullwidth;
    }
    let lower = c.to_ascii_lowercase();
    let variants = || ACCENTED[usize::from(lower as u8 - b'a')].chars().filter(move |v| *v != lower);
    let count = variants().count();
    // One draw in four is full-width, the rest accented.
    if count == 0 || rng.random_range(0..4) == 0 {
        return fullwidth;
    }
    let v = variants().nth(rng.random_range(0..count))?;
    if c.is_ascii_uppercase() {
        let mut up = v.to_uppercase();
        match (up.next(), up.next()) {
            (Some(u), None) => Some(u),
            _ => fullwidth,
        }
    } else {
        Some(v)
    }
}

fn similar_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    let able = positions(&g, |c| c.is_ascii_alphanumeric());
    let able = able.as_slice();
    if able.is_empty() {
        return false;
    }
    let i = able[rng.random_range(0..able.len())];
    let Some(to) = single_char(g.get(i)).and_then(|c| similar(c, rng)) else { return false };
    g.push_replaced(out, i, to.encode_utf8(&mut [0; 4]));
    true
}

fn zero_width_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let g = Clusters::new(word);
    if g.len() < 2 {
        return false;
    }
    let at = g.start(rng.random_range(1..g.len()));
    let mark = INVISIBLE[rng.random_range(0..INVISIBLE.len())];
    out.push_str(&word[..at]);
    out.push(mark);
    out.push_str(&word[at..]);
    true
}

/// Appends RLO, the word's grapheme clusters in reverse order, PDF;
/// returns the characters changed, as [`char_diff`] counts them.
fn bidi_into(word: &str, out: &mut String) -> usize {
    let mark = out.len();
    out.reserve(word.len() + RLO.len_utf8() + PDF.len_utf8());
    out.push(RLO);
    if bytes_are_clusters(word) {
        // No character in common with the marks at either end.
        word.bytes().rev().for_each(|b| out.push(char::from(b)));
        out.push(PDF);
        return word.len() + 2;
    }
    Clusters::new(word).push_reversed(out);
    out.push(PDF);
    char_diff(word, &out[mark..])
}

/// Mathematical Alphanumeric styles without holes: (capital A, small a,
/// digit zero).
const STYLES: [(u32, u32, u32); 7] = [
    (0x1D400, 0x1D41A, 0x1D7CE), // bold
    (0x1D468, 0x1D482, 0x1D7CE), // bold italic (bold digits)
    (0x1D4D0, 0x1D4EA, 0x1D7CE), // bold script (bold digits)
    (0x1D56C, 0x1D586, 0x1D7CE), // bold fraktur (bold digits)
    (0x1D5A0, 0x1D5BA, 0x1D7E2), // sans-serif
    (0x1D5D4, 0x1D5EE, 0x1D7EC), // sans-serif bold
    (0x1D670, 0x1D68A, 0x1D7F6), // monospace
];

fn fun_font_into(word: &str, rng: &mut Rng, out: &mut String) -> bool {
    let (upper, lower, digit) = STYLES[rng.random_range(0..STYLES.len())];
    let styled = |c: char| {
        let code = u32::from(c);
        let mapped = match c {
            'A'..='Z' => upper + code - u32::from('A'),
            'a'..='z' => lower + code - u32::from('a'),
            '0'..='9' => digit + code - u32::from('0'),
            _ => return None,
        };
        char::from_u32(mapped)
    };
    let g = Clusters::new(word);
    for part in g.iter() {
        match single_char(part).and_then(styled) {
            Some(c) => out.push(c),
            None => out.push_str(part),
        }
    }
    true
}

/// The upside-down form of a character, if it has one.
fn flip(c: char) -> Option<char> {
    const FROM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'";
    const TO: &str = "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹsʇnʌʍxʎz∀ꓭƆᗡƎℲ⅁HIſꓘ˥WNOԀΌᴚS⊥∩ΛMX⅄Z0ƖᘔƐㄣϛ9ㄥ86,";
    static TABLE: std::sync::OnceLock<[Option<char>; 128]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [None; 128];
        for (f, to) in FROM.bytes().zip(TO.chars()) {
            t[usize::from(f)] = Some(to);
        }
        t
    });
    if c.is_ascii() { table[c as usize] } else { None }
}

fn upside_down_into(word: &str, out: &mut String) {
    let g = Clusters::new(word);
    for part in g.iter().rev() {
        match single_char(part).and_then(flip) {
            Some(c) => out.push(c),
            None => out.push_str(part),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_segmentation::UnicodeSegmentation;

    fn to_string(edit: impl FnOnce(&mut String) -> bool) -> Option<String> {
        let mut out = String::new();
        edit(&mut out).then_some(out)
    }

    fn homoglyph_word(w: &str, r: &mut Rng) -> Option<String> {
        to_string(|o| homoglyph_into(w, r, o))
    }

    fn zero_width_word(w: &str, r: &mut Rng) -> Option<String> {
        to_string(|o| zero_width_into(w, r, o))
    }

    fn similar_word(w: &str, r: &mut Rng) -> Option<String> {
        to_string(|o| similar_into(w, r, o))
    }

    fn fun_font_word(w: &str, r: &mut Rng) -> Option<String> {
        to_string(|o| fun_font_into(w, r, o))
    }

    fn bidi_word(w: &str) -> String {
        let mut out = String::new();
        bidi_into(w, &mut out);
        out
    }

    fn upside_down_word(w: &str) -> String {
        let mut out = String::new();
        upside_down_into(w, &mut out);
        out
    }

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

    #[test]
    fn similar_unicode_keeps_the_letter_recognisable() {
        for seed in 0..40 {
            let mut r = crate::seed::rng(seed);
            let out = similar_word("A", &mut r).expect("letter");
            assert!("ÀÁÂÃÄÅĀĄＡ".contains(out.as_str()), "{out}");
            assert_eq!(similar_word("7", &mut r).as_deref(), Some("７"));
        }
    }

    #[test]
    fn bidi_and_upside_down_reverse_graphemes() {
        assert_eq!(bidi_word("abc"), "\u{202E}cba\u{202C}");
        assert_eq!(bidi_word("ne\u{301}"), "\u{202E}e\u{301}n\u{202C}");
        assert_eq!(upside_down_word("hello"), "ollǝɥ");
        assert_eq!(upside_down_word("Ye\u{301}s"), "se\u{301}⅄");
        assert_eq!(upside_down_word("22").graphemes(true).count(), 2);
    }

    #[test]
    fn bidi_counts_changed_chars_as_char_diff_does() {
        for w in ["ab", "word", "can't", "x1_y", "ne\u{301}", "東京", "ab\u{202C}", "\u{2170}\u{2171}", "a\r"]
        {
            let mut out = String::from("prefix ");
            let changed = bidi_into(w, &mut out);
            let edited = &out["prefix ".len()..];
            assert_eq!(changed, char_diff(w, edited), "{w:?} -> {edited:?}");
        }
    }

    #[test]
    fn fun_fonts_cover_letters_and_digits() {
        for seed in 0..20 {
            let mut r = crate::seed::rng(seed);
            let out = fun_font_word("Az9é", &mut r).expect("styled");
            assert_eq!(out.chars().count(), 4);
            assert!(out.ends_with('é'));
            assert!(out.chars().take(3).all(|c| ('\u{1D400}'..='\u{1D7FF}').contains(&c)), "{out}");
        }
    }
}
