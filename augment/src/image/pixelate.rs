//! `pixelate` (ImageNet-C "digital" family): a box-filter (area-average)
//! downsample, then nearest-neighbour upsampling back to the input size,
//! with the RGB row pass in AVX2 and upsampled rows built by byte shuffles
//! where the CPU has them (the same bytes either way).
//!
//! Factors are the benchmarks' shares of the image size.

use super::jpeg::SCRATCH_MAX;
use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::OpInfo;
use crate::seed::Rng;
use crate::table::{Table, TableParams, row};

const PIXELATE_TABLES: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &[row("factor", [0.6, 0.5, 0.4, 0.3, 0.25])]),
    TableParams::graded(Table::TinyImagenetC, &[row("factor", [0.9, 0.8, 0.7, 0.6, 0.5])]),
    TableParams::graded(Table::Cifar10C, &[row("factor", [0.95, 0.9, 0.85, 0.75, 0.65])]),
];

/// `pixelate`: PIL's box filter down to `factor` of the size, then back up
/// with nearest neighbour.
pub(crate) const PIXELATE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("pixelate", "box downsample then nearest upsample", PIXELATE_TABLES),
    |img, s, _rng: &mut Rng| pixelate(img, s.get("factor")),
);

/// For each output index, the first source it reads and the weights (area
/// overlap) of `taps` consecutive sources from there, zero past its span:
/// every output runs the same number of taps, so the loops over them have
/// a fixed trip count.
#[derive(Default)]
struct BoxAxis {
    starts: Vec<usize>,
    /// How many of each output's taps are inside its span.
    lens: Vec<usize>,
    weights: Vec<f32>,
    taps: usize,
    /// The (src, dst) it was filled for.
    key: (usize, usize),
}

impl BoxAxis {
    /// The axis from `src` samples down to `dst`, reusing the buffers (and
    /// the axis itself when the last image had the same size, as images in
    /// a batch do).
    #[inline(always)]
    fn fill(&mut self, src: usize, dst: usize) {
        if self.key == (src, dst) {
            return;
        }
        self.key = (src, dst);
        // PIL's BOX filter, as the benchmarks resize: output i averages,
        // with equal weights, the sources whose centres fall in
        // (i · ratio, (i + 1) · ratio], in double precision.
        let ratio = src as f64 / dst as f64;
        // A span of length `ratio` holds at most ceil(ratio) + 1 centres.
        self.taps = ratio.ceil() as usize + 1;
        self.starts.clear();
        self.lens.clear();
        self.weights.clear();
        self.weights.resize(dst * self.taps, 0.0);
        for (i, own) in self.weights.chunks_exact_mut(self.taps).enumerate() {
            let start = ((i as f64 * ratio + 0.5) as usize).min(src - 1);
            let end = (((i + 1) as f64 * ratio + 0.5) as usize).min(src).max(start + 1);
            own[..end - start].fill(1.0 / (end - start) as f32);
            self.starts.push(start);
            self.lens.push(end - start);
        }
    }
}

/// [`pixelate`]'s buffers, kept per thread: at 28 px the allocations cost
/// as much as the arithmetic.
#[derive(Default)]
struct PixelateScratch {
    ax: BoxAxis,
    ay: BoxAxis,
    cols: Vec<f32>,
    small: Vec<u8>,
    expand: Expansion,
}

thread_local! {
    static PIXELATE_SCRATCH: std::cell::RefCell<PixelateScratch> =
        std::cell::RefCell::new(PixelateScratch::default());
}

/// Box (area-average) downsample to `factor`, then nearest upsample back.
/// Output rows that read the same small row are copied whole.
pub(crate) fn pixelate(img: &Image, factor: f32) -> Image {
    let (w, h, c) = img.dims();
    let (sw, sh) = (((w as f32 * factor) as usize).max(1), ((h as f32 * factor) as usize).max(1));
    if (sw, sh) == (w, h) {
        return img.clone();
    }
    let src = img.as_bytes();
    PIXELATE_SCRATCH.with_borrow_mut(|scratch| {
        let out = pixelate_with(src, (w, h, c), (sw, sh), scratch);
        // Large images leave no large buffers behind in every thread (the
        // cap is the JPEG scratch's).
        if scratch.cols.capacity() > SCRATCH_MAX {
            *scratch = PixelateScratch::default();
        }
        img.with_bytes(out)
    })
}

