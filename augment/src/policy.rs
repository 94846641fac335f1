//! Augmentation policies: operations applied per sample with a probability
//! and a severity range, reproducibly and in parallel.

use rand::Rng as _;
use rayon::prelude::*;

use crate::image::{Image, ImageOp};
use crate::seed;
use crate::severity::Severity;
use crate::text::{TextContext, TextOp};

/// An operation of either catalog, as a policy sees it.
pub trait Perturb: Sync + 'static {
    /// What the operation takes (an [`Image`] or a `str`).
    type Input: ?Sized + ToOwned + Sync;
    /// User data the operations need (protected spans, tables); `()` for images.
    type Context: Sync + Send + Clone + Default + std::fmt::Debug;
    /// The stable name that seeds its random stream.
    fn name(&self) -> &'static str;
    /// Applies the operation at one severity with one seed.
    fn perturb(
        &self,
        input: &Self::Input,
        severity: Severity,
        seed: u64,
        context: &Self::Context,
    ) -> Owned<Self>;
}

/// The owned output of an operation.
pub type Owned<Op> = <<Op as Perturb>::Input as ToOwned>::Owned;

impl Perturb for ImageOp {
    type Input = Image;
    type Context = ();
    fn name(&self) -> &'static str {
        self.info.name
    }
    fn perturb(&self, input: &Image, severity: Severity, seed: u64, _: &()) -> Image {
        self.apply(input, severity, seed)
    }
}

impl Perturb for TextOp {
    type Input = str;
    type Context = TextContext;
    fn name(&self) -> &'static str {
        self.info.name
    }
    fn perturb(&self, input: &str, severity: Severity, seed: u64, context: &TextContext) -> String {
        self.apply_with(input, severity, seed, context).text
    }
}

/// One step of a policy: apply `op` with probability `p` at a severity drawn
/// uniformly from `min..=max`.
#[derive(Debug)]
pub struct PolicyStep<Op: 'static> {
    /// The operation.
    pub op: &'static Op,
    /// Lowest severity drawn.
    pub min: Severity,
    /// Highest severity drawn.
    pub max: Severity,
    /// Probability of applying this step to a sample, in [0, 1].
    pub p: f32,
}

// Manual impls: a step only borrows its op, so it copies whatever the op is.
impl<Op> Clone for PolicyStep<Op> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<Op> Copy for PolicyStep<Op> {}

