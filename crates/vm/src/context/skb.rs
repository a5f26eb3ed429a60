//! `struct __sk_buff` as `BPF_PROG_TEST_RUN` builds it: the packet in a linear buffer with
//! 64 bytes of headroom, received on the loopback device (ifindex 1), the Ethernet header
//! parsed as `eth_type_trans` does (`protocol`, `pkt_type`), and for L3 program types
//! (socket filters, cgroup and lwt programs) the data starting after the Ethernet header.
//! `ctx_in` may set only the fields the kernel accepts (mark, priority, ingress_ifindex,
//! ifindex, cb, tstamp, wire_len, gso_segs, gso_size, hwtstamp).

use super::layout::{SK_BUFF, SK_BUFF_SIZE, get, known, put};
use super::{Context, ContextError, ContextKind, Packet, PacketOwner};

/// Headroom of a test-run socket buffer (`NET_SKB_PAD + NET_IP_ALIGN` on x86-64).
const SKB_HEADROOM: usize = 64;
/// Most data a test-run socket buffer takes: a page minus headroom and shared info.
const MAX_LINEAR: usize = 4096 - SKB_HEADROOM - 320;
/// `ETH_HLEN`.
const ETH_HLEN: usize = 14;
/// The loopback device's ifindex.
const LOOPBACK_IFINDEX: u64 = 1;
/// `GSO_LEGACY_MAX_SIZE` and `GSO_MAX_SEGS`.
const GSO_LEGACY_MAX_SIZE: u64 = 65536;
const GSO_MAX_SEGS: u64 = 65535;

/// The flavour of socket-buffer program: where the data starts and what comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkbKind {
    /// `socket_filter`: data at the network header, no direct packet access.
    SocketFilter,
    /// `sched_cls`/`sched_act`: data at the MAC header, direct packet access.
    Tc,
    /// `cgroup_skb`: data at the network header, direct packet access.
    CgroupSkb,
    /// `lwt_in`/`lwt_out`/`lwt_xmit`: data at the network header, direct packet access.
    Lwt,
}

impl SkbKind {
    /// Whether the data starts at the MAC header (TC) rather than the network header.
    pub fn is_l2(self) -> bool {
        self == SkbKind::Tc
    }
}

/// Fields `ctx_in` may set; every other byte must be zero (`convert___skb_to_skb`).
const CTX_IN_FIELDS: &[&str] = &[
    "mark",
    "priority",
    "ingress_ifindex",
    "ifindex",
    "cb",
    "tstamp",
    "wire_len",
    "gso_segs",
    "gso_size",
    "hwtstamp",
];
/// Fields `ctx_out` gets back from the socket buffer (`convert_skb_to___skb`).
const CTX_OUT_FIELDS: &[&str] = &[
    "mark",
    "priority",
    "ingress_ifindex",
    "ifindex",
    "cb",
    "tstamp",
    "wire_len",
    "gso_segs",
    "gso_size",
    "hwtstamp",
];

/// Refreshes the fields that follow the packet: `len`, `data`, `data_end`, `data_meta`.
pub(crate) fn sync(ctx: &mut [u8], p: &Packet) {
    if ctx.len() < SK_BUFF_SIZE {
        return;
    }
    let (_, data, end) = p.pointers();
    put(ctx, known(SK_BUFF, "len"), p.len() as u64);
    put(ctx, known(SK_BUFF, "data"), data);
    put(ctx, known(SK_BUFF, "data_end"), end);
    put(ctx, known(SK_BUFF, "data_meta"), data);
}

/// `data_out` of a test run (see [`Context::data_out`]).
pub(crate) fn data_out(p: &Packet, kind: SkbKind) -> Vec<u8> {
    if kind.is_l2() {
        return p.data().to_vec();
    }
    let mut out = vec![0u8; ETH_HLEN];
    out.extend_from_slice(p.data());
    out
}

/// `ctx_out` of a test run: the fields the kernel copies back, zero elsewhere.
pub(crate) fn ctx_out(ctx: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; SK_BUFF_SIZE];
    for name in CTX_OUT_FIELDS {
        let f = known(SK_BUFF, name);
        out[f.offset..f.offset + f.size].copy_from_slice(&ctx[f.offset..f.offset + f.size]);
    }
    out
}

/// `pkt_type` as `eth_type_trans` sets it for a frame received on the loopback device,
/// whose address and broadcast address are both 00:00:00:00:00:00: host for that address,
/// multicast for any group address (ff:ff:ff:ff:ff:ff included), other-host otherwise.
fn pkt_type(dst: &[u8]) -> u64 {
    const PACKET_HOST: u64 = 0;
    const PACKET_MULTICAST: u64 = 2;
    const PACKET_OTHERHOST: u64 = 3;
    if dst.iter().all(|&b| b == 0) {
        PACKET_HOST
    } else if dst[0] & 1 != 0 {
        PACKET_MULTICAST
    } else {
        PACKET_OTHERHOST
    }
}

/// The protocol `eth_type_trans` gives (as the raw big-endian u16 the kernel stores).
fn protocol(frame: &[u8]) -> u16 {
    const ETH_P_802_3_MIN: u16 = 0x0600;
    const ETH_P_802_3: u16 = 0x0001;
    const ETH_P_802_2: u16 = 0x0004;
    let proto = u16::from_be_bytes([frame[12], frame[13]]);
    let host = if proto >= ETH_P_802_3_MIN {
        proto
    } else if frame.len() >= 16 && frame[14] == 0xff && frame[15] == 0xff {
        ETH_P_802_3
    } else {
        ETH_P_802_2
    };
    u16::from_le_bytes(host.to_be_bytes())
}

