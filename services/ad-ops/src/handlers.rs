//! Commands in, events out: find a user, move it (fenced on its snapshot), set the filter
//! attribute, add or remove one proxy address. Input is validated before anything reaches LDAP;
//! every command answers with its event or with `AdOpsCommandFailed`; transient trouble is
//! retried by the bus.

use std::sync::Arc;

use detour_contracts::{
    Dn, Service,
    ad_ops::{
        AdOpsCommandFailed, AdUserSnapshot, AddProxyAddress, FilterAttributeSet, FindUser,
        MoveUser, MoveUserToDn, ProxyAddressAdded, ProxyAddressRemoved, RemoveProxyAddress,
        SetFilterAttribute, UserFound, UserLookup, UserMoved,
    },
};
use detour_service::{Dispatch, StepFailure};
use uuid::Uuid;

use crate::directory::{Directory, DirectoryError};

/// The longest value accepted for a name, UPN or attribute value.
const MAX_VALUE: usize = 1024;
/// Characters AD does not allow in a sAMAccountName.
const SAM_FORBIDDEN: &str = "\"/\\[]:;|=,+*?<>";

pub fn dispatch<D: Directory>(directory: Arc<D>) -> Dispatch {
    Dispatch::new(Service::AdOps)
        .step(&directory, find_user)
        .step(&directory, move_user)
        .step(&directory, move_user_to_dn)
        .step(&directory, set_filter_attribute)
        .step(&directory, add_proxy_address)
        .step(&directory, remove_proxy_address)
}

/// AD compares `proxyAddresses` values case-insensitively: `SMTP:a@b` and `smtp:a@b` are one.
const PROXY_ADDRESSES: &str = "proxyAddresses";

