//! The attack plans of `[[eval.attacks]]` and `[train.adversarial]`: plain
//! data, resolved from the config like every other plan. The engines that
//! run them live in `crate::attack`.

/// Which white-box (gradient) attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackKind {
    /// One signed-gradient step of size ε.
    Fgsm,
    /// Projected gradient descent in the L∞ ball.
    PgdLinf,
    /// Projected gradient descent in the L2 ball.
    PgdL2,
    /// Auto-PGD (Croce & Hein 2020): PGD with momentum that sets its own
    /// step size, AutoAttack's gradient attack.
    Apgd {
        /// The loss it climbs.
        loss: ApgdLoss,
        /// The ball it searches.
        norm: Distance,
    },
    /// FAB-T (Croce & Hein 2020): the smallest perturbation toward each of
    /// the model's next most likely classes, AutoAttack's third attack.
    FabT {
        /// The norm it minimises.
        norm: Distance,
    },
}

/// The loss Auto-PGD climbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApgdLoss {
    /// Cross-entropy.
    CrossEntropy,
    /// The difference of logits ratio: `−(z_y − max_{i≠y} z_i) / (z_π1 − z_π3)`,
    /// unchanged by shifting or scaling the logits, so a model whose
    /// softmax saturates cannot flatten it the way it flattens cross-entropy.
    Dlr,
    /// The targeted DLR, `−(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2)`, aimed
    /// in turn at each of the classes the model ranks next after the top
    /// one (AutoAttack's APGD-T).
    TargetedDlr,
}

impl AttackKind {
    /// Every white-box attack, by config name.
    pub const ALL: [AttackKind; 11] = [
        AttackKind::Fgsm,
        AttackKind::PgdLinf,
        AttackKind::PgdL2,
        AttackKind::Apgd { loss: ApgdLoss::CrossEntropy, norm: Distance::Linf },
        AttackKind::Apgd { loss: ApgdLoss::Dlr, norm: Distance::Linf },
        AttackKind::Apgd { loss: ApgdLoss::CrossEntropy, norm: Distance::L2 },
        AttackKind::Apgd { loss: ApgdLoss::Dlr, norm: Distance::L2 },
        AttackKind::Apgd { loss: ApgdLoss::TargetedDlr, norm: Distance::Linf },
        AttackKind::Apgd { loss: ApgdLoss::TargetedDlr, norm: Distance::L2 },
        AttackKind::FabT { norm: Distance::Linf },
        AttackKind::FabT { norm: Distance::L2 },
    ];

    /// The ones adversarial training may use: one step or a fixed-step PGD.
    pub const TRAINING: [AttackKind; 3] = [AttackKind::Fgsm, AttackKind::PgdLinf, AttackKind::PgdL2];

