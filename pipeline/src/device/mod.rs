//! The only module that names concrete backends. Everything else takes a
//! runtime [`Device`] and stays backend-agnostic.
//!
//! Cargo features decide which backends are compiled in (`wgpu`, `cuda`); the
//! config's `device` key or `--device` picks one at run time. A GPU device is
//! opened and made to run a kernel before it is accepted, so a missing driver
//! is one clear error at start-up instead of a panic mid-training.
//!
//! `webgpu` is on in every build with the wgpu backend (`wgpu` adds SPIR-V
//! to it), so the wgpu code is compiled under that feature.

pub mod kernel_cache;
pub mod launches;

pub use burn::prelude::Device;
pub use kernel_cache::KernelCache;

pub use crate::config::device::{ALL_NAMES, Requested, available, check_name, compiled, parse};
use crate::guard::quietly;
use burn::prelude::Tensor;

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

/// The device that will run, with what the manifest records about it.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The runtime device.
    pub device: Device,
    /// Backend and adapter, e.g. `cuda:0 (NVIDIA H200)`.
    pub description: String,
    /// `cpu`, `wgpu` or `cuda`.
    pub backend: &'static str,
    /// Where a GPU keeps its compiled kernels and autotune results; `None`
    /// on the CPU.
    pub kernel_cache: Option<KernelCache>,
    /// What the person running it should hear about the device before the
    /// run starts (wgpu fell back to OpenGL); the run goes on.
    pub warning: Option<String>,
}

impl Selected {
    /// The device and, for a GPU, where its kernels are cached: one line for
    /// the log.
    pub fn summary(&self) -> String {
        match &self.kernel_cache {
            Some(cache) => format!("{}; kernel cache {cache}", self.description),
            None => self.description.clone(),
        }
    }
}

/// Whether `device` (autodiff or not) is the CPU backend, where nothing is
/// compiled on first use.
pub fn is_host(device: &Device) -> bool {
    device.clone().inner() == host()
}

/// Checks a device name without opening it ([`check_name`]), as the error
/// [`select`] gives.
pub fn check(name: &str) -> Result<Requested, DeviceError> {
    check_name(name).map_err(|reason| DeviceError {
        requested: name.to_owned(),
        reason,
        available: available(),
    })
}

/// Opens the device a name asks for. `auto` tries CUDA, then a hardware wgpu
/// adapter, then the CPU; a software adapter (lavapipe, llvmpipe) is never
/// chosen by `auto` because burn's CPU backend is faster than it.
pub fn select(name: &str) -> Result<Selected, DeviceError> {
    let fail = |reason: String| DeviceError { requested: name.to_owned(), reason, available: available() };
    match check(name)? {
        Requested::Cpu => Ok(cpu()),
        Requested::Auto => Ok(auto()),
        Requested::Wgpu(index) => open_wgpu(index).map_err(fail),
        Requested::Cuda(index) => open_cuda(index).map_err(fail),
    }
}

/// The CPU device the host-side work runs on (weight initialisation, so
/// every backend starts from the same numbers).
pub fn host() -> Device {
    Device::flex()
}

fn cpu() -> Selected {
    Selected {
        device: Device::flex(),
        description: "cpu (burn flex)".to_owned(),
        backend: "cpu",
        kernel_cache: None,
        warning: None,
    }
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
    let kernel_cache = Some(kernel_cache::configure());
    let device = Device::cuda(index);
    let name = probe(&device).map_err(|e| cuda_failure(&e))?;
    Ok(Selected {
        device,
        description: format!("cuda:{index} ({name})"),
        backend: "cuda",
        kernel_cache,
        warning: None,
    })
}

/// Why CUDA could not run a kernel, with what to do about it: a missing
/// driver, or (with a driver) a missing libdevice, which the CUDA toolkit
/// has and the driver alone does not.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn cuda_failure(message: &str) -> String {
    if message.contains("libdevice") {
        "could not compile a kernel: the CUDA toolkit's math library (nvvm/libdevice/libdevice.10.bc) \
         was not found under $CUDA_PATH, /usr/local/cuda, /opt/cuda, /usr/lib/cuda or /usr; set CUDA_PATH \
         to a CUDA toolkit"
            .to_owned()
    } else {
        format!("could not be initialised ({}); is an NVIDIA driver installed?", without_search_list(message))
    }
}

