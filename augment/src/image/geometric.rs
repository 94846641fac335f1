//! Geometric transforms: the MNIST-C affine corruptions, ImageNet-C's elastic
//! transform, and the flips, crops and affines of training.
//!
//! Warps map each output pixel back to the input (inverse mapping) and sample
//! it bilinearly: one output buffer per call, no per-pixel allocation. Integer
//! shifts copy whole row spans.

use rand::Rng as _;

use super::blur::blur_plane;
use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;
use crate::table::{Setting, Table, TableParams, row};

/// MNIST-C's rotation angles in radians, the sign drawn; its dataset uses
/// severity 2.
const ROTATE_TABLES: &[TableParams] =
    &[TableParams::at(Table::MnistC, &[row("angle_rad", [0.2, 0.4, 0.6, 0.8, 1.0])], 2)];
/// MNIST-C's shear angles in radians (severity 2 in its dataset).
const SHEAR_TABLES: &[TableParams] =
    &[TableParams::at(Table::MnistC, &[row("angle_rad", [0.2, 0.4, 0.6, 0.8, 1.0])], 2)];
/// MNIST-C's zoom-out factors about the centre (severity 3).
const SCALE_TABLES: &[TableParams] =
    &[TableParams::at(Table::MnistC, &[row("factor", [0.9, 0.8, 0.7, 0.6, 0.5])], 3)];
/// MNIST-C's shifts per axis in pixels, signs drawn (severity 3).
const TRANSLATE_TABLES: &[TableParams] =
    &[TableParams::at(Table::MnistC, &[row("shift_px", [1.0, 2.0, 3.0, 4.0, 5.0])], 3)];
/// Padding of the pad-and-crop augmentation, in pixels of a 32-pixel image.
const CROP_PAD_PX: [f32; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];
/// Random affine ranges: rotation deg, scale ±, translation (share of size), shear deg.
const AFFINE: [(f32, f32, f32, f32); 5] = [
    (3.0, 0.03, 0.02, 2.0),
    (6.0, 0.06, 0.04, 4.0),
    (9.0, 0.09, 0.06, 6.0),
    (12.0, 0.12, 0.08, 8.0),
    (15.0, 0.15, 0.10, 10.0),
];
/// Elastic displacement gain, field smoothness and affine jitter, as
/// shares of the image size. CIFAR-10-C and Tiny-ImageNet-C jitter an
/// affine and displace by `alpha · blur(uniform(-1, 1))`; ImageNet-C is
/// imagecorruptions' size-generic form (no affine, sigma 1% of the size,
/// noise ±0.5% of it times 250 · [0.05 .. 0.12]), which is the same formula
/// with `alpha_x_size = 250 · k · 0.005`.
const ELASTIC_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &[
            row("alpha_x_size", [0.0625, 0.08125, 0.10625, 0.125, 0.15]),
            row("sigma_x_size", [0.01; 5]),
            row("affine_x_size", [0.0; 5]),
        ],
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &[
            row("alpha_x_size", [0.0, 0.05, 0.1, 0.1, 0.16]),
            row("sigma_x_size", [0.0, 0.3, 0.08, 0.03, 0.03]),
            row("affine_x_size", [0.08, 0.06, 0.06, 0.03, 0.02]),
        ],
    ),
    TableParams::graded(
        Table::Cifar10C,
        &[
            row("alpha_x_size", [0.0, 0.05, 0.08, 0.1, 0.1]),
            row("sigma_x_size", [0.0, 0.2, 0.06, 0.04, 0.03]),
            row("affine_x_size", [0.08, 0.07, 0.06, 0.05, 0.03]),
        ],
    ),
];

/// `rotate`: rotation about the centre by ± the table's angle (sign drawn),
/// bilinear, uncovered area black.
pub(crate) const ROTATE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "rotate",
        "rotation about the centre by ±angle (sign random), black fill",
        ROTATE_TABLES,
    ),
    |img, s, rng: &mut Rng| warp_affine(img, rotation(sign(rng) * s.get("angle_rad")), Border::Zero),
);

/// `shear`: shear about the centre by ± the table's angle (sign drawn),
/// black fill. The inverse map is scikit-image's `AffineTransform(shear=)`
/// as MNIST-C was made with (0.15, 2019): `[[1, -sin a], [0, cos a]]`;
/// scikit-image 0.20 later changed it to `[[1, -tan a], [0, 1]]`.
pub(crate) const SHEAR_OP: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "shear",
        "shear about the centre by ±angle (sign random), black fill",
        SHEAR_TABLES,
    ),
    |img, s, rng: &mut Rng| {
        let (sin, cos) = (sign(rng) * s.get("angle_rad")).sin_cos();
        warp_affine(img, [1.0, -sin, 0.0, cos, 0.0, 0.0], Border::Zero)
    },
);