    /// The config and metrics name.
    pub fn name(self) -> &'static str {
        use {ApgdLoss::*, Distance::*};
        match self {
            AttackKind::Fgsm => "fgsm",
            AttackKind::PgdLinf => "pgd_linf",
            AttackKind::PgdL2 => "pgd_l2",
            AttackKind::Apgd { loss: CrossEntropy, norm: Linf } => "apgd_ce_linf",
            AttackKind::Apgd { loss: Dlr, norm: Linf } => "apgd_dlr_linf",
            AttackKind::Apgd { loss: CrossEntropy, norm: L2 } => "apgd_ce_l2",
            AttackKind::Apgd { loss: Dlr, norm: L2 } => "apgd_dlr_l2",
            AttackKind::Apgd { loss: TargetedDlr, norm: Linf } => "apgd_t_linf",
            AttackKind::Apgd { loss: TargetedDlr, norm: L2 } => "apgd_t_l2",
            AttackKind::FabT { norm: Linf } => "fab_t_linf",
            AttackKind::FabT { norm: L2 } => "fab_t_l2",
        }
    }

    /// Looks a name up.
    pub fn find(name: &str) -> Option<AttackKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The norm perturbations are measured in: L2 for `pgd_l2` and the L2
    /// Auto-PGDs, L∞ otherwise.
    pub fn is_l2(self) -> bool {
        matches!(
            self,
            AttackKind::PgdL2
                | AttackKind::Apgd { norm: Distance::L2, .. }
                | AttackKind::FabT { norm: Distance::L2 }
        )
    }

    /// The classes the attack's loss needs: DLR divides by the gap between
    /// the first and the third logit, the targeted DLR by the gap between
    /// the first and the mean of the third and fourth.
    pub fn min_classes(self) -> usize {
        match self {
            AttackKind::Apgd { loss: ApgdLoss::Dlr, .. } => 3,
            AttackKind::Apgd { loss: ApgdLoss::TargetedDlr, .. } => 4,
            _ => 2,
        }
    }

    /// Whether the attack aims at chosen wrong classes.
    pub fn is_targeted(self) -> bool {
        matches!(self, AttackKind::Apgd { loss: ApgdLoss::TargetedDlr, .. } | AttackKind::FabT { .. })
    }

    /// Whether it sets its own steps' sizes (Auto-PGD, FAB), so PGD's
    /// `step-size` and `random-start` do not apply.
    pub fn sets_own_steps(self) -> bool {
        matches!(self, AttackKind::Apgd { .. } | AttackKind::FabT { .. })
    }

    /// The largest radius a config may ask for, on the [0, 1] pixel scale.
    pub fn max_epsilon(self) -> f64 {
        if self.is_l2() { 1000.0 } else { 1.0 }
    }
}

/// One white-box attack at one ε.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Attack {
    /// Which.
    pub kind: AttackKind,
    /// Radius of the ball, in the attack's norm.
    pub epsilon: f64,
    /// Gradient steps (PGD).
    pub steps: usize,
    /// Step size in the attack's norm, absolute (not a share of ε).
    pub step_size: f64,
    /// Start from a uniformly random point in the ball (PGD).
    pub random_start: bool,
    /// Independent random starts; an example counts as broken if any breaks it.
    pub restarts: usize,
    /// Targeted attacks: how many classes to aim at, the model's next most
    /// likely first; `None`, AutoAttack's 9 or every other class where there
    /// are fewer.
    pub targets: Option<usize>,
}

impl Attack {
    /// The attack with ε and its step size scaled by `share` (an ε ramp).
    pub fn scaled(&self, share: f64) -> Attack {
        Attack { epsilon: self.epsilon * share, step_size: self.step_size * share, ..*self }
    }

    /// The attack at `epsilon` with PGD's settings, `step_share` being the
    /// step size as a share of ε. FGSM is one step of size ε from the clean
    /// input, whatever the PGD settings say (resolution refuses them for it).
    pub fn new(
        kind: AttackKind,
        epsilon: f64,
        steps: usize,
        step_share: f64,
        random_start: bool,
        restarts: usize,
    ) -> Attack {
        match kind {
            AttackKind::Fgsm => {
                return Attack {
                    kind,
                    epsilon,
                    steps: 1,
                    step_size: epsilon,
                    random_start: false,
                    restarts: 1,
                    targets: None,
                };
            }
            // Auto-PGD's first step is 2ε from a random start (the reference's).
            AttackKind::Apgd { .. } => {
                return Attack {
                    kind,
                    epsilon,
                    steps,
                    step_size: 2.0 * epsilon,
                    random_start: true,
                    restarts,
                    targets: None,
                };
            }
            // FAB-T starts at the clean image and sizes its own steps.
            AttackKind::FabT { .. } => {
                return Attack {
                    kind,
                    epsilon,
                    steps,
                    step_size: 0.0,
                    random_start: false,
                    restarts: 1,
                    targets: None,
                };
            }
            AttackKind::PgdLinf | AttackKind::PgdL2 => {}
        }
        Attack {
            kind,
            epsilon,
            steps,
            step_size: step_share * epsilon,
            random_start,
            restarts,
            targets: None,
        }
    }
}

