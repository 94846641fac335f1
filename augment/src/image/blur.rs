//! Blurs (ImageNet-C "blur" family).

use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;

/// CIFAR-10-C's Gaussian blur sigmas, in pixels (ImageNet-C uses 1..6 at 224px).
const GAUSSIAN_SIGMA: [f32; 5] = [0.4, 0.6, 0.7, 0.8, 1.0];

/// `gaussian_blur`: separable Gaussian filter, edges clamped.
pub(crate) const GAUSSIAN_BLUR: ImageOp = ImageOp::new(
    OpInfo {
        name: "gaussian_blur",
        modality: Modality::Image,
        purpose: Purpose::Corruption,
        summary: "Gaussian blur, edges clamped (ImageNet-C, CIFAR-10-C sigmas in pixels)",
        params: &[Param { name: "sigma_px", values: ["0.4", "0.6", "0.7", "0.8", "1.0"] }],
    },
    |img, s, _rng: &mut Rng| gaussian_blur(img, s.pick(&GAUSSIAN_SIGMA)),
);

/// A normalised 1-D Gaussian kernel of radius ceil(3 sigma).
pub(crate) fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil().max(1.0) as i32;
    let mut k: Vec<f32> =
        (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// Separable Gaussian blur with clamped borders; two passes, two buffers.
pub(crate) fn gaussian_blur(img: &Image, sigma: f32) -> Image {
    let kernel = gaussian_kernel(sigma);
    let src = img.to_unit();
    let tmp = convolve_1d(&src, img, &kernel, true);
    let out = convolve_1d(&tmp, img, &kernel, false);
    img.with_unit(&out)
}

/// One pass of a centred 1-D kernel along rows (`horizontal`) or columns.
pub(crate) fn convolve_1d(src: &[f32], img: &Image, kernel: &[f32], horizontal: bool) -> Vec<f32> {
    let (w, h, c) = (img.width() as i64, img.height() as i64, i64::from(img.channels()));
    let radius = (kernel.len() / 2) as i64;
    let mut out = vec![0.0f32; src.len()];
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                let mut acc = 0.0;
                for (k, weight) in kernel.iter().enumerate() {
                    let d = k as i64 - radius;
                    let (sx, sy) =
                        if horizontal { ((x + d).clamp(0, w - 1), y) } else { (x, (y + d).clamp(0, h - 1)) };
                    acc += weight * src[((sy * w + sx) * c + ch) as usize];
                }
                out[((y * w + x) * c + ch) as usize] = acc;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_is_normalised_and_symmetric() {
        let k = gaussian_kernel(1.0);
        assert_eq!(k.len(), 7);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((k[0] - k[6]).abs() < 1e-9);
    }

    #[test]
    fn blur_keeps_a_flat_image_flat() {
        let img = Image::filled(6, 4, 3, 100);
        assert_eq!(gaussian_blur(&img, 1.0), img);
    }

    #[test]
    fn blur_spreads_a_single_bright_pixel() {
        let mut data = vec![0u8; 25];
        data[12] = 255;
        let img = Image::new(5, 5, 1, data).expect("valid");
        let out = gaussian_blur(&img, 1.0);
        let b = out.as_bytes();
        assert!(b[12] < 255 && b[12] > b[11] && b[11] > 0);
        assert_eq!(b[11], b[13]);
        assert_eq!(b[7], b[17]);
    }
}
