//! Strings per second for every text op, on one thread and on all cores.
//!
//! `cargo bench -p augment --bench text_ops [-- NAME...]` (or
//! `TEXT_OPS=bidi,zero_width cargo bench ...`) prints a Markdown table. The 5,000 sentences of 10-30 words come from `bench/words.txt` and
//! the LCG below; `bench/text_peers_bench.py` builds the same sentences for
//! AugLy and nlpaug (its checksum line must match ours).

use std::time::{Duration, Instant};

use augment::severity::Severity;
use augment::text::{self, TextContext, WordMap};
use rayon::prelude::*;

const WORDS: &str = include_str!("../../bench/words.txt");
const SENTENCES: usize = 5_000;
/// Each measurement repeats the whole set until this much time has passed.
const MIN_TIME: Duration = Duration::from_millis(400);

/// Knuth's MMIX LCG; the Python script implements the same.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// The benchmark sentences: 10-30 words from the list, capitalised, with a
/// full stop.
fn sentences() -> Vec<String> {
    let words: Vec<&str> = WORDS.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let mut lcg = Lcg(0x5EED_0000_0000_0001);
    (0..SENTENCES)
        .map(|_| {
            let n = 10 + (lcg.next() % 21) as usize;
            let picked: Vec<&str> =
                (0..n).map(|_| words[(lcg.next() % words.len() as u64) as usize]).collect();
            let mut s = picked.join(" ");
            if let Some(first) = s.chars().next() {
                let upper: String = first.to_uppercase().collect();
                s.replace_range(..first.len_utf8(), &upper);
            }
            s.push('.');
            s
        })
        .collect()
}

/// FNV-1a over the sentences joined by newlines.
fn checksum(sentences: &[String]) -> u64 {
    sentences
        .join("\n")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3))
}

/// Strings per second of `run` over the whole set, repeated for `MIN_TIME`.
fn rate(mut run: impl FnMut() -> usize) -> f64 {
    run(); // warm-up: lazy tables, page faults
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < MIN_TIME {
        done += run();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // Names (substrings) from the command line and from TEXT_OPS=a,b,c.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .chain(std::env::var("TEXT_OPS").unwrap_or_default().split(',').map(str::to_owned))
        .filter(|f| !f.is_empty())
        .collect();
    let sentences = sentences();
    let words: usize = sentences.iter().map(|s| s.split(' ').count()).sum();
    println!(
        "{} sentences, {:.1} words on average, checksum {:016x}, {} threads",
        sentences.len(),
        words as f64 / sentences.len() as f64,
        checksum(&sentences),
        rayon::current_num_threads()
    );
    let ctx = TextContext {
        replacements: WordMap::from_pairs([("money", "cash"), ("free", "gratis"), ("win", "prevail")]),
        ..Default::default()
    };
    let severity = Severity::new(3).unwrap_or(Severity::NONE);
    println!("\n| op | strings/s, 1 thread | strings/s, all cores |\n|---|---:|---:|");
    for op in text::ops() {
        if !filters.is_empty() && !filters.iter().any(|f| op.name().contains(f.as_str())) {
            continue;
        }
        let single = rate(|| {
            let mut bytes = 0;
            for (i, s) in sentences.iter().enumerate() {
                bytes += op.apply_with(s, severity, i as u64, &ctx).text.len();
            }
            std::hint::black_box(bytes);
            sentences.len()
        });
        let parallel = rate(|| {
            let bytes: usize = sentences
                .par_iter()
                .enumerate()
                .map(|(i, s)| op.apply_with(s, severity, i as u64, &ctx).text.len())
                .sum();
            std::hint::black_box(bytes);
            sentences.len()
        });
        println!("| {} | {:.0} | {:.0} |", op.name(), single, parallel);
    }
}
