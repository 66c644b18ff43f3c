//! `net_null` (DPDK's `drivers/net/null`): a port with no wire. RX hands out fresh mbufs
//! of `size` bytes as fast as the pool gives them; TX frees what it is given. It measures
//! the framework's own cost per packet, and DPDK's l2fwd/testpmd run on it the same way.
//!
//! Devargs: `size=N` (packet size, default 64), `copy=1` (copy a packet's bytes on RX and
//! TX, as a real driver touches data), `no-rx=1` (RX returns nothing).

use std::sync::Arc;

use burst_mempool::{Mbuf, PktPool};

use crate::drivers::{LcoreCache, TxFree};
use crate::ethdev::{DevInfo, Driver, EthConf, EthError, Link, MacAddr, PortId, RxBurst, TxBurst};
use crate::stats::QueueCounters;
use crate::vdev::{VdevArgs, VdevDriver};

/// The registry entry.
pub const DRIVER: VdevDriver = VdevDriver {
    name: "net_null",
    probe,
};

/// DPDK's `default_packet_size`.
const DEFAULT_SIZE: u32 = 64;

#[derive(Clone, Copy, Debug)]
struct Params {
    size: u32,
    copy: bool,
    no_rx: bool,
}

struct NullDev {
    port: PortId,
    params: Params,
    mac: MacAddr,
    started: bool,
}

fn probe(args: &VdevArgs<'_>, port: u16) -> Result<Box<dyn Driver>, EthError> {
    args.check_keys(&["size", "copy", "no-rx"])?;
    let params = Params {
        size: args.get_u32("size", DEFAULT_SIZE, 1..=u16::MAX as u32)?,
        copy: args.get_flag("copy")?,
        no_rx: args.get_flag("no-rx")?,
    };
    // A locally administered unicast address, distinct per port.
    let [hi, lo] = port.to_be_bytes();
    Ok(Box::new(NullDev {
        port,
        params,
        mac: MacAddr([0x02, 0x6e, 0x75, 0x6c, hi, lo]),
        started: false,
    }))
}

impl Driver for NullDev {
    fn info(&self) -> DevInfo {
        DevInfo {
            driver_name: DRIVER.name,
            max_rx_queues: 1024,
            max_tx_queues: 1024,
            desc_lim: (1, u16::MAX),
            mtu_range: (68, u16::MAX),
            rx_offload_capa: 0,
            rss: false,
        }
    }

    fn mac_addr(&self) -> MacAddr {
        self.mac
    }

    fn configure(&mut self, _conf: &EthConf) -> Result<(), EthError> {
        Ok(())
    }

    fn rx_queue_setup(
        &mut self,
        queue: u16,
        _nb_desc: u16,
        pool: &PktPool,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn RxBurst>, EthError> {
        let room = pool.config().data_room;
        if self.params.size > u32::from(room) {
            return Err(EthError::Invalid {
                port: self.port,
                msg: format!(
                    "RX queue {queue}: size={} does not fit the {room}-byte data room of mempool '{}'",
                    self.params.size,
                    pool.name()
                ),
            });
        }
        let cache = LcoreCache::new(pool);
        Ok(Box::new(NullRx {
            params: self.params,
            cache,
            counters,
            dummy: vec![0; self.params.size as usize],
        }))
    }

    fn tx_queue_setup(
        &mut self,
        _queue: u16,
        _nb_desc: u16,
        counters: Arc<QueueCounters>,
    ) -> Result<Box<dyn TxBurst>, EthError> {
        Ok(Box::new(NullTx {
            params: self.params,
            free: TxFree::default(),
            counters,
            dummy: vec![0; self.params.size as usize],
        }))
    }

    fn start(&mut self) -> Result<(), EthError> {
        self.started = true;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), EthError> {
        self.started = false;
        Ok(())
    }

    fn link(&self) -> Link {
        super::virtual_link(self.started)
    }

    fn set_promiscuous(&mut self, _on: bool) -> Result<(), EthError> {
        Ok(())
    }

    fn set_mtu(&mut self, _mtu: u16) -> Result<(), EthError> {
        Ok(())
    }
}

struct NullRx {
    params: Params,
    cache: LcoreCache,
    counters: Arc<QueueCounters>,
    /// The bytes `copy=1` writes into each packet.
    dummy: Vec<u8>,
}

impl RxBurst for NullRx {
    fn rx_burst(&mut self, pkts: &mut Vec<Mbuf>, nb_pkts: usize) -> usize {
        if self.params.no_rx || nb_pkts == 0 {
            return 0;
        }
        let first = pkts.len();
        // All or nothing, as DPDK's null PMD.
        if self.cache.alloc_bulk(pkts, nb_pkts).is_err() {
            self.counters.add_nombuf(1);
            return 0;
        }
        let size = self.params.size as usize;
        for m in &mut pkts[first..] {
            // A fresh mbuf has the pool's whole data room, which setup checked holds
            // `size`: the append cannot fail.
            let data = m
                .append(size)
                .expect("size fits the data room (checked at setup)");
            if self.params.copy {
                data.copy_from_slice(&self.dummy);
            }
        }
        self.counters.add(nb_pkts as u64, (nb_pkts * size) as u64);
        nb_pkts
    }
}

struct NullTx {
    params: Params,
    free: TxFree,
    counters: Arc<QueueCounters>,
    /// Where `copy=1` copies each packet.
    dummy: Vec<u8>,
}

impl TxBurst for NullTx {
    fn tx_burst(&mut self, pkts: &mut Vec<Mbuf>) -> usize {
        let n = pkts.len();
        if n == 0 {
            return 0;
        }
        let mut bytes = 0;
        for m in pkts.iter() {
            bytes += m.pkt_len() as u64;
            if self.params.copy {
                let d = m.data();
                let len = d.len().min(self.dummy.len());
                self.dummy[..len].copy_from_slice(&d[..len]);
            }
        }
        self.free.free_bulk(pkts);
        self.counters.add(n as u64, bytes);
        n
    }
}
