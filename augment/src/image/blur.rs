//! Blurs (ImageNet-C "blur" family) and the filters other families share.
//!
//! Parameters are the benchmarks' tables in pixels of their own images:
//! ImageNet-C's at 224 px, Tiny-ImageNet-C's at 64 px, CIFAR-10-C's at 32 px,
//! used as published whatever the image size (as imagecorruptions does), so
//! a table's numbers mean what the paper's do at the size it was made for.
//! Every filter works row by row on buffers allocated once per call, never
//! per pixel.

use rand::{Rng as _, RngCore as _};

use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::OpInfo;
use crate::seed::Rng;
use crate::table::{Setting, Table, TableParams, row};

const GAUSSIAN_TABLES: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &[row("sigma_px", [1.0, 2.0, 3.0, 4.0, 6.0])]),
    TableParams::graded(Table::TinyImagenetC, &[row("sigma_px", [0.5, 0.75, 1.0, 1.25, 1.5])]),
    TableParams::graded(Table::Cifar10C, &[row("sigma_px", [0.4, 0.6, 0.7, 0.8, 1.0])]),
];
/// Disk radius and the sigma that anti-aliases it.
const DEFOCUS_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &[row("radius_px", [3.0, 4.0, 6.0, 8.0, 10.0]), row("alias_sigma", [0.1, 0.5, 0.5, 0.5, 0.5])],
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &[row("radius_px", [0.5, 1.0, 1.5, 2.5, 3.0]), row("alias_sigma", [0.6, 0.1, 0.1, 0.01, 0.1])],
    ),
    TableParams::graded(
        Table::Cifar10C,
        &[row("radius_px", [0.3, 0.4, 0.5, 1.0, 1.5]), row("alias_sigma", [0.4, 0.5, 0.6, 0.2, 0.1])],
    ),
];
/// Blur sigma, largest displacement, shuffling passes, and the share of
/// pixels each pass moves (MNIST-C moves each with even odds).
const GLASS_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &[
            row("sigma_px", [0.7, 0.9, 1.0, 1.1, 1.5]),
            row("max_delta_px", [1.0, 2.0, 2.0, 3.0, 4.0]),
            row("iterations", [2.0, 1.0, 3.0, 2.0, 2.0]),
            row("moved_share", [1.0; 5]),
        ],
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &[
            row("sigma_px", [0.1, 0.5, 0.6, 0.7, 0.9]),
            row("max_delta_px", [1.0, 1.0, 1.0, 2.0, 2.0]),
            row("iterations", [1.0, 1.0, 2.0, 1.0, 2.0]),
            row("moved_share", [1.0; 5]),
        ],
    ),
    TableParams::graded(
        Table::Cifar10C,
        &[
            row("sigma_px", [0.05, 0.25, 0.4, 0.25, 0.4]),
            row("max_delta_px", [1.0; 5]),
            row("iterations", [1.0, 1.0, 1.0, 2.0, 2.0]),
            row("moved_share", [1.0; 5]),
        ],
    ),
    TableParams::at(
        Table::MnistC,
        &[
            row("sigma_px", [0.7, 0.9, 1.0, 1.1, 1.5]),
            row("max_delta_px", [1.0, 2.0, 2.0, 3.0, 4.0]),
            row("iterations", [2.0, 1.0, 3.0, 2.0, 2.0]),
            row("moved_share", [0.5; 5]),
        ],
        1,
    ),
];
/// Streak radius and sigma, in pixels.
const MOTION_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &[row("radius_px", [10.0, 15.0, 15.0, 15.0, 20.0]), row("sigma_px", [3.0, 5.0, 8.0, 12.0, 15.0])],
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &[row("radius_px", [10.0, 10.0, 10.0, 10.0, 12.0]), row("sigma_px", [1.0, 1.5, 2.0, 2.5, 3.0])],
    ),
    TableParams::graded(
        Table::Cifar10C,
        &[row("radius_px", [6.0, 6.0, 6.0, 8.0, 9.0]), row("sigma_px", [1.0, 1.5, 2.0, 2.0, 2.5])],
    ),
    TableParams::at(
        Table::MnistC,
        &[row("radius_px", [10.0, 15.0, 15.0, 15.0, 20.0]), row("sigma_px", [3.0, 5.0, 8.0, 12.0, 15.0])],
        1,
    ),
];
/// Zoom factors 1, 1 + step, .. (`zooms` of them): the lengths numpy's
/// `arange(1, max, step)` gives the benchmarks' code.
const ZOOM_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &[row("zooms", [12.0, 16.0, 11.0, 13.0, 11.0]), row("step", [0.01, 0.01, 0.02, 0.02, 0.03])],
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &[row("zooms", [7.0, 12.0, 16.0, 21.0, 26.0]), row("step", [0.01; 5])],
    ),
    TableParams::graded(
        Table::Cifar10C,
        &[row("zooms", [7.0, 12.0, 16.0, 21.0, 26.0]), row("step", [0.01; 5])],
    ),
];

/// `gaussian_blur`: separable Gaussian filter, edges clamped.
pub(crate) const GAUSSIAN_BLUR: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("gaussian_blur", "Gaussian blur, edges clamped", GAUSSIAN_TABLES),
    |img, s, _rng: &mut Rng| gaussian_blur(img, s.get("sigma_px")),
);

/// `defocus_blur`: a disk (out-of-focus lens) kernel, anti-aliased with a
/// small Gaussian.
pub(crate) const DEFOCUS_BLUR: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("defocus_blur", "disk-kernel lens blur, anti-aliased", DEFOCUS_TABLES),
    |img, s, _rng: &mut Rng| defocus_blur(img, s.get("radius_px"), s.get("alias_sigma")),
);

