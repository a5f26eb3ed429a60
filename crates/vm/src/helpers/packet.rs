//! Helpers on packet contexts, with the kernel's checks and return values for the linear
//! buffers a test run builds: XDP head/tail/metadata adjustment and byte access, socket
//! buffer byte access, checksum fix-ups, pulls, tail and head changes, hashes and checksum
//! levels. Every change to the packet window refreshes the context's pointer fields.

use super::map_ops::read_vec;
use super::{HelperContext, HelperError, checksum};
use crate::context::{Packet, PacketOwner, SK_BUFF, field, sync_skb, sync_xdp};

const EFAULT: i64 = 14;
const EINVAL: i64 = 22;
const ENOMEM: i64 = 12;
const EACCES: i64 = 13;
const ENOTSUPP: i64 = 524;
pub(super) const ETH_HLEN: usize = 14;
/// Largest linear socket buffer `skb_change_tail`/`skb_change_head` allow
/// (`SKB_MAX_ALLOC`: four pages minus the shared info).
const SKB_MAX_LEN: u64 = 16384 - 320;
/// Most XDP metadata bytes.
const XDP_MAX_META: usize = 32;

pub(super) fn neg(errno: i64) -> u64 {
    (-errno) as u64
}

/// Refreshes the context fields that follow the packet.
pub(super) fn resync(p: &Packet, ctx: &mut [u8]) {
    match p.owner() {
        PacketOwner::Xdp => sync_xdp(ctx, p),
        PacketOwner::Skb => sync_skb(ctx, p),
        // No helper the VM has moves the window of these.
        PacketOwner::Msg | PacketOwner::Reuseport | PacketOwner::FlowDissector => {}
    }
}

pub(super) fn want(ctx: &mut HelperContext<'_, '_>, owner: PacketOwner) -> Result<(), HelperError> {
    let (p, _) = ctx.packet()?;
    let name = |o: PacketOwner| match o {
        PacketOwner::Xdp => "an XDP",
        PacketOwner::Skb => "a socket buffer",
        PacketOwner::Msg => "an sk_msg",
        PacketOwner::Reuseport => "an sk_reuseport",
        PacketOwner::FlowDissector => "a flow dissector",
    };
    if p.owner() != owner {
        return Err(HelperError(format!(
            "this helper needs {} context, the run has {} one",
            name(owner),
            name(p.owner())
        )));
    }
    Ok(())
}

// ---- XDP ----

/// `bpf_xdp_adjust_head(xdp, delta)`: moves the data start (and the metadata with it);
/// `-EINVAL` if it would enter the frame header or leave less than an Ethernet header.
pub(crate) fn xdp_adjust_head(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Xdp)?;
    let delta = ctx.args[1] as i32 as i64;
    let (p, c) = ctx.packet()?;
    let metalen = p.data - p.meta;
    let data = p.data as i64 + delta;
    if data < (p.head_min + metalen) as i64 || data > p.end as i64 - ETH_HLEN as i64 {
        return Ok(neg(EINVAL));
    }
    let data = data as usize;
    let meta = data - metalen;
    p.buf.copy_within(p.meta..p.data, meta);
    p.meta = meta;
    p.data = data;
    resync(p, c);
    Ok(0)
}

/// `bpf_xdp_adjust_meta(xdp, delta)`: moves the metadata start; `-EINVAL` outside
/// frame-header..data, `-EACCES` for a length that is not a multiple of 4 or above 32.
pub(crate) fn xdp_adjust_meta(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Xdp)?;
    let delta = ctx.args[1] as i32 as i64;
    let (p, c) = ctx.packet()?;
    let meta = p.meta as i64 + delta;
    if meta < p.head_min as i64 || meta > p.data as i64 {
        return Ok(neg(EINVAL));
    }
    let len = p.data - meta as usize;
    if !len.is_multiple_of(4) || len > XDP_MAX_META {
        return Ok(neg(EACCES));
    }
    p.meta = meta as usize;
    resync(p, c);
    Ok(0)
}

/// `bpf_xdp_adjust_tail(xdp, delta)`: moves the data end within the frame (new bytes are
/// zeroed); `-EINVAL` past the tailroom or below an Ethernet header.
pub(crate) fn xdp_adjust_tail(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Xdp)?;
    let delta = ctx.args[1] as i32 as i64;
    let (p, c) = ctx.packet()?;
    let end = p.end as i64 + delta;
    if end > p.tail_max as i64 || end < (p.data + ETH_HLEN) as i64 {
        return Ok(neg(EINVAL));
    }
    let end = end as usize;
    if end > p.end {
        p.buf[p.end..end].fill(0);
    }
    p.end = end;
    resync(p, c);
    Ok(0)
}

