//! What Temper's CPU operations (`conv`, `pool`, `norm`) share: the
//! autodiff backend they are written for, and moving between flex tensors
//! and slices.

use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Shape, TensorData};

/// The CPU device's autodiff backend, as `Device::flex().autodiff()` makes it.
pub(super) type AdFlex = Autodiff<Flex, NoCheckpointing>;

/// The values of a contiguous f32 tensor. Callers check the float type
/// before they reach a native operation and make tensors contiguous first.
pub(super) fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor (checked before the operation)")
}

/// A flex tensor that owns `values`, without a copy.
pub(super) fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}
