//! The resolved, checked experiment: what a run does, with every default
//! filled in and every path absolute.

use std::path::PathBuf;

use augment::{ImageOp, Policy, Severity, TextOp};

use super::attack::{Attack, AttackKind, AttackPlan, Budget, TextAttackKind};
use super::gate::Gate;

/// Images or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Image classification.
    Image,
    /// Text classification.
    Text,
}

impl Modality {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Image => "image",
            Modality::Text => "text",
        }
    }
}

/// Where train and test rows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// Two tables.
    Files {
        /// Training table.
        train: PathBuf,
        /// Test table.
        test: PathBuf,
    },
    /// One table whose `column` says `train` or `test` per row.
    SplitColumn {
        /// The table.
        path: PathBuf,
        /// The column holding `train` / `test`.
        column: String,
    },
    /// One table, a seeded random share held out for testing.
    Fraction {
        /// The table.
        path: PathBuf,
        /// Share of rows in the test set, in (0, 1).
        test_fraction: f64,
    },
}

impl DataSource {
    /// Every table the source reads, for hashing and existence checks.
    pub fn tables(&self) -> Vec<&PathBuf> {
        match self {
            DataSource::Files { train, test } => vec![train, test],
            DataSource::SplitColumn { path, .. } | DataSource::Fraction { path, .. } => vec![path],
        }
    }
}

/// How images are decoded and normalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageSpec {
    /// 1 (gray) or 3 (RGB).
    pub channels: u8,
    /// Width after resizing.
    pub width: u32,
    /// Height after resizing.
    pub height: u32,
    /// Largest decoded image accepted, in pixels (decompression bombs).
    pub max_pixels: u64,
    /// Largest declared width or height accepted, in pixels.
    pub max_side: u32,
    /// Whether absolute image paths are accepted.
    pub allow_absolute_paths: bool,
}

/// `[data]` resolved.
#[derive(Debug, Clone)]
pub struct DataPlan {
    /// Images or text.
    pub modality: Modality,
    /// Tables and split.
    pub source: DataSource,
    /// Column with the image (path or bytes) or the text.
    pub input_column: String,
    /// Column with the class label (string or integer).
    pub label_column: String,
    /// Image decoding (image modality only).
    pub image: ImageSpec,
    /// Text operations' user data (text modality only).
    pub text: TextSpec,
    /// Expected SHA-256 per table: (config key, table, hex digest).
    pub pins: Vec<Pin>,
    /// `on-bad-row = "skip"`: leave out rows with a missing or undecodable
    /// cell (counted in the report) instead of stopping.
    pub skip_bad_rows: bool,
}

/// A pinned table digest: the run refuses to start when the file differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Pin {
    /// `data.sha256.train` etc.
    pub key: String,
    /// The table.
    pub file: PathBuf,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Whether the pin is the digest over the table's referenced image
    /// files (`<table>-images`) rather than the table file itself.
    pub images: bool,
}

/// What text operations need from the user, as configured and as loaded.
#[derive(Debug, Clone, Default)]
pub struct TextSpec {
    /// Regexes whose matches no operation touches.
    pub protected: Vec<String>,
    /// Synonym table file for `synonym`.
    pub synonyms: Option<PathBuf>,
    /// Word mapping file for `replace_words`.
    pub replacements: Option<PathBuf>,
    /// Keyboard layout for `typo`.
    pub keyboard: String,
    /// The loaded context handed to the operations.
    pub context: augment::text::TextContext,
}

/// A convolutional network for images.
#[derive(Debug, Clone, PartialEq)]
pub struct CnnPlan {
    /// Output channels of each conv block (each block halves the size).
    pub conv_channels: Vec<usize>,
    /// Square kernel size (odd).
    pub kernel_size: usize,
    /// Width of the hidden dense layer.
    pub hidden: usize,
    /// Dropout before the classifier.
    pub dropout: f64,
    /// Normalisation after each convolution.
    pub norm: Norm,
}

