//! Socket-buffer helpers that reshape the packet or its metadata, with the kernel's checks
//! and results on the linear buffers of a test run: VLAN tag push and pop (the outermost tag
//! lives in the buffer's "hardware" tag, `vlan_present`/`vlan_tci`/`vlan_proto`, as the
//! kernel keeps it), IPv4/IPv6 protocol translation, room adjustment at the MAC or network
//! layer, the packet type, and ECN congestion marking.
//!
//! The buffer's protocol, packet type and hardware VLAN tag live in the context fields of
//! the same names, which programs can read but not write.

use super::packet::{ETH_HLEN, neg, resync, want};
use super::{HelperContext, HelperError};
use crate::context::{Packet, PacketOwner, SK_BUFF, field, layout_get, layout_put};

const EINVAL: i64 = 22;
const ENOMEM: i64 = 12;
const EFAULT: i64 = 14;
const EALREADY: i64 = 114;
const ENOTSUPP: i64 = 524;
const VLAN_HLEN: usize = 4;
const IPV4_HLEN: usize = 20;
const IPV6_HLEN: usize = 40;
/// Largest linear socket buffer the helpers grow to (`SKB_MAX_ALLOC`).
const SKB_MAX_LEN: usize = 16384 - 320;

/// A host-order EtherType as the raw big-endian u16 the context fields hold.
const fn be(x: u16) -> u16 {
    u16::from_le_bytes(x.to_be_bytes())
}
const P_IP: u16 = be(0x0800);
const P_IPV6: u16 = be(0x86dd);
const P_8021Q: u16 = be(0x8100);
const P_8021AD: u16 = be(0x88a8);

fn is_vlan(proto: u16) -> bool {
    proto == P_8021Q || proto == P_8021AD
}

fn get(c: &[u8], name: &str) -> u64 {
    field(SK_BUFF, name).map_or(0, |f| layout_get(c, f))
}

fn put(c: &mut [u8], name: &str, v: u64) {
    if let Some(f) = field(SK_BUFF, name) {
        layout_put(c, f, v);
    }
}

/// The raw EtherType at buffer offset `at`.
fn ethertype(p: &Packet, at: usize) -> u16 {
    u16::from_le_bytes([p.buf[at], p.buf[at + 1]])
}

/// Sets the hardware VLAN tag (`proto` raw big-endian), or clears it with `None`.
fn set_hw_tag(c: &mut [u8], tag: Option<(u16, u16)>) {
    let (present, proto, tci) = tag.map_or((0, 0, 0), |(p, t)| (1, p, t));
    put(c, "vlan_present", present);
    put(c, "vlan_proto", proto as u64);
    put(c, "vlan_tci", tci as u64);
}

fn hw_tag(c: &[u8]) -> Option<(u16, u16)> {
    (get(c, "vlan_present") != 0).then(|| (get(c, "vlan_proto") as u16, get(c, "vlan_tci") as u16))
}

/// Inserts `len` zero bytes `off` bytes after the data start (the data grows at the front),
/// moving the MAC and network headers with the bytes before the gap.
fn push_at(p: &mut Packet, off: usize, len: usize) -> bool {
    if off > p.len() || (p.data < len && !p.grow_head(len - p.data)) {
        return false;
    }
    let old = p.data;
    p.data -= len;
    p.meta = p.data;
    p.buf.copy_within(old..old + off, p.data);
    p.buf[p.data + off..old + off].fill(0);
    p.mac -= len;
    p.network -= len;
    true
}

/// Removes `len` bytes `off` bytes after the data start; `-ENOMEM` if the data is shorter
/// than `off + len`.
fn pop_at(p: &mut Packet, off: usize, len: usize) -> Result<(), u64> {
    if off + len > p.len() {
        return Err(neg(ENOMEM));
    }
    let old = p.data;
    p.buf.copy_within(old..old + off, old + len);
    p.data += len;
    p.meta = p.data;
    p.mac += len;
    p.network += len;
    Ok(())
}

/// The protocol `eth_type_trans` and `vlan_set_encap_proto` derive from an EtherType
/// field: itself from 0x0600 on, else 802.3 (raw IPX, `ff ff` follows) or 802.2.
fn encap_proto(p: &Packet, at: usize) -> u16 {
    let t = ethertype(p, at);
    if u16::from_be_bytes(t.to_le_bytes()) >= 0x0600 {
        t
    } else if p.buf.get(at + 2..at + 4) == Some(&[0xff, 0xff]) {
        be(0x0001)
    } else {
        be(0x0004)
    }
}

