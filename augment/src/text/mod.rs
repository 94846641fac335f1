//! The text catalog: perturbations on Unicode strings.
//!
//! Everything works on grapheme clusters and Unicode word boundaries
//! (unicode-segmentation), never on bytes, so emoji, combining accents and
//! non-Latin scripts survive except where an op means to change them.
//!
//! # Severity
//! Every op perturbs a share of the eligible words of a text (a word is a
//! Unicode word segment holding at least one letter or digit): 10%, 20%, 30%,
//! 40% and 50% at severities 1..=5, at least one word. Character-level ops
//! make one edit inside each chosen word unless their doc says otherwise.
//! Ops that only apply to some words (`synonym`, `contractions`,
//! `replace_words`, `swap_gendered_words`, `ocr_error`, ...) draw that share
//! from the words they can change. Severity 0 is the identity.
//!
//! # Context
//! User data (protected spans, a synonym table, a replacement mapping, the
//! keyboard layout) travels in a [`TextContext`]; [`TextOp::apply_with`]
//! takes one and reports what changed in a [`Perturbed`]. Text matched by a
//! protected regex is never touched by any op.

mod chars;
mod clusters;
pub mod edits;
mod keyboard;
mod protect;
mod sample;
mod segment;
mod synonyms;
mod unicode;
mod word_ops;
mod words;

use std::collections::HashMap;

use regex::Regex;

pub use keyboard::KeyboardLayout;
pub use synonyms::SynonymTable;

use crate::catalog::OpInfo;
use crate::seed::{self, Rng};
use crate::severity::Severity;
use words::Input;

/// The signature every text operation implements. Severity is never 0 here.
pub(crate) type ApplyFn = fn(&Input<'_>, Severity, &mut Rng, &TextContext) -> Perturbed;

/// Errors in user-supplied text data: a synonym or replacement table, a
/// protected-span pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// A table line that does not follow the documented format.
    #[error("line {line}: {message} (got {text:?})")]
    Table {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: &'static str,
        /// The offending line, trimmed.
        text: String,
    },
    /// A protected-span pattern that is not a valid regex.
    #[error("protected pattern {pattern:?} is not a valid regex: {message}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// The regex compiler's message.
        message: String,
    },
}

/// A user mapping for `replace_words`: whole words, matched case-insensitively,
/// replaced with the given text (the case of the original word is carried
/// over: `Free` → `Gratis`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordMap {
    map: HashMap<String, String>,
    /// One bit per [`signature`] of the ASCII keys: most words are ruled
    /// out without hashing.
    ascii_signatures: [u64; 32],
}

/// A 11-bit digest of an ASCII word's length, first, second and last bytes,
/// lowercased.
fn signature(word: &[u8]) -> usize {
    let byte = |i: usize| u64::from(word.get(i).map_or(0, u8::to_ascii_lowercase));
    let packed = byte(0) | byte(1) << 8 | byte(word.len().wrapping_sub(1)) << 16 | (word.len() as u64) << 24;
    (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 53) as usize
}

