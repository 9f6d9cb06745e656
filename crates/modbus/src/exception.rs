//! The Modbus exceptions the server answers with. The register maps return them, so the
//! decision "which exception" is made (and tested) without a socket.

/// A Modbus exception response code (Modbus Application Protocol v1.1b3, section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exception {
    /// 0x01: the function code is not one this server answers (every write, for one).
    #[error("illegal function (0x01)")]
    IllegalFunction,
    /// 0x02: the registers asked for are not all in the map.
    #[error("illegal data address (0x02)")]
    IllegalDataAddress,
    /// 0x03: the quantity is 0 or more than 125 registers, or the request is malformed.
    #[error("illegal data value (0x03)")]
    IllegalDataValue,
}

impl Exception {
    /// The exception code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::IllegalFunction => 0x01,
            Self::IllegalDataAddress => 0x02,
            Self::IllegalDataValue => 0x03,
        }
    }
}

/// The most registers one read may ask for (Modbus: 125 for functions 03 and 04).
pub const MAX_READ_REGISTERS: u16 = 125;

/// Checks a read of `count` registers from `start` against a map holding `len` registers
/// from `first`, in the order the Modbus specification checks them: quantity first
/// (`IllegalDataValue`), then addresses (`IllegalDataAddress`). Returns the offset of
/// `start` in the map.
pub(crate) fn check_read(start: u16, count: u16, first: u16, len: u16) -> Result<usize, Exception> {
    if count == 0 || count > MAX_READ_REGISTERS {
        return Err(Exception::IllegalDataValue);
    }
    let start = u32::from(start);
    let end = start + u32::from(count);
    let first = u32::from(first);
    if start < first || end > first + u32::from(len) {
        return Err(Exception::IllegalDataAddress);
    }
    usize::try_from(start - first).map_err(|_| Exception::IllegalDataAddress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_is_checked_before_addresses() {
        assert_eq!(check_read(0, 0, 0, 10), Err(Exception::IllegalDataValue));
        assert_eq!(
            check_read(500, 126, 0, 10),
            Err(Exception::IllegalDataValue)
        );
        assert_eq!(check_read(9, 2, 0, 10), Err(Exception::IllegalDataAddress));
        assert_eq!(check_read(4, 2, 5, 10), Err(Exception::IllegalDataAddress));
        assert_eq!(
            check_read(u16::MAX, 125, 0, u16::MAX),
            Err(Exception::IllegalDataAddress)
        );
        assert_eq!(check_read(8, 2, 0, 10), Ok(8));
        assert_eq!(check_read(14, 1, 5, 10), Ok(9));
    }

    #[test]
    fn codes_are_the_specifications() {
        assert_eq!(Exception::IllegalFunction.code(), 1);
        assert_eq!(Exception::IllegalDataAddress.code(), 2);
        assert_eq!(Exception::IllegalDataValue.code(), 3);
    }
}
