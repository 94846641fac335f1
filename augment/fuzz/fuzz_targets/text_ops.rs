//! Every text op and attack edit on arbitrary UTF-8: no panic, severity 0
//! is the identity, the same seed gives the same output, protected spans
//! survive.
#![no_main]

use augment::severity::Severity;
use augment::text::edits::WordEdit;
use augment::text::{self, TextContext, WordMap};
use libfuzzer_sys::fuzz_target;
use regex::Regex;
use std::sync::OnceLock;

/// Built once: compiling regexes per input would dominate the run time.
fn context() -> &'static TextContext {
    static CTX: OnceLock<TextContext> = OnceLock::new();
    CTX.get_or_init(|| TextContext {
        protected: vec![Regex::new(r"\d{3,}|[A-Z]{2}\w*").expect("valid")],
        replacements: WordMap::from_pairs([("the", "a"), ("é", "e")]),
        ..Default::default()
    })
}

fuzz_target!(|input: (u8, u8, u64, &str)| {
    let (op_byte, sev_byte, seed, text) = input;
    let ops = text::ops();
    let op = &ops[usize::from(op_byte) % ops.len()];
    let severity = Severity::new(i64::from(sev_byte % 6)).expect("0..=5");
    let ctx = context();
    let out = op.apply_with(text, severity, seed, ctx);
    if severity.is_identity() {
        assert_eq!(out.text, text);
    }
    assert_eq!(out, op.apply_with(text, severity, seed, ctx));
    assert!((0.0..=100.0).contains(&out.intensity));
    for m in ctx.protected[0].find_iter(text) {
        assert!(out.text.contains(m.as_str()), "{} lost {:?}: {:?}", op.name(), m.as_str(), out.text);
    }
    let edit = WordEdit::DEEPWORDBUG.into_iter().chain(WordEdit::TEXTBUGGER).nth(usize::from(sev_byte) % 9);
    if let Some(edit) = edit {
        let _ = edit.apply(text, &mut augment::seed::rng(seed));
    }
});
