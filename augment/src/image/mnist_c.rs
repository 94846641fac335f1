//! MNIST-C's overlay and edge corruptions: stripe, dotted_line, zigzag,
//! canny_edges.
//!
//! Sizes are given for a 28-pixel digit and scale with the image; lines are
//! drawn in white, as strokes are on MNIST.

use rand::Rng as _;

use super::blur::blur_plane;
use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;

const STRIPE_WIDTH: [f32; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];
/// Dotted lines: (line count, dot spacing px at 28).
const DOTTED: [(u32, f32); 5] = [(1, 4.0), (1, 3.0), (1, 2.0), (2, 3.0), (2, 2.0)];
const ZIGZAG_LINES: [u32; 5] = [1, 1, 2, 2, 3];
/// Canny: (blend with the input, Gaussian sigma px at 28).
const CANNY: [(f32, f32); 5] = [(0.4, 1.0), (0.7, 1.0), (1.0, 1.0), (1.0, 1.5), (1.0, 2.0)];

/// `stripe`: inverts a vertical band 1..5 px wide (at 28 px) at a random
/// column.
pub(crate) const STRIPE: ImageOp = ImageOp::new(
    OpInfo {
        name: "stripe",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        tables: &[],
        summary: "inverts a vertical band at a random column (MNIST-C)",
        params: &[Param { name: "width_px_at_28", values: ["1", "2", "3", "4", "5"] }],
    },
    stripe,
);

/// `dotted_line`: white dotted lines from one edge to the opposite one;
/// severity adds lines and packs the dots closer.
pub(crate) const DOTTED_LINE: ImageOp = ImageOp::new(
    OpInfo {
        name: "dotted_line",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        tables: &[],
        summary: "white dotted lines across the image (MNIST-C)",
        params: &[
            Param { name: "lines", values: ["1", "1", "1", "2", "2"] },
            Param { name: "dot_spacing_px_at_28", values: ["4", "3", "2", "3", "2"] },
        ],
    },
    dotted_line,
);

/// `zigzag`: white zigzag lines across the image, 1..3 of them.
pub(crate) const ZIGZAG: ImageOp = ImageOp::new(
    OpInfo {
        name: "zigzag",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        tables: &[],
        summary: "white zigzag lines across the image (MNIST-C)",
        params: &[Param { name: "lines", values: ["1", "1", "2", "2", "3"] }],
    },
    zigzag,
);

/// `canny_edges`: the Canny edge map (white edges on black, thresholds 0.1
/// and 0.2 of the strongest gradient), blended with the input; severity 3 is
/// MNIST-C's pure edge map at sigma 1.
pub(crate) const CANNY_EDGES: ImageOp = ImageOp::new(
    OpInfo {
        name: "canny_edges",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        tables: &[],
        summary: "Canny edge map blended with the input (MNIST-C)",
        params: &[
            Param { name: "blend", values: ["0.4", "0.7", "1.0", "1.0", "1.0"] },
            Param { name: "sigma_px_at_28", values: ["1.0", "1.0", "1.0", "1.5", "2.0"] },
        ],
    },
    |img, s, _rng: &mut Rng| {
        let (blend, sigma) = s.pick(&CANNY);
        canny_edges(img, blend, sigma * unit(img))
    },
);

/// Pixels per MNIST pixel: the short side over 28, at least 1.
fn unit(img: &Image) -> f32 {
    (img.width().min(img.height()) as f32 / 28.0).max(1.0)
}

fn stripe(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (w, _, c) = img.dims();
    let width = ((severity.pick(&STRIPE_WIDTH) * unit(img)).round() as usize).clamp(1, w);
    let start = rng.random_range(0..=w - width);
    let mut out = img.clone();
    for row in out.as_bytes_mut().chunks_exact_mut(w * c) {
        for v in &mut row[start * c..(start + width) * c] {
            *v = 255 - *v;
        }
    }
    out
}

/// A canvas for drawing white strokes `thickness` pixels wide.
struct Pen<'a> {
    data: &'a mut [u8],
    w: usize,
    h: usize,
    c: usize,
    thickness: usize,
}

