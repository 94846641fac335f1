//! Text → hashed feature ids: each lower-cased word contributes its own id
//! and the ids of its character n-grams (with `<` `>` boundary marks), all
//! hashed into `buckets - 1` rows (row 0 is padding).

use unicode_segmentation::UnicodeSegmentation;

use crate::config::TextPlan;

fn fnv(prefix: u8, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(prefix);
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// The feature ids of one text, at most `plan.max_features`.
pub fn featurize(text: &str, plan: &TextPlan) -> Vec<i64> {
    let rows = (plan.buckets as u64 - 1).max(1);
    let id = |h: u64| (h % rows + 1) as i64;
    let mut out = Vec::new();
    for word in text.unicode_words() {
        if out.len() >= plan.max_features {
            break;
        }
        let lower = word.to_lowercase();
        out.push(id(fnv(b'w', &lower)));
        let marked = format!("<{lower}>");
        let g: Vec<&str> = marked.graphemes(true).collect();
        for n in plan.ngram_min..=plan.ngram_max {
            if n > g.len() {
                break;
            }
            for window in g.windows(n) {
                out.push(id(fnv(b'c', &window.concat())));
            }
        }
    }
    out.truncate(plan.max_features);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> TextPlan {
        TextPlan {
            buckets: 1 << 15,
            embedding_dim: 8,
            hidden: 8,
            dropout: 0.0,
            ngram_min: 2,
            ngram_max: 4,
            max_features: 512,
        }
    }

    #[test]
    fn ids_are_in_range_and_deterministic() {
        let ids = featurize("Free money, claim NOW", &plan());
        assert!(ids.iter().all(|&i| (1..1 << 15).contains(&i)));
        assert_eq!(ids, featurize("free MONEY claim now", &plan()));
    }

    #[test]
    fn a_typo_keeps_most_features() {
        let a = featurize("refund", &plan());
        let b = featurize("refumd", &plan());
        let shared = a.iter().filter(|x| b.contains(x)).count();
        assert!(shared * 5 >= a.len() * 2, "{shared} of {} shared", a.len());
        assert_ne!(a, b);
    }

    #[test]
    fn long_texts_are_truncated() {
        let long = "word ".repeat(10_000);
        assert_eq!(featurize(&long, &plan()).len(), 512);
    }
}
