//! Choosing which words an op perturbs: the severity's share of the
//! candidates, drawn without replacement as rand's `index::sample` draws
//! them, into stack buffers.

use rand::Rng as _;
use rand::seq::index;

use crate::seed::Rng;
use crate::severity::Severity;

/// Share of eligible words perturbed at severities 1..=5 (at least one word).
pub(crate) const WORD_SHARE: [f32; 5] = [0.1, 0.2, 0.3, 0.4, 0.5];

/// The parameter row every word-level op documents.
pub(crate) const WORD_SHARE_PARAM: crate::catalog::Param =
    crate::catalog::Param { name: "share_of_words", values: ["10%", "20%", "30%", "40%", "50%"] };

/// How many of `n` candidates a severity perturbs: the documented share,
/// rounded up, at least one (none when `n` is 0).
pub(crate) fn share_count(n: usize, severity: Severity) -> usize {
    if n == 0 {
        return 0;
    }
    ((n as f32 * severity.pick(&WORD_SHARE)).ceil() as usize).clamp(1, n)
}

/// Largest sample drawn with Floyd's algorithm into a stack buffer: rand's
/// `index::sample` uses Floyd's algorithm up to this many indices (of at most
/// `u32::MAX`), so the draws and the result are the same as calling it.
const FLOYD_MAX: usize = 11;

/// `k` distinct positions out of `0..n`, sorted, the same as rand's
/// `index::sample` sorted; no allocation for up to [`FLOYD_MAX`] positions.
pub(crate) fn choose(rng: &mut Rng, n: usize, k: usize) -> Small<usize, FLOYD_MAX> {
    let k = k.min(n);
    let mut chosen = Small::new();
    match u32::try_from(n) {
        Ok(length) if k <= FLOYD_MAX => {
            // rand 0.9's `sample_floyd`, draw for draw, kept as a bit set
            // (the same set: a drawn `t` already taken adds `j` instead).
            if length <= 64 {
                let mut set = 0u64;
                for j in length - k as u32..length {
                    let t: u32 = rng.random_range(..=j);
                    set |= 1 << if set >> t & 1 == 1 { j } else { t };
                }
                while set != 0 {
                    chosen.push(set.trailing_zeros() as usize);
                    set &= set - 1;
                }
                return chosen;
            }
            let mut picked = [0u32; FLOYD_MAX];
            let mut len = 0;
            for j in length - k as u32..length {
                let t: u32 = rng.random_range(..=j);
                if let Some(pos) = picked[..len].iter().position(|&x| x == t) {
                    picked[pos] = j;
                }
                picked[len] = t;
                len += 1;
            }
            picked[..len].sort_unstable();
            for &p in &picked[..len] {
                chosen.push(p as usize);
            }
        }
        _ => {
            let mut all = index::sample(rng, n, k).into_vec();
            all.sort_unstable();
            for p in all {
                chosen.push(p);
            }
        }
    }
    chosen
}

/// A vector that keeps its first `N` items on the stack (left
/// uninitialised until pushed, so a large `N` costs nothing up front).
pub(crate) struct Small<T, const N: usize>(smallvec::SmallVec<[T; N]>);

impl<T: Copy + Default, const N: usize> Small<T, N> {
    pub fn new() -> Self {
        Small(smallvec::SmallVec::new())
    }

    #[inline]
    pub fn push(&mut self, item: T) {
        self.0.push(item);
    }

    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng;

    fn sev(level: i64) -> Severity {
        Severity::new(level).expect("valid")
    }

    #[test]
    fn word_share_matches_the_catalog() {
        crate::catalog::check::assert_row("text ops", &WORD_SHARE_PARAM, WORD_SHARE);
        for op in crate::text::ops() {
            crate::catalog::check::assert_param(&op.info, WORD_SHARE_PARAM.name, WORD_SHARE);
        }
    }

    #[test]
    fn share_count_rounds_up_to_at_least_one() {
        assert_eq!(share_count(10, sev(1)), 1);
        assert_eq!(share_count(11, sev(5)), 6);
        assert_eq!(share_count(0, sev(5)), 0);
    }

    #[test]
    fn floyd_sampling_matches_rand() {
        // Up to 64 the set is kept as bits, above as a list.
        for n in 1..90 {
            for k in 0..=n.min(20) {
                for seed in 0..4 {
                    let (mut a, mut b) = (rng(seed), rng(seed));
                    let mut want = index::sample(&mut a, n, k).into_vec();
                    want.sort_unstable();
                    assert_eq!(choose(&mut b, n, k).as_slice(), want.as_slice(), "{n} {k}");
                    assert_eq!(rand::Rng::random::<u64>(&mut a), rand::Rng::random::<u64>(&mut b));
                }
            }
        }
    }

    #[test]
    fn small_spills_to_the_heap() {
        let mut s: Small<usize, 4> = Small::new();
        for i in 0..10 {
            s.push(i);
            assert_eq!(s.as_slice(), (0..=i).collect::<Vec<_>>().as_slice());
        }
    }
}
