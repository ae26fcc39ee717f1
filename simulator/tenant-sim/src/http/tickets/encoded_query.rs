//! ServiceNow's encoded queries (`sysparm_query`): conditions joined by `^` (AND) and `^OR`
//! (OR, which binds tighter: `a^b^ORc` is a AND (b OR c)), the operators `=`, `!=`, `LIKE`,
//! `NOT LIKE`, `STARTSWITH`, `ENDSWITH`, `IN`, `NOT IN`, `ISEMPTY`, `ISNOTEMPTY`, and
//! `ORDERBY`/`ORDERBYDESC`. A condition on a field the table lacks matches nothing: the
//! behaviour of `glide.invalid_query.returns_no_rows`, which ServiceNow advises integrations to
//! run with, rather than the old default of ignoring it and returning every row.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Like,
    NotLike,
    StartsWith,
    EndsWith,
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    field: String,
    op: Op,
    value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Query {
    /// AND of ORs.
    groups: Vec<Vec<Condition>>,
    order: Vec<(String, bool)>,
}

/// Operators by their spelling, longest first so `!=` is not read as `=`.
const OPERATORS: &[(&str, Op)] = &[
    ("ISNOTEMPTY", Op::IsNotEmpty),
    ("ISEMPTY", Op::IsEmpty),
    ("STARTSWITH", Op::StartsWith),
    ("ENDSWITH", Op::EndsWith),
    ("NOT LIKE", Op::NotLike),
    ("NOT IN", Op::NotIn),
    ("LIKE", Op::Like),
    ("!=", Op::Ne),
    ("IN", Op::In),
    ("=", Op::Eq),
];

fn condition(text: &str) -> Option<Condition> {
    // Field names are lower case (`u_` for custom ones); operators are upper case.
    let field_end = text
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(text.len());
    let (field, rest) = text.split_at(field_end);
    let (spelling, op) = OPERATORS.iter().find(|(s, _)| rest.starts_with(s))?;
    Some(Condition {
        field: field.to_owned(),
        op: op.clone(),
        value: rest[spelling.len()..].to_owned(),
    })
}

pub(super) fn parse(query: &str) -> Query {
    let mut parsed = Query::default();
    for part in query.split('^').filter(|p| !p.is_empty() && *p != "EQ") {
        if let Some(field) = part.strip_prefix("ORDERBYDESC") {
            parsed.order.push((field.to_owned(), true));
        } else if let Some(field) = part.strip_prefix("ORDERBY") {
            parsed.order.push((field.to_owned(), false));
        } else if let Some(or) = part.strip_prefix("OR") {
            let condition = condition(or);
            match (parsed.groups.last_mut(), condition) {
                (Some(group), Some(condition)) => group.push(condition),
                _ => parsed.groups.push(vec![impossible()]),
            }
        } else {
            parsed
                .groups
                .push(vec![condition(part).unwrap_or_else(impossible)]);
        }
    }
    parsed
}

/// What a condition that does not parse becomes: one that holds for no row.
fn impossible() -> Condition {
    Condition {
        field: String::new(),
        op: Op::Eq,
        value: String::new(),
    }
}

impl Condition {
    fn holds(&self, record: &Map<String, Value>) -> bool {
        let Some(value) = record.get(&self.field) else {
            return false;
        };
        let held = match value {
            Value::String(text) => text.clone(),
            Value::Object(reference) => reference
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            other => other.to_string(),
        };
        let (held_lower, want_lower) = (held.to_lowercase(), self.value.to_lowercase());
        let listed = || {
            self.value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case(&held))
        };
        match self.op {
            Op::Eq => held_lower == want_lower,
            Op::Ne => held_lower != want_lower,
            Op::Like => held_lower.contains(&want_lower),
            Op::NotLike => !held_lower.contains(&want_lower),
            Op::StartsWith => held_lower.starts_with(&want_lower),
            Op::EndsWith => held_lower.ends_with(&want_lower),
            Op::In => listed(),
            Op::NotIn => !listed(),
            Op::IsEmpty => held.is_empty(),
            Op::IsNotEmpty => !held.is_empty(),
        }
    }
}

impl Query {
    pub(super) fn matches(&self, record: &Map<String, Value>) -> bool {
        self.groups
            .iter()
            .all(|group| group.iter().any(|c| c.holds(record)))
    }

    /// `records` in the query's order (stable: ties keep their order).
    pub(super) fn sort(&self, records: &mut [Map<String, Value>]) {
        for (field, descending) in self.order.iter().rev() {
            records.sort_by(|a, b| {
                let key = |r: &Map<String, Value>| {
                    r.get(field)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let order = key(a).cmp(&key(b));
                if *descending { order.reverse() } else { order }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn conditions_join_as_servicenow_joins_them() {
        let note = record(json!({ "element_id": "abc", "element": "work_notes",
            "value": "Detour fixed ada", "caller_id": { "value": "u1", "link": "x" } }));
        let holds = |q: &str| parse(q).matches(&note);
        assert!(holds("element_id=abc^element=work_notes"));
        assert!(!holds("element_id=abc^element=comments"));
        assert!(holds(
            "element=comments^ORelement=work_notes^element_id=abc"
        ));
        assert!(holds(
            "valueLIKEfixed^valueSTARTSWITHdetour^ORDERBYDESCsys_created_on"
        ));
        assert!(holds("elementINcomments,work_notes^element_id!=xyz"));
        assert!(holds("caller_id=u1"), "a reference compares by its sys_id");
        assert!(!holds("no_such_field=1"), "an unknown field matches no row");
        assert!(
            !holds("element_id~abc"),
            "an unknown operator matches no row"
        );
        assert!(holds(""), "no condition: every row");
    }
}
