//! `spatter` (ImageNet-C "weather" family): liquid splashes from blurred,
//! thresholded noise. Water (severities 1-3) is shaded as the reference
//! shades it: Canny edges of the liquid layer, the distance to them
//! (truncated at 20 px, box-blurred, histogram-equalised), embossed and
//! blurred again, times the layer; mud (4-5) covers the image where the
//! blurred wet mask is above 0.8. MNIST-C's spatter is gray mud at every
//! severity.
//!
//! The steps follow OpenCV's functions as the reference calls them
//! (`Canny` with an L1 gradient, `distanceTransform`, `equalizeHist`,
//! `filter2D`, `blur` with reflect-101 borders), so the splashes have the
//! reference's strength and look at every size.

use rand_distr::{Distribution, StandardNormal};

use super::blur::blur_plane_scipy;
use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::OpInfo;
use crate::seed::Rng;
use crate::table::{Row, Setting, Table, TableParams, row};

const fn rows([mean, sd, sigma, threshold, strength, mud]: [[f32; 5]; 6], [r, g, b]: [f32; 3]) -> [Row; 9] {
    [
        row("liquid_mean", mean),
        row("liquid_sd", sd),
        row("sigma_px", sigma),
        row("threshold", threshold),
        row("intensity_or_mud_sigma", strength),
        row("mud", mud),
        row("mud_r", [r; 5]),
        row("mud_g", [g; 5]),
        row("mud_b", [b; 5]),
    ]
}

const BROWN: [f32; 3] = [63.0, 42.0, 20.0];
const IMAGENET: [[f32; 5]; 6] = [
    [0.65, 0.65, 0.65, 0.65, 0.67],
    [0.3, 0.3, 0.3, 0.3, 0.4],
    [4.0, 3.0, 2.0, 1.0, 1.0],
    [0.69, 0.68, 0.68, 0.65, 0.65],
    [0.6, 0.6, 0.5, 1.5, 1.5],
    [0.0, 0.0, 0.0, 1.0, 1.0],
];

/// ImageNet-C's numbers with mud at every severity: MNIST-C's `spatter`
/// takes the table but always covers with mud.
const MNIST: [[f32; 5]; 6] = [IMAGENET[0], IMAGENET[1], IMAGENET[2], IMAGENET[3], IMAGENET[4], [1.0; 5]];

/// Liquid mean, sd and blur; the threshold; water intensity or mud blur;
/// whether it is mud; the mud's colour (MNIST-C's is gray 63).
const SPATTER_TABLES: &[TableParams] = &[
    TableParams::graded(Table::ImagenetC, &rows(IMAGENET, BROWN)),
    TableParams::graded(
        Table::TinyImagenetC,
        &rows(
            [
                [0.62, 0.65, 0.65, 0.65, 0.65],
                [0.1, 0.1, 0.3, 0.1, 0.1],
                [0.7, 0.8, 1.0, 0.7, 0.5],
                [0.7, 0.7, 0.69, 0.68, 0.67],
                [0.6; 5],
                [0.0, 0.0, 0.0, 1.0, 1.0],
            ],
            BROWN,
        ),
    ),
    TableParams::graded(
        Table::Cifar10C,
        &rows(
            [
                [0.62, 0.65, 0.65, 0.65, 0.65],
                [0.1, 0.1, 0.3, 0.1, 0.1],
                [0.7, 0.8, 1.0, 0.7, 0.5],
                [0.7, 0.7, 0.69, 0.69, 0.68],
                [0.5, 0.5, 0.5, 0.6, 0.6],
                [0.0, 0.0, 0.0, 1.0, 1.0],
            ],
            BROWN,
        ),
    ),
    TableParams::at(Table::MnistC, &rows(MNIST, [63.0; 3]), 4),
];

/// `spatter`: water or mud splashes from blurred, thresholded noise.
pub(crate) const SPATTER_OP: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "spatter",
        "water (1-3) or mud (4-5) splashes from blurred noise",
        SPATTER_TABLES,
    ),
    spatter,
);

