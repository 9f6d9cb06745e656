//! The meter's metric names, each defined once, with what it measures: events count with
//! these constants, the exporter describes them from [`METRICS`], and a test checks that
//! docs/OPERATIONS.md lists every one.

/// Commands handled, labelled `action` (its wire type) and `outcome`.
pub const COMMANDS_TOTAL: &str = "joule_meter_commands_total";
/// Commands dropped because the agent's queue was full.
pub const COMMANDS_DROPPED_TOTAL: &str = "joule_meter_commands_dropped_total";
/// Messages from the hub refused as invalid.
pub const DOWNLINK_REFUSED_TOTAL: &str = "joule_meter_downlink_refused_total";
/// Connections to the broker made.
pub const UPLINK_CONNECTS_TOTAL: &str = "joule_meter_uplink_connects_total";
/// Connections to the broker lost.
pub const UPLINK_DISCONNECTS_TOTAL: &str = "joule_meter_uplink_disconnects_total";
/// Batch messages published (a backlog's readings and records many to a message).
pub const UPLINK_BATCHES_TOTAL: &str = "joule_meter_uplink_batches_total";
/// Messages waiting in the outbox now.
pub const OUTBOX_MESSAGES: &str = "joule_meter_outbox_messages";
/// Messages recorded into the outbox, labelled `kind` (the topic).
pub const OUTBOX_RECORDED_TOTAL: &str = "joule_meter_outbox_recorded_total";
/// Messages the hub confirmed stored, gone from the outbox.
pub const OUTBOX_ACKED_TOTAL: &str = "joule_meter_outbox_acked_total";
/// Live readings a full outbox dropped by thinning.
pub const OUTBOX_THINNED_TOTAL: &str = "joule_meter_outbox_thinned_total";
/// Saves of the register store.
pub const REGISTER_SAVES_TOTAL: &str = "joule_meter_register_saves_total";

/// How a metric behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One metric the meter emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Its name.
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Its labels.
    pub labels: &'static [&'static str],
    /// What it measures, for `# HELP`.
    pub help: &'static str,
}

const fn counter(
    name: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric {
        name,
        kind: MetricKind::Counter,
        labels,
        help,
    }
}

/// Every metric the meter emits.
pub const METRICS: [Metric; 11] = [
    counter(
        COMMANDS_TOTAL,
        &["action", "outcome"],
        "Commands handled, by action and outcome (done, rejected, expired).",
    ),
    counter(
        COMMANDS_DROPPED_TOTAL,
        &[],
        "Commands dropped because the agent's queue was full.",
    ),
    counter(
        DOWNLINK_REFUSED_TOTAL,
        &[],
        "Messages on the meter's topics refused as invalid.",
    ),
    counter(
        UPLINK_CONNECTS_TOTAL,
        &[],
        "Connections to the broker made.",
    ),
    counter(
        UPLINK_DISCONNECTS_TOTAL,
        &[],
        "Connections to the broker lost.",
    ),
    counter(
        UPLINK_BATCHES_TOTAL,
        &[],
        "Batch messages published: a backlog's live readings and interval records many to a message.",
    ),
    Metric {
        name: OUTBOX_MESSAGES,
        kind: MetricKind::Gauge,
        labels: &[],
        help: "Messages waiting in the outbox until the hub confirms them stored.",
    },
    counter(
        OUTBOX_RECORDED_TOTAL,
        &["kind"],
        "Messages recorded into the outbox, by topic kind.",
    ),
    counter(
        OUTBOX_ACKED_TOTAL,
        &[],
        "Messages the hub confirmed stored, removed from the outbox.",
    ),
    counter(
        OUTBOX_THINNED_TOTAL,
        &[],
        "Live readings a full outbox dropped by thinning.",
    ),
    counter(
        REGISTER_SAVES_TOTAL,
        &[],
        "Saves of the crash-safe register store.",
    ),
];

/// Gives the installed recorder each metric's help text.
pub fn describe() {
    for metric in METRICS {
        match metric.kind {
            MetricKind::Counter => metrics::describe_counter!(metric.name, metric.help),
            MetricKind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prometheus_names_of_the_meter() {
        let mut names: Vec<_> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        for metric in METRICS {
            assert!(metric.name.starts_with("joule_meter_"), "{}", metric.name);
            let counted = metric.name.ends_with("_total");
            assert_eq!(
                counted,
                metric.kind == MetricKind::Counter,
                "{}",
                metric.name
            );
        }
    }

    #[test]
    fn operations_lists_every_meter_and_modbus_metric() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/OPERATIONS.md");
        let operations = std::fs::read_to_string(path).expect("docs/OPERATIONS.md");
        let modbus = joule_modbus::telemetry::METRICS.iter().map(|m| m.name);
        for name in METRICS.iter().map(|m| m.name).chain(modbus) {
            assert!(
                operations.contains(&format!("`{name}`")),
                "docs/OPERATIONS.md does not list `{name}`"
            );
        }
    }
}
