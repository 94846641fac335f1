//! Weather (ImageNet-C "weather" family): snow, frost, fog; spatter is in
//! [`super::spatter`].
//!
//! Parameters are the benchmarks' tables, used as published at any size.
//! The benchmarks blend frost photographs; here the frost texture is drawn
//! procedurally from the seed (plasma clouds and ice needles), then given
//! the colour and contrast of one of the reference's five photographs, so
//! its strength matches theirs (see [`FROST_PHOTOS`]).

use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use super::blur::{blur_plane, motion_blur_sparse, zoom_axis};
use super::pixels::{PLANE, clamp_u8, luma_of};
use super::planes::Kernel;
use super::{Image, ImageOp};
use crate::catalog::OpInfo;
use crate::seed::Rng;
use crate::table::{Row, Setting, Table, TableParams, row};

/// Haze amount, wibble decay and the plasma map's side (0: the image's
/// side rounded up to a power of two, as imagecorruptions does; MNIST-C
/// crops a 256 px map).
const FOG_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &[
            row("amount", [1.5, 2.0, 2.5, 2.5, 3.0]),
            row("wibble_decay", [2.0, 2.0, 1.7, 1.5, 1.4]),
            row("map_px", [0.0; 5]),
        ],
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &[
            row("amount", [0.4, 0.7, 1.0, 1.5, 2.0]),
            row("wibble_decay", [3.0, 3.0, 2.5, 2.0, 1.75]),
            row("map_px", [0.0; 5]),
        ],
    ),
    TableParams::graded(
        Table::Cifar10C,
        &[
            row("amount", [0.2, 0.5, 0.75, 1.0, 1.5]),
            row("wibble_decay", [3.0, 3.0, 2.5, 2.0, 1.75]),
            row("map_px", [0.0; 5]),
        ],
    ),
    TableParams::at(
        Table::MnistC,
        &[
            row("amount", [1.5, 2.0, 2.5, 2.5, 3.0]),
            row("wibble_decay", [2.0, 2.0, 1.7, 1.5, 1.4]),
            row("map_px", [256.0; 5]),
        ],
        5,
    ),
];
/// Image weight and frost weight.
const FROST_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &[row("image_weight", [1.0, 0.8, 0.7, 0.65, 0.6]), row("frost_weight", [0.4, 0.6, 0.7, 0.7, 0.75])],
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &[row("image_weight", [1.0, 0.9, 0.8, 0.75, 0.7]), row("frost_weight", [0.3, 0.4, 0.45, 0.5, 0.55])],
    ),
    TableParams::graded(
        Table::Cifar10C,
        &[row("image_weight", [1.0, 1.0, 0.9, 0.85, 0.75]), row("frost_weight", [0.2, 0.3, 0.4, 0.4, 0.45])],
    ),
];
const fn snow_rows(rows: [[f32; 5]; 7]) -> [Row; 7] {
    let [mean, sd, zoom, threshold, radius, sigma, keep] = rows;
    [
        row("flake_mean", mean),
        row("flake_sd", sd),
        row("zoom", zoom),
        row("threshold", threshold),
        row("blur_radius_px", radius),
        row("blur_sigma_px", sigma),
        row("image_weight", keep),
    ]
}
/// Flake mean, sd, zoom and threshold; the streak's radius and sigma; the
/// image's weight against its whitened self.
const SNOW_TABLES: &[TableParams] = &[
    TableParams::graded(
        Table::ImagenetC,
        &snow_rows([
            [0.1, 0.2, 0.55, 0.55, 0.55],
            [0.3; 5],
            [3.0, 2.0, 4.0, 4.5, 2.5],
            [0.5, 0.5, 0.9, 0.85, 0.85],
            [10.0, 12.0, 12.0, 12.0, 12.0],
            [4.0, 4.0, 8.0, 8.0, 12.0],
            [0.8, 0.7, 0.7, 0.65, 0.55],
        ]),
    ),
    TableParams::graded(
        Table::TinyImagenetC,
        &snow_rows([
            [0.1, 0.1, 0.15, 0.25, 0.3],
            [0.2, 0.2, 0.3, 0.3, 0.3],
            [1.0, 1.0, 1.75, 2.25, 1.25],
            [0.6, 0.5, 0.55, 0.6, 0.65],
            [8.0, 10.0, 10.0, 12.0, 14.0],
            [3.0, 4.0, 4.0, 6.0, 12.0],
            [0.8, 0.8, 0.7, 0.65, 0.6],
        ]),
    ),
    TableParams::graded(
        Table::Cifar10C,
        &snow_rows([
            [0.1, 0.1, 0.15, 0.25, 0.3],
            [0.2, 0.2, 0.3, 0.3, 0.3],
            [1.0, 1.0, 1.75, 2.25, 1.25],
            [0.6, 0.5, 0.55, 0.6, 0.65],
            [8.0, 10.0, 10.0, 12.0, 14.0],
            [3.0, 4.0, 4.0, 6.0, 12.0],
            [0.95, 0.9, 0.9, 0.85, 0.8],
        ]),
    ),
];

