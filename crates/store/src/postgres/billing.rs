//! PostgreSQL: tariff plans, market prices, billing runs and bills, with the same rules as
//! the SQLite backend.

use super::PostgresStore;
use crate::billing::{BILL_COLUMNS, BILLING_RUN_COLUMNS, PRICE_COLUMNS, TARIFF_COLUMNS};
use crate::{
    BillRecord, BillingRun, BillingStore, BillsOf, RunStatus, StoreError, TariffRecord, billing,
    check_replacement, corrupt, parse_plan, stored_plan, to_i64, to_u64,
};
use async_trait::async_trait;
use joule_protocol::MeterId;
use joule_tariff::PricePoint;
use tokio_postgres::Client;

/// The schema these functions use (one migration).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE tariffs (
    name TEXT PRIMARY KEY,
    toml TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE prices (
    market TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    duration_s BIGINT NOT NULL,
    price_micros BIGINT NOT NULL,
    PRIMARY KEY (market, start_ms)
);
CREATE TABLE billing_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period TEXT NOT NULL,
    started_by TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT,
    meters_done BIGINT NOT NULL,
    meters_total BIGINT NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE bills (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id BIGINT NOT NULL,
    meter_id TEXT NOT NULL,
    period TEXT NOT NULL,
    plan TEXT NOT NULL,
    currency TEXT NOT NULL,
    currency_digits SMALLINT NOT NULL,
    total_minor BIGINT NOT NULL,
    closed BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms BIGINT NOT NULL,
    bill TEXT NOT NULL,
    UNIQUE (meter_id, period)
);
CREATE INDEX bills_by_run ON bills (run_id);
CREATE INDEX bills_by_period ON bills (period, closed);
"#;

pub(super) async fn put_tariff(
    client: &mut Client,
    toml: &str,
    now_ms: i64,
) -> Result<TariffRecord, StoreError> {
    let plan = parse_plan(toml)?;
    let transaction = client.transaction().await?;
    let old = transaction
        .query_opt(
            "SELECT toml FROM tariffs WHERE name = $1 FOR UPDATE",
            &[&plan.name()],
        )
        .await?;
    if let Some(row) = old {
        let old: String = row.try_get(0)?;
        check_replacement(&old, toml, &stored_plan(&old)?, now_ms)?;
    }
    transaction
        .execute(
            "INSERT INTO tariffs (name, toml, updated_ms) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET toml = excluded.toml,
                 updated_ms = excluded.updated_ms",
            &[&plan.name(), &toml, &now_ms],
        )
        .await?;
    transaction.commit().await?;
    Ok(TariffRecord {
        name: plan.name().to_owned(),
        toml: toml.to_owned(),
        plan,
        updated_ms: now_ms,
    })
}

pub(super) async fn tariffs(
    client: &Client,
    name: Option<&str>,
) -> Result<Vec<TariffRecord>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {TARIFF_COLUMNS} FROM tariffs
                 WHERE $1::text IS NULL OR name = $1 ORDER BY name"
            ),
            &[&name],
        )
        .await?
        .iter()
        .map(billing::tariff)
        .collect()
}

pub(super) async fn delete_tariff(client: &mut Client, name: &str) -> Result<(), StoreError> {
    let transaction = client.transaction().await?;
    let users: i64 = transaction
        .query_one("SELECT COUNT(*) FROM meters WHERE tariff = $1", &[&name])
        .await?
        .try_get(0)?;
    if users > 0 {
        return Err(StoreError::TariffInUse(name.to_owned(), to_u64(users)));
    }
    if transaction
        .execute("DELETE FROM tariffs WHERE name = $1", &[&name])
        .await?
        == 0
    {
        return Err(StoreError::NoTariff(name.to_owned()));
    }
    transaction.commit().await?;
    Ok(())
}