/// `bpf_xdp_get_buff_len(xdp)`.
pub(crate) fn xdp_get_buff_len(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Xdp)?;
    Ok(ctx.packet()?.0.len() as u64)
}

/// The checks of `bpf_xdp_pointer`: 0 or the negative errno.
fn xdp_range(ctx: &mut HelperContext<'_, '_>, off: u64, len: u64) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Xdp)?;
    let (off, len) = (off as u32 as u64, len as u32 as u64);
    if off > 0xffff || len > 0xffff {
        return Ok(neg(EFAULT));
    }
    if off + len > ctx.packet()?.0.len() as u64 {
        return Ok(neg(EINVAL));
    }
    Ok(0)
}

/// `bpf_xdp_load_bytes(xdp, offset, buf, len)`.
pub(crate) fn xdp_load_bytes(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [_, off, buf, len, _] = ctx.args;
    let r = xdp_range(ctx, off, len)?;
    if r != 0 {
        return Ok(r);
    }
    let (p, _) = ctx.packet()?;
    let start = p.data + off as u32 as usize;
    let bytes = p.buf[start..start + len as u32 as usize].to_vec();
    ctx.write(buf, &bytes)?;
    Ok(0)
}

/// `bpf_xdp_store_bytes(xdp, offset, buf, len)`.
pub(crate) fn xdp_store_bytes(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [_, off, buf, len, _] = ctx.args;
    let r = xdp_range(ctx, off, len)?;
    if r != 0 {
        return Ok(r);
    }
    let bytes = read_vec(ctx, buf, len as u32 as usize)?;
    let (p, _) = ctx.packet()?;
    let start = p.data + off as u32 as usize;
    p.buf[start..start + bytes.len()].copy_from_slice(&bytes);
    Ok(0)
}

// ---- socket buffers ----

/// `bpf_skb_load_bytes(skb, offset, to, len)`: `-EFAULT` (and `to` zeroed) past the data.
pub(crate) fn skb_load_bytes(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, off, to, len, _] = ctx.args;
    let (off, len) = (off as u32 as usize, len as u32 as usize);
    let (p, _) = ctx.packet()?;
    let got = (off <= i32::MAX as usize && off + len <= p.len())
        .then(|| p.data()[off..off + len].to_vec());
    copy_out(ctx, to, got, len)
}

/// Writes the bytes a load helper read to `to` (0), or `len` zero bytes when the range was
/// outside the packet (-EFAULT), as the kernel clears the buffer on failure.
fn copy_out(
    ctx: &mut HelperContext<'_, '_>,
    to: u64,
    got: Option<Vec<u8>>,
    len: usize,
) -> Result<u64, HelperError> {
    match got {
        Some(b) => {
            ctx.write(to, &b)?;
            Ok(0)
        }
        None => {
            ctx.write(to, &vec![0; len])?;
            Ok(neg(EFAULT))
        }
    }
}

/// `bpf_skb_load_bytes_relative(skb, offset, to, len, start_header)`: from the MAC (0) or
/// network (1) header.
pub(crate) fn skb_load_bytes_relative(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, off, to, len, start] = ctx.args;
    let (off, len) = (off as u32 as usize, len as u32 as usize);
    let (p, _) = ctx.packet()?;
    let base = match start {
        0 => Some(p.mac),
        1 => Some(p.network),
        _ => None,
    };
    let got = base
        .filter(|_| off <= 0xffff)
        .map(|b| b + off)
        .filter(|&s| s + len <= p.end)
        .map(|s| p.buf[s..s + len].to_vec());
    copy_out(ctx, to, got, len)
}

/// `bpf_skb_store_bytes(skb, offset, from, len, flags)`: flags `BPF_F_RECOMPUTE_CSUM` (no
/// effect: test-run buffers carry no checksum state) and `BPF_F_INVALIDATE_HASH`.
pub(crate) fn skb_store_bytes(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, off, from, len, flags] = ctx.args;
    const RECOMPUTE_CSUM: u64 = 1;
    const INVALIDATE_HASH: u64 = 2;
    if flags & !(RECOMPUTE_CSUM | INVALIDATE_HASH) != 0 {
        return Ok(neg(EINVAL));
    }
    let (off, len) = (off as u32 as usize, len as u32 as usize);
    if off > i32::MAX as usize {
        return Ok(neg(EFAULT));
    }
    let bytes = read_vec(ctx, from, len)?;
    let (p, c) = ctx.packet()?;
    if off + len > p.len() {
        return Ok(neg(EFAULT));
    }
    let start = p.data + off;
    p.buf[start..start + len].copy_from_slice(&bytes);
    if flags & INVALIDATE_HASH != 0 {
        set_field(c, "hash", 0);
    }
    Ok(0)
}

