//! Which port forwards to which, and which lcore polls which port: DPDK 22.11 l2fwd's
//! `check_port_pair_config`, destination table and lcore loop, as pure functions.

use crate::args::{MAX_ETHPORTS, Options};

/// Whether `port` is in `mask`.
pub fn enabled(mask: u32, port: usize) -> bool {
    port < MAX_ETHPORTS && mask & (1 << port) != 0
}

/// `check_port_pair_config`: every port of `--portmap` must be enabled in the port
/// mask and exist (below `nb_ports`), and in one pair only. Returns the port mask
/// narrowed to the ports of the pairs, or the line DPDK prints before giving up.
pub fn check_port_pair_config(
    pairs: &[(u16, u16)],
    portmask: u32,
    nb_ports: usize,
) -> Result<u32, String> {
    let mut config_mask = 0u32;
    for &(a, b) in pairs {
        let mut pair_mask = 0u32;
        for port in [a, b] {
            let p = usize::from(port);
            if !enabled(portmask, p) {
                return Err(format!("port {port} is not enabled in port mask"));
            }
            if p >= nb_ports {
                return Err(format!("port {port} is not present on the board"));
            }
            pair_mask |= 1 << p;
        }
        if config_mask & pair_mask != 0 {
            // DPDK names the pair's second port, whichever of the two is reused.
            return Err(format!("port {b} is used in other port pairs"));
        }
        config_mask |= pair_mask;
    }
    Ok(portmask & config_mask)
}

/// The destination port of every port (`l2fwd_dst_ports`; 0 for ports not forwarded),
/// and whether the port mask had an odd number of ports, the last one then sending
/// back to itself ("Notice: odd number of ports in portmask.").
///
/// Without `--portmap`, the enabled ports below `nb_ports` pair up in order: the
/// 1st with the 2nd, the 3rd with the 4th, ...
pub fn dst_ports(opts: &Options, portmask: u32, nb_ports: usize) -> ([u16; MAX_ETHPORTS], bool) {
    let mut dst = [0u16; MAX_ETHPORTS];
    if let Some(pairs) = &opts.portmap {
        for &(a, b) in pairs {
            dst[usize::from(a)] = b;
            dst[usize::from(b)] = a;
        }
        return (dst, false);
    }
    let mut last = 0u16;
    let mut n = 0;
    for port in (0..nb_ports.min(MAX_ETHPORTS)).filter(|&p| enabled(portmask, p)) {
        let port = port as u16;
        if n % 2 == 1 {
            dst[usize::from(port)] = last;
            dst[usize::from(last)] = port;
        } else {
            last = port;
        }
        n += 1;
    }
    let odd = n % 2 == 1;
    if odd {
        dst[usize::from(last)] = last;
    }
    (dst, odd)
}

/// The RX ports of each lcore that gets some, in lcore order: DPDK's loop, which gives
/// each enabled port, in order, to the lowest enabled lcore not yet holding
/// `per_lcore` ports, never going back to an earlier lcore. `lcores` are the enabled
/// lcore ids, ascending. `None` if the lcores run out ("Not enough cores").
pub fn assign_lcores(
    lcores: &[u32],
    portmask: u32,
    nb_ports: usize,
    per_lcore: usize,
) -> Option<Vec<(u32, Vec<u16>)>> {
    let mut plan: Vec<(u32, Vec<u16>)> = Vec::new();
    let mut next = lcores.iter().copied();
    for port in (0..nb_ports.min(MAX_ETHPORTS)).filter(|&p| enabled(portmask, p)) {
        if plan
            .last()
            .is_none_or(|(_, ports)| ports.len() >= per_lcore)
        {
            plan.push((next.next()?, Vec::new()));
        }
        if let Some((_, ports)) = plan.last_mut() {
            ports.push(port as u16);
        }
    }
    Some(plan)
}

