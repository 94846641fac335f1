//! Runtime choice of wider vector instructions for the hot pixel loops.
//!
//! The default x86-64 target allows only SSE2. [`wide`] runs a closure
//! compiled a second time with AVX2, FMA and BMI2 enabled when the CPU has
//! them (checked once, then cached), so loops the compiler vectorises get
//! 256-bit lanes and byte shuffles. Results are identical either way (a test
//! runs every image op both ways): integer arithmetic is exact, and the
//! compiler neither reassociates nor fuses float arithmetic on its own.

/// Runs `f` with AVX2 enabled when available. Everything `f` should
/// vectorise must inline into it: mark the closure and the helpers it calls
/// `#[inline(always)]`.
#[inline(always)]
pub(crate) fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = v3() {
        return simd.vectorize(f);
    }
    f()
}

/// The AVX2 token for code written with explicit shuffles, when the CPU
/// has AVX2 (and tests have not asked for the baseline path).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn v3() -> Option<pulp::x86::V3> {
    #[cfg(test)]
    if tests::SCALAR.get() {
        return None;
    }
    pulp::x86::V3::try_new()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use crate::image::{Image, ops};
    use crate::severity::Severity;

    thread_local! {
        /// Set while a test wants the baseline (SSE2) code path.
        pub(super) static SCALAR: Cell<bool> = const { Cell::new(false) };
    }

    fn scalar<R>(f: impl FnOnce() -> R) -> R {
        SCALAR.set(true);
        let out = f();
        SCALAR.set(false);
        out
    }

    fn textured(w: u32, h: u32, c: u8) -> Image {
        let data = (0..w * h * u32::from(c)).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        Image::new(w, h, c, data).expect("valid image")
    }

    #[test]
    fn every_image_op_gives_the_same_bytes_with_and_without_avx2() {
        for img in [textured(37, 29, 3), textured(64, 48, 1), textured(5, 3, 3)] {
            for op in ops() {
                for level in [1, 3, 5] {
                    let s = Severity::new(level).expect("valid severity");
                    let fast = op.apply(&img, s, 11);
                    let slow = scalar(|| op.apply(&img, s, 11));
                    assert!(fast == slow, "{} at severity {level} on {img:?}", op.name());
                }
            }
        }
    }
}
