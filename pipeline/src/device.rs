//! The only module that names concrete backends. Everything else takes a
//! runtime [`Device`] and stays backend-agnostic.

pub use burn::prelude::Device;

/// Device names a config or `--device` may use.
pub const DEVICE_NAMES: &[&str] = &["cpu", "auto"];

/// A device that cannot be used in this build or on this machine.
#[derive(Debug, thiserror::Error)]
#[error("device `{requested}` {reason}; available: {available}")]
pub struct DeviceError {
    /// What was asked.
    pub requested: String,
    /// Why it cannot be used.
    pub reason: String,
    /// What this build offers.
    pub available: String,
}

/// Checks a device name's spelling (not whether it initialises).
pub fn check_name(name: &str) -> Result<(), String> {
    let base = name.split(':').next().unwrap_or(name);
    match base {
        "cpu" | "auto" => Ok(()),
        "wgpu" | "cuda" => Err(format!(
            "`{name}` is not compiled into this build; rebuild with `cargo build --release --features {base}` (available: {})",
            DEVICE_NAMES.join(", ")
        )),
        other => Err(crate::config::unknown_value_message(
            "device",
            other,
            &["cpu", "auto", "wgpu", "cuda", "cuda:N"],
        )),
    }
}

/// The device to run on, with a description for the manifest.
pub fn select(name: &str) -> Result<(Device, String), DeviceError> {
    check_name(name).map_err(|reason| DeviceError {
        requested: name.to_owned(),
        reason,
        available: DEVICE_NAMES.join(", "),
    })?;
    // `auto` picks the best compiled-in device; this build has the CPU only.
    Ok((Device::flex(), "cpu (burn flex)".to_owned()))
}
