//! The static passes the kernel runs before abstract interpretation, in its order (first error
//! wins): subprogram discovery (`call to invalid destination`), subprogram ranges (`jump out of
//! range`, `last insn is not an exit or jmp`), LD_IMM64 and opcode checks, then a depth-first
//! walk of the control-flow graph (`unreachable insn`, `jump into the middle of ldimm64 insn`,
//! back-edges) that also records the prune points used by state pruning.

use bpfvet_isa::insn::{CallKind, Imm64Kind, Insn};
use bpfvet_isa::opcode::*;

use crate::env::VerifyEnv;
use crate::error::{Errno, VerifyError};
use crate::prog::{Code, Slot};

/// `BPF_MAX_SUBPROGS`.
pub const MAX_SUBPROGS: usize = 256;
/// `BPF_MAX_VAR_OFF`: the largest direct map value offset.
pub const MAX_VAR_OFF: i64 = 1 << 29;

/// One subprogram: slots `start..end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subprog {
    pub start: usize,
    pub end: usize,
    pub has_tail_call: bool,
    pub has_ld_abs: bool,
}

/// Helpers that call their callback argument synchronously, possibly many times:
/// `for_each_map_elem` (164), `find_vma` (180), `loop` (181), `user_ringbuf_drain` (209).
pub const SYNC_CALLBACK_HELPERS: [i32; 4] = [164, 180, 181, 209];

/// What the static passes learn.
#[derive(Clone, Debug, Default)]
pub struct Cfg {
    pub subprogs: Vec<Subprog>,
    /// Jump targets, conditional jumps, call return sites: where states are checkpointed.
    pub prune_point: Vec<bool>,
    /// Targets of back-edges (loop heads).
    pub loop_head: Vec<bool>,
    /// Calls of helpers that call a callback synchronously (`bpf_loop`, ...): the callback
    /// returns to the call, which is a forced checkpoint where the iteration converges.
    pub calls_callback: Vec<bool>,
    /// Per slot: registers live before it (see `liveness`).
    pub live_regs: Vec<u16>,
}

impl Cfg {
    /// The subprogram containing `pc`.
    pub fn subprog_of(&self, pc: usize) -> usize {
        match self.subprogs.binary_search_by(|s| s.start.cmp(&pc)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        }
    }
}

/// Where a raw jump goes (JMP/JMP32 class, not call or exit).
fn raw_jump_target(code: &Code, pc: usize) -> Option<i64> {
    let r = code.raw[pc];
    let class = r.code & 0x07;
    if class != CLASS_JMP && class != CLASS_JMP32 {
        return None;
    }
    let op = r.code & 0xf0;
    if op == OP_EXIT || op == OP_CALL {
        return None;
    }
    let off = if r.code == (CLASS_JMP32 | OP_JA) {
        i64::from(r.imm)
    } else {
        i64::from(r.off)
    };
    Some(pc as i64 + off + 1)
}

