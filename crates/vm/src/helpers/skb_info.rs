//! Helpers that ask about a packet's surroundings, answered as a test run's world answers
//! them: the socket a test-run socket buffer belongs to (made by the calling task, so its
//! cgroup is the task's and its owner uid 0), the route (none, so no realm), the loopback
//! device's MTU (65536, 14-byte link header) for `bpf_check_mtu`, and the redirect helpers
//! `bpf_redirect_peer`/`bpf_redirect_neigh`, which record their target like `bpf_redirect`;
//! also the delivery timestamp (`bpf_skb_set_tstamp`) and IPsec state (none in a test run).

use super::map_ops::read_vec;
use super::packet::{ETH_HLEN, neg, want};
use super::{HelperContext, HelperError};
use crate::context::{PacketOwner, SK_BUFF, XDP_MD, field, layout_get, layout_put};
use crate::env::{Redirect, RedirectKind};

const EINVAL: i64 = 22;
const TC_ACT_SHOT: u64 = 2;
const TC_ACT_REDIRECT: u64 = 7;
/// The loopback device's ifindex, MTU and link-header length.
const LOOPBACK_IFINDEX: u64 = 1;
const LOOPBACK_MTU: i32 = 65536;
const LOOPBACK_HARD_HEADER_LEN: i32 = ETH_HLEN as i32;

/// `bpf_get_socket_cookie(skb)`: the cookie of the buffer's socket, made on first use.
pub(crate) fn get_socket_cookie(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let cookie = match ctx.packet()?.0.socket_cookie {
        Some(c) => c,
        None => {
            let c = ctx.env.next_socket_cookie();
            ctx.packet()?.0.socket_cookie = Some(c);
            c
        }
    };
    Ok(cookie)
}

/// `bpf_get_socket_uid(skb)`: the owner of the test run's socket, which has no file behind
/// it and so belongs to uid 0.
pub(crate) fn get_socket_uid(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    Ok(0)
}

/// The task's cgroup at `level` (0 is the root), or 0 above the task's own level.
fn ancestor(ctx: &mut HelperContext<'_, '_>, level: u64) -> Result<u64, HelperError> {
    let task = &ctx.env.task;
    if task.cgroup_ancestors.last() != Some(&task.cgroup_id) {
        return Err(HelperError(format!(
            "the task's cgroup ancestors {:?} do not end with its cgroup id {}: set \
             Task::cgroup_ancestors to the ids from the root down",
            task.cgroup_ancestors, task.cgroup_id
        )));
    }
    let level = level as i32;
    Ok(usize::try_from(level)
        .ok()
        .and_then(|l| task.cgroup_ancestors.get(l).copied())
        .unwrap_or(0))
}

/// `bpf_skb_cgroup_id(skb)`: the cgroup of the buffer's socket (the task's).
pub(crate) fn skb_cgroup_id(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    Ok(ctx.env.task.cgroup_id)
}

/// `bpf_skb_ancestor_cgroup_id(skb, level)`.
pub(crate) fn skb_ancestor_cgroup_id(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    ancestor(ctx, ctx.args[1])
}

/// `bpf_get_current_ancestor_cgroup_id(level)`.
pub(crate) fn get_current_ancestor_cgroup_id(
    ctx: &mut HelperContext<'_, '_>,
) -> Result<u64, HelperError> {
    ancestor(ctx, ctx.args[0])
}

/// `bpf_get_route_realm(skb)`: the realm of the buffer's route; test-run buffers have no
/// route, so 0.
pub(crate) fn get_route_realm(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    Ok(0)
}

