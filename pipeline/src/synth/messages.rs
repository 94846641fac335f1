//! Short customer messages in four classes, the kind a support inbox or a
//! spam filter sees: `billing`, `shipping`, `technical`, `spam`.
//!
//! Messages are built from templates shared by all classes, with greetings
//! and sign-offs; the class shows in one or two cue words. Some carry a
//! stray cue from another class and a small share of labels is redrawn, as
//! in hand-labelled data, so accuracy stays below 100% and damage to a cue
//! word visibly hurts. As in a real inbox, the classes are not equally
//! common, cue words come inflected (`refund`, `refunds`, `refunded`) and
//! some writers make typos: a model that only knows whole words meets forms
//! it never saw, one that reads characters recognises most of them.

use rand::Rng;
use rand::seq::IndexedRandom;

use augment::seed;

/// Class names in label order.
pub const CLASSES: [&str; 4] = ["billing", "shipping", "technical", "spam"];

const GREETINGS: &[&str] =
    &["", "", "", "hi", "hello", "hey team", "dear support", "good morning", "hi there"];
const SIGNOFFS: &[&str] = &["", "", "", "thanks", "thank you", "please help", "asap", "regards", "cheers"];
const PLANS: &[&str] = &["basic", "premium", "family", "pro", "annual", "monthly"];
const MONTHS: &[&str] = &["january", "march", "may", "july", "september", "november"];
const PRIZES: &[&str] = &["iphone", "vacation", "laptop", "voucher", "cruise", "car"];
const URLS: &[&str] = &["bit.ly/x7k2", "win-now.biz", "secure-verify.net", "free-gift.top"];

/// Templates shared by every class: the class shows only in the `{kw}`
/// slots, so a message carries one or two cue words, as real short messages
/// often do, and damaging a cue word matters.
const SHARED: &[&str] = &[
    "i have a question about the {kw}",
    "can you help me with my {kw} today",
    "there is a problem with the {kw} again",
    "please check the {kw} for my account",
    "what happened to my {kw}",
    "the {kw} is not what i expected",
    "i need an update on the {kw} and the {kw2}",
    "nobody answered about my {kw} yet",
    "is the {kw} still valid for order {order}",
    "why is the {kw} taking so long",
    "my {kw} and {kw2} need attention",
    "quick note about the {kw}",
];

/// Cue words per class, in [`CLASSES`] order.
const CUES: [&[&str]; 4] = [
    &[
        "invoice",
        "refund",
        "charge",
        "payment",
        "receipt",
        "subscription",
        "billing",
        "discount",
        "statement",
        "fee",
    ],
    &[
        "parcel", "delivery", "courier", "tracking", "shipment", "package", "depot", "address", "postage",
        "dispatch",
    ],
    &["login", "password", "crash", "error", "update", "browser", "settings", "sync", "upload", "server"],
    &[
        "prize", "winner", "lottery", "bitcoin", "casino", "voucher", "jackpot", "reward", "giveaway",
        "crypto",
    ],
];

/// One message of class `class` (index into [`CLASSES`]).
pub fn message(class: usize, rng: &mut impl Rng) -> String {
    let cues = CUES[class % 4];
    let mut parts: Vec<String> = Vec::new();
    let greet = GREETINGS.choose(rng).copied().unwrap_or("");
    if !greet.is_empty() {
        parts.push(greet.to_owned());
    }
    let template = SHARED.choose(rng).copied().unwrap_or("");
    let mut text = template.to_owned();
    for slot in ["{kw2}", "{kw}"] {
        while text.contains(slot) {
            let cue = inflect(cues.choose(rng).copied().unwrap_or(""), rng);
            text = text.replacen(slot, &cue, 1);
        }
    }
    parts.push(fill(&text, rng));
    if rng.random::<f32>() < 0.1 {
        // A stray cue from another class: real messages mix topics.
        let other = CUES[rng.random_range(0..4)];
        parts.push(format!("and the {}", other.choose(rng).copied().unwrap_or("")));
    }
    let sign = SIGNOFFS.choose(rng).copied().unwrap_or("");
    if !sign.is_empty() {
        parts.push(sign.to_owned());
    }
    let mut text = parts.join(" ");
    if rng.random::<f32>() < 0.15 {
        text = typo(&text, rng);
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if rng.random::<bool>() => first.to_uppercase().chain(chars).collect(),
        _ => text,
    }
}

/// Cue words that are also verbs, which writers inflect as verbs.
const VERBS: &[&str] = &["refund", "charge", "dispatch", "crash", "update", "sync", "upload", "reward"];

