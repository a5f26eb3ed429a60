//! Helper signatures as the checker consumes them: argument classes and return kinds, looked
//! up per program type (the data lives in `helpers/`; this module adapts it).

use crate::reg::RegType;

/// One argument class (the kernel's `bpf_arg_type` families bpfvet checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    DontCare,
    Anything,
    ConstMapPtr,
    MapKey,
    /// `uninit`: the helper writes the value (`ARG_PTR_TO_MAP_VALUE | MEM_UNINIT`).
    MapValue {
        uninit: bool,
    },
    /// Memory followed by a size argument (or of a fixed size).
    Mem {
        uninit: bool,
        maybe_null: bool,
        rdonly: bool,
        fixed: Option<u32>,
    },
    ConstSize {
        or_zero: bool,
    },
    ConstAllocSize,
    Ctx,
    Stack {
        maybe_null: bool,
    },
    Func,
    SockCommon,
    /// A socket, also as a typed kernel pointer (`ARG_PTR_TO_BTF_ID_SOCK_COMMON`).
    SockCommonBtf,
    Socket,
    /// Ring buffer memory being submitted or discarded (released).
    RingbufMem,
    /// A typed kernel pointer.
    BtfId,
    /// A spin lock / timer / const string inside a map value.
    MapValueField,
    Scalar,
    /// An argument kind bpfvet does not model yet (dynptrs, kptrs, per-CPU BTF pointers):
    /// calls with it are refused, naming the kind.
    Unsupported(&'static str),
}

impl Arg {
    pub fn may_be_null(self) -> bool {
        matches!(
            self,
            Arg::Mem {
                maybe_null: true,
                ..
            } | Arg::Stack { maybe_null: true }
        )
    }

    pub fn writes(self) -> bool {
        matches!(
            self,
            Arg::Mem { uninit: true, .. } | Arg::MapValue { uninit: true }
        )
    }

    pub fn releases(self) -> bool {
        matches!(self, Arg::RingbufMem)
    }

    pub fn accepts_ringbuf(self) -> bool {
        matches!(
            self,
            Arg::Mem { .. } | Arg::MapKey | Arg::MapValue { .. } | Arg::RingbufMem
        )
    }

    /// Register types accepted, in the kernel's printing order.
    pub fn accepted_types(self) -> &'static [RegType] {
        use RegType::*;
        const MEM: &[RegType] = &[Stack, Packet, PacketMeta, MapKey, MapValue, Mem, BtfId];
        match self {
            Arg::MapKey | Arg::MapValue { .. } | Arg::Mem { .. } => MEM,
            Arg::ConstSize { .. } | Arg::ConstAllocSize | Arg::Scalar => &[Scalar],
            Arg::ConstMapPtr => &[MapPtr],
            Arg::Ctx => &[Ctx],
            Arg::SockCommon => &[SockCommon, Sock, TcpSock, XdpSock],
            Arg::SockCommonBtf => &[SockCommon, Sock, TcpSock, XdpSock, BtfId],
            Arg::Socket => &[Sock],
            Arg::Stack { .. } => &[Stack],
            Arg::Func => &[Func],
            Arg::RingbufMem => &[Mem],
            Arg::BtfId => &[BtfId],
            Arg::MapValueField => &[MapValue],
            Arg::DontCare | Arg::Anything | Arg::Unsupported(_) => &[],
        }
    }

    /// The names the kernel lists in `expected=`.
    pub fn accepted_names(self) -> Vec<&'static str> {
        match self {
            Arg::MapKey | Arg::MapValue { .. } | Arg::Mem { .. } => vec![
                "fp",
                "pkt",
                "pkt_meta",
                "map_key",
                "map_value",
                "mem",
                "ringbuf_mem",
                "buf",
                "trusted_ptr_",
            ],
            Arg::ConstSize { .. } | Arg::ConstAllocSize | Arg::Scalar => vec!["scalar"],
            Arg::ConstMapPtr => vec!["map_ptr"],
            Arg::Ctx => vec!["ctx"],
            Arg::SockCommon => vec!["sock_common", "sock", "tcp_sock", "xdp_sock"],
            Arg::SockCommonBtf => vec![
                "sock_common",
                "sock",
                "tcp_sock",
                "xdp_sock",
                "ptr_",
                "trusted_ptr_",
            ],
            Arg::Socket => vec!["sock"],
            Arg::Stack { .. } => vec!["fp"],
            Arg::Func => vec!["func"],
            Arg::RingbufMem => vec!["ringbuf_mem"],
            Arg::BtfId => vec!["ptr_", "trusted_ptr_", "rcu_ptr_"],
            Arg::MapValueField => vec!["map_value"],
            Arg::DontCare | Arg::Anything | Arg::Unsupported(_) => vec![],
        }
    }
}

/// What a helper returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ret {
    Integer,
    Void,
    MapValue {
        or_null: bool,
    },
    Pointer {
        ty: RegType,
        or_null: bool,
        acquire: bool,
    },
    /// Sized memory (size from the size argument), e.g. `bpf_ringbuf_reserve`.
    Mem {
        ringbuf: bool,
        or_null: bool,
        acquire: bool,
    },
}

/// A helper's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperSig {
    pub name: String,
    pub gpl_only: bool,
    pub might_sleep: bool,
    pub changes_pkt_data: bool,
    pub args: Vec<Arg>,
    pub ret: Ret,
    /// The argument (1-based) whose reference the helper releases.
    pub release_arg: Option<u8>,
}

/// Why a helper may not be called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    Unknown,
    NotAllowed,
}

/// The signature of helper `id` for a program of type `prog_type`.
pub fn lookup(id: i32, prog_type: u32, attach: Option<u32>) -> Result<HelperSig, Denied> {
    crate::sigtable::lookup(id, prog_type, attach)
}

/// `check_map_func_compatibility`: false when the map type and the helper do not go together.
pub fn map_func_compatible(map_type: u32, func: i32) -> bool {
    crate::sigtable::map_func_compatible(map_type, func)
}
