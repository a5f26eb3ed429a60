//! Register state: what the verifier knows about one register — its type (scalar or which kind
//! of pointer), the fixed offset and variable part of a pointer, identities used to propagate
//! null checks and packet ranges, and the map or memory it points into.

use crate::scalar::Scalar;

/// Base register types (the kernel's `bpf_reg_type`, the ones bpfvet models).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegType {
    NotInit,
    Scalar,
    Ctx,
    MapPtr,
    MapValue,
    MapKey,
    Stack,
    PacketMeta,
    Packet,
    PacketEnd,
    FlowKeys,
    Sock,
    SockCommon,
    TcpSock,
    TpBuffer,
    XdpSock,
    /// A typed kernel pointer (`ptr_<type>`); the type name is in [`RegState::btf_name`].
    BtfId,
    /// Sized memory (`mem`), e.g. a ring buffer reservation.
    Mem,
    /// A callback function (`func`).
    Func,
}

impl RegType {
    /// The kernel log's base name.
    pub fn name(self) -> &'static str {
        match self {
            RegType::NotInit => "?",
            RegType::Scalar => "scalar",
            RegType::Ctx => "ctx",
            RegType::MapPtr => "map_ptr",
            RegType::MapValue => "map_value",
            RegType::MapKey => "map_key",
            RegType::Stack => "fp",
            RegType::PacketMeta => "pkt_meta",
            RegType::Packet => "pkt",
            RegType::PacketEnd => "pkt_end",
            RegType::FlowKeys => "flow_keys",
            RegType::Sock => "sock",
            RegType::SockCommon => "sock_common",
            RegType::TcpSock => "tcp_sock",
            RegType::TpBuffer => "tp_buffer",
            RegType::XdpSock => "xdp_sock",
            RegType::BtfId => "ptr_",
            RegType::Mem => "mem",
            RegType::Func => "func",
        }
    }

    pub fn is_pointer(self) -> bool {
        !matches!(self, RegType::NotInit | RegType::Scalar)
    }

    pub fn is_packet(self) -> bool {
        matches!(self, RegType::Packet | RegType::PacketMeta)
    }
}

/// Type flags (the kernel's `bpf_type_flag` bits bpfvet models).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegFlags {
    pub maybe_null: bool,
    pub rdonly: bool,
    pub ringbuf: bool,
    /// A scalar linked to the others with its id plus a constant (`off` holds the constant;
    /// the kernel's `BPF_ADD_CONST`).
    pub add_const: bool,
}

/// One register.
#[derive(Clone, Copy, Debug)]
pub struct RegState {
    pub ty: RegType,
    pub flags: RegFlags,
    /// Fixed offset of a pointer.
    pub off: i32,
    /// For scalars the value; for pointers the variable part of the offset.
    pub var: Scalar,
    /// Identity shared by copies (null-check propagation, packet pointers with the same
    /// variable offset, linked scalars).
    pub id: u32,
    /// Non-zero when the value holds an acquired reference.
    pub ref_obj_id: u32,
    /// Map index (map_ptr, map_value, map_key) or subprogram (func).
    pub map: u32,
    /// Packet pointers: bytes known to be in the packet from the pointer. Memory: its size.
    pub range: i32,
    /// Stack pointers: which call frame.
    pub frameno: u8,
    /// The exact value of this scalar matters for safety (precision tracking).
    pub precise: bool,
    /// BTF type id of a typed kernel pointer (`ptr_`).
    pub btf_id: u32,
    /// Where the value came from: 1 + the instruction that last wrote it (0: program entry).
    /// Used only to explain rejections; ignored by comparisons.
    pub def_pc: u32,
}

impl PartialEq for RegState {
    fn eq(&self, o: &RegState) -> bool {
        self.ty == o.ty
            && self.flags == o.flags
            && self.off == o.off
            && self.var == o.var
            && self.id == o.id
            && self.ref_obj_id == o.ref_obj_id
            && self.map == o.map
            && self.range == o.range
            && self.frameno == o.frameno
            && self.precise == o.precise
            && self.btf_id == o.btf_id
    }
}

impl Eq for RegState {}

impl RegState {
    /// A register never written.
    pub fn not_init() -> RegState {
        RegState {
            ty: RegType::NotInit,
            flags: RegFlags::default(),
            off: 0,
            var: Scalar::UNKNOWN,
            id: 0,
            ref_obj_id: 0,
            map: 0,
            range: 0,
            frameno: 0,
            precise: false,
            btf_id: 0,
            def_pc: 0,
        }
    }

    /// An unknown scalar.
    pub fn unknown() -> RegState {
        RegState {
            ty: RegType::Scalar,
            ..RegState::not_init()
        }
    }

    /// A known scalar.
    pub fn constant(v: u64) -> RegState {
        RegState {
            ty: RegType::Scalar,
            var: Scalar::known(v),
            ..RegState::not_init()
        }
    }

    /// A scalar with the given abstract value.
    pub fn scalar(var: Scalar) -> RegState {
        RegState {
            ty: RegType::Scalar,
            var,
            ..RegState::not_init()
        }
    }

    /// A pointer of type `ty` with offset 0 and no variable part.
    pub fn pointer(ty: RegType) -> RegState {
        RegState {
            ty,
            var: Scalar::known(0),
            ..RegState::not_init()
        }
    }

    /// The frame pointer of frame `frameno`.
    pub fn frame_pointer(frameno: u8) -> RegState {
        RegState {
            frameno,
            ..RegState::pointer(RegType::Stack)
        }
    }

    pub fn is_scalar(&self) -> bool {
        self.ty == RegType::Scalar
    }

    pub fn is_init(&self) -> bool {
        self.ty != RegType::NotInit
    }

    pub fn is_pointer(&self) -> bool {
        self.ty.is_pointer()
    }

    /// The known value of a scalar.
    pub fn const_value(&self) -> Option<u64> {
        (self.is_scalar() && self.var.var_off.mask == 0).then_some(self.var.var_off.value)
    }

    /// True for a scalar known to be zero.
    pub fn is_zero(&self) -> bool {
        self.const_value() == Some(0)
    }

    /// The kernel log's type name with flags: `map_value_or_null`, `rdonly_mem`,
    /// `ringbuf_mem_or_null`, `ptr_or_null_task_struct`, ...
    pub fn type_name(&self, btf_name: Option<&str>) -> String {
        let mut s = String::new();
        if self.flags.rdonly {
            s.push_str("rdonly_");
        }
        if self.flags.ringbuf {
            s.push_str("ringbuf_");
        }
        if self.ty == RegType::BtfId {
            s.push_str("ptr_");
            if self.flags.maybe_null {
                s.push_str("or_null_");
            }
            s.push_str(btf_name.unwrap_or(""));
            return s;
        }
        s.push_str(self.ty.name());
        if self.flags.maybe_null {
            s.push_str("_or_null");
        }
        s
    }
}
