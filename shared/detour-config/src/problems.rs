//! Validation reports: every problem in the settings, each with the key it concerns.

use std::fmt;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<String>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `key` (e.g. `amqp.prefetch`), as the user would set it.
    pub fn add(&mut self, key: &str, problem: impl fmt::Display) {
        self.0.push(format!("{key}: {problem}"));
    }

    /// Records a problem unless `ok` holds.
    pub fn check(&mut self, ok: bool, key: &str, problem: impl fmt::Display) {
        if !ok {
            self.add(key, problem);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}
