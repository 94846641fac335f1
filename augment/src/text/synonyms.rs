//! Synonym tables and the `synonym` op.

use std::collections::HashMap;
use std::sync::OnceLock;

use rand::Rng as _;

use super::chars::info;
use super::clusters::match_case_into;
use super::words::perturb_words;
use super::{TextError, TextOp};

/// A word → synonyms table, looked up case-insensitively.
///
/// # Format
/// One group per line, UTF-8; blank lines and lines starting with `#` are
/// skipped:
/// ```text
/// # a word and what may replace it (one direction)
/// great: excellent, wonderful, superb
/// # a group of mutual synonyms (every word may replace every other)
/// big, large, huge
/// ```
/// Entries may be phrases (`buy: pay for`). A word on several lines gets
/// the union of its synonyms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynonymTable {
    map: HashMap<String, Vec<String>>,
}

impl SynonymTable {
    /// Parses a table in the format above; an error names the line.
    pub fn parse(source: &str) -> Result<Self, TextError> {
        let mut table = SynonymTable::default();
        for (n, raw) in source.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message| TextError::Table { line: n + 1, message, text: line.to_owned() };
            let split = |list: &str| -> Result<Vec<String>, TextError> {
                list.split(',')
                    .map(|e| {
                        let e = e.trim();
                        if e.is_empty() {
                            Err(err("empty entry between commas"))
                        } else {
                            Ok(e.to_lowercase())
                        }
                    })
                    .collect()
            };
            if let Some((head, rest)) = line.split_once(':') {
                let head = head.trim();
                if head.is_empty() {
                    return Err(err("no word before `:`"));
                }
                let syns = split(rest)?;
                table.add(&head.to_lowercase(), syns);
            } else {
                let group = split(line)?;
                if group.len() < 2 {
                    return Err(err("expected `word: syn1, syn2` or a group `syn1, syn2, ...`"));
                }
                for w in &group {
                    table.add(w, group.iter().filter(|o| *o != w).cloned().collect());
                }
            }
        }
        Ok(table)
    }

    fn add(&mut self, word: &str, syns: Vec<String>) {
        let entry = self.map.entry(word.to_owned()).or_default();
        for s in syns {
            if s != word && !entry.contains(&s) {
                entry.push(s);
            }
        }
    }

    /// The synonyms of a word (any case), lowercase; empty if none.
    pub fn get(&self, word: &str) -> &[String] {
        if self.map.is_empty() {
            return &[];
        }
        let mut buf = [0u8; 64];
        if let Some(key) = buf.get_mut(..word.len()).filter(|_| word.is_ascii()) {
            // ASCII lowercases byte by byte: no allocation.
            key.copy_from_slice(word.as_bytes());
            key.make_ascii_lowercase();
            if let Ok(key) = std::str::from_utf8(key) {
                return self.map.get(key).map_or(&[], Vec::as_slice);
            }
        }
        self.map.get(&word.to_lowercase()).map_or(&[], Vec::as_slice)
    }

    /// How many words have synonyms.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The small built-in English table (about 100 groups of common words).
    pub fn builtin() -> &'static SynonymTable {
        static TABLE: OnceLock<SynonymTable> = OnceLock::new();
        TABLE.get_or_init(|| SynonymTable::parse(include_str!("data/synonyms.txt")).unwrap_or_default())
    }
}

/// `synonym`: replaces the severity's share of the words that have a synonym
/// (user table first, then the built-in table), case kept.
pub(crate) const SYNONYM: TextOp = TextOp::new(
    info(
        "synonym",
        "replaces a share of the words that have synonyms (user table, then built-in), case kept",
    ),
    |input, s, rng, ctx| {
        let lookup = |w: &str| -> &[String] {
            let user = ctx.synonyms.as_ref().map_or(&[][..], |t| t.get(w));
            if user.is_empty() && ctx.builtin_synonyms { SynonymTable::builtin().get(w) } else { user }
        };
        perturb_words(
            input,
            s,
            rng,
            4,
            |w| !lookup(w).is_empty(),
            |w, r, out| {
                let syns = lookup(w);
                if syns.is_empty() {
                    return false;
                }
                match_case_into(w, &syns[r.random_range(0..syns.len())], out);
                true
            },
        )
    },
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;
    use crate::text::TextContext;

    #[test]
    fn parses_both_line_forms() {
        let t = SynonymTable::parse("# c\n\nGreat: excellent, Superb\nbig, large,huge\n").expect("valid");
        assert_eq!(t.get("GREAT"), ["excellent", "superb"]);
        assert_eq!(t.get("excellent"), [] as [String; 0]);
        assert_eq!(t.get("large"), ["big", "huge"]);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn errors_name_the_line() {
        let e = SynonymTable::parse("a: b\nlonely\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: expected `word: syn1, syn2` or a group `syn1, syn2, ...` (got \"lonely\")"
        );
        let e = SynonymTable::parse("\n\n: x").unwrap_err();
        assert!(e.to_string().starts_with("line 3: no word before"), "{e}");
        let e = SynonymTable::parse("a: b,,c").unwrap_err();
        assert!(e.to_string().starts_with("line 1: empty entry"), "{e}");
    }

    #[test]
    fn builtin_table_parses_and_is_used() {
        assert!(SynonymTable::parse(include_str!("data/synonyms.txt")).is_ok());
        assert!(SynonymTable::builtin().len() > 200);
        let sev = Severity::new(5).expect("valid");
        let out = SYNONYM.apply_with("Big", sev, 1, &TextContext::default());
        assert!(["Large", "Huge", "Enormous"].contains(&out.text.as_str()), "{}", out.text);
    }

    #[test]
    fn user_table_wins_and_builtin_can_be_off() {
        let sev = Severity::new(5).expect("valid");
        let ctx = TextContext {
            synonyms: Some(SynonymTable::parse("big: massive").expect("valid")),
            ..Default::default()
        };
        assert_eq!(SYNONYM.apply_with("big", sev, 1, &ctx).text, "massive");
        let ctx = TextContext { builtin_synonyms: false, ..Default::default() };
        assert_eq!(SYNONYM.apply_with("big", sev, 1, &ctx).text, "big");
    }
}