/// `model.norm`: what follows each convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// Batch norm (Ioffe & Szegedy 2015): mixes the examples of a batch.
    Batch,
    /// Group norm (Wu & He 2018): per example, so DP-SGD can clip each one's gradient.
    Group,
    /// None.
    None,
}

impl Norm {
    /// Every choice.
    pub const ALL: [Norm; 3] = [Norm::Batch, Norm::Group, Norm::None];

    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            Norm::Batch => "batch",
            Norm::Group => "group",
            Norm::None => "none",
        }
    }
}

/// `model.weighting`: how a text's features add up to its vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextWeighting {
    /// Sublinear term frequency times inverse document frequency (from the
    /// training rows), L2-normalised: what a TF-IDF linear model sees.
    TfIdf,
    /// The mean of the features' embeddings, each counted as often as it
    /// occurs (fastText).
    Mean,
}

impl TextWeighting {
    /// Every choice.
    pub const ALL: [TextWeighting; 2] = [TextWeighting::TfIdf, TextWeighting::Mean];

    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            TextWeighting::TfIdf => "tfidf",
            TextWeighting::Mean => "mean",
        }
    }
}

/// A bag of hashed word and character n-grams.
#[derive(Debug, Clone, PartialEq)]
pub struct TextPlan {
    /// Hash buckets (embedding rows).
    pub buckets: usize,
    /// Embedding width.
    pub embedding_dim: usize,
    /// Hidden layer width; 0 for none (a linear model on the bag).
    pub hidden: usize,
    /// Dropout before the classifier.
    pub dropout: f64,
    /// Longest word n-gram (1: words only).
    pub word_ngrams: usize,
    /// How features are weighted.
    pub weighting: TextWeighting,
    /// Shortest character n-gram.
    pub ngram_min: usize,
    /// Longest character n-gram.
    pub ngram_max: usize,
    /// Distinct features kept per text (later new ones are dropped).
    pub max_features: usize,
    /// Words the training rows lack are replaced by their most frequent
    /// training neighbour one edit away before featurising
    /// ([`crate::model::lexicon`]).
    pub word_recognition: bool,
}

/// `[model]` resolved; the variant follows the modality.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelPlan {
    /// Images.
    Cnn(CnnPlan),
    /// Text.
    Text(TextPlan),
}

/// Optimiser choice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// Adam with decoupled-free L2 weight decay.
    Adam,
    /// Adam with decoupled weight decay (Loshchilov & Hutter 2019):
    /// `train.weight-decay` shrinks the weights directly, outside Adam's
    /// per-parameter scaling.
    AdamW,
    /// SGD with momentum.
    Sgd {
        /// Momentum in [0, 1).
        momentum: f64,
    },
}

/// A training-time augmentation policy for the run's modality.
#[derive(Debug, Clone)]
pub enum AugmentPolicy {
    /// Image operations.
    Image(Policy<ImageOp>),
    /// Text operations (boxed: the text context is large).
    Text(Box<Policy<TextOp>>),
}

/// `[train]` resolved.
#[derive(Debug, Clone)]
pub struct TrainPlan {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Adam or SGD.
    pub optimizer: Optimizer,
    /// Step size.
    pub learning_rate: f64,
    /// L2 penalty.
    pub weight_decay: f64,
    /// Per-sample augmentation.
    pub augment: AugmentPolicy,
    /// Also checkpoint every this many batches.
    pub checkpoint_every: Option<usize>,
    /// Also checkpoint when this many minutes passed since the last one.
    pub checkpoint_minutes: f64,
    /// A validation split of the training rows, early stopping and the best
    /// epoch's weights, when configured.
    pub validation: Option<ValidationPlan>,
    /// How the learning rate changes over training.
    pub schedule: Schedule,
    /// Per-class weights of the loss.
    pub class_weights: ClassWeights,
    /// Adversarial training, when configured.
    pub adversarial: Option<AdversarialPlan>,
    /// AugMix with the Jensen-Shannon consistency loss, when configured.
    pub augmix: Option<AugmixPlan>,
    /// `[train.noise]`: Gaussian noise on every training image, when set.
    pub noise: Option<NoisePlan>,
    /// Canaries planted in the training data (`[train.canaries]`).
    pub canaries: Option<CanaryPlan>,
    /// Differentially private training (`[train.privacy]`).
    pub privacy: Option<DpPlan>,
    /// Simulated data poisoning (`[train.poison]`).
    pub poison: Option<PoisonPlan>,
    /// A filter for poisoned rows before the final training (`[train.filter]`).
    pub filter: Option<FilterPlan>,
}

