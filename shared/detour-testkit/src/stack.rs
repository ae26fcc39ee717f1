//! The dev stack's coordinates, read from the `stack.env` that `deploy/dev-stack.sh up` writes.

use std::{collections::HashMap, path::PathBuf};

use anyhow::{Context, bail};

#[derive(Debug, Clone)]
pub struct Stack {
    values: HashMap<String, String>,
}

impl Stack {
    /// Reads `$DETOUR_STACK_ENV`, else `target/dev-stack/stack.env` in the workspace.
    pub fn load() -> anyhow::Result<Self> {
        let path = std::env::var_os("DETOUR_STACK_ENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dev-stack/stack.env")
            });
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}: start the dev stack with deploy/dev-stack.sh up",
                path.display()
            )
        })?;
        Ok(Self {
            values: parse_env_file(&text),
        })
    }

    pub fn get(&self, key: &str) -> anyhow::Result<&str> {
        match self.values.get(key) {
            Some(value) => Ok(value),
            None => bail!("stack.env has no {key}"),
        }
    }

    /// The `DETOUR__LDAP__*` settings that point ad-ops at the stack's directory, bound as the
    /// service account.
    pub fn ldap_service_env(&self) -> anyhow::Result<Vec<(String, String)>> {
        Ok(vec![
            (
                "DETOUR__LDAP__URL".into(),
                self.get("DETOUR_LDAP_URL")?.to_owned(),
            ),
            (
                "DETOUR__LDAP__CA_FILE".into(),
                self.get("DETOUR_LDAP_CA_FILE")?.to_owned(),
            ),
            (
                "DETOUR__LDAP__BIND_DN".into(),
                self.get("DETOUR_LDAP_BIND_DN")?.to_owned(),
            ),
            (
                "DETOUR__LDAP__BIND_PASSWORD_FILE".into(),
                self.get("DETOUR_LDAP_BIND_PASSWORD_FILE")?.to_owned(),
            ),
            (
                "DETOUR__LDAP__SEARCH_BASE".into(),
                self.get("DETOUR_LDAP_BASE_DN")?.to_owned(),
            ),
        ])
    }

    /// A value named by `<key>_FILE`, read from that file.
    pub fn secret(&self, key: &str) -> anyhow::Result<String> {
        let path = self.get(&format!("{key}_FILE"))?;
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
    }
}

/// `KEY='value'` lines as the dev stack writes them; comments and blank lines skipped.
fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(value);
            (key.to_owned(), value.to_owned())
        })
        .collect()
}
