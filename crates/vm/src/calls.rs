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
        Some(Builtin::Loop) => {
            bpf_loop(&mut Interp { m, mem, depth }, args, pc).map(Outcome::Value)
        }
        Some(Builtin::ForEachMapElem) => {
            for_each_map_elem(&mut Interp { m, mem, depth }, args, pc).map(Outcome::Value)
        }
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

/// What the callback helpers (`bpf_loop`, `bpf_for_each_map_elem`) need from the engine
/// running the program: the maps, the CPU, and a way to run a function of the program one
/// frame deeper. The interpreter and the JIT both implement it, so the helpers' rules (flags,
/// limits, iteration order, errors) are written once, here.
pub trait CallbackHost {
    /// The run's maps.
    fn maps(&mut self) -> Option<&mut crate::Maps>;
    /// The CPU the program runs on (per-CPU values handed to callbacks are its copies).
    fn cpu(&self) -> usize;
    /// The call frame making the helper call (0 = the entry function).
    fn depth(&self) -> usize;
    /// Whether `func` is an address `LD_IMM64 func(...)` gives for a function of the set.
    fn is_function(&self, func: u64) -> bool;
    /// Runs the function at `func` one frame below [`CallbackHost::depth`] with R1–R5 =
    /// `args` (R0 and R6–R9 zero) and returns its R0.
    fn call(&mut self, func: u64, args: [u64; 5]) -> Result<u64, VmError>;
}

/// Runs the callback at function address `func` one frame deeper with `args`.
fn callback(
    host: &mut dyn CallbackHost,
    func: u64,
    args: [u64; 5],
    pc: usize,
) -> Result<u64, VmError> {
    if !host.is_function(func) {
        return Err(VmError::Helper {
            pc,
            id: 0,
            message: format!("{func:#x} is not the address of a function of the program"),
        });
    }
    if host.depth() + 1 >= MAX_CALL_FRAMES {
        return Err(VmError::CallDepth { pc });
    }
    host.call(func, args)
}

/// `bpf_loop(nr_loops, callback, ctx, flags)` at `pc`: calls `callback(i, ctx)` for i = 0..
/// until it returns non-zero; returns the number of calls (or a negative errno).
pub fn bpf_loop(host: &mut dyn CallbackHost, args: [u64; 5], pc: usize) -> Result<u64, VmError> {
    let [nr, func, ctx, flags, _] = args;
    if flags != 0 {
        return Ok(neg(EINVAL));
    }
    let nr = nr as u32 as u64;
    if nr > MAX_LOOPS {
        return Ok(neg(E2BIG));
    }
    for i in 0..nr {
        if callback(host, func, [i, ctx, 0, 0, 0], pc)? != 0 {
            return Ok(i + 1);
        }
    }
    Ok(nr)
}

/// `bpf_for_each_map_elem(map, callback, ctx, flags)` at `pc`: calls `callback(map, key,
/// value, ctx)` for each element (array order, or the hash's iteration order; per-CPU maps
/// give the current CPU's value) until it returns non-zero; returns the number of calls.
pub fn for_each_map_elem(
    host: &mut dyn CallbackHost,
    args: [u64; 5],
    pc: usize,
) -> Result<u64, VmError> {
    let [map_arg, func, ctx, flags, _] = args;
    let herr = |message: String| VmError::Helper {
        pc,
        id: 164,
        message,
    };
    let maps = host
        .maps()
        .ok_or_else(|| herr("the run has no maps".into()))?;
    let map = maps.map_of_ptr(map_arg).map_err(herr)?;
    if flags != 0 {
        return Ok(neg(EINVAL));
    }
    let slots = maps.for_each_slots(map).map_err(herr)?;
    let cpu = host.cpu();
    let mut n = 0u64;
    for slot in slots {
        let maps = host.maps().expect("checked above");
        let Some((key, value)) = maps.callback_args(map, slot, cpu) else {
            continue;
        };
        n += 1;
        if callback(host, func, [map_ptr(map), key, value, ctx, 0], pc)? != 0 {
            break;
        }
    }
    Ok(n)
}

/// The interpreter as a [`CallbackHost`].
struct Interp<'a, 'b, 'c, 'm> {
    m: &'a mut Machine<'b>,
    mem: &'c mut Memory<'m>,
    depth: usize,
}

impl CallbackHost for Interp<'_, '_, '_, '_> {
    fn maps(&mut self) -> Option<&mut crate::Maps> {
        self.mem.maps.as_deref_mut()
    }

    fn cpu(&self) -> usize {
        self.m.env.cpu as usize
    }

    fn depth(&self) -> usize {
        self.depth
    }

    fn is_function(&self, func: u64) -> bool {
        self.m.decode_func(func).is_some()
    }

    fn call(&mut self, func: u64, args: [u64; 5]) -> Result<u64, VmError> {
        let (prog, op) = self.m.decode_func(func).expect("checked by is_function");
        let mut init = [0u64; 11];
        init[1..6].copy_from_slice(&args);
        self.mem.push_frame();
        let r = run_function(self.m, self.mem, prog, op, init, self.depth + 1);
        self.mem.pop_frame();
        r
    }
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
