//! `[model]`: a CNN for images, an n-gram bag for texts.

use super::check::{Check, FloatRange};
use crate::config::error::ConfigError;
use crate::config::plan::*;
use crate::config::raw::*;

/// `private`: DP-SGD is on, so the CNN's norm defaults to group norm and
/// batch norm, which mixes the examples whose gradients are clipped one by
/// one, is refused; likewise a text model's weighting defaults to the mean
/// and TF-IDF, whose statistics come from all training rows, is refused.
pub(super) fn resolve_model(
    c: &Check,
    raw: RawModel,
    modality: Modality,
    private: bool,
) -> Result<ModelPlan, ConfigError> {
    let dropout = c.float("model.dropout", raw.dropout, 0.25, FloatRange::OpenHigh(0.0, 1.0))?;
    match modality {
        Modality::Image => {
            let text_only = [
                ("buckets", raw.buckets.is_some()),
                ("embedding-dim", raw.embedding_dim.is_some()),
                ("ngram-min", raw.ngram_min.is_some()),
                ("ngram-max", raw.ngram_max.is_some()),
                ("max-features", raw.max_features.is_some()),
                ("word-ngrams", raw.word_ngrams.is_some()),
                ("weighting", raw.weighting.is_some()),
                ("word-recognition", raw.word_recognition.is_some()),
            ];
            c.refuse_set("model", &text_only, "applies to text models only")?;
            let channels = raw.conv_channels.unwrap_or_else(|| vec![32, 64]);
            if channels.is_empty() || channels.len() > 6 {
                return Err(c.err(
                    "model.conv-channels",
                    format!("must list 1 to 6 widths (got {})", channels.len()),
                ));
            }
            let conv_channels = channels
                .iter()
                .enumerate()
                .map(|(i, &w)| c.usize(&format!("model.conv-channels[{i}]"), Some(w), 32, 1, 1024))
                .collect::<Result<Vec<_>, _>>()?;
            let kernel_size = c.usize("model.kernel-size", raw.kernel_size, 3, 1, 11)?;
            if kernel_size % 2 == 0 {
                return Err(c.err("model.kernel-size", format!("must be odd (got {kernel_size})")));
            }
            let default = if private { Norm::Group } else { Norm::Batch };
            let norm =
                c.choice("model.norm", "norm", raw.norm.as_deref(), default, &Norm::ALL, Norm::name)?;
            if private && norm == Norm::Batch {
                return Err(c.err(
                    "model.norm",
                    "batch norm mixes the examples of a batch, so DP-SGD cannot bound each one's gradient; use \"group\" (the default under [train.privacy]) or \"none\"",
                ));
            }
            Ok(ModelPlan::Cnn(CnnPlan {
                conv_channels,
                kernel_size,
                hidden: c.usize("model.hidden", raw.hidden, 128, 1, 65536)?,
                dropout,
                norm,
            }))
        }
        Modality::Text => {
            if raw.conv_channels.is_some() || raw.kernel_size.is_some() || raw.norm.is_some() {
                return Err(
                    c.err("model", "`conv-channels`, `kernel-size` and `norm` apply to image models only")
                );
            }
            let ngram_min = c.usize("model.ngram-min", raw.ngram_min, 2, 1, 8)?;
            let ngram_max = c.usize("model.ngram-max", raw.ngram_max, 5, 1, 8)?;
            if ngram_max < ngram_min {
                return Err(c.err(
                    "model.ngram-max",
                    format!("must be at least ngram-min ({ngram_min}) (got {ngram_max})"),
                ));
            }
            let default = if private { TextWeighting::Mean } else { TextWeighting::TfIdf };
            let weighting = c.choice(
                "model.weighting",
                "weighting",
                raw.weighting.as_deref(),
                default,
                &TextWeighting::ALL,
                TextWeighting::name,
            )?;
            if private && weighting == TextWeighting::TfIdf {
                return Err(c.err(
                    "model.weighting",
                    "TF-IDF's document frequencies are counted over every training row outside DP-SGD's noise, so they would leak what DP-SGD protects; use \"mean\" (the default under [train.privacy])",
                ));
            }
            let word_recognition = raw.word_recognition.unwrap_or(false);
            if private && word_recognition {
                return Err(c.err(
                    "model.word-recognition",
                    "the lexicon lists every word of the training rows and their counts outside DP-SGD's noise, so it would leak what DP-SGD protects; leave it out under [train.privacy]",
                ));
            }
            let hidden = c.usize("model.hidden", raw.hidden, 0, 0, 65536)?;
            if hidden == 0 && raw.embedding_dim.is_some() {
                return Err(c.err(
                    "model.embedding-dim",
                    "applies with a hidden layer only (`model.hidden` above 0); a linear text model's rows are one weight per class",
                ));
            }
            Ok(ModelPlan::Text(TextPlan {
                buckets: c.usize("model.buckets", raw.buckets, 1 << 18, 16, 1 << 22)?,
                embedding_dim: c.usize("model.embedding-dim", raw.embedding_dim, 64, 1, 1024)?,
                hidden,
                dropout,
                word_ngrams: c.usize("model.word-ngrams", raw.word_ngrams, 3, 0, 4)?,
                weighting,
                ngram_min,
                ngram_max,
                max_features: c.usize("model.max-features", raw.max_features, 4096, 1, 100_000)?,
                word_recognition,
            }))
        }
    }
}
