//! How Jira renders what it holds, per REST version: users, statuses, comments (bodies in the
//! version's own form), issues with their `self` links and `fields.comment`, transitions, and
//! its timestamp format.

use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description};

use super::super::adf;
use crate::tickets::{JiraComment, JiraIssue, Transition};

/// Jira's timestamps: `2026-12-01T10:00:00.000+0000`.
const JIRA_TIME: &[BorrowedFormatItem<'_>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory][offset_minute]"
);

pub(super) fn jira_time(at: OffsetDateTime) -> String {
    at.format(JIRA_TIME).unwrap_or_default()
}

/// What every handler needs: this request's base URL and version, checked credentials.
pub(super) struct Call<'a> {
    pub(super) base: String,
    pub(super) version: &'a str,
}

impl Call<'_> {
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}/rest/api/{}{path}", self.base, self.version)
    }

    pub(super) fn user(&self) -> Value {
        json!({
            "self": self.url("/user?accountId=712020:detour"),
            "accountId": "712020:detour",
            "emailAddress": "detour@contoso.com",
            "displayName": "Detour",
            "active": true,
            "timeZone": "Etc/UTC",
            "accountType": "atlassian",
        })
    }

    pub(super) fn status(&self, name: &str) -> Value {
        let id = status_id(name);
        json!({
            "self": self.url(&format!("/status/{id}")),
            "description": "",
            "iconUrl": format!("{}/images/icons/statuses/generic.png", self.base),
            "name": name,
            "id": id,
            "statusCategory": status_category(name),
        })
    }

    pub(super) fn comment(&self, issue: &JiraIssue, comment: &JiraComment) -> Value {
        json!({
            "self": self.url(&format!("/issue/{}/comment/{}", issue.id, comment.id)),
            "id": comment.id,
            "author": self.user(),
            "body": adf::for_version(&comment.body, self.version),
            "updateAuthor": self.user(),
            "created": jira_time(comment.created),
            "updated": jira_time(comment.updated),
            "jsdPublic": true,
        })
    }

    pub(super) fn issue(&self, issue: &JiraIssue) -> Value {
        let project = issue.key.split('-').next().unwrap_or(&issue.key);
        let description = match (self.version, issue.description.is_empty()) {
            (_, true) => Value::Null,
            ("3", false) => adf::from_text(&issue.description),
            (_, false) => Value::String(issue.description.clone()),
        };
        let comments: Vec<Value> = issue
            .comments
            .iter()
            .map(|c| self.comment(issue, c))
            .collect();
        json!({
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "self": self.url(&format!("/issue/{}", issue.id)),
            "key": issue.key,
            "fields": {
                "summary": issue.summary,
                "description": description,
                "status": self.status(&issue.status),
                "labels": issue.labels,
                "created": jira_time(issue.created),
                "updated": jira_time(issue.updated),
                "issuetype": { "self": self.url("/issuetype/10001"), "id": "10001",
                    "name": "Service Request", "subtask": false },
                "project": { "self": self.url("/project/10000"), "id": "10000",
                    "key": project, "name": project, "projectTypeKey": "service_desk" },
                "comment": {
                    "comments": comments,
                    "self": self.url(&format!("/issue/{}/comment", issue.id)),
                    "maxResults": issue.comments.len(),
                    "total": issue.comments.len(),
                    "startAt": 0,
                },
            },
        })
    }

    pub(super) fn transition(&self, transition: &Transition) -> Value {
        json!({
            "id": transition.id,
            "name": transition.name,
            "to": self.status(&transition.to),
            "hasScreen": false,
            "isGlobal": true,
            "isInitial": false,
            "isAvailable": true,
            "isConditional": false,
            "isLooped": false,
        })
    }
}

/// A status's id, stable for its name.
fn status_id(name: &str) -> String {
    let hash = name
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
    (10_000 + hash % 90_000).to_string()
}

fn status_category(name: &str) -> Value {
    let lower = name.to_ascii_lowercase();
    let (id, key, label) = if ["done", "resolved", "closed"].contains(&lower.as_str()) {
        (3, "done", "Done")
    } else if ["open", "to do", "new", "backlog"].contains(&lower.as_str()) {
        (2, "new", "To Do")
    } else {
        (4, "indeterminate", "In Progress")
    };
    json!({ "id": id, "key": key, "name": label })
}