/// `scale`: shrinks the content about the centre by the table's factor,
/// black around it.
pub(crate) const SCALE_OP: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("scale", "zoom out about the centre by a factor, black fill", SCALE_TABLES),
    |img, s, _rng: &mut Rng| {
        let inv = 1.0 / s.get("factor");
        warp_affine(img, [inv, 0.0, 0.0, inv, 0.0, 0.0], Border::Zero)
    },
);

/// `translate`: shifts by ±t pixels on both axes (signs drawn), black fill.
pub(crate) const TRANSLATE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "translate",
        "shift by ±t px on both axes (signs random), black fill",
        TRANSLATE_TABLES,
    ),
    |img, s, rng: &mut Rng| {
        let t = s.count("shift_px") as isize;
        let (sx, sy) = (sign(rng) as isize, sign(rng) as isize);
        shift(img, sx * t, sy * t)
    },
);

/// `elastic_transform`: a random affine jitter of three control points plus
/// a smooth random displacement field (Gaussian-blurred uniform noise),
/// reflected at the borders.
pub(crate) const ELASTIC_TRANSFORM: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "elastic_transform",
        "affine jitter plus smooth displacement field, reflect border",
        ELASTIC_TABLES,
    ),
    elastic_transform,
);

/// `hflip`: mirror left-right. Any severity above 0 flips.
pub(crate) const HFLIP: ImageOp = ImageOp::new(
    OpInfo {
        name: "hflip",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "mirror left-right (every non-zero severity flips)",
        params: &[Param { name: "flip", values: ["yes", "yes", "yes", "yes", "yes"] }],
    },
    |img, _s, _rng: &mut Rng| hflip(img),
)
.with_intensity(full_intensity);

/// `vflip`: mirror top-bottom. Any severity above 0 flips.
pub(crate) const VFLIP: ImageOp = ImageOp::new(
    OpInfo {
        name: "vflip",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "mirror top-bottom (every non-zero severity flips)",
        params: &[Param { name: "flip", values: ["yes", "yes", "yes", "yes", "yes"] }],
    },
    |img, _s, _rng: &mut Rng| vflip(img),
)
.with_intensity(full_intensity);

/// `random_crop`: zero-pad by p pixels and crop back at a random offset,
/// i.e. a random integer shift in [-p, p] per axis. p is 1..5 px on a
/// 32-pixel image (4 is the CIFAR standard), proportional on others.
pub(crate) const RANDOM_CROP: ImageOp = ImageOp::new(
    OpInfo {
        name: "random_crop",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "zero-pad by p px and crop at a random offset (CIFAR pad-and-crop)",
        params: &[Param { name: "pad_px_at_32", values: ["1", "2", "3", "4", "5"] }],
    },
    |img, s, rng: &mut Rng| {
        let size = img.width().min(img.height()) as f32;
        let p = (s.pick(&CROP_PAD_PX) * size / 32.0).round().max(1.0) as i64;
        let dx = rng.random_range(0..=2 * p) - p;
        let dy = rng.random_range(0..=2 * p) - p;
        shift(img, dx as isize, dy as isize)
    },
);

/// `affine`: random rotation, scale, translation and shear, each uniform in
/// ± the table's range, composed into one bilinear warp, black fill.
pub(crate) const AFFINE_OP: ImageOp = ImageOp::new(
    OpInfo {
        name: "affine",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "random rotation, scale, translation and shear in one warp, black fill",
        params: &[
            Param { name: "rotate_deg", values: ["±3", "±6", "±9", "±12", "±15"] },
            Param { name: "scale", values: ["1±0.03", "1±0.06", "1±0.09", "1±0.12", "1±0.15"] },
            Param { name: "translate_x_size", values: ["±0.02", "±0.04", "±0.06", "±0.08", "±0.10"] },
            Param { name: "shear_deg", values: ["±2", "±4", "±6", "±8", "±10"] },
        ],
    },
    random_affine,
);

fn full_intensity(s: Severity) -> f32 {
    if s.is_identity() { 0.0 } else { 100.0 }
}

fn sign(rng: &mut Rng) -> f32 {
    if rng.random::<bool>() { 1.0 } else { -1.0 }
}

/// The inverse map of scikit-image's `AffineTransform(rotation=theta)`:
/// output (x, y) samples the input at R(theta)(x, y).
fn rotation(theta: f32) -> [f32; 6] {
    let (sin, cos) = theta.sin_cos();
    [cos, -sin, sin, cos, 0.0, 0.0]
}

