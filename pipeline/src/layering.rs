//! Keeps the layers of DESIGN.md: a module may name only modules of lower
//! layers (and, within a layer, only the pairs listed in [`SIDEWAYS`]), so
//! the module graph stays acyclic; and only `device` names a concrete
//! backend. Read from the sources, so a new edge fails `cargo test`.

use std::collections::BTreeMap;

/// Every top-level module by layer, lowest first.
const LAYERS: &[&[&str]] = &[
    &["suggest", "hash", "guard", "exit", "pool", "progress", "synth"],
    &["config"],
    &["device"],
    &["data", "model"],
    &["batch", "run"],
    &["attack"],
    &["eval", "mce", "train", "certify"],
    &["privacy", "poison", "extraction"],
    &["report", "compare"],
    &["experiment"],
    &["cli"],
];

/// Edges allowed within one layer (from, to).
const SIDEWAYS: &[(&str, &str)] = &[("compare", "report")];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// A file's text before its `#[cfg(test)] mod tests`, without comments.
fn production_code(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = (0..lines.len())
        .find(|&i| {
            lines[i].trim() == "#[cfg(test)]"
                && lines.get(i + 1).is_some_and(|l| l.trim_start().starts_with("mod tests"))
        })
        .unwrap_or(lines.len());
    lines[..end]
        .iter()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names through `crate::`, including each
/// item of `use crate::{a, b::{c, d}}` groups.
fn named_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i + "crate::".len();
        at = start;
        if bytes.get(start) == Some(&b'{') {
            let mut depth = 0;
            let mut item_start = true;
            for (j, c) in code[start..].char_indices() {
                match c {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            at = start + j;
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        let rest = &code[start + j..];
                        let name: String =
                            rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                        out.push(name);
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String =
                code[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out.retain(|n| n != "self");
    out
}

/// `module → (named module → first file naming it)` for the crate's sources.
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let root = crate::manifest_dir().join("src");
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).expect("under src").to_string_lossy().into_owned();
            let top = rel.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_owned();
            if ["main", "lib", "layering"].contains(&top.as_str()) {
                continue;
            }
            let code = production_code(&std::fs::read_to_string(&path).expect("source file"));
            let edges = graph.entry(top.clone()).or_default();
            for named in named_modules(&code) {
                if named != top {
                    edges.entry(named).or_insert_with(|| rel.clone());
                }
            }
        }
    }
    graph
}

#[test]
fn every_module_names_only_lower_layers() {
    let graph = graph();
    let mut wrong = Vec::new();
    for (from, edges) in &graph {
        let Some(own) = layer_of(from) else {
            wrong.push(format!("module `{from}` has no layer in layering.rs: place it"));
            continue;
        };
        for (to, file) in edges {
            match layer_of(to) {
                Some(l) if l < own || (l == own && SIDEWAYS.contains(&(from.as_str(), to.as_str()))) => {}
                Some(_) => wrong.push(format!("{file}: `{from}` names `crate::{to}`, which is not below it")),
                None => wrong.push(format!("{file}: `crate::{to}` is not a module with a layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_scan_sees_grouped_and_inline_paths() {
    let code = "use crate::{config::{A, B}, data,\n    model::x};\nfn f() { crate::eval::run(); }\n";
    assert_eq!(named_modules(code), ["config", "data", "model", "eval"]);
    let code = "use crate::attack;\n#[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n";
    assert_eq!(named_modules(&production_code(code)), ["attack"]);
    assert_eq!(named_modules(&production_code("// crate::cli in a comment\n")), Vec::<String>::new());
}

#[test]
fn only_device_names_a_concrete_backend() {
    let root = crate::manifest_dir().join("src");
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.starts_with(root.join("device"))
                && !path.ends_with("layering.rs")
            {
                let code = production_code(&std::fs::read_to_string(&path).expect("source file"));
                for backend in ["Device::flex(", "Device::wgpu(", "Device::cuda("] {
                    if code.contains(backend) {
                        found.push(format!("{}: {backend}", path.display()));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "backends named outside device/:\n{}", found.join("\n"));
}
