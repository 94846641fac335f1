//! `jpeg_compression` (ImageNet-C "digital" family): baseline JPEG's lossy
//! path simulated without a codec. YCbCr with 4:2:0 chroma, the
//! Arai-Agui-Nakajima float DCT on 8x8 blocks, Annex K tables scaled by
//! quality as libjpeg scales them, and libjpeg's "fancy" chroma upsampling
//! on the way back.
//!
//! Qualities are the benchmarks' (PIL's quality scale).

use std::f32::consts::SQRT_2;

use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::OpInfo;
use crate::table::{Table, TableParams, row};

const JPEG_TABLES: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &[row("quality", [25.0, 18.0, 15.0, 10.0, 7.0])]),
    TableParams::graded(Table::TinyImagenetC, &[row("quality", [65.0, 58.0, 50.0, 40.0, 25.0])]),
    TableParams::graded(Table::Cifar10C, &[row("quality", [80.0, 65.0, 58.0, 50.0, 40.0])]),
];

/// `jpeg_compression`: baseline JPEG's loss at the table's quality,
/// simulated without a codec.
pub(crate) const JPEG_COMPRESSION: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "jpeg_compression",
        "baseline JPEG loss (YCbCr 4:2:0, quantised DCT) without a codec",
        JPEG_TABLES,
    ),
    |img, s, _rng| jpeg_round_trip(img, s.count("quality").min(100) as u8),
);

/// JPEG Annex K luminance table, row-major (not zigzag).
const LUMA_TABLE: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17,
    22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78,
    87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// JPEG Annex K chrominance table, row-major.
const CHROMA_TABLE: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// Scales an Annex K table as libjpeg's `jpeg_quality_scaling` does, so a
/// quality number means what it means to PIL and libjpeg.
fn quant_table(base: &[u16; 64], quality: u8) -> [u16; 64] {
    let q = u32::from(quality.clamp(1, 100));
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    base.map(|b| ((u32::from(b) * scale + 50) / 100).clamp(1, 255) as u16)
}

/// Where each horizontal frequency sits within a row of coefficients:
/// [`fdct_row`] leaves the even ones first, and nothing needs them in order.
const ROW_ORDER: [usize; 8] = [0, 2, 4, 6, 1, 3, 5, 7];

/// Quantiser steps and their reciprocals in the coefficient layout (band
/// row = vertical frequency, position in a row per [`ROW_ORDER`]).
struct Quant {
    step: [[f32; 8]; 8],
    inv: [[f32; 8]; 8],
}

impl Quant {
    fn new(base: &[u16; 64], quality: u8) -> Self {
        let table = quant_table(base, quality);
        let q = |r: usize, k: usize| f32::from(table[r * 8 + ROW_ORDER[k]]);
        let step = std::array::from_fn(|r| std::array::from_fn(|k| q(r, k) * AAN[r] / (2.0 * SQRT_2)));
        let inv = std::array::from_fn(|r| std::array::from_fn(|k| 1.0 / (q(r, k) * AAN[r] * (2.0 * SQRT_2))));
        Quant { step, inv }
    }
}

// Half the DCT cosines: `Hk = cos(k*pi/16) / 2`.
const H1: f32 = 0.490_392_64;
const H2: f32 = 0.461_939_77;
const H3: f32 = 0.415_734_8;
const H4: f32 = 0.353_553_38;
const H5: f32 = 0.277_785_12;
const H6: f32 = 0.191_341_72;
const H7: f32 = 0.097_545_16;

type V4 = [f32; 4];

