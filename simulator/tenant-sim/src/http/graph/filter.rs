//! The `$filter` subset Detour uses on users, with Graph's rules for what needs an advanced
//! query (`ConsistencyLevel: eventual` plus `$count=true`) [S4].

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    Eq {
        property: String,
        value: Value,
    },
    StartsWith {
        property: String,
        prefix: String,
    },
    EndsWith {
        property: String,
        suffix: String,
    },
    /// `proxyAddresses/any(p:p eq 'x')` and its startsWith/endsWith forms.
    Any {
        property: String,
        test: Box<Clause>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Graph's `BadRequest`: the text does not parse.
    #[error("Invalid filter clause: {0}")]
    Syntax(String),
    /// Graph's `Request_UnsupportedQuery`.
    #[error(
        "Unsupported or invalid query filter clause specified for property '{0}' of resource 'User'."
    )]
    Unsupported(String),
}

/// Properties that take `eq` by default, and those that need an advanced query for it.
const EQ_DEFAULT: &[&str] = &[
    "id",
    "userPrincipalName",
    "mail",
    "mailNickname",
    "displayName",
    "onPremisesSyncEnabled",
    "accountEnabled",
    "usageLocation",
];
const EQ_ADVANCED: &[&str] = &["onPremisesImmutableId"];
/// `endsWith` works only with an advanced query, and only on these [S4].
const ENDS_WITH: &[&str] = &["mail", "userPrincipalName", "proxyAddresses", "otherMails"];
const STARTS_WITH: &[&str] = &[
    "userPrincipalName",
    "mail",
    "displayName",
    "proxyAddresses",
    "mailNickname",
];

/// Clauses joined by `and`; `or` is not served here.
pub fn parse(text: &str) -> Result<Vec<Clause>, FilterError> {
    split_outside_quotes(text, " and ")
        .into_iter()
        .map(|part| {
            if !split_outside_quotes(&part, " or ").len().eq(&1) {
                return Err(FilterError::Unsupported("or".into()));
            }
            parse_clause(part.trim())
        })
        .collect()
}

impl Clause {
    /// The property the clause tests, for error messages.
    pub fn property(&self) -> &str {
        match self {
            Clause::Eq { property, .. }
            | Clause::StartsWith { property, .. }
            | Clause::EndsWith { property, .. }
            | Clause::Any { property, .. } => property,
        }
    }

    pub fn needs_advanced_query(&self) -> bool {
        match self {
            Clause::Eq { property, .. } => EQ_ADVANCED.contains(&property.as_str()),
            Clause::StartsWith { .. } => false,
            Clause::EndsWith { .. } => true,
            Clause::Any { test, .. } => test.needs_advanced_query(),
        }
    }

    /// Compares strings case-insensitively (UNCONFIRMED for proxyAddresses [S4]).
    pub fn matches(&self, user: &Map<String, Value>) -> bool {
        match self {
            Clause::Eq { property, value } => {
                equal(user.get(property).unwrap_or(&Value::Null), value)
            }
            Clause::StartsWith { property, prefix } => text_of(user.get(property))
                .is_some_and(|t| t.to_lowercase().starts_with(&prefix.to_lowercase())),
            Clause::EndsWith { property, suffix } => text_of(user.get(property))
                .is_some_and(|t| t.to_lowercase().ends_with(&suffix.to_lowercase())),
            Clause::Any { property, test } => user
                .get(property)
                .and_then(Value::as_array)
                .is_some_and(|items| {
                    items.iter().any(|item| {
                        let single = Map::from_iter([("$it".to_owned(), item.clone())]);
                        test.matches(&single)
                    })
                }),
        }
    }
}

