//! Perturbations that real inputs and attackers apply to classifier inputs.
//!
//! Every operation is a pure function of `(input, severity, seed)`: no I/O, no
//! global state. Severity 0 is the identity; 1..=5 follow each operation's
//! documented parameter table. Seeds for one sample are derived with
//! [`seed::derive`] from `(run seed, sample index, epoch, op name)`, so results
//! do not depend on thread count or batch order.
//!
//! - [`image`]: the image catalog, on 8-bit grayscale or RGB buffers.
//! - [`text`]: the text catalog, on Unicode strings (grapheme-safe).
//! - [`policy`]: a list of operations with probabilities and severity ranges,
//!   applied per sample, sequentially or in parallel with rayon.
//! - [`suite`]: named corruption suites (ImageNet-C, MNIST-C, text noise).
#![deny(missing_docs)]

pub mod catalog;
pub mod image;
pub mod policy;
pub mod seed;
pub mod severity;
mod simd;
pub mod suite;
pub mod table;
pub mod text;

pub use catalog::{OpInfo, Param};
pub use image::{Image, ImageOp};
pub use policy::{Policy, PolicyStep};
pub use severity::Severity;
pub use suite::Suite;
pub use table::{Table, TableChoice};
pub use text::TextOp;