fn same_value(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Adds the address unless it is there; fenced on the snapshot's `uSNChanged`, so a late copy
/// cannot put back what a compensation removed.
async fn add_proxy_address<D: Directory>(
    directory: Arc<D>,
    command: AddProxyAddress,
) -> Result<ProxyAddressAdded, DirectoryError> {
    let AddProxyAddress {
        object_guid,
        address,
        only_if_usn_changed,
    } = command;
    let value = address.to_string();
    let current = directory.find(&UserLookup::ObjectGuid(object_guid)).await?;
    let present =
        |user: &AdUserSnapshot| user.proxy_addresses.iter().any(|a| same_value(a, &value));
    let answer = |already_present| ProxyAddressAdded {
        object_guid,
        address: address.clone(),
        already_present,
    };
    if present(&current) {
        return Ok(answer(true));
    }
    if let Some(expected) = only_if_usn_changed
        && current.usn_changed != expected
    {
        return Err(DirectoryError::Stale(format!(
            "{} changed since the snapshot (uSNChanged {} now, {expected} then): {value} not added",
            current.distinguished_name, current.usn_changed
        )));
    }
    match directory
        .add_value(&current.distinguished_name, PROXY_ADDRESSES, &value)
        .await
    {
        Ok(()) => Ok(answer(false)),
        // Someone added it meanwhile: there it is, and not by us.
        Err(DirectoryError::Conflict(_)) => Ok(answer(true)),
        Err(other) => Err(other),
    }
}

/// Removes the address as AD stores it (whatever its case); absent is "already".
async fn remove_proxy_address<D: Directory>(
    directory: Arc<D>,
    command: RemoveProxyAddress,
) -> Result<ProxyAddressRemoved, DirectoryError> {
    let RemoveProxyAddress {
        object_guid,
        address,
    } = command;
    let value = address.to_string();
    let current = directory.find(&UserLookup::ObjectGuid(object_guid)).await?;
    let stored: Vec<&String> = current
        .proxy_addresses
        .iter()
        .filter(|a| same_value(a, &value))
        .collect();
    for stored in &stored {
        directory
            .delete_value(&current.distinguished_name, PROXY_ADDRESSES, stored)
            .await?;
    }
    Ok(ProxyAddressRemoved {
        object_guid,
        address,
        already_absent: stored.is_empty(),
    })
}

async fn find_user<D: Directory>(
    directory: Arc<D>,
    command: FindUser,
) -> Result<UserFound, DirectoryError> {
    validate_lookup(&command.lookup).map_err(DirectoryError::Invalid)?;
    let snapshot = directory.find(&command.lookup).await?;
    Ok(UserFound { snapshot })
}

/// Under `target_ou`, keeping its name; only while `uSNChanged` is what the snapshot saw.
async fn move_user<D: Directory>(
    directory: Arc<D>,
    command: MoveUser,
) -> Result<UserMoved, DirectoryError> {
    let MoveUser {
        object_guid,
        target_ou,
        only_if_usn_changed,
    } = command;
    relocate(
        directory.as_ref(),
        object_guid,
        only_if_usn_changed,
        |current| current.distinguished_name.with_parent(&target_ou),
    )
    .await
}

/// Back to exactly the DN it had, name included.
async fn move_user_to_dn<D: Directory>(
    directory: Arc<D>,
    command: MoveUserToDn,
) -> Result<UserMoved, DirectoryError> {
    let MoveUserToDn {
        object_guid,
        distinguished_name,
    } = command;
    relocate(directory.as_ref(), object_guid, None, |_| {
        distinguished_name.clone()
    })
    .await
}

/// Moves the user to `target(current)`. Already there is success whatever the fence says (a
/// repeat of the move); otherwise the fence must hold (a late copy moves nothing), the target's
/// parent must exist, and its name must be free.
async fn relocate<D: Directory>(
    directory: &D,
    object_guid: Uuid,
    only_if_usn_changed: Option<u64>,
    target: impl FnOnce(&AdUserSnapshot) -> Dn,
) -> Result<UserMoved, DirectoryError> {
    let current = directory.find(&UserLookup::ObjectGuid(object_guid)).await?;
    let from = current.distinguished_name.clone();
    let to = target(&current);
    let moved = |already_there| UserMoved {
        object_guid,
        from: from.clone(),
        to: to.clone(),
        already_there,
    };
    if from.same_as(&to) {
        return Ok(UserMoved {
            to: from.clone(),
            ..moved(true)
        });
    }
    if let Some(expected) = only_if_usn_changed
        && current.usn_changed != expected
    {
        return Err(DirectoryError::Stale(format!(
            "{from} changed since the snapshot (uSNChanged {} now, {expected} then): not moved",
            current.usn_changed
        )));
    }
    let parent = to
        .parent_dn()
        .ok_or_else(|| DirectoryError::Invalid(format!("{to} has no parent to move into")))?;
    if !directory.exists(&parent).await? {
        return Err(DirectoryError::NotFound(format!(
            "the target {parent} does not exist"
        )));
    }
    match directory.rename(&from, &to).await {
        Ok(()) => Ok(moved(false)),
        Err(DirectoryError::Conflict(_)) => Err(DirectoryError::Conflict(format!(
            "another object is already named {to}"
        ))),
        Err(other) => Err(other),
    }
}

async fn set_filter_attribute<D: Directory>(
    directory: Arc<D>,
    command: SetFilterAttribute,
) -> Result<FilterAttributeSet, DirectoryError> {
    let SetFilterAttribute { object_guid, value } = command;
    if let Some(value) = &value {
        validate_text("value", value).map_err(DirectoryError::Invalid)?;
    }
    let current = directory.find(&UserLookup::ObjectGuid(object_guid)).await?;
    let attribute = directory.filter_attribute().to_owned();
    directory
        .replace_attribute(&current.distinguished_name, &attribute, value.as_deref())
        .await?;
    Ok(FilterAttributeSet {
        object_guid,
        attribute,
        value,
    })
}

fn validate_text(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.len() > MAX_VALUE {
        return Err(format!(
            "{what} is {} bytes long; at most {MAX_VALUE} are accepted",
            value.len()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{what} contains a control character"));
    }
    Ok(())
}

fn validate_lookup(lookup: &UserLookup) -> Result<(), String> {
    match lookup {
        // The same rule as everywhere else: a UPN Entra could hold.
        UserLookup::UserPrincipalName(upn) => detour_contracts::Upn::parse(upn)
            .map(|_| ())
            .map_err(|error| error.to_string()),
        UserLookup::SamAccountName(sam) => {
            validate_text("sAMAccountName", sam)?;
            match sam.chars().find(|c| SAM_FORBIDDEN.contains(*c)) {
                Some(c) => Err(format!("a sAMAccountName cannot contain {c:?}")),
                None => Ok(()),
            }
        }
        UserLookup::ObjectGuid(_) => Ok(()),
    }
}

/// A transient error is retried; a permanent one is answered with `AdOpsCommandFailed` and the
/// command dead-lettered with the same reason.
impl StepFailure for DirectoryError {
    type Event = AdOpsCommandFailed;

    fn failure_event(&self, command: &'static str) -> Option<AdOpsCommandFailed> {
        Some(AdOpsCommandFailed {
            command: command.to_owned(),
            kind: self.failure_kind()?,
            reason: self.to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
