//! Records the locked versions of burn and polars for run manifests.

fn main() {
    let lock = std::fs::read_to_string("../Cargo.lock").unwrap_or_default();
    for (krate, var) in [("burn", "TEMPER_BURN_VERSION"), ("polars", "TEMPER_POLARS_VERSION")] {
        let needle = format!("name = \"{krate}\"\nversion = \"");
        let version =
            lock.find(&needle).and_then(|i| lock[i + needle.len()..].split('"').next()).unwrap_or("unknown");
        println!("cargo:rustc-env={var}={version}");
    }
    println!("cargo:rerun-if-changed=../Cargo.lock");
}
