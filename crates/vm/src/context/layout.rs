//! The uapi context layouts as tables: every field of `struct __sk_buff`, `struct xdp_md`,
//! x86-64 `struct pt_regs` and `struct bpf_perf_event_data`, with its offset and size. The
//! builders fill contexts through these names, and tools list or set fields by name.

/// One field of a context structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
}

const fn f(name: &'static str, offset: usize, size: usize) -> Field {
    Field { name, offset, size }
}

/// `struct __sk_buff` (192 bytes). Pointer fields (`data`, `data_end`, `data_meta`) hold
/// 32-bit virtual addresses; `flow_keys` and `sk` are 64-bit pointers the VM leaves NULL.
pub const SK_BUFF: &[Field] = &[
    f("len", 0, 4),
    f("pkt_type", 4, 4),
    f("mark", 8, 4),
    f("queue_mapping", 12, 4),
    f("protocol", 16, 4),
    f("vlan_present", 20, 4),
    f("vlan_tci", 24, 4),
    f("vlan_proto", 28, 4),
    f("priority", 32, 4),
    f("ingress_ifindex", 36, 4),
    f("ifindex", 40, 4),
    f("tc_index", 44, 4),
    f("cb", 48, 20),
    f("hash", 68, 4),
    f("tc_classid", 72, 4),
    f("data", 76, 4),
    f("data_end", 80, 4),
    f("napi_id", 84, 4),
    f("family", 88, 4),
    f("remote_ip4", 92, 4),
    f("local_ip4", 96, 4),
    f("remote_ip6", 100, 16),
    f("local_ip6", 116, 16),
    f("remote_port", 132, 4),
    f("local_port", 136, 4),
    f("data_meta", 140, 4),
    f("flow_keys", 144, 8),
    f("tstamp", 152, 8),
    f("wire_len", 160, 4),
    f("gso_segs", 164, 4),
    f("sk", 168, 8),
    f("gso_size", 176, 4),
    f("tstamp_type", 180, 1),
    f("hwtstamp", 184, 8),
];
/// `sizeof(struct __sk_buff)`.
pub const SK_BUFF_SIZE: usize = 192;

/// `struct xdp_md` (24 bytes).
pub const XDP_MD: &[Field] = &[
    f("data", 0, 4),
    f("data_end", 4, 4),
    f("data_meta", 8, 4),
    f("ingress_ifindex", 12, 4),
    f("rx_queue_index", 16, 4),
    f("egress_ifindex", 20, 4),
];
/// `sizeof(struct xdp_md)`.
pub const XDP_MD_SIZE: usize = 24;

/// x86-64 `struct pt_regs` (168 bytes), the context of kprobes.
pub const PT_REGS: &[Field] = &[
    f("r15", 0, 8),
    f("r14", 8, 8),
    f("r13", 16, 8),
    f("r12", 24, 8),
    f("bp", 32, 8),
    f("bx", 40, 8),
    f("r11", 48, 8),
    f("r10", 56, 8),
    f("r9", 64, 8),
    f("r8", 72, 8),
    f("ax", 80, 8),
    f("cx", 88, 8),
    f("dx", 96, 8),
    f("si", 104, 8),
    f("di", 112, 8),
    f("orig_ax", 120, 8),
    f("ip", 128, 8),
    f("cs", 136, 8),
    f("flags", 144, 8),
    f("sp", 152, 8),
    f("ss", 160, 8),
];
/// `sizeof(struct pt_regs)` on x86-64.
pub const PT_REGS_SIZE: usize = 168;
/// The registers of the first six function arguments in the x86-64 calling convention
/// (what `PT_REGS_PARM1..6` read).
pub const ARG_REGS: [&str; 6] = ["di", "si", "dx", "cx", "r8", "r9"];

/// `struct bpf_perf_event_data` (184 bytes): the registers, then two u64s.
pub const PERF_EVENT_DATA: &[Field] = &[
    f("regs", 0, PT_REGS_SIZE),
    f("sample_period", 168, 8),
    f("addr", 176, 8),
];
/// `sizeof(struct bpf_perf_event_data)`.
pub const PERF_EVENT_DATA_SIZE: usize = 184;

/// The field `name` of `layout`.
pub fn field(layout: &[Field], name: &str) -> Option<Field> {
    layout.iter().copied().find(|f| f.name == name)
}

/// Writes `value` into `bytes` at field `fd` (little-endian, truncated to the field; array
/// fields get it in their first 8 bytes at most).
pub(crate) fn put(bytes: &mut [u8], fd: Field, value: u64) {
    let n = fd.size.min(8);
    bytes[fd.offset..fd.offset + n].copy_from_slice(&value.to_le_bytes()[..n]);
}

/// Reads field `fd` of `bytes` (little-endian; the first 8 bytes of larger fields).
pub(crate) fn get(bytes: &[u8], fd: Field) -> u64 {
    let n = fd.size.min(8);
    let mut b = [0u8; 8];
    b[..n].copy_from_slice(&bytes[fd.offset..fd.offset + n]);
    u64::from_le_bytes(b)
}

/// Field `name` of `layout`, which must exist (the builders' own names).
pub(crate) fn known(layout: &[Field], name: &str) -> Field {
    field(layout, name).expect("field names of the layout tables")
}
