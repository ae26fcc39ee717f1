//! Jira Cloud and Jira Service Management webhooks: `jira:issue_created` starts a remediation
//! (or says on the ticket why it will not), `jira:issue_updated` starts one a ticket has become
//! (silently otherwise) or, when the status moves to the approval status, approves its plan.

use detour_contracts::{TicketRef, TicketSystem};
use serde_json::Value;
use time::OffsetDateTime;

use super::{Inbound, Malformed, Request, json_object, mapping, ticket_key, truncated};
use crate::settings::JiraSettings;

const CREATED: &str = "jira:issue_created";
const UPDATED: &str = "jira:issue_updated";

pub fn parse(settings: &JiraSettings, body: &[u8]) -> Result<Inbound, Malformed> {
    let object = json_object(body)?;
    let event = object
        .get("webhookEvent")
        .and_then(Value::as_str)
        .ok_or_else(|| Malformed("webhookEvent is missing: is this a Jira webhook?".into()))?;
    let issue = object
        .get("issue")
        .and_then(Value::as_object)
        .ok_or_else(|| Malformed("issue is missing or not an object".into()))?;
    let key = issue
        .get("key")
        .and_then(Value::as_str)
        .filter(|key| !key.trim().is_empty())
        .ok_or_else(|| Malformed("issue.key is missing".into()))?
        .trim();
    if !ticket_key::is_jira_key(key) {
        return Err(Malformed(format!(
            "issue.key {:?} is not a Jira issue key (PROJECT-123)",
            truncated(key)
        )));
    }
    let fields = issue
        .get("fields")
        .and_then(Value::as_object)
        .ok_or_else(|| Malformed("issue.fields is missing or not an object".into()))?;
    let ticket = TicketRef {
        system: TicketSystem::Jira,
        key: key.to_owned(),
    };
    // When Jira raised the event, in milliseconds since the epoch; every delivery has it.
    let sent_at = object
        .get("timestamp")
        .and_then(Value::as_i64)
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .ok_or_else(|| Malformed("timestamp is missing: Jira sends the event's time".into()))?;
    let answer = |request| {
        Ok(Inbound {
            ticket: ticket.clone(),
            request,
            sent_at: Some(sent_at),
        })
    };
    if event != CREATED && event != UPDATED {
        return answer(Request::Ignore {
            reason: format!("{event} is not an event Detour follows"),
        });
    }
    if event == UPDATED && moved_to(&object, &settings.approval_status) {
        let by = object
            .get("user")
            .and_then(|user| user.get("displayName").or_else(|| user.get("accountId")))
            .and_then(Value::as_str)
            .unwrap_or("a Jira user");
        return answer(Request::Approve { by: by.to_owned() });
    }
    let labels: Vec<String> = fields
        .get("labels")
        .and_then(Value::as_array)
        .map(|labels| {
            labels
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let text = format!(
        "{} {}",
        fields
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        fields
            .get("description")
            .map(mapping::plain_text)
            .unwrap_or_default()
    );
    let mapped = mapping::apply(&settings.mapping, fields, &labels, &text);
    let dry_run = labels
        .iter()
        .any(|label| label.eq_ignore_ascii_case(&settings.mapping.dry_run_marker));
    let request = match (mapped.is_remediation, mapped.user, event == CREATED) {
        (true, Some(user), _) => Request::start_or_decline(&user, dry_run),
        (false, _, true) => Request::Decline {
            reason: "This ticket does not look like a missing-address case (no matching label \
                     or text), so Detour will not act on it."
                .into(),
        },
        (true, None, true) => Request::Decline {
            reason: format!(
                "Detour could not find the affected user: set {} or name the user's UPN in the \
                 summary or description.",
                user_fields_words(settings)
            ),
        },
        (_, _, false) => Request::Ignore {
            reason: "an update that asks nothing of Detour".into(),
        },
    };
    answer(request)
}

/// Whether the update's changelog moves the status to `status`.
fn moved_to(object: &serde_json::Map<String, Value>, status: &str) -> bool {
    object
        .get("changelog")
        .and_then(|changelog| changelog.get("items"))
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items.iter().any(|item| {
                item.get("field").and_then(Value::as_str) == Some("status")
                    && item
                        .get("toString")
                        .and_then(Value::as_str)
                        .is_some_and(|to| to.eq_ignore_ascii_case(status))
            })
        })
}

