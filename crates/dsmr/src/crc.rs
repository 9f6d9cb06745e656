//! The checksum that closes a DSMR 4+ telegram (and the Belgian and Luxembourg variants):
//! CRC-16/ARC, polynomial 0x8005 reflected (0xA001), initial value 0, no final XOR, over
//! every byte from the leading `/` through the `!` inclusive, written after the `!` as four
//! hex digits.
//!
//! Written out here rather than taken from the `crc` crate: it is a dozen lines with one
//! caller, the table is built at compile time, and the crate keeps its dependencies to what it
//! cannot do without.

/// Byte-at-a-time lookup table for the reflected polynomial 0xA001.
const TABLE: [u16; 256] = build_table();

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// CRC-16/ARC of `bytes`, as DSMR 4 and later write it after the closing `!`.
///
/// Useful to anyone writing telegrams (simulators, test fixtures): the CRC covers the
/// telegram from `/` through `!`, both included.
///
/// ```
/// assert_eq!(joule_dsmr::crc16(b"123456789"), 0xBB3D);
/// ```
pub fn crc16(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |crc, &byte| {
        (crc >> 8) ^ TABLE[usize::from((crc ^ u16::from(byte)) & 0xFF)]
    })
}

#[cfg(test)]
mod tests {
    use super::crc16;

    #[test]
    fn matches_the_catalogued_check_value() {
        // The check value of CRC-16/ARC in the CRC catalogue: the CRC of ASCII "123456789".
        assert_eq!(crc16(b"123456789"), 0xBB3D);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn matches_a_bitwise_implementation_on_every_single_byte() {
        for byte in 0..=255u8 {
            let mut crc = u16::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xA001
                } else {
                    crc >> 1
                };
            }
            assert_eq!(crc16(&[byte]), crc, "byte {byte:#04x}");
        }
    }

    #[test]
    fn covers_a_published_dsmr_telegram() {
        // The DSMR 5 example from the dsmr-parser project's tests, closed by !6EEE.
        let telegram = "/ISk5\\2MT382-1000\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(170102192002W)\r\n\
            0-0:96.1.1(4B384547303034303436333935353037)\r\n1-0:1.8.1(000004.426*kWh)\r\n\
            1-0:1.8.2(000002.399*kWh)\r\n1-0:2.8.1(000002.444*kWh)\r\n1-0:2.8.2(000000.000*kWh)\r\n\
            0-0:96.14.0(0002)\r\n1-0:1.7.0(00.244*kW)\r\n1-0:2.7.0(00.000*kW)\r\n\
            0-0:96.7.21(00013)\r\n0-0:96.7.9(00000)\r\n1-0:99.97.0(0)(0-0:96.7.19)\r\n\
            1-0:32.32.0(00000)\r\n1-0:52.32.0(00000)\r\n1-0:72.32.0(00000)\r\n\
            1-0:32.36.0(00000)\r\n1-0:52.36.0(00000)\r\n1-0:72.36.0(00000)\r\n\
            0-0:96.13.0()\r\n1-0:32.7.0(0230.0*V)\r\n1-0:52.7.0(0230.0*V)\r\n\
            1-0:72.7.0(0229.0*V)\r\n1-0:31.7.0(0.48*A)\r\n1-0:51.7.0(0.44*A)\r\n\
            1-0:71.7.0(0.86*A)\r\n1-0:21.7.0(00.070*kW)\r\n1-0:41.7.0(00.032*kW)\r\n\
            1-0:61.7.0(00.142*kW)\r\n1-0:22.7.0(00.000*kW)\r\n1-0:42.7.0(00.000*kW)\r\n\
            1-0:62.7.0(00.000*kW)\r\n0-1:24.1.0(003)\r\n\
            0-1:96.1.0(3232323241424344313233343536373839)\r\n\
            0-1:24.2.1(170102161005W)(00000.107*m3)\r\n0-2:24.1.0(003)\r\n0-2:96.1.0()\r\n!";
        assert_eq!(crc16(telegram.as_bytes()), 0x6EEE);
    }
}
