//! A user principal name as Entra ID accepts one: a name of at most 64 characters, one `@`,
//! a dotted domain of at most 48, 113 in all (Microsoft's account restrictions for
//! `userPrincipalName` in Entra ID). Anything longer is no user Detour could ever find, so it
//! is refused where it comes in, and an error shows only the start of it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Characters before the `@`, after it, and in all.
pub const MAX_UPN_LOCAL: usize = 64;
pub const MAX_UPN_DOMAIN: usize = 48;
pub const MAX_UPN: usize = 113;

/// How much of a refused value an error shows.
const SHOWN: usize = 64;

/// On the wire a plain string, checked as it is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Upn(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown} is not a UPN: {why}")]
pub struct UpnError {
    /// The start of the value, quoted, and its length when it was cut.
    pub shown: String,
    pub why: &'static str,
}

impl Upn {
    /// The UPN in `text` (surrounding whitespace dropped), or why it is none.
    pub fn parse(text: &str) -> Result<Self, UpnError> {
        let text = text.trim();
        let refuse = |why| {
            Err(UpnError {
                shown: shown(text),
                why,
            })
        };
        let Some((local, domain)) = text.split_once('@') else {
            return refuse("it has no @");
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return refuse("it needs one @ between a name and a domain");
        }
        if local.chars().count() > MAX_UPN_LOCAL
            || domain.chars().count() > MAX_UPN_DOMAIN
            || text.chars().count() > MAX_UPN
        {
            return refuse("it is longer than Entra allows (64 + @ + 48 characters)");
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse("it holds spaces or control characters");
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return refuse("its domain is not a dotted name");
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Upn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Upn {
    type Error = UpnError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Upn> for String {
    fn from(upn: Upn) -> Self {
        upn.0
    }
}

/// `text` quoted, cut to its first [`SHOWN`] characters with its length when longer.
fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}… ({} characters)", &text[..cut], text.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_lengths_are_the_limits() {
        let longest = format!("{}@{}.com", "a".repeat(64), "b".repeat(44));
        assert_eq!(longest.len(), 113);
        assert_eq!(Upn::parse(&longest).unwrap().as_str(), longest);
        for too_long in [
            format!("{}@contoso.com", "a".repeat(65)),
            format!("ada@{}.com", "b".repeat(45)),
        ] {
            let error = Upn::parse(&too_long).unwrap_err();
            assert!(error.why.contains("longer"), "{error}");
        }
    }

    #[test]
    fn a_refusal_shows_only_the_start_of_what_it_refused() {
        let hostile = format!("{}@contoso.com", "x".repeat(262_144));
        let error = Upn::parse(&hostile).unwrap_err().to_string();
        assert!(error.len() < 200, "{error}");
        assert!(error.contains("262156 characters"), "{error}");
    }

    #[test]
    fn malformed_names_say_what_is_wrong() {
        for (text, why) in [
            ("ada", "no @"),
            ("@contoso.com", "one @"),
            ("ada@b@contoso.com", "one @"),
            ("ada lovelace@contoso.com", "spaces"),
            ("ada@contoso", "dotted"),
            ("ada@contoso.", "dotted"),
        ] {
            let error = Upn::parse(text).unwrap_err();
            assert!(error.why.contains(why), "{text}: {error}");
        }
        assert_eq!(
            Upn::parse("  ada@contoso.com ").unwrap().as_str(),
            "ada@contoso.com"
        );
    }
}
