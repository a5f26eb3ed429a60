//! The interpreter loop: executes pre-decoded [`Op`]s over a register file, checked memory,
//! a call-frame stack and the helper table, with Linux kernel semantics (RFC 9669).
//!
//! Arithmetic corner cases live in `alu.rs`; memory checks in `memory.rs`; helper calls,
//! tail calls and callbacks (`bpf_loop`, `bpf_for_each_map_elem`) in `calls.rs`.
//!
//! [`run_function`] runs one function until it returns from its own frame; callbacks run
//! through it recursively, one frame deeper, sharing the budget and the `may_goto` count.
//!
//! The instruction budget is charged per straight-line run rather than per instruction: the
//! loop remembers where the current run began (`block`), and every control transfer (taken
//! jump, call, helper call, exit) charges the instructions since then. A run that overshoots
//! the budget stops at its next transfer (or error) with [`VmError::BudgetExhausted`] naming
//! the first instruction beyond the budget; only straight-line ALU and memory instructions of
//! that run (never a helper call) may have executed past it. The instruction count reported
//! on success is exact.

use bpfvet_isa::AtomicOp;

use crate::alu;
use crate::calls::{Outcome, call, ld_map};
use crate::env::Env;
use crate::error::{Access, VmError};
use crate::helpers::Helpers;
use crate::memory::{FUNC_BASE, Memory, STACK_SIZE, stack_base};
use crate::predecode::{Code, Decoded, Op};
use crate::{MAX_CALL_FRAMES, RunOptions, RunResult};

/// The state a bpf-to-bpf call saves: where to return (program and op) and the
/// callee-saved R6–R9.
#[derive(Clone, Copy, Default)]
struct Frame {
    ret: usize,
    prog: usize,
    saved: [u64; 4],
}

/// The register file. Only R0..=R10 are used; 256 entries make every `u8` register number an
/// in-bounds index, so register accesses compile without bounds checks (or masking).
pub(crate) type Regs = [u64; 256];

/// Everything a run shares across programs (tail calls) and callbacks, except the memory,
/// which travels separately so the interpreter loop holds it directly.
pub(crate) struct Machine<'a> {
    pub progs: &'a [Decoded],
    pub helpers: &'a mut Helpers,
    pub env: &'a mut Env,
    pub budget: u64,
    /// Budget left (exact whenever control is outside [`run_function`]'s loop).
    pub remaining: u64,
    pub may_goto_left: u64,
    /// Tail calls made so far in this run.
    pub tail_calls: u32,
}

impl Machine<'_> {
    /// The address `LD_IMM64 func(...)` gives for op `op` of program `prog`.
    pub fn func_addr(prog: usize, op: usize) -> u64 {
        FUNC_BASE + ((prog as u64) << 32) + 8 * op as u64
    }

    /// The (program, op) a function address refers to.
    pub fn decode_func(&self, addr: u64) -> Option<(usize, usize)> {
        let off = addr.checked_sub(FUNC_BASE)?;
        let prog = usize::try_from(off >> 32).ok()?;
        let low = off & 0xffff_ffff;
        let op = (low / 8) as usize;
        let ops = &self.progs.get(prog)?.ops;
        (low % 8 == 0 && op + 1 < ops.len()).then_some((prog, op))
    }
}

/// Runs program `prog` from its first instruction with registers `init`.
pub(crate) fn execute(
    m: &mut Machine<'_>,
    mem: &mut Memory<'_>,
    prog: usize,
    init: [u64; 11],
    opts: &RunOptions,
) -> Result<RunResult, VmError> {
    m.budget = opts.budget;
    m.remaining = opts.budget;
    m.may_goto_left = opts.may_goto_budget;
    let r0 = run_function(m, mem, prog, 0, init, 0)?;
    Ok(RunResult {
        r0,
        executed: m.budget - m.remaining,
    })
}

