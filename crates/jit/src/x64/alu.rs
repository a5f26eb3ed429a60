//! ALU code: binary operations of both widths, negation, sign-extending moves and byte
//! swaps. 32-bit operations use 32-bit x86 instructions, which zero-extend into the full
//! register as BPF requires. Division and modulo follow the kernel: by zero, division gives 0
//! and modulo leaves dst (its low half for 32 bits); `INT_MIN / -1` wraps and `INT_MIN % -1`
//! is 0 instead of trapping. Shift counts are masked by the hardware exactly as BPF masks them.

use bpfvet_isa::{AluOp, EndianOp, Reg, Src, Width};
use iced_x86::code_asm::*;

use super::{Gen, Res, b, d, q, w};

/// Operations that map onto one two-operand x86 instruction.
#[derive(Clone, Copy)]
enum Simple {
    Add,
    Sub,
    Or,
    And,
    Xor,
}

impl Gen<'_> {
    pub(super) fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Src) -> Res {
        let w64 = width == Width::W64;
        match op {
            AluOp::Add => self.simple(Simple::Add, w64, dst, src),
            AluOp::Sub => self.simple(Simple::Sub, w64, dst, src),
            AluOp::Or => self.simple(Simple::Or, w64, dst, src),
            AluOp::And => self.simple(Simple::And, w64, dst, src),
            AluOp::Xor => self.simple(Simple::Xor, w64, dst, src),
            AluOp::Mul => match (w64, src) {
                (true, Src::Reg(s)) => self.a.imul_2(q(dst), q(s)),
                (false, Src::Reg(s)) => self.a.imul_2(d(dst), d(s)),
                (_, Src::Imm(k)) => self.mul_imm(w64, dst, k),
            },
            AluOp::Mov => match (w64, src) {
                (true, Src::Reg(s)) if s == dst => Ok(()),
                (true, Src::Reg(s)) => self.a.mov(q(dst), q(s)),
                (true, Src::Imm(k)) => self.mov_imm(q(dst), k as i64 as u64),
                // Always emitted: it zero-extends even when s == dst.
                (false, Src::Reg(s)) => self.a.mov(d(dst), d(s)),
                (false, Src::Imm(k)) => self.mov_imm(q(dst), k as u32 as u64),
            },
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => self.shift(op, w64, dst, src),
            AluOp::Div | AluOp::Mod | AluOp::Sdiv | AluOp::Smod => self.divide(op, w64, dst, src),
        }
    }

    /// Multiplication by a constant, strength-reduced where a shorter-latency form exists.
    fn mul_imm(&mut self, w64: bool, dst: Reg, k: i32) -> Res {
        let (x, x32) = (q(dst), d(dst));
        match k {
            0 => self.a.xor(x32, x32),
            1 if w64 => Ok(()),
            1 => self.a.mov(x32, x32),
            -1 if w64 => self.a.neg(x),
            -1 => self.a.neg(x32),
            3 | 5 | 9 if w64 => self.a.lea(x, ptr(x + x * (k as u32 - 1))),
            3 | 5 | 9 => self.a.lea(x32, ptr(x + x * (k as u32 - 1))),
            k if k > 0 && (k as u32).is_power_of_two() => {
                let n = k.trailing_zeros();
                if w64 {
                    self.a.shl(x, n)
                } else {
                    self.a.shl(x32, n)
                }
            }
            k if w64 => self.a.imul_3(x, x, k),
            k => self.a.imul_3(x32, x32, k),
        }
    }

    /// A rotate written as `t = x; x <<= k; t >>= bits - k; x |= t` (the two shifts in either
    /// order) starting at instruction `i`, inside one block. Returns `(t, x, k, 64-bit)`.
    pub(super) fn rotate_at(&self, i: usize) -> Option<(Reg, Reg, u32, bool)> {
        use bpfvet_isa::Insn;
        let insns = self.prog.insns.get(i..i + 4)?;
        if (i + 1..i + 4).any(|j| self.joins(j)) {
            return None;
        }
        let Insn::Alu {
            width,
            op: AluOp::Mov,
            dst: t,
            src: Src::Reg(x),
        } = insns[0]
        else {
            return None;
        };
        let bits = if width == Width::W64 { 64 } else { 32 };
        let shift = |insn: Insn| match insn {
            Insn::Alu {
                width: w,
                op,
                dst,
                src: Src::Imm(k),
            } if w == width => Some((op, dst, k)),
            _ => None,
        };
        let (a, b) = (shift(insns[1])?, shift(insns[2])?);
        let ((_, ld, k), (_, rd, rk)) = match (a.0, b.0) {
            (AluOp::Lsh, AluOp::Rsh) => (a, b),
            (AluOp::Rsh, AluOp::Lsh) => (b, a),
            _ => return None,
        };
        let or_ok = matches!(insns[3], Insn::Alu { width: w, op: AluOp::Or, dst, src: Src::Reg(s) } if w == width && dst == x && s == t);
        let ok = t != x && ld == x && rd == t && k > 0 && k < bits && rk == bits - k && or_ok;
        ok.then_some((t, x, k as u32, width == Width::W64))
    }

    /// Emits the rotate [`Gen::rotate_at`] found: `t` gets the bits shifted out (unless it
    /// is dead afterwards), `x` rotates.
    pub(super) fn rotate(&mut self, (t, x, k, w64): (Reg, Reg, u32, bool), t_dead: bool) -> Res {
        if t_dead {
            return if w64 {
                self.a.rol(q(x), k)
            } else {
                self.a.rol(d(x), k)
            };
        }
        if w64 {
            self.a.mov(q(t), q(x))?;
            self.a.shr(q(t), 64 - k)?;
            self.a.rol(q(x), k)
        } else {
            self.a.mov(d(t), d(x))?;
            self.a.shr(d(t), 32 - k)?;
            self.a.rol(d(x), k)
        }
    }

    /// Array indexing: `b <<= k` (k <= 3) whose next use is `a += b`, after which `b` is dead,
    /// with nothing else reading or writing `b` and no jump or jump target in between. The
    /// shift is then folded into the add as `lea a, [a + b * 2^k]`. Returns, per instruction,
    /// the shift to fold into it (at the add) and whether to skip it (the shift).
    pub(super) fn scaled_index_plan(&self) -> (Vec<Option<(Reg, u32)>>, Vec<bool>) {
        use bpfvet_isa::Insn;
        let p = self.prog;
        let n = p.len();
        let mut fold = vec![None; n];
        let mut skip = vec![false; n];
        for i in 0..n {
            let Insn::Alu {
                width: Width::W64,
                op: AluOp::Lsh,
                dst: b,
                src: Src::Imm(k @ 1..=3),
            } = p.insns[i]
            else {
                continue;
            };
            let bit = 1u16 << b.index();
            for j in i + 1..n {
                if p.targeted[j] || skip[j] || fold[j].is_some() {
                    break;
                }
                let insn = p.insns[j];
                if let Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: a,
                    src: Src::Reg(s),
                } = insn
                    && s == b
                    && a != b
                    && p.live_out[j] & bit == 0
                {
                    fold[j] = Some((b, k as u32));
                    skip[i] = true;
                    break;
                }
                let (uses, defs) = crate::liveness::use_def(&insn, 0x7ff);
                let control = matches!(
                    insn,
                    Insn::Ja { .. }
                        | Insn::Gotol { .. }
                        | Insn::Jmp { .. }
                        | Insn::MayGoto { .. }
                        | Insn::Call(_)
                        | Insn::Callx { .. }
                        | Insn::Exit
                );
                if control || (uses | defs) & bit != 0 {
                    break;
                }
            }
        }
        (fold, skip)
    }

    /// `a += b << k`, for [`Gen::scaled_index_plan`].
    pub(super) fn scaled_add(&mut self, a: Reg, b: Reg, k: u32) -> Res {
        self.a.lea(q(a), ptr(q(a) + q(b) * (1u32 << k)))
    }

    fn simple(&mut self, op: Simple, w64: bool, dst: Reg, src: Src) -> Res {
        let a = &mut self.a;
        match (w64, src) {
            (true, Src::Reg(s)) => {
                let (x, y) = (q(dst), q(s));
                match op {
                    Simple::Add => a.add(x, y),
                    Simple::Sub => a.sub(x, y),
                    Simple::Or => a.or(x, y),
                    Simple::And => a.and(x, y),
                    Simple::Xor => a.xor(x, y),
                }
            }
            (true, Src::Imm(k)) => {
                let x = q(dst);
                match op {
                    Simple::Add => a.add(x, k),
                    Simple::Sub => a.sub(x, k),
                    Simple::Or => a.or(x, k),
                    Simple::And => a.and(x, k),
                    Simple::Xor => a.xor(x, k),
                }
            }
            (false, Src::Reg(s)) => {
                let (x, y) = (d(dst), d(s));
                match op {
                    Simple::Add => a.add(x, y),
                    Simple::Sub => a.sub(x, y),
                    Simple::Or => a.or(x, y),
                    Simple::And => a.and(x, y),
                    Simple::Xor => a.xor(x, y),
                }
            }
            (false, Src::Imm(k)) => {
                let x = d(dst);
                match op {
                    Simple::Add => a.add(x, k),
                    Simple::Sub => a.sub(x, k),
                    Simple::Or => a.or(x, k),
                    Simple::And => a.and(x, k),
                    Simple::Xor => a.xor(x, k),
                }
            }
        }
    }

    /// One shift of `x` (64- or 32-bit view of the same register) by `cl` or an immediate.
    fn shift_one(&mut self, op: AluOp, w64: bool, x: AsmRegister64, count: Option<u32>) -> Res {
        let a = &mut self.a;
        let x32 = super::R32
            .iter()
            .zip(super::R64.iter())
            .find(|(_, r)| **r == x)
            .map(|(r, _)| *r)
            .unwrap_or(r11d);
        match (op, w64, count) {
            (AluOp::Lsh, true, Some(k)) => a.shl(x, k),
            (AluOp::Rsh, true, Some(k)) => a.shr(x, k),
            (_, true, Some(k)) => a.sar(x, k),
            (AluOp::Lsh, false, Some(k)) => a.shl(x32, k),
            (AluOp::Rsh, false, Some(k)) => a.shr(x32, k),
            (_, false, Some(k)) => a.sar(x32, k),
            (AluOp::Lsh, true, None) => a.shl(x, cl),
            (AluOp::Rsh, true, None) => a.shr(x, cl),
            (_, true, None) => a.sar(x, cl),
            (AluOp::Lsh, false, None) => a.shl(x32, cl),
            (AluOp::Rsh, false, None) => a.shr(x32, cl),
            (_, false, None) => a.sar(x32, cl),
        }
    }

    fn shift(&mut self, op: AluOp, w64: bool, dst: Reg, src: Src) -> Res {
        let mask = if w64 { 63 } else { 31 };
        match src {
            Src::Imm(k) => self.shift_one(op, w64, q(dst), Some(k as u32 & mask)),
            // The count must be in cl (R4's register).
            Src::Reg(s) if s == Reg::R4 => self.shift_one(op, w64, q(dst), None),
            Src::Reg(s) if dst == Reg::R4 => {
                // Shift a copy of R4 by the count in cl, then put it back.
                self.a.mov(r11, rcx)?;
                self.a.mov(rcx, q(s))?;
                self.shift_one(op, w64, r11, None)?;
                if w64 {
                    self.a.mov(rcx, r11)
                } else {
                    self.a.mov(ecx, r11d)
                }
            }
            Src::Reg(s) => {
                self.a.mov(r11, rcx)?;
                self.a.mov(rcx, q(s))?;
                self.shift_one(op, w64, q(dst), None)?;
                self.a.mov(rcx, r11)
            }
        }
    }

    /// Division and modulo, unsigned and signed, with the kernel's answers where x86 traps.
    fn divide(&mut self, op: AluOp, w64: bool, dst: Reg, src: Src) -> Res {
        let signed = matches!(op, AluOp::Sdiv | AluOp::Smod);
        let is_mod = matches!(op, AluOp::Mod | AluOp::Smod);
        let mut done = self.a.create_label();
        let mut zero = self.a.create_label();
        let mut minus1 = self.a.create_label();
        let mut need_zero = false;
        let mut need_minus1 = false;
        match src {
            Src::Imm(k) => {
                let v = if w64 {
                    k as i64 as u64
                } else {
                    k as u32 as u64
                };
                let all_ones = if w64 { u64::MAX } else { u32::MAX as u64 };
                if v == 0 {
                    return self.div_by_zero(is_mod, w64, dst);
                }
                if signed && v == all_ones {
                    return self.div_by_minus1(is_mod, w64, dst);
                }
                self.mov_imm(r11, v)?;
            }
            Src::Reg(s) => {
                if w64 {
                    self.a.mov(r11, q(s))?;
                    self.a.test(r11, r11)?;
                } else {
                    self.a.mov(r11d, d(s))?;
                    self.a.test(r11d, r11d)?;
                }
                self.a.je(zero)?;
                need_zero = true;
                if signed {
                    if w64 {
                        self.a.cmp(r11, -1)?;
                    } else {
                        self.a.cmp(r11d, -1)?;
                    }
                    self.a.je(minus1)?;
                    need_minus1 = true;
                }
            }
        }
        // rax and rdx are R0 and R3: keep them in r9/r10 unless dst is one of them (r9 holds
        // the budget in checked code: save it around).
        let x = q(dst);
        if self.opts.checked {
            self.a.push(r9)?;
        }
        if x != rax {
            self.a.mov(r9, rax)?;
        }
        if x != rdx {
            self.a.mov(r10, rdx)?;
        }
        if w64 {
            if x != rax {
                self.a.mov(rax, x)?;
            }
            if signed {
                self.a.cqo()?;
                self.a.idiv(r11)?;
            } else {
                self.a.xor(edx, edx)?;
                self.a.div(r11)?;
            }
        } else {
            if x != rax {
                self.a.mov(eax, d(dst))?;
            }
            if signed {
                self.a.cdq()?;
                self.a.idiv(r11d)?;
            } else {
                self.a.xor(edx, edx)?;
                self.a.div(r11d)?;
            }
        }
        let result = if is_mod { rdx } else { rax };
        if x != result {
            // 32-bit results are already zero-extended in rax/rdx.
            self.a.mov(x, result)?;
        }
        if x != rax {
            self.a.mov(rax, r9)?;
        }
        if x != rdx {
            self.a.mov(rdx, r10)?;
        }
        if self.opts.checked {
            self.a.pop(r9)?;
        }
        if need_zero || need_minus1 {
            self.a.jmp(done)?;
        }
        if need_zero {
            self.bind(&mut zero)?;
            self.div_by_zero(is_mod, w64, dst)?;
            if need_minus1 {
                self.a.jmp(done)?;
            }
        }
        if need_minus1 {
            self.bind(&mut minus1)?;
            self.div_by_minus1(is_mod, w64, dst)?;
        }
        if need_zero || need_minus1 {
            self.bind(&mut done)?;
        }
        Ok(())
    }

    fn div_by_zero(&mut self, is_mod: bool, w64: bool, dst: Reg) -> Res {
        match (is_mod, w64) {
            (false, _) => self.a.xor(d(dst), d(dst)),
            (true, true) => Ok(()),
            (true, false) => self.a.mov(d(dst), d(dst)),
        }
    }

    fn div_by_minus1(&mut self, is_mod: bool, w64: bool, dst: Reg) -> Res {
        match (is_mod, w64) {
            (false, true) => self.a.neg(q(dst)),
            (false, false) => self.a.neg(d(dst)),
            (true, _) => self.a.xor(d(dst), d(dst)),
        }
    }

    pub(super) fn neg(&mut self, width: Width, dst: Reg) -> Res {
        match width {
            Width::W64 => self.a.neg(q(dst)),
            Width::W32 => self.a.neg(d(dst)),
        }
    }

    pub(super) fn movsx(&mut self, width: Width, bits: u8, dst: Reg, src: Reg) -> Res {
        match (width, bits) {
            (Width::W64, 8) => self.a.movsx(q(dst), b(src)),
            (Width::W64, 16) => self.a.movsx(q(dst), w(src)),
            (Width::W64, _) => self.a.movsxd(q(dst), d(src)),
            (Width::W32, 8) => self.a.movsx(d(dst), b(src)),
            (Width::W32, _) => self.a.movsx(d(dst), w(src)),
        }
    }

    pub(super) fn endian(&mut self, op: EndianOp, bits: u8, dst: Reg) -> Res {
        match (op, bits) {
            (EndianOp::ToLe, 16) => self.a.movzx(d(dst), w(dst)),
            (EndianOp::ToLe, 32) => self.a.mov(d(dst), d(dst)),
            (EndianOp::ToLe, _) => Ok(()),
            (_, 16) => {
                self.a.ror(w(dst), 8)?;
                self.a.movzx(d(dst), w(dst))
            }
            (_, 32) => self.a.bswap(d(dst)),
            (_, _) => self.a.bswap(q(dst)),
        }
    }
}