fn random_affine(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (deg, scale, translate, shear_deg) = severity.pick(&AFFINE);
    let theta = rng.random_range(-deg..=deg).to_radians();
    let zoom = 1.0 + rng.random_range(-scale..=scale);
    let tx = rng.random_range(-translate..=translate) * img.width() as f32;
    let ty = rng.random_range(-translate..=translate) * img.height() as f32;
    let k = rng.random_range(-shear_deg..=shear_deg).to_radians().tan();
    // Forward map: p' = T + Z · R(theta) · Shear(k) · p. Invert it.
    let (sin, cos) = theta.sin_cos();
    let f = [zoom * cos, zoom * (cos * k - sin), zoom * sin, zoom * (sin * k + cos)];
    let det = f[0] * f[3] - f[1] * f[2];
    if det.abs() < 1e-6 {
        return img.clone();
    }
    let inv = [f[3] / det, -f[1] / det, -f[2] / det, f[0] / det];
    let (itx, ity) = (-(inv[0] * tx + inv[1] * ty), -(inv[2] * tx + inv[3] * ty));
    warp_affine(img, [inv[0], inv[1], inv[2], inv[3], itx, ity], Border::Zero)
}

/// What a sample outside the image reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Border {
    /// Black.
    Zero,
    /// Mirror without repeating the edge pixel (OpenCV's BORDER_REFLECT_101).
    Reflect,
}

/// Fraction bits of source coordinates in fixed point.
const FRAC: u32 = 16;
/// Fraction bits of the bilinear weights (1/2048 px).
const WBITS: u32 = 11;
const ONE: u32 = 1 << WBITS;

/// Resamples with the inverse map `m = [a, b, c, d, tx, ty]`: output pixel
/// (x, y), in coordinates centred on the image, reads the input at
/// (a·x + b·y + tx, c·x + d·y + ty). Source coordinates are 16.16 fixed
/// point, stepped by a constant along each row (the map is linear in x);
/// samples whose four taps lie inside the image take an integer fast path.
pub(crate) fn warp_affine(img: &Image, m: [f32; 6], border: Border) -> Image {
    let (w, h, c) = img.dims();
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let m = m.map(f64::from);
    let src = Source { data: img.as_bytes(), w, h, border };
    let one = f64::from(1u32 << FRAC);
    let (dx, dy) = ((m[0] * one).round() as i64, (m[2] * one).round() as i64);
    let mut out = vec![0u8; src.data.len()];
    crate::simd::wide(
        #[inline(always)]
        || {
            for (y, orow) in out.chunks_exact_mut(w * c).enumerate() {
                let yc = y as f64 - cy;
                let bx = ((m[1] * yc + m[4] + cx - m[0] * cx) * one).round() as i64;
                let by = ((m[3] * yc + m[5] + cy - m[2] * cx) * one).round() as i64;
                // With a zero border, only the pixels whose source can touch
                // the image are sampled; the rest of the row stays black (a
                // shrink leaves half of it so).
                let (lo, hi) = match border {
                    Border::Zero => {
                        let (lx, hx) = touching(bx, dx, w, w);
                        let (ly, hy) = touching(by, dy, h, w);
                        (lx.max(ly), hx.min(hy).max(lx.max(ly)))
                    }
                    Border::Reflect => (0, w),
                };
                if lo == hi {
                    continue;
                }
                // Stepped along the row, saturating so far-out positions
                // stay far out (`sample_run` asks in order).
                let start = |base: i64, step: i64| (i128::from(base) + lo as i128 * i128::from(step)) as i64;
                let mut next = (start(bx, dx), start(by, dy));
                let at = |_: usize| {
                    let here = next;
                    next = (here.0.saturating_add(dx), here.1.saturating_add(dy));
                    here
                };
                let run = &mut orow[lo * c..hi * c];
                if c == 1 {
                    src.sample_run::<1>(run, at);
                } else {
                    src.sample_run::<3>(run, at);
                }
            }
        },
    );
    img.with_bytes(out)
}