/// Removes the VLAN tag after the MAC addresses; its TCI, `-EINVAL` if the data does not
/// start at the MAC header, `-ENOMEM` for a frame too short to hold the tag.
fn pop_inline(p: &mut Packet, c: &mut [u8]) -> Result<u16, u64> {
    if p.data != p.mac {
        return Err(neg(EINVAL));
    }
    if p.len() < ETH_HLEN + VLAN_HLEN {
        return Err(neg(ENOMEM));
    }
    let tci = u16::from_be_bytes([p.buf[p.data + 14], p.buf[p.data + 15]]);
    let proto = encap_proto(p, p.data + 16);
    p.buf.copy_within(p.data..p.data + 12, p.data + VLAN_HLEN);
    p.data += VLAN_HLEN;
    p.meta = p.data;
    p.mac += VLAN_HLEN;
    if p.network < p.data + ETH_HLEN {
        p.network = p.data + ETH_HLEN;
    }
    put(c, "protocol", proto as u64);
    Ok(tci)
}

/// `bpf_skb_vlan_push(skb, vlan_proto, vlan_tci)`: the new tag becomes the hardware tag;
/// a tag already there moves into the packet after the MAC addresses. Protocols other than
/// 802.1Q and 802.1ad count as 802.1Q.
pub(crate) fn skb_vlan_push(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, proto, tci, ..] = ctx.args;
    let (proto, tci) = (proto as u16, tci as u16);
    let proto = if is_vlan(proto) { proto } else { P_8021Q };
    let (p, c) = ctx.packet()?;
    if let Some((old_proto, old_tci)) = hw_tag(c) {
        if p.data != p.mac || p.len() < 2 * 6 {
            return Ok(neg(EINVAL));
        }
        if p.data < VLAN_HLEN && !p.grow_head(VLAN_HLEN) {
            return Ok(neg(ENOMEM));
        }
        let old = p.data;
        p.data -= VLAN_HLEN;
        p.meta = p.data;
        p.mac = p.data;
        p.buf.copy_within(old..old + 12, p.data);
        p.buf[p.data + 12..p.data + 14].copy_from_slice(&old_proto.to_le_bytes());
        p.buf[p.data + 14..p.data + 16].copy_from_slice(&old_tci.to_be_bytes());
        // The network header stays where the program's data put it relative to the MAC
        // header: the inserted tag counts as part of the link layer's payload.
        p.network -= VLAN_HLEN;
        put(c, "protocol", old_proto as u64);
    }
    set_hw_tag(c, Some((proto, tci)));
    resync(p, c);
    Ok(0)
}

/// `bpf_skb_vlan_pop(skb)`: drops the hardware tag (or, without one, the tag in the
/// packet), then moves the next tag in the packet, if any, into the hardware tag.
pub(crate) fn skb_vlan_pop(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let (p, c) = ctx.packet()?;
    let r = (|| {
        if hw_tag(c).is_some() {
            set_hw_tag(c, None);
        } else {
            if !is_vlan(get(c, "protocol") as u16) {
                return Ok(0);
            }
            pop_inline(p, c)?;
        }
        let proto = get(c, "protocol") as u16;
        if !is_vlan(proto) {
            return Ok(0);
        }
        let tci = pop_inline(p, c)?;
        set_hw_tag(c, Some((proto, tci)));
        Ok(0)
    })();
    resync(p, c);
    Ok(r.unwrap_or_else(|e| e))
}

/// The network layer's base header length for the buffer's protocol.
fn net_base_len(c: &[u8]) -> Option<usize> {
    match get(c, "protocol") as u16 {
        P_IP => Some(IPV4_HLEN),
        P_IPV6 => Some(IPV6_HLEN),
        _ => None,
    }
}

/// Sets the protocol as a translation does (the flow hash is cleared by the callers that
/// clear it).
fn set_protocol(c: &mut [u8], proto: u16) {
    put(c, "protocol", proto as u64);
}

/// `bpf_skb_change_proto(skb, proto, flags)`: IPv4 to IPv6 inserts 20 zero bytes after the
/// MAC header, IPv6 to IPv4 removes 20; the program rewrites the header itself. Other
/// pairs give `-ENOTSUPP`.
pub(crate) fn skb_change_proto(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, to, flags, ..] = ctx.args;
    if flags != 0 {
        return Ok(neg(EINVAL));
    }
    let to = to as u16;
    let (p, c) = ctx.packet()?;
    let from = get(c, "protocol") as u16;
    let off = p.network.saturating_sub(p.mac);
    let diff = IPV6_HLEN - IPV4_HLEN;
    let r = match (from, to) {
        (P_IP, P_IPV6) => {
            if !push_at(p, off, diff) {
                return Ok(neg(ENOMEM));
            }
            Ok(())
        }
        (P_IPV6, P_IP) => pop_at(p, off, diff),
        _ => return Ok(neg(ENOTSUPP)),
    };
    if let Err(e) = r {
        resync(p, c);
        return Ok(e);
    }
    set_protocol(c, to);
    put(c, "hash", 0);
    resync(p, c);
    Ok(0)
}