/// `glass_blur`: blur, move pixels from random neighbours within
/// `max_delta`, blur again (frosted glass).
pub(crate) const GLASS_BLUR: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("glass_blur", "blur, local pixel shuffling, blur", GLASS_TABLES),
    glass_blur,
);

/// `motion_blur`: one-sided Gaussian streak at a random angle in ±45°, as
/// ImageMagick's motion blur.
pub(crate) const MOTION_BLUR: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "motion_blur",
        "one-sided Gaussian streak at a random angle in ±45°",
        MOTION_TABLES,
    ),
    |img, s, rng: &mut Rng| {
        let angle = rng.random_range(-45.0f32..45.0);
        motion_blur(img, s.get("radius_px"), s.get("sigma_px"), angle)
    },
);

/// `zoom_blur`: the mean of the image and its centre zooms by 1, 1 + step,
/// .. (a camera zooming during exposure).
pub(crate) const ZOOM_BLUR: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("zoom_blur", "mean of centre zooms 1, 1 + step, ..", ZOOM_TABLES),
    |img, s, _rng: &mut Rng| zoom_blur(img, &zoom_factors(s)),
);

/// The zoom factors as numpy's `arange` computes them: `1 + i * step` in
/// double precision, the step read as the hundredths the tables give.
fn zoom_factors(s: Setting) -> Vec<f64> {
    let step = (f64::from(s.get("step")) * 100.0).round() / 100.0;
    (0..s.count("zooms")).map(|i| 1.0 + i as f64 * step).collect()
}

/// A normalised 1-D Gaussian kernel of radius ceil(3 sigma), at least 1.
pub(crate) fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let sigma = sigma.max(1e-3);
    let radius = (3.0 * sigma).ceil().max(1.0) as i32;
    let mut k: Vec<f32> =
        (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// Separable Gaussian blur with clamped borders, in 16-bit fixed point.
///
/// Weights have 16 fractional bits and the intermediate values 7, so the
/// result is the float filter's up to rounding (within one level). Each pass
/// pairs the taps on either side of the centre (the kernel is symmetric) and
/// works on whole rows, in blocks the compiler keeps in vector registers.
pub(crate) fn gaussian_blur(img: &Image, sigma: f32) -> Image {
    crate::simd::wide(
        #[inline(always)]
        || gaussian_blur_wide(img, sigma),
    )
}

/// [`gaussian_blur`], inlined into its AVX2 build (a block is then four
/// 256-bit registers instead of eight 128-bit ones).
#[inline(always)]
fn gaussian_blur_wide(img: &Image, sigma: f32) -> Image {
    let kernel = gaussian_kernel(sigma);
    let (w, h, c) = img.dims();
    let q = fixed_kernel(&kernel);
    let r = q.len() - 1;
    let bias = r.div_ceil(2).min(256) as u16;
    let stride = w * c;
    // Rows are processed in whole blocks; the lanes past the row's end
    // repeat its last pixel and are dropped at the end.
    let narrow = stride < 4 * BLOCK;
    let lanes = stride.next_multiple_of(if narrow { NARROW_BLOCK } else { BLOCK });
    let src = img.as_bytes();
    // Rows: u8 values, edge-replicated by r pixels, into 1/128ths.
    let mut padded = vec![0u16; lanes + 2 * r * c + c];
    let mut rows = vec![0u16; h * lanes];
    for (row, out) in src.chunks_exact(stride).zip(rows.chunks_exact_mut(lanes)) {
        // Left edge pixel r times, the row widened (a flat loop), then the
        // right edge pixel to the end.
        let (left, rest) = padded.split_at_mut(r * c);
        let (middle, right) = rest.split_at_mut(stride);
        for slot in left.chunks_exact_mut(c) {
            for (s, &v) in slot.iter_mut().zip(&row[..c]) {
                *s = u16::from(v);
            }
        }
        for (s, &v) in middle.iter_mut().zip(row) {
            *s = u16::from(v);
        }
        for slot in right.chunks_mut(c) {
            for (s, &v) in slot.iter_mut().zip(&row[stride - c..]) {
                *s = u16::from(v);
            }
        }
        let pair = |i: usize| (&padded[(r - i) * c..][..lanes], &padded[(r + i) * c..][..lanes]);
        if narrow {
            symmetric_pass::<7, NARROW_BLOCK>(out, &padded[r * c..][..lanes], pair, &q, bias);
        } else {
            symmetric_pass::<7, BLOCK>(out, &padded[r * c..][..lanes], pair, &q, bias);
        }
    }
    // Columns: the same in 1/128ths, then rounded to u8.
    let mut out = vec![0u8; src.len()];
    let mut acc = vec![0u16; lanes];
    for (y, orow) in out.chunks_exact_mut(stride).enumerate() {
        let row = |sy: usize| &rows[sy * lanes..][..lanes];
        let pair = |i: usize| (row(y.saturating_sub(i)), row((y + i).min(h - 1)));
        if narrow {
            symmetric_pass::<0, NARROW_BLOCK>(&mut acc, row(y), pair, &q, bias);
        } else {
            symmetric_pass::<0, BLOCK>(&mut acc, row(y), pair, &q, bias);
        }
        for (o, &a) in orow.iter_mut().zip(&acc) {
            *o = ((u32::from(a) + 64) >> 7).min(255) as u8;
        }
    }
    img.with_bytes(out)
}

/// The centre half of a normalised symmetric kernel in 16-bit fixed point:
/// `q[0]` the centre, `q[i]` the weight at distance i. Side weights round
/// down and the centre takes the rest, so the weights sum to at most 65536.
fn fixed_kernel(kernel: &[f32]) -> Vec<u16> {
    let r = kernel.len() / 2;
    let mut q: Vec<u32> = (0..=r).map(|i| (kernel[r + i] * 65536.0).floor() as u32).collect();
    let side: u32 = 2 * q[1..].iter().sum::<u32>();
    q[0] = 65536u32.saturating_sub(side).min(65535);
    q.iter().map(|&v| v.min(65535) as u16).collect()
}

/// Values per block of [`symmetric_pass`]: eight SSE registers of u16, or
/// two for narrow images, where padding a row to 64 would waste work.
const BLOCK: usize = 64;
const NARROW_BLOCK: usize = 16;

/// `out = bias + hi(centre << SHIFT, q[0]) + sum of hi((a + b) << SHIFT, q[i])`
/// over the pairs `pair(i)`, i = 1..q.len(), where `hi(x, w) = x · w / 65536` truncated and x shifted by `SHIFT`, capped at
/// 255 in 1/128ths, for every whole block of `out` (callers size it in
/// blocks). Inputs hold at most 255 · 128 >> shift, so no sum
/// overflows 16 bits.
#[inline(always)]
fn symmetric_pass<'a, const SHIFT: u32, const BLOCK: usize>(
    out: &mut [u16],
    centre: &[u16],
    pair: impl Fn(usize) -> (&'a [u16], &'a [u16]),
    q: &[u16],
    bias: u16,
) {
    const CAP: u16 = 255 << 7;
    let hi = |x: u16, w: u16| ((u32::from(x) * u32::from(w)) >> 16) as u16;
    let (blocks, _) = out.as_chunks_mut::<BLOCK>();
    for (b, block) in blocks.iter_mut().enumerate() {
        let at = b * BLOCK;
        // A local accumulator stays in registers across the taps.
        let mut acc = [0u16; BLOCK];
        for (o, &v) in acc.iter_mut().zip(&centre[at..at + BLOCK]) {
            *o = bias + hi(v << SHIFT, q[0]);
        }
        for (i, &wq) in q.iter().enumerate().skip(1) {
            let (a, bb) = pair(i);
            let (a, bb) = (&a[at..at + BLOCK], &bb[at..at + BLOCK]);
            for j in 0..BLOCK {
                acc[j] += hi((a[j] + bb[j]) << SHIFT, wq);
            }
        }
        for (o, &a) in block.iter_mut().zip(&acc) {
            *o = a.min(CAP);
        }
    }
}

