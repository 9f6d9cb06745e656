//! What one telegram says, in Joule's units: energy registers as integer watt-hours, power as
//! integer watts, the meter's own timestamps as written.
//!
//! Every field is optional because every variant leaves some out (DSMR 2.2 has no timestamp,
//! Smarty no tariff split, most single-phase meters no L2/L3); the methods combine what is
//! there into the totals the meter agent wants.

use crate::timestamp::DsmrTimestamp;

/// One parsed P1 telegram. Fields name the OBIS code they come from; `None` means the
/// telegram had no such line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Telegram {
    /// The header line without its `/`, e.g. `ISk5\2MT382-1000`: three letters of
    /// manufacturer, the baud rate character, then the meter's identification.
    pub header: String,
    /// P1 version as written: `1-3:0.2.8` (`42`, `50`) or, in Belgium, `0-0:96.1.4`
    /// (`50217`). DSMR 2.2 and 3 have none.
    pub version: Option<String>,
    /// The CRC written after `!`, already checked against the telegram's bytes; `None` for
    /// DSMR 2.2 and 3, which have no CRC.
    pub crc: Option<u16>,
    /// When the meter wrote the telegram (`0-0:1.0.0`), in its local civil time.
    pub timestamp: Option<DsmrTimestamp>,
    /// Equipment identifier (`0-0:96.1.1`), as written (usually hex-encoded ASCII).
    pub equipment_id: Option<String>,
    /// Luxembourg Smarty logical device name (`0-0:42.0.0`), as written.
    pub logical_device_name: Option<String>,
    /// Energy delivered to the client, all tariffs (`1-0:1.8.0`, Smarty and Sagemcom), Wh.
    pub import_total_wh: Option<u64>,
    /// Energy delivered to the client in tariff 1 (`1-0:1.8.1`), Wh.
    pub import_tariff1_wh: Option<u64>,
    /// Energy delivered to the client in tariff 2 (`1-0:1.8.2`), Wh.
    pub import_tariff2_wh: Option<u64>,
    /// Energy delivered by the client, all tariffs (`1-0:2.8.0`), Wh.
    pub export_total_wh: Option<u64>,
    /// Energy delivered by the client in tariff 1 (`1-0:2.8.1`), Wh.
    pub export_tariff1_wh: Option<u64>,
    /// Energy delivered by the client in tariff 2 (`1-0:2.8.2`), Wh.
    pub export_tariff2_wh: Option<u64>,
    /// Tariff in force (`0-0:96.14.0`): 1 or 2. In the Netherlands 1 is the low (night)
    /// tariff; in Belgium 1 is day and 2 night.
    pub tariff: Option<u16>,
    /// Power delivered to the client (`1-0:1.7.0`), W.
    pub import_power_w: Option<u32>,
    /// Power delivered by the client (`1-0:2.7.0`), W.
    pub export_power_w: Option<u32>,
    /// Per-phase readings: index 0 is L1, 1 is L2, 2 is L3.
    pub phases: [PhaseReadings; 3],
    /// Number of power failures in any phase (`0-0:96.7.21`).
    pub power_failures: Option<u32>,
    /// Number of long power failures in any phase (`0-0:96.7.9`).
    pub long_power_failures: Option<u32>,
    /// The long power failure event log (`1-0:99.97.0`), in the order the meter wrote it;
    /// `None` when the telegram has no such line.
    pub power_failure_log: Option<Vec<PowerFailure>>,
    /// Text message (`0-0:96.13.0`) as written (hex-encoded from DSMR 4 on), the pieces of a
    /// message split over several lines joined.
    pub text_message: Option<String>,
    /// Belgium: current average demand over the running quarter hour (`1-0:1.4.0`), W.
    pub average_demand_w: Option<u32>,
    /// Belgium: the highest quarter-hour demand this month (`1-0:1.6.0`).
    pub max_demand_month: Option<PeakDemand>,
    /// Luxembourg: reactive energy imported, Q+ (`1-0:3.8.0`), varh.
    pub reactive_import_varh: Option<u64>,
    /// Luxembourg: reactive energy exported, Q− (`1-0:4.8.0`), varh.
    pub reactive_export_varh: Option<u64>,
    /// Luxembourg: reactive power imported, Q+ (`1-0:3.7.0`), var.
    pub reactive_import_power_var: Option<u32>,
    /// Luxembourg: reactive power exported, Q− (`1-0:4.7.0`), var.
    pub reactive_export_power_var: Option<u32>,
    /// Devices on the meter's M-Bus (gas, water, heat), ordered by channel.
    pub mbus: Vec<MbusChannel>,
    /// Lines with an OBIS code this crate does not map (switch position, limiter threshold,
    /// Belgian 13-month demand history, ...): tolerated, and counted here.
    pub unknown_lines: u32,
}

