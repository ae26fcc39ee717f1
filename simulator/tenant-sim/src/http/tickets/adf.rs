//! Comment bodies between Jira's two REST versions: v2 speaks plain text (wiki markup), v3
//! Atlassian Document Format. Jira keeps one body and renders it for whichever version asks, so
//! a comment written through one reads back through the other.

use serde_json::{Value, json};

/// A text as an ADF document: one paragraph per line.
pub(super) fn from_text(text: &str) -> Value {
    let content: Vec<Value> = text
        .split('\n')
        .map(|line| {
            if line.is_empty() {
                json!({ "type": "paragraph", "content": [] })
            } else {
                json!({ "type": "paragraph", "content": [{ "type": "text", "text": line }] })
            }
        })
        .collect();
    json!({ "type": "doc", "version": 1, "content": content })
}

/// An ADF document's text: its blocks one per line, hard breaks as new lines.
pub(super) fn to_text(document: &Value) -> String {
    fn inline(node: &Value, out: &mut String) {
        match node["type"].as_str() {
            Some("text") => out.push_str(node["text"].as_str().unwrap_or_default()),
            Some("hardBreak") => out.push('\n'),
            _ => {}
        }
        for child in node["content"].as_array().into_iter().flatten() {
            inline(child, out);
        }
    }
    document["content"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|block| {
            let mut line = String::new();
            inline(block, &mut line);
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `body` as REST version `version` shows it.
pub(super) fn for_version(body: &Value, version: &str) -> Value {
    match (version, body) {
        ("3", Value::String(text)) => from_text(text),
        ("3", document) => document.clone(),
        (_, Value::String(text)) => Value::String(text.clone()),
        (_, document) => Value::String(to_text(document)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reads_the_same_through_either_version() {
        let text = "Detour fixed ada.\n\nRung: cloud-managed.";
        let document = from_text(text);
        assert_eq!(to_text(&document), text);
        assert_eq!(for_version(&json!(text), "3"), document);
        assert_eq!(for_version(&document, "2"), json!(text));
        let with_break = json!({ "type": "doc", "version": 1, "content": [
            { "type": "paragraph", "content": [
                { "type": "text", "text": "one" }, { "type": "hardBreak" },
                { "type": "text", "text": "two", "marks": [{ "type": "strong" }] } ] } ] });
        assert_eq!(to_text(&with_break), "one\ntwo");
    }
}
