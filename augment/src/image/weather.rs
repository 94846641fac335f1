//! Weather (ImageNet-C "weather" family): snow, frost, fog, spatter.
//!
//! The original uses photographs for frost; here every texture is made
//! procedurally from the seed: a plasma fractal (diamond-square) for fog and
//! frost clouds, random ice needles for frost, blurred thresholded noise for
//! snow and spatter.

use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use super::blur::{blur_plane, motion_blur_sparse, zoom_axis};
use super::pixels::{PLANE, clamp_u8, luma_of};
use super::planes::Kernel;
use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;

/// CIFAR-10-C's fog (amount, wibble decay).
const FOG: [(f32, f32); 5] = [(0.2, 3.0), (0.5, 3.0), (0.75, 2.5), (1.0, 2.0), (1.5, 1.75)];
/// CIFAR-10-C's frost (image weight, frost weight).
const FROST: [(f32, f32); 5] = [(1.0, 0.2), (1.0, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)];
/// Snow's parameters: mean, sd, zoom, threshold, blur radius, blur sigma,
/// image weight.
type SnowRow = (f32, f32, f32, f32, f32, f32, f32);

/// ImageNet-C's snow, for 224 pixels.
const SNOW_LARGE: [SnowRow; 5] = [
    (0.1, 0.3, 3.0, 0.5, 10.0, 4.0, 0.8),
    (0.2, 0.3, 2.0, 0.5, 12.0, 4.0, 0.7),
    (0.55, 0.3, 4.0, 0.9, 12.0, 8.0, 0.7),
    (0.55, 0.3, 4.5, 0.85, 12.0, 8.0, 0.65),
    (0.55, 0.3, 2.5, 0.85, 12.0, 12.0, 0.55),
];
/// CIFAR-10-C's snow, for 32 pixels.
const SNOW: [SnowRow; 5] = [
    (0.1, 0.2, 1.0, 0.6, 8.0, 3.0, 0.95),
    (0.1, 0.2, 1.0, 0.5, 10.0, 4.0, 0.9),
    (0.15, 0.3, 1.75, 0.55, 10.0, 4.0, 0.9),
    (0.25, 0.3, 2.25, 0.6, 12.0, 6.0, 0.85),
    (0.3, 0.3, 1.25, 0.65, 14.0, 12.0, 0.8),
];
/// CIFAR-10-C's spatter: (mean, sd, sigma, threshold, intensity or mud sigma, mud?).
const SPATTER: [(f32, f32, f32, f32, f32, bool); 5] = [
    (0.62, 0.1, 0.7, 0.7, 0.5, false),
    (0.65, 0.1, 0.8, 0.7, 0.5, false),
    (0.65, 0.3, 1.0, 0.69, 0.5, false),
    (0.65, 0.1, 0.7, 0.69, 0.6, true),
    (0.65, 0.1, 0.5, 0.68, 0.6, true),
];

/// `fog`: adds `amount` times a plasma fractal (rougher at higher
/// severities), rescaled so the brightest input value keeps its level.
pub(crate) const FOG_OP: ImageOp = ImageOp::new(
    OpInfo {
        name: "fog",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "adds a plasma-fractal haze (ImageNet-C, CIFAR-10-C amounts and decays)",
        params: &[
            Param { name: "amount", values: ["0.2", "0.5", "0.75", "1.0", "1.5"] },
            Param { name: "wibble_decay", values: ["3.0", "3.0", "2.5", "2.0", "1.75"] },
        ],
    },
    fog,
);

/// `frost`: `image_weight · x + frost_weight · texture`, where the texture is
/// a procedural pale-blue ice layer (plasma clouds plus random ice needles).
pub(crate) const FROST_OP: ImageOp = ImageOp::new(
    OpInfo {
        name: "frost",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "blend with a procedural ice texture (ImageNet-C weights, texture generated)",
        params: &[
            Param { name: "image_weight", values: ["1.0", "1.0", "0.9", "0.85", "0.75"] },
            Param { name: "frost_weight", values: ["0.2", "0.3", "0.4", "0.4", "0.45"] },
        ],
    },
    frost,
);