/// `train.validation-share` and `train.patience`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidationPlan {
    /// Share of each class's training rows held out (seeded), never trained on.
    pub share: f64,
    /// Stop after this many epochs without a better validation score; `None`
    /// trains every epoch (and still keeps the best one's weights).
    pub patience: Option<usize>,
    /// `train.select-by = "robust-accuracy"`: the attack each epoch's
    /// validation rows are also scored under, whose accuracy then picks the
    /// epoch kept and watched for patience (Rice et al. 2020: adversarially
    /// trained models overfit in robustness long before in accuracy).
    pub robust: Option<Attack>,
    /// Of the validation rows, how many that attack scores (evenly spaced
    /// through the split, the same every epoch); `None`: all of them.
    pub robust_examples: Option<usize>,
}

/// PGD steps of the validation attack of `train.select-by = "robust-accuracy"`,
/// as Rice et al. validate.
pub const VALIDATION_ATTACK_STEPS: usize = 10;

/// `train.lr-schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Cosine decay from the rate to 0 over all `train.epochs`, per batch
    /// (Loshchilov & Hutter 2017, without restarts).
    Cosine,
}

impl Schedule {
    /// Every choice.
    pub const ALL: [Schedule; 2] = [Schedule::Constant, Schedule::Cosine];

    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Constant => "constant",
            Schedule::Cosine => "cosine",
        }
    }
}

/// `train.class-weights`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassWeights {
    /// Every example counts the same.
    None,
    /// Each class weighs `n / (classes · n_class)` over the rows trained on,
    /// as scikit-learn's `class_weight="balanced"`.
    Balanced,
}

impl ClassWeights {
    /// Every choice.
    pub const ALL: [ClassWeights; 2] = [ClassWeights::None, ClassWeights::Balanced];

    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            ClassWeights::None => "none",
            ClassWeights::Balanced => "balanced",
        }
    }
}

/// A poison filter: a first model is trained on the data as given, and each
/// class's rows are judged by their penultimate-layer features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterPlan {
    /// How rows are judged.
    pub method: FilterMethod,
    /// Whether the flagged rows are dropped before the final training
    /// (otherwise they are only reported); by default only when the poison
    /// is simulated.
    pub drop: bool,
    /// Scoring rounds: each trains a model on the rows the earlier rounds
    /// kept and flags again.
    pub rounds: usize,
}

/// `train.filter.method`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FilterMethod {
    /// Spectral signatures (Tran et al. 2018): in each class, the rows whose
    /// features lie furthest along the top singular direction.
    Spectral {
        /// ε, the largest share of one class's rows that may be poisoned (a
        /// backdoor concentrates its rows in the target class): the filter
        /// flags 1.5 ε of every class, as the paper does.
        expected_rate: f64,
    },
    /// Activation clustering (Chen et al. 2018): each class's features,
    /// reduced to 10 principal components, split by 2-means; the smaller
    /// cluster is flagged when it is small and the split is clean.
    ActivationClustering {
        /// A cluster holding less than this share of its class is suspect.
        size_threshold: f64,
        /// The split must have a silhouette score above this.
        silhouette_threshold: f64,
    },
}

impl FilterMethod {
    /// The name in configs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            FilterMethod::Spectral { .. } => "spectral",
            FilterMethod::ActivationClustering { .. } => "activation_clustering",
        }
    }
}

/// Simulated data poisoning: an attacker who controls some training rows.
#[derive(Debug, Clone, PartialEq)]
pub struct PoisonPlan {
    /// What the attacker does to its rows.
    pub attack: PoisonAttack,
    /// How many rows the attacker controls.
    pub amount: PoisonAmount,
}

