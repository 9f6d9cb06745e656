//! Carries out an automation rule that fired: each action in order, or in a dry run none,
//! recording what was (or would be) done as an automation run, and auditing every action
//! taken with the actor `automation`.

use super::{AutomationAction, AutomationRule};
use crate::alerts::deliver::{call_webhook, publish};
use crate::context::Shared;
use crate::control;
use crate::telemetry::AutomationRan;
use joule_protocol::MeterId;
use joule_store::{ActionOutcome, AuditEntry, AutomationRun, StoreError};

/// The audit log's actor for what automation does.
pub const ACTOR: &str = "automation";

/// Runs `rule`'s actions because of `reason` (only records them when `dry_run`), and
/// stores the run.
pub async fn run(
    shared: &Shared,
    rule: &AutomationRule,
    reason: &str,
    dry_run: bool,
) -> Result<AutomationRun, StoreError> {
    let mut outcomes = Vec::with_capacity(rule.spec.actions.len());
    for action in &rule.spec.actions {
        let outcome = if dry_run {
            ActionOutcome {
                action: action.describe(),
                ok: true,
                detail: "dry run: not done".into(),
            }
        } else {
            let result = act(shared, rule, action, reason).await;
            let (kind, target) = audit_target(action);
            let outcome = ActionOutcome {
                action: action.describe(),
                ok: result.is_ok(),
                detail: result.unwrap_or_else(|error| error),
            };
            shared
                .store
                .audit(AuditEntry {
                    ts_ms: shared.now_ms(),
                    actor: ACTOR.into(),
                    action: format!("automation.{kind}"),
                    target,
                    detail: format!(
                        "rule {} ({}, owner {}): {reason}; {}: {}",
                        rule.id,
                        rule.spec.name,
                        rule.owner,
                        if outcome.ok { "done" } else { "failed" },
                        outcome.detail
                    ),
                })
                .await?;
            outcome
        };
        outcomes.push(outcome);
    }
    AutomationRan {
        rule_id: rule.id,
        dry_run,
        ok: outcomes.iter().filter(|outcome| outcome.ok).count(),
        actions: outcomes.len(),
    }
    .emit();
    shared
        .store
        .add_automation_run(&AutomationRun {
            id: 0,
            rule_id: rule.id,
            ts_ms: shared.now_ms(),
            dry_run,
            reason: reason.to_owned(),
            outcomes,
        })
        .await
}

/// The audit action suffix and target of an action.
fn audit_target(action: &AutomationAction) -> (&'static str, String) {
    match action {
        AutomationAction::MqttPublish { topic, .. } => ("mqtt_publish", topic.clone()),
        AutomationAction::MeterCommand { meter, .. } => ("meter_command", meter.clone()),
        AutomationAction::Webhook { url, .. } => ("webhook", url.clone()),
    }
}

/// Does one action: what happened, or why it failed.
async fn act(
    shared: &Shared,
    rule: &AutomationRule,
    action: &AutomationAction,
    reason: &str,
) -> Result<String, String> {
    match action {
        AutomationAction::MqttPublish {
            topic,
            payload,
            retain,
        } => publish(shared, topic.clone(), payload.clone().into_bytes(), *retain)
            .await
            .map(|()| format!("published on {topic}")),
        AutomationAction::MeterCommand { meter, action } => {
            let meter = MeterId::new(meter).map_err(|error| error.to_string())?;
            let context = format!("automation rule {}", rule.id);
            let command = control::issue(
                shared,
                &meter,
                action,
                ACTOR,
                Some(&context),
                shared.config.commands.expiry_s,
            )
            .await
            .map_err(|error| error.to_string())?;
            Ok(format!("command {} queued", command.id))
        }
        AutomationAction::Webhook { url, body } => {
            let body = body.clone().unwrap_or_else(|| {
                serde_json::json!({ "rule_id": rule.id, "rule": rule.spec.name, "reason": reason })
            });
            call_webhook(shared, url, &body).await
        }
    }
}
