//! Reaching a domain controller the one way Detour does: TLS that trusts exactly the
//! configured CA (LDAPS, or StartTLS for an `ldap://` URL; never unencrypted, never "accept any
//! certificate"), a connect timeout, and a simple bind whose refusal is an error. ad-ops, the
//! simulator's sync engine and the test kit all connect through [`Endpoint`].

use std::{path::Path, sync::Arc, time::Duration};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use rustls::pki_types::{CertificateDer, pem::PemObject};

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("cannot read the CA file {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// A directory to connect to: its URL, the TLS that trusts its CA, and how long a connect
/// may take.
#[derive(Debug, Clone)]
pub struct Endpoint {
    url: String,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl Endpoint {
    /// Reads the CA now, so a bad file fails at start-up rather than at the first call.
    pub fn new(url: &str, ca_file: &Path, timeout: Duration) -> Result<Self, EndpointError> {
        let ca = |reason: String| EndpointError::Ca {
            path: ca_file.display().to_string(),
            reason,
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| ca(e.to_string()))? {
            roots
                .add(cert.map_err(|e| ca(e.to_string()))?)
                .map_err(|e| ca(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(ca("it holds no certificate".into()));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            url: url.to_owned(),
            tls: Arc::new(tls),
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connection bound as `who`; a refused bind is an error.
    pub async fn bind(&self, who: &str, password: &str) -> Result<Ldap, ldap3::LdapError> {
        let settings = LdapConnSettings::new()
            .set_config(self.tls.clone())
            .set_starttls(self.url.starts_with("ldap://"))
            .set_conn_timeout(self.timeout);
        let (connection, mut ldap) = LdapConnAsync::with_settings(settings, &self.url).await?;
        ldap3::drive!(connection);
        ldap.with_timeout(self.timeout)
            .simple_bind(who, password)
            .await?
            .success()?;
        Ok(ldap)
    }
}
