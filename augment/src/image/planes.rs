//! Splitting interleaved RGB into planes and back, for per-pixel colour
//! arithmetic that vectorises.
//!
//! The compiler's own code for the split (a gather of every third byte)
//! costs more than most colour ops themselves; AVX2 byte shuffles move 32
//! pixels per nine shuffles each way.

use super::pixels::{Lane, PLANE};

/// Bytes in one block of [`PLANE`] RGB pixels.
const BLOCK: usize = 3 * PLANE;

/// A per-pixel colour operation on blocks of [`PLANE`] pixels, given as
/// three planes of bytes (red, green, blue) and changed in place.
pub(crate) trait Kernel {
    /// One block, in portable code; `at` is the index of its first pixel.
    fn block(&self, at: usize, planes: &mut [[u8; PLANE]; 3]);

    /// One block with AVX2, for kernels written with its instructions; it
    /// must give the same bytes as [`Kernel::block`].
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn block_avx2(&self, simd: pulp::x86::V3, at: usize, planes: &mut [[u8; PLANE]; 3]) {
        let _ = simd;
        self.block(at, planes);
    }
}

/// A closure over planes of wider lanes as a [`Kernel`]: the bytes are
/// widened to `T` for it and narrowed (clamped) after.
pub(crate) struct Widened<T, F>(pub(crate) F, pub(crate) core::marker::PhantomData<T>);

impl<T: Lane, F: Fn(&mut [[T; PLANE]; 3])> Kernel for Widened<T, F> {
    #[inline(always)]
    fn block(&self, _: usize, bytes: &mut [[u8; PLANE]; 3]) {
        // A whole plane at a time: simple loops the compiler turns into
        // vector conversions.
        let mut planes = [[T::default(); PLANE]; 3];
        for (plane, b) in planes.iter_mut().zip(bytes.iter()) {
            for (lane, &v) in plane.iter_mut().zip(b) {
                *lane = T::from(v);
            }
        }
        (self.0)(&mut planes);
        for (b, plane) in bytes.iter_mut().zip(&planes) {
            for (to, lane) in b.iter_mut().zip(plane) {
                *to = lane.to_u8();
            }
        }
    }
}

/// Maps every whole block of `src` (RGB, [`PLANE`] pixels) through
/// `kernel`, appending the results to `out`; returns the bytes left over
/// (fewer than one block).
pub(super) fn map_blocks<'a>(src: &'a [u8], out: &mut Vec<u8>, kernel: &impl Kernel) -> &'a [u8] {
    let blocks = src.chunks_exact(BLOCK);
    let rest = blocks.remainder();
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = crate::simd::v3() {
        let whole = &src[..src.len() - rest.len()];
        pulp::Simd::vectorize(simd, shuffle::Blocks { simd, src: whole, out, kernel });
        return rest;
    }
    for (i, block) in blocks.enumerate() {
        let mut planes = split(block);
        kernel.block(i * PLANE, &mut planes);
        merge(&planes, out);
    }
    rest
}

/// Every third byte of a block (at most [`PLANE`] pixels; the rest zero)
/// into each plane.
#[inline(always)]
pub(super) fn split(block: &[u8]) -> [[u8; PLANE]; 3] {
    let mut planes = [[0u8; PLANE]; 3];
    for (j, px) in block.as_chunks::<3>().0.iter().enumerate().take(PLANE) {
        for (plane, &v) in planes.iter_mut().zip(px) {
            plane[j] = v;
        }
    }
    planes
}

/// The planes back to interleaved bytes, appended to `out`.
#[inline(always)]
pub(super) fn merge(planes: &[[u8; PLANE]; 3], out: &mut Vec<u8>) {
    let mut block = [0u8; BLOCK];
    for (j, px) in block.as_chunks_mut::<3>().0.iter_mut().enumerate() {
        for (plane, v) in planes.iter().zip(px.iter_mut()) {
            *v = plane[j];
        }
    }
    out.extend_from_slice(&block);
}

#[cfg(target_arch = "x86_64")]
mod shuffle {
    use core::arch::x86_64::__m256i;

    use super::super::pixels::PLANE;
    use super::BLOCK;

    /// Pixels per group of three 16-byte vectors.
    const GROUP: usize = 16;

    /// `SPLIT[p][v]`: the `pshufb` mask taking channel `p` of 16 pixels out
    /// of input vector `v` (bytes 16v..16v+16 of the 48); 0x80 zeroes a
    /// byte held by another vector.
    const SPLIT: [[[u8; 16]; 3]; 3] = {
        let mut m = [[[0x80u8; 16]; 3]; 3];
        let mut i = 0;
        while i < 48 {
            m[i % 3][i / 16][i / 3] = (i % 16) as u8;
            i += 1;
        }
        m
    };

