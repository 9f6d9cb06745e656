//! The read-only Modbus TCP server: accepts a bounded number of clients and answers each
//! from the meter's latest snapshot, so energy managers can read a Joule meter as they
//! would a commercial one, and no client can change anything or starve the others.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

use crate::session::{FrameError, Session};
use crate::snapshot::{Identity, Snapshot};
use crate::telemetry::{ConnectionRefused, FrameRejected, RequestsAnswered};

/// Limits of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// Clients served at once; more are accepted and closed at once.
    pub max_clients: usize,
    /// A client that completes no request for this long is disconnected, so idle or
    /// half-sent connections cannot hold the slots forever.
    pub idle_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_clients: 16,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Why [`serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The shutdown future completed.
    Shutdown,
    /// The snapshot's sender was dropped: there are no live readings left to serve, and
    /// serving the last one as if it were live would mislead every reader.
    SnapshotClosed,
}

/// Serves the SDM630 input-register map (function 04) and the SunSpec block (function
/// 03) of the latest `snapshot` on `listener` until `shutdown` completes (whatever it
/// outputs: a signal, a oneshot receiver, a cancellation token's future), with the
/// default [`ServerOptions`]. Writes and every other function answer IllegalFunction.
pub async fn serve(
    listener: TcpListener,
    snapshot: watch::Receiver<Snapshot>,
    identity: Identity,
    shutdown: impl Future,
) -> Stopped {
    serve_with(
        listener,
        snapshot,
        identity,
        ServerOptions::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    listener: TcpListener,
    snapshot: watch::Receiver<Snapshot>,
    identity: Identity,
    options: ServerOptions,
    shutdown: impl Future,
) -> Stopped {
    let identity = Arc::new(identity);
    let slots = Arc::new(Semaphore::new(options.max_clients));
    let mut connections = JoinSet::new();
    let closed = sender_dropped(snapshot.clone());
    tokio::pin!(shutdown, closed);
    tracing::info!(address = ?listener.local_addr().ok(), "Modbus server listening");
    let stopped = loop {
        tokio::select! {
            _ = &mut shutdown => break Stopped::Shutdown,
            () = &mut closed => break Stopped::SnapshotClosed,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Arc::clone(&slots).try_acquire_owned() {
                    Ok(slot) => {
                        let client = Client {
                            peer,
                            snapshot: snapshot.clone(),
                            identity: Arc::clone(&identity),
                            idle_timeout: options.idle_timeout,
                            _slot: slot,
                        };
                        connections.spawn(client.run(stream));
                    }
                    Err(_) => ConnectionRefused { peer, max_clients: options.max_clients }.emit(),
                },
                Err(error) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "Modbus accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    };
    connections.shutdown().await;
    tracing::info!(?stopped, "Modbus server stopped");
    stopped
}

async fn sender_dropped(mut snapshot: watch::Receiver<Snapshot>) {
    while snapshot.changed().await.is_ok() {}
}

/// One connected client; its slot is released when it is dropped.
struct Client {
    peer: SocketAddr,
    snapshot: watch::Receiver<Snapshot>,
    identity: Arc<Identity>,
    idle_timeout: Duration,
    _slot: OwnedSemaphorePermit,
}

/// Why a connection ended other than by the client closing it.
#[derive(Debug, thiserror::Error)]
enum Ended {
    #[error("no complete request for {0:?}")]
    Idle(Duration),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Client {
    async fn run(self, mut stream: TcpStream) {
        // Answers are small and the client waits for each: do not hold them back.
        let _ = stream.set_nodelay(true);
        tracing::debug!(peer = %self.peer, "Modbus client connected");
        match self.exchange(&mut stream).await {
            Ok(()) => tracing::debug!(peer = %self.peer, "Modbus client disconnected"),
            Err(Ended::Frame(error)) => FrameRejected {
                peer: self.peer,
                error: &error,
            }
            .emit(),
            Err(error) => tracing::debug!(peer = %self.peer, %error, "Modbus client closed"),
        }
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: &mut S,
    ) -> Result<(), Ended> {
        let mut session = Session::new();
        let mut buffer = [0; 512];
        let mut out = Vec::new();
        let mut deadline = Instant::now() + self.idle_timeout;
        loop {
            let read = timeout_at(deadline, stream.read(&mut buffer))
                .await
                .map_err(|_| Ended::Idle(self.idle_timeout))??;
            if read == 0 {
                return Ok(());
            }
            let snapshot = *self.snapshot.borrow();
            out.clear();
            let received = session.receive(&buffer[..read], &snapshot, &self.identity, &mut out);
            if !out.is_empty() {
                // A client that stops reading its answers is as idle as one that stops asking.
                timeout_at(
                    deadline.max(Instant::now() + self.idle_timeout),
                    stream.write_all(&out),
                )
                .await
                .map_err(|_| Ended::Idle(self.idle_timeout))??;
            }
            let received = received?;
            if received.requests > 0 {
                deadline = Instant::now() + self.idle_timeout;
                RequestsAnswered {
                    peer: self.peer,
                    requests: received.requests,
                    exceptions: received.exceptions,
                }
                .emit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{identity, three_phase};
    use tokio::io::duplex;

    fn client(idle_timeout: Duration) -> (Client, watch::Sender<Snapshot>) {
        let (sender, snapshot) = watch::channel(three_phase());
        let slot = Arc::new(Semaphore::new(1))
            .try_acquire_owned()
            .expect("slot");
        let client = Client {
            peer: SocketAddr::from(([127, 0, 0, 1], 0)),
            snapshot,
            identity: Arc::new(identity()),
            idle_timeout,
            _slot: slot,
        };
        (client, sender)
    }

    const READ_VOLTS: [u8; 12] = [0, 1, 0, 0, 0, 6, 1, 4, 0, 0, 0, 2];

    #[tokio::test]
    async fn answers_from_the_latest_snapshot() {
        let (client, sender) = client(Duration::from_secs(5));
        let (mut ours, theirs) = duplex(1024);
        let task = tokio::spawn(async move {
            let mut theirs = theirs;
            client.exchange(&mut theirs).await
        });
        let mut answer = [0; 13];
        ours.write_all(&READ_VOLTS).await.expect("write");
        ours.read_exact(&mut answer).await.expect("answer");
        assert_eq!(&answer[9..], &230.0_f32.to_be_bytes());
        sender.send_modify(|snapshot| snapshot.phase[0].voltage_v = 240.0);
        ours.write_all(&READ_VOLTS).await.expect("write");
        ours.read_exact(&mut answer).await.expect("answer");
        assert_eq!(&answer[9..], &240.0_f32.to_be_bytes());
        drop(ours);
        assert!(matches!(task.await.expect("join"), Ok(())));
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_asks_nothing_is_dropped_after_the_idle_timeout() {
        let (client, _sender) = client(Duration::from_secs(60));
        let (mut ours, mut theirs) = duplex(1024);
        // Half a request keeps nothing alive.
        ours.write_all(&READ_VOLTS[..5]).await.expect("write");
        let ended = client.exchange(&mut theirs).await;
        assert!(matches!(ended, Err(Ended::Idle(_))), "{ended:?}");
    }

    #[tokio::test]
    async fn a_bad_header_closes_after_answering_what_came_before() {
        let (client, _sender) = client(Duration::from_secs(5));
        let (mut ours, mut theirs) = duplex(1024);
        let mut stream = READ_VOLTS.to_vec();
        stream.extend_from_slice(&[0, 2, 0, 9, 0, 6, 1, 4, 0, 0, 0, 2]);
        ours.write_all(&stream).await.expect("write");
        let ended = client.exchange(&mut theirs).await;
        assert!(
            matches!(ended, Err(Ended::Frame(FrameError::ProtocolId(9)))),
            "{ended:?}"
        );
        let mut answer = [0; 13];
        ours.read_exact(&mut answer)
            .await
            .expect("the first request's answer");
        assert_eq!(&answer[..2], &[0, 1]);
    }
}
