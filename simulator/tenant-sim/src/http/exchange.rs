//! Exchange Online's `InvokeCommand` endpoint (the EXO V3 module's REST proxy) [S31][S33][S34]:
//! Get-Mailbox, Set-Mailbox and Get-AcceptedDomain, with the cmdlet error format (`details.message` as
//! `Code|ExceptionType|Message`).

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Map, Value, json};

use super::{authorize, no_scenario};
use crate::{
    app::{Resource, Sim},
    world::{MailboxError, MailboxState, World, model::CloudUser},
};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new().route("/adminapi/beta/{tenant}/InvokeCommand", post(invoke))
}

/// A cmdlet failure as InvokeCommand reports it. Clients read `error.details.message` first,
/// then `innererror.internalException.message`, then `error.message` [S31][S33].
fn cmdlet_error(status: StatusCode, code: &str, exception: &str, message: &str) -> Response {
    let detailed = format!("{code}|{exception}|{message}");
    let body = json!({
        "error": {
            "code": if status == StatusCode::NOT_FOUND { "NotFound" } else { "BadRequest" },
            "message": message,
            "details": [{ "code": code, "target": "", "message": detailed }],
            "innererror": {
                "message": message,
                "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                "internalException": { "message": detailed, "type": exception },
            }
        }
    });
    (status, Json(body)).into_response()
}

fn not_found(identity: &str) -> Response {
    cmdlet_error(
        StatusCode::NOT_FOUND,
        "Ex6F9304",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        &format!(
            "The operation couldn't be performed because object '{identity}' couldn't be found on 'AM0PR01A001DC01.EURPRD01.PROD.OUTLOOK.COM'."
        ),
    )
}

fn bad_parameter(message: &str) -> Response {
    cmdlet_error(
        StatusCode::BAD_REQUEST,
        "Ex2BC0D7",
        "System.Management.Automation.ParameterBindingException",
        message,
    )
}

fn mailbox_json(world: &World, user: &CloudUser) -> Value {
    let addresses = world.proxy_addresses(user);
    let mailbox = &world.mailboxes[&user.id];
    json!({
        "Identity": user.mail_nickname,
        "Alias": user.mail_nickname,
        "DisplayName": user.display_name,
        "UserPrincipalName": user.user_principal_name,
        "PrimarySmtpAddress": crate::world::primary_smtp(&addresses),
        "EmailAddresses": addresses,
        "RecipientType": "UserMailbox",
        "RecipientTypeDetails": "UserMailbox",
        // IsDirSynced mirrors msExchIsMSODirsynced [S29].
        "IsDirSynced": user.is_synced(),
        "IsExchangeCloudManaged": mailbox.is_exchange_cloud_managed,
        "ExternalDirectoryObjectId": user.id,
        "ExchangeGuid": mailbox.exchange_guid,
        "IsInactiveMailbox": false,
        "WhenSoftDeleted": null,
    })
}

