//! Is a webhook who it says it is: Jira's HMAC-SHA256 of the raw body in
//! `X-Hub-Signature: sha256=<hex>`, and the shared tokens of ServiceNow and the generic
//! endpoint. Every comparison takes the same time however much of it matches.

use detour_config::Secret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unauthenticated {
    #[error("the request is not signed (X-Hub-Signature: sha256=<hex>)")]
    Unsigned,
    #[error("the signature is not sha256=<64 hex digits>")]
    BadFormat,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the request does not carry the shared token")]
    NoToken,
    #[error("the token is wrong")]
    WrongToken,
}

/// Checks `header` (the `X-Hub-Signature` value) against the HMAC-SHA256 of `body` under
/// `secret`.
pub fn verify_hub_signature(
    secret: &Secret,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), Unauthenticated> {
    let header = header.ok_or(Unauthenticated::Unsigned)?;
    let hex_digest = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(Unauthenticated::BadFormat)?;
    let presented = hex::decode(hex_digest).map_err(|_| Unauthenticated::BadFormat)?;
    if presented.len() != 32 {
        return Err(Unauthenticated::BadFormat);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Unauthenticated::Mismatch)?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&presented)
        .map_err(|_| Unauthenticated::Mismatch)
}

/// The `sha256=<hex>` signature of `body`, as Jira sends it (for clients and tests).
pub fn hub_signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a shared token, given bare or as `Bearer <token>`.
pub fn verify_token(expected: &Secret, presented: Option<&str>) -> Result<(), Unauthenticated> {
    let presented = presented.ok_or(Unauthenticated::NoToken)?.trim();
    let presented = presented.strip_prefix("Bearer ").unwrap_or(presented);
    if expected.matches(presented.as_bytes()) {
        Ok(())
    } else {
        Err(Unauthenticated::WrongToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("It's a Secret to Everybody")
    }

    #[test]
    fn a_known_vector_verifies() {
        // The example GitHub documents for its X-Hub-Signature-256, the same scheme Jira uses.
        let body = b"Hello, World!";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(hub_signature(&secret(), body), header);
        assert_eq!(verify_hub_signature(&secret(), body, Some(header)), Ok(()));
    }

    #[test]
    fn forged_or_missing_signatures_are_refused() {
        let body = br#"{"webhookEvent":"jira:issue_created"}"#;
        let good = hub_signature(&secret(), body);
        assert_eq!(
            verify_hub_signature(&secret(), body, None),
            Err(Unauthenticated::Unsigned)
        );
        assert_eq!(
            verify_hub_signature(&secret(), body, Some("sha1=abc")),
            Err(Unauthenticated::BadFormat)
        );
        assert_eq!(
            verify_hub_signature(&secret(), b"{}", Some(&good)),
            Err(Unauthenticated::Mismatch),
            "another body"
        );
        let other = hub_signature(&Secret::new("guess"), body);
        assert_eq!(
            verify_hub_signature(&secret(), body, Some(&other)),
            Err(Unauthenticated::Mismatch),
            "another key"
        );
    }

    #[test]
    fn tokens_match_bare_or_as_bearer() {
        let token = Secret::new("snow-token");
        assert_eq!(verify_token(&token, Some("snow-token")), Ok(()));
        assert_eq!(verify_token(&token, Some("Bearer snow-token")), Ok(()));
        assert_eq!(
            verify_token(&token, Some("snow-tokeN")),
            Err(Unauthenticated::WrongToken)
        );
        assert_eq!(verify_token(&token, None), Err(Unauthenticated::NoToken));
    }
}
