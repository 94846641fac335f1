//! A perturbed text shown against its original: a longest-common-subsequence
//! diff over grapheme clusters, so an accent or an emoji is marked whole.
//! Inserted or substituted graphemes are wrapped in `<mark>`, removed ones
//! in `<del>`; everything is escaped, and invisible characters (zero-width
//! spaces and joiners, direction marks) are spelled out so an attack that
//! inserts them can be seen.

use unicode_segmentation::UnicodeSegmentation;

use super::markup::escape;

/// Above this many cells the LCS table is skipped and the differing middle
/// is marked whole: display only, so a coarse diff is fine for huge texts.
const MAX_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    Same,
    Added,
    Removed,
}

/// HTML for `perturbed` with its differences from `original` marked.
pub fn marked(original: &str, perturbed: &str) -> String {
    let a: Vec<&str> = original.graphemes(true).collect();
    let b: Vec<&str> = perturbed.graphemes(true).collect();
    let mut out = String::new();
    let mut open: Option<Edit> = None;
    for (edit, g) in script(&a, &b) {
        if open != Some(edit) {
            close(&mut out, open);
            match edit {
                Edit::Added => out.push_str("<mark>"),
                Edit::Removed => out.push_str("<del>"),
                Edit::Same => {}
            }
            open = Some(edit);
        }
        out.push_str(&visible(g));
    }
    close(&mut out, open);
    out
}

/// `text` escaped, each invisible character shown as its code point.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if invisible(c) {
            out.push_str(&format!("<span class=\"invisible\">U+{:04X}</span>", u32::from(c)));
        } else {
            out.push_str(&escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    out
}

/// Format characters that render as nothing. Variation selectors are left
/// alone: they belong to the emoji they follow.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}')
}

fn close(out: &mut String, open: Option<Edit>) {
    match open {
        Some(Edit::Added) => out.push_str("</mark>"),
        Some(Edit::Removed) => out.push_str("</del>"),
        _ => {}
    }
}

/// The edit script from `a` to `b`; within a changed stretch removals come
/// before additions, so a substitution reads as old then new.
fn script<'t>(a: &[&'t str], b: &[&'t str]) -> Vec<(Edit, &'t str)> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut out: Vec<(Edit, &str)> = a[..prefix].iter().map(|g| (Edit::Same, *g)).collect();
    if (ma.len() + 1).saturating_mul(mb.len() + 1) > MAX_CELLS {
        out.extend(ma.iter().map(|g| (Edit::Removed, *g)));
        out.extend(mb.iter().map(|g| (Edit::Added, *g)));
    } else {
        out.extend(lcs_script(ma, mb));
    }
    out.extend(a[a.len() - suffix..].iter().map(|g| (Edit::Same, *g)));
    out
}

/// Textbook LCS table, walked forwards.
fn lcs_script<'t>(a: &[&'t str], b: &[&'t str]) -> Vec<(Edit, &'t str)> {
    let (n, m) = (a.len(), b.len());
    // len[i][j]: LCS length of a[i..] and b[j..].
    let mut len = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            len[at(i, j)] = if a[i] == b[j] {
                len[at(i + 1, j + 1)] + 1
            } else {
                len[at(i + 1, j)].max(len[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(n + m));
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push((Edit::Same, a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || len[at(i + 1, j)] >= len[at(i, j + 1)]) {
            out.push((Edit::Removed, a[i]));
            i += 1;
        } else {
            out.push((Edit::Added, b[j]));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_text_has_no_marks() {
        assert_eq!(marked("refund please", "refund please"), "refund please");
    }

    #[test]
    fn substitutions_insertions_and_deletions_are_marked() {
        assert_eq!(marked("refund", "rehund"), "re<del>f</del><mark>h</mark>und");
        assert_eq!(marked("card", "c ard"), "c<mark> </mark>ard");
        assert_eq!(marked("order now", "oder now"), "o<del>r</del>der now");
    }

    #[test]
    fn graphemes_are_never_split_and_text_is_escaped() {
        // `é` as e + combining acute: one grapheme, replaced whole.
        assert_eq!(marked("cafe\u{301}", "cafe"), "caf<del>e\u{301}</del><mark>e</mark>");
        assert_eq!(marked("a<b", "a<c"), "a&lt;<del>b</del><mark>c</mark>");
    }

    #[test]
    fn invisible_characters_are_spelled_out() {
        assert_eq!(marked("ab", "a\u{200B}b"), r#"a<mark><span class="invisible">U+200B</span></mark>b"#);
        assert_eq!(visible("x\u{FEFF}<"), r#"x<span class="invisible">U+FEFF</span>&lt;"#);
        assert_eq!(visible("\u{2764}\u{FE0F}"), "\u{2764}\u{FE0F}");
    }

    #[test]
    fn long_texts_fall_back_to_marking_the_changed_middle() {
        let a: String = "x".repeat(2500);
        let b: String = "y".repeat(2500);
        let out = marked(&format!("start {a} end"), &format!("start {b} end"));
        assert!(out.starts_with("start <del>x") && out.ends_with("y</mark> end"), "{}", &out[..40]);
    }
}
