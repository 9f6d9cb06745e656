//! The server over real sockets: a bounded number of clients, and the two ways it stops.

use std::time::Duration;

use joule_modbus::{Identity, ServerOptions, Snapshot, Stopped, serve_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

const READ_VOLTS: [u8; 12] = [0, 7, 0, 0, 0, 6, 1, 4, 0, 0, 0, 2];

struct Running {
    port: u16,
    snapshot: watch::Sender<Snapshot>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<Stopped>,
}

async fn start(max_clients: usize) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let mut snapshot = Snapshot::default();
    snapshot.phase[0].voltage_v = 230.0;
    let (sender, receiver) = watch::channel(snapshot);
    let (stop, stopped) = oneshot::channel::<()>();
    let options = ServerOptions {
        max_clients,
        ..ServerOptions::default()
    };
    let identity = Identity::joule("Joule J1", "JM-1", "0.1.0");
    let server = tokio::spawn(serve_with(listener, receiver, identity, options, stopped));
    Running {
        port,
        snapshot: sender,
        stop,
        server,
    }
}

/// Phase 1 volts as the server answers them, or `None` when it closed the connection.
async fn volts(stream: &mut TcpStream) -> Option<f32> {
    stream.write_all(&READ_VOLTS).await.ok()?;
    let mut answer = [0; 13];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut answer))
        .await
        .expect("an answer or a close within 5 s")
        .ok()?;
    Some(f32::from_be_bytes([
        answer[9], answer[10], answer[11], answer[12],
    ]))
}

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect")
}

#[tokio::test]
async fn clients_beyond_the_limit_are_closed_until_a_slot_frees() {
    let running = start(2).await;
    let mut first = connect(running.port).await;
    let mut second = connect(running.port).await;
    assert_eq!(volts(&mut first).await, Some(230.0));
    assert_eq!(volts(&mut second).await, Some(230.0));
    let mut third = connect(running.port).await;
    assert_eq!(volts(&mut third).await, None, "a third client is refused");

    drop(first);
    // The slot is released once the server sees the close: retry for a moment.
    let mut served = None;
    for _ in 0..50 {
        let mut fourth = connect(running.port).await;
        served = volts(&mut fourth).await;
        if served.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(served, Some(230.0));
    assert_eq!(
        volts(&mut second).await,
        Some(230.0),
        "the others are undisturbed"
    );
    running.stop.send(()).expect("server running");
    assert_eq!(running.server.await.expect("join"), Stopped::Shutdown);
}

#[tokio::test]
async fn shutdown_closes_the_connected_clients() {
    let running = start(16).await;
    let mut client = connect(running.port).await;
    assert_eq!(volts(&mut client).await, Some(230.0));
    running.stop.send(()).expect("server running");
    assert_eq!(running.server.await.expect("join"), Stopped::Shutdown);
    assert_eq!(volts(&mut client).await, None);
    assert!(
        TcpStream::connect(("127.0.0.1", running.port))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_server_stops_when_the_snapshots_sender_is_dropped() {
    let running = start(16).await;
    let mut client = connect(running.port).await;
    running
        .snapshot
        .send_modify(|snapshot| snapshot.phase[0].voltage_v = 241.5);
    assert_eq!(volts(&mut client).await, Some(241.5));
    drop(running.snapshot);
    assert_eq!(running.server.await.expect("join"), Stopped::SnapshotClosed);
    drop(running.stop);
}
