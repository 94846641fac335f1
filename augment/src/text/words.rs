//! Segmenting a text into Unicode words and choosing which words an op
//! perturbs.

use std::ops::Range;

use rand::Rng as _;
use rand::seq::index;
use unicode_segmentation::UnicodeSegmentation;

use super::Perturbed;
use super::protect;
use crate::seed::Rng;
use crate::severity::Severity;

/// Share of eligible words perturbed at severities 1..=5 (at least one word).
pub(crate) const WORD_SHARE: [f32; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

/// The parameter row every word-level op documents.
pub(crate) const WORD_SHARE_PARAM: crate::catalog::Param =
    crate::catalog::Param { name: "share_of_words", values: ["10%", "20%", "30%", "40%", "50%"] };

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

/// How many of `n` candidates a severity perturbs: the documented share,
/// rounded up, at least one (none when `n` is 0).
pub(crate) fn share_count(n: usize, severity: Severity) -> usize {
    if n == 0 {
        return 0;
    }
    ((n as f32 * severity.pick(&WORD_SHARE)).ceil() as usize).clamp(1, n)
}

/// Largest sample drawn with Floyd's algorithm into a stack buffer: rand's
/// `index::sample` uses Floyd's algorithm up to this many indices (of at most
/// `u32::MAX`), so the draws and the result are the same as calling it.
const FLOYD_MAX: usize = 11;

/// `k` distinct positions out of `0..n`, sorted, the same as rand's
/// `index::sample` sorted; no allocation for up to [`FLOYD_MAX`] positions.
pub(crate) fn choose(rng: &mut Rng, n: usize, k: usize) -> Small<usize, FLOYD_MAX> {
    let k = k.min(n);
    let mut chosen = Small::new();
    match u32::try_from(n) {
        Ok(length) if k <= FLOYD_MAX => {
            // rand 0.9's `sample_floyd`, draw for draw, kept as a bit set
            // (the same set: a drawn `t` already taken adds `j` instead).
            if length <= 64 {
                let mut set = 0u64;
                for j in length - k as u32..length {
                    let t: u32 = rng.random_range(..=j);
                    set |= 1 << if set >> t & 1 == 1 { j } else { t };
                }
                while set != 0 {
                    chosen.push(set.trailing_zeros() as usize);
                    set &= set - 1;
                }
                return chosen;
            }
            let mut picked = [0u32; FLOYD_MAX];
            let mut len = 0;
            for j in length - k as u32..length {
                let t: u32 = rng.random_range(..=j);
                if let Some(pos) = picked[..len].iter().position(|&x| x == t) {
                    picked[pos] = j;
                }
                picked[len] = t;
                len += 1;
            }
            picked[..len].sort_unstable();
            for &p in &picked[..len] {
                chosen.push(p as usize);
            }
        }
        _ => {
            let mut all = index::sample(rng, n, k).into_vec();
            all.sort_unstable();
            for p in all {
                chosen.push(p);
            }
        }
    }
    chosen
}

/// A vector that keeps its first `N` items on the stack (left
/// uninitialised until pushed, so a large `N` costs nothing up front).
pub(crate) struct Small<T, const N: usize>(smallvec::SmallVec<[T; N]>);

impl<T: Copy + Default, const N: usize> Small<T, N> {
    pub fn new() -> Self {
        Small(smallvec::SmallVec::new())
    }

    #[inline]
    pub fn push(&mut self, item: T) {
        self.0.push(item);
    }

    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.0
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

/// [`each_ascii_word`] for texts of at most `BLOCKS` 64-byte blocks.
fn each_ascii_word_masked<const BLOCKS: usize>(
    text: &str,
    mut word: impl FnMut(usize, usize),
) -> Option<usize> {
    let b = text.as_bytes();
    let n = b.len();
    // One bit per byte: letter, digit or `_`. Runs of set bits are found
    // with bit scans instead of a branch per byte.
    // A second bit array marks the bytes that may join two words (a superset
    // of `:` `.` `,` `;` `'`), so the spaces between words need no look-up.
    let (mut wordy, mut joiners, mut high) = ([0u64; BLOCKS], [0u64; BLOCKS], 0);
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
        mark(n / 8, x);
    }
    if high & 0x8080_8080_8080_8080 != 0 {
        return None;
    }
    let blocks = n.div_ceil(64);
    let bit = |w: &[u64; BLOCKS], k: usize, shift: u32| w.get(k).map_or(0, |m| m >> shift & 1);
    // WB6/7 and WB11/12, as in `AsciiWords`: a `:` `.` `,` `;` `'` between
    // letter and letter (or digit and digit) joins them. Such a byte lies
    // between two wordy bytes; mark the ones that join as wordy too (a
    // joining byte has wordy bytes on both sides, so joins never interact).
    for k in 0..blocks {
        let m = wordy[k];
        let before = m << 1 | if k > 0 { bit(&wordy, k - 1, 63) } else { 0 };
        let after = m >> 1 | bit(&wordy, k + 1, 0) << 63;
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
    // Word segments are the runs of set bits: first and last bit of each,
    // taken in order block by block (a run may span blocks).
    let (mut total, mut start) = (0, 0);
    for k in 0..blocks {
        let m = wordy[k];
        let before = if k > 0 { bit(&wordy, k - 1, 63) } else { 0 };
        let mut firsts = m & !(m << 1 | before);
        let mut lasts = m & !(m >> 1 | bit(&wordy, k + 1, 0) << 63);
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
    Some(total)
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

/// Characters that differ between `a` and `b` outside their common prefix
/// and suffix: exact for one insertion, deletion or substitution, an upper
/// bound otherwise.
pub(crate) fn char_diff(a: &str, b: &str) -> usize {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    // Common prefix and suffix in bytes, cut back to a char boundary: equal
    // bytes up to a boundary are equal chars, and the next chars differ.
    let mut prefix = x.iter().zip(y).take_while(|(p, q)| p == q).count();
    while !a.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let mut suffix = x.iter().rev().zip(y.iter().rev()).take_while(|(p, q)| p == q).count();
    while !a.is_char_boundary(a.len() - suffix) {
        suffix -= 1;
    }
    // Chars are the bytes that do not continue a UTF-8 sequence.
    let chars = |s: &str| s.bytes().filter(|&c| (c as i8) >= -0x40).count();
    let (la, lb) = (chars(a), chars(b));
    let (prefix, suffix) = (chars(&a[..prefix]), chars(&a[a.len() - suffix..]));
    la.max(lb) - (prefix + suffix).min(la.min(lb))
}

/// A word's grapheme clusters (bytes of ASCII text without CR, which are
/// the same clusters, found faster).
pub(crate) fn graphemes(word: &str) -> Vec<&str> {
    if bytes_are_clusters(word) {
        return (0..word.len()).map(|i| &word[i..i + 1]).collect();
    }
    word.graphemes(true).collect()
}

/// The single `char` of a one-codepoint grapheme.
pub(crate) fn single_char(grapheme: &str) -> Option<char> {
    let mut it = grapheme.chars();
    match (it.next(), it.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// `replacement` in the case pattern of `template`: all caps (two or more
/// letters), capitalised, or as given.
pub(crate) fn match_case(template: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(replacement.len());
    match_case_into(template, replacement, &mut out);
    out
}

/// [`match_case`], appended to `out`.
pub(crate) fn match_case_into(template: &str, replacement: &str, out: &mut String) {
    let mut letters = template.chars().filter(|c| c.is_alphabetic());
    let first_upper = letters.next().is_some_and(char::is_uppercase);
    if !first_upper {
        out.push_str(replacement);
        return;
    }
    let (mut more, mut all_upper) = (false, true);
    for c in letters {
        more = true;
        if !c.is_uppercase() {
            all_upper = false;
            break;
        }
    }
    if more && all_upper {
        if replacement.is_ascii() {
            out.extend(replacement.bytes().map(|b| char::from(b.to_ascii_uppercase())));
        } else {
            out.push_str(&replacement.to_uppercase());
        }
        return;
    }
    let mut chars = replacement.chars();
    if let Some(c) = chars.next() {
        out.extend(c.to_uppercase());
        out.push_str(chars.as_str());
    }
}

/// A word's grapheme clusters as byte offsets. ASCII text without CR has one
/// cluster per byte and needs no table, so it allocates nothing.
pub(crate) struct Clusters<'a> {
    word: &'a str,
    /// Start of each cluster and then the word's length; empty when every
    /// byte is a cluster.
    starts: Vec<usize>,
}

impl<'a> Clusters<'a> {
    pub fn new(word: &'a str) -> Self {
        if bytes_are_clusters(word) {
            return Clusters { word, starts: Vec::new() };
        }
        let mut starts: Vec<usize> = word.grapheme_indices(true).map(|(i, _)| i).collect();
        starts.push(word.len());
        Clusters { word, starts }
    }

    /// Number of clusters.
    pub fn len(&self) -> usize {
        if self.starts.is_empty() { self.word.len() } else { self.starts.len() - 1 }
    }

    /// Byte offset where cluster `i` starts (`len()` gives the word's end).
    pub fn start(&self, i: usize) -> usize {
        if self.starts.is_empty() { i } else { self.starts[i] }
    }

    /// Cluster `i`.
    pub fn get(&self, i: usize) -> &'a str {
        &self.word[self.start(i)..self.start(i + 1)]
    }

    /// The clusters in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &'a str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Appends the word with `sep` between every two clusters.
    pub fn push_interleaved(&self, out: &mut String, sep: char) {
        out.reserve(self.word.len() + self.len() * sep.len_utf8());
        if self.starts.is_empty() {
            for (j, b) in self.word.bytes().enumerate() {
                if j > 0 {
                    out.push(sep);
                }
                out.push(char::from(b));
            }
            return;
        }
        for (j, part) in self.iter().enumerate() {
            if j > 0 {
                out.push(sep);
            }
            out.push_str(part);
        }
    }

    /// Appends the clusters in reverse order.
    pub fn push_reversed(&self, out: &mut String) {
        if self.starts.is_empty() {
            let mut buf = [0u8; 32];
            if let Some(rev) = buf.get_mut(..self.word.len()) {
                rev.copy_from_slice(self.word.as_bytes());
                rev.reverse();
                if let Ok(rev) = std::str::from_utf8(rev) {
                    out.push_str(rev);
                    return;
                }
            }
            out.extend(self.word.bytes().rev().map(char::from));
        } else {
            self.iter().rev().for_each(|part| out.push_str(part));
        }
    }

    /// Appends the word with cluster `at` replaced by `with`.
    pub fn push_replaced(&self, out: &mut String, at: usize, with: &str) {
        out.push_str(&self.word[..self.start(at)]);
        out.push_str(with);
        out.push_str(&self.word[self.start(at + 1)..]);
    }
}

/// Whether every byte of `word` is a grapheme cluster of its own (ASCII
/// without CR).
pub(crate) fn bytes_are_clusters(word: &str) -> bool {
    word.bytes().fold(true, |ok, b| ok & b.is_ascii() & (b != b'\r'))
}

/// Whether `word` has at least two grapheme clusters.
#[inline]
pub(crate) fn has_two_clusters(word: &str) -> bool {
    match word.as_bytes() {
        // Two ASCII characters are two clusters unless they are CR LF, and
        // what follows cannot join the first.
        [a, b, ..] if a.is_ascii() && b.is_ascii() && *a != b'\r' => true,
        [_] | [] => false,
        _ => has_two_graphemes(word),
    }
}

/// [`has_two_clusters`] by segmenting, kept out of line so the ASCII test
/// inlines into the word scan.
#[cold]
#[inline(never)]
fn has_two_graphemes(word: &str) -> bool {
    word.graphemes(true).nth(1).is_some()
}

/// Positions of the one-code-point graphemes whose character `keep` accepts.
pub(crate) fn positions(g: &Clusters<'_>, keep: impl Fn(char) -> bool) -> Small<usize, 32> {
    let mut found = Small::new();
    for i in 0..g.len() {
        if single_char(g.get(i)).is_some_and(&keep) {
            found.push(i);
        }
    }
    found
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
        assert_eq!(share_count(10, sev(1)), 1);
        assert_eq!(share_count(11, sev(5)), 6);
        assert_eq!(share_count(0, sev(5)), 0);
    }

    #[test]
    fn keeps_separators() {
        let input = Input { text: "a,  b!", protected: &[] };
        let out = perturb_words(&input, sev(5), &mut rng(2), 0, |_| true, owned(|_, _| Some("x".into())));
        assert!(out.text == "x,  b!" || out.text == "a,  x!", "{}", out.text);
        assert_eq!(out.chars_changed, 1);
    }

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

    #[test]
    fn floyd_sampling_matches_rand() {
        // Up to 64 the set is kept as bits, above as a list.
        for n in 1..90 {
            for k in 0..=n.min(20) {
                for seed in 0..4 {
                    let (mut a, mut b) = (rng(seed), rng(seed));
                    let mut want = index::sample(&mut a, n, k).into_vec();
                    want.sort_unstable();
                    assert_eq!(choose(&mut b, n, k).as_slice(), want.as_slice(), "{n} {k}");
                    assert_eq!(rand::Rng::random::<u64>(&mut a), rand::Rng::random::<u64>(&mut b));
                }
            }
        }
    }

    #[test]
    fn small_spills_to_the_heap() {
        let mut s: Small<usize, 4> = Small::new();
        for i in 0..10 {
            s.push(i);
            assert_eq!(s.as_slice(), (0..=i).collect::<Vec<_>>().as_slice());
        }
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

    #[test]
    fn char_diff_counts_chars_not_bytes() {
        assert_eq!(char_diff("añb", "aéb"), 1);
        assert_eq!(char_diff("ab", "\u{202E}ba\u{202C}"), 4);
        assert_eq!(char_diff("é", "è"), 1);
        assert_eq!(char_diff("東京", "東"), 1);
        assert_eq!(char_diff("x\u{1D400}", "x\u{1D401}"), 1);
    }

    #[test]
    fn char_diff_counts_single_edits() {
        assert_eq!(char_diff("hello", "helo"), 1);
        assert_eq!(char_diff("hello", "hallo"), 1);
        assert_eq!(char_diff("hello", "hxello"), 1);
        assert_eq!(char_diff("ab", "ba"), 2);
        assert_eq!(char_diff("aaa", "aa"), 1);
    }

    #[test]
    fn case_follows_the_template() {
        assert_eq!(match_case("Good", "fine"), "Fine");
        assert_eq!(match_case("GOOD", "fine"), "FINE");
        assert_eq!(match_case("good", "fine"), "fine");
        assert_eq!(match_case("I", "we"), "We");
        assert_eq!(match_case("Über", "ñu"), "Ñu");
    }
}
