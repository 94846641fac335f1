//! Text → a bag of hashed features: each lower-cased word contributes its
//! own id, optionally the ids of the word n-grams it starts, and the ids of
//! its character n-grams (with `<` `>` boundary marks), all hashed into
//! `buckets - 1` rows (row 0 is padding). Each distinct id appears once
//! with its count, which the model weighs (mean or TF-IDF).

use std::collections::HashMap;

use unicode_segmentation::UnicodeSegmentation;

use crate::config::TextPlan;
use crate::model::lexicon::Lexicon;

fn fnv(prefix: u8, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(prefix);
    for b in s.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// The distinct feature ids of one text in order of first occurrence, with
/// how often each occurs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bag {
    /// Feature ids, each once, in `1..buckets`.
    pub ids: Vec<i64>,
    /// Occurrences of each id, at least 1.
    pub counts: Vec<f32>,
}

impl Bag {
    fn add(&mut self, id: i64, at: &mut HashMap<i64, usize>, cap: usize) {
        match at.get(&id) {
            Some(&i) => self.counts[i] += 1.0,
            None if self.ids.len() < cap => {
                at.insert(id, self.ids.len());
                self.ids.push(id);
                self.counts.push(1.0);
            }
            None => {}
        }
    }

    /// Distinct features.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the text had no features.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The features of one text, at most `plan.max_features` distinct ones
/// (features first seen after that are dropped), its words first put
/// through the model's `lexicon` when it recognises words.
pub fn featurize(text: &str, plan: &TextPlan, lexicon: Option<&Lexicon>) -> Bag {
    let rows = (plan.buckets as u64 - 1).max(1);
    let id = |h: u64| (h % rows + 1) as i64;
    let mut bag = Bag::default();
    let mut at = HashMap::new();
    let cap = plan.max_features;
    let words: Vec<String> = match lexicon {
        Some(lexicon) => lexicon.recognise(text),
        None => text.unicode_words().map(str::to_lowercase).collect(),
    };
    for (w, lower) in words.iter().enumerate() {
        if plan.word_ngrams > 0 {
            bag.add(id(fnv(b'w', lower)), &mut at, cap);
        }
        for n in 2..=plan.word_ngrams {
            if w + n > words.len() {
                break;
            }
            bag.add(id(fnv(b'n', &words[w..w + n].join(" "))), &mut at, cap);
        }
        let marked = format!("<{lower}>");
        let g: Vec<&str> = marked.graphemes(true).collect();
        for n in plan.ngram_min..=plan.ngram_max {
            if n > g.len() {
                break;
            }
            for window in g.windows(n) {
                bag.add(id(fnv(b'c', &window.concat())), &mut at, cap);
            }
        }
    }
    bag
}

/// Smoothed inverse document frequencies of every bucket over `texts`, as
/// scikit-learn's `TfidfVectorizer` computes them: `ln((1 + n) / (1 + df)) + 1`;
/// 0 for the padding row; `lexicon`: the model's, which the texts go through
/// as they do in training.
pub fn idf<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    plan: &TextPlan,
    lexicon: Option<&Lexicon>,
) -> Vec<f32> {
    let mut df = vec![0u32; plan.buckets];
    let mut n = 0u32;
    for text in texts {
        n += 1;
        for id in featurize(text, plan, lexicon).ids {
            df[id as usize] += 1;
        }
    }
    let mut out: Vec<f32> =
        df.iter().map(|&d| ((1.0 + f64::from(n)) / (1.0 + f64::from(d))).ln() as f32 + 1.0).collect();
    out[0] = 0.0;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TextWeighting;

    fn plan() -> TextPlan {
        TextPlan {
            buckets: 1 << 15,
            embedding_dim: 8,
            hidden: 8,
            dropout: 0.0,
            ngram_min: 2,
            ngram_max: 4,
            word_ngrams: 1,
            weighting: TextWeighting::Mean,
            max_features: 512,
            word_recognition: false,
        }
    }

    #[test]
    fn ids_are_in_range_distinct_and_deterministic() {
        let bag = featurize("Free money, claim NOW, free", &plan(), None);
        assert!(bag.ids.iter().all(|&i| (1..1 << 15).contains(&i)));
        let mut sorted = bag.ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), bag.len());
        assert_eq!(bag, featurize("free MONEY claim now free", &plan(), None));
        // "free" twice: its word id and its n-grams count 2.
        assert_eq!(bag.counts[0], 2.0);
        assert_eq!(bag.counts.iter().filter(|&&c| c == 2.0).count(), featurize("free", &plan(), None).len());
    }

    #[test]
    fn a_typo_keeps_most_features() {
        let a = featurize("refund", &plan(), None).ids;
        let b = featurize("refumd", &plan(), None).ids;
        let shared = a.iter().filter(|x| b.contains(x)).count();
        assert!(shared * 5 >= a.len() * 2, "{shared} of {} shared", a.len());
        assert_ne!(a, b);
    }

    #[test]
    fn word_ngrams_add_one_feature_per_pair() {
        let text = "send the refund";
        let one = featurize(text, &plan(), None);
        let two = featurize(text, &TextPlan { word_ngrams: 2, ..plan() }, None);
        assert_eq!(two.len(), one.len() + 2);
        assert!(one.ids.iter().all(|i| two.ids.contains(i)));
    }

    #[test]
    fn no_word_ngrams_leaves_the_character_ngrams_only() {
        let words = featurize("send the refund", &plan(), None);
        let chars = featurize("send the refund", &TextPlan { word_ngrams: 0, ..plan() }, None);
        assert_eq!(chars.len(), words.len() - 3);
        for w in ["send", "the", "refund"] {
            assert!(!chars.ids.contains(&featurize(w, &plan(), None).ids[0]), "{w}'s word id");
        }
    }

    #[test]
    fn long_texts_keep_the_first_distinct_features() {
        let long = (0..10_000).map(|i| format!("w{i} ")).collect::<String>();
        let bag = featurize(&long, &plan(), None);
        assert_eq!(bag.len(), 512);
        assert_eq!(bag.ids[..5], featurize(&long[..12], &plan(), None).ids[..5]);
    }

    #[test]
    fn recognised_words_give_the_clean_texts_features() {
        let lexicon = Lexicon::fit(["please send the refund today", "the refund was sent"]);
        let clean = featurize("Please send the refund", &plan(), Some(&lexicon));
        assert_eq!(clean, featurize("Please send the refund", &plan(), None));
        for attacked in ["Plaese send the refnud", "Please sned the re fund", "P1ease send teh refund"] {
            assert_eq!(featurize(attacked, &plan(), Some(&lexicon)), clean, "{attacked}");
            assert_ne!(featurize(attacked, &plan(), None), clean, "{attacked}");
        }
    }

    #[test]
    fn idf_is_smoothed_log_inverse_document_frequency() {
        let p = plan();
        let texts = ["spam spam", "ham", "spam eggs"];
        let idf = idf(texts.iter().copied(), &p, None);
        let word = |w: &str| featurize(w, &p, None).ids[0] as usize;
        // n = 3 documents; "spam" in 2 (its repeat counts once), "ham" in 1,
        // an unseen word in 0.
        let expect = |df: f64| ((4.0 / (1.0 + df)).ln() + 1.0) as f32;
        assert!((idf[word("spam")] - expect(2.0)).abs() < 1e-6);
        assert!((idf[word("ham")] - expect(1.0)).abs() < 1e-6);
        assert!((idf[word("toast")] - expect(0.0)).abs() < 1e-6);
        assert_eq!(idf[0], 0.0);
    }

    #[test]
    fn idf_counts_the_texts_as_the_lexicon_recognises_them() {
        let p = plan();
        let texts = ["e-mail me", "email me", "call me"];
        let lexicon = Lexicon::fit(texts);
        let email = featurize("email", &p, None).ids[0] as usize;
        let expect = |df: f64| ((4.0 / (1.0 + df)).ln() + 1.0) as f32;
        // "e-mail" is "e", "mail" to the plain features and "email" once recognised.
        assert!((idf(texts, &p, None)[email] - expect(1.0)).abs() < 1e-6);
        assert!((idf(texts, &p, Some(&lexicon))[email] - expect(2.0)).abs() < 1e-6);
    }
}
