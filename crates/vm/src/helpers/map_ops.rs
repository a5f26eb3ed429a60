//! Map helpers: lookup, update, delete, push/pop/peek and per-CPU lookup. Map operations
//! that fail as the kernel's do return `-errno` to the program; a bad map pointer or a run
//! without maps stops the run (the verifier would not have let it happen).

use super::{HelperContext, HelperError};
use crate::maps::Maps;

/// The map set of the run.
pub(crate) fn maps<'a>(ctx: &'a mut HelperContext<'_, '_>) -> Result<&'a mut Maps, HelperError> {
    ctx.mem
        .maps
        .as_deref_mut()
        .ok_or_else(|| HelperError("the run has no maps".to_string()))
}

/// The index of the map `ptr` points to.
pub(crate) fn map_index(ctx: &mut HelperContext<'_, '_>, ptr: u64) -> Result<usize, HelperError> {
    maps(ctx)?.map_of_ptr(ptr).map_err(HelperError)
}

/// A copy of `len` bytes of program memory at `addr` (nothing for `len` 0).
pub(crate) fn read_vec(
    ctx: &HelperContext<'_, '_>,
    addr: u64,
    len: usize,
) -> Result<Vec<u8>, HelperError> {
    if len == 0 {
        return Ok(Vec::new());
    }
    Ok(ctx.read(addr, len)?.to_vec())
}

fn key_of(ctx: &mut HelperContext<'_, '_>, map: usize, addr: u64) -> Result<Vec<u8>, HelperError> {
    let size = maps(ctx)?.key_size(map);
    read_vec(ctx, addr, size)
}

fn errno_or<T>(r: Result<T, crate::maps::MapError>, ok: impl FnOnce(T) -> u64) -> u64 {
    match r {
        Ok(v) => ok(v),
        Err(e) => e.as_helper_return(),
    }
}

/// `bpf_map_lookup_elem(map, key)`: the value's address, or 0.
pub(crate) fn lookup(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, key, ..] = ctx.args;
    let m = map_index(ctx, map)?;
    let key = key_of(ctx, m, key)?;
    let cpu = ctx.env.cpu as usize;
    maps(ctx)?
        .prog_lookup(m, &key, cpu)
        .map_err(|e| HelperError(e.to_string()))
}

/// `bpf_map_update_elem(map, key, value, flags)`.
pub(crate) fn update(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, key, value, flags, _] = ctx.args;
    let m = map_index(ctx, map)?;
    let key = key_of(ctx, m, key)?;
    let size = maps(ctx)?.value_size(m);
    let value = read_vec(ctx, value, size)?;
    let cpu = ctx.env.cpu as usize;
    Ok(errno_or(
        maps(ctx)?.prog_update(m, &key, &value, flags, cpu),
        |_| 0,
    ))
}

/// `bpf_map_delete_elem(map, key)`.
pub(crate) fn delete(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, key, ..] = ctx.args;
    let m = map_index(ctx, map)?;
    let key = key_of(ctx, m, key)?;
    Ok(errno_or(maps(ctx)?.prog_delete(m, &key), |_| 0))
}

/// `bpf_map_push_elem(map, value, flags)`.
pub(crate) fn push(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, value, flags, ..] = ctx.args;
    let m = map_index(ctx, map)?;
    let size = maps(ctx)?.queue_mut(m).map_err(HelperError)?.1;
    let value = read_vec(ctx, value, size)?;
    let (q, _) = maps(ctx)?.queue_mut(m).map_err(HelperError)?;
    Ok(errno_or(q.push(&value, flags), |_| 0))
}

fn take(ctx: &mut HelperContext<'_, '_>, remove: bool) -> Result<u64, HelperError> {
    let [map, out, ..] = ctx.args;
    let m = map_index(ctx, map)?;
    let (q, _) = maps(ctx)?.queue_mut(m).map_err(HelperError)?;
    let got = if remove {
        q.pop()
    } else {
        q.peek().map(|v| v.to_vec())
    };
    match got {
        Ok(v) => {
            ctx.write(out, &v)?;
            Ok(0)
        }
        Err(e) => Ok(e.as_helper_return()),
    }
}

/// `bpf_map_pop_elem(map, value)`.
pub(crate) fn pop(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    take(ctx, true)
}

/// `bpf_map_peek_elem(map, value)`.
pub(crate) fn peek(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    take(ctx, false)
}

/// `bpf_map_lookup_percpu_elem(map, key, cpu)`: CPU `cpu`'s value, or 0.
pub(crate) fn lookup_percpu(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [map, key, cpu, ..] = ctx.args;
    let m = map_index(ctx, map)?;
    let key = key_of(ctx, m, key)?;
    maps(ctx)?
        .prog_lookup_percpu(m, &key, cpu)
        .map_err(|e| HelperError(e.to_string()))
}
