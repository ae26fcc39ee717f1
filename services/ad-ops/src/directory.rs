//! The port ad-ops's steps stand on: what they need of Active Directory (find a user, see
//! whether an entry exists, rename an entry, replace one attribute, add or delete one value),
//! and what can go wrong
//! there, classified once at the edge: LDAP result codes become [`DirectoryError`]s, which the
//! steps answer as Retry (transient) or a failure event (permanent). `ldap_directory` is the
//! real adapter; the handlers' tests use an in-memory one.

use std::future::Future;

use detour_contracts::{
    Dn,
    ad_ops::{AdFailureKind, AdUserSnapshot, UserLookup},
};

/// What the steps read and change in AD.
pub trait Directory: Send + Sync + 'static {
    /// The one user `lookup` names; none is `NotFound`, several a `Conflict`.
    fn find(
        &self,
        lookup: &UserLookup,
    ) -> impl Future<Output = Result<AdUserSnapshot, DirectoryError>> + Send;

    /// Whether an entry exists at `dn`.
    fn exists(&self, dn: &Dn) -> impl Future<Output = Result<bool, DirectoryError>> + Send;

    /// Moves and renames the entry at `from` to `to` (its parent and name); a name taken
    /// there is a `Conflict`.
    fn rename(&self, from: &Dn, to: &Dn)
    -> impl Future<Output = Result<(), DirectoryError>> + Send;

    /// Replaces the user's `attribute` with `value`, or clears it.
    fn replace_attribute(
        &self,
        dn: &Dn,
        attribute: &str,
        value: Option<&str>,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;

    /// Adds one value to a multi-valued attribute; a value there already is a `Conflict`.
    fn add_value(
        &self,
        dn: &Dn,
        attribute: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;

    /// Deletes exactly one value of a multi-valued attribute.
    fn delete_value(
        &self,
        dn: &Dn,
        attribute: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;

    /// The attribute Connect filters users on (e.g. `extensionAttribute15`).
    fn filter_attribute(&self) -> &str;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(String),
    /// Busy, unavailable, timed out, connection lost: worth another try.
    #[error("{0}")]
    Transient(String),
    /// The command's precondition no longer holds: a late copy, answered without effect.
    #[error("stale: {0}")]
    Stale(String),
}

impl DirectoryError {
    /// From an LDAP result code (RFC 4511 section 4.1.9) and its text.
    pub fn from_result_code(rc: u32, text: &str) -> Self {
        let text = if text.trim().is_empty() {
            format!("LDAP result {rc}")
        } else {
            format!("LDAP result {rc}: {}", text.trim())
        };
        match rc {
            // busy, unavailable, unwillingToPerform is sometimes load-related but mostly not.
            51 | 52 | 3 | 80 => Self::Transient(text),
            32 => Self::NotFound(text),
            // entryAlreadyExists, attributeOrValueExists.
            68 | 20 => Self::Conflict(text),
            50 | 49 | 8 => Self::Forbidden(text),
            _ => Self::Invalid(text),
        }
    }

    /// The failure kind a permanent error reports; `None` for a transient one.
    pub fn failure_kind(&self) -> Option<AdFailureKind> {
        match self {
            Self::NotFound(_) => Some(AdFailureKind::NotFound),
            Self::Conflict(_) => Some(AdFailureKind::Conflict),
            Self::Forbidden(_) => Some(AdFailureKind::Forbidden),
            Self::Invalid(_) => Some(AdFailureKind::Invalid),
            Self::Stale(_) => Some(AdFailureKind::Stale),
            Self::Transient(_) => None,
        }
    }
}

impl From<ldap3::LdapError> for DirectoryError {
    fn from(error: ldap3::LdapError) -> Self {
        match error {
            ldap3::LdapError::LdapResult { result } => {
                Self::from_result_code(result.rc, &result.text)
            }
            // I/O, TLS, timeouts, a dropped connection: the DC may come back.
            other => Self::Transient(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_map_to_what_a_caller_can_do() {
        assert!(matches!(
            DirectoryError::from_result_code(51, "busy"),
            DirectoryError::Transient(_)
        ));
        assert!(matches!(
            DirectoryError::from_result_code(52, ""),
            DirectoryError::Transient(_)
        ));
        assert!(matches!(
            DirectoryError::from_result_code(32, ""),
            DirectoryError::NotFound(_)
        ));
        assert!(matches!(
            DirectoryError::from_result_code(50, ""),
            DirectoryError::Forbidden(_)
        ));
        assert!(matches!(
            DirectoryError::from_result_code(68, ""),
            DirectoryError::Conflict(_)
        ));
        assert!(matches!(
            DirectoryError::from_result_code(53, "Old RDN must be deleted"),
            DirectoryError::Invalid(_)
        ));
        assert_eq!(
            DirectoryError::from_result_code(32, "").failure_kind(),
            Some(AdFailureKind::NotFound)
        );
        assert_eq!(DirectoryError::Transient("x".into()).failure_kind(), None);
    }
}
