//! Word spans of arbitrary UTF-8: sorted, disjoint, on char boundaries,
//! each a word, and splicing a span back in gives the text again.
#![no_main]

use augment::text::edits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let spans = edits::word_spans(text);
    let mut end = 0;
    for span in &spans {
        assert!(span.start >= end && span.start < span.end, "{spans:?}");
        let word = text.get(span.clone()).expect("span on char boundaries");
        assert!(word.chars().any(char::is_alphanumeric), "{word:?}");
        assert_eq!(edits::replace_span(text, span.clone(), word).as_deref(), Some(text));
        end = span.end;
    }
});