/// How many training rows are poisoned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PoisonAmount {
    /// A share of the training rows, in (0, 0.5].
    Rate(f64),
    /// A number of rows.
    Count(usize),
}

/// What a poisoned row becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum PoisonAttack {
    /// The label is changed: to `target` (a class name as in the data), or
    /// to a random other class.
    LabelFlip {
        /// The class every flipped row gets, when set.
        target: Option<String>,
    },
    /// BadNets (Gu et al. 2017): the trigger is stamped on the row and its
    /// label set to `target`; in the clean-label variant (Turner et al.
    /// 2019) only rows of the target class are triggered and keep their label.
    Backdoor {
        /// The attacker's class, as named in the data.
        target: String,
        /// The trigger.
        trigger: Trigger,
        /// Triggered rows keep their true label.
        clean_label: bool,
    },
}

/// A backdoor trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A square patch stamped on the image.
    Patch {
        /// Side in pixels.
        size: u32,
        /// Where.
        corner: Corner,
        /// What it shows.
        pattern: PatchPattern,
        /// 1 pastes the patch; below 1 blends it (Chen et al. 2017).
        opacity: f64,
    },
    /// A token (word or phrase) inserted at a random word boundary.
    Token(String),
}

/// Where a patch is stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom left.
    BottomLeft,
    /// Bottom right (BadNets' placement).
    BottomRight,
}

impl Corner {
    /// Every corner.
    pub const ALL: [Corner; 4] = [Corner::TopLeft, Corner::TopRight, Corner::BottomLeft, Corner::BottomRight];

    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            Corner::TopLeft => "top-left",
            Corner::TopRight => "top-right",
            Corner::BottomLeft => "bottom-left",
            Corner::BottomRight => "bottom-right",
        }
    }
}

/// What a patch shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchPattern {
    /// Alternating white and black pixels (BadNets).
    Checkerboard,
    /// All white.
    White,
}

impl PatchPattern {
    /// Every pattern.
    pub const ALL: [PatchPattern; 2] = [PatchPattern::Checkerboard, PatchPattern::White];

    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            PatchPattern::Checkerboard => "checkerboard",
            PatchPattern::White => "white",
        }
    }
}

/// DP-SGD (Abadi et al. 2016): batches drawn by Poisson sampling with
/// `batch-size` as the expected size, each example's gradient clipped to
/// `max_grad_norm`, Gaussian noise added to their sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpPlan {
    /// C, the bound on each example's gradient norm.
    pub max_grad_norm: f64,
    /// The noise, given or solved from a target ε.
    pub budget: DpBudget,
    /// δ; when absent, the largest power of ten below 1/n for n training rows.
    pub delta: Option<f64>,
}

/// How the noise of DP-SGD is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DpBudget {
    /// σ, the noise standard deviation over the clipping norm.
    NoiseMultiplier(f64),
    /// The ε to spend by the last epoch; σ is solved for before training.
    Epsilon(f64),
}

/// Memorised canaries (Carlini et al. 2019, "The Secret Sharer"): `count`
/// unique synthetic rows with random labels per repeat count, each planted
/// that many times; a group of the same size is made but never planted, as
/// the control.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryPlan {
    /// Canaries per repeat count.
    pub count: usize,
    /// How often each group's canaries are planted, increasing, each ≥ 1.
    pub repeats: Vec<usize>,
    /// Text canaries: other secrets each one's secret is ranked against.
    pub candidates: usize,
}

impl CanaryPlan {
    /// Training rows the canaries add: `count` per group, each planted its group's number of times.
    pub fn planted_rows(&self) -> usize {
        self.count * self.repeats.iter().sum::<usize>()
    }
}

/// `[train.noise]` resolved: the Gaussian data augmentation randomized
/// smoothing's base classifier needs (Cohen et al. 2019).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoisePlan {
    /// Standard deviation on the [0, 1] pixel scale; not clipped.
    pub sigma: f64,
    /// Noisy copies of each image a step trains on (the batch's rows
    /// times `copies` inputs); 1 unless consistency asks for more.
    pub copies: usize,
    /// The consistency regulariser over the copies, when configured.
    pub consistency: Option<ConsistencyPlan>,
    /// MACER's loss over the copies instead of their cross-entropy, when configured.
    pub macer: Option<MacerPlan>,
}

