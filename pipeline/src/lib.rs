//! x
pub fn x() {}
