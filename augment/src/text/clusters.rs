//! Grapheme clusters and case: a word's clusters without allocating for
//! ASCII, single-code-point graphemes, counting changed characters, and
//! carrying a word's case over to its replacement.

use unicode_segmentation::UnicodeSegmentation;

use super::sample::Small;

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
