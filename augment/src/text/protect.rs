//! Protected spans: byte ranges of a text that no op may touch.

use std::ops::Range;

use regex::Regex;

/// The byte ranges matched by any of `patterns`, sorted and merged.
/// Empty matches protect nothing.
pub(crate) fn ranges(text: &str, patterns: &[Regex]) -> Vec<Range<usize>> {
    if patterns.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<Range<usize>> = patterns
        .iter()
        .flat_map(|re| re.find_iter(text).map(|m| m.range()))
        .filter(|r| !r.is_empty())
        .collect();
    found.sort_unstable_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(found.len());
    for r in found {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Whether `span` overlaps any of the sorted, merged `ranges`.
pub(crate) fn overlaps(ranges: &[Range<usize>], span: &Range<usize>) -> bool {
    if ranges.is_empty() {
        return false;
    }
    // First range that ends after the span starts.
    let i = ranges.partition_point(|r| r.end <= span.start);
    ranges.get(i).is_some_and(|r| r.start < span.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_overlapping_matches() {
        let pats =
            [Regex::new("ab").expect("re"), Regex::new("bc").expect("re"), Regex::new("x*").expect("re")];
        assert_eq!(ranges("zabcz ab", &pats), vec![1..4, 6..8]);
    }

    #[test]
    fn overlap_is_strict() {
        let r = vec![2..4, 8..9];
        assert!(!overlaps(&r, &(0..2)));
        assert!(overlaps(&r, &(1..3)));
        assert!(overlaps(&r, &(3..8)) && !overlaps(&r, &(4..8)));
        assert!(overlaps(&r, &(8..20)));
        assert!(!overlaps(&r, &(9..20)));
    }
}
