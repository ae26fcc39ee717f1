//! A test fixture for any crate that needs a tenant: tenant-sim started in-process over the dev
//! stack's Samba, with the seed's scenario in the test's own OU (OU=Staff and OU=Groups in
//! scope, OU=Parked out of it, every user in a synced group carrying the E3 licence), and
//! clients for each API it serves. Built with the `fixture` feature, for tests only.

mod ssh;

pub use ssh::SshConnectServer;

use std::time::Duration;

use crate::{ad::AdSettings, app::Sim};
use detour_config::Secret;
use detour_contracts::connect_agent::{CycleStarted, RunOutcome, RunResult};
use detour_testkit::{Directory, TestOu, eventually};
use serde_json::{Value, json};
use uuid::Uuid;

pub const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
pub const GRAPH: &str = "https://graph.microsoft.com/.default";
pub const EXCHANGE: &str = "https://outlook.office365.com/.default";

#[derive(Debug)]
pub struct TenantFixture {
    /// Plain HTTP, as Detour's own services are pointed at it in tests.
    pub base: String,
    /// The same APIs over TLS (`https://localhost:PORT`), for clients that insist on it.
    pub https_base: String,
    /// The CA that signed the TLS certificate, PEM: what a client is told to trust.
    pub ca_file: std::path::PathBuf,
    pub ou: TestOu,
    pub directory: Directory,
    pub tenant_id: Uuid,
    pub client_id: Uuid,
    pub secret: String,
    pub agent_key: String,
    /// Appended to every account name: AD names are unique across the domain, and tests share it.
    pub tag: String,
    pub client: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
    _tls_server: tokio::task::JoinHandle<()>,
}

/// A CA of the fixture's own and a certificate it signed for `localhost` and `127.0.0.1`: the
/// CA's PEM, the certificate chain's and the key's.
fn test_certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tenant-sim test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

impl TenantFixture {
    pub fn staff(&self) -> String {
        format!("OU=Staff,{}", self.ou.dn)
    }

    pub fn parked(&self) -> String {
        format!("OU=Parked,{}", self.ou.dn)
    }

    pub fn sam(&self, name: &str) -> String {
        format!("{name}{}", self.tag)
    }

    pub fn upn(&self, name: &str) -> String {
        format!("{}@contoso.com", self.sam(name))
    }

    /// The seed's tenant: `contoso`, OU=Staff and OU=Groups in scope, a group-licensed user
    /// per name in `users`; `bob`, when present, already has his coexistence address.
    /// A `customize` for users whose AD proxyAddresses lack the routing address (nobody has
    /// tried adding it on-premises yet).
    pub fn without_ad_routing_address(scenario: &mut Value) {
        for user in scenario["ad"]["users"].as_array_mut().into_iter().flatten() {
            if let Some(addresses) = user["proxy_addresses"].as_array_mut() {
                addresses.retain(|a| {
                    !a.as_str()
                        .unwrap_or_default()
                        .contains(".mail.onmicrosoft.com")
                });
            }
        }
    }

    pub async fn start(prefix: &str, users: &[&str], customize: impl FnOnce(&mut Value)) -> Self {
        let directory = Directory::from_stack().unwrap();
        let ou = TestOu::create(&directory, prefix).await.unwrap();
        let (admin, password) = directory.admin_credentials();
        let settings = AdSettings {
            url: directory.url.clone(),
            ca_file: directory.ca_file.clone().into(),
            bind_dn: admin.to_owned(),
            bind_password: Secret::new(password),
            search_base: ou.dn.clone(),
        };
        let sim = Sim::new(settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https_base = format!(
            "https://localhost:{}",
            tls_listener.local_addr().unwrap().port()
        );
        let (ca_pem, chain_pem, key_pem) = test_certificates();
        let ca_file = std::env::temp_dir().join(format!("tenant-sim-ca-{}.pem", Uuid::new_v4()));
        std::fs::write(&ca_file, ca_pem).unwrap();
        let tls = crate::http::server_config(&chain_pem, &key_pem).unwrap();
        let tls_sim = sim.clone();
        let tls_server = tokio::spawn(async move {
            let _ =
                crate::http::serve_tls(tls_listener, tls, tls_sim, std::future::pending()).await;
        });
        let server = tokio::spawn(async move {
            let _ = crate::http::serve(listener, sim, std::future::pending()).await;
        });
        let tag = Uuid::new_v4().simple().to_string()[..6].to_owned();
        let harness = Self {
            base,
            https_base,
            ca_file,
            ou,
            directory,
            tenant_id: Uuid::new_v4(),
            client_id: Uuid::new_v4(),
            secret: format!("s3cret-{}", Uuid::new_v4()),
            agent_key: format!("agent-{}", Uuid::new_v4()),
            tag,
            client: reqwest::Client::new(),
            _server: server,
            _tls_server: tls_server,
        };
        let mut scenario = harness.scenario(users);
        customize(&mut scenario);
        let response = harness
            .client
            .post(harness.url("/_sim/scenario"))
            .json(&scenario)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "scenario load: {status} {}",
            response.text().await.unwrap()
        );
        harness
    }

