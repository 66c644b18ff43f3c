//! The 82574's legacy receive and transmit descriptors, as laid out in the Intel 82574
//! GbE Controller Family Datasheet (order no. 317694), chapter 7 "Inline Functions":
//! section 7.1 (receive) and 7.2 (transmit). 16 bytes each, little-endian; the device
//! reads and writes them by DMA in rings of a multiple of 8.

/// A legacy receive descriptor. Software writes `buffer_addr` (and zeroes the rest);
/// the device writes the others back with [`RXD_STAT_DD`] set once the buffer holds
/// (part of) a packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxDesc {
    /// IOVA of the buffer the device writes the packet into.
    pub buffer_addr: u64,
    /// Bytes written to the buffer (without the CRC when `RCTL.SECRC` is set).
    pub length: u16,
    /// Packet checksum (unused: receive checksum offload is off).
    pub csum: u16,
    /// `RXD_STAT_*` bits.
    pub status: u8,
    /// `RXD_ERR_*` bits.
    pub errors: u8,
    /// VLAN tag, when stripped (unused: VLAN stripping is off).
    pub special: u16,
}

/// RX status: Descriptor Done: the device has written the descriptor back.
pub const RXD_STAT_DD: u8 = 1 << 0;
/// RX status: End Of Packet: the last descriptor of a packet.
pub const RXD_STAT_EOP: u8 = 1 << 1;
/// RX errors that mean a bad frame: CRC/alignment (CE), symbol (SE), sequence (SEQ),
/// carrier extension (CXE) and RX data (RXE) errors. The checksum errors (TCPE, IPE)
/// are not here: they are offload results, not bad frames.
pub const RXD_ERR_FRAME: u8 = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 4 | 1 << 7;

/// A legacy transmit descriptor, written by software; the device writes back
/// `status` ([`TXD_STAT_DD`]) of descriptors with [`TXD_CMD_RS`] once it has sent them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxDesc {
    /// IOVA of the data to send.
    pub buffer_addr: u64,
    /// Bytes to send from `buffer_addr`.
    pub length: u16,
    /// Checksum offset (unused).
    pub cso: u8,
    /// `TXD_CMD_*` bits.
    pub cmd: u8,
    /// `TXD_STAT_*` bits, written back by the device.
    pub status: u8,
    /// Checksum start (unused).
    pub css: u8,
    /// VLAN tag to insert (unused).
    pub special: u16,
}

/// TX command: End Of Packet: the last descriptor of a packet.
pub const TXD_CMD_EOP: u8 = 1 << 0;
/// TX command: Insert FCS: the device appends the Ethernet CRC.
pub const TXD_CMD_IFCS: u8 = 1 << 1;
/// TX command: Report Status: write [`TXD_STAT_DD`] back once sent.
pub const TXD_CMD_RS: u8 = 1 << 3;
/// TX status: Descriptor Done.
pub const TXD_STAT_DD: u8 = 1 << 0;

/// Bytes per descriptor, both kinds.
pub const DESC_LEN: usize = 16;

const _: () = assert!(size_of::<RxDesc>() == DESC_LEN && size_of::<TxDesc>() == DESC_LEN);
const _: () = assert!(
    std::mem::offset_of!(RxDesc, length) == 8
        && std::mem::offset_of!(RxDesc, status) == 12
        && std::mem::offset_of!(RxDesc, errors) == 13
        && std::mem::offset_of!(RxDesc, special) == 14
);
const _: () = assert!(
    std::mem::offset_of!(TxDesc, length) == 8
        && std::mem::offset_of!(TxDesc, cmd) == 11
        && std::mem::offset_of!(TxDesc, status) == 12
        && std::mem::offset_of!(TxDesc, special) == 14
);