/// `EVEN[n][m]`: weight of x[n] + x[7-n] in frequency 2m; `ODD[n][m]`: of
/// x[n] - x[7-n] in frequency 2m+1. `ODD` is symmetric, so it serves the
/// inverse too; `EVEN` needs its transpose.
const EVEN: [V4; 4] = [[H4, H2, H4, H6], [H4, H6, -H4, -H2], [H4, -H6, -H4, H2], [H4, -H2, H4, -H6]];
const EVEN_T: [V4; 4] = [[H4, H4, H4, H4], [H2, H6, -H6, -H2], [H4, -H4, -H4, H4], [H6, -H2, H2, -H6]];
const ODD: [V4; 4] = [[H1, H3, H5, H7], [H3, -H7, -H1, -H5], [H5, -H1, H7, H3], [H7, -H5, H3, -H1]];

/// Sum of `rows[i] * k[i]`: broadcasts, which SSE2 does in registers.
#[inline(always)]
fn combine(rows: &[V4; 4], k: V4) -> V4 {
    std::array::from_fn(|l| rows[0][l] * k[0] + rows[1][l] * k[1] + rows[2][l] * k[2] + rows[3][l] * k[3])
}

/// Orthonormal 8-point DCT-II of one row, even frequencies first. Rows use
/// broadcasts because LLVM turns 8x8 transposes into spills.
#[inline(always)]
fn fdct_row(x: [f32; 8]) -> [f32; 8] {
    let s = [x[0] + x[7], x[1] + x[6], x[2] + x[5], x[3] + x[4]];
    let d = [x[0] - x[7], x[1] - x[6], x[2] - x[5], x[3] - x[4]];
    let (e, o) = (combine(&EVEN, s), combine(&ODD, d));
    [e[0], e[1], e[2], e[3], o[0], o[1], o[2], o[3]]
}

/// Inverse of [`fdct_row`].
#[inline(always)]
fn idct_row(c: [f32; 8]) -> [f32; 8] {
    let e = combine(&EVEN_T, [c[0], c[1], c[2], c[3]]);
    let o = combine(&ODD, [c[4], c[5], c[6], c[7]]);
    [e[0] + o[0], e[1] + o[1], e[2] + o[2], e[3] + o[3], e[3] - o[3], e[2] - o[2], e[1] - o[1], e[0] - o[0]]
}

/// The eight rows of a band.
#[inline(always)]
fn band_rows(band: &mut [f32], stride: usize) -> [&mut [f32]; 8] {
    let mut rows = band.chunks_exact_mut(stride);
    std::array::from_fn(|_| rows.next().unwrap_or_default())
}

/// Scale the AAN butterflies leave on row `u`: the forward pass yields
/// `2*sqrt(2) * AAN[u]` times the orthonormal coefficient and the inverse
/// wants `AAN[u] / (2*sqrt(2))` times it. [`Quant`] folds both in, which
/// saves 16 multiplies per column.
const AAN: [f32; 8] =
    [1.0, 1.387_039_8, 1.306_563, 1.175_875_6, 1.0, 0.785_694_96, 0.541_196_1, 0.275_899_38];

/// Scaled DCT-II (Arai-Agui-Nakajima, libjpeg's float DCT) down every
/// column of an 8-row band: columns are independent lanes, so it vectorises.
#[inline(always)]
fn fdct_columns(band: &mut [f32], stride: usize) {
    let [r0, r1, r2, r3, r4, r5, r6, r7] = band_rows(band, stride);
    for x in 0..stride {
        let (t0, t7) = (r0[x] + r7[x], r0[x] - r7[x]);
        let (t1, t6) = (r1[x] + r6[x], r1[x] - r6[x]);
        let (t2, t5) = (r2[x] + r5[x], r2[x] - r5[x]);
        let (t3, t4) = (r3[x] + r4[x], r3[x] - r4[x]);
        let (t10, t13, t11, t12) = (t0 + t3, t0 - t3, t1 + t2, t1 - t2);
        r0[x] = t10 + t11;
        r4[x] = t10 - t11;
        let z1 = (t12 + t13) * std::f32::consts::FRAC_1_SQRT_2;
        r2[x] = t13 + z1;
        r6[x] = t13 - z1;
        let (t10, t11, t12) = (t4 + t5, t5 + t6, t6 + t7);
        let z5 = (t10 - t12) * 0.382_683_43;
        let z2 = 0.541_196_1 * t10 + z5;
        let z4 = 1.306_563 * t12 + z5;
        let z3 = t11 * std::f32::consts::FRAC_1_SQRT_2;
        let (z11, z13) = (t7 + z3, t7 - z3);
        r5[x] = z13 + z2;
        r3[x] = z13 - z2;
        r1[x] = z11 + z4;
        r7[x] = z11 - z4;
    }
}

