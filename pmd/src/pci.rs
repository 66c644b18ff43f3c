//! PCI devices (DPDK's PCI bus driver registration and probe, `rte_bus_pci`): the
//! registry of drivers by vendor:device ID, the probe that makes a [`Port`] of every
//! PCI device the EAL's options select and a driver claims, and the DMA mappings of
//! mempools shared by every device of the process's VFIO container.
//!
//! Ports are numbered as DPDK numbers them: PCI devices first, in scan order (by
//! address) or, with `-a`, in allow-list order; then `--vdev`s ([`crate::probe_all`]).
//! A PCI device no driver claims is skipped. One a driver claims must be bound to
//! `vfio-pci`: with `-a` it is an error otherwise (saying how to bind it); in a scan
//! of every device it is skipped with a warning, as the kernel may be using it.

use std::io;
use std::sync::{Mutex, PoisonError};

use burst_eal::Eal;
use burst_eal::pci::{self, AllowedDevice};
use burst_eal::vfio::{DmaMapping, Vfio, VfioError, VfioPciDevice};
use burst_mempool::PktPool;

use crate::drivers::{e1000e, virtio};
use crate::ethdev::{Driver, EthError, Port, PortId};

/// How a PCI driver makes the device of port `PortId` from its opened VFIO device and
/// its `-a` arguments; the EAL gives it memory for descriptor rings.
pub type ProbeFn =
    fn(&Eal, VfioPciDevice, &PciArgs<'_>, PortId) -> Result<Box<dyn Driver>, EthError>;

/// A PCI vendor and device ID pair a driver claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciId {
    /// Vendor ID (`0x8086` for Intel).
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
}

/// A PCI driver: its name (DPDK's, e.g. `net_e1000_em`), the IDs it claims and how it
/// makes a device.
pub struct PciDriver {
    /// The driver's name, for logs and errors.
    pub name: &'static str,
    /// The devices it drives.
    pub ids: &'static [PciId],
    /// Makes the device of a port.
    pub probe: ProbeFn,
}

/// Every PCI driver burst has.
pub const DRIVERS: &[PciDriver] = &[e1000e::DRIVER, virtio::DRIVER];

/// The driver claiming devices of `vendor`:`device`, if any.
pub fn driver_for(vendor: u16, device: u16) -> Option<&'static PciDriver> {
    let id = PciId { vendor, device };
    DRIVERS.iter().find(|d| d.ids.contains(&id))
}

/// The `key=value` arguments given to a device after its address with `-a`, with
/// checked access: unknown keys are errors naming the device.
pub struct PciArgs<'a> {
    /// The device's address, e.g. `0000:00:03.0`.
    name: String,
    args: &'a [(String, String)],
}

impl<'a> PciArgs<'a> {
    /// The arguments `args` of the device named `name`.
    pub fn new(name: impl Into<String>, args: &'a [(String, String)]) -> Self {
        Self {
            name: name.into(),
            args,
        }
    }

    /// Fails on any key not in `known`.
    pub fn check_keys(&self, known: &[&str]) -> Result<(), EthError> {
        match self.args.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => Err(EthError::Devargs {
                dev: self.name.clone(),
                msg: if known.is_empty() {
                    format!("unknown argument '{k}' (the driver takes none)")
                } else {
                    format!("unknown argument '{k}' (expected: {})", known.join(", "))
                },
            }),
            None => Ok(()),
        }
    }
}

/// An error of the VFIO or PCI layer (or of memory) on device `dev` while doing `what`,
/// as an [`EthError::Io`] that keeps its message, which says what to do.
pub(crate) fn device_error(
    dev: &str,
    what: &str,
    err: impl std::error::Error + Send + Sync + 'static,
) -> EthError {
    EthError::Io {
        dev: dev.to_owned(),
        what: what.to_owned(),
        source: io::Error::other(err),
    }
}

/// Readies a device a driver claimed: resets it (if it can be reset) and lets it
/// master the bus, for its DMA.
pub(crate) fn reset_for_dma(dev: &VfioPciDevice) -> Result<(), EthError> {
    let name = dev.addr().to_string();
    match dev.reset() {
        Ok(()) | Err(VfioError::ResetUnsupported { .. }) => {}
        Err(err) => return Err(device_error(&name, "reset", err)),
    }
    dev.enable_bus_master()
        .map_err(|err| device_error(&name, "enable bus mastering", err))
}