/// `word` as written: mostly plain, otherwise plural or, for a verb, past
/// or progressive.
fn inflect(word: &str, rng: &mut impl Rng) -> String {
    let verb = VERBS.contains(&word);
    match rng.random_range(0..6) {
        0 if word.ends_with('s') => word.to_owned(),
        0 if word.ends_with("sh") || word.ends_with("ch") => format!("{word}es"),
        0 => format!("{word}s"),
        1 if verb && word.ends_with('e') => format!("{word}d"),
        1 if verb => format!("{word}ed"),
        2 if verb => format!("{}ing", word.strip_suffix('e').unwrap_or(word)),
        _ => word.to_owned(),
    }
}

/// One letter of one word of four letters or more dropped, doubled or
/// swapped with its neighbour, as hurried writers do.
fn typo(text: &str, rng: &mut impl Rng) -> String {
    let mut words: Vec<String> = text.split(' ').map(str::to_owned).collect();
    let long: Vec<usize> = (0..words.len()).filter(|&i| words[i].chars().count() >= 4).collect();
    let Some(&w) = long.choose(rng) else { return text.to_owned() };
    let mut chars: Vec<char> = words[w].chars().collect();
    let at = rng.random_range(1..chars.len() - 1);
    match rng.random_range(0..3) {
        0 => {
            chars.remove(at);
        }
        1 => chars.insert(at, chars[at]),
        _ => chars.swap(at, at + 1),
    }
    words[w] = chars.into_iter().collect();
    words.join(" ")
}

fn fill(template: &str, rng: &mut impl Rng) -> String {
    let mut out = template.to_owned();
    let pick =
        |list: &[&str], rng: &mut dyn rand::RngCore| list[(rng.next_u32() as usize) % list.len()].to_owned();
    while let Some(start) = out.find('{') {
        let Some(len) = out[start..].find('}') else { break };
        let slot = out[start + 1..start + len].to_owned();
        let value = match slot.as_str() {
            "plan" => pick(PLANS, rng),
            "month" => pick(MONTHS, rng),
            "prize" => pick(PRIZES, rng),
            "url" => pick(URLS, rng),
            "amount" => format!("${}", rng.random_range(5..500)),
            "days" => rng.random_range(3..30).to_string(),
            "order" => format!("#{}", rng.random_range(10_000..99_999)),
            "code" => rng.random_range(100..599).to_string(),
            "size" => format!("{}mb", rng.random_range(2..50) * 10),
            _ => String::new(),
        };
        out.replace_range(start..start + len + 1, &value);
    }
    out
}

/// How common each class is, in [`CLASSES`] order (spam dominates an inbox).
const SHARES: [f32; 4] = [0.25, 0.2, 0.15, 0.4];

/// `n` (class, text) pairs, classes drawn by [`SHARES`]; 2% of labels are
/// redrawn at random.
pub fn generate(n: usize, seed: u64) -> Vec<(usize, String)> {
    let mut rng = seed::rng(seed::derive(seed, 0, 0, "messages"));
    (0..n)
        .map(|_| {
            let mut u = rng.random::<f32>();
            let class = SHARES
                .iter()
                .position(|&p| {
                    u -= p;
                    u < 0.0
                })
                .unwrap_or(CLASSES.len() - 1);
            let text = message(class, &mut rng);
            let label = if rng.random::<f32>() < 0.02 { rng.random_range(0..CLASSES.len()) } else { class };
            (label, text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_filled_and_output_repeats() {
        let a = generate(200, 3);
        assert_eq!(a, generate(200, 3));
        assert!(a.iter().all(|(_, t)| !t.contains('{') && !t.is_empty()));
        for c in 0..4 {
            assert!(a.iter().filter(|(l, _)| *l == c).count() > 20);
        }
        // Spam, the most common class (40%), outnumbers technical (15%).
        let a = generate(2000, 3);
        let count = |c: usize| a.iter().filter(|(l, _)| *l == c).count();
        assert!(count(3) > 2 * count(2), "{} spam, {} technical", count(3), count(2));
    }

    #[test]
    fn cues_are_inflected_and_some_words_misspelt() {
        let mut rng = seed::rng(5);
        let mut forms = |w: &str| -> std::collections::BTreeSet<String> {
            (0..200).map(|_| inflect(w, &mut rng)).collect()
        };
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(forms("refund"), set(&["refund", "refunds", "refunded", "refunding"]));
        assert_eq!(forms("charge"), set(&["charge", "charges", "charged", "charging"]));
        assert_eq!(forms("parcel"), set(&["parcel", "parcels"]));
        assert_eq!(forms("address"), set(&["address"]));
        assert_eq!(forms("crash"), set(&["crash", "crashes", "crashed", "crashing"]));
        for _ in 0..50 {
            // No doubled letters, so every edit shows.
            let t = typo("the parcel came late", &mut rng);
            assert_ne!(t, "the parcel came late");
            assert!(t.starts_with("the "), "{t}");
        }
        assert_eq!(typo("a b c", &mut rng), "a b c", "no word long enough");
    }
}
