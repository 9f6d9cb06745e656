//! The meter's outbox on disk: every message waits here until the hub says it is stored.
//!
//! A message gets its sequence number when it is first sent, not when it is recorded.
//! That is what lets a full outbox thin its live readings without leaving holes: the hub
//! acknowledges the highest *contiguous* sequence it has stored, so a number that was
//! handed out and then thrown away would stall acknowledgement for ever. Numbered messages
//! are never thinned; they are resent, with the same number, until acknowledged.
//!
//! Bounded: at most `max_live` unsent live readings are kept; beyond that every second one
//! of the older half is dropped, so a long outage keeps a coarser but complete picture.
//! Interval records, events and command acks are never dropped (96 interval records a day
//! is about 35,000 a year). Storage is SQLite (WAL, fsync on every commit): a meter killed
//! or powered off at any instant reopens with every message it recorded. Each message is
//! recorded with the meter's state at that moment, so a restart resumes its registers from
//! the newer of this and the register store: never below a value already reported.

use crate::telemetry::events::{
    LiveReadingsThinned, MessagesAcknowledged, MessagesRecorded, OutboxClosed, OutboxOpened,
};
use joule_protocol::TopicKind;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
#[error("outbox {}: {source}", path.display())]
pub struct OutboxError {
    path: PathBuf,
    source: rusqlite::Error,
}

/// A message ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbered {
    /// Its sequence number.
    pub seq: u64,
    /// Which topic it goes to.
    pub kind: TopicKind,
    /// The JSON payload, `seq` filled in.
    pub payload: Vec<u8>,
}

/// How full the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Depth {
    /// Messages waiting (numbered or not).
    pub messages: u64,
    /// Of which live readings not yet numbered.
    pub live_unsent: u64,
    /// Live readings dropped by thinning over the outbox's life.
    pub thinned: u64,
    /// Highest sequence number the hub acknowledged.
    pub acked_seq: u64,
}

/// The outbox.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    db: Connection,
    max_live: u64,
    /// Messages waiting, kept in step with the table (counted once at open).
    messages: u64,
    live_unsent: u64,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        seq INTEGER UNIQUE,
        body BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        ts_ms INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    INSERT OR IGNORE INTO meta VALUES ('next_seq', 1), ('acked_seq', 0), ('thinned', 0);
";

impl Outbox {
    /// Opens (or creates) the outbox at `path`, keeping at most `max_live` unsent live
    /// readings.
    pub fn open(path: &Path, max_live: u64) -> Result<Self, OutboxError> {
        let wrap = |source| OutboxError {
            path: path.to_path_buf(),
            source,
        };
        let db = Connection::open(path).map_err(wrap)?;
        db.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        // Every message is fsynced before it can be published: what the hub may have seen
        // survives a power cut too.
        db.pragma_update(None, "synchronous", "FULL")
            .map_err(wrap)?;
        db.execute_batch(SCHEMA).map_err(wrap)?;
        let (messages, live_unsent) = db
            .query_row(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE kind = 'live' AND seq IS NULL)
                 FROM outbox",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
            .map_err(wrap)?;
        let messages = u64::try_from(messages).unwrap_or(0);
        OutboxOpened { messages }.emit();
        Ok(Self {
            path: path.to_path_buf(),
            db,
            max_live: max_live.max(2),
            messages,
            live_unsent: u64::try_from(live_unsent).unwrap_or(0),
        })
    }

    fn wrap(&self, source: rusqlite::Error) -> OutboxError {
        OutboxError {
            path: self.path.clone(),
            source,
        }
    }

    /// Records a message (its JSON with any `seq`; the number is set when it is sent),
    /// and in the same transaction the meter's state as of `ts_ms` (the registers the
    /// message shows), so a restart never resumes below a value it already reported.
    pub fn push(
        &mut self,
        kind: TopicKind,
        body: &[u8],
        state: &[u8],
        ts_ms: i64,
    ) -> Result<(), OutboxError> {
        self.push_many(&[(kind, body)], state, ts_ms)
    }

