//! Conditional jumps (`check_cond_jmp_op`): decide the branch when the operands allow it,
//! otherwise refine both outcomes — scalar bounds through the scalar domain, null checks of
//! `*_or_null` pointers (every copy with the same id), and packet ranges from comparisons of
//! packet pointers with `pkt_end`.

use bpfvet_isa::insn::{Cond, Insn, Src, Width};

use crate::error::VerifyError;
use crate::explore::{Next, Verifier};
use crate::reg::{RegState, RegType};
use crate::scalar;
use crate::state::State;

/// `MAX_PACKET_OFF`.
const MAX_PACKET_OFF: u64 = 0xffff;
/// Packet pointer range markers.
const AT_PKT_END: i32 = -1;
const BEYOND_PKT_END: i32 = -2;

use crate::scalar::flip;

/// Pointers that can never be NULL (`reg_not_null`).
fn not_null(r: &RegState) -> bool {
    !r.flags.maybe_null
        && matches!(
            r.ty,
            RegType::Sock
                | RegType::TcpSock
                | RegType::MapValue
                | RegType::MapKey
                | RegType::SockCommon
                | RegType::Mem
        )
}

/// `is_branch_taken`: Some(true) if the jump is always taken, Some(false) if never.
fn branch_taken(a: &RegState, b: &RegState, cond: Cond, jmp32: bool) -> Option<bool> {
    if (a.ty.is_packet() || a.ty == RegType::PacketEnd)
        && (b.ty.is_packet() || b.ty == RegType::PacketEnd)
        && !jmp32
    {
        return pkt_branch_taken(a, b, cond);
    }
    if a.is_pointer() || b.is_pointer() {
        let (p, s, c) = if b.const_value().is_some() {
            (a, b, cond)
        } else {
            (b, a, flip(cond))
        };
        let v = s.const_value()?;
        if !not_null(p) {
            return None;
        }
        let v = if jmp32 { v as u32 as u64 } else { v };
        if v != 0 {
            return None;
        }
        return match c {
            Cond::Eq => Some(false),
            Cond::Ne => Some(true),
            _ => None,
        };
    }
    scalar::branch_taken(cond, jmp32, &a.var, &b.var)
}

fn pkt_branch_taken(a: &RegState, b: &RegState, cond: Cond) -> Option<bool> {
    let (pkt, c) = if b.ty == RegType::PacketEnd {
        (a, cond)
    } else if a.ty == RegType::PacketEnd {
        (b, flip(cond))
    } else {
        return None;
    };
    if pkt.range >= 0 {
        return None;
    }
    match c {
        Cond::Le | Cond::Gt if pkt.range == BEYOND_PKT_END => Some(c == Cond::Gt),
        Cond::Lt | Cond::Ge if pkt.range == BEYOND_PKT_END || pkt.range == AT_PKT_END => {
            Some(c == Cond::Ge)
        }
        _ => None,
    }
}

/// Marks every copy of the `_or_null` pointer with id `id` as NULL (a zero scalar) or not.
fn mark_ptr_or_null(st: &mut State, id: u32, is_null: bool, maps: &[crate::env::MapInfo]) {
    if id == 0 {
        return;
    }
    let mut released = None;
    st.for_each_reg(|r| {
        if !(r.flags.maybe_null && r.id == id) {
            return;
        }
        if is_null {
            if r.ref_obj_id != 0 {
                released = Some(r.ref_obj_id);
            }
            *r = RegState::constant(0);
            return;
        }
        r.flags.maybe_null = false;
        if r.ty == RegType::MapValue
            && let Some(m) = maps.get(r.map as usize)
        {
            match (m.inner, m.map_type) {
                (Some(inner), _) => {
                    r.ty = RegType::MapPtr;
                    r.map = inner as u32;
                }
                (None, 17) => r.ty = RegType::XdpSock,
                (None, 15 | 18) => r.ty = RegType::Sock,
                _ => {}
            }
        }
        r.id = 0;
    });
    if let Some(rid) = released {
        st.refs.retain(|r| r.id != rid);
    }
}

