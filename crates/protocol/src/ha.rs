//! Home Assistant MQTT discovery: the config documents that make a meter appear in Home
//! Assistant with its energy, power and supply sensors, in HA's documented format
//! (`homeassistant/<component>/<node_id>/<object_id>/config`, retained).
//!
//! The sensors read the meter's own `live` topic through value templates, and its `status`
//! topic is their availability, so Home Assistant needs nothing from the hub.

use crate::messages::RelayState;
use crate::topics::{MeterId, TopicKind, Topics};
use serde_json::{Map, Value, json};

/// The discovery prefix Home Assistant listens on by default.
pub const DISCOVERY_PREFIX: &str = "homeassistant";

/// One sensor: object id, name, unit, device class, state class, value template.
struct Sensor {
    object_id: &'static str,
    name: &'static str,
    unit: Option<&'static str>,
    device_class: Option<&'static str>,
    state_class: Option<&'static str>,
    template: &'static str,
}

const SENSORS: [Sensor; 9] = [
    Sensor {
        object_id: "energy_import",
        name: "Energy import",
        unit: Some("kWh"),
        device_class: Some("energy"),
        state_class: Some("total_increasing"),
        template: "{{ value_json.registers.import_mwh / 1000000 }}",
    },
    Sensor {
        object_id: "energy_export",
        name: "Energy export",
        unit: Some("kWh"),
        device_class: Some("energy"),
        state_class: Some("total_increasing"),
        template: "{{ value_json.registers.export_mwh / 1000000 }}",
    },
    Sensor {
        object_id: "power",
        name: "Power",
        unit: Some("W"),
        device_class: Some("power"),
        state_class: Some("measurement"),
        template: "{{ value_json.p_w }}",
    },
    Sensor {
        object_id: "voltage",
        name: "Voltage",
        unit: Some("V"),
        device_class: Some("voltage"),
        state_class: Some("measurement"),
        template: "{{ value_json.voltage_v }}",
    },
    Sensor {
        object_id: "current",
        name: "Current",
        unit: Some("A"),
        device_class: Some("current"),
        state_class: Some("measurement"),
        template: "{{ value_json.current_a }}",
    },
    Sensor {
        object_id: "power_factor",
        name: "Power factor",
        unit: None,
        device_class: Some("power_factor"),
        state_class: Some("measurement"),
        template: "{{ value_json.pf }}",
    },
    Sensor {
        object_id: "frequency",
        name: "Frequency",
        unit: Some("Hz"),
        device_class: Some("frequency"),
        state_class: Some("measurement"),
        template: "{{ value_json.freq_hz | default(none) }}",
    },
    Sensor {
        object_id: "tariff",
        name: "Tariff",
        unit: None,
        device_class: None,
        state_class: None,
        template: "{{ value_json.tariff + 1 }}",
    },
    Sensor {
        object_id: "relay",
        name: "Supply switch",
        unit: None,
        device_class: Some("enum"),
        state_class: None,
        template: "{{ value_json.relay }}",
    },
];

/// A meter's Home Assistant node id (HA node ids allow letters, digits, '_' and '-').
fn node_id(meter: &MeterId) -> String {
    format!("joule_{}", meter.as_str().replace('.', "_"))
}

/// Whether `topic` is one of `meter`'s own discovery config topics (a broker lets a meter
/// publish those, and nobody else's).
pub(crate) fn is_own_discovery_topic(meter: &MeterId, topic: &str) -> bool {
    let node_id = node_id(meter);
    SENSORS
        .iter()
        .any(|sensor| topic == config_topic(&node_id, sensor.object_id))
}

fn config_topic(node_id: &str, object_id: &str) -> String {
    format!("{DISCOVERY_PREFIX}/sensor/{node_id}/{object_id}/config")
}

/// The discovery documents for one meter: `(config topic, retained payload)` pairs.
pub fn discovery_documents(topics: &Topics, meter: &MeterId, model: &str) -> Vec<(String, Value)> {
    let node_id = node_id(meter);
    let device = json!({
        "identifiers": [node_id],
        "name": format!("Joule meter {meter}"),
        "manufacturer": "Joule",
        "model": model,
    });
    let state_topic = topics.topic(meter, TopicKind::Live);
    let availability_topic = topics.topic(meter, TopicKind::Status);
    SENSORS
        .iter()
        .map(|sensor| {
            let mut config = Map::new();
            let mut set = |key: &str, value: Value| {
                config.insert(key.to_owned(), value);
            };
            set("name", sensor.name.into());
            set(
                "unique_id",
                format!("{node_id}_{}", sensor.object_id).into(),
            );
            set(
                "object_id",
                format!("{node_id}_{}", sensor.object_id).into(),
            );
            set("state_topic", state_topic.clone().into());
            set("value_template", sensor.template.into());
            set("availability_topic", availability_topic.clone().into());
            set("payload_available", "online".into());
            set("payload_not_available", "offline".into());
            set("device", device.clone());
            let optional = [
                ("unit_of_measurement", sensor.unit),
                ("device_class", sensor.device_class),
                ("state_class", sensor.state_class),
            ];
            for (key, value) in optional {
                if let Some(value) = value {
                    set(key, value.into());
                }
            }
            if sensor.object_id == "relay" {
                set(
                    "options",
                    json!([
                        RelayState::Connected.as_str(),
                        RelayState::Disconnected.as_str(),
                        RelayState::ReadyForReconnection.as_str(),
                    ]),
                );
            }
            let config = Value::Object(config);
            let topic = config_topic(&node_id, sensor.object_id);
            (topic, config)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_sensors_follow_home_assistant_rules() {
        let meter = MeterId::new("m.0001").expect("id");
        let documents = discovery_documents(&Topics::default(), &meter, "simulated");
        assert_eq!(documents.len(), SENSORS.len());
        let (topic, import) = &documents[0];
        assert_eq!(
            topic,
            "homeassistant/sensor/joule_m_0001/energy_import/config"
        );
        assert_eq!(import["device_class"], "energy");
        assert_eq!(import["state_class"], "total_increasing");
        assert_eq!(import["unit_of_measurement"], "kWh");
        assert_eq!(import["state_topic"], "joule/v1/meters/m.0001/live");
        assert_eq!(
            import["availability_topic"],
            "joule/v1/meters/m.0001/status"
        );
        let ids: std::collections::HashSet<_> = documents
            .iter()
            .map(|(_, c)| c["unique_id"].to_string())
            .collect();
        assert_eq!(ids.len(), documents.len(), "unique ids are unique");
    }
}
