//! MSI-X vectors signalled through eventfds: how an idle lcore sleeps until its queue's
//! interrupt (DPDK's rx-interrupt mode, like NAPI re-enabling the IRQ).

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Arc;

use vfio_ioctls::VfioDevice;
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use super::VfioError;
use crate::PciAddr;

/// A device's MSI-X vectors `0..len()`, each routed by VFIO to an eventfd that counts its
/// interrupts; disabled again on drop. Made by
/// [`VfioPciDevice::enable_msix`](super::VfioPciDevice::enable_msix).
///
/// Poll or `epoll` an [`eventfd`](Self::eventfd) for readability to wait for its vector;
/// reading it returns and clears the count. The device raises a vector only once its
/// driver enables the interrupt cause in the device's own registers.
pub struct MsixVectors {
    eventfds: Vec<EventFd>,
    device: Arc<VfioDevice>,
}

#[expect(
    clippy::len_without_is_empty,
    reason = "at least one vector is always enabled"
)]
impl MsixVectors {
    /// Routes vectors `0..count` of `device` (at `addr`) to fresh non-blocking eventfds.
    pub(super) fn enable(
        device: Arc<VfioDevice>,
        addr: PciAddr,
        count: u32,
    ) -> Result<Self, VfioError> {
        let eventfds = new_eventfds(count).map_err(VfioError::Eventfd)?;
        device
            .enable_msix(eventfds.iter().collect())
            .map_err(|source| VfioError::MsixEnable {
                addr,
                vectors: count,
                source,
            })?;
        Ok(Self { eventfds, device })
    }

    /// How many vectors are enabled.
    pub fn len(&self) -> usize {
        self.eventfds.len()
    }

    /// The eventfd that vector `vector` signals.
    ///
    /// # Panics
    /// If `vector >= self.len()`.
    pub fn eventfd(&self, vector: usize) -> BorrowedFd<'_> {
        let fd = self.eventfds[vector].as_raw_fd();
        // SAFETY: the eventfd is owned by `self.eventfds` and stays open for the borrow.
        unsafe { BorrowedFd::borrow_raw(fd) }
    }
}

impl Drop for MsixVectors {
    fn drop(&mut self) {
        if let Err(err) = self.device.disable_msix() {
            log::error!("cannot disable MSI-X: {err}");
        }
    }
}

impl fmt::Debug for MsixVectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fds: Vec<_> = self.eventfds.iter().map(AsRawFd::as_raw_fd).collect();
        f.debug_struct("MsixVectors")
            .field("eventfds", &fds)
            .finish_non_exhaustive()
    }
}

/// `count` non-blocking eventfds, as VFIO_DEVICE_SET_IRQS takes them.
fn new_eventfds(count: u32) -> io::Result<Vec<EventFd>> {
    (0..count).map(|_| EventFd::new(EFD_NONBLOCK)).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn eventfds_are_distinct_nonblocking_and_count() {
        let fds = new_eventfds(3).unwrap();
        let raw: HashSet<_> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        assert_eq!(raw.len(), 3);
        for fd in &fds {
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
            assert_eq!(link.to_str(), Some("anon_inode:[eventfd]"));
            // Nothing signalled yet: a non-blocking read says so instead of waiting.
            assert_eq!(
                fd.read().unwrap_err().kind(),
                std::io::ErrorKind::WouldBlock
            );
        }
        // What an interrupt does: the kernel adds to the counter; a read clears it.
        fds[1].write(1).unwrap();
        fds[1].write(1).unwrap();
        assert_eq!(fds[1].read().unwrap(), 2);
    }
}