/// Every scalar sharing `id` (a copy of the same value) gets the refined value `v`
/// (`sync_linked_regs`).
fn link_bounds(st: &mut State, known: &RegState, v: crate::scalar::Scalar) {
    if known.id == 0 || !known.is_scalar() {
        return;
    }
    let koff = if known.flags.add_const { known.off } else { 0 };
    st.for_each_reg(|r| {
        if !r.is_scalar() || r.id != known.id {
            return;
        }
        let roff = if r.flags.add_const { r.off } else { 0 };
        if roff == koff {
            r.var = v;
        } else {
            // r = known + (roff - koff)
            let delta = i64::from(roff) - i64::from(koff);
            r.var = v.alu(
                bpfvet_isa::insn::AluOp::Add,
                Width::W64,
                crate::scalar::Scalar::known(delta as u64),
            );
        }
    });
}

/// `find_good_pkt_pointers`.
fn good_pkt_pointers(st: &mut State, dst: &RegState, open: bool) {
    if dst.off < 0 || (dst.off == 0 && open) {
        return;
    }
    if dst.var.umax > MAX_PACKET_OFF || dst.var.umax + dst.off as u64 > MAX_PACKET_OFF {
        return;
    }
    let new_range = dst.off + i32::from(open);
    let (ty, id) = (dst.ty, dst.id);
    st.for_each_reg(|r| {
        if r.ty == ty && r.id == id {
            r.range = r.range.max(new_range);
        }
    });
}

/// `mark_pkt_end`.
fn mark_pkt_end(st: &mut State, regno: u8, open: bool) {
    let r = st.reg_mut(regno);
    if r.ty == RegType::Packet {
        r.range = if open { BEYOND_PKT_END } else { AT_PKT_END };
    }
}

