//! The text catalog: perturbations on Unicode strings.
//!
//! Everything works on grapheme clusters and Unicode word boundaries
//! (unicode-segmentation), never on bytes, so emoji, combining accents and
//! non-Latin scripts survive except where an op means to change them.

mod chars;
mod unicode;
mod words;

use crate::catalog::OpInfo;
use crate::seed::{self, Rng};
use crate::severity::Severity;

/// The signature every text operation implements. Severity is never 0 here.
pub(crate) type ApplyFn = fn(&str, Severity, &mut Rng) -> String;

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

    /// Applies the operation; severity 0 returns the text unchanged.
    pub fn apply(&self, text: &str, severity: Severity, seed: u64) -> String {
        if severity.is_identity() {
            return text.to_owned();
        }
        (self.apply)(text, severity, &mut seed::rng(seed))
    }
}

static OPS: &[TextOp] =
    &[chars::TYPO, chars::CHAR_SWAP, chars::CHAR_DELETE, unicode::HOMOGLYPH, unicode::ZERO_WIDTH];

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
        let s = SAMPLES[0];
        for op in ops() {
            assert_ne!(op.apply(s, Severity::new(5).expect("valid"), 1), s, "{}", op.name());
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
}
