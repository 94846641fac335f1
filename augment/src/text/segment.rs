//! Segmenting a text into Unicode words (UAX #29): the general path through
//! unicode-segmentation, and an ASCII fast path that scans bytes with bit
//! masks and gives the same segments (checked by tests).

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use super::Perturbed;
use super::protect;

/// What a word-boundary segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A word: holds at least one letter or digit.
    Word,
    /// Only whitespace.
    Space,
    /// Punctuation, symbols, emoji.
    Other,
}

/// One segment between Unicode word boundaries (UAX #29).
#[derive(Debug, Clone)]
pub(crate) struct Seg<'a> {
    /// The segment's text, a slice of the document.
    pub text: &'a str,
    /// Byte range in the document.
    pub range: Range<usize>,
    /// Word, space or other.
    pub kind: Kind,
    /// Overlaps a protected span: emitted byte for byte, never moved.
    pub frozen: bool,
}

impl Seg<'_> {
    /// A word an op may change.
    pub fn is_free_word(&self) -> bool {
        self.kind == Kind::Word && !self.frozen
    }

    /// Whitespace an op may remove.
    pub fn is_free_space(&self) -> bool {
        self.kind == Kind::Space && !self.frozen
    }
}

/// A text split at Unicode word boundaries, with protected segments marked.
#[derive(Debug)]
pub(crate) struct Doc<'a> {
    /// The whole text.
    pub text: &'a str,
    /// Its segments, in order; their concatenation is `text`.
    pub segs: Vec<Seg<'a>>,
    /// Number of word segments, protected or not.
    pub words_total: usize,
}

/// UAX #29 word-break classes of ASCII characters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ascii {
    Letter,
    Numeric,
    ExtendNumLet,
    /// `:` (MidLetter)
    MidLetter,
    /// `,` `;` (MidNum)
    MidNum,
    /// `.` `'` (MidNumLet, Single_Quote)
    MidNumLet,
    Space,
    Cr,
    Newline,
    Other,
}

/// [`ascii_class`] of every byte below 128, looked up once per byte.
const ASCII_CLASSES: [Ascii; 128] = {
    let mut t = [Ascii::Other; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = ascii_class(i as u8);
        i += 1;
    }
    t
};

#[inline]
fn class_at(b: &[u8], i: usize) -> Ascii {
    match b.get(i) {
        Some(&c) if c < 128 => ASCII_CLASSES[c as usize],
        _ => Ascii::Other,
    }
}

const fn ascii_class(b: u8) -> Ascii {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => Ascii::Letter,
        b'0'..=b'9' => Ascii::Numeric,
        b'_' => Ascii::ExtendNumLet,
        b':' => Ascii::MidLetter,
        b',' | b';' => Ascii::MidNum,
        b'.' | b'\'' => Ascii::MidNumLet,
        b' ' => Ascii::Space,
        b'\r' => Ascii::Cr,
        b'\n' | 0x0B | 0x0C => Ascii::Newline,
        _ => Ascii::Other,
    }
}

/// UAX #29 word boundaries of an all-ASCII text, the same segments as
/// `split_word_bound_indices` (checked by a test) several times faster.
struct AsciiWords<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Iterator for AsciiWords<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        let start = self.at;
        if start >= b.len() {
            return None;
        }
        let class = |i: usize| class_at(b, i);
        let wordy = |c: Ascii| matches!(c, Ascii::Letter | Ascii::Numeric | Ascii::ExtendNumLet);
        let mut end = start + 1;
        match class_at(b, start) {
            Ascii::Cr if b.get(end) == Some(&b'\n') => end += 1,
            Ascii::Space => {
                while class(end) == Ascii::Space {
                    end += 1;
                }
            }
            c if wordy(c) => {
                let mut last = c;
                loop {
                    let next = class(end);
                    if wordy(next) {
                        last = next;
                        end += 1;
                        continue;
                    }
                    let after = class(end + 1);
                    // WB6/7: letter (MidLetter | MidNumLetQ) letter; WB11/12: the same
                    // for digits with MidNum.
                    let joins = matches!(
                        (last, next, after),
                        (Ascii::Letter, Ascii::MidLetter | Ascii::MidNumLet, Ascii::Letter)
                            | (Ascii::Numeric, Ascii::MidNum | Ascii::MidNumLet, Ascii::Numeric)
                    );
                    if !joins || end + 1 >= b.len() {
                        break;
                    }
                    last = after;
                    end += 2;
                }
            }
            _ => {}
        }
        self.at = end;
        Some((start, &self.text[start..end]))
    }
}