/// The outputs `lo..hi` of `0..n` whose 16.16 source coordinate
/// `base + i·step` can touch an axis of `size` samples: integer part in
/// -1..size. Every other output reads only outside the image.
#[inline(always)]
fn touching(base: i64, step: i64, size: usize, n: usize) -> (usize, usize) {
    let (low, high) = (-(1i64 << FRAC), (size as i64) << FRAC);
    let meets = |i: usize| (low..high).contains(&base.saturating_add(step.saturating_mul(i as i64)));
    if n == 0 || step == 0 {
        return if meets(0) { (0, n) } else { (0, 0) };
    }
    if meets(0) && meets(n - 1) {
        return (0, n);
    }
    // Where the line crosses the two bounds, estimated in floats (no
    // integer division per row), then settled exactly: the run is one
    // interval, as the coordinate is linear in i.
    let cross = |bound: i64| ((bound - base) as f64 / step as f64).clamp(0.0, n as f64) as usize;
    let (a, b) = (cross(low), cross(high));
    let (mut lo, mut hi) = (a.min(b), a.max(b));
    while lo > 0 && meets(lo - 1) {
        lo -= 1;
    }
    while lo < n && !meets(lo) {
        lo += 1;
    }
    hi = hi.max(lo);
    while hi < n && meets(hi) {
        hi += 1;
    }
    while hi > lo && !meets(hi - 1) {
        hi -= 1;
    }
    (lo, hi)
}

/// An image to sample from, with its border rule.
struct Source<'a> {
    data: &'a [u8],
    w: usize,
    h: usize,
    border: Border,
}

impl Source<'_> {
    /// Bilinear samples for a run of output pixels, `pos(i)` giving the
    /// 16.16 fixed-point source position of the i-th; weights in 1/2048ths,
    /// rounded to nearest. Blocks of 64: the taps are
    /// fetched pixel by pixel, then the weighting runs across the block in
    /// u32 lanes (one byte per channel), which vectorises; a border pixel is
    /// sampled on its own and passed through as a tap of full weight.
    #[inline(always)]
    fn sample_run<const C: usize>(&self, out: &mut [u8], mut pos: impl FnMut(usize) -> (i64, i64)) {
        const BLOCK: usize = 64;
        let (w, h, data) = (self.w, self.h, self.data);
        // Pixels i and i + 1 (C bytes each) as the low bytes of two u32s:
        // one 8-byte load where it fits.
        let pair = |i: usize| -> (u32, u32) {
            let mask = (1u64 << (8 * C)) - 1;
            let bytes = match data.get(i..i + 8) {
                Some(b) => <[u8; 8]>::try_from(b).map_or(0, u64::from_le_bytes),
                None => (0..2 * C).fold(0, |acc, k| acc | u64::from(data[i + k]) << (8 * k)),
            };
            ((bytes & mask) as u32, (bytes >> (8 * C) & mask) as u32)
        };
        let (mut taps, mut fxs, mut fys) = ([[0u32; BLOCK]; 4], [0u32; BLOCK], [0u32; BLOCK]);
        let mut done = 0;
        for block in out.chunks_mut(BLOCK * C) {
            let n = block.len() / C;
            for j in 0..n {
                let (sx, sy) = pos(done + j);
                let (xi, yi) = (sx >> FRAC, sy >> FRAC);
                let fx = ((sx >> (FRAC - WBITS)) as u32) & (ONE - 1);
                let fy = ((sy >> (FRAC - WBITS)) as u32) & (ONE - 1);
                if (xi as u64) < w as u64 - 1 && (yi as u64) < h as u64 - 1 {
                    let i00 = (yi as usize * w + xi as usize) * C;
                    (taps[0][j], taps[1][j]) = pair(i00);
                    (taps[2][j], taps[3][j]) = pair(i00 + w * C);
                    (fxs[j], fys[j]) = (fx, fy);
                } else if self.border == Border::Zero
                    && (xi < -1 || yi < -1 || xi >= w as i64 || yi >= h as i64)
                {
                    // Wholly outside a zero border (the corners of a shrink
                    // or a turn): black, without the per-pixel border call.
                    (taps[0][j], taps[1][j], taps[2][j], taps[3][j], fxs[j], fys[j]) = (0, 0, 0, 0, 0, 0);
                } else {
                    let mut px = [0u8; C];
                    self.sample_edge(xi, yi, fx, fy, &mut px);
                    taps[0][j] = px.iter().enumerate().fold(0, |acc, (k, &v)| acc | u32::from(v) << (8 * k));
                    (taps[1][j], taps[2][j], taps[3][j], fxs[j], fys[j]) = (0, 0, 0, 0, 0);
                }
            }
            let mut res = [0u32; BLOCK];
            for j in 0..BLOCK {
                let (fx, fy) = (fxs[j], fys[j]);
                for ch in 0..C {
                    let get = |t: u32| (t >> (8 * ch)) & 0xFF;
                    let t = get(taps[0][j]) * (ONE - fx) + get(taps[1][j]) * fx;
                    let b = get(taps[2][j]) * (ONE - fx) + get(taps[3][j]) * fx;
                    res[j] |= ((t * (ONE - fy) + b * fy + (1 << (2 * WBITS - 1))) >> (2 * WBITS)) << (8 * ch);
                }
            }
            for (px, r) in block.as_chunks_mut::<C>().0.iter_mut().zip(res) {
                px.copy_from_slice(&r.to_le_bytes()[..C]);
            }
            done += n;
        }
    }

    /// The border case of [`Source::sample_run`]: some taps lie outside.
    #[cold]
    fn sample_edge<const C: usize>(&self, xi: i64, yi: i64, fx: u32, fy: u32, out: &mut [u8; C]) {
        let (wi, hi) = (self.w as i64, self.h as i64);
        if self.border == Border::Zero && (xi < -1 || yi < -1 || xi >= wi || yi >= hi) {
            out.fill(0);
            return;
        }
        let index = |i: i64, n: i64| -> Option<usize> {
            match self.border {
                Border::Zero => (0..n).contains(&i).then_some(i as usize),
                Border::Reflect => Some(reflect101(i as isize, n as isize)),
            }
        };
        let (xa, xb) = (index(xi, wi), index(xi.saturating_add(1), wi));
        let (ya, yb) = (index(yi, hi), index(yi.saturating_add(1), hi));
        for (ch, o) in out.iter_mut().enumerate() {
            let p = |xo: Option<usize>, yo: Option<usize>| match (xo, yo) {
                (Some(px), Some(py)) => u32::from(self.data[(py * self.w + px) * C + ch]),
                _ => 0,
            };
            let t = p(xa, ya) * (ONE - fx) + p(xb, ya) * fx;
            let b = p(xa, yb) * (ONE - fx) + p(xb, yb) * fx;
            *o = ((t * (ONE - fy) + b * fy + (1 << (2 * WBITS - 1))) >> (2 * WBITS)) as u8;
        }
    }
}

