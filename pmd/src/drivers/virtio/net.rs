//! The network device, as the virtio 1.1 specification (virtio-v1.1-cs01) §5.1 defines
//! it: its feature bits (§5.1.3), its device configuration (§5.1.4) and the header that
//! precedes every packet in its buffers (§5.1.6).

/// Feature bit 3: the device advises a maximum MTU in [`CFG_MTU`].
pub const VIRTIO_NET_F_MTU: u64 = 1 << 3;
/// Feature bit 5: the device has a MAC address in [`CFG_MAC`].
pub const VIRTIO_NET_F_MAC: u64 = 1 << 5;
/// Feature bit 15: the driver can take packets spread over several receive buffers.
/// Not negotiated: every packet of the MTU fits one mbuf.
pub const VIRTIO_NET_F_MRG_RXBUF: u64 = 1 << 15;
/// Feature bit 16: [`CFG_STATUS`] reports the link.
pub const VIRTIO_NET_F_STATUS: u64 = 1 << 16;
/// Feature bit 17: a control virtqueue exists.
pub const VIRTIO_NET_F_CTRL_VQ: u64 = 1 << 17;
/// Feature bit 18: the control virtqueue takes receive-mode (promiscuous) commands.
pub const VIRTIO_NET_F_CTRL_RX: u64 = 1 << 18;
/// Feature bit 63: [`CFG_SPEED`] and [`CFG_DUPLEX`] report the link's speed and duplex.
pub const VIRTIO_NET_F_SPEED_DUPLEX: u64 = 1 << 63;

/// Device configuration (`struct virtio_net_config`): the MAC address, 6 bytes.
pub const CFG_MAC: usize = 0;
/// The link status, 16 bits: [`VIRTIO_NET_S_LINK_UP`].
pub const CFG_STATUS: usize = 6;
/// The advised maximum MTU, 16 bits, with [`VIRTIO_NET_F_MTU`].
pub const CFG_MTU: usize = 10;
/// The link speed in Mb/s, 32 bits (`0xffffffff`: unknown).
pub const CFG_SPEED: usize = 12;
/// The duplex, 8 bits: 1 full, 0 half, `0xff` unknown.
pub const CFG_DUPLEX: usize = 16;
/// Bytes of the device configuration the driver reads.
pub const CFG_LEN: usize = 17;

/// [`CFG_STATUS`] bit: the link is up.
pub const VIRTIO_NET_S_LINK_UP: u16 = 1;
/// [`CFG_SPEED`] value: unknown.
pub const SPEED_UNKNOWN: u32 = u32::MAX;
/// [`CFG_DUPLEX`] value: full duplex.
pub const DUPLEX_FULL: u8 = 1;

/// Bytes of `struct virtio_net_hdr` with `VIRTIO_F_VERSION_1`, where `num_buffers` is
/// always present: `flags` (u8), `gso_type` (u8), `hdr_len`, `gso_size`, `csum_start`,
/// `csum_offset` and `num_buffers` (le16 each). With no offload negotiated, the device
/// writes zeroes (and `num_buffers` 1) on receive, and the driver sends all zeroes:
/// no checksum to complete (`flags` 0), no segmentation (`VIRTIO_NET_HDR_GSO_NONE`).
pub const NET_HDR_LEN: usize = 12;
