//! Takes the PCI devices named with `-a` through VFIO and shows what burst's `pci` and
//! `vfio` modules see, as a driver's probe would: run in burst's test guest
//! (scripts/vm) with an e1000e at 0000:00:03.0 and a virtio-net at 0000:00:04.0.
//!
//! ```text
//! vfio_probe [EAL options] -a BDF [-a BDF...]
//! ```
//!
//! For each device: opens it, resets it, enables bus mastering, reads its IDs and
//! capability list from configuration space and maps its BARs; reads the MAC address of
//! an e1000e (8086:10d3) from RAL0/RAH0, and walks the virtio structures of a modern
//! virtio-net (1af4:1041) and reads their feature bits; maps a hugepage region for DMA;
//! enables two MSI-X vectors. Any error ends the program with status 1 and a message
//! saying what to do.

use std::fs;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use burst_eal::Eal;
use burst_eal::memory::Region;
use burst_eal::pci::{self, PciCapability};
use burst_eal::vfio::{Vfio, VfioError, VfioPciDevice};

/// e1000e (82574L datasheet 10.2.1.4): Receive Address Low/High of entry 0 and 1.
const RAL0: usize = 0x5400;
const RAH0: usize = 0x5404;
const RAL1: usize = 0x5408;

/// virtio 1.x common configuration (virtio spec 1.2, 4.1.4.3) offsets.
const DEVICE_FEATURE_SELECT: usize = 0x00;
const DEVICE_FEATURE: usize = 0x04;
const NUM_QUEUES: usize = 0x12;
/// VIRTIO_F_VERSION_1, feature bit 32 (bit 0 of the high word): a modern (1.x) device.
const VERSION_1_HIGH_BIT: u32 = 1;

fn main() -> ExitCode {
    let (eal, _) = Eal::init(std::env::args()).unwrap_or_else(|err| err.exit());
    if eal.pci_allow_list().is_empty() {
        eprintln!("vfio_probe: name the devices to probe with -a BDF");
        return ExitCode::from(2);
    }
    match run(&eal) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("vfio_probe: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(eal: &Eal) -> Result<(), Box<dyn std::error::Error>> {
    let devices = pci::scan_allowed(eal)?;
    let vfio = Vfio::open()?;
    // One hugepage region, mapped for DMA by each device in turn.
    let region = eal.memory().alloc(4 << 20)?;
    for allowed in devices {
        println!("vfio_probe: {}", allowed.device);
        let dev = VfioPciDevice::open(&vfio, &allowed.device)?;
        probe(&dev, &region)?;
        println!("{}: done", dev.addr());
    }
    Ok(())
}

fn probe(dev: &VfioPciDevice, region: &Region) -> Result<(), Box<dyn std::error::Error>> {
    let addr = dev.addr();
    match dev.reset() {
        Ok(()) => println!("{addr}: reset: ok"),
        Err(err @ VfioError::ResetUnsupported { .. }) => println!("{addr}: reset: {err}"),
        Err(err) => return Err(err.into()),
    }
    dev.enable_bus_master()?;
    let command = dev.config_read_u16(0x04)?;
    println!(
        "{addr}: command {command:#06x}, bus master {}",
        if command & 1 << 2 != 0 { "on" } else { "off" }
    );
    let (vendor, device) = (dev.config_read_u16(0x00)?, dev.config_read_u16(0x02)?);
    println!("{addr}: config space: vendor {vendor:04x} device {device:04x}");

    let caps = dev.capabilities()?;
    let list: Vec<_> = caps
        .iter()
        .map(|cap| format!("{:#04x}@{:#04x}", cap.id, cap.offset))
        .collect();
    println!("{addr}: capabilities: {}", list.join(" "));
    for index in 0..6 {
        if let Some(info) = dev.bar_info(index) {
            let kind = if info.mappable {
                "memory"
            } else {
                "not mappable"
            };
            println!("{addr}: BAR{index}: {:#x} bytes, {kind}", info.len);
        }
    }

    match (vendor, device) {
        (0x8086, 0x10d3) => e1000e(dev)?,
        (0x1af4, 0x1041) => virtio(dev, &caps)?,
        _ => println!("{addr}: no device-specific checks for {vendor:04x}:{device:04x}"),
    }

    let mapping = dev.dma_map(region)?;
    for seg in mapping.segments() {
        println!(
            "{addr}: dma_map: iova {:#x} len {:#x} (va {:#x}): ok",
            seg.iova, seg.len, seg.va
        );
    }
    // The container holds the mapping now: a second one of the same memory is refused.
    match dev.dma_map(region) {
        Err(err) => println!("{addr}: dma_map again: {err}"),
        Ok(_) => return Err("mapping the same region twice succeeded".into()),
    }
    drop(mapping);

    let max = dev.msix_vector_count();
    let vectors = dev.enable_msix(max.min(2))?;
    let fds: Vec<_> = (0..vectors.len())
        .map(|v| {
            let fd = vectors.eventfd(v).as_raw_fd();
            let target = fs::read_link(format!("/proc/self/fd/{fd}"));
            format!(
                "{fd}={}",
                target.map_or("?".into(), |t| t.display().to_string())
            )
        })
        .collect();
    println!(
        "{addr}: msix: {} of {max} vectors enabled, eventfds {}",
        vectors.len(),
        fds.join(" ")
    );
    Ok(())
}

/// Reads the MAC address QEMU loaded into receive address 0, and checks a register
/// write on entry 1.
fn e1000e(dev: &VfioPciDevice) -> Result<(), VfioError> {
    let addr = dev.addr();
    let bar0 = dev.bar(0)?;
    let (ral, rah) = (bar0.read32(RAL0), bar0.read32(RAH0));
    let mac: Vec<_> = ral
        .to_le_bytes()
        .into_iter()
        .chain(rah.to_le_bytes().into_iter().take(2))
        .map(|b| format!("{b:02x}"))
        .collect();
    println!(
        "{addr}: e1000e MAC {} (RAL0 {ral:#010x} RAH0 {rah:#010x}, address valid {})",
        mac.join(":"),
        rah >> 31
    );
    bar0.write32(RAL1, 0x1234_5678);
    println!(
        "{addr}: e1000e RAL1 written 0x12345678, read {:#010x}",
        bar0.read32(RAL1)
    );
    bar0.write32(RAL1, 0);
    Ok(())
}

/// The virtio structure types of virtio_pci_cap.cfg_type (virtio 1.2, 4.1.4).
fn virtio_cfg_name(cfg_type: u8) -> &'static str {
    match cfg_type {
        1 => "common_cfg",
        2 => "notify_cfg",
        3 => "isr_cfg",
        4 => "device_cfg",
        5 => "pci_cfg",
        8 => "shared_memory_cfg",
        9 => "vendor_cfg",
        _ => "unknown",
    }
}

