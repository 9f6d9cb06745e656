//! SQLite: tariff plans, market prices, billing runs and bills.

use super::SqliteStore;
use crate::billing::{BILL_COLUMNS, BILLING_RUN_COLUMNS, PRICE_COLUMNS, TARIFF_COLUMNS};
use crate::{
    BillRecord, BillingRun, BillingStore, BillsOf, RunStatus, StoreError, TariffRecord, billing,
    check_replacement, corrupt, parse_plan, stored_plan, to_i64, to_u64,
};
use async_trait::async_trait;
use joule_protocol::MeterId;
use joule_tariff::PricePoint;
use rusqlite::{Connection, OptionalExtension, params};

/// The schema these functions use (one migration).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE tariffs (
    name TEXT PRIMARY KEY,
    toml TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE prices (
    market TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    duration_s INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    PRIMARY KEY (market, start_ms)
) WITHOUT ROWID;
CREATE TABLE billing_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    period TEXT NOT NULL,
    started_by TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    meters_done INTEGER NOT NULL,
    meters_total INTEGER NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE bills (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    meter_id TEXT NOT NULL,
    period TEXT NOT NULL,
    plan TEXT NOT NULL,
    currency TEXT NOT NULL,
    currency_digits INTEGER NOT NULL,
    total_minor INTEGER NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    bill TEXT NOT NULL,
    UNIQUE (meter_id, period)
);
CREATE INDEX bills_by_run ON bills (run_id);
CREATE INDEX bills_by_period ON bills (period, closed);
"#;

pub(super) fn put_tariff(
    connection: &mut Connection,
    toml: &str,
    now_ms: i64,
) -> Result<TariffRecord, StoreError> {
    let plan = parse_plan(toml)?;
    let transaction = connection.transaction()?;
    let old: Option<String> = transaction
        .query_row(
            "SELECT toml FROM tariffs WHERE name = ?1",
            params![plan.name()],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(old) = old {
        check_replacement(&old, toml, &stored_plan(&old)?, now_ms)?;
    }
    transaction.execute(
        "INSERT INTO tariffs (name, toml, updated_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET toml = excluded.toml, updated_ms = excluded.updated_ms",
        params![plan.name(), toml, now_ms],
    )?;
    transaction.commit()?;
    Ok(TariffRecord {
        name: plan.name().to_owned(),
        toml: toml.to_owned(),
        plan,
        updated_ms: now_ms,
    })
}

pub(super) fn tariffs(
    connection: &Connection,
    name: Option<&str>,
) -> Result<Vec<TariffRecord>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {TARIFF_COLUMNS} FROM tariffs WHERE ?1 IS NULL OR name = ?1 ORDER BY name"
        ))?
        .query_and_then(params![name], |row| billing::tariff(row))?
        .collect()
}

pub(super) fn delete_tariff(connection: &mut Connection, name: &str) -> Result<(), StoreError> {
    let transaction = connection.transaction()?;
    let users: i64 = transaction.query_row(
        "SELECT COUNT(*) FROM meters WHERE tariff = ?1",
        params![name],
        |row| row.get(0),
    )?;
    if users > 0 {
        return Err(StoreError::TariffInUse(name.to_owned(), to_u64(users)));
    }
    if transaction.execute("DELETE FROM tariffs WHERE name = ?1", params![name])? == 0 {
        return Err(StoreError::NoTariff(name.to_owned()));
    }
    transaction.commit()?;
    Ok(())
}

pub(super) fn put_prices(
    connection: &mut Connection,
    market: &str,
    points: &[PricePoint],
) -> Result<usize, StoreError> {
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare_cached(
            "INSERT INTO prices (market, start_ms, duration_s, price_micros)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (market, start_ms) DO UPDATE SET duration_s = excluded.duration_s,
                 price_micros = excluded.price_micros",
        )?;
        for point in points {
            insert.execute(params![
                market,
                point.start.as_millisecond(),
                point.end.as_second() - point.start.as_second(),
                point.price_per_kwh.0
            ])?;
        }
    }
    transaction.commit()?;
    Ok(points.len())
}