impl Verifier<'_> {
    pub fn check_cond_jmp(
        &mut self,
        st: &mut State,
        pc: usize,
        insn: &Insn,
    ) -> Result<Next, VerifyError> {
        let Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } = *insn
        else {
            unreachable!("not a conditional jump");
        };
        self.read_reg(st, pc, dst)?;
        if let Src::Reg(s) = src {
            self.read_reg(st, pc, s)?;
        }
        let jmp32 = width == Width::W32;
        let target = (pc as i64 + 1 + i64::from(off)) as usize;
        let a = *st.reg(dst.index());
        let b = match src {
            Src::Reg(s) => *st.reg(s.index()),
            Src::Imm(imm) => RegState::constant(imm as i64 as u64),
        };
        if !self.env.privileged {
            let ptr_ok = a.ty.is_packet() || a.ty == RegType::PacketEnd;
            if let Src::Reg(s) = src
                && b.is_pointer()
                && !(ptr_ok && (b.ty.is_packet() || b.ty == RegType::PacketEnd))
            {
                return Err(VerifyError::access(
                    pc,
                    format!("R{} pointer comparison prohibited", s.index()),
                ));
            }
        }
        let decided = branch_taken(&a, &b, cond, jmp32);
        if decided.is_some() {
            // The outcome was known from the operands' values: they are needed exactly.
            let parent = self.cur_parent;
            if a.is_scalar() {
                self.mark_precise(st, parent, dst.index());
            }
            if let Src::Reg(s) = src
                && b.is_scalar()
            {
                self.mark_precise(st, parent, s.index());
            }
        }
        match decided {
            Some(true) => return Ok(Next::Goto(target)),
            Some(false) => return Ok(Next::Goto(pc + 1)),
            None => {}
        }
        if (a.is_scalar() && a.id != 0) || (b.is_scalar() && b.id != 0) {
            let ida = if a.is_scalar() { a.id } else { 0 };
            let idb = if b.is_scalar() { b.id } else { 0 };
            self.hist_linked = Some(Box::new(crate::precision::linked_set(st, ida, idb)));
        }
        let mut other = st.clone();
        // Scalar refinement.
        if a.is_scalar() && b.is_scalar() {
            let t = scalar::refine(cond, jmp32, &a.var, &b.var, true);
            let f = scalar::refine(cond, jmp32, &a.var, &b.var, false);
            let apply = |s: &mut State,
                         v: Option<(crate::scalar::Scalar, crate::scalar::Scalar)>|
             -> bool {
                match v {
                    Some((x, y)) => {
                        s.reg_mut(dst.index()).var = x;
                        link_bounds(s, &a, x);
                        if let Src::Reg(r) = src {
                            s.reg_mut(r.index()).var = y;
                            link_bounds(s, &b, y);
                        }
                        true
                    }
                    None => false,
                }
            };
            let taken_ok = apply(&mut other, t);
            let fall_ok = apply(st, f);
            if !(taken_ok && fall_ok) {
                // One side was found impossible from the operands' ranges: they decided it.
                let parent = self.cur_parent;
                self.mark_precise(st, parent, dst.index());
                if let Src::Reg(s) = src {
                    self.mark_precise(st, parent, s.index());
                }
            }
            match (taken_ok, fall_ok) {
                (true, true) => {}
                (true, false) => {
                    *st = other;
                    return Ok(Next::Goto(target));
                }
                (false, true) => return Ok(Next::Goto(pc + 1)),
                (false, false) => return Ok(Next::Done),
            }
        }
        let is_ptr_cmp = matches!(src, Src::Imm(0))
            && !jmp32
            && matches!(cond, Cond::Eq | Cond::Ne)
            && a.flags.maybe_null;
        if is_ptr_cmp {
            let maps = &self.env.maps;
            mark_ptr_or_null(st, a.id, cond == Cond::Ne, maps);
            mark_ptr_or_null(&mut other, a.id, cond == Cond::Eq, maps);
        } else if !self.match_pkt_pointers(st, &mut other, cond, jmp32, dst.index(), src, &a, &b)
            && a.is_pointer()
            && !self.env.privileged
        {
            return Err(VerifyError::access(
                pc,
                format!("R{} pointer comparison prohibited", dst.index()),
            ));
        }
        Ok(Next::Branch {
            fall: pc + 1,
            other: target,
            other_state: Box::new(other),
        })
    }

    /// `try_match_pkt_pointers`: `this` is the fall-through state, `other` the jump target's.
    #[allow(clippy::too_many_arguments)]
    fn match_pkt_pointers(
        &self,
        this: &mut State,
        other: &mut State,
        cond: Cond,
        jmp32: bool,
        dst: u8,
        src: Src,
        a: &RegState,
        b: &RegState,
    ) -> bool {
        let Src::Reg(s) = src else {
            return false;
        };
        if jmp32 {
            return false;
        }
        let init_pkt =
            |r: &RegState| r.ty == RegType::Packet && r.off == 0 && r.var.var_off.mask == 0;
        let fwd = (a.ty == RegType::Packet && b.ty == RegType::PacketEnd)
            || (a.ty == RegType::PacketMeta && init_pkt(b));
        let rev = (a.ty == RegType::PacketEnd && b.ty == RegType::Packet)
            || (init_pkt(a) && b.ty == RegType::PacketMeta);
        match cond {
            Cond::Gt if fwd => {
                good_pkt_pointers(this, a, false);
                mark_pkt_end(other, dst, true);
            }
            Cond::Gt if rev => {
                good_pkt_pointers(other, b, true);
                mark_pkt_end(this, s.index(), false);
            }
            Cond::Lt if fwd => {
                good_pkt_pointers(other, a, true);
                mark_pkt_end(this, dst, false);
            }
            Cond::Lt if rev => {
                good_pkt_pointers(this, b, false);
                mark_pkt_end(other, s.index(), true);
            }
            Cond::Ge if fwd => {
                good_pkt_pointers(this, a, true);
                mark_pkt_end(other, dst, false);
            }
            Cond::Ge if rev => {
                good_pkt_pointers(other, b, false);
                mark_pkt_end(this, s.index(), true);
            }
            Cond::Le if fwd => {
                good_pkt_pointers(other, a, false);
                mark_pkt_end(this, dst, true);
            }
            Cond::Le if rev => {
                good_pkt_pointers(this, b, true);
                mark_pkt_end(other, s.index(), false);
            }
            _ => return false,
        }
        true
    }
}
