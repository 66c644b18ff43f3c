/* relax_rx_offload.c - LD_PRELOAD shim for DPDK 22.11's examples/l3fwd on ports
 * without hardware offloads (net_pcap, net_null).
 *
 * l3fwd 22.11 asks every port for RTE_ETH_RX_OFFLOAD_CHECKSUM, so
 * rte_eth_dev_configure and rte_eth_rx_queue_setup fail on virtual ports. This
 * shim masks the requested RX offloads with the port's rx_offload_capa before
 * calling DPDK's functions: what upstream's --relax-rx-offload (DPDK 24.03)
 * does. It prints one line per masked call on stderr ("relax_rx_offload: ...").
 *
 * Build: cc -O2 -shared -fPIC -o relax_rx_offload.so relax_rx_offload.c \
 *        $(pkg-config --cflags libdpdk) -ldl
 * Use:   LD_PRELOAD=./relax_rx_offload.so l3fwd ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_ethdev.h>

typedef int (*configure_fn)(uint16_t, uint16_t, uint16_t,
			    const struct rte_eth_conf *);
typedef int (*rxq_setup_fn)(uint16_t, uint16_t, uint16_t, unsigned int,
			    const struct rte_eth_rxconf *, struct rte_mempool *);

static void *
real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		fprintf(stderr, "relax_rx_offload: cannot find %s: %s\n", name,
			dlerror());
		abort();
	}
	return f;
}

/* The port's RX offload capabilities, or all bits if they cannot be read. */
static uint64_t
rx_capa(uint16_t port)
{
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(port, &info) != 0)
		return UINT64_MAX;
	return info.rx_offload_capa;
}

int
rte_eth_dev_configure(uint16_t port, uint16_t nb_rxq, uint16_t nb_txq,
		      const struct rte_eth_conf *conf)
{
	static configure_fn f;
	struct rte_eth_conf c = *conf;
	uint64_t capa = rx_capa(port);

	if (f == NULL)
		f = (configure_fn)real("rte_eth_dev_configure");
	if (c.rxmode.offloads & ~capa) {
		fprintf(stderr, "relax_rx_offload: port %u: RX offloads 0x%" PRIx64
			" masked to 0x%" PRIx64 "\n", port, c.rxmode.offloads,
			c.rxmode.offloads & capa);
		c.rxmode.offloads &= capa;
	}
	return f(port, nb_rxq, nb_txq, &c);
}

int
rte_eth_rx_queue_setup(uint16_t port, uint16_t queue, uint16_t nb_desc,
		       unsigned int socket, const struct rte_eth_rxconf *conf,
		       struct rte_mempool *pool)
{
	static rxq_setup_fn f;
	struct rte_eth_rxconf c;

	if (f == NULL)
		f = (rxq_setup_fn)real("rte_eth_rx_queue_setup");
	if (conf == NULL)
		return f(port, queue, nb_desc, socket, conf, pool);
	c = *conf;
	c.offloads &= rx_capa(port);
	return f(port, queue, nb_desc, socket, &c, pool);
}
