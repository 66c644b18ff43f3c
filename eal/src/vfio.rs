//! Devices taken from the kernel with VFIO (DPDK's `eal_vfio.c` and `pci_vfio.c`), over
//! the `vfio-ioctls` crate (without its KVM support).
//!
//! VFIO hands a device bound to the `vfio-pci` driver to user space in three layers:
//! a *container* (`/dev/vfio/vfio`) owns one IOMMU address space; each *group*
//! (`/dev/vfio/<n>`, the devices the IOMMU cannot isolate from each other) joins a
//! container; a *device* file then gives its regions (BARs, configuration space) and
//! interrupts. Here:
//!
//! - [`Vfio`] is the process's container, with the type1 IOMMU; every device opened
//!   through it shares its DMA mappings. Each group is opened once, when the first of
//!   its devices is, and must be *viable*: all its devices on `vfio-pci` or no driver.
//! - [`VfioPciDevice`] is one opened PCI function: configuration space reads and writes,
//!   bus mastering, reset, its capability list, [`Bar`] mappings, DMA mappings and
//!   MSI-X vectors.
//! - [`Bar`] is a memory BAR mapped from the device file, with checked volatile register
//!   accesses. [`DmaMapping`] is a memory [`Region`](crate::memory::Region) entered in
//!   the IOMMU at its IOVAs. [`MsixVectors`] are MSI-X vectors signalled by eventfds.
//!
//! Under IOVA-as-VA (the default) a device addresses memory by the same numbers the
//! process does, so the IOMMU must translate as wide an address as user space uses (48
//! bits on x86-64), and no memory may sit at the IOVAs it reserves
//! ([`MSI_IOVA_WINDOW`]); [`VfioPciDevice::dma_map`] checks both.
//!
//! ```no_run
//! use burst_eal::pci::PciBus;
//! use burst_eal::vfio::{Vfio, VfioPciDevice};
//!
//! let pci = PciBus::default().device("0000:00:03.0".parse()?)?;
//! let vfio = Vfio::open()?;
//! let dev = VfioPciDevice::open(&vfio, &pci)?;
//! dev.enable_bus_master()?;
//! let bar0 = dev.bar(0)?;
//! println!("RAL0 {:#010x}", bar0.read32(0x5400));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bar;
mod device;
mod dma;
mod error;
mod msix;

use std::fmt;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use vfio_ioctls::VfioContainer;

pub use bar::Bar;
pub use device::{BarInfo, VfioPciDevice};
pub use dma::{DmaMapping, MSI_IOVA_WINDOW};
pub use error::VfioError;
pub use msix::MsixVectors;

/// The VFIO container device: one IOMMU address space per open file.
const CONTAINER_PATH: &str = "/dev/vfio/vfio";

/// The process's VFIO container (DPDK's default container), with the type1 IOMMU.
/// Cloning it is cheap and shares it.
///
/// All devices opened through one container share its IOMMU page tables, so memory is
/// mapped for DMA once for all of them. The IOMMU backend is set when the first group
/// joins, and torn down when the last device closes.
#[derive(Clone)]
pub struct Vfio {
    container: Arc<VfioContainer>,
}

impl Vfio {
    /// The process's container: the one already open if any handle to it is alive,
    /// otherwise a new one, checked for VFIO's API version and the type1 IOMMU.
    pub fn open() -> Result<Self, VfioError> {
        static PROCESS: Mutex<Weak<VfioContainer>> = Mutex::new(Weak::new());
        let mut shared = PROCESS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(container) = shared.upgrade() {
            return Ok(Self { container });
        }
        if !Path::new(CONTAINER_PATH).exists() {
            return Err(VfioError::NoVfio);
        }
        let container = VfioContainer::new(None).map_err(|err| match err {
            vfio_ioctls::VfioError::VfioExtension
            | vfio_ioctls::VfioError::VfioType1V2
            | vfio_ioctls::VfioError::VfioInvalidType => VfioError::NoType1Iommu,
            vfio_ioctls::VfioError::OpenContainer(ref io)
                if io.kind() == std::io::ErrorKind::NotFound =>
            {
                VfioError::NoVfio
            }
            other => VfioError::Container(other),
        })?;
        let container = Arc::new(container);
        *shared = Arc::downgrade(&container);
        Ok(Self { container })
    }
}

impl fmt::Debug for Vfio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vfio")
            .field("container_fd", &self.container.as_raw_fd())
            .finish()
    }
}