/// Gaussian blur of one float plane (noise fields, masks), clamped borders.
/// [`blur_plane`] with scipy's kernel: radius `int(4 sigma + 0.5)`, as
/// `skimage.filters.gaussian` uses by default. Where a threshold follows
/// the blur, the tails change how much of the plane passes it.
pub(crate) fn blur_plane_scipy(plane: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let sigma = sigma.max(1e-3);
    let radius = ((4.0 * sigma + 0.5) as i32).max(1);
    let mut kernel: Vec<f32> =
        (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|v| *v /= sum);
    separable(plane, w, h, 1, &kernel, &kernel)
}

pub(crate) fn blur_plane(plane: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let kernel = gaussian_kernel(sigma);
    separable(plane, w, h, 1, &kernel, &kernel)
}

/// Convolves an interleaved buffer with `kx` along rows then `ky` along
/// columns (both centred, odd length), replicating edge values.
pub(crate) fn separable<T: Copy + Into<f32>>(
    src: &[T],
    w: usize,
    h: usize,
    c: usize,
    kx: &[f32],
    ky: &[f32],
) -> Vec<f32> {
    crate::simd::wide(
        #[inline(always)]
        || separable_wide(src, w, h, c, kx, ky),
    )
}

/// [`separable`], inlined into its AVX2 build.
#[inline(always)]
fn separable_wide<T: Copy + Into<f32>>(
    src: &[T],
    w: usize,
    h: usize,
    c: usize,
    kx: &[f32],
    ky: &[f32],
) -> Vec<f32> {
    let stride = w * c;
    let mut tmp = vec![0.0f32; src.len()];
    let rx = kx.len() / 2;
    let mut padded = vec![0.0f32; (w + 2 * rx) * c];
    for (row, out) in src.chunks_exact(stride).zip(tmp.chunks_exact_mut(stride)) {
        for (px, slot) in padded.chunks_exact_mut(c).enumerate() {
            let sx = px.saturating_sub(rx).min(w - 1);
            for (s, v) in slot.iter_mut().zip(&row[sx * c..sx * c + c]) {
                *s = (*v).into();
            }
        }
        // Tap-major loops are plain axpy runs the compiler vectorises.
        for (k, &weight) in kx.iter().enumerate() {
            for (o, p) in out.iter_mut().zip(&padded[k * c..k * c + stride]) {
                *o += weight * p;
            }
        }
    }
    let ry = ky.len() / 2;
    let mut out = vec![0.0f32; src.len()];
    for (y, orow) in out.chunks_exact_mut(stride).enumerate() {
        for (k, &weight) in ky.iter().enumerate() {
            let sy = (y + k).saturating_sub(ry).min(h - 1);
            for (o, p) in orow.iter_mut().zip(&tmp[sy * stride..(sy + 1) * stride]) {
                *o += weight * p;
            }
        }
    }
    out
}

