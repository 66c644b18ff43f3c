//! The cases of DPDK's `ring_perf_autotest`, burst's ring against DPDK's in one
//! process: the same pinned threads run DPDK 22.11's loops
//! (`scripts/dpdk/ring_loops.c`, loaded with `--dpdk`) and burst's, alternating case by
//! case and round by round, so both meet the same machine. On a shared or virtual host
//! the speed of a core, and the distance between two, changes from one second to the
//! next (2-core figures of separate runs differ 3-10x here); the per-round ratio does
//! not.
//!
//! One core: enqueue then dequeue 1 (the one-element calls), or 8 or 32 pointers,
//! burst and bulk, SP/SC and MP/MC. Two cores: one side enqueues and the other
//! dequeues bulks of 8 or 32, pausing once after a failed call; the figure is both
//! sides' cycles added. Each timed with the TSC, per element, as the autotest prints
//! it. And `mempool_perf_autotest`'s cases on one core and on two, each core getting
//! then putting 1 or 32 objects of one pool of 2047, cache-less (burst's `Mempool`) or
//! through a cache of 256 of the core's own (burst's `Cache`), against DPDK's
//! `rte_mempool_generic_get/put` on its default ring ops; per object per core, as that
//! test prints.
//! `scripts/compare-dpdk.sh ring` runs this (`mempool`: its pool cases).
//!
//! `cargo run --release -p burst-benches --example ring_vs_dpdk -- --dpdk ring_loops.so`
//! (build ring_loops.so as its source says)

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use burst_eal::memory::{Memory, MemoryConfig};
use burst_mempool::{Mempool, Object};
use burst_ring::{Multi, Single, SyncMode, channel};
use clap::Parser;
use core_affinity::CoreId;

/// DPDK's `RING_SIZE`.
const RING_SIZE: usize = 4096;
/// `mempool_perf_autotest`'s pool on two lcores: objects (`MEMPOOL_SIZE`, lcores x
/// (`MAX_KEEP` 512 + 512) - 1) and their size.
const POOL_SIZE: usize = 2047;
const ELT_SIZE: usize = 2048;

