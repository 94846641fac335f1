//! Photometric changes: ImageNet-C's brightness, contrast and saturate
//! corruptions, and the colour jitter and grayscale augmentations.
//!
//! Ops that need colour (saturation, hue) leave a gray image's missing
//! colour alone: a gray pixel has no hue to shift or saturation to change.

use rand::Rng as _;

use super::pixels::{PLANE, clamp_u8};
use super::planes::Kernel;
use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;
use crate::table::{Table, TableParams, row};

/// Colour jitter: brightness/contrast/saturation factor range 1 ± j, hue shift ± turns.
const JITTER: [(f32, f32); 5] = [(0.1, 0.02), (0.2, 0.04), (0.3, 0.06), (0.4, 0.08), (0.5, 0.10)];
/// Share of the way to gray.
const GRAY_AMOUNT: [f32; 5] = [0.2, 0.4, 0.6, 0.8, 1.0];

/// ImageNet-C's and Tiny-ImageNet-C's shifts of HSV value; MNIST-C's
/// dataset uses ImageNet-C's at severity 5.
const BRIGHTNESS_TABLES: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &[row("value_shift", [0.1, 0.2, 0.3, 0.4, 0.5])]),
    TableParams::graded(Table::TinyImagenetC, &[row("value_shift", [0.1, 0.2, 0.3, 0.4, 0.5])]),
    TableParams::graded(Table::Cifar10C, &[row("value_shift", [0.05, 0.1, 0.15, 0.2, 0.3])]),
    TableParams::at(Table::MnistC, &[row("value_shift", [0.1, 0.2, 0.3, 0.4, 0.5])], 5),
];
const CONTRAST_TABLES: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &[row("factor", [0.4, 0.3, 0.2, 0.1, 0.05])]),
    TableParams::graded(Table::TinyImagenetC, &[row("factor", [0.4, 0.3, 0.2, 0.1, 0.05])]),
    TableParams::graded(Table::Cifar10C, &[row("factor", [0.75, 0.5, 0.4, 0.3, 0.15])]),
];
/// (multiplier, offset) on HSV saturation.
const SATURATE_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &[row("mult", [0.3, 0.1, 2.0, 5.0, 20.0]), row("add", [0.0, 0.0, 0.0, 0.1, 0.2])],
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &[row("mult", [0.3, 0.1, 2.0, 5.0, 30.0]), row("add", [0.0, 0.0, 0.0, 0.1, 0.2])],
    ),
    TableParams::graded(
        Table::Cifar10C,
        &[row("mult", [0.3, 0.1, 1.5, 2.0, 2.5]), row("add", [0.0, 0.0, 0.0, 0.1, 0.2])],
    ),
];

/// `brightness`: adds the table's shift to HSV value, clipped (gray: to the
/// value itself).
pub(crate) const BRIGHTNESS: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("brightness", "raises HSV value by a constant, clipped", BRIGHTNESS_TABLES),
    |img, s, _rng: &mut Rng| brightness(img, s.get("value_shift")),
);

/// `contrast`: pulls every value towards its channel mean, keeping the
/// table's share of the distance.
pub(crate) const CONTRAST: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("contrast", "scales values about the per-channel mean", CONTRAST_TABLES),
    |img, s, _rng: &mut Rng| contrast(img, s.get("factor")),
);

/// `saturate`: HSV saturation becomes `s · mult + add`, clipped. Severities
/// 1-2 desaturate, 3-5 oversaturate. Gray images have no saturation and are
/// returned unchanged.
pub(crate) const SATURATE_OP: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "saturate",
        "HSV saturation times mult plus add; gray unchanged",
        SATURATE_TABLES,
    ),
    |img, s, _rng: &mut Rng| saturate(img, s.get("mult"), s.get("add")),
);

/// `color_jitter`: brightness, contrast and saturation factors drawn from
/// 1 ± j and a hue rotation from ± the table's turns, applied in that order
/// (torchvision's ColorJitter). Gray images get brightness and contrast only.
pub(crate) const COLOR_JITTER: ImageOp = ImageOp::new(
    OpInfo {
        name: "color_jitter",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "random brightness, contrast, saturation and hue (torchvision ColorJitter)",
        params: &[
            Param { name: "bcs_factor", values: ["1±0.1", "1±0.2", "1±0.3", "1±0.4", "1±0.5"] },
            Param { name: "hue_turns", values: ["±0.02", "±0.04", "±0.06", "±0.08", "±0.10"] },
        ],
    },
    color_jitter,
);

