//! Adapter from the generated program-type tables (`data/ctx_table.rs`) to what the checkers
//! ask: context field access (`is_valid_access`), return ranges, packet and LD_ABS rights.

use crate::data::ctx_table::{PKT_WRITE, PROG_TYPES};
use crate::error::VerifyError;
use crate::explore::Verifier;
use crate::mem::Access;
use crate::reg::{RegState, RegType};

type Row = (
    u32,
    u32,
    &'static [crate::data::ctx_table::Field],
    Option<(i64, i64)>,
    bool,
    bool,
);

/// Program types whose context is a flat read-only buffer rather than a struct with fields:
/// (type id, first readable offset, end offset). Tracepoints skip the 8-byte common header
/// (`PERF_MAX_TRACE_SIZE` is 8192); raw tracepoints read their 12 argument slots.
const FLAT_CONTEXTS: &[(u32, i64, i64)] = &[(5, 8, 8192), (17, 0, 96), (24, 0, 96)];

fn row(prog_type: u32) -> Option<&'static Row> {
    PROG_TYPES.iter().find(|r| r.0 == prog_type)
}

pub fn may_write_packet(prog_type: u32, _attach: Option<u32>) -> bool {
    PKT_WRITE.contains(&prog_type)
}

/// Helpers may be given packet pointers by program types with direct packet access.
pub fn helper_packet_access(prog_type: u32) -> bool {
    row(prog_type).is_some_and(|r| r.4)
}

pub fn ld_abs_allowed(prog_type: u32) -> bool {
    row(prog_type).is_some_and(|r| r.5)
}

/// The range R0 must be in at exit, when the program type has one (attach-type dependent
/// ranges use the default attach type's).
pub fn return_range(prog_type: u32, _attach: Option<u32>) -> Option<(i64, i64)> {
    row(prog_type).and_then(|r| r.3)
}

/// Reads through socket pointers: within the socket structure the kernel exposes.
pub fn sock_field_ok(ty: RegType, off: i64, size: i64) -> bool {
    let limit = match ty {
        RegType::Sock | RegType::SockCommon => 80,
        RegType::TcpSock => 112,
        RegType::XdpSock => 4,
        _ => 0,
    };
    off >= 0 && size > 0 && off + size <= limit && off % size == 0
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
        let refuse = || {
            Err(VerifyError::access(
                pc,
                format!("invalid bpf_context access off={off} size={size}"),
            )
            .with_explanation(format!(
                "this program type's context has no field that may be {} with {size} bytes at \
                 offset {off}",
                if t == Access::Read { "read" } else { "written" }
            )))
        };
        if let Some(&(_, lo, hi)) = FLAT_CONTEXTS.iter().find(|f| f.0 == self.env.prog_type) {
            if t == Access::Read && off >= lo && off < hi && size > 0 && off % size == 0 {
                return Ok(RegState::unknown());
            }
            return refuse();
        }
        let Some(r) = row(self.env.prog_type) else {
            return refuse();
        };
        if off < 0 || size <= 0 {
            return refuse();
        }
        let (off_u, size_u) = (off as u32, size as u32);
        let Some(f) = r.2.iter().find(|f| off_u >= f.1 && off_u < f.1 + f.2) else {
            return refuse();
        };
        let rel = off_u - f.1;
        let sizes = if t == Access::Read { f.3 } else { f.4 };
        let ok = sizes.iter().any(|(sz, offs)| {
            *sz == size_u
                && match offs {
                    None => rel % size_u == 0 && rel + size_u <= f.2,
                    Some(list) => list.contains(&rel),
                }
        });
        if !ok {
            return refuse();
        }
        // Some fields exist only for some attach types; without one, the kernel assumes the
        // type's default (cgroup_sock: sock_create), else refuses.
        let only = if t == Access::Read { f.7 } else { f.8 };
        if !only.is_empty() {
            let attach = self.env.expected_attach_type.or(match self.env.prog_type {
                9 => Some(2),
                _ => None,
            });
            if !attach.is_some_and(|a| only.contains(&a)) {
                return refuse();
            }
        }
        Ok(match f.5 {
            Some(ty) if t == Access::Read => {
                let mut p = RegState::pointer(ty);
                if f.6 {
                    p.flags.maybe_null = true;
                }
                p
            }
            _ => RegState::unknown(),
        })
    }
}
