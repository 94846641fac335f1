//! Geometric transforms (MNIST-C style), by inverse mapping with bilinear
//! sampling: one output buffer, no per-pixel allocation.

use rand::Rng as _;

use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;

/// Rotation magnitudes in degrees; MNIST-C draws up to ±30 at its setting.
const ROTATE_DEG: [f32; 5] = [6.0, 12.0, 18.0, 24.0, 30.0];

/// `rotate`: rotation about the centre by ± the table's angle (sign drawn),
/// bilinear, uncovered area filled black.
pub(crate) const ROTATE: ImageOp = ImageOp::new(
    OpInfo {
        name: "rotate",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "rotation about the centre by ±angle (sign random), black fill (MNIST-C)",
        params: &[Param { name: "angle_deg", values: ["±6", "±12", "±18", "±24", "±30"] }],
    },
    rotate,
);

fn rotate(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
    let theta = (sign * severity.pick(&ROTATE_DEG)).to_radians();
    let (sin, cos) = theta.sin_cos();
    // Inverse map: output (x, y) samples input at R(-theta) about the centre.
    warp(img, |x, y| (cos * x + sin * y, -sin * x + cos * y))
}

/// Resamples `img` with `inverse`, which maps centred output coordinates to
/// centred input coordinates. Samples outside the input are black.
pub(crate) fn warp(img: &Image, inverse: impl Fn(f32, f32) -> (f32, f32)) -> Image {
    let (w, h, c) = (img.width() as usize, img.height() as usize, usize::from(img.channels()));
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let src = img.as_bytes();
    let mut out = img.clone();
    let dst = out.as_bytes_mut();
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = inverse(x as f32 - cx, y as f32 - cy);
            let o = (y * w + x) * c;
            sample_bilinear(src, w, h, c, sx + cx, sy + cy, &mut dst[o..o + c]);
        }
    }
    out
}

/// Bilinear sample at (x, y) into `out` (one pixel), zero outside.
fn sample_bilinear(src: &[u8], w: usize, h: usize, c: usize, x: f32, y: f32, out: &mut [u8]) {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let fetch = |xi: f32, yi: f32, ch: usize| -> f32 {
        if xi < 0.0 || yi < 0.0 || xi >= w as f32 || yi >= h as f32 {
            0.0
        } else {
            f32::from(src[(yi as usize * w + xi as usize) * c + ch])
        }
    };
    for (ch, o) in out.iter_mut().enumerate() {
        let top = fetch(x0, y0, ch) * (1.0 - fx) + fetch(x0 + 1.0, y0, ch) * fx;
        let bottom = fetch(x0, y0 + 1.0, ch) * (1.0 - fx) + fetch(x0 + 1.0, y0 + 1.0, ch) * fx;
        *o = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_warp_is_exact() {
        let img = Image::new(3, 2, 1, vec![1, 2, 3, 4, 5, 6]).expect("valid");
        assert_eq!(warp(&img, |x, y| (x, y)), img);
    }

    #[test]
    fn half_turn_reverses_pixels() {
        let img = Image::new(3, 1, 1, vec![10, 20, 30]).expect("valid");
        let out = warp(&img, |x, y| (-x, -y));
        assert_eq!(out.as_bytes(), &[30, 20, 10]);
    }
}
