//! HTTPS beside plain HTTP: the identity libraries (MSAL, azure-identity) refuse an authority
//! that is not `https`, so the same router is served over TLS too, with a certificate the
//! caller provides (the test fixture makes one from a CA of its own). Requests that came in
//! over TLS carry `X-Forwarded-Proto: https`, so links the simulator writes (`@odata.nextLink`,
//! the OpenID documents) name the scheme the client used.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{extract::Request, http::HeaderValue};
use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

use crate::app::Sim;

/// A handshake that has not finished by then is dropped (a client that connected and went
/// quiet must not hold up the next one).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's TLS settings from its certificate chain and private key, both PEM.
pub fn server_config(chain_pem: &str, key_pem: &str) -> anyhow::Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| anyhow::anyhow!("the certificate chain is not PEM: {error}"))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "the certificate file holds no certificate"
    );
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|error| anyhow::anyhow!("the private key is not PEM: {error}"))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    // HTTP/1.1 only (the router is served without HTTP/2): a client that offers h2, as the
    // Graph SDK's does, settles on 1.1 here.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Connections on `tcp`, each through the TLS handshake.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::debug!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(error)) => tracing::debug!(%error, %addr, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves every API over TLS on `listener` until `shutdown` completes.
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    sim: Arc<Sim>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = super::router(sim).layer(axum::middleware::map_request(mark_https));
    let listener = TlsListener {
        tcp: listener,
        acceptor: TlsAcceptor::from(config),
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn mark_https(mut request: Request) -> Request {
    request
        .headers_mut()
        .insert("x-forwarded-proto", HeaderValue::from_static("https"));
    request
}
