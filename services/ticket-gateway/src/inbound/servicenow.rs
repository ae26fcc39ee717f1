//! ServiceNow's outbound REST message: the incident's fields as one JSON object (`number`
//! and `sys_id` required; `operation` is `insert` or `update` when the business rule sends
//! it). An incident whose approval field turns to the approval value approves its plan.

use detour_contracts::{TicketRef, TicketSystem};
use serde_json::Value;
use time::OffsetDateTime;

use super::{Inbound, Malformed, Request, json_object, mapping, ticket_key, truncated};
use crate::settings::ServiceNowSettings;

pub fn parse(settings: &ServiceNowSettings, body: &[u8]) -> Result<Inbound, Malformed> {
    let record = json_object(body)?;
    let text_of = |field: &str| {
        record
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let number = text_of("number").trim();
    if number.is_empty() {
        return Err(Malformed(
            "number is missing: send the incident's number".into(),
        ));
    }
    if !ticket_key::is_servicenow_number(number) {
        return Err(Malformed(format!(
            "number {:?} is not a ServiceNow record number (INC0010001)",
            truncated(number)
        )));
    }
    let ticket = TicketRef {
        system: TicketSystem::ServiceNow,
        key: number.to_owned(),
    };
    let sent_at = updated_on(text_of("sys_updated_on"))?;
    let inserted = !matches!(text_of("operation"), "update");
    let approved = text_of(&settings.approval_field).eq_ignore_ascii_case(&settings.approval_value);
    if approved && !inserted {
        let by = Some(text_of("sys_updated_by")).filter(|by| !by.is_empty());
        return Ok(Inbound {
            ticket,
            request: Request::Approve {
                by: by.unwrap_or("a ServiceNow user").to_owned(),
            },
            sent_at,
        });
    }
    let text = format!(
        "{} {}",
        text_of("short_description"),
        text_of("description")
    );
    let mapped = mapping::apply(&settings.mapping, &record, &[], &text);
    let dry_run = match record.get(&settings.mapping.dry_run_marker) {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(flag)) => {
            matches!(flag.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
        }
        _ => false,
    };
    let request = match (mapped.is_remediation, mapped.user, inserted) {
        (true, Some(user), _) => Request::start_or_decline(&user, dry_run),
        (false, _, true) => Request::Decline {
            reason: "This incident does not look like a missing-address case, so Detour will \
                     not act on it."
                .into(),
        },
        (true, None, true) => Request::Decline {
            reason: format!(
                "Detour could not find the affected user: set {} or name the user's UPN in the \
                 short description.",
                settings.mapping.user_fields.join(" or ")
            ),
        },
        (_, _, false) => Request::Ignore {
            reason: "an update that asks nothing of Detour".into(),
        },
    };
    Ok(Inbound {
        ticket,
        request,
        sent_at,
    })
}

/// `sys_updated_on` as a ServiceNow record's value gives it (`2026-12-01 10:00:00`, UTC), when
/// the outbound message sends it.
fn updated_on(text: &str) -> Result<Option<OffsetDateTime>, Malformed> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(text.trim(), format)
        .map(|at| Some(at.assume_utc()))
        .map_err(|_| {
            Malformed(format!(
                "sys_updated_on {:?} is not a date and time (2026-12-01 10:00:00)",
                truncated(text)
            ))
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::settings::Mapping;

    fn settings() -> ServiceNowSettings {
        ServiceNowSettings {
            enabled: true,
            base_url: "http://snow".into(),
            user: "detour".into(),
            password: None,
            webhook_token: None,
            token_header: "x-detour-token".into(),
            mapping: Mapping {
                user_fields: vec!["u_affected_user".into(), "caller_id".into()],
                user_label_prefix: String::new(),
                match_labels: vec![],
                match_text: vec!["onmicrosoft.com".into()],
                dry_run_marker: "u_detour_dry_run".into(),
            },
            approval_field: "approval".into(),
            approval_value: "approved".into(),
            resolved_state: "6".into(),
            close_code: "Solved (Permanently)".into(),
            escalated_state: "3".into(),
            request_timeout_ms: 1000,
            max_attempts: 1,
            backoff_ms: 1,
        }
    }

    #[test]
    fn an_incident_names_its_user_in_a_field() {
        let body = json!({"number": "INC0010001", "sys_id": "abc", "operation": "insert",
            "short_description": "No contoso.mail.onmicrosoft.com address",
            "caller_id": "ada@contoso.com", "u_detour_dry_run": "true"});
        let inbound = parse(&settings(), body.to_string().as_bytes()).unwrap();
        assert_eq!(inbound.ticket.to_string(), "servicenow:INC0010001");
        assert_eq!(
            inbound.request,
            Request::Start {
                user: detour_contracts::Upn::parse("ada@contoso.com").unwrap(),
                dry_run: true
            }
        );
    }

    #[test]
    fn an_update_to_approved_approves() {
        let body = json!({"number": "INC0010001", "operation": "update", "approval": "approved",
            "sys_updated_by": "grace"});
        assert_eq!(
            parse(&settings(), body.to_string().as_bytes())
                .unwrap()
                .request,
            Request::Approve { by: "grace".into() }
        );
    }

    #[test]
    fn without_a_number_it_is_malformed() {
        let error = parse(&settings(), br#"{"short_description": "x"}"#).unwrap_err();
        assert!(error.0.contains("number"), "{error}");
    }
}
