//! Reads an Eastron SDM120 or SDM630 that a user already owns, over Modbus TCP or RTU on a
//! serial port, into a [`Snapshot`], so the meter agent can use an installed meter as its
//! source instead of Joule's own metrology.
//!
//! Two reads of input registers per poll (the manual allows 40 values, 80 registers, per
//! request): 0x0000–0x004F (everything instantaneous, frequency and the four energy
//! registers) and 0x0054–0x0057 (demand). The SDM120 has the single-phase subset of the
//! same addresses and answers zeros between them. Its kWh/kVArh floats become integer
//! milli-units here, once; an energy value that is negative or not finite is an error, not
//! a reading.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_modbus::client::{Context, Reader, rtu, tcp};
use tokio_modbus::{ExceptionCode, Slave};

use crate::link::{Link, Parity};
use crate::sdm::{self, SDM_MAP, float_at};
use crate::snapshot::{PhaseValues, Phases, ReactiveEnergy, Snapshot};
use crate::telemetry::PollFailed;

/// Which Eastron meter is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdmModel {
    /// Single phase.
    Sdm120,
    /// Three phase (its single-phase wiring mode reads zeros on phases 2 and 3).
    Sdm630,
}

/// What to poll, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollerConfig {
    /// The device's name in errors and logs.
    pub name: String,
    /// Its model.
    pub model: SdmModel,
    /// How to reach it.
    pub link: Link,
    /// Its Modbus unit (slave) id; Eastron meters ship with 1.
    pub unit_id: u8,
    /// How long to wait for a connection or for each answer.
    pub timeout: Duration,
}

impl PollerConfig {
    /// A device on `link` with unit id 1 and a 1 s timeout.
    pub fn new(name: impl Into<String>, model: SdmModel, link: Link) -> Self {
        Self {
            name: name.into(),
            model,
            link,
            unit_id: 1,
            timeout: Duration::from_secs(1),
        }
    }
}

/// Why a poll failed. Connection, timeout and transport errors are the link's
/// ([`PollError::is_transport`]); exceptions and implausible answers are the device's.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The link could not be opened.
    #[error("{device}: cannot open {link}: {source}")]
    Connect {
        /// The device's name.
        device: String,
        /// The link, as configured.
        link: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// No answer (or no connection) within the configured timeout.
    #[error("{device}: no answer within {timeout:?} reading input registers {start:#06x}+{count}")]
    Timeout {
        /// The device's name.
        device: String,
        /// First register asked for.
        start: u16,
        /// Registers asked for.
        count: u16,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The exchange failed below Modbus (I/O, framing, mismatched answer).
    #[error("{device}: transport failed reading input registers {start:#06x}+{count}: {source}")]
    Transport {
        /// The device's name.
        device: String,
        /// First register asked for.
        start: u16,
        /// Registers asked for.
        count: u16,
        /// tokio-modbus's error.
        #[source]
        source: tokio_modbus::Error,
    },
    /// The device answered with a Modbus exception.
    #[error(
        "{device}: answered exception \"{exception}\" to reading input registers {start:#06x}+{count}"
    )]
    Exception {
        /// The device's name.
        device: String,
        /// First register asked for.
        start: u16,
        /// Registers asked for.
        count: u16,
        /// The exception.
        exception: ExceptionCode,
    },
    /// The device answered with another number of registers than asked for.
    #[error("{device}: answered {got} registers to a read of {count} from {start:#06x}")]
    Length {
        /// The device's name.
        device: String,
        /// First register asked for.
        start: u16,
        /// Registers asked for.
        count: u16,
        /// Registers answered.
        got: usize,
    },
    /// A value no meter measures (NaN, infinite, or a negative energy register).
    #[error("{device}: {name} (input register {address:#06x}) reads {value}")]
    Value {
        /// The device's name.
        device: String,
        /// The Eastron manual's name of the value.
        name: &'static str,
        /// Its address.
        address: u16,
        /// What it read.
        value: f32,
    },
}

impl PollError {
    /// Whether the link failed (rather than the device answering something unusable).
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Timeout { .. } | Self::Transport { .. }
        )
    }
}

/// The two reads of a poll: (first register, count).
const READS: [(u16, u16); 2] = [(0x0000, 80), (sdm::DEMAND, 4)];

/// Polls one Eastron meter; connects on first use and again after a link failure.
pub struct Poller {
    config: PollerConfig,
    context: Option<Context>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("config", &self.config)
            .field("connected", &self.context.is_some())
            .finish()
    }
}

