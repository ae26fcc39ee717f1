//! Secret settings (passwords, client secrets, webhook keys): never printed. `Debug` shows
//! `[REDACTED]`, there is no `Display`, and the value is reached only through [`Secret::expose`].
//! Each secret a settings type names in [`crate::Settings::SECRETS`] may instead be given in a
//! file (`<key>_file`, the container-secrets convention); the loader reads it (`twins`).

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

#[derive(Clone)]
pub struct Secret(SecretString);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// Reads a secret from a file (the container-secrets convention), dropping the trailing
    /// newline that editors and `echo` add.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Ok(Self::new(text.trim_end_matches(['\r', '\n'])))
    }

    /// The secret itself: call only where it is handed to the party that needs it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// Empty or only white space: never a usable secret (an empty token would let a request
    /// with an empty header through, an empty HMAC key signs what anyone can compute).
    pub fn is_blank(&self) -> bool {
        self.expose().trim().is_empty()
    }

    /// Whether `presented` is this secret, in time that depends only on the lengths (a token
    /// or password checked this way leaks nothing of its content through timing).
    pub fn matches(&self, presented: &[u8]) -> bool {
        let expected = self.expose().as_bytes();
        expected.len() == presented.len()
            && expected
                .iter()
                .zip(presented)
                .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                == 0
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

/// A secret setting by its full key (e.g. `ldap.bind_password`), and whether the settings need
/// it whatever else they say. An optional one may still be needed when something is switched
/// on; the settings type checks that itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretKey {
    pub key: &'static str,
    pub required: bool,
}

impl SecretKey {
    pub const fn required(key: &'static str) -> Self {
        Self {
            key,
            required: true,
        }
    }

    pub const fn optional(key: &'static str) -> Self {
        Self {
            key,
            required: false,
        }
    }
}