/// `grayscale`: blends towards luma by 0.2..1.0; the output keeps three
/// equal channels at severity 5. Gray images are unchanged.
pub(crate) const GRAYSCALE: ImageOp = ImageOp::new(
    OpInfo {
        name: "grayscale",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "blend towards luma, keeping three channels; gray unchanged",
        params: &[Param { name: "amount", values: ["0.2", "0.4", "0.6", "0.8", "1.0"] }],
    },
    |img, s, _rng: &mut Rng| grayscale(img, s.pick(&GRAY_AMOUNT)),
);

/// HSV value + shift, clipped. With hue and saturation fixed, every channel
/// scales with the value, so this is a per-pixel gain (exact, no HSV trip).
pub(crate) fn brightness(img: &Image, shift: f32) -> Image {
    let add = shift * 255.0;
    if img.channels() == 1 {
        let lut: [u8; 256] = std::array::from_fn(|v| clamp_u8(v as f32 + add));
        return img.map_lut(&lut);
    }
    // With the pixel max m fixed, each value v maps to v · V'(m) / m: one
    // gain per pixel, in 1/32768ths (at most 255 · 2^15 < 2^23).
    img.map_rgb_kernel(&ValueShift { add, black: clamp_u8(add) })
}

/// [`brightness`] on RGB planes.
struct ValueShift {
    /// The shift of HSV value, in 0..255.
    add: f32,
    /// What a black pixel (max 0, no hue to keep) becomes.
    black: u8,
}

impl ValueShift {
    /// The gain V'(m) / m of a pixel whose largest channel is `m`, in
    /// 1/32768ths, rounded by the bit trick of `clamp_u8`.
    #[inline(always)]
    fn gain(&self, m: u8) -> i32 {
        let m = f32::from(m);
        let k = (m + self.add).clamp(0.0, 255.0) / m.max(1.0) * 32768.0;
        (k + 8_388_608.0).to_bits() as i32 - 0x4B00_0000
    }
}