    /// Records several messages in order in one transaction (one fsync: a backlog written
    /// at once, e.g. history replayed into a meter), with the state as of `ts_ms` after the
    /// last of them. Thinning, if the live readings now exceed the bound, happens after.
    pub fn push_many(
        &mut self,
        messages: &[(TopicKind, &[u8])],
        state: &[u8],
        ts_ms: i64,
    ) -> Result<(), OutboxError> {
        let tx = self.db.transaction().map_err(|e| wrap(&self.path, e))?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO outbox (kind, body) VALUES (?1, ?2)")
                .map_err(|e| wrap(&self.path, e))?;
            for (kind, body) in messages {
                insert
                    .execute(params![kind.segment(), body])
                    .map_err(|e| wrap(&self.path, e))?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO state (id, ts_ms, body) VALUES (1, ?1, ?2)",
            params![ts_ms, state],
        )
        .map_err(|e| wrap(&self.path, e))?;
        tx.commit().map_err(|e| wrap(&self.path, e))?;
        self.messages += messages.len() as u64;
        for (index, (kind, _)) in messages.iter().enumerate() {
            if messages[..index].iter().all(|(earlier, _)| earlier != kind) {
                let count = messages.iter().filter(|(k, _)| k == kind).count() as u64;
                MessagesRecorded { kind: *kind, count }.emit();
            }
        }
        let live = messages
            .iter()
            .filter(|(kind, _)| *kind == TopicKind::Live)
            .count() as u64;
        self.live_unsent += live;
        if live > 0 && self.live_unsent > self.max_live {
            self.thin()?;
        }
        Ok(())
    }

    /// The state recorded with the newest message: (Unix ms, bytes).
    pub fn last_state(&self) -> Result<Option<(i64, Vec<u8>)>, OutboxError> {
        self.db
            .query_row("SELECT ts_ms, body FROM state WHERE id = 1", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(|e| self.wrap(e))
    }

    /// Drops every second one of the older half of the unsent live readings.
    fn thin(&mut self) -> Result<(), OutboxError> {
        let half = i64::try_from(self.live_unsent / 2).unwrap_or(i64::MAX);
        let dropped = self
            .db
            .execute(
                "DELETE FROM outbox WHERE id IN (
                     SELECT id FROM (
                         SELECT id, row_number() OVER (ORDER BY id) AS n FROM outbox
                          WHERE kind = 'live' AND seq IS NULL ORDER BY id LIMIT ?1)
                      WHERE n % 2 = 0)",
                [half],
            )
            .and_then(|dropped| {
                self.db.execute(
                    "UPDATE meta SET value = value + ?1 WHERE key = 'thinned'",
                    [dropped as i64],
                )?;
                Ok(dropped)
            })
            .map_err(|e| self.wrap(e))?;
        self.live_unsent -= dropped as u64;
        let dropped = (dropped as u64).min(self.messages);
        self.messages -= dropped;
        LiveReadingsThinned {
            dropped,
            kept: self.live_unsent,
        }
        .emit();
        Ok(())
    }