/// `bpf_skb_change_type(skb, type)`: host, broadcast, multicast and other-host only.
pub(crate) fn skb_change_type(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    const PACKET_OTHERHOST: u64 = 3;
    let ty = ctx.args[1] as u32 as u64;
    let (_, c) = ctx.packet()?;
    if get(c, "pkt_type") > PACKET_OTHERHOST || ty > PACKET_OTHERHOST {
        return Ok(neg(EINVAL));
    }
    put(c, "pkt_type", ty);
    Ok(0)
}

const ADJ_FIXED_GSO: u64 = 1 << 0;
const ADJ_ENCAP_L3_IPV4: u64 = 1 << 1;
const ADJ_ENCAP_L3_IPV6: u64 = 1 << 2;
const ADJ_ENCAP_L4_GRE: u64 = 1 << 3;
const ADJ_ENCAP_L4_UDP: u64 = 1 << 4;
const ADJ_NO_CSUM_RESET: u64 = 1 << 5;
const ADJ_ENCAP_L2_ETH: u64 = 1 << 6;
const ADJ_DECAP_L3_IPV4: u64 = 1 << 7;
const ADJ_DECAP_L3_IPV6: u64 = 1 << 8;
const ADJ_ENCAP_L2_SHIFT: u32 = 56;
const ADJ_ENCAP_L3: u64 = ADJ_ENCAP_L3_IPV4 | ADJ_ENCAP_L3_IPV6;
const ADJ_DECAP_L3: u64 = ADJ_DECAP_L3_IPV4 | ADJ_DECAP_L3_IPV6;
const ADJ_KNOWN: u64 = ADJ_FIXED_GSO
    | ADJ_ENCAP_L3
    | ADJ_ENCAP_L4_GRE
    | ADJ_ENCAP_L4_UDP
    | ADJ_ENCAP_L2_ETH
    | (0xff << ADJ_ENCAP_L2_SHIFT)
    | ADJ_DECAP_L3
    | ADJ_NO_CSUM_RESET;

/// `bpf_skb_adjust_room(skb, len_diff, mode, flags)`: inserts zero bytes (or removes bytes)
/// after the MAC header (`BPF_ADJ_ROOM_MAC`, 1) or after the base network header
/// (`BPF_ADJ_ROOM_NET`, 0) of an IPv4 or IPv6 packet. Encapsulation flags are checked as
/// the kernel checks them and change the protocol as it does (the inner-header offsets
/// they record are not visible to programs); GSO buffers (a `gso_size` from `ctx_in`)
/// have no segmentation type in a test run and give `-ENOTSUPP`.
pub(crate) fn skb_adjust_room(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, diff, mode, flags, _] = ctx.args;
    let diff = diff as i32;
    let (abs, shrink) = (diff.unsigned_abs() as usize, diff < 0);
    if flags & !ADJ_KNOWN != 0 {
        return Ok(neg(EINVAL));
    }
    if abs > 0xfff {
        return Ok(neg(EFAULT));
    }
    let (p, c) = ctx.packet()?;
    let Some(base) = net_base_len(c) else {
        return Ok(neg(ENOTSUPP));
    };
    let mut off = p.network.saturating_sub(p.mac);
    match mode as u32 {
        0 => off += base,
        1 => {}
        _ => return Ok(neg(ENOTSUPP)),
    }
    let mut len_min = base;
    if flags & ADJ_DECAP_L3 != 0 {
        if !shrink {
            return Ok(neg(EINVAL));
        }
        len_min = match flags & ADJ_DECAP_L3 {
            ADJ_DECAP_L3_IPV4 => IPV4_HLEN,
            ADJ_DECAP_L3_IPV6 => IPV6_HLEN,
            _ => return Ok(neg(EINVAL)),
        };
    }
    let gso = get(c, "gso_size") != 0;
    let len_cur = p.len().saturating_sub(p.network.saturating_sub(p.data));
    let too_small = shrink && (abs >= len_cur || len_cur - abs < len_min);
    if too_small || (!shrink && p.len() + abs > SKB_MAX_LEN && !gso) {
        return Ok(neg(ENOTSUPP));
    }
    let proto = get(c, "protocol") as u16;
    let new_proto = if shrink {
        if flags & !(ADJ_FIXED_GSO | ADJ_DECAP_L3 | ADJ_NO_CSUM_RESET) != 0 {
            return Ok(neg(EINVAL));
        }
        if gso {
            return Ok(neg(ENOTSUPP));
        }
        if let Err(e) = pop_at(p, off, abs) {
            return Ok(e);
        }
        match proto {
            P_IP if flags & ADJ_DECAP_L3_IPV6 != 0 => P_IPV6,
            P_IPV6 if flags & ADJ_DECAP_L3_IPV4 != 0 => P_IP,
            _ => proto,
        }
    } else {
        if gso {
            return Ok(neg(ENOTSUPP));
        }
        let encap = flags & ADJ_ENCAP_L3 != 0;
        let inner_mac_len = (flags >> ADJ_ENCAP_L2_SHIFT) as usize;
        let mac_len = p.network.saturating_sub(p.mac);
        if encap {
            let both_l4 = ADJ_ENCAP_L4_GRE | ADJ_ENCAP_L4_UDP;
            if flags & ADJ_ENCAP_L3 == ADJ_ENCAP_L3
                || flags & both_l4 == both_l4
                || (flags & ADJ_ENCAP_L2_ETH != 0 && inner_mac_len < ETH_HLEN)
            {
                return Ok(neg(EINVAL));
            }
            if p.encapsulated {
                return Ok(neg(EALREADY));
            }
            if inner_mac_len > abs {
                return Ok(neg(EINVAL));
            }
        }
        if !push_at(p, off, abs) {
            return Ok(neg(ENOMEM));
        }
        if encap {
            // The outer network header now follows the MAC header.
            p.network = p.data + mac_len;
            p.encapsulated = true;
        }
        match proto {
            P_IP if encap && flags & ADJ_ENCAP_L3_IPV6 != 0 => P_IPV6,
            P_IPV6 if encap && flags & ADJ_ENCAP_L3_IPV4 != 0 => P_IP,
            _ => proto,
        }
    };
    set_protocol(c, new_proto);
    if flags & ADJ_NO_CSUM_RESET == 0 {
        p.csum_level = None;
    }
    resync(p, c);
    Ok(0)
}

