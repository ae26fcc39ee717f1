//! Merging the sources, deserializing into a settings type and validating it.

use std::path::PathBuf;

use serde::de::DeserializeOwned;

use crate::{
    Problems, SecretKey, Sources, durations,
    twins::{self, Files},
};

const ENV_PREFIX: &str = "DETOUR";
const ENV_SEPARATOR: &str = "__";

/// A settings type: deserializable from the merged sources, then validated.
pub trait Settings: DeserializeOwned {
    /// Keys (e.g. `amqp.retry_delays_ms`) whose environment values are comma-separated lists.
    const LIST_KEYS: &'static [&'static str] = &[];
    /// Secrets that may be given in a file instead, as `<key>_file`.
    const SECRETS: &'static [SecretKey] = &[];

    fn validate(&self, problems: &mut Problems);
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("settings file {path} does not exist")]
    FileMissing { path: PathBuf },
    #[error("cannot read the settings: {0}")]
    Unreadable(#[source] config::ConfigError),
    #[error("invalid settings:\n{0}")]
    Invalid(Problems),
}

/// Loads and validates settings from `sources`, later layers overriding earlier ones.
pub fn load<T: Settings>(sources: &Sources) -> Result<T, ConfigError> {
    let (settings, mut problems): (T, _) = merged(sources, Files::Read)?;
    settings.validate(&mut problems);
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// Merges and deserializes without validating: every key must be known and every value of
/// the right type, but files named in the settings need not exist here (checking a container's
/// wiring from outside it).
pub fn parse<T: Settings>(sources: &Sources) -> Result<T, ConfigError> {
    let (settings, problems) = merged(sources, Files::Named)?;
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

/// The settings, and the problems with their secrets (a secret in trouble reads as a
/// placeholder, so the rest can still be checked and every problem reported at once).
fn merged<T: Settings>(sources: &Sources, files: Files) -> Result<(T, Problems), ConfigError> {
    let mut builder = config::Config::builder().add_source(config::File::from_str(
        &sources.defaults,
        config::FileFormat::Toml,
    ));
    if let Some(path) = &sources.file {
        if !path.is_file() {
            return Err(ConfigError::FileMissing { path: path.clone() });
        }
        builder =
            builder.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
    }
    for (key, value) in env_overrides(sources, T::LIST_KEYS) {
        builder = match value {
            EnvValue::One(value) => builder.set_override(key, value),
            EnvValue::List(values) => builder.set_override(key, values),
        }
        .map_err(ConfigError::Unreadable)?;
    }
    let mut root = builder
        .build()
        .and_then(|merged| merged.cache.into_table())
        .map_err(ConfigError::Unreadable)?;
    let defaults = config::Config::builder()
        .add_source(config::File::from_str(
            &sources.defaults,
            config::FileFormat::Toml,
        ))
        .build()
        .and_then(|merged| merged.cache.into_table())
        .map_err(ConfigError::Unreadable)?;
    let mut problems = Problems::new();
    durations::resolve(&mut root, &mut problems);
    twins::resolve(&mut root, &defaults, T::SECRETS, files, &mut problems);
    let settings = T::deserialize(config::Value::new(None, config::ValueKind::Table(root)))
        .map_err(ConfigError::Unreadable)?;
    Ok((settings, problems))
}

enum EnvValue {
    One(String),
    List(Vec<String>),
}

/// `DETOUR__AMQP__PORT=5673` becomes `amqp.port = "5673"`. Values stay strings (a typed field
/// converts them), so a secret like `0012345` is never parsed into a number on the way; keys
/// in `list_keys` are split on commas.
fn env_overrides(sources: &Sources, list_keys: &[&str]) -> Vec<(String, EnvValue)> {
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
    let mut overrides: Vec<(String, EnvValue)> = sources
        .env
        .iter()
        .filter_map(|(name, value)| {
            let key = name
                .strip_prefix(&prefix)?
                .to_lowercase()
                .replace(ENV_SEPARATOR, ".");
            let value = if list_keys.contains(&key.as_str()) {
                EnvValue::List(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            } else {
                EnvValue::One(value.clone())
            };
            Some((key, value))
        })
        .collect();
    // A stable order, so two variables naming one key resolve the same way every time.
    overrides.sort_by(|a, b| a.0.cmp(&b.0));
    overrides
}