/// [`pixelate`] with the given buffers: the AVX2 build where there is one.
fn pixelate_with(
    src: &[u8],
    dims: (usize, usize, usize),
    small_dims: (usize, usize),
    scratch: &mut PixelateScratch,
) -> Vec<u8> {
    let job = Pixelate { src, dims, small_dims, scratch };
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = crate::simd::v3() {
        return pulp::Simd::vectorize(simd, PixelateAvx2 { simd, job });
    }
    job.run(
        box_rows::<3>,
        #[inline(always)]
        |row, expand, out| out.extend(expand.from.iter().map(|&i| row[i])),
    )
}

/// [`pixelate`]'s work: the box-filtered small image into
/// `scratch.small`, padded by 16 bytes for [`upsample`]'s reads, then the
/// upsampled output.
struct Pixelate<'a> {
    src: &'a [u8],
    dims: (usize, usize, usize),
    small_dims: (usize, usize),
    scratch: &'a mut PixelateScratch,
}

impl Pixelate<'_> {
    /// The job, with `rgb_rows` for the row pass of RGB images and
    /// `expand_row` for building upsampled rows (see [`upsample`]).
    #[inline(always)]
    fn run(
        self,
        rgb_rows: impl Fn(&[f32], &mut [u8], &BoxAxis),
        expand_row: impl Fn(&[u8], &Expansion, &mut Vec<u8>),
    ) -> Vec<u8> {
        let Pixelate { src, dims: (w, h, c), small_dims: (sw, sh), scratch } = self;
        let PixelateScratch { ax, ay, cols, small, expand } = scratch;
        // The axes inside too: with SSE4.1, floor and ceil are
        // instructions rather than library calls.
        ax.fill(w, sw);
        ay.fill(h, sh);
        // Columns first (sh x w, whole rows at a time, which vectorises),
        // then along each of the sh rows: sh x sw. The other order would
        // run the short per-pixel spans on all h rows.
        let stride_in = w * c;
        // Rows padded with `ax.taps` zero pixels and one value more: taps
        // past a span read them at weight 0, and RGB pixels are read as
        // four values.
        let padded = stride_in + (ax.taps + 1) * c;
        // Each stretch of 32 columns sums all its taps in registers and is
        // stored once. Adding tap by tap into the buffer stored and
        // reloaded it per tap, and those reloads stalled (up to 1.6x
        // slower) whenever buffer and source rows met at unlucky offsets
        // modulo 4 KiB.
        cols.clear();
        cols.resize(sh * padded, 0.0);
        for ((&start, &len), (weights, orow)) in ay
            .starts
            .iter()
            .zip(&ay.lens)
            .zip(ay.weights.chunks_exact(ay.taps).zip(cols.chunks_exact_mut(padded)))
        {
            let rows = &src[start * stride_in..(start + len) * stride_in];
            // 32 columns at a time, then 8 (small images are narrower than
            // 32 bytes), then one by one.
            let done = column_sums::<32>(rows, stride_in, weights, &mut orow[..stride_in], 0);
            let done = column_sums::<8>(rows, stride_in, weights, &mut orow[..stride_in], done);
            column_sums::<1>(rows, stride_in, weights, &mut orow[..stride_in], done);
        }
        let stride = sw * c;
        small.clear();
        small.resize(sh * stride + 16, 0);
        // Plain loops, not iterator adaptors with closures: those can stay
        // out of line, outside the AVX2 build.
        for (row, orow) in cols.chunks_exact(padded).zip(small.chunks_exact_mut(stride)) {
            if c == 3 {
                rgb_rows(row, orow, ax);
            } else {
                box_rows::<1>(row, orow, ax);
            }
        }
        expand.fill(c, w, sw);
        upsample(small, (w, h, c), (sw, sh), expand, expand_row)
    }
}

/// Column sums of `rows` (each `stride` bytes, one per weight) into `out`
/// from column `from`, `N` columns at a time with the sums in registers;
/// returns where whole groups of `N` ended.
#[inline(always)]
fn column_sums<const N: usize>(
    rows: &[u8],
    stride: usize,
    weights: &[f32],
    out: &mut [f32],
    from: usize,
) -> usize {
    let (chunks, _) = out[from..].as_chunks_mut::<N>();
    for (k, chunk) in chunks.iter_mut().enumerate() {
        let at = from + N * k;
        let mut acc = [0.0f32; N];
        for (row, &wt) in rows.chunks_exact(stride).zip(weights) {
            let px: &[u8; N] = row[at..].first_chunk().unwrap_or(&[0; N]);
            for (a, &v) in acc.iter_mut().zip(px) {
                *a += wt * f32::from(v);
            }
        }
        *chunk = acc;
    }
    from + N * chunks.len()
}