/// DPDK's mbuf count: `max(nb_ports * (nb_rxd + nb_txd + MAX_PKT_BURST + nb_lcores *
/// MEMPOOL_CACHE_SIZE), 8192)`, `nb_ports` being every port, enabled or not, and
/// `nb_lcores` the lcores that have RX ports.
pub fn nb_mbufs(
    nb_ports: usize,
    nb_rxd: usize,
    nb_txd: usize,
    max_pkt_burst: usize,
    nb_lcores: usize,
    cache_size: usize,
) -> usize {
    (nb_ports * (nb_rxd + nb_txd + max_pkt_burst + nb_lcores * cache_size)).max(8192)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(portmap: Option<Vec<(u16, u16)>>) -> Options {
        Options {
            portmap,
            ..Options::default()
        }
    }

    #[test]
    fn default_pairs_are_consecutive_enabled_ports() {
        // Enabled: 1 2 4 5 7: pairs (1,2) (4,5), and 7 alone sends to itself.
        let (dst, odd) = dst_ports(&opts(None), 0b1011_0110, 8);
        assert!(odd);
        assert_eq!((dst[1], dst[2], dst[4], dst[5], dst[7]), (2, 1, 5, 4, 7));
        let (dst, odd) = dst_ports(&opts(None), 0b1111, 4);
        assert!(!odd);
        assert_eq!(&dst[..4], &[1, 0, 3, 2]);
        let (dst, odd) = dst_ports(&opts(None), 0b111, 3);
        assert!(odd);
        assert_eq!(&dst[..3], &[1, 0, 2]);
        // Ports beyond nb_ports are not paired (main() refuses such masks anyway).
        let (dst, odd) = dst_ports(&opts(None), 0b11, 1);
        assert!(odd);
        assert_eq!(dst[0], 0);
    }

    #[test]
    fn portmap_pairs_both_ways() {
        let (dst, odd) = dst_ports(&opts(Some(vec![(0, 3), (1, 2)])), 0xf, 4);
        assert!(!odd);
        assert_eq!(&dst[..4], &[3, 2, 1, 0]);
    }

    #[test]
    fn portmap_checks() {
        assert_eq!(check_port_pair_config(&[(0, 1)], 0x3, 2), Ok(0x3));
        // Ports of the mask outside the pairs are dropped from it.
        assert_eq!(check_port_pair_config(&[(0, 1)], 0x7, 3), Ok(0x3));
        assert_eq!(check_port_pair_config(&[], 0x3, 2), Ok(0));
        assert_eq!(
            check_port_pair_config(&[(0, 2)], 0x3, 3).unwrap_err(),
            "port 2 is not enabled in port mask"
        );
        assert_eq!(
            check_port_pair_config(&[(0, 2)], 0x7, 2).unwrap_err(),
            "port 2 is not present on the board"
        );
        assert_eq!(
            check_port_pair_config(&[(0, 1), (1, 2)], 0x7, 3).unwrap_err(),
            "port 2 is used in other port pairs"
        );
        assert_eq!(check_port_pair_config(&[(0, 0)], 0x1, 1), Ok(0x1));
    }

    #[test]
    fn lcores_take_up_to_nq_ports_in_order() {
        let plan = assign_lcores(&[0, 1], 0x3, 2, 1).unwrap();
        assert_eq!(plan, vec![(0, vec![0]), (1, vec![1])]);
        let plan = assign_lcores(&[0, 1], 0x3, 2, 2).unwrap();
        assert_eq!(plan, vec![(0, vec![0, 1])]);
        let plan = assign_lcores(&[2, 5, 7], 0b1_1101, 5, 2).unwrap();
        assert_eq!(plan, vec![(2, vec![0, 2]), (5, vec![3, 4])]);
        assert_eq!(assign_lcores(&[0], 0x3, 2, 1), None);
        assert_eq!(assign_lcores(&[0], 0, 2, 1), Some(vec![]));
    }

    #[test]
    fn mbuf_count_is_dpdks() {
        assert_eq!(nb_mbufs(2, 1024, 1024, 32, 1, 256), 8192);
        assert_eq!(nb_mbufs(4, 1024, 1024, 32, 2, 256), 4 * (2080 + 512));
    }
}
