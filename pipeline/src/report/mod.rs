//! Human-readable reports of a run: `report.md`, and `report.html` with
//! its SVG charts and examples, both rendered from one section model
//! ([`sections`]). Reports render results; they never run a model.

mod certified;
mod diff;
pub mod html;
mod markdown;
pub mod markup;
pub mod sections;
mod stealing;
pub mod svg;

use crate::eval::examples::Examples;
use crate::run::manifest::Manifest;
use crate::run::metrics::Metrics;

pub use markup::page;

/// Formats a fraction as a percentage with one decimal.
pub fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// `report.md`: the report's sections in Markdown.
pub fn markdown(metrics: &Metrics, manifest: &Manifest, examples: &Examples) -> String {
    markdown::render(&sections::document(metrics, manifest, examples))
}

/// `report.html`: the same sections with charts and the examples.
pub fn html(metrics: &Metrics, manifest: &Manifest, examples: &Examples) -> String {
    html::render(&sections::document(metrics, manifest, examples))
}

/// Reads a PNG or JPEG as a gray image if it has no colour, RGB otherwise.
pub fn read_image(path: &std::path::Path) -> anyhow::Result<augment::Image> {
    let img = image::ImageReader::open(path)?.with_guessed_format()?.decode()?;
    let (w, h) = (img.width(), img.height());
    let out = if img.color().has_color() {
        augment::Image::new(w, h, 3, img.into_rgb8().into_raw())
    } else {
        augment::Image::new(w, h, 1, img.into_luma8().into_raw())
    };
    Ok(out?)
}

/// An image as PNG bytes: gray when it has one channel, RGB otherwise.
pub fn png_bytes(img: &augment::Image) -> anyhow::Result<Vec<u8>> {
    use image::ImageEncoder;
    let color =
        if img.channels() == 1 { image::ExtendedColorType::L8 } else { image::ExtendedColorType::Rgb8 };
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes).write_image(
        img.as_bytes(),
        img.width(),
        img.height(),
        color,
    )?;
    Ok(bytes)
}

/// Writes an image as PNG, atomically.
pub fn write_png(path: &std::path::Path, img: &augment::Image) -> anyhow::Result<()> {
    crate::run::write_atomic(path, &png_bytes(img)?)?;
    Ok(())
}