/// [`Pixelate`] with the RGB row pass in four-lane vectors and upsampled
/// rows built by byte shuffles.
#[cfg(target_arch = "x86_64")]
struct PixelateAvx2<'a> {
    simd: pulp::x86::V3,
    job: Pixelate<'a>,
}

#[cfg(target_arch = "x86_64")]
impl pulp::WithSimd for PixelateAvx2<'_> {
    type Output = Vec<u8>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Vec<u8> {
        let simd = self.simd;
        self.job.run(
            #[inline(always)]
            move |row, out, ax| box_rows_rgb(simd, row, out, ax),
            #[inline(always)]
            move |row, expand, out| expand_row_ssse3(simd, row, expand, out),
        )
    }
}

/// One row of the small image from one column-filtered row.
#[inline(always)]
fn box_rows<const C: usize>(row: &[f32], out: &mut [u8], ax: &BoxAxis) {
    for (&start, (o, weights)) in
        ax.starts.iter().zip(out.as_chunks_mut::<C>().0.iter_mut().zip(ax.weights.chunks_exact(ax.taps)))
    {
        let mut acc = [0.0f32; C];
        for (px, &wt) in row[start * C..].as_chunks::<C>().0.iter().zip(weights) {
            for (a, &v) in acc.iter_mut().zip(px) {
                *a += wt * v;
            }
        }
        *o = acc.map(clamp_u8);
    }
}

/// [`box_rows`] for RGB with each tap one four-lane multiply and add (the
/// fourth lane, the next pixel's red, is dropped): the same float
/// operations in the same order, so the same bytes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn box_rows_rgb(simd: pulp::x86::V3, row: &[f32], out: &mut [u8], ax: &BoxAxis) {
    use core::arch::x86_64::__m128;
    let (sse, sse2) = (simd.sse, simd.sse2);
    let (zero, top) = (sse._mm_setzero_ps(), sse._mm_set1_ps(255.0));
    for (&start, (o, weights)) in
        ax.starts.iter().zip(out.as_chunks_mut::<3>().0.iter_mut().zip(ax.weights.chunks_exact(ax.taps)))
    {
        let mut acc = zero;
        for (t, &wt) in weights.iter().enumerate() {
            let at = (start + t) * 3;
            let px: [f32; 4] = row.get(at..at + 4).and_then(|p| p.try_into().ok()).unwrap_or([0.0; 4]);
            acc = sse._mm_add_ps(acc, sse._mm_mul_ps(sse._mm_set1_ps(wt), pulp::cast::<_, __m128>(px)));
        }
        // Clamped, then rounded to nearest even as `clamp_u8` does.
        let ints = sse2._mm_cvtps_epi32(sse._mm_min_ps(sse._mm_max_ps(acc, zero), top));
        let words = sse2._mm_packs_epi32(ints, ints);
        let bytes: [u8; 16] = pulp::cast(sse2._mm_packus_epi16(words, words));
        *o = [bytes[0], bytes[1], bytes[2]];
    }
}

/// Where the bytes of an upsampled row come from: output byte k copies
/// small-row byte `from[k]`, the same for every row. Upsampling never
/// spreads 16 output bytes over more than 16 input bytes, so each group of
/// 16 is one 16-byte load at `bases[g]` and one byte shuffle by `masks[g]`
/// (the groups past `bases` byte by byte).
#[derive(Default)]
struct Expansion {
    from: Vec<usize>,
    bases: Vec<usize>,
    masks: Vec<[u8; 16]>,
    /// The (c, w, sw) it was filled for.
    key: (usize, usize, usize),
}

impl Expansion {
    /// For rows of `w` pixels of `c` bytes read from `sw` pixels (kept when
    /// the last image had the same size).
    fn fill(&mut self, c: usize, w: usize, sw: usize) {
        if self.key == (c, w, sw) {
            return;
        }
        self.key = (c, w, sw);
        self.from.clear();
        for x in 0..w {
            // PIL's nearest: the source under the output pixel's centre.
            let sx = ((2 * x + 1) * sw / (2 * w)).min(sw - 1);
            self.from.extend((0..c).map(|ch| sx * c + ch));
        }
        self.bases.clear();
        self.masks.clear();
        for group in self.from.as_chunks::<16>().0 {
            // A group can start inside a pixel that repeats, so its first
            // source is not always its lowest.
            let (lo, hi) = (group.iter().min(), group.iter().max());
            let (Some(&lo), Some(&hi)) = (lo, hi) else { break };
            if hi - lo >= 16 {
                // Not for a downsampled row; all bytes then go one by one.
                self.bases.clear();
                self.masks.clear();
                break;
            }
            self.bases.push(lo);
            self.masks.push(group.map(|i| (i - lo) as u8));
        }
    }
}

