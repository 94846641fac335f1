//! Batch-level mixing for training: mixup (Zhang et al., 2018) and cutmix
//! (Yun et al., 2019).
//!
//! These change labels as well as pixels, so they are not catalog ops: each
//! returns the mixed images and, per sample, the partner it was mixed with
//! and the weight `lambda` of its own image. The trainer mixes labels the
//! same way: `target_i = lambda_i · y_i + (1 - lambda_i) · y_partner(i)`
//! ([`Mixed::soft_labels`] does it for class indices).

use rand::Rng as _;
use rand_distr::{Beta, Distribution};

use super::Image;
use super::pixels::clamp_u8;
use crate::seed::{self, Rng};

/// How sample `i` of a mixed batch was made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixPair {
    /// Index (in the batch) of the image mixed into this one.
    pub partner: usize,
    /// Share of this sample's own image, in [0, 1]; the partner has the rest.
    pub lambda: f32,
}

/// A mixed batch: images in input order, and how each was mixed.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixed {
    /// The mixed images, same order, sizes and channels as the input.
    pub images: Vec<Image>,
    /// Partner and weight per image.
    pub pairs: Vec<MixPair>,
}

/// Why a batch cannot be mixed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MixError {
    /// Beta(alpha, alpha) needs a positive, finite alpha.
    #[error("mix alpha must be a positive finite number (got {0})")]
    Alpha(f32),
    /// All images of a batch must share one shape.
    #[error(
        "image {index} is {got_w}x{got_h}x{got_c} but the batch is {want_w}x{want_h}x{want_c}; mixing needs one shape"
    )]
    Shape {
        /// Position of the first odd image.
        index: usize,
        /// Its width, height and channels.
        got_w: u32,
        /// Its height.
        got_h: u32,
        /// Its channels.
        got_c: u8,
        /// The first image's width.
        want_w: u32,
        /// The first image's height.
        want_h: u32,
        /// The first image's channels.
        want_c: u8,
    },
    /// A label list that does not match the batch.
    #[error("got {labels} labels for a batch of {batch}")]
    LabelCount {
        /// Labels given.
        labels: usize,
        /// Images mixed.
        batch: usize,
    },
    /// A class index outside 0..classes.
    #[error("label {label} at position {index} is not below the class count {classes}")]
    LabelRange {
        /// Position in the batch.
        index: usize,
        /// The bad label.
        label: usize,
        /// The class count.
        classes: usize,
    },
}

impl Mixed {
    /// One-hot labels mixed like the images: row i puts `lambda_i` on
    /// `labels[i]` and `1 - lambda_i` on its partner's label.
    pub fn soft_labels(&self, labels: &[usize], classes: usize) -> Result<Vec<Vec<f32>>, MixError> {
        if labels.len() != self.pairs.len() {
            return Err(MixError::LabelCount { labels: labels.len(), batch: self.pairs.len() });
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
            return Err(MixError::LabelRange { index, label, classes });
        }
        Ok(self
            .pairs
            .iter()
            .zip(labels)
            .map(|(pair, &own)| {
                let mut row = vec![0.0f32; classes];
                row[own] += pair.lambda;
                row[labels[pair.partner]] += 1.0 - pair.lambda;
                row
            })
            .collect())
    }
}

fn check(images: &[Image], alpha: f32) -> Result<(), MixError> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(MixError::Alpha(alpha));
    }
    if let Some(first) = images.first() {
        for (index, im) in images.iter().enumerate() {
            if (im.width(), im.height(), im.channels()) != (first.width(), first.height(), first.channels()) {
                return Err(MixError::Shape {
                    index,
                    got_w: im.width(),
                    got_h: im.height(),
                    got_c: im.channels(),
                    want_w: first.width(),
                    want_h: first.height(),
                    want_c: first.channels(),
                });
            }
        }
    }
    Ok(())
}

/// A random permutation (Fisher-Yates), fixed by the generator.
fn permutation(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.random_range(0..=i));
    }
    p
}

/// One Beta(alpha, alpha) draw.
fn beta(alpha: f32, rng: &mut Rng) -> Result<f32, MixError> {
    let dist = Beta::new(alpha, alpha).map_err(|_| MixError::Alpha(alpha))?;
    Ok(dist.sample(rng).clamp(0.0, 1.0))
}

/// Mixup: every image becomes `lambda · own + (1 - lambda) · partner`, with
/// one lambda ~ Beta(alpha, alpha) for the batch and partners from a random
/// permutation (the paper's batch formulation). `alpha` 0.2..0.4 is usual.
pub fn mixup(images: &[Image], alpha: f32, seed: u64) -> Result<Mixed, MixError> {
    check(images, alpha)?;
    let mut rng = seed::rng(seed);
    let lambda = beta(alpha, &mut rng)?;
    let partners = permutation(images.len(), &mut rng);
    let out = images
        .iter()
        .zip(&partners)
        .map(|(im, &p)| {
            let data = im
                .as_bytes()
                .iter()
                .zip(images[p].as_bytes())
                .map(|(&a, &b)| clamp_u8(lambda * f32::from(a) + (1.0 - lambda) * f32::from(b)))
                .collect();
            im.with_bytes(data)
        })
        .collect();
    Ok(Mixed {
        images: out,
        pairs: partners.into_iter().map(|partner| MixPair { partner, lambda }).collect(),
    })
}

