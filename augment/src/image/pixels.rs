//! The image buffer all operations share.

/// An 8-bit image, channels interleaved (HWC), 1 (gray) or 3 (RGB) channels.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Image {
    width: u32,
    height: u32,
    channels: u8,
    data: Vec<u8>,
}

/// A buffer that does not describe a valid image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Only gray and RGB are supported.
    #[error("images must have 1 or 3 channels (got {0})")]
    Channels(u8),
    /// The buffer length does not match width × height × channels.
    #[error("a {width}x{height}x{channels} image needs {expected} bytes (got {actual})")]
    Length {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Channel count.
        channels: u8,
        /// width × height × channels.
        expected: usize,
        /// The buffer's length.
        actual: usize,
    },
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({}x{}x{})", self.width, self.height, self.channels)
    }
}

impl Image {
    /// Wraps an interleaved buffer, checking its length.
    pub fn new(width: u32, height: u32, channels: u8, data: Vec<u8>) -> Result<Self, ImageError> {
        if channels != 1 && channels != 3 {
            return Err(ImageError::Channels(channels));
        }
        let expected = width as usize * height as usize * usize::from(channels);
        if data.len() != expected {
            return Err(ImageError::Length { width, height, channels, expected, actual: data.len() });
        }
        Ok(Image { width, height, channels, data })
    }

    /// An image of one value. Panics only on an invalid channel count, which
    /// is a programming error inside this crate.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn filled(width: u32, height: u32, channels: u8, value: u8) -> Self {
        let n = width as usize * height as usize * usize::from(channels);
        Image { width, height, channels, data: vec![value; n] }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// 1 (gray) or 3 (RGB).
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// Whether the image has no pixels.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The interleaved bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Mutable interleaved bytes (same length).
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// The interleaved bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.data
    }

    /// The image with every byte mapped through `f` (per channel value).
    pub(crate) fn map_values(&self, f: impl Fn(f32) -> f32) -> Image {
        let data = self.data.iter().map(|&v| to_u8(f(f32::from(v) / 255.0))).collect();
        Image { data, ..*self }
    }

    /// Values as floats in [0, 1], interleaved.
    pub(crate) fn to_unit(&self) -> Vec<f32> {
        self.data.iter().map(|&v| f32::from(v) / 255.0).collect()
    }

    /// An image of this one's shape from floats in [0, 1] (clamped, rounded).
    pub(crate) fn with_unit(&self, values: &[f32]) -> Image {
        debug_assert_eq!(values.len(), self.data.len());
        Image { data: values.iter().map(|&v| to_u8(v)).collect(), ..*self }
    }
}

/// Clamps to [0, 1] and rounds to the nearest 8-bit value.
pub(crate) fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}