fn set_field(c: &mut [u8], name: &str, v: u32) {
    if let Some(f) = field(SK_BUFF, name)
        && c.len() >= f.offset + 4
    {
        c[f.offset..f.offset + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// The 16-bit checksum at data offset `off`, checked as the csum helpers check it.
fn csum_slot(p: &Packet, off: u64) -> Option<usize> {
    let off = off as u32 as usize;
    (off <= 0xffff && off & 1 == 0 && off + 2 <= p.len()).then_some(p.data + off)
}

/// `bpf_l3_csum_replace(skb, offset, from, to, flags)`: flags give the field size (2 or
/// 4; 0 means `to` is a `csum_diff` result and `from` must be 0).
pub(crate) fn l3_csum_replace(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, off, from, to, flags] = ctx.args;
    if flags & !0xf != 0 {
        return Ok(neg(EINVAL));
    }
    let (p, _) = ctx.packet()?;
    if off as u32 > 0xffff || off & 1 != 0 {
        return Ok(neg(EFAULT));
    }
    let Some(at) = csum_slot(p, off) else {
        return Ok(neg(EFAULT));
    };
    let sum = u16::from_le_bytes([p.buf[at], p.buf[at + 1]]);
    let new = match flags & 0xf {
        0 if from != 0 => return Ok(neg(EINVAL)),
        0 => checksum::replace_by_diff(sum, to as u32),
        2 => checksum::replace2(sum, from as u16, to as u16),
        4 => checksum::replace4(sum, from as u32, to as u32),
        _ => return Ok(neg(EINVAL)),
    };
    p.buf[at..at + 2].copy_from_slice(&new.to_le_bytes());
    Ok(0)
}

/// `bpf_l4_csum_replace(skb, offset, from, to, flags)`: as the L3 helper, plus
/// `BPF_F_MARK_MANGLED_0` / `BPF_F_MARK_ENFORCE` (a zero UDP checksum stays or becomes
/// 0xffff) and `BPF_F_PSEUDO_HDR`/`BPF_F_IPV6` (no effect without checksum offload).
pub(crate) fn l4_csum_replace(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, off, from, to, flags] = ctx.args;
    const PSEUDO_HDR: u64 = 1 << 4;
    const MARK_MANGLED_0: u64 = 1 << 5;
    const MARK_ENFORCE: u64 = 1 << 6;
    const IPV6: u64 = 1 << 7;
    if flags & !(MARK_MANGLED_0 | MARK_ENFORCE | PSEUDO_HDR | 0xf | IPV6) != 0 {
        return Ok(neg(EINVAL));
    }
    let (p, _) = ctx.packet()?;
    if off as u32 > 0xffff || off & 1 != 0 {
        return Ok(neg(EFAULT));
    }
    let Some(at) = csum_slot(p, off) else {
        return Ok(neg(EFAULT));
    };
    let sum = u16::from_le_bytes([p.buf[at], p.buf[at + 1]]);
    let mmzero = flags & MARK_MANGLED_0 != 0;
    if mmzero && flags & MARK_ENFORCE == 0 && sum == 0 {
        return Ok(0);
    }
    let mut new = match flags & 0xf {
        0 if from != 0 => return Ok(neg(EINVAL)),
        0 => checksum::replace_by_diff(sum, to as u32),
        2 => checksum::replace4(sum, from as u16 as u32, to as u16 as u32),
        4 => checksum::replace4(sum, from as u32, to as u32),
        _ => return Ok(neg(EINVAL)),
    };
    if mmzero && new == 0 {
        new = 0xffff;
    }
    p.buf[at..at + 2].copy_from_slice(&new.to_le_bytes());
    Ok(0)
}

/// `bpf_csum_update(skb, csum)`: `-ENOTSUPP`, as test-run buffers are not
/// `CHECKSUM_COMPLETE`.
pub(crate) fn csum_update(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    Ok(neg(ENOTSUPP))
}

/// `bpf_csum_level(skb, level)`: query (0), increment (1), decrement (2), reset (3) of the
/// `CHECKSUM_UNNECESSARY` level; a query on an unverified buffer gives `-EACCES`.
pub(crate) fn csum_level(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let level = ctx.args[1];
    let (p, _) = ctx.packet()?;
    match level {
        0 => return Ok(p.csum_level.map_or(neg(EACCES), u64::from)),
        1 => p.csum_level = Some(p.csum_level.map_or(0, |l| (l + 1).min(3))),
        2 => p.csum_level = p.csum_level.and_then(|l| l.checked_sub(1)),
        3 => p.csum_level = None,
        _ => return Ok(neg(EINVAL)),
    }
    Ok(0)
}

/// `bpf_skb_pull_data(skb, len)`: the buffer is linear, so this only checks that `len`
/// bytes exist (`-ENOMEM` otherwise).
pub(crate) fn skb_pull_data(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let len = ctx.args[1] as u32 as usize;
    let (p, c) = ctx.packet()?;
    resync(p, c);
    Ok(if len > p.len() { neg(ENOMEM) } else { 0 })
}

/// `bpf_skb_change_tail(skb, new_len, flags)`: grows (with zeros) or trims the data;
/// `-EINVAL` for flags, a length below the network header or above the linear limit.
pub(crate) fn skb_change_tail(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, new_len, flags, ..] = ctx.args;
    let new_len = new_len as u32 as u64;
    let (p, c) = ctx.packet()?;
    let min = p.network.saturating_sub(p.data) as u64;
    if flags != 0 || new_len > SKB_MAX_LEN || new_len < min {
        return Ok(neg(EINVAL));
    }
    let end = p.data + new_len as usize;
    if !p.grow_tail(end) {
        return Ok(neg(ENOMEM));
    }
    if end > p.end {
        p.buf[p.end..end].fill(0);
    }
    p.end = end;
    resync(p, c);
    Ok(0)
}

