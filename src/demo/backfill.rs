//! History for the demo's meters, through the real ingest path: the register-level fleet
//! model replays the days a meter was "away" into that meter's own disk outbox, as if it
//! had been offline, with the registers it ends on recorded beside the last message. The
//! meter agent then starts from exactly those registers (it resumes from the newest state
//! its outbox or register store holds), its uplink drains the backlog over MQTT at full
//! speed, and the hub ingests it like any reading: validated, deduplicated, rolled up and
//! acknowledged. Sequence numbers continue without a gap because the outbox numbers
//! messages as it sends them.

use std::path::Path;

use anyhow::Context;
use joule_meter::outbox::Outbox;
use joule_meter::register_store::RegisterStore;
use joule_meter::state::MeterState;
use joule_protocol::TopicKind;
use joule_sim::fleet::{Cadence, RegisterMeter, Start};
use joule_sim::household::HouseholdSpec;

use crate::sim::register::encode_report;

/// History is written at this pace: power sampled every minute, a live reading and an
/// interval record every 15 minutes (the rollups and charts are full, the backlog small).
pub(crate) const HISTORY_CADENCE: Cadence = Cadence::minutely(900);

/// A gap shorter than this is left to the live agent (its outbox holds the last minutes).
const MIN_GAP_MS: i64 = 15 * 60 * 1000;

/// What a backfill wrote into one meter's outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backlog {
    /// Messages written.
    pub(crate) messages: u64,
    /// The sequence number the last waiting message will have: the hub has the history
    /// once it acknowledges this.
    pub(crate) last_seq: u64,
}

/// The newest state the meter in `dir` recorded (outbox or register store), as the agent
/// itself resumes: (Unix ms, state).
fn newest_state(dir: &Path, outbox: &Outbox) -> anyhow::Result<Option<(i64, MeterState)>> {
    let (_, record, _) = RegisterStore::open(&dir.join("registers"))?;
    let saved = record.map(|r| (r.written_ms, r.payload));
    let newest = match (saved, outbox.last_state()?) {
        (Some(saved), Some(sent)) => Some(if sent.0 > saved.0 { sent } else { saved }),
        (saved, sent) => saved.or(sent),
    };
    newest
        .map(|(ts_ms, bytes)| {
            let state = MeterState::from_bytes(&bytes)
                .with_context(|| format!("the saved state in {}", dir.display()))?;
            Ok((ts_ms, state))
        })
        .transpose()
}

/// Fills the meter in `dir` (the data directory of its agent) up to `now_ms`: from
/// `now_ms - history_ms` on a first start, else from where it last stopped when that is
/// more than a few minutes ago (at most `history_ms` back).
pub(crate) fn fill(
    dir: &Path,
    home: HouseholdSpec,
    now_ms: i64,
    history_ms: i64,
) -> anyhow::Result<Backlog> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut outbox = Outbox::open(&dir.join("outbox.sqlite"), u64::MAX / 2)?;
    let earliest_ms = now_ms - history_ms;
    let (start, mut state) = match newest_state(dir, &outbox)? {
        Some((ts_ms, state)) => {
            let start = Start {
                ts_ms: ts_ms.max(earliest_ms),
                import_mwh: state.total[0],
                export_mwh: state.total[1],
            };
            (start, state)
        }
        None => {
            // A meter installed years ago: its registers do not start at zero.
            let start = Start {
                ts_ms: earliest_ms - earliest_ms.rem_euclid(900_000),
                import_mwh: (2_000 + home.seed % 8_000) * 1_000_000,
                export_mwh: 0,
            };
            let mut state = MeterState::new();
            add_energy(&mut state, start.import_mwh, start.export_mwh);
            (start, state)
        }
    };
    let mut messages = 0;
    if now_ms - start.ts_ms >= MIN_GAP_MS {
        let mut model = RegisterMeter::new(home, 0.0, HISTORY_CADENCE, start);
        let mut reports = Vec::new();
        model.advance_to(now_ms, &mut reports);
        let bodies: Vec<(TopicKind, Vec<u8>)> = reports.iter().map(encode_report).collect();
        let batch: Vec<(TopicKind, &[u8])> =
            bodies.iter().map(|(k, b)| (*k, b.as_slice())).collect();
        let (import_mwh, export_mwh) = model.registers_mwh();
        add_energy(
            &mut state,
            import_mwh - start.import_mwh,
            export_mwh - start.export_mwh,
        );
        outbox.push_many(&batch, &state.to_bytes(), now_ms)?;
        messages = batch.len() as u64;
    }
    let depth = outbox.depth()?;
    Ok(Backlog {
        messages,
        last_seq: depth.acked_seq + depth.messages,
    })
}

/// Adds energy to the total and the active tariff's registers.
fn add_energy(state: &mut MeterState, import_mwh: u64, export_mwh: u64) {
    let active = usize::from(state.active_tariff);
    let sets = std::iter::once(&mut state.total).chain(state.tariffs.get_mut(active));
    for set in sets {
        set[0] += import_mwh;
        set[1] += export_mwh;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use joule_sim::fleet::neighbourhood_home;

    const DAY_MS: i64 = 86_400_000;
    const NOW_MS: i64 = 1_790_000_123_456;

    #[test]
    fn first_start_writes_the_history_and_a_restart_only_the_gap() {
        let dir = tempfile::tempdir().unwrap();
        let home = neighbourhood_home(4, 2);
        let first = fill(dir.path(), home, NOW_MS, 2 * DAY_MS).unwrap();
        // Two days of 96 interval records and 96 live readings.
        assert!((380..=386).contains(&first.messages), "{first:?}");
        assert_eq!(first.last_seq, first.messages);
        let outbox = Outbox::open(&dir.path().join("outbox.sqlite"), 1000).unwrap();
        let (ts_ms, bytes) = outbox.last_state().unwrap().unwrap();
        let state = MeterState::from_bytes(&bytes).unwrap();
        assert_eq!(ts_ms, NOW_MS);
        assert!(state.total[0] > (2_000 + home.seed % 8_000) * 1_000_000);
        assert_eq!(state.total[0], state.tariffs[0][0]);
        drop(outbox);
        // Five minutes later: nothing to fill. Two hours later: the gap only, continuing.
        let soon = fill(dir.path(), home, NOW_MS + 300_000, 2 * DAY_MS).unwrap();
        assert_eq!(soon.messages, 0);
        let later = fill(dir.path(), home, NOW_MS + 2 * 3_600_000, 2 * DAY_MS).unwrap();
        assert_eq!(later.messages, 16);
        assert_eq!(later.last_seq, first.messages + 16);
        let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite"), 1000).unwrap();
        let all = outbox.next_batch(1, 1000).unwrap();
        let imports: Vec<u64> = all
            .iter()
            .map(|m| {
                let value: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                value["registers"]["import_mwh"].as_u64().unwrap()
            })
            .collect();
        assert!(imports.windows(2).all(|w| w[0] <= w[1]));
    }
}
