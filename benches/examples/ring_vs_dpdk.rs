//! The two-core case of DPDK's `ring_perf_autotest`, burst's ring against DPDK's in
//! one process: the same two pinned threads run DPDK 22.11's loop
//! (`scripts/dpdk/ring_pair.c`, loaded with `--dpdk`) and burst's, alternating case by
//! case and round by round, so both meet the same machine. On a shared or virtual
//! host the two cores' distance changes from one second to the next (2-core figures
//! of separate runs differ 3-10x here); the per-round ratio does not.
//!
//! Each side makes 2^15 bulk calls of 8 or 32 pointers, pausing once after a failed
//! call, and times itself with the TSC; the figure is both sides' cycles per element
//! added, as the autotest prints it. `scripts/compare-dpdk.sh ring` runs this.
//!
//! `cargo run --release -p burst-benches --example ring_pair -- --dpdk ring_pair.so`

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use burst_ring::{Ring, spsc};
use clap::Parser;
use core_affinity::CoreId;

/// DPDK's `RING_SIZE`.
const RING_SIZE: usize = 4096;

#[derive(Parser)]
#[command(about = "burst's ring vs DPDK's in the 2-core ring_perf_autotest case, interleaved")]
struct Args {
    /// DPDK's side: the shared library built from scripts/dpdk/ring_pair.c.
    #[arg(long)]
    dpdk: Option<String>,
    /// Rounds; each runs every case once on each ring. Medians are printed.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Bulk calls per side per case (the autotest's 2^15).
    #[arg(long, default_value_t = 1 << 15)]
    iters: u32,
    /// Only the cases whose name contains this (e.g. `mpmc`, `bulk_8`), for profiling.
    #[arg(long)]
    case: Option<String>,
    /// Skip burst's side (with --dpdk: profile DPDK's alone).
    #[arg(long)]
    dpdk_only: bool,
    /// TSC frequency, to print ns beside cycles.
    #[arg(long)]
    tsc_hz: Option<f64>,
}

/// The TSC, as the autotest's `rte_rdtsc` (x86_64 only; `main` refuses elsewhere).
fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: RDTSC has no preconditions on x86_64.
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

type MemsizeFn = unsafe extern "C" fn(u32) -> isize;
type InitFn = unsafe extern "C" fn(*mut u8, u32) -> i32;
type SideFn = unsafe extern "C" fn(*mut u8, i32, i32, u32, u32) -> u64;

/// `ring_pair.so`'s three functions.
struct Dpdk {
    memsize: MemsizeFn,
    init: InitFn,
    side: SideFn,
}

impl Dpdk {
    fn load(path: &str) -> Result<Self, String> {
        let c = std::ffi::CString::new(path).map_err(|e| e.to_string())?;
        // SAFETY: a NUL-terminated path; the library is never closed, so the
        // function pointers taken below stay valid for the process.
        let lib = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW) };
        if lib.is_null() {
            // SAFETY: dlerror returns a NUL-terminated message after a failed dlopen.
            let why = unsafe { std::ffi::CStr::from_ptr(libc::dlerror()) };
            return Err(format!("cannot load {path}: {}", why.to_string_lossy()));
        }
        let sym = |name: &str| -> Result<*mut libc::c_void, String> {
            let n = std::ffi::CString::new(name).unwrap();
            // SAFETY: `lib` is a live handle and `n` NUL-terminated.
            let p = unsafe { libc::dlsym(lib, n.as_ptr()) };
            if p.is_null() {
                Err(format!(
                    "{path} has no {name}: build it from scripts/dpdk/ring_pair.c"
                ))
            } else {
                Ok(p)
            }
        };
        // SAFETY: the symbols are ring_pair.c's functions, whose C signatures these
        // pointer types spell (ssize_t, int, uint64_t; unsigned int as u32).
        unsafe {
            Ok(Self {
                memsize: std::mem::transmute::<*mut libc::c_void, MemsizeFn>(sym(
                    "ring_pair_memsize",
                )?),
                init: std::mem::transmute::<*mut libc::c_void, InitFn>(sym("ring_pair_init")?),
                side: std::mem::transmute::<*mut libc::c_void, SideFn>(sym("ring_pair_side")?),
            })
        }
    }
}

