//! `bpf_trace_printk`, `bpf_trace_vprintk` and `bpf_snprintf` on top of the formatter in
//! `printk.rs`: output goes to the environment's trace log (or the program's buffer).

use super::map_ops::read_vec;
use super::printk::{ArgMemory, MAX_VARARGS, PRINTK_BUF, format};
use super::{HelperContext, HelperError};
use crate::env::TraceRecord;
use crate::maps::EINVAL;
use crate::memory::Memory;

impl ArgMemory for Memory<'_> {
    fn str_at(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        self.read_str(addr, max.saturating_sub(1))
    }

    fn bytes_at(&self, addr: u64, n: usize) -> Option<Vec<u8>> {
        self.read_bytes(addr, n).map(|b| b.to_vec())
    }
}

fn neg(errno: i32) -> u64 {
    (-(errno as i64)) as u64
}

/// Formats and logs one trace line; returns the formatted length.
fn trace(ctx: &mut HelperContext<'_, '_>, fmt: &[u8], args: &[u64]) -> u64 {
    match format(fmt, args, &*ctx.mem) {
        Ok(mut out) => {
            let len = out.len() as u64;
            out.truncate(PRINTK_BUF - 1);
            let env = &mut *ctx.env;
            env.trace.push(TraceRecord {
                ts_ns: env.peek_ns(),
                cpu: env.cpu,
                pid: env.task.pid,
                message: String::from_utf8_lossy(&out).into_owned(),
            });
            len
        }
        Err((errno, _)) => neg(errno),
    }
}

/// `bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3)`.
pub(crate) fn trace_printk(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [fmt, size, a1, a2, a3] = ctx.args;
    let fmt = read_vec(ctx, fmt, size as usize)?;
    Ok(trace(ctx, &fmt, &[a1, a2, a3]))
}

/// The arguments of `trace_vprintk`/`snprintf`: `data_len` bytes of `u64`s at `data`.
fn varargs(
    ctx: &HelperContext<'_, '_>,
    data: u64,
    len: u64,
) -> Result<Option<Vec<u64>>, HelperError> {
    if !len.is_multiple_of(8) || len > MAX_VARARGS as u64 * 8 || (len != 0 && data == 0) {
        return Ok(None);
    }
    let bytes = read_vec(ctx, data, len as usize)?;
    Ok(Some(
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    ))
}

/// `bpf_trace_vprintk(fmt, fmt_size, args, data_len)`.
pub(crate) fn trace_vprintk(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [fmt, size, data, len, _] = ctx.args;
    let Some(args) = varargs(ctx, data, len)? else {
        return Ok(neg(EINVAL));
    };
    let fmt = read_vec(ctx, fmt, size as usize)?;
    Ok(trace(ctx, &fmt, &args))
}

/// `bpf_snprintf(str, str_size, fmt, args, data_len)`: writes at most `str_size` bytes
/// (NUL-terminated) and returns the full length plus one.
pub(crate) fn snprintf(ctx: &mut HelperContext<'_, '_>) -> Result<u64, HelperError> {
    let [out, out_size, fmt, data, len] = ctx.args;
    let Some(args) = varargs(ctx, data, len)? else {
        return Ok(neg(EINVAL));
    };
    // The verifier guarantees a constant NUL-terminated format; read up to its NUL.
    let mut fmt = ctx
        .read_str(fmt, 64 * 1024)
        .ok_or_else(|| HelperError(format!("cannot read the format string at {fmt:#x}")))?;
    fmt.push(0);
    match format(&fmt, &args, &*ctx.mem) {
        Ok(text) => {
            let size = out_size as usize;
            if size > 0 {
                let n = text.len().min(size - 1);
                let mut buf = text[..n].to_vec();
                buf.push(0);
                ctx.write(out, &buf)?;
            }
            Ok(text.len() as u64 + 1)
        }
        Err((errno, _)) => Ok(neg(errno)),
    }
}