pub(super) async fn put_prices(
    client: &Client,
    market: &str,
    points: &[PricePoint],
) -> Result<usize, StoreError> {
    let starts: Vec<i64> = points.iter().map(|p| p.start.as_millisecond()).collect();
    let durations: Vec<i64> = points
        .iter()
        .map(|p| p.end.as_second() - p.start.as_second())
        .collect();
    let prices: Vec<i64> = points.iter().map(|p| p.price_per_kwh.0).collect();
    client
        .execute(
            "INSERT INTO prices (market, start_ms, duration_s, price_micros)
             SELECT $1, * FROM unnest($2::int8[], $3::int8[], $4::int8[])
             ON CONFLICT (market, start_ms) DO UPDATE SET duration_s = excluded.duration_s,
                 price_micros = excluded.price_micros",
            &[&market, &starts, &durations, &prices],
        )
        .await?;
    Ok(points.len())
}

pub(super) async fn prices(
    client: &Client,
    market: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<PricePoint>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {PRICE_COLUMNS} FROM prices
                 WHERE market = $1 AND start_ms < $3 AND start_ms + duration_s * 1000 > $2
                 ORDER BY start_ms"
            ),
            &[&market, &from_ms, &to_ms],
        )
        .await?
        .iter()
        .map(billing::price_point)
        .collect()
}

pub(super) async fn add_billing_run(
    client: &Client,
    period: &str,
    started_by: &str,
    meters_total: u64,
    now_ms: i64,
) -> Result<BillingRun, StoreError> {
    let summary =
        serde_json::to_string(&crate::RunSummary::default()).map_err(corrupt("run summary"))?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO billing_runs (period, started_by, started_ms, meters_done,
                 meters_total, status, summary) VALUES ($1, $2, $3, 0, $4, $5, $6)
                 RETURNING {BILLING_RUN_COLUMNS}"
            ),
            &[
                &period,
                &started_by,
                &now_ms,
                &to_i64(meters_total),
                &RunStatus::Running.name(),
                &summary,
            ],
        )
        .await?;
    billing::billing_run(&row)
}

pub(super) async fn update_billing_run(
    client: &Client,
    run: &BillingRun,
) -> Result<(), StoreError> {
    let summary = serde_json::to_string(&run.summary).map_err(corrupt("run summary"))?;
    client
        .execute(
            "UPDATE billing_runs SET finished_ms = $2, meters_done = $3, meters_total = $4,
             status = $5, summary = $6 WHERE id = $1",
            &[
                &to_i64(run.id),
                &run.finished_ms,
                &to_i64(run.meters_done),
                &to_i64(run.meters_total),
                &run.status.name(),
                &summary,
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn billing_runs(
    client: &Client,
    id: Option<u64>,
    limit: usize,
) -> Result<Vec<BillingRun>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {BILLING_RUN_COLUMNS} FROM billing_runs WHERE $1::int8 IS NULL OR id = $1
                 ORDER BY id DESC LIMIT $2"
            ),
            &[&id.map(to_i64), &to_i64(limit as u64)],
        )
        .await?
        .iter()
        .map(billing::billing_run)
        .collect()
}

pub(super) async fn put_bills(client: &mut Client, bills: &[BillRecord]) -> Result<(), StoreError> {
    let transaction = client.transaction().await?;
    let insert = transaction
        .prepare(
            "INSERT INTO bills (run_id, meter_id, period, plan, currency, currency_digits,
             total_minor, closed, created_ms, bill)
             VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $9)
             ON CONFLICT (meter_id, period) DO UPDATE SET run_id = excluded.run_id,
                 plan = excluded.plan, currency = excluded.currency,
                 currency_digits = excluded.currency_digits,
                 total_minor = excluded.total_minor, closed = FALSE,
                 created_ms = excluded.created_ms, bill = excluded.bill",
        )
        .await?;
    for bill in bills {
        transaction
            .execute(
                &insert,
                &[
                    &to_i64(bill.run_id),
                    &bill.meter.as_str(),
                    &bill.period,
                    &bill.plan,
                    &bill.currency,
                    &i16::from(bill.currency_digits),
                    &bill.total_minor,
                    &bill.created_ms,
                    &bill.json,
                ],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(())
}

pub(super) async fn close_bills(client: &Client, run_id: u64) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE bills SET closed = TRUE WHERE run_id = $1",
            &[&to_i64(run_id)],
        )
        .await?;
    Ok(())
}