/// Inverse of [`fdct_columns`] (libjpeg's float IDCT), range-limited to
/// [-128, 127] as a decoder limits its output samples.
#[inline(always)]
fn idct_columns(band: &mut [f32], stride: usize) {
    let [r0, r1, r2, r3, r4, r5, r6, r7] = band_rows(band, stride);
    let limit = |v: f32| v.clamp(-128.0, 127.0);
    for x in 0..stride {
        let (t10, t11) = (r0[x] + r4[x], r0[x] - r4[x]);
        let t13 = r2[x] + r6[x];
        let t12 = (r2[x] - r6[x]) * std::f32::consts::SQRT_2 - t13;
        let (e0, e3, e1, e2) = (t10 + t13, t10 - t13, t11 + t12, t11 - t12);
        let (z13, z10) = (r5[x] + r3[x], r5[x] - r3[x]);
        let (z11, z12) = (r1[x] + r7[x], r1[x] - r7[x]);
        let o7 = z11 + z13;
        let t11 = (z11 - z13) * std::f32::consts::SQRT_2;
        let z5 = (z10 + z12) * 1.847_759;
        let t10 = 1.082_392_2 * z12 - z5;
        let t12 = -2.613_126 * z10 + z5;
        let o6 = t12 - o7;
        let o5 = t11 - o6;
        let o4 = t10 + o5;
        r0[x] = limit(e0 + o7);
        r7[x] = limit(e0 - o7);
        r1[x] = limit(e1 + o6);
        r6[x] = limit(e1 - o6);
        r2[x] = limit(e2 + o5);
        r5[x] = limit(e2 - o5);
        r4[x] = limit(e3 + o4);
        r3[x] = limit(e3 - o4);
    }
}

/// Adding then subtracting 1.5 * 2^23 rounds to nearest (ties even) without
/// a libm call, so the quantiser vectorises on plain SSE2.
const ROUND: f32 = 12_582_912.0;

/// Row DCTs, quantisation and inverse of a band whose columns are already
/// transformed; quantise and dequantise are one multiply each.
#[inline(always)]
fn code_rows(band: &mut [f32], stride: usize, q: &Quant) {
    for ((row, step), inv) in band.chunks_exact_mut(stride).zip(&q.step).zip(&q.inv) {
        for chunk in row.as_chunks_mut::<8>().0 {
            let mut c = fdct_row(*chunk);
            for ((v, &s), &i) in c.iter_mut().zip(step).zip(inv) {
                *v = ((*v * i + ROUND) - ROUND) * s;
            }
            *chunk = idct_row(c);
        }
    }
}

/// One 8-row band at a time, so each pass finds the band in L1.
#[inline(always)]
fn code_plane(plane: &mut [f32], stride: usize, q: &Quant) {
    for band in plane.chunks_exact_mut(stride * 8) {
        fdct_columns(band, stride);
        code_rows(band, stride, q);
        idct_columns(band, stride);
    }
}

/// Repeats the last column and row into the padding, as encoders extend
/// partial blocks.
#[inline(always)]
fn pad_plane(plane: &mut [f32], stride: usize, from_w: usize, from_h: usize) {
    if from_w < stride {
        for row in plane.chunks_exact_mut(stride).take(from_h) {
            let last = row[from_w - 1];
            row[from_w..].fill(last);
        }
    }
    let (done, rest) = plane.split_at_mut(from_h * stride);
    let last = &done[(from_h - 1) * stride..];
    for row in rest.chunks_exact_mut(stride) {
        row.copy_from_slice(last);
    }
}

