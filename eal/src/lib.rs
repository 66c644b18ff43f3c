//! burst's environment abstraction layer (DPDK's EAL): the command line, logging,
//! lcores and their threads, the stop signal, hugepage memory and its IO virtual
//! addresses, and the device lists the drivers probe.
//!
//! ```no_run
//! use burst_eal::{Eal, Launch};
//!
//! let (eal, args) = Eal::init(std::env::args()).unwrap_or_else(|err| err.exit());
//! // `args` is the program name and what followed `--`: the application's options.
//! let launched = eal
//!     .launch(Launch::CallMain, |lcore| {
//!         let stop = burst_eal::stop_flag();
//!         while !stop.load(std::sync::atomic::Ordering::Relaxed) {
//!             // rx_burst, process, tx_burst
//! #           break;
//!         }
//!         lcore.get()
//!     })
//!     .unwrap_or_else(|err| err.exit());
//! for (lcore, result) in launched.wait() {
//!     println!("lcore {lcore}: {result:?}");
//! }
//! ```

mod args;
mod devargs;
mod error;
mod launch;
mod lcore;
mod logging;
pub mod memory;
pub mod pci;
mod pci_addr;
mod signal;
pub mod vfio;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use args::MemoryLimit;
pub use devargs::{Devargs, DevargsError};
pub use error::EalError;
pub use launch::{Launch, Launched, LcorePanic};
pub use lcore::{CpuSet, Lcore, LcoreId, MAX_LCORE};
pub use pci_addr::{PciAddr, PciAddrError, PciDevargs, PciDevargsError};
pub use signal::stop_flag;

use launch::{BusyFlags, Worker};
use memory::{Memory, PageSize};

/// The initialised environment: memory, lcores with their threads, and the devices to
/// probe. Made by [`Eal::init`]; dropping it lets the idle worker threads end.
#[derive(Debug)]
pub struct Eal {
    memory: Memory,
    /// Sorted by id.
    lcores: Vec<Lcore>,
    main_lcore: LcoreId,
    workers: Vec<Worker>,
    busy: BusyFlags,
    no_pci: bool,
    allow: Vec<PciDevargs>,
    block: Vec<PciAddr>,
    vdevs: Vec<Devargs>,
    memory_limit: Option<MemoryLimit>,
}

impl Eal {
    /// Initialises the EAL from a command line as DPDK's `rte_eal_init` does: `args`
    /// is the program name, the EAL options, then optionally `--` and the application's
    /// own. Returns the `Eal` and the application's arguments: the program name followed
    /// by everything after `--`.
    ///
    /// Sets the log levels (`--log-level`), checks the lcores against the online CPUs,
    /// sets up memory (checking the hugepages and their mount, and that `-m` fits in the
    /// free hugepages), installs the SIGINT/SIGTERM handlers behind [`stop_flag`], starts
    /// one thread per worker lcore pinned to its CPUs, and pins the calling thread to the
    /// main lcore's CPUs. May be called again (tests do): the logger and the signal
    /// handlers are installed once per process.
    ///
    /// `-h` gives [`EalError::Help`]; every error carries an exit code for
    /// [`EalError::exit`].
    pub fn init<I, S>(args: I) -> Result<(Self, Vec<String>), EalError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (options, app_args) = args::parse(args.into_iter().map(Into::into).collect())?;
        logging::init(options.log);

        let online = lcore::online_cpus();
        log::info!("detected {} online CPUs: {online}", online.len());
        // If the affinity cannot be read, every online CPU is a candidate.
        let affinity = CpuSet::of_current_thread().unwrap_or(online);
        let (lcores, main) = options.lcores.resolve(&online, &affinity)?;
        let main_lcore = main.id();

        let memory = Memory::new(options.memory)?;
        if let Some(limit) = &options.memory_limit {
            check_free_hugepages(&memory, limit)?;
        }

        signal::install_stop_handlers();
        // Workers start before the main thread is pinned, so one that cannot pin itself
        // keeps the process's CPUs rather than inheriting the main lcore's.
        let workers = launch::start_workers(&lcores, main_lcore)?;
        launch::pin(main_lcore, main.cpus());
        log::info!(
            "lcores {} (main {main_lcore}), {} vdevs, PCI {}",
            lcore::id_list(&lcores),
            options.vdevs.len(),
            if options.no_pci { "off" } else { "on" }
        );

