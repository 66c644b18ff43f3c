//! `Eal::init` end to end and lcore launches: pinning, CALL_MAIN/SKIP_MAIN, per-lcore
//! owned state, panics, busy lcores, and the accessors a driver registry uses.
//!
//! Each test makes its own `Eal` with `--no-huge` (no hugepages needed) and two lcores,
//! mapped with `--lcores` onto the CPUs this thread may use, so it runs on any machine;
//! on one with two CPUs (as CI's), the lcores get different CPUs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use burst_eal::memory::MemoryError;
use burst_eal::{CpuSet, Eal, EalError, Launch, LcoreId, LcorePanic, PciAddr};

/// The first and last CPU this thread may run on (the same one on a 1-CPU machine).
fn two_cpus() -> (usize, usize) {
    let cpus = CpuSet::of_current_thread().unwrap();
    let first = cpus.iter().next().unwrap();
    let last = cpus.iter().last().unwrap();
    (first, last)
}

/// An EAL with lcore 0 (main) on the first CPU and lcore 1 on the last, plus `extra`.
fn eal(extra: &[&str]) -> Eal {
    let (first, last) = two_cpus();
    let lcores = format!("--lcores=0@{first},1@{last}");
    let args = ["test", "--no-huge", "--log-level=warning", &lcores]
        .into_iter()
        .chain(extra.iter().copied());
    match Eal::init(args) {
        Ok((eal, app_args)) => {
            assert_eq!(app_args, ["test"]);
            eal
        }
        Err(err) => panic!("Eal::init: {err}"),
    }
}

fn id(n: u32) -> LcoreId {
    LcoreId::new(n).unwrap()
}

#[test]
fn init_reports_lcores_devices_and_app_args() {
    let (first, last) = two_cpus();
    let (eal, app_args) = Eal::init([
        "l2fwd",
        "--no-huge",
        "--log-level",
        "warning",
        "--lcores",
        &format!("0@{first},1@{last}"),
        "--main-lcore=1",
        "--vdev=net_pcap0,iface=eth2",
        "--vdev",
        "net_null1",
        "-a",
        "0000:01:00.0,rxq=2",
        "-m",
        "64",
        "--file-prefix",
        "l2fwd-test",
        "--",
        "-p",
        "0x3",
    ])
    .unwrap();
    assert_eq!(app_args, ["l2fwd", "-p", "0x3"]);
    assert_eq!(eal.main_lcore(), id(1));
    let ids: Vec<LcoreId> = eal.lcores().iter().map(|l| l.id()).collect();
    assert_eq!(ids, [id(0), id(1)]);
    let workers: Vec<LcoreId> = eal.worker_lcores().map(|l| l.id()).collect();
    assert_eq!(workers, [id(0)]);
    assert_eq!(eal.lcore(id(1)).unwrap().cpus(), &CpuSet::from_iter([last]));
    assert!(eal.lcore(id(2)).is_none());

    let vdevs: Vec<(&str, &str)> = eal.vdevs().iter().map(|d| (d.name(), d.driver())).collect();
    assert_eq!(
        vdevs,
        [("net_pcap0", "net_pcap"), ("net_null1", "net_null")]
    );
    assert_eq!(eal.vdevs()[0].get("iface"), Some("eth2"));

    let listed: PciAddr = "01:00.0".parse().unwrap();
    let other: PciAddr = "02:00.0".parse().unwrap();
    assert_eq!(
        eal.pci_allowed(listed),
        Some(&[("rxq".to_owned(), "2".to_owned())][..])
    );
    assert_eq!(eal.pci_allowed(other), None);
    assert_eq!(eal.pci_allow_list().len(), 1);
    assert!(!eal.no_pci());

    assert_eq!(eal.file_prefix(), "l2fwd-test");
    assert_eq!(eal.memory_limit().map(|m| m.bytes()), Some(64 << 20));
    assert!(eal.memory().config().no_huge);
    assert!(eal.memory().alloc(4096).is_ok());
}

#[test]
fn pci_block_list_and_no_pci() {
    let blocked: PciAddr = "0000:03:00.1".parse().unwrap();
    let other: PciAddr = "0000:03:00.0".parse().unwrap();
    let eal_b = eal(&["-b", "03:00.1"]);
    assert_eq!(eal_b.pci_block_list(), [blocked]);
    assert_eq!(eal_b.pci_allowed(blocked), None);
    assert_eq!(eal_b.pci_allowed(other), Some(&[][..]));

    let eal_n = eal(&["--no-pci"]);
    assert!(eal_n.no_pci());
    assert_eq!(eal_n.pci_allowed(other), None);
}

