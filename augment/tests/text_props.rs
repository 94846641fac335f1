//! Property tests of the text catalog over arbitrary Unicode: no panics,
//! severity 0 is the identity, same seed same output, grapheme clusters
//! never split, protected spans never touched.

use augment::severity::Severity;
use augment::text::edits::{self, WordEdit};
use augment::text::{self, SynonymTable, TextContext, WordMap};
use proptest::prelude::*;
use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

fn context() -> TextContext {
    TextContext {
        synonyms: Some(SynonymTable::parse("good: fine, decent\nfast, quick").expect("valid")),
        replacements: WordMap::from_pairs([("the", "teh"), ("and", "&")]),
        ..Default::default()
    }
}

/// Tokens mixing scripts, multi-code-point graphemes and English.
const TOKENS: &[&str] = &[
    "the",
    "good",
    "money",
    "Free",
    "don't",
    "he",
    "cannot",
    "do",
    "not",
    "I",
    "am",
    "rn",
    "hello",
    "WIN",
    "cafe\u{301}",
    "e\u{301}cole",
    "नमस्ते",
    "क्षमा",
    "東京",
    "مرحبا",
    "👩\u{200D}👩\u{200D}👧",
    "🇫🇷",
    "👍🏽",
    "\u{1100}\u{1161}\u{11A8}",
    "Ελλάδα",
    "Москва",
    "2024",
    ",",
    ".",
    "!",
    "?",
    "'",
    "-",
];

const SEPARATORS: &[&str] = &[" ", " ", " ", "  ", "\n", "", "\t"];

fn mixed_text() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TOKENS), prop::sample::select(SEPARATORS)), 0..24)
        .prop_map(|parts| parts.into_iter().flat_map(|(t, s)| [t, s]).collect())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "\\PC{0,60}", mixed_text()]
}

fn severity() -> impl Strategy<Value = Severity> {
    (1i64..=5).prop_map(|l| Severity::new(l).expect("valid"))
}

/// Code points that only occur inside multi-code-point clusters of
/// [`TOKENS`] and that no op creates.
fn is_marker(c: char) -> bool {
    matches!(
        c,
        '\u{301}'
            | '\u{94D}'
            | '\u{1F3FD}'
            | '\u{1F467}'
            | '\u{1F1EB}'
            | '\u{1F1F7}'
            | '\u{1161}'
            | '\u{11A8}'
    )
}

/// A grapheme without the invisible and directional marks ops insert,
/// lowercased (case changes are not splits).
fn normalise(g: &str) -> String {
    g.chars()
        .filter(|c| !matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{202E}' | '\u{202C}'))
        .collect::<String>()
        .to_lowercase()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ops_are_total_deterministic_and_identity_at_zero(text in any_text(), sev in severity(), seed: u64) {
        let ctx = context();
        for op in text::ops() {
            prop_assert_eq!(op.apply(&text, Severity::NONE, seed), text.clone());
            let a = op.apply_with(&text, sev, seed, &ctx);
            let b = op.apply_with(&text, sev, seed, &ctx);
            prop_assert_eq!(&a, &b, "{}", op.name());
            prop_assert!(std::str::from_utf8(a.text.as_bytes()).is_ok());
            prop_assert!((0.0..=100.0).contains(&a.intensity), "{} intensity {}", op.name(), a.intensity);
            prop_assert_eq!(a.text == text, a.chars_changed == 0, "{}: {:?}", op.name(), a);
        }
    }

    #[test]
    fn no_grapheme_cluster_is_split(text in mixed_text(), sev in severity(), seed: u64) {
        let ctx = context();
        let allowed: Vec<String> =
            text.graphemes(true).filter(|g| g.chars().any(is_marker)).map(normalise).collect();
        for op in text::ops() {
            let out = op.apply_with(&text, sev, seed, &ctx).text;
            for g in out.graphemes(true).filter(|g| g.chars().any(is_marker)) {
                prop_assert!(allowed.contains(&normalise(g)), "{} split a cluster: {:?} in {:?}", op.name(), g, out);
            }
        }
    }

    #[test]
    fn protected_spans_are_kept(words in prop::collection::vec(prop::sample::select(TOKENS), 1..16),
                                sev in severity(), seed: u64, at in 0usize..16) {
        let protected = ["ceo@acme.io", "https://acme.io/free?win=1", "Acme Corp", "नमस्ते दुनिया"];
        let mut parts: Vec<&str> = words.clone();
        parts.insert(at.min(parts.len()), protected[seed as usize % protected.len()]);
        let text = parts.join(" ");
        let ctx = TextContext { protected: vec![
            Regex::new(r"\S+@\S+\.io").expect("re"),
            Regex::new(r"https?://\S+").expect("re"),
            Regex::new(r"Acme Corp|नमस्ते दुनिया").expect("re"),
        ], ..context() };
        let matches: Vec<&str> =
            ctx.protected.iter().flat_map(|re| re.find_iter(&text).map(|m| m.as_str())).collect();
        for op in text::ops() {
            let out = op.apply_with(&text, sev, seed, &ctx).text;
            for m in &matches {
                prop_assert!(
                    out.matches(m).count() >= text.matches(m).count(),
                    "{} touched {:?}: {:?}", op.name(), m, out
                );
            }
        }
    }

    #[test]
    fn edits_and_spans_are_total(text in any_text(), seed: u64) {
        let spans = edits::word_spans(&text);
        for span in &spans {
            let word = &text[span.clone()];
            let mut rng = augment::seed::rng(seed);
            for edit in WordEdit::DEEPWORDBUG.into_iter().chain(WordEdit::TEXTBUGGER) {
                if let Some(new) = edit.apply(word, &mut rng) {
                    let spliced = edits::replace_span(&text, span.clone(), &new);
                    prop_assert!(spliced.is_some());
                }
            }
        }
        prop_assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
    }
}
