//! Reading results back from a device. A failed read is an error, never an
//! empty or short vector: an empty prediction list would score as accuracy 0
//! and put a wrong number in `metrics.json`.

use burn::prelude::*;
use burn::tensor::Element;

use super::{Classifier, HostInput};

/// A tensor could not be read back, or came back with the wrong length.
#[derive(Debug, thiserror::Error)]
#[error("reading {what} back from the device: {message}")]
pub struct ReadbackError {
    /// What was being read (`predictions`, `probabilities`, ...).
    pub what: &'static str,
    /// Why it failed.
    pub message: String,
}

/// The values of `tensor` as `E`, exactly `expected` of them.
pub fn values<E: Element, const D: usize, K>(
    tensor: Tensor<D, K>,
    expected: usize,
    what: &'static str,
) -> Result<Vec<E>, ReadbackError>
where
    K: burn::tensor::kind::Basic,
{
    let out = tensor.try_into_vec_as::<E>().map_err(|e| ReadbackError { what, message: e.to_string() })?;
    if out.len() != expected {
        return Err(ReadbackError { what, message: format!("{} values, expected {expected}", out.len()) });
    }
    Ok(out)
}

/// The predicted class of each row of `logits` `[n, classes]`.
pub fn predicted_classes(logits: Tensor<2>) -> Result<Vec<usize>, ReadbackError> {
    let n = logits.dims()[0];
    let ids = values::<i64, 1, Int>(logits.argmax(1).flatten(0, 1), n, "predictions")?;
    Ok(ids.into_iter().map(|p| p as usize).collect())
}

/// The index of the highest of `scores` read back to the host (the lowest
/// index among equal ones), as [`predicted_classes`] picks on the device.
pub fn argmax(scores: &[f32]) -> usize {
    scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).map_or(0, |(i, _)| i)
}

/// The predicted class of each example of a host batch, on `device`.
pub fn predict_batch<M: Classifier>(
    model: &M,
    input: &HostInput,
    device: &Device,
) -> Result<Vec<usize>, ReadbackError> {
    predicted_classes(model.logits(input.to_device(device)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_are_the_row_argmax() {
        let device = Device::flex();
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![0.1f32, 0.9, 2.0, -1.0, 0.0, 0.5], [3, 2]), &device);
        assert_eq!(predicted_classes(logits).expect("read"), vec![1, 0, 1]);
    }

    #[test]
    fn a_short_read_is_an_error_not_a_smaller_vector() {
        let t = Tensor::<1>::from_floats([1.0, 2.0], &Device::flex());
        let e = values::<f32, 1, Float>(t, 3, "probabilities").expect_err("length checked");
        assert!(e.to_string().contains("probabilities") && e.to_string().contains("expected 3"), "{e}");
    }
}