    fn scenario(&self, users: &[&str]) -> Value {
        let ou = &self.ou.dn;
        let group_dn = format!("CN=M365 Licensed {},OU=Groups,{ou}", self.tag);
        let ad_users: Vec<Value> = users
            .iter()
            .map(|name| {
                json!({
                    "ou": self.staff(),
                    "sam_account_name": self.sam(name),
                    "user_principal_name": self.upn(name),
                    "display_name": format!("{name} {}", self.tag),
                    "mail": self.upn(name),
                    // The seed's user: the admin already added the routing address in AD, and
                    // the cloud discards it (unless the scenario's switch says otherwise).
                    "proxy_addresses": [
                        format!("SMTP:{}", self.upn(name)),
                        format!("smtp:{}@contoso.mail.onmicrosoft.com", self.sam(name)),
                    ],
                })
            })
            .collect();
        let cloud_users: Vec<Value> = users
            .iter()
            .map(|name| {
                let mut spec = json!({ "user_principal_name": self.upn(name) });
                if *name == "bob" {
                    spec["cloud_addresses"] = json!([format!(
                        "smtp:{}@contoso.mail.onmicrosoft.com",
                        self.sam(name)
                    )]);
                }
                spec
            })
            .collect();
        json!({
            "tenant": {
                "id": self.tenant_id,
                "initial_domain": "contoso.onmicrosoft.com",
                "coexistence_domain": "contoso.mail.onmicrosoft.com",
                "verified_domains": ["contoso.com"],
            },
            "connect": {
                "version": "2.4.18.0",
                "scope_ous": [self.staff(), format!("OU=Groups,{ou}")],
                "filter_attribute": "adminDescription",
            },
            "skus": [{ "sku_id": E3, "sku_part_number": "ENTERPRISEPACK", "prepaid_units": 25, "includes_exchange": true }],
            "groups": [{ "display_name": "M365 Licensed", "on_premises_distinguished_name": group_dn, "licenses": [E3] }],
            "ad": {
                "ous": [self.staff(), format!("OU=Groups,{ou}"), self.parked()],
                "users": ad_users,
                "groups": [{ "dn": group_dn, "members": users.iter().map(|n| self.sam(n)).collect::<Vec<_>>() }],
            },
            "cloud_users": cloud_users,
            "apps": [{ "client_id": self.client_id, "client_secret": self.secret }],
            "agent_key": self.agent_key,
            "delays": { "token_lifetime_seconds": 3599, "mailbox_reconnect_seconds": 0.3, "cycle_seconds": 0.2 },
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn token(&self, scope: &str) -> String {
        let response = self
            .client
            .post(self.url(&format!("/{}/oauth2/v2.0/token", self.tenant_id)))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id.to_string()),
                ("client_secret", &self.secret),
                ("scope", scope),
            ])
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().expect("a token").to_owned()
    }

