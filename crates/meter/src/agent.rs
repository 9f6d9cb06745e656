//! The agent: the meter's main loop. Initialise (registers from the store, outbox,
//! source), connect (the uplink task), then every tick: read, compute, switch tariff,
//! record, store, alert; between ticks: obey commands and acknowledge them.
//!
//! Registers are saved every `persistence.every_s` or after `persistence.every_wh` of
//! energy, whichever comes first, and at once after any command that changed state. A
//! start after a stop that did not save a clean shutdown raises `power_up` with the outage
//! since the last saved state; a clean stop raises `power_down` and saves.

use crate::alerts::Alerts;
use crate::clock::{Clock, SystemClock, plausible};
use crate::config::{BrokerUrl, MeterConfig, SourceConfig};
use crate::outbox::{Outbox, OutboxError};
use crate::recorder::{Context, Outgoing, Recorder, event};
use crate::register_store::{RegisterStore, StoreError};
use crate::relay::{LoadLimiter, Trigger, transition};
use crate::source::device::DeviceSource;
use crate::source::waveform::{
    CaptureReplay, Frames, SimulatedMains, WaveformError, WaveformSource,
};
use crate::source::{Observation, Source};
use crate::source::{dsmr, modbus};
use crate::state::{LoadLimit, MeterState, PhaseCalibration, Schedule};
use crate::tou::TouCalendar;
use crate::uplink::{self, LinkState, UplinkChannels, UplinkSettings};
use joule_metrology::{Calibration, DemandConfig, DemandMeter, MeterConfig as MetrologyConfig};
use joule_protocol::{
    AckStatus, Action, Command, CommandAck, EventKind, EventState, PAYLOAD_VERSION, RelayState,
    TopicKind, Topics, encode,
};
use joule_sim::household::HouseholdSpec;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The register store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The outbox failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The source failed.
    #[error(transparent)]
    Source(#[from] WaveformError),
    /// The uplink failed.
    #[error(transparent)]
    Uplink(#[from] uplink::UplinkError),
    /// The configuration does not hold together.
    #[error("configuration: {0}")]
    Config(String),
    /// The Modbus server's address could not be bound.
    #[error("modbus.listen {listen}: {source}")]
    Modbus {
        /// The address.
        listen: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The display socket's address could not be bound.
    #[error("display.listen {listen}: {source}")]
    Display {
        /// The address.
        listen: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The saved state could not be read.
    #[error("saved register state is unreadable: {0}")]
    State(String),
}

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

/// The registers as last saved, for people and tests (`joule meter --registers`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SavedRegisters {
    /// Sequence of the save.
    pub seq: u64,
    /// Saves over the store's life.
    pub writes: u64,
    /// When it was saved, Unix ms.
    pub written_ms: i64,
    /// Active import, mWh.
    pub import_mwh: u64,
    /// Active export, mWh.
    pub export_mwh: u64,
    /// The supply switch.
    pub relay: RelayState,
    /// Whether the agent stopped cleanly after this save.
    pub clean_shutdown: bool,
}

/// Reads the registers the meter with `config` last saved (none before its first start).
pub fn saved_registers(config: &MeterConfig) -> Result<Option<SavedRegisters>, AgentError> {
    let (_, record, _) = RegisterStore::open(&config.meter.data_dir.join("registers"))?;
    let Some(record) = record else {
        return Ok(None);
    };
    let state =
        MeterState::from_bytes(&record.payload).map_err(|e| AgentError::State(e.to_string()))?;
    Ok(Some(SavedRegisters {
        seq: record.seq,
        writes: record.writes,
        written_ms: record.written_ms,
        import_mwh: state.total[0],
        export_mwh: state.total[1],
        relay: state.relay,
        clean_shutdown: state.clean_shutdown,
    }))
}

/// The running agent's state.
#[derive(Debug)]
struct Agent {
    config: MeterConfig,
    clock: Arc<SystemClock>,
    store: RegisterStore,
    state: MeterState,
    source: Source,
    recorder: Recorder,
    outbox: Arc<Mutex<Outbox>>,
    wake: Arc<Notify>,
    calendar: Option<TouCalendar>,
    demand: DemandMeter,
    last_import_wh: Option<f64>,
    limiter: LoadLimiter,
    alerts: Alerts,
    clock_trusted: bool,
    /// The newest time the meter had seen before this start: a clock behind it is wrong.
    last_seen_ms: i64,
    last_observation: Option<Observation>,
    last_save_ms: i64,
    saved_energy_wh: f64,
}

/// The meter's local panel: its display and its button.
#[derive(Debug)]
pub struct Panel {
    snapshots: watch::Sender<Snapshot>,
    button_tx: mpsc::Sender<()>,
    button: mpsc::Receiver<()>,
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

/// Runs the meter until `shutdown` turns true, showing itself on `panel` (and on the
/// display socket when `[display] listen` is set).
pub async fn run(
    config: MeterConfig,
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
    let mut agent = Agent::start(config)?;
    let settings = agent.uplink_settings()?;
    let channels = UplinkChannels {
        outbox: agent.outbox.clone(),
        wake: agent.wake.clone(),
        commands: command_tx,
        link: link_tx,
    };
    // The uplink stops after the agent has recorded its last messages, so they can go.
    let (uplink_stop, uplink_stopping) = watch::channel(false);
    let uplink = tokio::spawn(uplink::run(settings, channels, uplink_stopping));
    let mut modbus_tx = None;
    if let Some(listen) = agent.config.modbus.listen {
        let (tx, modbus_rx) = watch::channel(joule_modbus::Snapshot::default());
        modbus_tx = Some(tx);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| AgentError::Modbus { listen, source })?;
        let identity = joule_modbus::Identity::joule(
            "Joule meter",
            &agent.config.meter.id,
            env!("CARGO_PKG_VERSION"),
        );
        let mut stopping = shutdown.clone();
        tracing::info!(%listen, "Modbus TCP server (SDM630 input registers, SunSpec from 40000)");
        tokio::spawn(joule_modbus::serve(
            listener,
            modbus_rx,
            identity,
            async move {
                let _ = stopping.changed().await;
            },
        ));
    }
    if let Some(listen) = agent.config.display.listen {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| AgentError::Display { listen, source })?;
        tracing::info!(%listen, "display socket (joule meter display --connect)");
        tokio::spawn(crate::display::socket::serve(
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

impl Agent {
    fn start(config: MeterConfig) -> Result<Self, AgentError> {
        let dir = &config.meter.data_dir;
        let (store, record, bad_slots) = RegisterStore::open(&dir.join("registers"))?;
        let outbox = Outbox::open(&dir.join("outbox.sqlite"), config.outbox.max_live)?;
        // The newer of the saved state and the state recorded with the last message: the
        // registers never resume below a value the meter already reported.
        let saved = record.as_ref().map(|r| (r.written_ms, r.payload.clone()));
        let newest = match (saved, outbox.last_state()?) {
            (Some(saved), Some(sent)) => Some(if sent.0 > saved.0 { sent } else { saved }),
            (saved, sent) => saved.or(sent),
        };
        let state = match &newest {
            Some((_, bytes)) => {
                MeterState::from_bytes(bytes).map_err(|e| AgentError::State(e.to_string()))?
            }
            None => MeterState::new(),
        };
        let clock = Arc::new(SystemClock::with_offset(state.clock_offset_ms));
        let now_ms = clock.now_ms();
        let source = build_source(&config, &state)?;
        let schedule = state.schedule.clone().or_else(|| {
            config.tariff.as_ref().map(|t| Schedule {
                timezone: t.timezone.clone(),
                switches: t.switches.clone(),
                holidays: t.holidays.clone(),
            })
        });
        let calendar = schedule.as_ref().and_then(|s| TouCalendar::new(s).ok());
        let last_seen_ms = newest.as_ref().map_or(0, |(ms, _)| *ms);
        let mut agent = Self {
            recorder: Recorder::new(config.meter.interval_s, config.meter.live_interval_s),
            demand: DemandMeter::new(&DemandConfig {
                interval_s: config.meter.interval_s,
                subintervals: 1,
            }),
            clock,
            store,
            state,
            source,
            outbox: Arc::new(Mutex::new(outbox)),
            wake: Arc::new(Notify::new()),
            calendar,
            last_import_wh: None,
            limiter: LoadLimiter::default(),
            alerts: Alerts::default(),
            clock_trusted: plausible(now_ms, last_seen_ms),
            last_seen_ms,
            last_observation: None,
            last_save_ms: now_ms,
            saved_energy_wh: 0.0,
            config,
        };
        for slot in bad_slots {
            tracing::warn!(path = %slot.path.display(), problem = %slot.problem, "register slot is damaged; using the other");
            agent.send_event(
                EventKind::RegisterStore,
                EventState::Instant,
                format!(
                    "damaged register slot {}: {}",
                    slot.path.display(),
                    slot.problem
                ),
            )?;
        }
        let detail = match &newest {
            None => "first start".to_owned(),
            Some(_) if agent.state.clean_shutdown => "after a clean shutdown".to_owned(),
            Some(_) => "outage since the last persisted state".to_owned(),
        };
        let mut power_up = event(EventKind::PowerUp, EventState::Instant, now_ms, detail);
        if let Some((last_ms, _)) = &newest {
            power_up.duration_s = Some(((now_ms - last_ms).max(0) as f64) / 1000.0);
        }
        agent.push(&Outgoing::Event(power_up))?;
        if !agent.clock_trusted {
            agent.send_event(EventKind::Clock, EventState::Started, "clock is before the last saved state or implausible; readings held until it is set")?;
        }
        agent.state.clean_shutdown = false;
        agent.save(now_ms)?;
        tracing::info!(meter = %agent.config.meter.id, import_mwh = agent.state.total[0], export_mwh = agent.state.total[1],
            relay = ?agent.state.relay, "meter started");
        Ok(agent)
    }

    fn uplink_settings(&self) -> Result<UplinkSettings, AgentError> {
        let uplink = &self.config.uplink;
        let invalid = |key: &str| AgentError::Config(format!("`{key}` is not valid"));
        let broker = BrokerUrl::parse(&uplink.broker).ok_or_else(|| invalid("uplink.broker"))?;
        let tls = if broker.tls {
            let config = joule_tls::client_config(uplink.ca_file.as_deref())
                .map_err(|error| AgentError::Config(format!("uplink.ca_file: {error}")))?;
            Some(config)
        } else {
            None
        };
        Ok(UplinkSettings {
            meter: self.config.meter_id().ok_or_else(|| invalid("meter.id"))?,
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

    /// One measurement tick.
    fn tick(&mut self) -> Result<(), AgentError> {
        let now_ms = self.clock.now_ms();
        if !self.clock_trusted && plausible(now_ms, self.last_seen_ms) {
            self.clock_trusted = true;
            self.send_event(
                EventKind::Clock,
                EventState::Ended,
                "clock is plausible again",
            )?;
        }
        if self.clock_trusted
            && let Some(tariff) = self.calendar.as_ref().and_then(|c| c.tariff_at(now_ms))
            && self.source.select_tariff(usize::from(tariff))
        {
            self.state.active_tariff = tariff;
        }
        if let Some((state, detail)) = self.source.availability_change(now_ms) {
            tracing::warn!(%detail, "source");
            self.send_event(EventKind::Alarm, state, detail)?;
        }
        let supply = self.state.relay == RelayState::Connected;
        let Some(observation) = self.source.observe(now_ms, supply)? else {
            return Ok(());
        };
        let import_wh = observation.registers.import_mwh as f64 / 1000.0;
        let export_wh = observation.registers.export_mwh as f64 / 1000.0;
        if let Some(last) = self.last_import_wh
            && let Some(reading) = self.demand.add(now_ms as f64 / 1000.0, import_wh - last)
            && self
                .state
                .max_demand_w
                .is_none_or(|max| reading.demand_w > max)
        {
            self.state.max_demand_w = Some(reading.demand_w);
        }
        self.last_import_wh = Some(import_wh);
        // The one place registers change: everything recorded or saved after this (this
        // tick's messages, commands until the next tick) carries them.
        self.state.set_registers(self.source.registers());
        if self.config.relay_present()
            && self.limiter.exceeded(
                self.state.load_limit.as_ref(),
                observation.total.p_w,
                now_ms,
                self.config.relay.load_limit_window_s,
            )
        {
            self.move_relay(Trigger::LoadLimiter, "load limit exceeded", now_ms)?;
        }
        for alarm in self.alerts.check(
            &self.config.alerts,
            observation.total.p_w,
            observation.total.voltage_v,
            now_ms,
        ) {
            let state = if alarm.started {
                EventState::Started
            } else {
                EventState::Ended
            };
            let mut message = event(EventKind::Alarm, state, now_ms, alarm.detail);
            message.extreme = Some(alarm.value);
            if !alarm.started {
                message.started_ms = Some(alarm.since_ms);
                message.duration_s = Some((now_ms - alarm.since_ms) as f64 / 1000.0);
            }
            self.push(&Outgoing::Event(message))?;
        }
        if self.clock_trusted {
            let context = Context {
                tariff: self.state.active_tariff,
                relay: self.state.relay,
                max_demand_w: self.state.max_demand_w,
            };
            for message in self.recorder.observe(&observation, &context) {
                self.push(&message)?;
            }
        }
        let energy_wh = import_wh + export_wh;
        let due = now_ms - self.last_save_ms >= i64::from(self.config.persistence.every_s) * 1000
            || energy_wh - self.saved_energy_wh >= self.config.persistence.every_wh;
        if due {
            self.save(now_ms)?;
        }
        self.last_observation = Some(observation);
        Ok(())
    }

    /// Obeys a command and acknowledges it.
    fn command(&mut self, command: &Command) -> Result<(), AgentError> {
        let now_ms = self.clock.now_ms();
        let (status, detail) = match command.expires_ms {
            Some(expires) if now_ms > expires => (
                AckStatus::Rejected,
                Some("expired before it arrived".to_owned()),
            ),
            _ => self.execute(&command.action, now_ms)?,
        };
        tracing::info!(id = command.id, action = ?command.action, ?status, ?detail, "command");
        let ack = CommandAck {
            v: PAYLOAD_VERSION,
            seq: 0,
            ts_ms: now_ms,
            command_id: command.id,
            status,
            relay: self.config.relay_present().then_some(self.state.relay),
            detail,
        };
        self.save(now_ms)?;
        self.record(TopicKind::CommandAck, &encode(&ack), now_ms)
    }

    fn execute(
        &mut self,
        action: &Action,
        now_ms: i64,
    ) -> Result<(AckStatus, Option<String>), AgentError> {
        let done = |detail: &str| (AckStatus::Done, Some(detail.to_owned()));
        let rejected = |detail: String| (AckStatus::Rejected, Some(detail));
        Ok(match action {
            Action::Disconnect { reason }
            | Action::Reconnect { reason }
            | Action::ArmReconnect { reason } => {
                if !self.config.relay_present() {
                    return Ok(rejected("this meter has no supply switch".into()));
                }
                let trigger = match action {
                    Action::Disconnect { .. } => Trigger::RemoteDisconnect,
                    Action::Reconnect { .. } => Trigger::RemoteReconnect,
                    _ => Trigger::RemoteArm,
                };
                match transition(self.state.relay, trigger) {
                    Err(error) => rejected(error.to_string()),
                    Ok(_) => {
                        self.move_relay(trigger, reason, now_ms)?;
                        done(&format!("relay {}", self.state.relay.as_str()))
                    }
                }
            }
            Action::LoadLimit {
                limit_w,
                duration_s,
            } => {
                self.state.load_limit = limit_w.map(|limit_w| LoadLimit {
                    limit_w,
                    until_ms: duration_s.map(|s| now_ms + i64::from(s) * 1000),
                });
                done(if limit_w.is_some() {
                    "load limit set"
                } else {
                    "load limit removed"
                })
            }
            Action::TariffSchedule {
                timezone,
                switches,
                holidays,
            } => {
                let schedule = Schedule {
                    timezone: timezone.clone(),
                    switches: switches.clone(),
                    holidays: holidays.clone(),
                };
                match TouCalendar::new(&schedule) {
                    Ok(calendar) => {
                        self.calendar = Some(calendar);
                        self.state.schedule = Some(schedule);
                        done("tariff schedule in force")
                    }
                    Err(error) => rejected(error.to_string()),
                }
            }
            Action::PriceSignal { currency, prices } => {
                self.state.currency = Some(currency.clone());
                self.state.prices = prices
                    .iter()
                    .filter(|p| p.end_ms > now_ms)
                    .cloned()
                    .collect();
                done("prices stored")
            }
            Action::TimeSync { unix_ms } => {
                let before = self.clock.now_ms();
                self.state.clock_offset_ms = self.clock.sync_to(*unix_ms);
                let step_s = (*unix_ms - before) as f64 / 1000.0;
                self.send_event(
                    EventKind::Clock,
                    EventState::Instant,
                    format!("time set by the hub, stepped {step_s:+.3} s"),
                )?;
                if !self.clock_trusted {
                    self.clock_trusted = true;
                    self.send_event(EventKind::Clock, EventState::Ended, "clock set")?;
                }
                done("clock set")
            }
            Action::Calibrate {
                phase,
                v_scale,
                i_scale,
                i_delay_us,
            } => {
                let calibration = Calibration::new(*v_scale, *i_scale, *i_delay_us);
                match self
                    .source
                    .calibrate(usize::from(*phase).saturating_sub(1), calibration)
                {
                    Ok(()) => {
                        self.state.calibration.retain(|(p, _)| p != phase);
                        self.state.calibration.push((
                            *phase,
                            PhaseCalibration {
                                v_scale: *v_scale,
                                i_scale: *i_scale,
                                i_delay_us: *i_delay_us,
                            },
                        ));
                        done("calibration applied")
                    }
                    Err(error) => rejected(error),
                }
            }
            Action::ResetMaxDemand => {
                self.state.max_demand_w = None;
                done("maximum demand reset")
            }
        })
    }

    /// The local button: closes the supply switch when it is ready for reconnection.
    fn press_button(&mut self) -> Result<(), AgentError> {
        if self.config.relay_present() {
            self.move_relay(Trigger::LocalButton, "local button", self.clock.now_ms())?;
        }
        Ok(())
    }

    fn move_relay(
        &mut self,
        trigger: Trigger,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), AgentError> {
        if let Ok(Some(next)) = transition(self.state.relay, trigger) {
            let from = self.state.relay;
            self.state.relay = next;
            let detail = format!("{} → {}: {reason}", from.as_str(), next.as_str());
            tracing::info!(%detail, "supply switch");
            self.push(&Outgoing::Event(event(
                EventKind::Relay,
                EventState::Instant,
                now_ms,
                detail,
            )))?;
            self.save(now_ms)?;
        }
        Ok(())
    }

    fn send_event(
        &mut self,
        kind: EventKind,
        state: EventState,
        detail: impl Into<String>,
    ) -> Result<(), AgentError> {
        let message = event(kind, state, self.clock.now_ms(), detail);
        self.push(&Outgoing::Event(message))
    }

    fn push(&mut self, message: &Outgoing) -> Result<(), AgentError> {
        self.record(message.kind(), &message.encode(), self.clock.now_ms())
    }

    /// Puts a message into the outbox with the state it reflects.
    fn record(&mut self, kind: TopicKind, body: &[u8], now_ms: i64) -> Result<(), AgentError> {
        let state = self.state.to_bytes();
        self.outbox_lock().push(kind, body, &state, now_ms)?;
        self.wake.notify_one();
        Ok(())
    }

    fn outbox_lock(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn save(&mut self, now_ms: i64) -> Result<(), AgentError> {
        self.store.save(&self.state.to_bytes(), now_ms)?;
        self.last_save_ms = now_ms;
        self.saved_energy_wh = (self.state.total[0] + self.state.total[1]) as f64 / 1000.0;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), AgentError> {
        self.send_event(EventKind::PowerDown, EventState::Instant, "clean shutdown")?;
        // Read after the event: the clean save is never older than the state recorded with
        // it, so the next start resumes from the save and reports a clean shutdown.
        let now_ms = self.clock.now_ms();
        self.state.clean_shutdown = true;
        self.save(now_ms)?;
        tracing::info!(
            writes = self.store.writes(),
            "meter stopped; registers saved"
        );
        Ok(())
    }

    /// What the Modbus server serves: the latest tick's values and the registers.
    fn modbus_snapshot(&self) -> joule_modbus::Snapshot {
        use joule_modbus::{ApparentEnergy, Phases, ReactiveEnergy};
        let Some(observation) = &self.last_observation else {
            return joule_modbus::Snapshot::default();
        };
        let values = |p: &joule_protocol::PhaseReading| joule_modbus::PhaseValues {
            voltage_v: p.voltage_v,
            current_a: p.current_a,
            p_w: p.p_w,
            s_va: p.s_va,
            q_var: p.q_var,
            pf: p.pf,
        };
        let mut phase = [joule_modbus::PhaseValues::default(); joule_modbus::MAX_PHASES];
        let phases = if observation.phases.is_empty() {
            phase[0] = values(&observation.total);
            Phases::One
        } else {
            for (into, from) in phase.iter_mut().zip(&observation.phases) {
                *into = values(from);
            }
            Phases::Three
        };
        let registers = &observation.registers;
        joule_modbus::Snapshot {
            phases,
            phase,
            p_w: observation.total.p_w,
            s_va: observation.total.s_va,
            q_var: observation.total.q_var,
            pf: observation.total.pf,
            frequency_hz: observation.freq_hz,
            import_mwh: registers.import_mwh,
            export_mwh: registers.export_mwh,
            reactive: ReactiveEnergy::Quadrants(registers.reactive_mvarh),
            apparent: Some(ApparentEnergy {
                import_mvah: registers.apparent_import_mvah,
                export_mvah: registers.apparent_export_mvah,
            }),
            total_demand_w: self.demand.last().map_or(0.0, |d| d.demand_w),
            max_demand_w: self.state.max_demand_w.unwrap_or(0.0),
        }
    }

    fn snapshot(&self, link: LinkState) -> Result<Snapshot, AgentError> {
        let now_ms = self.clock.now_ms();
        let price = self
            .state
            .prices
            .iter()
            .find(|p| p.start_ms <= now_ms && now_ms < p.end_ms)
            .map(|p| {
                (
                    p.price_per_kwh,
                    self.state.currency.clone().unwrap_or_default(),
                )
            });
        Ok(Snapshot {
            meter_id: self.config.meter.id.clone(),
            observation: self.last_observation.clone(),
            relay: self.config.relay_present().then_some(self.state.relay),
            tariff: self.state.active_tariff,
            price,
            link,
            outbox_messages: self.outbox_lock().depth()?.messages,
            alarms: self.alerts.active().to_vec(),
            register_writes: self.store.writes(),
        })
    }
}

/// Builds the source the configuration names, with the saved registers and any
/// calibration a command set.
fn build_source(config: &MeterConfig, state: &MeterState) -> Result<Source, AgentError> {
    let (frames, mut metrology) = match &config.source {
        SourceConfig::Simulated {
            seed,
            sample_rate_hz,
            solar_peak_w,
            ev_charger_w,
            heat_pump_w,
            three_phase,
            incidents,
        } => {
            let spec = HouseholdSpec {
                seed: *seed,
                solar_peak_w: *solar_peak_w,
                ev_charger_w: *ev_charger_w,
                heat_pump_w: *heat_pump_w,
                three_phase: *three_phase,
            };
            let offset_s = utc_offset_s(&config.meter.timezone);
            let mains = SimulatedMains::new(spec, offset_s).with_incidents(incidents.clone());
            let metrology = if *three_phase {
                MetrologyConfig::three_phase(*sample_rate_hz, mains.calibration())
            } else {
                MetrologyConfig::single_phase(*sample_rate_hz, mains.calibration())
            };
            (Frames::Simulated(Box::new(mains)), metrology)
        }
        SourceConfig::Wav {
            path,
            v_scale,
            i_scale,
            i_delay_us,
            nominal_freq_hz,
        } => {
            let capture = CaptureReplay::open(path)?;
            let calibration = Calibration::new(*v_scale, *i_scale, *i_delay_us);
            let rate = capture.sample_rate_hz();
            let phases = capture.phases();
            let mut metrology = if phases == 3 {
                MetrologyConfig::three_phase(rate, calibration)
            } else {
                MetrologyConfig::single_phase(rate, calibration)
            };
            metrology.nominal_frequency_hz = *nominal_freq_hz;
            (Frames::Capture(Box::new(capture)), metrology)
        }
        SourceConfig::Modbus {
            link,
            model,
            unit_id,
            poll_interval_ms,
            timeout_ms,
        } => {
            let poller = modbus::poller(link, *model, *unit_id, *timeout_ms)
                .map_err(|error| AgentError::Config(format!("source.link: {error}")))?;
            let every = Duration::from_millis((*poll_interval_ms).into());
            let device =
                DeviceSource::start(format!("Modbus {link}"), state.bank(), |status, _| {
                    tokio::spawn(modbus::run(poller, every, status))
                });
            return Ok(Source::Device(Box::new(device)));
        }
        SourceConfig::Dsmr { port } => {
            let port = port.clone();
            let device =
                DeviceSource::start(format!("P1 {port}"), state.bank(), |status, events| {
                    tokio::spawn(dsmr::run(port, status, events))
                });
            return Ok(Source::Device(Box::new(device)));
        }
    };
    for (phase, c) in &state.calibration {
        if let Some(slot) = metrology
            .calibration
            .get_mut(usize::from(*phase).saturating_sub(1))
        {
            *slot = Calibration::new(c.v_scale, c.i_scale, c.i_delay_us);
        }
    }
    let source = WaveformSource::new(frames, metrology, state.bank())?;
    Ok(Source::Waveform(Box::new(source)))
}

/// The time zone's current UTC offset, s (habits follow local time; the offset is taken at
/// start-up, which is close enough for a simulated household).
fn utc_offset_s(timezone: &str) -> f64 {
    jiff::tz::TimeZone::get(timezone)
        .map(|zone| f64::from(zone.to_offset(jiff::Timestamp::now()).seconds()))
        .unwrap_or(0.0)
}
