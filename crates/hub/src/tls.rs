//! TLS in front of the hub's listeners: HTTPS for the API and portal, and MQTT over TLS for
//! the embedded broker.
//!
//! One acceptor for both. It accepts TCP connections and runs each handshake in its own
//! task (bounded in time and in number), so a slow or silent client never holds up the
//! others; finished connections come out of [`TlsListener`]. The API serves them directly
//! (axum's `Listener`). The embedded broker (rmqtt, built without its TLS feature, which
//! would pull in aws-lc) gets them forwarded as plain bytes to its own loopback listener by
//! [`forward_to_broker`]: the broker still checks every login against the registry.

use joule_tls::ServerConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Longest a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;
/// Finished connections waiting for the server to take them.
const READY_QUEUE: usize = 64;

/// A listener whose connections have completed a TLS handshake.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    /// Serves TLS with `config` on the connections `tcp` accepts.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(READY_QUEUE);
        let acceptor = tokio::spawn(accept(tcp, TlsAcceptor::from(config), sender));
        Ok(Self {
            ready,
            local_addr,
            acceptor,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next connection through its handshake.
    pub async fn next(&mut self) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
        self.ready.recv().await
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.next().await {
            Some(connection) => connection,
            // The acceptor only ends when the listener is dropped; until then, no more
            // connections simply means waiting.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// Accepts connections and hands each to its own handshake task.
async fn accept(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = Arc::clone(&handshakes).acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(connection) => connection,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(%error, "accepting a TLS connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    drop(permit);
                    let _ = ready.send((stream, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// Forwards every connection of `listener` to the broker's plain listener at `broker`,
/// until the returned task is aborted.
pub fn forward_to_broker(mut listener: TlsListener, broker: SocketAddr) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some((mut client, peer)) = listener.next().await {
            tokio::spawn(async move {
                let mut upstream = match TcpStream::connect(broker).await {
                    Ok(upstream) => upstream,
                    Err(error) => {
                        tracing::warn!(%error, %peer, "the embedded broker refused a TLS client");
                        return;
                    }
                };
                // Either side closing ends both; errors are disconnects, nothing to report.
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    })
}
