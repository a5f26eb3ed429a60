//! Ring buffer and perf event helpers: `ringbuf_output/reserve/submit/discard/query` and
//! `perf_event_output`, with the kernel's flag checks and return values.

use super::map_ops::{map_index, maps, read_vec};
use super::{HelperContext, HelperError};
use crate::maps::{
    BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE, EINVAL, map_window,
};

const EAGAIN: i64 = 11;
/// `BPF_F_INDEX_MASK`.
const INDEX_MASK: u64 = 0xffff_ffff;
/// `BPF_F_CURRENT_CPU`.
const CURRENT_CPU: u64 = INDEX_MASK;
/// `BPF_F_CTXLEN_MASK`.
const CTXLEN_MASK: u64 = 0xf_ffff << 32;

fn neg(errno: i64) -> u64 {
    (-errno) as u64
}

/// `bpf_ringbuf_output(ringbuf, data, size, flags)`: 0, `-EINVAL` for bad flags, `-EAGAIN`
/// if there is no room.
pub(crate) fn output(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, data, size, flags, _] = ctx.args;
    if flags & !(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) != 0 {
        return Ok(neg(EINVAL as i64));
    }
    let m = map_index(ctx, map)?;
    let bytes = read_vec(ctx, data, size as usize)?;
    let rb = maps(ctx)?.ringbuf_mut(m).map_err(HelperError)?;
    let Some(off) = rb.reserve(size) else {
        return Ok(neg(EAGAIN));
    };
    rb.busy_at(off).expect("just reserved").data = bytes;
    rb.commit(off, false, flags);
    Ok(0)
}

/// `bpf_ringbuf_reserve(ringbuf, size, flags)`: the record's address, or 0.
pub(crate) fn reserve(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, size, flags, ..] = ctx.args;
    let m = map_index(ctx, map)?;
    let rb = maps(ctx)?.ringbuf_mut(m).map_err(HelperError)?;
    if flags != 0 {
        return Ok(0);
    }
    Ok(rb.reserve(size).map_or(0, |off| map_window(m) + off))
}

fn commit(ctx: &mut HelperContext<'_, '_>, discard: bool) -> Result<u64, HelperError> {
    let [data, flags, ..] = ctx.args;
    let found = maps(ctx)?
        .ringbuf_of_record(data)
        .map(|(rb, off)| rb.commit(off, discard, flags));
    match found {
        Some(true) => Ok(0),
        _ => Err(HelperError(format!(
            "{data:#x} is not a reserved ring buffer record"
        ))),
    }
}

/// `bpf_ringbuf_submit(data, flags)`.
pub(crate) fn submit(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    commit(ctx, false)
}

/// `bpf_ringbuf_discard(data, flags)`.
pub(crate) fn discard(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    commit(ctx, true)
}

/// `bpf_ringbuf_query(ringbuf, flags)`: available data, size, consumer or producer
/// position; 0 for other flags.
pub(crate) fn query(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, flags, ..] = ctx.args;
    let m = map_index(ctx, map)?;
    let rb = maps(ctx)?.ringbuf_mut(m).map_err(HelperError)?;
    Ok(match flags {
        BPF_RB_AVAIL_DATA => rb.avail(),
        BPF_RB_RING_SIZE => rb.size,
        BPF_RB_CONS_POS => rb.consumer,
        BPF_RB_PROD_POS => rb.producer,
        _ => 0,
    })
}

/// `bpf_perf_event_output(ctx, map, flags, data, size)`: the record is kept for the user.
/// The index is `flags & BPF_F_INDEX_MASK` (`BPF_F_CURRENT_CPU`: the current CPU); other
/// flag bits give `-EINVAL`, an index past the array `-E2BIG`, an empty entry `-ENOENT`,
/// and an event bound to another CPU `-EOPNOTSUPP`. With `BPF_F_CTXLEN_MASK` bits (packet
/// contexts), the first bytes of the packet follow the data (`-EFAULT` past its end).
pub(crate) fn perf_event_output(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [_, map, flags, data, size] = ctx.args;
    if flags & !(INDEX_MASK | CTXLEN_MASK) != 0 {
        return Ok(neg(EINVAL as i64));
    }
    // Packet contexts may append the first `ctx_len` bytes of the packet to the record.
    let ctx_len = ((flags & CTXLEN_MASK) >> 32) as usize;
    let tail = if ctx_len > 0 {
        let (p, _) = ctx.packet()?;
        if ctx_len > p.len() {
            return Ok(neg(14));
        }
        p.data()[..ctx_len].to_vec()
    } else {
        Vec::new()
    };
    let cpu = ctx.env.cpu;
    let index = match flags & INDEX_MASK {
        CURRENT_CPU => cpu,
        i => i as u32,
    };
    let m = map_index(ctx, map)?;
    let mut bytes = read_vec(ctx, data, size as usize)?;
    bytes.extend_from_slice(&tail);
    Ok(match maps(ctx)?.perf_output(m, index, cpu, bytes) {
        Ok(()) => 0,
        Err(e) => e.as_helper_return(),
    })
}