/// The kind of an ASCII segment that is not a word: whitespace as
/// `char::is_whitespace` defines it (tab to CR, space), else other.
fn ascii_kind(segment: &str) -> Kind {
    if segment.bytes().all(|b| matches!(b, b'\t'..=b'\r' | b' ')) { Kind::Space } else { Kind::Other }
}

/// Whether a segment is a word (contains a letter or digit).
fn is_word(segment: &str) -> bool {
    if segment.is_ascii() {
        return segment.bytes().any(|b| b.is_ascii_alphanumeric());
    }
    segment.chars().any(char::is_alphanumeric)
}

impl<'a> Doc<'a> {
    /// Segments `text`; segments overlapping a `protected` byte range are frozen.
    pub fn new(text: &'a str, protected: &[Range<usize>]) -> Self {
        Self::ascii(text, protected).unwrap_or_else(|| Self::unicode(text, protected))
    }

    fn unicode(text: &'a str, protected: &[Range<usize>]) -> Self {
        let mut words_total = 0;
        let mut segs = Vec::with_capacity(text.len() / 2 + 2);
        segs.extend(text.split_word_bound_indices().map(|(start, s)| {
            let range = start..start + s.len();
            let kind = if is_word(s) {
                words_total += 1;
                Kind::Word
            } else if s.chars().all(char::is_whitespace) {
                Kind::Space
            } else {
                Kind::Other
            };
            let frozen = protect::overlaps(protected, &range);
            Seg { text: s, range, kind, frozen }
        }));
        Doc { text, segs, words_total }
    }

    /// [`Doc::new`] for ASCII text: the words from [`each_ascii_word`], the
    /// bytes between them segmented by [`AsciiWords`] (a segment there never
    /// reaches into a word, so the gap alone gives the same segments).
    /// `None` when the text is not ASCII.
    fn ascii(text: &'a str, protected: &[Range<usize>]) -> Option<Self> {
        let mut segs = Vec::with_capacity(text.len() / 2 + 2);
        let mut push = |range: Range<usize>, kind: Kind| {
            let frozen = protect::overlaps(protected, &range);
            segs.push(Seg { text: &text[range.clone()], range, kind, frozen });
        };
        fn gap(text: &str, from: usize, to: usize, push: &mut impl FnMut(Range<usize>, Kind)) {
            let between = &text[from..to];
            if between.len() == 1 {
                push(from..to, ascii_kind(between));
                return;
            }
            for (start, s) in (AsciiWords { text: between, at: 0 }) {
                push(from + start..from + start + s.len(), ascii_kind(s));
            }
        }
        let mut at = 0;
        let words_total = each_ascii_word(text, |start, end| {
            if at < start {
                gap(text, at, start, &mut push);
            }
            push(start..end, Kind::Word);
            at = end;
        })?;
        if at < text.len() {
            gap(text, at, text.len(), &mut push);
        }
        Some(Doc { text, segs, words_total })
    }

    /// Indices of the free words that `applicable` accepts.
    pub fn candidates(&self, applicable: impl Fn(&str) -> bool) -> Vec<usize> {
        self.segs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_free_word() && applicable(s.text))
            .map(|(i, _)| i)
            .collect()
    }

    /// The unchanged text as a result.
    pub fn unchanged(&self) -> Perturbed {
        Perturbed::identity(self.text)
    }
}

/// Calls `word(start, segment, frozen)` for every word segment of `text`
/// (a Unicode word-boundary segment holding a letter or digit), in order,
/// without collecting the segments; returns the number of words.
pub(crate) fn each_word<'a>(
    text: &'a str,
    protected: &[Range<usize>],
    mut word: impl FnMut(usize, &'a str, bool),
) -> usize {
    let ascii = each_ascii_word(text, |start, end| {
        word(start, &text[start..end], protect::overlaps(protected, &(start..end)))
    });
    if let Some(total) = ascii {
        return total;
    }
    let mut total = 0;
    for (start, s) in text.split_word_bound_indices().filter(|(_, s)| is_word(s)) {
        total += 1;
        word(start, s, protect::overlaps(protected, &(start..start + s.len())));
    }
    total
}

/// Byte flags for [`each_ascii_word`]: starts or continues a word segment
/// (letter, digit, `_`); letter or digit.
const WORDY: u8 = 1;
const ALNUM: u8 = 2;
const ASCII_FLAGS: [u8; 128] = {
    let mut t = [0; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = match ascii_class(i as u8) {
            Ascii::Letter | Ascii::Numeric => WORDY | ALNUM,
            Ascii::ExtendNumLet => WORDY,
            _ => 0,
        };
        i += 1;
    }
    t
};