/// `family`, `local_ip*` and `remote_ip*` of the socket the kernel attaches in a test run:
/// taken from an IPv4 or IPv6 header after the Ethernet header.
fn socket_fields(bytes: &mut [u8], frame: &[u8]) {
    let ip = &frame[ETH_HLEN..];
    match u16::from_be_bytes([frame[12], frame[13]]) {
        0x0800 => {
            put(bytes, known(SK_BUFF, "family"), 2);
            {
                let w = |o: usize| u32::from_le_bytes(ip[o..o + 4].try_into().expect("4")) as u64;
                put(bytes, known(SK_BUFF, "local_ip4"), w(12));
                put(bytes, known(SK_BUFF, "remote_ip4"), w(16));
            }
        }
        0x86dd => {
            put(bytes, known(SK_BUFF, "family"), 10);
            {
                let l = known(SK_BUFF, "local_ip6").offset;
                let r = known(SK_BUFF, "remote_ip6").offset;
                bytes[l..l + 16].copy_from_slice(&ip[8..24]);
                bytes[r..r + 16].copy_from_slice(&ip[24..40]);
            }
        }
        _ => {}
    }
}

impl Context {
    /// A socket-buffer context for one Ethernet frame (at least 14 bytes; IPv4 and IPv6
    /// frames with their whole network header) received on the
    /// loopback device, as a test run without `ctx_in` builds it.
    pub fn skb(kind: SkbKind, frame: &[u8]) -> Result<Context, ContextError> {
        Context::skb_test_run(kind, frame, None)
    }

    pub(crate) fn skb_test_run(
        kind: SkbKind,
        frame: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<Context, ContextError> {
        if frame.len() < ETH_HLEN {
            return Err(ContextError::inval(format!(
                "a socket buffer needs at least {ETH_HLEN} bytes (an Ethernet header), got {}",
                frame.len()
            )));
        }
        // The kernel refuses IPv4 and IPv6 frames too short for their network header.
        let l3 = frame.len() - ETH_HLEN;
        match u16::from_be_bytes([frame[12], frame[13]]) {
            0x0800 if l3 < 20 => {
                return Err(ContextError::inval(format!(
                    "an IPv4 frame needs a 20-byte IP header, got {l3} bytes after Ethernet"
                )));
            }
            0x86dd if l3 < 40 => {
                return Err(ContextError::inval(format!(
                    "an IPv6 frame needs a 40-byte IP header, got {l3} bytes after Ethernet"
                )));
            }
            _ => {}
        }
        if frame.len() > MAX_LINEAR {
            return Err(ContextError::inval(format!(
                "{} bytes do not fit a test-run socket buffer (at most {MAX_LINEAR})",
                frame.len()
            )));
        }
        let mut bytes = vec![0u8; SK_BUFF_SIZE];
        if let Some(raw) = ctx_in {
            if raw.len() > SK_BUFF_SIZE && raw[SK_BUFF_SIZE..].iter().any(|&b| b != 0) {
                return Err(ContextError::inval(
                    "ctx_in is larger than struct __sk_buff and the extra bytes are not zero",
                ));
            }
            let n = raw.len().min(SK_BUFF_SIZE);
            bytes[..n].copy_from_slice(&raw[..n]);
            let mut allowed = [false; SK_BUFF_SIZE];
            for name in CTX_IN_FIELDS {
                let f = known(SK_BUFF, name);
                allowed[f.offset..f.offset + f.size].fill(true);
            }
            if let Some(off) = (0..SK_BUFF_SIZE).find(|&i| !allowed[i] && bytes[i] != 0) {
                let name = SK_BUFF
                    .iter()
                    .find(|f| (f.offset..f.offset + f.size).contains(&off))
                    .map_or("padding", |f| f.name);
                return Err(ContextError::inval(format!(
                    "ctx_in: field `{name}` (byte {off}) cannot be set in a test run"
                )));
            }
        }
        let mut p = Packet::new(PacketOwner::Skb, SKB_HEADROOM, frame, 0);
        p.mac = SKB_HEADROOM;
        p.network = SKB_HEADROOM + ETH_HLEN;
        if !kind.is_l2() {
            p.data = p.network;
            p.meta = p.network;
        }
        let field = |b: &[u8], name: &str| get(b, known(SK_BUFF, name));
        let len = p.len() as u64;
        if ctx_in.is_some() {
            let wire = field(&bytes, "wire_len");
            if wire == 0 {
                put(&mut bytes, known(SK_BUFF, "wire_len"), len);
            } else if wire < len || wire > GSO_LEGACY_MAX_SIZE {
                return Err(ContextError::inval(format!(
                    "ctx_in: wire_len {wire} is below the packet length {len} or above \
                     {GSO_LEGACY_MAX_SIZE}"
                )));
            }
            if field(&bytes, "gso_segs") > GSO_MAX_SEGS {
                return Err(ContextError::inval("ctx_in: gso_segs above 65535"));
            }
        }
        if field(&bytes, "ifindex") <= 1 {
            put(&mut bytes, known(SK_BUFF, "ifindex"), LOOPBACK_IFINDEX);
        }
        put(
            &mut bytes,
            known(SK_BUFF, "pkt_type"),
            pkt_type(&frame[..6]),
        );
        put(
            &mut bytes,
            known(SK_BUFF, "protocol"),
            protocol(frame) as u64,
        );
        socket_fields(&mut bytes, frame);
        sync(&mut bytes, &p);
        Ok(Context {
            kind: ContextKind::Skb(kind),
            bytes,
            packet: Some(p),
            objects: Vec::new(),
            ctx_in: ctx_in.is_some(),
        })
    }
}