    pub async fn graph(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = self.token(GRAPH).await;
        let mut request = self
            .client
            .request(method, self.url(&format!("/v1.0{path}")))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn invoke(&self, cmdlet: &str, parameters: Value) -> (u16, Value) {
        let token = self.token(EXCHANGE).await;
        let body = json!({ "CmdletInput": { "CmdletName": cmdlet, "Parameters": parameters } });
        let response = self
            .client
            .post(self.url(&format!("/adminapi/beta/{}/InvokeCommand", self.tenant_id)))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    pub async fn agent(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.url(&format!("/connect/v1{path}")))
            .bearer_auth(&self.agent_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Starts a Delta cycle and waits for its result.
    pub async fn sync(&self) -> RunResult {
        let (status, started) = self
            .agent(
                reqwest::Method::POST,
                "/sync-cycles",
                Some(json!({ "policyType": "Delta" })),
            )
            .await;
        assert_eq!(status, 202, "{started}");
        let started: CycleStarted = serde_json::from_value(started).unwrap();
        eventually(Duration::from_secs(20), "the cycle to finish", || async {
            let (_, run) = self
                .agent(
                    reqwest::Method::GET,
                    &format!("/runs/{}", started.run_id),
                    None,
                )
                .await;
            let run: RunResult = serde_json::from_value(run).ok()?;
            (run.outcome != RunOutcome::InProgress).then_some(run)
        })
        .await
    }

    /// The `DETOUR__<SECTION>__*` settings that point a Graph or Exchange client (cloud-directory's
    /// `GRAPH`, mailbox-ops's `EXCHANGE`) at this tenant with its app's credentials.
    pub fn entra_env(&self, section: &str) -> Vec<(String, String)> {
        vec![
            (format!("DETOUR__{section}__BASE_URL"), self.base.clone()),
            (
                format!("DETOUR__{section}__ENTRA__IDENTITY_BASE_URL"),
                self.base.clone(),
            ),
            (
                format!("DETOUR__{section}__ENTRA__TENANT"),
                self.tenant_id.to_string(),
            ),
            (
                format!("DETOUR__{section}__ENTRA__CLIENT_ID"),
                self.client_id.to_string(),
            ),
            (
                format!("DETOUR__{section}__ENTRA__CLIENT_SECRET"),
                self.secret.clone(),
            ),
            (
                format!("DETOUR__{section}__ENTRA__BACKOFF_MS"),
                "50".to_owned(),
            ),
        ]
    }

    /// One of the simulator's own reads (`/_sim/world`, `/_sim/traffic`), as JSON.
    pub async fn sim_read(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self.client.get(self.url(path)).send().await?.json().await?)
    }

    /// One of the simulator's own writes (a fault, the clock, the schedule): its status.
    async fn sim_write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> reqwest::StatusCode {
        let response = self
            .client
            .request(method, self.url(path))
            .json(body)
            .send();
        response.await.unwrap().status()
    }

    /// The whole simulated world, as `/_sim/world` shows it.
    pub async fn world(&self) -> Value {
        self.sim_read("/_sim/world").await.unwrap()
    }

    /// The on-demand provisionings Cloud Sync has carried out, oldest first.
    pub async fn provisioned_on_demand(&self) -> Vec<Value> {
        match self.world().await["connect"]["cloud_sync"]["on_demand"].take() {
            Value::Array(runs) => runs,
            other => panic!("tenant-sim's world has no on-demand list: {other}"),
        }
    }

    /// A `customize` step for a tenant synced by Cloud Sync (no Connect server), its job
    /// running every `interval_seconds` (0: never on its own).
    pub fn on_cloud_sync(scenario: &mut Value, interval_seconds: u64) {
        scenario["connect"]["cloud_sync"] = json!({});
        scenario["connect"]["interval_seconds"] = interval_seconds.into();
    }

    /// The settings that point sync-trigger's Cloud Sync backend at this tenant's Graph.
    pub fn cloud_sync_env(&self) -> Vec<(String, String)> {
        let mut env = self.entra_env("GRAPH");
        env.extend([
            (
                "DETOUR__CONNECT__BACKEND".to_owned(),
                "cloud-sync".to_owned(),
            ),
            (
                "DETOUR__CONNECT__CLOUD_SYNC__CONFIGURATION".to_owned(),
                crate::adsync::domain_of(&self.ou.dn),
            ),
        ]);
        env
    }

    /// The user's objectGUID, from the connector space.
    pub async fn guid(&self, name: &str) -> Uuid {
        let world = self.world().await;
        let rdn = format!("CN={name} {},", self.tag);
        let entry = world["connect"]["connector_space"]
            .as_object()
            .unwrap()
            .values()
            .find(|e| e["distinguished_name"].as_str().unwrap().starts_with(&rdn))
            .unwrap_or_else(|| panic!("{name} is not in the connector space"));
        entry["object_guid"].as_str().unwrap().parse().unwrap()
    }

    /// Every run the Connect agent knows, newest first.
    pub async fn runs(&self) -> Vec<Value> {
        self.agent(reqwest::Method::GET, "/runs?limit=1000", None)
            .await
            .1["runs"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Arms a fault (`/_sim/faults`); panics unless the simulator accepted it.
    pub async fn add_fault(&self, fault: Value) {
        let status = self
            .sim_write(reqwest::Method::POST, "/_sim/faults", &fault)
            .await;
        assert_eq!(status, 201, "fault {fault} was refused");
    }

    /// The armed faults not used up yet.
    pub async fn faults_left(&self) -> Value {
        let response = self.client.get(self.url("/_sim/faults")).send().await;
        response.unwrap().json().await.unwrap()
    }

    /// Moves the tenant's simulated clock forward.
    pub async fn advance_clock(&self, seconds: u64) {
        let body = json!({ "advance_seconds": seconds });
        let status = self
            .sim_write(reqwest::Method::POST, "/_sim/clock", &body)
            .await;
        assert!(status.is_success(), "{status}");
    }

    /// Holds the schedule: no scheduled cycle (or Cloud Sync run) starts, and none runs, once
    /// this returns; `false` lets the schedule go on.
    pub async fn hold_schedule(&self, held: bool) {
        let body = json!({ "held": held });
        let status = self
            .sim_write(reqwest::Method::PUT, "/_sim/schedule", &body)
            .await;
        assert!(status.is_success(), "{status}");
    }

    /// Moves a user to another OU in the real directory, as ad-ops will.
    pub async fn move_user(&self, name: &str, from: &str, to: &str) {
        let mut ldap = self.directory.bind_service_account().await.unwrap();
        let rdn = format!("CN={name} {}", self.tag);
        ldap.modifydn(&format!("{rdn},{from}"), &rdn, true, Some(to))
            .await
            .unwrap()
            .success()
            .unwrap();
        ldap.unbind().await.unwrap();
    }

    pub async fn add_ad_proxy(&self, name: &str, address: &str) {
        let mut ldap = self.directory.bind_service_account().await.unwrap();
        let dn = format!("CN={name} {},{}", self.tag, self.staff());
        let change = ldap3::Mod::Add(
            "proxyAddresses".to_owned(),
            std::collections::HashSet::from([address.to_owned()]),
        );
        ldap.modify(&dn, vec![change])
            .await
            .unwrap()
            .success()
            .unwrap();
        ldap.unbind().await.unwrap();
    }
}