/// What a policy did to one sample: each applied op and its severity.
pub type Trace = Vec<(&'static str, Severity)>;

/// An ordered list of steps, applied in order to each sample.
#[derive(Debug)]
pub struct Policy<Op: Perturb> {
    steps: Vec<PolicyStep<Op>>,
    context: Op::Context,
}

impl<Op: Perturb> Clone for Policy<Op> {
    fn clone(&self) -> Self {
        Policy { steps: self.steps.clone(), context: self.context.clone() }
    }
}

impl<Op: Perturb> Default for Policy<Op> {
    fn default() -> Self {
        Policy { steps: Vec::new(), context: Op::Context::default() }
    }
}

impl<Op: Perturb> Policy<Op> {
    /// A policy of these steps, applied in order.
    pub fn new(steps: Vec<PolicyStep<Op>>) -> Self {
        Policy { steps, context: Op::Context::default() }
    }

    /// The same steps with user data for the operations (for text:
    /// protected spans, synonym and replacement tables, keyboard layout).
    pub fn with_context(mut self, context: Op::Context) -> Self {
        self.context = context;
        self
    }

    /// The operations' user data.
    pub fn context(&self) -> &Op::Context {
        &self.context
    }

    /// Whether the policy does nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps.
    pub fn steps(&self) -> &[PolicyStep<Op>] {
        &self.steps
    }

    /// Applies the policy to sample `index` of `epoch`, recording what ran.
    ///
    /// Each step draws from its own stream derived from (run seed, index,
    /// epoch, op name), so the output does not depend on other samples.
    pub fn apply_traced(
        &self,
        input: &Op::Input,
        run_seed: u64,
        index: u64,
        epoch: u64,
    ) -> (Owned<Op>, Trace) {
        let mut current: Owned<Op> = input.to_owned();
        let mut trace = Trace::new();
        for (position, step) in self.steps.iter().enumerate() {
            let stream = seed::derive(run_seed, index, epoch, step.op.name()) ^ position as u64;
            let mut rng = seed::rng(stream);
            if rng.random::<f32>() >= step.p {
                continue;
            }
            let level = rng.random_range(step.min.level()..=step.max.level());
            let severity = Severity::new(i64::from(level)).unwrap_or(Severity::NONE);
            current =
                step.op.perturb(std::borrow::Borrow::borrow(&current), severity, rng.random(), &self.context);
            trace.push((step.op.name(), severity));
        }
        (current, trace)
    }

    /// Applies the policy to one sample.
    pub fn apply(&self, input: &Op::Input, run_seed: u64, index: u64, epoch: u64) -> Owned<Op> {
        self.apply_traced(input, run_seed, index, epoch).0
    }

    /// Applies the policy to a batch in parallel; `indices[i]` is the dataset
    /// index of `inputs[i]`. Equal to applying [`Policy::apply`] one by one.
    pub fn apply_batch<I>(&self, inputs: &[I], indices: &[u64], run_seed: u64, epoch: u64) -> Vec<Owned<Op>>
    where
        I: std::borrow::Borrow<Op::Input> + Sync,
        Owned<Op>: Send,
    {
        inputs
            .par_iter()
            .zip(indices.par_iter())
            .map(|(input, &index)| self.apply(input.borrow(), run_seed, index, epoch))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_policy() -> Policy<ImageOp> {
        let sev = |l| Severity::new(l).expect("valid");
        Policy::new(vec![
            PolicyStep { op: crate::image::find("rotate").expect("op"), min: sev(1), max: sev(5), p: 0.7 },
            PolicyStep {
                op: crate::image::find("gaussian_noise").expect("op"),
                min: sev(2),
                max: sev(3),
                p: 0.5,
            },
        ])
    }

    fn images(n: u32) -> Vec<Image> {
        (0..n)
            .map(|i| {
                Image::new(8, 8, 1, (0..64).map(|j| ((i * 31 + j * 3) % 256) as u8).collect()).expect("valid")
            })
            .collect()
    }

    #[test]
    fn parallel_equals_sequential_whatever_the_order() {
        let policy = image_policy();
        let imgs = images(64);
        let indices: Vec<u64> = (0..64).collect();
        let parallel = policy.apply_batch(&imgs, &indices, 11, 2);
        let sequential: Vec<Image> =
            imgs.iter().enumerate().map(|(i, im)| policy.apply(im, 11, i as u64, 2)).collect();
        assert_eq!(parallel, sequential);
        let reversed: Vec<Image> = imgs.iter().rev().cloned().collect();
        let rev_idx: Vec<u64> = indices.iter().rev().copied().collect();
        let mut again = policy.apply_batch(&reversed, &rev_idx, 11, 2);
        again.reverse();
        assert_eq!(again, sequential);
    }

    #[test]
    fn probability_and_range_are_respected() {
        let policy = image_policy();
        let imgs = images(400);
        let mut rotated = 0;
        for (i, im) in imgs.iter().enumerate() {
            let (_, trace) = policy.apply_traced(im, 5, i as u64, 0);
            for (name, sev) in trace {
                if name == "rotate" {
                    rotated += 1;
                } else {
                    assert!((2..=3).contains(&sev.level()));
                }
            }
        }
        assert!((240..=320).contains(&rotated), "p=0.7 of 400 gave {rotated}");
    }

    #[test]
    fn epochs_draw_fresh_perturbations() {
        let policy = image_policy();
        let img = &images(1)[0];
        let outs: Vec<Image> = (0..6).map(|e| policy.apply(img, 1, 0, e)).collect();
        assert!(outs.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn text_policies_work_on_str() {
        let op = crate::text::find("typo").expect("op");
        let sev = Severity::new(5).expect("valid");
        let policy = Policy::new(vec![PolicyStep { op, min: sev, max: sev, p: 1.0 }]);
        let texts = ["free money now", "meeting at noon"];
        let out = policy.apply_batch(&texts, &[0, 1], 3, 0);
        assert_eq!(out[0], policy.apply("free money now", 3, 0, 0));
        assert_ne!(out[0], "free money now");
    }

    #[test]
    fn text_policies_honour_protected_spans() {
        let sev = Severity::new(5).expect("valid");
        let steps = ["typo", "homoglyph", "char_delete"]
            .iter()
            .map(|n| PolicyStep { op: crate::text::find(n).expect("op"), min: sev, max: sev, p: 1.0 })
            .collect();
        let ctx = TextContext::default().with_protected(&[r"https?://\S+"]).expect("valid regex");
        let policy = Policy::new(steps).with_context(ctx);
        let text = "visit https://example.com/offer today and claim your reward";
        let mut changed = 0;
        for i in 0..50 {
            let out = policy.apply(text, 1, i, 0);
            assert!(out.contains("https://example.com/offer"), "{out}");
            changed += usize::from(out != text);
        }
        assert!(changed > 40, "the unprotected words should still change");
    }
}