/// `[train.noise.macer]` resolved (Zhai et al. 2020): the cross-entropy of
/// the copies' mean prediction plus a hinge on the certified radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacerPlan {
    /// λ, the weight of the radius term.
    pub weight: f64,
    /// γ, the hinge's margin on Φ⁻¹(p₁) − Φ⁻¹(p₂): rows beyond it no longer count.
    pub margin: f64,
    /// β, the inverse temperature of the softmax the radius is measured on.
    pub beta: f64,
}

impl NoisePlan {
    /// Whether a step trains on the copies' loss (several copies, or
    /// MACER's loss even over one) rather than plain cross-entropy.
    pub fn trains_on_copies(&self) -> bool {
        self.copies > 1 || self.macer.is_some()
    }
}

/// `[train.noise.consistency]` resolved (Jeong & Shin 2020): the copies'
/// predictions are pulled towards their mean, which is kept confident.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsistencyPlan {
    /// λ, the weight of the mean KL divergence from the copies' mean prediction.
    pub weight: f64,
    /// η, the weight of that mean prediction's entropy.
    pub entropy: f64,
}

/// `[train.augmix]` resolved (Hendrycks et al. 2020).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AugmixPlan {
    /// Severity of the chained operations in each view.
    pub severity: Severity,
    /// λ, the weight of the consistency term.
    pub jsd_weight: f64,
}

/// `[train.adversarial]` resolved: part of each batch replaced by
/// adversarial versions made against the current weights.
#[derive(Debug, Clone, PartialEq)]
pub struct AdversarialPlan {
    /// How the adversarial examples are made.
    pub method: AdversarialMethod,
    /// Share of each batch replaced by its adversarial version.
    pub ratio: f64,
    /// Epochs trained on clean data first.
    pub warmup_epochs: usize,
    /// Image attacks: epochs over which ε grows linearly to its value,
    /// from the first that attacks (0: none).
    pub ramp_epochs: usize,
    /// Adversarial weight perturbation on top of the attack, when set.
    pub awp: Option<AwpPlan>,
}

/// Adversarial weight perturbation (Wu et al. 2020): each step's gradient
/// is taken at weights pushed up the training loss, layer by layer by
/// `gamma` times the layer's norm, so training finds weights whose robust
/// loss stays low around them, not only at them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AwpPlan {
    /// γ: each weight's push as a share of its norm.
    pub gamma: f64,
    /// Epochs from the start of training without the perturbation.
    pub warmup_epochs: usize,
}

impl AdversarialPlan {
    /// The perturbation's γ in `epoch` (0-based): set once both the attack's
    /// and the perturbation's warm-ups are over.
    pub fn awp_gamma(&self, epoch: usize) -> Option<f64> {
        self.awp.filter(|w| epoch >= w.warmup_epochs.max(self.warmup_epochs)).map(|w| w.gamma)
    }

    /// The share of ε the attack uses in `epoch` (0-based): k / ramp in the
    /// k-th epoch that attacks, as Salman et al.'s `--warmup` warms SmoothAdv
    /// up, so a model not yet robust is not pushed at full ε.
    pub fn ramp(&self, epoch: usize) -> f64 {
        if self.ramp_epochs == 0 {
            return 1.0;
        }
        let k = epoch.saturating_sub(self.warmup_epochs) + 1;
        (k as f64 / self.ramp_epochs as f64).min(1.0)
    }
}

