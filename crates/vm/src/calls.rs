//! What the interpreter does at a helper call and at an LD_IMM64 of a map or function:
//! registered helpers first, then (when enabled) the built-in kernel helpers, including the
//! ones that change control flow — `bpf_tail_call` (switch to another program of the set,
//! at most [`MAX_TAIL_CALLS`] times per run) and the callback helpers `bpf_loop` and
//! `bpf_for_each_map_elem` (run a function of the program one frame deeper).

use bpfvet_isa::helpers::helper_name;

use crate::MAX_CALL_FRAMES;
use crate::error::VmError;
use crate::exec::{Machine, Regs, run_function};
use crate::helpers::{Builtin, HelperContext, builtin};
use crate::maps::{E2BIG, EINVAL, MapType, map_ptr, map_window};
use crate::memory::Memory;
use crate::predecode::Code;

/// The kernel's limit on tail calls in one run (`MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALLS: u32 = 33;
/// Most iterations `bpf_loop` accepts (`BPF_MAX_LOOPS`, 8 Mi).
const MAX_LOOPS: u64 = 1 << 23;

/// What a helper call does to the program.
pub(crate) enum Outcome {
    /// R0 gets the value.
    Value(u64),
    /// R0 is left alone (a failed tail call falls through).
    Keep,
    /// Continue at the start of program `.0`.
    TailCall(usize),
}

fn neg(errno: i32) -> u64 {
    (-(errno as i64)) as u64
}

/// Calls helper `id` with R1–R5 of `r`, from frame `depth`.
pub(crate) fn call(
    m: &mut Machine<'_>,
    mem: &mut Memory<'_>,
    id: u64,
    r: &Regs,
    pc: usize,
    depth: usize,
) -> Result<Outcome, VmError> {
    let args = [r[1], r[2], r[3], r[4], r[5]];
    let helper_err = |e: crate::HelperError| VmError::Helper {
        pc,
        id: id as u32,
        message: e.0,
    };
    if let Some(f) = u32::try_from(id).ok().and_then(|i| m.helpers.get_mut(i)) {
        let mut ctx = HelperContext {
            args,
            pc,
            mem: &mut *mem,
            env: &mut *m.env,
        };
        return f(&mut ctx).map(Outcome::Value).map_err(helper_err);
    }
    let found = if m.helpers.builtins {
        builtin(id)
    } else {
        None
    };
    match found {
        None => Err(VmError::UnknownHelper { pc, id }),
        Some(Builtin::Plain(f)) => {
            let mut ctx = HelperContext {
                args,
                pc,
                mem: &mut *mem,
                env: &mut *m.env,
            };
            f(&mut ctx).map(Outcome::Value).map_err(helper_err)
        }
        Some(Builtin::Unavailable(needs)) => Err(VmError::UnavailableHelper {
            pc,
            id: id as u32,
            name: helper_name(id as i32).unwrap_or("?"),
            needs,
        }),
        Some(Builtin::TailCall) => tail_call(m, mem, args).map_err(helper_err),
        Some(Builtin::Loop) => bpf_loop(m, mem, args, pc, depth),
        Some(Builtin::ForEachMapElem) => for_each_map_elem(m, mem, args, pc, depth),
    }
}

fn map_of(mem: &Memory<'_>, ptr: u64) -> Result<usize, crate::HelperError> {
    let maps = mem
        .maps
        .as_deref()
        .ok_or_else(|| crate::HelperError("the run has no maps".into()))?;
    maps.map_of_ptr(ptr).map_err(crate::HelperError)
}

/// `bpf_tail_call(ctx, prog_array, index)`: jumps to the program in entry `index`; falls
/// through (R0 unchanged) if the index is out of range, the limit is reached or the entry
/// is empty. As in the kernel, an attempt on an empty entry still counts.
fn tail_call(
    m: &mut Machine<'_>,
    mem: &mut Memory<'_>,
    args: [u64; 5],
) -> Result<Outcome, crate::HelperError> {
    let map = map_of(mem, args[1])?;
    let maps = mem.maps.as_deref().expect("map_of checked");
    let index = args[2] as u32;
    if maps.map_type(map) != MapType::ProgArray {
        return Err(crate::HelperError(format!(
            "bpf_tail_call on map '{}', which is not a prog array",
            maps.spec(map).map_or("?", |s| s.name.as_str())
        )));
    }
    if index >= maps.max_entries(map) || m.tail_calls >= MAX_TAIL_CALLS {
        return Ok(Outcome::Keep);
    }
    m.tail_calls += 1;
    match maps
        .prog_array_entry(map, index as u64)
        .map_err(crate::HelperError)?
    {
        None => Ok(Outcome::Keep),
        Some(p) if (p as usize) < m.progs.len() => Ok(Outcome::TailCall(p as usize)),
        Some(p) => Err(crate::HelperError(format!(
            "prog array entry {index} holds program {p}, but the VM has {} programs",
            m.progs.len()
        ))),
    }
}

