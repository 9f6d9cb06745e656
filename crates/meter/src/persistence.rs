//! When the registers are saved: at least every `persistence.every_s`, whenever
//! `persistence.every_wh` of energy has registered since the last save, and at once when
//! the agent asks (a command, a move of the supply switch, a start, a stop). What a
//! restart may lose is bounded by these two settings; the two-slot
//! [`crate::register_store`] makes each save crash-safe.

use crate::config::PersistenceConfig;
use crate::register_store::{RegisterStore, StoreError};
use crate::state::MeterState;
use crate::telemetry::events::RegistersSaved;

/// The register store with its saving pace.
#[derive(Debug)]
pub struct Persistence {
    store: RegisterStore,
    every: PersistenceConfig,
    last_save_ms: i64,
    /// Import plus export at the last save, Wh.
    saved_energy_wh: f64,
}

impl Persistence {
    /// Saves into `store` at the pace `every` sets, counting from `now_ms`.
    pub fn new(store: RegisterStore, every: PersistenceConfig, now_ms: i64) -> Self {
        Self {
            store,
            every,
            last_save_ms: now_ms,
            saved_energy_wh: 0.0,
        }
    }

    /// Whether a save is due at `now_ms` with `energy_wh` (import plus export) registered.
    pub fn due(&self, now_ms: i64, energy_wh: f64) -> bool {
        now_ms - self.last_save_ms >= i64::from(self.every.every_s) * 1000
            || energy_wh - self.saved_energy_wh >= self.every.every_wh
    }

    /// Saves `state` durably as of `now_ms`.
    pub fn save(&mut self, state: &MeterState, now_ms: i64) -> Result<(), StoreError> {
        self.store.save(&state.to_bytes(), now_ms)?;
        self.last_save_ms = now_ms;
        self.saved_energy_wh = (state.total[0] + state.total[1]) as f64 / 1000.0;
        RegistersSaved {
            writes: self.store.writes(),
        }
        .emit();
        Ok(())
    }

    /// Saves over the store's life.
    pub fn writes(&self) -> u64 {
        self.store.writes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_save_is_due_after_its_time_or_its_energy_whichever_comes_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _, _) = RegisterStore::open(dir.path()).expect("store");
        let every = PersistenceConfig {
            every_s: 10,
            every_wh: 1.0,
        };
        let mut persistence = Persistence::new(store, every, 0);
        assert!(!persistence.due(9_999, 0.5));
        assert!(persistence.due(10_000, 0.0));
        assert!(persistence.due(1_000, 1.0));

        let mut state = MeterState::new();
        state.total[0] = 1_500; // 1.5 Wh imported
        persistence.save(&state, 5_000).expect("save");
        assert_eq!(persistence.writes(), 1);
        assert!(!persistence.due(14_999, 2.4));
        assert!(persistence.due(14_999, 2.5));
        assert!(persistence.due(15_000, 1.5));
    }
}