/// Where adversarial training examples come from.
#[derive(Debug, Clone)]
pub enum AdversarialMethod {
    /// Images: a gradient attack (Madry et al.'s PGD training), absolute step size.
    Gradient(Attack),
    /// Images: SmoothAdv (Salman et al. 2019), PGD under L2 on the smoothed
    /// classifier `[train.noise]` trains; every row then gets that noise.
    SmoothAdv {
        /// L2 radius.
        epsilon: f64,
        /// PGD steps, each 2·ε / steps long.
        steps: usize,
        /// Noise draws whose softmax the attack averages.
        samples: usize,
    },
    /// Images: a loss over every clean image and an adversarial version
    /// beside it, TRADES's or MART's. The attack (PGD, absolute step size)
    /// starts 0.001·N(0, 1) off the clean image.
    Paired {
        /// Which loss, and with it what the attack ascends.
        loss: PairedLoss,
        /// Norm, radius, steps and step size of the inner maximisation.
        attack: Attack,
        /// β, the weight of the robustness term.
        beta: f64,
    },
    /// Texts: a cheap black-box edit attack on the most important words
    /// (A2T-style, Yoo & Qi 2021), with the run's protected spans.
    Edits {
        /// Which edit attack.
        kind: TextAttackKind,
        /// Word share and query budget per text.
        budget: Budget,
        /// Protected spans and keyboard layout.
        context: Box<augment::text::TextContext>,
    },
}

/// The losses of [`AdversarialMethod::Paired`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairedLoss {
    /// TRADES (Zhang et al. 2019): the clean cross-entropy plus β·KL(clean ‖
    /// adversarial); the attack ascends that divergence.
    Trades,
    /// MART (Wang et al. 2020): the boosted cross-entropy of the adversarial
    /// prediction plus β·KL weighted by how unsure the clean prediction is
    /// of the label; the attack ascends the cross-entropy.
    Mart,
}

impl PairedLoss {
    /// Its `train.adversarial.attack` names.
    pub const ATTACKS: [&'static str; 3] = ["trades_linf", "trades_l2", "mart_linf"];

    /// The loss and PGD norm an attack name asks for. MART's reference
    /// attacks under L∞ only.
    pub fn find(name: &str) -> Option<(PairedLoss, AttackKind)> {
        match name {
            "trades_linf" => Some((PairedLoss::Trades, AttackKind::PgdLinf)),
            "trades_l2" => Some((PairedLoss::Trades, AttackKind::PgdL2)),
            "mart_linf" => Some((PairedLoss::Mart, AttackKind::PgdLinf)),
            _ => None,
        }
    }

    /// The attack name of this loss under an L2 (else L∞) attack.
    pub fn attack_name(self, l2: bool) -> &'static str {
        match (self, l2) {
            (PairedLoss::Trades, false) => "trades_linf",
            (PairedLoss::Trades, true) => "trades_l2",
            (PairedLoss::Mart, _) => "mart_linf",
        }
    }

    /// The method's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            PairedLoss::Trades => "TRADES",
            PairedLoss::Mart => "MART",
        }
    }
}

/// Equal methods make the same examples; the text context is the data
/// section's, compared there.
impl PartialEq for AdversarialMethod {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (AdversarialMethod::Gradient(a), AdversarialMethod::Gradient(b)) => a == b,
            (
                AdversarialMethod::Paired { loss: l, attack: a, beta: x },
                AdversarialMethod::Paired { loss: m, attack: b, beta: y },
            ) => l == m && a == b && x == y,
            (
                AdversarialMethod::SmoothAdv { epsilon: a, steps: s, samples: m },
                AdversarialMethod::SmoothAdv { epsilon: b, steps: t, samples: n },
            ) => a == b && s == t && m == n,
            (
                AdversarialMethod::Edits { kind: a, budget: x, .. },
                AdversarialMethod::Edits { kind: b, budget: y, .. },
            ) => a == b && x == y,
            _ => false,
        }
    }
}

