//! The supply switch, with DLMS disconnect-control semantics (IEC 62056-6-2, class 70):
//! `connected`, `disconnected`, and `ready_for_reconnection`, where a local button press
//! (the consumer, on site) closes the switch. Remote reconnect closes it directly; a remote
//! "arm" only makes it ready, so nobody's supply comes back while they are not there.
//! The load limiter trips the switch to `ready_for_reconnection` when import stays above
//! the limit for the window: the consumer lowers the load and presses the button.

use crate::state::LoadLimit;
use joule_protocol::RelayState;

/// What asks the switch to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Remote disconnect command.
    RemoteDisconnect,
    /// Remote reconnect command.
    RemoteReconnect,
    /// Remote arm-for-reconnection command.
    RemoteArm,
    /// The consumer pressed the button on the meter.
    LocalButton,
    /// The load limiter tripped.
    LoadLimiter,
}

/// Why a trigger was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// Arming makes sense only for a disconnected switch.
    #[error("the supply is connected; there is nothing to arm")]
    AlreadyConnected,
}

/// The next state for a trigger, or a refusal; `None` when the trigger changes nothing.
pub fn transition(state: RelayState, trigger: Trigger) -> Result<Option<RelayState>, RelayError> {
    use RelayState::{Connected, Disconnected, ReadyForReconnection};
    let next = match (state, trigger) {
        (Connected | ReadyForReconnection, Trigger::RemoteDisconnect) => Disconnected,
        (Disconnected | ReadyForReconnection, Trigger::RemoteReconnect) => Connected,
        (Disconnected, Trigger::RemoteArm) => ReadyForReconnection,
        (Connected, Trigger::RemoteArm) => return Err(RelayError::AlreadyConnected),
        (ReadyForReconnection, Trigger::LocalButton) => Connected,
        (Connected, Trigger::LoadLimiter) => ReadyForReconnection,
        _ => return Ok(None),
    };
    Ok(Some(next))
}

/// Watches import power against a load limit.
#[derive(Debug, Clone, Default)]
pub struct LoadLimiter {
    over_since_ms: Option<i64>,
}

impl LoadLimiter {
    /// Takes the power at `now_ms`; true when it has been above the limit for `window_s`
    /// (the switch should trip now).
    pub fn exceeded(
        &mut self,
        limit: Option<&LoadLimit>,
        power_w: f64,
        now_ms: i64,
        window_s: u32,
    ) -> bool {
        let active = limit.filter(|l| l.until_ms.is_none_or(|until| now_ms < until));
        match active {
            Some(limit) if power_w > limit.limit_w => {
                let since = *self.over_since_ms.get_or_insert(now_ms);
                if now_ms - since >= i64::from(window_s) * 1000 {
                    self.over_since_ms = None;
                    return true;
                }
                false
            }
            _ => {
                self.over_since_ms = None;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RelayState::{Connected, Disconnected, ReadyForReconnection};

    #[test]
    fn dlms_states() {
        assert_eq!(
            transition(Connected, Trigger::RemoteDisconnect),
            Ok(Some(Disconnected))
        );
        assert_eq!(
            transition(Disconnected, Trigger::RemoteArm),
            Ok(Some(ReadyForReconnection))
        );
        assert_eq!(transition(Disconnected, Trigger::LocalButton), Ok(None));
        assert_eq!(
            transition(ReadyForReconnection, Trigger::LocalButton),
            Ok(Some(Connected))
        );
        assert_eq!(
            transition(Disconnected, Trigger::RemoteReconnect),
            Ok(Some(Connected))
        );
        assert_eq!(
            transition(Connected, Trigger::RemoteArm),
            Err(RelayError::AlreadyConnected)
        );
        assert_eq!(
            transition(Connected, Trigger::LoadLimiter),
            Ok(Some(ReadyForReconnection))
        );
        assert_eq!(
            transition(Disconnected, Trigger::RemoteDisconnect),
            Ok(None)
        );
    }

    #[test]
    fn limiter_trips_after_the_window_and_lapses() {
        let limit = LoadLimit {
            limit_w: 3000.0,
            until_ms: Some(100_000),
        };
        let mut limiter = LoadLimiter::default();
        assert!(!limiter.exceeded(Some(&limit), 3500.0, 0, 10));
        assert!(!limiter.exceeded(Some(&limit), 3500.0, 9_000, 10));
        assert!(limiter.exceeded(Some(&limit), 3500.0, 10_000, 10));
        // A dip below the limit restarts the window.
        assert!(!limiter.exceeded(Some(&limit), 3500.0, 20_000, 10));
        assert!(!limiter.exceeded(Some(&limit), 2000.0, 25_000, 10));
        assert!(!limiter.exceeded(Some(&limit), 3500.0, 29_000, 10));
        // Past `until_ms` the limit no longer applies.
        assert!(!limiter.exceeded(Some(&limit), 9000.0, 100_000, 0));
    }
}
