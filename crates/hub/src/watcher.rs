//! The task that runs alert and automation rules inside the hub.
//!
//! It owns both pure engines (`alerts::engine`, `automation::triggers`) and feeds them
//! what ingest stored (after each committed batch) and the ticks of the clock. What the
//! engines decide becomes stored alerts (opened once, resolved when the condition clears)
//! delivered to their channels, and automation runs. Rules, settings, DR events and the
//! registry are reloaded when the API changes them and every minute, so a rule's meters
//! follow changes of ownership.

use crate::alerts::deliver::Deliverer;
use crate::alerts::engine::{Change, ChangeKind, Engine, Observation, ScopedRule};
use crate::alerts::{AlertRule, AlertState, NewAlert, NotificationSettings};
use crate::automation::runner;
use crate::automation::triggers::{Firing, Triggers};
use crate::automation::{AutomationRule, DrEvent};
use crate::context::{Shared, WatchInput};
use crate::market::MarketInputs;
use crate::rulebook;
use crate::telemetry::names;
use joule_protocol::{EventMessage, MeterId, Status};
use joule_store::{
    AlertFilter, AlertKey, Batch, BatchOutcome, MeterFilter, Role, StoreError, Stored,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Hands what a batch stored to the watcher, never waiting.
pub fn feed(shared: &Shared, batch: &Batch, outcome: &BatchOutcome) {
    let events: Vec<(MeterId, EventMessage)> = batch
        .messages
        .iter()
        .filter_map(|(meter, message)| match message {
            Stored::Event(event) => Some((meter.clone(), event.clone())),
            _ => None,
        })
        .collect();
    let presence: Vec<(MeterId, bool, i64)> = batch
        .statuses
        .iter()
        .map(|(meter, status, ts_ms)| (meter.clone(), *status == Status::Online, *ts_ms))
        .collect();
    if outcome.new_live.is_empty() && events.is_empty() && presence.is_empty() {
        return;
    }
    let input = WatchInput::Stored {
        readings: outcome.new_live.clone(),
        events,
        presence,
    };
    if shared.watch.try_send(input).is_err() {
        metrics::counter!(names::WATCH_DROPPED_TOTAL).increment(1);
    }
}

/// Runs the watcher until `inputs` closes.
pub async fn run(
    shared: Shared,
    mut inputs: mpsc::Receiver<WatchInput>,
    market: Arc<dyn MarketInputs>,
) {
    let mut watcher = Watcher {
        deliverer: Deliverer::new(shared.clone()),
        shared,
        market,
        engine: Engine::default(),
        triggers: Triggers::default(),
        alert_rules: HashMap::new(),
        automations: HashMap::new(),
        settings: HashMap::new(),
        dr_events: Vec::new(),
        feeders: HashMap::new(),
        reloaded_ms: 0,
    };
    watcher.reload_logged().await;
    watcher.seed().await;
    let mut tick =
        tokio::time::interval(Duration::from_millis(watcher.shared.config.alerts.tick_ms));
    loop {
        tokio::select! {
            input = inputs.recv() => match input {
                None => return,
                Some(input) => watcher.handle(input).await,
            },
            _ = tick.tick() => {
                if watcher.shared.now_ms() - watcher.reloaded_ms >= 60_000 {
                    watcher.reload_logged().await;
                }
                watcher.tick().await;
            }
        }
    }
}

/// The watcher's state.
#[derive(Debug)]
struct Watcher {
    shared: Shared,
    market: Arc<dyn MarketInputs>,
    deliverer: Deliverer,
    engine: Engine,
    triggers: Triggers,
    alert_rules: HashMap<u64, AlertRule>,
    automations: HashMap<u64, AutomationRule>,
    settings: HashMap<String, NotificationSettings>,
    dr_events: Vec<DrEvent>,
    /// Each meter's feeder (DR scopes).
    feeders: HashMap<String, String>,
    /// When everything was last loaded, Unix ms.
    reloaded_ms: i64,
}

impl Watcher {
    async fn reload_logged(&mut self) {
        self.reloaded_ms = self.shared.now_ms();
        if let Err(error) = self.reload().await {
            tracing::error!(%error, "loading alert and automation rules failed");
        }
    }

    /// Reads rules, settings, DR events, users and meters, and resolves each alert rule's
    /// meters from its owner's rights: a consumer's own meters, an operator's fleet.
    async fn reload(&mut self) -> Result<(), StoreError> {
        let store = self.shared.store.as_ref();
        let meters = store.meters(&MeterFilter::default()).await?;
        let roles: HashMap<String, Role> = store
            .users()
            .await?
            .into_iter()
            .map(|user| (user.username, user.role))
            .collect();
        let rules = rulebook::alert_rules(store, None).await?;
        let scoped = rules
            .iter()
            .map(|rule| {
                let fleet = roles
                    .get(&rule.owner)
                    .is_some_and(|role| *role >= Role::Operator);
                let meters: BTreeSet<MeterId> = meters
                    .iter()
                    .filter(|m| fleet || m.details.owner.as_deref() == Some(rule.owner.as_str()))
                    .filter(|m| {
                        rule.spec.meters.is_empty()
                            || rule.spec.meters.iter().any(|id| id == m.id.as_str())
                    })
                    .map(|m| m.id.clone())
                    .collect();
                ScopedRule {
                    rule: rule.clone(),
                    meters,
                }
            })
            .collect();
        self.engine.set_rules(scoped);
        self.alert_rules = rules.into_iter().map(|rule| (rule.id, rule)).collect();
        let automations = rulebook::automations(store, None).await?;
        self.triggers.set_rules(automations.clone());
        self.automations = automations
            .into_iter()
            .map(|rule| (rule.id, rule))
            .collect();
        self.settings = rulebook::all_settings(store).await?.into_iter().collect();
        self.dr_events = rulebook::dr_events(store).await?;
        self.feeders = meters
            .into_iter()
            .filter_map(|m| Some((m.id.to_string(), m.details.feeder?)))
            .collect();
        Ok(())
    }

    /// After a start: when each meter was last heard from, so silence that began before
    /// the start still counts; and the alerts left unresolved, so they are not raised
    /// again and resolve when their condition is seen clear.
    async fn seed(&mut self) {
        let store = &self.shared.store;
        match store.latest_registers().await {
            Ok(latest) => {
                for (meter, ts_ms, _) in latest {
                    self.engine.heard(&meter, ts_ms);
                }
            }
            Err(error) => tracing::error!(%error, "reading when meters were last heard failed"),
        }
        for state in [AlertState::Open, AlertState::Acknowledged] {
            let filter = AlertFilter {
                state: Some(state),
                limit: usize::MAX,
                ..AlertFilter::default()
            };
            match store.alerts(&filter).await {
                Ok(alerts) => {
                    for alert in alerts {
                        let raised = &alert.raised;
                        if let Ok(meter) = MeterId::new(&raised.meter) {
                            self.engine
                                .restore(raised.rule_id, &meter, &raised.condition);
                        }
                    }
                }
                Err(error) => tracing::error!(%error, "reading unresolved alerts failed"),
            }
        }
    }

    async fn handle(&mut self, input: WatchInput) {
        match input {
            WatchInput::Stored {
                readings,
                events,
                presence,
            } => {
                let mut changes = Vec::new();
                let mut firings = Vec::new();
                for (meter, reading) in &readings {
                    changes.extend(self.engine.observe(meter, Observation::Reading(reading)));
                    firings.extend(self.triggers.observe(meter, reading));
                }
                for (meter, event) in &events {
                    changes.extend(self.engine.observe(meter, Observation::Event(event)));
                }
                for (meter, online, ts_ms) in presence {
                    changes.extend(
                        self.engine
                            .observe(&meter, Observation::Presence(online, ts_ms)),
                    );
                }
                self.apply(changes).await;
                self.run(firings);
            }
            WatchInput::Resolved {
                rule_id,
                meter,
                condition,
            } => {
                if let Ok(meter) = MeterId::new(&meter) {
                    self.engine.forget(rule_id, &meter, &condition);
                }
            }
            WatchInput::RulesChanged => self.reload_logged().await,
        }
    }

    async fn tick(&mut self) {
        let now = self.shared.now_ms();
        let changes = self.engine.tick(now, self.market.as_ref());
        self.apply(changes).await;
        let feeders = &self.feeders;
        let feeder_of = |meter: &str| feeders.get(meter).cloned();
        let firings = self
            .triggers
            .tick(now, &self.dr_events, &feeder_of, self.market.as_ref());
        self.run(firings);
    }

    /// Stores what the engine decided and starts delivering new alerts.
    async fn apply(&mut self, changes: Vec<Change>) {
        for change in changes {
            let Some(rule) = self.alert_rules.get(&change.rule_id) else {
                continue;
            };
            let store = &self.shared.store;
            match change.kind {
                ChangeKind::Raise { message, value } => {
                    let alert = NewAlert {
                        rule_id: rule.id,
                        owner: rule.owner.clone(),
                        meter: change.meter.to_string(),
                        condition: change.condition,
                        message,
                        value,
                        opened_ms: change.ts_ms,
                    };
                    match store.open_alert(&alert).await {
                        Ok(Some(opened)) => {
                            metrics::counter!(names::ALERTS_OPENED_TOTAL).increment(1);
                            tracing::info!(
                                alert = opened.id,
                                rule = rule.id,
                                meter = opened.raised.meter,
                                condition = opened.raised.condition,
                                "alert opened"
                            );
                            let settings =
                                self.settings.get(&rule.owner).cloned().unwrap_or_default();
                            self.deliverer
                                .deliver(&opened, &rule.spec.channels, &settings);
                        }
                        Ok(None) => {}
                        Err(error) => tracing::error!(%error, "opening an alert failed"),
                    }
                }
                ChangeKind::Clear => {
                    let key = AlertKey {
                        rule_id: rule.id,
                        meter: Some(change.meter.to_string()),
                        condition: Some(change.condition),
                    };
                    if let Err(error) = store
                        .resolve_alerts(&key, "condition cleared", change.ts_ms)
                        .await
                    {
                        tracing::error!(%error, "resolving an alert failed");
                    }
                }
            }
        }
    }

    /// Carries out fired automation rules, each on a task of its own.
    fn run(&self, firings: Vec<Firing>) {
        for firing in firings {
            let Some(rule) = self.automations.get(&firing.rule_id).cloned() else {
                continue;
            };
            let shared = self.shared.clone();
            tokio::spawn(async move {
                let dry_run = rule.spec.dry_run;
                if let Err(error) = runner::run(&shared, &rule, &firing.reason, dry_run).await {
                    tracing::error!(%error, rule = rule.id, "recording an automation run failed");
                }
            });
        }
    }
}
