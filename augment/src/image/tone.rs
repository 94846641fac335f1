//! Tone-curve augmentations of PIL's ImageOps family, as AutoAugment and
//! AugMix use them: posterize, solarize, equalize, autocontrast, sharpness.
//!
//! All but sharpness are one lookup table per channel. Equalize and
//! autocontrast have no parameter of their own, so severity blends their
//! result with the input.

use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;

const POSTERIZE_BITS: [u8; 5] = [6, 5, 4, 3, 2];
const SOLARIZE_THRESHOLD: [u8; 5] = [224, 192, 160, 128, 96];
const BLEND: [f32; 5] = [0.2, 0.4, 0.6, 0.8, 1.0];
const SHARPNESS: [f32; 5] = [1.2, 1.4, 1.6, 1.8, 2.0];

/// `posterize`: keeps the top 6..2 bits of each value.
pub(crate) const POSTERIZE: ImageOp = ImageOp::new(
    OpInfo {
        name: "posterize",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "keep the top bits of each value (PIL ImageOps.posterize)",
        params: &[Param { name: "bits_kept", values: ["6", "5", "4", "3", "2"] }],
    },
    |img, s, _rng: &mut Rng| {
        let mask = 0xFFu8 << (8 - s.pick(&POSTERIZE_BITS));
        img.map_bytes(|v| v & mask)
    },
);

/// `solarize`: inverts every value at or above the threshold, 224..96.
pub(crate) const SOLARIZE: ImageOp = ImageOp::new(
    OpInfo {
        name: "solarize",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "invert values at or above a threshold (PIL ImageOps.solarize)",
        params: &[Param { name: "threshold", values: ["224", "192", "160", "128", "96"] }],
    },
    |img, s, _rng: &mut Rng| {
        let t = s.pick(&SOLARIZE_THRESHOLD);
        img.map_bytes(|v| if v >= t { 255 - v } else { v })
    },
);

/// `equalize`: per-channel histogram equalisation (PIL's algorithm), blended
/// with the input by 0.2..1.0.
pub(crate) const EQUALIZE: ImageOp = ImageOp::new(
    OpInfo {
        name: "equalize",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "per-channel histogram equalisation blended with the input (PIL ImageOps.equalize)",
        params: &[Param { name: "blend", values: ["0.2", "0.4", "0.6", "0.8", "1.0"] }],
    },
    |img, s, _rng: &mut Rng| blend_luts(img, &equalize_luts(img), s.pick(&BLEND)),
);

/// `autocontrast`: stretches each channel's min..max to 0..255, blended
/// with the input by 0.2..1.0.
pub(crate) const AUTOCONTRAST: ImageOp = ImageOp::new(
    OpInfo {
        name: "autocontrast",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "stretch each channel to the full range, blended with the input (PIL ImageOps.autocontrast)",
        params: &[Param { name: "blend", values: ["0.2", "0.4", "0.6", "0.8", "1.0"] }],
    },
    |img, s, _rng: &mut Rng| blend_luts(img, &autocontrast_luts(img), s.pick(&BLEND)),
);

/// `sharpness`: PIL's ImageEnhance.Sharpness with factor 1.2..2.0: moves
/// away from a 3x3 smoothed copy; the one-pixel border is kept as PIL does.
pub(crate) const SHARPNESS_OP: ImageOp = ImageOp::new(
    OpInfo {
        name: "sharpness",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "sharpen against a 3x3 smoothed copy (PIL ImageEnhance.Sharpness factor)",
        params: &[Param { name: "factor", values: ["1.2", "1.4", "1.6", "1.8", "2.0"] }],
    },
    |img, s, _rng: &mut Rng| sharpness(img, s.pick(&SHARPNESS)),
);

fn histograms(img: &Image) -> Vec<[u32; 256]> {
    let c = usize::from(img.channels());
    let mut hist = vec![[0u32; 256]; c];
    for px in img.as_bytes().chunks_exact(c) {
        for (h, &v) in hist.iter_mut().zip(px) {
            h[usize::from(v)] += 1;
        }
    }
    hist
}

/// PIL's equalize: step = (pixels - count of the last used level) / 255;
/// level i maps to (pixels below i + step / 2) / step.
fn equalize_luts(img: &Image) -> Vec<[u8; 256]> {
    histograms(img)
        .iter()
        .map(|h| {
            let used: Vec<u32> = h.iter().copied().filter(|&n| n > 0).collect();
            let last = used.last().copied().unwrap_or(0);
            let step = (used.iter().sum::<u32>() - last) / 255;
            if step == 0 {
                return std::array::from_fn(|v| v as u8);
            }
            let mut lut = [0u8; 256];
            let mut n = step / 2;
            for (v, slot) in lut.iter_mut().enumerate() {
                *slot = (n / step).min(255) as u8;
                n += h[v];
            }
            lut
        })
        .collect()
}

fn autocontrast_luts(img: &Image) -> Vec<[u8; 256]> {
    histograms(img)
        .iter()
        .map(|h| {
            let lo = h.iter().position(|&n| n > 0).unwrap_or(0);
            let hi = h.iter().rposition(|&n| n > 0).unwrap_or(255);
            if hi <= lo {
                return std::array::from_fn(|v| v as u8);
            }
            let scale = 255.0 / (hi - lo) as f32;
            std::array::from_fn(|v| clamp_u8((v as f32 - lo as f32) * scale))
        })
        .collect()
}