/// What the meter reports for one phase.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PhaseReadings {
    /// Instantaneous voltage (`1-0:32.7.0`, `52.7.0`, `72.7.0`), V.
    pub voltage_v: Option<f64>,
    /// Instantaneous current (`1-0:31.7.0`, `51.7.0`, `71.7.0`), A. Most meters round it to
    /// whole amperes and report its magnitude only.
    pub current_a: Option<f64>,
    /// Power delivered to the client on this phase (`1-0:21.7.0`, `41.7.0`, `61.7.0`), W.
    pub import_power_w: Option<u32>,
    /// Power delivered by the client on this phase (`1-0:22.7.0`, `42.7.0`, `62.7.0`), W.
    pub export_power_w: Option<u32>,
    /// Number of voltage sags (`1-0:32.32.0`, `52.32.0`, `72.32.0`).
    pub voltage_sags: Option<u32>,
    /// Number of voltage swells (`1-0:32.36.0`, `52.36.0`, `72.36.0`).
    pub voltage_swells: Option<u32>,
}

/// One entry of the long power failure log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerFailure {
    /// When the failure ended.
    pub ended: DsmrTimestamp,
    /// How long it lasted, s.
    pub duration_s: u64,
}

/// A demand peak with the time it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeakDemand {
    /// When the peak quarter hour was measured.
    pub at: DsmrTimestamp,
    /// The peak's average power, W.
    pub power_w: u32,
}

/// One device on the meter's M-Bus (`0-n:` codes, n the channel).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MbusChannel {
    /// The M-Bus channel, 1 to 4.
    pub channel: u8,
    /// Device type (`0-n:24.1.0`) per EN 13757-3: 3 gas, 4 heat, 7 water.
    pub device_type: Option<u16>,
    /// Equipment identifier (`0-n:96.1.0`, in Belgium `0-n:96.1.1`), as written.
    pub equipment_id: Option<String>,
    /// The last reading the meter received from the device.
    pub reading: Option<MbusReading>,
}

/// A meter reading relayed from an M-Bus device: `0-n:24.2.1` (DSMR 4/5, temperature
/// corrected gas), `0-n:24.2.3` (Belgium, not corrected) or `0-n:24.3.0` (DSMR 2.2/3, value
/// on the next line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MbusReading {
    /// When the device's value was captured.
    pub captured: DsmrTimestamp,
    /// The value in thousandths of `unit` (for `m3`, litres), exact.
    pub value_milli: u64,
    /// The unit as written, e.g. `m3` or `GJ`.
    pub unit: String,
}

/// EN 13757-3 device type of a gas meter.
const MBUS_GAS: u16 = 3;

impl Telegram {
    /// Energy delivered to the client, Wh: the all-tariff register when the meter has one,
    /// otherwise the sum of the tariff registers it has; `None` when it has neither.
    pub fn import_wh(&self) -> Option<u64> {
        total(
            self.import_total_wh,
            [self.import_tariff1_wh, self.import_tariff2_wh],
        )
    }

    /// Energy delivered by the client, Wh, on the same rule as [`Telegram::import_wh`].
    pub fn export_wh(&self) -> Option<u64> {
        total(
            self.export_total_wh,
            [self.export_tariff1_wh, self.export_tariff2_wh],
        )
    }

    /// Net active power, W: positive when the client imports, negative when it exports
    /// (Joule's sign convention). A missing direction counts as zero; `None` when the
    /// telegram has neither.
    pub fn net_power_w(&self) -> Option<i64> {
        if self.import_power_w.is_none() && self.export_power_w.is_none() {
            return None;
        }
        let import = i64::from(self.import_power_w.unwrap_or(0));
        let export = i64::from(self.export_power_w.unwrap_or(0));
        Some(import - export)
    }

