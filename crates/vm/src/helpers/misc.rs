//! Helpers about time, randomness, the CPU, the current task, memory probing, checksums and
//! redirects.

use super::map_ops::{map_index, maps, read_vec};
use super::{HelperContext, HelperError};
use crate::env::{Redirect, RedirectFlavor, RedirectKind};
use crate::maps::{EFAULT, MapType};

/// Kernel tick rate assumed for `jiffies64` and the coarse clock (`CONFIG_HZ=250`).
const HZ: u64 = 250;
const TICK_NS: u64 = 1_000_000_000 / HZ;
/// The kernel's `jiffies` start 5 minutes before wrapping 32 bits (`INITIAL_JIFFIES`).
const INITIAL_JIFFIES: u64 = (-(300 * HZ as i64)) as u32 as u64;
/// `TASK_COMM_LEN`.
const TASK_COMM_LEN: usize = 16;

const XDP_ABORTED: u64 = 0;
const XDP_REDIRECT: u64 = 4;
const TC_ACT_SHOT: u64 = 2;
const TC_ACT_REDIRECT: u64 = 7;
/// `BPF_F_INGRESS`.
const BPF_F_INGRESS: u64 = 1;
/// `BPF_F_BROADCAST` and `BPF_F_EXCLUDE_INGRESS` (devmaps only).
const BPF_F_BROADCAST: u64 = 1 << 3;
const BPF_F_EXCLUDE_INGRESS: u64 = 1 << 4;
/// `XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX`: the action a failed lookup returns.
const ACTION_MASK: u64 = 3;

fn neg(errno: i32) -> u64 {
    (-(errno as i64)) as u64
}

/// Helpers that do nothing in a single-threaded VM (`bpf_spin_lock`/`unlock`).
pub(crate) fn nothing(_: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    Ok(0)
}

pub(crate) fn ktime_get_ns(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    Ok(ctx.env.mono_ns())
}

pub(crate) fn ktime_get_boot_ns(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let off = ctx.env.boot_offset_ns;
    Ok(ctx.env.mono_ns().wrapping_add(off))
}

pub(crate) fn ktime_get_tai_ns(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let off = ctx.env.tai_offset_ns;
    Ok(ctx.env.mono_ns().wrapping_add(off))
}

/// The monotonic time at the last tick.
pub(crate) fn ktime_get_coarse_ns(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let t = ctx.env.mono_ns();
    Ok(t - t % TICK_NS)
}

pub(crate) fn jiffies64(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    Ok(INITIAL_JIFFIES + ctx.env.mono_ns() / TICK_NS)
}

pub(crate) fn get_prandom_u32(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    Ok(ctx.env.prandom_u32() as u64)
}

pub(crate) fn get_smp_processor_id(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    Ok(ctx.env.cpu as u64)
}

pub(crate) fn get_numa_node_id(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    Ok(ctx.env.numa_node as u64)
}

/// `tgid << 32 | pid`.
pub(crate) fn get_current_pid_tgid(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let t = &ctx.env.task;
    Ok((t.tgid as u64) << 32 | t.pid as u64)
}

/// `gid << 32 | uid`.
pub(crate) fn get_current_uid_gid(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let t = &ctx.env.task;
    Ok((t.gid as u64) << 32 | t.uid as u64)
}

/// `bpf_get_current_comm(buf, size)`: the name, truncated to `size - 1` bytes, NUL-padded.
pub(crate) fn get_current_comm(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [buf, size, ..] = ctx.args;
    let size = size as usize;
    if size == 0 {
        return Ok(0);
    }
    let comm = ctx.env.task.comm.as_bytes();
    let comm = &comm[..comm.len().min(TASK_COMM_LEN - 1)];
    let mut out = vec![0u8; size];
    let n = comm.len().min(size - 1);
    out[..n].copy_from_slice(&comm[..n]);
    ctx.write(buf, &out)?;
    Ok(0)
}

pub(crate) fn get_current_task(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    Ok(ctx.env.task.task_ptr)
}

pub(crate) fn get_current_cgroup_id(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    Ok(ctx.env.task.cgroup_id)
}

/// `bpf_probe_read{,_kernel,_user}(dst, size, src)`: copies from any memory the VM knows;
/// anything else zero-fills `dst` and returns `-EFAULT`.
pub(crate) fn probe_read(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [dst, size, src, ..] = ctx.args;
    let size = size as usize;
    if size == 0 {
        return Ok(0);
    }
    match ctx.read(src, size).map(|b| b.to_vec()) {
        Ok(bytes) => {
            ctx.write(dst, &bytes)?;
            Ok(0)
        }
        Err(_) => {
            ctx.write(dst, &vec![0; size])?;
            Ok(neg(EFAULT))
        }
    }
}