/// The protocol under any VLAN tags in the packet (the kernel's `vlan_get_protocol`).
fn inner_protocol(p: &Packet, c: &[u8]) -> u16 {
    let mut ty = get(c, "protocol") as u16;
    if !is_vlan(ty) {
        return ty;
    }
    let mac_len = p.network.saturating_sub(p.mac);
    let mut depth = if mac_len == 0 {
        ETH_HLEN
    } else if mac_len < VLAN_HLEN {
        return 0;
    } else {
        mac_len - VLAN_HLEN
    };
    while is_vlan(ty) {
        let at = p.data + depth + 2;
        if at + 2 > p.end {
            return 0;
        }
        ty = ethertype(p, at);
        depth += VLAN_HLEN;
    }
    ty
}

/// `bpf_skb_ecn_set_ce(skb)`: marks an ECN-capable IPv4 or IPv6 packet as having met
/// congestion (fixing the IPv4 header checksum); 1 if the packet is now (or already was)
/// marked, 0 if it is not ECN-capable or not IP.
pub(crate) fn skb_ecn_set_ce(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let (p, c) = ctx.packet()?;
    let proto = inner_protocol(p, c);
    let hlen = match proto {
        P_IP => IPV4_HLEN,
        P_IPV6 => IPV6_HLEN,
        _ => return Ok(0),
    };
    if p.len() < hlen || p.network + hlen > p.end {
        return Ok(0);
    }
    let h = p.network;
    if proto == P_IP {
        let ecn = (p.buf[h + 1].wrapping_add(1) & 3) as u16;
        if ecn & 2 == 0 {
            return Ok(u64::from(ecn == 0));
        }
        // ECT(1) adds 0xfffd and ECT(0) 0xfffe to the big-endian checksum word, in
        // ones'-complement arithmetic: the TOS byte grows by 2 or 1.
        let add = be(0xfffb).wrapping_add(be(ecn));
        let sum = u16::from_le_bytes([p.buf[h + 10], p.buf[h + 11]]);
        let (s, carry) = sum.overflowing_add(add);
        let s = s.wrapping_add(carry as u16);
        p.buf[h + 10..h + 12].copy_from_slice(&s.to_le_bytes());
        p.buf[h + 1] |= 3;
        return Ok(1);
    }
    let word = u16::from_be_bytes([p.buf[h], p.buf[h + 1]]);
    if (word >> 4) & 3 == 0 {
        return Ok(0);
    }
    p.buf[h + 1] |= 3 << 4;
    Ok(1)
}