pub(super) fn prices(
    connection: &Connection,
    market: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<PricePoint>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {PRICE_COLUMNS} FROM prices
             WHERE market = ?1 AND start_ms < ?3 AND start_ms + duration_s * 1000 > ?2
             ORDER BY start_ms"
        ))?
        .query_and_then(params![market, from_ms, to_ms], |row| {
            billing::price_point(row)
        })?
        .collect()
}

pub(super) fn add_billing_run(
    connection: &Connection,
    period: &str,
    started_by: &str,
    meters_total: u64,
    now_ms: i64,
) -> Result<BillingRun, StoreError> {
    let run = BillingRun {
        id: 0,
        period: period.to_owned(),
        started_by: started_by.to_owned(),
        started_ms: now_ms,
        finished_ms: None,
        meters_done: 0,
        meters_total,
        status: RunStatus::Running,
        summary: Default::default(),
    };
    let summary = serde_json::to_string(&run.summary).map_err(corrupt("run summary"))?;
    connection.execute(
        "INSERT INTO billing_runs (period, started_by, started_ms, meters_done, meters_total,
         status, summary) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
        params![
            period,
            started_by,
            now_ms,
            to_i64(meters_total),
            run.status.name(),
            summary
        ],
    )?;
    Ok(BillingRun {
        id: to_u64(connection.last_insert_rowid()),
        ..run
    })
}

pub(super) fn update_billing_run(
    connection: &Connection,
    run: &BillingRun,
) -> Result<(), StoreError> {
    let summary = serde_json::to_string(&run.summary).map_err(corrupt("run summary"))?;
    connection.execute(
        "UPDATE billing_runs SET finished_ms = ?2, meters_done = ?3, meters_total = ?4,
         status = ?5, summary = ?6 WHERE id = ?1",
        params![
            to_i64(run.id),
            run.finished_ms,
            to_i64(run.meters_done),
            to_i64(run.meters_total),
            run.status.name(),
            summary
        ],
    )?;
    Ok(())
}

pub(super) fn billing_runs(
    connection: &Connection,
    id: Option<u64>,
    limit: usize,
) -> Result<Vec<BillingRun>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {BILLING_RUN_COLUMNS} FROM billing_runs WHERE ?1 IS NULL OR id = ?1
             ORDER BY id DESC LIMIT ?2"
        ))?
        .query_and_then(params![id.map(to_i64), to_i64(limit as u64)], |row| {
            billing::billing_run(row)
        })?
        .collect()
}

pub(super) fn put_bills(
    connection: &mut Connection,
    bills: &[BillRecord],
) -> Result<(), StoreError> {
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare_cached(
            "INSERT INTO bills (run_id, meter_id, period, plan, currency, currency_digits,
             total_minor, closed, created_ms, bill)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9)
             ON CONFLICT (meter_id, period) DO UPDATE SET run_id = excluded.run_id,
                 plan = excluded.plan, currency = excluded.currency,
                 currency_digits = excluded.currency_digits,
                 total_minor = excluded.total_minor, closed = 0,
                 created_ms = excluded.created_ms, bill = excluded.bill",
        )?;
        for bill in bills {
            insert.execute(params![
                to_i64(bill.run_id),
                bill.meter.as_str(),
                bill.period,
                bill.plan,
                bill.currency,
                bill.currency_digits,
                bill.total_minor,
                bill.created_ms,
                bill.json
            ])?;
        }
    }
    transaction.commit()?;
    Ok(())
}

pub(super) fn close_bills(connection: &Connection, run_id: u64) -> Result<(), StoreError> {
    connection.execute(
        "UPDATE bills SET closed = 1 WHERE run_id = ?1",
        params![to_i64(run_id)],
    )?;
    Ok(())
}

pub(super) fn period_closed(connection: &Connection, period: &str) -> Result<bool, StoreError> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM bills WHERE period = ?1 AND closed = 1)",
        params![period],
        |row| row.get(0),
    )?)
}

