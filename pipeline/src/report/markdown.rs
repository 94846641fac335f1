//! `report.md`: the report's sections as Markdown. Charts are left out (the
//! tables carry the same numbers) and the examples are pointed to in
//! `report.html`.

use std::fmt::Write;

use super::sections::{Block, Document, Span, Table};

/// Renders a report document as Markdown.
pub fn render(doc: &Document) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", doc.title);
    for block in &doc.intro {
        write_block(&mut s, block);
    }
    for section in &doc.sections {
        let _ = writeln!(s, "## {}\n", section.title);
        for block in &section.blocks {
            write_block(&mut s, block);
        }
    }
    s
}

fn write_block(s: &mut String, block: &Block) {
    match block {
        Block::Text(spans) => {
            let _ = writeln!(s, "{}\n", spans_md(spans));
        }
        Block::Table(t) => table(s, t),
        Block::List(items) => {
            for item in items {
                let _ = writeln!(s, "- {}", spans_md(item));
            }
            s.push('\n');
        }
        Block::Charts(_) => {}
        Block::Examples(e) => {
            let _ = writeln!(
                s,
                "The first {} test inputs under each corruption and attack, with the model's predictions, \
                 are shown in `report.html`.\n",
                e.clean.len()
            );
        }
    }
}

fn spans_md(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| match span {
            Span::Plain(t) => t.clone(),
            Span::Code(t) => format!("`{}`", t.replace('`', "'")),
        })
        .collect()
}

fn table(s: &mut String, t: &Table) {
    let cell = |c: &String| c.replace('|', "\\|");
    let _ = writeln!(s, "| {} |", t.header.iter().map(cell).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(t.header.len()));
    for row in &t.rows {
        let _ = writeln!(s, "| {} |", row.iter().map(cell).collect::<Vec<_>>().join(" | "));
    }
    s.push('\n');
}