/// `bpf_check_mtu(ctx, ifindex, mtu_len, len_diff, flags)` for socket buffers and XDP:
/// whether the packet (or `*mtu_len` bytes of network layer, if non-zero), grown by
/// `len_diff`, fits the device; `*mtu_len` receives the MTU. Device 0 is the packet's own.
/// Only the loopback device exists in the VM; asking about another one stops the run.
pub(crate) fn check_mtu(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    const CHK_SEGS: u64 = 1;
    const RET_SUCCESS: u64 = 0;
    const RET_FRAG_NEEDED: u64 = 1;
    let [_, ifindex, mtu_ptr, len_diff, flags] = ctx.args;
    let len_diff = len_diff as i32;
    let mtu_in = u32::from_le_bytes(read_vec(ctx, mtu_ptr, 4)?.try_into().expect("4 bytes"));
    let (p, c) = ctx.packet()?;
    let owner = p.owner();
    let len = p.len() as i32;
    let (own_dev, gso) = match owner {
        PacketOwner::Skb => (
            field(SK_BUFF, "ifindex").map_or(0, |f| layout_get(c, f)),
            field(SK_BUFF, "gso_size").map_or(0, |f| layout_get(c, f)) != 0,
        ),
        PacketOwner::Xdp => (
            field(XDP_MD, "ingress_ifindex").map_or(0, |f| layout_get(c, f)),
            false,
        ),
        PacketOwner::Msg | PacketOwner::Reuseport | PacketOwner::FlowDissector => {
            return Err(HelperError(
                "bpf_check_mtu needs a socket buffer or XDP context".into(),
            ));
        }
    };
    let allowed = if owner == PacketOwner::Skb {
        CHK_SEGS
    } else {
        0
    };
    if flags & !allowed != 0 {
        return Ok(neg(EINVAL));
    }
    if flags & CHK_SEGS != 0 && (len_diff != 0 || mtu_in != 0) {
        return Ok(neg(EINVAL));
    }
    let dev = if ifindex as u32 == 0 {
        own_dev
    } else {
        ifindex as u32 as u64
    };
    if dev != LOOPBACK_IFINDEX {
        return Err(HelperError(format!(
            "bpf_check_mtu asks about device {dev}: the VM knows only the loopback device \
             (ifindex 1), not the host's devices"
        )));
    }
    let dev_len = LOOPBACK_MTU + LOOPBACK_HARD_HEADER_LEN;
    let mut pkt_len = if mtu_in != 0 {
        (mtu_in as i32).wrapping_add(LOOPBACK_HARD_HEADER_LEN)
    } else {
        len
    };
    pkt_len = pkt_len.wrapping_add(len_diff);
    let ret = if pkt_len <= dev_len {
        RET_SUCCESS
    } else if gso {
        // A GSO buffer may still be segmented to fit; checking the segments needs a
        // transport header, which a test-run buffer has not set.
        if flags & CHK_SEGS != 0 {
            return Ok(neg(EINVAL));
        }
        RET_SUCCESS
    } else {
        RET_FRAG_NEEDED
    };
    ctx.write(mtu_ptr, &(LOOPBACK_MTU as u32).to_le_bytes())?;
    Ok(ret)
}

/// `bpf_redirect_peer(ifindex, flags)`: `TC_ACT_REDIRECT`, or `TC_ACT_SHOT` for any flag.
pub(crate) fn redirect_peer(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [ifindex, flags, ..] = ctx.args;
    if flags != 0 {
        return Ok(TC_ACT_SHOT);
    }
    ctx.env.redirect = Some(Redirect {
        target: ifindex as u32 as u64,
        flags,
        map: None,
        kind: RedirectKind::Peer,
    });
    Ok(TC_ACT_REDIRECT)
}

/// `bpf_redirect_neigh(ifindex, params, plen, flags)`: `TC_ACT_REDIRECT`, or
/// `TC_ACT_SHOT` for any flag or a next-hop structure shorter than its 20 bytes.
pub(crate) fn redirect_neigh(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    const NEIGH_PARAMS_SIZE: i32 = 20;
    let [ifindex, _, plen, flags, _] = ctx.args;
    let plen = plen as i32;
    if (0..NEIGH_PARAMS_SIZE).contains(&plen) && plen != 0 || flags != 0 {
        return Ok(TC_ACT_SHOT);
    }
    ctx.env.redirect = Some(Redirect {
        target: ifindex as u32 as u64,
        flags,
        map: None,
        kind: RedirectKind::Neighbour { nexthop: plen != 0 },
    });
    Ok(TC_ACT_REDIRECT)
}

/// `bpf_get_cgroup_classid(skb)` and `bpf_skb_cgroup_classid(skb)`: the `net_cls` class
/// id of the task (which made the test run's socket).
pub(crate) fn cgroup_classid(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    Ok(ctx.env.task.net_cls_classid as u64)
}

/// `bpf_skb_set_tstamp(skb, tstamp, type)`: sets `tstamp` and `tstamp_type` (real time 0,
/// monotonic 1, TAI 2; the last two need a non-zero time) of an IPv4 or IPv6 buffer;
/// `-EOPNOTSUPP` for other protocols.
pub(crate) fn skb_set_tstamp(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    const EOPNOTSUPP: i64 = 95;
    want(ctx, PacketOwner::Skb)?;
    let [_, tstamp, ty, ..] = ctx.args;
    let (_, c) = ctx.packet()?;
    let get = |name: &str| field(SK_BUFF, name).map_or(0, |f| layout_get(c, f));
    if !matches!(get("protocol") as u16, 0x0008 | 0xdd86) {
        return Ok(neg(EOPNOTSUPP));
    }
    match ty as u32 {
        0 => {}
        1 | 2 if tstamp != 0 => {}
        _ => return Ok(neg(EINVAL)),
    }
    for (name, v) in [("tstamp", tstamp), ("tstamp_type", ty as u32 as u64)] {
        if let Some(f) = field(SK_BUFF, name) {
            layout_put(c, f, v);
        }
    }
    Ok(0)
}

/// `bpf_skb_get_xfrm_state(skb, index, state, size, flags)`: test-run buffers carry no
/// IPsec security path, so always `-EINVAL` with `state` zeroed.
pub(crate) fn skb_get_xfrm_state(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    want(ctx, PacketOwner::Skb)?;
    let [_, _, to, size, _] = ctx.args;
    ctx.write(to, &vec![0; size as u32 as usize])?;
    Ok(neg(EINVAL))
}