impl Kernel for ValueShift {
    fn block(&self, _: usize, [r, g, b]: &mut [[u8; PLANE]; 3]) {
        for j in 0..PLANE {
            let m = r[j].max(g[j]).max(b[j]);
            let k = self.gain(m);
            for v in [&mut r[j], &mut g[j], &mut b[j]] {
                // v ≤ m keeps the result in range.
                *v = if m == 0 { self.black } else { ((i32::from(*v) * k + 16384) >> 15) as u8 };
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn block_avx2(&self, simd: pulp::x86::V3, _: usize, planes: &mut [[u8; PLANE]; 3]) {
        avx2::value_shift(simd, self, planes);
    }
}

/// [`ValueShift`] in AVX2 instructions, in 16-bit lanes: with the gain
/// k = 2^15·kh + kl, `(v·k + 2^14) >> 15` is `v·kh + (v·kl + 2^14) >> 15`,
/// a `pmullw` and a `pmulhrsw`. No closures or array `map`s: every step
/// must inline into the AVX2 build, and those can stay out of line.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::{__m256, __m256i};

    use pulp::x86::V3;

    use super::{PLANE, Saturation, ValueShift};

    // Layout: 32 pixels of bytes unpack with zero into two 16-bit vectors,
    // pixels 0-7 and 16-23 ("lo") and 8-15 and 24-31 ("hi"), and those into
    // four 32-bit ones (0-3 and 16-19, 4-7 and 20-23, ...). Packing undoes
    // each step in the same order, so no lane permutes are needed.

    #[inline(always)]
    fn splat_f(x: f32) -> __m256 {
        pulp::cast([x; 8])
    }

    #[inline(always)]
    fn splat_i(x: i32) -> __m256i {
        pulp::cast([x; 8])
    }

    /// 32 bytes as [lo, hi] 16-bit lanes.
    #[inline(always)]
    fn widen16(simd: V3, v: __m256i) -> [__m256i; 2] {
        let zero = splat_i(0);
        [simd.avx2._mm256_unpacklo_epi8(v, zero), simd.avx2._mm256_unpackhi_epi8(v, zero)]
    }

    /// 32 bytes as four vectors of 32-bit lanes.
    #[inline(always)]
    fn widen32(simd: V3, v: __m256i) -> [__m256i; 4] {
        let (avx2, zero) = (simd.avx2, splat_i(0));
        let [lo, hi] = widen16(simd, v);
        [
            avx2._mm256_unpacklo_epi16(lo, zero),
            avx2._mm256_unpackhi_epi16(lo, zero),
            avx2._mm256_unpacklo_epi16(hi, zero),
            avx2._mm256_unpackhi_epi16(hi, zero),
        ]
    }

    /// Gains of 1/32768ths (below 2^23) rounded to nearest even, as the
    /// bit trick of `clamp_u8` rounds, and split into (kh, kl) with
    /// k = 2^15·kh + kl, packed to the [lo, hi] 16-bit layout.
    #[inline(always)]
    fn split_fixed(simd: V3, k: [__m256; 4]) -> [(__m256i, __m256i); 2] {
        let avx2 = simd.avx2;
        let mut parts = [(splat_i(0), splat_i(0)); 4];
        for (part, &k) in parts.iter_mut().zip(&k) {
            let k = simd.avx._mm256_cvtps_epi32(k);
            *part = (avx2._mm256_srli_epi32::<15>(k), avx2._mm256_and_si256(k, splat_i(0x7FFF)));
        }
        let pack = |a: __m256i, b: __m256i| avx2._mm256_packs_epi32(a, b);
        [
            (pack(parts[0].0, parts[1].0), pack(parts[0].1, parts[1].1)),
            (pack(parts[2].0, parts[3].0), pack(parts[2].1, parts[3].1)),
        ]
    }

    /// `(t·k + 2^14) >> 15` in 16-bit lanes, k given as (kh, kl).
    #[inline(always)]
    fn scaled(simd: V3, t: __m256i, (kh, kl): (__m256i, __m256i)) -> __m256i {
        let avx2 = simd.avx2;
        avx2._mm256_add_epi16(avx2._mm256_mullo_epi16(t, kh), avx2._mm256_mulhrs_epi16(t, kl))
    }

    /// 32 bytes of each plane, from byte `at`.
    #[inline(always)]
    fn load(planes: &[[u8; PLANE]; 3], at: usize) -> [__m256i; 3] {
        let mut v = [splat_i(0); 3];
        for (lanes, plane) in v.iter_mut().zip(planes.iter()) {
            *lanes = pulp::cast(<[u8; 32]>::try_from(&plane[at..][..32]).unwrap_or([0; 32]));
        }
        v
    }

    /// Stores 32 bytes at byte `at` of `plane`.
    #[inline(always)]
    fn store(plane: &mut [u8; PLANE], at: usize, v: __m256i) {
        plane[at..][..32].copy_from_slice(&pulp::cast::<_, [u8; 32]>(v));
    }

    /// [`super::Saturation`]: the factor per pixel in f32, the channels in
    /// 16-bit lanes.
    #[inline(always)]
    pub(super) fn saturation(simd: V3, sat: &Saturation, planes: &mut [[u8; PLANE]; 3]) {
        let (avx, avx2) = (simd.avx, simd.avx2);
        let gray = avx._mm256_cvtepi32_ps(splat_i(sat.gray));
        for h in 0..2 {
            let [r, g, b] = load(planes, 32 * h);
            let v = avx2._mm256_max_epu8(avx2._mm256_max_epu8(r, g), b);
            let d = avx2._mm256_sub_epi8(v, avx2._mm256_min_epu8(avx2._mm256_min_epu8(r, g), b));
            let (vs, ds) = (widen32(simd, v), widen32(simd, d));
            let mut k = [splat_f(0.0); 4];
            for ((k, &vi), &di) in k.iter_mut().zip(&vs).zip(&ds) {
                let (vf, df) = (avx._mm256_cvtepi32_ps(vi), avx._mm256_cvtepi32_ps(di));
                let inv_s = avx._mm256_div_ps(vf, avx._mm256_max_ps(df, splat_f(f32::MIN_POSITIVE)));
                let colour = avx._mm256_add_ps(splat_f(sat.mult), avx._mm256_mul_ps(splat_f(sat.add), inv_s));
                let colour = avx._mm256_min_ps(avx._mm256_max_ps(colour, splat_f(0.0)), inv_s);
                let colour = avx._mm256_mul_ps(colour, splat_f(32768.0));
                let is_gray = avx._mm256_cmp_ps::<0>(df, splat_f(0.0));
                *k = avx._mm256_blendv_ps(colour, gray, is_gray);
            }
            let [k_lo, k_hi] = split_fixed(simd, k);
            let is_gray = avx2._mm256_cmpeq_epi8(d, splat_i(0));
            // Gray: green and blue measured from 0, so they scale v itself.
            let from = [r, avx2._mm256_andnot_si256(is_gray, g), avx2._mm256_andnot_si256(is_gray, b)];
            let [v_lo, v_hi] = widen16(simd, v);
            for (plane, c) in planes.iter_mut().zip(from) {
                let [t_lo, t_hi] = widen16(simd, avx2._mm256_sub_epi8(v, c));
                let lo = avx2._mm256_sub_epi16(v_lo, scaled(simd, t_lo, k_lo));
                let hi = avx2._mm256_sub_epi16(v_hi, scaled(simd, t_hi, k_hi));
                store(plane, 32 * h, avx2._mm256_packus_epi16(lo, hi));
            }
        }
    }

    /// [`super::contrast`]'s map over the bytes, 32 at a time: `punpck`
    /// with zero gives v·256 in 16-bit lanes (bytes 0-7 and 16-23 in one
    /// vector, 8-15 and 24-31 in the other), and `packus` puts them back in
    /// order. The offsets repeat every 96 bytes: three chunks' worth.
    pub(in super::super) struct Contrast<'a> {
        pub(super) simd: V3,
        pub(super) src: &'a [u8],
        pub(super) out: &'a mut Vec<u8>,
        pub(super) gain: u16,
        pub(super) offsets: &'a [u16],
    }

    impl pulp::WithSimd for Contrast<'_> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            let Contrast { simd, src, out, gain, offsets } = self;
            let avx2 = simd.avx2;
            let c = offsets.len();
            // Byte i of chunk k (of three) sits in half (i / 8) % 2 of the
            // unpacked pair, at lane i % 8 + 8 · (i / 16).
            let mut offs = [[[0u16; 16]; 2]; 3];
            for (k, chunk) in offs.iter_mut().enumerate() {
                for i in 0..32 {
                    chunk[(i / 8) % 2][i % 8 + 8 * (i / 16)] = offsets[(32 * k + i) % c];
                }
            }
            let mut lanes = [[splat_i(0); 2]; 3];
            for (to, from) in lanes.iter_mut().zip(&offs) {
                *to = [pulp::cast(from[0]), pulp::cast(from[1])];
            }
            let splat_gain: __m256i = pulp::cast([gain; 16]);
            let zero = splat_i(0);
            let (chunks, rest) = src.as_chunks::<32>();
            for (k, chunk) in chunks.iter().enumerate() {
                let v: __m256i = pulp::cast(*chunk);
                let o = &lanes[k % 3];
                let lo = avx2._mm256_mulhi_epu16(avx2._mm256_unpacklo_epi8(zero, v), splat_gain);
                let hi = avx2._mm256_mulhi_epu16(avx2._mm256_unpackhi_epi8(zero, v), splat_gain);
                let lo = avx2._mm256_srli_epi16::<8>(avx2._mm256_add_epi16(lo, o[0]));
                let hi = avx2._mm256_srli_epi16::<8>(avx2._mm256_add_epi16(hi, o[1]));
                let bytes: [u8; 32] = pulp::cast(avx2._mm256_packus_epi16(lo, hi));
                out.extend_from_slice(&bytes);
            }
            let done = src.len() - rest.len();
            for (i, &v) in rest.iter().enumerate() {
                out.push(super::contrast_byte(v, gain, offsets[(done + i) % c]));
            }
        }
    }

    /// [`super::ValueShift`]: the gain per pixel in f32, the channels in
    /// 16-bit lanes. Black pixels (max 0) divide by zero; their lanes are
    /// replaced by `black` at the end.
    #[inline(always)]
    pub(super) fn value_shift(simd: V3, shift: &ValueShift, planes: &mut [[u8; PLANE]; 3]) {
        let (avx, avx2) = (simd.avx, simd.avx2);
        let black: __m256i = pulp::cast([shift.black; 32]);
        for h in 0..2 {
            let [r, g, b] = load(planes, 32 * h);
            let m = avx2._mm256_max_epu8(avx2._mm256_max_epu8(r, g), b);
            let mut k = [splat_f(0.0); 4];
            for (k, &mi) in k.iter_mut().zip(&widen32(simd, m)) {
                let mf = avx._mm256_cvtepi32_ps(mi);
                let up = avx._mm256_add_ps(mf, splat_f(shift.add));
                // Only a negative shift can take the value below 0.
                let up = if shift.add < 0.0 { avx._mm256_max_ps(up, splat_f(0.0)) } else { up };
                let up = avx._mm256_min_ps(up, splat_f(255.0));
                *k = avx._mm256_mul_ps(avx._mm256_div_ps(up, mf), splat_f(32768.0));
            }
            let [k_lo, k_hi] = split_fixed(simd, k);
            let is_black = avx2._mm256_cmpeq_epi8(m, splat_i(0));
            for (plane, v) in planes.iter_mut().zip([r, g, b]) {
                let [lo, hi] = widen16(simd, v);
                let bytes = avx2._mm256_packus_epi16(scaled(simd, lo, k_lo), scaled(simd, hi, k_hi));
                store(plane, 32 * h, avx2._mm256_blendv_epi8(bytes, black, is_black));
            }
        }
    }
}