/// `[eval]` resolved.
#[derive(Debug, Clone)]
pub struct EvalPlan {
    /// Operations evaluated at every severity 1..=5.
    pub corruptions: Vec<&'static str>,
    /// `eval.corruption-table`: the benchmark parameter tables asked for.
    pub corruption_table: augment::TableChoice,
    /// The table each corruption with benchmark tables uses, in
    /// `corruptions` order; ops without tables are absent.
    pub tables: Vec<(&'static str, augment::Table)>,
    /// Inference batch size.
    pub batch_size: usize,
    /// White-box attacks (image models) or black-box ones (text models).
    pub attacks: Vec<AttackPlan>,
    /// Run directory whose corruption errors normalise mCE.
    pub mce_baseline: Option<PathBuf>,
    /// Membership inference (`[[eval.privacy]]`), when configured.
    pub privacy: Option<PrivacyPlan>,
    /// Model extraction (`[[eval.extraction]]`), one entry per API output mode.
    pub extraction: Vec<ExtractionPlan>,
    /// Certification by randomized smoothing (`[eval.certify]`), when configured.
    pub certify: Option<CertifyPlan>,
}

/// `[eval.certify]` resolved: Cohen et al.'s CERTIFY at each noise level.
#[derive(Debug, Clone, PartialEq)]
pub struct CertifyPlan {
    /// Noise standard deviations in pixel units ([0, 1] images), each its own cell.
    pub sigmas: Vec<f64>,
    /// Noisy samples that pick the class to certify.
    pub n0: usize,
    /// Noisy samples that bound its probability.
    pub n: usize,
    /// Chance a certificate is wrong (the confidence bound's level is 1 − α).
    pub alpha: f64,
    /// Test rows certified (the first ones).
    pub examples: usize,
    /// L2 radii at which certified accuracy is reported, increasing.
    pub radii: Vec<f64>,
    /// Noisy copies per model call.
    pub batch: usize,
    /// SmoothAdv on the smoothed classifier (`[eval.certify.attack]`), when configured.
    pub attack: Option<SmoothAttackPlan>,
}

/// `[eval.certify.attack]` resolved: Salman et al.'s SmoothAdv PGD at each
/// of the plan's radii, then PREDICT on the adversarial images.
#[derive(Debug, Clone, PartialEq)]
pub struct SmoothAttackPlan {
    /// PGD steps, each of L2 length 2·radius / steps.
    pub steps: usize,
    /// Noise draws whose softmax the attack averages (Salman et al.'s m).
    pub samples: usize,
    /// Test rows attacked: the first ones, all of them certified too.
    pub examples: usize,
}

/// What a prediction API returns for one query (`[[eval.extraction]].output`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ApiOutput {
    /// The predicted class only.
    Top1,
    /// The `k` most likely classes, most likely first, without scores.
    TopK(usize),
    /// Every class probability, rounded to `decimals` places when set.
    Probabilities {
        /// Decimal places kept; `None` keeps full precision.
        decimals: Option<u32>,
    },
}

impl ApiOutput {
    /// The name in configs: `top-1`, `top-k`, `probabilities`.
    pub fn kind(self) -> &'static str {
        match self {
            ApiOutput::Top1 => "top-1",
            ApiOutput::TopK(_) => "top-k",
            ApiOutput::Probabilities { .. } => "probabilities",
        }
    }

    /// The key in metrics and reports: `top-1`, `top-3`, `probabilities`,
    /// `probabilities-2dp`.
    pub fn label(self) -> String {
        match self {
            ApiOutput::Top1 => "top-1".to_owned(),
            ApiOutput::TopK(k) => format!("top-{k}"),
            ApiOutput::Probabilities { decimals: None } => "probabilities".to_owned(),
            ApiOutput::Probabilities { decimals: Some(d) } => format!("probabilities-{d}dp"),
        }
    }
}

/// Where the thief's queries come from (`[[eval.extraction]].queries`).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryPool {
    /// Natural data: test rows not used to measure the surrogate, unlabelled.
    Test,
    /// `seed-rows` of those rows, each query one of them under catalog
    /// augmentations (Knockoff Nets' synthetic queries).
    Synthetic {
        /// Distinct natural rows the queries are made from.
        seed_rows: usize,
    },
    /// The input column of a table the user gives (labels, if any, unread).
    Table {
        /// The table file.
        path: PathBuf,
    },
}

impl QueryPool {
    /// The name in configs.
    pub fn name(&self) -> &'static str {
        match self {
            QueryPool::Test => "test",
            QueryPool::Synthetic { .. } => "synthetic",
            QueryPool::Table { .. } => "table",
        }
    }
}

