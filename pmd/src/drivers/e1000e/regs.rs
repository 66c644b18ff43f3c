//! The 82574's registers that this driver uses: byte offsets into BAR 0 and their bits,
//! named as in the Intel 82574 GbE Controller Family Datasheet (order no. 317694),
//! chapter 10 (the register descriptions of the CSR space, and their summary table).
//!
//! Statistics registers (offsets 0x04000 to 0x04100) clear when read; the 64-bit
//! octet counters clear when their high half is read, so the low half is read first.

/// Device Control.
pub const CTRL: usize = 0x00000;
/// CTRL: GIO Master Disable: stop issuing new master (DMA) requests.
pub const CTRL_GIO_MASTER_DISABLE: u32 = 1 << 2;
/// CTRL: Auto-Speed Detection Enable.
pub const CTRL_ASDE: u32 = 1 << 5;
/// CTRL: Set Link Up.
pub const CTRL_SLU: u32 = 1 << 6;
/// CTRL: Force Speed.
pub const CTRL_FRCSPD: u32 = 1 << 11;
/// CTRL: Force Duplex.
pub const CTRL_FRCDPLX: u32 = 1 << 12;
/// CTRL: Device Reset (self-clearing): resets everything but the PCI configuration.
pub const CTRL_RST: u32 = 1 << 26;

/// Device Status.
pub const STATUS: usize = 0x00008;
/// STATUS: Full Duplex.
pub const STATUS_FD: u32 = 1 << 0;
/// STATUS: Link Up.
pub const STATUS_LU: u32 = 1 << 1;
/// STATUS: Link speed, bits 7:6 (00 = 10 Mb/s, 01 = 100 Mb/s, 1x = 1000 Mb/s).
pub const STATUS_SPEED_SHIFT: u32 = 6;
/// STATUS: the speed field's mask, after the shift.
pub const STATUS_SPEED_MASK: u32 = 0b11;
/// STATUS: GIO Master Enable Status: master requests still pending.
pub const STATUS_GIO_MASTER_ENABLE: u32 = 1 << 19;

/// EEPROM/Flash Control.
pub const EECD: usize = 0x00010;
/// EECD: Auto Read Done: the NVM (MAC address included) is loaded after a reset.
pub const EECD_AUTO_RD: u32 = 1 << 9;

/// Extended Device Control.
pub const CTRL_EXT: usize = 0x00018;
/// CTRL_EXT: Driver Loaded: tells the firmware a driver owns the device.
pub const CTRL_EXT_DRV_LOAD: u32 = 1 << 28;

/// Interrupt Cause Read (clears on read).
pub const ICR: usize = 0x000C0;
/// Interrupt Mask Clear: a 1 bit masks that cause.
pub const IMC: usize = 0x000D8;

/// Receive Control.
pub const RCTL: usize = 0x00100;
/// RCTL: Receiver Enable.
pub const RCTL_EN: u32 = 1 << 1;
/// RCTL: Unicast Promiscuous Enable.
pub const RCTL_UPE: u32 = 1 << 3;
/// RCTL: Multicast Promiscuous Enable.
pub const RCTL_MPE: u32 = 1 << 4;
/// RCTL: Long Packet Enable: accept frames over 1522 bytes (jumbo).
pub const RCTL_LPE: u32 = 1 << 5;
/// RCTL: Broadcast Accept Mode.
pub const RCTL_BAM: u32 = 1 << 15;
/// RCTL: Receive Buffer Size, bits 17:16 (with BSEX: 00 = 2048 or -, 01 = 1024 or
/// 16384, 10 = 512 or 8192, 11 = 256 or 4096 bytes).
pub const RCTL_BSIZE_SHIFT: u32 = 16;
/// RCTL: Buffer Size Extension: BSIZE counts 16 times larger.
pub const RCTL_BSEX: u32 = 1 << 25;
/// RCTL: Strip Ethernet CRC from incoming packets.
pub const RCTL_SECRC: u32 = 1 << 26;