/// Which black-box text attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextAttackKind {
    /// One random swap, substitution, deletion or insertion per word, kept if it helps.
    DeepWordBug,
    /// The most harmful of a space, deletion, swap, look-alike or keyboard typo per word.
    TextBugger,
}

impl TextAttackKind {
    /// Every text attack, by config name.
    pub const ALL: [TextAttackKind; 2] = [TextAttackKind::DeepWordBug, TextAttackKind::TextBugger];

    /// The config and metrics name.
    pub fn name(self) -> &'static str {
        match self {
            TextAttackKind::DeepWordBug => "deepwordbug",
            TextAttackKind::TextBugger => "textbugger",
        }
    }

    /// Looks a name up.
    pub fn find(name: &str) -> Option<TextAttackKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// What a text attack may spend on one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Largest share of the text's words that may change, in (0, 1].
    pub max_word_share: f64,
    /// Most texts sent to the model, the clean one included.
    pub max_queries: usize,
}

impl Budget {
    /// Words that may change in a text of `words` words: ⌊share · words⌋,
    /// so the share is never exceeded.
    pub fn max_words(&self, words: usize) -> usize {
        ((self.max_word_share * words as f64) + 1e-9).floor() as usize
    }
}

/// One `[[eval.attacks]]` entry, resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum AttackPlan {
    /// A gradient attack on images.
    WhiteBox(WhiteBoxPlan),
    /// An edit attack on texts.
    BlackBox(BlackBoxPlan),
    /// The Square Attack on images: random search on the model's scores.
    Square(SquarePlan),
    /// HopSkipJumpAttack on images: a search on the predicted label alone.
    Hsja(HsjaPlan),
    /// AutoAttack's cascade on images: each attack on the rows the earlier
    /// ones left correct.
    AutoAttack(AutoAttackPlan),
}

impl AttackPlan {
    /// The metrics name.
    pub fn name(&self) -> String {
        match self {
            AttackPlan::WhiteBox(p) => p.kind.name().to_owned(),
            AttackPlan::BlackBox(p) => p.kind.name().to_owned(),
            AttackPlan::Square(p) => p.name(),
            AttackPlan::Hsja(p) => p.norm.hsja_name().to_owned(),
            AttackPlan::AutoAttack(p) => p.name().to_owned(),
        }
    }
}

/// An `autoattack_linf` or `autoattack_l2` `[[eval.attacks]]` entry,
/// resolved: AutoAttack's standard cascade (Croce & Hein 2020) in that
/// norm. Auto-PGD with cross-entropy, the targeted Auto-PGD, the targeted
/// FAB, then the Square Attack, each on the rows the earlier ones left
/// correct: the per-row worst case of the four at the cost of little more
/// than the first.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoAttackPlan {
    /// The ball's norm.
    pub norm: Distance,
    /// Radii on the [0, 1] pixel scale.
    pub epsilons: Vec<f64>,
    /// Auto-PGD and FAB iterations, per target for the targeted ones.
    pub steps: usize,
    /// The classes APGD-T and FAB-T aim at (`None`: 9, or every other
    /// class where there are fewer).
    pub targets: Option<usize>,
    /// The Square Attack's queries per row, the clean one included.
    pub max_queries: usize,
    /// How many test rows are attacked (the first ones, in file order).
    pub examples: usize,
}

impl AutoAttackPlan {
    /// The config and metrics name of the L∞ cascade.
    pub const NAME: &'static str = "autoattack_linf";
    /// The config and metrics name of the L2 cascade.
    pub const NAME_L2: &'static str = "autoattack_l2";

