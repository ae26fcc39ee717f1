//! Reading what the ADSync cmdlets print through `ConvertTo-Json`. Microsoft documents only
//! `System.Object` as their output [S-ADSync], and Windows PowerShell 5.1 (the module's host)
//! renders a DateTime as `/Date(ms)/`, an enum as its number and a TimeSpan as an object of
//! its parts, where PowerShell 7 writes ISO text and names. Every reader here takes either,
//! and a property that is missing or of another shape is an error naming the cmdlet and the
//! property: never a guess.
//!
//! [S-ADSync]: learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-adsync

use detour_contracts::connect_agent::PolicyType;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cmdlet} printed {problem}")]
pub struct ShapeError {
    pub cmdlet: &'static str,
    pub problem: String,
}

/// `ConvertTo-Json` writes one object bare and several as an array; nothing at all for none.
pub fn objects(cmdlet: &'static str, text: &str) -> Result<Vec<Map<String, Value>>, ShapeError> {
    let text = text.trim().trim_start_matches('\u{feff}');
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(text).map_err(|e| ShapeError {
        cmdlet,
        problem: format!("something that is not JSON ({e})"),
    })?;
    let items = match value {
        Value::Array(items) => items,
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map),
            other => Err(ShapeError {
                cmdlet,
                problem: format!("{other} where an object belongs"),
            }),
        })
        .collect()
}

/// One object's properties, read with the cmdlet's name at hand for errors.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    pub cmdlet: &'static str,
    pub map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(cmdlet: &'static str, map: &'a Map<String, Value>) -> Self {
        Self { cmdlet, map }
    }

    fn error(&self, name: &str, problem: impl std::fmt::Display) -> ShapeError {
        ShapeError {
            cmdlet: self.cmdlet,
            problem: format!("{name} {problem}"),
        }
    }

    pub fn get(&self, name: &str) -> Result<&'a Value, ShapeError> {
        match self.map.get(name) {
            Some(Value::Null) | None => Err(self.error(name, "missing")),
            Some(value) => Ok(value),
        }
    }

    pub fn optional(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn bool(&self, name: &str) -> Result<bool, ShapeError> {
        match self.get(name)? {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            other => Err(self.error(name, format!("is {other}, not true or false"))),
        }
    }

    pub fn u64(&self, name: &str) -> Result<u64, ShapeError> {
        let value = self.get(name)?;
        value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| self.error(name, format!("is {value}, not a count")))
    }

    pub fn u32(&self, name: &str) -> Result<u32, ShapeError> {
        let n = self.u64(name)?;
        u32::try_from(n).map_err(|_| self.error(name, format!("is {n}, too large")))
    }

    pub fn text(&self, name: &str) -> Result<&'a str, ShapeError> {
        match self.get(name)? {
            Value::String(s) => Ok(s),
            other => Err(self.error(name, format!("is {other}, not text"))),
        }
    }

    pub fn uuid(&self, name: &str) -> Result<Uuid, ShapeError> {
        let text = self.text(name)?;
        Uuid::parse_str(text.trim_matches(|c| c == '{' || c == '}'))
            .map_err(|_| self.error(name, format!("is {text:?}, not a GUID")))
    }

    pub fn date(&self, name: &str) -> Result<OffsetDateTime, ShapeError> {
        date(self.get(name)?).map_err(|problem| self.error(name, problem))
    }

    pub fn optional_date(&self, name: &str) -> Result<Option<OffsetDateTime>, ShapeError> {
        match self.optional(name) {
            None => Ok(None),
            Some(value) => date(value)
                .map(Some)
                .map_err(|problem| self.error(name, problem)),
        }
    }

    /// A TimeSpan, in whole seconds.
    pub fn seconds(&self, name: &str) -> Result<u64, ShapeError> {
        timespan_seconds(self.get(name)?).map_err(|problem| self.error(name, problem))
    }

    /// `SynchronizationPolicyType`: `Delta`/`Initial`, or 1/2 as 5.1 numbers them. The
    /// numbering is not documented; `Unspecified` (0) leaves the choice to the scheduler,
    /// which runs a delta.
    pub fn policy_type(&self, name: &str) -> Result<PolicyType, ShapeError> {
        match self.get(name)? {
            Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
                Ok(PolicyType::Delta)
            }
            Value::Number(n) if n.as_u64() == Some(2) => Ok(PolicyType::Initial),
            Value::String(s)
                if s.eq_ignore_ascii_case("delta") || s.eq_ignore_ascii_case("unspecified") =>
            {
                Ok(PolicyType::Delta)
            }
            Value::String(s) if s.eq_ignore_ascii_case("initial") => Ok(PolicyType::Initial),
            other => Err(self.error(name, format!("is {other}, not Delta or Initial"))),
        }
    }

    pub fn object(&self, name: &str) -> Result<Fields<'a>, ShapeError> {
        match self.get(name)? {
            Value::Object(map) => Ok(Fields::new(self.cmdlet, map)),
            other => Err(self.error(
                name,
                format!("is {other}, not an object (was -Depth too small?)"),
            )),
        }
    }

    /// An array property's items: `ConvertTo-Json` writes a one-item collection bare.
    fn items(&self, name: &str) -> Vec<&'a Value> {
        match self.optional(name) {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
        }
    }

    /// An array property, each item an object.
    pub fn objects(&self, name: &str) -> Result<Vec<Fields<'a>>, ShapeError> {
        self.items(name)
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(Fields::new(self.cmdlet, map)),
                other => Err(self.error(
                    name,
                    format!("holds {other}, not objects (was -Depth too small?)"),
                )),
            })
            .collect()
    }

    pub fn texts(&self, name: &str) -> Result<Vec<&'a str>, ShapeError> {
        self.items(name)
            .into_iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| self.error(name, format!("holds {item}, not text")))
            })
            .collect()
    }
}