pub(super) fn bills(
    connection: &Connection,
    of: BillsOf<'_>,
    limit: usize,
) -> Result<Vec<BillRecord>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {BILL_COLUMNS}
             FROM bills WHERE (?1 IS NULL OR meter_id = ?1) AND (?2 IS NULL OR id = ?2)
                 AND (?3 IS NULL OR run_id = ?3)
             ORDER BY period DESC, id DESC LIMIT ?4"
        ))?
        .query_and_then(
            params![
                of.meter().map(MeterId::as_str),
                of.bill().map(to_i64),
                of.run().map(to_i64),
                to_i64(limit as u64)
            ],
            |row| billing::bill(row),
        )?
        .collect()
}

#[async_trait]
impl BillingStore for SqliteStore {
    async fn put_tariff(&self, toml: &str, now_ms: i64) -> Result<TariffRecord, StoreError> {
        let toml = toml.to_owned();
        self.blocking(move |db| put_tariff(&mut db.writer(), &toml, now_ms))
            .await
    }

    async fn tariff(&self, name: &str) -> Result<Option<TariffRecord>, StoreError> {
        let name = name.to_owned();
        self.blocking(move |db| Ok(tariffs(&db.reader(), Some(&name))?.pop()))
            .await
    }

    async fn tariffs(&self) -> Result<Vec<TariffRecord>, StoreError> {
        self.blocking(|db| tariffs(&db.reader(), None)).await
    }

    async fn delete_tariff(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.blocking(move |db| delete_tariff(&mut db.writer(), &name))
            .await
    }

    async fn put_prices(
        &self,
        market: &str,
        points: &[joule_tariff::PricePoint],
    ) -> Result<usize, StoreError> {
        let (market, points) = (market.to_owned(), points.to_vec());
        self.blocking(move |db| put_prices(&mut db.writer(), &market, &points))
            .await
    }

    async fn prices(
        &self,
        market: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<joule_tariff::PricePoint>, StoreError> {
        let market = market.to_owned();
        self.blocking(move |db| prices(&db.reader(), &market, from_ms, to_ms))
            .await
    }

    async fn add_billing_run(
        &self,
        period: &str,
        started_by: &str,
        meters_total: u64,
        now_ms: i64,
    ) -> Result<BillingRun, StoreError> {
        let (period, started_by) = (period.to_owned(), started_by.to_owned());
        self.blocking(move |db| {
            add_billing_run(&db.writer(), &period, &started_by, meters_total, now_ms)
        })
        .await
    }

    async fn update_billing_run(&self, run: &BillingRun) -> Result<(), StoreError> {
        let run = run.clone();
        self.blocking(move |db| update_billing_run(&db.writer(), &run))
            .await
    }

    async fn billing_run(&self, id: u64) -> Result<Option<BillingRun>, StoreError> {
        self.blocking(move |db| Ok(billing_runs(&db.reader(), Some(id), 1)?.pop()))
            .await
    }

    async fn billing_runs(&self, limit: usize) -> Result<Vec<BillingRun>, StoreError> {
        self.blocking(move |db| billing_runs(&db.reader(), None, limit))
            .await
    }

    async fn put_bills(&self, bills: &[BillRecord]) -> Result<(), StoreError> {
        let bills = bills.to_vec();
        self.blocking(move |db| put_bills(&mut db.writer(), &bills))
            .await
    }

    async fn close_bills(&self, run_id: u64) -> Result<(), StoreError> {
        self.blocking(move |db| close_bills(&db.writer(), run_id))
            .await
    }

    async fn period_closed(&self, period: &str) -> Result<bool, StoreError> {
        let period = period.to_owned();
        self.blocking(move |db| period_closed(&db.reader(), &period))
            .await
    }

    async fn bills(&self, meter: &MeterId, limit: usize) -> Result<Vec<BillRecord>, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| bills(&db.reader(), BillsOf::Meter(&meter), limit))
            .await
    }

    async fn bill(&self, id: u64) -> Result<Option<BillRecord>, StoreError> {
        self.blocking(move |db| Ok(bills(&db.reader(), BillsOf::Bill(id), 1)?.pop()))
            .await
    }

    async fn run_bills(&self, run_id: u64, limit: usize) -> Result<Vec<BillRecord>, StoreError> {
        self.blocking(move |db| bills(&db.reader(), BillsOf::Run(run_id), limit))
            .await
    }
}