/// Index `i` mirrored into 0..n without repeating the edge (…2 1 | 0 1 2 … n-1 | n-2…).
pub(crate) fn reflect101(i: isize, n: isize) -> usize {
    if n <= 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let r = i.rem_euclid(period);
    (if r >= n { period - r } else { r }) as usize
}

/// Integer shift: output (x, y) = input (x - dx, y - dy), black elsewhere.
/// Copies whole row spans.
pub(crate) fn shift(img: &Image, dx: isize, dy: isize) -> Image {
    let (w, h, c) = img.dims();
    let src = img.as_bytes();
    let mut out = vec![0u8; src.len()];
    let (wi, hi) = (w as isize, h as isize);
    let x0 = dx.clamp(0, wi) as usize;
    let x1 = (wi + dx).clamp(0, wi) as usize;
    if x0 < x1 {
        for y in 0..h {
            let sy = y as isize - dy;
            if !(0..hi).contains(&sy) {
                continue;
            }
            let sx0 = (x0 as isize - dx) as usize;
            let srow = &src[sy as usize * w * c..];
            out[(y * w + x0) * c..(y * w + x1) * c].copy_from_slice(&srow[sx0 * c..(sx0 + x1 - x0) * c]);
        }
    }
    img.with_bytes(out)
}

/// Mirror left-right, whole pixels at a time.
pub(crate) fn hflip(img: &Image) -> Image {
    let (w, _, c) = img.dims();
    let src = img.as_bytes();
    if c == 3 {
        // Appended, not written into a zeroed buffer: the clearing would
        // cost a third of the time.
        let mut data = Vec::with_capacity(src.len());
        shuffle::mirror_rgb_rows(src, &mut data, w);
        return img.with_bytes(data);
    }
    let mut data = src.to_vec();
    for row in data.chunks_exact_mut(w) {
        row.reverse();
    }
    img.with_bytes(data)
}

/// Reversing the pixel order of RGB rows with SSSE3 byte shuffles.
mod shuffle {
    /// Source byte of output byte `j` when 16 RGB pixels are reversed.
    const fn source(j: usize) -> usize {
        (15 - j / 3) * 3 + j % 3
    }

    /// `MASKS[k][v]`: the `pshufb` mask that moves the bytes of input vector
    /// `v` (16 bytes of the 48) to their places in output vector `k`;
    /// 0x80 zeroes a byte that comes from another vector.
    #[cfg(target_arch = "x86_64")]
    const MASKS: [[[u8; 16]; 3]; 3] = {
        let mut m = [[[0x80u8; 16]; 3]; 3];
        let mut j = 0;
        while j < 48 {
            let s = source(j);
            m[j / 16][s / 16][j % 16] = (s % 16) as u8;
            j += 1;
        }
        m
    };

