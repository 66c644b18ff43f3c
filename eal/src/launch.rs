//! Running functions on the lcores (DPDK's `rte_eal_remote_launch`,
//! `rte_eal_mp_remote_launch` and `rte_eal_mp_wait_lcore`).
//!
//! As in DPDK, each worker lcore has one thread, started and pinned by `Eal::init`, that
//! waits for a function, runs it, and waits again. The main lcore's function runs in
//! the calling thread. A panic in a launched function is caught and reported by
//! [`Launched::wait`]; the lcore then takes new launches as before.

use std::any::Any;
use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use crate::Eal;
use crate::error::EalError;
use crate::lcore::{CpuSet, Lcore, LcoreId, MAX_LCORE, id_list};

/// Whether a launch also runs the function on the main lcore, in the calling thread
/// (DPDK's `CALL_MAIN` and `SKIP_MAIN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Launch {
    /// Run on every worker lcore and then on the main lcore, in the calling thread,
    /// before `launch` returns.
    CallMain,
    /// Run on the worker lcores only; the calling thread goes on.
    SkipMain,
}

/// A launched function panicked on an lcore.
#[derive(Debug, thiserror::Error)]
#[error("lcore {lcore} panicked: {message}")]
pub struct LcorePanic {
    /// The lcore whose function panicked.
    pub lcore: LcoreId,
    /// The panic's message, if it was a string.
    pub message: String,
}

impl LcorePanic {
    fn new(lcore: LcoreId, payload: Box<dyn Any + Send>) -> Self {
        let message = match payload.downcast::<String>() {
            Ok(message) => *message,
            Err(payload) => payload
                .downcast_ref::<&str>()
                .map_or("(a non-string panic payload)", |message| message)
                .to_owned(),
        };
        Self { lcore, message }
    }
}

/// A function for a worker thread, with its result channel already captured.
type Job = Box<dyn FnOnce() + Send>;

/// A worker lcore's thread, as `Eal` holds it: dropping the sender ends the thread once
/// it is idle.
#[derive(Debug)]
pub(crate) struct Worker {
    lcore: LcoreId,
    jobs: Sender<Job>,
}

/// Which lcores are running a launched function (DPDK's lcore state RUNNING vs WAIT).
pub(crate) type BusyFlags = Arc<[AtomicBool; MAX_LCORE]>;

/// Starts one thread per worker lcore, each pinned to its lcore's CPUs (a CPU that
/// cannot be pinned is warned about and the thread runs unpinned).
pub(crate) fn start_workers(lcores: &[Lcore], main: LcoreId) -> Result<Vec<Worker>, EalError> {
    lcores
        .iter()
        .filter(|lcore| lcore.id() != main)
        .map(|lcore| {
            let (jobs, queue) = mpsc::channel::<Job>();
            let (id, cpus) = (lcore.id(), *lcore.cpus());
            thread::Builder::new()
                .name(format!("lcore-{id}"))
                .spawn(move || worker_loop(id, cpus, queue))
                .map_err(|source| EalError::Spawn { lcore: id, source })?;
            Ok(Worker { lcore: id, jobs })
        })
        .collect()
}

fn worker_loop(lcore: LcoreId, cpus: CpuSet, queue: Receiver<Job>) {
    pin(lcore, &cpus);
    for job in queue {
        job();
    }
}

/// Pins the calling thread to an lcore's CPUs; failing (e.g. CPUs outside a container's
/// cpuset), warns and leaves it unpinned.
pub(crate) fn pin(lcore: LcoreId, cpus: &CpuSet) {
    match cpus.pin_current_thread() {
        Ok(()) => log::debug!("lcore {lcore} pinned to CPUs {cpus}"),
        Err(err) => log::warn!(
            "lcore {lcore}: cannot pin to CPUs {cpus} ({err}); it runs unpinned, which costs \
             performance"
        ),
    }
}

/// Functions running on lcores; [`wait`](Self::wait) collects their results.
///
/// Dropping it without waiting leaves the functions running; their lcores stay busy
/// until they return.
#[must_use = "wait() collects the results and tells when the lcores are free again"]
#[derive(Debug)]
pub struct Launched<R> {
    /// The main lcore's result, when it ran in the calling thread.
    main: Option<(LcoreId, Result<R, LcorePanic>)>,
    workers: usize,
    results: Receiver<(LcoreId, thread::Result<R>)>,
}