/// A driver loader's message without the thirty-odd library names it tried
/// (cudarc lists every one), so that the error stays readable.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn without_search_list(message: &str) -> &str {
    message.split(" - searched for library names").next().unwrap_or(message).trim_end()
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_index: usize) -> Result<Selected, String> {
    Err("is not compiled into this build".to_owned())
}

/// Opens a wgpu device without the driver noise of adapter probing
/// ([`crate::guard::filter_driver_noise`]).
#[cfg(feature = "webgpu")]
fn open_wgpu(index: Option<usize>) -> Result<Selected, String> {
    crate::guard::filter_driver_noise(|| open_wgpu_here(index))
}

#[cfg(feature = "webgpu")]
fn open_wgpu_here(index: Option<usize>) -> Result<Selected, String> {
    use burn::tensor::{DeviceKind, DeviceType};
    let kernel_cache = Some(kernel_cache::configure());
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
    let failed = |e: String| {
        format!(
            "could not be initialised ({e}); is a Vulkan driver installed (e.g. Debian's mesa-vulkan-drivers)?"
        )
    };
    let api = graphics_api(&device).map_err(failed)?;
    let name = probe(&device).map_err(failed)?;
    let label = match index {
        Some(i) => format!("wgpu:{i}"),
        None => "wgpu".to_owned(),
    };
    Ok(Selected {
        device,
        description: format!("{label} ({name}, {api})"),
        backend: "wgpu",
        kernel_cache,
        warning: (api == "OpenGL").then(|| OPENGL.to_owned()),
    })
}

/// Why a wgpu run on OpenGL is worth a word: wgpu takes it without failing
/// when it finds no Vulkan adapter, and it is wgpu's slowest path.
#[cfg_attr(not(feature = "webgpu"), allow(dead_code))]
const OPENGL: &str = "wgpu found no Vulkan adapter and runs on OpenGL, its slowest path; install the \
                      GPU's Vulkan driver, or choose another device (--device cuda or cpu)";

/// Brings up a wgpu device's runtime (which its first tensor would do
/// otherwise, with the same options) to learn the graphics API wgpu settled
/// on: Vulkan where it has an adapter, else DirectX 12 or OpenGL, and a
/// GPU box whose Vulkan install is broken trains through OpenGL without
/// failing. The shader language alone does not say which ran (WGSL is also
/// what Vulkan gets in a `webgpu` build, or without SPIR-V's extensions),
/// and OpenGL is the slow path, so the run's description names it.
/// A runtime comes up once per process: the API is kept for later calls.
#[cfg(feature = "webgpu")]
fn graphics_api(device: &Device) -> Result<&'static str, String> {
    use burn_dispatch::DispatchDevice;
    use burn_dispatch::devices::CubeDevice;
    use burn_dispatch::devices::wgpu::{AutoGraphicsApi, RuntimeOptions, try_init_setup};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    static OPENED: Mutex<BTreeMap<String, &'static str>> = Mutex::new(BTreeMap::new());
    let DispatchDevice::Cube(CubeDevice::Wgpu(wgpu_device)) = device.clone().inner().as_dispatch().clone()
    else {
        return Err(format!("{device:?} is not a wgpu device"));
    };
    let key = format!("{wgpu_device:?}");
    let mut opened = OPENED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(api) = opened.get(&key) {
        return Ok(api);
    }
    let options = RuntimeOptions::try_default().map_err(|e| e.to_string())?;
    let setup =
        quietly(|| try_init_setup::<AutoGraphicsApi>(&wgpu_device, options))?.map_err(|e| e.to_string())?;
    let api = api_name(setup.backend.to_str());
    opened.insert(key, api);
    Ok(api)
}

/// How a run names wgpu's graphics API (wgpu's own short name in).
#[cfg_attr(not(feature = "webgpu"), allow(dead_code))]
fn api_name(wgpu: &str) -> &'static str {
    match wgpu {
        "vulkan" => "Vulkan",
        "metal" => "Metal",
        "dx12" => "DirectX 12",
        "gl" => "OpenGL",
        "webgpu" => "WebGPU",
        _ => "unknown graphics API",
    }
}

#[cfg(not(feature = "webgpu"))]
fn open_wgpu(_index: Option<usize>) -> Result<Selected, String> {
    Err("is not compiled into this build".to_owned())
}

