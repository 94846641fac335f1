//! Third-party code that panics on malformed input (a backend without its
//! driver, a reader on a corrupt file) must not take a run down: its panic
//! becomes an error message the caller can attach to a file or setting.

use std::panic::{self, AssertUnwindSafe};

/// Runs `f`, turning a panic inside it into its message (first line)
/// instead of a crash with a backtrace on stderr.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(hook);
    result.map_err(|payload| {
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the backend panicked".to_owned());
        // Backend panics can span many lines; the first says what failed.
        text.lines().next().unwrap_or_default().trim().to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_first_line() {
        let r: Result<(), String> = quietly(|| panic!("no driver\nbacktrace"));
        assert_eq!(r.unwrap_err(), "no driver");
    }
}