/// Runs op `entry` of program `prog` in call frame `base` (whose stack must be live) with
/// registers `init` (R10 is set here), until it returns from that frame; returns R0.
pub(crate) fn run_function(
    m: &mut Machine<'_>,
    mem: &mut Memory<'_>,
    prog: usize,
    entry: usize,
    init: [u64; 11],
    base: usize,
) -> Result<u64, VmError> {
    let progs = m.progs;
    let mut cur = prog;
    let mut ops: &[Op] = &progs[cur].ops;
    let mut pcs: &[usize] = &progs[cur].pcs;
    let budget = m.budget;
    let mut frames = [Frame::default(); MAX_CALL_FRAMES];
    let mut depth = base;
    // `pc` is the index of the next op; `block` the index where the current straight-line
    // run began; `remaining` the budget left at `block`.
    let mut pc = entry;
    let mut block = entry;
    let mut remaining = m.remaining;
    let mut regs: Regs = [0; 256];
    regs[..11].copy_from_slice(&init);
    regs[10] = stack_base(base) + STACK_SIZE as u64;
    let r = &mut regs;

    macro_rules! reg {
        ($x:expr) => {
            r[$x as u8 as usize]
        };
    }
    // The error for the budget running out at the first instruction beyond it.
    macro_rules! exhausted {
        () => {
            VmError::BudgetExhausted {
                pc: pcs[block + remaining as usize],
                budget,
            }
        };
    }
    // Charges the run `block..pc` (the current op included) to the budget; the caller then
    // starts a new run.
    macro_rules! charge {
        () => {{
            let used = (pc - block) as u64;
            if used > remaining {
                return Err(exhausted!());
            }
            remaining -= used;
        }};
    }
    // Transfers control to op `t`.
    macro_rules! goto {
        ($t:expr) => {{
            charge!();
            pc = $t as usize;
            block = pc;
        }};
    }
    // Fails at the current op, unless the budget ran out before it.
    macro_rules! fail {
        ($err:expr) => {{
            let done = (pc - 1 - block) as u64;
            return Err(if done >= remaining {
                exhausted!()
            } else {
                $err
            });
        }};
    }
    macro_rules! here {
        () => {
            pcs[pc - 1]
        };
    }
    macro_rules! alu64 {
        ($d:expr, $v:expr, $f:expr) => {
            reg!($d) = $f(reg!($d), $v)
        };
    }
    macro_rules! alu32 {
        ($d:expr, $v:expr, $f:expr) => {
            reg!($d) = $f(reg!($d) as u32, $v as u32) as u64
        };
    }
    macro_rules! jump_if {
        ($c:expr, $t:expr) => {
            if $c {
                goto!($t);
            }
        };
    }

    loop {
        let Op { code, d, s, x, imm } = ops[pc];
        pc += 1;
        // Memory access helpers; defined here to see this instruction's fields.
        macro_rules! addr {
            ($base:expr) => {
                reg!($base).wrapping_add(x as i32 as i64 as u64)
            };
        }
        macro_rules! load {
            ($n:literal, $conv:expr) => {{
                let a = addr!(s);
                match mem.load::<$n>(a) {
                    Some(b) => reg!(d) = $conv(b),
                    None => fail!(mem.fault(here!(), a, $n, Access::Read)),
                }
            }};
        }
        macro_rules! store {
            ($n:literal, $bytes:expr) => {{
                let a = addr!(d);
                if !mem.store::<$n>(a, $bytes) {
                    fail!(mem.fault(here!(), a, $n, Access::Write));
                }
            }};
        }
        macro_rules! atomic {
            ($n:literal, $op:expr) => {{
                let a = addr!(d);
                if let Err(e) = atomic::<$n>(mem, r, $op, a, s, here!()) {
                    fail!(e);
                }
            }};
        }
        match code {
            Code::Add64I => alu64!(d, imm, u64::wrapping_add),
            Code::Add64R => alu64!(d, reg!(s), u64::wrapping_add),
            Code::Sub64I => alu64!(d, imm, u64::wrapping_sub),
            Code::Sub64R => alu64!(d, reg!(s), u64::wrapping_sub),
            Code::Mul64I => alu64!(d, imm, u64::wrapping_mul),
            Code::Mul64R => alu64!(d, reg!(s), u64::wrapping_mul),
            Code::Div64I => alu64!(d, imm, alu::div64),
            Code::Div64R => alu64!(d, reg!(s), alu::div64),
            Code::Sdiv64I => alu64!(d, imm, alu::sdiv64),
            Code::Sdiv64R => alu64!(d, reg!(s), alu::sdiv64),
            Code::Mod64I => alu64!(d, imm, alu::mod64),
            Code::Mod64R => alu64!(d, reg!(s), alu::mod64),
            Code::Smod64I => alu64!(d, imm, alu::smod64),
            Code::Smod64R => alu64!(d, reg!(s), alu::smod64),
            Code::Or64I => reg!(d) |= imm,
            Code::Or64R => reg!(d) |= reg!(s),
            Code::And64I => reg!(d) &= imm,
            Code::And64R => reg!(d) &= reg!(s),
            Code::Xor64I => reg!(d) ^= imm,
            Code::Xor64R => reg!(d) ^= reg!(s),
            Code::Lsh64I => reg!(d) <<= imm & 63,
            Code::Lsh64R => reg!(d) <<= reg!(s) & 63,
            Code::Rsh64I => reg!(d) >>= imm & 63,
            Code::Rsh64R => reg!(d) >>= reg!(s) & 63,
            Code::Arsh64I => reg!(d) = ((reg!(d) as i64) >> (imm & 63)) as u64,
            Code::Arsh64R => reg!(d) = ((reg!(d) as i64) >> (reg!(s) & 63)) as u64,
            Code::Mov64I => reg!(d) = imm,
            Code::Mov64R => reg!(d) = reg!(s),

            Code::Add32I => alu32!(d, imm, u32::wrapping_add),
            Code::Add32R => alu32!(d, reg!(s), u32::wrapping_add),
            Code::Sub32I => alu32!(d, imm, u32::wrapping_sub),
            Code::Sub32R => alu32!(d, reg!(s), u32::wrapping_sub),
            Code::Mul32I => alu32!(d, imm, u32::wrapping_mul),
            Code::Mul32R => alu32!(d, reg!(s), u32::wrapping_mul),
            Code::Div32I => alu32!(d, imm, alu::div32),
            Code::Div32R => alu32!(d, reg!(s), alu::div32),
            Code::Sdiv32I => alu32!(d, imm, alu::sdiv32),
            Code::Sdiv32R => alu32!(d, reg!(s), alu::sdiv32),
            Code::Mod32I => alu32!(d, imm, alu::mod32),
            Code::Mod32R => alu32!(d, reg!(s), alu::mod32),
            Code::Smod32I => alu32!(d, imm, alu::smod32),
            Code::Smod32R => alu32!(d, reg!(s), alu::smod32),
            Code::Or32I => alu32!(d, imm, |a: u32, b| a | b),
            Code::Or32R => alu32!(d, reg!(s), |a: u32, b| a | b),
            Code::And32I => alu32!(d, imm, |a: u32, b| a & b),
            Code::And32R => alu32!(d, reg!(s), |a: u32, b| a & b),
            Code::Xor32I => alu32!(d, imm, |a: u32, b| a ^ b),
            Code::Xor32R => alu32!(d, reg!(s), |a: u32, b| a ^ b),
            Code::Lsh32I => alu32!(d, imm, |a: u32, b| a << (b & 31)),
            Code::Lsh32R => alu32!(d, reg!(s), |a: u32, b| a << (b & 31)),
            Code::Rsh32I => alu32!(d, imm, |a: u32, b| a >> (b & 31)),
            Code::Rsh32R => alu32!(d, reg!(s), |a: u32, b| a >> (b & 31)),
            Code::Arsh32I => alu32!(d, imm, alu::arsh32),
            Code::Arsh32R => alu32!(d, reg!(s), alu::arsh32),
            Code::Mov32I => reg!(d) = imm,
            Code::Mov32R => reg!(d) = reg!(s) as u32 as u64,

            Code::Neg64 => reg!(d) = reg!(d).wrapping_neg(),
            Code::Neg32 => reg!(d) = (reg!(d) as u32).wrapping_neg() as u64,
            Code::Sx8To64 => reg!(d) = reg!(s) as i8 as i64 as u64,
            Code::Sx16To64 => reg!(d) = reg!(s) as i16 as i64 as u64,
            Code::Sx32To64 => reg!(d) = reg!(s) as i32 as i64 as u64,
            Code::Sx8To32 => reg!(d) = reg!(s) as i8 as i32 as u32 as u64,
            Code::Sx16To32 => reg!(d) = reg!(s) as i16 as i32 as u32 as u64,
            Code::Trunc16 => reg!(d) = reg!(d) as u16 as u64,
            Code::Trunc32 => reg!(d) = reg!(d) as u32 as u64,
            Code::Swap16 => reg!(d) = (reg!(d) as u16).swap_bytes() as u64,
            Code::Swap32 => reg!(d) = (reg!(d) as u32).swap_bytes() as u64,
            Code::Swap64 => reg!(d) = reg!(d).swap_bytes(),
            Code::Nop => {}

            Code::LdImm64 => reg!(d) = imm,
            Code::LdxB => load!(1, |b: [u8; 1]| b[0] as u64),
            Code::LdxH => load!(2, |b| u16::from_le_bytes(b) as u64),
            Code::LdxW => load!(4, |b| u32::from_le_bytes(b) as u64),
            Code::LdxDW => load!(8, u64::from_le_bytes),
            Code::LdxSB => load!(1, |b: [u8; 1]| b[0] as i8 as u64),
            Code::LdxSH => {
                load!(2, |b| i16::from_le_bytes(b) as i64 as u64)
            }
            Code::LdxSW => {
                load!(4, |b| i32::from_le_bytes(b) as i64 as u64)
            }
            Code::StB => store!(1, [imm as u8]),
            Code::StH => store!(2, (imm as u16).to_le_bytes()),
            Code::StW => store!(4, (imm as u32).to_le_bytes()),
            Code::StDW => store!(8, (imm as i64).to_le_bytes()),
            Code::StxB => store!(1, [reg!(s) as u8]),
            Code::StxH => store!(2, (reg!(s) as u16).to_le_bytes()),
            Code::StxW => store!(4, (reg!(s) as u32).to_le_bytes()),
            Code::StxDW => store!(8, reg!(s).to_le_bytes()),
            Code::AtomicAdd32 => atomic!(4, AtomicOp::Add { fetch: false }),
            Code::AtomicOr32 => atomic!(4, AtomicOp::Or { fetch: false }),
            Code::AtomicAnd32 => atomic!(4, AtomicOp::And { fetch: false }),
            Code::AtomicXor32 => atomic!(4, AtomicOp::Xor { fetch: false }),
            Code::AtomicFetchAdd32 => atomic!(4, AtomicOp::Add { fetch: true }),
            Code::AtomicFetchOr32 => atomic!(4, AtomicOp::Or { fetch: true }),
            Code::AtomicFetchAnd32 => atomic!(4, AtomicOp::And { fetch: true }),
            Code::AtomicFetchXor32 => atomic!(4, AtomicOp::Xor { fetch: true }),
            Code::AtomicXchg32 => atomic!(4, AtomicOp::Xchg),
            Code::AtomicCmpxchg32 => atomic!(4, AtomicOp::Cmpxchg),
            Code::AtomicAdd64 => atomic!(8, AtomicOp::Add { fetch: false }),
            Code::AtomicOr64 => atomic!(8, AtomicOp::Or { fetch: false }),
            Code::AtomicAnd64 => atomic!(8, AtomicOp::And { fetch: false }),
            Code::AtomicXor64 => atomic!(8, AtomicOp::Xor { fetch: false }),
            Code::AtomicFetchAdd64 => atomic!(8, AtomicOp::Add { fetch: true }),
            Code::AtomicFetchOr64 => atomic!(8, AtomicOp::Or { fetch: true }),
            Code::AtomicFetchAnd64 => atomic!(8, AtomicOp::And { fetch: true }),
            Code::AtomicFetchXor64 => atomic!(8, AtomicOp::Xor { fetch: true }),
            Code::AtomicXchg64 => atomic!(8, AtomicOp::Xchg),
            Code::AtomicCmpxchg64 => atomic!(8, AtomicOp::Cmpxchg),

            Code::Ja => goto!(x),
            Code::Jeq64I => jump_if!(reg!(d) == imm, x),
            Code::Jeq64R => jump_if!(reg!(d) == reg!(s), x),
            Code::Jne64I => jump_if!(reg!(d) != imm, x),
            Code::Jne64R => jump_if!(reg!(d) != reg!(s), x),
            Code::Jgt64I => jump_if!(reg!(d) > imm, x),
            Code::Jgt64R => jump_if!(reg!(d) > reg!(s), x),
            Code::Jge64I => jump_if!(reg!(d) >= imm, x),
            Code::Jge64R => jump_if!(reg!(d) >= reg!(s), x),
            Code::Jlt64I => jump_if!(reg!(d) < imm, x),
            Code::Jlt64R => jump_if!(reg!(d) < reg!(s), x),
            Code::Jle64I => jump_if!(reg!(d) <= imm, x),
            Code::Jle64R => jump_if!(reg!(d) <= reg!(s), x),
            Code::Jsgt64I => jump_if!((reg!(d) as i64) > imm as i64, x),
            Code::Jsgt64R => jump_if!((reg!(d) as i64) > reg!(s) as i64, x),
            Code::Jsge64I => jump_if!((reg!(d) as i64) >= imm as i64, x),
            Code::Jsge64R => jump_if!((reg!(d) as i64) >= reg!(s) as i64, x),
            Code::Jslt64I => jump_if!((reg!(d) as i64) < imm as i64, x),
            Code::Jslt64R => jump_if!((reg!(d) as i64) < reg!(s) as i64, x),
            Code::Jsle64I => jump_if!((reg!(d) as i64) <= imm as i64, x),
            Code::Jsle64R => jump_if!((reg!(d) as i64) <= reg!(s) as i64, x),
            Code::Jset64I => jump_if!(reg!(d) & imm != 0, x),
            Code::Jset64R => jump_if!(reg!(d) & reg!(s) != 0, x),
            Code::Jeq32I => jump_if!(reg!(d) as u32 == (imm as u32), x),
            Code::Jeq32R => jump_if!(reg!(d) as u32 == reg!(s) as u32, x),
            Code::Jne32I => jump_if!(reg!(d) as u32 != (imm as u32), x),
            Code::Jne32R => jump_if!(reg!(d) as u32 != reg!(s) as u32, x),
            Code::Jgt32I => jump_if!(reg!(d) as u32 > (imm as u32), x),
            Code::Jgt32R => jump_if!(reg!(d) as u32 > reg!(s) as u32, x),
            Code::Jge32I => jump_if!(reg!(d) as u32 >= (imm as u32), x),
            Code::Jge32R => jump_if!(reg!(d) as u32 >= reg!(s) as u32, x),
            Code::Jlt32I => jump_if!((reg!(d) as u32) < (imm as u32), x),
            Code::Jlt32R => jump_if!((reg!(d) as u32) < reg!(s) as u32, x),
            Code::Jle32I => jump_if!(reg!(d) as u32 <= (imm as u32), x),
            Code::Jle32R => jump_if!(reg!(d) as u32 <= reg!(s) as u32, x),
            Code::Jsgt32I => jump_if!(reg!(d) as i32 > imm as i32, x),
            Code::Jsgt32R => jump_if!(reg!(d) as i32 > reg!(s) as i32, x),
            Code::Jsge32I => jump_if!(reg!(d) as i32 >= imm as i32, x),
            Code::Jsge32R => jump_if!(reg!(d) as i32 >= reg!(s) as i32, x),
            Code::Jslt32I => jump_if!((reg!(d) as i32) < imm as i32, x),
            Code::Jslt32R => jump_if!((reg!(d) as i32) < reg!(s) as i32, x),
            Code::Jsle32I => jump_if!(reg!(d) as i32 <= imm as i32, x),
            Code::Jsle32R => jump_if!(reg!(d) as i32 <= reg!(s) as i32, x),
            Code::Jset32I => jump_if!(reg!(d) as u32 & (imm as u32) != 0, x),
            Code::Jset32R => jump_if!(reg!(d) as u32 & reg!(s) as u32 != 0, x),
            Code::MayGoto => {
                if m.may_goto_left == 0 {
                    goto!(x);
                } else {
                    m.may_goto_left -= 1;
                }
            }

            Code::CallHelper | Code::Callx => {
                charge!();
                block = pc;
                let id = if code == Code::CallHelper {
                    imm
                } else {
                    reg!(d)
                };
                m.remaining = remaining;
                let out = call(m, mem, id, r, here!(), depth);
                remaining = m.remaining;
                match out? {
                    Outcome::Value(v) => r[0] = v,
                    Outcome::Keep => {}
                    Outcome::TailCall(p) => {
                        cur = p;
                        ops = &progs[cur].ops;
                        pcs = &progs[cur].pcs;
                        pc = 0;
                        block = 0;
                    }
                }
            }
            Code::CallLocal => {
                charge!();
                if depth + 1 >= MAX_CALL_FRAMES {
                    return Err(VmError::CallDepth { pc: here!() });
                }
                frames[depth] = Frame {
                    ret: pc,
                    prog: cur,
                    saved: [r[6], r[7], r[8], r[9]],
                };
                depth += 1;
                mem.push_frame();
                r[10] = stack_base(depth) + STACK_SIZE as u64;
                pc = x as usize;
                block = pc;
            }
            Code::LegacyPacketLoad => {
                let off = if x == 1 {
                    reg!(s).wrapping_add(imm)
                } else {
                    imm
                };
                let Some(p) = mem.packet.as_deref() else {
                    fail!(VmError::LegacyPacketLoad { pc: here!() })
                };
                match p.ld_abs(off as i32, d as usize) {
                    Some(v) => r[0] = v,
                    None => {
                        // The kernel's rewrite returns 0 from the function.
                        r[0] = 0;
                        charge!();
                        if depth == base {
                            m.remaining = remaining;
                            return Ok(0);
                        }
                        depth -= 1;
                        let f = frames[depth];
                        [r[6], r[7], r[8], r[9]] = f.saved;
                        r[10] = stack_base(depth) + STACK_SIZE as u64;
                        mem.pop_frame();
                        if f.prog != cur {
                            cur = f.prog;
                            ops = &progs[cur].ops;
                            pcs = &progs[cur].pcs;
                        }
                        pc = f.ret;
                        block = pc;
                    }
                }
            }
            Code::Exit => {
                charge!();
                if depth == base {
                    m.remaining = remaining;
                    return Ok(r[0]);
                }
                depth -= 1;
                let f = frames[depth];
                [r[6], r[7], r[8], r[9]] = f.saved;
                r[10] = stack_base(depth) + STACK_SIZE as u64;
                mem.pop_frame();
                if f.prog != cur {
                    cur = f.prog;
                    ops = &progs[cur].ops;
                    pcs = &progs[cur].pcs;
                }
                pc = f.ret;
                block = pc;
            }
            Code::LdMapFd | Code::LdMapIdx | Code::LdMapValueFd | Code::LdMapValueIdx => {
                match ld_map(mem, code, s, x, imm, here!()) {
                    Ok(v) => reg!(d) = v,
                    Err(e) => fail!(e),
                }
            }
            Code::LdFunc => reg!(d) = Machine::func_addr(cur, x as usize),
            Code::NeedsLoader => fail!(VmError::NeedsLoader {
                pc: here!(),
                src: imm as u8,
            }),
            Code::AddrSpaceCast => fail!(VmError::AddrSpaceCast { pc: here!() }),
            Code::Kfunc => fail!(VmError::Kfunc {
                pc: here!(),
                btf_id: imm as i32,
                off: x as i16,
            }),
            Code::FellOff => fail!(VmError::FellOffEnd { pc: here!() }),
        }
    }
}

