//! Virtual devices (`--vdev name,key=value,...`): the registry of virtual drivers and
//! the checked reading of their arguments (DPDK's `rte_vdev` and `rte_kvargs`).

use burst_eal::{Devargs, Eal};

use crate::drivers::{null, pcap, ring};
use crate::ethdev::{Driver, EthError, Port, PortId};

/// How a virtual driver makes the device of port `PortId` from its arguments.
pub type ProbeFn = fn(&VdevArgs<'_>, PortId) -> Result<Box<dyn Driver>, EthError>;

/// A virtual driver: its name (`net_null`) and how it makes a device from devargs.
pub struct VdevDriver {
    /// The name `--vdev` strings start with, before the instance number.
    pub name: &'static str,
    /// Makes the device for port `port` from its arguments.
    pub probe: ProbeFn,
}

/// Every virtual driver burst has.
pub const DRIVERS: &[VdevDriver] = &[null::DRIVER, ring::DRIVER, pcap::DRIVER];

/// Makes port `id` from one `--vdev` devargs.
pub fn probe(devargs: &Devargs, id: PortId) -> Result<Port, EthError> {
    let driver = DRIVERS
        .iter()
        .find(|d| d.name == devargs.driver())
        .ok_or_else(|| {
            let known: Vec<_> = DRIVERS.iter().map(|d| d.name).collect();
            EthError::UnknownDriver(devargs.driver().to_string(), known.join(", "))
        })?;
    let dev = (driver.probe)(&VdevArgs(devargs), id)?;
    log::info!("port {id}: {} ({})", devargs.name(), driver.name);
    Ok(Port::new(id, devargs.name(), dev))
}

/// Makes a port of every `--vdev` the EAL was given, numbered from 0 in command-line
/// order (as DPDK numbers virtual devices when there is no PCI device).
pub fn probe_all(eal: &Eal) -> Result<Vec<Port>, EthError> {
    eal.vdevs()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let id = PortId::try_from(i).map_err(|_| EthError::Devargs {
                dev: d.name().into(),
                msg: "too many ports".into(),
            })?;
            probe(d, id)
        })
        .collect()
}

/// A device's arguments with checked accessors: unknown keys and malformed values are
/// errors naming the device, the key and what is expected.
pub struct VdevArgs<'a>(pub &'a Devargs);

impl VdevArgs<'_> {
    /// The device name, e.g. `net_pcap0`.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// An error about this device.
    pub fn error(&self, msg: impl Into<String>) -> EthError {
        EthError::Devargs {
            dev: self.0.name().into(),
            msg: msg.into(),
        }
    }

    /// Fails on any key not in `known`.
    pub fn check_keys(&self, known: &[&str]) -> Result<(), EthError> {
        match self
            .0
            .args()
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            Some((k, _)) => Err(self.error(format!(
                "unknown argument '{k}' (expected: {})",
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    /// Every value given for `key`, in order (e.g. several `rx_pcap`).
    pub fn get_all<'b>(&'b self, key: &'b str) -> impl Iterator<Item = &'b str> + 'b {
        self.0
            .args()
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` as an unsigned number in `range`, or `default` when absent.
    pub fn get_u32(
        &self,
        key: &str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, EthError> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        match v.parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(self.error(format!(
                "{key}={v}: expected a number in {}..={}",
                range.start(),
                range.end()
            ))),
        }
    }

    /// `key` as a DPDK flag (`0` or `1`; given alone means `1`), `false` when absent.
    pub fn get_flag(&self, key: &str) -> Result<bool, EthError> {
        match self.get(key) {
            None | Some("0") => Ok(false),
            Some("1") | Some("") => Ok(true),
            Some(v) => Err(self.error(format!("{key}={v}: expected 0 or 1"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Devargs {
        Devargs::parse(s).unwrap()
    }

    #[test]
    fn unknown_driver_names_the_known_ones() {
        let err = probe(&args("net_bogus0"), 0).unwrap_err().to_string();
        assert!(err.contains("unknown device driver 'net_bogus'"), "{err}");
        assert!(err.contains("net_null"), "{err}");
    }

    #[test]
    fn checked_accessors() {
        let d = args("net_null0,size=128,copy,bad=x");
        let a = VdevArgs(&d);
        assert_eq!(a.get_u32("size", 64, 1..=9000).unwrap(), 128);
        assert_eq!(a.get_u32("absent", 64, 1..=9000).unwrap(), 64);
        assert!(a.get_flag("copy").unwrap());
        assert!(!a.get_flag("no-rx").unwrap());
        let e = a.check_keys(&["size", "copy"]).unwrap_err().to_string();
        assert_eq!(
            e,
            "net_null0: unknown argument 'bad' (expected: size, copy)"
        );
        let d = args("net_null0,size=0");
        let e = VdevArgs(&d)
            .get_u32("size", 64, 1..=9000)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "net_null0: size=0: expected a number in 1..=9000");
        let d = args("net_null0,copy=yes");
        assert!(VdevArgs(&d).get_flag("copy").is_err());
    }
}
