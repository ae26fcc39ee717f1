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
    let built = match service {
        Service::AdOps => wire::<ad_ops::AdOpsSettings>(port, sources, ad_ops::spec),
        Service::SyncTrigger => {
            wire::<sync_trigger::SyncTriggerSettings>(port, sources, sync_trigger::spec)
        }
        Service::CloudDirectory => {
            wire::<cloud_directory::CloudDirectorySettings>(port, sources, cloud_directory::spec)
        }
        Service::MailboxOps => {
            wire::<mailbox_ops::MailboxOpsSettings>(port, sources, mailbox_ops::spec)
        }
        Service::SagaCoordinator => {
            wire::<saga_coordinator::CoordinatorSettings>(port, sources, saga_coordinator::spec)
        }
        Service::TicketGateway => {
            wire::<ticket_gateway::GatewaySettings>(port, sources, ticket_gateway::spec)
        }
    };
    built.with_context(|| format!("{service}'s settings"))
}

fn wire<S: ServiceConfig>(
    port: u16,
    sources: Sources,
    spec: impl FnOnce(&S) -> anyhow::Result<ServiceSpec>,
) -> anyhow::Result<(ServiceSpec, ServiceSettings)> {
    let settings: S = load_config(port, sources)?;
    Ok((spec(&settings)?, settings.base()))
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
        Service::CloudDirectory => {
            parse_config::<cloud_directory::CloudDirectorySettings>(port, sources)?.base()
        }
        Service::MailboxOps => {
            parse_config::<mailbox_ops::MailboxOpsSettings>(port, sources)?.base()
        }
        Service::SagaCoordinator => {
            parse_config::<saga_coordinator::CoordinatorSettings>(port, sources)?.base()
        }
        Service::TicketGateway => {
            parse_config::<ticket_gateway::GatewaySettings>(port, sources)?.base()
        }
    })
}

/// tenant-sim on the dev stack, with `scenarios/contoso.json`'s tenant, app and agent key.
const TENANT_SIM: &str = "http://127.0.0.1:8090";
const CONTOSO_TENANT: &str = "3f2b6c1e-8a4d-4e2f-9b7c-5d1a0e9f8c21";
const CONTOSO_APP: &str = "0b6a9f4e-2d1c-4f3b-8e7a-1c2d3e4f5a6b";
const CONTOSO_E3_SKU: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

/// The environment a service needs on the dev stack beyond the broker: ad-ops's directory,
/// the Connect agent and Graph of tenant-sim as the contoso scenario sets them up.
pub fn dev_stack_env(service: Service) -> anyhow::Result<Vec<(String, String)>> {
    match service {
        Service::AdOps => detour_testkit::Stack::load()?.ldap_service_env(),
        Service::SyncTrigger => Ok(vec![
            ("DETOUR__CONNECT__BASE_URL".into(), TENANT_SIM.into()),
            (
                "DETOUR__CONNECT__AGENT_KEY".into(),
                "rehearsal-only-agent-key".into(),
            ),
        ]),
        Service::CloudDirectory => Ok(vec![
            ("DETOUR__GRAPH__BASE_URL".into(), TENANT_SIM.into()),
            (
                "DETOUR__GRAPH__ENTRA__IDENTITY_BASE_URL".into(),
                TENANT_SIM.into(),
            ),
            ("DETOUR__GRAPH__ENTRA__TENANT".into(), CONTOSO_TENANT.into()),
            ("DETOUR__GRAPH__ENTRA__CLIENT_ID".into(), CONTOSO_APP.into()),
            (
                "DETOUR__GRAPH__ENTRA__CLIENT_SECRET".into(),
                "rehearsal-only-secret".into(),
            ),
        ]),
        Service::MailboxOps => Ok(vec![
            ("DETOUR__EXCHANGE__BASE_URL".into(), TENANT_SIM.into()),
            (
                "DETOUR__EXCHANGE__ENTRA__IDENTITY_BASE_URL".into(),
                TENANT_SIM.into(),
            ),
            (
                "DETOUR__EXCHANGE__ENTRA__TENANT".into(),
                CONTOSO_TENANT.into(),
            ),
            (
                "DETOUR__EXCHANGE__ENTRA__CLIENT_ID".into(),
                CONTOSO_APP.into(),
            ),
            (
                "DETOUR__EXCHANGE__ENTRA__CLIENT_SECRET".into(),
                "rehearsal-only-secret".into(),
            ),
        ]),
        Service::SagaCoordinator => {
            let store = std::env::temp_dir().join(format!(
                "detour-coordinator-{}/saga-coordinator.db",
                uuid::Uuid::new_v4().simple()
            ));
            Ok(vec![
                (
                    "DETOUR__STORE__URL".into(),
                    format!("sqlite://{}", store.display()),
                ),
                (
                    "DETOUR__SAGA__COEXISTENCE_DOMAIN".into(),
                    "contoso.mail.onmicrosoft.com".into(),
                ),
                (
                    "DETOUR__SAGA__PARKING_OU".into(),
                    "CN=Users,DC=corp,DC=example,DC=com".into(),
                ),
                ("DETOUR__SAGA__TEMPORARY_SKU".into(), CONTOSO_E3_SKU.into()),
            ])
        }
        Service::TicketGateway => Ok(gateway_env(TENANT_SIM)),
    }
}

/// The Jira webhook's signing secret on the dev stack (rehearsal only).
pub const JIRA_WEBHOOK_SECRET: &str = "rehearsal-only-webhook-secret";
/// The ServiceNow outbound message's and the generic endpoint's token (rehearsal only).
pub const WEBHOOK_TOKEN: &str = "rehearsal-only-webhook-token";

/// The gateway's settings for tenant-sim at `base`: Jira and ServiceNow as the contoso
/// scenario's `tickets` set them up, and the generic endpoint.
pub fn gateway_env(base: &str) -> Vec<(String, String)> {
    [
        ("DETOUR__JIRA__ENABLED", "true"),
        ("DETOUR__JIRA__BASE_URL", base),
        ("DETOUR__JIRA__EMAIL", "detour@contoso.com"),
        ("DETOUR__JIRA__API_TOKEN", "rehearsal-only-jira-token"),
        ("DETOUR__JIRA__WEBHOOK_SECRET", JIRA_WEBHOOK_SECRET),
        ("DETOUR__JIRA__BACKOFF_MS", "100"),
        ("DETOUR__SERVICENOW__ENABLED", "true"),
        ("DETOUR__SERVICENOW__BASE_URL", base),
        ("DETOUR__SERVICENOW__USER", "detour"),
        (
            "DETOUR__SERVICENOW__PASSWORD",
            "rehearsal-only-servicenow-password",
        ),
        ("DETOUR__SERVICENOW__WEBHOOK_TOKEN", WEBHOOK_TOKEN),
        ("DETOUR__SERVICENOW__BACKOFF_MS", "100"),
        ("DETOUR__GENERIC__ENABLED", "true"),
        ("DETOUR__GENERIC__TOKEN", WEBHOOK_TOKEN),
        // Each gateway its own delivery ids, kept as long as it runs.
        ("DETOUR__WEBHOOK__DELIVERIES_URL", "sqlite::memory:"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}
