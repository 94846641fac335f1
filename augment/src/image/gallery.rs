//! Contact sheets: what each op does at each severity, on one image.
//!
//! `temper gallery` writes one of these so a user can see an op before
//! training with it. Labels are drawn with a built-in bitmap font.

use super::font::{self, draw_text};
use super::{Image, ImageOp};
use crate::severity::Severity;

/// Space between cells and around the sheet, in pixels.
const GAP: usize = 4;
const BACKGROUND: u8 = 255;
const INK: [u8; 3] = [0, 0, 0];

/// How much a cell is enlarged (nearest neighbour) so small inputs stay
/// readable: x4 up to 32 px, x2 up to 64 px, else x1.
pub fn cell_zoom(image: &Image) -> usize {
    match image.width().max(image.height()) {
        0..=32 => 4,
        33..=64 => 2,
        _ => 1,
    }
}

/// One RGB sheet: a header row with severities 0..5, then a row per op with
/// its name on the left and the op applied at severities 0 (the input) to 5,
/// each cell enlarged by [`cell_zoom`]. Every cell of a row uses `seed`, so
/// columns differ only by severity. Gray inputs are shown as gray RGB.
pub fn contact_sheet(image: &Image, ops: &[&ImageOp], seed: u64) -> Image {
    let zoom = cell_zoom(image);
    let (cw, ch) = (image.width() as usize * zoom, image.height() as usize * zoom);
    let scale = if ch >= 48 { 2 } else { 1 };
    let text_h = font::HEIGHT * scale;
    let label_w = ops
        .iter()
        .map(|op| font::text_width(op.name(), scale))
        .max()
        .unwrap_or(0)
        .max(font::text_width("op", scale));
    let columns = usize::from(Severity::MAX) + 1;
    let header_h = text_h + 2 * GAP;
    let row_h = ch.max(text_h) + GAP;
    let w = GAP + label_w + GAP + columns * (cw + GAP);
    let h = header_h + ops.len() * row_h + GAP;
    let mut rgb = vec![BACKGROUND; w * h * 3];
    let col_x = |s: usize| GAP + label_w + GAP + s * (cw + GAP);
    draw_text(&mut rgb, w, h, GAP, GAP, "op", scale, INK);
    for s in 0..columns {
        let label = s.to_string();
        let x = col_x(s) + cw.saturating_sub(font::text_width(&label, scale)) / 2;
        draw_text(&mut rgb, w, h, x, GAP, &label, scale, INK);
    }
    for (r, op) in ops.iter().enumerate() {
        let y = header_h + r * row_h;
        draw_text(&mut rgb, w, h, GAP, y + ch.saturating_sub(text_h) / 2, op.name(), scale, INK);
        for s in 0..columns {
            let severity = Severity::new(s as i64).unwrap_or(Severity::NONE);
            let cell = op.apply(image, severity, seed);
            blit(&mut rgb, w, &cell, col_x(s), y, zoom);
        }
    }
    Image::new(w as u32, h as u32, 3, rgb).unwrap_or_else(|_| Image::filled(1, 1, 3, BACKGROUND))
}

/// Copies `cell` into the sheet at (x, y), each pixel a `zoom`-square.
fn blit(rgb: &mut [u8], w: usize, cell: &Image, x: usize, y: usize, zoom: usize) {
    let (cw, chh, c) = cell.dims();
    let src = cell.as_bytes();
    for sy in 0..chh * zoom {
        for sx in 0..cw * zoom {
            let i = ((sy / zoom) * cw + sx / zoom) * c;
            let px = if c == 1 { [src[i]; 3] } else { [src[i], src[i + 1], src[i + 2]] };
            let o = ((y + sy) * w + x + sx) * 3;
            rgb[o..o + 3].copy_from_slice(&px);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::find;

    #[test]
    fn sheet_dimensions_follow_the_layout() {
        let img = Image::new(28, 28, 1, (0..784).map(|i| (i % 256) as u8).collect()).expect("valid");
        let ops: Vec<&ImageOp> =
            ["gaussian_noise", "rotate", "elastic_transform"].iter().map(|n| find(n).expect("op")).collect();
        let sheet = contact_sheet(&img, &ops, 1);
        // Cells 112 px (x4), font x2 (14 px tall), longest label 17 chars:
        // label 17·6·2 - 2 = 202; width 4 + 202 + 4 + 6·116 = 906;
        // height (14 + 8) + 3·116 + 4 = 374.
        assert_eq!((sheet.width(), sheet.height(), sheet.channels()), (906, 374, 3));
        // Severity 0 column holds the input, enlarged: its top-left 4x4 block
        // is the first input pixel (0), gray as RGB.
        let w = 906usize;
        let (x0, y0) = (4 + 202 + 4, 22);
        let px = |x: usize, y: usize| &sheet.as_bytes()[(y * w + x) * 3..(y * w + x) * 3 + 3];
        assert_eq!(px(x0 + 3, y0 + 3), &[0, 0, 0]);
        assert_eq!(px(x0 + 4, y0), &[1, 1, 1]);
        assert_eq!(px(0, 0), &[255, 255, 255]);
    }

    #[test]
    fn large_images_are_not_enlarged() {
        let img = Image::filled(100, 80, 3, 50);
        assert_eq!(cell_zoom(&img), 1);
        let sheet = contact_sheet(&img, &[], 0);
        assert_eq!(sheet.height() as usize, 7 * 2 + 8 + 4);
        assert_eq!(sheet.width() as usize, 4 + 22 + 4 + 6 * 104);
    }
}
