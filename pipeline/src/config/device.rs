//! The device names a config or `--device` may give, and whether this build
//! has their backend. Opening one is `crate::device`'s job.

/// Device names a config or `--device` may use, whatever this build has.
pub const ALL_NAMES: &[&str] = &["cpu", "auto", "wgpu", "wgpu:N", "cuda", "cuda:N"];

/// A parsed device name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// burn's flex CPU backend.
    Cpu,
    /// The best compiled-in device that initialises.
    Auto,
    /// A wgpu adapter: the default one, or the N-th listed.
    Wgpu(Option<usize>),
    /// A CUDA device by index.
    Cuda(usize),
}

/// Backends compiled into this build, in the order `auto` tries them.
pub fn compiled() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    if cfg!(feature = "webgpu") {
        names.push("wgpu");
    }
    names.push("cpu");
    names
}

/// Backends a config may name in this build, for messages.
pub fn available() -> String {
    let mut names = compiled();
    names.push("auto");
    names.join(", ")
}

/// Parses a device name's spelling, without asking whether it is compiled in.
pub fn parse(name: &str) -> Result<Requested, String> {
    let (base, index) = match name.split_once(':') {
        Some((b, i)) => {
            let i = i
                .parse::<usize>()
                .map_err(|_| format!("has an index `{i}` that is not a number (write e.g. `{b}:0`)"))?;
            (b, Some(i))
        }
        None => (name, None),
    };
    match (base, index) {
        ("cpu", None) => Ok(Requested::Cpu),
        ("auto", None) => Ok(Requested::Auto),
        ("cpu" | "auto", Some(_)) => Err(format!("`{base}` takes no index")),
        ("wgpu", i) => Ok(Requested::Wgpu(i)),
        ("cuda", i) => Ok(Requested::Cuda(i.unwrap_or(0))),
        (other, _) => Err(crate::suggest::unknown_value("device", other, ALL_NAMES)),
    }
}

/// Checks a device name: spelled right and compiled into this build. Whether
/// it initialises is only known when it is opened ([`select`]).
pub fn check_name(name: &str) -> Result<Requested, String> {
    let requested = parse(name)?;
    let missing = match requested {
        Requested::Wgpu(_) if !cfg!(feature = "webgpu") => Some("wgpu"),
        Requested::Cuda(_) if !cfg!(feature = "cuda") => Some("cuda"),
        _ => None,
    };
    match missing {
        Some(feature) => Err(format!(
            "is not compiled into this build; rebuild with `cargo build --release --features {feature}` \
             (or `make train FEATURES={feature}`); available: {}",
            available()
        )),
        None => Ok(requested),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_indices() {
        assert_eq!(parse("cpu"), Ok(Requested::Cpu));
        assert_eq!(parse("auto"), Ok(Requested::Auto));
        assert_eq!(parse("cuda"), Ok(Requested::Cuda(0)));
        assert_eq!(parse("cuda:3"), Ok(Requested::Cuda(3)));
        assert_eq!(parse("wgpu"), Ok(Requested::Wgpu(None)));
        assert_eq!(parse("wgpu:1"), Ok(Requested::Wgpu(Some(1))));
        assert!(parse("cuda:x").unwrap_err().contains("not a number"));
        assert!(parse("cpu:0").unwrap_err().contains("takes no index"));
        assert!(parse("gpu").unwrap_err().contains("device"));
    }

    #[test]
    fn a_backend_left_out_of_the_build_says_how_to_build_it() {
        for (name, feature) in [("cuda:0", "cuda"), ("wgpu", "wgpu")] {
            let compiled_in = compiled().contains(&feature);
            match check_name(name) {
                Ok(_) => assert!(compiled_in, "{name} accepted without its feature"),
                Err(e) => {
                    assert!(!compiled_in, "{name} refused although compiled in: {e}");
                    assert!(e.contains(&format!("--features {feature}")), "{e}");
                    assert!(e.contains("cpu"), "{e}");
                }
            }
        }
    }
}
