//! Proxy addresses as Exchange and Entra write them: a type prefix before the address
//! (`SMTP:` for the primary SMTP address, `smtp:` for a secondary one, `x500:`, `sip:` and
//! others), or a bare address, which Exchange takes as a secondary SMTP one [S28]. Two name the
//! same mailbox when their addresses match without the prefix, case-insensitively.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An SMTP address is at most 320 characters (RFC 5321's 64 + 1 + 255).
pub const MAX_SMTP_ADDRESS: usize = 320;

/// `smtp:ada@contoso.com` as `ada@contoso.com`; an address without a prefix as it is.
pub fn bare(address: &str) -> &str {
    address.split_once(':').map_or(address, |(_, rest)| rest)
}

/// Whether `a` and `b` are the same address, whatever their prefixes and case.
pub fn same_address(a: &str, b: &str) -> bool {
    bare(a).eq_ignore_ascii_case(bare(b))
}

/// One proxy address, checked: on the wire the string Exchange writes (`smtp:ada@contoso.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProxyAddress {
    /// The prefix as written (`SMTP`, `smtp`, `X500`), empty for a bare address.
    prefix: String,
    address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown:?} is not a proxy address: {why}")]
pub struct AddressError {
    /// The start of the refused value.
    pub shown: String,
    pub why: &'static str,
}

impl ProxyAddress {
    /// The proxy address in `text` (surrounding whitespace dropped). An SMTP one (`smtp:`,
    /// `SMTP:` or bare) must be `local@dotted.domain`; any one must be printable, without
    /// spaces, and at most [`MAX_SMTP_ADDRESS`] long after its prefix.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let text = text.trim();
        let refuse = |why| {
            Err(AddressError {
                shown: text.chars().take(64).collect(),
                why,
            })
        };
        let (prefix, address) = match text.split_once(':') {
            // `x500:/o=...` and the like keep their colons after the first one.
            Some((prefix, rest)) if !prefix.contains('@') => (prefix, rest),
            _ => ("", text),
        };
        if !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
            return refuse("its prefix is not a type such as smtp or x500");
        }
        if address.is_empty() || address.chars().count() > MAX_SMTP_ADDRESS {
            return refuse("its address is empty or longer than 320 characters");
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse("it holds spaces or control characters");
        }
        let parsed = Self {
            prefix: prefix.to_owned(),
            address: address.to_owned(),
        };
        if parsed.is_smtp() && !is_smtp_address(address) {
            return refuse("an SMTP address needs one @ between a name and a dotted domain");
        }
        Ok(parsed)
    }

    /// A secondary SMTP address (`smtp:`) for `address`, which may carry a prefix already.
    pub fn secondary_smtp(address: &str) -> Result<Self, AddressError> {
        let parsed = Self::parse(address)?;
        if !parsed.is_smtp() {
            return Err(AddressError {
                shown: address.chars().take(64).collect(),
                why: "it is not an SMTP address",
            });
        }
        Ok(Self {
            prefix: "smtp".into(),
            address: parsed.address,
        })
    }

    /// An SMTP address: prefix `smtp` in any case, or none.
    pub fn is_smtp(&self) -> bool {
        self.prefix.is_empty() || self.prefix.eq_ignore_ascii_case("smtp")
    }

    /// The primary address of its type: the prefix in capitals (`SMTP:`).
    pub fn is_primary(&self) -> bool {
        !self.prefix.is_empty() && !self.prefix.bytes().any(|b| b.is_ascii_lowercase())
    }

    /// The address without its prefix.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The domain of an SMTP address (after the `@`).
    pub fn domain(&self) -> Option<&str> {
        self.address.rsplit_once('@').map(|(_, domain)| domain)
    }

    /// Whether `other` names the same address, whatever the prefixes and case (Exchange
    /// compares proxy addresses case-insensitively).
    pub fn same_as(&self, other: &str) -> bool {
        same_address(&self.address, other)
    }
}

fn is_smtp_address(address: &str) -> bool {
    matches!(address.split_once('@'), Some((local, domain))
        if !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.'))
}

impl fmt::Display for ProxyAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            f.write_str(&self.address)
        } else {
            write!(f, "{}:{}", self.prefix, self.address)
        }
    }
}

impl TryFrom<String> for ProxyAddress {
    type Error = AddressError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<ProxyAddress> for String {
    fn from(address: ProxyAddress) -> Self {
        address.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_case_do_not_make_another_address() {
        assert_eq!(bare("SMTP:Ada@Contoso.com"), "Ada@Contoso.com");
        assert_eq!(bare("ada@contoso.com"), "ada@contoso.com");
        assert!(same_address("SMTP:Ada@Contoso.com", "smtp:ada@contoso.COM"));
        assert!(same_address("ada@contoso.com", "smtp:ADA@contoso.com"));
        assert!(!same_address(
            "smtp:ada@contoso.com",
            "smtp:ada@contoso.mail.onmicrosoft.com"
        ));
    }

    #[test]
    fn a_proxy_address_knows_its_type_and_whether_it_is_primary() {
        let primary = ProxyAddress::parse("SMTP:Ada@Contoso.com").unwrap();
        assert!(primary.is_smtp() && primary.is_primary());
        assert_eq!(primary.address(), "Ada@Contoso.com");
        assert_eq!(primary.domain(), Some("Contoso.com"));
        assert!(primary.same_as("smtp:ada@contoso.com"));
        let secondary = ProxyAddress::parse(" smtp:ada@contoso.mail.onmicrosoft.com ").unwrap();
        assert!(secondary.is_smtp() && !secondary.is_primary());
        let bare = ProxyAddress::parse("ada@contoso.com").unwrap();
        assert!(bare.is_smtp() && !bare.is_primary(), "Exchange's default");
        assert_eq!(bare.to_string(), "ada@contoso.com");
        let x500 = ProxyAddress::parse("X500:/o=ExchangeLabs/ou=Exchange/cn=Recipients").unwrap();
        assert!(!x500.is_smtp());
        assert_eq!(
            ProxyAddress::secondary_smtp("SMTP:ada@contoso.com")
                .unwrap()
                .to_string(),
            "smtp:ada@contoso.com"
        );
        assert!(ProxyAddress::secondary_smtp(&x500.to_string()).is_err());
    }

    #[test]
    fn what_is_no_address_is_refused() {
        for bad in [
            "",
            "smtp:",
            "no-at",
            "smtp:a@b",
            "a b@c.com",
            "a@b@c.com",
            "x:\u{0}@c.com",
            "smtp:ada@.com",
            "sm tp:ada@contoso.com",
        ] {
            assert!(ProxyAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ProxyAddress::parse(&format!("{}@contoso.com", "a".repeat(400))).is_err());
    }

    #[test]
    fn the_wire_form_is_the_string_exchange_writes() {
        let address: ProxyAddress =
            serde_json::from_str("\"smtp:ada@contoso.mail.onmicrosoft.com\"").unwrap();
        assert_eq!(
            serde_json::to_string(&address).unwrap(),
            "\"smtp:ada@contoso.mail.onmicrosoft.com\""
        );
        assert!(serde_json::from_str::<ProxyAddress>("\"smtp:nobody\"").is_err());
    }
}