    /// The config and metrics name of the cascade in `norm`.
    pub fn base(norm: Distance) -> &'static str {
        match norm {
            Distance::Linf => Self::NAME,
            Distance::L2 => Self::NAME_L2,
        }
    }

    /// Its config and metrics name.
    pub fn name(&self) -> &'static str {
        Self::base(self.norm)
    }

    /// The stages' names in `norm`, in the order they run.
    pub fn stage_names(norm: Distance) -> [&'static str; 4] {
        match norm {
            Distance::Linf => ["apgd_ce_linf", "apgd_t_linf", "fab_t_linf", "square"],
            Distance::L2 => ["apgd_ce_l2", "apgd_t_l2", "fab_t_l2", "square_l2"],
        }
    }

    /// The stages, in the order they run: the two Auto-PGDs and FAB-T at
    /// `epsilon`, then the Square Attack, with AutoAttack's settings.
    pub fn stages(&self, epsilon: f64) -> [Stage; 4] {
        let norm = self.norm;
        let apgd = |loss| Attack {
            targets: self.targets,
            ..Attack::new(AttackKind::Apgd { loss, norm }, epsilon, self.steps, 0.0, true, 1)
        };
        [
            Stage::Gradient(apgd(ApgdLoss::CrossEntropy)),
            Stage::Gradient(apgd(ApgdLoss::TargetedDlr)),
            Stage::Gradient(Attack {
                targets: self.targets,
                ..Attack::new(AttackKind::FabT { norm }, epsilon, self.steps, 0.0, false, 1)
            }),
            Stage::Square(SquarePlan {
                norm,
                epsilons: vec![epsilon],
                max_queries: self.max_queries,
                p_init: SQUARE_P_INIT,
                decimals: None,
                examples: self.examples,
            }),
        ]
    }
}

/// The Square Attack's first squares cover 80% of the image (AutoAttack's
/// setting, the authors' for MNIST and CIFAR).
pub const SQUARE_P_INIT: f64 = 0.8;

/// One attack of a cascade.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// A gradient attack.
    Gradient(Attack),
    /// The Square Attack at its one radius.
    Square(SquarePlan),
}

impl Stage {
    /// The attack's own name.
    pub fn name(&self) -> String {
        match self {
            Stage::Gradient(a) => a.kind.name().to_owned(),
            Stage::Square(p) => p.name(),
        }
    }
}

/// The norm a minimum-distance attack measures its distances in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Euclidean.
    L2,
    /// Largest change of any pixel.
    Linf,
}

impl Distance {
    /// Both, in the order attacks are listed.
    pub const ALL: [Distance; 2] = [Distance::L2, Distance::Linf];

    /// The HopSkipJumpAttack in this norm, as configs and metrics name it.
    pub fn hsja_name(self) -> &'static str {
        match self {
            Distance::L2 => "hsja_l2",
            Distance::Linf => "hsja_linf",
        }
    }

    /// The distance between two images of the same size.
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        self.measure(a.iter().zip(b).map(|(x, y)| x - y))
    }

    /// The size of a perturbation.
    pub fn length(self, d: &[f32]) -> f32 {
        self.measure(d.iter().copied())
    }

    fn measure(self, d: impl Iterator<Item = f32>) -> f32 {
        match self {
            Distance::L2 => d.map(|v| v * v).sum::<f32>().sqrt(),
            Distance::Linf => d.map(f32::abs).fold(0.0, f32::max),
        }
    }
}

/// An `hsja_l2` or `hsja_linf` `[[eval.attacks]]` entry, resolved:
/// HopSkipJumpAttack (Chen, Jordan & Wainwright 2020), which reads only the
/// model's predicted label.
#[derive(Debug, Clone, PartialEq)]
pub struct HsjaPlan {
    /// The norm of the radii and of the search.
    pub norm: Distance,
    /// Radii on the [0, 1] pixel scale; one search per row serves them all.
    pub epsilons: Vec<f64>,
    /// Most images sent to the model per test row, the clean one included.
    pub max_queries: usize,
    /// How many test rows are attacked (the first ones, in file order).
    pub examples: usize,
}