/// Pale turquoise, the reference's water colour.
const WATER: [f32; 3] = [175.0, 238.0, 238.0];

/// The reference's `rgb2gray` weights.
fn gray_of([r, g, b]: [f32; 3]) -> f32 {
    0.2989 * r + 0.587 * g + 0.114 * b
}

fn spatter(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let (w, h, _) = img.dims();
    let (mean, sd, threshold) = (s.get("liquid_mean"), s.get("liquid_sd"), s.get("threshold"));
    let noise: Vec<f32> =
        (0..w * h).map(|_| mean + sd * Distribution::<f32>::sample(&StandardNormal, rng)).collect();
    let mut liquid = blur_plane_scipy(&noise, w, h, s.get("sigma_px"));
    liquid.iter_mut().for_each(|v| {
        if *v < threshold {
            *v = 0.0;
        }
    });
    let strength = s.get("intensity_or_mud_sigma");
    if s.flag("mud") {
        let colour = [s.get("mud_r"), s.get("mud_g"), s.get("mud_b")];
        mud(img, &liquid, threshold, strength, colour)
    } else {
        water(img, &liquid, strength)
    }
}

fn mud(img: &Image, liquid: &[f32], threshold: f32, sigma: f32, colour: [f32; 3]) -> Image {
    let (w, h, c) = img.dims();
    let wet: Vec<f32> = liquid.iter().map(|&v| if v > threshold { 1.0 } else { 0.0 }).collect();
    let mask = blur_plane_scipy(&wet, w, h, sigma);
    let gray = [gray_of(colour)];
    let colour: &[f32] = if c == 3 { &colour } else { &gray };
    let mut out = img.as_bytes().to_vec();
    for (px, &m) in out.chunks_exact_mut(c).zip(&mask) {
        let m = if m < 0.8 { 0.0 } else { m };
        for (v, &k) in px.iter_mut().zip(colour) {
            *v = clamp_u8(f32::from(*v) * (1.0 - m) + k * m);
        }
    }
    img.with_bytes(out)
}

fn water(img: &Image, liquid: &[f32], intensity: f32) -> Image {
    let (w, h, c) = img.dims();
    let layer: Vec<u8> = liquid.iter().map(|&v| (v * 255.0).clamp(0.0, 255.0) as u8).collect();
    let shade = water_shade(&layer, w, h);
    let m: Vec<f32> = layer.iter().zip(&shade).map(|(&l, &d)| f32::from(l) * d).collect();
    let peak = m.iter().copied().fold(0.0f32, f32::max);
    if peak <= 0.0 {
        return img.clone();
    }
    let gray = [gray_of(WATER)];
    let colour: &[f32] = if c == 3 { &WATER } else { &gray };
    let gain = intensity / peak;
    let mut out = img.as_bytes().to_vec();
    for (px, &m) in out.chunks_exact_mut(c).zip(&m) {
        for (v, &k) in px.iter_mut().zip(colour) {
            *v = clamp_u8(f32::from(*v) + m * gain * k);
        }
    }
    img.with_bytes(out)
}

/// The reference's shading of the water layer: distance to the layer's
/// Canny edges, truncated at 20, box-blurred to bytes, equalised, embossed
/// and box-blurred again.
fn water_shade(layer: &[u8], w: usize, h: usize) -> Vec<f32> {
    let edges = canny(layer, w, h, 50, 150);
    let dist = edge_distance(&edges, w, h, 20.0);
    let dist: Vec<u8> = box3(&dist, w, h).into_iter().map(|v| v.clamp(0.0, 255.0) as u8).collect();
    let equalised = equalize_hist(&dist);
    box3_levels(&emboss(&equalised, w, h), w, h)
}

/// OpenCV's default border: reflect without repeating the edge (`dcb|abcd|cba`).
fn reflect101(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let n = n as isize;
    let period = 2 * (n - 1);
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - m }) as usize
}