/// Executes an atomic read-modify-write of `N` (4 or 8) bytes at `addr`.
#[inline(never)]
fn atomic<const N: usize>(
    mem: &mut Memory<'_>,
    r: &mut Regs,
    op: AtomicOp,
    addr: u64,
    s: u8,
    pc: usize,
) -> Result<(), VmError> {
    if !addr.is_multiple_of(N as u64) {
        return Err(VmError::MisalignedAtomic {
            pc,
            addr,
            size: N as u32,
        });
    }
    let Some(slot) = mem.slot::<N>(addr) else {
        return Err(mem.fault(pc, addr, N as u32, Access::Write));
    };
    // Values are handled as u64; for N = 4 everything is truncated to (and zero-extended
    // from) 32 bits, which is what the kernel does for BPF_W atomics.
    let mask = if N == 4 { u32::MAX as u64 } else { u64::MAX };
    let mut buf = [0u8; 8];
    buf[..N].copy_from_slice(slot);
    let old = u64::from_le_bytes(buf);
    let src = r[s as usize] & mask;
    let new = match op {
        AtomicOp::Add { .. } => old.wrapping_add(src),
        AtomicOp::Or { .. } => old | src,
        AtomicOp::And { .. } => old & src,
        AtomicOp::Xor { .. } => old ^ src,
        AtomicOp::Xchg => src,
        AtomicOp::Cmpxchg => {
            if r[0] & mask == old {
                src
            } else {
                old
            }
        }
    } & mask;
    slot.copy_from_slice(&new.to_le_bytes()[..N]);
    match op {
        AtomicOp::Cmpxchg => r[0] = old,
        op if op.fetches() => r[s as usize] = old,
        _ => {}
    }
    Ok(())
}
