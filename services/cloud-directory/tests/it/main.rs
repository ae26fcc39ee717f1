//! cloud-directory against the real broker and tenant-sim's Graph over real Samba: reads
//! (alone and batched), the cloud half of the seed with idempotent repeats, refusals that say
//! why, and calls that ride out throttling and 5xx.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use detour_contracts::cloud_directory::{
    AssignLicense, CloudCommandFailed, CloudFailureKind, CloudUserRead, CloudUsersRead,
    DeletedUserRead, LicenseAssigned, LicenseRemoved, ReadCloudUser, ReadCloudUsers,
    ReadDeletedUser, ReadTenant, RemoveLicense, RestoreUser, SetTakeoverBlock, SetUserCloudManaged,
    TakeoverBlockSet, TenantRead, UserCloudManagedSet, UserRestored,
};
use detour_service::{ServiceConfig, load_config};
use detour_testkit::ServiceHarness;
use serde_json::{Value, json};
use tenant_sim::fixture::{E3, TenantFixture};
use uuid::Uuid;

async fn start(
    prefix: &str,
    users: &[&str],
    customize: impl FnOnce(&mut Value),
) -> (TenantFixture, ServiceHarness) {
    start_with_secret(prefix, users, customize, None).await
}

async fn start_with_secret(
    prefix: &str,
    users: &[&str],
    customize: impl FnOnce(&mut Value),
    secret: Option<&str>,
) -> (TenantFixture, ServiceHarness) {
    start_with(prefix, users, customize, secret, &[]).await
}

async fn start_with(
    prefix: &str,
    users: &[&str],
    customize: impl FnOnce(&mut Value),
    secret: Option<&str>,
    extra: &[(&str, &str)],
) -> (TenantFixture, ServiceHarness) {
    let tenant = TenantFixture::start(prefix, users, customize).await;
    let mut env = tenant.entra_env("GRAPH");
    if let Some(secret) = secret {
        env.retain(|(k, _)| !k.ends_with("CLIENT_SECRET"));
        env.push((
            "DETOUR__GRAPH__ENTRA__CLIENT_SECRET".to_owned(),
            secret.to_owned(),
        ));
    }
    env.push((
        "DETOUR__GRAPH__ENTRA__MAX_ATTEMPTS".to_owned(),
        "5".to_owned(),
    ));
    let env: Vec<(String, String)> = env
        .into_iter()
        .chain(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .collect();
    let build: detour_testkit::Build = Box::new(|sources| {
        let settings: cloud_directory::CloudDirectorySettings =
            load_config(cloud_directory::DEFAULT_PORT, sources)?;
        Ok((cloud_directory::spec(&settings)?, settings.base()))
    });
    let service = ServiceHarness::start(prefix, "cloud-directory.*.v1", env, 1, build)
        .await
        .unwrap();
    (tenant, service)
}

fn sku() -> Uuid {
    E3.parse().unwrap()
}

mod resilience;
mod steps;