/// Disk blur of radius `radius` (pixels whose centres lie within it), then
/// the anti-aliasing Gaussian. Uses per-row prefix sums, so each output value
/// costs one addition per disk row whatever the radius.
pub(crate) fn defocus_blur(img: &Image, radius: f32, alias_sigma: f32) -> Image {
    let disked = disk_blur(img, radius);
    gaussian_blur(&disked, alias_sigma)
}

fn disk_blur(img: &Image, radius: f32) -> Image {
    let r = radius.max(0.0).floor() as usize;
    if r == 0 {
        return img.clone();
    }
    crate::simd::wide(
        #[inline(always)]
        || disk_blur_wide(img, radius, r),
    )
}

/// [`disk_blur`] of a disk of `r` whole pixels, inlined into its AVX2 build.
#[inline(always)]
fn disk_blur_wide(img: &Image, radius: f32, r: usize) -> Image {
    let (w, h, c) = img.dims();
    let src = img.as_bytes();
    // Half-width of the disk in row dy: the largest dx with dx² + dy² <= r².
    let half: Vec<usize> =
        (0..=r).map(|dy| ((radius * radius - (dy * dy) as f32).max(0.0).sqrt().floor()) as usize).collect();
    let count: u32 = (0..=2 * r).map(|i| 2 * half[i.abs_diff(r)] as u32 + 1).sum();
    // Prefix sums of each row, edge-replicated by r pixels on either side:
    // prefix[y][(px + 1) * c + ch] = sum of padded pixels 0..=px, channel ch.
    let stride = w * c;
    let pstride = (w + 2 * r + 1) * c;
    let mut prefix = vec![0u32; h * pstride];
    for (row, p) in src.chunks_exact(stride).zip(prefix.chunks_exact_mut(pstride)) {
        // Images are gray or RGB.
        if c == 1 { row_prefix::<1>(row, p, r) } else { row_prefix::<3>(row, p, r) }
    }
    // Each disk row adds a box sum, the difference of two prefix slices: a
    // flat loop over the whole output row.
    let inv = 1.0 / count as f32;
    let mut out = vec![0u8; src.len()];
    let mut acc = vec![0u32; stride];
    for (y, orow) in out.chunks_exact_mut(stride).enumerate() {
        acc.fill(0);
        for dyi in 0..=2 * r {
            let sy = (y + dyi).saturating_sub(r).min(h - 1);
            let hw = half[dyi.abs_diff(r)];
            let p = &prefix[sy * pstride..(sy + 1) * pstride];
            let (hi, lo) = (&p[(r + hw + 1) * c..][..stride], &p[(r - hw) * c..][..stride]);
            for ((a, &hv), &lv) in acc.iter_mut().zip(hi).zip(lo) {
                *a += hv - lv;
            }
        }
        for (o, &a) in orow.iter_mut().zip(&acc) {
            *o = clamp_u8(a as f32 * inv);
        }
    }
    img.with_bytes(out)
}

/// One row's prefix sums for [`disk_blur`], `C` channels: the running sums
/// stay in registers (reading each back from the slice it was just stored
/// to chained every addition through a store and a load).
#[inline(always)]
fn row_prefix<const C: usize>(row: &[u8], p: &mut [u32], r: usize) {
    let mut run = [0u32; C];
    let (first, last) = (&row[..C], &row[row.len() - C..]);
    let pixels = std::iter::repeat_n(first, r).chain(row.chunks_exact(C)).chain(std::iter::repeat_n(last, r));
    for (slot, px) in p[C..].chunks_exact_mut(C).zip(pixels) {
        for (total, &v) in run.iter_mut().zip(px) {
            *total += u32::from(v);
        }
        slot.copy_from_slice(&run);
    }
}

fn glass_blur(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let sigma = s.get("sigma_px");
    let d = s.count("max_delta_px").max(1);
    let moved = f64::from(s.get("moved_share"));
    // MNIST-C blurs its 2-D gray digits with scikit-image 0.15's
    // `gaussian(x, multichannel=True)`, which takes the last axis for
    // channels: down the columns only.
    let columns_only = s.table == Table::MnistC && img.channels() == 1;
    // The reference truncates the first blur to bytes.
    let mut out = float_blur(img, sigma, columns_only, true);
    let (w, h, c) = out.dims();
    if w > 2 * d && h > 2 * d {
        let data = out.as_bytes_mut();
        for _ in 0..s.count("iterations") {
            // The reference's loops: y and x from size - d down to d + 1,
            // offsets in [-d, d).
            for y in (d + 1..=h - d).rev() {
                for x in (d + 1..=w - d).rev() {
                    if moved < 1.0 && !rng.random_bool(moved) {
                        continue;
                    }
                    // Both offsets from one draw, each half scaled onto
                    // [0, 2d) (a bias below 2d / 2^32): half the draws of
                    // two rejection-sampled ranges, the op's hottest part.
                    let bits = rng.next_u64();
                    let span = 2 * d as u64;
                    let dx = (((bits & 0xffff_ffff) * span) >> 32) as isize - d as isize;
                    let dy = (((bits >> 32) * span) >> 32) as isize - d as isize;
                    let (nx, ny) = ((x as isize + dx) as usize, (y as isize + dy) as usize);
                    let (a, b) = ((y * w + x) * c, (ny * w + nx) * c);
                    // numpy's `x[h, w], x[h', w'] = x[h', w'], x[h, w]`
                    // swaps scalars (gray) but only copies pixel views (RGB):
                    // the second store reads the first's result.
                    if c == 1 {
                        data.swap(a, b);
                    } else {
                        for k in 0..c {
                            data[a + k] = data[b + k];
                        }
                    }
                }
            }
        }
    }
    if columns_only { float_blur(&out, sigma, true, false) } else { gaussian_blur(&out, sigma) }
}