/// Makes a port of every PCI device the EAL selects and a driver claims, numbered from
/// `first_id` (see the module docs for the order and what is skipped). Opens the VFIO
/// container only if some device is claimed.
pub fn probe(eal: &Eal, first_id: PortId) -> Result<Vec<Port>, EthError> {
    let devices = pci::scan_allowed(eal).map_err(|err| device_error("PCI bus", "scan", err))?;
    let explicit = !eal.pci_allow_list().is_empty();
    let mut vfio = None;
    let mut ports = Vec::new();
    for AllowedDevice { device, args, .. } in devices {
        let name = device.addr.to_string();
        let Some(driver) = driver_for(device.vendor_id, device.device_id) else {
            if explicit {
                log::warn!(
                    "{name} ({:04x}:{:04x}): no burst driver for this device, skipped",
                    device.vendor_id,
                    device.device_id
                );
            }
            continue;
        };
        if let Err(err) = device.require_vfio_pci() {
            if explicit {
                return Err(device_error(&name, driver.name, err));
            }
            log::warn!("{name}: skipped: {err}");
            continue;
        }
        let id = first_id
            .checked_add(PortId::try_from(ports.len()).unwrap_or(PortId::MAX))
            .ok_or_else(|| EthError::Devargs {
                dev: name.clone(),
                msg: "too many ports".into(),
            })?;
        let vfio = match &vfio {
            Some(vfio) => vfio,
            None => vfio.insert(
                Vfio::open().map_err(|err| device_error(&name, "open the VFIO container", err))?,
            ),
        };
        let dev = VfioPciDevice::open(vfio, &device)
            .map_err(|err| device_error(&name, "open with VFIO", err))?;
        let driver_dev = (driver.probe)(eal, dev, &PciArgs::new(name.as_str(), &args), id)?;
        log::info!(
            "port {id}: {name} ({:04x}:{:04x}, {})",
            device.vendor_id,
            device.device_id,
            driver.name
        );
        ports.push(Port::new(id, name, driver_dev));
    }
    Ok(ports)
}

/// A mempool's memory mapped for DMA in the process's VFIO container: one mapping per
/// pool, shared by the devices that use the pool, removed when the last [`PoolDma`]
/// of it is dropped. Devices of one container share its IOMMU page tables, and VFIO
/// refuses to map a region twice, hence the sharing.
struct MappedPool {
    /// The pool's first byte: the key.
    va: usize,
    /// [`PoolDma`]s alive for it.
    holders: usize,
    /// Dropped before `_pool`, whose memory it maps.
    _mapping: DmaMapping,
    /// Keeps the pool's memory while it is mapped.
    _pool: PktPool,
}

/// The pools mapped in the process's container.
static MAPPED: Mutex<Vec<MappedPool>> = Mutex::new(Vec::new());

/// A hold on the DMA mapping of a mempool's memory: while it lives, devices of the
/// process's VFIO container can read and write the pool's mbufs.
pub(crate) struct PoolDma {
    va: usize,
}

/// Maps `pool`'s memory for DMA in `dev`'s container, or shares the mapping made
/// already.
pub(crate) fn map_pool(dev: &VfioPciDevice, pool: &PktPool) -> Result<PoolDma, EthError> {
    let va = pool.region().as_ptr().as_ptr().addr();
    let mut mapped = MAPPED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(entry) = mapped.iter_mut().find(|m| m.va == va) {
        entry.holders += 1;
        return Ok(PoolDma { va });
    }
    let mapping = dev
        .dma_map(pool.region())
        .map_err(|err| device_error(&dev.addr().to_string(), "map the mempool for DMA", err))?;
    log::debug!(
        "mempool '{}' mapped for DMA: {:?}",
        pool.name(),
        mapping.segments()
    );
    mapped.push(MappedPool {
        va,
        holders: 1,
        _mapping: mapping,
        _pool: pool.clone(),
    });
    Ok(PoolDma { va })
}

impl Drop for PoolDma {
    fn drop(&mut self) {
        let mut mapped = MAPPED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = mapped.iter().position(|m| m.va == self.va) {
            mapped[at].holders -= 1;
            if mapped[at].holders == 0 {
                // Unmapped (the mapping is the first field to drop), then the pool goes.
                mapped.swap_remove(at);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_82574_is_claimed_by_id() {
        assert_eq!(
            driver_for(0x8086, 0x10d3).map(|d| d.name),
            Some("net_e1000e")
        );
        assert!(driver_for(0x8086, 0x10d4).is_none());
    }

    #[test]
    fn modern_virtio_net_is_claimed_by_id() {
        assert_eq!(
            driver_for(0x1af4, 0x1041).map(|d| d.name),
            Some("net_virtio")
        );
        assert!(driver_for(0x1af4, 0x1000).is_none(), "legacy virtio-net");
    }

    #[test]
    fn unknown_pci_args_are_refused() {
        let args = [("rxq".to_string(), "2".to_string())];
        let err = PciArgs::new("0000:00:03.0", &args)
            .check_keys(&[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "0000:00:03.0: unknown argument 'rxq' (the driver takes none)"
        );
        let err = PciArgs::new("0000:00:03.0", &args)
            .check_keys(&["a", "b"])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "0000:00:03.0: unknown argument 'rxq' (expected: a, b)");
        PciArgs::new("0000:00:03.0", &[]).check_keys(&[]).unwrap();
    }
}
