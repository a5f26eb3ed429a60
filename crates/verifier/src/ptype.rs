//! Adapter from the program-type tables (`progtypes/`) to what the checkers ask.
//! (Minimal built-in rules until the generated tables are wired in.)

use crate::error::VerifyError;
use crate::explore::Verifier;
use crate::mem::Access;
use crate::reg::{RegState, RegType};

pub fn may_write_packet(prog_type: u32, _attach: Option<u32>) -> bool {
    matches!(prog_type, 3 | 4 | 6 | 10 | 11 | 12 | 14 | 16)
}

pub fn helper_packet_access(prog_type: u32) -> bool {
    matches!(prog_type, 3 | 4 | 6 | 10 | 11 | 12 | 14 | 16 | 8 | 1)
}

pub fn ld_abs_allowed(prog_type: u32) -> bool {
    matches!(prog_type, 1 | 3 | 4)
}

pub fn return_range(_prog_type: u32, _attach: Option<u32>) -> Option<(i64, i64)> {
    None
}

pub fn sock_field_ok(_ty: RegType, off: i64, size: i64) -> bool {
    off >= 0 && size > 0 && off + size <= 8
}

impl Verifier<'_> {
    /// A context access at `off` of `size` bytes: the loaded value, or the kernel's refusal.
    pub fn ctx_access(
        &mut self,
        pc: usize,
        off: i64,
        size: i64,
        t: Access,
    ) -> Result<RegState, VerifyError> {
        let _ = t;
        Err(VerifyError::access(
            pc,
            format!("invalid bpf_context access off={off} size={size}"),
        ))
    }
}
