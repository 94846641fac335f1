//! MNIST-C's overlay and edge corruptions: stripe, dotted_line, zigzag,
//! canny_edges, as Mu & Gilmer's `corruptions.py` draws them.
//!
//! MNIST-C publishes these four without a severity; Temper's severity 3 is
//! exactly the published corruption, and the other severities thin or
//! widen it around that. Geometry is given for a 28-pixel digit and scales
//! with the image; lines are added in white, as strokes are on MNIST.

use rand::Rng as _;

use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::OpInfo;
use crate::seed::Rng;
use crate::table::{Setting, Table, TableParams, row};

/// Width of each inverted band at the two sides, px at 28 (MNIST-C: 7).
const STRIPE_TABLES: &[TableParams] =
    &[TableParams::at(Table::MnistC, &[row("band_px_at_28", [3.0, 5.0, 7.0, 9.0, 11.0])], 3)];
/// How many lines, and the distance (px at 28) at which a line's intensity
/// `1 + ln(1 - d / width)` reaches 1 - 1/e below full (MNIST-C: one line,
/// 2.3).
const LINE_TABLES: &[TableParams] = &[TableParams::at(
    Table::MnistC,
    &[row("lines", [1.0, 1.0, 1.0, 2.0, 3.0]), row("width_px_at_28", [1.5, 1.9, 2.3, 2.3, 2.3])],
    3,
)];
/// Blend of the edge map over the input, and the Gaussian sigma in px at
/// 28 (MNIST-C: the pure edge map at sigma 1).
const CANNY_TABLES: &[TableParams] = &[TableParams::at(
    Table::MnistC,
    &[row("blend", [0.4, 0.7, 1.0, 1.0, 1.0]), row("sigma_px_at_28", [1.0, 1.0, 1.0, 1.5, 2.0])],
    3,
)];

/// `stripe`: inverts two bands at the left and right edges (MNIST-C: the
/// outer quarters, columns 0-6 and 21-27).
pub(crate) const STRIPE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("stripe", "inverts bands at the left and right edges (MNIST-C)", STRIPE_TABLES),
    |img, s, _rng: &mut Rng| stripe(img, s.get("band_px_at_28")),
);

/// `dotted_line`: a white line from the left edge to the right one at
/// random heights, with every other 2-pixel run of columns blanked.
pub(crate) const DOTTED_LINE: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("dotted_line", "white dotted lines across the image (MNIST-C)", LINE_TABLES),
    |img, s, rng: &mut Rng| lines(img, s, rng, dotted),
);

/// `zigzag`: a white zigzag (2 px runs, 2 px high) across the image at a
/// random height and slant.
pub(crate) const ZIGZAG: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("zigzag", "white zigzag lines across the image (MNIST-C)", LINE_TABLES),
    |img, s, rng: &mut Rng| lines(img, s, rng, zigzag),
);

/// `canny_edges`: scikit-image's Canny edge map (white on black), blended
/// with the input.
pub(crate) const CANNY_EDGES: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("canny_edges", "Canny edge map blended with the input (MNIST-C)", CANNY_TABLES),
    |img, s, _rng: &mut Rng| canny_edges(img, s.get("blend"), s.get("sigma_px_at_28") * unit(img)),
);

/// Pixels per MNIST pixel: the short side over 28, at least 1.
fn unit(img: &Image) -> f32 {
    (img.width().min(img.height()) as f32 / 28.0).max(1.0)
}

fn stripe(img: &Image, band_at_28: f32) -> Image {
    let (w, _, c) = img.dims();
    // At most half the width each, so the two bands never overlap (the
    // tables go up to 11 of 28).
    let band = ((band_at_28 * w as f32 / 28.0).round() as usize).min(w / 2);
    let mut out = img.clone();
    let (left, right) = (band * c, (w - band) * c);
    for row in out.as_bytes_mut().chunks_exact_mut(w * c) {
        let (head, rest) = row.split_at_mut(left);
        let tail = &mut rest[right - left..];
        head.iter_mut().for_each(|v| *v = 255 - *v);
        tail.iter_mut().for_each(|v| *v = 255 - *v);
    }
    out
}

/// A layer of line intensities in 0..=1, one value a pixel, addressed in
/// MNIST's 28-pixel coordinates.
struct Layer {
    values: Vec<f32>,
    w: usize,
    h: usize,
    /// Pixels per MNIST pixel along x and y.
    scale: (f32, f32),
}

