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
    available_in(&compiled())
}

fn available_in(compiled: &[&str]) -> String {
    let mut names = compiled.to_vec();
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
    check_name_in(name, &compiled())
}

/// [`check_name`] for a build with the backends `compiled`: the refusal is
/// tested whatever this build has.
fn check_name_in(name: &str, compiled: &[&str]) -> Result<Requested, String> {
    let requested = parse(name)?;
    let backend = match requested {
        Requested::Wgpu(_) => Some("wgpu"),
        Requested::Cuda(_) => Some("cuda"),
        Requested::Cpu | Requested::Auto => None,
    };
    match backend {
        Some(feature) if !compiled.contains(&feature) => Err(format!(
            "is not compiled into this build; rebuild with `cargo build --release --features {feature}` \
             (or `make train FEATURES={feature}`); available: {}",
            available_in(compiled)
        )),
        _ => Ok(requested),
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
        let cpu_only = ["cpu"];
        for (name, feature) in [("cuda:0", "cuda"), ("wgpu", "wgpu"), ("wgpu:1", "wgpu")] {
            let e = check_name_in(name, &cpu_only).unwrap_err();
            assert!(e.contains(&format!("--features {feature}")), "{e}");
            assert!(e.contains("available: cpu, auto"), "{e}");
            assert_eq!(check_name_in(name, &[feature, "cpu"]).map(|_| ()), Ok(()), "{name}");
        }
        assert_eq!(check_name_in("cuda:2", &["cuda", "wgpu", "cpu"]), Ok(Requested::Cuda(2)));
        assert_eq!(check_name_in("cpu", &cpu_only), Ok(Requested::Cpu));
        assert_eq!(check_name_in("auto", &cpu_only), Ok(Requested::Auto));
        assert!(check_name_in("gpu", &cpu_only).unwrap_err().contains("device"));
    }

    #[test]
    fn this_build_accepts_exactly_its_backends() {
        assert_eq!(check_name("cuda").is_ok(), cfg!(feature = "cuda"));
        assert_eq!(check_name("wgpu").is_ok(), cfg!(feature = "webgpu"));
        assert_eq!(compiled().contains(&"wgpu"), cfg!(feature = "webgpu"));
    }
}