fn user_fields_words(settings: &JiraSettings) -> String {
    if settings.mapping.user_fields.is_empty() {
        "the user field".into()
    } else {
        settings.mapping.user_fields.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::settings::Mapping;

    fn settings() -> JiraSettings {
        JiraSettings {
            enabled: true,
            base_url: "http://jira".into(),
            api_version: 2,
            email: "detour@contoso.com".into(),
            api_token: None,
            webhook_secret: None,
            mapping: Mapping {
                user_fields: vec!["customfield_10050".into()],
                user_label_prefix: "user:".into(),
                match_labels: vec!["detour".into()],
                match_text: vec!["onmicrosoft.com".into()],
                dry_run_marker: "detour-dry-run".into(),
            },
            approval_status: "Approved".into(),
            start_transition: String::new(),
            resolve_transition: String::new(),
            escalate_transition: String::new(),
            request_timeout_ms: 1000,
            max_attempts: 1,
            backoff_ms: 1,
        }
    }

    fn created(fields: Value) -> Vec<u8> {
        json!({"webhookEvent": CREATED, "timestamp": 1_796_000_000_000_i64,
            "issue": {"id": "10001", "key": "HELP-42", "fields": fields}})
        .to_string()
        .into_bytes()
    }

    fn parse_ok(body: &[u8]) -> Inbound {
        parse(&settings(), body).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn a_created_remediation_ticket_starts_one() {
        let inbound = parse_ok(&created(json!({
            "summary": "Mail bounces", "labels": ["detour"],
            "customfield_10050": "ada@contoso.com"})));
        assert_eq!(inbound.ticket.to_string(), "jira:HELP-42");
        assert_eq!(
            inbound.request,
            Request::Start {
                user: detour_contracts::Upn::parse("ada@contoso.com").unwrap(),
                dry_run: false
            }
        );
    }

    #[test]
    fn the_dry_run_label_marks_a_dry_run() {
        let inbound = parse_ok(&created(json!({
            "summary": "x", "labels": ["detour", "Detour-Dry-Run"], "customfield_10050": "ada@contoso.com"})));
        assert!(matches!(
            inbound.request,
            Request::Start { dry_run: true, .. }
        ));
    }

    #[test]
    fn a_missing_user_or_an_unrelated_ticket_is_declined_with_a_reason() {
        let no_user = parse_ok(&created(json!({"summary": "x", "labels": ["detour"]})));
        assert!(
            matches!(&no_user.request, Request::Decline { reason } if reason.contains("customfield_10050"))
        );
        let unrelated = parse_ok(&created(json!({"summary": "printer", "labels": []})));
        assert!(matches!(unrelated.request, Request::Decline { .. }));
    }

    #[test]
    fn a_user_field_that_is_no_upn_is_declined_quoting_only_its_start() {
        let hostile = format!("{}@contoso.com", "x".repeat(262_144));
        let inbound = parse_ok(&created(json!({
            "summary": "x", "labels": ["detour"], "customfield_10050": hostile})));
        let Request::Decline { reason } = inbound.request else {
            panic!("{:?}", inbound.request);
        };
        assert!(
            reason.len() < 300 && reason.contains("longer than Entra allows"),
            "{reason}"
        );
    }

    #[test]
    fn the_event_time_comes_from_the_body_and_is_required() {
        let inbound = parse_ok(&created(json!({"summary": "x"})));
        assert_eq!(
            inbound.sent_at.map(OffsetDateTime::unix_timestamp),
            Some(1_796_000_000)
        );
        let untimed = json!({"webhookEvent": CREATED,
            "issue": {"key": "HELP-1", "fields": {"summary": "x"}}});
        let error = parse(&settings(), untimed.to_string().as_bytes()).unwrap_err();
        assert!(error.0.contains("timestamp"), "{error}");
    }

    #[test]
    fn moving_to_the_approval_status_approves() {
        let body = json!({"webhookEvent": UPDATED, "timestamp": 1_796_000_000_000_i64,
            "user": {"displayName": "Grace Hopper"},
            "issue": {"key": "HELP-42", "fields": {"summary": "x"}},
            "changelog": {"items": [{"field": "status", "fromString": "Open", "toString": "Approved"}]}});
        let inbound = parse_ok(body.to_string().as_bytes());
        assert_eq!(
            inbound.request,
            Request::Approve {
                by: "Grace Hopper".into()
            }
        );
    }

    #[test]
    fn an_update_that_asks_nothing_is_ignored_quietly() {
        let body = json!({"webhookEvent": UPDATED, "timestamp": 1_796_000_000_000_i64,
            "issue": {"key": "HELP-7", "fields": {"summary": "printer"}}});
        assert!(matches!(
            parse_ok(body.to_string().as_bytes()).request,
            Request::Ignore { .. }
        ));
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        for (body, says) in [
            ("not json", "not valid JSON"),
            ("[1]", "JSON object"),
            (r#"{"issue": {}}"#, "webhookEvent"),
            (r#"{"webhookEvent": "jira:issue_created"}"#, "issue"),
            (
                r#"{"webhookEvent": "jira:issue_created", "issue": {"fields": {}}}"#,
                "issue.key",
            ),
            (
                r#"{"webhookEvent": "jira:issue_created", "issue": {"key": "A-1"}}"#,
                "issue.fields",
            ),
            // A key that would climb out of its REST path is refused, not written to.
            (
                r#"{"webhookEvent": "jira:issue_created", "issue": {"key": "NOPE/../CZ-2", "fields": {}}}"#,
                "not a Jira issue key",
            ),
        ] {
            let error = parse(&settings(), body.as_bytes()).unwrap_err();
            assert!(error.0.contains(says), "{body}: {error}");
        }
    }
}