/// [`each_word`] for an all-ASCII text in one pass over its bytes: calls
/// `word(start, end)` for each word segment, the same segments as
/// [`AsciiWords`] filtered by [`is_word`] (checked by a test). A segment
/// holding a letter, digit or `_` starts at such a byte after any other
/// segment (spaces, CR LF and single other bytes never absorb one), so the
/// bytes in between need no segmenting.
///
/// Returns `None`, before calling `word`, when the text is not ASCII.
fn each_ascii_word(text: &str, word: impl FnMut(usize, usize)) -> Option<usize> {
    let blocks = text.len().div_ceil(64);
    if blocks <= SHORT_BLOCKS {
        each_ascii_word_masked::<SHORT_BLOCKS>(text, word)
    } else if blocks <= MASK_BLOCKS {
        each_ascii_word_masked::<MASK_BLOCKS>(text, word)
    } else {
        text.is_ascii().then(|| each_ascii_word_bytewise(text, word))
    }
}

/// [`each_ascii_word`] for texts of at most `BLOCKS` 64-byte blocks, in
/// three passes over bit masks (one bit per byte): [`mark_ascii_bits`],
/// [`apply_joins`], [`emit_word_runs`]. Runs of set bits are found with bit
/// scans instead of a branch per byte.
fn each_ascii_word_masked<const BLOCKS: usize>(text: &str, word: impl FnMut(usize, usize)) -> Option<usize> {
    let b = text.as_bytes();
    let (mut wordy, mut joiners) = ([0u64; BLOCKS], [0u64; BLOCKS]);
    if !mark_ascii_bits(b, &mut wordy, &mut joiners) {
        return None;
    }
    let blocks = b.len().div_ceil(64);
    apply_joins(b, &mut wordy, &joiners, blocks);
    Some(emit_word_runs(b, &wordy, blocks, word))
}