impl Layer {
    fn new(w: usize, h: usize) -> Self {
        Layer { values: vec![0.0; w * h], w, h, scale: (w as f32 / 28.0, h as f32 / 28.0) }
    }

    /// The MNIST coordinate of pixel `i`'s centre along an axis.
    fn at(i: usize, scale: f32) -> f32 {
        (i as f32 + 0.5) / scale - 0.5
    }

    /// MNIST-C's `line_from_points`, added to the layer and clipped: over
    /// the columns from floor(c0) up to ceil(c1), the intensity
    /// `1 + ln(1 - d / width)` of the vertical distance d to the line
    /// through the two points; nothing for a vertical segment. `keep`
    /// says which columns (in MNIST units) are drawn.
    fn add_line(
        &mut self,
        (c0, r0): (f32, f32),
        (c1, r1): (f32, f32),
        width: f32,
        keep: impl Fn(f32) -> bool,
    ) {
        if c1 == c0 {
            return;
        }
        let slope = (r1 - r0) / (c1 - c0);
        let (first, end) = (c0.floor(), c1.ceil());
        let sy = self.scale.1;
        for x in 0..self.w {
            let c = Self::at(x, self.scale.0);
            if c < first || c >= end || !keep(c) {
                continue;
            }
            let centre = slope * (c - c0) + r0;
            // Only the rows within `width` of the line can be lit.
            let top = (((centre - width + 0.5) * sy - 0.5).floor().max(0.0) as usize).min(self.h);
            let bottom = (((centre + width + 0.5) * sy - 0.5).ceil().max(0.0) as usize + 1).min(self.h);
            for y in top..bottom {
                let d = (Self::at(y, sy) - centre).abs();
                if d >= width {
                    continue;
                }
                let v = (1.0 + (1.0 - d / width).ln()).max(0.0);
                let cell = &mut self.values[y * self.w + x];
                *cell = (*cell + v).min(1.0);
            }
        }
    }
}

/// Draws the table's number of lines with `draw` and adds the layer to
/// every channel (white), clipped.
fn lines(img: &Image, s: Setting, rng: &mut Rng, draw: fn(&mut Layer, &mut Rng, f32)) -> Image {
    let (w, h, c) = img.dims();
    let width = s.get("width_px_at_28");
    let mut layer = Layer::new(w, h);
    for _ in 0..s.count("lines") {
        draw(&mut layer, rng, width);
    }
    let mut out = img.clone();
    for (px, &v) in out.as_bytes_mut().chunks_exact_mut(c).zip(&layer.values) {
        for b in px {
            *b = clamp_u8(f32::from(*b) + 255.0 * v);
        }
    }
    out
}

/// MNIST-C's `dotted_line`: from (0, r0) to (27, r1), r0 and r1 whole rows
/// in 0..27, columns 0-1, 4-5, 8-9, .. blank.
fn dotted(layer: &mut Layer, rng: &mut Rng, width: f32) {
    let (r0, r1) = (rng.random_range(0..27) as f32, rng.random_range(0..27) as f32);
    layer.add_line((0.0, r0), (27.0, r1), width, |c| (c.floor() as i64).rem_euclid(4) >= 2);
}

/// MNIST-C's `zigzag`: from column 2 to 25, starting at a row r0 in 0..27
/// and slanting towards r0 - 5 ..= r0 + 4, runs of 2a = 4 px along the
/// slant alternating b = 2 px above and below it, each run a
/// `line_from_points` segment. The last point keeps the reference's
/// formula (`r_i / (2 (d - max_c))`).
fn zigzag(layer: &mut Layer, rng: &mut Rng, width: f32) {
    const A: f32 = 2.0;
    const B: f32 = 2.0;
    let (c0, c1) = (2.0f32, 25.0f32);
    let r0 = rng.random_range(0..27) as f32;
    let r1 = r0 + rng.random_range(-5..5) as f32;
    let theta = ((r1 - r0) / (c1 - c0)).atan();
    let d = (c1 - c0) / theta.cos();
    let mut points = vec![(0.0f32, 0.0f32)];
    let mut r_i = 0.0;
    for i in 0..=((d - A) / (2.0 * A)).floor() as i32 {
        r_i = if i % 2 == 0 { B } else { -B };
        points.push(((2 * i + 1) as f32 * A, r_i));
    }
    let max_c = 2.0 * A * (d / (2.0 * A)).floor();
    if d != max_c {
        points.push((d, r_i / (2.0 * (d - max_c))));
    }
    let (sin, cos) = theta.sin_cos();
    let placed: Vec<(f32, f32)> =
        points.iter().map(|&(c, r)| (c * cos - r * sin + c0, c * sin + r * cos + r0)).collect();
    for pair in placed.windows(2) {
        layer.add_line(pair[0], pair[1], width, |_| true);
    }
}