/// `f` of every output row (all zeros) and the three source rows around it
/// (above, at, below; reflect-101), each padded by its reflect-101
/// neighbour on either side, so the three taps of a row are the slices
/// `[k..k + w]`. Filters then run as whole-row operations.
#[inline(always)]
fn rows_3x3<T: Copy + Default, O: Copy + Default>(
    src: &[T],
    w: usize,
    h: usize,
    mut f: impl FnMut(&mut [O], [&[T]; 3]),
) -> Vec<O> {
    // Every source row padded once.
    let pw = w + 2;
    let mut padded = vec![T::default(); h * pw];
    for (row, prow) in src.chunks_exact(w).zip(padded.chunks_exact_mut(pw)) {
        prow[1..=w].copy_from_slice(row);
        prow[0] = row[reflect101(-1, w)];
        prow[w + 1] = row[reflect101(w as isize, w)];
    }
    let mut out = vec![O::default(); src.len()];
    for (y, line) in out.chunks_exact_mut(w).enumerate() {
        let at = |dy: isize| {
            let sy = reflect101(y as isize + dy, h);
            &padded[sy * pw..(sy + 1) * pw]
        };
        f(line, [at(-1), at(0), at(1)]);
    }
    out
}

/// `cv2.blur(x, (3, 3))`: the 3x3 mean, reflect-101 borders, summed row by
/// row as the taps are read.
fn box3(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    crate::simd::wide(
        #[inline(always)]
        || {
            rows_3x3(src, w, h, |line, rows| {
                for row in rows {
                    for k in 0..3 {
                        for (o, &v) in line.iter_mut().zip(&row[k..k + w]) {
                            *o += v;
                        }
                    }
                }
                line.iter_mut().for_each(|o| *o /= 9.0);
            })
        },
    )
}

/// [`box3`] of whole levels, rounded half to even: in integers, as the
/// sum of nine levels over nine is never half-way between two.
fn box3_levels(src: &[u8], w: usize, h: usize) -> Vec<f32> {
    sums_3x3(src, w, h, [[1; 3]; 3]).into_iter().map(|s| ((2 * s + 9) / 18) as f32).collect()
}

