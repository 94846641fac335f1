//! Word recognition in front of the text features (Pruthi, Dhingra &
//! Lipton 2019, "Combating Adversarial Misspellings with Robust Word
//! Recognition"): a word the training rows never had is replaced by the
//! most frequent training word one edit away (a deletion, insertion,
//! substitution or swap of adjacent characters), and two unknown pieces
//! whose concatenation is a training word are joined. DeepWordBug and
//! TextBugger change one character of a word, or split it with a space, so
//! most of their edits are undone before the model sees them; a word with
//! no training word one edit away is kept as it is (its character n-grams
//! still count).

use std::collections::HashMap;
use std::sync::RwLock;

use unicode_segmentation::UnicodeSegmentation;

/// The lexicon's file in a run directory, beside the weights.
pub const LEXICON: &str = "lexicon.tsv";

/// Characters tried for insertions and substitutions: the most frequent
/// ones of the training words. Look-alike digits and symbols are covered
/// from the other side: substituting the digit with every letter.
const ALPHABET: usize = 64;

/// A word of a text: its byte range and its lower-cased form.
type Word = (usize, usize, String);

/// Unknown words whose neighbour [`Lexicon::nearest`] remembers, at most.
const MEMO: usize = 1 << 16;

/// The training rows' lower-cased words and how often each occurs.
#[derive(Default)]
pub struct Lexicon {
    counts: HashMap<String, u64>,
    alphabet: Vec<char>,
    /// Neighbours found so far: an attack sends the same text with one word
    /// changed a few hundred times, so its other unknown words come back.
    memo: RwLock<HashMap<String, Option<String>>>,
}

impl Clone for Lexicon {
    fn clone(&self) -> Self {
        Lexicon { counts: self.counts.clone(), alphabet: self.alphabet.clone(), memo: RwLock::default() }
    }
}

/// Equal words and counts (the alphabet and what is remembered are derived
/// from them).
impl PartialEq for Lexicon {
    fn eq(&self, other: &Self) -> bool {
        self.counts == other.counts
    }
}

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lexicon {{ {} words }}", self.counts.len())
    }
}

/// A lexicon file line that is not `word<TAB>count`.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: expected `word<TAB>count`, got {text:?}")]
pub struct LexiconError {
    /// 1-based line number.
    pub line: usize,
    /// The line.
    pub text: String,
}

