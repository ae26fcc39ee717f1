//! The Samba AD DC of the dev stack, over LDAPS verified against the stack's own CA, and one
//! OU per test under `OU=Detour Tests`, deleted with everything in it on drop.

use std::{collections::HashSet, sync::Arc, time::Duration};

use anyhow::{Context, ensure};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use rustls::pki_types::{CertificateDer, pem::PemObject};

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

    /// TLS settings that trust exactly the stack's CA: no "accept invalid certificates".
    pub fn tls_settings(&self) -> anyhow::Result<LdapConnSettings> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca_file)
            .with_context(|| format!("reading {}", self.ca_file))?
        {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(LdapConnSettings::new()
            .set_config(Arc::new(config))
            .set_conn_timeout(Duration::from_secs(10)))
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

    pub async fn bind(&self, who: &str, password: &str) -> anyhow::Result<Ldap> {
        let (connection, mut ldap) =
            LdapConnAsync::with_settings(self.tls_settings()?, &self.url).await?;
        ldap3::drive!(connection);
        ldap.simple_bind(who, password)
            .await?
            .success()
            .with_context(|| format!("bind as {who}"))?;
        Ok(ldap)
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
