//! Tunnel metadata on socket buffers, as the kernel keeps it for a test run: a buffer
//! arrives with none (`bpf_skb_get_tunnel_key` gives `-EINVAL`, `bpf_skb_get_tunnel_opt`
//! `-ENOENT`); `bpf_skb_set_tunnel_key` attaches transmit metadata (as it would for a
//! collect-metadata tunnel device to use), which the getters then read back, with the
//! kernel's field mapping (the key's `remote` address is stored as the tunnel's
//! destination and read back as its source), compatibility sizes and flag bits.

use super::map_ops::read_vec;
use super::packet::{neg, want};
use super::{HelperContext, HelperError};
use crate::context::PacketOwner;

const EINVAL: i64 = 22;
const ENOENT: i64 = 2;
const ENOMEM: i64 = 12;
const EPROTO: i64 = 71;

/// `sizeof(struct bpf_tunnel_key)` and the older sizes the helpers still accept (up to
/// `local_ipv6`, `tunnel_label`, `tunnel_ext`, and IPv4-only up to `remote_ipv6[1]`).
const KEY_SIZE: usize = 44;
const KEY_COMPAT: [usize; 3] = [28, 24, 22];
const KEY_COMPAT_V4: usize = 8;
/// Most option bytes (`IP_TUNNEL_OPTS_MAX`).
const OPTS_MAX: usize = 255;

const TUNINFO_IPV6: u64 = 1 << 0;
const TUNINFO_FLAGS: u64 = 1 << 4;
const ZERO_CSUM_TX: u64 = 1 << 1;
const DONT_FRAGMENT: u64 = 1 << 2;
const SEQ_NUMBER: u64 = 1 << 3;
const NO_TUNNEL_KEY: u64 = 1 << 4;

/// The tunnel flag bits as `tunnel_flags` reports them (`TUNNEL_*`, host order before the
/// big-endian conversion).
const TF_CSUM: u16 = 0x0001;
const TF_KEY: u16 = 0x0004;
const TF_SEQ: u16 = 0x0008;
const TF_DONT_FRAGMENT: u16 = 0x0100;
const TF_NOCACHE: u16 = 0x2000;
/// The option-type bits `bpf_skb_set_tunnel_opt` marks present (Geneve, VXLAN, ERSPAN,
/// GTP; PFCP lies above the 16 bits `tunnel_flags` shows).
const TF_OPTS: u16 = 0x0800 | 0x1000 | 0x4000 | 0x8000;

/// Transmit tunnel metadata attached to a socket buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TunnelInfo {
    pub id: u32,
    pub tos: u8,
    pub ttl: u8,
    pub ipv6: bool,
    /// Tunnel source and destination addresses (IPv4 in the first 4 bytes, network order).
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// IPv6 flow label (20 bits).
    pub label: u32,
    /// `TUNNEL_*` flag bits.
    pub flags: u16,
    /// Tunnel options (`bpf_skb_set_tunnel_opt`).
    pub options: Vec<u8>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// `bpf_skb_set_tunnel_key(skb, key, size, flags)`.
pub(crate) fn set_tunnel_key(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, from, size, flags, _] = ctx.args;
    let size = size as u32 as usize;
    if flags & !(TUNINFO_IPV6 | ZERO_CSUM_TX | DONT_FRAGMENT | SEQ_NUMBER | NO_TUNNEL_KEY) != 0 {
        return Ok(neg(EINVAL));
    }
    if size != KEY_SIZE && !KEY_COMPAT.contains(&size) && size != KEY_COMPAT_V4 {
        return Ok(neg(EINVAL));
    }
    let mut key = read_vec(ctx, from, size)?;
    key.resize(KEY_SIZE, 0);
    let ipv6 = flags & TUNINFO_IPV6 != 0;
    let label = u32_at(&key, 24);
    let ext = u16::from_le_bytes([key[22], key[23]]);
    if (!ipv6 && label != 0) || ext != 0 {
        return Ok(neg(EINVAL));
    }
    let mut info = TunnelInfo {
        id: u32_at(&key, 0),
        tos: key[20],
        ttl: key[21],
        ipv6,
        flags: TF_NOCACHE,
        ..TunnelInfo::default()
    };
    let bit = |on: bool, f: u16| if on { f } else { 0 };
    info.flags |= bit(flags & DONT_FRAGMENT != 0, TF_DONT_FRAGMENT)
        | bit(flags & ZERO_CSUM_TX == 0, TF_CSUM)
        | bit(flags & SEQ_NUMBER != 0, TF_SEQ)
        | bit(flags & NO_TUNNEL_KEY == 0, TF_KEY);
    if ipv6 {
        info.dst.copy_from_slice(&key[4..20]);
        info.src.copy_from_slice(&key[28..44]);
        info.label = label & 0xf_ffff;
    } else {
        // The key holds host-order IPv4 addresses; the metadata keeps them big-endian.
        info.dst[..4].copy_from_slice(&u32_at(&key, 4).to_be_bytes());
        info.src[..4].copy_from_slice(&u32_at(&key, 28).to_be_bytes());
    }
    ctx.packet()?.0.tunnel = Some(info);
    Ok(0)
}