impl WordMap {
    /// A mapping from `(from, to)` pairs; later pairs win.
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let map: HashMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.as_ref().to_lowercase(), v.into())).collect();
        let mut ascii_signatures = [0u64; 32];
        for key in map.keys().filter(|k| k.is_ascii()) {
            let sig = signature(key.as_bytes());
            ascii_signatures[sig / 64] |= 1 << (sig % 64);
        }
        WordMap { map, ascii_signatures }
    }

    /// Parses one mapping per line, `from: to` (or `from<TAB>to`); blank lines
    /// and lines starting with `#` are skipped. Errors name the line.
    pub fn parse(source: &str) -> Result<Self, TextError> {
        let mut pairs = Vec::new();
        for (n, raw) in source.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message| TextError::Table { line: n + 1, message, text: line.to_owned() };
            let (from, to) = line
                .split_once('\t')
                .or_else(|| line.split_once(':'))
                .ok_or(err("expected `word: replacement` or `word<TAB>replacement`"))?;
            let (from, to) = (from.trim(), to.trim());
            if from.is_empty() || to.is_empty() {
                return Err(err("empty word or replacement"));
            }
            pairs.push((from.to_owned(), to.to_owned()));
        }
        Ok(Self::from_pairs(pairs))
    }

    /// The replacement of a word (any case), if mapped.
    pub fn get(&self, word: &str) -> Option<&str> {
        if self.map.is_empty() {
            return None;
        }
        if !word.is_ascii() {
            return self.map.get(&word.to_lowercase()).map(String::as_str);
        }
        // An ASCII word lowercases to an ASCII key of the same length: rule
        // it out by its signature, then look it up lowercased in a stack
        // buffer.
        let sig = signature(word.as_bytes());
        if self.ascii_signatures[sig / 64] >> (sig % 64) & 1 == 0 {
            return None;
        }
        let mut buf = [0u8; 64];
        let key = match buf.get_mut(..word.len()) {
            Some(key) => {
                key.copy_from_slice(word.as_bytes());
                key.make_ascii_lowercase();
                std::str::from_utf8(key).ok()?
            }
            None => return self.map.get(&word.to_ascii_lowercase()).map(String::as_str),
        };
        self.map.get(key).map(String::as_str)
    }

    /// How many words are mapped.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// User data some ops need. `Default` is the empty context: no protected
/// spans, the built-in synonym table only, no replacements, QWERTY.
#[derive(Debug, Clone)]
pub struct TextContext {
    /// Regexes whose matches no op touches (URLs, e-mail addresses, names).
    pub protected: Vec<Regex>,
    /// A user synonym table for `synonym`, consulted before the built-in one.
    pub synonyms: Option<SynonymTable>,
    /// Whether `synonym` also uses the small built-in English table.
    pub builtin_synonyms: bool,
    /// The mapping `replace_words` applies.
    pub replacements: WordMap,
    /// The keyboard `typo` and keyboard edits use.
    pub layout: KeyboardLayout,
}

impl Default for TextContext {
    fn default() -> Self {
        TextContext {
            protected: Vec::new(),
            synonyms: None,
            builtin_synonyms: true,
            replacements: WordMap::default(),
            layout: KeyboardLayout::Qwerty,
        }
    }
}