/// Scales each channel about its mean by `factor`: `(v - m) · f + m`,
/// rounded, in 16.16 fixed point over whole rows of bytes.
pub(crate) fn contrast(img: &Image, factor: f32) -> Image {
    let means = channel_means(img);
    if !(0.0..1.0).contains(&factor) {
        let luts: Vec<[u8; 256]> =
            means.iter().map(|&m| std::array::from_fn(|v| clamp_u8((v as f32 - m) * factor + m))).collect();
        return img.map_luts(&luts);
    }
    // 0 <= f < 1 keeps every result in range. In u16 lanes: the gain in
    // 1/65536ths applied to v in 1/256ths, plus the channel's offset
    // m · (1 - f) + 1/2 in 1/256ths, then >> 8. The sum stays below
    // 256 · 255.5, so no lane overflows.
    let gain = (factor * 65536.0).round() as u16;
    let offsets: Vec<u16> =
        means.iter().map(|&m| ((m * (1.0 - factor) + 0.5) * 256.0).round().min(65535.0) as u16).collect();
    let src = img.as_bytes();
    let mut out = Vec::with_capacity(src.len());
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = crate::simd::v3() {
        pulp::Simd::vectorize(simd, avx2::Contrast { simd, src, out: &mut out, gain, offsets: &offsets });
        return img.with_bytes(out);
    }
    let c = offsets.len();
    out.extend(src.iter().enumerate().map(|(i, &v)| contrast_byte(v, gain, offsets[i % c])));
    img.with_bytes(out)
}