    /// `MERGE[k][p]`: the mask placing plane `p`'s bytes into output vector
    /// `k`.
    const MERGE: [[[u8; 16]; 3]; 3] = {
        let mut m = [[[0x80u8; 16]; 3]; 3];
        let mut i = 0;
        while i < 48 {
            m[i / 16][i % 3][i % 16] = (i / 3) as u8;
            i += 1;
        }
        m
    };

    /// [`super::map_blocks`] with byte shuffles, as a `WithSimd` op so the
    /// shuffles and the kernel inline into the AVX2 build.
    pub(super) struct Blocks<'a, K> {
        pub(super) simd: pulp::x86::V3,
        pub(super) src: &'a [u8],
        pub(super) out: &'a mut Vec<u8>,
        pub(super) kernel: &'a K,
    }

    impl<K: super::Kernel> pulp::WithSimd for Blocks<'_, K> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            let Blocks { simd, src, out, kernel } = self;
            // Both 128-bit halves shuffle alike: one vector op moves two
            // groups of 16 pixels.
            let twice = |m: [u8; 16]| -> __m256i { pulp::cast([m, m]) };
            let split: [[__m256i; 3]; 3] = SPLIT.map(|p| p.map(twice));
            let merge: [[__m256i; 3]; 3] = MERGE.map(|k| k.map(twice));
            let shuffle3 = |v: [__m256i; 3], m: &[__m256i; 3]| -> __m256i {
                let a = simd.avx2._mm256_shuffle_epi8(v[0], m[0]);
                let b = simd.avx2._mm256_shuffle_epi8(v[1], m[1]);
                let c = simd.avx2._mm256_shuffle_epi8(v[2], m[2]);
                simd.avx2._mm256_or_si256(simd.avx2._mm256_or_si256(a, b), c)
            };
            let mut planes = [[0u8; PLANE]; 3];
            for (i, block) in src.as_chunks::<BLOCK>().0.iter().enumerate() {
                // Two 96-byte halves of 32 pixels: vector v holds bytes
                // 16v.. of the half's first 48 in its low lane and of its
                // second 48 in its high lane.
                for (h, half) in block.as_chunks::<96>().0.iter().enumerate() {
                    let (parts, _) = half.as_chunks::<16>();
                    let v: [__m256i; 3] = std::array::from_fn(|i| pulp::cast([parts[i], parts[i + 3]]));
                    for (plane, m) in planes.iter_mut().zip(&split) {
                        let got: [u8; 2 * GROUP] = pulp::cast(shuffle3(v, m));
                        plane[h * 2 * GROUP..][..2 * GROUP].copy_from_slice(&got);
                    }
                }
                kernel.block_avx2(simd, i * PLANE, &mut planes);
                let mut done = [[0u8; 16]; 12];
                for h in 0..2 {
                    let v: [__m256i; 3] = std::array::from_fn(|p| {
                        let lanes: [u8; 2 * GROUP] =
                            planes[p][h * 2 * GROUP..][..2 * GROUP].try_into().unwrap_or([0; 2 * GROUP]);
                        pulp::cast(lanes)
                    });
                    for (k, m) in merge.iter().enumerate() {
                        let [lo, hi]: [[u8; 16]; 2] = pulp::cast(shuffle3(v, m));
                        (done[6 * h + k], done[6 * h + 3 + k]) = (lo, hi);
                    }
                }
                out.extend_from_slice(done.as_flattened());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_then_merge_gives_the_bytes_back_and_planes_hold_channels() {
        for blocks in [0usize, 1, 3] {
            let src: Vec<u8> = (0..blocks * BLOCK + 7).map(|i| (i * 7 % 251) as u8).collect();
            let mut out = Vec::new();
            let kernel = Widened(
                |planes: &mut [[u16; PLANE]; 3]| {
                    // Red plus one, green doubled, blue kept: shows which
                    // plane is which.
                    let [r, g, _] = planes;
                    r.iter_mut().for_each(|v| *v += 1);
                    g.iter_mut().for_each(|v| *v *= 2);
                },
                core::marker::PhantomData,
            );
            let rest = map_blocks(&src, &mut out, &kernel);
            assert_eq!(rest.len(), 7);
            let want: Vec<u8> = src[..blocks * BLOCK]
                .chunks(3)
                .flat_map(|p| [p[0] + 1, (u16::from(p[1]) * 2).min(255) as u8, p[2]])
                .collect();
            assert_eq!(out, want, "{blocks} blocks");
        }
    }
}
