//! PCI addresses (domain:bus:device.function), as `-a`/`-b` and sysfs name devices.

use std::fmt;
use std::str::FromStr;

use crate::devargs::{Devargs, DevargsError};

/// A PCI device address: `[domain:]bus:device.function` in hexadecimal, e.g.
/// `0000:01:00.0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddr {
    domain: u32,
    bus: u8,
    device: u8,
    function: u8,
}

/// A string that is not a PCI address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{text}' is not a PCI address: write [domain:]bus:device.function in hexadecimal, \
     e.g. 0000:01:00.0 (device up to 1f, function up to 7)"
)]
pub struct PciAddrError {
    text: String,
}

impl PciAddr {
    /// The address, if `device` < 32 and `function` < 8.
    pub const fn new(domain: u32, bus: u8, device: u8, function: u8) -> Option<Self> {
        if device < 32 && function < 8 {
            Some(Self {
                domain,
                bus,
                device,
                function,
            })
        } else {
            None
        }
    }

    /// The PCI segment (domain).
    pub const fn domain(self) -> u32 {
        self.domain
    }

    /// The bus number.
    pub const fn bus(self) -> u8 {
        self.bus
    }

    /// The device number, below 32.
    pub const fn device(self) -> u8 {
        self.device
    }

    /// The function number, below 8.
    pub const fn function(self) -> u8 {
        self.function
    }
}

impl FromStr for PciAddr {
    type Err = PciAddrError;

    /// Parses `DDDD:BB:DD.F` or `BB:DD.F` (domain 0), hex digits in either case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || PciAddrError { text: text.into() };
        let (rest, function) = text.rsplit_once('.').ok_or_else(err)?;
        let mut parts = rest.rsplit(':');
        let device = parts.next().ok_or_else(err)?;
        let bus = parts.next().ok_or_else(err)?;
        let domain = parts.next().unwrap_or("0");
        if parts.next().is_some() {
            return Err(err());
        }
        let hex = |digits: &str, max_len: usize| {
            if digits.is_empty()
                || digits.len() > max_len
                || !digits.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return None;
            }
            u32::from_str_radix(digits, 16).ok()
        };
        let domain = hex(domain, 8).ok_or_else(err)?;
        let bus = hex(bus, 2).and_then(|n| u8::try_from(n).ok());
        let device = hex(device, 2).and_then(|n| u8::try_from(n).ok());
        let function = hex(function, 1).and_then(|n| u8::try_from(n).ok());
        match (bus, device, function) {
            (Some(bus), Some(device), Some(function)) => {
                Self::new(domain, bus, device, function).ok_or_else(err)
            }
            _ => Err(err()),
        }
    }
}

impl fmt::Display for PciAddr {
    /// The sysfs form, `0000:01:00.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

/// A PCI device from the allow list (`-a`), with the driver arguments given after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciDevargs {
    addr: PciAddr,
    args: Vec<(String, String)>,
}

/// Why an `-a` argument was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PciDevargsError {
    /// The part after the address is malformed.
    #[error(transparent)]
    Devargs(#[from] DevargsError),
    /// The part before the first comma is not a PCI address.
    #[error(transparent)]
    Addr(#[from] PciAddrError),
}

impl PciDevargs {
    /// Parses `<[domain:]bus:device.function>[,key=value,...]`.
    pub fn parse(text: &str) -> Result<Self, PciDevargsError> {
        let (name, args) = Devargs::parse(text)?.into_parts();
        Ok(Self {
            addr: name.parse()?,
            args,
        })
    }

    /// The device's address.
    pub fn addr(&self) -> PciAddr {
        self.addr
    }

    /// The `key=value` pairs for its driver, in order.
    pub fn args(&self) -> &[(String, String)] {
        &self.args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        let cases = [
            ("0000:01:00.0", (0, 1, 0, 0), "0000:01:00.0"),
            ("01:00.1", (0, 1, 0, 1), "0000:01:00.1"),
            ("1:2.3", (0, 1, 2, 3), "0000:01:02.3"),
            ("ABCD:fF:1f.7", (0xabcd, 0xff, 0x1f, 7), "abcd:ff:1f.7"),
            ("10000:00:02.0", (0x10000, 0, 2, 0), "10000:00:02.0"),
        ];
        for (text, (domain, bus, device, function), shown) in cases {
            let addr: PciAddr = text.parse().unwrap();
            assert_eq!(
                (addr.domain(), addr.bus(), addr.device(), addr.function()),
                (domain, bus, device, function),
                "{text}"
            );
            assert_eq!(addr.to_string(), shown);
        }
        assert_eq!(PciAddr::new(0, 0, 32, 0), None);
        assert_eq!(PciAddr::new(0, 0, 0, 8), None);
    }

    #[test]
    fn bad_addresses() {
        for text in [
            "",
            "zz",
            "00:00",
            "0000:00:00",
            "0000:00:00.",
            "0000:00:20.0",
            "0000:00:00.8",
            "0000:100:00.0",
            "0:0:0:0.0",
            "0000:00:0g.0",
            "+0:00:00.0",
            "123456789:00:00.0",
            "net_null0",
        ] {
            let err = text.parse::<PciAddr>().unwrap_err();
            assert!(
                err.to_string().contains("e.g. 0000:01:00.0"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn allow_list_entries() {
        let dev = PciDevargs::parse("0000:01:00.0,rxq=4,flag").unwrap();
        assert_eq!(dev.addr(), "01:00.0".parse().unwrap());
        assert_eq!(
            dev.args(),
            [("rxq".into(), "4".into()), ("flag".into(), String::new())]
        );
        assert!(PciDevargs::parse("01:00.0").unwrap().args().is_empty());
        assert!(matches!(
            PciDevargs::parse("zz,k=v"),
            Err(PciDevargsError::Addr(_))
        ));
        assert!(matches!(
            PciDevargs::parse("01:00.0,=v"),
            Err(PciDevargsError::Devargs(DevargsError::BadKey { .. }))
        ));
    }
}
