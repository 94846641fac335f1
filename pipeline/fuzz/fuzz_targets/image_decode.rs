//! Arbitrary bytes through the image decoder with small limits: an error or
//! an image of exactly the configured shape, never a panic or a huge
//! allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use temper::config::ImageSpec;

fuzz_target!(|data: &[u8]| {
    for channels in [1u8, 3] {
        let spec = ImageSpec {
            channels,
            width: 16,
            height: 12,
            max_pixels: 1 << 16,
            max_side: 1024,
            allow_absolute_paths: false,
        };
        if let Ok(pixels) = temper::data::decode(data, "fuzz", &spec) {
            assert_eq!(pixels.len(), 16 * 12 * usize::from(channels));
        }
    }
});