/// Transmit Control.
pub const TCTL: usize = 0x00400;
/// TCTL: Transmit Enable.
pub const TCTL_EN: u32 = 1 << 1;
/// TCTL: Pad Short Packets (to 64 bytes).
pub const TCTL_PSP: u32 = 1 << 3;
/// TCTL: Collision Threshold, bits 11:4 (the datasheet's recommended 0x0F).
pub const TCTL_CT: u32 = 0x0F << 4;
/// TCTL: Collision Distance, bits 21:12 (0x3F for full duplex).
pub const TCTL_COLD: u32 = 0x3F << 12;
/// TCTL: Re-transmit on Late Collision.
pub const TCTL_RTLC: u32 = 1 << 24;

/// Transmit Inter Packet Gap: IPGT bits 9:0, IPGR1 19:10, IPGR2 29:20; the
/// datasheet's values for copper (8, 8, 6).
pub const TIPG: usize = 0x00410;
/// TIPG for a copper link.
pub const TIPG_COPPER: u32 = 8 | 8 << 10 | 6 << 20;

/// Receive Descriptor Base Address Low (queue 0).
pub const RDBAL: usize = 0x02800;
/// Receive Descriptor Base Address High.
pub const RDBAH: usize = 0x02804;
/// Receive Descriptor Length, in bytes (a multiple of 128).
pub const RDLEN: usize = 0x02808;
/// Receive Descriptor Head.
pub const RDH: usize = 0x02810;
/// Receive Descriptor Tail.
pub const RDT: usize = 0x02818;
/// Receive Descriptor Control.
pub const RXDCTL: usize = 0x02828;
/// RXDCTL and TXDCTL: Granularity: thresholds count descriptors, not cache lines.
pub const XDCTL_GRAN: u32 = 1 << 24;

/// Transmit Descriptor Base Address Low (queue 0).
pub const TDBAL: usize = 0x03800;
/// Transmit Descriptor Base Address High.
pub const TDBAH: usize = 0x03804;
/// Transmit Descriptor Length, in bytes (a multiple of 128).
pub const TDLEN: usize = 0x03808;
/// Transmit Descriptor Head.
pub const TDH: usize = 0x03810;
/// Transmit Descriptor Tail.
pub const TDT: usize = 0x03818;
/// Transmit Descriptor Control.
pub const TXDCTL: usize = 0x03828;
/// TXDCTL: bit 22, reserved: kept as the device reports it.
pub const TXDCTL_RESERVED_22: u32 = 1 << 22;
/// Transmit Arbitration Count (queue 0).
pub const TARC0: usize = 0x03840;
/// TARC: Enable: the queue takes part in transmit arbitration.
pub const TARC_ENABLE: u32 = 1 << 10;

/// Receive Checksum Control (0: no checksum offload).
pub const RXCSUM: usize = 0x05000;
/// Receive Filter Control.
pub const RFCTL: usize = 0x05008;
/// RFCTL: Extended Status Enable: extended receive descriptors instead of legacy ones.
pub const RFCTL_EXTEN: u32 = 1 << 15;
/// Multicast Table Array: 128 registers of 32 hash bits.
pub const MTA: usize = 0x05200;
/// Registers in the MTA.
pub const MTA_LEN: usize = 128;
/// Receive Address Low of entry `n` (0..16): MAC bytes 0 to 3.
pub const fn ral(n: usize) -> usize {
    0x05400 + 8 * n
}
/// Receive Address High of entry `n`: MAC bytes 4 and 5, and the valid bit.
pub const fn rah(n: usize) -> usize {
    0x05404 + 8 * n
}
/// Receive address entries.
pub const RA_ENTRIES: usize = 16;
/// RAH: Address Valid.
pub const RAH_AV: u32 = 1 << 31;

/// Missed Packets Count: dropped because the receive FIFO was full.
pub const MPC: usize = 0x04010;
/// Good Packets Received Count.
pub const GPRC: usize = 0x04074;
/// Good Packets Transmitted Count.
pub const GPTC: usize = 0x04080;
/// Good Octets Received Count, low and high halves.
pub const GORCL: usize = 0x04088;
/// Good Octets Received Count, high half (reading it clears both).
pub const GORCH: usize = 0x0408C;
/// Good Octets Transmitted Count, low half.
pub const GOTCL: usize = 0x04090;
/// Good Octets Transmitted Count, high half.
pub const GOTCH: usize = 0x04094;
/// Total Octets Received, low half.
pub const TORL: usize = 0x040C0;
/// Total Octets Received, high half.
pub const TORH: usize = 0x040C4;
/// Total Octets Transmitted, low half.
pub const TOTL: usize = 0x040C8;
/// Total Octets Transmitted, high half.
pub const TOTH: usize = 0x040CC;

