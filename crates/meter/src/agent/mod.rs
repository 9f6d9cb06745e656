//! The agent: the meter's main loop and the tasks around it. Initialise (registers from
//! the store, outbox, source), connect (the uplink task), serve (the Modbus server and the
//! display socket, when configured), then every tick: read, compute, switch tariff,
//! record, store, alert; between ticks: obey commands and acknowledge them.
//!
//! This module only wires the parts together; [`running`] holds the agent's state and
//! what it does, [`crate::commands`] decides what a command does, and the parts never
//! import from here.

mod error;
mod running;
mod saved;

pub use error::AgentError;
pub use saved::{SavedRegisters, saved_registers};

use crate::clock::SharedClock;
use crate::config::{BrokerUrl, MeterConfig};
use crate::display::Panel;
use crate::display::socket;
use crate::register_store::StoreError;
use crate::uplink::{self, LinkState, UplinkChannels, UplinkSettings};
use joule_protocol::Topics;
use running::Agent;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Runs the meter until `shutdown` turns true, reading the time from `clock` (with the
/// correction time sync sets) and showing itself on `panel` (and on the display socket
/// when `[display] listen` is set).
pub async fn run(
    config: MeterConfig,
    clock: SharedClock,
    mut shutdown: watch::Receiver<bool>,
    panel: Panel,
) -> Result<(), AgentError> {
    let Panel {
        snapshots,
        button_tx,
        button: mut button_rx,
    } = panel;
    std::fs::create_dir_all(&config.meter.data_dir).map_err(|source| StoreError::Io {
        path: config.meter.data_dir.clone(),
        source,
    })?;
    let (link_tx, link_rx) = watch::channel(LinkState::default());
    let (command_tx, mut command_rx) = mpsc::channel(64);
    let mut agent = Agent::start(config, clock)?;
    let settings = uplink_settings(agent.config())?;
    let (outbox, wake) = agent.outbox();
    let channels = UplinkChannels {
        outbox,
        wake,
        commands: command_tx,
        link: link_tx,
    };
    // The uplink stops after the agent has recorded its last messages, so they can go.
    let (uplink_stop, uplink_stopping) = watch::channel(false);
    let uplink = tokio::spawn(uplink::run(settings, channels, uplink_stopping));
    let modbus_tx = match agent.config().modbus.listen {
        Some(listen) => Some(serve_modbus(listen, agent.config(), shutdown.clone()).await?),
        None => None,
    };
    if let Some(listen) = agent.config().display.listen {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| AgentError::Display { listen, source })?;
        tracing::info!(%listen, "display socket (joule meter display --connect)");
        tokio::spawn(socket::serve(
            listener,
            snapshots.clone(),
            button_tx,
            shutdown.clone(),
        ));
    }
    // Measurement ticks are a second; the recorder paces live readings to the config.
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                agent.tick()?;
                // Views are built only for someone who reads them.
                if let Some(modbus) = &modbus_tx {
                    modbus.send_replace(agent.modbus_snapshot());
                }
                if snapshots.receiver_count() > 0 {
                    snapshots.send_replace(agent.snapshot(link_rx.borrow().clone())?);
                }
            }
            Some(command) = command_rx.recv() => agent.command(&command)?,
            Some(()) = button_rx.recv() => agent.press_button()?,
            _ = shutdown.changed() => break,
        }
    }
    agent.stop()?;
    let _ = uplink_stop.send(true);
    match uplink.await {
        Ok(result) => result?,
        Err(error) => tracing::error!(%error, "uplink task failed"),
    }
    Ok(())
}

/// Starts the read-only Modbus TCP server on `listen`; returns where its snapshots go.
async fn serve_modbus(
    listen: std::net::SocketAddr,
    config: &MeterConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<watch::Sender<joule_modbus::Snapshot>, AgentError> {
    let (tx, modbus_rx) = watch::channel(joule_modbus::Snapshot::default());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| AgentError::Modbus { listen, source })?;
    let identity =
        joule_modbus::Identity::joule("Joule meter", &config.meter.id, env!("CARGO_PKG_VERSION"));
    tracing::info!(%listen, "Modbus TCP server (SDM630 input registers, SunSpec from 40000)");
    tokio::spawn(joule_modbus::serve(
        listener,
        modbus_rx,
        identity,
        async move {
            let _ = shutdown.changed().await;
        },
    ));
    Ok(tx)
}

/// The uplink's settings from the configuration (validated at load; checked again here
/// because the TLS roots are read now).
fn uplink_settings(config: &MeterConfig) -> Result<UplinkSettings, AgentError> {
    let uplink = &config.uplink;
    let invalid = |key: &str| AgentError::Config(format!("`{key}` is not valid"));
    let broker = BrokerUrl::parse(&uplink.broker).ok_or_else(|| invalid("uplink.broker"))?;
    let tls = if broker.tls {
        let tls = joule_tls::client_config(uplink.ca_file.as_deref())
            .map_err(|error| AgentError::Config(format!("uplink.ca_file: {error}")))?;
        Some(tls)
    } else {
        None
    };
    Ok(UplinkSettings {
        meter: config.meter_id().ok_or_else(|| invalid("meter.id"))?,
        host: broker.host,
        port: broker.port,
        tls,
        token: uplink.token.clone(),
        topics: Topics::new(&uplink.prefix),
        keep_alive_s: uplink.keep_alive_s,
        replay_per_s: uplink.replay_per_s,
        window: uplink.window,
        ack_timeout_s: uplink.ack_timeout_s,
        home_assistant: uplink.home_assistant,
    })
}

#[cfg(test)]
mod tests;