/// One value of [`contrast`]: `(v·256·gain / 65536 + offset) / 256`.
#[inline(always)]
fn contrast_byte(v: u8, gain: u16, offset: u16) -> u8 {
    let scaled = ((u32::from(u16::from(v) << 8) * u32::from(gain)) >> 16) as u16;
    ((scaled + offset) >> 8) as u8
}

/// Mean of each channel, in 0..255.
pub(crate) fn channel_means(img: &Image) -> Vec<f32> {
    let c = usize::from(img.channels());
    let bytes = img.as_bytes();
    // Column sums over whole rows (flat loops that vectorise) in u16 lanes,
    // flushed every 257 rows, before a lane could overflow, then folded by
    // channel.
    let stride = img.width() as usize * c;
    let mut sums = vec![0u64; c];
    let mut lanes = vec![0u16; stride];
    crate::simd::wide(
        #[inline(always)]
        || {
            for group in bytes.chunks(stride * 257) {
                lanes.fill(0);
                let mut rows = group.chunks_exact(stride);
                // Four rows per pass over the lanes: a quarter of the stores.
                while rows.len() >= 4 {
                    let (Some(a), Some(b), Some(c), Some(d)) =
                        (rows.next(), rows.next(), rows.next(), rows.next())
                    else {
                        break;
                    };
                    for ((((l, &a), &b), &c), &d) in lanes.iter_mut().zip(a).zip(b).zip(c).zip(d) {
                        *l += u16::from(a) + u16::from(b) + u16::from(c) + u16::from(d);
                    }
                }
                for row in rows {
                    for (l, &v) in lanes.iter_mut().zip(row) {
                        *l += u16::from(v);
                    }
                }
                for (i, &l) in lanes.iter().enumerate() {
                    sums[i % c] += u64::from(l);
                }
            }
        },
    );
    let n = (bytes.len() / c).max(1) as f32;
    sums.iter().map(|&s| s as f32 / n).collect()
}

/// HSV saturation `s' = clip(s · mult + add)` with hue and value fixed: each
/// channel keeps its place between the pixel's max (value) and
/// `value · (1 - s)`. A gray pixel has hue 0 (red) in HSV, as in the original.
pub(crate) fn saturate(img: &Image, mult: f32, add: f32) -> Image {
    img.map_rgb_kernel(&Saturation { mult, add, gray: fixed(add.clamp(0.0, 1.0)) })
}

/// [`saturate`] on RGB planes. Each channel c becomes `v - (v - c)·k` with
/// v the pixel's max and k = s' / s = clamp(mult + add / s, 0, 1 / s), a
/// factor per pixel in 1/32768ths. A gray pixel (s = 0, so s' = clip(add))
/// keeps red at v and drops green and blue to `v·(1 - s')`: k = s' applied
/// to v itself.
struct Saturation {
    mult: f32,
    add: f32,
    /// s' of a gray pixel, in 1/32768ths.
    gray: i32,
}

/// `x` in 1/32768ths, rounded by the bit trick of `clamp_u8` (x < 256).
#[inline(always)]
fn fixed(x: f32) -> i32 {
    ((x * 32768.0) + 8_388_608.0).to_bits() as i32 - 0x4B00_0000
}

impl Saturation {
    /// k of a coloured pixel (d = max - min > 0), in 1/32768ths.
    #[inline(always)]
    fn factor(&self, v: u8, d: u8) -> i32 {
        let inv_s = f32::from(v) / f32::from(d);
        fixed((self.mult + self.add * inv_s).max(0.0).min(inv_s))
    }
}