fn round_up8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Baseline JPEG's lossy path without a codec: the entropy coder loses
/// nothing and was most of the cost. RGB uses 4:2:0 subsampling and
/// libjpeg's "fancy" upsampling, PIL's defaults (ImageNet-C was made with
/// PIL). Differs from a real codec only by its integer DCT's rounding.
pub(crate) fn jpeg_round_trip(img: &Image, quality: u8) -> Image {
    let (w, h, c) = img.dims();
    if w == 0 || h == 0 {
        return img.clone();
    }
    let (pw, ph) = (round_up8(w), round_up8(h));
    let (cpw, cph) = if c == 1 { (0, 0) } else { (round_up8(w.div_ceil(2)), round_up8(h.div_ceil(2))) };
    with_scratch(pw * ph + 2 * cpw * cph, |buf| {
        let (luma, chroma) = buf.split_at_mut(pw * ph);
        if c == 1 {
            return gray_round_trip(img, luma, quality);
        }
        let (cb, cr) = chroma.split_at_mut(cpw * cph);
        crate::simd::wide(
            #[inline(always)]
            || rgb_round_trip(img, luma, cb, cr, quality),
        )
    })
}

/// Planes up to this many floats (4 MiB) are kept per thread: freeing and
/// refaulting them per call cost as much as the arithmetic.
pub(super) const SCRATCH_MAX: usize = 1 << 20;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` floats of unspecified content (every caller writes
/// before it reads).
fn with_scratch<T>(len: usize, f: impl FnOnce(&mut [f32]) -> T) -> T {
    if len > SCRATCH_MAX {
        return f(&mut vec![0.0; len]);
    }
    SCRATCH.with_borrow_mut(|buf| {
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        f(&mut buf[..len])
    })
}

#[inline(always)]
fn gray_round_trip(img: &Image, luma: &mut [f32], quality: u8) -> Image {
    let (w, h, _) = img.dims();
    let pw = round_up8(w);
    for (row, srow) in luma.chunks_exact_mut(pw).zip(img.as_bytes().chunks_exact(w)) {
        for (o, &v) in row.iter_mut().zip(srow) {
            *o = f32::from(v) - 128.0;
        }
    }
    pad_plane(luma, pw, w, h);
    code_plane(luma, pw, &Quant::new(&LUMA_TABLE, quality));
    let mut out = vec![0u8; w * h];
    for (orow, row) in out.chunks_exact_mut(w).zip(luma.chunks_exact(pw)) {
        for (o, &v) in orow.iter_mut().zip(row) {
            *o = (v + 128.5) as u8;
        }
    }
    img.with_bytes(out)
}

/// The RGB half of [`jpeg_round_trip`], on scratch planes.
#[inline(always)]
fn rgb_round_trip(img: &Image, luma: &mut [f32], cb: &mut [f32], cr: &mut [f32], quality: u8) -> Image {
    let (w, h, _) = img.dims();
    let pw = round_up8(w);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let cpw = round_up8(cw);
    forward_colour(img, luma, pw, cb, cr, cpw);
    pad_plane(luma, pw, w, h);
    code_plane(luma, pw, &Quant::new(&LUMA_TABLE, quality));
    let chroma_q = Quant::new(&CHROMA_TABLE, quality);
    for plane in [&mut *cb, &mut *cr] {
        pad_plane(plane, cpw, cw, ch);
        code_plane(plane, cpw, &chroma_q);
    }
    inverse_colour(img, luma, pw, cb, cr, cpw)
}

/// Deinterleaves a row four pixels at a time with integer shifts: SSE2 has
/// no byte shuffle, and LLVM's own attempt is slower. A last odd pixel is
/// repeated so chroma pairs are whole, as encoders extend the edge.
#[inline(always)]
fn split_row(src: &[u8], planes: &mut [Vec<u8>; 3]) {
    let [r, g, b] = planes;
    let (quads, tail) = src.as_chunks::<12>();
    let n4 = quads.len() * 4;
    for (((c, r), g), b) in
        quads.iter().zip(r.as_chunks_mut::<4>().0).zip(g.as_chunks_mut::<4>().0).zip(b.as_chunks_mut::<4>().0)
    {
        let (lo, hi) = c.split_at(8);
        let lo = u64::from_le_bytes(lo.try_into().unwrap_or_default());
        let hi = u32::from_le_bytes(hi.try_into().unwrap_or_default());
        let byte = |i: u32| if i < 8 { (lo >> (8 * i)) as u32 & 0xff } else { (hi >> (8 * (i - 8))) & 0xff };
        let pick = |k: u32| byte(k) | byte(k + 3) << 8 | byte(k + 6) << 16 | byte(k + 9) << 24;
        *r = pick(0).to_le_bytes();
        *g = pick(1).to_le_bytes();
        *b = pick(2).to_le_bytes();
    }
    for (i, px) in tail.as_chunks::<3>().0.iter().enumerate() {
        [r[n4 + i], g[n4 + i], b[n4 + i]] = *px;
    }
    let n = src.len() / 3;
    if n < r.len() {
        let last = [r[n - 1], g[n - 1], b[n - 1]];
        [r[n], g[n], b[n]] = last;
    }
}

/// Level-shifted luma and 2x2-averaged chroma. Averaging RGB before
/// converting gives the same chroma (the transform is linear) for a
/// quarter of the work.
#[inline(always)]
fn forward_colour(img: &Image, luma: &mut [f32], pw: usize, cb: &mut [f32], cr: &mut [f32], cpw: usize) {
    let (w, h, _) = img.dims();
    let src = img.as_bytes();
    let cw = w.div_ceil(2);
    let mut rows: [[Vec<u8>; 3]; 2] = std::array::from_fn(|_| std::array::from_fn(|_| vec![0; 2 * cw]));
    let mut sums: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0; 2 * cw]);
    for (i, (cb_row, cr_row)) in
        cb.chunks_exact_mut(cpw).zip(cr.chunks_exact_mut(cpw)).take(h.div_ceil(2)).enumerate()
    {
        for (t, planes) in rows.iter_mut().enumerate() {
            let y = (2 * i + t).min(h - 1);
            split_row(&src[y * w * 3..][..w * 3], planes);
            let [r, g, b] = &*planes;
            for (((o, &r), &g), &b) in luma[y * pw..][..w].iter_mut().zip(r).zip(g).zip(b) {
                *o = 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b) - 128.0;
            }
        }
        let [top, bottom] = &rows;
        for ((s, t), b) in sums.iter_mut().zip(top).zip(bottom) {
            for ((s, &t), &b) in s.iter_mut().zip(t).zip(b) {
                *s = f32::from(u16::from(t) + u16::from(b));
            }
        }
        let [r, g, b] = &sums;
        let pairs = r.as_chunks::<2>().0.iter().zip(g.as_chunks::<2>().0).zip(b.as_chunks::<2>().0);
        for ((ob, or), ((r, g), b)) in cb_row.iter_mut().zip(cr_row.iter_mut()).zip(pairs) {
            let (r, g, b) = (r[0] + r[1], g[0] + g[1], b[0] + b[1]);
            *ob = -0.042_184 * r - 0.082_816 * g + 0.125 * b;
            *or = 0.125 * r - 0.104_672 * g - 0.020_328 * b;
        }
    }
}

/// [`clamp_u8`] widened for packing.
#[inline(always)]
fn byte(v: f32) -> u32 {
    u32::from(clamp_u8(v))
}

/// libjpeg's "fancy" h2v2 upsampling, because PIL decodes with it: 3:1
/// vertically, then 3:1 horizontally, edges repeated at the real chroma
/// extent. Then JFIF YCbCr to RGB.
#[inline(always)]
fn inverse_colour(img: &Image, luma: &[f32], pw: usize, cb: &[f32], cr: &[f32], cpw: usize) -> Image {
    let (w, h, _) = img.dims();
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = vec![0u8; w * h * 3];
    let mut sums = vec![0.0f32; cw];
    // Even and odd output columns of Cb, then of Cr.
    let mut up: [[Vec<f32>; 2]; 2] = std::array::from_fn(|_| std::array::from_fn(|_| vec![0.0; cw]));
    let mut packed = vec![0u32; 2 * cw];
    for (y, orow) in out.chunks_exact_mut(w * 3).enumerate() {
        let i = y / 2;
        let k = if y % 2 == 0 { i.saturating_sub(1) } else { (i + 1).min(ch - 1) };
        for (plane, [even, odd]) in [cb, cr].into_iter().zip(&mut up) {
            let (near, far) = (&plane[i * cpw..][..cw], &plane[k * cpw..][..cw]);
            for ((o, &n), &f) in sums.iter_mut().zip(near).zip(far) {
                *o = (3.0 / 16.0) * n + (1.0 / 16.0) * f;
            }
            upsample_row(&sums, even, odd);
        }
        let [[ue, uo], [ve, vo]] = &up;
        let pixel = |y: f32, u: f32, v: f32| {
            let y = y + 128.0;
            byte(y + 1.402 * v) | byte(y - 0.344_136 * u - 0.714_136 * v) << 8 | byte(y + 1.772 * u) << 16
        };
        let yrow = luma[y * pw..][..2 * cw].as_chunks::<2>().0;
        for ((((p, yy), (&ue, &uo)), &ve), &vo) in
            packed.as_chunks_mut::<2>().0.iter_mut().zip(yrow).zip(ue.iter().zip(uo)).zip(ve).zip(vo)
        {
            *p = [pixel(yy[0], ue, ve), pixel(yy[1], uo, vo)];
        }
        store_rgb(&packed[..w], orow);
    }
    img.with_bytes(out)
}

/// Writes `0x00BBGGRR` pixels as RGB, twelve bytes per step: per-byte
/// stores were the slowest part of the output.
#[inline(always)]
fn store_rgb(packed: &[u32], out: &mut [u8]) {
    let (quads, rest) = packed.as_chunks::<4>();
    let (dst, tail) = out.as_chunks_mut::<12>();
    for (d, &[p0, p1, p2, p3]) in dst.iter_mut().zip(quads) {
        let lo = u64::from(p0) | u64::from(p1) << 24 | u64::from(p2) << 48;
        let hi = p2 >> 16 | p3 << 8;
        d[..8].copy_from_slice(&lo.to_le_bytes());
        d[8..].copy_from_slice(&hi.to_le_bytes());
    }
    for (d, &p) in tail.as_chunks_mut::<3>().0.iter_mut().zip(rest) {
        d.copy_from_slice(&p.to_le_bytes()[..3]);
    }
}

/// Horizontal half of fancy upsampling, even and odd outputs apart so
/// both loops vectorise.
#[inline(always)]
fn upsample_row(s: &[f32], even: &mut [f32], odd: &mut [f32]) {
    let n = s.len();
    even[0] = 4.0 * s[0];
    for ((e, &m), &l) in even[1..].iter_mut().zip(&s[1..]).zip(s) {
        *e = 3.0 * m + l;
    }
    for ((o, &m), &r) in odd.iter_mut().zip(s).zip(&s[1..]) {
        *o = 3.0 * m + r;
    }
    odd[n - 1] = 4.0 * s[n - 1];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_keeps_a_flat_image_close_and_drops_detail() {
        let flat = Image::filled(16, 16, 3, 120);
        let out = jpeg_round_trip(&flat, 40);
        assert!(out.as_bytes().iter().all(|&v| v.abs_diff(120) <= 2));
        let checker: Vec<u8> = (0..256).map(|i| if (i % 16 + i / 16) % 2 == 0 { 0 } else { 255 }).collect();
        let img = Image::new(16, 16, 1, checker).expect("valid");
        let out = jpeg_round_trip(&img, 10);
        assert_ne!(out, img);
        assert_eq!(out.as_bytes().len(), 256);
    }

    /// A deterministic pseudo-random value in [0, 1).
    fn noise(i: usize) -> f32 {
        let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Waves plus noise, so every frequency carries energy; channels differ
    /// in phase (colour) but share the noise (luma texture).
    fn textured(w: u32, h: u32, c: u8) -> Image {
        let data = (0..(w * h) as usize * usize::from(c))
            .map(|i| {
                let p = i / usize::from(c);
                let (x, y) = ((p % w as usize) as f32, (p / w as usize) as f32);
                let k = (i % usize::from(c)) as f32;
                let v =
                    128.0 + 60.0 * (x * 0.4 + 2.0 * k).sin() * (y * 0.3 + k).cos() + 40.0 * (noise(p) - 0.5);
                clamp_u8(v)
            })
            .collect();
        Image::new(w, h, c, data).expect("valid")
    }

    fn mean_abs_diff(a: &Image, b: &Image) -> f32 {
        let sum: u32 = a.as_bytes().iter().zip(b.as_bytes()).map(|(&x, &y)| u32::from(x.abs_diff(y))).sum();
        sum as f32 / a.as_bytes().len() as f32
    }

    fn naive_dct(x: &[f32; 64]) -> [f32; 64] {
        let c = |u: usize| if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
        std::array::from_fn(|k| {
            let (u, v) = (k / 8, k % 8);
            let mut s = 0.0f64;
            for (n, &val) in x.iter().enumerate() {
                let (r, col) = ((n / 8) as f64, (n % 8) as f64);
                s += f64::from(val)
                    * ((2.0 * r + 1.0) * u as f64 * std::f64::consts::PI / 16.0).cos()
                    * ((2.0 * col + 1.0) * v as f64 * std::f64::consts::PI / 16.0).cos();
            }
            (0.25 * c(u) * c(v) * s) as f32
        })
    }

    /// Forward 2-D DCT as `code_plane` runs it, in natural (row-major) order.
    fn forward(x: &[f32; 64]) -> [f32; 64] {
        let mut b = *x;
        fdct_columns(&mut b, 8);
        let mut out = [0.0; 64];
        for (r, row) in b.as_chunks::<8>().0.iter().enumerate() {
            for (k, c) in fdct_row(*row).into_iter().enumerate() {
                out[r * 8 + ROW_ORDER[k]] = c / (2.0 * SQRT_2 * AAN[r]);
            }
        }
        out
    }

    #[test]
    fn dct_of_a_constant_block_is_dc_only() {
        let coeffs = forward(&[200.0 - 128.0; 64]);
        assert!((coeffs[0] - 8.0 * 72.0).abs() < 1e-3, "{}", coeffs[0]);
        assert!(coeffs[1..].iter().all(|c| c.abs() < 1e-3), "{coeffs:?}");
    }

    #[test]
    fn dct_matches_the_definition_and_inverts() {
        let x: [f32; 64] = std::array::from_fn(|i| 255.0 * noise(i) - 128.0);
        let (fast, slow) = (forward(&x), naive_dct(&x));
        for (a, b) in fast.iter().zip(&slow) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        let mut b = x;
        fdct_columns(&mut b, 8);
        for row in b.as_chunks_mut::<8>().0 {
            // The forward column scale times the inverse's is 1/8 for every row.
            *row = idct_row(fdct_row(*row).map(|c| c * 0.125));
        }
        idct_columns(&mut b, 8);
        for (k, (&got, &want)) in b.iter().zip(&x).enumerate() {
            assert!((got - want).abs() < 1e-3, "{k}: {got} vs {want}");
        }
    }

    #[test]
    fn constant_block_survives_when_dc_is_a_multiple_of_the_step() {
        // Quality 50 keeps Annex K: luma DC step 16, and 8 * (192 - 128) = 512 = 32 * 16.
        let img = Image::filled(8, 8, 1, 192);
        assert_eq!(jpeg_round_trip(&img, 50), img);
    }

    #[test]
    fn quality_scaling_matches_ijg() {
        assert_eq!(quant_table(&LUMA_TABLE, 50), LUMA_TABLE);
        assert_eq!(quant_table(&CHROMA_TABLE, 50)[0], 17);
        assert_eq!(quant_table(&LUMA_TABLE, 75)[0], 8);
        assert_eq!(quant_table(&LUMA_TABLE, 10)[0], 80);
        // Scale 5000 at quality 1 clamps to the baseline limit; 100 is all ones.
        assert_eq!(quant_table(&LUMA_TABLE, 1)[0], 255);
        assert!(quant_table(&CHROMA_TABLE, 100).iter().all(|&q| q == 1));
    }

    /// The `image` crate's encoder and decoder, as the op used to run.
    fn codec_round_trip(img: &Image, quality: u8) -> Image {
        use image::codecs::jpeg::JpegEncoder;
        use image::{ExtendedColorType, ImageFormat};
        let mut encoded = Vec::new();
        JpegEncoder::new_with_quality(&mut encoded, quality)
            .encode(img.as_bytes(), img.width(), img.height(), ExtendedColorType::L8)
            .expect("encodes");
        let decoded = image::load_from_memory_with_format(&encoded, ImageFormat::Jpeg).expect("decodes");
        img.with_bytes(decoded.to_luma8().into_raw())
    }

    #[test]
    fn gray_matches_the_real_codec() {
        let img = textured(64, 64, 1);
        for quality in [80, 40, 10] {
            let (sim, real) = (jpeg_round_trip(&img, quality), codec_round_trip(&img, quality));
            let mad = mean_abs_diff(&sim, &real);
            assert!(mad < 2.0, "quality {quality}: mean abs diff {mad}");
            // The comparison has teeth: the codec does change the image.
            assert!(mean_abs_diff(&img, &real) > 2.0 * mad.max(0.1), "quality {quality}");
        }
    }

    #[test]
    fn rgb_at_high_quality_stays_close() {
        // Colour in gradients, detail in luma: 4:2:0 keeps the colour.
        let data = (0..32 * 32 * 3)
            .map(|i| {
                let (p, k) = (i / 3, i % 3);
                let (x, y) = ((p % 32) as f32, (p / 32) as f32);
                let base = [x * 8.0, y * 8.0, 250.0 - 4.0 * (x + y)][k];
                clamp_u8(base + 40.0 * (noise(p) - 0.5))
            })
            .collect();
        let img = Image::new(32, 32, 3, data).expect("valid");
        let mad = mean_abs_diff(&img, &jpeg_round_trip(&img, 90));
        assert!(mad < 4.0, "{mad}");
    }

    #[test]
    fn odd_sizes_keep_shape() {
        for (w, h) in [(1, 1), (7, 5), (17, 9), (9, 17), (2, 3)] {
            for c in [1, 3] {
                let img = textured(w, h, c);
                let out = jpeg_round_trip(&img, 30);
                assert_eq!(out.dims(), img.dims(), "{w}x{h}x{c}");
            }
        }
    }

    #[test]
    fn lower_quality_loses_more() {
        for c in [1, 3] {
            let img = textured(48, 40, c);
            let errs: Vec<f32> =
                [95, 80, 50, 25, 7].map(|q| mean_abs_diff(&img, &jpeg_round_trip(&img, q))).into();
            assert!(errs.windows(2).all(|p| p[0] <= p[1]) && errs[0] < errs[4], "channels {c}: {errs:?}");
        }
    }
}
