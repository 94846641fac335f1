//! "Did you mean" suggestions for misspelt names: config keys and values,
//! device names, operation names on the command line. A leaf: any module
//! may use it.

/// The allowed value closest to `given`, if it is plausibly a typo.
pub fn nearest<'a>(given: &str, allowed: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    allowed
        .into_iter()
        .map(|a| (strsim::damerau_levenshtein(given, a), a))
        .filter(|(d, a)| *d <= (a.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// "unknown X `y`; did you mean `z`? allowed: a, b, c".
pub fn unknown_value(what: &str, given: &str, allowed: &[&str]) -> String {
    let mut msg = format!("unknown {what} `{given}`");
    if let Some(near) = nearest(given, allowed.iter().copied()) {
        msg.push_str(&format!("; did you mean `{near}`?"));
    }
    msg.push_str(&format!(" (allowed: {})", allowed.join(", ")));
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_finds_typos_only() {
        let keys = ["learning-rate", "epochs", "batch-size"];
        assert_eq!(nearest("learning-rat", keys), Some("learning-rate"));
        assert_eq!(nearest("epohcs", keys), Some("epochs"));
        assert_eq!(nearest("colour", keys), None);
    }

    #[test]
    fn unknown_value_suggests_and_lists() {
        let m = unknown_value("device", "cpuu", &["cpu", "wgpu"]);
        assert_eq!(m, "unknown device `cpuu`; did you mean `cpu`? (allowed: cpu, wgpu)");
    }
}