#[derive(Parser)]
#[command(about = "burst's ring vs DPDK's in the ring_perf_autotest cases, interleaved")]
struct Args {
    /// DPDK's side: the shared library built from scripts/dpdk/ring_loops.c.
    #[arg(long)]
    dpdk: Option<String>,
    /// Rounds; each runs every case once on each ring. Medians are printed.
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Calls per case and round: enqueue+dequeue rounds on one core, bulk calls per
    /// side on two (the autotest's 2-core count, 2^15).
    #[arg(long, default_value_t = 1 << 15)]
    iters: u32,
    /// Only the cases whose name contains this (e.g. `ring_2core`, `mpmc_bulk_8`), for profiling.
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
type TwoCoreFn = unsafe extern "C" fn(*mut u8, i32, i32, u32, u32) -> u64;
type OneCoreFn = unsafe extern "C" fn(*mut u8, i32, i32, u32, u32) -> u64;
type FillFn = unsafe extern "C" fn(*mut u8, u32) -> u32;
type MempoolFn = unsafe extern "C" fn(*mut u8) -> *mut libc::c_void;
type PoolSideFn = unsafe extern "C" fn(*mut libc::c_void, u32, u32, u32) -> u64;
type CountFn = unsafe extern "C" fn(*mut u8) -> u32;

/// `ring_loops.so`'s functions.
struct Dpdk {
    memsize: MemsizeFn,
    init: InitFn,
    two_core: TwoCoreFn,
    one_core: OneCoreFn,
    fill: FillFn,
    mempool: MempoolFn,
    pool_side: PoolSideFn,
    count: CountFn,
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
                    "{path} has no {name}: build it from scripts/dpdk/ring_loops.c"
                ))
            } else {
                Ok(p)
            }
        };
        // SAFETY: the symbols are ring_loops.c's functions, whose C signatures these
        // pointer types spell (ssize_t, int, uint64_t; unsigned int as u32).
        unsafe {
            Ok(Self {
                memsize: std::mem::transmute::<*mut libc::c_void, MemsizeFn>(sym(
                    "ring_loops_memsize",
                )?),
                init: std::mem::transmute::<*mut libc::c_void, InitFn>(sym("ring_loops_init")?),
                two_core: std::mem::transmute::<*mut libc::c_void, TwoCoreFn>(sym(
                    "ring_loops_two_core",
                )?),
                one_core: std::mem::transmute::<*mut libc::c_void, OneCoreFn>(sym(
                    "ring_loops_one_core",
                )?),
                fill: std::mem::transmute::<*mut libc::c_void, FillFn>(sym("ring_loops_fill")?),
                mempool: std::mem::transmute::<*mut libc::c_void, MempoolFn>(sym(
                    "ring_loops_mempool",
                )?),
                pool_side: std::mem::transmute::<*mut libc::c_void, PoolSideFn>(sym(
                    "ring_loops_pool_side",
                )?),
                count: std::mem::transmute::<*mut libc::c_void, CountFn>(sym("ring_loops_count")?),
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
    /// A ring of `slots` (a power of two) slots.
    fn new(dpdk: &Dpdk, slots: u32) -> Self {
        // SAFETY: a plain size query.
        let size = unsafe { (dpdk.memsize)(slots) };
        let layout = std::alloc::Layout::from_size_align(size as usize, 128).unwrap();
        // SAFETY: non-zero size.
        let mem = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!mem.is_null());
        // SAFETY: `mem` has the size DPDK asked for, aligned for `struct rte_ring`.
        let rc = unsafe { (dpdk.init)(mem, slots) };
        assert_eq!(rc, 0, "rte_ring_init failed");
        Self { mem, layout }
    }
}

/// A DPDK mempool on a `DpdkRing` (which must outlive it), made by
/// `ring_loops_mempool`; the two sides of a case share it.
struct DpdkPool {
    mp: *mut libc::c_void,
}

// SAFETY: DPDK's MP/MC mempool, built to be used from several threads; each side
// gets and puts through a cache of its own.
unsafe impl Send for DpdkPool {}
// SAFETY: as above.
unsafe impl Sync for DpdkPool {}

impl DpdkPool {
    fn new(dpdk: &Dpdk, ring: &DpdkRing) -> Self {
        // SAFETY: an initialised MP/MC DPDK ring, filled as a mempool's.
        let mp = unsafe { (dpdk.mempool)(ring.mem) };
        assert!(
            !mp.is_null(),
            "DPDK's ring_mp_mc mempool ops are not registered: build ring_loops.so \
             with -lrte_mempool_ring"
        );
        Self { mp }
    }
}

impl Drop for DpdkPool {
    fn drop(&mut self) {
        // SAFETY: ring_loops_mempool allocates with aligned_alloc; no side uses it any
        // more.
        unsafe { libc::free(self.mp) };
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

/// Runs `side` on this thread and, with two cores, a copy of it on the other at the
/// same time; the cycles of all added.
fn sides(pair: &mut Pair, two_cores: bool, side: impl Fn() -> u64 + Clone + Send + 'static) -> u64 {
    if two_cores {
        let other = side.clone();
        pair.run(side, Box::new(other))
    } else {
        side()
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

/// What one call moves: one element, or a burst or a bulk of `Case::n`.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    One,
    Burst,
    Bulk,
    /// A get then a put of n objects on a pool, through a cache of `Case::cache`
    /// objects per core (none if 0).
    Pool,
}

/// One of the autotest's cases.
struct Case {
    name: &'static str,
    two_cores: bool,
    single: bool,
    kind: Kind,
    n: usize,
    /// Per-core cache size of a pool case.
    cache: usize,
}

impl Case {
    fn group(&self) -> &'static str {
        match (self.kind, self.two_cores) {
            (Kind::Pool, true) => "mempool_2core",
            (Kind::Pool, false) => "mempool_1core",
            (_, true) => "ring_2core",
            (_, false) => "ring_1core",
        }
    }
}

/// The autotest's cases: one core (single, burst and bulk of 8 and 32, SP/SC and
/// MP/MC), then two cores (bulk 8 and 32).
fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (name, single) in [("spsc_single", true), ("mpmc_single", false)] {
        v.push(Case {
            name,
            two_cores: false,
            single,
            kind: Kind::One,
            n: 1,
            cache: 0,
        });
    }
    for (name, single, kind, n) in [
        ("spsc_burst_8", true, Kind::Burst, 8),
        ("spsc_burst_32", true, Kind::Burst, 32),
        ("spsc_bulk_8", true, Kind::Bulk, 8),
        ("spsc_bulk_32", true, Kind::Bulk, 32),
        ("mpmc_burst_8", false, Kind::Burst, 8),
        ("mpmc_burst_32", false, Kind::Burst, 32),
        ("mpmc_bulk_8", false, Kind::Bulk, 8),
        ("mpmc_bulk_32", false, Kind::Bulk, 32),
    ] {
        v.push(Case {
            name,
            two_cores: false,
            single,
            kind,
            n,
            cache: 0,
        });
    }
    for (name, single, n) in [
        ("spsc_bulk_8", true, 8),
        ("mpmc_bulk_8", false, 8),
        ("spsc_bulk_32", true, 32),
        ("mpmc_bulk_32", false, 32),
    ] {
        v.push(Case {
            name,
            two_cores: true,
            single,
            kind: Kind::Bulk,
            n,
            cache: 0,
        });
    }
    for two_cores in [false, true] {
        for (name, n, cache) in [
            ("cache0_bulk1", 1, 0),
            ("cache0_bulk32", 32, 0),
            ("cache256_bulk1", 1, 256),
            ("cache256_bulk32", 32, 256),
        ] {
            v.push(Case {
                name,
                two_cores,
                single: false,
                kind: Kind::Pool,
                n,
                cache,
            });
        }
    }
    v
}

/// One core of a pool case: `iters` rounds of a get then a put of `n`, straight on
/// the pool if `cache_size` is 0, else through a cache of this core's own, warmed
/// with one round first (as DPDK's side).
fn pool_side(pool: &Mempool, cache_size: usize, n: usize, iters: u32) -> u64 {
    if cache_size == 0 {
        uncached_side(pool, n, iters)
    } else {
        cached_side(pool, cache_size, n, iters)
    }
}

/// `pool_side` without a cache; a round is `side`'s op, so a get that finds the pool
/// dry is retried after a pause. Each loop is a function of its own, so that neither
/// one's inlined calls shape the other's code.
#[inline(never)]
fn uncached_side(pool: &Mempool, n: usize, iters: u32) -> u64 {
    let mut objs: Vec<Object> = Vec::with_capacity(32);
    side(iters, || {
        pool.get_bulk(&mut objs, n).is_ok() && {
            pool.put_bulk(&mut objs);
            true
        }
    })
}

/// `pool_side` through a cache.
#[inline(never)]
fn cached_side(pool: &Mempool, cache_size: usize, n: usize, iters: u32) -> u64 {
    let mut objs: Vec<Object> = Vec::with_capacity(32);
    let mut cache = pool.cache(cache_size).expect("cache size");
    while cache.get_bulk(&mut objs, n).is_err() {
        std::hint::spin_loop();
    }
    cache.put_bulk(&mut objs);
    side(iters, || {
        cache.get_bulk(&mut objs, n).is_ok() && {
            cache.put_bulk(&mut objs);
            true
        }
    })
}

/// One core, burst's ring: `iters` rounds of `enq` then `deq`, TSC cycles taken.
fn one_core(iters: u32, mut enq: impl FnMut(), mut deq: impl FnMut()) -> u64 {
    let start = tsc();
    for _ in 0..iters {
        enq();
        deq();
    }
    tsc() - start
}

/// burst's side of one case: TSC cycles, both threads' added on two cores. The count
/// is opaque to the compiler, as the autotest's, and nothing else goes through memory
/// per call.
fn burst_case(pair: &mut Pair, memory: &Memory, case: &Case, iters: u32) -> u64 {
    if case.kind == Kind::Pool {
        let pool = Mempool::new(memory, "ring_vs_dpdk", POOL_SIZE, ELT_SIZE).expect("pool");
        let (p, n, c) = (pool.clone(), black_box(case.n), black_box(case.cache));
        let t = sides(pair, case.two_cores, move || pool_side(&p, c, n, iters));
        assert!(pool.is_full(), "the pool case leaks");
        return t;
    }
    if case.single {
        ring_case::<Single, Single>(pair, case, iters)
    } else {
        ring_case::<Multi, Multi>(pair, case, iters)
    }
}

/// burst's ring in one case, through split handles in modes `P`/`C` (with `Multi`
/// the handles run the same code as `Ring`'s own MP/MC calls).
fn ring_case<P: SyncMode, C: SyncMode>(pair: &mut Pair, case: &Case, iters: u32) -> u64 {
    let src: Vec<usize> = (0..black_box(case.n)).collect();
    let mut dst = vec![MaybeUninit::<usize>::uninit(); black_box(case.n)];
    // Each arm makes its own ring: with one pair of handles for both (one of them
    // moved into the other thread's job), the 1-core SP/SC rows read ~10% lower.
    if case.two_cores {
        let (mut tx, mut rx) = channel::<usize, P, C>(RING_SIZE).unwrap();
        return pair.run(
            || side(iters, || tx.enqueue_bulk_copy(&src).count > 0),
            Box::new(move || {
                let t = side(iters, || rx.dequeue_bulk_uninit(&mut dst).count > 0);
                black_box(&dst);
                t
            }),
        );
    }
    let (mut tx, mut rx) = channel::<usize, P, C>(RING_SIZE).unwrap();
    let t = match case.kind {
        Kind::One => {
            let mut out = 0;
            let t = one_core(
                iters,
                || {
                    let _ = tx.enqueue(src[0]);
                },
                || out ^= rx.dequeue().unwrap_or(0),
            );
            black_box(out);
            t
        }
        Kind::Bulk => one_core(
            iters,
            || {
                let _ = tx.enqueue_bulk_copy(&src);
            },
            || {
                let _ = rx.dequeue_bulk_uninit(&mut dst);
            },
        ),
        Kind::Burst => one_core(
            iters,
            || {
                let _ = tx.enqueue_burst_copy(&src);
            },
            || {
                let _ = rx.dequeue_burst_uninit(&mut dst);
            },
        ),
        Kind::Pool => unreachable!("the pool cases run on a Mempool (burst_case)"),
    };
    black_box(&dst);
    t
}

/// DPDK's side of one case.
fn dpdk_case(pair: &mut Pair, dpdk: &Dpdk, case: &Case, iters: u32) -> u64 {
    let (single, n) = (i32::from(case.single), case.n as u32);
    if case.kind == Kind::Pool {
        let ring = DpdkRing::new(dpdk, (POOL_SIZE + 1) as u32);
        // SAFETY: an initialised DPDK ring with room for POOL_SIZE.
        let filled = unsafe { (dpdk.fill)(ring.mem, POOL_SIZE as u32) };
        assert_eq!(filled as usize, POOL_SIZE);
        let pool = Arc::new(DpdkPool::new(dpdk, &ring));
        let (side_fn, cache) = (dpdk.pool_side, case.cache as u32);
        // SAFETY: a mempool on an initialised ring, alive until every side is done;
        // each side makes its own cache, if any.
        let t = sides(pair, case.two_cores, move || unsafe {
            side_fn(pool.mp, cache, n, iters)
        });
        assert!(t > 0, "a DPDK pool side failed");
        // SAFETY: an initialised DPDK ring no thread uses any more.
        let back = unsafe { (dpdk.count)(ring.mem) };
        assert_eq!(back as usize, POOL_SIZE, "DPDK's pool case leaks");
        return t;
    }
    let ring = Arc::new(DpdkRing::new(dpdk, RING_SIZE as u32));
    if !case.two_cores {
        let kind = match case.kind {
            Kind::One => 0,
            Kind::Burst => 1,
            Kind::Bulk | Kind::Pool => 2,
        };
        // SAFETY: an initialised DPDK ring, used by this thread only.
        return unsafe { (dpdk.one_core)(ring.mem, single, kind, n, iters) };
    }
    let r = Arc::clone(&ring);
    let side_fn = dpdk.two_core;
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
        eprintln!("ring_vs_dpdk: times with the TSC, as the autotest: x86_64 only");
        std::process::exit(2)
    }
    let dpdk = args.dpdk.as_deref().map(|p| {
        Dpdk::load(p).unwrap_or_else(|e| {
            eprintln!("ring_vs_dpdk: {e}");
            std::process::exit(2)
        })
    });
    let cpus = match core_affinity::get_core_ids().as_deref() {
        Some([a, b, ..]) => [*a, *b],
        _ => {
            eprintln!("ring_vs_dpdk: needs two usable CPUs");
            std::process::exit(2)
        }
    };
    let mut pair = Pair::new(cpus);
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| {
            let full = format!("{}/{}", c.group(), c.name);
            args.case.as_ref().is_none_or(|f| full.contains(f.as_str()))
        })
        .collect();
    let memory = Memory::new(MemoryConfig::no_huge()).expect("memory for the pool case");
    // Per element; the pool case per object per core (both cores do the same work).
    let per_elem = |cycles: u64, case: &Case| {
        let cores = if case.kind == Kind::Pool && case.two_cores {
            2.0
        } else {
            1.0
        };
        cycles as f64 / (f64::from(args.iters) * case.n as f64 * cores)
    };
    let mut ours = vec![Vec::new(); cases.len()];
    let mut theirs = vec![Vec::new(); cases.len()];
    let mut ratios = vec![Vec::new(); cases.len()];
    for round in 0..args.rounds {
        for (i, case) in cases.iter().enumerate() {
            let run_burst = |pair: &mut Pair| {
                if args.dpdk_only {
                    f64::NAN
                } else {
                    per_elem(burst_case(pair, &memory, case, args.iters), case)
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
                .map(|d| per_elem(dpdk_case(&mut pair, d, case, args.iters), case));
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
    for (i, case) in cases.iter().enumerate() {
        let b = median(&mut ours[i]);
        let mut line = format!("{}/{} burst={b:.2}cyc", case.group(), case.name);
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