/// `fog`: adds `amount` times a plasma fractal (rougher at higher
/// severities), rescaled so the brightest input value keeps its level.
pub(crate) const FOG_OP: ImageOp =
    ImageOp::tabled(OpInfo::image_corruption("fog", "adds a plasma-fractal haze", FOG_TABLES), fog);

/// `frost`: `image_weight · x + frost_weight · texture`, where the texture is
/// a procedural ice layer with a reference photograph's colour and contrast.
pub(crate) const FROST_OP: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption(
        "frost",
        "blend with an ice texture (generated, with the reference photographs' colour and contrast)",
        FROST_TABLES,
    ),
    frost,
);

/// `snow`: a layer of thresholded, zoomed Gaussian flakes streaked by a
/// motion blur at -135..-45°, added twice (once rotated 180°) to a whitened
/// image.
pub(crate) const SNOW_OP: ImageOp = ImageOp::tabled(
    OpInfo::image_corruption("snow", "motion-blurred snow flakes over a whitened image", SNOW_TABLES),
    snow,
);

/// A `size`x`size` plasma fractal in [0, 1] by diamond-square with
/// wrap-around; each level's random offsets shrink by `decay`. `size` is a
/// power of two.
pub(crate) fn plasma_fractal(size: usize, decay: f32, rng: &mut Rng) -> Vec<f32> {
    let n = size.max(2).next_power_of_two();
    let mut m = vec![0.0f32; n * n];
    let at = |y: usize, x: usize| (y % n) * n + (x % n);
    let mut step = n;
    let mut wibble = 100.0f32;
    while step >= 2 {
        let half = step / 2;
        // Squares: each cell's centre is the mean of its corners plus noise.
        for y in (0..n).step_by(step) {
            for x in (0..n).step_by(step) {
                let mean =
                    (m[at(y, x)] + m[at(y + step, x)] + m[at(y, x + step)] + m[at(y + step, x + step)]) / 4.0;
                m[at(y + half, x + half)] = mean + wibble * rng.random_range(-wibble..=wibble);
            }
        }
        // Diamonds: edge midpoints from their two corners and two centres.
        for y in (0..n).step_by(step) {
            for x in (0..n).step_by(step) {
                let top = (m[at(y, x)]
                    + m[at(y, x + step)]
                    + m[at(y + half, x + half)]
                    + m[at(y + n - half, x + half)])
                    / 4.0;
                m[at(y, x + half)] = top + wibble * rng.random_range(-wibble..=wibble);
                let left = (m[at(y, x)]
                    + m[at(y + step, x)]
                    + m[at(y + half, x + half)]
                    + m[at(y + half, x + n - half)])
                    / 4.0;
                m[at(y + half, x)] = left + wibble * rng.random_range(-wibble..=wibble);
            }
        }
        step = half;
        wibble /= decay;
    }
    let (lo, hi) = m.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let range = if hi > lo { hi - lo } else { 1.0 };
    m.iter_mut().for_each(|v| *v = (*v - lo) / range);
    m
}

