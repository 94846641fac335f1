//! Markup shared by the run report and the compare page: escaping (every
//! string that comes from data — class names, run names, paths, texts —
//! goes through [`escape`] before it is written into markup), the page
//! frame and its style sheet, and axis labels.

/// `text` with `& < > " '` replaced by entities, safe in element content and
/// in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete HTML document around `body` (already markup), with the
/// shared style sheet of the run report and the compare page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f4f4f4; }
code { font-size: 0.9em; word-break: break-all; }
.chart { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.examples td { text-align: center; }
.examples img { width: 84px; height: auto; image-rendering: pixelated; border: 1px solid #ccc; }
.examples .text { text-align: left; max-width: 16em; font-family: ui-monospace, monospace; font-size: 0.85em; white-space: pre-wrap; }
.pred { font-size: 0.8em; color: #555; }
.flipped { background: #fde2e1; }
.worse { color: #b3261e; }
.better { color: #1e7b34; }
mark { background: #ffe066; }
del { color: #b3261e; }
.invisible { font-size: 0.7em; border: 1px dotted #999; padding: 0 0.1em; }
";

/// What ε means for an attack, for the x axis of its chart.
pub fn epsilon_label(attack: &str) -> String {
    match crate::attack::threat(attack) {
        Some("words") => "ε: largest share of words changed (0 = clean)",
        Some("l2") => "ε: L2 radius (0 = clean)",
        _ => "ε: L∞ radius (0 = clean)",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_attacks_axis_names_its_threat_model() {
        for (attack, unit) in [
            ("pgd_l2", "L2"),
            ("hsja_l2", "L2"),
            ("apgd_t_l2", "L2"),
            ("hsja_linf", "L∞"),
            ("autoattack_linf", "L∞"),
            ("square-2dp", "L∞"),
            ("textbugger", "words"),
        ] {
            assert!(epsilon_label(attack).contains(unit), "{attack}: {}", epsilon_label(attack));
        }
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<b class="x">Tom & 'Jerry'</b>"#),
            "&lt;b class=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
    }
}
