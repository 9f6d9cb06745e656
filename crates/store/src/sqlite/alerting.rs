//! SQLite: alert and automation documents, alerts, deliveries and automation runs.

use super::SqliteStore;
use crate::alerting::{
    AUTOMATION_RUN_COLUMNS, AlertFilter, AlertKey, AlertStore, AutomationRun, DELIVERY_COLUMNS,
    DOCUMENT_COLUMNS, Document, DocumentKind, alerts_query, state_may_follow,
};
use crate::{Alert, AlertState, DeliveryAttempt, NewAlert};
use crate::{StoreError, alerting, corrupt, to_i64, to_u64};
use async_trait::async_trait;
use rusqlite::{Connection, params, params_from_iter};

fn alerts(connection: &Connection, filter: &AlertFilter) -> Result<Vec<Alert>, StoreError> {
    let (sql, values) = alerts_query(filter, |n| format!("?{n}"));
    connection
        .prepare_cached(&sql)?
        .query_and_then(params_from_iter(values), |row| alerting::alert(row))?
        .collect()
}

fn one(connection: &Connection, id: i64) -> Result<Option<Alert>, StoreError> {
    let filter = AlertFilter {
        id: Some(to_u64(id)),
        limit: 1,
        ..AlertFilter::default()
    };
    Ok(alerts(connection, &filter)?.pop())
}

fn open_alert(connection: &Connection, alert: &NewAlert) -> Result<Option<Alert>, StoreError> {
    let inserted = connection.execute(
        "INSERT OR IGNORE INTO alerts (rule_id, owner, meter_id, condition, message, value,
         state, opened_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7)",
        params![
            to_i64(alert.rule_id),
            alert.owner,
            alert.meter,
            alert.condition,
            alert.message,
            alert.value,
            alert.opened_ms
        ],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    one(connection, connection.last_insert_rowid())
}

fn set_alert_state(
    connection: &Connection,
    id: u64,
    state: AlertState,
    by: &str,
    now_ms: i64,
) -> Result<Option<Alert>, StoreError> {
    let from = serde_json::to_string(state_may_follow(state)).map_err(corrupt("states"))?;
    let changed = match state {
        AlertState::Open => 0,
        AlertState::Acknowledged => connection.execute(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_ms = ?2
             WHERE id = ?1 AND state IN (SELECT value FROM json_each(?3))",
            params![to_i64(id), now_ms, from],
        )?,
        AlertState::Resolved => connection.execute(
            "UPDATE alerts SET state = 'resolved', resolved_ms = ?2, resolved_by = ?3
             WHERE id = ?1 AND state IN (SELECT value FROM json_each(?4))",
            params![to_i64(id), now_ms, by, from],
        )?,
    };
    if changed == 0 {
        return Ok(None);
    }
    one(connection, to_i64(id))
}

fn resolve_alerts(
    connection: &mut Connection,
    key: &AlertKey,
    by: &str,
    now_ms: i64,
) -> Result<Vec<Alert>, StoreError> {
    let transaction = connection.transaction()?;
    let ids: Vec<i64> = {
        let mut statement = transaction.prepare_cached(
            "SELECT id FROM alerts WHERE rule_id = ?1 AND (?2 IS NULL OR meter_id = ?2)
             AND (?3 IS NULL OR condition = ?3) AND state <> 'resolved'",
        )?;
        let rows = statement.query_map(
            params![to_i64(key.rule_id), key.meter, key.condition],
            |row| row.get(0),
        )?;
        rows.collect::<Result<_, _>>()?
    };
    let mut resolved = Vec::with_capacity(ids.len());
    for id in ids {
        transaction.execute(
            "UPDATE alerts SET state = 'resolved', resolved_ms = ?2, resolved_by = ?3
             WHERE id = ?1",
            params![id, now_ms, by],
        )?;
        resolved.extend(one(&transaction, id)?);
    }
    transaction.commit()?;
    Ok(resolved)
}

fn put_document(
    connection: &Connection,
    kind: DocumentKind,
    document: &Document,
) -> Result<u64, StoreError> {
    if document.id == 0 {
        connection.execute(
            "INSERT INTO alerting_documents (kind, owner, body, updated_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                kind.as_str(),
                document.owner,
                document.body,
                document.updated_ms
            ],
        )?;
        return Ok(to_u64(connection.last_insert_rowid()));
    }
    let changed = connection.execute(
        "UPDATE alerting_documents SET body = ?3, updated_ms = ?4 WHERE id = ?1 AND kind = ?2",
        params![
            to_i64(document.id),
            kind.as_str(),
            document.body,
            document.updated_ms
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::NoDocument(kind.as_str(), document.id));
    }
    Ok(document.id)
}