/// A Gaussian blur in floats (clamped borders), down the columns only when
/// `columns_only`, floored to bytes when `floor` (as `np.uint8(gaussian(x))`
/// stores) or rounded.
fn float_blur(img: &Image, sigma: f32, columns_only: bool, floor: bool) -> Image {
    let (w, h, c) = img.dims();
    let kernel = gaussian_kernel(sigma);
    let across: &[f32] = if columns_only { &[1.0] } else { &kernel };
    let blurred = separable(img.as_bytes(), w, h, c, across, &kernel);
    // The epsilon keeps a flat 255 at 255 despite f32 weight sums below 1.
    let store = |v: f32| if floor { (v + 1e-3).clamp(0.0, 255.0) as u8 } else { clamp_u8(v) };
    img.with_bytes(blurred.iter().map(|&v| store(v)).collect())
}

/// Motion blur: taps `i = 0..n` along the angle, weighted by a Gaussian in
/// `i`, where `n` covers the radius but stops at 3 sigma (later weights are
/// negligible).
pub(crate) fn motion_blur(img: &Image, radius: f32, sigma: f32, angle_deg: f32) -> Image {
    let streak = Streak::new(radius, sigma, angle_deg);
    let (w, h, c) = img.dims();
    let (reach_x, reach_y) = streak.reach();
    crate::simd::wide(
        #[inline(always)]
        || {
            // The source as floats once, its edges replicated by the taps'
            // reach: every tap then reads whole rows as plain slices, with
            // no clamping inside the loops (the same products in the same
            // order as reading the clamped source).
            let (stride, pstride) = (w * c, (w + 2 * reach_x) * c);
            let src = img.as_bytes();
            let mut padded = vec![0.0f32; (h + 2 * reach_y) * pstride];
            for (py, prow) in padded.chunks_exact_mut(pstride).enumerate() {
                let sy = py.saturating_sub(reach_y).min(h - 1);
                let srow = &src[sy * stride..(sy + 1) * stride];
                let (left, rest) = prow.split_at_mut(reach_x * c);
                let (middle, right) = rest.split_at_mut(stride);
                for (p, &v) in middle.iter_mut().zip(srow) {
                    *p = f32::from(v);
                }
                for (l, r) in left.chunks_exact_mut(c).zip(right.chunks_exact_mut(c)) {
                    for ch in 0..c {
                        l[ch] = f32::from(srow[ch]);
                        r[ch] = f32::from(srow[stride - c + ch]);
                    }
                }
            }
            // Row by row, every tap in order: the accumulator row stays in
            // L1 while the taps read the rows around it.
            let mut out = vec![0u8; src.len()];
            let mut acc = vec![0.0f32; stride];
            for (y, orow) in out.chunks_exact_mut(stride).enumerate() {
                acc.fill(0.0);
                for &(weight, dx, dy) in &streak.taps {
                    let x0 = (reach_x as isize + dx) as usize * c;
                    let py = (y as isize + reach_y as isize + dy) as usize;
                    let srow = &padded[py * pstride + x0..][..stride];
                    for (a, &v) in acc.iter_mut().zip(srow) {
                        *a += weight * v;
                    }
                }
                for (o, &a) in orow.iter_mut().zip(&acc) {
                    *o = clamp_u8(a);
                }
            }
            img.with_bytes(out)
        },
    )
}

/// The taps of [`motion_blur`]: (weight, dx, dy) of each source it reads,
/// output (x, y) reading (x + dx, y + dy), edges replicated.
struct Streak {
    taps: Vec<(f32, isize, isize)>,
}

impl Streak {
    fn new(radius: f32, sigma: f32, angle_deg: f32) -> Streak {
        let taps = (2.0 * radius).min((3.0 * sigma).ceil()).max(1.0) as usize + 1;
        let (sin, cos) = angle_deg.to_radians().sin_cos();
        let mut weights: Vec<f32> =
            (0..taps).map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma).max(1e-6)).exp()).collect();
        let sum: f32 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= sum);
        let taps = weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| {
                (weight, (i as f32 * cos).round() as isize, -(i as f32 * sin).round() as isize)
            })
            .collect();
        Streak { taps }
    }

    /// The farthest any tap reads along x and along y, in pixels.
    fn reach(&self) -> (usize, usize) {
        let far = |d: fn(&(f32, isize, isize)) -> isize| {
            self.taps.iter().map(|t| d(t).unsigned_abs()).max().unwrap_or(0)
        };
        (far(|t| t.1), far(|t| t.2))
    }
}

/// [`motion_blur`] of a one-channel layer that is mostly zero (snow's
/// flakes): each non-zero value is spread to the outputs that read it,
/// instead of every output reading every tap. Taps are taken in the same
/// order and zero terms add nothing, so the bytes equal `motion_blur`'s.
pub(crate) fn motion_blur_sparse(
    layer: &[u8],
    w: usize,
    h: usize,
    radius: f32,
    sigma: f32,
    angle_deg: f32,
) -> Vec<u8> {
    let streak = Streak::new(radius, sigma, angle_deg);
    // Lit pixels that every tap moves to exactly one output, away from
    // the replicated edges, go by a flat offset; the rest by `readers`.
    let (reach_x, reach_y) = streak.reach();
    let (reach_x, reach_y) = (reach_x + 1, reach_y + 1);
    let inside = |x: usize, y: usize| {
        (reach_x..w.saturating_sub(reach_x)).contains(&x) && (reach_y..h.saturating_sub(reach_y)).contains(&y)
    };
    let (mut safe, mut edge) = (Vec::new(), Vec::new());
    for (i, &v) in layer.iter().enumerate().filter(|&(_, &v)| v > 0) {
        let (x, y) = (i % w, i / w);
        if inside(x, y) {
            safe.push((i, f32::from(v)));
        } else {
            edge.push((x, y, f32::from(v)));
        }
    }
    let mut acc = vec![0.0f32; layer.len()];
    for &(weight, dx, dy) in &streak.taps {
        // Output i - dy·w - dx reads source i.
        let back = dy * w as isize + dx;
        for &(i, v) in &safe {
            if let Some(a) = acc.get_mut(i.wrapping_sub(back as usize)) {
                *a += weight * v;
            }
        }
        for &(x, y, v) in &edge {
            let term = weight * v;
            let (xs, ys) = (readers(x, dx, w), readers(y, dy, h));
            for oy in ys {
                for a in &mut acc[oy * w + xs.start..oy * w + xs.end] {
                    *a += term;
                }
            }
        }
    }
    crate::simd::wide(
        #[inline(always)]
        || acc.iter().map(|&v| clamp_u8(v)).collect(),
    )
}

