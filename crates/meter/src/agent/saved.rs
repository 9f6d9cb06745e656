//! The registers as last saved, read without starting the agent
//! (`joule meter --registers`), for people and tests.

use super::error::AgentError;
use crate::config::MeterConfig;
use crate::register_store::RegisterStore;
use crate::state::MeterState;
use joule_protocol::RelayState;

/// The registers as last saved.
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