/// One prediction API and the thief who copies the model through it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractionPlan {
    /// What each answer reveals.
    pub output: ApiOutput,
    /// Query budgets, ascending; one surrogate is trained per budget.
    pub budgets: Vec<usize>,
    /// Where queries come from.
    pub queries: QueryPool,
    /// The first test rows, on which surrogates are measured (never queried).
    pub examples: usize,
    /// Surrogate width relative to the victim's layers.
    pub width: f64,
    /// Optimiser steps per surrogate, whatever its budget.
    pub steps: usize,
    /// L∞ ε of PGD-10 on the largest surrogate, replayed on the victim (images).
    pub transfer_epsilons: Vec<f64>,
}

/// A membership-inference attack (`[[eval.privacy]].attack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivacyAttackKind {
    /// Yeom et al. 2018: a low loss means a member.
    Loss,
    /// Watson et al. 2022: the loss minus the reference models' mean loss on
    /// the same example (difficulty calibration).
    CalibratedLoss,
    /// Carlini et al. 2022, offline: the logit-scaled confidence against a
    /// Gaussian fit of the reference models' (which never saw the example).
    Lira,
}

impl PrivacyAttackKind {
    /// Every attack, in report order.
    pub const ALL: [PrivacyAttackKind; 3] =
        [PrivacyAttackKind::Loss, PrivacyAttackKind::CalibratedLoss, PrivacyAttackKind::Lira];

    /// The name in configs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            PrivacyAttackKind::Loss => "loss",
            PrivacyAttackKind::CalibratedLoss => "calibrated_loss",
            PrivacyAttackKind::Lira => "lira",
        }
    }

    /// The attack with this name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether it needs reference models.
    pub fn needs_references(self) -> bool {
        self != PrivacyAttackKind::Loss
    }
}

/// How LiRA estimates the spread of the reference models' confidences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variance {
    /// One variance over every example: the paper's choice for few references.
    Global,
    /// Each example's own.
    PerExample,
}

impl Variance {
    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            Variance::Global => "global",
            Variance::PerExample => "per-example",
        }
    }
}

/// One configured membership-inference attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivacyAttack {
    /// Which attack.
    pub kind: PrivacyAttackKind,
    /// Reference models it uses (0 for `loss`).
    pub references: usize,
    /// LiRA's variance estimate.
    pub variance: Variance,
}

/// Membership inference: who is held out, how many are attacked, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivacyPlan {
    /// Share of the training table held out as non-members, never trained on.
    pub holdout: f64,
    /// Members and non-members attacked (each; fewer if the holdout is smaller).
    pub examples: usize,
    /// The attacks, in config order.
    pub attacks: Vec<PrivacyAttack>,
}

impl PrivacyPlan {
    /// Reference models to train: the most any attack uses.
    pub fn references(&self) -> usize {
        self.attacks.iter().map(|a| a.references).max().unwrap_or(0)
    }
}

impl EvalPlan {
    /// The table corruption `name` uses, if it has tables.
    pub fn table(&self, name: &str) -> Option<augment::Table> {
        self.tables.iter().find(|(op, _)| *op == name).map(|&(_, t)| t)
    }
}

/// One experiment, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The config file it came from.
    pub source: PathBuf,
    /// Run name (folder under `runs/`).
    pub name: String,
    /// Master seed: initialisation, shuffling, augmentation, evaluation.
    pub seed: u64,
    /// Requested device (`cpu`, `auto`, ...).
    pub device: String,
    /// Data.
    pub data: DataPlan,
    /// Model.
    pub model: ModelPlan,
    /// Training.
    pub train: TrainPlan,
    /// Evaluation.
    pub eval: EvalPlan,
    /// Robustness gate checked after the run is written.
    pub gate: Option<GatePlan>,
}

/// `[gate]` resolved.
#[derive(Debug, Clone)]
pub struct GatePlan {
    /// The baseline run directory (or `runs/<name>/latest`).
    pub baseline: PathBuf,
    /// Gates, each "<metric> <op> <points>".
    pub fail_if: Vec<Gate>,
}