/// Walks the vendor-specific capabilities of a modern virtio device (each a
/// virtio_pci_cap: cfg_type, bar, offset, length), then reads the device's feature bits
/// through its common configuration.
fn virtio(dev: &VfioPciDevice, caps: &[PciCapability]) -> Result<(), VfioError> {
    let addr = dev.addr();
    let mut common = None;
    for cap in caps.iter().filter(|cap| cap.id == PciCapability::VENDOR) {
        let at = u16::from(cap.offset);
        let cfg_type = dev.config_read_u8(at + 3)?;
        let bar = dev.config_read_u8(at + 4)?;
        let offset = dev.config_read_u32(at + 8)?;
        let length = dev.config_read_u32(at + 12)?;
        let mut line = format!(
            "{addr}: virtio cap {} at {at:#04x}: bar {bar} offset {offset:#x} length {length:#x}",
            virtio_cfg_name(cfg_type)
        );
        if cfg_type == 2 {
            let multiplier = dev.config_read_u32(at + 16)?;
            line += &format!(" notify_off_multiplier {multiplier}");
        }
        println!("{line}");
        if cfg_type == 1 && common.is_none() {
            common = Some((bar, offset as usize));
        }
    }
    let Some((bar, base)) = common else {
        println!("{addr}: virtio: no common_cfg structure");
        return Ok(());
    };
    let bar = dev.bar(bar)?;
    let mut features = [0u32; 2];
    for (select, word) in features.iter_mut().enumerate() {
        bar.write32(base + DEVICE_FEATURE_SELECT, select as u32);
        *word = bar.read32(base + DEVICE_FEATURE);
    }
    println!(
        "{addr}: virtio common_cfg: device_feature {:#010x}{:08x}, VERSION_1 {}, num_queues {}",
        features[1],
        features[0],
        if features[1] & VERSION_1_HIGH_BIT != 0 {
            "yes"
        } else {
            "no"
        },
        bar.read16(base + NUM_QUEUES)
    );
    Ok(())
}