/// A DPDK ring in memory of our own, 128-byte aligned as `rte_ring` wants.
struct DpdkRing {
    mem: *mut u8,
    layout: std::alloc::Layout,
}

// SAFETY: the ring is DPDK's MP/MC ring, built to be used from several threads; each
// side only calls the enqueue or the dequeue functions on it.
unsafe impl Send for DpdkRing {}
// SAFETY: as above.
unsafe impl Sync for DpdkRing {}

impl DpdkRing {
    fn new(dpdk: &Dpdk) -> Self {
        // SAFETY: a plain size query.
        let size = unsafe { (dpdk.memsize)(RING_SIZE as u32) };
        let layout = std::alloc::Layout::from_size_align(size as usize, 128).unwrap();
        // SAFETY: non-zero size.
        let mem = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!mem.is_null());
        // SAFETY: `mem` has the size DPDK asked for, aligned for `struct rte_ring`.
        let rc = unsafe { (dpdk.init)(mem, RING_SIZE as u32) };
        assert_eq!(rc, 0, "rte_ring_init failed");
        Self { mem, layout }
    }
}

impl Drop for DpdkRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; no side uses it any more.
        unsafe { std::alloc::dealloc(self.mem, self.layout) };
    }
}

type Job = Box<dyn FnOnce() -> u64 + Send>;

/// Two threads pinned to two CPUs; `run` gives each a side and returns both sides'
/// cycles once both are done. The sides start together (a spin barrier, as the
/// autotest's `lcore_count`).
struct Pair {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<u64>,
    gate: Arc<AtomicUsize>,
    turn: usize,
}

impl Pair {
    fn new(cpus: [CoreId; 2]) -> Self {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (tx, done) = mpsc::channel();
        let gate = Arc::new(AtomicUsize::new(0));
        let g = Arc::clone(&gate);
        thread::spawn(move || {
            core_affinity::set_for_current(cpus[1]);
            let mut turn = 0;
            for job in rx {
                turn += 2;
                wait_gate(&g, turn);
                if tx.send(job()).is_err() {
                    break;
                }
            }
        });
        core_affinity::set_for_current(cpus[0]);
        Self {
            jobs,
            done,
            gate,
            turn: 0,
        }
    }

    fn run(&mut self, here: impl FnOnce() -> u64, there: Job) -> u64 {
        self.jobs.send(there).expect("pair thread gone");
        self.turn += 2;
        wait_gate(&self.gate, self.turn);
        let mine = here();
        mine + self.done.recv().expect("pair thread gone")
    }
}

fn wait_gate(gate: &AtomicUsize, turn: usize) {
    // Relaxed: the gate only lines the starts up; the ring orders the data.
    gate.fetch_add(1, Ordering::Relaxed);
    while gate.load(Ordering::Relaxed) < turn {
        std::hint::spin_loop();
    }
}

/// Runs `op` `iters` times, pausing after each failure; TSC cycles taken.
fn side(iters: u32, mut op: impl FnMut() -> bool) -> u64 {
    let start = tsc();
    for _ in 0..iters {
        while !op() {
            std::hint::spin_loop();
        }
    }
    tsc() - start
}

/// burst's side of one case: total cycles of both threads. The count is opaque to the
/// compiler, as the autotest's, and nothing else goes through memory per call.
fn burst_case(pair: &mut Pair, single: bool, n: usize, iters: u32) -> u64 {
    let src: Vec<usize> = (0..black_box(n)).collect();
    let mut dst = vec![MaybeUninit::<usize>::uninit(); black_box(n)];
    if single {
        let (mut tx, mut rx) = spsc::<usize>(RING_SIZE).unwrap();
        pair.run(
            || side(iters, || tx.enqueue_bulk_copy(&src).count > 0),
            Box::new(move || {
                let t = side(iters, || rx.dequeue_bulk_uninit(&mut dst).count > 0);
                black_box(&dst);
                t
            }),
        )
    } else {
        let ring = Arc::new(Ring::<usize>::new(RING_SIZE).unwrap());
        let r = Arc::clone(&ring);
        pair.run(
            || side(iters, || ring.enqueue_bulk_copy(&src).count > 0),
            Box::new(move || {
                let t = side(iters, || r.dequeue_bulk_uninit(&mut dst).count > 0);
                black_box(&dst);
                t
            }),
        )
    }
}