/// Runs one small kernel on `device` and names its adapter; `software` is
/// appended for an adapter that is not a physical card. The kernel calls
/// `exp`, as every softmax does: CUDA's compiler links it from the CUDA
/// toolkit's libdevice, and a machine without one must fail here, not in
/// the first batch.
#[cfg_attr(not(any(feature = "webgpu", feature = "cuda")), allow(dead_code))]
fn probe(device: &Device) -> Result<String, String> {
    quietly(|| {
        let x = Tensor::<1>::from_floats([1.0, 2.0], device);
        let sum: f32 = (x.clone() * x).exp().sum().into_scalar();
        let want = 1f32.exp() + 4f32.exp();
        assert!((sum - want).abs() < 1e-4 * want, "a test kernel computed {sum} instead of {want}");
        identity(device)
    })
}

#[cfg(any(feature = "webgpu", feature = "cuda"))]
fn identity(device: &Device) -> String {
    let name = match device.identity() {
        Some(id) if id.physical.is_some() => id.name,
        Some(id) => format!("{}, software", id.name),
        None => "unknown adapter".to_owned(),
    };
    match shader_language(runtime_name(device)) {
        Some(language) => format!("{name}, {language}"),
        None => name,
    }
}

/// cubecl's name for the runtime that serves `device` (`wgpu<spirv>`,
/// `wgpu<wgsl>`, `cuda`); `None` off cubecl.
#[cfg(any(feature = "webgpu", feature = "cuda"))]
fn runtime_name(device: &Device) -> Option<&'static str> {
    match device.clone().inner().as_dispatch() {
        burn_dispatch::DispatchDevice::Cube(cube) => Some(cube.client().name()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The language a wgpu runtime compiles kernels to: which one ran is decided
/// by the build (`wgpu` or `webgpu`) and by the driver (SPIR-V needs
/// Vulkan extensions some lack), and the two differ in speed, so a run
/// records it. `None` for CUDA, which has one.
#[cfg_attr(not(any(feature = "webgpu", feature = "cuda")), allow(dead_code))]
fn shader_language(runtime: Option<&str>) -> Option<&'static str> {
    match runtime? {
        "wgpu<spirv>" => Some("SPIR-V"),
        "wgpu<wgsl>" => Some("WGSL"),
        "wgpu<msl>" => Some("MSL"),
        _ => None,
    }
}

#[cfg(not(any(feature = "webgpu", feature = "cuda")))]
fn identity(_device: &Device) -> String {
    "cpu".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loader_message_loses_its_search_list() {
        let cudarc = "Unable to dynamically load the \"cuda\" shared library - searched for library names: \
                      [\"libcuda.so\", \"libcuda.so.1\"]. Ensure that `LD_LIBRARY_PATH` has the correct path";
        assert_eq!(without_search_list(cudarc), "Unable to dynamically load the \"cuda\" shared library");
        assert_eq!(without_search_list("out of memory"), "out of memory");
    }

    #[test]
    fn a_cuda_failure_says_what_is_missing() {
        let no_driver = cuda_failure(
            "Unable to dynamically load the \"cuda\" shared library - searched for library names: [\"libcuda.so\"]",
        );
        assert!(no_driver.contains("NVIDIA driver") && !no_driver.contains("searched"), "{no_driver}");
        // cubecl-llvm's message when the toolkit is missing, as its panic carries it.
        let no_toolkit = cuda_failure(
            "called `Result::unwrap()` on an `Err` value: \"libdevice.10.bc was not found: the kernel calls a math function",
        );
        assert!(no_toolkit.contains("CUDA_PATH") && no_toolkit.contains("libdevice.10.bc"), "{no_toolkit}");
        assert!(!no_toolkit.contains("unwrap"), "{no_toolkit}");
    }

    #[test]
    fn the_probe_runs_a_kernel_with_exp_on_the_cpu() {
        assert!(probe(&host()).is_ok());
    }

    #[test]
    fn wgpu_runtimes_name_their_shader_language() {
        assert_eq!(shader_language(Some("wgpu<spirv>")), Some("SPIR-V"));
        assert_eq!(shader_language(Some("wgpu<wgsl>")), Some("WGSL"));
        assert_eq!(shader_language(Some("cuda")), None);
        assert_eq!(shader_language(None), None);
    }

    #[test]
    fn graphics_apis_have_their_usual_names() {
        assert_eq!(api_name("vulkan"), "Vulkan");
        assert_eq!(api_name("gl"), "OpenGL");
        assert_eq!(api_name("dx12"), "DirectX 12");
        assert_eq!(api_name("noop"), "unknown graphics API");
    }

    #[test]
    fn cpu_is_always_available() {
        let s = select("cpu").expect("cpu");
        assert_eq!(s.backend, "cpu");
        assert!(s.description.contains("flex"));
    }
}