/// `bpf_probe_read{,_kernel,_user}_str(dst, size, src)`: copies the string and its NUL
/// (at most `size - 1` bytes and a NUL) and returns the bytes written, NUL included; an
/// unreadable byte zero-fills `dst` and returns `-EFAULT`.
pub(crate) fn probe_read_str(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [dst, size, src, ..] = ctx.args;
    let size = size as usize;
    if size == 0 {
        return Ok(0);
    }
    match ctx.read_str(src, size - 1) {
        Some(mut s) => {
            s.push(0);
            ctx.write(dst, &s)?;
            Ok(s.len() as u64)
        }
        None => {
            ctx.write(dst, &vec![0; size])?;
            Ok(neg(EFAULT))
        }
    }
}

/// `bpf_strncmp(s1, s1_size, s2)`: -1, 0 or 1, comparing at most `s1_size` bytes.
pub(crate) fn strncmp(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [s1, n, s2, ..] = ctx.args;
    let a = read_vec(ctx, s1, n as usize)?;
    for (i, &x) in a.iter().enumerate() {
        let y = ctx.read(s2.wrapping_add(i as u64), 1)?[0];
        if x != y {
            return Ok(if x < y { -1i64 as u64 } else { 1 });
        }
        if x == 0 {
            break;
        }
    }
    Ok(0)
}

/// `bpf_csum_diff(from, from_size, to, to_size, seed)`: sizes must be multiples of 4 and
/// total at most 512 bytes (else `-EINVAL`).
pub(crate) fn csum_diff(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [from, from_size, to, to_size, seed] = ctx.args;
    let (fs, ts) = (from_size as u32 as u64, to_size as u32 as u64);
    if (fs | ts) & 3 != 0 || fs + ts > 512 {
        return Ok(neg(crate::maps::EINVAL));
    }
    let mut diff: Vec<u8> = read_vec(ctx, from, fs as usize)?
        .iter()
        .map(|b| !b)
        .collect();
    diff.extend(read_vec(ctx, to, ts as usize)?);
    Ok(super::checksum::partial(&diff, seed as u32) as u64)
}

/// `bpf_redirect(ifindex, flags)`: XDP gives `XDP_REDIRECT` (flags must be 0, else
/// `XDP_ABORTED`); TC gives `TC_ACT_REDIRECT` (flags other than `BPF_F_INGRESS` give
/// `TC_ACT_SHOT`). The target is recorded in the environment.
pub(crate) fn redirect(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [ifindex, flags, ..] = ctx.args;
    let (ok, fail, allowed) = match ctx.env.redirect_flavor {
        RedirectFlavor::Xdp => (XDP_REDIRECT, XDP_ABORTED, 0),
        RedirectFlavor::Tc => (TC_ACT_REDIRECT, TC_ACT_SHOT, BPF_F_INGRESS),
    };
    if flags & !allowed != 0 {
        return Ok(fail);
    }
    ctx.env.redirect = Some(Redirect {
        target: ifindex as u32 as u64,
        flags,
        map: None,
        kind: RedirectKind::Device,
    });
    Ok(ok)
}

/// `bpf_redirect_map(map, key, flags)` for devmap, devmap_hash, cpumap and xskmap:
/// `XDP_REDIRECT` if the entry exists (or `BPF_F_BROADCAST` on a devmap), else the action
/// in the low two bits of `flags`; unknown flags give `XDP_ABORTED`.
pub(crate) fn redirect_map(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, key, flags, ..] = ctx.args;
    let m = map_index(ctx, map)?;
    let ty = maps(ctx)?.map_type(m);
    let extra = match ty {
        MapType::Devmap | MapType::DevmapHash => BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS,
        _ => 0,
    };
    if flags & !(ACTION_MASK | extra) != 0 {
        return Ok(XDP_ABORTED);
    }
    let target = maps(ctx)?
        .redirect_target(m, key as u32)
        .map_err(HelperError)?;
    if target.is_none() && flags & BPF_F_BROADCAST == 0 {
        ctx.env.redirect = None;
        return Ok(flags & ACTION_MASK);
    }
    ctx.env.redirect = Some(Redirect {
        target: key as u32 as u64,
        flags,
        map: Some(m),
        kind: RedirectKind::Device,
    });
    Ok(XDP_REDIRECT)
}
