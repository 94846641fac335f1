//! Third-party code that panics on malformed input (a backend without its
//! driver, a reader on a corrupt file) must not take a run down: its panic
//! becomes an error message the caller can attach to a file or setting.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::thread::ThreadId;

/// What a helper thread's panic said, for one [`quietly`] call.
type Slot = Arc<Mutex<Option<String>>>;

/// The [`quietly`] calls running now, by the thread that made each. One
/// process-wide panic hook serves them all: swapping the hook per call
/// would let two calls on different threads (reading two tables at once)
/// restore each other's hooks and lose a helper thread's message.
static SCOPES: Mutex<Vec<(ThreadId, Slot)>> = Mutex::new(Vec::new());

/// Installs the hook once, in front of whatever hook was set before it
/// (the binary's or the default), which still runs when no call is active.
fn install_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let scopes = SCOPES.lock().unwrap_or_else(PoisonError::into_inner);
            if scopes.is_empty() {
                drop(scopes);
                return previous(info);
            }
            let me = std::thread::current().id();
            // A caller's own panic is caught and reported by its call.
            if scopes.iter().any(|(caller, _)| *caller == me) {
                return;
            }
            let text = info.payload_as_str().unwrap_or("the backend panicked");
            for (_, slot) in scopes.iter() {
                let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
                if slot.is_none() {
                    *slot = Some(text.to_owned());
                }
            }
        }));
    });
}

/// Runs `f`, turning a panic inside it into its message (first line)
/// instead of a crash with a backtrace on stderr.
///
/// When a thread `f` talks to panics (a GPU runtime's server thread that
/// finds no driver), `f` itself panics only on the closed channel
/// ("RecvError"); the other thread's message says why, so it is returned
/// instead.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let caller = std::thread::current().id();
    let elsewhere: Slot = Arc::default();
    SCOPES.lock().unwrap_or_else(PoisonError::into_inner).push((caller, Arc::clone(&elsewhere)));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    SCOPES.lock().unwrap_or_else(PoisonError::into_inner).retain(|(_, slot)| !Arc::ptr_eq(slot, &elsewhere));
    result.map_err(|payload| {
        let own = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the backend panicked".to_owned());
        let other = elsewhere.lock().unwrap_or_else(PoisonError::into_inner).take();
        let text = match other {
            Some(why) if own.contains("RecvError") || own.contains("SendError") => why,
            _ => own,
        };
        // Backend panics can span many lines; the first says what failed.
        text.lines().next().unwrap_or_default().trim().to_owned()
    })
}

/// Lines native drivers print on stderr that say nothing about the run: on a
/// machine without a display, Mesa's Vulkan device-selection layer tries to
/// reach a Wayland compositor and reports that it could not, once per
/// instance wgpu creates while it looks for adapters. A user reads that as
/// Temper failing.
const DRIVER_NOISE: &[&str] = &["error: XDG_RUNTIME_DIR is invalid or not set in the environment."];

/// `text` without the [`DRIVER_NOISE`] lines; every other line is kept, in order.
pub fn without_driver_noise(text: &str) -> String {
    text.split_inclusive('\n').filter(|line| !DRIVER_NOISE.contains(&line.trim_end())).collect()
}

/// Runs `f` (which opens a GPU device) with stderr held, then writes what
/// was printed back to stderr less the [`DRIVER_NOISE`] lines, so a real
/// driver error still shows. Only without a Wayland display (where the
/// noise cannot mean anything) and where stderr can be held; otherwise `f`
/// runs as it is.
pub fn filter_driver_noise<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(unix)]
    if std::env::var_os("WAYLAND_DISPLAY").is_none()
        && let Ok(mut held) = gag::BufferRedirect::stderr()
    {
        use std::io::{Read, Write};
        let out = f();
        let mut bytes = Vec::new();
        let _ = held.read_to_end(&mut bytes);
        drop(held);
        let kept = without_driver_noise(&String::from_utf8_lossy(&bytes));
        let _ = std::io::stderr().lock().write_all(kept.as_bytes());
        return out;
    }
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_driver_noise_lines_are_dropped() {
        let text = "error: XDG_RUNTIME_DIR is invalid or not set in the environment.\n\
                    MESA: error: ZINK: failed to choose pdev\n\
                    error: XDG_RUNTIME_DIR is invalid or not set in the environment.\n\
                    a real warning without newline";
        assert_eq!(
            without_driver_noise(text),
            "MESA: error: ZINK: failed to choose pdev\na real warning without newline"
        );
        assert_eq!(without_driver_noise(""), "");
        assert_eq!(without_driver_noise("error: XDG_RUNTIME_DIR unset\n"), "error: XDG_RUNTIME_DIR unset\n");
    }

    #[test]
    fn a_panic_becomes_its_first_line() {
        let r: Result<(), String> = quietly(|| panic!("no driver\nbacktrace"));
        assert_eq!(r.unwrap_err(), "no driver");
    }

    /// [`quietly`] around the shape of a GPU runtime without its driver:
    /// the server thread panics with `why`, the caller then fails on the
    /// closed channel.
    fn without_its_server(why: &str) -> Result<(), String> {
        let why = why.to_owned();
        quietly(move || {
            let (tx, rx) = std::sync::mpsc::channel::<u32>();
            let server = std::thread::spawn(move || {
                let _keep = tx;
                panic!("{why}");
            });
            let _ = server.join();
            rx.recv().expect("an answer from the server");
        })
    }

    #[test]
    fn a_helper_thread_panicking_first_gives_the_message() {
        let r = without_its_server(
            "Unable to dynamically load the \"cuda\" shared library\nsearched: libcuda.so",
        );
        assert_eq!(r.unwrap_err(), "Unable to dynamically load the \"cuda\" shared library");
    }

    #[test]
    fn calls_on_many_threads_at_once_each_get_a_helpers_message() {
        // Tables are read (through `quietly`) on several threads at once;
        // each call must still see a helper thread's panic, not its RecvError.
        let calls: Vec<_> = (0..8)
            .map(|i| {
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let r = without_its_server(&format!("server {i} has no driver"));
                        let message = r.unwrap_err();
                        assert!(
                            message.starts_with("server ") && message.ends_with("has no driver"),
                            "{message}"
                        );
                    }
                })
            })
            .collect();
        for call in calls {
            call.join().expect("a call thread");
        }
    }
}