fn fog(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let (amount, decay) = (s.get("amount"), s.get("wibble_decay"));
    let (w, h, c) = img.dims();
    let n = w.max(h).max(s.count("map_px")).max(2).next_power_of_two();
    let map = plasma_fractal(n, decay, rng);
    let max = f32::from(img.as_bytes().iter().copied().max().unwrap_or(0));
    let gain = max / (max + 255.0 * amount);
    let mut out = img.as_bytes().to_vec();
    for (y, row) in out.chunks_exact_mut(w * c).enumerate() {
        for (x, px) in row.chunks_exact_mut(c).enumerate() {
            let haze = 255.0 * amount * map[y * n + x];
            for v in px {
                *v = clamp_u8((f32::from(*v) + haze) * gain);
            }
        }
    }
    img.with_bytes(out)
}

/// Mean RGB and standard deviation of the reference's frost photographs
/// (imagecorruptions 1.1.2's `frost1.png` .. `frost5.jpg`; `frost2` and
/// `frost3` are the same picture). The reference draws one of the five per
/// image; so does [`frost`], and gives its texture that photograph's
/// colour and contrast, which sets the corruption's strength.
const FROST_PHOTOS: [([f32; 3], f32); 5] = [
    ([77.7, 149.1, 165.7], 19.6),
    ([200.8, 205.4, 214.5], 22.0),
    ([200.8, 205.4, 214.5], 22.0),
    ([137.6, 152.8, 165.2], 29.0),
    ([112.4, 123.4, 134.8], 43.1),
];

/// The frost texture with zero mean and unit variance, one value per
/// pixel: soft plasma clouds plus blurred random ice needles.
fn frost_texture(w: usize, h: usize, rng: &mut Rng) -> Vec<f32> {
    let n = w.max(h).max(2).next_power_of_two();
    let clouds = plasma_fractal(n, 1.6, rng);
    let mut needles = vec![0.0f32; w * h];
    // Needle length grows with the image as a photograph's crystals do
    // when cropped at a larger size.
    let scale = (w.min(h) as f32 / 32.0).max(1.0);
    let count = (w * h) / 12 + 1;
    for _ in 0..count {
        let (mut x, mut y) = (rng.random_range(0.0..w as f32), rng.random_range(0.0..h as f32));
        let angle = rng.random_range(0.0..std::f32::consts::TAU);
        let len = rng.random_range(1.5..5.0) * scale;
        let (dy, dx) = angle.sin_cos();
        let bright = rng.random_range(0.3..0.8f32);
        for _ in 0..len.ceil() as usize {
            if x >= 0.0 && y >= 0.0 && (x as usize) < w && (y as usize) < h {
                let v = &mut needles[y as usize * w + x as usize];
                *v = (*v + bright).min(1.0);
            }
            x += dx;
            y += dy;
        }
    }
    let needles = blur_plane(&needles, w, h, 0.4 * scale);
    let mut t: Vec<f32> =
        (0..w * h).map(|i| (0.45 * clouds[(i / w) * n + i % w] + 0.8 * needles[i]).min(1.0)).collect();
    let len = t.len().max(1) as f32;
    let mean = t.iter().sum::<f32>() / len;
    let sd = (t.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / len).sqrt();
    let inv = if sd > 1e-6 { 1.0 / sd } else { 0.0 };
    t.iter_mut().for_each(|v| *v = (*v - mean) * inv);
    t
}

fn frost(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let (image_weight, frost_weight) = (s.get("image_weight"), s.get("frost_weight"));
    let (w, h, c) = img.dims();
    let (rgb, sd) = FROST_PHOTOS[rng.random_range(0..FROST_PHOTOS.len())];
    let texture = frost_texture(w, h, rng);
    // Gray images get the photograph's luma, as the reference's rgb2gray.
    let gray = [0.2989 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]];
    let mean: &[f32] = if c == 3 { &rgb } else { &gray };
    let mut out = img.as_bytes().to_vec();
    for (px, &t) in out.chunks_exact_mut(c).zip(&texture) {
        for (v, &m) in px.iter_mut().zip(mean) {
            let ice = (m + sd * t).clamp(0.0, 255.0);
            *v = clamp_u8(image_weight * f32::from(*v) + frost_weight * ice);
        }
    }
    img.with_bytes(out)
}

