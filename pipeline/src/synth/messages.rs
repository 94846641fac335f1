//! Short customer messages in four classes, the kind a support inbox or a
//! spam filter sees: `billing`, `shipping`, `technical`, `spam`.
//!
//! Messages are built from templates with slot fillers, greetings and
//! sign-offs; some carry a clause from another class, and a small share of
//! labels is flipped, as in real hand-labelled data, so accuracy stays
//! below 100% and typos in key words visibly hurt.

use rand::Rng;
use rand::seq::IndexedRandom;

use augment::seed;

/// Class names in label order.
pub const CLASSES: [&str; 4] = ["billing", "shipping", "technical", "spam"];

const BILLING: &[&str] = &[
    "i was charged twice for my {plan} subscription",
    "please refund the {amount} charge on my card",
    "my invoice for {month} shows the wrong amount",
    "why did my bill go up by {amount} this month",
    "can i change the payment method on my account",
    "the discount code was not applied to my invoice",
    "i cancelled my {plan} plan but you still billed me",
    "there is a charge of {amount} i do not recognise",
    "how do i get a receipt for my last payment",
    "my card was declined but the money left my bank",
    "please explain the late fee on my statement",
    "i want to downgrade to the {plan} plan to pay less",
];
const SHIPPING: &[&str] = &[
    "my package has not arrived after {days} days",
    "the tracking number for order {order} does not work",
    "can you deliver order {order} to a different address",
    "the parcel arrived damaged and the box was open",
    "the courier left my delivery at the wrong door",
    "when will order {order} be shipped",
    "i received the wrong item in my parcel",
    "the delivery date keeps moving for order {order}",
    "can i pick up my order at the depot instead",
    "half of my order is missing from the box",
    "shipping to my country takes {days} days is that normal",
    "please stop the shipment i want to return it",
];
const TECHNICAL: &[&str] = &[
    "the app crashes when i open the settings page",
    "i cannot log in after the latest update",
    "error {code} appears when i sync my files",
    "the website is very slow since {month}",
    "password reset emails never reach my inbox",
    "the export button does nothing on my laptop",
    "my data disappeared after the app restarted",
    "two factor codes are rejected as invalid",
    "the page shows error {code} on checkout",
    "notifications stopped working on my phone",
    "the upload fails for files larger than {size}",
    "dark mode makes the text unreadable",
];
const SPAM: &[&str] = &[
    "congratulations you have won a free {prize} click the link",
    "claim your {amount} cash reward now before it expires",
    "cheap pills online no prescription needed",
    "you are selected for an exclusive offer reply yes",
    "urgent your account will be suspended verify now at {url}",
    "earn {amount} a day working from home guaranteed",
    "hot singles in your area want to meet you",
    "limited time deal buy one get three free at {url}",
    "your parcel is on hold pay the {amount} fee at {url}",
    "final notice your prize {prize} is waiting claim today",
    "invest {amount} in crypto and double it in a week",
    "act now to unlock your free {prize} gift card",
];
const GREETINGS: &[&str] =
    &["", "", "", "hi", "hello", "hey team", "dear support", "good morning", "hi there"];
const SIGNOFFS: &[&str] = &["", "", "", "thanks", "thank you", "please help", "asap", "regards", "cheers"];
const PLANS: &[&str] = &["basic", "premium", "family", "pro", "annual", "monthly"];
const MONTHS: &[&str] = &["january", "march", "may", "july", "september", "november"];
const PRIZES: &[&str] = &["iphone", "vacation", "laptop", "voucher", "cruise", "car"];
const URLS: &[&str] = &["bit.ly/x7k2", "win-now.biz", "secure-verify.net", "free-gift.top"];

/// One message of class `class` (index into [`CLASSES`]).
pub fn message(class: usize, rng: &mut impl Rng) -> String {
    let pool = match class % 4 {
        0 => BILLING,
        1 => SHIPPING,
        2 => TECHNICAL,
        _ => SPAM,
    };
    let mut parts: Vec<String> = Vec::new();
    let greet = GREETINGS.choose(rng).copied().unwrap_or("");
    if !greet.is_empty() {
        parts.push(greet.to_owned());
    }
    parts.push(fill(pool.choose(rng).copied().unwrap_or(""), rng));
    if rng.random::<f32>() < 0.15 {
        // A clause from another class: real messages mix topics.
        let other = [BILLING, SHIPPING, TECHNICAL, SPAM][rng.random_range(0..4)];
        parts.push(format!("also {}", fill(other.choose(rng).copied().unwrap_or(""), rng)));
    }
    let sign = SIGNOFFS.choose(rng).copied().unwrap_or("");
    if !sign.is_empty() {
        parts.push(sign.to_owned());
    }
    let text = parts.join(" ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if rng.random::<bool>() => first.to_uppercase().chain(chars).collect(),
        _ => text,
    }
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

/// `n` (class, text) pairs; 3% of labels are flipped at random.
pub fn generate(n: usize, seed: u64) -> Vec<(usize, String)> {
    let mut rng = seed::rng(seed::derive(seed, 0, 0, "messages"));
    (0..n)
        .map(|_| {
            let class = rng.random_range(0..CLASSES.len());
            let text = message(class, &mut rng);
            let label = if rng.random::<f32>() < 0.03 { rng.random_range(0..CLASSES.len()) } else { class };
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
    }
}