pub(super) async fn period_closed(client: &Client, period: &str) -> Result<bool, StoreError> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM bills WHERE period = $1 AND closed)",
            &[&period],
        )
        .await?
        .try_get(0)?)
}

pub(super) async fn bills(
    client: &Client,
    of: BillsOf<'_>,
    limit: usize,
) -> Result<Vec<BillRecord>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {BILL_COLUMNS}
                 FROM bills WHERE ($1::text IS NULL OR meter_id = $1)
                     AND ($2::int8 IS NULL OR id = $2) AND ($3::int8 IS NULL OR run_id = $3)
                 ORDER BY period DESC, id DESC LIMIT $4"
            ),
            &[
                &of.meter().map(MeterId::as_str),
                &of.bill().map(to_i64),
                &of.run().map(to_i64),
                &to_i64(limit as u64),
            ],
        )
        .await?
        .iter()
        .map(billing::bill)
        .collect()
}

#[async_trait]
impl BillingStore for PostgresStore {
    async fn put_tariff(&self, toml: &str, now_ms: i64) -> Result<TariffRecord, StoreError> {
        put_tariff(self.writer.lock().await.client_mut(), toml, now_ms).await
    }

    async fn tariff(&self, name: &str) -> Result<Option<TariffRecord>, StoreError> {
        Ok(tariffs(&self.reader, Some(name)).await?.pop())
    }

    async fn tariffs(&self) -> Result<Vec<TariffRecord>, StoreError> {
        tariffs(&self.reader, None).await
    }

    async fn delete_tariff(&self, name: &str) -> Result<(), StoreError> {
        delete_tariff(self.writer.lock().await.client_mut(), name).await
    }

    async fn put_prices(
        &self,
        market: &str,
        points: &[joule_tariff::PricePoint],
    ) -> Result<usize, StoreError> {
        put_prices(self.writer.lock().await.client(), market, points).await
    }

    async fn prices(
        &self,
        market: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<joule_tariff::PricePoint>, StoreError> {
        prices(&self.reader, market, from_ms, to_ms).await
    }

    async fn add_billing_run(
        &self,
        period: &str,
        started_by: &str,
        meters_total: u64,
        now_ms: i64,
    ) -> Result<BillingRun, StoreError> {
        let writer = self.writer.lock().await;
        add_billing_run(writer.client(), period, started_by, meters_total, now_ms).await
    }

    async fn update_billing_run(&self, run: &BillingRun) -> Result<(), StoreError> {
        update_billing_run(self.writer.lock().await.client(), run).await
    }

    async fn billing_run(&self, id: u64) -> Result<Option<BillingRun>, StoreError> {
        Ok(billing_runs(&self.reader, Some(id), 1).await?.pop())
    }

    async fn billing_runs(&self, limit: usize) -> Result<Vec<BillingRun>, StoreError> {
        billing_runs(&self.reader, None, limit).await
    }

    async fn put_bills(&self, bills: &[BillRecord]) -> Result<(), StoreError> {
        put_bills(self.writer.lock().await.client_mut(), bills).await
    }

    async fn close_bills(&self, run_id: u64) -> Result<(), StoreError> {
        close_bills(self.writer.lock().await.client(), run_id).await
    }

    async fn period_closed(&self, period: &str) -> Result<bool, StoreError> {
        period_closed(&self.reader, period).await
    }

    async fn bills(&self, meter: &MeterId, limit: usize) -> Result<Vec<BillRecord>, StoreError> {
        bills(&self.reader, BillsOf::Meter(meter), limit).await
    }

    async fn bill(&self, id: u64) -> Result<Option<BillRecord>, StoreError> {
        Ok(bills(&self.reader, BillsOf::Bill(id), 1).await?.pop())
    }

    async fn run_bills(&self, run_id: u64, limit: usize) -> Result<Vec<BillRecord>, StoreError> {
        bills(&self.reader, BillsOf::Run(run_id), limit).await
    }
}
