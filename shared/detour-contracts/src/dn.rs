//! Distinguished names per RFC 4514, parsed at the edge so that nothing malformed reaches LDAP:
//! `attr=value` components joined by unescaped `,`, multi-valued with `+`, values escaped with
//! `\` before `,+"\<>;=`, a leading `#` or space, a trailing space, or as `\XX` hex pairs.

use serde::{Deserialize, Serialize};

/// The longest DN accepted; AD's are far shorter in practice.
const MAX_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    #[error("a DN must not be empty")]
    Empty,
    #[error("the DN is {0} bytes long; at most {MAX_LEN} are accepted")]
    TooLong(usize),
    #[error("the DN contains a control character")]
    ControlCharacter,
    #[error("component {0:?} is not attribute=value")]
    NotAttributeValue(String),
    #[error("attribute type {0:?} is not a name or an OID")]
    BadAttributeType(String),
    #[error("{0:?} has a bad escape: {1}")]
    BadEscape(String, &'static str),
    #[error("{0:?} has an unescaped {1:?}")]
    Unescaped(String, char),
}

/// A syntactically valid DN, split into its RDNs (each as written, escapes kept). On the wire
/// the string, checked as it is read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Dn {
    rdns: Vec<String>,
}

impl Dn {
    pub fn parse(text: &str) -> Result<Self, DnError> {
        if text.trim().is_empty() {
            return Err(DnError::Empty);
        }
        if text.len() > MAX_LEN {
            return Err(DnError::TooLong(text.len()));
        }
        if text.chars().any(char::is_control) {
            return Err(DnError::ControlCharacter);
        }
        let rdns = split_unescaped(text, ',')?;
        for rdn in &rdns {
            for attribute_value in split_unescaped(rdn, '+')? {
                check_attribute_value(&attribute_value)?;
            }
        }
        Ok(Self {
            rdns: rdns.iter().map(|r| trim_unescaped(r).to_owned()).collect(),
        })
    }

    /// The first RDN, e.g. `CN=Ada Lovelace`.
    pub fn rdn(&self) -> &str {
        &self.rdns[0]
    }

    /// Everything after the first RDN; `None` for a one-RDN DN.
    pub fn parent(&self) -> Option<String> {
        (self.rdns.len() > 1).then(|| self.rdns[1..].join(","))
    }

    /// This DN's first RDN under `parent`: where a move to `parent` that keeps the name ends.
    pub fn with_parent(&self, parent: &Dn) -> Dn {
        let mut rdns = vec![self.rdns[0].clone()];
        rdns.extend(parent.rdns.iter().cloned());
        Self { rdns }
    }

    /// The parent as a DN; `None` for a one-RDN DN.
    pub fn parent_dn(&self) -> Option<Dn> {
        (self.rdns.len() > 1).then(|| Self {
            rdns: self.rdns[1..].to_vec(),
        })
    }

    /// Compares as AD does: case-insensitively, ignoring spaces around separators.
    pub fn same_as(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len() && self.is_within(other)
    }

    /// This DN is `container` or lies beneath it: its last RDNs are `container`'s, compared
    /// as [`Dn::same_as`] does (whole RDNs, so `OU=Staff2` is not within `OU=Staff`).
    pub fn is_within(&self, container: &Dn) -> bool {
        self.rdns.len() >= container.rdns.len()
            && self
                .rdns
                .iter()
                .rev()
                .zip(container.rdns.iter().rev())
                .all(|(a, b)| normalise(a) == normalise(b))
    }

    /// Within any of `containers`.
    pub fn is_within_any<'a>(&self, containers: impl IntoIterator<Item = &'a Dn>) -> bool {
        containers
            .into_iter()
            .any(|container| self.is_within(container))
    }
}

impl TryFrom<String> for Dn {
    type Error = DnError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Dn> for String {
    fn from(dn: Dn) -> Self {
        dn.to_string()
    }
}

impl std::str::FromStr for Dn {
    type Err = DnError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl std::fmt::Display for Dn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rdns.join(","))
    }
}

/// `rdn` without the spaces around it that carry no meaning: an escaped trailing space
/// (`CN=Ada\ `) is part of the value and stays.
fn trim_unescaped(rdn: &str) -> &str {
    let mut rdn = rdn.trim_start();
    while let Some(shorter) = rdn.strip_suffix(' ') {
        let backslashes = shorter.chars().rev().take_while(|c| *c == '\\').count();
        if backslashes % 2 == 1 {
            break;
        }
        rdn = shorter;
    }
    rdn
}

fn normalise(rdn: &str) -> String {
    match rdn.split_once('=') {
        Some((attribute, value)) => format!(
            "{}={}",
            attribute.trim().to_lowercase(),
            value.trim().to_lowercase()
        ),
        None => rdn.to_lowercase(),
    }
}

/// Splits on `separator` where it is not escaped; checks every escape on the way.
fn split_unescaped(text: &str, separator: char) -> Result<Vec<String>, DnError> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(next) = chars.next() else {
                return Err(DnError::BadEscape(text.into(), "a trailing backslash"));
            };
            if next.is_ascii_hexdigit() {
                let Some(low) = chars.next().filter(char::is_ascii_hexdigit) else {
                    return Err(DnError::BadEscape(
                        text.into(),
                        "a hex escape needs two digits",
                    ));
                };
                current.extend(['\\', next, low]);
            } else if ",+\"\\<>;= #".contains(next) {
                current.extend(['\\', next]);
            } else {
                return Err(DnError::BadEscape(
                    text.into(),
                    "only ,+\"\\<>;= # and hex pairs may be escaped",
                ));
            }
        } else if c == separator {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    Ok(parts)
}