/// `snow`: a layer of thresholded, zoomed Gaussian flakes streaked by a
/// motion blur at -135..-45°, added twice (once rotated 180°) to a whitened
/// image. CIFAR-10-C's parameters below 128 px, ImageNet-C's above; blur
/// sizes scale with the image from each table's own size (32 and 224 px).
pub(crate) const SNOW_OP: ImageOp = ImageOp::new(
    OpInfo {
        name: "snow",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "motion-blurred snow flakes over a whitened image (ImageNet-C, CIFAR-10-C)",
        params: &[
            Param { name: "flake_mean_below_128px", values: ["0.10", "0.10", "0.15", "0.25", "0.30"] },
            Param { name: "flake_sd_below_128px", values: ["0.2", "0.2", "0.3", "0.3", "0.3"] },
            Param { name: "zoom_below_128px", values: ["1.0", "1.0", "1.75", "2.25", "1.25"] },
            Param { name: "threshold_below_128px", values: ["0.60", "0.50", "0.55", "0.60", "0.65"] },
            Param { name: "blur_radius_per_32px", values: ["8", "10", "10", "12", "14"] },
            Param { name: "blur_sigma_per_32px", values: ["3", "4", "4", "6", "12"] },
            Param { name: "image_weight_below_128px", values: ["0.95", "0.90", "0.90", "0.85", "0.80"] },
            Param { name: "flake_mean_from_128px", values: ["0.10", "0.20", "0.55", "0.55", "0.55"] },
            Param { name: "flake_sd_from_128px", values: ["0.3", "0.3", "0.3", "0.3", "0.3"] },
            Param { name: "zoom_from_128px", values: ["3.0", "2.0", "4.0", "4.5", "2.5"] },
            Param { name: "threshold_from_128px", values: ["0.50", "0.50", "0.90", "0.85", "0.85"] },
            Param { name: "blur_radius_per_224px", values: ["10", "12", "12", "12", "12"] },
            Param { name: "blur_sigma_per_224px", values: ["4", "4", "8", "8", "12"] },
            Param { name: "image_weight_from_128px", values: ["0.80", "0.70", "0.70", "0.65", "0.55"] },
        ],
    },
    snow,
);