fn snow(img: &Image, s: Setting, rng: &mut Rng) -> Image {
    let (mean, sd, zoom, threshold) =
        (s.get("flake_mean"), s.get("flake_sd"), s.get("zoom"), s.get("threshold"));
    let (radius, sigma, image_weight) =
        (s.get("blur_radius_px"), s.get("blur_sigma_px"), s.get("image_weight"));
    let (w, h, c) = img.dims();
    let flakes = snow_flakes(
        w,
        h,
        zoom,
        threshold,
        |rng: &mut Rng| mean + sd * Distribution::<f32>::sample(&StandardNormal, rng),
        rng,
    );
    let angle = rng.random_range(-135.0f32..-45.0);
    let layer = motion_blur_sparse(&flakes, w, h, radius, sigma, angle);
    // Each pixel gets the layer and its half-turn (ImageNet-C adds the
    // layer rotated by 180 degrees).
    let flake: Vec<f32> =
        layer.iter().zip(layer.iter().rev()).map(|(&a, &b)| f32::from(a) + f32::from(b)).collect();
    if c == 1 {
        let bytes = img.as_bytes().iter().zip(&flake).map(|(&v, &f)| {
            let x = f32::from(v);
            snowed(image_weight, x, x * 1.5 + 127.5, f)
        });
        return img.with_bytes(bytes.collect());
    }
    img.map_rgb_kernel(&SnowBlend { flake: &flake, image_weight })
}

/// One snowed value: `x` moved towards the whitened luma, plus the flake.
#[inline(always)]
fn snowed(image_weight: f32, x: f32, whitened: f32, flake: f32) -> u8 {
    clamp_u8(image_weight * x + (1.0 - image_weight) * x.max(whitened) + flake)
}