fn check_attribute_value(component: &str) -> Result<(), DnError> {
    let Some((attribute, value)) = split_once_unescaped(component, '=') else {
        return Err(DnError::NotAttributeValue(component.into()));
    };
    let attribute = attribute.trim();
    let is_name = attribute
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && attribute
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    let is_oid = !attribute.is_empty()
        && attribute
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if !is_name && !is_oid {
        return Err(DnError::BadAttributeType(attribute.into()));
    }
    let value = value.trim_start();
    if value.is_empty() {
        return Err(DnError::NotAttributeValue(component.into()));
    }
    // A value starting with an unescaped # is a BER hex string, which Detour never sends.
    if value.starts_with('#') {
        return Err(DnError::Unescaped(component.into(), '#'));
    }
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if "\"<>;=".contains(c) {
            return Err(DnError::Unescaped(component.into(), c));
        }
    }
    Ok(())
}

fn split_once_unescaped(text: &str, separator: char) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            return Some((&text[..index], &text[index + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_dns_parse_with_escapes_kept() {
        for text in [
            "CN=Ada Lovelace,OU=Staff,OU=Corp,DC=corp,DC=example,DC=com",
            r"CN=Smith\, John,OU=Staff,DC=corp,DC=example,DC=com",
            r#"CN=\#hash\,plus\+quote\"lt\<gt\>semi\;eq\=back\\,OU=x,DC=y"#,
            r"CN=\ leading space,OU=x,DC=y",
            "CN=Zoë Ångström 日本,OU=x,DC=y",
            r"CN=hex\4a\4B,OU=x,DC=y",
            "CN=multi+UID=value,OU=x,DC=y",
            "2.5.4.3=oid,DC=y",
        ] {
            assert!(Dn::parse(text).is_ok(), "{text}");
        }
        let dn = Dn::parse(r"CN=Smith\, John,OU=Staff,DC=corp").unwrap();
        assert_eq!(dn.rdn(), r"CN=Smith\, John");
        assert_eq!(dn.parent().as_deref(), Some("OU=Staff,DC=corp"));
        assert!(dn.same_as(&Dn::parse(r"cn=smith\, john, ou=staff, dc=CORP").unwrap()));
    }

    #[test]
    fn an_escaped_trailing_space_is_kept_and_the_dn_prints_as_it_parsed() {
        // Found by the dn fuzz target: trimming took the space and left a bare backslash.
        let dn = Dn::parse("CN=Ada\\ , OU=Staff\\ ,DC=corp ").unwrap();
        assert_eq!(dn.to_string(), "CN=Ada\\ ,OU=Staff\\ ,DC=corp");
        assert!(Dn::parse(&dn.to_string()).unwrap().same_as(&dn));
        // An escaped backslash before a space escapes nothing: that space goes.
        assert_eq!(Dn::parse("CN=a\\\\ ,DC=b").unwrap().rdn(), "CN=a\\\\");
    }

    #[test]
    fn containment_is_by_whole_rdns_whatever_the_case_and_spacing() {
        let staff = Dn::parse("OU=Staff,DC=corp,DC=example").unwrap();
        let ada = Dn::parse("CN=Ada,ou=staff, dc=CORP,DC=example").unwrap();
        assert!(ada.is_within(&staff));
        assert!(staff.is_within(&staff), "a container is within itself");
        assert!(!staff.is_within(&ada));
        let lookalike = Dn::parse("CN=Ada,OU=Staff2,DC=corp,DC=example").unwrap();
        assert!(!lookalike.is_within(&staff), "OU=Staff2 is not OU=Staff");
        assert!(ada.is_within_any([&lookalike, &staff]));
        assert_eq!(
            ada.parent_dn().unwrap().to_string(),
            "ou=staff,dc=CORP,DC=example"
        );
    }

    #[test]
    fn the_wire_form_is_the_string_and_a_bad_one_does_not_read() {
        let dn: Dn = serde_json::from_str("\"CN=Ada,OU=Staff,DC=corp\"").unwrap();
        assert_eq!(
            serde_json::to_string(&dn).unwrap(),
            "\"CN=Ada,OU=Staff,DC=corp\""
        );
        assert!(serde_json::from_str::<Dn>("\"*)(objectClass=*\"").is_err());
    }

    #[test]
    fn hostile_dns_are_refused_with_a_reason() {
        for (text, what) in [
            ("", "empty"),
            ("CN=a\u{0},DC=b", "NUL"),
            ("just text", "no ="),
            ("CN=,DC=b", "empty value"),
            ("CN=a<b,DC=c", "unescaped <"),
            ("CN=a\"b,DC=c", "unescaped quote"),
            ("CN=a;DC=b", "unescaped ;"),
            ("CN=#123,DC=b", "leading #"),
            (r"CN=a\x,DC=b", "bad escape"),
            (r"CN=a\4,DC=b", "short hex"),
            ("C N=a,DC=b", "bad attribute"),
            ("*)(objectClass=*", "filter injection"),
        ] {
            assert!(Dn::parse(text).is_err(), "{what}: {text}");
        }
        assert!(matches!(
            Dn::parse(&format!("CN={},DC=x", "a".repeat(10_000))),
            Err(DnError::TooLong(_))
        ));
    }
}
