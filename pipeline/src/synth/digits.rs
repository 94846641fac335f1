//! Handwriting-like digits, 28x28 gray, drawn from stroke templates.
//!
//! Each digit is a set of polylines in a unit box. Every sample gets its own
//! affine distortion (rotation, scale, shear, shift), control-point jitter,
//! stroke width and ink level, and some are sloppy (a stroke cut short or a
//! stray mark), so a good CNN lands near, not at, 100% as on MNIST.

use rand::Rng;

use augment::seed::{self, Rng as SeedRng};

/// Side of the square image.
pub const SIZE: u32 = 28;

type Stroke = &'static [(f32, f32)];

/// Polylines per digit, in a unit box with y pointing down.
const TEMPLATES: [&[Stroke]; 10] = [
    &[&[
        (0.5, 0.1),
        (0.7, 0.17),
        (0.78, 0.35),
        (0.78, 0.65),
        (0.7, 0.83),
        (0.5, 0.9),
        (0.3, 0.83),
        (0.22, 0.65),
        (0.22, 0.35),
        (0.3, 0.17),
        (0.5, 0.1),
    ]],
    &[&[(0.35, 0.25), (0.55, 0.1), (0.55, 0.9)]],
    &[&[
        (0.25, 0.3),
        (0.32, 0.15),
        (0.5, 0.1),
        (0.68, 0.15),
        (0.74, 0.3),
        (0.68, 0.47),
        (0.25, 0.9),
        (0.78, 0.9),
    ]],
    &[&[
        (0.25, 0.15),
        (0.5, 0.1),
        (0.7, 0.18),
        (0.7, 0.38),
        (0.45, 0.5),
        (0.72, 0.6),
        (0.75, 0.8),
        (0.52, 0.91),
        (0.25, 0.85),
    ]],
    &[&[(0.62, 0.9), (0.62, 0.1), (0.2, 0.65), (0.8, 0.65)]],
    &[&[
        (0.72, 0.1),
        (0.32, 0.1),
        (0.28, 0.45),
        (0.5, 0.4),
        (0.7, 0.5),
        (0.74, 0.72),
        (0.55, 0.9),
        (0.25, 0.85),
    ]],
    &[&[
        (0.68, 0.12),
        (0.45, 0.2),
        (0.3, 0.45),
        (0.28, 0.7),
        (0.4, 0.88),
        (0.6, 0.88),
        (0.72, 0.7),
        (0.62, 0.52),
        (0.42, 0.52),
        (0.3, 0.65),
    ]],
    &[&[(0.22, 0.12), (0.78, 0.12), (0.45, 0.9)]],
    &[
        &[(0.5, 0.1), (0.68, 0.17), (0.7, 0.32), (0.5, 0.48), (0.3, 0.32), (0.32, 0.17), (0.5, 0.1)],
        &[(0.5, 0.48), (0.73, 0.6), (0.74, 0.8), (0.5, 0.91), (0.26, 0.8), (0.27, 0.6), (0.5, 0.48)],
    ],
    &[&[
        (0.7, 0.35),
        (0.6, 0.14),
        (0.42, 0.12),
        (0.3, 0.28),
        (0.38, 0.48),
        (0.58, 0.5),
        (0.7, 0.35),
        (0.66, 0.62),
        (0.6, 0.9),
    ]],
];

/// Renders one sample of `digit` from its own seed.
pub fn render(digit: usize, seed: u64) -> Vec<u8> {
    let mut rng = seed::rng(seed);
    let angle = rng.random_range(-0.3f32..0.3);
    let (sx, sy) = (rng.random_range(0.6f32..1.1), rng.random_range(0.72f32..1.1));
    let shear = rng.random_range(-0.38f32..0.38);
    let (tx, ty) = (rng.random_range(-3.0f32..3.0), rng.random_range(-2.5f32..2.5));
    let width = rng.random_range(0.7f32..1.9);
    let ink = rng.random_range(0.65f32..1.0);
    let (sin, cos) = angle.sin_cos();
    let to_px = |(x, y): (f32, f32)| {
        let (u, v) = ((x - 0.5) * 20.0 * sx, (y - 0.5) * 20.0 * sy);
        let u = u + shear * v;
        (cos * u - sin * v + 14.0 + tx, sin * u + cos * v + 14.0 + ty)
    };
    let mut canvas = vec![0f32; (SIZE * SIZE) as usize];
    let sloppy = rng.random::<f32>();
    for stroke in TEMPLATES[digit % 10] {
        let mut pts: Vec<(f32, f32)> = stroke
            .iter()
            .map(|&(x, y)| to_px((x + rng.random_range(-0.065..0.065), y + rng.random_range(-0.065..0.065))))
            .collect();
        if sloppy < 0.16 && pts.len() > 2 {
            // A stroke cut short: the pen lifted early.
            let keep = rng.random_range(0.45f32..0.9);
            let last = pts.len() - 1;
            let (a, b) = (pts[last - 1], pts[last]);
            pts[last] = (a.0 + (b.0 - a.0) * keep, a.1 + (b.1 - a.1) * keep);
        }
        for seg in pts.windows(2) {
            draw_segment(&mut canvas, seg[0], seg[1], width);
        }
    }
    if sloppy > 0.85 {
        // A stray mark somewhere near the digit.
        let (x, y) = (rng.random_range(4.0f32..24.0), rng.random_range(4.0f32..24.0));
        let (dx, dy) = (rng.random_range(-5.0f32..5.0), rng.random_range(-5.0f32..5.0));
        draw_segment(&mut canvas, (x, y), (x + dx, y + dy), width * 0.8);
    }
    canvas.iter().map(|&v| (v * ink * 255.0).round().clamp(0.0, 255.0) as u8).collect()
}

/// Anti-aliased thick segment: coverage falls off linearly at the edge.
fn draw_segment(canvas: &mut [f32], a: (f32, f32), b: (f32, f32), radius: f32) {
    let n = SIZE as i32;
    let (x0, x1) =
        ((a.0.min(b.0) - radius - 1.0).floor() as i32, (a.0.max(b.0) + radius + 1.0).ceil() as i32);
    let (y0, y1) =
        ((a.1.min(b.1) - radius - 1.0).floor() as i32, (a.1.max(b.1) + radius + 1.0).ceil() as i32);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    for y in y0.max(0)..=y1.min(n - 1) {
        for x in x0.max(0)..=x1.min(n - 1) {
            let (px, py) = (x as f32 - a.0, y as f32 - a.1);
            let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            let d = (ex * ex + ey * ey).sqrt();
            let cover = (radius + 0.5 - d).clamp(0.0, 1.0);
            let cell = &mut canvas[(y * n + x) as usize];
            *cell = cell.max(cover);
        }
    }
}

/// Samples `n` (digit, pixels) pairs with balanced classes in random order.
pub fn generate(n: usize, seed: u64) -> Vec<(usize, Vec<u8>)> {
    let mut order: SeedRng = seed::rng(seed);
    (0..n)
        .map(|i| {
            let digit = order.random_range(0..10usize);
            (digit, render(digit, seed::derive(seed, i as u64, 0, "digits")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_ink_on_black_deterministically() {
        for d in 0..10 {
            let img = render(d, 7);
            assert_eq!(img.len(), 784);
            let lit = img.iter().filter(|&&v| v > 64).count();
            assert!((30..400).contains(&lit), "digit {d} lit {lit}");
            assert_eq!(img, render(d, 7));
            assert_eq!(img[0], 0, "corner stays background");
        }
    }

    #[test]
    fn samples_vary() {
        assert_ne!(render(3, 1), render(3, 2));
    }
}
