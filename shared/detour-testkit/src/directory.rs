//! The Samba AD DC of the dev stack, over LDAPS verified against the stack's own CA, and one
//! OU per test under `OU=Detour Tests`, deleted with everything in it on drop.

use std::{collections::HashSet, time::Duration};

use anyhow::{Context, ensure};
use detour_ldap::Endpoint;
use ldap3::{Ldap, Scope, SearchEntry};

use crate::Stack;

/// Connection details for the dev stack's directory.
#[derive(Debug, Clone)]
pub struct Directory {
    pub url: String,
    pub base_dn: String,
    pub ca_file: String,
    pub tests_ou: String,
    pub bind_dn: String,
    bind_password: String,
    admin_upn: String,
    admin_password: String,
}

impl Directory {
    pub fn from_stack() -> anyhow::Result<Self> {
        let stack = Stack::load()?;
        Ok(Self {
            url: stack.get("DETOUR_LDAP_URL")?.to_owned(),
            base_dn: stack.get("DETOUR_LDAP_BASE_DN")?.to_owned(),
            ca_file: stack.get("DETOUR_LDAP_CA_FILE")?.to_owned(),
            tests_ou: stack.get("DETOUR_AD_TESTS_OU")?.to_owned(),
            bind_dn: stack.get("DETOUR_LDAP_BIND_DN")?.to_owned(),
            bind_password: stack.secret("DETOUR_LDAP_BIND_PASSWORD")?,
            admin_upn: stack.get("DETOUR_LDAP_ADMIN_UPN")?.to_owned(),
            admin_password: stack.secret("DETOUR_LDAP_ADMIN_PASSWORD")?,
        })
    }

    /// The administrator's UPN and password, for fixtures that stand in for other parties
    /// (the simulator's Connect server reads and seeds AD with them).
    pub fn admin_credentials(&self) -> (&str, &str) {
        (&self.admin_upn, &self.admin_password)
    }

    /// Binds as the service account Detour's ad-ops uses.
    pub async fn bind_service_account(&self) -> anyhow::Result<Ldap> {
        self.bind(&self.bind_dn, &self.bind_password).await
    }

    /// Binds as the domain administrator (fixtures only).
    pub async fn bind_admin(&self) -> anyhow::Result<Ldap> {
        self.bind(&self.admin_upn, &self.admin_password).await
    }

    /// Binds as `who`, trusting exactly the stack's CA.
    pub async fn bind(&self, who: &str, password: &str) -> anyhow::Result<Ldap> {
        let endpoint = Endpoint::new(
            &self.url,
            std::path::Path::new(&self.ca_file),
            Duration::from_secs(10),
        )?;
        endpoint
            .bind(who, password)
            .await
            .with_context(|| format!("bind as {who}"))
    }
}

/// An OU for one test; it and everything in it are deleted on drop.
#[derive(Debug)]
pub struct TestOu {
    pub dn: String,
    directory: Directory,
}

impl TestOu {
    pub async fn create(directory: &Directory, prefix: &str) -> anyhow::Result<Self> {
        let dn = format!(
            "OU={prefix}-{},{}",
            uuid::Uuid::new_v4().simple(),
            directory.tests_ou
        );
        add_ou(directory, &dn).await?;
        Ok(Self {
            dn,
            directory: directory.clone(),
        })
    }

    /// Creates a child OU, e.g. to move users between (as the administrator: creating OUs is
    /// not a right Detour's service account has or needs).
    pub async fn child(&self, name: &str) -> anyhow::Result<String> {
        let dn = format!("OU={name},{}", self.dn);
        add_ou(&self.directory, &dn).await?;
        Ok(dn)
    }
}

impl Drop for TestOu {
    fn drop(&mut self) {
        let (dn, directory) = (self.dn.clone(), self.directory.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(delete_subtree(&directory, &dn))
        })
        .join();
    }
}

async fn add_ou(directory: &Directory, dn: &str) -> anyhow::Result<()> {
    let mut ldap = directory.bind_admin().await?;
    ldap.add(
        dn,
        vec![("objectClass", HashSet::from(["organizationalUnit"]))],
    )
    .await?
    .success()?;
    ldap.unbind().await?;
    Ok(())
}

/// Deletes `dn` and everything below it, deepest first.
pub async fn delete_subtree(directory: &Directory, dn: &str) -> anyhow::Result<()> {
    let mut ldap = directory.bind_admin().await?;
    let (entries, _) = ldap
        .search(dn, Scope::Subtree, "(objectClass=*)", vec!["1.1"])
        .await?
        .success()?;
    let mut dns: Vec<String> = entries
        .into_iter()
        .map(|e| SearchEntry::construct(e).dn)
        .collect();
    dns.sort_by_key(|dn| std::cmp::Reverse(dn.matches(',').count()));
    for dn in dns {
        let result = ldap.delete(&dn).await?;
        ensure!(result.rc == 0 || result.rc == 32, "delete {dn}: {result}");
    }
    ldap.unbind().await?;
    Ok(())
}