fn equal(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

fn text_of(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

fn parse_clause(text: &str) -> Result<Clause, FilterError> {
    if let Some((collection, rest)) = text.split_once("/any(") {
        let inner = rest
            .strip_suffix(')')
            .ok_or_else(|| FilterError::Syntax(text.into()))?;
        let (variable, test) = inner
            .split_once(':')
            .ok_or_else(|| FilterError::Syntax(text.into()))?;
        // The lambda variable stands first (`p eq 'x'`) or as a function's first argument
        // (`endsWith(p,'x')`); it must not be replaced inside the literal.
        let (variable, test) = (variable.trim(), test.trim());
        let rewritten = match test
            .strip_prefix(variable)
            .filter(|rest| rest.starts_with(' '))
        {
            Some(rest) => format!("$it{rest}"),
            None => test.replacen(&format!("({variable},"), "($it,", 1),
        };
        let test = parse_clause(&rewritten)?;
        check(collection, &test)?;
        return Ok(Clause::Any {
            property: collection.to_owned(),
            test: Box::new(test),
        });
    }
    for (function, allowed) in [("startsWith(", STARTS_WITH), ("endsWith(", ENDS_WITH)] {
        if let Some(args) = text
            .strip_prefix(function)
            .and_then(|r| r.strip_suffix(')'))
        {
            let (property, literal) = args
                .split_once(',')
                .ok_or_else(|| FilterError::Syntax(text.into()))?;
            let property = property.trim().to_owned();
            let literal =
                string_literal(literal.trim()).ok_or_else(|| FilterError::Syntax(text.into()))?;
            if property != "$it" && !allowed.contains(&property.as_str()) {
                return Err(FilterError::Unsupported(property));
            }
            return Ok(if function == "startsWith(" {
                Clause::StartsWith {
                    property,
                    prefix: literal,
                }
            } else {
                Clause::EndsWith {
                    property,
                    suffix: literal,
                }
            });
        }
    }
    let parts: Vec<&str> = text.splitn(3, ' ').collect();
    let [property, operator, literal] = parts.as_slice() else {
        return Err(FilterError::Syntax(text.into()));
    };
    if *operator != "eq" {
        // ne, not, ge, le, in: advanced queries Detour does not need.
        return Err(FilterError::Unsupported((*property).to_owned()));
    }
    if *property != "$it" && !EQ_DEFAULT.contains(property) && !EQ_ADVANCED.contains(property) {
        return Err(FilterError::Unsupported((*property).to_owned()));
    }
    let value = match *literal {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        other => {
            Value::String(string_literal(other).ok_or_else(|| FilterError::Syntax(text.into()))?)
        }
    };
    Ok(Clause::Eq {
        property: (*property).to_owned(),
        value,
    })
}

fn check(collection: &str, test: &Clause) -> Result<(), FilterError> {
    if collection != "proxyAddresses" && collection != "otherMails" {
        return Err(FilterError::Unsupported(collection.to_owned()));
    }
    match test {
        Clause::Eq { property, .. }
        | Clause::StartsWith { property, .. }
        | Clause::EndsWith { property, .. }
            if property == "$it" =>
        {
            Ok(())
        }
        _ => Err(FilterError::Syntax(format!("{collection}/any(...)"))),
    }
}

/// `'it''s'` is `it's`.
fn string_literal(text: &str) -> Option<String> {
    let inner = text.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

fn split_outside_quotes(text: &str, separator: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted && rest.to_lowercase().starts_with(separator) {
            parts.push(std::mem::take(&mut current));
            rest = &rest[separator.len()..];
            continue;
        }
        current.push(c);
        rest = &rest[c.len_utf8()..];
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Map<String, Value> {
        json!({
            "userPrincipalName": "Ada@contoso.com",
            "onPremisesImmutableId": "abc==",
            "onPremisesSyncEnabled": true,
            "proxyAddresses": ["SMTP:ada@contoso.com", "smtp:ada@contoso.onmicrosoft.com"],
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn the_clauses_detour_uses_parse_and_match() {
        for (filter, advanced, hit) in [
            ("userPrincipalName eq 'ada@contoso.com'", false, true),
            (
                "proxyAddresses/any(p:p eq 'smtp:ada@contoso.onmicrosoft.com')",
                false,
                true,
            ),
            (
                "proxyAddresses/any(x:endsWith(x,'.onmicrosoft.com'))",
                true,
                true,
            ),
            ("onPremisesImmutableId eq 'abc=='", true, true),
            ("endsWith(userPrincipalName,'@fabrikam.com')", true, false),
            (
                "onPremisesSyncEnabled eq true and startsWith(userPrincipalName,'ada')",
                false,
                true,
            ),
        ] {
            let clauses = parse(filter).unwrap();
            assert_eq!(
                clauses.iter().any(Clause::needs_advanced_query),
                advanced,
                "{filter}"
            );
            assert_eq!(clauses.iter().all(|c| c.matches(&user())), hit, "{filter}");
        }
    }

    #[test]
    fn unsupported_and_malformed_filters_are_refused() {
        assert!(matches!(
            parse("jobTitle eq 'x'"),
            Err(FilterError::Unsupported(_))
        ));
        assert!(matches!(
            parse("endsWith(displayName,'x')"),
            Err(FilterError::Unsupported(_))
        ));
        assert!(matches!(
            parse("mail eq 'a' or mail eq 'b'"),
            Err(FilterError::Unsupported(_))
        ));
        assert!(matches!(
            parse("mail ne 'a'"),
            Err(FilterError::Unsupported(_))
        ));
        assert!(matches!(
            parse("mail eq unquoted"),
            Err(FilterError::Syntax(_))
        ));
        assert!(matches!(
            parse("proxyAddresses/any(p:p eq 'x'"),
            Err(FilterError::Syntax(_))
        ));
        assert_eq!(
            parse("mail eq 'o''brien@x.com'").unwrap()[0],
            Clause::Eq {
                property: "mail".into(),
                value: json!("o'brien@x.com")
            }
        );
    }
}
