//! PostgreSQL: alert and automation documents, alerts, deliveries and automation runs.

use super::PostgresStore;
use crate::alerting::{
    ALERT_COLUMNS, AUTOMATION_RUN_COLUMNS, AlertFilter, AlertKey, AlertStore, AutomationRun,
    DELIVERY_COLUMNS, DOCUMENT_COLUMNS, Document, DocumentKind, alerts_query, state_may_follow,
};
use crate::{Alert, AlertState, DeliveryAttempt, NewAlert};
use crate::{StoreError, alerting, corrupt, to_i64, to_u64};
use async_trait::async_trait;
use tokio_postgres::types::ToSql;

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl AlertStore for PostgresStore {
    async fn put_document(
        &self,
        kind: DocumentKind,
        document: &Document,
    ) -> Result<u64, StoreError> {
        let writer = self.writer.lock().await;
        let client = writer.client();
        if document.id == 0 {
            let row = client
                .query_one(
                    "INSERT INTO alerting_documents (kind, owner, body, updated_ms)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[
                        &kind.as_str(),
                        &document.owner,
                        &document.body,
                        &document.updated_ms,
                    ],
                )
                .await?;
            return Ok(to_u64(row.try_get(0)?));
        }
        let changed = client
            .execute(
                "UPDATE alerting_documents SET body = $3, updated_ms = $4
                 WHERE id = $1 AND kind = $2",
                &[
                    &to_i64(document.id),
                    &kind.as_str(),
                    &document.body,
                    &document.updated_ms,
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NoDocument(kind.as_str(), document.id));
        }
        Ok(document.id)
    }

    async fn documents(
        &self,
        kind: DocumentKind,
        owner: Option<&str>,
    ) -> Result<Vec<Document>, StoreError> {
        self.reader
            .query(
                &format!(
                    "SELECT {DOCUMENT_COLUMNS} FROM alerting_documents
                     WHERE kind = $1 AND ($2::text IS NULL OR owner = $2) ORDER BY id"
                ),
                &[&kind.as_str(), &owner],
            )
            .await?
            .iter()
            .map(alerting::document)
            .collect()
    }

    async fn delete_document(&self, kind: DocumentKind, id: u64) -> Result<bool, StoreError> {
        let deleted = self
            .writer
            .lock()
            .await
            .client()
            .execute(
                "DELETE FROM alerting_documents WHERE id = $1 AND kind = $2",
                &[&to_i64(id), &kind.as_str()],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn open_alert(&self, new: &NewAlert) -> Result<Option<Alert>, StoreError> {
        let sql = format!(
            "INSERT INTO alerts (rule_id, owner, meter_id, condition, message, value, state,
             opened_ms) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)
             ON CONFLICT (rule_id, meter_id, condition) WHERE state <> 'resolved' DO NOTHING
             RETURNING {ALERT_COLUMNS}"
        );
        let row = self
            .writer
            .lock()
            .await
            .client()
            .query_opt(
                &sql,
                &[
                    &to_i64(new.rule_id),
                    &new.owner,
                    &new.meter,
                    &new.condition,
                    &new.message,
                    &new.value,
                    &new.opened_ms,
                ],
            )
            .await?;
        row.as_ref().map(alerting::alert).transpose()
    }

    async fn set_alert_state(
        &self,
        id: u64,
        state: AlertState,
        by: &str,
        now_ms: i64,
    ) -> Result<Option<Alert>, StoreError> {
        let from: Vec<&str> = state_may_follow(state).to_vec();
        let id = to_i64(id);
        let (set, params): (&str, Vec<&(dyn ToSql + Sync)>) = match state {
            AlertState::Open => return Ok(None),
            AlertState::Acknowledged => (
                "state = 'acknowledged', acknowledged_ms = $2",
                vec![&id, &now_ms, &from],
            ),
            AlertState::Resolved => (
                "state = 'resolved', resolved_ms = $2, resolved_by = $4",
                vec![&id, &now_ms, &from, &by],
            ),
        };
        let sql = format!(
            "UPDATE alerts SET {set} WHERE id = $1 AND state = ANY($3) RETURNING {ALERT_COLUMNS}"
        );
        let row = self
            .writer
            .lock()
            .await
            .client()
            .query_opt(&sql, &params)
            .await?;
        row.as_ref().map(alerting::alert).transpose()
    }

    async fn resolve_alerts(
        &self,
        key: &AlertKey,
        by: &str,
        now_ms: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        let sql = format!(
            "UPDATE alerts SET state = 'resolved', resolved_ms = $4, resolved_by = $5
             WHERE rule_id = $1 AND ($2::text IS NULL OR meter_id = $2)
             AND ($3::text IS NULL OR condition = $3) AND state <> 'resolved'
             RETURNING {ALERT_COLUMNS}"
        );
        let rows = self
            .writer
            .lock()
            .await
            .client()
            .query(
                &sql,
                &[
                    &to_i64(key.rule_id),
                    &key.meter,
                    &key.condition,
                    &now_ms,
                    &by,
                ],
            )
            .await?;
        rows.iter().map(alerting::alert).collect()
    }

    async fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>, StoreError> {
        let (sql, values) = alerts_query(filter, |n| format!("${n}"));
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = self.reader.query(&sql, &params).await?;
        rows.iter().map(alerting::alert).collect()
    }

    async fn add_delivery(&self, attempt: &DeliveryAttempt) -> Result<(), StoreError> {
        self.writer
            .lock()
            .await
            .client()
            .execute(
                "INSERT INTO alert_deliveries (alert_id, channel, attempt, ts_ms, ok, detail)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &to_i64(attempt.alert_id),
                    &attempt.channel.as_str(),
                    &i64::from(attempt.attempt),
                    &attempt.ts_ms,
                    &attempt.ok,
                    &attempt.detail,
                ],
            )
            .await?;
        Ok(())
    }

    async fn deliveries(&self, alert_id: u64) -> Result<Vec<DeliveryAttempt>, StoreError> {
        self.reader
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM alert_deliveries
                     WHERE alert_id = $1 ORDER BY ts_ms, channel, attempt"
                ),
                &[&to_i64(alert_id)],
            )
            .await?
            .iter()
            .map(|row| alerting::delivery(row, alert_id))
            .collect()
    }

    async fn add_automation_run(&self, run: &AutomationRun) -> Result<AutomationRun, StoreError> {
        let outcomes = serde_json::to_string(&run.outcomes).map_err(corrupt("outcomes"))?;
        let row = self
            .writer
            .lock()
            .await
            .client()
            .query_one(
                "INSERT INTO automation_runs (rule_id, ts_ms, dry_run, reason, outcomes)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    &to_i64(run.rule_id),
                    &run.ts_ms,
                    &run.dry_run,
                    &run.reason,
                    &outcomes,
                ],
            )
            .await?;
        Ok(AutomationRun {
            id: to_u64(row.try_get(0)?),
            ..run.clone()
        })
    }

    async fn automation_runs(
        &self,
        rule_id: Option<u64>,
        count: usize,
    ) -> Result<Vec<AutomationRun>, StoreError> {
        self.reader
            .query(
                &format!(
                    "SELECT {AUTOMATION_RUN_COLUMNS} FROM automation_runs
                     WHERE $1::bigint IS NULL OR rule_id = $1 ORDER BY id DESC LIMIT $2"
                ),
                &[&rule_id.map(to_i64), &limit(count)],
            )
            .await?
            .iter()
            .map(alerting::automation_run)
            .collect()
    }
}