impl Kernel for Saturation {
    fn block(&self, _: usize, [r, g, b]: &mut [[u8; PLANE]; 3]) {
        for j in 0..PLANE {
            let v = r[j].max(g[j]).max(b[j]);
            let d = v - r[j].min(g[j]).min(b[j]);
            let k = if d > 0 { self.factor(v, d) } else { self.gray };
            for (ch, c) in [&mut r[j], &mut g[j], &mut b[j]].into_iter().enumerate() {
                let from = if d == 0 && ch > 0 { 0 } else { *c };
                let t = i32::from(v - from);
                *c = (i32::from(v) - ((t * k + 16384) >> 15)).clamp(0, 255) as u8;
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn block_avx2(&self, simd: pulp::x86::V3, _: usize, planes: &mut [[u8; PLANE]; 3]) {
        avx2::saturation(simd, self, planes);
    }
}

fn color_jitter(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (j, hue) = severity.pick(&JITTER);
    let b = rng.random_range(1.0 - j..=1.0 + j);
    let c = rng.random_range(1.0 - j..=1.0 + j);
    let s = rng.random_range(1.0 - j..=1.0 + j);
    let h = rng.random_range(-hue..=hue);
    // Brightness: scale. Contrast: blend with the mean luma (after brightness).
    let pixels = (img.as_bytes().len() / usize::from(img.channels())).max(1);
    let mean = b * img.luma_sum() as f32 / pixels as f32;
    // Arithmetic per value rather than a table: a look-up is a gather, and
    // this loop vectorises.
    let tone = move |v: f32| clamp_u8((v * b - mean) * c + mean);
    if img.channels() == 1 {
        return crate::simd::wide(
            #[inline(always)]
            || img.map_bytes(|v| tone(f32::from(v))),
        );
    }
    // One pass for the three steps, each rounded to bytes as three passes
    // would: tone, then saturation (the grayscale blend), then hue.
    let a = gray_weight(1.0 - s);
    let shift = hue_shift(h);
    img.map_rgb_planes(
        #[inline(always)]
        move |[r, g, bl]: &mut [[f32; PLANE]; 3]| {
            for j in 0..PLANE {
                let px = [tone(r[j]), tone(g[j]), tone(bl[j])].map(i32::from);
                let [rv, gv, bv] = gray_blend(px, a).map(|v| f32::from(v.clamp(0, 255) as u8));
                (r[j], g[j], bl[j]) = hue_pixel(rv, gv, bv, shift);
            }
        },
    )
}

/// A hue rotation by `turns` in sextants, 0..6.
fn hue_shift(turns: f32) -> f32 {
    6.0 * turns.rem_euclid(1.0)
}

/// One pixel's hue moved by `shift` sextants: branch-free, via the hexcone
/// formula `x_n = v - (v - min) · clamp(min(k, 4 - k), 0, 1)`,
/// `k = (n + 6h) mod 6`.
#[inline(always)]
fn hue_pixel(rv: f32, gv: f32, bv: f32, shift: f32) -> (f32, f32, f32) {
    let wrap = |k: f32| {
        let k = if k >= 6.0 { k - 6.0 } else { k };
        let k = if k >= 6.0 { k - 6.0 } else { k };
        if k < 0.0 { k + 6.0 } else { k }
    };
    let v = rv.max(gv).max(bv);
    let d = v - rv.min(gv).min(bv);
    let inv = 1.0 / d.max(1e-6);
    // Hue in sextants, 0..6, as rgb_to_hsv computes it. All three
    // candidates are computed so the choice is a select, which vectorises.
    let t = (gv - bv) * inv;
    let from_r = if t < 0.0 { t + 6.0 } else { t };
    let from_g = (bv - rv) * inv + 2.0;
    let from_b = (rv - gv) * inv + 4.0;
    let h6 = if v == rv {
        from_r
    } else if v == gv {
        from_g
    } else {
        from_b
    };
    let h6 = if d > 0.0 { h6 } else { 0.0 } + shift;
    let x = |n: f32| {
        let k = wrap(n + h6);
        v - d * (k.min(4.0 - k)).clamp(0.0, 1.0)
    };
    (x(5.0), x(3.0), x(1.0))
}

/// The blend amount of [`grayscale`] in 1/256ths.
fn gray_weight(amount: f32) -> i32 {
    (amount * 256.0).round() as i32
}

/// One pixel moved `a`/256 of the way to its luma (fixed point), unclamped.
#[inline(always)]
fn gray_blend([r, g, b]: [i32; 3], a: i32) -> [i32; 3] {
    let y = (77 * r + 150 * g + 29 * b + 128) >> 8;
    [r + (((y - r) * a + 128) >> 8), g + (((y - g) * a + 128) >> 8), b + (((y - b) * a + 128) >> 8)]
}

/// Moves each RGB pixel `amount` of the way to its luma; `amount` above 1
/// extrapolates away from gray (more saturation).
pub(crate) fn grayscale(img: &Image, amount: f32) -> Image {
    // Fixed point: luma weights and the blend amount in 1/256ths.
    let a = gray_weight(amount);
    if !(0..=256).contains(&a) {
        return img.map_rgb_planes(
            #[inline(always)]
            move |[r, g, b]: &mut [[i32; PLANE]; 3]| {
                for j in 0..PLANE {
                    [r[j], g[j], b[j]] = gray_blend([r[j], g[j], b[j]], a);
                }
            },
        );
    }
    // A blend, not an extrapolation: `x + ((y - x)·a + 128) >> 8` equals
    // `(x·(256 - a) + y·a + 128) >> 8`, whose terms are all non-negative and
    // below 2^16, so 16-bit lanes (twice as many per vector) give the same
    // bytes.
    let (a, keep) = (a as u16, (256 - a) as u16);
    img.map_rgb_planes(
        #[inline(always)]
        move |[r, g, b]: &mut [[u16; PLANE]; 3]| {
            for j in 0..PLANE {
                let y = (77 * r[j] + 150 * g[j] + 29 * b[j] + 128) >> 8;
                let blend = |x: u16| (x * keep + y * a + 128) >> 8;
                (r[j], g[j], b[j]) = (blend(r[j]), blend(g[j]), blend(b[j]));
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_tables_match_the_catalog() {
        use crate::catalog::check::assert_param;
        assert_param(&COLOR_JITTER.info, "bcs_factor", JITTER.map(|r| r.0));
        assert_param(&COLOR_JITTER.info, "hue_turns", JITTER.map(|r| r.1));
        assert_param(&GRAYSCALE.info, "amount", GRAY_AMOUNT);
    }

    /// Rotates the HSV hue of each pixel by `turns`, keeping value and
    /// saturation.
    fn rotate_hue([r, g, b]: &mut [[f32; PLANE]; 3], turns: f32) {
        let shift = hue_shift(turns);
        for j in 0..PLANE {
            (r[j], g[j], b[j]) = hue_pixel(r[j], g[j], b[j], shift);
        }
    }

    /// RGB in [0,1] to HSV with hue in [0,1).
    fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
        let max = r.max(g).max(b);
        let min = r.min(g).min(b);
        let d = max - min;
        let h = if d == 0.0 {
            0.0
        } else if max == r {
            ((g - b) / d).rem_euclid(6.0) / 6.0
        } else if max == g {
            ((b - r) / d + 2.0) / 6.0
        } else {
            ((r - g) / d + 4.0) / 6.0
        };
        let s = if max == 0.0 { 0.0 } else { d / max };
        (h, s, max)
    }

    /// HSV (hue in [0,1)) to RGB in [0,1].
    fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
        let h6 = (h.rem_euclid(1.0)) * 6.0;
        let i = h6.floor();
        let f = h6 - i;
        let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
        match i as u8 {
            0 => (v, t, p),
            1 => (q, v, p),
            2 => (p, v, t),
            3 => (p, q, v),
            4 => (t, p, v),
            _ => (v, p, q),
        }
    }

    fn px(r: u8, g: u8, b: u8) -> Image {
        Image::new(1, 1, 3, vec![r, g, b]).expect("valid")
    }

    #[test]
    fn hsv_round_trips() {
        for &(r, g, b) in &[(0.2, 0.4, 0.9), (1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.1, 0.8, 0.3)] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            let (r2, g2, b2) = hsv_to_rgb(h, s, v);
            assert!((r - r2).abs() < 1e-5 && (g - g2).abs() < 1e-5 && (b - b2).abs() < 1e-5);
        }
    }

    #[test]
    fn hue_rotation_matches_the_hsv_round_trip() {
        let mut planes = [[0.0f32; PLANE]; 3];
        let pixels: Vec<[f32; 3]> = (0..PLANE as u32)
            .map(|i| [(i * 37 % 256) as f32, (i * 91 % 256) as f32, (i * 53 % 256) as f32])
            .chain([[10.0, 10.0, 10.0], [0.0, 0.0, 0.0]])
            .take(PLANE)
            .collect();
        for (j, p) in pixels.iter().enumerate() {
            (0..3).for_each(|ch| planes[ch][j] = p[ch]);
        }
        for turns in [-0.1f32, 0.03, 0.5] {
            let mut got = planes;
            rotate_hue(&mut got, turns);
            for (j, p) in pixels.iter().enumerate() {
                let (h, s, v) = rgb_to_hsv(p[0] / 255.0, p[1] / 255.0, p[2] / 255.0);
                let (r, g, b) = hsv_to_rgb(h + turns, s, v);
                for (ch, want) in [r, g, b].into_iter().enumerate() {
                    assert!((got[ch][j] - want * 255.0).abs() < 0.01, "{turns} {p:?} {ch}");
                }
            }
        }
    }

    #[test]
    fn contrast_keeps_bright_means_at_small_factors() {
        // ImageNet-C's factors 0.1 and 0.05 on a bright image: the offset
        // m · (1 - f) is above half the byte range.
        let data: Vec<u8> = (0..64 * 4 * 3).map(|i| 150 + (i * 7 % 106) as u8).collect();
        let img = Image::new(64, 4, 3, data.clone()).expect("valid");
        let means = channel_means(&img);
        for factor in [0.4, 0.1, 0.05] {
            let out = contrast(&img, factor);
            for (i, (&v, &got)) in data.iter().zip(out.as_bytes()).enumerate() {
                let m = means[i % 3];
                let want = (f32::from(v) - m) * factor + m;
                assert!((f32::from(got) - want).abs() <= 1.0, "factor {factor}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn contrast_halves_distance_to_mean() {
        let img = Image::new(2, 1, 1, vec![0, 200]).expect("valid");
        assert_eq!(contrast(&img, 0.5).as_bytes(), &[50, 150]);
    }

    #[test]
    fn brightness_on_gray_adds_and_clips() {
        let img = Image::new(2, 1, 1, vec![0, 250]).expect("valid");
        assert_eq!(brightness(&img, 0.1).as_bytes(), &[26, 255]);
    }

    #[test]
    fn brightness_matches_the_hsv_round_trip() {
        // V 100 -> 151 (0.2 · 255 = 51): every channel gains 151/100.
        assert_eq!(brightness(&px(100, 60, 20), 0.2).as_bytes(), &[151, 91, 30]);
        // Clipped value: V 250 -> 255, gain 1.02.
        assert_eq!(brightness(&px(250, 100, 0), 0.2).as_bytes(), &[255, 102, 0]);
        assert_eq!(brightness(&px(0, 0, 0), 0.1).as_bytes(), &[26, 26, 26]);
    }

    #[test]
    fn saturate_scales_distance_from_the_max() {
        // V 200, S 0.5; mult 0.1 -> S 0.05: the low channel moves to 190.
        assert_eq!(saturate(&px(200, 100, 150), 0.1, 0.0).as_bytes(), &[200, 190, 195]);
        // A gray pixel with an offset gets hue 0 (red), as HSV defines it.
        assert_eq!(saturate(&px(100, 100, 100), 2.0, 0.2).as_bytes(), &[100, 80, 80]);
        let gray = Image::new(2, 1, 1, vec![3, 200]).expect("valid");
        assert_eq!(saturate(&gray, 2.5, 0.2), gray);
    }

    #[test]
    fn saturate_is_within_a_level_of_the_hsv_formula() {
        // Every pixel of a 16-level RGB lattice, each severity's factors.
        let lattice: Vec<u8> = (0..16 * 16 * 16)
            .flat_map(|i| [(i % 16) * 17, (i / 16 % 16) * 17, (i / 256) * 17])
            .map(|v| v as u8)
            .collect();
        let img = Image::new(16 * 16, 16, 3, lattice.clone()).expect("valid");
        let rows = SATURATE_TABLES.iter().flat_map(|t| {
            let [mult, add] = [t.rows[0].values, t.rows[1].values];
            mult.into_iter().zip(add)
        });
        for (mult, add) in rows {
            let out = saturate(&img, mult, add);
            for (px, got) in lattice.chunks(3).zip(out.as_bytes().chunks(3)) {
                let [r, g, b] = [px[0], px[1], px[2]].map(f32::from);
                let v = r.max(g).max(b);
                let d = v - r.min(g).min(b);
                let want = if d > 0.0 {
                    let k = (mult + add * v / d).clamp(0.0, v / d);
                    [r, g, b].map(|x| v - (v - x) * k)
                } else {
                    let low = v * (1.0 - add.clamp(0.0, 1.0));
                    [v, low, low]
                };
                for (&g, w) in got.iter().zip(want) {
                    assert!(
                        (f32::from(g) - w).abs() <= 0.5 + 1e-3,
                        "{px:?} at ({mult}, {add}): {got:?} vs {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn full_grayscale_gives_equal_channels() {
        // Fixed-point luma: (77 · 255 + 128) >> 8 = 77.
        let out = grayscale(&px(255, 0, 0), 1.0);
        assert_eq!(out.as_bytes(), &[77, 77, 77]);
        // Half way: 255 -> 166, 0 -> 39 (rounded in 1/256ths).
        assert_eq!(grayscale(&px(255, 0, 0), 0.5).as_bytes(), &[166, 39, 39]);
    }
}