    /// The gas meter: the first M-Bus channel whose device type is gas, or, when no channel
    /// states a type (some DSMR 2.2 meters), the first with a reading in m³.
    pub fn gas(&self) -> Option<&MbusChannel> {
        self.mbus
            .iter()
            .find(|ch| ch.device_type == Some(MBUS_GAS))
            .or_else(|| {
                self.mbus.iter().find(|ch| {
                    ch.device_type.is_none() && ch.reading.as_ref().is_some_and(|r| r.unit == "m3")
                })
            })
    }

    /// The M-Bus channel `channel`, added (in channel order) when the telegram has not
    /// mentioned it before.
    pub(crate) fn mbus_channel_mut(&mut self, channel: u8) -> &mut MbusChannel {
        let index = match self.mbus.binary_search_by_key(&channel, |ch| ch.channel) {
            Ok(index) => index,
            Err(index) => {
                self.mbus.insert(
                    index,
                    MbusChannel {
                        channel,
                        ..MbusChannel::default()
                    },
                );
                index
            }
        };
        &mut self.mbus[index]
    }
}

impl MbusReading {
    /// The reading as a volume in litres when its unit is m³ (gas, water).
    pub fn volume_l(&self) -> Option<u64> {
        (self.unit == "m3").then_some(self.value_milli)
    }
}

/// The all-tariff register, else the sum of the tariff registers present.
fn total(all: Option<u64>, tariffs: [Option<u64>; 2]) -> Option<u64> {
    all.or_else(|| {
        tariffs
            .into_iter()
            .flatten()
            .reduce(|sum, register| sum.saturating_add(register))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_prefer_the_all_tariff_register_and_else_sum_the_tariffs() {
        let mut t = Telegram::default();
        assert_eq!(t.import_wh(), None);
        t.import_tariff1_wh = Some(1_581_123);
        assert_eq!(t.import_wh(), Some(1_581_123));
        t.import_tariff2_wh = Some(1_435_706);
        assert_eq!(t.import_wh(), Some(3_016_829));
        t.import_total_wh = Some(3_016_830);
        assert_eq!(t.import_wh(), Some(3_016_830));
        t.export_tariff2_wh = Some(58);
        assert_eq!(t.export_wh(), Some(58));
    }

    #[test]
    fn net_power_is_positive_on_import_and_negative_on_export() {
        let mut t = Telegram::default();
        assert_eq!(t.net_power_w(), None);
        t.import_power_w = Some(2027);
        assert_eq!(t.net_power_w(), Some(2027));
        t.export_power_w = Some(0);
        assert_eq!(t.net_power_w(), Some(2027));
        t.import_power_w = Some(0);
        t.export_power_w = Some(3412);
        assert_eq!(t.net_power_w(), Some(-3412));
        t.import_power_w = None;
        assert_eq!(t.net_power_w(), Some(-3412));
    }

    #[test]
    fn channels_stay_in_order_and_gas_is_found_by_type_or_unit() {
        let mut t = Telegram::default();
        t.mbus_channel_mut(2).device_type = Some(7);
        t.mbus_channel_mut(1).device_type = Some(3);
        t.mbus_channel_mut(2).equipment_id = Some("water".into());
        assert_eq!(t.mbus.iter().map(|c| c.channel).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(t.gas().map(|c| c.channel), Some(1));

        let captured = crate::timestamp::DsmrTimestamp::parse("161107190000").expect("valid");
        let mut legacy = Telegram::default();
        legacy.mbus_channel_mut(1).reading = Some(MbusReading {
            captured,
            value_milli: 1_001,
            unit: "m3".into(),
        });
        let gas = legacy.gas().and_then(|c| c.reading.as_ref());
        assert_eq!(gas.and_then(MbusReading::volume_l), Some(1_001));
        legacy.mbus[0].reading.as_mut().expect("set above").unit = "GJ".into();
        assert_eq!(legacy.gas(), None);
    }
}