/// The 32-bit statistics counters this driver accumulates, with the name it reports
/// each under: DPDK's e1000 (igb) xstat names where DPDK has one.
pub const STATS32: &[(&str, usize)] = &[
    ("rx_crc_errors", 0x04000),                       // CRCERRS
    ("rx_align_errors", 0x04004),                     // ALGNERRC
    ("rx_symbol_errors", 0x04008),                    // SYMERRS
    ("hw_rx_errors", 0x0400C),                        // RXERRC
    ("rx_missed_packets", MPC),                       // MPC
    ("tx_single_collision_packets", 0x04014),         // SCC
    ("tx_excessive_collision_packets", 0x04018),      // ECOL
    ("tx_multiple_collision_packets", 0x0401C),       // MCC
    ("tx_late_collisions", 0x04020),                  // LATECOL
    ("tx_total_collisions", 0x04028),                 // COLC
    ("tx_deferred_packets", 0x04030),                 // DC
    ("tx_no_carrier_sense_packets", 0x04034),         // TNCRS
    ("rx_carrier_ext_errors", 0x0403C),               // CEXTERR
    ("rx_length_errors", 0x04040),                    // RLEC
    ("rx_xon_packets", 0x04048),                      // XONRXC
    ("tx_xon_packets", 0x0404C),                      // XONTXC
    ("rx_xoff_packets", 0x04050),                     // XOFFRXC
    ("tx_xoff_packets", 0x04054),                     // XOFFTXC
    ("rx_flow_control_unsupported_packets", 0x04058), // FCRUC
    ("rx_size_64_packets", 0x0405C),                  // PRC64
    ("rx_size_65_to_127_packets", 0x04060),           // PRC127
    ("rx_size_128_to_255_packets", 0x04064),          // PRC255
    ("rx_size_256_to_511_packets", 0x04068),          // PRC511
    ("rx_size_512_to_1023_packets", 0x0406C),         // PRC1023
    ("rx_size_1024_to_max_packets", 0x04070),         // PRC1522
    ("hw_rx_good_packets", GPRC),                     // GPRC
    ("rx_broadcast_packets", 0x04078),                // BPRC
    ("rx_multicast_packets", 0x0407C),                // MPRC
    ("hw_tx_good_packets", GPTC),                     // GPTC
    ("rx_no_buffer_count", 0x040A0),                  // RNBC
    ("rx_undersize_errors", 0x040A4),                 // RUC
    ("rx_fragment_errors", 0x040A8),                  // RFC
    ("rx_oversize_errors", 0x040AC),                  // ROC
    ("rx_jabber_errors", 0x040B0),                    // RJC
    ("rx_management_packets", 0x040B4),               // MGTPRC
    ("rx_management_dropped", 0x040B8),               // MGTPDC
    ("tx_management_packets", 0x040BC),               // MGTPTC
    ("rx_total_packets", 0x040D0),                    // TPR
    ("tx_total_packets", 0x040D4),                    // TPT
    ("tx_size_64_packets", 0x040D8),                  // PTC64
    ("tx_size_65_to_127_packets", 0x040DC),           // PTC127
    ("tx_size_128_to_255_packets", 0x040E0),          // PTC255
    ("tx_size_256_to_511_packets", 0x040E4),          // PTC511
    ("tx_size_512_to_1023_packets", 0x040E8),         // PTC1023
    ("tx_size_1023_to_max_packets", 0x040EC),         // PTC1522 (DPDK's name)
    ("tx_multicast_packets", 0x040F0),                // MPTC
    ("tx_broadcast_packets", 0x040F4),                // BPTC
    ("tx_tso_packets", 0x040F8),                      // TSCTC
    ("tx_tso_errors", 0x040FC),                       // TSCTFC
    ("interrupt_assert_count", 0x04100),              // IAC
];

/// The 64-bit octet counters (low half, high half) and their names.
pub const STATS64: &[(&str, usize, usize)] = &[
    ("hw_rx_good_bytes", GORCL, GORCH),
    ("hw_tx_good_bytes", GOTCL, GOTCH),
    ("rx_total_bytes", TORL, TORH),
    ("tx_total_bytes", TOTL, TOTH),
];