/// `cv2.filter2D(x, CV_8U, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])`, exact in integers.
fn emboss(src: &[u8], w: usize, h: usize) -> Vec<u8> {
    sums_3x3(src, w, h, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
        .into_iter()
        .map(|s| s.clamp(0, 255) as u8)
        .collect()
}

/// The integer `kernel`-weighted 3x3 sum of every pixel, reflect-101
/// borders, as whole-row operations (zero taps skipped).
fn sums_3x3(src: &[u8], w: usize, h: usize, kernel: [[i32; 3]; 3]) -> Vec<i32> {
    crate::simd::wide(
        #[inline(always)]
        || {
            rows_3x3(src, w, h, |line: &mut [i32], rows| {
                for (row, krow) in rows.iter().zip(&kernel) {
                    for (k, &weight) in krow.iter().enumerate().filter(|&(_, &wt)| wt != 0) {
                        for (o, &v) in line.iter_mut().zip(&row[k..k + w]) {
                            *o += weight * i32::from(v);
                        }
                    }
                }
            })
        },
    )
}

/// `cv2.equalizeHist`: the cumulative histogram from the first occupied
/// level, scaled to 0..255.
fn equalize_hist(src: &[u8]) -> Vec<u8> {
    let mut hist = [0usize; 256];
    src.iter().for_each(|&v| hist[usize::from(v)] += 1);
    let Some(first) = hist.iter().position(|&n| n > 0) else { return src.to_vec() };
    if hist[first] == src.len() {
        return vec![first as u8; src.len()];
    }
    let scale = 255.0 / (src.len() - hist[first]) as f32;
    let mut lut = [0u8; 256];
    let mut sum = 0usize;
    for level in first + 1..256 {
        sum += hist[level];
        lut[level] = (sum as f32 * scale).round_ties_even().clamp(0.0, 255.0) as u8;
    }
    src.iter().map(|&v| lut[usize::from(v)]).collect()
}

/// Euclidean distance from each pixel to the nearest edge, at most `cap`
/// (everywhere `cap` when there is no edge).
///
/// Distances beyond the cap are never needed exactly, so each pixel looks
/// only `ceil(cap)` pixels either way along its row, at column distances
/// capped one above that: exact up to the cap, and whole-row vector passes
/// in place of Felzenszwalb & Huttenlocher's lower envelope, whose
/// branches and divisions were 40% of spatter's time at 224 px.
fn edge_distance(edges: &[bool], w: usize, h: usize, cap: f32) -> Vec<f32> {
    crate::simd::wide(
        #[inline(always)]
        || edge_distance_wide(edges, w, h, cap),
    )
}

/// [`edge_distance`], inlined into its AVX2 build.
#[inline(always)]
fn edge_distance_wide(edges: &[bool], w: usize, h: usize, cap: f32) -> Vec<f32> {
    let reach = cap.max(0.0).ceil() as usize;
    let far = reach as u32 + 1;
    // Per column, the distance to the nearest edge above, then below, at
    // most `far`.
    let mut column = vec![far; w * h];
    for y in 0..h {
        let (done, rest) = column.split_at_mut(y * w);
        let row = &mut rest[..w];
        let marks = &edges[y * w..(y + 1) * w];
        match y.checked_sub(1) {
            None => row.iter_mut().zip(marks).for_each(|(c, &e)| *c = if e { 0 } else { far }),
            Some(up) => {
                for ((c, &e), &a) in row.iter_mut().zip(marks).zip(&done[up * w..]) {
                    *c = if e { 0 } else { (a + 1).min(far) };
                }
            }
        }
    }
    for y in (0..h.saturating_sub(1)).rev() {
        let (head, tail) = column.split_at_mut((y + 1) * w);
        for (c, &b) in head[y * w..].iter_mut().zip(&tail[..w]) {
            *c = (*c).min(b + 1);
        }
    }
    // Per row, the least `dq² + column[x + dq]²` over |dq| <= reach; the
    // row is padded with `far`, which no distance within the cap uses.
    let far2 = far * far;
    let lookup: Vec<f32> = (0..=far2).map(|d2| ((f64::from(d2)).sqrt() as f32).min(cap)).collect();
    let mut padded = vec![far2; w + 2 * reach];
    let mut best = vec![0u32; w];
    let mut out = vec![cap; w * h];
    for (orow, crow) in out.chunks_exact_mut(w).zip(column.chunks_exact(w)) {
        for (p, &c) in padded[reach..reach + w].iter_mut().zip(crow) {
            *p = c * c;
        }
        best.fill(far2);
        for k in 0..=2 * reach {
            let dq = k.abs_diff(reach) as u32;
            for (b, &p) in best.iter_mut().zip(&padded[k..k + w]) {
                *b = (*b).min(p + dq * dq);
            }
        }
        for (o, &d2) in orow.iter_mut().zip(&best) {
            *o = lookup[d2 as usize];
        }
    }
    out
}

/// `cv2.Canny(x, low, high)`: 3x3 Sobel with replicated borders, L1
/// magnitude, non-maximum suppression in four directions and 8-connected
/// hysteresis.
fn canny(src: &[u8], w: usize, h: usize, low: i32, high: i32) -> Vec<bool> {
    let at = |x: isize, y: isize| {
        let (x, y) = (x.clamp(0, w as isize - 1) as usize, y.clamp(0, h as isize - 1) as usize);
        i32::from(src[y * w + x])
    };
    let mut dx = vec![0i32; w * h];
    let mut dy = vec![0i32; w * h];
    for y in 0..h as isize {
        for x in 0..w as isize {
            let i = y as usize * w + x as usize;
            dx[i] = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2 * at(x - 1, y)
                - at(x - 1, y + 1);
            dy[i] = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2 * at(x, y - 1)
                - at(x + 1, y - 1);
        }
    }
    let mag: Vec<i32> = dx.iter().zip(&dy).map(|(a, b)| a.abs() + b.abs()).collect();
    // Magnitude outside the image is 0, as OpenCV pads its buffer.
    let m_at = |x: isize, y: isize| {
        if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
            0
        } else {
            mag[y as usize * w + x as usize]
        }
    };
    // OpenCV's fixed-point tan(22.5°), 15 fractional bits.
    const SHIFT: u32 = 15;
    const TG22: i64 = 13573;
    // 0: not an edge, 1: weak candidate, 2: edge.
    let mut state = vec![0u8; w * h];
    let mut stack = Vec::new();
    for y in 0..h as isize {
        for x in 0..w as isize {
            let i = y as usize * w + x as usize;
            let m = mag[i];
            if m <= low {
                continue;
            }
            let (xs, ys) = (dx[i], dy[i]);
            let ax = i64::from(xs.abs());
            let ay = i64::from(ys.abs()) << SHIFT;
            let tg22x = ax * TG22;
            let keep = if ay < tg22x {
                m > m_at(x - 1, y) && m >= m_at(x + 1, y)
            } else if ay > tg22x + (ax << (SHIFT + 1)) {
                m > m_at(x, y - 1) && m >= m_at(x, y + 1)
            } else {
                let s: isize = if (xs ^ ys) < 0 { -1 } else { 1 };
                m > m_at(x - s, y - 1) && m > m_at(x + s, y + 1)
            };
            if keep {
                if m > high {
                    state[i] = 2;
                    stack.push(i);
                } else {
                    state[i] = 1;
                }
            }
        }
    }
    while let Some(i) = stack.pop() {
        let (x, y) = ((i % w) as isize, (i / w) as isize);
        for ny in y - 1..=y + 1 {
            for nx in x - 1..=x + 1 {
                if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if state[j] == 1 {
                    state[j] = 2;
                    stack.push(j);
                }
            }
        }
    }
    state.into_iter().map(|s| s == 2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;
    use crate::severity::Severity;

    fn setting(table: Table, severity: i64) -> Setting {
        let params = SPATTER_TABLES.iter().find(|t| t.table == table).expect("table");
        Setting::new(params, Severity::new(severity).expect("valid"))
    }

    #[test]
    fn mud_darkens_and_water_brightens() {
        let img = Image::filled(32, 32, 3, 128);
        let water = spatter(&img, setting(Table::Cifar10C, 3), &mut seed::rng(9));
        assert!(water.as_bytes().iter().all(|&v| v >= 128));
        let mud = spatter(&img, setting(Table::Cifar10C, 5), &mut seed::rng(9));
        assert!(mud.as_bytes().iter().all(|&v| v <= 128));
    }

    #[test]
    fn water_changes_pixels_at_every_size_and_severity() {
        // The share of changed pixels was near zero from 128 px up when the
        // shading was not the reference's.
        for size in [28u32, 64, 224, 320] {
            let img = Image::filled(size, size, 3, 90);
            for severity in 1..=3 {
                let out = spatter(&img, setting(Table::ImagenetC, severity), &mut seed::rng(4));
                let changed = out.as_bytes().iter().filter(|&&v| v != 90).count();
                assert!(
                    changed * 50 > out.as_bytes().len(),
                    "{size} px severity {severity}: {changed} changed"
                );
            }
        }
    }

    /// The 3x3 filter as first written: every tap through `reflect101`.
    fn filter_by_taps(src: &[f32], w: usize, h: usize, kernel: [[f32; 3]; 3]) -> Vec<f32> {
        let mut out = vec![0.0f32; src.len()];
        for y in 0..h {
            for x in 0..w {
                let mut sum = 0.0;
                for (dy, krow) in kernel.iter().enumerate() {
                    let sy = reflect101(y as isize + dy as isize - 1, h);
                    for (dx, &k) in krow.iter().enumerate() {
                        sum += k * src[sy * w + reflect101(x as isize + dx as isize - 1, w)];
                    }
                }
                out[y * w + x] = sum;
            }
        }
        out
    }

    #[test]
    fn the_3x3_filters_equal_their_tap_by_tap_definitions() {
        let mut rng = seed::rng(5);
        for (w, h) in [(1, 1), (2, 3), (7, 5), (33, 17)] {
            let levels: Vec<u8> = (0..w * h).map(|_| rand::Rng::random::<u8>(&mut rng)).collect();
            let floats: Vec<f32> = (0..w * h).map(|_| rand::Rng::random::<f32>(&mut rng) * 20.0).collect();
            let ones = [[1.0f32; 3]; 3];
            let by_taps: Vec<f32> = filter_by_taps(&floats, w, h, ones).iter().map(|s| s / 9.0).collect();
            assert_eq!(box3(&floats, w, h), by_taps, "{w}x{h}");
            let as_float: Vec<f32> = levels.iter().map(|&v| f32::from(v)).collect();
            let rounded: Vec<f32> =
                filter_by_taps(&as_float, w, h, ones).iter().map(|s| (s / 9.0).round_ties_even()).collect();
            assert_eq!(box3_levels(&levels, w, h), rounded, "{w}x{h}");
            let kernel = [[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]];
            let embossed: Vec<u8> = filter_by_taps(&as_float, w, h, kernel)
                .iter()
                .map(|s| s.round_ties_even().clamp(0.0, 255.0) as u8)
                .collect();
            assert_eq!(emboss(&levels, w, h), embossed, "{w}x{h}");
        }
    }

    #[test]
    fn the_distance_transform_equals_imageprocs() {
        use image::{GrayImage, Luma};
        let mut rng = seed::rng(3);
        for (w, h, density) in [
            (1, 1, 0.5),
            (9, 1, 0.2),
            (1, 9, 0.2),
            (17, 13, 0.05),
            (40, 31, 0.01),
            (64, 64, 0.3),
            (8, 8, 0.0),
            // Sparse enough that many distances pass the cap of 20.
            (120, 90, 0.0005),
            (224, 64, 0.002),
            (50, 50, 1.0),
        ] {
            let edges: Vec<bool> = (0..w * h).map(|_| rand::Rng::random::<f64>(&mut rng) < density).collect();
            let marks = GrayImage::from_fn(w as u32, h as u32, |x, y| {
                Luma([if edges[y as usize * w + x as usize] { 255 } else { 0 }])
            });
            let theirs = imageproc::distance_transform::euclidean_squared_distance_transform(&marks);
            let ours = edge_distance(&edges, w, h, 20.0);
            let expected: Vec<f32> = theirs.as_raw().iter().map(|&d| (d.sqrt() as f32).min(20.0)).collect();
            assert_eq!(ours, expected, "{w}x{h} at {density}");
        }
    }

    #[test]
    fn reflect101_mirrors_without_repeating_the_edge() {
        assert_eq!([-2, -1, 0, 3, 4, 5].map(|i| reflect101(i, 4)), [2, 1, 0, 3, 2, 1]);
        assert_eq!(reflect101(-1, 1), 0);
    }

    #[test]
    fn equalisation_spreads_levels_as_opencv_does() {
        // Levels 10, 20, 30 with counts 2, 1, 1: the first maps to 0, the
        // others to 255 · cumulative / (4 - 2).
        assert_eq!(equalize_hist(&[10, 10, 20, 30]), [0, 0, 128, 255]);
        assert_eq!(equalize_hist(&[7, 7, 7]), [7, 7, 7]);
    }

    #[test]
    fn canny_finds_the_border_of_a_bright_square() {
        let (w, h) = (12usize, 12usize);
        let src: Vec<u8> = (0..w * h)
            .map(|i| if (4..8).contains(&(i % w)) && (4..8).contains(&(i / w)) { 200 } else { 0 })
            .collect();
        let edges = canny(&src, w, h, 50, 150);
        assert!(edges[5 * w + 4] || edges[5 * w + 3], "left edge");
        assert!(!edges[0] && !edges[5 * w + 5] && !edges[11 * w + 11]);
    }
}
