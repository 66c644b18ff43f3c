//! The error every header view returns when its bytes cannot be a valid header.

use thiserror::Error;

/// Why a buffer is not a valid header of some protocol.
///
/// A fast path drops such a packet (and counts it); nothing here is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// The buffer ends before the header (or the length it declares) does.
    #[error("{header}: {len} bytes is shorter than the {need} bytes needed; drop the packet")]
    Truncated {
        /// The protocol, e.g. `"IPv4"`.
        header: &'static str,
        /// Bytes the header needs.
        need: usize,
        /// Bytes the buffer has.
        len: usize,
    },
    /// A field holds a value the protocol forbids (a version, a length below the minimum).
    #[error("{header}: {field} = {value} is invalid ({why}); drop the packet")]
    Malformed {
        /// The protocol, e.g. `"IPv4"`.
        header: &'static str,
        /// The field, e.g. `"IHL"`.
        field: &'static str,
        /// Its value.
        value: u32,
        /// What the protocol requires.
        why: &'static str,
    },
}

/// `Ok(())` when `len >= need`, else [`WireError::Truncated`].
pub(crate) fn need(header: &'static str, need: usize, len: usize) -> Result<(), WireError> {
    if len < need {
        Err(WireError::Truncated { header, need, len })
    } else {
        Ok(())
    }
}
