//! The generic endpoint, for anything that can POST JSON:
//! `{"ticket": "CHG-1", "user": "ada@contoso.com", "dry_run": false, "approve": false}`.
//! `ticket` and `user` are required (`user` may be omitted only with `approve`); unknown fields
//! are refused, so a typo is an error instead of a silent default.

use detour_contracts::{TicketRef, TicketSystem};
use serde::Deserialize;

use super::{Inbound, Malformed, Request};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericBody {
    ticket: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    approve: bool,
    #[serde(default)]
    approved_by: Option<String>,
}

pub fn parse(body: &[u8]) -> Result<Inbound, Malformed> {
    let body: GenericBody = serde_json::from_slice(body)
        .map_err(|error| Malformed(format!("the body is not a generic request: {error}")))?;
    let key = body.ticket.trim();
    if key.is_empty() || key.len() > 128 || key.chars().any(char::is_control) {
        return Err(Malformed(
            "ticket must be 1 to 128 printable characters".into(),
        ));
    }
    let ticket = TicketRef {
        system: TicketSystem::Generic,
        key: key.to_owned(),
    };
    let request = if body.approve {
        Request::Approve {
            by: body
                .approved_by
                .unwrap_or_else(|| "the generic endpoint".into()),
        }
    } else {
        let user = body
            .user
            .filter(|user| !user.trim().is_empty())
            .ok_or_else(|| Malformed("user is missing: name the user's UPN".into()))?;
        let user = detour_contracts::Upn::parse(&user)
            .map_err(|error| Malformed(format!("user: {error}")))?;
        Request::Start {
            user,
            dry_run: body.dry_run,
        }
    };
    Ok(Inbound {
        ticket,
        request,
        sent_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_ticket_and_user() {
        let inbound =
            parse(br#"{"ticket": "CHG-1", "user": "ada@contoso.com", "dry_run": true}"#).unwrap();
        assert_eq!(inbound.ticket.to_string(), "generic:CHG-1");
        assert_eq!(
            inbound.request,
            Request::Start {
                user: detour_contracts::Upn::parse("ada@contoso.com").unwrap(),
                dry_run: true
            }
        );
    }

    #[test]
    fn what_is_wrong_is_said() {
        for (body, says) in [
            (r#"{"ticket": "CHG-1"}"#, "user is missing"),
            (r#"{"user": "ada@contoso.com"}"#, "missing field `ticket`"),
            (
                r#"{"ticket": "CHG-1", "user": "a@b.c", "dryrun": true}"#,
                "unknown field `dryrun`",
            ),
            (r#"{"ticket": "", "user": "a@b.c"}"#, "ticket must be"),
            ("{", "EOF"),
        ] {
            let error = parse(body.as_bytes()).unwrap_err();
            assert!(error.0.contains(says), "{body}: {error}");
        }
    }
}
