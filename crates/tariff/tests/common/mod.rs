//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use jiff::Timestamp;
use joule_tariff::{
    Bill, Interval, Market, MeterData, Period, Plan, PreparedPeriod, RegisterRead, RegisterReads,
    ValidationRules,
};

pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

pub fn plan(toml: &str) -> Plan {
    Plan::from_toml(toml).unwrap_or_else(|error| panic!("{error}"))
}

/// `count` contiguous intervals of `duration_s` from `start`; `energy(k)` gives
/// (import, export) of the k-th in mWh.
pub fn intervals(
    start: &str,
    duration_s: u32,
    count: i64,
    energy: impl Fn(i64, Timestamp) -> (i64, i64),
) -> Vec<Interval> {
    let first = at(start).as_second();
    (0..count)
        .map(|k| {
            let start = Timestamp::from_second(first + k * i64::from(duration_s)).unwrap();
            let (import_mwh, export_mwh) = energy(k, start);
            Interval {
                start,
                duration_s,
                import_mwh,
                export_mwh,
                max_demand_w: None,
                estimated: false,
            }
        })
        .collect()
}

/// Registers that moved by exactly these amounts from an arbitrary reading.
pub fn registers(import_mwh: u64, export_mwh: u64) -> RegisterReads {
    let start = RegisterRead {
        import_mwh: 1_234_567_890,
        export_mwh: 987_654_321,
    };
    RegisterReads {
        start,
        end: RegisterRead {
            import_mwh: start.import_mwh + import_mwh,
            export_mwh: start.export_mwh + export_mwh,
        },
    }
}

pub fn meter<'a>(intervals: &'a [Interval], registers: Option<RegisterReads>) -> MeterData<'a> {
    MeterData {
        meter: "m-0001",
        intervals,
        registers,
        credit_in_mwh: 0,
        // The golden loads are constant on purpose, which the frozen-value check would
        // rightly flag; it has its own tests.
        rules: ValidationRules {
            frozen_intervals: 0,
            ..ValidationRules::default()
        },
    }
}

pub fn bill(plan: &Plan, period: Period, market: &Market, meter: &MeterData<'_>) -> Bill {
    PreparedPeriod::new(plan, period, market)
        .and_then(|prepared| prepared.bill(meter))
        .unwrap_or_else(|error| panic!("{error}"))
}

/// (description, quantity, unit price, amount) of every line.
pub fn lines(bill: &Bill) -> Vec<(String, String, String, i64)> {
    bill.lines
        .iter()
        .map(|l| {
            (
                l.description.clone(),
                l.quantity.clone(),
                l.unit_price.clone(),
                l.amount_minor,
            )
        })
        .collect()
}

pub fn row(
    description: &str,
    quantity: &str,
    unit_price: &str,
    amount_minor: i64,
) -> (String, String, String, i64) {
    (
        description.into(),
        quantity.into(),
        unit_price.into(),
        amount_minor,
    )
}
