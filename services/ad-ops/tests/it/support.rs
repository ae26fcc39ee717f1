//! ad-ops started in-process on a test vhost, users in the test's own OU, and a way to send a
//! command and wait for the event that answers it.

use std::collections::HashSet;

use detour_contracts::Message;
use detour_service::{ServiceConfig, load_config};
use detour_testkit::{Answer, Directory, ServiceHarness, Stack, TestOu};

pub struct Harness {
    pub directory: Directory,
    pub ou: TestOu,
    pub tag: String,
    service: ServiceHarness,
}

impl Harness {
    pub async fn start(prefix: &str) -> Self {
        Self::start_with(prefix, &[]).await
    }

    /// Starts with extra settings, e.g. an LDAP URL through a proxy or more patient retries.
    pub async fn start_with(prefix: &str, overrides: &[(&str, &str)]) -> Self {
        let directory = Directory::from_stack().unwrap();
        let ou = TestOu::create(&directory, prefix).await.unwrap();
        let mut env = Stack::load().unwrap().ldap_service_env().unwrap();
        env.retain(|(k, _)| k != "DETOUR__LDAP__SEARCH_BASE");
        env.push(("DETOUR__LDAP__SEARCH_BASE".into(), ou.dn.clone()));
        env.push(("DETOUR__AMQP__MAX_ATTEMPTS".into(), "2".into()));
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
        let build: detour_testkit::Build = Box::new(|sources| {
            let settings: ad_ops::AdOpsSettings = load_config(ad_ops::DEFAULT_PORT, sources)?;
            Ok((ad_ops::spec(&settings)?, settings.base()))
        });
        let service = ServiceHarness::start(prefix, "ad-ops.*.v1", env, 1, build)
            .await
            .unwrap();
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        Self {
            directory,
            ou,
            tag,
            service,
        }
    }

    /// Publishes `command` and returns the event caused by it.
    pub async fn send<C: Message>(&mut self, command: C) -> Answer {
        self.service.send(command).await
    }

    /// Creates a user (as the administrator, as a fixture) in `ou` and returns its DN.
    pub async fn create_user(&self, cn: &str, sam: &str, ou: &str, proxies: &[&str]) -> String {
        let mut ldap = self.directory.bind_admin().await.unwrap();
        let dn = format!("CN={cn},{ou}");
        let upn = format!("{sam}@contoso.com");
        let mut attrs = vec![
            ("objectClass".to_owned(), HashSet::from(["user".to_owned()])),
            ("sAMAccountName".to_owned(), HashSet::from([sam.to_owned()])),
            ("userPrincipalName".to_owned(), HashSet::from([upn])),
        ];
        if !proxies.is_empty() {
            attrs.push((
                "proxyAddresses".to_owned(),
                proxies.iter().map(|p| (*p).to_owned()).collect(),
            ));
        }
        ldap.add(&dn, attrs).await.unwrap().success().unwrap();
        ldap.unbind().await.unwrap();
        dn
    }

    pub fn sam(&self, name: &str) -> String {
        format!("{name}{}", self.tag)
    }

    pub async fn stop(self) {
        self.service.stop().await;
    }
}