/// Runs the callback at function address `func` one frame below `depth` with `args`.
fn callback(
    m: &mut Machine<'_>,
    mem: &mut Memory<'_>,
    func: u64,
    args: [u64; 5],
    pc: usize,
    depth: usize,
) -> Result<u64, VmError> {
    let Some((prog, op)) = m.decode_func(func) else {
        return Err(VmError::Helper {
            pc,
            id: 0,
            message: format!("{func:#x} is not the address of a function of the program"),
        });
    };
    if depth + 1 >= MAX_CALL_FRAMES {
        return Err(VmError::CallDepth { pc });
    }
    let mut init = [0u64; 11];
    init[1..6].copy_from_slice(&args);
    mem.push_frame();
    let r = run_function(m, mem, prog, op, init, depth + 1);
    mem.pop_frame();
    r
}

/// `bpf_loop(nr_loops, callback, ctx, flags)`: calls `callback(i, ctx)` for i = 0.. until
/// it returns non-zero; returns the number of calls.
fn bpf_loop(
    m: &mut Machine<'_>,
    mem: &mut Memory<'_>,
    args: [u64; 5],
    pc: usize,
    depth: usize,
) -> Result<Outcome, VmError> {
    let [nr, func, ctx, flags, _] = args;
    if flags != 0 {
        return Ok(Outcome::Value(neg(EINVAL)));
    }
    let nr = nr as u32 as u64;
    if nr > MAX_LOOPS {
        return Ok(Outcome::Value(neg(E2BIG)));
    }
    for i in 0..nr {
        if callback(m, mem, func, [i, ctx, 0, 0, 0], pc, depth)? != 0 {
            return Ok(Outcome::Value(i + 1));
        }
    }
    Ok(Outcome::Value(nr))
}

/// `bpf_for_each_map_elem(map, callback, ctx, flags)`: calls `callback(map, key, value,
/// ctx)` for each element (array order, or the hash's iteration order; per-CPU maps give the
/// current CPU's value) until it returns non-zero; returns the number of calls.
fn for_each_map_elem(
    m: &mut Machine<'_>,
    mem: &mut Memory<'_>,
    args: [u64; 5],
    pc: usize,
    depth: usize,
) -> Result<Outcome, VmError> {
    let [map_arg, func, ctx, flags, _] = args;
    let herr = |message: String| VmError::Helper {
        pc,
        id: 164,
        message,
    };
    let map = map_of(mem, map_arg).map_err(|e| herr(e.0))?;
    if flags != 0 {
        return Ok(Outcome::Value(neg(EINVAL)));
    }
    let cpu = m.env.cpu as usize;
    let slots = {
        let maps = mem.maps.as_deref().expect("map_of checked");
        maps.for_each_slots(map).map_err(herr)?
    };
    let mut n = 0u64;
    for slot in slots {
        let maps = mem.maps.as_deref_mut().expect("map_of checked");
        let Some((key, value)) = maps.callback_args(map, slot, cpu) else {
            continue;
        };
        n += 1;
        if callback(m, mem, func, [map_ptr(map), key, value, ctx, 0], pc, depth)? != 0 {
            break;
        }
    }
    Ok(Outcome::Value(n))
}

/// The value of an LD_IMM64 of a map (`code`): the map pointer, or the address of byte
/// `off` of the value of a single-element array.
pub(crate) fn ld_map(
    mem: &Memory<'_>,
    code: Code,
    src: u8,
    x: u32,
    off: u64,
    pc: usize,
) -> Result<u64, VmError> {
    let Some(maps) = mem.maps.as_deref() else {
        return Err(VmError::NeedsLoader { pc, src });
    };
    let by_fd = matches!(code, Code::LdMapFd | Code::LdMapValueFd);
    let index = if by_fd {
        maps.resolve_fd(x as i32)
    } else {
        Some(x as usize).filter(|&i| i < maps.len())
    };
    let Some(index) = index else {
        return Err(VmError::Map {
            pc,
            message: format!(
                "LD_IMM64 refers to map {} {}, but the run has {} maps",
                if by_fd { "fd" } else { "index" },
                x as i32,
                maps.len()
            ),
        });
    };
    if matches!(code, Code::LdMapFd | Code::LdMapIdx) {
        return Ok(map_ptr(index));
    }
    let spec = maps.spec(index).expect("index checked");
    if spec.map_type != MapType::Array || spec.max_entries != 1 || off >= spec.value_size as u64 {
        return Err(VmError::Map {
            pc,
            message: format!(
                "LD_IMM64 of byte {off} of map '{}': direct value access needs a single-element \
                 array and an offset below its value size {}",
                spec.name, spec.value_size
            ),
        });
    }
    Ok(map_window(index) + off)
}