/// Runs the static passes.
pub fn check(code: &Code, env: &VerifyEnv) -> Result<Cfg, VerifyError> {
    let n = code.len();
    if n == 0 {
        return Err(VerifyError::new(
            None,
            Errno::EINVAL,
            "program has no instructions",
        ));
    }
    // Subprogram discovery.
    let mut starts = vec![0usize];
    for (pc, slot) in code.slots.iter().enumerate() {
        let target = match slot {
            Slot::Insn(Insn::Call(CallKind::Local(imm))) => pc as i64 + i64::from(*imm) + 1,
            Slot::Insn(Insn::LdImm64 {
                kind: Imm64Kind::Func,
                imm,
                ..
            }) => pc as i64 + i64::from(*imm) + 1,
            _ => continue,
        };
        if target < 0 || target >= n as i64 {
            return Err(VerifyError::invalid(
                Some(pc),
                "call to invalid destination",
            ));
        }
        starts.push(target as usize);
    }
    starts.sort_unstable();
    starts.dedup();
    if starts.len() > MAX_SUBPROGS {
        return Err(VerifyError::new(None, Errno::E2BIG, "too many subprograms"));
    }
    let mut subprogs: Vec<Subprog> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| Subprog {
            start: s,
            end: starts.get(i + 1).copied().unwrap_or(n),
            has_tail_call: false,
            has_ld_abs: false,
        })
        .collect();

    // Subprogram ranges.
    for sp in &mut subprogs {
        for pc in sp.start..sp.end {
            if let Some(t) = raw_jump_target(code, pc)
                && (t < sp.start as i64 || t >= sp.end as i64)
            {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!("jump out of range from insn {pc} to {t}"),
                ));
            }
            match code.slots[pc] {
                Slot::Insn(Insn::Call(CallKind::Helper(12))) => sp.has_tail_call = true,
                Slot::Insn(Insn::LdAbs { .. } | Insn::LdInd { .. }) => sp.has_ld_abs = true,
                _ => {}
            }
        }
        let last = code.raw[sp.end - 1].code;
        if last != (CLASS_JMP | OP_EXIT)
            && last != (CLASS_JMP | OP_JA)
            && last != (CLASS_JMP32 | OP_JA)
        {
            return Err(VerifyError::invalid(
                Some(sp.end - 1),
                "last insn is not an exit or jmp",
            ));
        }
    }

    // `check_abnormal_return` / `check_btf_func`: subprograms that may end the program
    // abnormally (LD_ABS, tail calls) need BTF, and must return an integer.
    for sp in subprogs.iter().skip(1) {
        let what = if sp.has_ld_abs {
            "LD_ABS"
        } else if sp.has_tail_call {
            "tail_call"
        } else {
            continue;
        };
        if !env.has_func_info {
            return Err(VerifyError::invalid(
                None,
                format!("{what} is not allowed in subprogs without BTF"),
            ));
        }
        if env
            .funcs
            .iter()
            .any(|f| f.start == sp.start && !f.returns_scalar)
        {
            return Err(VerifyError::invalid(
                None,
                format!("{what} is only allowed in functions that return 'int'."),
            ));
        }
    }

    // LD_IMM64 resolution and the opcode table, in instruction order.
    for (pc, slot) in code.slots.iter().enumerate() {
        match slot {
            Slot::Bad(b) if b.early => {
                return Err(VerifyError::invalid(Some(pc), b.message.clone()));
            }
            Slot::Insn(Insn::LdImm64 {
                kind,
                imm,
                next_imm,
                ..
            }) => check_ld_imm64(env, pc, *kind, *imm, *next_imm)?,
            _ => {}
        }
    }

    // Depth-first walk.
    let (mut prune_point, loop_head) = walk(code, &subprogs, env)?;
    let mut calls_callback = vec![false; code.len()];
    for (pc, slot) in code.slots.iter().enumerate() {
        if let Slot::Insn(Insn::Call(CallKind::Helper(id))) = slot
            && SYNC_CALLBACK_HELPERS.contains(id)
        {
            calls_callback[pc] = true;
            prune_point[pc] = true;
        }
    }
    Ok(Cfg {
        subprogs,
        prune_point,
        loop_head,
        calls_callback,
        live_regs: crate::liveness::live_registers(code, &|id| {
            crate::sig::lookup(id, env.prog_type, env.expected_attach_type)
                .map(|s| crate::liveness::arg_regs(&s.args))
                .unwrap_or(0x3e)
        }),
    })
}

fn check_ld_imm64(
    env: &VerifyEnv,
    pc: usize,
    kind: Imm64Kind,
    imm: i32,
    next_imm: i32,
) -> Result<(), VerifyError> {
    let map = |idx: i32| -> Result<&crate::env::MapInfo, VerifyError> {
        usize::try_from(idx)
            .ok()
            .and_then(|i| env.maps.get(i))
            .ok_or_else(|| {
                VerifyError::new(
                    Some(pc),
                    Errno::EBADF,
                    format!("fd {idx} is not pointing to valid bpf_map"),
                )
            })
    };
    match kind {
        Imm64Kind::MapFd | Imm64Kind::MapIdx => {
            map(imm)?;
        }
        Imm64Kind::MapValue | Imm64Kind::MapIdxValue => {
            let m = map(imm)?;
            let off = next_imm as u32;
            if i64::from(off) >= MAX_VAR_OFF {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!("direct value offset of {off} is not allowed"),
                ));
            }
            // Only single-element arrays give direct value addresses.
            // Only arrays hand out direct value addresses; one with more than one element
            // refuses (ENOTSUPP) with the bounds message.
            if m.map_type != 2 {
                return Err(VerifyError::invalid(
                    Some(pc),
                    "no direct value access support for this map type",
                ));
            }
            if m.max_entries != 1 {
                return Err(VerifyError::new(
                    Some(pc),
                    Errno::ENOTSUPP,
                    format!(
                        "invalid access to map value pointer, value_size={} off={off}",
                        m.value_size
                    ),
                ));
            }
            if off >= m.value_size {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!(
                        "invalid access to map value pointer, value_size={} off={off}",
                        m.value_size
                    ),
                ));
            }
        }
        Imm64Kind::BtfId => {
            return Err(VerifyError::invalid(
                Some(pc),
                format!("ldimm64 insn specifies invalid btf_id {imm}."),
            ));
        }
        Imm64Kind::Func if !env.has_func_info => {
            return Err(VerifyError::invalid(Some(pc), "missing btf func_info"));
        }
        Imm64Kind::Func | Imm64Kind::Imm => {}
    }
    Ok(())
}