/// A `square` or `square_l2` `[[eval.attacks]]` entry, resolved: the
/// Square Attack (Andriushchenko et al. 2020), which queries the model's
/// scores only.
#[derive(Debug, Clone, PartialEq)]
pub struct SquarePlan {
    /// The ball's norm: L∞ (`square`) or L2 (`square_l2`).
    pub norm: Distance,
    /// Radii on the [0, 1] pixel scale.
    pub epsilons: Vec<f64>,
    /// Most images sent to the model per test row, the clean one included.
    pub max_queries: usize,
    /// Share of the pixels the first squares cover; later ones shrink on
    /// the paper's schedule.
    pub p_init: f64,
    /// What the attacker reads: `None`, the model's logits (the reference
    /// setting); `Some(d)`, class probabilities rounded to `d` decimals, as
    /// an API hardened that way returns them.
    pub decimals: Option<u32>,
    /// How many test rows are attacked (the first ones, in file order).
    pub examples: usize,
}

impl SquarePlan {
    /// The config name of the L∞ attack.
    pub const NAME: &'static str = "square";
    /// The config name of the L2 attack.
    pub const NAME_L2: &'static str = "square_l2";

    /// The config name of the attack in `norm`.
    pub fn base(norm: Distance) -> &'static str {
        match norm {
            Distance::Linf => Self::NAME,
            Distance::L2 => Self::NAME_L2,
        }
    }

    /// The metrics name: `square` (`square_l2`) on logits, `square-2dp`
    /// (`square_l2-2dp`) on probabilities rounded to 2 decimals
    /// (extraction's label for that output).
    pub fn name(&self) -> String {
        let base = Self::base(self.norm);
        match self.decimals {
            None => base.to_owned(),
            Some(d) => format!("{base}-{d}dp"),
        }
    }
}

/// A white-box `[[eval.attacks]]` entry, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct WhiteBoxPlan {
    /// Which attack.
    pub kind: AttackKind,
    /// Radii on the [0, 1] pixel scale (L∞, or L2 for `pgd_l2`).
    pub epsilons: Vec<f64>,
    /// PGD steps.
    pub steps: usize,
    /// PGD step size as a share of ε (Auto-PGD sets its own).
    pub step_size: f64,
    /// PGD random start (Auto-PGD always starts at a random point).
    pub random_start: bool,
    /// PGD restarts.
    pub restarts: usize,
    /// `apgd_t_*`: the classes to aim at (`None`: AutoAttack's 9, or every
    /// other class where there are fewer).
    pub targets: Option<usize>,
    /// How many test rows are attacked (the first ones, in file order).
    pub examples: usize,
}

impl WhiteBoxPlan {
    /// The attack at one ε.
    pub fn at(&self, epsilon: f64) -> Attack {
        Attack {
            targets: self.targets,
            ..Attack::new(self.kind, epsilon, self.steps, self.step_size, self.random_start, self.restarts)
        }
    }
}

/// A black-box `[[eval.attacks]]` entry, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct BlackBoxPlan {
    /// Which attack.
    pub kind: TextAttackKind,
    /// What it may spend per text.
    pub budget: Budget,
    /// How many test rows are attacked (the first ones, in file order).
    pub examples: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fgsm_is_one_full_step_whatever_pgd_says() {
        let a = Attack::new(AttackKind::Fgsm, 0.1, 10, 0.25, true, 3);
        assert_eq!((a.steps, a.step_size, a.random_start, a.restarts), (1, 0.1, false, 1));
        let p = Attack::new(AttackKind::PgdLinf, 0.1, 10, 0.25, true, 3);
        assert_eq!((p.steps, p.random_start, p.restarts), (10, true, 3));
        assert!((p.step_size - 0.025).abs() < 1e-12, "step size is a share of ε");
    }

    #[test]
    fn names_round_trip() {
        for k in AttackKind::ALL {
            assert_eq!(AttackKind::find(k.name()), Some(k));
        }
        for k in TextAttackKind::ALL {
            assert_eq!(TextAttackKind::find(k.name()), Some(k));
        }
        assert_eq!(AttackKind::find("deepwordbug"), None);
    }

    #[test]
    fn the_word_budget_is_never_exceeded() {
        let b = Budget { max_word_share: 0.2, max_queries: 10 };
        assert_eq!((b.max_words(4), b.max_words(5), b.max_words(10)), (0, 1, 2));
    }
}