/// `spatter`: blurred thresholded noise as liquid; severities 1-3 add pale
/// turquoise water, 4-5 cover with brown mud (CIFAR-10-C parameters). The
/// water layer is shaded by its own depth rather than the original's
/// edge-distance map.
pub(crate) const SPATTER_OP: ImageOp = ImageOp::new(
    OpInfo {
        name: "spatter",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "water (1-3) or mud (4-5) splashes from blurred noise (ImageNet-C, CIFAR-10-C)",
        params: &[
            Param { name: "liquid_mean", values: ["0.62", "0.65", "0.65", "0.65", "0.65"] },
            Param { name: "liquid_sd", values: ["0.1", "0.1", "0.3", "0.1", "0.1"] },
            Param { name: "sigma_px", values: ["0.7", "0.8", "1.0", "0.7", "0.5"] },
            Param { name: "threshold", values: ["0.70", "0.70", "0.69", "0.69", "0.68"] },
            Param { name: "intensity_or_mud_sigma", values: ["0.5", "0.5", "0.5", "0.6", "0.6"] },
            Param { name: "liquid", values: ["water", "water", "water", "mud", "mud"] },
        ],
    },
    spatter,
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

fn fog(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (amount, decay) = severity.pick(&FOG);
    let (w, h, c) = img.dims();
    let n = w.max(h).max(2).next_power_of_two();
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

/// The frost texture in [0, 1], one value per pixel: soft plasma clouds plus
/// blurred random ice needles.
fn frost_texture(w: usize, h: usize, scale: f32, rng: &mut Rng) -> Vec<f32> {
    let n = w.max(h).max(2).next_power_of_two();
    let clouds = plasma_fractal(n, 1.6, rng);
    let mut needles = vec![0.0f32; w * h];
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
    (0..w * h).map(|i| (0.45 * clouds[(i / w) * n + i % w] + 0.8 * needles[i]).min(1.0)).collect()
}

fn frost(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (image_weight, frost_weight) = severity.pick(&FROST);
    let (w, h, c) = img.dims();
    let texture = frost_texture(w, h, img.spatial_scale(), rng);
    // Pale blue ice (as the original photographs); gray images get its luma.
    let tint: &[f32] = if c == 3 { &[0.80, 0.90, 1.00] } else { &[0.89] };
    let mut out = img.as_bytes().to_vec();
    for (px, &t) in out.chunks_exact_mut(c).zip(&texture) {
        for (v, &k) in px.iter_mut().zip(tint) {
            *v = clamp_u8(image_weight * f32::from(*v) + frost_weight * 255.0 * t * k);
        }
    }
    img.with_bytes(out)
}

/// Snow's row for this image and severity, and the factor its blur sizes
/// take: ImageNet-C's table from 128 pixels (scaled from its 224),
/// CIFAR-10-C's below (scaled from its 32).
fn snow_params(img: &Image, severity: Severity) -> (SnowRow, f32) {
    if img.is_large() {
        (severity.pick(&SNOW_LARGE), img.imagenet_scale())
    } else {
        (severity.pick(&SNOW), img.spatial_scale())
    }
}

fn snow(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let ((mean, sd, zoom, threshold, radius, sigma, image_weight), scale) = snow_params(img, severity);
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
    let layer = motion_blur_sparse(&flakes, w, h, radius * scale, sigma * scale, angle);
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
    let axis = |n: usize| -> Vec<(usize, usize, f32)> { (0..n).map(|i| zoom_axis(n, zoom, i)).collect() };
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

fn spatter(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (mean, sd, sigma, threshold, strength, mud) = severity.pick(&SPATTER);
    let (w, h, c) = img.dims();
    let scale = img.spatial_scale();
    let noise: Vec<f32> =
        (0..w * h).map(|_| mean + sd * Distribution::<f32>::sample(&StandardNormal, rng)).collect();
    let mut liquid = blur_plane(&noise, w, h, sigma * scale);
    liquid.iter_mut().for_each(|v| {
        if *v < threshold {
            *v = 0.0;
        }
    });
    let src = img.as_bytes();
    let mut out = src.to_vec();
    if mud {
        let wet: Vec<f32> = liquid.iter().map(|&v| if v > threshold { 1.0 } else { 0.0 }).collect();
        let mask = blur_plane(&wet, w, h, strength * scale);
        let colour: &[f32] = if c == 3 { &[63.0, 42.0, 20.0] } else { &[46.0] };
        for (px, &m) in out.chunks_exact_mut(c).zip(&mask) {
            let m = if m < 0.8 { 0.0 } else { m };
            for (v, &k) in px.iter_mut().zip(colour) {
                *v = clamp_u8(f32::from(*v) * (1.0 - m) + k * m);
            }
        }
    } else {
        let peak = liquid.iter().copied().fold(0.0f32, f32::max);
        if peak <= 0.0 {
            return img.clone();
        }
        let colour: &[f32] = if c == 3 { &[175.0, 238.0, 238.0] } else { &[219.0] };
        for (px, &l) in out.chunks_exact_mut(c).zip(&liquid) {
            let m = l / peak * strength;
            for (v, &k) in px.iter_mut().zip(colour) {
                *v = clamp_u8(f32::from(*v) + m * k);
            }
        }
    }
    img.with_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;

    #[test]
    fn parameter_tables_match_the_catalog() {
        use crate::catalog::check::assert_param;
        assert_param(&FOG_OP.info, "amount", FOG.map(|r| r.0));
        assert_param(&FOG_OP.info, "wibble_decay", FOG.map(|r| r.1));
        assert_param(&FROST_OP.info, "image_weight", FROST.map(|r| r.0));
        assert_param(&FROST_OP.info, "frost_weight", FROST.map(|r| r.1));
        let snow = [(SNOW, "below_128px", "per_32px"), (SNOW_LARGE, "from_128px", "per_224px")];
        for (table, size, per) in snow {
            let info = &SNOW_OP.info;
            assert_param(info, &format!("flake_mean_{size}"), table.map(|r| r.0));
            assert_param(info, &format!("flake_sd_{size}"), table.map(|r| r.1));
            assert_param(info, &format!("zoom_{size}"), table.map(|r| r.2));
            assert_param(info, &format!("threshold_{size}"), table.map(|r| r.3));
            assert_param(info, &format!("blur_radius_{per}"), table.map(|r| r.4));
            assert_param(info, &format!("blur_sigma_{per}"), table.map(|r| r.5));
            assert_param(info, &format!("image_weight_{size}"), table.map(|r| r.6));
        }
        let info = &SPATTER_OP.info;
        assert_param(info, "liquid_mean", SPATTER.map(|r| r.0));
        assert_param(info, "liquid_sd", SPATTER.map(|r| r.1));
        assert_param(info, "sigma_px", SPATTER.map(|r| r.2));
        assert_param(info, "threshold", SPATTER.map(|r| r.3));
        assert_param(info, "intensity_or_mud_sigma", SPATTER.map(|r| r.4));
        let liquid = info.params.iter().find(|p| p.name == "liquid").map(|p| p.values);
        assert_eq!(liquid, Some(SPATTER.map(|r| if r.5 { "mud" } else { "water" })));
    }

    #[test]
    fn snow_takes_imagenet_parameters_from_128_pixels() {
        let sev3 = Severity::new(3).expect("valid severity");
        let at = |size: u32| snow_params(&Image::filled(size, size, 3, 0), sev3);
        // CIFAR-10-C's row, its blur sizes scaled from 32 pixels.
        assert_eq!(at(32), (SNOW[2], 1.0));
        assert_eq!(at(64), (SNOW[2], 2.0));
        assert_eq!(at(127).0, SNOW[2]);
        // ImageNet-C's row (radius 12, sigma 8 at 224 px), scaled from 224.
        assert_eq!(at(224), ((0.55, 0.3, 4.0, 0.9, 12.0, 8.0, 0.7), 1.0));
        assert_eq!(at(448).1, 2.0);
        assert_eq!(at(128).0, SNOW_LARGE[2]);
    }

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
        let out = fog(&img, Severity::new(5).expect("valid"), &mut seed::rng(3));
        let b = out.as_bytes();
        assert!(b[1..].iter().any(|&v| v > 0), "black stays black");
        assert!(b.iter().all(|&v| v <= 100));
    }

    #[test]
    fn mud_darkens_and_water_brightens() {
        let img = Image::filled(32, 32, 3, 128);
        let water = spatter(&img, Severity::new(3).expect("valid"), &mut seed::rng(9));
        assert!(water.as_bytes().iter().all(|&v| v >= 128));
        let mud = spatter(&img, Severity::new(5).expect("valid"), &mut seed::rng(9));
        assert!(mud.as_bytes().iter().all(|&v| v <= 128));
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
