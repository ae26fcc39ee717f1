//! A TCP proxy a test puts between a client and a server it shares with other tests, to cut the
//! link (every open connection dropped, new ones refused) and restore it: a server restart or a
//! network cut, for one test only.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{net::TcpListener, task::AbortHandle};

#[derive(Debug)]
pub struct ChaosProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl ChaosProxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (accept_up, accept_links) = (up.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    // Down: the connection is accepted and dropped at once, like a reset.
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                if let Ok(mut all) = accept_links.lock() {
                    all.retain(|l| !l.is_finished());
                    all.push(link.abort_handle());
                }
            }
        });
        Ok(Self {
            addr,
            up,
            links,
            accept,
        })
    }

    /// Drops every open connection and refuses new ones until [`ChaosProxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        if let Ok(mut all) = self.links.lock() {
            for link in all.drain(..) {
                link.abort();
            }
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
