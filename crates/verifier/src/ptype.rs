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

/// Return ranges that depend on the attach type (`check_return_code`): (program type,
/// attach types, range). The first row whose type and attach type match wins; otherwise the
/// program type's own range from the table applies.
/// (program type, attach types (empty: any), range; None: no check).
type AttachRange = (&'static str, &'static [&'static str], Option<(i64, i64)>);

const ATTACH_RETURN_RANGES: &[AttachRange] = &[
    (
        "cgroup_sock_addr",
        &[
            "cgroup_udp4_recvmsg",
            "cgroup_udp6_recvmsg",
            "cgroup_unix_recvmsg",
            "cgroup_inet4_getpeername",
            "cgroup_inet6_getpeername",
            "cgroup_unix_getpeername",
            "cgroup_inet4_getsockname",
            "cgroup_inet6_getsockname",
            "cgroup_unix_getsockname",
        ],
        Some((1, 1)),
    ),
    (
        "cgroup_sock_addr",
        &["cgroup_inet4_bind", "cgroup_inet6_bind"],
        Some((0, 3)),
    ),
    ("cgroup_sock_addr", &[], Some((0, 1))),
    ("cgroup_skb", &["cgroup_inet_egress"], Some((0, 3))),
    ("cgroup_skb", &[], Some((0, 1))),
    ("kprobe", &["trace_kprobe_session"], Some((0, 1))),
    ("tracing", &["trace_fentry", "trace_fexit"], Some((0, 0))),
    ("tracing", &["trace_raw_tp", "modify_return"], None),
];

/// The range R0 must be in at exit, when the program type (and attach type) has one.
pub fn return_range(prog_type: u32, attach: Option<u32>) -> Option<(i64, i64)> {
    use bpfvet_isa::uapi::{ATTACH_TYPES, PROG_TYPES as NAMES, name_of};
    let ty = name_of(NAMES, prog_type);
    let at = attach.and_then(|a| name_of(ATTACH_TYPES, a));
    for (t, attaches, range) in ATTACH_RETURN_RANGES {
        if Some(*t) == ty && (attaches.is_empty() || at.is_some_and(|a| attaches.contains(&a))) {
            return *range;
        }
    }
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
