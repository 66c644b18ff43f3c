//! burst's ethdev layer and poll-mode drivers (DPDK's `rte_ethdev` and `drivers/net`).
//!
//! The control plane probes ports from `--vdev` strings ([`vdev::probe_all`]),
//! configures them and sets up queues; each [`RxQueue`]/[`TxQueue`] then moves to the
//! lcore that polls it. One virtual call per burst, none per packet.

pub mod drivers;
mod ethdev;
pub mod pci;
mod stats;
pub mod vdev;

pub use ethdev::{
    DEFAULT_MTU, DevInfo, Driver, EthConf, EthError, Link, MacAddr, Port, PortId, PortState,
    RxBurst, RxQueue, TxBurst, TxQueue, rx_offload,
};
pub use stats::{QueueCounters, QueueSnapshot, Stats};

use burst_eal::Eal;

/// Makes a port of every device the EAL was given, numbered as DPDK numbers them: the
/// PCI devices a driver claims first (in scan order, or `-a` order), then the
/// `--vdev`s in command-line order. See [`pci::probe`] for what is skipped.
pub fn probe_all(eal: &Eal) -> Result<Vec<Port>, EthError> {
    let mut ports = pci::probe(eal, 0)?;
    for devargs in eal.vdevs() {
        let id = PortId::try_from(ports.len()).map_err(|_| EthError::Devargs {
            dev: devargs.name().into(),
            msg: "too many ports".into(),
        })?;
        ports.push(vdev::probe(devargs, id)?);
    }
    Ok(ports)
}