/// Cutmix: pastes one box of each partner into each image. The box has
/// area share `1 - lambda` with lambda ~ Beta(alpha, alpha) (alpha 1 in the
/// paper), a uniform random centre, and is clipped at the border; the
/// reported lambda is the share actually kept after clipping.
pub fn cutmix(images: &[Image], alpha: f32, seed: u64) -> Result<Mixed, MixError> {
    check(images, alpha)?;
    let Some(first) = images.first() else {
        return Ok(Mixed { images: Vec::new(), pairs: Vec::new() });
    };
    let mut rng = seed::rng(seed);
    let lambda = beta(alpha, &mut rng)?;
    let partners = permutation(images.len(), &mut rng);
    let (w, h, c) = first.dims();
    let cut = (1.0 - lambda).sqrt();
    let (cw, ch) = ((w as f32 * cut).round() as usize, (h as f32 * cut).round() as usize);
    let (cx, cy) = (rng.random_range(0..w), rng.random_range(0..h));
    let (x0, x1) = (cx.saturating_sub(cw / 2), (cx + cw.div_ceil(2)).min(w));
    let (y0, y1) = (cy.saturating_sub(ch / 2), (cy + ch.div_ceil(2)).min(h));
    let kept = 1.0 - ((x1 - x0) * (y1 - y0)) as f32 / (w * h) as f32;
    let out = images
        .iter()
        .zip(&partners)
        .map(|(im, &p)| {
            let mut data = im.as_bytes().to_vec();
            let src = images[p].as_bytes();
            for y in y0..y1 {
                let span = (y * w + x0) * c..(y * w + x1) * c;
                data[span.clone()].copy_from_slice(&src[span]);
            }
            im.with_bytes(data)
        })
        .collect();
    Ok(Mixed {
        images: out,
        pairs: partners.into_iter().map(|partner| MixPair { partner, lambda: kept }).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Vec<Image> {
        (0..4u8).map(|i| Image::filled(6, 4, 1, i * 60)).collect()
    }

    #[test]
    fn mixup_pixels_follow_lambda_and_partner() {
        let imgs = batch();
        let mixed = mixup(&imgs, 0.4, 9).expect("valid");
        for (i, (im, pair)) in mixed.images.iter().zip(&mixed.pairs).enumerate() {
            let want = clamp_u8(
                pair.lambda * f32::from(imgs[i].as_bytes()[0])
                    + (1.0 - pair.lambda) * f32::from(imgs[pair.partner].as_bytes()[0]),
            );
            assert!(im.as_bytes().iter().all(|&v| v == want));
        }
        let mut partners: Vec<usize> = mixed.pairs.iter().map(|p| p.partner).collect();
        partners.sort_unstable();
        assert_eq!(partners, vec![0, 1, 2, 3], "a permutation");
        assert_eq!(mixed, mixup(&imgs, 0.4, 9).expect("valid"));
    }

    #[test]
    fn cutmix_lambda_is_the_kept_area() {
        let imgs = batch();
        for seed in 0..10 {
            let mixed = cutmix(&imgs, 1.0, seed).expect("valid");
            for (i, (im, pair)) in mixed.images.iter().zip(&mixed.pairs).enumerate() {
                let own = imgs[i].as_bytes()[0];
                let kept = im.as_bytes().iter().filter(|&&v| v == own).count() as f32 / 24.0;
                if pair.partner != i {
                    assert!((kept - pair.lambda).abs() < 1e-6, "seed {seed}: {kept} vs {}", pair.lambda);
                }
            }
        }
    }

    #[test]
    fn soft_labels_split_mass() {
        let mixed = Mixed {
            images: Vec::new(),
            pairs: vec![MixPair { partner: 1, lambda: 0.75 }, MixPair { partner: 0, lambda: 0.75 }],
        };
        let rows = mixed.soft_labels(&[2, 0], 3).expect("valid");
        assert_eq!(rows, vec![vec![0.25, 0.0, 0.75], vec![0.75, 0.0, 0.25]]);
        assert!(matches!(mixed.soft_labels(&[2], 3), Err(MixError::LabelCount { .. })));
        assert!(matches!(mixed.soft_labels(&[2, 3], 3), Err(MixError::LabelRange { index: 1, .. })));
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert_eq!(mixup(&batch(), 0.0, 1).unwrap_err(), MixError::Alpha(0.0));
        assert!(matches!(cutmix(&batch(), f32::NAN, 1), Err(MixError::Alpha(_))));
        let mut odd = batch();
        odd.push(Image::filled(5, 4, 1, 0));
        let err = mixup(&odd, 1.0, 1).unwrap_err();
        assert_eq!(err.to_string(), "image 4 is 5x4x1 but the batch is 6x4x1; mixing needs one shape");
        assert_eq!(cutmix(&[], 1.0, 1).expect("empty is fine").images.len(), 0);
    }
}