async fn invoke(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(message) = authorize(&sim, &headers, Resource::Exchange) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": { "code": "Unauthorized", "message": message } })),
        )
            .into_response();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return bad_parameter("The request body is not valid JSON.");
    };
    let Some(input) = request.get("CmdletInput").and_then(Value::as_object) else {
        return bad_parameter("The request must carry CmdletInput with CmdletName and Parameters.");
    };
    let cmdlet = input
        .get("CmdletName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let parameters = input
        .get("Parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let now = sim.clock.now();
    let context = format!("https://outlook.office365.com/adminapi/beta/{tenant}/$metadata#Mailbox");
    let outcome = sim.with_world(|world| match cmdlet.as_str() {
        "Get-Mailbox" => get_mailbox(world, &parameters, now),
        "Set-Mailbox" => set_mailbox(world, &parameters, now),
        "Get-AcceptedDomain" => Ok(accepted_domains(world)),
        other => Err(cmdlet_error(
            StatusCode::BAD_REQUEST,
            "Ex9C9A2B",
            "System.Management.Automation.CommandNotFoundException",
            &format!("The term '{other}' is not recognized as a name of a cmdlet served here."),
        )),
    });
    match outcome {
        Ok(Ok(value)) => {
            Json(json!({ "@odata.context": context, "adminapi.warnings": [], "value": value }))
                .into_response()
        }
        Ok(Err(response)) => response,
        Err(none) => no_scenario(none),
    }
}

/// `Get-AcceptedDomain`: the domains Exchange Online accepts mail for.
fn accepted_domains(world: &World) -> Vec<Value> {
    let tenant = &world.tenant;
    tenant
        .accepted()
        .into_iter()
        .map(|domain| {
            let default = domain.eq_ignore_ascii_case(&tenant.initial_domain);
            json!({
                "Name": domain,
                "DomainName": domain,
                "DomainType": "Authoritative",
                "Default": default,
            })
        })
        .collect()
}

fn identity(parameters: &Map<String, Value>) -> Option<String> {
    parameters
        .get("Identity")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Mailboxes listed by Get-Mailbox: active ones only (disconnected and soft-deleted ones are
/// not listed [S26][S27]).
fn get_mailbox(
    world: &World,
    parameters: &Map<String, Value>,
    now: time::OffsetDateTime,
) -> Result<Vec<Value>, Response> {
    let active = |id| world.mailbox_state(id, now) == Some(MailboxState::Active);
    match identity(parameters) {
        Some(identity) => {
            let owner = world
                .mailbox_owner(&identity)
                .filter(|id| active(*id))
                .ok_or_else(|| not_found(&identity))?;
            Ok(vec![mailbox_json(world, &world.users[&owner])])
        }
        None => Ok(world
            .users
            .values()
            .filter(|u| active(u.id))
            .map(|u| mailbox_json(world, u))
            .collect()),
    }
}

fn set_mailbox(
    world: &mut World,
    parameters: &Map<String, Value>,
    now: time::OffsetDateTime,
) -> Result<Vec<Value>, Response> {
    let identity =
        identity(parameters).ok_or_else(|| bad_parameter("Set-Mailbox needs -Identity."))?;
    let owner = world
        .mailbox_owner(&identity)
        .ok_or_else(|| not_found(&identity))?;
    let display = world.users[&owner].user_principal_name.clone();
    let refusal = |error: MailboxError| match error {
        MailboxError::NotFound(_) => not_found(&identity),
        // The text admins see [S37]; the code and exception type are UNCONFIRMED.
        MailboxError::OutOfWriteScope(_) => cmdlet_error(
            StatusCode::BAD_REQUEST,
            "Ex0A1D30",
            "Microsoft.Exchange.Management.Tasks.RecipientTaskException",
            &format!(
                "The operation on mailbox \"{display}\" failed because it's out of the current user's write scope. The action 'Set-Mailbox', 'EmailAddresses', can't be performed on the object '{display}' because the object is being synchronized from your on-premises organization. This action should be performed on the object in your on-premises organization."
            ),
        ),
        MailboxError::ObjectConflict { .. } => cmdlet_error(
            StatusCode::BAD_REQUEST,
            "ExB5A6F1",
            "Microsoft.Exchange.Data.DataValidationException",
            "The value specified for property EmailAddresses is incorrect. Reason: ObjectConflict",
        ),
        MailboxError::ConnectTooOld(_) | MailboxError::InitialDomainRefused { .. } => cmdlet_error(
            StatusCode::BAD_REQUEST,
            "Ex3E8C01",
            "Microsoft.Exchange.Management.Tasks.RecipientTaskException",
            &error.to_string(),
        ),
    };
    if let Some(flag) = parameters.get("IsExchangeCloudManaged") {
        let value = flag
            .as_bool()
            .ok_or_else(|| bad_parameter("IsExchangeCloudManaged takes $true or $false."))?;
        world
            .set_exchange_cloud_managed(owner, value, now)
            .map_err(refusal)?;
    }
    if let Some(addresses) = parameters.get("EmailAddresses") {
        let table = addresses.as_object().filter(|t| {
            t.get("@odata.type").and_then(Value::as_str) == Some("#Exchange.GenericHashTable")
        });
        // Add/Remove hashtables must say they are one [S31][S33].
        let table = table.ok_or_else(|| bad_parameter("Cannot process argument 'EmailAddresses': send @{Add=...; Remove=...} with \"@odata.type\": \"#Exchange.GenericHashTable\"."))?;
        let list = |key: &str| -> Vec<String> {
            match table.get(key) {
                Some(Value::String(one)) => vec![one.clone()],
                Some(Value::Array(many)) => many
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            }
        };
        world
            .change_email_addresses(owner, &list("Add"), &list("Remove"), now)
            .map_err(refusal)?;
    }
    Ok(Vec::new())
}
