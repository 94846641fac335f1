//! The image buffer all operations share.

use super::planes::{Kernel, Widened, map_blocks, merge, split};

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

    /// An image of this one's shape holding `data` (same length).
    pub(crate) fn with_bytes(&self, data: Vec<u8>) -> Image {
        debug_assert_eq!(data.len(), self.data.len());
        Image { data, ..*self }
    }

    /// The image with every value mapped through one 256-entry table.
    pub(crate) fn map_lut(&self, lut: &[u8; 256]) -> Image {
        self.with_bytes(self.data.iter().map(|&v| lut[usize::from(v)]).collect())
    }

    /// The image with each channel mapped through its own table.
    pub(crate) fn map_luts(&self, luts: &[[u8; 256]]) -> Image {
        match luts {
            [lut] => self.map_lut(lut),
            [r, g, b] if self.channels == 3 => {
                let mut data = vec![0u8; self.data.len()];
                for (o, i) in data.as_chunks_mut::<3>().0.iter_mut().zip(self.data.as_chunks::<3>().0) {
                    *o = [r[usize::from(i[0])], g[usize::from(i[1])], b[usize::from(i[2])]];
                }
                self.with_bytes(data)
            }
            _ => self.clone(),
        }
    }

    /// The image with each RGB pixel mapped by `f`, which sees [`PLANE`]
    /// pixels at a time as three planes (red, green, blue) of `f32` or `i32`
    /// in 0..=255 and writes them back in place; per-lane arithmetic on
    /// planes vectorises where per-pixel code on interleaved bytes does not.
    /// The results are clamped (floats rounded to nearest). Gray images come
    /// back unchanged.
    pub(crate) fn map_rgb_planes<T: Lane>(&self, f: impl Fn(&mut [[T; PLANE]; 3])) -> Image {
        self.map_rgb_kernel(&Widened(f, core::marker::PhantomData))
    }

    /// The image with each block of RGB pixels mapped by `kernel` (see
    /// [`Kernel`]); gray images come back unchanged.
    pub(crate) fn map_rgb_kernel(&self, kernel: &impl Kernel) -> Image {
        if self.channels != 3 {
            return self.clone();
        }
        // Appended, not written into a zeroed buffer, which measured 3-8%
        // slower for the cheap colour ops.
        let mut out = Vec::with_capacity(self.data.len());
        let rest = map_blocks(&self.data, &mut out, kernel);
        if !rest.is_empty() {
            // The last partial block, padded with black.
            let mut planes = split(rest);
            kernel.block(self.data.len() / 3 - rest.len() / 3, &mut planes);
            let mut done = Vec::with_capacity(3 * PLANE);
            merge(&planes, &mut done);
            out.extend_from_slice(&done[..rest.len()]);
        }
        self.with_bytes(out)
    }

    /// The image with every value mapped by `f`; for simple arithmetic the
    /// compiler vectorises this loop, beating a table lookup.
    #[inline(always)]
    pub(crate) fn map_bytes(&self, f: impl Fn(u8) -> u8) -> Image {
        self.with_bytes(self.data.iter().map(|&v| f(v)).collect())
    }

    /// Luma (ITU-R 601, as PIL and OpenCV) per pixel; gray images as they are.
    pub(crate) fn luma(&self) -> Vec<u8> {
        if self.channels == 1 {
            return self.data.clone();
        }
        self.data.as_chunks::<3>().0.iter().map(|&p| luma_of(p) as u8).collect()
    }

    /// The sum of [`Image::luma`] over all pixels, without the buffer.
    pub(crate) fn luma_sum(&self) -> u64 {
        if self.channels == 1 {
            return self.data.iter().map(|&v| u64::from(v)).sum();
        }
        crate::simd::wide(
            #[inline(always)]
            || {
                let mut total = 0u64;
                // u32 partial sums over parts of 4096 pixels cannot overflow.
                for part in self.data.chunks(3 * 4096) {
                    let mut sum = 0u32;
                    for &p in part.as_chunks::<3>().0 {
                        sum += luma_of(p);
                    }
                    total += u64::from(sum);
                }
                total
            },
        )
    }

    /// Width, height and channels as `usize`.
    pub(crate) fn dims(&self) -> (usize, usize, usize) {
        (self.width as usize, self.height as usize, usize::from(self.channels))
    }
}

/// Pixels per block of [`Image::map_rgb_planes`].
pub(crate) const PLANE: usize = 64;

/// A plane value of [`Image::map_rgb_planes`].
pub(crate) trait Lane: Copy + Default + From<u8> {
    /// Back to 8 bits, clamped.
    fn to_u8(self) -> u8;
}

impl Lane for f32 {
    #[inline(always)]
    fn to_u8(self) -> u8 {
        clamp_u8(self)
    }
}

impl Lane for i32 {
    #[inline(always)]
    fn to_u8(self) -> u8 {
        self.clamp(0, 255) as u8
    }
}

impl Lane for u16 {
    #[inline(always)]
    fn to_u8(self) -> u8 {
        self.min(255) as u8
    }
}

/// ITU-R 601 luma of one RGB pixel, rounded, in 0..=255.
#[inline(always)]
pub(crate) fn luma_of([r, g, b]: [u8; 3]) -> u32 {
    (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) + 500) / 1000
}

/// Clamps to [0, 255] and rounds to the nearest 8-bit value (ties to even).
#[inline(always)]
pub(crate) fn clamp_u8(v: f32) -> u8 {
    // Adding 2^23 leaves the rounded integer in the low mantissa bits: a
    // bit cast, which vectorises, where an `as` cast checks each lane for
    // saturation. NaN gives 0.
    ((v.clamp(0.0, 255.0) + 8_388_608.0).to_bits() & 0xFF) as u8
}
