//! Digital artefacts (ImageNet-C "digital" family): pixelate and JPEG.
//!
//! Both lose detail relative to the image size, so CIFAR-10-C's milder table
//! applies below 128 pixels on the short side and ImageNet-C's above.

use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageFormat};

use super::pixels::clamp_u8;
use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;

/// Images at least this many pixels on the short side use ImageNet-C's table.
const LARGE: u32 = 128;
const PIXELATE_SMALL: [f32; 5] = [0.95, 0.9, 0.85, 0.75, 0.65];
const PIXELATE_LARGE: [f32; 5] = [0.6, 0.5, 0.4, 0.3, 0.25];
const JPEG_SMALL: [u8; 5] = [80, 65, 58, 50, 40];
const JPEG_LARGE: [u8; 5] = [25, 18, 15, 10, 7];

/// `pixelate`: box-filter down to `factor` of the size, then back up with
/// nearest neighbour. Factor 0.95..0.65 below 128 px (CIFAR-10-C), 0.6..0.25
/// above (ImageNet-C).
pub(crate) const PIXELATE: ImageOp = ImageOp::new(
    OpInfo {
        name: "pixelate",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "box downsample then nearest upsample (CIFAR-10-C below 128 px, ImageNet-C above)",
        params: &[
            Param { name: "factor_below_128px", values: ["0.95", "0.90", "0.85", "0.75", "0.65"] },
            Param { name: "factor_from_128px", values: ["0.60", "0.50", "0.40", "0.30", "0.25"] },
        ],
    },
    |img, s, _rng: &mut Rng| {
        pixelate(img, s.pick(if is_large(img) { &PIXELATE_LARGE } else { &PIXELATE_SMALL }))
    },
);

/// `jpeg_compression`: encodes and decodes in memory as baseline JPEG at
/// quality 80..40 below 128 px (CIFAR-10-C), 25..7 above (ImageNet-C).
pub(crate) const JPEG_COMPRESSION: ImageOp = ImageOp::new(
    OpInfo {
        name: "jpeg_compression",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "JPEG round trip in memory (CIFAR-10-C qualities below 128 px, ImageNet-C above)",
        params: &[
            Param { name: "quality_below_128px", values: ["80", "65", "58", "50", "40"] },
            Param { name: "quality_from_128px", values: ["25", "18", "15", "10", "7"] },
        ],
    },
    jpeg_compression,
);

fn is_large(img: &Image) -> bool {
    img.width().min(img.height()) >= LARGE
}

/// For each output index, its source span `[start, end)` and per-source
/// weights (area overlap), flattened into one list.
struct BoxAxis {
    spans: Vec<(usize, usize, usize)>,
    weights: Vec<f32>,
}

fn box_axis(src: usize, dst: usize) -> BoxAxis {
    let ratio = src as f32 / dst as f32;
    let mut spans = Vec::with_capacity(dst);
    let mut weights = Vec::new();
    for i in 0..dst {
        let (lo, hi) = (i as f32 * ratio, (i + 1) as f32 * ratio);
        let (start, end) = (lo.floor() as usize, (hi.ceil() as usize).min(src).max(lo.floor() as usize + 1));
        let offset = weights.len();
        for j in start..end {
            let overlap = (hi.min((j + 1) as f32) - lo.max(j as f32)).max(0.0);
            weights.push(overlap / ratio);
        }
        spans.push((start, end, offset));
    }
    BoxAxis { spans, weights }
}

