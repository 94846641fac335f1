//! Seed derivation: one independent stream per (run, sample, epoch, op).

use rand::SeedableRng;

/// The random generator every operation uses. Xoshiro256++ is fast and its
/// output is fixed by its algorithm, so a seed means the same on every
/// platform and crate version.
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator for one operation call.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// SplitMix64 finaliser: a bijective mix with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, so an op's name (not its position in a list) selects its stream.
fn hash_name(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3))
}

/// The seed for one sample's use of one operation in one epoch.
///
/// Depends only on its arguments, so the same sample gets the same
/// perturbation whatever thread or batch processes it.
pub fn derive(run_seed: u64, sample_index: u64, epoch: u64, op: &str) -> u64 {
    let mut h = mix(run_seed);
    h = mix(h ^ sample_index);
    h = mix(h ^ epoch.rotate_left(32));
    mix(h ^ hash_name(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_component_changes_the_seed() {
        let base = derive(1, 2, 3, "rotate");
        assert_ne!(base, derive(0, 2, 3, "rotate"));
        assert_ne!(base, derive(1, 3, 3, "rotate"));
        assert_ne!(base, derive(1, 2, 4, "rotate"));
        assert_ne!(base, derive(1, 2, 3, "typo"));
        assert_eq!(base, derive(1, 2, 3, "rotate"));
    }

    #[test]
    fn index_and_epoch_do_not_commute() {
        assert_ne!(derive(7, 1, 2, "x"), derive(7, 2, 1, "x"));
    }
}
