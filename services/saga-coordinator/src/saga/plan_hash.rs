//! A plan's fingerprint: what an approval must name, so that an operator approves exactly the
//! change they read. Sixteen hex digits of FNV-1a over the plan's canonical text, stable across
//! builds and machines.

use std::fmt;

use serde::{Deserialize, Serialize};

/// On the wire the sixteen digits, checked as they are read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlanHash(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a plan hash (16 hex digits)")]
pub struct PlanHashError(String);

impl PlanHash {
    /// The fingerprint of `text`.
    pub fn of(text: &str) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Self(format!("{hash:016x}"))
    }

    /// A hash as an operator or a ticket gives it (any case, surrounding space dropped).
    pub fn parse(text: &str) -> Result<Self, PlanHashError> {
        let text = text.trim();
        if text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(PlanHashError(text.chars().take(40).collect()))
        }
    }
}

impl fmt::Display for PlanHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PlanHash {
    type Error = PlanHashError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<PlanHash> for String {
    fn from(hash: PlanHash) -> Self {
        hash.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_stable_and_only_sixteen_hex_digits_read_as_one() {
        assert_eq!(PlanHash::of("plan"), PlanHash::of("plan"));
        assert_ne!(PlanHash::of("plan"), PlanHash::of("plan "));
        let hash = PlanHash::of("plan");
        assert_eq!(PlanHash::parse(&hash.to_string().to_uppercase()), Ok(hash));
        for bad in ["", "0000", "zzzzzzzzzzzzzzzz", "00000000000000000"] {
            assert!(PlanHash::parse(bad).is_err(), "{bad:?}");
        }
    }
}
