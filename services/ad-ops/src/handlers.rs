//! Commands in, events out. Input is validated before anything reaches LDAP; every command
//! answers with its event or with `AdOpsCommandFailed`; transient trouble is retried by the bus.

use std::sync::Arc;

use detour_bus::Outcome;
use detour_contracts::{
    Envelope, Message, Service,
    ad_ops::{
        AdOpsCommandFailed, FilterAttributeSet, FindUser, MoveUser, MoveUserToDn,
        SetFilterAttribute, UserFound, UserLookup, UserMoved,
    },
};
use detour_service::{Dispatch, HandlerContext, StepFailure};

use crate::{directory::DirectoryError, dn::Dn, ldap_directory::LdapDirectory};

/// The longest value accepted for a name, UPN or attribute value.
const MAX_VALUE: usize = 1024;
/// Characters AD does not allow in a sAMAccountName.
const SAM_FORBIDDEN: &str = "\"/\\[]:;|=,+*?<>";

pub fn dispatch(directory: Arc<LdapDirectory>) -> Dispatch {
    let (find, move_to_ou, move_to_dn, filter) = (
        directory.clone(),
        directory.clone(),
        directory.clone(),
        directory,
    );
    Dispatch::new(Service::AdOps)
        .on::<FindUser, _, _>(move |command, context| {
            let directory = find.clone();
            async move { find_user(&directory, command, context).await }
        })
        .on::<MoveUser, _, _>(move |command, context| {
            let directory = move_to_ou.clone();
            async move { move_user(&directory, command, context).await }
        })
        .on::<MoveUserToDn, _, _>(move |command, context| {
            let directory = move_to_dn.clone();
            async move { move_user_to_dn(&directory, command, context).await }
        })
        .on::<SetFilterAttribute, _, _>(move |command, context| {
            let directory = filter.clone();
            async move { set_filter_attribute(&directory, command, context).await }
        })
}

async fn find_user(
    directory: &LdapDirectory,
    command: Envelope<FindUser>,
    context: HandlerContext,
) -> Outcome {
    if let Err(problem) = validate_lookup(&command.payload.lookup) {
        return context
            .fail(&command, DirectoryError::Invalid(problem))
            .await;
    }
    match directory.find(&command.payload.lookup).await {
        Ok(snapshot) => context.reply(&command, UserFound { snapshot }).await,
        Err(error) => context.fail(&command, error).await,
    }
}

async fn move_user(
    directory: &LdapDirectory,
    command: Envelope<MoveUser>,
    context: HandlerContext,
) -> Outcome {
    let target = match Dn::parse(&command.payload.target_ou) {
        Ok(target) => target,
        Err(error) => {
            return context
                .fail(
                    &command,
                    DirectoryError::Invalid(format!("target_ou: {error}")),
                )
                .await;
        }
    };
    let guid = command.payload.object_guid;
    let current = match directory.find(&UserLookup::ObjectGuid(guid)).await {
        Ok(current) => current,
        Err(error) => return context.fail(&command, error).await,
    };
    let rdn = match Dn::parse(&current.distinguished_name) {
        Ok(dn) => dn.rdn().to_owned(),
        Err(error) => {
            return context
                .fail(&command, DirectoryError::Invalid(error.to_string()))
                .await;
        }
    };
    moved(
        directory
            .move_to(guid, &target, &rdn, command.payload.only_if_usn_changed)
            .await,
        &context,
        &command,
        guid,
    )
    .await
}

async fn move_user_to_dn(
    directory: &LdapDirectory,
    command: Envelope<MoveUserToDn>,
    context: HandlerContext,
) -> Outcome {
    let dn = match Dn::parse(&command.payload.distinguished_name) {
        Ok(dn) => dn,
        Err(error) => {
            return context
                .fail(
                    &command,
                    DirectoryError::Invalid(format!("distinguished_name: {error}")),
                )
                .await;
        }
    };
    let Some(parent) = dn.parent().and_then(|p| Dn::parse(&p).ok()) else {
        let problem = format!("{dn} has no parent to move into");
        return context
            .fail(&command, DirectoryError::Invalid(problem))
            .await;
    };
    let guid = command.payload.object_guid;
    moved(
        directory.move_to(guid, &parent, dn.rdn(), None).await,
        &context,
        &command,
        guid,
    )
    .await
}

async fn moved<C: Message>(
    result: Result<crate::ldap_directory::Moved, DirectoryError>,
    context: &HandlerContext,
    command: &Envelope<C>,
    object_guid: uuid::Uuid,
) -> Outcome {
    match result {
        Ok(moved) => {
            let event = UserMoved {
                object_guid,
                from: moved.from,
                to: moved.to,
                already_there: moved.already_there,
            };
            context.reply(command, event).await
        }
        Err(error) => context.fail(command, error).await,
    }
}

async fn set_filter_attribute(
    directory: &LdapDirectory,
    command: Envelope<SetFilterAttribute>,
    context: HandlerContext,
) -> Outcome {
    if let Some(value) = &command.payload.value
        && let Err(problem) = validate_text("value", value)
    {
        return context
            .fail(&command, DirectoryError::Invalid(problem))
            .await;
    }
    let guid = command.payload.object_guid;
    match directory
        .set_filter_attribute(guid, command.payload.value.as_deref())
        .await
    {
        Ok(()) => {
            let event = FilterAttributeSet {
                object_guid: guid,
                attribute: directory.filter_attribute().to_owned(),
                value: command.payload.value.clone(),
            };
            context.reply(&command, event).await
        }
        Err(error) => context.fail(&command, error).await,
    }
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
mod tests {
    use super::*;

    #[test]
    fn lookups_are_checked_before_ldap_sees_them() {
        let upn = |s: &str| validate_lookup(&UserLookup::UserPrincipalName(s.into()));
        let sam = |s: &str| validate_lookup(&UserLookup::SamAccountName(s.into()));
        assert!(upn("ada@contoso.com").is_ok());
        assert!(upn("Zoë.Ångström@contoso.com").is_ok());
        // Filter metacharacters are legal in a UPN: they are escaped, never refused.
        assert!(upn("*)(objectClass=*@contoso.com").is_ok());
        assert!(upn("no-at-sign").is_err());
        assert!(upn("a@b@c").is_err());
        assert!(upn("nul\u{0}@contoso.com").is_err());
        assert!(upn(&format!("{}@contoso.com", "a".repeat(10_000))).is_err());
        assert!(sam("ada").is_ok());
        assert!(sam("*)(objectClass=*").is_err());
        assert!(sam("").is_err());
    }
}