/// Box (area-average) downsample to `factor`, then nearest upsample back.
/// Output rows that read the same small row are copied whole.
pub(crate) fn pixelate(img: &Image, factor: f32) -> Image {
    let (w, h, c) = img.dims();
    let (sw, sh) = (((w as f32 * factor) as usize).max(1), ((h as f32 * factor) as usize).max(1));
    if (sw, sh) == (w, h) {
        return img.clone();
    }
    let (ax, ay) = (box_axis(w, sw), box_axis(h, sh));
    let src = img.as_bytes();
    // Rows first: h x sw, then columns: sh x sw.
    let mut rows = vec![0.0f32; h * sw * c];
    for (row, orow) in src.chunks_exact(w * c).zip(rows.chunks_exact_mut(sw * c)) {
        for (&(start, end, off), o) in ax.spans.iter().zip(orow.chunks_exact_mut(c)) {
            let weights = &ax.weights[off..off + (end - start)];
            if c == 3 {
                let mut acc = [0.0f32; 3];
                for (px, &wt) in row[start * 3..end * 3].as_chunks::<3>().0.iter().zip(weights) {
                    for (a, &v) in acc.iter_mut().zip(px) {
                        *a += wt * f32::from(v);
                    }
                }
                o.copy_from_slice(&acc);
            } else {
                o[0] = row[start..end].iter().zip(weights).map(|(&v, &wt)| wt * f32::from(v)).sum();
            }
        }
    }
    let stride = sw * c;
    let mut small = vec![0u8; sh * stride];
    let mut acc = vec![0.0f32; stride];
    for (&(start, end, off), orow) in ay.spans.iter().zip(small.chunks_exact_mut(stride)) {
        acc.fill(0.0);
        for (j, &wt) in (start..end).zip(&ay.weights[off..]) {
            for (a, &v) in acc.iter_mut().zip(&rows[j * stride..(j + 1) * stride]) {
                *a += wt * v;
            }
        }
        for (o, &a) in orow.iter_mut().zip(&acc) {
            *o = clamp_u8(a);
        }
    }
    let mut out = vec![0u8; src.len()];
    let xs: Vec<usize> = (0..w).map(|x| (x * sw / w).min(sw - 1)).collect();
    let mut last = usize::MAX;
    for y in 0..h {
        let sy = (y * sh / h).min(sh - 1);
        let (done, rest) = out.split_at_mut(y * w * c);
        let orow = &mut rest[..w * c];
        if sy == last {
            orow.copy_from_slice(&done[(y - 1) * w * c..]);
            continue;
        }
        last = sy;
        let srow = &small[sy * stride..(sy + 1) * stride];
        if c == 3 {
            let spx = srow.as_chunks::<3>().0;
            for (px, &x) in orow.as_chunks_mut::<3>().0.iter_mut().zip(&xs) {
                *px = spx[x];
            }
        } else {
            for (o, &x) in orow.iter_mut().zip(&xs) {
                *o = srow[x];
            }
        }
    }
    img.with_bytes(out)
}

fn jpeg_compression(img: &Image, severity: Severity, _rng: &mut Rng) -> Image {
    let quality = severity.pick(if is_large(img) { &JPEG_LARGE } else { &JPEG_SMALL });
    jpeg_round_trip(img, quality).unwrap_or_else(|| img.clone())
}

/// Encodes and decodes in memory; `None` only if the codec refuses the
/// image, which it does not for valid 8-bit gray or RGB.
pub(crate) fn jpeg_round_trip(img: &Image, quality: u8) -> Option<Image> {
    let colour = if img.channels() == 1 { ExtendedColorType::L8 } else { ExtendedColorType::Rgb8 };
    let mut encoded = Vec::new();
    JpegEncoder::new_with_quality(&mut encoded, quality)
        .encode(img.as_bytes(), img.width(), img.height(), colour)
        .ok()?;
    let decoded = image::load_from_memory_with_format(&encoded, ImageFormat::Jpeg).ok()?;
    let bytes =
        if img.channels() == 1 { decoded.to_luma8().into_raw() } else { decoded.to_rgb8().into_raw() };
    (bytes.len() == img.as_bytes().len()).then(|| img.with_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_weights_cover_each_output_once() {
        let axis = box_axis(5, 2);
        // Output 0 covers source [0, 2.5): weights 0.4, 0.4, 0.2.
        assert_eq!(axis.spans[0], (0, 3, 0));
        let w: Vec<f32> = axis.weights[..3].to_vec();
        assert!((w[0] - 0.4).abs() < 1e-6 && (w[2] - 0.2).abs() < 1e-6, "{w:?}");
        let total: f32 = axis.weights.iter().sum();
        assert!((total - 2.0).abs() < 1e-5);
    }

    #[test]
    fn pixelate_halves_into_blocks() {
        let img = Image::new(4, 1, 1, vec![0, 100, 200, 50]).expect("valid");
        // 4 -> 2 (means 50 and 125) -> 4 by nearest.
        assert_eq!(pixelate(&img, 0.5).as_bytes(), &[50, 50, 125, 125]);
    }

    #[test]
    fn jpeg_keeps_a_flat_image_close_and_drops_detail() {
        let flat = Image::filled(16, 16, 3, 120);
        let out = jpeg_round_trip(&flat, 40).expect("codec");
        assert!(out.as_bytes().iter().all(|&v| v.abs_diff(120) <= 2));
        let checker: Vec<u8> = (0..256).map(|i| if (i % 16 + i / 16) % 2 == 0 { 0 } else { 255 }).collect();
        let img = Image::new(16, 16, 1, checker).expect("valid");
        let out = jpeg_round_trip(&img, 10).expect("codec");
        assert_ne!(out, img);
        assert_eq!(out.as_bytes().len(), 256);
    }
}