/// Nearest upsampling of `small` (rows of `sw` pixels, padded by 16 bytes)
/// back to w x h, rows appended whole; a row that repeats the last one is
/// copied from it, and `expand_row` builds the others.
#[inline(always)]
fn upsample(
    small: &[u8],
    (w, h, c): (usize, usize, usize),
    (sw, sh): (usize, usize),
    expand: &Expansion,
    expand_row: impl Fn(&[u8], &Expansion, &mut Vec<u8>),
) -> Vec<u8> {
    let width = w * c;
    let mut out = Vec::with_capacity(width * h);
    let mut last = usize::MAX;
    let stride = sw * c;
    for y in 0..h {
        let sy = ((2 * y + 1) * sh / (2 * h)).min(sh - 1);
        if sy == last {
            out.extend_from_within((y - 1) * width..y * width);
            continue;
        }
        last = sy;
        expand_row(&small[sy * stride..], expand, &mut out);
    }
    out
}

/// Appends `row[from[k]]` for every k of `expand`, 16 bytes per shuffle.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn expand_row_ssse3(simd: pulp::x86::V3, row: &[u8], expand: &Expansion, out: &mut Vec<u8>) {
    use core::arch::x86_64::__m128i;
    for (&base, &mask) in expand.bases.iter().zip(&expand.masks) {
        let src: [u8; 16] = row.get(base..base + 16).and_then(|s| s.try_into().ok()).unwrap_or([0; 16]);
        let got = simd.ssse3._mm_shuffle_epi8(pulp::cast::<_, __m128i>(src), pulp::cast(mask));
        out.extend_from_slice(&pulp::cast::<_, [u8; 16]>(got));
    }
    out.extend(expand.from[expand.bases.len() * 16..].iter().map(|&i| row[i]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_weights_cover_each_output_once() {
        let mut axis = BoxAxis::default();
        axis.fill(5, 2);
        // PIL's box: output 0 averages the sources whose centres lie in
        // (0, 2.5], 0..=2; output 1 those in (2.5, 5], 3 and 4. Zeros pad
        // to the four taps every output runs.
        assert_eq!((axis.starts[0], axis.starts[1], axis.taps), (0, 3, 4));
        let w = &axis.weights;
        let third = 1.0 / 3.0;
        assert!(w[..3].iter().all(|&v| (v - third).abs() < 1e-6) && w[3] == 0.0, "{w:?}");
        assert_eq!(&w[4..], &[0.5, 0.5, 0.0, 0.0]);
        let total: f32 = axis.weights.iter().sum();
        assert!((total - 2.0).abs() < 1e-5);
    }

    #[test]
    fn expansion_groups_read_the_bytes_the_row_maps_to() {
        let mut expand = Expansion::default();
        for (c, w, sw) in [(3, 28, 23), (3, 224, 89), (1, 28, 23), (3, 37, 31), (1, 5, 4), (3, 224, 56)] {
            expand.fill(c, w, sw);
            assert_eq!(expand.from.len(), w * c);
            // The source pixel under each output pixel's centre, channel kept.
            for (k, &i) in expand.from.iter().enumerate() {
                let x = k / c;
                assert_eq!(
                    (i / c, i % c),
                    (((2 * x + 1) * sw / (2 * w)).min(sw - 1), k % c),
                    "{c} {w} {sw} byte {k}"
                );
            }
            // Every whole group of 16 goes by its shuffle.
            assert_eq!(expand.bases.len(), w * c / 16, "{c} {w} {sw}");
            for (g, (&base, mask)) in expand.bases.iter().zip(&expand.masks).enumerate() {
                for (j, &m) in mask.iter().enumerate() {
                    assert!(m < 16);
                    assert_eq!(base + usize::from(m), expand.from[16 * g + j]);
                }
            }
        }
    }

    #[test]
    fn pixelate_halves_into_blocks() {
        let img = Image::new(4, 1, 1, vec![0, 100, 200, 50]).expect("valid");
        // 4 -> 2 (means 50 and 125) -> 4 by nearest.
        assert_eq!(pixelate(&img, 0.5).as_bytes(), &[50, 50, 125, 125]);
    }
}