/// `bpf_skb_get_tunnel_key(skb, key, size, flags)`: `-EINVAL` (and `key` zeroed) without
/// metadata, `-EPROTO` when the address family differs from `BPF_F_TUNINFO_IPV6`.
pub(crate) fn get_tunnel_key(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, to, size, flags, _] = ctx.args;
    let size = size as u32 as usize;
    let info = ctx.packet()?.0.tunnel.clone();
    let fail = |ctx: &mut HelperContext<'_, '_>, errno: i64| -> Result<u64, HelperError> {
        ctx.write(to, &vec![0; size])?;
        Ok(neg(errno))
    };
    let Some(info) = info.filter(|_| flags & !(TUNINFO_IPV6 | TUNINFO_FLAGS) == 0) else {
        return fail(ctx, EINVAL);
    };
    let want_v6 = flags & TUNINFO_IPV6 != 0;
    if info.ipv6 != want_v6 {
        return fail(ctx, EPROTO);
    }
    let fits =
        size == KEY_SIZE || KEY_COMPAT.contains(&size) || (size == KEY_COMPAT_V4 && !info.ipv6);
    if !fits {
        return fail(ctx, EINVAL);
    }
    let mut key = [0u8; KEY_SIZE];
    key[0..4].copy_from_slice(&info.id.to_le_bytes());
    key[20] = info.tos;
    key[21] = info.ttl;
    if flags & TUNINFO_FLAGS != 0 {
        key[22..24].copy_from_slice(&info.flags.to_be_bytes());
    }
    if want_v6 {
        key[4..20].copy_from_slice(&info.src);
        key[28..44].copy_from_slice(&info.dst);
        key[24..28].copy_from_slice(&info.label.to_le_bytes());
    } else {
        let v4 = |a: &[u8; 16]| u32::from_be_bytes(a[..4].try_into().expect("4 bytes"));
        key[4..8].copy_from_slice(&v4(&info.src).to_le_bytes());
        key[28..32].copy_from_slice(&v4(&info.dst).to_le_bytes());
    }
    ctx.write(to, &key[..size.min(KEY_SIZE)])?;
    Ok(0)
}

/// `bpf_skb_set_tunnel_opt(skb, opt, size)`: needs metadata from `bpf_skb_set_tunnel_key`
/// and a multiple of 4 bytes (`-EINVAL`), at most 255 (`-ENOMEM`).
pub(crate) fn set_tunnel_opt(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, from, size, ..] = ctx.args;
    let size = size as u32 as usize;
    if ctx.packet()?.0.tunnel.is_none() || !size.is_multiple_of(4) {
        return Ok(neg(EINVAL));
    }
    if size > OPTS_MAX {
        return Ok(neg(ENOMEM));
    }
    let opts = read_vec(ctx, from, size)?;
    let (p, _) = ctx.packet()?;
    let info = p.tunnel.as_mut().expect("checked above");
    if !opts.is_empty() {
        info.flags |= TF_OPTS;
    }
    info.options = opts;
    Ok(0)
}

/// `bpf_skb_get_tunnel_opt(skb, opt, size)`: the option length; `-ENOENT` without options,
/// `-ENOMEM` if they do not fit (the buffer is zeroed on errors and padded with zeros).
pub(crate) fn get_tunnel_opt(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, to, size, ..] = ctx.args;
    let size = size as u32 as usize;
    let info = ctx.packet()?.0.tunnel.clone();
    let mut out = vec![0u8; size];
    let r = match info {
        Some(i) if i.flags & TF_OPTS != 0 => {
            if size < i.options.len() {
                neg(ENOMEM)
            } else {
                out[..i.options.len()].copy_from_slice(&i.options);
                i.options.len() as u64
            }
        }
        _ => neg(ENOENT),
    };
    ctx.write(to, &out)?;
    Ok(r)
}
