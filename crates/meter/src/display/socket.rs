//! The display socket: a running meter sends each tick's snapshot to every connected
//! display client as one line of JSON, and takes `button` lines from them as presses of
//! its local button. Line-delimited JSON over TCP keeps it readable with `nc` too.

use super::panel::Snapshot;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Longest line a client may send, bytes.
const MAX_LINE_BYTES: usize = 64;

/// Serves display clients on `listener` until `shutdown` turns true. Each client
/// subscribes to `snapshots` while it is connected, so the meter builds snapshots only
/// while someone watches.
pub async fn serve(
    listener: TcpListener,
    snapshots: watch::Sender<Snapshot>,
    button: mpsc::Sender<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::info!(%peer, "display client connected");
                    tokio::spawn(client(stream, snapshots.subscribe(), button.clone()));
                }
                Err(error) => tracing::warn!(%error, "display socket accept failed"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn client(
    stream: TcpStream,
    mut snapshots: watch::Receiver<Snapshot>,
    button: mpsc::Sender<()>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; MAX_LINE_BYTES];
    loop {
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
                let mut line = serde_json::to_vec(&*snapshots.borrow_and_update())
                    .unwrap_or_default();
                line.push(b'\n');
                if writer.write_all(&line).await.is_err() {
                    return;
                }
            }
            read = reader.read(&mut chunk) => match read {
                Ok(0) | Err(_) => return,
                Ok(len) => {
                    pending.extend_from_slice(&chunk[..len]);
                    while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        if line.trim_ascii() == b"button" {
                            // A full queue means presses are waiting already.
                            let _ = button.try_send(());
                        }
                    }
                    if pending.len() > MAX_LINE_BYTES {
                        tracing::warn!("display client sent an overlong line; disconnected");
                        return;
                    }
                }
            },
        }
    }
}

/// Connects to a running meter's display socket at `address`: snapshots arrive on the
/// returned receiver, presses sent on the returned sender reach the meter's button. The
/// receiver's sender drops when the connection ends.
pub async fn connect(
    address: &str,
) -> std::io::Result<(watch::Receiver<Snapshot>, mpsc::Sender<()>)> {
    let stream = TcpStream::connect(address).await?;
    let (reader, mut writer) = stream.into_split();
    let (snapshots_tx, snapshots) = watch::channel(Snapshot::default());
    let (button, mut presses) = mpsc::channel::<()>(8);
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match serde_json::from_str::<Snapshot>(&line) {
                Ok(snapshot) => {
                    snapshots_tx.send_replace(snapshot);
                }
                Err(error) => tracing::warn!(%error, "unreadable snapshot from the meter"),
            }
        }
    });
    tokio::spawn(async move {
        while presses.recv().await.is_some() {
            if writer.write_all(b"button\n").await.is_err() {
                return;
            }
        }
    });
    Ok((snapshots, button))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_client_sees_each_snapshot_and_its_button_presses_arrive() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (snapshots_tx, _) = watch::channel(Snapshot::default());
        let (button_tx, mut presses) = mpsc::channel(8);
        let (_stop, stop) = watch::channel(false);
        tokio::spawn(serve(listener, snapshots_tx.clone(), button_tx, stop));

        let (mut shown, button) = connect(&address).await.unwrap();
        let wait = Duration::from_secs(5);
        // The server sends on change: keep changing until the client has connected.
        let seen = tokio::time::timeout(wait, async {
            loop {
                snapshots_tx.send_replace(Snapshot {
                    meter_id: "m-9".into(),
                    outbox_messages: 3,
                    ..Snapshot::default()
                });
                if tokio::time::timeout(Duration::from_millis(100), shown.changed())
                    .await
                    .is_ok()
                {
                    return shown.borrow().clone();
                }
            }
        })
        .await
        .expect("a snapshot reaches the client");
        assert_eq!((seen.meter_id.as_str(), seen.outbox_messages), ("m-9", 3));

        button.send(()).await.unwrap();
        tokio::time::timeout(wait, presses.recv())
            .await
            .expect("the press reaches the meter")
            .expect("open");
    }

    #[tokio::test]
    async fn an_overlong_line_disconnects_the_client() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (snapshots, _) = watch::channel(Snapshot::default());
        let (button_tx, _presses) = mpsc::channel(8);
        let (_stop, stop) = watch::channel(false);
        tokio::spawn(serve(listener, snapshots, button_tx, stop));
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(&[b'x'; 4 * MAX_LINE_BYTES]).await.unwrap();
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(matches!(read, Ok(Ok(0))), "the meter closes the connection");
    }
}