/// The outputs o in 0..n whose read `clamp(o + d, 0, n - 1)` lands on
/// source `s`: one inside, a run at a replicated edge.
fn readers(s: usize, d: isize, n: usize) -> std::ops::Range<usize> {
    let n = n as isize;
    let s = s as isize;
    let lo = if s == 0 { 0 } else { s - d };
    let hi = if s == n - 1 { n - 1 } else { s - d };
    let (lo, hi) = (lo.max(0), hi.min(n - 1));
    if lo > hi { 0..0 } else { lo as usize..hi as usize + 1 }
}

/// Zoom blur: the mean of the image and its centre zooms by each factor,
/// each bilinear and separable: per zoom, the source rows it reads are
/// resampled along x once, then each output row is a flat blend of two of
/// them.
pub(crate) fn zoom_blur(img: &Image, zooms: &[f64]) -> Image {
    crate::simd::wide(
        #[inline(always)]
        || zoom_blur_wide(img, zooms),
    )
}

/// [`zoom_blur`], inlined into its AVX2 build.
#[inline(always)]
fn zoom_blur_wide(img: &Image, zooms: &[f64]) -> Image {
    let (w, h, c) = img.dims();
    let stride = w * c;
    let src = img.as_bytes();
    let mut acc: Vec<f32> = src.iter().map(|&v| f32::from(v)).collect();
    // The source as floats once, read by every zoom.
    let srcf = acc.clone();
    let mut weights = vec![0.0f32; stride];
    let mut runs: Vec<(usize, usize, isize, usize)> = Vec::new();
    let mut ring = [vec![0.0f32; stride], vec![0.0f32; stride]];
    for &zoom in zooms {
        if zoom == 1.0 {
            // Every benchmark's first factor: the image itself (the blends
            // below would add it with weights of exactly 0).
            for (a, &v) in acc.iter_mut().zip(&srcf) {
                *a += v;
            }
            continue;
        }
        // Along x, output pixel x reads x0 = x + off and x0 + 1 (or x0 at the
        // clamped edge). `off` changes only every few pixels, so the x pass is
        // a run of contiguous blends per value of (off, step), not a gather.
        runs.clear();
        for x in 0..w {
            let (x0, x1, fx) = zoom_axis(w, zoom, x);
            weights[x * c..(x + 1) * c].fill(fx);
            let (off, to_next) = (x0 as isize - x as isize, x1 - x0);
            match runs.last_mut() {
                Some((_, end, o, t)) if *end == x * c && *o == off && *t == to_next => *end = (x + 1) * c,
                _ => runs.push((x * c, (x + 1) * c, off, to_next)),
            }
        }
        // Output rows in order read source rows in order: the two rows the
        // last output row blended stay resampled in a ring, each source
        // row is resampled once, and no resampled copy of the image goes
        // through memory.
        let mut held: [Option<usize>; 2] = [None; 2];
        for (y, arow) in acc.chunks_exact_mut(stride).enumerate() {
            let (y0, y1, fy) = zoom_axis(h, zoom, y);
            let mut slot_of = |row: usize, keep: Option<usize>| {
                if let Some(i) = held.iter().position(|&r| r == Some(row)) {
                    return i;
                }
                let slot = keep.map_or(usize::from(held[1] < held[0]), |k| 1 - k);
                resample_row(&srcf[row * stride..(row + 1) * stride], &mut ring[slot], &runs, &weights, c);
                held[slot] = Some(row);
                slot
            };
            let top = slot_of(y0, None);
            let bottom = slot_of(y1, Some(top));
            let (top, bottom) = (&ring[top], &ring[bottom]);
            for ((a, &t), &b) in arow.iter_mut().zip(top).zip(bottom) {
                *a += t + (b - t) * fy;
            }
        }
    }
    let inv = 1.0 / (zooms.len() + 1) as f32;
    img.with_bytes(acc.iter().map(|&v| clamp_u8(v * inv)).collect())
}

/// One source row resampled along x by `runs` of equal offset: output
/// value i blends `src[i + off·c]` and the value `step` pixels after it
/// by `weights[i]`.
#[inline(always)]
fn resample_row(
    src: &[f32],
    out: &mut [f32],
    runs: &[(usize, usize, isize, usize)],
    weights: &[f32],
    c: usize,
) {
    for &(start, end, off, to_next) in runs {
        let from = start.wrapping_add_signed(off * c as isize);
        let len = end - start;
        let (a, b) = (&src[from..from + len], &src[from + to_next * c..from + to_next * c + len]);
        for (((o, &a), &b), &fx) in out[start..end].iter_mut().zip(a).zip(b).zip(&weights[start..end]) {
            *o = a + (b - a) * fx;
        }
    }
}