impl Pen<'_> {
    fn dot(&mut self, x: f32, y: f32) {
        let t = self.thickness as isize;
        let (x0, y0) = (x.round() as isize - (t - 1) / 2, y.round() as isize - (t - 1) / 2);
        for yy in y0.max(0)..(y0 + t).min(self.h as isize) {
            for xx in x0.max(0)..(x0 + t).min(self.w as isize) {
                let i = (yy as usize * self.w + xx as usize) * self.c;
                self.data[i..i + self.c].fill(255);
            }
        }
    }

    /// A line from `a` to `b`, one dot per pixel step, keeping every
    /// `every`-th (1 for a solid line).
    fn line(&mut self, a: (f32, f32), b: (f32, f32), every: usize) {
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as usize;
        for i in (0..=steps).step_by(every.max(1)) {
            let t = i as f32 / steps as f32;
            self.dot(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        }
    }
}

/// Two points on opposite edges (top-bottom or left-right, drawn at random).
fn across(rng: &mut Rng, w: usize, h: usize) -> ((f32, f32), (f32, f32)) {
    let (wf, hf) = ((w - 1) as f32, (h - 1) as f32);
    if rng.random::<bool>() {
        ((rng.random_range(0.0..=wf), 0.0), (rng.random_range(0.0..=wf), hf))
    } else {
        ((0.0, rng.random_range(0.0..=hf)), (wf, rng.random_range(0.0..=hf)))
    }
}

fn dotted_line(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (lines, spacing) = severity.pick(&DOTTED);
    let (w, h, c) = img.dims();
    let u = unit(img);
    let mut out = img.clone();
    let mut pen = Pen { data: out.as_bytes_mut(), w, h, c, thickness: u.round() as usize };
    for _ in 0..lines {
        let (a, b) = across(rng, w, h);
        pen.line(a, b, (spacing * u).round() as usize);
    }
    out
}

fn zigzag(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (w, h, c) = img.dims();
    let u = unit(img);
    let mut out = img.clone();
    let mut pen = Pen { data: out.as_bytes_mut(), w, h, c, thickness: u.round() as usize };
    let (wf, hf) = ((w - 1) as f32, (h - 1) as f32);
    for _ in 0..severity.pick(&ZIGZAG_LINES) {
        let segments = rng.random_range(3..=6);
        let amplitude = rng.random_range(0.1..=0.25) * hf;
        let mid = rng.random_range(0.0..=hf);
        let mut prev = (0.0, (mid - amplitude).max(0.0));
        for k in 1..=segments {
            let y = if k % 2 == 1 { mid + amplitude } else { mid - amplitude };
            let next = (wf * k as f32 / segments as f32, y.clamp(0.0, hf));
            pen.line(prev, next, 1);
            prev = next;
        }
    }
    out
}

