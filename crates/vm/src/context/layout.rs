//! The uapi context layouts as tables: every field of `struct __sk_buff`, `struct xdp_md`,
//! x86-64 `struct pt_regs`, `struct bpf_perf_event_data`, `struct sk_msg_md`,
//! `struct sk_reuseport_md`, `struct bpf_sock_addr`, and of the objects contexts point at
//! (`struct bpf_sock`, `struct bpf_flow_keys`), with its offset and size. The
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

/// `struct sk_msg_md` (80 bytes), the context of sk_msg programs: 64-bit pointers to the
/// message bytes (`data`, `data_end`) and to the socket (`sk`, a `struct bpf_sock`).
pub const SK_MSG_MD: &[Field] = &[
    f("data", 0, 8),
    f("data_end", 8, 8),
    f("family", 16, 4),
    f("remote_ip4", 20, 4),
    f("local_ip4", 24, 4),
    f("remote_ip6", 28, 16),
    f("local_ip6", 44, 16),
    f("remote_port", 60, 4),
    f("local_port", 64, 4),
    f("size", 68, 4),
    f("sk", 72, 8),
];
/// `sizeof(struct sk_msg_md)`.
pub const SK_MSG_MD_SIZE: usize = 80;

/// `struct sk_reuseport_md` (56 bytes): 64-bit packet pointers, scalars, the listening
/// socket `sk` and `migrating_sk` (NULL unless a request migrates).
pub const SK_REUSEPORT_MD: &[Field] = &[
    f("data", 0, 8),
    f("data_end", 8, 8),
    f("len", 16, 4),
    f("eth_protocol", 20, 4),
    f("ip_protocol", 24, 4),
    f("bind_inany", 28, 4),
    f("hash", 32, 4),
    f("sk", 40, 8),
    f("migrating_sk", 48, 8),
];
/// `sizeof(struct sk_reuseport_md)`.
pub const SK_REUSEPORT_MD_SIZE: usize = 56;

/// `struct bpf_sock_addr` (72 bytes), the context of cgroup_sock_addr programs; `sk`
/// points at a `struct bpf_sock`.
pub const BPF_SOCK_ADDR: &[Field] = &[
    f("user_family", 0, 4),
    f("user_ip4", 4, 4),
    f("user_ip6", 8, 16),
    f("user_port", 24, 4),
    f("family", 28, 4),
    f("type", 32, 4),
    f("protocol", 36, 4),
    f("msg_src_ip4", 40, 4),
    f("msg_src_ip6", 44, 16),
    f("sk", 64, 8),
];
/// `sizeof(struct bpf_sock_addr)`.
pub const BPF_SOCK_ADDR_SIZE: usize = 72;

/// `struct bpf_sock` (80 bytes): what a socket pointer (`PTR_TO_SOCKET`,
/// `PTR_TO_SOCK_COMMON`) lets a program read.
pub const BPF_SOCK: &[Field] = &[
    f("bound_dev_if", 0, 4),
    f("family", 4, 4),
    f("type", 8, 4),
    f("protocol", 12, 4),
    f("mark", 16, 4),
    f("priority", 20, 4),
    f("src_ip4", 24, 4),
    f("src_ip6", 28, 16),
    f("src_port", 44, 4),
    f("dst_port", 48, 2),
    f("dst_ip4", 52, 4),
    f("dst_ip6", 56, 16),
    f("state", 72, 4),
    f("rx_queue_mapping", 76, 4),
];
/// `sizeof(struct bpf_sock)`.
pub const BPF_SOCK_SIZE: usize = 80;

/// `struct bpf_flow_keys` (56 bytes): what a flow dissector fills in (`PTR_TO_FLOW_KEYS`).
pub const FLOW_KEYS: &[Field] = &[
    f("nhoff", 0, 2),
    f("thoff", 2, 2),
    f("addr_proto", 4, 2),
    f("is_frag", 6, 1),
    f("is_first_frag", 7, 1),
    f("is_encap", 8, 1),
    f("ip_proto", 9, 1),
    f("n_proto", 10, 2),
    f("sport", 12, 2),
    f("dport", 14, 2),
    f("ipv4_src", 16, 4),
    f("ipv4_dst", 20, 4),
    f("ipv6_src", 16, 16),
    f("ipv6_dst", 32, 16),
    f("flags", 48, 4),
    f("flow_label", 52, 4),
];
/// `sizeof(struct bpf_flow_keys)`.
pub const FLOW_KEYS_SIZE: usize = 56;

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
