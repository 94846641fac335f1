//! The only module that names concrete backends. Everything else takes a
//! runtime [`Device`] and stays backend-agnostic.
//!
//! Cargo features decide which backends are compiled in (`wgpu`, `cuda`); the
//! config's `device` key or `--device` picks one at run time. A GPU device is
//! opened and made to run a kernel before it is accepted, so a missing driver
//! is one clear error at start-up instead of a panic mid-training.

pub use burn::prelude::Device;

use crate::guard::quietly;
use burn::prelude::Tensor;

/// Device names a config or `--device` may use, whatever this build has.
pub const ALL_NAMES: &[&str] = &["cpu", "auto", "wgpu", "wgpu:N", "cuda", "cuda:N"];

/// A device that cannot be used in this build or on this machine.
#[derive(Debug, thiserror::Error)]
#[error("device `{requested}` {reason}; available in this build: {available}")]
pub struct DeviceError {
    /// What was asked.
    pub requested: String,
    /// Why it cannot be used.
    pub reason: String,
    /// What this build offers.
    pub available: String,
}

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

/// The device that will run, with what the manifest records about it.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The runtime device.
    pub device: Device,
    /// Backend and adapter, e.g. `cuda:0 (NVIDIA H200)`.
    pub description: String,
    /// `cpu`, `wgpu` or `cuda`.
    pub backend: &'static str,
}

/// Backends compiled into this build, in the order `auto` tries them.
pub fn compiled() -> Vec<&'static str> {
    let mut names = Vec::new();
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    names.push("cpu");
    names
}

fn available() -> String {
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
        (other, _) => Err(crate::config::unknown_value_message("device", other, ALL_NAMES)),
    }
}

/// Checks a device name: spelled right and compiled into this build. Whether
/// it initialises is only known when it is opened ([`select`]).
pub fn check_name(name: &str) -> Result<Requested, String> {
    let requested = parse(name)?;
    let missing = match requested {
        Requested::Wgpu(_) if !cfg!(feature = "wgpu") => Some("wgpu"),
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

/// Opens the device a name asks for. `auto` tries CUDA, then a hardware wgpu
/// adapter, then the CPU; a software adapter (lavapipe, llvmpipe) is never
/// chosen by `auto` because burn's CPU backend is faster than it.
pub fn select(name: &str) -> Result<Selected, DeviceError> {
    let fail = |reason: String| DeviceError { requested: name.to_owned(), reason, available: available() };
    match check_name(name).map_err(fail)? {
        Requested::Cpu => Ok(cpu()),
        Requested::Auto => Ok(auto()),
        Requested::Wgpu(index) => open_wgpu(index).map_err(fail),
        Requested::Cuda(index) => open_cuda(index).map_err(fail),
    }
}

fn cpu() -> Selected {
    Selected { device: Device::flex(), description: "cpu (burn flex)".to_owned(), backend: "cpu" }
}

fn auto() -> Selected {
    if let Ok(s) = open_cuda(0) {
        return s;
    }
    match open_wgpu(None) {
        Ok(s) if !s.description.contains("software") => s,
        _ => cpu(),
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(index: usize) -> Result<Selected, String> {
    let device = Device::cuda(index);
    let name = probe(&device)
        .map_err(|e| format!("could not be initialised ({e}); is an NVIDIA driver installed?"))?;
    Ok(Selected { device, description: format!("cuda:{index} ({name})"), backend: "cuda" })
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_index: usize) -> Result<Selected, String> {
    Err("is not compiled into this build".to_owned())
}

#[cfg(feature = "wgpu")]
fn open_wgpu(index: Option<usize>) -> Result<Selected, String> {
    use burn::tensor::{DeviceKind, DeviceType};
    let device = match index {
        None => Device::wgpu(DeviceKind::DefaultDevice),
        Some(i) => {
            let listed = quietly(|| Device::enumerate(DeviceType::Wgpu).into_vec())
                .map_err(|e| format!("could not list adapters ({e})"))?;
            let count = listed.len();
            listed.into_iter().nth(i).ok_or_else(|| {
                format!("does not exist: this machine has {count} wgpu adapter(s), numbered from 0")
            })?
        }
    };
    let name = probe(&device).map_err(|e| {
        format!("could not be initialised ({e}); is a Vulkan driver installed (e.g. Debian's mesa-vulkan-drivers)?")
    })?;
    let label = match index {
        Some(i) => format!("wgpu:{i}"),
        None => "wgpu".to_owned(),
    };
    Ok(Selected { device, description: format!("{label} ({name})"), backend: "wgpu" })
}

#[cfg(not(feature = "wgpu"))]
fn open_wgpu(_index: Option<usize>) -> Result<Selected, String> {
    Err("is not compiled into this build".to_owned())
}

/// Runs one small kernel on `device` and names its adapter; `software` is
/// appended for an adapter that is not a physical card.
#[cfg_attr(not(any(feature = "wgpu", feature = "cuda")), allow(dead_code))]
fn probe(device: &Device) -> Result<String, String> {
    quietly(|| {
        let x = Tensor::<1>::from_floats([1.0, 2.0], device);
        let sum: f32 = (x.clone() * x).sum().into_scalar();
        assert!((sum - 5.0).abs() < 1e-6, "a test kernel computed {sum} instead of 5");
        identity(device)
    })
}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn identity(device: &Device) -> String {
    match device.identity() {
        Some(id) if id.physical.is_some() => id.name,
        Some(id) => format!("{}, software", id.name),
        None => "unknown adapter".to_owned(),
    }
}

#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn identity(_device: &Device) -> String {
    "cpu".to_owned()
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

    #[test]
    fn cpu_is_always_available() {
        let s = select("cpu").expect("cpu");
        assert_eq!(s.backend, "cpu");
        assert!(s.description.contains("flex"));
    }
}
