//! The ticket systems Detour writes to, as data: Jira issues with comments and a workflow, and
//! ServiceNow incidents with their work-notes journal. What Detour writes is kept for tests.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TicketsSpec {
    #[serde(default)]
    pub jira: Option<JiraSpec>,
    #[serde(default)]
    pub servicenow: Option<ServiceNowSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSpec {
    /// Basic auth: the account's e-mail and an API token.
    pub email: String,
    pub api_token: String,
    pub issues: Vec<JiraIssueSpec>,
    /// The workflow's transitions; a default Jira Service Management set when empty.
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JiraIssueSpec {
    pub key: String,
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default)]
    pub labels: Vec<String>,
}

fn default_status() -> String {
    "Open".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct JiraIssue {
    pub id: String,
    pub key: String,
    pub summary: String,
    pub description: String,
    pub status: String,
    pub labels: Vec<String>,
    pub comments: Vec<JiraComment>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct JiraComment {
    pub id: String,
    /// As sent: a string (REST v2) or an Atlassian Document Format object (v3); each version
    /// reads it back in its own form.
    pub body: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowSpec {
    pub user: String,
    pub password: String,
    pub incidents: Vec<IncidentSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    pub number: String,
    pub short_description: String,
    #[serde(default)]
    pub description: String,
    /// The caller's user name (often the affected user's UPN).
    #[serde(default)]
    pub caller_id: String,
    /// 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed.
    #[serde(default = "default_state")]
    pub state: String,
}

fn default_state() -> String {
    "1".to_owned()
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub sys_id: String,
    pub number: String,
    pub short_description: String,
    pub description: String,
    pub caller_id: String,
    pub state: String,
    pub close_code: String,
    pub close_notes: String,
    pub work_notes: Vec<JournalEntry>,
    pub comments: Vec<JournalEntry>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub sys_id: String,
    pub value: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Tickets {
    pub jira_auth: Option<(String, String)>,
    pub jira_issues: Vec<JiraIssue>,
    pub jira_transitions: Vec<Transition>,
    pub servicenow_auth: Option<(String, String)>,
    pub incidents: Vec<Incident>,
}

impl Tickets {
    pub fn from_spec(spec: &TicketsSpec) -> Self {
        let now = OffsetDateTime::now_utc();
        let mut tickets = Tickets::default();
        if let Some(jira) = &spec.jira {
            tickets.jira_auth = Some((jira.email.clone(), jira.api_token.clone()));
            tickets.jira_transitions = if jira.transitions.is_empty() {
                default_transitions()
            } else {
                jira.transitions.clone()
            };
            tickets.jira_issues = jira
                .issues
                .iter()
                .enumerate()
                .map(|(index, issue)| JiraIssue {
                    id: (10_000 + index).to_string(),
                    key: issue.key.clone(),
                    summary: issue.summary.clone(),
                    description: issue.description.clone(),
                    status: issue.status.clone(),
                    labels: issue.labels.clone(),
                    comments: Vec::new(),
                    created: now,
                    updated: now,
                })
                .collect();
        }
        if let Some(servicenow) = &spec.servicenow {
            tickets.servicenow_auth = Some((servicenow.user.clone(), servicenow.password.clone()));
            tickets.incidents = servicenow
                .incidents
                .iter()
                .map(|incident| Incident {
                    sys_id: Uuid::new_v4().simple().to_string(),
                    number: incident.number.clone(),
                    short_description: incident.short_description.clone(),
                    description: incident.description.clone(),
                    caller_id: incident.caller_id.clone(),
                    state: incident.state.clone(),
                    close_code: String::new(),
                    close_notes: String::new(),
                    work_notes: Vec::new(),
                    comments: Vec::new(),
                    created: now,
                    updated: now,
                })
                .collect();
        }
        tickets
    }
}

fn default_transitions() -> Vec<Transition> {
    [
        ("11", "Start progress", "In Progress"),
        ("31", "Resolve", "Resolved"),
        ("41", "Escalate", "Escalated"),
    ]
    .into_iter()
    .map(|(id, name, to)| Transition {
        id: id.into(),
        name: name.into(),
        to: to.into(),
    })
    .collect()
}
