//! Tracing contexts: x86-64 `struct pt_regs` for kprobes (filled from function
//! arguments), `struct bpf_perf_event_data`, raw tracepoint and tracing arguments (an array
//! of u64), and tracepoint records (raw bytes, as the tracepoint's format file lays them
//! out). All are read-only for programs.

use super::layout::{ARG_REGS, PERF_EVENT_DATA_SIZE, PT_REGS, PT_REGS_SIZE, known, put};
use super::{Context, ContextError, ContextKind};

/// Most arguments a raw tracepoint test run takes (`MAX_BPF_FUNC_ARGS`).
const MAX_ARGS: usize = 12;

fn read_only(kind: ContextKind, bytes: Vec<u8>) -> Context {
    Context {
        kind,
        bytes,
        packet: None,
        objects: Vec::new(),
        ctx_in: false,
    }
}

/// A context of `kind` from raw bytes, zero-padded to the structure's size.
pub(crate) fn from_bytes(kind: ContextKind, raw: &[u8]) -> Result<Context, ContextError> {
    let size = match kind {
        ContextKind::Kprobe => PT_REGS_SIZE,
        ContextKind::PerfEvent => PERF_EVENT_DATA_SIZE,
        _ => raw.len(),
    };
    if raw.len() > size {
        return Err(ContextError::inval(format!(
            "ctx_in has {} bytes; the {kind:?} context has {size}",
            raw.len()
        )));
    }
    let mut bytes = raw.to_vec();
    bytes.resize(size, 0);
    Ok(read_only(kind, bytes))
}

impl Context {
    /// A kprobe context: `pt_regs` with the first (at most six) function arguments in
    /// their x86-64 registers (di, si, dx, cx, r8, r9); more registers can be set by name
    /// with [`Context::set`] (`ip`, `sp`, `ax` for a return probe's value, ...).
    pub fn kprobe(args: &[u64]) -> Result<Context, ContextError> {
        if args.len() > ARG_REGS.len() {
            return Err(ContextError::inval(format!(
                "{} arguments: x86-64 passes at most {} in registers",
                args.len(),
                ARG_REGS.len()
            )));
        }
        let mut bytes = vec![0u8; PT_REGS_SIZE];
        for (reg, &v) in ARG_REGS.iter().zip(args) {
            put(&mut bytes, known(PT_REGS, reg), v);
        }
        Ok(read_only(ContextKind::Kprobe, bytes))
    }

    /// A raw tracepoint (or fentry/fexit) context: the arguments as an array of u64.
    pub fn raw_tracepoint(args: &[u64]) -> Result<Context, ContextError> {
        if args.len() > MAX_ARGS {
            return Err(ContextError::inval(format!(
                "{} arguments: at most {MAX_ARGS}",
                args.len()
            )));
        }
        let bytes = args.iter().flat_map(|a| a.to_le_bytes()).collect();
        Ok(read_only(ContextKind::RawArgs, bytes))
    }

    /// Raw tracepoint arguments from bytes (`ctx_in` of a test run): a multiple of 8 bytes,
    /// at most twelve arguments.
    pub(crate) fn raw_args_bytes(raw: &[u8]) -> Result<Context, ContextError> {
        if !raw.len().is_multiple_of(8) || raw.len() > 8 * MAX_ARGS {
            return Err(ContextError::inval(format!(
                "raw tracepoint ctx_in has {} bytes (a multiple of 8, at most {})",
                raw.len(),
                8 * MAX_ARGS
            )));
        }
        Ok(read_only(ContextKind::RawArgs, raw.to_vec()))
    }

    /// A tracepoint context: the record as the tracepoint's format describes it (the
    /// 8-byte common header first).
    pub fn tracepoint(record: &[u8]) -> Context {
        read_only(ContextKind::Tracepoint, record.to_vec())
    }

    /// A perf event context: the registers at the sample (see [`Context::kprobe`]), the
    /// sample period and the sampled address.
    pub fn perf_event(
        regs: &Context,
        sample_period: u64,
        addr: u64,
    ) -> Result<Context, ContextError> {
        if regs.kind != ContextKind::Kprobe {
            return Err(ContextError::inval(
                "perf event registers come from a kprobe context",
            ));
        }
        let mut bytes = regs.bytes.clone();
        bytes.resize(PERF_EVENT_DATA_SIZE, 0);
        bytes[168..176].copy_from_slice(&sample_period.to_le_bytes());
        bytes[176..184].copy_from_slice(&addr.to_le_bytes());
        Ok(read_only(ContextKind::PerfEvent, bytes))
    }
}
