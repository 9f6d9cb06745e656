//! What the agent and every display share: the [`Snapshot`] a display draws and the
//! [`Panel`] it arrives on, with the local button going the other way. The agent fills
//! the panel; the display (on this terminal or over the socket) only reads it, so the
//! display never depends on the agent.

use crate::source::Observation;
use crate::uplink::LinkState;
use joule_protocol::RelayState;
use tokio::sync::{mpsc, watch};

/// What the display shows: the latest values and the meter's condition.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The meter's id.
    pub meter_id: String,
    /// The latest observation.
    pub observation: Option<Observation>,
    /// The supply switch.
    pub relay: Option<RelayState>,
    /// Tariff in use.
    pub tariff: u8,
    /// Price now, per kWh, with its currency, from the last price signal.
    pub price: Option<(f64, String)>,
    /// The link.
    pub link: LinkState,
    /// Messages waiting in the outbox.
    pub outbox_messages: u64,
    /// Alarms raised now.
    pub alarms: Vec<String>,
    /// Register saves over the store's life.
    pub register_writes: u64,
}

/// The meter's local panel as the agent holds it: its display and its button.
#[derive(Debug)]
pub struct Panel {
    /// Where the agent sends each tick's snapshot.
    pub(crate) snapshots: watch::Sender<Snapshot>,
    /// A sender of button presses, for the display socket's clients.
    pub(crate) button_tx: mpsc::Sender<()>,
    /// The presses, for the agent.
    pub(crate) button: mpsc::Receiver<()>,
}

/// What a display in the same process holds of the panel.
#[derive(Debug, Clone)]
pub struct PanelHandle {
    /// The display's view, after every tick.
    pub snapshots: watch::Receiver<Snapshot>,
    /// Presses the local button (it closes a relay that is ready for reconnection).
    pub button: mpsc::Sender<()>,
}

impl Panel {
    /// A panel, and the handle a local display uses.
    pub fn new() -> (Self, PanelHandle) {
        let (snapshots, receiver) = watch::channel(Snapshot::default());
        let (button_tx, button) = mpsc::channel(8);
        let handle = PanelHandle {
            snapshots: receiver,
            button: button_tx.clone(),
        };
        (
            Self {
                snapshots,
                button_tx,
                button,
            },
            handle,
        )
    }
}