impl Lexicon {
    /// The words of `texts`, split and lower-cased as the features split them.
    pub fn fit<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for text in texts {
            for word in text.unicode_words() {
                *counts.entry(word.to_lowercase()).or_default() += 1;
            }
        }
        Self::from_counts(counts)
    }

    fn from_counts(counts: HashMap<String, u64>) -> Self {
        let mut chars: HashMap<char, u64> = HashMap::new();
        for (word, n) in &counts {
            for c in word.chars() {
                *chars.entry(c).or_default() += n;
            }
        }
        let mut alphabet: Vec<(char, u64)> = chars.into_iter().collect();
        alphabet.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let alphabet = alphabet.into_iter().take(ALPHABET).map(|(c, _)| c).collect();
        Lexicon { counts, alphabet, memo: RwLock::default() }
    }

    /// Distinct words.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no word was seen.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Whether `word` (lower-cased) occurs in the training rows.
    pub fn knows(&self, word: &str) -> bool {
        self.counts.contains_key(word)
    }

    /// The lower-cased words of `text`, recognised: two neighbours one
    /// character apart are joined where either is unknown and their
    /// concatenation is known (a word split by a space), or where that
    /// character is not a space and the three together are one edit from a
    /// known word (`be$t`, `b@d`: a look-alike symbol splits a word in two);
    /// each remaining unknown word becomes its most frequent known
    /// neighbour one edit away, if it has one.
    pub fn recognise(&self, text: &str) -> Vec<String> {
        let mut words: Vec<Word> =
            text.unicode_word_indices().map(|(at, w)| (at, at + w.len(), w.to_lowercase())).collect();
        let mut out: Vec<String> = Vec::with_capacity(words.len());
        let mut i = 0;
        while i < words.len() {
            if let Some(joined) = words.get(i + 1).and_then(|next| self.joined(text, &words[i], next)) {
                out.push(joined);
                i += 2;
                continue;
            }
            let word = std::mem::take(&mut words[i].2);
            out.push(if self.knows(&word) { word } else { self.nearest(&word).unwrap_or(word) });
            i += 1;
        }
        out
    }

    /// Neighbours `a` and `b` as the one word they make, if they are one
    /// character apart and do (see [`Lexicon::recognise`]).
    fn joined(&self, text: &str, (_, end, a): &Word, (start, _, b): &Word) -> Option<String> {
        let mut gap = text[*end..*start].chars();
        let (Some(between), None) = (gap.next(), gap.next()) else { return None };
        if !self.knows(a) || !self.knows(b) {
            let joined = format!("{a}{b}");
            if self.knows(&joined) {
                return Some(joined);
            }
        }
        if between.is_whitespace() { None } else { self.nearest(&format!("{a}{between}{b}")) }
    }

    /// The most frequent known word one edit from `word` (ties: the
    /// alphabetically first), or `None`.
    pub fn nearest(&self, word: &str) -> Option<String> {
        // A poisoned lock only means another thread panicked mid-insert of
        // a derived value: the map is still a valid cache.
        if let Some(found) = self.memo.read().unwrap_or_else(|e| e.into_inner()).get(word) {
            return found.clone();
        }
        let found = self.search(word);
        let mut memo = self.memo.write().unwrap_or_else(|e| e.into_inner());
        if memo.len() < MEMO {
            memo.insert(word.to_owned(), found.clone());
        }
        found
    }

    fn search(&self, word: &str) -> Option<String> {
        let chars: Vec<char> = word.chars().collect();
        let mut best: Option<(u64, String)> = None;
        let mut buf = String::with_capacity(word.len() + 4);
        let mut consider = |buf: &String| {
            if let Some(&n) = self.counts.get(buf.as_str()) {
                let better = match &best {
                    None => true,
                    Some((m, w)) => n > *m || (n == *m && buf < w),
                };
                if better {
                    best = Some((n, buf.clone()));
                }
            }
        };
        let build = |buf: &mut String, parts: &[&[char]]| {
            buf.clear();
            for p in parts {
                buf.extend(p.iter());
            }
        };
        for i in 0..chars.len() {
            // Deletion.
            build(&mut buf, &[&chars[..i], &chars[i + 1..]]);
            consider(&buf);
            // Swap with the next character.
            if i + 1 < chars.len() && chars[i] != chars[i + 1] {
                build(&mut buf, &[&chars[..i], &[chars[i + 1], chars[i]], &chars[i + 2..]]);
                consider(&buf);
            }
            // Substitution.
            for &c in &self.alphabet {
                if c != chars[i] {
                    build(&mut buf, &[&chars[..i], &[c], &chars[i + 1..]]);
                    consider(&buf);
                }
            }
        }
        // Insertion.
        for i in 0..=chars.len() {
            for &c in &self.alphabet {
                build(&mut buf, &[&chars[..i], &[c], &chars[i..]]);
                consider(&buf);
            }
        }
        best.map(|(_, w)| w)
    }

    /// One `word<TAB>count` line per word, most frequent first (ties in
    /// byte order), so equal lexicons give equal bytes.
    pub fn to_text(&self) -> String {
        let mut rows: Vec<(&String, &u64)> = self.counts.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut out = String::new();
        for (w, n) in rows {
            out.push_str(w);
            out.push('\t');
            out.push_str(&n.to_string());
            out.push('\n');
        }
        out
    }

    /// Reads what [`Lexicon::to_text`] wrote.
    pub fn from_text(text: &str) -> Result<Self, LexiconError> {
        let mut counts = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let bad = || LexiconError { line: i + 1, text: line.chars().take(80).collect() };
            let (word, n) = line.split_once('\t').ok_or_else(bad)?;
            let n: u64 = n.parse().map_err(|_| bad())?;
            if word.is_empty() || n == 0 {
                return Err(bad());
            }
            counts.insert(word.to_owned(), n);
        }
        Ok(Self::from_counts(counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        Lexicon::fit([
            "the film was terrible and the plot was thin",
            "a terrific film, the best of the year",
            "the cast was thin but the film was good",
            "good god",
        ])
    }

    fn recognised(lex: &Lexicon, text: &str) -> String {
        lex.recognise(text).join(" ")
    }

    #[test]
    fn each_single_edit_of_a_word_is_undone() {
        let lex = lexicon();
        for typo in ["terible", "terrib1e", "tetrible", "terrribble", "tarrible", "terirble", "terrxible"] {
            let expect = if typo == "terrribble" { None } else { Some("terrible".to_owned()) };
            assert_eq!(lex.nearest(typo), expect, "{typo}");
        }
    }

    #[test]
    fn the_most_frequent_neighbour_wins_and_known_words_stay() {
        let lex = lexicon();
        // "thi" is one edit from "the" (x6) and "thin" (x2).
        assert_eq!(recognised(&lex, "thi"), "the");
        // "goo": "good" (x2) and "god" (x1).
        assert_eq!(lex.nearest("goo").as_deref(), Some("good"));
        // Known words are never replaced, however close a frequent word is.
        assert_eq!(recognised(&lex, "Thin GOD"), "thin god");
    }

    #[test]
    fn split_words_are_joined_and_unknown_far_words_kept() {
        let lex = lexicon();
        assert_eq!(recognised(&lex, "the terr ible plot"), "the terrible plot");
        // One piece unknown is enough ("a" is known, "nd" is not).
        assert_eq!(recognised(&lex, "the film a nd the be st"), "the film and the best");
        // A look-alike symbol in place of a letter: both pieces known.
        assert_eq!(recognised(&lex, "the be$t film, g0od"), "the best film good");
        assert_eq!(recognised(&lex, "the zzzz plot"), "the zzzz plot");
        // Known neighbours stay apart, across a space or a symbol that is
        // no edit of a word, and two characters apart.
        assert_eq!(recognised(&lex, "the film-the cast"), "the film the cast");
        assert_eq!(recognised(&lex, "terr  ible"), "terr ible");
    }

    #[test]
    fn remembered_neighbours_are_the_ones_searched_for() {
        let lex = lexicon();
        let typos = ["terible", "thi", "zzzz", "goo", "b$st"];
        for typo in typos {
            assert_eq!(lex.nearest(typo), lex.search(typo), "{typo}");
        }
        assert_eq!(lex.memo.read().expect("memo").len(), typos.len());
        for typo in typos {
            assert_eq!(lex.nearest(typo), lex.search(typo), "{typo}, remembered");
        }
        assert_eq!(lex.clone(), lex);
        assert!(lex.clone().memo.read().expect("memo").is_empty());
    }

    #[test]
    fn the_text_form_reads_back_and_is_canonical() {
        let lex = lexicon();
        let text = lex.to_text();
        assert!(text.starts_with("the\t6\n"), "{text}");
        let back = Lexicon::from_text(&text).expect("read");
        assert_eq!(back, lex);
        assert_eq!(back.to_text(), text);
        let err = Lexicon::from_text("the\t9\nfilm 3\n").expect_err("no tab");
        assert_eq!(err.line, 2);
        assert!(Lexicon::from_text("the\t0\n").is_err());
    }
}