/// Successor edges of `pc`: (fall-through or jump target, is_jump_edge).
fn successors(code: &Code, pc: usize) -> Vec<(i64, bool)> {
    let next = pc as i64
        + if matches!(code.slots.get(pc + 1), Some(Slot::Second)) {
            2
        } else {
            1
        };
    match &code.slots[pc] {
        Slot::Insn(Insn::Exit) => vec![],
        Slot::Insn(Insn::Ja { off }) => vec![(pc as i64 + i64::from(*off) + 1, true)],
        Slot::Insn(Insn::Gotol { imm }) => vec![(pc as i64 + i64::from(*imm) + 1, true)],
        Slot::Insn(Insn::Jmp { off, .. }) | Slot::Insn(Insn::MayGoto { off }) => {
            vec![(next, false), (pc as i64 + i64::from(*off) + 1, true)]
        }
        Slot::Insn(Insn::Call(CallKind::Local(imm))) => {
            vec![(next, false), (pc as i64 + i64::from(*imm) + 1, true)]
        }
        Slot::Insn(Insn::LdImm64 {
            kind: Imm64Kind::Func,
            imm,
            ..
        }) => vec![(next, false), (pc as i64 + i64::from(*imm) + 1, true)],
        Slot::Bad(_) => match raw_jump_target(code, pc) {
            Some(t) => {
                let op = code.raw[pc].code & 0xf0;
                if op == OP_JA {
                    vec![(t, true)]
                } else {
                    vec![(next, false), (t, true)]
                }
            }
            None if code.raw[pc].code == (CLASS_JMP | OP_EXIT) => vec![],
            None => vec![(next, false)],
        },
        _ => vec![(next, false)],
    }
}