    /// Mirrors every RGB row of `src` (rows of `w` pixels) into `out`:
    /// whole blocks of 16 pixels by byte shuffles where the CPU has them,
    /// the rest pixel by pixel.
    pub(super) fn mirror_rgb_rows(src: &[u8], out: &mut Vec<u8>, w: usize) {
        out.reserve(src.len());
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = crate::simd::v3() {
            // A `WithSimd` op rather than a closure: every step is
            // `#[inline(always)]`, so the shuffles inline into the AVX2 build.
            pulp::Simd::vectorize(simd, Mirror { simd, src, out, w });
            return;
        }
        for row in src.chunks_exact(3 * w) {
            mirror_pixels(row, out, w, 0);
        }
    }

    /// Appends the first `w - done` pixels of `row` in reverse order.
    fn mirror_pixels(row: &[u8], out: &mut Vec<u8>, w: usize, done: usize) {
        for px in row.as_chunks::<3>().0[..w - done].iter().rev() {
            out.extend_from_slice(px);
        }
    }

    /// [`mirror_rgb_rows`] with SSSE3 shuffles.
    #[cfg(target_arch = "x86_64")]
    struct Mirror<'a> {
        simd: pulp::x86::V3,
        src: &'a [u8],
        out: &'a mut Vec<u8>,
        w: usize,
    }

    #[cfg(target_arch = "x86_64")]
    impl pulp::WithSimd for Mirror<'_> {
        type Output = ();

        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            use core::arch::x86_64::__m128i;
            let Mirror { simd, src, out, w } = self;
            let masks: [[__m128i; 3]; 3] = MASKS.map(|k| k.map(pulp::cast));
            let blocks = w / 16;
            for row in src.chunks_exact(3 * w) {
                for b in 0..blocks {
                    let from = &row[(w - 16 * (b + 1)) * 3..][..48];
                    let v = [load16(&from[..16]), load16(&from[16..32]), load16(&from[32..48])];
                    let mut block = [[0u8; 16]; 3];
                    for (k, part) in block.iter_mut().enumerate() {
                        let m = &masks[k];
                        let a = simd.ssse3._mm_shuffle_epi8(v[0], m[0]);
                        let b = simd.ssse3._mm_shuffle_epi8(v[1], m[1]);
                        let c = simd.ssse3._mm_shuffle_epi8(v[2], m[2]);
                        *part = pulp::cast(simd.sse2._mm_or_si128(simd.sse2._mm_or_si128(a, b), c));
                    }
                    out.extend_from_slice(block.as_flattened());
                }
                mirror_pixels(row, out, w, blocks * 16);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn load16(bytes: &[u8]) -> core::arch::x86_64::__m128i {
        pulp::cast(<[u8; 16]>::try_from(bytes).unwrap_or([0; 16]))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn block_mirror_matches_pixel_reversal() {
            for w in [1usize, 15, 16, 17, 32, 50, 224] {
                let src: Vec<u8> = (0..w * 3 * 2).map(|i| (i * 7 % 251) as u8).collect();
                let mut out = Vec::new();
                super::mirror_rgb_rows(&src, &mut out, w);
                let want: Vec<u8> =
                    src.chunks(3 * w).flat_map(|row| row.chunks(3).rev().flatten().copied()).collect();
                assert_eq!(out, want, "width {w}");
            }
        }
    }
}

/// Mirror top-bottom.
pub(crate) fn vflip(img: &Image) -> Image {
    let (w, _, c) = img.dims();
    let mut data = Vec::with_capacity(img.as_bytes().len());
    for row in img.as_bytes().chunks_exact(w * c).rev() {
        data.extend_from_slice(row);
    }
    img.with_bytes(data)
}

