//! The one path a command takes to a meter, whoever asks (an operator through the API, or
//! an automation rule): stored as pending, audited with its actor, then handed to the
//! dispatcher that publishes it (a pending command left by a stopped hub goes at the next
//! start). Its lifecycle then follows the meter's acknowledgements.

use crate::context::Shared;
use crate::telemetry::CommandIssued;
use joule_protocol::{Action, MeterId};
use joule_store::{AuditEntry, CommandRecord, StoreError};

/// Why a command could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Storing or auditing it failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The dispatcher has stopped (the hub is shutting down).
    #[error("the command dispatcher has stopped")]
    Stopped,
}

/// The action's wire name, for the audit log.
pub fn action_name(action: &Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|value| {
            value
                .get("type")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Issues `action` to `meter` on behalf of `actor`, expiring after `expires_s`; the audit
/// entry's detail starts with `context` when given (e.g. which automation rule).
pub async fn issue(
    shared: &Shared,
    meter: &MeterId,
    action: &Action,
    actor: &str,
    context: Option<&str>,
    expires_s: u32,
) -> Result<CommandRecord, ControlError> {
    let now = shared.now_ms();
    let name = action_name(action);
    let store = &shared.store;
    let command = store
        .add_command(meter, action, actor, now, now + i64::from(expires_s) * 1000)
        .await?;
    let what = match action {
        Action::Disconnect { reason }
        | Action::Reconnect { reason }
        | Action::ArmReconnect { reason } => reason.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    };
    let detail = match context {
        Some(context) => format!("{context}; command {}: {what}", command.id),
        None => format!("command {}: {what}", command.id),
    };
    store
        .audit(AuditEntry {
            ts_ms: now,
            actor: actor.to_owned(),
            action: format!("command.{name}"),
            target: meter.to_string(),
            detail,
        })
        .await?;
    CommandIssued {
        id: command.id,
        meter: meter.as_str(),
        action: &name,
        actor,
    }
    .emit();
    // Stored as pending first: if the hub stops now, the next start sends it.
    shared
        .commands
        .send(command.clone())
        .await
        .map_err(|_| ControlError::Stopped)?;
    Ok(command)
}