/// `bpf_skb_change_head(skb, head_room, flags)`: pushes `head_room` zero bytes before
/// the data, which becomes the new MAC header.
pub(crate) fn skb_change_head(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, room, flags, ..] = ctx.args;
    let room = room as u32 as u64;
    let (p, c) = ctx.packet()?;
    let new_len = p.len() as u64 + room;
    if flags != 0 || new_len > SKB_MAX_LEN || new_len > u32::MAX as u64 {
        return Ok(neg(EINVAL));
    }
    let room = room as usize;
    if p.data < room && !p.grow_head(room - p.data) {
        return Ok(neg(ENOMEM));
    }
    p.data -= room;
    p.meta = p.data;
    p.buf[p.data..p.data + room].fill(0);
    p.mac = p.data;
    resync(p, c);
    Ok(0)
}

/// A flow hash of the packet: FNV-1a over the addresses, protocol and ports of an IPv4 or
/// IPv6 packet, or the whole frame otherwise; never 0. (The kernel keys its flow hash with
/// a random boot-time secret, so no user-space value can equal it.)
fn flow_hash(frame: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= x as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    let proto = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match (proto, frame.get(ETH_HLEN..)) {
        (Some(0x0800), Some(ip)) if ip.len() >= 20 => {
            let ihl = (ip[0] & 0xf) as usize * 4;
            eat(&ip[9..10]);
            eat(&ip[12..20]);
            if let Some(ports) = ip.get(ihl..ihl + 4) {
                eat(ports);
            }
        }
        (Some(0x86dd), Some(ip)) if ip.len() >= 40 => {
            eat(&ip[6..7]);
            eat(&ip[8..40]);
            if let Some(ports) = ip.get(40..44) {
                eat(ports);
            }
        }
        _ => eat(frame),
    }
    h.max(1)
}

/// `bpf_get_hash_recalc(skb)`: computes and stores a flow hash (see `flow_hash`).
pub(crate) fn get_hash_recalc(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let (p, c) = ctx.packet()?;
    let h = match field(SK_BUFF, "hash").map(|f| crate::context::layout_get(c, f)) {
        Some(h) if h != 0 => h as u32,
        _ => flow_hash(p.tail_from(p.mac)),
    };
    set_field(c, "hash", h);
    Ok(h as u64)
}

/// `bpf_set_hash(skb, hash)`.
pub(crate) fn set_hash(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let h = ctx.args[1] as u32;
    let (_, c) = ctx.packet()?;
    set_field(c, "hash", h);
    Ok(0)
}

/// `bpf_set_hash_invalid(skb)`.
pub(crate) fn set_hash_invalid(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let (_, c) = ctx.packet()?;
    set_field(c, "hash", 0);
    Ok(0)
}