fn walk(
    code: &Code,
    subprogs: &[Subprog],
    env: &VerifyEnv,
) -> Result<(Vec<bool>, Vec<bool>), VerifyError> {
    const UNSEEN: u8 = 0;
    const ON_STACK: u8 = 1;
    const DONE: u8 = 2;
    let n = code.len();
    let mut state = vec![UNSEEN; n];
    let mut prune = vec![false; n];
    let mut loop_head = vec![false; n];
    for sp in subprogs {
        prune[sp.start] = true;
    }
    // Explicit DFS stack of (pc, successors, next successor index).
    type Visit = (usize, Vec<(i64, bool)>, usize);
    let mut stack: Vec<Visit> = Vec::new();
    state[0] = ON_STACK;
    stack.push((0, successors(code, 0), 0));
    while let Some(top) = stack.last_mut() {
        let pc = top.0;
        if top.2 >= top.1.len() {
            state[pc] = DONE;
            stack.pop();
            continue;
        }
        let (t, jump) = top.1[top.2];
        top.2 += 1;
        if t < 0 || t >= n as i64 {
            return Err(VerifyError::invalid(
                Some(pc),
                format!("jump out of range from insn {pc} to {t}"),
            ));
        }
        let t = t as usize;
        // The kernel's prune points: a branch's target and the conditional jump itself
        // (not an unconditional `ja`); below, the instruction after each call.
        if jump {
            prune[t] = true;
            let uncond = matches!(
                code.slots[pc],
                Slot::Insn(Insn::Ja { .. }) | Slot::Insn(Insn::Gotol { .. })
            ) || matches!(code.slots[pc], Slot::Bad(_))
                && code.raw[pc].code & 0xf0 == OP_JA;
            if !uncond {
                prune[pc] = true;
            }
        }
        match state[t] {
            UNSEEN => {
                state[t] = ON_STACK;
                // The kernel walks into the second half of an LD_IMM64 like any instruction.
                let succ = if matches!(code.slots[t], Slot::Second) {
                    vec![(t as i64 + 1, false)]
                } else {
                    successors(code, t)
                };
                stack.push((t, succ, 0));
            }
            ON_STACK => {
                if !env.privileged {
                    return Err(VerifyError::invalid(
                        Some(pc),
                        format!("back-edge from insn {pc} to {t}"),
                    ));
                }
                loop_head[t] = true;
                prune[t] = true;
            }
            _ => {}
        }
    }
    for pc in 0..n {
        let after_call = match code.slots[pc] {
            Slot::Insn(Insn::Call(_)) | Slot::Insn(Insn::Callx { .. }) => Some(pc + 1),
            Slot::Insn(Insn::LdImm64 {
                kind: Imm64Kind::Func,
                ..
            }) => Some(pc + 2),
            _ => None,
        };
        if let Some(next) = after_call
            && next < n
        {
            prune[next] = true;
        }
    }
    let mut pc = 0;
    while pc < n {
        if state[pc] != DONE {
            return Err(VerifyError::invalid(
                Some(pc),
                format!("unreachable insn {pc}"),
            ));
        }
        if matches!(code.slots.get(pc + 1), Some(Slot::Second)) {
            if state[pc + 1] != UNSEEN {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!("jump into the middle of ldimm64 insn {pc}"),
                ));
            }
            pc += 1;
        }
        pc += 1;
    }
    Ok((prune, loop_head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfvet_isa::Dialect;
    use bpfvet_isa::asm::assemble;

    fn run(text: &str) -> Result<Cfg, String> {
        let insns = assemble(text, Dialect::Llvm).unwrap();
        let code = Code::from_program(&bpfvet_isa::Program::from_insns(insns));
        check(&code, &VerifyEnv::new(1)).map_err(|e| e.to_string())
    }

    #[test]
    fn structure_messages() {
        assert!(run("r0 = 0\nexit").is_ok());
        assert_eq!(
            run("r0 = 0\nif r0 == 0 goto +1\nexit").unwrap_err(),
            "insn 1: jump out of range from insn 1 to 3"
        );
        assert_eq!(
            run("r0 = 0").unwrap_err(),
            "insn 0: last insn is not an exit or jmp"
        );
        assert_eq!(
            run("r0 = 0\nexit\nr0 = 1\nexit").unwrap_err(),
            "insn 2: unreachable insn 2"
        );
        assert_eq!(
            run("r0 = 0\nif r0 == 0 goto +1\nr0 = 1 ll\nexit").unwrap_err(),
            "insn 2: jump into the middle of ldimm64 insn 2"
        );
        assert_eq!(
            run("r0 = 0\ngoto +1\nr0 = 1 ll\nexit").unwrap_err(),
            "insn 2: unreachable insn 2"
        );
        assert_eq!(
            run("r0 = 0\ncall pc+5\nexit").unwrap_err(),
            "insn 1: call to invalid destination"
        );
        assert_eq!(
            run("r0 = 0\ncall pc+1\nexit\ngoto -3\nexit").unwrap_err(),
            "insn 3: jump out of range from insn 3 to 1"
        );
        // A loop is a back-edge: fine when privileged.
        let cfg = run("r0 = 0\nr0 += 1\nif r0 < 10 goto -2\nexit").unwrap();
        assert!(cfg.loop_head[1]);
        assert!(cfg.prune_point[1] && cfg.prune_point[2]);
    }

    #[test]
    fn subprogram_layout() {
        let cfg = run("call pc+2\nr0 = 0\nexit\nr0 = 1\nexit").unwrap();
        let ranges: Vec<_> = cfg.subprogs.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(ranges, [(0, 3), (3, 5)]);
        assert_eq!(cfg.subprog_of(4), 1);
        assert_eq!(cfg.subprog_of(2), 0);
    }
}
