//! Exchange Online's InvokeCommand endpoint [S31][S33] over `detour-entra` (its own token, for
//! the outlook resource): Get-Mailbox and Set-Mailbox, and the cmdlet errors read the way the
//! tools that use it in production read them.

use std::sync::Arc;

use detour_contracts::{ProxyAddress, mailbox_ops::MailboxState};
use detour_entra::{AfterWrite, Answer, Caller, EntraSettings};
use detour_service::SharedRead;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::exchange::{Exchange, ExchangeError};

/// How long one `Get-AcceptedDomain` serves every diagnosis: the tenant's accepted domains
/// change with its hybrid configuration, not from one second to the next.
const ACCEPTED_DOMAINS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct ExchangeClient {
    caller: Caller,
    url: String,
    accepted_domains: Arc<SharedRead<Vec<String>>>,
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
        Ok(Self {
            caller,
            url,
            accepted_domains: Arc::new(SharedRead::new(ACCEPTED_DOMAINS_MAX_AGE)),
        })
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
    /// A cmdlet that answers nothing Detour reads.
    async fn run(&self, cmdlet: &str, parameters: Map<String, Value>) -> Result<(), ExchangeError> {
        let answer = self.invoke(cmdlet, parameters).await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(classify(&answer))
        }
    }
}

impl Exchange for ExchangeClient {
    async fn mailbox(&self, identity: &str) -> Result<Option<MailboxState>, ExchangeError> {
        let answer = self
            .invoke(
                "Get-Mailbox",
                Map::from_iter([("Identity".into(), json!(identity))]),
            )
            .await?;
        if answer.status.is_success() {
            let answer: GetMailbox = serde_json::from_value(answer.body).map_err(|error| {
                ExchangeError::Invalid(format!(
                    "Get-Mailbox answered what Detour cannot read: {error}"
                ))
            })?;
            return Ok(answer.value.into_iter().next().map(Into::into));
        }
        match classify(&answer) {
            ExchangeError::NotFound(_) => Ok(None),
            other => Err(other),
        }
    }

    /// `Set-Mailbox -EmailAddresses @{Add=...}`, the hashtable marked as one [S31][S33].
    async fn add_address(
        &self,
        identity: &str,
        address: &ProxyAddress,
    ) -> Result<(), ExchangeError> {
        let parameters = Map::from_iter([
            ("Identity".into(), json!(identity)),
            (
                "EmailAddresses".into(),
                json!({ "@odata.type": "#Exchange.GenericHashTable", "Add": [address.to_string()] }),
            ),
        ]);
        self.run("Set-Mailbox", parameters).await
    }

    /// Shared by the diagnoses of half a minute.
    async fn accepted_domains(&self) -> Result<Vec<String>, ExchangeError> {
        self.accepted_domains
            .get(|| self.read_accepted_domains())
            .await
    }

    async fn set_cloud_managed(&self, identity: &str, value: bool) -> Result<(), ExchangeError> {
        let parameters = Map::from_iter([
            ("Identity".into(), json!(identity)),
            ("IsExchangeCloudManaged".into(), json!(value)),
        ]);
        self.run("Set-Mailbox", parameters).await
    }
}

impl ExchangeClient {
    async fn read_accepted_domains(&self) -> Result<Vec<String>, ExchangeError> {
        let answer = self.invoke("Get-AcceptedDomain", Map::new()).await?;
        if !answer.status.is_success() {
            return Err(classify(&answer));
        }
        let answer: GetAcceptedDomain = serde_json::from_value(answer.body).map_err(|error| {
            ExchangeError::Invalid(format!(
                "Get-AcceptedDomain answered what Detour cannot read: {error}"
            ))
        })?;
        Ok(answer.value.into_iter().map(|d| d.domain_name).collect())
    }
}

/// Get-Mailbox's answer: the mailboxes found, with the properties Detour reads. Whether the
/// mailbox is synced, and whether its Exchange attributes are cloud-managed, decide the
/// strategy: a mailbox that does not say is an error, never "no".
#[derive(Debug, Deserialize)]
struct GetMailbox {
    value: Vec<Mailbox>,
}

#[derive(Debug, Deserialize)]
struct GetAcceptedDomain {
    value: Vec<AcceptedDomain>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AcceptedDomain {
    domain_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Mailbox {
    external_directory_object_id: uuid::Uuid,
    primary_smtp_address: String,
    email_addresses: Vec<String>,
    recipient_type_details: String,
    is_dir_synced: bool,
    is_exchange_cloud_managed: bool,
}

impl From<Mailbox> for MailboxState {
    fn from(mailbox: Mailbox) -> Self {
        MailboxState {
            external_directory_object_id: mailbox.external_directory_object_id,
            primary_smtp_address: mailbox.primary_smtp_address,
            email_addresses: mailbox.email_addresses,
            recipient_type_details: mailbox.recipient_type_details,
            is_dir_synced: mailbox.is_dir_synced,
            is_exchange_cloud_managed: mailbox.is_exchange_cloud_managed,
        }
    }
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

    fn read(mailbox: Value) -> Result<MailboxState, String> {
        serde_json::from_value::<GetMailbox>(json!({ "value": [mailbox] }))
            .map(|answer| answer.value.into_iter().next().unwrap().into())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_flags_are_read_as_given() {
        let state = read(mailbox()).unwrap();
        assert!(state.is_dir_synced && !state.is_exchange_cloud_managed);
    }

    #[test]
    fn a_missing_or_malformed_field_a_step_decides_on_is_an_error_not_a_default() {
        for field in [
            "IsDirSynced",
            "IsExchangeCloudManaged",
            "ExternalDirectoryObjectId",
            "EmailAddresses",
        ] {
            let mut missing = mailbox();
            missing.as_object_mut().unwrap().remove(field);
            let error = read(missing).unwrap_err();
            assert!(error.contains(field), "{field}: {error}");
        }
        for field in ["IsDirSynced", "IsExchangeCloudManaged"] {
            let mut text = mailbox();
            text[field] = json!("True");
            assert!(read(text).is_err(), "{field} as a string");
        }
    }
}
