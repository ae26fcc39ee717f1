//! A tenant (tenant-sim's fixture over a test OU) and sync-trigger replicas on its Connect
//! server: through the Connect agent's API, or over real SSH to its simulated PowerShell.

use detour_contracts::{Dn, connect_agent::PolicyType, sync_trigger::RequestSyncCycle};
use detour_service::{ServiceConfig, load_config};
use detour_testkit::ServiceHarness;
use serde_json::Value;
use tenant_sim::fixture::{SshConnectServer, TenantFixture};

pub struct Harness {
    pub tenant: TenantFixture,
    pub service: ServiceHarness,
    /// The SSH server, for a harness started over SSH.
    pub ssh: Option<SshConnectServer>,
}

impl Harness {
    /// A tenant with `users` in scope, and `replicas` sync-triggers on its agent API.
    pub async fn start(
        prefix: &str,
        users: &[&str],
        replicas: usize,
        customize: impl FnOnce(&mut Value),
    ) -> Self {
        let tenant = TenantFixture::start(prefix, users, customize).await;
        let env = vec![
            ("DETOUR__CONNECT__BASE_URL".to_owned(), tenant.base.clone()),
            (
                "DETOUR__CONNECT__AGENT_KEY".to_owned(),
                tenant.agent_key.clone(),
            ),
        ];
        Self::with_backend(prefix, tenant, env, replicas, None).await
    }

    /// The same, with one sync-trigger reaching the Connect server over SSH.
    pub async fn start_over_ssh(
        prefix: &str,
        users: &[&str],
        customize: impl FnOnce(&mut Value),
    ) -> Self {
        let tenant = TenantFixture::start(prefix, users, customize).await;
        let ssh = SshConnectServer::start(&tenant).await;
        let env = ssh.sync_trigger_env();
        Self::with_backend(prefix, tenant, env, 1, Some(ssh)).await
    }

    /// The same on a Cloud Sync tenant (`cloud_sync` as the scenario's job, scheduled runs
    /// every `interval_seconds`), with one sync-trigger on Graph's synchronization API.
    pub async fn start_on_cloud_sync(
        prefix: &str,
        users: &[&str],
        cloud_sync: Value,
        interval_seconds: u64,
    ) -> Self {
        let tenant = TenantFixture::start(prefix, users, |scenario| {
            TenantFixture::on_cloud_sync(scenario, interval_seconds);
            scenario["connect"]["cloud_sync"] = cloud_sync;
        })
        .await;
        let env = tenant.cloud_sync_env();
        Self::with_backend(prefix, tenant, env, 1, None).await
    }

    async fn with_backend(
        prefix: &str,
        tenant: TenantFixture,
        backend: Vec<(String, String)>,
        replicas: usize,
        ssh: Option<SshConnectServer>,
    ) -> Self {
        let pacing = [
            ("DETOUR__CONNECT__COALESCE_WINDOW_MS", "300"),
            ("DETOUR__CONNECT__POLL_INTERVAL_MS", "100"),
            ("DETOUR__CONNECT__BUSY_RETRY_MS", "100"),
            ("DETOUR__CONNECT__REQUEST_TIMEOUT_MS", "5000"),
        ];
        let env = backend
            .into_iter()
            .chain(
                pacing
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned())),
            )
            .collect();
        let build: detour_testkit::Build = Box::new(|sources| {
            let settings: sync_trigger::SyncTriggerSettings =
                load_config(sync_trigger::DEFAULT_PORT, sources)?;
            Ok((sync_trigger::spec(&settings)?, settings.base()))
        });
        let service = ServiceHarness::start(prefix, "sync-trigger.*.v1", env, replicas, build)
            .await
            .unwrap();
        Self {
            tenant,
            service,
            ssh,
        }
    }

    pub async fn move_out(&self, name: &str) {
        self.tenant
            .move_user(name, &self.tenant.staff(), &self.tenant.parked())
            .await;
    }
}

/// A request for a change made just now to `objects`, each located at its DN; on demand
/// where the sync client can, as for users whose cloud objects are live.
pub fn request(objects: &[(uuid::Uuid, String)]) -> RequestSyncCycle {
    RequestSyncCycle {
        objects: objects.iter().map(|(guid, _)| *guid).collect(),
        policy_type: PolicyType::Delta,
        since: time::OffsetDateTime::now_utc(),
        located_at: objects
            .iter()
            .map(|(guid, dn)| (*guid, dn.parse::<Dn>().unwrap()))
            .collect(),
        provision_on_demand: true,
    }
}
