//! Occlusion augmentation: cutout (random erasing).

use rand::Rng as _;

use super::{Image, ImageOp};
use crate::catalog::{Modality, OpInfo, Param, Purpose};
use crate::seed::Rng;
use crate::severity::Severity;

/// Side of the erased square, as a share of the short side.
const CUTOUT_SIDE: [f32; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

/// `cutout`: blacks out a square of 0.1..0.5 of the short side, centred
/// anywhere in the image, so it may be clipped at the border (DeVries and
/// Taylor's cutout).
pub(crate) const CUTOUT: ImageOp = ImageOp::new(
    OpInfo {
        name: "cutout",
        modality: Modality::Image,
        purpose: Purpose::Augmentation,
        tables: &[],
        summary: "black square at a random centre, clipped at the border (cutout / random erasing)",
        params: &[Param { name: "side_x_short_side", values: ["0.1", "0.2", "0.3", "0.4", "0.5"] }],
    },
    cutout,
);

fn cutout(img: &Image, severity: Severity, rng: &mut Rng) -> Image {
    let (w, h, _) = img.dims();
    let side = ((severity.pick(&CUTOUT_SIDE) * w.min(h) as f32).round() as usize).max(1);
    let (cx, cy) = (rng.random_range(0..w), rng.random_range(0..h));
    let (x0, y0) = (cx.saturating_sub(side / 2), cy.saturating_sub(side / 2));
    let (x1, y1) = ((cx + side.div_ceil(2)).min(w), (cy + side.div_ceil(2)).min(h));
    erase(img, x0..x1, y0..y1)
}

/// The image with the rectangle `xs` x `ys` set to black.
pub(crate) fn erase(img: &Image, xs: std::ops::Range<usize>, ys: std::ops::Range<usize>) -> Image {
    let (w, _, c) = img.dims();
    let mut out = img.clone();
    for row in out.as_bytes_mut().chunks_exact_mut(w * c).skip(ys.start).take(ys.len()) {
        row[xs.start * c..xs.end * c].fill(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;

    #[test]
    fn parameter_table_matches_the_catalog() {
        crate::catalog::check::assert_param(&CUTOUT.info, "side_x_short_side", CUTOUT_SIDE);
    }

    #[test]
    fn erase_blacks_out_the_rectangle_only() {
        let img = Image::filled(4, 3, 1, 9);
        let out = erase(&img, 1..3, 1..2);
        assert_eq!(out.as_bytes(), &[9, 9, 9, 9, 9, 0, 0, 9, 9, 9, 9, 9]);
    }

    #[test]
    fn cutout_area_is_at_most_the_square() {
        let img = Image::filled(20, 20, 3, 200);
        for s in 0..20 {
            let out = cutout(&img, Severity::new(5).expect("valid"), &mut seed::rng(s));
            let black = out.as_bytes().iter().filter(|&&v| v == 0).count() / 3;
            assert!((1..=100).contains(&black), "{black}");
        }
    }
}
