//! The one clock Joule's hub and meter read.
//!
//! Domain code takes the time as an argument; the services that call it read the time from
//! an injected [`Clock`]: [`SystemClock`] in production, [`ManualClock`] in tests, which
//! moves only when the test moves it (the way influxdb3's `iox_time` pairs
//! `SystemProvider` with `MockProvider`). With a manual clock a test about an expiry, a
//! timeout or a minute boundary says exactly which instant it means instead of sleeping
//! until the wall clock gets there.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, in Unix milliseconds.
pub trait Clock: Send + Sync + Debug {
    /// Now, Unix ms.
    fn now_ms(&self) -> i64;
}

/// A clock to share between the parts of a service.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock, as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(Self)
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
            })
    }
}

/// A clock that stands still until it is told to move: for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: i64) -> Arc<Self> {
        Arc::new(Self {
            now_ms: AtomicI64::new(now_ms),
        })
    }

    /// Sets the time to `now_ms` (it may go backwards: a clock being corrected).
    pub fn set_ms(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the time on by `step_ms`; returns the new time.
    pub fn advance_ms(&self, step_ms: i64) -> i64 {
        self.now_ms.fetch_add(step_ms, Ordering::SeqCst) + step_ms
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        assert_eq!(clock.advance_ms(250), 1_250);
        assert_eq!(clock.now_ms(), 1_250);
        clock.set_ms(900);
        assert_eq!(clock.now_ms(), 900);
    }

    #[test]
    fn system_clock_reads_after_2025() {
        // 2025-01-01 UTC: any machine running these tests is past it.
        assert!(SystemClock.now_ms() > 1_735_689_600_000);
    }

    #[test]
    fn a_shared_clock_is_any_clock() {
        let manual = ManualClock::new(5);
        let shared: SharedClock = manual.clone();
        manual.advance_ms(5);
        assert_eq!(shared.now_ms(), 10);
    }
}
