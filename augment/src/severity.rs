//! Severity levels 0..=5, shared by every operation.

use std::fmt;

/// How strongly an operation perturbs its input: 0 is the identity and 1..=5
/// index the operation's parameter table (ImageNet-C convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Severity(u8);

/// A severity outside 0..=5.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("severity must be between 0 and 5 (got {0})")]
pub struct SeverityError(pub i64);

impl Severity {
    /// The highest severity.
    pub const MAX: u8 = 5;
    /// The identity.
    pub const NONE: Severity = Severity(0);
    /// The middle of 1..=5, the level reports show by default.
    pub const MIDDLE: Severity = Severity(3);

    /// A checked severity.
    pub fn new(level: i64) -> Result<Self, SeverityError> {
        if (0..=i64::from(Self::MAX)).contains(&level) {
            Ok(Severity(level as u8))
        } else {
            Err(SeverityError(level))
        }
    }

    /// The level, 0..=5.
    pub fn level(self) -> u8 {
        self.0
    }

    /// Whether this severity leaves inputs unchanged.
    pub fn is_identity(self) -> bool {
        self.0 == 0
    }

    /// Picks this severity's entry of a 5-row parameter table.
    ///
    /// Severity 0 has no entry; callers check [`Severity::is_identity`] first,
    /// and it maps to the mildest row here so the function is total.
    pub fn pick<T: Copy>(self, table: &[T; 5]) -> T {
        table[usize::from(self.0.max(1)) - 1]
    }

    /// Every non-identity severity, 1..=5.
    pub fn all() -> impl Iterator<Item = Severity> {
        (1..=Self::MAX).map(Severity)
    }

    /// The default intensity score 0..100 (AugLy's convention): linear in
    /// severity. Operations may report a finer score of their own.
    pub fn intensity(self) -> f32 {
        f32::from(self.0) * 20.0
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_checked() {
        assert!(Severity::new(-1).is_err());
        assert!(Severity::new(6).is_err());
        assert_eq!(Severity::new(5).map(Severity::level), Ok(5));
        assert_eq!(Severity::new(9).unwrap_err().to_string(), "severity must be between 0 and 5 (got 9)");
    }

    #[test]
    fn pick_indexes_from_one() {
        let t = [10, 20, 30, 40, 50];
        assert_eq!(Severity(1).pick(&t), 10);
        assert_eq!(Severity(5).pick(&t), 50);
    }
}
