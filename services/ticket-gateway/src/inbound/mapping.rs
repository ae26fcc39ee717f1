//! A source's mapping applied to a ticket's fields: is it a remediation request, whose user
//! does it name, is it a dry run. The same rules for every source; only the field names differ.

use serde_json::{Map, Value};

use crate::settings::Mapping;

/// What the mapping finds in one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub is_remediation: bool,
    pub user: Option<String>,
}

/// Applies `mapping` to a ticket's `fields`, its `labels` and its free `text` (summary and
/// description).
pub fn apply(
    mapping: &Mapping,
    fields: &Map<String, Value>,
    labels: &[String],
    text: &str,
) -> Mapped {
    let has_label = labels.iter().any(|label| {
        mapping
            .match_labels
            .iter()
            .any(|wanted| wanted.eq_ignore_ascii_case(label))
    });
    let lowered = text.to_lowercase();
    let has_text = mapping
        .match_text
        .iter()
        .any(|wanted| !wanted.is_empty() && lowered.contains(&wanted.to_lowercase()));
    let no_rules = mapping.match_labels.is_empty() && mapping.match_text.is_empty();
    let user = mapping
        .user_fields
        .iter()
        .find_map(|field| fields.get(field).and_then(user_in))
        .or_else(|| user_in_labels(&mapping.user_label_prefix, labels))
        .or_else(|| first_upn(text));
    Mapped {
        is_remediation: has_label || has_text || no_rules,
        user,
    }
}

/// The user a label names, as `<prefix><upn>` (the prefix compared case-insensitively).
fn user_in_labels(prefix: &str, labels: &[String]) -> Option<String> {
    if prefix.is_empty() {
        return None;
    }
    labels.iter().find_map(|label| {
        let head = label.get(..prefix.len())?;
        let user = label.get(prefix.len()..)?.trim();
        (head.eq_ignore_ascii_case(prefix) && !user.is_empty()).then(|| user.to_owned())
    })
}

/// A user in a field's value: a string, an object naming one (`emailAddress`, `name`:
/// Jira user pickers; `display_value`, then `value`: ServiceNow references), or the first of a
/// list. A ServiceNow sys_id (32 hex digits, what a reference's `value` holds) names no user
/// here: the next field, or the text, is read instead.
fn user_in(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Object(object) => ["emailAddress", "name", "display_value", "value"]
            .iter()
            .filter_map(|key| object.get(*key).and_then(Value::as_str))
            .find(|text| !is_sys_id(text))?
            .trim()
            .to_owned(),
        Value::Array(items) => return items.iter().find_map(user_in),
        _ => return None,
    };
    (!text.is_empty() && !is_sys_id(&text))
        .then(|| text.strip_prefix("mailto:").unwrap_or(&text).to_owned())
}

fn is_sys_id(text: &str) -> bool {
    let text = text.trim();
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The first word of `text` that looks like a UPN: something, `@`, a dotted domain. Wrapping
/// punctuation is dropped; what is inside is kept as written (the coordinator validates it and
/// ad-ops escapes it before LDAP sees it).
pub fn first_upn(text: &str) -> Option<String> {
    text.split_whitespace().find_map(|word| {
        let word = word.strip_prefix("mailto:").unwrap_or(word);
        let word = word.trim_matches(|c: char| "<>[]{}\"',;:.!?|".contains(c));
        let (local, domain) = word.split_once('@')?;
        let plausible = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        plausible.then(|| word.to_owned())
    })
}

/// The text of a description: a plain string, or every text node of an Atlassian Document
/// Format document (Jira Cloud's v3 shape).
pub fn plain_text(value: &Value) -> String {
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) => out.push(text.clone()),
            Value::Object(node) => {
                if let Some(Value::String(text)) = node.get("text") {
                    out.push(text.clone());
                }
                if let Some(content) = node.get("content") {
                    collect(content, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
            _ => {}
        }
    }
    let mut parts = Vec::new();
    collect(value, &mut parts);
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping() -> Mapping {
        Mapping {
            user_fields: vec!["customfield_10050".into()],
            user_label_prefix: "user:".into(),
            match_labels: vec!["detour".into()],
            match_text: vec!["onmicrosoft.com".into()],
            dry_run_marker: "detour-dry-run".into(),
        }
    }

    fn fields(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn a_user_field_wins_over_the_text() {
        let found = apply(
            &mapping(),
            &fields(json!({"customfield_10050": {"emailAddress": "ada@contoso.com"}})),
            &["Detour".into()],
            "mail to bob@contoso.com bounces",
        );
        assert_eq!(
            found,
            Mapped {
                is_remediation: true,
                user: Some("ada@contoso.com".into())
            }
        );
    }

    #[test]
    fn without_the_field_the_first_upn_in_the_text_is_taken() {
        let found = apply(
            &mapping(),
            &Map::new(),
            &[],
            "Mail to <ada.lovelace@contoso.com>, routed to its contoso.mail.onmicrosoft.com address, bounces.",
        );
        assert!(found.is_remediation, "the text names onmicrosoft.com");
        assert_eq!(found.user.as_deref(), Some("ada.lovelace@contoso.com"));
    }

    #[test]
    fn a_label_can_name_the_user_before_the_text_does() {
        let found = apply(
            &mapping(),
            &Map::new(),
            &["detour".into(), "User:ada@contoso.com".into()],
            "mail to bob@contoso.com bounces",
        );
        assert_eq!(found.user.as_deref(), Some("ada@contoso.com"));
        let no_prefix = Mapping {
            user_label_prefix: String::new(),
            ..mapping()
        };
        let found = apply(
            &no_prefix,
            &Map::new(),
            &["user:ada@contoso.com".into()],
            "",
        );
        assert_eq!(found.user, None, "labels name no one without a prefix");
    }

    #[test]
    fn an_unrelated_ticket_is_no_remediation() {
        let found = apply(
            &mapping(),
            &Map::new(),
            &["printer".into()],
            "The printer jams",
        );
        assert!(!found.is_remediation);
        assert_eq!(found.user, None);
    }

    #[test]
    fn metacharacters_are_kept_for_the_coordinator_to_judge() {
        assert_eq!(
            first_upn("user: ada*)(objectClass=*@contoso.com please").as_deref(),
            Some("ada*)(objectClass=*@contoso.com")
        );
        assert_eq!(first_upn("no address here, just @ and a.b"), None);
    }

    #[test]
    fn document_format_descriptions_are_read_as_text() {
        let adf = json!({"type": "doc", "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "user"}, {"type": "text", "text": "ada@contoso.com"}]}]});
        assert_eq!(plain_text(&adf), "user ada@contoso.com");
    }
}

#[cfg(test)]
mod references {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_servicenow_reference_names_its_user_by_display_value_never_by_sys_id() {
        let sys_id = "6816f79cc0a8016401c5a33be04be441";
        assert_eq!(
            user_in(&json!({ "link": "https://x/api/now/table/sys_user/1", "value": sys_id })),
            None
        );
        assert_eq!(user_in(&json!(sys_id)), None);
        assert_eq!(
            user_in(&json!({ "display_value": "ada@contoso.com", "value": sys_id })).as_deref(),
            Some("ada@contoso.com")
        );
        assert_eq!(
            user_in(&json!("ada@contoso.com")).as_deref(),
            Some("ada@contoso.com")
        );
    }
}
