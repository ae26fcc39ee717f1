//! Exchange Online's InvokeCommand endpoint [S31][S33] over `detour-entra` (its own token, for
//! the outlook resource): Get-Mailbox and Set-Mailbox, and the cmdlet errors read the way the
//! tools that use it in production read them.

use std::sync::Arc;

use detour_contracts::mailbox_ops::MailboxState;
use detour_entra::{AfterWrite, Answer, CallError, Caller, EntraSettings};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    OutOfWriteScope(String),
    #[error("{0}")]
    ObjectConflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<CallError> for ExchangeError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Token(detour_entra::TokenError::Refused(reason)) => {
                ExchangeError::Forbidden(reason)
            }
            other => ExchangeError::Unavailable(other.to_string()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExchangeClient {
    caller: Caller,
    url: String,
}

impl ExchangeClient {
    pub fn new(base_url: &str, entra: &EntraSettings) -> anyhow::Result<Self> {
        let budget = Arc::new(tokio::sync::Semaphore::new(entra.max_concurrent_calls));
        let caller = Caller::new(entra, "https://outlook.office365.com/.default", budget)
            .map_err(anyhow::Error::msg)?;
        let url = format!(
            "{}/adminapi/beta/{}/InvokeCommand",
            base_url.trim_end_matches('/'),
            entra.tenant
        );
        Ok(Self { caller, url })
    }

    async fn invoke(
        &self,
        cmdlet: &str,
        parameters: Map<String, Value>,
    ) -> Result<Answer, ExchangeError> {
        let body = json!({ "CmdletInput": { "CmdletName": cmdlet, "Parameters": parameters } });
        Ok(self
            .caller
            .send(|http| http.post(&self.url).json(&body), AfterWrite::No)
            .await?)
    }

    /// The active mailbox, or `None` when there is none (now).
    pub async fn mailbox(&self, identity: &str) -> Result<Option<MailboxState>, ExchangeError> {
        let answer = self
            .invoke(
                "Get-Mailbox",
                Map::from_iter([("Identity".into(), json!(identity))]),
            )
            .await?;
        if answer.status.is_success() {
            return answer.body["value"].get(0).map(to_state).transpose();
        }
        match classify(&answer) {
            ExchangeError::NotFound(_) => Ok(None),
            other => Err(other),
        }
    }

    /// `Set-Mailbox -EmailAddresses @{Add=...}`, the hashtable marked as one [S31][S33].
    pub async fn add_address(&self, identity: &str, address: &str) -> Result<(), ExchangeError> {
        let parameters = Map::from_iter([
            ("Identity".into(), json!(identity)),
            (
                "EmailAddresses".into(),
                json!({ "@odata.type": "#Exchange.GenericHashTable", "Add": [address] }),
            ),
        ]);
        let answer = self.invoke("Set-Mailbox", parameters).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(classify(&answer))
        }
    }

    pub async fn set_cloud_managed(
        &self,
        identity: &str,
        value: bool,
    ) -> Result<(), ExchangeError> {
        let parameters = Map::from_iter([
            ("Identity".into(), json!(identity)),
            ("IsExchangeCloudManaged".into(), json!(value)),
        ]);
        let answer = self.invoke("Set-Mailbox", parameters).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(classify(&answer))
        }
    }
}

fn to_state(mailbox: &Value) -> Result<MailboxState, ExchangeError> {
    let text = |field: &str| mailbox[field].as_str().unwrap_or_default().to_owned();
    // Whether the mailbox is synced, and whether its Exchange attributes are cloud-managed,
    // decide the strategy: a mailbox that does not say is an error, never "no".
    let flag = |field: &str| {
        mailbox[field].as_bool().ok_or_else(|| {
            ExchangeError::Invalid(format!(
                "Get-Mailbox answered without {field} (true or false)"
            ))
        })
    };
    Ok(MailboxState {
        external_directory_object_id: text("ExternalDirectoryObjectId").parse().map_err(|_| {
            ExchangeError::Invalid(
                "Get-Mailbox answered without an ExternalDirectoryObjectId".into(),
            )
        })?,
        primary_smtp_address: text("PrimarySmtpAddress"),
        email_addresses: mailbox["EmailAddresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        recipient_type_details: text("RecipientTypeDetails"),
        is_dir_synced: flag("IsDirSynced")?,
        is_exchange_cloud_managed: flag("IsExchangeCloudManaged")?,
    })
}

/// The cmdlet's own error text, read as CIPP and ExoHelper read it: `details.message` first
/// (`Code|ExceptionType|Message`), then `innererror.internalException.message`, then
/// `error.message` [S31][S33].
fn cmdlet_error(answer: &Answer) -> String {
    let error = &answer.body["error"];
    let details = match &error["details"] {
        Value::Array(items) => items.first().and_then(|d| d["message"].as_str()),
        other => other["message"].as_str(),
    };
    details
        .or_else(|| error["innererror"]["internalException"]["message"].as_str())
        .or_else(|| error["message"].as_str())
        .map_or_else(|| answer.text.clone(), str::to_owned)
}

fn classify(answer: &Answer) -> ExchangeError {
    let detail = cmdlet_error(answer);
    let mut parts = detail.splitn(3, '|');
    let (exception, message) = match (parts.next(), parts.next(), parts.next()) {
        (Some(_code), Some(exception), Some(message)) => (exception.to_owned(), message.to_owned()),
        _ => (String::new(), detail.clone()),
    };
    match answer.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ExchangeError::Forbidden(message),
        _ if exception.ends_with("ManagementObjectNotFoundException") => {
            ExchangeError::NotFound(message)
        }
        _ if message.contains("out of the current user's write scope") => {
            ExchangeError::OutOfWriteScope(message)
        }
        _ if message.contains("ObjectConflict") => ExchangeError::ObjectConflict(message),
        _ if message.contains("IsExchangeCloudManaged") => ExchangeError::Unsupported(message),
        StatusCode::NOT_FOUND => ExchangeError::NotFound(message),
        _ => ExchangeError::Invalid(message),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mailbox() -> Value {
        json!({
            "ExternalDirectoryObjectId": "b8610b65-9251-44b5-8aeb-0277da2ff6a5",
            "PrimarySmtpAddress": "ada@contoso.com",
            "EmailAddresses": ["SMTP:ada@contoso.com"],
            "RecipientTypeDetails": "UserMailbox",
            "IsDirSynced": true,
            "IsExchangeCloudManaged": false,
        })
    }

    #[test]
    fn the_flags_are_read_as_given() {
        let state = to_state(&mailbox()).unwrap();
        assert!(state.is_dir_synced && !state.is_exchange_cloud_managed);
    }

    #[test]
    fn a_missing_or_malformed_flag_is_an_error_not_false() {
        for field in ["IsDirSynced", "IsExchangeCloudManaged"] {
            let mut missing = mailbox();
            missing.as_object_mut().unwrap().remove(field);
            let error = to_state(&missing).unwrap_err();
            assert!(error.to_string().contains(field), "{field}: {error}");
            let mut text = mailbox();
            text[field] = json!("True");
            assert!(to_state(&text).is_err(), "{field} as a string");
        }
    }
}