/// Sets a bit in `wordy` for every letter, digit or `_` of `b`, and in
/// `joiners` for every byte that may join two words (a superset of `:` `.`
/// `,` `;` `'`, so the spaces between words need no look-up). Returns
/// `false` when `b` is not ASCII.
#[inline]
fn mark_ascii_bits<const BLOCKS: usize>(
    b: &[u8],
    wordy: &mut [u64; BLOCKS],
    joiners: &mut [u64; BLOCKS],
) -> bool {
    let mut high = 0;
    let mut mark = |j: usize, x: u64| {
        high |= x;
        let (word, joiner) = ascii_bits(x);
        wordy[j / 8] |= word << (8 * (j % 8));
        joiners[j / 8] |= joiner << (8 * (j % 8));
    };
    let mut chunks = b.chunks_exact(8);
    for (j, chunk) in chunks.by_ref().enumerate() {
        mark(j, <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        // Byte by byte: a copy of a variable-length tail would call memcpy.
        let x = tail.iter().rev().fold(0, |x, &c| x << 8 | u64::from(c));
        mark(b.len() / 8, x);
    }
    high & 0x8080_8080_8080_8080 == 0
}

/// Bit `shift` of mask block `k`, 0 past the last block.
#[inline]
fn mask_bit<const BLOCKS: usize>(w: &[u64; BLOCKS], k: usize, shift: u32) -> u64 {
    w.get(k).map_or(0, |m| m >> shift & 1)
}

/// WB6/7 and WB11/12, as in `AsciiWords`: a `:` `.` `,` `;` `'` between
/// letter and letter (or digit and digit) joins them. Such a byte lies
/// between two wordy bytes; marks the ones that join as wordy too (a
/// joining byte has wordy bytes on both sides, so joins never interact).
#[inline]
fn apply_joins<const BLOCKS: usize>(
    b: &[u8],
    wordy: &mut [u64; BLOCKS],
    joiners: &[u64; BLOCKS],
    blocks: usize,
) {
    for k in 0..blocks {
        let m = wordy[k];
        let before = m << 1 | if k > 0 { mask_bit(wordy, k - 1, 63) } else { 0 };
        let after = m >> 1 | mask_bit(wordy, k + 1, 0) << 63;
        let mut gaps = !m & before & after & joiners[k];
        while gaps != 0 {
            let at = gaps.trailing_zeros();
            gaps &= gaps - 1;
            let p = k * 64 + at as usize;
            if matches!(
                (class_at(b, p - 1), class_at(b, p), class_at(b, p + 1)),
                (Ascii::Letter, Ascii::MidLetter | Ascii::MidNumLet, Ascii::Letter)
                    | (Ascii::Numeric, Ascii::MidNum | Ascii::MidNumLet, Ascii::Numeric)
            ) {
                wordy[k] |= 1 << at;
            }
        }
    }
}

/// Calls `word(start, end)` for each run of set bits in `wordy` that holds
/// a letter or digit, in order; returns how many. The first and last bit of
/// each run are taken block by block (a run may span blocks).
#[inline]
fn emit_word_runs<const BLOCKS: usize>(
    b: &[u8],
    wordy: &[u64; BLOCKS],
    blocks: usize,
    mut word: impl FnMut(usize, usize),
) -> usize {
    let (mut total, mut start) = (0, 0);
    for k in 0..blocks {
        let m = wordy[k];
        let before = if k > 0 { mask_bit(wordy, k - 1, 63) } else { 0 };
        let mut firsts = m & !(m << 1 | before);
        let mut lasts = m & !(m >> 1 | mask_bit(wordy, k + 1, 0) << 63);
        while lasts != 0 {
            let last = lasts.trailing_zeros();
            lasts &= lasts - 1;
            if firsts != 0 && firsts.trailing_zeros() <= last {
                start = k * 64 + firsts.trailing_zeros() as usize;
                firsts &= firsts - 1;
            }
            let end = k * 64 + last as usize + 1;
            // A run without a letter or digit is all `_`: joiners only join
            // letters or digits.
            if b[start] != b'_' || b[start..end].iter().any(u8::is_ascii_alphanumeric) {
                total += 1;
                word(start, end);
            }
        }
        if firsts != 0 {
            start = k * 64 + firsts.trailing_zeros() as usize;
        }
    }
    total
}

/// For eight ASCII bytes (little-endian), computed on all eight at once:
/// bit `i` of the first mask set when byte `i` is a letter, digit or `_`;
/// of the second when it lies in `'`..=`;`, which holds every byte that can
/// join two words.
#[inline]
fn ascii_bits(x: u64) -> (u64, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // For bytes below 128, adding 128 - lo sets a byte's high bit exactly
    // when it is at least lo, with no carry into the next byte.
    let at_least = |v: u64, lo: u8| v.wrapping_add(ONES * u64::from(0x80 - lo));
    let lower = x | (ONES * 0x20);
    let letter = at_least(lower, b'a') & !at_least(lower, b'z' + 1);
    let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
    let u = x ^ (ONES * u64::from(b'_'));
    let underscore = !(u.wrapping_add(ONES * 0x7F) | u);
    let joiner = at_least(x, b'\'') & !at_least(x, b';' + 1);
    // Gather the eight high bits of each into a low byte.
    let gather = |v: u64| ((v & (ONES * 0x80)) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    (gather(letter | digit | underscore), gather(joiner))
}

/// Texts up to this many 64-byte blocks are scanned with bit masks on the
/// stack; longer ones byte by byte.
const MASK_BLOCKS: usize = 32;
/// Mask size for sentence-length texts, so their arrays are cheap to clear.
const SHORT_BLOCKS: usize = 4;

/// [`each_ascii_word`] one byte at a time, for long texts.
fn each_ascii_word_bytewise(text: &str, mut word: impl FnMut(usize, usize)) -> usize {
    let b = text.as_bytes();
    let flags = |c: u8| ASCII_FLAGS[usize::from(c & 0x7F)];
    let (mut total, mut i) = (0, 0);
    while i < b.len() {
        if flags(b[i]) & WORDY == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let (mut seen, mut end) = (0, i);
        loop {
            while let Some(&c) = b.get(end) {
                let f = flags(c);
                if f & WORDY == 0 {
                    break;
                }
                seen |= f;
                end += 1;
            }
            // WB6/7 and WB11/12, as in `AsciiWords`: letter (MidLetter |
            // MidNumLet) letter, digit (MidNum | MidNumLet) digit.
            let joins = matches!(
                (class_at(b, end - 1), class_at(b, end), class_at(b, end + 1)),
                (Ascii::Letter, Ascii::MidLetter | Ascii::MidNumLet, Ascii::Letter)
                    | (Ascii::Numeric, Ascii::MidNum | Ascii::MidNumLet, Ascii::Numeric)
            );
            if !joins {
                break;
            }
            end += 2;
        }
        if seen & ALNUM != 0 {
            total += 1;
            word(start, end);
        }
        i = end;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng;

    #[test]
    fn segments_know_their_kind_and_protection() {
        let doc = Doc::new("Hi, mail x@y.z now", std::slice::from_ref(&(9..14)));
        let kinds: Vec<(&str, Kind, bool)> = doc.segs.iter().map(|s| (s.text, s.kind, s.frozen)).collect();
        assert_eq!(kinds[0], ("Hi", Kind::Word, false));
        assert_eq!(kinds[1], (",", Kind::Other, false));
        assert_eq!(kinds[2], (" ", Kind::Space, false));
        assert!(kinds.iter().filter(|k| k.2).all(|k| "x@y.z".contains(k.0)));
        assert_eq!(doc.candidates(|_| true).len(), 3);
    }

    #[test]
    fn ascii_fast_path_matches_uax29() {
        let alphabet = b"ab1 _:.,;'\r\n\t\x0b-\"$";
        let mut r = rng(9);
        for _ in 0..20_000 {
            let len = rand::Rng::random_range(&mut r, 0..12);
            let text: String = (0..len)
                .map(|_| char::from(alphabet[rand::Rng::random_range(&mut r, 0..alphabet.len())]))
                .collect();
            let fast: Vec<(usize, &str)> = AsciiWords { text: &text, at: 0 }.collect();
            let slow: Vec<(usize, &str)> = text.split_word_bound_indices().collect();
            assert_eq!(fast, slow, "{text:?}");
        }
    }

    #[test]
    fn ascii_word_scan_matches_segmenting() {
        let alphabet = b"aZb1 _:.,;'\r\n\t\x0b-\"$@[`{/09\x7f^\x00zA~";
        let mut r = rng(11);
        for round in 0..20_000 {
            // Short texts for the corner cases, long ones across mask blocks
            // and past the block limit.
            let len = match round % 100 {
                0 => rand::Rng::random_range(&mut r, 60..2200),
                _ => rand::Rng::random_range(&mut r, 0..14),
            };
            let text: String = (0..len)
                .map(|_| char::from(alphabet[rand::Rng::random_range(&mut r, 0..alphabet.len())]))
                .collect();
            let slow: Vec<(usize, &str)> =
                text.split_word_bound_indices().filter(|(_, s)| is_word(s)).collect();
            let mut fast = Vec::new();
            let total = each_ascii_word(&text, |s, e| fast.push((s, &text[s..e])));
            let total = total.expect("ASCII text");
            assert_eq!(fast, slow, "{text:?}");
            assert_eq!(total, slow.len());
            let mut bytewise = Vec::new();
            each_ascii_word_bytewise(&text, |s, e| bytewise.push((s, &text[s..e])));
            assert_eq!(bytewise, slow, "{text:?}");
        }
    }

    #[test]
    fn ascii_segments_match_the_unicode_path() {
        for c in 0u8..128 {
            let s = char::from(c).to_string();
            let want = if s.chars().all(char::is_whitespace) { Kind::Space } else { Kind::Other };
            assert_eq!(ascii_kind(&s), want, "{c}");
        }
        let alphabet = b"aZb1 _:.,;'\r\n\t\x0b-\"$@[`{/09\x7f^\x00zA~";
        let mut r = rng(12);
        for round in 0..20_000 {
            let len = if round % 100 == 0 { 2100 } else { rand::Rng::random_range(&mut r, 0..16) };
            let text: String = (0..len)
                .map(|_| char::from(alphabet[rand::Rng::random_range(&mut r, 0..alphabet.len())]))
                .collect();
            let protected = [3..5, 9..10];
            let (fast, slow) =
                (Doc::ascii(&text, &protected).expect("ASCII text"), Doc::unicode(&text, &protected));
            let view = |d: &Doc<'_>| -> Vec<(Range<usize>, Kind, bool)> {
                d.segs.iter().map(|s| (s.range.clone(), s.kind, s.frozen)).collect()
            };
            assert_eq!(view(&fast), view(&slow), "{text:?}");
            assert_eq!(fast.words_total, slow.words_total);
        }
    }

    #[test]
    fn ascii_bits_classify_every_ascii_byte() {
        for c in 0u8..128 {
            for at in 0..8 {
                let mut chunk = [b' '; 8];
                chunk[at] = c;
                let wordy = c.is_ascii_alphanumeric() || c == b'_';
                let joiner = (b'\''..=b';').contains(&c);
                let want = (u64::from(wordy) << at, u64::from(joiner) << at);
                assert_eq!(ascii_bits(u64::from_le_bytes(chunk)), want, "{c} at {at}");
                chunk[at + 1..].fill(0);
                assert_eq!(ascii_bits(u64::from_le_bytes(chunk)), want, "{c} at {at}");
            }
        }
    }
}