/// `skimage.feature.canny` with its defaults, as MNIST-C calls it, on
/// luma scaled to 0..=1: a Gaussian blur with zero padding, divided by the
/// blur of the all-ones image (so borders are not darkened); SciPy's Sobel
/// gradients (reflected borders); non-maximum suppression interpolating the
/// two neighbours along the gradient; hysteresis between the absolute
/// thresholds 0.1 and 0.2, keeping 8-connected weak pixels that touch a
/// strong one. The outermost pixels are never edges. Returns 255 on edges,
/// 0 elsewhere, one value a pixel.
pub(crate) fn canny(luma: &[u8], w: usize, h: usize, sigma: f32) -> Vec<u8> {
    const LOW: f64 = 0.1;
    const HIGH: f64 = 0.2;
    let mut edges = vec![0u8; w * h];
    if w < 3 || h < 3 {
        return edges;
    }
    let plane: Vec<f64> = luma.iter().map(|&v| f64::from(v) / 255.0).collect();
    let smooth = normalised_gaussian(&plane, w, h, f64::from(sigma));
    let at = |x: isize, y: isize| smooth[reflect(y, h) * w + reflect(x, w)];
    // Gradient along rows (y, scikit-image's `isobel`) and columns (x).
    let mut gy = vec![0.0f64; w * h];
    let mut gx = vec![0.0f64; w * h];
    for y in 0..h as isize {
        for x in 0..w as isize {
            let i = y as usize * w + x as usize;
            gx[i] = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x - 1, y)
                - at(x - 1, y + 1);
            gy[i] = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x, y - 1)
                - at(x + 1, y - 1);
        }
    }
    let mag: Vec<f64> = gx.iter().zip(&gy).map(|(a, b)| (b * b + a * a).sqrt()).collect();
    // Non-maximum suppression, as `_nonmaximum_suppression_bilinear`
    // (row index first, as there).
    let mut kept = vec![0.0f64; w * h];
    for r in 1..h - 1 {
        for c in 1..w - 1 {
            let i = r * w + c;
            let m = mag[i];
            if m < LOW {
                continue;
            }
            let (gi, gj) = (gy[i], gx[i]);
            let (up, down, left, right) = (gi >= 0.0, gi <= 0.0, gj <= 0.0, gj >= 0.0);
            let same_sign = (up && right) || (down && left);
            let opposite = (down && right) || (up && left);
            let (ai, aj) = (gi.abs(), gj.abs());
            let n = |dr: isize, dc: isize| mag[(r as isize + dr) as usize * w + (c as isize + dc) as usize];
            let (wt, n11, n12, n21, n22) = if same_sign {
                if ai > aj {
                    (aj / ai, n(1, 0), n(1, 1), n(-1, 0), n(-1, -1))
                } else {
                    (ai / aj, n(0, 1), n(1, 1), n(0, -1), n(-1, -1))
                }
            } else if opposite {
                if ai < aj {
                    (ai / aj, n(0, 1), n(-1, 1), n(0, -1), n(1, -1))
                } else {
                    (aj / ai, n(-1, 0), n(-1, 1), n(1, 0), n(1, -1))
                }
            } else {
                continue;
            };
            if n12 * wt + n11 * (1.0 - wt) <= m && n22 * wt + n21 * (1.0 - wt) <= m {
                kept[i] = m;
            }
        }
    }
    let mut stack: Vec<usize> = (0..w * h).filter(|&i| kept[i] >= HIGH).collect();
    while let Some(i) = stack.pop() {
        if edges[i] == 255 {
            continue;
        }
        edges[i] = 255;
        let (x, y) = (i % w, i / w);
        for ny in y.saturating_sub(1)..(y + 2).min(h) {
            for nx in x.saturating_sub(1)..(x + 2).min(w) {
                let j = ny * w + nx;
                if kept[j] > 0.0 && edges[j] == 0 {
                    stack.push(j);
                }
            }
        }
    }
    edges
}