/// Applies `input + amount · (lut(input) - input)` per channel.
fn blend_luts(img: &Image, luts: &[[u8; 256]], amount: f32) -> Image {
    // In 1/65536ths: x + amount · (lut(x) - x), rounded half up.
    let a = (amount * 65536.0).round() as i32;
    let blended: Vec<[u8; 256]> = luts
        .iter()
        .map(|lut| {
            std::array::from_fn(|v| {
                let x = v as i32;
                (x + (((i32::from(lut[v]) - x) * a + 32768) >> 16)).clamp(0, 255) as u8
            })
        })
        .collect();
    img.map_luts(&blended)
}

/// PIL's smooth kernel is [[1,1,1],[1,5,1],[1,1,1]] / 13; the result is
/// `smooth + factor · (img - smooth)` inside a one-pixel border, that is
/// `((1 - f) · ring + (5 + 8f) · centre) / 13` with `ring` the sum of the
/// eight neighbours, here in 12-bit fixed point over whole rows.
pub(crate) fn sharpness(img: &Image, factor: f32) -> Image {
    let (w, h, c) = img.dims();
    let src = img.as_bytes();
    if w < 3 || h < 3 {
        return img.clone();
    }
    let mut out = src.to_vec();
    let ring_w = ((1.0 - factor) / 13.0 * 4096.0).round() as i32;
    let centre_w = ((5.0 + 8.0 * factor) / 13.0 * 4096.0).round() as i32;
    let stride = w * c;
    let n = stride - 2 * c;
    crate::simd::wide(
        #[inline(always)]
        || {
            for y in 1..h - 1 {
                let row = |r: usize, k: usize| &src[r * stride + k * c..][..n];
                let (u0, u1, u2) = (row(y - 1, 0), row(y - 1, 1), row(y - 1, 2));
                let (m0, m1, m2) = (row(y, 0), row(y, 1), row(y, 2));
                let (d0, d1, d2) = (row(y + 1, 0), row(y + 1, 1), row(y + 1, 2));
                let orow = &mut out[y * stride + c..][..n];
                for i in 0..n {
                    let ring = i32::from(u0[i])
                        + i32::from(u1[i])
                        + i32::from(u2[i])
                        + i32::from(m0[i])
                        + i32::from(m2[i])
                        + i32::from(d0[i])
                        + i32::from(d1[i])
                        + i32::from(d2[i]);
                    let v = (ring * ring_w + i32::from(m1[i]) * centre_w + 2048) >> 12;
                    orow[i] = v.clamp(0, 255) as u8;
                }
            }
        },
    );
    img.with_bytes(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::Severity;

    #[test]
    fn parameter_tables_match_the_catalog() {
        use crate::catalog::check::assert_param;
        assert_param(&POSTERIZE.info, "bits_kept", POSTERIZE_BITS.map(f32::from));
        assert_param(&SOLARIZE.info, "threshold", SOLARIZE_THRESHOLD.map(f32::from));
        assert_param(&EQUALIZE.info, "blend", BLEND);
        assert_param(&AUTOCONTRAST.info, "blend", BLEND);
        assert_param(&SHARPNESS_OP.info, "factor", SHARPNESS);
    }

    fn sev(l: i64) -> Severity {
        Severity::new(l).expect("valid")
    }

    fn row(v: &[u8]) -> Image {
        Image::new(v.len() as u32, 1, 1, v.to_vec()).expect("valid")
    }

    #[test]
    fn posterize_and_solarize_by_hand() {
        let img = row(&[0, 63, 64, 200, 255]);
        assert_eq!(POSTERIZE.apply(&img, sev(5), 0).as_bytes(), &[0, 0, 64, 192, 192]);
        assert_eq!(SOLARIZE.apply(&img, sev(4), 0).as_bytes(), &[0, 63, 64, 55, 0]);
    }

    #[test]
    fn equalize_spreads_a_narrow_histogram() {
        let img = row(&[10, 10, 11, 11, 12, 12, 13, 13]);
        let out = EQUALIZE.apply(&img, sev(5), 0);
        // step = (8 - 2) / 255 = 0, so PIL leaves this one alone ...
        assert_eq!(out, img);
        // ... but with 1020 pixels the step is (1020 - 255) / 255 = 3.
        let data: Vec<u8> = (0..1020).map(|i| 10 + (i / 255) as u8).collect();
        let big = Image::new(1020, 1, 1, data).expect("valid");
        let b = EQUALIZE.apply(&big, sev(5), 0).into_bytes();
        assert_eq!([b[0], b[255], b[510], b[765]], [0, 85, 170, 255]);
    }

    #[test]
    fn autocontrast_stretches_and_blends() {
        let img = row(&[50, 100, 152]);
        assert_eq!(AUTOCONTRAST.apply(&img, sev(5), 0).as_bytes(), &[0, 125, 255]);
        // Blend 0.2: 50 -> 40, 100 -> 105, 152 -> 172.6.
        assert_eq!(AUTOCONTRAST.apply(&img, sev(1), 0).as_bytes(), &[40, 105, 173]);
        let flat = row(&[7, 7]);
        assert_eq!(AUTOCONTRAST.apply(&flat, sev(5), 0), flat);
    }

    #[test]
    fn sharpness_pushes_a_peak_up_and_keeps_the_border() {
        let mut data = vec![100u8; 9];
        data[4] = 113;
        let img = Image::new(3, 3, 1, data).expect("valid");
        // smooth = (8 · 100 + 5 · 113) / 13 = 105; 105 + 2 · (113 - 105) = 121.
        let out = sharpness(&img, 2.0).into_bytes();
        assert_eq!(out[4], 121);
        assert_eq!(out[0], 100);
    }
}