/// `/Date(1649448811163)/` (5.1, optionally with a `+hhmm` that only says which zone it was
/// shown in), an ISO 8601 text (7; without an offset it is taken as UTC, which the sync
/// engine's run times are), or 5.1's `{ "value": ..., "DateTime": ... }` wrapper.
fn date(value: &Value) -> Result<OffsetDateTime, String> {
    match value {
        Value::Object(map) => match map.get("value") {
            Some(inner) => date(inner),
            None => Err("is an object without a value".into()),
        },
        Value::String(text) => {
            if let Some(inner) = text
                .strip_prefix("/Date(")
                .and_then(|rest| rest.strip_suffix(")/"))
            {
                let millis = inner
                    .split(['+', '-'])
                    .find(|part| !part.is_empty())
                    .and_then(|part| part.parse::<i64>().ok())
                    .ok_or_else(|| format!("is {text:?}, not a /Date(ms)/"))?;
                let millis = if inner.starts_with('-') {
                    -millis
                } else {
                    millis
                };
                return OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
                    .map_err(|_| format!("is {text:?}, out of range"));
            }
            let rfc3339 = time::format_description::well_known::Rfc3339;
            OffsetDateTime::parse(text, &rfc3339)
                .or_else(|_| OffsetDateTime::parse(&format!("{text}Z"), &rfc3339))
                .map_err(|_| format!("is {text:?}, not a date"))
        }
        other => Err(format!("is {other}, not a date")),
    }
}

/// 5.1's TimeSpan object (its `TotalSeconds`), or the `[d.]hh:mm:ss` text 7 may write.
fn timespan_seconds(value: &Value) -> Result<u64, String> {
    match value {
        Value::Object(map) => map
            .get("TotalSeconds")
            .and_then(Value::as_f64)
            .filter(|s| *s >= 0.0)
            .map(|s| s as u64)
            .ok_or_else(|| "is an object without TotalSeconds".into()),
        Value::String(text) => {
            let (days, clock) = match text.split_once('.') {
                Some((days, clock)) if clock.contains(':') => (days.parse::<u64>().ok(), clock),
                _ => (Some(0), text.as_str()),
            };
            let parts: Vec<Option<u64>> = clock
                .split(':')
                .map(|p| p.split('.').next().and_then(|p| p.parse().ok()))
                .collect();
            match (days, parts.as_slice()) {
                (Some(d), [Some(h), Some(m), Some(s)]) => Ok(d * 86_400 + h * 3_600 + m * 60 + s),
                _ => Err(format!("is {text:?}, not a time span")),
            }
        }
        other => Err(format!("is {other}, not a time span")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dates_read_the_same_from_either_powershell() {
        let expected = time::macros::datetime!(2022-04-08 20:13:31.163 UTC);
        for value in [
            json!("/Date(1649448811163)/"),
            json!("/Date(1649448811163+0200)/"),
            json!("2022-04-08T20:13:31.163Z"),
            json!("2022-04-08T20:13:31.163"),
            json!({ "value": "/Date(1649448811163)/", "DateTime": "Friday, April 8, 2022" }),
        ] {
            assert_eq!(date(&value), Ok(expected), "{value}");
        }
        assert!(date(&json!("yesterday")).is_err());
    }

    #[test]
    fn time_spans_read_from_objects_and_text() {
        assert_eq!(
            timespan_seconds(&json!({ "TotalSeconds": 1800.0 })),
            Ok(1800)
        );
        assert_eq!(timespan_seconds(&json!("00:30:00")), Ok(1800));
        assert_eq!(timespan_seconds(&json!("7.00:00:00")), Ok(604_800));
        assert!(timespan_seconds(&json!({ "Minutes": 30 })).is_err());
    }

    #[test]
    fn one_object_many_or_none() {
        assert_eq!(objects("X", "").unwrap().len(), 0);
        assert_eq!(objects("X", "{\"a\":1}").unwrap().len(), 1);
        assert_eq!(objects("X", "[{\"a\":1},{\"a\":2}]").unwrap().len(), 2);
        assert!(objects("X", "[1]").is_err());
        assert!(objects("X", "Result : Success").is_err());
    }

    #[test]
    fn a_missing_property_names_the_cmdlet_and_the_property() {
        let map = json!({ "SyncCycleEnabled": true })
            .as_object()
            .unwrap()
            .clone();
        let fields = Fields::new("Get-ADSyncScheduler", &map);
        let error = fields.bool("StagingModeEnabled").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Get-ADSyncScheduler printed StagingModeEnabled missing"
        );
        assert!(fields.bool("SyncCycleEnabled").unwrap());
    }
}