fn elastic_transform(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let (alpha, sigma, jitter) = (s.get("alpha_x_size"), s.get("sigma_x_size"), s.get("affine_x_size"));
    let (w, h, c) = img.dims();
    let size = w.min(h) as f32;
    let (alpha, sigma, jitter) = (alpha * size, sigma * size, jitter * size);
    // Three control points around the centre, each moved by up to ±jitter;
    // `m` maps output points back to where they came from.
    let (cx, cy) = ((w / 2) as f32, (h / 2) as f32);
    let sq = (w.min(h) / 3) as f32;
    let pts = [(cx + sq, cy + sq), (cx + sq, cy - sq), (cx - sq, cy - sq)];
    let m = if jitter > 0.0 {
        let moved = pts.map(|(x, y)| {
            (x + rng.random_range(-1.0..=1.0) * jitter, y + rng.random_range(-1.0..=1.0) * jitter)
        });
        solve_affine(moved, pts).unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    } else {
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    };
    // In the AVX2 build: floor and fract per pixel are then instructions.
    let (dx, dy) = if alpha > 0.0 && sigma > 0.0 {
        crate::simd::wide(
            #[inline(always)]
            || (displacement(w, h, sigma, alpha, rng), displacement(w, h, sigma, alpha, rng)),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let src = img.as_bytes();
    let mut out = vec![0u8; src.len()];
    let at = |x: usize, y: usize| {
        let i = y * w + x;
        let (ox, oy) = if dx.is_empty() { (0.0, 0.0) } else { (dx[i], dy[i]) };
        let (px_, py_) = (x as f32 + ox, y as f32 + oy);
        (m[0] * px_ + m[1] * py_ + m[2], m[3] * px_ + m[4] * py_ + m[5])
    };
    let source = Source { data: src, w, h, border: Border::Reflect };
    let one = (1u32 << FRAC) as f32;
    crate::simd::wide(
        #[inline(always)]
        || {
            for (y, orow) in out.chunks_exact_mut(w * c).enumerate() {
                // As `sample_bilinear` rounds; `as` saturates (NaN to 0), so
                // far-out positions take the border path.
                let fixed = |x: usize| {
                    let (sx, sy) = at(x, y);
                    ((sx * one).round() as i64, (sy * one).round() as i64)
                };
                if c == 1 {
                    source.sample_run::<1>(orow, fixed);
                } else {
                    source.sample_run::<3>(orow, fixed);
                }
            }
        },
    );
    img.with_bytes(out)
}

/// The affine map [a, b, tx, c, d, ty] taking each `from` point to its `to`
/// point, or `None` when the points are collinear.
fn solve_affine(from: [(f32, f32); 3], to: [(f32, f32); 3]) -> Option<[f32; 6]> {
    let [(x0, y0), (x1, y1), (x2, y2)] = from;
    let det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1);
    if det.abs() < 1e-6 {
        return None;
    }
    // Cramer's rule for [x y 1] · [a b t]ᵀ = u, once per output coordinate.
    let solve = |u0: f32, u1: f32, u2: f32| {
        let a = (u0 * (y1 - y2) - y0 * (u1 - u2) + (u1 * y2 - u2 * y1)) / det;
        let b = (x0 * (u1 - u2) - u0 * (x1 - x2) + (x1 * u2 - x2 * u1)) / det;
        let t = (x0 * (y1 * u2 - y2 * u1) - y0 * (x1 * u2 - x2 * u1) + u0 * (x1 * y2 - x2 * y1)) / det;
        (a, b, t)
    };
    let (a, b, tx) = solve(to[0].0, to[1].0, to[2].0);
    let (c, d, ty) = solve(to[0].1, to[1].1, to[2].1);
    Some([a, b, tx, c, d, ty])
}

/// A smooth displacement field: uniform(-1, 1) noise blurred with `sigma`,
/// times `alpha`. Wide blurs run on a coarser grid (the field is smooth, so
/// bilinear upsampling loses nothing visible) with the amplitude corrected.
#[inline(always)]
fn displacement(w: usize, h: usize, sigma: f32, alpha: f32, rng: &mut Rng) -> Vec<f32> {
    let factor = (sigma / 4.0).floor().max(1.0) as usize;
    let (gw, gh) = (w.div_ceil(factor) + 1, h.div_ceil(factor) + 1);
    let noise: Vec<f32> = (0..gw * gh).map(|_| rng.random_range(-1.0f32..=1.0)).collect();
    let coarse = blur_plane(&noise, gw, gh, sigma / factor as f32);
    let gain = alpha / factor as f32;
    if factor == 1 {
        // The grid is the image's (plus a column and a row never read):
        // each blend below would take one grid value with weight 1.
        return coarse.chunks_exact(gw).take(h).flat_map(|row| row[..w].iter().map(|&v| gain * v)).collect();
    }
    let mut field = vec![0.0f32; w * h];
    for y in 0..h {
        let gy = y as f32 / factor as f32;
        let (y0, fy) = (gy.floor() as usize, gy.fract());
        let y1 = (y0 + 1).min(gh - 1);
        for x in 0..w {
            let gx = x as f32 / factor as f32;
            let (x0, fx) = (gx.floor() as usize, gx.fract());
            let x1 = (x0 + 1).min(gw - 1);
            let top = coarse[y0 * gw + x0] * (1.0 - fx) + coarse[y0 * gw + x1] * fx;
            let bottom = coarse[y1 * gw + x0] * (1.0 - fx) + coarse[y1 * gw + x1] * fx;
            field[y * w + x] = gain * (top * (1.0 - fy) + bottom * fy);
        }
    }
    field
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_tables_match_the_catalog() {
        use crate::catalog::check::assert_param;
        assert_param(&RANDOM_CROP.info, "pad_px_at_32", CROP_PAD_PX);
        assert_param(&AFFINE_OP.info, "rotate_deg", AFFINE.map(|r| r.0));
        assert_param(&AFFINE_OP.info, "scale", AFFINE.map(|r| r.1));
        assert_param(&AFFINE_OP.info, "translate_x_size", AFFINE.map(|r| r.2));
        assert_param(&AFFINE_OP.info, "shear_deg", AFFINE.map(|r| r.3));
    }

    fn row(v: &[u8]) -> Image {
        Image::new(v.len() as u32, 1, 1, v.to_vec()).expect("valid")
    }

    #[test]
    fn identity_warp_is_exact() {
        let img = Image::new(3, 2, 1, vec![1, 2, 3, 4, 5, 6]).expect("valid");
        assert_eq!(warp_affine(&img, [1.0, 0.0, 0.0, 1.0, 0.0, 0.0], Border::Zero), img);
    }

    #[test]
    fn half_turn_reverses_pixels() {
        let img = Image::new(3, 1, 1, vec![10, 20, 30]).expect("valid");
        let out = warp_affine(&img, [-1.0, 0.0, 0.0, -1.0, 0.0, 0.0], Border::Zero);
        assert_eq!(out.as_bytes(), &[30, 20, 10]);
    }

    #[test]
    fn quarter_turn_of_a_square() {
        // 1 2      2 4   scikit-image's rotation by +90° as an inverse map:
        // 3 4  ->  1 3   output (x, y) reads the input at (-y, x).
        let img = Image::new(2, 2, 1, vec![1, 2, 3, 4]).expect("valid");
        let out = warp_affine(&img, rotation(std::f32::consts::FRAC_PI_2), Border::Zero);
        assert_eq!(out.as_bytes(), &[2, 4, 1, 3]);
    }

    #[test]
    fn shifts_fill_black() {
        let img = row(&[1, 2, 3, 4]);
        assert_eq!(shift(&img, 1, 0).as_bytes(), &[0, 1, 2, 3]);
        assert_eq!(shift(&img, -2, 0).as_bytes(), &[3, 4, 0, 0]);
        assert_eq!(shift(&img, 9, 0).as_bytes(), &[0, 0, 0, 0]);
        let col = Image::new(1, 3, 1, vec![1, 2, 3]).expect("valid");
        assert_eq!(shift(&col, 0, 1).as_bytes(), &[0, 1, 2]);
    }

    #[test]
    fn flips_mirror_rgb_pixels_whole() {
        let img = Image::new(2, 2, 3, (1..=12).collect()).expect("valid");
        assert_eq!(hflip(&img).as_bytes(), &[4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9]);
        assert_eq!(vflip(&img).as_bytes(), &[7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6]);
        assert_eq!(hflip(&hflip(&img)), img);
    }

    #[test]
    fn reflect_mirrors_without_repeating_the_edge() {
        let got: Vec<usize> = (-3..7).map(|i| reflect101(i, 4)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
        assert_eq!(reflect101(5, 1), 0);
    }

    #[test]
    fn solve_affine_recovers_a_known_map() {
        let from = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)];
        let to = [(2.0, 3.0), (4.0, 3.0), (2.0, 6.0)];
        let m = solve_affine(from, to).expect("not collinear");
        for (got, want) in m.iter().zip([2.0, 0.0, 2.0, 0.0, 3.0, 3.0]) {
            assert!((got - want).abs() < 1e-5, "{m:?}");
        }
        assert!(solve_affine([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)], to).is_none());
    }

    #[test]
    fn touching_is_the_run_whose_source_meets_the_image() {
        // Against a pixel-by-pixel check of -1 <= (base + i·step) >> 16 < size.
        let one = 1i64 << FRAC;
        for base in [-5 * one - 7, -one, -one + 1, 0, 3 * one / 2, 9 * one, 20 * one + 3] {
            for step in [0, one, -one, one * 10 / 7, -one * 10 / 7, 3 * one, one / 3, -one / 5] {
                let want: Vec<bool> =
                    (0..16).map(|i| (-1..10).contains(&((base + i * step) >> FRAC))).collect();
                let (lo, hi) = touching(base, step, 10, 16);
                let got: Vec<bool> = (0..16).map(|i| (lo..hi).contains(&i)).collect();
                assert_eq!(got, want, "base {base} step {step}");
            }
        }
    }

    #[test]
    fn scale_down_keeps_the_centre_and_blackens_corners() {
        let img = Image::filled(9, 9, 1, 200);
        let out = SCALE_OP.apply(&img, Severity::new(5).expect("valid"), 0);
        let b = out.as_bytes();
        assert_eq!(b[4 * 9 + 4], 200);
        assert_eq!(b[0], 0);
    }
}