        let eal = Self {
            memory,
            lcores,
            main_lcore,
            workers,
            busy: Arc::new(std::array::from_fn(|_| AtomicBool::new(false))),
            no_pci: options.no_pci,
            allow: options.allow,
            block: options.block,
            vdevs: options.vdevs,
            memory_limit: options.memory_limit,
        };
        Ok((eal, app_args))
    }

    /// The memory the EAL reserves from (hugepages, or ordinary pages with `--no-huge`).
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// `-m`/`--socket-mem`: how much memory the application may take, if given. Checked
    /// at init against the free hugepages; not a cap that [`Memory::alloc`] enforces.
    pub fn memory_limit(&self) -> Option<&MemoryLimit> {
        self.memory_limit.as_ref()
    }

    /// `--file-prefix`: the prefix of hugepage files (default `rte`), which keeps
    /// several processes' files apart.
    pub fn file_prefix(&self) -> &str {
        &self.memory.config().file_prefix
    }

    /// Every lcore, by id, the main one included.
    pub fn lcores(&self) -> &[Lcore] {
        &self.lcores
    }

    /// The lcore with this id, if it is in the set.
    pub fn lcore(&self, id: LcoreId) -> Option<&Lcore> {
        self.lcores.iter().find(|lcore| lcore.id() == id)
    }

    /// The main lcore: the calling thread of [`Eal::init`] (DPDK's `rte_get_main_lcore`).
    pub fn main_lcore(&self) -> LcoreId {
        self.main_lcore
    }

    /// The lcores other than the main one, by id (DPDK's `RTE_LCORE_FOREACH_WORKER`).
    pub fn worker_lcores(&self) -> impl Iterator<Item = &Lcore> + '_ {
        self.lcores
            .iter()
            .filter(move |lcore| lcore.id() != self.main_lcore)
    }

    /// Whether SIGINT or SIGTERM arrived (or the application set [`stop_flag`]): lcore
    /// loops poll this to stop cleanly.
    pub fn stop_requested(&self) -> bool {
        stop_flag().load(Ordering::Relaxed)
    }

    /// The `--vdev` devices in command-line order, for the driver registry to probe.
    pub fn vdevs(&self) -> &[Devargs] {
        &self.vdevs
    }

    /// `--no-pci`: probe no PCI device.
    pub fn no_pci(&self) -> bool {
        self.no_pci
    }

    /// The `-a` allow list, in command-line order (empty if not given).
    pub fn pci_allow_list(&self) -> &[PciDevargs] {
        &self.allow
    }

    /// The `-b` block list, in command-line order.
    pub fn pci_block_list(&self) -> &[PciAddr] {
        &self.block
    }

    /// Whether a PCI scan should probe the device at `addr`, and with which driver
    /// arguments: `None` with `--no-pci`, if an allow list exists without it, or if it is
    /// blocked; otherwise its `-a` arguments (empty if none).
    pub fn pci_allowed(&self, addr: PciAddr) -> Option<&[(String, String)]> {
        if self.no_pci || self.block.contains(&addr) {
            return None;
        }
        if self.allow.is_empty() {
            return Some(&[]);
        }
        self.allow
            .iter()
            .find(|dev| dev.addr() == addr)
            .map(PciDevargs::args)
    }
}

/// Fails if the hugepages free now cannot hold what `-m`/`--socket-mem` asks for.
fn check_free_hugepages(memory: &Memory, limit: &MemoryLimit) -> Result<(), EalError> {
    let (Some(free), Some(page_size)) = (
        memory.free_hugepages(),
        PageSize::from_bytes(memory.page_size()),
    ) else {
        // Ordinary pages (--no-huge): nothing is reserved ahead.
        return Ok(());
    };
    let page = memory.page_size() as u64;
    let needed = usize::try_from(limit.bytes().div_ceil(page)).unwrap_or(usize::MAX);
    if needed > free {
        return Err(memory::MemoryError::NoFreeHugepages {
            page_size,
            needed,
            free,
        }
        .into());
    }
    Ok(())
}