/// SciPy's `reflect` border (`d c b a | a b c d`).
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let period = 2 * n;
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - 1 - m }) as usize
}

/// `scipy.ndimage.gaussian_filter` (truncated at 4 sigma) with zero
/// padding, divided by the same filter of an all-ones image: each pass
/// divides by the weights that fell inside the image, which depend only on
/// the position along the pass. Both passes add whole shifted rows tap by
/// tap, in the taps' order.
fn normalised_gaussian(plane: &[f64], w: usize, h: usize, sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as usize;
    let mut weights: Vec<f64> = (0..=2 * radius)
        .map(|k| (-0.5 * (k.abs_diff(radius).pow(2)) as f64 / (sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    weights.iter_mut().for_each(|v| *v /= total);
    let inside = |len: usize| -> Vec<f64> {
        (0..len)
            .map(|i| {
                let mut sum = 0.0;
                for (k, &wk) in weights.iter().enumerate() {
                    if (radius..len + radius).contains(&(i + k)) {
                        sum += wk;
                    }
                }
                sum
            })
            .collect()
    };
    crate::simd::wide(
        #[inline(always)]
        || {
            let across = inside(w);
            let mut rows = vec![0.0f64; w * h];
            let mut padded = vec![0.0f64; w + 2 * radius];
            for (src, out) in plane.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
                padded[radius..radius + w].copy_from_slice(src);
                for (k, &wk) in weights.iter().enumerate() {
                    for (o, &v) in out.iter_mut().zip(&padded[k..k + w]) {
                        *o += wk * v;
                    }
                }
                for (o, &n) in out.iter_mut().zip(&across) {
                    *o /= n;
                }
            }
            let down = inside(h);
            let mut out = vec![0.0f64; w * h];
            for (y, orow) in out.chunks_exact_mut(w).enumerate() {
                for (k, &wk) in weights.iter().enumerate() {
                    let Some(sy) = (y + k).checked_sub(radius).filter(|&sy| sy < h) else { continue };
                    for (o, &v) in orow.iter_mut().zip(&rows[sy * w..(sy + 1) * w]) {
                        *o += wk * v;
                    }
                }
                orow.iter_mut().for_each(|o| *o /= down[y]);
            }
            out
        },
    )
}

fn canny_edges(img: &Image, blend: f32, sigma: f32) -> Image {
    let (w, h, c) = img.dims();
    let edges = canny(&img.luma(), w, h, sigma);
    let mut out = img.clone();
    for (px, &e) in out.as_bytes_mut().chunks_exact_mut(c).zip(&edges) {
        for v in px {
            let x = f32::from(*v);
            *v = clamp_u8(x + (f32::from(e) - x) * blend);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;
    use crate::severity::Severity;

    fn at(severity: i64) -> Setting {
        Setting::new(&LINE_TABLES[0], Severity::new(severity).expect("valid"))
    }

    #[test]
    fn stripe_inverts_the_outer_quarters_at_severity_3() {
        let img = Image::filled(28, 28, 1, 10);
        let out = STRIPE.apply(&img, Severity::new(3).expect("valid"), 1);
        let row = &out.as_bytes()[..28];
        let inverted: Vec<usize> = (0..28).filter(|&x| row[x] == 245).collect();
        assert_eq!(inverted, (0..7).chain(21..28).collect::<Vec<_>>());
        assert!(out.as_bytes().chunks(28).all(|r| r == row));
        // Scales with the image: a quarter of 56 columns on each side.
        let wide = STRIPE.apply(&Image::filled(56, 4, 3, 0), Severity::new(3).expect("valid"), 1);
        let inverted = wide.as_bytes()[..56 * 3].chunks(3).filter(|p| p == &[255, 255, 255]).count();
        assert_eq!(inverted, 28);
    }

    #[test]
    fn a_line_has_the_reference_profile() {
        let mut layer = Layer::new(28, 28);
        layer.add_line((0.0, 10.0), (27.0, 10.0), 2.3, |_| true);
        let v = |x: usize, y: usize| layer.values[y * 28 + x];
        assert_eq!(v(5, 10), 1.0);
        // 1 + ln(1 - 1 / 2.3), as numpy computes it.
        assert!((v(5, 11) - 0.429_455).abs() < 1e-5, "{}", v(5, 11));
        assert_eq!(v(5, 9), v(5, 11));
        assert_eq!(v(5, 12), 0.0, "beyond 1.45 px: nothing");
        // floor(c0)..ceil(c1): column 27 is cut, as in the reference.
        assert_eq!(v(27, 10), 0.0);
        assert_eq!(v(26, 10), 1.0);
        // A vertical segment draws nothing.
        let mut vertical = Layer::new(28, 28);
        vertical.add_line((5.0, 0.0), (5.0, 27.0), 2.3, |_| true);
        assert!(vertical.values.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn dotted_lines_skip_every_other_pair_of_columns() {
        let mut layer = Layer::new(28, 28);
        dotted(&mut layer, &mut seed::rng(3), 2.3);
        let drawn: Vec<bool> = (0..28).map(|x| (0..28).any(|y| layer.values[y * 28 + x] > 0.0)).collect();
        for (x, &d) in drawn.iter().enumerate().take(27) {
            assert_eq!(d, x % 4 >= 2, "column {x}");
        }
        let out = DOTTED_LINE.apply(&Image::filled(28, 28, 1, 0), Severity::new(5).expect("valid"), 9);
        assert!(out.as_bytes().contains(&255));
        assert!(at(5).count("lines") == 3 && at(3).count("lines") == 1);
    }

    #[test]
    fn a_zigzag_stays_near_its_slanted_axis() {
        for s in 0..20 {
            let mut layer = Layer::new(28, 28);
            zigzag(&mut layer, &mut seed::rng(s), 2.3);
            let lit: Vec<(usize, usize)> =
                (0..28 * 28).filter(|&i| layer.values[i] > 0.0).map(|i| (i % 28, i / 28)).collect();
            assert!(!lit.is_empty(), "seed {s}");
            // Columns 2..=25 (segments end at ceil(c1)); rows within the
            // slant's 5 px drop, the 2 px amplitude and the line's reach.
            assert!(lit.iter().all(|&(x, _)| (2..=25).contains(&x)), "seed {s}");
            let (lo, hi) = lit.iter().fold((28, 0), |(lo, hi), &(_, y)| (lo.min(y), hi.max(y)));
            assert!(hi - lo <= 5 + 4 + 2, "seed {s}: rows {lo}..={hi}");
        }
    }

    #[test]
    fn canny_finds_the_border_of_a_square() {
        let (w, h) = (16, 16);
        let luma: Vec<u8> = (0..w * h)
            .map(|i| if (4..12).contains(&(i % w)) && (4..12).contains(&(i / w)) { 255 } else { 0 })
            .collect();
        let edges = canny(&luma, w, h, 1.0);
        // Edges lie on the square's outline, not in its middle or far corners.
        assert_eq!(edges[8 * w + 8], 0);
        assert_eq!(edges[0], 0);
        assert!((2..6).any(|x| edges[8 * w + x] == 255));
        // Non-maximum suppression: a thin line, at most 2 px across each side.
        assert!((0..w).filter(|&x| edges[8 * w + x] == 255).count() <= 4);
        // The outermost pixels never are edges, and a flat image has none.
        let stripe: Vec<u8> = (0..w * h).map(|i| if i % w < 8 { 255 } else { 0 }).collect();
        let edges = canny(&stripe, w, h, 1.0);
        assert!(edges[7] == 0 && edges[8] == 0 && edges[(h - 1) * w + 7] == 0);
        assert!(edges[5 * w + 7] == 255 || edges[5 * w + 8] == 255);
        assert_eq!(canny(&[9; 16], 4, 4, 1.0), vec![0; 16], "flat has no edges");
    }

    #[test]
    fn canny_thresholds_are_absolute() {
        // A faint step (0 to 10 of 255) has gradients below 0.1 after
        // smoothing: no edges, where a relative threshold would find some.
        let (w, h) = (16, 16);
        let faint: Vec<u8> = (0..w * h).map(|i| if i % w < 8 { 10 } else { 0 }).collect();
        assert!(canny(&faint, w, h, 1.0).iter().all(|&e| e == 0));
    }

    #[test]
    fn the_gaussian_keeps_a_flat_image_flat_to_the_border() {
        let flat = vec![0.5; 9 * 7];
        assert!(normalised_gaussian(&flat, 9, 7, 1.5).iter().all(|v| (v - 0.5).abs() < 1e-12));
        assert_eq!([-2, -1, 0, 3, 4, 5].map(|i| reflect(i, 4)), [1, 0, 0, 3, 3, 2]);
    }
}