/// Canny on luma: Gaussian smoothing, Sobel gradients, non-maximum
/// suppression along the gradient, hysteresis between 0.1 and 0.2 of the
/// strongest gradient. Returns 255 on edges, 0 elsewhere, one value a pixel.
pub(crate) fn canny(luma: &[u8], w: usize, h: usize, sigma: f32) -> Vec<u8> {
    let plane: Vec<f32> = luma.iter().map(|&v| f32::from(v)).collect();
    let s = blur_plane(&plane, w, h, sigma);
    let at =
        |x: isize, y: isize| s[y.clamp(0, h as isize - 1) as usize * w + x.clamp(0, w as isize - 1) as usize];
    let mut mag = vec![0.0f32; w * h];
    let mut dir = vec![0u8; w * h];
    for y in 0..h as isize {
        for x in 0..w as isize {
            let gx = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x, y - 1)
                - at(x + 1, y - 1);
            let i = y as usize * w + x as usize;
            mag[i] = gx.hypot(gy);
            // Quantise the gradient direction to 0°, 45°, 90°, 135°.
            let angle = gy.atan2(gx).to_degrees().rem_euclid(180.0);
            dir[i] = (((angle + 22.5) / 45.0) as u8) % 4;
        }
    }
    let peak = mag.iter().copied().fold(0.0f32, f32::max);
    let mut edges = vec![0u8; w * h];
    if peak <= 1e-3 {
        return edges;
    }
    let (low, high) = (0.1 * peak, 0.2 * peak);
    let m = |x: isize, y: isize| {
        if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
            0.0
        } else {
            mag[y as usize * w + x as usize]
        }
    };
    // 0: weak candidate kept, 1: strong.
    let mut state = vec![0u8; w * h];
    let mut stack = Vec::new();
    for y in 0..h as isize {
        for x in 0..w as isize {
            let i = y as usize * w + x as usize;
            let v = mag[i];
            if v < low {
                continue;
            }
            let (dx, dy) = [(1, 0), (1, 1), (0, 1), (-1, 1)][usize::from(dir[i])];
            if v < m(x + dx, y + dy) || v < m(x - dx, y - dy) {
                continue;
            }
            state[i] = if v >= high { 2 } else { 1 };
            if v >= high {
                stack.push(i);
            }
        }
    }
    while let Some(i) = stack.pop() {
        if edges[i] == 255 {
            continue;
        }
        edges[i] = 255;
        let (x, y) = ((i % w) as isize, (i / w) as isize);
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (nx, ny) = (x + dx, y + dy);
                if nx >= 0 && ny >= 0 && nx < w as isize && ny < h as isize {
                    let j = ny as usize * w + nx as usize;
                    if state[j] > 0 && edges[j] == 0 {
                        stack.push(j);
                    }
                }
            }
        }
    }
    edges
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

    #[test]
    fn parameter_tables_match_the_catalog() {
        use crate::catalog::check::assert_param;
        assert_param(&STRIPE.info, "width_px_at_28", STRIPE_WIDTH);
        assert_param(&DOTTED_LINE.info, "lines", DOTTED.map(|r| r.0 as f32));
        assert_param(&DOTTED_LINE.info, "dot_spacing_px_at_28", DOTTED.map(|r| r.1));
        assert_param(&ZIGZAG.info, "lines", ZIGZAG_LINES.map(|n| n as f32));
        assert_param(&CANNY_EDGES.info, "blend", CANNY.map(|r| r.0));
        assert_param(&CANNY_EDGES.info, "sigma_px_at_28", CANNY.map(|r| r.1));
    }

    #[test]
    fn stripe_inverts_exactly_one_band() {
        let img = Image::filled(28, 28, 1, 10);
        let out = stripe(&img, Severity::new(3).expect("valid"), &mut seed::rng(4));
        let row = &out.as_bytes()[..28];
        let inverted: Vec<usize> = (0..28).filter(|&x| row[x] == 245).collect();
        assert_eq!(inverted.len(), 3);
        assert_eq!(inverted[2] - inverted[0], 2, "contiguous");
        assert!(out.as_bytes().chunks(28).all(|r| r == row));
    }

    #[test]
    fn solid_and_dotted_lines() {
        let mut data = vec![0u8; 10];
        let mut pen = Pen { data: &mut data, w: 10, h: 1, c: 1, thickness: 1 };
        pen.line((0.0, 0.0), (9.0, 0.0), 3);
        assert_eq!(data, vec![255, 0, 0, 255, 0, 0, 255, 0, 0, 255]);
        let mut data = vec![0u8; 9];
        let mut pen = Pen { data: &mut data, w: 3, h: 3, c: 1, thickness: 1 };
        pen.line((0.0, 0.0), (2.0, 2.0), 1);
        assert_eq!(data, vec![255, 0, 0, 0, 255, 0, 0, 0, 255]);
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
        let on_left_side = (2..6).any(|x| edges[8 * w + x] == 255);
        assert!(on_left_side);
        // Non-maximum suppression: a thin line, at most 2 px across.
        assert!((0..w).filter(|&x| edges[8 * w + x] == 255).count() <= 4);
        assert_eq!(canny(&[9; 16], 4, 4, 1.0), vec![0; 16], "flat has no edges");
    }
}
