//! Secret settings (passwords, client secrets, webhook keys): never printed. `Debug` shows
//! `[REDACTED]`, there is no `Display`, and the value is reached only through [`Secret::expose`].

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

/// A secret given either in the settings (`<key>`) or in a file (`<key>_file`, the
/// container-secrets convention): exactly one of the two.
#[derive(Debug, Clone, Copy)]
pub struct SecretSource<'a> {
    /// The setting's full key, e.g. `ldap.bind_password`.
    pub key: &'a str,
    pub value: Option<&'a Secret>,
    pub file: Option<&'a std::path::Path>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{key}: give {key} or {key}_file")]
    Missing { key: String },
    #[error("{key}_file: cannot read {}: {source}", path.display())]
    Unreadable {
        key: String,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{key}: the secret is empty or only white space")]
    Blank { key: String },
}

impl SecretSource<'_> {
    pub fn validate(&self, problems: &mut crate::Problems) {
        let key = self.key;
        match (self.value, self.file) {
            (Some(_), Some(_)) => problems.add(key, "give the secret or a file, not both"),
            (None, None) => problems.add(key, format!("give {key} or {key}_file")),
            (None, Some(file)) => match Secret::from_file(file) {
                Ok(secret) => problems.check(
                    !secret.is_blank(),
                    &format!("{key}_file"),
                    format!("{} holds no secret (empty or white space)", file.display()),
                ),
                Err(_) => problems.add(
                    &format!("{key}_file"),
                    format!("{} is not a readable file", file.display()),
                ),
            },
            (Some(secret), None) => problems.check(
                !secret.is_blank(),
                key,
                "must not be empty or only white space",
            ),
        }
    }

    /// The secret, read from its file when it was given as one.
    pub fn read(&self) -> Result<Secret, SecretError> {
        let secret = match (self.value, self.file) {
            (Some(secret), _) => secret.clone(),
            (None, Some(path)) => {
                Secret::from_file(path).map_err(|source| SecretError::Unreadable {
                    key: self.key.to_owned(),
                    path: path.to_owned(),
                    source,
                })?
            }
            (None, None) => {
                return Err(SecretError::Missing {
                    key: self.key.to_owned(),
                });
            }
        };
        if secret.is_blank() {
            return Err(SecretError::Blank {
                key: self.key.to_owned(),
            });
        }
        Ok(secret)
    }
}
