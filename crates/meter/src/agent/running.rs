//! The running agent: its state and what it does on a tick, a command, a press of the
//! local button and a stop. Everything here happens on the agent's one task, in order, so
//! the registers a message carries are the registers of the moment it was recorded.
//!
//! Registers are saved every `persistence.every_s` or after `persistence.every_wh` of
//! energy, whichever comes first, and at once after any command that changed state. A
//! start after a stop that did not save a clean shutdown raises `power_up` with the outage
//! since the last saved state; a clean stop raises `power_down` and saves.

use super::error::AgentError;
use crate::alerts::Alerts;
use crate::clock::{Clock, ClockTrust, SharedClock, SyncedClock};
use crate::commands::{self, Decision, Effect, Outcome, Situation};
use crate::config::MeterConfig;
use crate::demand::Demand;
use crate::display::Snapshot;
use crate::modbus_view::modbus_snapshot;
use crate::outbox::Outbox;
use crate::persistence::Persistence;
use crate::recorder::{Context, Outgoing, Recorder, event};
use crate::register_store::RegisterStore;
use crate::relay::{LoadLimiter, Trigger};
use crate::source::{Observation, Source, build_source};
use crate::state::{MeterState, Schedule};
use crate::telemetry::events::CommandHandled;
use crate::tou::TouCalendar;
use crate::uplink::LinkState;
use joule_metrology::Calibration;
use joule_protocol::{
    AckStatus, Command, EventKind, EventMessage, EventState, RelayState, TopicKind, encode,
};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// The running agent's state.
#[derive(Debug)]
pub(super) struct Agent {
    config: MeterConfig,
    clock: SyncedClock,
    trust: ClockTrust,
    persistence: Persistence,
    state: MeterState,
    source: Source,
    recorder: Recorder,
    outbox: Arc<Mutex<Outbox>>,
    /// Tells the uplink that messages are waiting.
    wake: Arc<Notify>,
    calendar: Option<TouCalendar>,
    demand: Demand,
    limiter: LoadLimiter,
    alerts: Alerts,
    last_observation: Option<Observation>,
}

impl Agent {
    /// Opens the registers and the outbox, builds the source, and records `power_up`
    /// (and the clock alarm when the clock is not to be trusted).
    pub(super) fn start(config: MeterConfig, base_clock: SharedClock) -> Result<Self, AgentError> {
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
        let clock = SyncedClock::new(base_clock, state.clock_offset_ms);
        let now_ms = clock.now_ms();
        let source = build_source(&config, &state, clock.base(), now_ms)?;
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
            demand: Demand::new(config.meter.interval_s),
            trust: ClockTrust::new(now_ms, last_seen_ms),
            persistence: Persistence::new(store, config.persistence, now_ms),
            clock,
            state,
            source,
            outbox: Arc::new(Mutex::new(outbox)),
            wake: Arc::new(Notify::new()),
            calendar,
            limiter: LoadLimiter::default(),
            alerts: Alerts::default(),
            last_observation: None,
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
        if !agent.trust.is_trusted() {
            agent.send_event(EventKind::Clock, EventState::Started, "clock is before the last saved state or implausible; readings held until it is set")?;
        }
        agent.state.clean_shutdown = false;
        agent.save(now_ms)?;
        tracing::info!(meter = %agent.config.meter.id, import_mwh = agent.state.total[0], export_mwh = agent.state.total[1],
            relay = ?agent.state.relay, "meter started");
        Ok(agent)
    }

    /// The configuration it runs with.
    pub(super) fn config(&self) -> &MeterConfig {
        &self.config
    }

    /// The outbox it shares with the uplink, and the signal that messages wait in it.
    pub(super) fn outbox(&self) -> (Arc<Mutex<Outbox>>, Arc<Notify>) {
        (self.outbox.clone(), self.wake.clone())
    }

    /// One measurement tick.
    pub(super) fn tick(&mut self) -> Result<(), AgentError> {
        let now_ms = self.clock.now_ms();
        if self.trust.regained(now_ms) {
            self.send_event(
                EventKind::Clock,
                EventState::Ended,
                "clock is plausible again",
            )?;
        }
        if self.trust.is_trusted()
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
        if let Some(demand_w) = self.demand.add(now_ms, import_wh)
            && self.state.max_demand_w.is_none_or(|max| demand_w > max)
        {
            self.state.max_demand_w = Some(demand_w);
        }
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
        if self.trust.is_trusted() {
            let context = Context {
                tariff: self.state.active_tariff,
                relay: self.state.relay,
                max_demand_w: self.state.max_demand_w,
            };
            for message in self.recorder.observe(&observation, &context) {
                self.push(&message)?;
            }
        }
        if self.persistence.due(now_ms, import_wh + export_wh) {
            self.save(now_ms)?;
        }
        self.last_observation = Some(observation);
        Ok(())
    }

