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
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}