impl TextContext {
    /// Compiles protected-span patterns; the error quotes the bad pattern.
    pub fn compile_protected<S: AsRef<str>>(patterns: &[S]) -> Result<Vec<Regex>, TextError> {
        patterns
            .iter()
            .map(|p| {
                Regex::new(p.as_ref()).map_err(|e| TextError::Pattern {
                    pattern: p.as_ref().to_owned(),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// This context with these protected patterns compiled and added.
    pub fn with_protected<S: AsRef<str>>(mut self, patterns: &[S]) -> Result<Self, TextError> {
        self.protected.extend(Self::compile_protected(patterns)?);
        Ok(self)
    }
}

/// The result of one op on one text, with what it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Perturbed {
    /// The perturbed text.
    pub text: String,
    /// Words that were edited, deleted, moved or merged.
    pub words_changed: usize,
    /// Characters (Unicode scalar values) inserted, deleted or replaced,
    /// counted per edit outside the common prefix and suffix of the old and
    /// new text (exact for one insertion, deletion or substitution).
    pub chars_changed: usize,
    /// 0..=100: the share of the text's words that changed, in percent
    /// (AugLy's intensity convention).
    pub intensity: f32,
}

impl Perturbed {
    /// The input unchanged.
    pub(crate) fn identity(text: &str) -> Self {
        Perturbed { text: text.to_owned(), words_changed: 0, chars_changed: 0, intensity: 0.0 }
    }

    pub(crate) fn new(text: String, words_changed: usize, chars_changed: usize, words_total: usize) -> Self {
        let intensity = if words_total == 0 {
            0.0
        } else {
            (100.0 * words_changed as f32 / words_total as f32).min(100.0)
        };
        Perturbed { text, words_changed, chars_changed, intensity }
    }
}

/// One text operation of the catalog.
#[derive(Debug)]
pub struct TextOp {
    /// Name, summary and parameter table.
    pub info: OpInfo,
    apply: ApplyFn,
}

impl TextOp {
    pub(crate) const fn new(info: OpInfo, apply: ApplyFn) -> Self {
        TextOp { info, apply }
    }

    /// The stable snake_case name.
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    /// Applies the operation with the default context; severity 0 returns
    /// the text unchanged.
    pub fn apply(&self, text: &str, severity: Severity, seed: u64) -> String {
        if severity.is_identity() {
            return text.to_owned();
        }
        self.apply_with(text, severity, seed, &TextContext::default()).text
    }

    /// Applies the operation with user data and protected spans, reporting
    /// how much it changed. Severity 0 returns the text unchanged.
    pub fn apply_with(&self, text: &str, severity: Severity, seed: u64, ctx: &TextContext) -> Perturbed {
        if severity.is_identity() || text.is_empty() {
            return Perturbed::identity(text);
        }
        let protected = protect::ranges(text, &ctx.protected);
        let input = Input { text, protected: &protected };
        (self.apply)(&input, severity, &mut seed::rng(seed), ctx)
    }
}

static OPS: &[TextOp] = &[
    chars::TYPO,
    chars::CHAR_SWAP,
    chars::CHAR_DELETE,
    chars::CHAR_INSERT,
    chars::CHAR_SUBSTITUTE,
    chars::OCR_ERROR,
    unicode::HOMOGLYPH,
    unicode::SIMILAR_UNICODE,
    unicode::ZERO_WIDTH,
    unicode::BIDI,
    unicode::FUN_FONTS,
    unicode::UPSIDE_DOWN,
    chars::LEETSPEAK,
    chars::CHANGE_CASE,
    chars::INSERT_PUNCTUATION,
    chars::INSERT_WHITESPACE,
    word_ops::SPLIT_WORDS,
    word_ops::MERGE_WORDS,
    word_ops::WORD_DELETE,
    word_ops::WORD_SWAP,
    word_ops::WORD_CROP,
    word_ops::CONTRACTIONS,
    synonyms::SYNONYM,
    word_ops::REPLACE_WORDS,
    word_ops::SWAP_GENDERED_WORDS,
];

/// Every text operation, in catalog order.
pub fn ops() -> &'static [TextOp] {
    OPS
}

/// The operation with this name.
pub fn find(name: &str) -> Option<&'static TextOp> {
    OPS.iter().find(|op| op.name() == name)
}

/// Every operation name, for error messages and `temper list`.
pub fn names() -> Vec<&'static str> {
    OPS.iter().map(TextOp::name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_segmentation::UnicodeSegmentation;

    const SAMPLES: &[&str] = &[
        "Win a free cruise now, reply YES to claim your prize",
        "Café naïve résumé — 東京 is lovely 👩‍👩‍👧 today",
        "",
        "a",
        "नमस्ते दुनिया مرحبا بالعالم",
    ];

    fn sev(level: i64) -> Severity {
        Severity::new(level).expect("valid")
    }

    #[test]
    fn names_are_unique_snake_case() {
        let mut names = names();
        assert_eq!(names.len(), 25);
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 25);
    }

    #[test]
    fn severity_zero_is_identity_and_seeds_repeat() {
        for op in ops() {
            for s in SAMPLES {
                assert_eq!(op.apply(s, Severity::NONE, 3), *s);
                for sev in Severity::all() {
                    assert_eq!(op.apply(s, sev, 9), op.apply(s, sev, 9), "{}", op.name());
                }
            }
        }
    }

    #[test]
    fn every_op_changes_an_english_sentence_at_top_severity() {
        let s = "Win a free cruise now, he said, do not wait: reply YES to claim your good prize";
        for op in ops() {
            let ctx =
                TextContext { replacements: WordMap::from_pairs([("free", "gratis")]), ..Default::default() };
            let out = op.apply_with(s, sev(5), 1, &ctx);
            assert_ne!(out.text, s, "{}", op.name());
            assert!(out.words_changed > 0, "{}", op.name());
            assert!(out.chars_changed > 0, "{}", op.name());
            assert!(out.intensity > 0.0 && out.intensity <= 100.0, "{}", op.name());
        }
    }

    #[test]
    fn multi_codepoint_graphemes_survive_every_op() {
        let s = SAMPLES[1];
        for op in ops() {
            for sev in Severity::all() {
                let out = op.apply(s, sev, 5);
                assert!(out.graphemes(true).any(|g| g == "👩‍👩‍👧"), "{} split the emoji: {out}", op.name());
            }
        }
    }

    #[test]
    fn protected_spans_are_never_touched() {
        let ctx = TextContext::default()
            .with_protected(&[r"https?://\S+", r"[\w.]+@[\w.]+", "Acme Corp"])
            .expect("valid");
        let s = "Visit https://acme.example/free now or mail sales@acme.example, Acme Corp says free money";
        for op in ops() {
            for seed in 0..20 {
                let out = op.apply_with(s, sev(5), seed, &ctx).text;
                for keep in ["https://acme.example/free", "sales@acme.example", "Acme Corp"] {
                    assert!(out.contains(keep), "{} broke {keep}: {out}", op.name());
                }
            }
        }
    }

    #[test]
    fn bad_patterns_and_tables_name_the_problem() {
        let err = TextContext::default().with_protected(&["(unclosed"]).unwrap_err();
        assert!(err.to_string().starts_with("protected pattern \"(unclosed\""), "{err}");
        let err = WordMap::parse("a: b\n\nno separator here\n").unwrap_err();
        assert_eq!(err.to_string().split(':').next(), Some("line 3"));
        let map = WordMap::parse("# comment\nFree: gratis\nwin\tprevail\n").expect("valid");
        assert_eq!(map.get("FREE"), Some("gratis"));
        assert_eq!(map.get("win"), Some("prevail"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn word_map_lookup_matches_a_plain_lowercase_lookup() {
        let keys = ["a", "free", "money", "win", "x_y", "Straße", "東京", "", "longer-than-most-words-here"];
        let map = WordMap::from_pairs(keys.iter().map(|k| (*k, format!("<{k}>"))));
        let plain: HashMap<String, String> =
            keys.iter().map(|k| (k.to_lowercase(), format!("<{k}>"))).collect();
        let probes = keys
            .iter()
            .flat_map(|k| [k.to_string(), k.to_uppercase(), k.to_lowercase()])
            .chain(["fre", "freee", "A", "b", "WIN", "wIn", "mone", "STRASSE", "x"].map(String::from));
        for probe in probes {
            assert_eq!(map.get(&probe), plain.get(&probe.to_lowercase()).map(String::as_str), "{probe:?}");
        }
    }

    #[test]
    fn policy_batch_equals_sequential() {
        use crate::policy::{Policy, PolicyStep};
        let steps = ["typo", "synonym", "word_swap", "homoglyph"]
            .iter()
            .map(|n| PolicyStep { op: find(n).expect("op"), min: sev(1), max: sev(5), p: 0.8 })
            .collect();
        let policy = Policy::new(steps);
        let texts: Vec<String> =
            (0..200).map(|i| format!("sample {i} says the good house is big and fast, don't go")).collect();
        let indices: Vec<u64> = (0..200).collect();
        let batch = policy.apply_batch(&texts, &indices, 42, 1);
        let seq: Vec<String> = texts.iter().zip(&indices).map(|(t, &i)| policy.apply(t, 42, i, 1)).collect();
        assert_eq!(batch, seq);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
        let single = pool.install(|| policy.apply_batch(&texts, &indices, 42, 1));
        assert_eq!(single, seq);
    }
}