fn documents(
    connection: &Connection,
    kind: DocumentKind,
    owner: Option<&str>,
) -> Result<Vec<Document>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {DOCUMENT_COLUMNS} FROM alerting_documents
             WHERE kind = ?1 AND (?2 IS NULL OR owner = ?2) ORDER BY id"
        ))?
        .query_and_then(params![kind.as_str(), owner], |row| alerting::document(row))?
        .collect()
}

fn deliveries(connection: &Connection, alert_id: u64) -> Result<Vec<DeliveryAttempt>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries WHERE alert_id = ?1
             ORDER BY ts_ms, channel, attempt"
        ))?
        .query_and_then(params![to_i64(alert_id)], |row| {
            alerting::delivery(row, alert_id)
        })?
        .collect()
}

fn automation_runs(
    connection: &Connection,
    rule_id: Option<u64>,
    limit: usize,
) -> Result<Vec<AutomationRun>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {AUTOMATION_RUN_COLUMNS} FROM automation_runs
             WHERE ?1 IS NULL OR rule_id = ?1 ORDER BY id DESC LIMIT ?2"
        ))?
        .query_and_then(
            params![
                rule_id.map(to_i64),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| alerting::automation_run(row),
        )?
        .collect()
}

#[async_trait]
impl AlertStore for SqliteStore {
    async fn put_document(
        &self,
        kind: DocumentKind,
        document: &Document,
    ) -> Result<u64, StoreError> {
        let document = document.clone();
        self.blocking(move |db| put_document(&db.writer(), kind, &document))
            .await
    }

    async fn documents(
        &self,
        kind: DocumentKind,
        owner: Option<&str>,
    ) -> Result<Vec<Document>, StoreError> {
        let owner = owner.map(str::to_owned);
        self.blocking(move |db| documents(&db.reader(), kind, owner.as_deref()))
            .await
    }

    async fn delete_document(&self, kind: DocumentKind, id: u64) -> Result<bool, StoreError> {
        self.blocking(move |db| {
            let deleted = db.writer().execute(
                "DELETE FROM alerting_documents WHERE id = ?1 AND kind = ?2",
                params![to_i64(id), kind.as_str()],
            )?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn open_alert(&self, alert: &NewAlert) -> Result<Option<Alert>, StoreError> {
        let alert = alert.clone();
        self.blocking(move |db| open_alert(&db.writer(), &alert))
            .await
    }

    async fn set_alert_state(
        &self,
        id: u64,
        state: AlertState,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<Alert>, StoreError> {
        let by = by.to_owned();
        self.blocking(move |db| set_alert_state(&db.writer(), id, state, &by, now_ms))
            .await
    }

    async fn resolve_alerts(
        &self,
        key: &AlertKey,
        by: &str,
        now_ms: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        let (key, by) = (key.clone(), by.to_owned());
        self.blocking(move |db| resolve_alerts(&mut db.writer(), &key, &by, now_ms))
            .await
    }

    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, StoreError> {
        let filter = filter.clone();
        self.blocking(move |db| alerts(&db.reader(), &filter)).await
    }

    async fn add_delivery(&self, attempt: &DeliveryAttempt) -> Result<(), StoreError> {
        let attempt = attempt.clone();
        self.blocking(move |db| {
            db.writer().execute(
                "INSERT INTO alert_deliveries (alert_id, channel, attempt, ts_ms, ok, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    to_i64(attempt.alert_id),
                    attempt.channel.as_str(),
                    attempt.attempt,
                    attempt.ts_ms,
                    attempt.ok,
                    attempt.detail
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn deliveries(&self, alert_id: u64) -> Result<Vec<DeliveryAttempt>, StoreError> {
        self.blocking(move |db| deliveries(&db.reader(), alert_id))
            .await
    }

    async fn add_automation_run(&self, run: &AutomationRun) -> Result<AutomationRun, StoreError> {
        let run = run.clone();
        self.blocking(move |db| {
            let writer = db.writer();
            let outcomes = serde_json::to_string(&run.outcomes).map_err(corrupt("outcomes"))?;
            writer.execute(
                "INSERT INTO automation_runs (rule_id, ts_ms, dry_run, reason, outcomes)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    to_i64(run.rule_id),
                    run.ts_ms,
                    run.dry_run,
                    run.reason,
                    outcomes
                ],
            )?;
            Ok(AutomationRun {
                id: to_u64(writer.last_insert_rowid()),
                ..run
            })
        })
        .await
    }

    async fn automation_runs(
        &self,
        rule_id: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AutomationRun>, StoreError> {
        self.blocking(move |db| automation_runs(&db.reader(), rule_id, limit))
            .await
    }
}
