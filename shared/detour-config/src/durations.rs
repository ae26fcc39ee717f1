//! Durations a person can read: every setting kept in a unit (`poll_every_ms`,
//! `replay_window_s`, `cycle_deadline_seconds`) may also be given without the suffix and with
//! a unit of its own: `poll_every = "5s"`, `replay_window = "1d"`, `backoff = "1m30s"`. The
//! unit form is turned into the kept key before the settings are read, so settings types keep
//! one field per duration; it wins over the kept key's value (which is usually a default). A
//! value that is no duration, or that the kept unit cannot hold exactly, is a problem.

use config::{Map, Value, ValueKind};

use crate::Problems;

/// The suffixes of kept keys, and how many milliseconds their unit holds.
const KEPT: [(&str, u64); 3] = [("_ms", 1), ("_s", 1_000), ("_seconds", 1_000)];

/// The units a duration may be written in, and how many milliseconds each holds.
const UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// Turns every unit-form duration in `root` (and the tables beneath) into its kept key.
pub fn resolve(root: &mut Map<String, Value>, problems: &mut Problems) {
    resolve_table(root, "", problems);
}

fn resolve_table(table: &mut Map<String, Value>, at: &str, problems: &mut Problems) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let full = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        if let Some(ValueKind::Table(inner)) = table.get_mut(&key).map(|v| &mut v.kind) {
            resolve_table(inner, &full, problems);
            continue;
        }
        let Some((kept, per_unit)) = KEPT
            .iter()
            .map(|(suffix, per_unit)| (format!("{key}{suffix}"), *per_unit))
            .find(|(kept, _)| table.contains_key(kept))
        else {
            continue;
        };
        let Some(text) = table.remove(&key).and_then(|v| v.into_string().ok()) else {
            continue;
        };
        match millis(&text).and_then(|ms| exactly(ms, per_unit)) {
            Ok(count) => {
                table.insert(kept, Value::new(None, ValueKind::U64(count)));
            }
            Err(why) => problems.add(&full, format!("{text:?} {why}")),
        }
    }
}

/// `"1m30s"` as 90 000: number-and-unit pairs, summed.
pub fn millis(text: &str) -> Result<u64, String> {
    const NOT: &str = "is not a duration such as 30s, 5m, 1h30m or 250ms";
    let text = text.trim();
    if text.is_empty() {
        return Err(NOT.into());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let (number, unit) = (&rest[..digits], &rest[digits..digits + letters]);
        let per_unit = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, per_unit)| *per_unit);
        let (Ok(number), Some(per_unit)) = (number.parse::<u64>(), per_unit) else {
            return Err(NOT.into());
        };
        total = number
            .checked_mul(per_unit)
            .and_then(|ms| total.checked_add(ms))
            .ok_or("is longer than any setting needs")?;
        rest = &rest[digits + letters..];
    }
    Ok(total)
}

fn exactly(ms: u64, per_unit: u64) -> Result<u64, String> {
    if ms.is_multiple_of(per_unit) {
        Ok(ms / per_unit)
    } else {
        Err(format!("is not a whole number of {}", unit_name(per_unit)))
    }
}

fn unit_name(per_unit: u64) -> &'static str {
    match per_unit {
        1 => "milliseconds",
        _ => "seconds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_any_unit_and_in_pairs() {
        for (text, ms) in [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("1d", 86_400_000),
            (" 2s ", 2_000),
            ("0s", 0),
        ] {
            assert_eq!(millis(text), Ok(ms), "{text}");
        }
        for bad in [
            "",
            "30",
            "s",
            "5 m",
            "1.5s",
            "-1s",
            "3w",
            "99999999999999999d",
        ] {
            assert!(millis(bad).is_err(), "{bad:?}");
        }
    }

    fn table(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn text(value: &str) -> Value {
        Value::new(None, ValueKind::String(value.into()))
    }

    fn number(value: u64) -> Value {
        Value::new(None, ValueKind::U64(value))
    }

    #[test]
    fn the_unit_form_becomes_the_kept_key_and_wins_over_its_default() {
        let saga = table(&[
            ("poll_every_ms", number(5_000)),
            ("poll_every", text("2s")),
            ("wait_deadline_ms", number(600_000)),
        ]);
        let webhook = table(&[
            ("replay_window_s", number(86_400)),
            ("replay_window", text("2h")),
        ]);
        let mut root = table(&[
            ("saga", Value::new(None, ValueKind::Table(saga))),
            ("webhook", Value::new(None, ValueKind::Table(webhook))),
            ("name", text("30s")),
        ]);
        let mut problems = Problems::new();
        resolve(&mut root, &mut problems);
        assert!(problems.is_empty(), "{problems}");
        let ValueKind::Table(saga) = &root["saga"].kind else {
            panic!()
        };
        assert_eq!(saga["poll_every_ms"].clone().into_uint().unwrap(), 2_000);
        assert!(!saga.contains_key("poll_every"));
        assert_eq!(
            saga["wait_deadline_ms"].clone().into_uint().unwrap(),
            600_000
        );
        let ValueKind::Table(webhook) = &root["webhook"].kind else {
            panic!()
        };
        assert_eq!(
            webhook["replay_window_s"].clone().into_uint().unwrap(),
            7_200
        );
        assert_eq!(
            root["name"].clone().into_string().unwrap(),
            "30s",
            "a key with no kept twin is left alone"
        );
    }

    #[test]
    fn a_bad_or_inexact_duration_is_a_problem_with_its_key() {
        let connect = table(&[
            ("cycle_deadline_seconds", number(900)),
            ("cycle_deadline", text("1500ms")),
            ("poll_interval_ms", number(1_000)),
            ("poll_interval", text("soon")),
        ]);
        let mut root = table(&[("connect", Value::new(None, ValueKind::Table(connect)))]);
        let mut problems = Problems::new();
        resolve(&mut root, &mut problems);
        let report = problems.to_string();
        assert!(
            report.contains("connect.cycle_deadline: \"1500ms\" is not a whole number of seconds"),
            "{report}"
        );
        assert!(
            report.contains("connect.poll_interval: \"soon\""),
            "{report}"
        );
    }
}
