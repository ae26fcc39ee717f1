//! The JQL subset a help desk's scripts search with: clauses on `key`, `project`, `status`,
//! `labels`, `summary` and `text`, with `=`, `!=`, `~`, `in (...)` and `not in (...)`, joined
//! by `AND`, an `ORDER BY` read and ignored. Anything else is refused in Jira's words rather
//! than matched wrongly.

use crate::tickets::JiraIssue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Key,
    Project,
    Status,
    Labels,
    Summary,
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Contains,
    In,
    NotIn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Clause {
    field: Field,
    op: Op,
    values: Vec<String>,
}

/// The words of `jql`: quoted strings whole, `(`, `)`, `,` and operators on their own.
fn tokens(jql: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = jql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | '=' | '~' => {
                out.push(c.to_string());
                chars.next();
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err("Error in the JQL Query: expected '=' after '!'.".into());
                }
                out.push("!=".into());
            }
            '"' | '\'' => {
                chars.next();
                let mut word = String::from("\"");
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') => word.extend(chars.next()),
                        Some(other) => word.push(other),
                        None => return Err("Error in the JQL Query: an unclosed quote.".into()),
                    }
                }
                out.push(word);
            }
            _ => {
                let mut word = String::new();
                while let Some(&w) = chars.peek() {
                    if w.is_whitespace() || "(),=~!\"'".contains(w) {
                        break;
                    }
                    word.push(w);
                    chars.next();
                }
                out.push(word);
            }
        }
    }
    Ok(out)
}

/// A value token without its quote marker.
fn value(token: &str) -> String {
    token.strip_prefix('"').unwrap_or(token).to_owned()
}

pub(super) fn parse(jql: &str) -> Result<Vec<Clause>, String> {
    let words = tokens(jql)?;
    let mut clauses = Vec::new();
    let mut at = 0;
    while at < words.len() {
        let word = words[at].to_ascii_lowercase();
        if word == "order" {
            // `ORDER BY ...` sorts; the simulator keeps its one order.
            break;
        }
        if !clauses.is_empty() {
            match word.as_str() {
                "and" => at += 1,
                "or" => return Err("Error in the JQL Query: OR is not supported here.".into()),
                _ => {
                    return Err(format!(
                        "Error in the JQL Query: expected AND before '{}'.",
                        words[at]
                    ));
                }
            }
        }
        let name = words
            .get(at)
            .ok_or("Error in the JQL Query: a clause is missing.")?;
        let field = match name.to_ascii_lowercase().as_str() {
            "key" | "issuekey" => Field::Key,
            "project" => Field::Project,
            "status" => Field::Status,
            "labels" => Field::Labels,
            "summary" => Field::Summary,
            "text" => Field::Text,
            _ => {
                return Err(format!(
                    "Field '{name}' does not exist or you do not have permission to view it."
                ));
            }
        };
        at += 1;
        let op_word = words
            .get(at)
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default();
        let (op, width) = match op_word.as_str() {
            "=" => (Op::Eq, 1),
            "!=" => (Op::Ne, 1),
            "~" => (Op::Contains, 1),
            "in" => (Op::In, 1),
            "not"
                if words
                    .get(at + 1)
                    .is_some_and(|w| w.eq_ignore_ascii_case("in")) =>
            {
                (Op::NotIn, 2)
            }
            _ => {
                return Err(format!(
                    "Error in the JQL Query: no operator after '{name}'."
                ));
            }
        };
        at += width;
        let values = if matches!(op, Op::In | Op::NotIn) {
            if words.get(at).map(String::as_str) != Some("(") {
                return Err("Error in the JQL Query: expected '(' after IN.".into());
            }
            at += 1;
            let mut values = Vec::new();
            loop {
                match words.get(at).map(String::as_str) {
                    Some(")") => break,
                    Some(",") => at += 1,
                    Some(word) => {
                        values.push(value(word));
                        at += 1;
                    }
                    None => return Err("Error in the JQL Query: expected ')'.".into()),
                }
            }
            at += 1;
            values
        } else {
            let word = words
                .get(at)
                .ok_or_else(|| format!("Error in the JQL Query: no value for '{name}'."))?;
            at += 1;
            vec![value(word)]
        };
        if op == Op::Contains && !matches!(field, Field::Summary | Field::Text) {
            return Err(format!(
                "The operator '~' is not supported by the '{name}' field."
            ));
        }
        clauses.push(Clause { field, op, values });
    }
    Ok(clauses)
}

impl Clause {
    pub(super) fn matches(&self, issue: &JiraIssue) -> bool {
        let project = issue.key.split('-').next().unwrap_or_default();
        let held: Vec<&str> = match self.field {
            Field::Key => vec![issue.key.as_str()],
            Field::Project => vec![project],
            Field::Status => vec![issue.status.as_str()],
            Field::Labels => issue.labels.iter().map(String::as_str).collect(),
            Field::Summary => vec![issue.summary.as_str()],
            Field::Text => vec![issue.summary.as_str(), issue.description.as_str()],
        };
        let equal = |v: &String| held.iter().any(|h| h.eq_ignore_ascii_case(v));
        match self.op {
            Op::Eq | Op::In => self.values.iter().any(equal),
            Op::Ne | Op::NotIn => !self.values.iter().any(equal),
            Op::Contains => self.values.iter().any(|v| {
                let v = v.to_lowercase();
                held.iter().any(|h| h.to_lowercase().contains(&v))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn issue(key: &str, status: &str, labels: &[&str]) -> JiraIssue {
        JiraIssue {
            id: "10000".into(),
            key: key.into(),
            summary: "Mail to this mailbox bounces".into(),
            description: "Affected user: ada@contoso.com".into(),
            status: status.into(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            comments: Vec::new(),
            created: OffsetDateTime::UNIX_EPOCH,
            updated: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_searches_a_help_desk_writes_match_as_jira_does() {
        let open = issue("HELP-1", "Open", &["detour"]);
        let done = issue("HELP-2", "Resolved", &[]);
        let check = |jql: &str, want: [bool; 2]| {
            let clauses = parse(jql).unwrap();
            let got = [&open, &done].map(|i| clauses.iter().all(|c| c.matches(i)));
            assert_eq!(got, want, "{jql}");
        };
        check(
            "project = HELP AND labels = detour ORDER BY created DESC",
            [true, false],
        );
        check("status in (\"Resolved\", Closed)", [false, true]);
        check("key != HELP-1", [false, true]);
        check(
            "text ~ \"ada@contoso\" and status not in (Resolved)",
            [true, false],
        );
        check("", [true, true]);
    }

    #[test]
    fn what_is_not_understood_is_refused_not_guessed() {
        for bad in [
            "assignee = ada",
            "labels = a OR labels = b",
            "status in (Open",
            "labels ~ det",
            "summary ~ \"open",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
