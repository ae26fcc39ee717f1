//! A secret's `_file` twin, resolved once for every settings type: `<key>_file` names a file
//! whose content (without its trailing newline) becomes `<key>`. Exactly one of the two may
//! be given; a required secret needs one; neither may be blank. The twin key is gone before
//! the settings are deserialized, so no settings type declares it. A secret in trouble is
//! recorded as a problem and replaced by a placeholder, so the rest of the settings can still
//! be read and checked: the load fails with every problem at once, never with the
//! placeholder.

use config::{Map, Value, ValueKind};

use crate::{Problems, Secret, SecretKey};

/// Whether a twin's file is read (loading), or only named (checking wiring from outside a
/// container, where the file is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    Read,
    Named,
}

/// Stands in for a secret in trouble while the rest is checked; never handed out, as the
/// load fails.
const PLACEHOLDER: &str = "(a secret with a problem)";

/// Resolves every secret in `secrets` within the merged settings `root`. A file replaces the
/// value the built-in `defaults` give (the broker's `guest`, say); a value given anywhere else
/// and a file are a conflict.
pub fn resolve(
    root: &mut Map<String, Value>,
    defaults: &Map<String, Value>,
    secrets: &[SecretKey],
    files: Files,
    problems: &mut Problems,
) {
    for secret in secrets {
        resolve_one(root, defaults, *secret, files, problems);
    }
}

fn resolve_one(
    root: &mut Map<String, Value>,
    defaults: &Map<String, Value>,
    secret: SecretKey,
    files: Files,
    problems: &mut Problems,
) {
    let key = secret.key;
    let twin = format!("{key}_file");
    let (path, name) = key.rsplit_once('.').unwrap_or(("", key));
    let default = lookup(defaults, path)
        .and_then(|t| t.get(name))
        .and_then(text);
    let Some(table) = section(root, path) else {
        // A step of the path holds a value that is no table: deserializing will say so.
        return;
    };
    let file = table.remove(&format!("{name}_file")).and_then(|v| text(&v));
    let value = table
        .get(name)
        .and_then(text)
        .filter(|value| file.is_none() || default.as_ref() != Some(value));
    let trouble = match (value, file) {
        (Some(_), Some(_)) => Some((key.to_owned(), "give the secret or a file, not both".into())),
        (None, None) if secret.required => Some((key.to_owned(), format!("give {key} or {twin}"))),
        (None, None) => None,
        (Some(value), None) => Secret::new(value).is_blank().then(|| {
            (
                key.to_owned(),
                "must not be empty or only white space".into(),
            )
        }),
        (None, Some(path)) => match read(&path, files) {
            Ok(content) => {
                table.insert(name.to_owned(), string(content));
                None
            }
            Err(problem) => Some((twin, problem)),
        },
    };
    if let Some((at, problem)) = trouble {
        problems.add(&at, problem);
        table.insert(name.to_owned(), string(PLACEHOLDER.into()));
    }
}

/// The secret in the file at `path`, or (checking wiring) a stand-in naming it.
fn read(path: &str, files: Files) -> Result<String, String> {
    if files == Files::Named {
        return Ok(format!("(the content of {path})"));
    }
    match Secret::from_file(std::path::Path::new(path)) {
        Ok(secret) if secret.is_blank() => {
            Err(format!("{path} holds no secret (empty or white space)"))
        }
        Ok(secret) => Ok(secret.expose().to_owned()),
        Err(error) => Err(format!("{path} is not a readable file: {error}")),
    }
}

/// The table at `path` (`a.b`) where there is one.
fn lookup<'a>(root: &'a Map<String, Value>, path: &str) -> Option<&'a Map<String, Value>> {
    let mut table = root;
    for step in path.split('.').filter(|s| !s.is_empty()) {
        table = match &table.get(step)?.kind {
            ValueKind::Table(inner) => inner,
            _ => return None,
        };
    }
    Some(table)
}

/// The table at `path` (`a.b`), made where it is missing or empty; `None` where a step holds
/// a value that is no table.
fn section<'a>(root: &'a mut Map<String, Value>, path: &str) -> Option<&'a mut Map<String, Value>> {
    let mut table = root;
    for step in path.split('.').filter(|s| !s.is_empty()) {
        let entry = table
            .entry(step.to_owned())
            .or_insert_with(|| Value::new(None, ValueKind::Nil));
        if entry.kind == ValueKind::Nil {
            entry.kind = ValueKind::Table(Map::new());
        }
        table = match &mut entry.kind {
            ValueKind::Table(inner) => inner,
            _ => return None,
        };
    }
    Some(table)
}

fn string(text: String) -> Value {
    Value::new(None, ValueKind::String(text))
}

/// A value given as text (a secret or a path); `nil` is none.
fn text(value: &Value) -> Option<String> {
    match &value.kind {
        ValueKind::Nil => None,
        _ => value.clone().into_string().ok(),
    }
}
