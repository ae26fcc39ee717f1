//! The six services as one table: default port, and each loaded from its own settings type and
//! wired as its binary would be.

use anyhow::Context;
use detour_config::Sources;
use detour_contracts::Service;
use detour_service::{ServiceConfig, ServiceSettings, ServiceSpec, load_config, parse_config};

pub fn default_port(service: Service) -> u16 {
    match service {
        Service::AdOps => ad_ops::DEFAULT_PORT,
        Service::SyncTrigger => sync_trigger::DEFAULT_PORT,
        Service::CloudDirectory => cloud_directory::DEFAULT_PORT,
        Service::MailboxOps => mailbox_ops::DEFAULT_PORT,
        Service::SagaCoordinator => saga_coordinator::DEFAULT_PORT,
        Service::TicketGateway => ticket_gateway::DEFAULT_PORT,
    }
}

/// Loads `service`'s settings from `sources` (validated) and builds it.
pub fn build(service: Service, sources: Sources) -> anyhow::Result<(ServiceSpec, ServiceSettings)> {
    let port = default_port(service);
    let context = || format!("{service}'s settings");
    match service {
        Service::AdOps => {
            let settings: ad_ops::AdOpsSettings =
                load_config(port, sources).with_context(context)?;
            Ok((ad_ops::spec(&settings)?, settings.base()))
        }
        Service::SyncTrigger => {
            let settings: sync_trigger::SyncTriggerSettings =
                load_config(port, sources).with_context(context)?;
            Ok((sync_trigger::spec(&settings)?, settings.base()))
        }
        other => {
            let settings: ServiceSettings = load_config(port, sources).with_context(context)?;
            Ok((plain_spec(other), settings))
        }
    }
}

/// Checks that `sources` name only settings `service` has, with values of the right types,
/// without requiring the files they name to exist here.
pub fn check_wiring(service: Service, sources: Sources) -> anyhow::Result<ServiceSettings> {
    let port = default_port(service);
    Ok(match service {
        Service::AdOps => parse_config::<ad_ops::AdOpsSettings>(port, sources)?.base(),
        Service::SyncTrigger => {
            parse_config::<sync_trigger::SyncTriggerSettings>(port, sources)?.base()
        }
        _ => parse_config::<ServiceSettings>(port, sources)?,
    })
}

fn plain_spec(service: Service) -> ServiceSpec {
    match service {
        Service::CloudDirectory => cloud_directory::spec(),
        Service::MailboxOps => mailbox_ops::spec(),
        Service::SagaCoordinator => saga_coordinator::spec(),
        Service::TicketGateway => ticket_gateway::spec(),
        Service::AdOps | Service::SyncTrigger => {
            unreachable!("{service} is built from its own settings")
        }
    }
}

/// The environment a service needs on the dev stack beyond the broker: ad-ops's directory,
/// sync-trigger's Connect agent (tenant-sim's, as the contoso scenario sets it up).
pub fn dev_stack_env(service: Service) -> anyhow::Result<Vec<(String, String)>> {
    match service {
        Service::AdOps => detour_testkit::Stack::load()?.ldap_service_env(),
        Service::SyncTrigger => Ok(vec![
            (
                "DETOUR__CONNECT__BASE_URL".into(),
                "http://127.0.0.1:8090".into(),
            ),
            (
                "DETOUR__CONNECT__AGENT_KEY".into(),
                "rehearsal-only-agent-key".into(),
            ),
        ]),
        _ => Ok(Vec::new()),
    }
}
