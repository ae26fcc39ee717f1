//! Where settings come from: the defaults a binary compiles in, an optional TOML file, and a
//! set of environment variables (the process's own, or a map a test builds).

use std::{collections::HashMap, path::PathBuf};

/// Names the settings file; `--config` on a command line does the same.
pub const CONFIG_FILE_VAR: &str = "DETOUR_CONFIG";

#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// TOML text with every setting's default.
    pub defaults: String,
    /// A TOML file layered over the defaults; it must exist when named.
    pub file: Option<PathBuf>,
    /// Environment variables; only `DETOUR__`-prefixed ones are read.
    pub env: HashMap<String, String>,
}

impl Sources {
    /// The process's environment, with the file named by `DETOUR_CONFIG` if set.
    pub fn from_process(defaults: impl Into<String>) -> Self {
        let env: HashMap<String, String> = std::env::vars().collect();
        let file = env
            .get(CONFIG_FILE_VAR)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        Self {
            defaults: defaults.into(),
            file,
            env,
        }
    }

    /// Only the given variables: what tests use.
    pub fn from_pairs<'a>(
        defaults: impl Into<String>,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        Self {
            defaults: defaults.into(),
            file: None,
            env: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    pub fn with_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }
}