impl Poller {
    /// A poller for `config` (nothing is opened before the first poll).
    pub fn new(config: PollerConfig) -> Self {
        Self {
            config,
            context: None,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &PollerConfig {
        &self.config
    }

    /// Reads the meter once.
    pub async fn poll(&mut self) -> Result<Snapshot, PollError> {
        let result = self.read_snapshot().await;
        if let Err(error) = &result {
            PollFailed {
                device: &self.config.name,
                error,
            }
            .emit();
            // After a timeout or a garbled answer, a late reply could be taken for the next
            // request's: start over on a fresh connection.
            if !matches!(error, PollError::Exception { .. } | PollError::Value { .. }) {
                self.context = None;
            }
        }
        result
    }

    async fn read_snapshot(&mut self) -> Result<Snapshot, PollError> {
        let [(start, count), (demand_start, demand_count)] = READS;
        let values = self.read(start, count).await?;
        let demand = self.read(demand_start, demand_count).await?;
        decode(&self.config, &values, &demand)
    }

    async fn read(&mut self, start: u16, count: u16) -> Result<Vec<u16>, PollError> {
        let device = || self.config.name.clone();
        let wait = self.config.timeout;
        let context = match self.context.take() {
            Some(context) => context,
            None => connect(&self.config).await?,
        };
        let context = self.context.insert(context);
        let answer = timeout(wait, context.read_input_registers(start, count))
            .await
            .map_err(|_| PollError::Timeout {
                device: device(),
                start,
                count,
                timeout: wait,
            })?;
        let registers = answer
            .map_err(|source| PollError::Transport {
                device: device(),
                start,
                count,
                source,
            })?
            .map_err(|exception| PollError::Exception {
                device: device(),
                start,
                count,
                exception,
            })?;
        if registers.len() != usize::from(count) {
            return Err(PollError::Length {
                device: device(),
                start,
                count,
                got: registers.len(),
            });
        }
        Ok(registers)
    }
}

async fn connect(config: &PollerConfig) -> Result<Context, PollError> {
    let failed = |source: io::Error| PollError::Connect {
        device: config.name.clone(),
        link: config.link.to_string(),
        source,
    };
    let slave = Slave(config.unit_id);
    match &config.link {
        Link::Tcp { host, port } => {
            let stream = timeout(config.timeout, TcpStream::connect((host.as_str(), *port)))
                .await
                .map_err(|_| failed(io::ErrorKind::TimedOut.into()))?
                .map_err(failed)?;
            let _ = stream.set_nodelay(true);
            Ok(tcp::attach_slave(stream, slave))
        }
        Link::Rtu { path, baud, parity } => {
            let builder = tokio_serial::new(path, *baud)
                .data_bits(tokio_serial::DataBits::Eight)
                .stop_bits(tokio_serial::StopBits::One)
                .parity(match parity {
                    Parity::None => tokio_serial::Parity::None,
                    Parity::Even => tokio_serial::Parity::Even,
                });
            let port =
                tokio_serial::SerialStream::open(&builder).map_err(|error| failed(error.into()))?;
            Ok(rtu::attach_slave(port, slave))
        }
    }
}

/// The snapshot in `values` (registers 0x0000..0x0050) and `demand` (0x0054..0x0058).
fn decode(config: &PollerConfig, values: &[u16], demand: &[u16]) -> Result<Snapshot, PollError> {
    let float = |registers: &[u16], first: u16, address: u16| {
        let value = float_at(registers, first, address).unwrap_or(f32::NAN);
        if value.is_finite() {
            Ok(f64::from(value))
        } else {
            Err(invalid(config, address, value))
        }
    };
    let at = |address| float(values, 0, address);
    let energy = |address| {
        let kilo = at(address)?;
        if kilo < 0.0 {
            return Err(invalid(config, address, kilo as f32));
        }
        // kWh (or kVArh) to mWh: the float's own precision, rounded once.
        Ok((kilo * 1e6).round() as u64)
    };
    let phases = match config.model {
        SdmModel::Sdm120 => Phases::One,
        SdmModel::Sdm630 => Phases::Three,
    };
    let mut phase = [PhaseValues::default(); 3];
    for (index, values) in phase.iter_mut().enumerate().take(phases.count()) {
        *values = PhaseValues {
            voltage_v: at(sdm::VOLTS[index])?,
            current_a: at(sdm::CURRENT[index])?,
            p_w: at(sdm::POWER[index])?,
            s_va: at(sdm::APPARENT[index])?,
            q_var: at(sdm::REACTIVE[index])?,
            pf: at(sdm::POWER_FACTOR[index])?,
        };
    }
    // The SDM120 has no system totals: its one phase is the total.
    let (p_w, s_va, q_var, pf) = match config.model {
        SdmModel::Sdm120 => (phase[0].p_w, phase[0].s_va, phase[0].q_var, phase[0].pf),
        SdmModel::Sdm630 => (
            at(sdm::TOTAL_POWER)?,
            at(sdm::TOTAL_APPARENT)?,
            at(sdm::TOTAL_REACTIVE)?,
            at(sdm::TOTAL_POWER_FACTOR)?,
        ),
    };
    Ok(Snapshot {
        phases,
        phase,
        p_w,
        s_va,
        q_var,
        pf,
        frequency_hz: Some(at(sdm::FREQUENCY)?),
        import_mwh: energy(sdm::IMPORT_KWH)?,
        export_mwh: energy(sdm::EXPORT_KWH)?,
        reactive: ReactiveEnergy::Directions {
            import_mvarh: energy(sdm::IMPORT_KVARH)?,
            export_mvarh: energy(sdm::EXPORT_KVARH)?,
        },
        apparent: None,
        total_demand_w: float(demand, sdm::DEMAND, sdm::DEMAND)?,
        max_demand_w: float(demand, sdm::DEMAND, sdm::MAX_DEMAND)?,
    })
}

fn invalid(config: &PollerConfig, address: u16, value: f32) -> PollError {
    let name = SDM_MAP
        .iter()
        .find(|entry| entry.address == address)
        .map_or("register", |entry| entry.name);
    PollError::Value {
        device: config.name.clone(),
        name,
        address,
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::three_phase;
    use crate::sdm::sdm_input_registers;

    fn config(model: SdmModel) -> PollerConfig {
        PollerConfig::new("garage SDM", model, Link::rtu("/dev/null"))
    }

    fn registers(snapshot: &Snapshot) -> (Vec<u16>, Vec<u16>) {
        let [(start, count), (demand_start, demand_count)] = READS;
        (
            sdm_input_registers(snapshot, start, count).expect("values"),
            sdm_input_registers(snapshot, demand_start, demand_count).expect("demand"),
        )
    }

    #[test]
    fn the_reads_cover_every_register_decoded_within_the_devices_limit() {
        assert!(READS.iter().all(|&(_, count)| count <= 80));
        let covered = |address: u16| {
            READS
                .iter()
                .any(|&(start, count)| address >= start && address + 2 <= start + count)
        };
        for address in [
            sdm::VOLTS[2],
            sdm::TOTAL_POWER_FACTOR,
            sdm::EXPORT_KVARH,
            sdm::MAX_DEMAND,
        ] {
            assert!(covered(address), "{address:#06x}");
        }
    }

    #[test]
    fn an_sdm630_decodes_back_to_the_snapshot_it_was_built_from() {
        let original = three_phase();
        let (values, demand) = registers(&original);
        let decoded = decode(&config(SdmModel::Sdm630), &values, &demand).expect("decode");
        assert_eq!(decoded.phases, Phases::Three);
        assert_eq!(decoded.phase[1].p_w, -1000.0);
        assert_eq!(decoded.p_w, 1200.0);
        assert_eq!(decoded.frequency_hz, Some(f64::from(50.01_f32)));
        assert_eq!(decoded.import_mwh, 12_345_678);
        assert_eq!(decoded.export_mwh, 1_000_000);
        assert_eq!(decoded.reactive.import_mvarh(), 1_500_000);
        assert_eq!(decoded.reactive.export_mvarh(), 375_000);
        assert_eq!(decoded.reactive.quadrants(), None);
        assert_eq!(decoded.apparent, None);
        assert_eq!(
            (decoded.total_demand_w, decoded.max_demand_w),
            (900.0, 4200.0)
        );
    }

    #[test]
    fn an_sdm120_is_one_phase_whose_totals_are_that_phase() {
        let (values, demand) = registers(&three_phase());
        let decoded = decode(&config(SdmModel::Sdm120), &values, &demand).expect("decode");
        assert_eq!(decoded.phases, Phases::One);
        assert_eq!(decoded.p_w, 2000.0);
        assert_eq!(decoded.phase[1], PhaseValues::default());
    }

    #[test]
    fn negative_or_non_finite_values_are_errors_naming_the_register() {
        let (mut values, demand) = registers(&three_phase());
        values[0x4A..0x4C].copy_from_slice(&sdm::float_words(-1.0));
        let error = decode(&config(SdmModel::Sdm630), &values, &demand).expect_err("negative");
        assert_eq!(
            error.to_string(),
            "garage SDM: Export active energy (input register 0x004a) reads -1"
        );
        assert!(!error.is_transport());
        let (mut values, demand) = registers(&three_phase());
        values[0x02..0x04].copy_from_slice(&sdm::float_words(f64::NAN));
        let error = decode(&config(SdmModel::Sdm630), &values, &demand).expect_err("NaN");
        assert!(
            matches!(
                error,
                PollError::Value {
                    address: 0x0002,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_missing_serial_port_is_a_connect_error_naming_device_and_link() {
        let mut poller = Poller::new(PollerConfig::new(
            "garage SDM",
            SdmModel::Sdm120,
            Link::rtu("/dev/joule-no-such-port"),
        ));
        let error = poller.poll().await.expect_err("no port");
        assert!(error.is_transport());
        let message = error.to_string();
        assert!(
            message.starts_with("garage SDM: cannot open rtu:/dev/joule-no-such-port"),
            "{message}"
        );
    }
}