/// ImageNet-C's snow layer before its blur: normal noise from `draw`,
/// zoomed about the centre by `zoom` (bilinear), zero below `threshold`,
/// else scaled to bytes. The zoom reads only the central 1/zoom of the
/// noise (ImageNet-C's `clipped_zoom` crops first), so only that part is
/// drawn, row by row.
fn snow_flakes(
    w: usize,
    h: usize,
    zoom: f32,
    threshold: f32,
    draw: impl Fn(&mut Rng) -> f32,
    rng: &mut Rng,
) -> Vec<u8> {
    let axis =
        |n: usize| -> Vec<(usize, usize, f32)> { (0..n).map(|i| zoom_axis(n, f64::from(zoom), i)).collect() };
    let (xs, ys) = (axis(w), axis(h));
    let (Some(&(x_lo, ..)), Some(&(_, x_hi, _))) = (xs.first(), xs.last()) else { return Vec::new() };
    let (Some(&(y_lo, ..)), Some(&(_, y_hi, _))) = (ys.first(), ys.last()) else { return Vec::new() };
    let cw = x_hi - x_lo + 1;
    let noise: Vec<f32> = (0..(y_hi - y_lo + 1) * cw).map(|_| draw(rng)).collect();
    crate::simd::wide(
        #[inline(always)]
        || {
            // Each noise row resampled along x once (rows repeat across
            // about `zoom` outputs); an output row is then a flat blend of
            // two of them.
            let resampled: Vec<f32> = noise
                .chunks_exact(cw)
                .flat_map(|row| {
                    xs.iter().map(move |&(x0, x1, fx)| {
                        let (a, b) = (row[x0 - x_lo], row[x1 - x_lo]);
                        a + (b - a) * fx
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(w * h);
            for &(y0, y1, fy) in &ys {
                let top = &resampled[(y0 - y_lo) * w..][..w];
                let bottom = &resampled[(y1 - y_lo) * w..][..w];
                out.extend(top.iter().zip(bottom).map(
                    #[inline(always)]
                    |(&t, &b)| {
                        let v = t + (b - t) * fy;
                        if v < threshold { 0 } else { clamp_u8(v * 255.0) }
                    },
                ));
            }
            out
        },
    )
}

/// [`snow`]'s blend of RGB pixels with their flakes: each channel moves
/// towards the whitened luma and gains the flake.
struct SnowBlend<'a> {
    flake: &'a [f32],
    image_weight: f32,
}

impl Kernel for SnowBlend<'_> {
    #[inline(always)]
    fn block(&self, at: usize, planes: &mut [[u8; PLANE]; 3]) {
        let [r, g, b] = planes;
        let flake = &self.flake[at.min(self.flake.len())..];
        for j in 0..PLANE {
            let f = flake.get(j).copied().unwrap_or(0.0);
            let whitened = luma_of([r[j], g[j], b[j]]) as f32 * 1.5 + 127.5;
            let iw = self.image_weight;
            r[j] = snowed(iw, f32::from(r[j]), whitened, f);
            g[j] = snowed(iw, f32::from(g[j]), whitened, f);
            b[j] = snowed(iw, f32::from(b[j]), whitened, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;

    #[test]
    fn plasma_spans_zero_to_one_and_repeats_per_seed() {
        let a = plasma_fractal(32, 2.0, &mut seed::rng(1));
        assert_eq!(a.len(), 1024);
        let (lo, hi) = a.iter().fold((1.0f32, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
        assert_eq!((lo, hi), (0.0, 1.0));
        assert_eq!(a, plasma_fractal(32, 2.0, &mut seed::rng(1)));
        assert_ne!(a, plasma_fractal(32, 2.0, &mut seed::rng(2)));
    }

    #[test]
    fn rougher_decay_gives_more_local_variation() {
        let roughness = |decay: f32| {
            let m = plasma_fractal(64, decay, &mut seed::rng(5));
            m.windows(2).map(|w| (w[0] - w[1]).abs()).sum::<f32>()
        };
        assert!(roughness(1.5) > roughness(3.0));
    }

    #[test]
    fn fog_lifts_black_but_never_passes_the_input_maximum() {
        // Gain max / (max + 255 · amount): the brightest input plus the most
        // haze comes back to exactly the input maximum (100).
        let mut data = vec![0u8; 64];
        data[0] = 100;
        let img = Image::new(8, 8, 1, data).expect("valid");
        let params = FOG_TABLES.iter().find(|t| t.table == Table::Cifar10C).expect("table");
        let out = fog(
            &img,
            Setting::new(params, crate::severity::Severity::new(5).expect("valid")),
            &mut seed::rng(3),
        );
        let b = out.as_bytes();
        assert!(b[1..].iter().any(|&v| v > 0), "black stays black");
        assert!(b.iter().all(|&v| v <= 100));
    }

    #[test]
    fn snow_noise_zoomed_by_one_is_drawn_in_order() {
        // Noise 1/8, 2/8, ...: at zoom 1 each pixel keeps its own draw,
        // thresholded at 0.5 and scaled to bytes.
        let next = std::cell::Cell::new(0.0f32);
        let draw = |_: &mut Rng| {
            next.set(next.get() + 0.125);
            next.get()
        };
        let flakes = snow_flakes(4, 3, 1.0, 0.5, draw, &mut seed::rng(0));
        let want: Vec<u8> =
            (1..=12).map(|i| if i < 4 { 0 } else { clamp_u8(i as f32 * 0.125 * 255.0) }).collect();
        assert_eq!(flakes, want);
    }

    #[test]
    fn snow_draws_only_the_noise_its_zoom_reads() {
        // Zoom 4 on 224 px reads the central 57-58 rows and columns.
        let drawn = std::cell::Cell::new(0usize);
        let draw = |_: &mut Rng| {
            drawn.set(drawn.get() + 1);
            0.0
        };
        let flakes = snow_flakes(224, 224, 4.0, 0.5, draw, &mut seed::rng(0));
        assert_eq!(flakes.len(), 224 * 224);
        assert!((56 * 56..=58 * 58).contains(&drawn.get()), "{} draws", drawn.get());
    }
}