impl<R> Launched<R> {
    /// Waits for every launched function to return (DPDK's `rte_eal_mp_wait_lcore`) and
    /// gives each lcore's result, by lcore id; a panic is an [`LcorePanic`].
    pub fn wait(self) -> Vec<(LcoreId, Result<R, LcorePanic>)> {
        let mut results: Vec<_> = self.main.into_iter().collect();
        // Each job sends exactly one result (panics are caught), so this ends; a closed
        // channel could only mean a job was lost, and then there is nothing more to wait for.
        for (lcore, result) in self.results.iter().take(self.workers) {
            results.push((
                lcore,
                result.map_err(|payload| LcorePanic::new(lcore, payload)),
            ));
        }
        results.sort_by_key(|&(lcore, _)| lcore);
        results
    }
}

impl Eal {
    /// Runs `f` on every worker lcore, and on the main lcore too with
    /// [`Launch::CallMain`] (DPDK's `rte_eal_mp_remote_launch`). Each call gets its
    /// lcore's id; [`Launched::wait`] returns the results.
    ///
    /// Fails, launching nothing, if one of those lcores still runs an earlier launch.
    pub fn launch<F, R>(&self, mode: Launch, f: F) -> Result<Launched<R>, EalError>
    where
        F: Fn(LcoreId) -> R + Send + Sync + 'static,
        R: Send + 'static,
    {
        let f = Arc::new(f);
        let jobs = self
            .lcores()
            .iter()
            .map(Lcore::id)
            .filter(|&id| mode == Launch::CallMain || id != self.main_lcore())
            .map(|id| {
                let f = Arc::clone(&f);
                (id, move |lcore| f(lcore))
            });
        self.launch_each(jobs)
    }

    /// Runs one function per named lcore, each moving in its own state (its queues, its
    /// mempool cache): DPDK's `rte_eal_remote_launch` for several lcores at once. The
    /// main lcore's function, if any, runs last, in the calling thread, before this
    /// returns.
    ///
    /// Fails, launching nothing, if an lcore is not in the set, named twice, or still
    /// runs an earlier launch.
    pub fn launch_each<I, F, R>(&self, jobs: I) -> Result<Launched<R>, EalError>
    where
        I: IntoIterator<Item = (LcoreId, F)>,
        F: FnOnce(LcoreId) -> R + Send + 'static,
        R: Send + 'static,
    {
        let jobs: Vec<(LcoreId, F)> = jobs.into_iter().collect();
        let mut named = BTreeSet::new();
        for &(lcore, _) in &jobs {
            if self.lcore(lcore).is_none() {
                return Err(EalError::NotAnLcore {
                    lcore,
                    lcores: id_list(self.lcores()),
                });
            }
            if !named.insert(lcore) {
                return Err(EalError::DuplicateLaunch { lcore });
            }
        }
        self.claim(&named)?;

        let (done, results) = mpsc::channel();
        let mut main_job = None;
        let mut workers = 0;
        for (lcore, job) in jobs {
            let Some(worker) = self.workers.iter().find(|w| w.lcore == lcore) else {
                main_job = Some(job);
                continue;
            };
            let (busy, reply) = (Arc::clone(&self.busy), done.clone());
            let run: Job = Box::new(move || {
                let result = panic::catch_unwind(AssertUnwindSafe(|| job(lcore)));
                // Free the lcore before reporting, so it is free once wait() returns.
                busy[lcore.index()].store(false, Ordering::Release);
                let _ = reply.send((lcore, result));
            });
            match worker.jobs.send(run) {
                Ok(()) => workers += 1,
                // The thread is gone (it never exits while the Eal holds its sender, so
                // this cannot happen); report the lcore as failed rather than hang.
                Err(mpsc::SendError(_)) => {
                    self.busy[lcore.index()].store(false, Ordering::Release);
                    let payload: Box<dyn Any + Send> = Box::new("its thread has exited");
                    let _ = done.send((lcore, Err(payload)));
                    workers += 1;
                }
            }
        }

        let main = main_job.map(|job| {
            let lcore = self.main_lcore();
            let result = panic::catch_unwind(AssertUnwindSafe(|| job(lcore)))
                .map_err(|payload| LcorePanic::new(lcore, payload));
            self.busy[lcore.index()].store(false, Ordering::Release);
            (lcore, result)
        });
        Ok(Launched {
            main,
            workers,
            results,
        })
    }

    /// Marks the lcores busy, all or none.
    fn claim(&self, lcores: &BTreeSet<LcoreId>) -> Result<(), EalError> {
        for (n, &lcore) in lcores.iter().enumerate() {
            // Acquire pairs with the Release that frees the lcore: what its previous
            // function did happens before the next one starts.
            let was_busy = self.busy[lcore.index()]
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err();
            if was_busy {
                for &claimed in lcores.iter().take(n) {
                    self.busy[claimed.index()].store(false, Ordering::Release);
                }
                return Err(EalError::LcoreBusy { lcore });
            }
        }
        Ok(())
    }
}
