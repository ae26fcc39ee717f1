//! A tenant (tenant-sim's fixture over a test OU) and sync-trigger replicas on its Connect agent.

use detour_service::{ServiceConfig, load_config};
use detour_testkit::ServiceHarness;
use serde_json::Value;
use tenant_sim::fixture::TenantFixture;

pub struct Harness {
    pub tenant: TenantFixture,
    pub service: ServiceHarness,
}

impl Harness {
    /// A tenant with `users` in scope, and `replicas` sync-triggers.
    pub async fn start(
        prefix: &str,
        users: &[&str],
        replicas: usize,
        customize: impl FnOnce(&mut Value),
    ) -> Self {
        let tenant = TenantFixture::start(prefix, users, customize).await;
        let env = [
            ("DETOUR__CONNECT__BASE_URL", tenant.base.clone()),
            ("DETOUR__CONNECT__AGENT_KEY", tenant.agent_key.clone()),
            ("DETOUR__CONNECT__COALESCE_WINDOW_MS", "300".to_owned()),
            ("DETOUR__CONNECT__POLL_INTERVAL_MS", "100".to_owned()),
            ("DETOUR__CONNECT__BUSY_RETRY_MS", "100".to_owned()),
        ];
        let build: detour_testkit::Build = Box::new(|sources| {
            let settings: sync_trigger::SyncTriggerSettings =
                load_config(sync_trigger::DEFAULT_PORT, sources)?;
            Ok((sync_trigger::spec(&settings)?, settings.base()))
        });
        let env = env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let service = ServiceHarness::start(prefix, "sync-trigger.*.v1", env, replicas, build)
            .await
            .unwrap();
        Self { tenant, service }
    }

    pub async fn move_out(&self, name: &str) {
        self.tenant
            .move_user(name, &self.tenant.staff(), &self.tenant.parked())
            .await;
    }
}