/// Bilinear sample positions of the benchmarks' `clipped_zoom` along one
/// axis of length `n`: crop the central `ceil(n / zoom)`, resize it to
/// `round(crop * zoom)` as `scipy.ndimage.zoom(order=1)` does (corners map
/// to corners), and keep the central `n`.
#[inline(always)]
pub(crate) fn zoom_axis(n: usize, zoom: f64, i: usize) -> (usize, usize, f32) {
    let crop = ((n as f64 / zoom).ceil() as usize).clamp(1, n);
    let top = (n - crop) / 2;
    // Python's round, as scipy sizes its output: ties to even.
    let resized = ((crop as f64 * zoom).round_ties_even() as usize).max(n);
    let trim = (resized - n) / 2;
    let s = if resized > 1 && crop > 1 {
        ((i + trim) as f64 * (crop - 1) as f64 / (resized - 1) as f64).min((crop - 1) as f64)
    } else {
        0.0
    };
    let i0 = s.floor() as usize;
    (top + i0, top + (i0 + 1).min(crop - 1), (s - i0 as f64) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_motion_blur_gives_motion_blurs_bytes() {
        // Sparse layers with lit pixels on every edge and corner, at angles
        // that streak off each side.
        for (w, h) in [(40usize, 30usize), (64, 48), (7, 5), (1, 6), (5, 1)] {
            let layer: Vec<u8> = (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    let edge = x == 0 || y == 0 || x == w - 1 || y == h - 1;
                    if (i * 37 % 11 == 0) || (edge && i % 3 == 0) { (i * 53 % 256) as u8 } else { 0 }
                })
                .collect();
            let img = Image::new(w as u32, h as u32, 1, layer.clone()).expect("valid");
            for angle in [-135.0, -100.0, -45.0, 0.0, 30.0, 90.0, 180.0] {
                for (radius, sigma) in [(12.0, 8.0), (3.0, 1.5), (0.5, 0.5)] {
                    let dense = motion_blur(&img, radius, sigma, angle);
                    let sparse = motion_blur_sparse(&layer, w, h, radius, sigma, angle);
                    assert_eq!(dense.as_bytes(), &sparse[..], "{w}x{h} at {angle} r {radius}");
                }
            }
        }
    }

    #[test]
    fn kernel_is_normalised_and_symmetric() {
        let k = gaussian_kernel(1.0);
        assert_eq!(k.len(), 7);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((k[0] - k[6]).abs() < 1e-9);
    }

    #[test]
    fn blur_keeps_a_flat_image_flat() {
        let img = Image::filled(6, 4, 3, 100);
        assert_eq!(gaussian_blur(&img, 1.0), img);
        assert_eq!(defocus_blur(&img, 2.5, 0.5), img);
        assert_eq!(motion_blur(&img, 6.0, 2.0, 30.0), img);
        assert_eq!(zoom_blur(&img, &[1.0, 1.1, 1.2]), img);
    }

    #[test]
    fn blur_spreads_a_single_bright_pixel() {
        let mut data = vec![0u8; 25];
        data[12] = 255;
        let img = Image::new(5, 5, 1, data).expect("valid");
        let out = gaussian_blur(&img, 1.0);
        let b = out.as_bytes();
        assert!(b[12] < 255 && b[12] > b[11] && b[11] > 0);
        assert_eq!(b[11], b[13]);
        assert_eq!(b[7], b[17]);
    }

    #[test]
    fn disk_of_radius_one_is_a_plus_shape() {
        // Radius 1 covers the centre and its 4 neighbours: 255 / 5 = 51.
        let mut data = vec![0u8; 25];
        data[12] = 255;
        let img = Image::new(5, 5, 1, data).expect("valid");
        let b = disk_blur(&img, 1.0).into_bytes();
        assert_eq!([b[12], b[7], b[11], b[13], b[17]], [51; 5]);
        assert_eq!([b[6], b[8], b[16], b[18]], [0; 4]);
    }

    #[test]
    fn the_disk_blur_is_the_mean_over_the_disk_with_edges_replicated() {
        let mut rng = crate::seed::rng(8);
        for (w, h, c, radius) in [(31, 17, 3, 6.0), (12, 20, 1, 3.0), (9, 7, 1, 2.5), (5, 3, 3, 4.0)] {
            let data: Vec<u8> = (0..w * h * c).map(|_| rand::Rng::random::<u8>(&mut rng)).collect();
            let img = Image::new(w as u32, h as u32, c as u8, data.clone()).expect("valid");
            let r = radius as isize;
            let offsets: Vec<(isize, isize)> = (-r..=r)
                .flat_map(|dy| (-r..=r).map(move |dx| (dx, dy)))
                .filter(|&(dx, dy)| ((dx * dx + dy * dy) as f32) <= radius * radius)
                .collect();
            let inv = 1.0 / offsets.len() as f32;
            let mut expected = vec![0u8; data.len()];
            for y in 0..h as isize {
                for x in 0..w as isize {
                    for ch in 0..c {
                        let sum: u32 = offsets
                            .iter()
                            .map(|&(dx, dy)| {
                                let sx = (x + dx).clamp(0, w as isize - 1) as usize;
                                let sy = (y + dy).clamp(0, h as isize - 1) as usize;
                                u32::from(data[(sy * w + sx) * c + ch])
                            })
                            .sum();
                        expected[(y as usize * w + x as usize) * c + ch] = clamp_u8(sum as f32 * inv);
                    }
                }
            }
            assert_eq!(disk_blur(&img, radius).as_bytes(), &expected[..], "{w}x{h}x{c} radius {radius}");
        }
    }

    #[test]
    fn horizontal_motion_streaks_one_way() {
        // Angle 0: output(x) mixes input(x), input(x+1), ..: the bright pixel
        // bleeds to its left only.
        let mut data = vec![0u8; 7];
        data[3] = 255;
        let img = Image::new(7, 1, 1, data).expect("valid");
        let b = motion_blur(&img, 6.0, 1.0, 0.0).into_bytes();
        assert!(b[2] > 0 && b[1] > 0 && b[3] > b[2]);
        assert_eq!(&b[4..], &[0, 0, 0]);
    }

    #[test]
    fn zoom_blur_averages_the_image_with_its_clipped_zoom() {
        // 32 px at 1.25: output (0, 0) reads the crop's corner, source
        // (3, 3), exactly; the blur is the mean of the image and the zoom.
        let mut data = vec![0u8; 32 * 32];
        data[3 * 32 + 3] = 200;
        let img = Image::new(32, 32, 1, data).expect("valid");
        let b = zoom_blur(&img, &[1.25]).into_bytes();
        assert_eq!(b[0], 100);
        assert_eq!(b[3 * 32 + 3], 100);
    }

    #[test]
    fn zoom_blur_is_the_mean_of_bilinear_zooms_value_by_value() {
        // The definition, one value at a time: for each zoom, the row
        // blends along x of the two source rows, blended along y.
        let mut rng = crate::seed::rng(12);
        let benchmark: Vec<f64> = (0..11).map(|i| 1.0 + 0.02 * f64::from(i)).collect();
        for (w, h, c) in [(37, 29, 3), (28, 28, 1), (5, 3, 3), (1, 9, 1), (64, 17, 1)] {
            let data: Vec<u8> = (0..w * h * c).map(|_| rand::Rng::random::<u8>(&mut rng)).collect();
            let img = Image::new(w as u32, h as u32, c as u8, data.clone()).expect("valid");
            for zooms in [&benchmark[..], &[1.25], &[1.0, 1.1, 1.2], &[1.31, 1.06]] {
                let at = |y: usize, x: usize, ch: usize| f32::from(data[(y * w + x) * c + ch]);
                let mut expected = Vec::with_capacity(data.len());
                for y in 0..h {
                    for x in 0..w {
                        for ch in 0..c {
                            let mut acc = at(y, x, ch);
                            for &zoom in zooms {
                                let (x0, x1, fx) = zoom_axis(w, zoom, x);
                                let (y0, y1, fy) = zoom_axis(h, zoom, y);
                                let row = |r: usize| at(r, x0, ch) + (at(r, x1, ch) - at(r, x0, ch)) * fx;
                                let (t, b) = (row(y0), row(y1));
                                acc += t + (b - t) * fy;
                            }
                            expected.push(clamp_u8(acc * (1.0 / (zooms.len() + 1) as f32)));
                        }
                    }
                }
                assert_eq!(zoom_blur(&img, zooms).as_bytes(), &expected[..], "{w}x{h}x{c} {zooms:?}");
            }
        }
    }

    #[test]
    fn zoom_axis_follows_scipys_corner_aligned_resize() {
        // 32 px at 1.25: crop ceil(25.6) = 26 from row 3, resized to
        // round(32.5) = 32 (ties to even), so row i reads 3 + i * 25 / 31.
        let (a, b, f) = zoom_axis(32, 1.25, 1);
        assert_eq!((a, b), (3, 4));
        assert!((f - 25.0 / 31.0).abs() < 1e-6);
        assert_eq!(zoom_axis(32, 1.25, 31), (28, 28, 0.0));
        assert_eq!(zoom_axis(32, 1.0, 17), (17, 18, 0.0));
        assert_eq!(zoom_axis(1, 1.3, 0), (0, 0, 0.0));
    }

    #[test]
    fn motion_blur_equals_the_clamped_tap_by_tap_sum() {
        // The definition: each output adds weight · source(x + dx, y + dy),
        // coordinates clamped to the image, tap by tap in order.
        let mut rng = crate::seed::rng(5);
        for (w, h, c, radius, sigma, angle) in [
            (28, 28, 1, 15.0, 8.0, 33.0),
            (9, 5, 3, 10.0, 3.0, -170.0),
            (3, 1, 1, 6.0, 2.0, 0.0),
            (40, 23, 3, 15.0, 12.0, 95.0),
            (7, 11, 1, 20.0, 15.0, -45.0),
        ] {
            let data: Vec<u8> = (0..w * h * c).map(|_| rand::Rng::random::<u8>(&mut rng)).collect();
            let img = Image::new(w as u32, h as u32, c as u8, data.clone()).expect("valid");
            let mut acc = vec![0.0f32; data.len()];
            for &(weight, dx, dy) in &Streak::new(radius, sigma, angle).taps {
                for y in 0..h {
                    let sy = (y as isize + dy).clamp(0, h as isize - 1) as usize;
                    for x in 0..w {
                        let sx = (x as isize + dx).clamp(0, w as isize - 1) as usize;
                        for ch in 0..c {
                            acc[(y * w + x) * c + ch] += weight * f32::from(data[(sy * w + sx) * c + ch]);
                        }
                    }
                }
            }
            let expected: Vec<u8> = acc.iter().map(|&v| clamp_u8(v)).collect();
            assert_eq!(
                motion_blur(&img, radius, sigma, angle).as_bytes(),
                &expected[..],
                "{w}x{h}x{c} at {angle}"
            );
        }
    }
}
