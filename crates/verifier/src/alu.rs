//! ALU instructions (`check_alu_op`): operand checks, immediate checks (`div by zero`,
//! `invalid shift`), register moves with sign extension, scalar arithmetic through the scalar
//! domain, and pointer arithmetic with the kernel's rules (`adjust_ptr_min_max_vals`).

use bpfvet_isa::insn::{AluOp, Insn, Src, Width};

use crate::error::{Errno, VerifyError};
use crate::explore::Verifier;
use crate::reg::{RegState, RegType};
use crate::state::State;

/// `BPF_MAX_VAR_OFF`.
const MAX_VAR_OFF: i64 = 1 << 29;

/// The kernel's `bpf_alu_string` for an operation.
pub fn alu_str(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div | AluOp::Sdiv => "/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod | AluOp::Smod => "%=",
        AluOp::Xor => "^=",
        AluOp::Mov => "=",
        AluOp::Arsh => "s>>=",
    }
}

impl Verifier<'_> {
    pub fn check_alu(&mut self, st: &mut State, pc: usize, insn: &Insn) -> Result<(), VerifyError> {
        match *insn {
            Insn::Neg { width, dst } => {
                self.read_reg(st, pc, dst)?;
                self.write_reg(pc, dst)?;
                let r = st.reg(dst.index());
                let out = if r.is_scalar() {
                    RegState::scalar(r.var.neg(width))
                } else {
                    RegState::unknown()
                };
                *st.reg_mut(dst.index()) = out;
            }
            Insn::Endian { op, bits, dst } => {
                self.read_reg(st, pc, dst)?;
                self.write_reg(pc, dst)?;
                let r = st.reg(dst.index());
                let out = if r.is_scalar() {
                    RegState::scalar(r.var.endian(op, bits))
                } else {
                    RegState::unknown()
                };
                *st.reg_mut(dst.index()) = out;
            }
            Insn::MovSx {
                width,
                bits,
                dst,
                src,
            } => {
                self.read_reg(st, pc, src)?;
                self.write_reg(pc, dst)?;
                let r = *st.reg(src.index());
                let out = if r.is_scalar() {
                    RegState::scalar(r.var.movsx(bits, width))
                } else {
                    RegState::unknown()
                };
                *st.reg_mut(dst.index()) = out;
            }
            Insn::Alu {
                width,
                op: AluOp::Mov,
                dst,
                src,
            } => match src {
                Src::Reg(s) => {
                    self.read_reg(st, pc, s)?;
                    self.write_reg(pc, dst)?;
                    // Copies of an unknown scalar share an id, so that a bound learnt on one
                    // at a branch holds for the others (`assign_scalar_id_before_mov`).
                    let r = *st.reg(s.index());
                    let link = r.is_scalar()
                        && r.var.var_off.mask != 0
                        && (width == Width::W64 || 64 - r.var.umax.leading_zeros() <= 32);
                    if link && r.flags.add_const {
                        // Links do not chain: the source gets a fresh identity.
                        let src = st.reg_mut(s.index());
                        src.id = 0;
                        src.off = 0;
                        src.flags.add_const = false;
                    }
                    let r = *st.reg(s.index());
                    if link && r.id == 0 {
                        let id = st.new_id();
                        st.reg_mut(s.index()).id = id;
                    }
                    let r = *st.reg(s.index());
                    let out = match width {
                        Width::W64 => r,
                        Width::W32 if r.is_scalar() => {
                            let mut v = RegState::scalar(r.var.zext_32_to_64().synced());
                            v.precise = r.precise;
                            if link {
                                v.id = r.id;
                            }
                            v
                        }
                        Width::W32 => RegState::unknown(),
                    };
                    *st.reg_mut(dst.index()) = out;
                }
                Src::Imm(imm) => {
                    self.write_reg(pc, dst)?;
                    let v = match width {
                        Width::W64 => imm as i64 as u64,
                        Width::W32 => u64::from(imm as u32),
                    };
                    *st.reg_mut(dst.index()) = RegState::constant(v);
                }
            },
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                if let Src::Reg(s) = src {
                    self.read_reg(st, pc, s)?;
                }
                self.read_reg(st, pc, dst)?;
                if let Src::Imm(imm) = src {
                    if matches!(op, AluOp::Div | AluOp::Mod | AluOp::Sdiv | AluOp::Smod) && imm == 0
                    {
                        return Err(VerifyError::invalid(Some(pc), "div by zero"));
                    }
                    if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) {
                        let size = if width == Width::W64 { 64 } else { 32 };
                        if imm < 0 || imm >= size {
                            return Err(VerifyError::invalid(
                                Some(pc),
                                format!("invalid shift {imm}"),
                            )
                            .with_explanation(format!(
                                "a {size}-bit shift amount must be between 0 and {}",
                                size - 1
                            )));
                        }
                    }
                }
                self.write_reg(pc, dst)?;
                let dst_reg = *st.reg(dst.index());
                let src_reg = match src {
                    Src::Reg(s) => *st.reg(s.index()),
                    Src::Imm(imm) => RegState::constant(imm as i64 as u64),
                };
                let out = self.alu_regs(st, pc, width, op, dst.index(), dst_reg, src_reg, src)?;
                *st.reg_mut(dst.index()) = out;
            }
            _ => unreachable!("not an ALU instruction"),
        }
        Ok(())
    }

    /// `adjust_reg_min_max_vals`.
    #[allow(clippy::too_many_arguments)]
    fn alu_regs(
        &mut self,
        st: &mut State,
        pc: usize,
        width: Width,
        op: AluOp,
        dst: u8,
        dst_reg: RegState,
        src_reg: RegState,
        src: Src,
    ) -> Result<RegState, VerifyError> {
        // Precision: the scalar added to a pointer decides the pointer's range; a scalar
        // combined into one already needed exactly is needed exactly too.
        if let Src::Reg(s) = src {
            let parent = self.cur_parent;
            if src_reg.is_scalar() && (dst_reg.is_pointer() || dst_reg.precise) {
                self.mark_precise(st, parent, s.index());
            } else if src_reg.is_pointer() && dst_reg.is_scalar() {
                self.mark_precise(st, parent, dst);
            }
        }
        if src_reg.is_pointer() {
            if dst_reg.is_pointer() {
                if op == AluOp::Sub && self.env.privileged {
                    return Ok(RegState::unknown());
                }
                return Err(VerifyError::access(
                    pc,
                    format!("R{dst} pointer {} pointer prohibited", alu_str(op)),
                ));
            }
            // scalar += pointer: the roles swap.
            return self.ptr_arith(st, pc, width, op, dst, src_reg, dst_reg, true);
        }
        if dst_reg.is_pointer() {
            return self.ptr_arith(st, pc, width, op, dst, dst_reg, src_reg, false);
        }
        let mut out = RegState::scalar(dst_reg.var.alu(op, width, src_reg.var));
        // `r4 = r2; r4 += 5` keeps r4 linked to r2 with a delta, so bounds learnt on either
        // carry to the other (the kernel's BPF_ADD_CONST linking).
        if self.env.privileged
            && width == Width::W64
            && matches!(op, AluOp::Add | AluOp::Sub)
            && dst_reg.id != 0
            && !dst_reg.flags.add_const
            && let Some(v) = src_reg.const_value()
        {
            let delta = if op == AluOp::Add {
                v as i64
            } else {
                (v as i64).wrapping_neg()
            };
            if let Ok(d) = i32::try_from(delta) {
                out.id = dst_reg.id;
                out.flags.add_const = true;
                out.off = d;
            }
        }
        Ok(out)
    }

    /// `adjust_ptr_min_max_vals`: pointer `ptr` combined with scalar `off`.
    #[allow(clippy::too_many_arguments)]
    fn ptr_arith(
        &mut self,
        st: &mut State,
        pc: usize,
        width: Width,
        op: AluOp,
        dst: u8,
        ptr: RegState,
        off: RegState,
        swapped: bool,
    ) -> Result<RegState, VerifyError> {
        let o = off.var;
        let known = o.var_off.mask == 0;
        if (known && (o.smin != o.smax || o.umin != o.umax)) || o.smin > o.smax || o.umin > o.umax {
            return Ok(RegState::unknown());
        }
        if width == Width::W32 {
            if op == AluOp::Sub && self.env.privileged {
                return Ok(RegState::unknown());
            }
            return Err(VerifyError::access(
                pc,
                format!("R{dst} 32-bit pointer arithmetic prohibited"),
            ));
        }
        let tname = ptr.type_name(None);
        if ptr.flags.maybe_null {
            return Err(VerifyError::access(
                pc,
                format!("R{dst} pointer arithmetic on {tname} prohibited, null-check it first"),
            )
            .with_explanation(format!(
                "R{dst} may be NULL: compare it with 0 and use it only on the non-NULL branch"
            )));
        }
        let allowed = match ptr.ty {
            RegType::Ctx
            | RegType::MapValue
            | RegType::MapKey
            | RegType::Stack
            | RegType::PacketMeta
            | RegType::Packet
            | RegType::TpBuffer
            | RegType::BtfId
            | RegType::Mem
            | RegType::Func => true,
            RegType::FlowKeys => known,
            RegType::MapPtr => known && o.smin == 0 && op == AluOp::Add,
            _ => false,
        };
        if !allowed {
            return Err(VerifyError::access(
                pc,
                format!("R{dst} pointer arithmetic on {tname} prohibited"),
            ));
        }
        sane_offset(pc, &off, &tname)?;
        sane_offset(pc, &ptr, &tname)?;
        let mut d = ptr;
        // Pointers carry no 32-bit bounds.
        let p = ptr.var;
        let mut v = p;
        match op {
            AluOp::Add => {
                let folded = i64::from(ptr.off) + o.smin;
                if known && folded == i64::from(folded as i32) {
                    d.off = folded as i32;
                } else {
                    v.smin = p.smin.checked_add(o.smin).unwrap_or(i64::MIN);
                    v.smax = p.smax.checked_add(o.smax).unwrap_or(i64::MAX);
                    if p.smin.checked_add(o.smin).is_none() || p.smax.checked_add(o.smax).is_none()
                    {
                        v.smin = i64::MIN;
                        v.smax = i64::MAX;
                    }
                    match (p.umin.checked_add(o.umin), p.umax.checked_add(o.umax)) {
                        (Some(a), Some(b)) => {
                            v.umin = a;
                            v.umax = b;
                        }
                        _ => {
                            v.umin = 0;
                            v.umax = u64::MAX;
                        }
                    }
                    v.var_off = p.var_off.add(o.var_off);
                    if ptr.ty.is_packet() {
                        d.id = st.new_id();
                        d.range = 0;
                    }
                }
            }
            AluOp::Sub => {
                if swapped {
                    return Err(VerifyError::access(
                        pc,
                        format!("R{dst} tried to subtract pointer from scalar"),
                    ));
                }
                if ptr.ty == RegType::Stack {
                    return Err(VerifyError::access(
                        pc,
                        format!("R{dst} subtraction from stack pointer prohibited"),
                    ));
                }
                let folded = i64::from(ptr.off) - o.smin;
                if known && folded == i64::from(folded as i32) {
                    d.off = folded as i32;
                } else {
                    match (p.smin.checked_sub(o.smax), p.smax.checked_sub(o.smin)) {
                        (Some(a), Some(b)) => {
                            v.smin = a;
                            v.smax = b;
                        }
                        _ => {
                            v.smin = i64::MIN;
                            v.smax = i64::MAX;
                        }
                    }
                    if p.umin < o.umax {
                        v.umin = 0;
                        v.umax = u64::MAX;
                    } else {
                        v.umin = p.umin - o.umax;
                        v.umax = p.umax - o.umin;
                    }
                    v.var_off = p.var_off.sub(o.var_off);
                    if ptr.ty.is_packet() {
                        d.id = st.new_id();
                        if o.smin < 0 {
                            d.range = 0;
                        }
                    }
                }
            }
            AluOp::And | AluOp::Or | AluOp::Xor => {
                return Err(VerifyError::access(
                    pc,
                    format!(
                        "R{dst} bitwise operator {} on pointer prohibited",
                        alu_str(op)
                    ),
                ));
            }
            _ => {
                return Err(VerifyError::access(
                    pc,
                    format!(
                        "R{dst} pointer arithmetic with {} operator prohibited",
                        alu_str(op)
                    ),
                ));
            }
        }
        v.s32_min = i32::MIN;
        v.s32_max = i32::MAX;
        v.u32_min = 0;
        v.u32_max = u32::MAX;
        d.var = v.synced();
        sane_offset(pc, &d, &tname)?;
        Ok(d)
    }
}

/// `check_reg_sane_offset`.
fn sane_offset(pc: usize, r: &RegState, tname: &str) -> Result<(), VerifyError> {
    let v = &r.var;
    let err = |m: String| Err(VerifyError::new(Some(pc), Errno::EINVAL, m));
    if v.var_off.mask == 0 {
        let val = v.var_off.value as i64;
        if !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&val) {
            return err(format!(
                "math between {tname} pointer and {val} is not allowed"
            ));
        }
    }
    let off = i64::from(r.off);
    if r.is_pointer() && !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&off) {
        return err(format!("{tname} pointer offset {} is not allowed", r.off));
    }
    if v.smin == i64::MIN {
        return err(format!(
            "math between {tname} pointer and register with unbounded min value is not allowed"
        ));
    }
    if !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&v.smin) {
        return err(format!(
            "value {} makes {tname} pointer be out of bounds",
            v.smin
        ));
    }
    Ok(())
}