#[test]
fn init_errors_are_typed_not_panics() {
    let e = Eal::init(["t", "--no-huge", "-l", "1023"]).unwrap_err();
    assert!(
        matches!(e, EalError::InvalidValue { option: "-l", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("--lcores 0@1023"), "{e}");
    // No machine here has 1024 CPUs.
    let e = Eal::init(["t", "--no-huge", "--log-level=err", "--lcores", "0@1023"]).unwrap_err();
    assert!(
        matches!(
            e,
            EalError::CpuUnavailable {
                option: "--lcores",
                cpu: 1023,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.exit_code(), 2);

    let e = Eal::init([
        "t",
        "--no-huge",
        "--log-level=err",
        "--huge-dir",
        "/dev/hugepages",
    ])
    .unwrap_err();
    assert!(
        matches!(e, EalError::Memory(MemoryError::InvalidConfig(_))),
        "{e}"
    );
    assert!(e.to_string().contains("drop one of them"), "{e}");
    assert_eq!(e.exit_code(), 2);

    let e = Eal::init(["t", "-h"]).unwrap_err();
    assert!(matches!(&e, EalError::Help(text) if text.contains("Usage: t [EAL options]")));
    assert_eq!(e.exit_code(), 0);
}

#[test]
fn launch_pins_each_lcore_and_call_main_runs_in_the_caller() {
    // Before init, which pins this thread to the first.
    let (first, last) = two_cpus();
    let eal = eal(&[]);
    let caller = thread::current().id();

    let launched = eal
        .launch(Launch::CallMain, move |lcore| {
            (
                CpuSet::of_current_thread().unwrap(),
                thread::current().id() == caller,
                thread::current().name().map(str::to_owned),
                lcore,
            )
        })
        .unwrap();
    let results = launched.wait();
    assert_eq!(results.len(), 2);

    let (lcore, main) = &results[0];
    let (cpus, in_caller, _, seen) = main.as_ref().unwrap();
    assert_eq!(*lcore, id(0));
    assert_eq!(*seen, id(0));
    assert!(*in_caller, "the main lcore runs in the calling thread");
    assert_eq!(
        *cpus,
        CpuSet::from_iter([first]),
        "main lcore pinned by init"
    );

    let (lcore, worker) = &results[1];
    let (cpus, in_caller, name, seen) = worker.as_ref().unwrap();
    assert_eq!((*lcore, *seen), (id(1), id(1)));
    assert!(!*in_caller);
    assert_eq!(name.as_deref(), Some("lcore-1"));
    assert_eq!(*cpus, CpuSet::from_iter([last]), "worker pinned to its CPU");
}

#[test]
fn skip_main_runs_only_workers() {
    let eal = eal(&[]);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let results = eal
        .launch(Launch::SkipMain, move |lcore| {
            counter.fetch_add(1, Ordering::Relaxed);
            lcore.get() * 10
        })
        .unwrap()
        .wait();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, id(1));
    assert_eq!(*results[0].1.as_ref().unwrap(), 10);
}

#[test]
fn launch_each_moves_owned_state_into_each_lcore() {
    let eal = eal(&[]);
    // Owned, non-Clone per-lcore state, as an application's queues are.
    struct Queues(Vec<u32>);
    let jobs = eal.lcores().iter().map(|lcore| {
        let queues = Queues(vec![lcore.id().get(); 3]);
        (lcore.id(), move |me: LcoreId| {
            let Queues(mut q) = queues;
            q.push(me.get());
            q
        })
    });
    let results = eal.launch_each(jobs).unwrap().wait();
    let got: Vec<(LcoreId, Vec<u32>)> = results
        .into_iter()
        .map(|(lcore, result)| (lcore, result.unwrap()))
        .collect();
    assert_eq!(got, [(id(0), vec![0; 4]), (id(1), vec![1; 4])]);
}

#[test]
fn launch_each_rejects_unknown_and_repeated_lcores() {
    let eal = eal(&[]);
    let job = |lcore: LcoreId| lcore.get();
    let e = eal.launch_each([(id(5), job)]).unwrap_err();
    assert!(
        matches!(&e, EalError::NotAnLcore { lcore, lcores } if *lcore == id(5) && lcores == "0-1"),
        "{e}"
    );
    let e = eal.launch_each([(id(1), job), (id(1), job)]).unwrap_err();
    assert!(
        matches!(e, EalError::DuplicateLaunch { lcore } if lcore == id(1)),
        "{e}"
    );
    // Nothing was left busy.
    assert_eq!(eal.launch(Launch::CallMain, job).unwrap().wait().len(), 2);
}

#[test]
fn a_panicking_lcore_is_an_error_and_the_lcore_runs_again() {
    let eal = eal(&[]);
    let results = eal
        .launch(Launch::CallMain, |lcore| {
            if lcore.get() == 1 {
                panic!("boom on {lcore}");
            }
            lcore.get()
        })
        .unwrap()
        .wait();
    assert_eq!(results[0].0, id(0));
    assert_eq!(*results[0].1.as_ref().unwrap(), 0);
    let Err(LcorePanic { lcore, message }) = &results[1].1 else {
        panic!("lcore 1 did not panic");
    };
    assert_eq!((*lcore, message.as_str()), (id(1), "boom on 1"));
    assert_eq!(
        results[1].1.as_ref().unwrap_err().to_string(),
        "lcore 1 panicked: boom on 1"
    );

    // The main lcore's panic is caught too.
    let results = eal
        .launch(Launch::CallMain, |lcore| {
            assert!(lcore.get() != 0, "main fails");
        })
        .unwrap()
        .wait();
    assert!(
        results[0]
            .1
            .as_ref()
            .unwrap_err()
            .message
            .contains("main fails")
    );
    assert!(results[1].1.is_ok());

    // Both lcores take new work.
    let again = eal
        .launch(Launch::CallMain, |lcore| lcore.get())
        .unwrap()
        .wait();
    assert!(again.iter().all(|(_, r)| r.is_ok()));
}

#[test]
fn a_busy_lcore_refuses_a_second_launch() {
    let eal = eal(&[]);
    let gate = Arc::new(Barrier::new(2));
    let worker_gate = Arc::clone(&gate);
    let first = eal
        .launch(Launch::SkipMain, move |_| {
            worker_gate.wait();
        })
        .unwrap();

    let e = eal.launch(Launch::SkipMain, |_| ()).unwrap_err();
    assert!(
        matches!(e, EalError::LcoreBusy { lcore } if lcore == id(1)),
        "{e}"
    );
    // CallMain claims nothing when one lcore is busy: the main lcore stays free.
    assert!(matches!(
        eal.launch(Launch::CallMain, |_| ()),
        Err(EalError::LcoreBusy { .. })
    ));
    let main_only = eal.launch_each([(id(0), |_: LcoreId| 7)]).unwrap().wait();
    assert_eq!(*main_only[0].1.as_ref().unwrap(), 7);

    gate.wait();
    assert!(first.wait()[0].1.is_ok());
    assert_eq!(
        eal.launch(Launch::SkipMain, |_| ()).unwrap().wait().len(),
        1
    );
}

#[test]
fn init_checks_m_against_the_free_hugepages() {
    // 100 TB of 2 MiB or 1 GiB pages is more than any machine here has.
    let e = Eal::init(["t", "--in-memory", "--log-level=err", "-m", "100000000"]).unwrap_err();
    match e {
        EalError::Memory(MemoryError::NoFreeHugepages { needed, .. }) if needed > 1 => {
            assert!(e.to_string().contains("hugepages"), "{e}");
            assert_eq!(e.exit_code(), 1);
        }
        // No hugepages at all: Memory::new already fails for the first page.
        EalError::Memory(other) => eprintln!("skipped: no hugepages here ({other})"),
        other => panic!("{other}"),
    }
}

#[test]
fn an_eal_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Eal>();
}

#[test]
fn init_can_run_again_in_one_process() {
    let a = eal(&[]);
    let b = eal(&["--log-level=pmd.*:debug"]);
    drop(a);
    assert_eq!(
        b.launch(Launch::SkipMain, |l| l.get())
            .unwrap()
            .wait()
            .len(),
        1
    );
    assert!(!b.stop_requested());
}
