//! What the peer tests share: a known snapshot, and the server running on a free port in
//! a thread of its own (so tests can block on peer processes).

use std::net::TcpListener as StdListener;
use std::thread::JoinHandle;

use joule_modbus::{
    ApparentEnergy, Identity, PhaseValues, Phases, ReactiveEnergy, Snapshot, Stopped, serve,
};
use tokio::sync::{oneshot, watch};

/// A three-phase meter importing on L1 and L3 and exporting on L2, with registers large
/// enough that kWh floats lose digits the way a real meter's do.
pub(crate) fn snapshot() -> Snapshot {
    let phase = |voltage_v, current_a, p_w, q_var, pf| PhaseValues {
        voltage_v,
        current_a,
        p_w,
        s_va: voltage_v * current_a,
        q_var,
        pf,
    };
    Snapshot {
        phases: Phases::Three,
        phase: [
            phase(230.5, 12.25, 2716.0, 640.0, 0.96),
            phase(229.75, 4.5, -1020.0, -120.0, -0.98),
            phase(231.25, 0.75, 150.5, 60.0, 0.87),
        ],
        p_w: 1846.5,
        s_va: 4033.0,
        q_var: 580.0,
        pf: 0.46,
        frequency_hz: Some(49.98),
        import_mwh: 1_234_567_890,
        export_mwh: 98_765_432,
        reactive: ReactiveEnergy::Quadrants([40_000_000, 2_500_000, 1_250_000, 7_000_000]),
        apparent: Some(ApparentEnergy {
            import_mvah: 1_300_000_000,
            export_mvah: 110_000_000,
        }),
        total_demand_w: 1750.0,
        max_demand_w: 9120.0,
    }
}

/// The identity the server publishes.
pub(crate) fn identity() -> Identity {
    Identity::joule("Joule J3", "JM-7F3A-0042", "0.1.0")
}

/// Joule's Modbus server on 127.0.0.1, stopped when dropped.
pub(crate) struct Server {
    /// Its port.
    pub(crate) port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Stopped>>,
    _snapshot: watch::Sender<Snapshot>,
}

impl Server {
    /// Serves `snapshot` on a free port (bound before this returns).
    pub(crate) fn start(snapshot: Snapshot) -> Self {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("address").port();
        let (sender, receiver) = watch::channel(snapshot);
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                serve(listener, receiver, identity(), stopped).await
            })
        });
        Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
            _snapshot: sender,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let stopped = thread.join().expect("server thread");
            if !std::thread::panicking() {
                assert_eq!(stopped, Stopped::Shutdown);
            }
        }
    }
}
