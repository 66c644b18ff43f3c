//! Which lcore polls which RX queue, and how many queues and mbufs each port gets:
//! DPDK 22.11 l3fwd's `check_lcore_params`, `init_lcore_rx_queues`,
//! `check_port_config`, `get_port_n_rx_queues` and `NB_MBUF`, as pure functions
//! returning the line DPDK prints before it gives up.

use std::collections::BTreeMap;

use l2fwd::config::enabled;
use l2fwd::fwd::MAX_PKT_BURST;

use crate::MEMPOOL_CACHE_SIZE;
use crate::args::{LcoreParams, MAX_RX_QUEUE_PER_LCORE, MAX_RX_QUEUE_PER_PORT};

/// `check_lcore_params`: every queue id below [`MAX_RX_QUEUE_PER_PORT`], every lcore
/// among `lcores` (the EAL's).
pub fn check_lcore_params(params: &[LcoreParams], lcores: &[u32]) -> Result<(), String> {
    for p in params {
        if p.queue >= MAX_RX_QUEUE_PER_PORT {
            return Err(format!("invalid queue number: {}", p.queue));
        }
        if !lcores.contains(&p.lcore) {
            return Err(format!(
                "error: lcore {} is not enabled in lcore mask",
                p.lcore
            ));
        }
    }
    Ok(())
}

/// `init_lcore_rx_queues`: each lcore's `(port, queue)` list, in `--config` order, at
/// most [`MAX_RX_QUEUE_PER_LCORE`] each.
pub fn lcore_rx_queues(params: &[LcoreParams]) -> Result<BTreeMap<u32, Vec<(u16, u16)>>, String> {
    let mut queues: BTreeMap<u32, Vec<(u16, u16)>> = BTreeMap::new();
    for p in params {
        let list = queues.entry(p.lcore).or_default();
        if list.len() >= MAX_RX_QUEUE_PER_LCORE {
            return Err(format!(
                "error: too many queues ({}) for lcore: {}",
                list.len() + 1,
                p.lcore
            ));
        }
        list.push((p.port, p.queue));
    }
    Ok(queues)
}

/// `check_port_config`: every port of `--config` is enabled and present.
pub fn check_port_config(
    params: &[LcoreParams],
    portmask: u32,
    nb_ports: usize,
) -> Result<(), String> {
    for p in params {
        if !enabled(portmask, p.port.into()) {
            return Err(format!("port {} is not enabled in port mask", p.port));
        }
        if usize::from(p.port) >= nb_ports {
            return Err(format!("port {} is not present on the board", p.port));
        }
    }
    Ok(())
}

/// `get_port_n_rx_queues`: the RX queues `port` needs. Its queue ids, in `--config`
/// order, must be 0, 1, 2, ...
pub fn port_rx_queues(params: &[LcoreParams], port: u16) -> Result<u16, String> {
    let mut next = 0u16;
    for p in params.iter().filter(|p| p.port == port) {
        if p.queue != next {
            return Err(format!(
                "queue ids of the port {port} must be in sequence and must start with 0"
            ));
        }
        next += 1;
    }
    Ok(next)
}

/// DPDK's `NB_MBUF(nports)`: RX and TX rings, a burst per port and lcore, and the lcore
/// caches, at least 8192.
pub fn nb_mbufs(
    nb_ports: usize,
    (nb_rx_queue, nb_rxd): (usize, usize),
    (nb_tx_queue, nb_txd): (usize, usize),
    nb_lcores: usize,
) -> usize {
    (nb_ports * nb_rx_queue * nb_rxd
        + nb_ports * nb_lcores * MAX_PKT_BURST
        + nb_ports * nb_tx_queue * nb_txd
        + nb_lcores * MEMPOOL_CACHE_SIZE)
        .max(8192)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(port: u16, queue: u16, lcore: u32) -> LcoreParams {
        LcoreParams { port, queue, lcore }
    }

    #[test]
    fn lcore_and_port_checks() {
        let cfg = [p(0, 0, 0), p(1, 0, 1), p(0, 1, 1)];
        assert_eq!(check_lcore_params(&cfg, &[0, 1]), Ok(()));
        assert_eq!(
            check_lcore_params(&cfg, &[0]),
            Err("error: lcore 1 is not enabled in lcore mask".into())
        );
        assert_eq!(
            check_lcore_params(&[p(0, 128, 0)], &[0]),
            Err("invalid queue number: 128".into())
        );
        assert_eq!(check_port_config(&cfg, 0x3, 2), Ok(()));
        assert_eq!(
            check_port_config(&cfg, 0x1, 2),
            Err("port 1 is not enabled in port mask".into())
        );
        assert_eq!(
            check_port_config(&cfg, 0x3, 1),
            Err("port 1 is not present on the board".into())
        );
    }

    #[test]
    fn queues_per_lcore_and_port() {
        let cfg = [p(0, 0, 0), p(1, 0, 1), p(0, 1, 1)];
        let q = lcore_rx_queues(&cfg).unwrap();
        assert_eq!(q[&0], vec![(0, 0)]);
        assert_eq!(q[&1], vec![(1, 0), (0, 1)]);
        assert_eq!(
            (port_rx_queues(&cfg, 0), port_rx_queues(&cfg, 1)),
            (Ok(2), Ok(1))
        );
        assert_eq!(port_rx_queues(&cfg, 5), Ok(0));
        assert_eq!(
            port_rx_queues(&[p(0, 1, 0), p(0, 0, 0)], 0),
            Err("queue ids of the port 0 must be in sequence and must start with 0".into())
        );
        let many: Vec<_> = (0..17).map(|q| p(0, q, 0)).collect();
        assert_eq!(
            lcore_rx_queues(&many),
            Err("error: too many queues (17) for lcore: 0".into())
        );
    }

    #[test]
    fn mbuf_count_is_dpdks() {
        assert_eq!(nb_mbufs(2, (1, 1024), (1, 1024), 1), 8192);
        assert_eq!(
            nb_mbufs(4, (2, 1024), (2, 1024), 2),
            8192 + 256 + 8192 + 512
        );
    }
}