    /// Decides a command, carries out its effects, saves and acknowledges it.
    pub(super) fn command(&mut self, command: &Command) -> Result<(), AgentError> {
        let now_ms = self.clock.now_ms();
        let situation = Situation {
            state: &self.state,
            clock_trusted: self.trust.is_trusted(),
            chain: self.source.chain(),
        };
        let Decision {
            mut ack,
            mut outcome,
            effects,
        } = commands::decide(command, &situation, &self.config, now_ms);
        for effect in effects {
            if let Err(reason) = self.apply(effect, now_ms)? {
                // The metrology chain has the last word on its own calibration.
                ack.status = AckStatus::Rejected;
                ack.detail = Some(reason);
                outcome = Outcome::Rejected;
                break;
            }
        }
        CommandHandled {
            command,
            ack: &ack,
            outcome,
        }
        .emit();
        self.save(now_ms)?;
        self.record(TopicKind::CommandAck, &encode(&ack), now_ms)
    }

    /// Carries out one effect. The outer error is a failure of the disk (the agent stops);
    /// the inner one a refusal by the source (the command is rejected).
    fn apply(&mut self, effect: Effect, now_ms: i64) -> Result<Result<(), String>, AgentError> {
        match effect {
            Effect::Relay { to, event } => self.set_relay(to, event, now_ms)?,
            Effect::LoadLimit(limit) => self.state.load_limit = limit,
            Effect::Schedule { schedule, calendar } => {
                self.calendar = Some(calendar);
                self.state.schedule = Some(schedule);
            }
            Effect::Prices { currency, prices } => {
                self.state.currency = Some(currency);
                self.state.prices = prices;
            }
            Effect::SyncClock { unix_ms } => {
                self.state.clock_offset_ms = self.clock.sync_to(unix_ms);
            }
            Effect::TrustClock => self.trust.set(),
            Effect::Event(message) => self.push(&Outgoing::Event(message))?,
            Effect::Calibrate { phase, calibration } => {
                let metrology = Calibration::new(
                    calibration.v_scale,
                    calibration.i_scale,
                    calibration.i_delay_us,
                );
                let phase_index = usize::from(phase).saturating_sub(1);
                if let Err(reason) = self.source.calibrate(phase_index, metrology) {
                    return Ok(Err(reason));
                }
                self.state.calibration.retain(|(p, _)| *p != phase);
                self.state.calibration.push((phase, calibration));
            }
            Effect::ResetMaxDemand => self.state.max_demand_w = None,
        }
        Ok(Ok(()))
    }

    /// The local button: closes the supply switch when it is ready for reconnection.
    pub(super) fn press_button(&mut self) -> Result<(), AgentError> {
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
        if let Ok(Some(Effect::Relay { to, event })) =
            commands::switch(self.state.relay, trigger, reason, now_ms)
        {
            self.set_relay(to, event, now_ms)?;
        }
        Ok(())
    }

    /// Moves the supply switch, records the move and saves.
    fn set_relay(
        &mut self,
        to: RelayState,
        message: EventMessage,
        now_ms: i64,
    ) -> Result<(), AgentError> {
        self.state.relay = to;
        tracing::info!(detail = message.detail.as_deref(), "supply switch");
        self.push(&Outgoing::Event(message))?;
        self.save(now_ms)
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

    fn outbox_lock(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn save(&mut self, now_ms: i64) -> Result<(), AgentError> {
        Ok(self.persistence.save(&self.state, now_ms)?)
    }

    /// Says `power_down` and saves a clean shutdown.
    pub(super) fn stop(&mut self) -> Result<(), AgentError> {
        self.send_event(EventKind::PowerDown, EventState::Instant, "clean shutdown")?;
        // Read after the event: the clean save is never older than the state recorded with
        // it, so the next start resumes from the save and reports a clean shutdown.
        let now_ms = self.clock.now_ms();
        self.state.clean_shutdown = true;
        self.save(now_ms)?;
        tracing::info!(
            writes = self.persistence.writes(),
            "meter stopped; registers saved"
        );
        Ok(())
    }

    /// What the Modbus server serves: the latest tick's values and the registers.
    pub(super) fn modbus_snapshot(&self) -> joule_modbus::Snapshot {
        modbus_snapshot(
            self.last_observation.as_ref(),
            self.demand.last_w(),
            self.state.max_demand_w,
        )
    }

    /// What the display shows, with the uplink's `link`.
    pub(super) fn snapshot(&self, link: LinkState) -> Result<Snapshot, AgentError> {
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
            register_writes: self.persistence.writes(),
        })
    }
}
