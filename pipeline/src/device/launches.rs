//! Counting and timing the GPU kernels a piece of work launches.
//!
//! A GPU step's time is set either by the host, which pays for every launch
//! (binding, encoding, submitting) whatever the kernel computes, or by the
//! kernels themselves. The first shows as a step time that does not grow
//! with the batch and kernel time well below it, and is cut by launching
//! fewer kernels (fusion); the second as kernel time close to the step's,
//! and is cut by faster kernels for the few that take most of it. So both
//! are measured: how many kernels a step launches, on any adapter (Mesa's
//! software one included), and how long each kind ran.
//!
//! cubecl tells an installed observer of every launch, on the thread that
//! issues it, before it is submitted; the observer is process-wide, so a
//! count covers every launch made while it is installed, whichever thread
//! (fusion's included) makes it. Launches are counted when issued: burn's
//! fusion issues a step's kernels when its queue is flushed, which may be
//! in the next step, so a per-step figure is an average over many steps
//! that end with a read.

use std::collections::BTreeMap;
use std::time::Duration;

/// Kernels launched, by short name (the kernel's type without its module
/// path and generic arguments).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Launches {
    /// How many of each kernel.
    pub by_kernel: BTreeMap<String, usize>,
}

impl Launches {
    /// All launches.
    pub fn total(&self) -> usize {
        self.by_kernel.values().sum()
    }
}

/// How long the kernels of a piece of work ran, each timed alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelTime {
    /// Their durations added up by kernel, by short name as [`Launches`]
    /// names them: which kernels a device-bound step spends its time in.
    pub by_kernel: BTreeMap<String, Duration>,
    /// Whether every duration came from the device's own timestamps; where
    /// a backend has none it times the host around a blocking submit, which
    /// adds the submission's cost to each kernel.
    pub on_device: bool,
}

impl KernelTime {
    /// All the kernels' time.
    pub fn total(&self) -> Duration {
        self.by_kernel.values().sum()
    }
}

/// The short name cubecl's profiling log uses: `a::b::Kernel<T>` → `Kernel`.
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
fn short_name(kernel: &str) -> &str {
    let before_generics = kernel.split('<').next().unwrap_or(kernel);
    before_generics.rsplit("::").next().unwrap_or(before_generics).trim()
}

/// Runs `work` and counts the kernels launched meanwhile; `None` in a build
/// without a GPU backend, where nothing is launched. Counts are
/// process-wide: two counts at once would share one observer slot (the
/// inner one would see everything and the outer nothing while it runs), so
/// callers count one piece of work at a time.
pub fn count<R>(work: impl FnOnce() -> R) -> (R, Option<Launches>) {
    imp::count(work)
}

/// Runs `work` with every kernel it launches timed, one at a time (each
/// launch waits for its kernel), so the sum is the time the device spent in
/// kernels rather than the time the work took; `None` without a GPU
/// backend. Process-wide, as [`count`].
pub fn time<R>(work: impl FnOnce() -> R) -> (R, Option<KernelTime>) {
    imp::time(work)
}

#[cfg(feature = "gpu")]
mod imp {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use cubecl_runtime::logging::{Duration, LaunchObservation, LaunchObserver, TimingMethod, TimingRequest};

    use super::{KernelTime, Launches, short_name};

    /// Counts by the kernel's full static name: the launch path holds a
    /// lock while it calls this, so it only bumps a counter.
    #[derive(Default)]
    struct Tally(Mutex<HashMap<&'static str, usize>>);

    impl LaunchObserver for Tally {
        fn launched(&self, kernel: &'static str) {
            *self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(kernel).or_default() += 1;
        }
    }

    pub fn count<R>(work: impl FnOnce() -> R) -> (R, Option<Launches>) {
        let tally = Arc::new(Tally::default());
        let watching = LaunchObservation::new(tally.clone());
        let out = work();
        drop(watching);
        let seen = std::mem::take(&mut *tally.0.lock().unwrap_or_else(|p| p.into_inner()));
        let mut launches = Launches::default();
        for (kernel, n) in seen {
            *launches.by_kernel.entry(short_name(kernel).to_owned()).or_default() += n;
        }
        (out, Some(launches))
    }

    /// Summed durations by the kernel's full static name.
    type Durations = HashMap<&'static str, Duration>;

    /// Durations as cubecl reads them back, and whether any came from the
    /// host's clock.
    #[derive(Default)]
    struct Clock(Mutex<(Durations, bool)>);

    impl LaunchObserver for Clock {
        fn launched(&self, _kernel: &'static str) {}

        fn timing(&self) -> TimingRequest {
            TimingRequest::Resolved
        }

        fn timed(&self, kernel: &'static str, duration: Duration, method: TimingMethod) {
            let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let (by_kernel, host_timed) = &mut *guard;
            *by_kernel.entry(kernel).or_default() += duration;
            *host_timed |= method != TimingMethod::Device;
        }
    }

    pub fn time<R>(work: impl FnOnce() -> R) -> (R, Option<KernelTime>) {
        let clock = Arc::new(Clock::default());
        let watching = LaunchObservation::new(clock.clone());
        let out = work();
        drop(watching);
        let (seen, host_timed) = std::mem::take(&mut *clock.0.lock().unwrap_or_else(|p| p.into_inner()));
        let mut timed = KernelTime { by_kernel: Default::default(), on_device: !host_timed };
        for (kernel, sum) in seen {
            *timed.by_kernel.entry(short_name(kernel).to_owned()).or_default() += sum;
        }
        (out, Some(timed))
    }
}

#[cfg(not(feature = "gpu"))]
mod imp {
    use super::Launches;

    pub fn count<R>(work: impl FnOnce() -> R) -> (R, Option<Launches>) {
        (work(), None)
    }

    pub fn time<R>(work: impl FnOnce() -> R) -> (R, Option<super::KernelTime>) {
        (work(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_module_path_and_generics() {
        assert_eq!(short_name("burn_cubecl::kernel::matmul::MatmulKernel<f32, u32>"), "MatmulKernel");
        assert_eq!(short_name("ElemwiseFuse"), "ElemwiseFuse");
        assert_eq!(short_name("a::b::Reduce< f32 >"), "Reduce");
    }
}