    /// Up to `limit` messages from sequence `from_seq` on, in order: those numbered
    /// already (resends) and then fresh ones, numbered now in the order they were
    /// recorded. Numbering is committed before the messages are returned.
    pub fn next_batch(
        &mut self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<Numbered>, OutboxError> {
        let tx = self.db.transaction().map_err(|e| wrap(&self.path, e))?;
        let mut out = Vec::new();
        {
            let mut numbered = tx
                .prepare_cached(
                    "SELECT seq, kind, body FROM outbox WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(|e| wrap(&self.path, e))?;
            let rows = numbered
                .query_map(params![to_i64(from_seq), limit as i64], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .map_err(|e| wrap(&self.path, e))?;
            for row in rows {
                let (seq, kind, body) = row.map_err(|e| wrap(&self.path, e))?;
                out.push((seq as u64, kind, body));
            }
        }
        let mut fresh_live = 0;
        if out.len() < limit {
            let next_seq: i64 = tx
                .query_row("SELECT value FROM meta WHERE key = 'next_seq'", [], |r| {
                    r.get(0)
                })
                .map_err(|e| wrap(&self.path, e))?;
            let fresh: Vec<(i64, String, Vec<u8>)> = {
                let mut statement = tx
                    .prepare_cached(
                        "SELECT id, kind, body FROM outbox WHERE seq IS NULL ORDER BY id LIMIT ?1",
                    )
                    .map_err(|e| wrap(&self.path, e))?;
                statement
                    .query_map([(limit - out.len()) as i64], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .and_then(Iterator::collect)
                    .map_err(|e| wrap(&self.path, e))?
            };
            let mut seq = next_seq;
            let mut number = tx
                .prepare_cached("UPDATE outbox SET seq = ?1 WHERE id = ?2")
                .map_err(|e| wrap(&self.path, e))?;
            for (id, kind, body) in fresh {
                number
                    .execute(params![seq, id])
                    .map_err(|e| wrap(&self.path, e))?;
                fresh_live += u64::from(kind == "live");
                out.push((seq as u64, kind, body));
                seq += 1;
            }
            // Nothing fresh, nothing to write: an idle uplink polls without committing.
            if seq != next_seq {
                tx.execute("UPDATE meta SET value = ?1 WHERE key = 'next_seq'", [seq])
                    .map_err(|e| wrap(&self.path, e))?;
            }
        }
        tx.commit().map_err(|e| wrap(&self.path, e))?;
        self.live_unsent -= fresh_live.min(self.live_unsent);
        Ok(out
            .into_iter()
            .filter_map(|(seq, kind, body)| {
                let kind = TopicKind::from_segment(&kind)?;
                Some(Numbered {
                    seq,
                    kind,
                    payload: with_seq(&body, seq),
                })
            })
            .collect())
    }

    /// The hub stored everything up to `up_to_seq`: drop it. Returns how many went.
    pub fn ack(&mut self, up_to_seq: u64) -> Result<u64, OutboxError> {
        let seq = to_i64(up_to_seq);
        let tx = self.db.transaction().map_err(|e| wrap(&self.path, e))?;
        let removed = tx
            .execute("DELETE FROM outbox WHERE seq <= ?1", [seq])
            .and_then(|removed| {
                tx.execute(
                    "UPDATE meta SET value = MAX(value, ?1) WHERE key = 'acked_seq'",
                    [seq],
                )?;
                Ok(removed)
            })
            .map_err(|e| wrap(&self.path, e))?;
        tx.commit().map_err(|e| wrap(&self.path, e))?;
        let removed = removed as u64;
        let gone = removed.min(self.messages);
        self.messages -= gone;
        MessagesAcknowledged {
            up_to_seq,
            removed: gone,
        }
        .emit();
        Ok(removed)
    }

    /// How full it is.
    pub fn depth(&self) -> Result<Depth, OutboxError> {
        let meta = |key: &str| -> Result<u64, OutboxError> {
            self.db
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map(|v| v.unwrap_or(0) as u64)
                .map_err(|e| self.wrap(e))
        };
        Ok(Depth {
            messages: self.messages,
            live_unsent: self.live_unsent,
            thinned: meta("thinned")?,
            acked_seq: meta("acked_seq")?,
        })
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        OutboxClosed {
            messages: self.messages,
        }
        .emit();
    }
}

fn wrap(path: &Path, source: rusqlite::Error) -> OutboxError {
    OutboxError {
        path: path.to_path_buf(),
        source,
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The JSON `body` with its top-level `seq` set: written into the `"seq":0` right after
/// the version, where the recorder's messages carry it (no parsing: a backlog of thousands
/// is numbered at the pace of the disk), else by rewriting the object.
fn with_seq(body: &[u8], seq: u64) -> Vec<u8> {
    if let Some(zero) = unnumbered_seq_at(body) {
        let number = seq.to_string();
        let mut numbered = Vec::with_capacity(body.len() + number.len());
        numbered.extend_from_slice(&body[..zero]);
        numbered.extend_from_slice(number.as_bytes());
        numbered.extend_from_slice(&body[zero + 1..]);
        return numbered;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert("seq".into(), seq.into());
            serde_json::to_vec(&map).unwrap_or_default()
        }
        _ => body.to_vec(),
    }
}

/// Where the `0` of `"seq":0` is when `body` begins as an encoded message without its
/// number does: `{"v":1,"seq":0,`.
fn unnumbered_seq_at(body: &[u8]) -> Option<usize> {
    const VERSION: &[u8] = b"{\"v\":";
    const SEQ: &[u8] = b",\"seq\":0,";
    let digits = body
        .strip_prefix(VERSION)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let seq = VERSION.len() + digits;
    (digits > 0 && body[seq..].starts_with(SEQ)).then_some(seq + SEQ.len() - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_goes_where_the_message_says_seq_0() {
        let numbered = |body: &str| String::from_utf8(with_seq(body.as_bytes(), 4711)).unwrap();
        assert_eq!(
            numbered(r#"{"v":1,"seq":0,"ts_ms":5}"#),
            r#"{"v":1,"seq":4711,"ts_ms":5}"#
        );
        assert_eq!(
            numbered(r#"{"v":12,"seq":0,"n":0}"#),
            r#"{"v":12,"seq":4711,"n":0}"#
        );
        // Any other shape is rewritten as an object.
        assert_eq!(
            numbered(r#"{"seq":0,"ts_ms":5}"#),
            r#"{"seq":4711,"ts_ms":5}"#
        );
        assert_eq!(numbered(r#"{"v":1,"seq":07}"#), r#"{"v":1,"seq":07}"#);
        assert_eq!(
            numbered(r#"{"v":,"seq":0,"n":1}"#),
            r#"{"v":,"seq":0,"n":1}"#
        );
    }

    fn body(n: u32) -> Vec<u8> {
        format!(r#"{{"v":1,"seq":0,"n":{n}}}"#).into_bytes()
    }

    fn n_of(message: &Numbered) -> u64 {
        let value: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(value["seq"], message.seq);
        value["n"].as_u64().unwrap()
    }

    #[test]
    fn numbers_on_send_resends_until_acked_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.sqlite");
        let mut outbox = Outbox::open(&path, 100).unwrap();
        for n in 0..5 {
            outbox.push(TopicKind::Live, &body(n), b"{}", 0).unwrap();
        }
        let first = outbox.next_batch(1, 3).unwrap();
        assert_eq!(first.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);
        // A resend from 2 gives the same numbers, then numbers fresh ones.
        let again = outbox.next_batch(2, 10).unwrap();
        assert_eq!(
            again.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
        assert_eq!(again.iter().map(n_of).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert_eq!(outbox.ack(3).unwrap(), 3);
        drop(outbox);
        let mut outbox = Outbox::open(&path, 100).unwrap();
        outbox.push(TopicKind::Event, &body(5), b"s", 7).unwrap();
        assert_eq!(outbox.last_state().unwrap(), Some((7, b"s".to_vec())));
        let rest = outbox.next_batch(4, 10).unwrap();
        assert_eq!(rest.iter().map(|m| m.seq).collect::<Vec<_>>(), [4, 5, 6]);
        assert_eq!(rest[2].kind, TopicKind::Event);
        let depth = outbox.depth().unwrap();
        assert_eq!((depth.messages, depth.acked_seq), (3, 3));
    }

    #[test]
    fn a_backlog_pushed_at_once_is_numbered_in_order_with_its_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(&dir.path().join("o.sqlite"), 100).unwrap();
        let bodies: Vec<Vec<u8>> = (0..50).map(body).collect();
        let messages: Vec<(TopicKind, &[u8])> = bodies
            .iter()
            .enumerate()
            .map(|(k, b)| {
                let kind = if k % 2 == 0 {
                    TopicKind::Live
                } else {
                    TopicKind::Interval
                };
                (kind, b.as_slice())
            })
            .collect();
        outbox.push_many(&messages, b"after", 42).unwrap();
        assert_eq!(outbox.last_state().unwrap(), Some((42, b"after".to_vec())));
        let depth = outbox.depth().unwrap();
        assert_eq!((depth.messages, depth.live_unsent), (50, 25));
        let all = outbox.next_batch(1, 100).unwrap();
        assert_eq!(
            all.iter().map(n_of).collect::<Vec<_>>(),
            (0..50).collect::<Vec<_>>()
        );
        assert_eq!(all[1].kind, TopicKind::Interval);
    }

    #[test]
    fn thinning_drops_only_unsent_live_readings() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(&dir.path().join("o.sqlite"), 10).unwrap();
        outbox.push(TopicKind::Live, &body(1000), b"{}", 0).unwrap();
        let sent = outbox.next_batch(1, 1).unwrap();
        assert_eq!(sent.len(), 1);
        for n in 0..40 {
            let kind = if n % 10 == 0 {
                TopicKind::Interval
            } else {
                TopicKind::Live
            };
            outbox.push(kind, &body(n), b"{}", 0).unwrap();
        }
        let depth = outbox.depth().unwrap();
        assert!(depth.live_unsent <= 10, "{depth:?}");
        assert!(depth.thinned > 0);
        let all = outbox.next_batch(1, 1000).unwrap();
        let ns: Vec<u64> = all.iter().map(n_of).collect();
        // The numbered reading and every interval record are still there, in order,
        // numbered without a gap.
        assert_eq!(ns[0], 1000);
        for interval in [0, 10, 20, 30] {
            assert!(ns.contains(&interval), "{ns:?}");
        }
        assert!(ns[1..].windows(2).all(|w| w[0] < w[1]));
        let seqs: Vec<u64> = all.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>());
        // The newest readings are kept at full resolution.
        assert!(ns.ends_with(&[35, 36, 37, 38, 39]), "{ns:?}");
    }
}
