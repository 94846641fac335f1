//! Photometric changes (ImageNet-C "weather/digital" brightness, contrast).

use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;

const BRIGHTNESS_SHIFT: [f32; 5] = [0.05, 0.1, 0.15, 0.2, 0.3];
const CONTRAST_FACTOR: [f32; 5] = [0.75, 0.5, 0.4, 0.3, 0.15];

/// `brightness`: adds a constant to HSV value (gray: to the value itself).
pub(crate) const BRIGHTNESS: ImageOp = ImageOp::new(
    OpInfo {
        name: "brightness",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "raises HSV value by a constant, clipped (ImageNet-C, CIFAR-10-C shifts)",
        params: &[Param { name: "value_shift", values: ["+0.05", "+0.10", "+0.15", "+0.20", "+0.30"] }],
    },
    |img, s, _rng: &mut Rng| brightness(img, s.pick(&BRIGHTNESS_SHIFT)),
);

/// `contrast`: pulls every value towards its channel mean.
pub(crate) const CONTRAST: ImageOp = ImageOp::new(
    OpInfo {
        name: "contrast",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "scales values about the per-channel mean (ImageNet-C, CIFAR-10-C factors)",
        params: &[Param { name: "factor", values: ["0.75", "0.50", "0.40", "0.30", "0.15"] }],
    },
    |img, s, _rng: &mut Rng| contrast(img, s.pick(&CONTRAST_FACTOR)),
);

pub(crate) fn brightness(img: &Image, shift: f32) -> Image {
    if img.channels() == 1 {
        return img.map_values(|v| v + shift);
    }
    let mut values = img.to_unit();
    for px in values.chunks_exact_mut(3) {
        let (h, s, v) = rgb_to_hsv(px[0], px[1], px[2]);
        let (r, g, b) = hsv_to_rgb(h, s, (v + shift).clamp(0.0, 1.0));
        px.copy_from_slice(&[r, g, b]);
    }
    img.with_unit(&values)
}

pub(crate) fn contrast(img: &Image, factor: f32) -> Image {
    let c = usize::from(img.channels());
    let values = img.to_unit();
    let n = (values.len() / c).max(1) as f32;
    let mut means = [0.0f32; 3];
    for px in values.chunks_exact(c) {
        for (m, v) in means.iter_mut().zip(px) {
            *m += v;
        }
    }
    means.iter_mut().for_each(|m| *m /= n);
    let out: Vec<f32> =
        values.iter().enumerate().map(|(i, v)| (v - means[i % c]) * factor + means[i % c]).collect();
    img.with_unit(&out)
}

/// RGB in [0,1] to HSV with hue in [0,1).
pub(crate) fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
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
pub(crate) fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_round_trips() {
        for &(r, g, b) in &[(0.2, 0.4, 0.9), (1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.1, 0.8, 0.3)] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            let (r2, g2, b2) = hsv_to_rgb(h, s, v);
            assert!((r - r2).abs() < 1e-5 && (g - g2).abs() < 1e-5 && (b - b2).abs() < 1e-5);
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
}