/// DPDK's side of one case.
fn dpdk_case(pair: &mut Pair, dpdk: &Dpdk, single: bool, n: usize, iters: u32) -> u64 {
    let ring = Arc::new(DpdkRing::new(dpdk));
    let r = Arc::clone(&ring);
    let side_fn = dpdk.side;
    let (single, n) = (i32::from(single), n as u32);
    pair.run(
        // SAFETY: an initialised DPDK ring; this thread only enqueues.
        || unsafe { side_fn(ring.mem, 0, single, n, iters) },
        // SAFETY: as above; this thread only dequeues.
        Box::new(move || unsafe { side_fn(r.mem, 1, single, n, iters) }),
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn main() {
    let args = Args::parse();
    if !cfg!(target_arch = "x86_64") {
        eprintln!("ring_pair: times with the TSC, as the autotest: x86_64 only");
        std::process::exit(2)
    }
    let dpdk = args.dpdk.as_deref().map(|p| {
        Dpdk::load(p).unwrap_or_else(|e| {
            eprintln!("ring_pair: {e}");
            std::process::exit(2)
        })
    });
    let cpus = match core_affinity::get_core_ids().as_deref() {
        Some([a, b, ..]) => [*a, *b],
        _ => {
            eprintln!("ring_pair: needs two usable CPUs");
            std::process::exit(2)
        }
    };
    let mut pair = Pair::new(cpus);
    let all = [
        ("spsc_bulk_8", true, 8),
        ("mpmc_bulk_8", false, 8),
        ("spsc_bulk_32", true, 32),
        ("mpmc_bulk_32", false, 32),
    ];
    let cases: Vec<_> = all
        .into_iter()
        .filter(|c| args.case.as_ref().is_none_or(|f| c.0.contains(f.as_str())))
        .collect();
    let per_elem = |cycles: u64, n: usize| cycles as f64 / (f64::from(args.iters) * n as f64);
    let mut ours = vec![Vec::new(); cases.len()];
    let mut theirs = vec![Vec::new(); cases.len()];
    let mut ratios = vec![Vec::new(); cases.len()];
    for round in 0..args.rounds {
        for (i, &(_, single, n)) in cases.iter().enumerate() {
            let run_burst = |pair: &mut Pair| {
                if args.dpdk_only {
                    f64::NAN
                } else {
                    per_elem(burst_case(pair, single, n, args.iters), n)
                }
            };
            // Who goes first alternates, so neither gains from the other's warm-up.
            let b = if round % 2 == 0 {
                run_burst(&mut pair)
            } else {
                f64::NAN
            };
            let d = dpdk
                .as_ref()
                .map(|d| per_elem(dpdk_case(&mut pair, d, single, n, args.iters), n));
            let b = if round % 2 == 0 {
                b
            } else {
                run_burst(&mut pair)
            };
            ours[i].push(b);
            if let Some(d) = d {
                theirs[i].push(d);
                ratios[i].push(d / b);
            }
        }
    }
    let ns = |c: f64| args.tsc_hz.map(|hz| c * 1e9 / hz);
    for (i, &(name, _, _)) in cases.iter().enumerate() {
        let b = median(&mut ours[i]);
        let mut line = format!("ring_2core/{name} burst={b:.2}cyc");
        if let Some(v) = ns(b) {
            line += &format!(" ({v:.2}ns)");
        }
        if dpdk.is_some() {
            let d = median(&mut theirs[i]);
            line += &format!(" dpdk={d:.2}cyc");
            if let Some(v) = ns(d) {
                line += &format!(" ({v:.2}ns)");
            }
            line += &format!(" speedup={:.2}", median(&mut ratios[i]));
        }
        println!("{line}");
    }
}
