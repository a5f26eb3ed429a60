//! Open-coded iterators (`bpf_iter_<kind>_new/_next/_destroy`). An iterator lives in stack
//! slots marked `STACK_ITER` that hold its reference (acquired by `new`, released by
//! `destroy`), its state (ACTIVE or DRAINED) and how many `next` calls the path simulated.
//!
//! `next` forks the path: on one branch the iterator is drained and R0 is NULL (and stays
//! so: a drained iterator never yields again), on the other it is still active, R0 points to
//! the element and the depth grows by one. Loops around `next` converge at the call, which is
//! always a checkpoint: an ACTIVE state there that an earlier, still explored, state at the
//! same call includes adds nothing new (see `prune`), and before each new iteration the
//! scalars that changed since the previous one and were never needed exactly are widened.

use crate::error::VerifyError;
use crate::explore::{Next, Verifier};
use crate::kfunc::Kfunc;
use crate::kfunc_table::{KF_ITER_DESTROY, KF_ITER_NEW};
use crate::mem::{Access, Value};
use crate::reg::{RegState, RegType};
use crate::stack::{ByteKind, IterSlot, IterState};
use crate::state::{Reference, State};

/// Where an iterator argument lives: its frame and first (highest) slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IterAt {
    pub frame: usize,
    pub spi: usize,
}

/// Why an iterator pointer names no usable slots (`stack_slot_obj_get_spi`).
enum SpiError {
    /// Refused, with the message the kernel logs first.
    Invalid,
    /// Beyond the frame's allocated stack (`-ERANGE`).
    Range,
}

/// The iterator's first slot from a stack pointer (`iter_get_spi`).
fn iter_spi(st: &State, r: &RegState, slots: usize) -> Result<usize, SpiError> {
    if r.var.var_off.mask != 0 {
        return Err(SpiError::Invalid);
    }
    let off = i64::from(r.off) + r.var.var_off.value as i64;
    if off % 8 != 0 {
        return Err(SpiError::Invalid);
    }
    // The kernel's `(-off - 1) / 8` truncates toward zero.
    let spi = (-off - 1) / 8;
    if spi + 1 < slots as i64 {
        return Err(SpiError::Invalid);
    }
    let allocated = st
        .frames
        .get(r.frameno as usize)
        .map_or(0, |f| f.stack.slots.len() as i64);
    if spi - slots as i64 + 1 < 0 || spi >= allocated {
        return Err(SpiError::Range);
    }
    Ok(spi as usize)
}

/// Every byte of the `slots` slots from `spi` down is an iterator of `kind`, the first with
/// a reference, the others without (`is_iter_reg_valid_init`).
fn valid_init(st: &State, frame: usize, spi: usize, slots: usize, kind: &str) -> bool {
    let Some(f) = st.frames.get(frame) else {
        return false;
    };
    (0..slots).all(|i| {
        let Some(s) = spi.checked_sub(i).and_then(|x| f.stack.slots.get(x)) else {
            return false;
        };
        let Some(it) = s.iter else {
            return false;
        };
        (i == 0) == (it.ref_id != 0)
            && it.kind == kind
            && s.bytes.iter().all(|b| *b == ByteKind::Iter)
    })
}

impl Verifier<'_> {
    /// `process_iter_arg`: the iterator argument in `regno` of iterator kfunc `k`.
    pub(crate) fn process_iter_arg(
        &mut self,
        st: &mut State,
        pc: usize,
        k: &Kfunc,
        regno: u8,
        kind: &'static str,
        slots: usize,
    ) -> Result<IterAt, VerifyError> {
        let r = *st.reg(regno);
        let argno = regno - 1;
        if r.ty != RegType::Stack {
            return Err(VerifyError::invalid(
                Some(pc),
                format!("arg#{argno} expected pointer to an iterator on stack"),
            ));
        }
        let frame = r.frameno as usize;
        if k.flags() & KF_ITER_NEW != 0 {
            let uninit = match iter_spi(st, &r, slots) {
                Err(SpiError::Range) => true,
                Err(SpiError::Invalid) => false,
                Ok(spi) => (0..slots).all(|i| {
                    st.frames[frame]
                        .stack
                        .slots
                        .get(spi - i)
                        .is_none_or(|s| !s.bytes.contains(&ByteKind::Iter))
                }),
            };
            if !uninit {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!("expected uninitialized iter_{kind} as arg #{argno}"),
                )
                .with_explanation(
                    "an iterator must be destroyed before its stack slots take a new one",
                ));
            }
            for i in 0..slots {
                self.mem_access(
                    st,
                    pc,
                    crate::step::reg(regno),
                    (i * 8) as i64,
                    8,
                    Access::Write,
                    Value::None,
                    false,
                )?;
            }
            let spi = iter_spi(st, &r, slots).map_err(|_| {
                VerifyError::invalid(
                    Some(pc),
                    format!("cannot pass in iter at an offset={}", r.off),
                )
            })?;
            let id = st.new_id();
            let cb_frame = if st.cur().callback_ret.is_some() {
                st.cur().frameno
            } else {
                0
            };
            st.refs.push(Reference {
                id,
                insn: pc,
                cb_frame,
            });
            for i in 0..slots {
                let s = st.frames[frame].stack.slot_mut(spi - i);
                s.bytes = [ByteKind::Iter; 8];
                s.spilled = RegState::not_init();
                s.iter = Some(IterSlot {
                    ref_id: if i == 0 { id } else { 0 },
                    kind,
                    state: IterState::Active,
                    depth: 0,
                });
                self.scratch_slot(-((spi - i) as i64) * 8 - 1);
            }
            return Ok(IterAt { frame, spi });
        }
        let spi = match iter_spi(st, &r, slots) {
            Ok(spi) if valid_init(st, frame, spi, slots, kind) => spi,
            _ => {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!("expected an initialized iter_{kind} as arg #{argno}"),
                )
                .with_explanation(format!(
                    "{} needs an iterator that bpf_iter_{kind}_new set up and that was not \
                     destroyed or overwritten since",
                    k.name
                )));
            }
        };
        for i in 0..slots {
            self.scratch_slot(-((spi - i) as i64) * 8 - 1);
        }
        if k.flags() & KF_ITER_DESTROY != 0 {
            let ref_id = st.frames[frame].stack.slots[spi]
                .iter
                .map_or(0, |it| it.ref_id);
            st.refs.retain(|x| x.id != ref_id);
            st.for_each_reg(|x| {
                if x.ref_obj_id == ref_id {
                    *x = RegState::unknown();
                }
            });
            for i in 0..slots {
                let s = st.frames[frame].stack.slot_mut(spi - i);
                s.bytes = [ByteKind::Invalid; 8];
                s.spilled = RegState::not_init();
                s.iter = None;
            }
        }
        Ok(IterAt { frame, spi })
    }

    /// `process_iter_next_call`: R0 is NULL and the iterator drained on this path; while it
    /// was active, the other outcome (an element, one iteration deeper) is a path of its own,
    /// its imprecise scalars widened against the loop's previous pass.
    pub(crate) fn process_iter_next(&mut self, st: &mut State, pc: usize, at: IterAt) -> Next {
        let state = st.frames[at.frame].stack.slots[at.spi]
            .iter
            .map_or(IterState::Drained, |it| it.state);
        let mut other = None;
        if state == IterState::Active {
            let mut q = Box::new(st.clone());
            if let Some(it) = q.frames[at.frame].stack.slots[at.spi].iter.as_mut() {
                it.depth += 1;
            }
            let parent = self.cur_parent;
            if let Some(prev) = self.checkpoints.prev_loop_entry(pc, parent, &q) {
                self.checkpoints.widen(prev, &mut q, true);
            }
            q.reg_mut(0).flags.maybe_null = false;
            other = Some(q);
        }
        if let Some(it) = st.frames[at.frame].stack.slots[at.spi].iter.as_mut() {
            it.state = IterState::Drained;
        }
        *st.reg_mut(0) = RegState::constant(0);
        match other {
            Some(q) => Next::Branch {
                fall: pc + 1,
                other: pc + 1,
                other_state: q,
            },
            None => Next::Goto(pc + 1),
        }
    }
}

/// Some ACTIVE iterator of `old` has another depth in `cur` (`iter_active_depths_differ`):
/// the two are different iterations, not an infinite loop.
pub fn active_depths_differ(old: &State, cur: &State) -> bool {
    old.frames.iter().zip(&cur.frames).any(|(fo, fc)| {
        fo.stack.slots.iter().enumerate().any(|(i, s)| {
            let Some(it) = s.iter.filter(|_| s.bytes[0] == ByteKind::Iter) else {
                return false;
            };
            it.state == IterState::Active
                && fc
                    .stack
                    .slots
                    .get(i)
                    .and_then(|c| c.iter)
                    .map_or(0, |c| c.depth)
                    != it.depth
        })
    })
}

/// At an iterator's `next` call: the iterator R1 points to is ACTIVE in `st`.
pub fn r1_iter_active(st: &State) -> bool {
    let r = st.reg(1);
    if r.ty != RegType::Stack || r.var.var_off.mask != 0 {
        return false;
    }
    let off = i64::from(r.off) + r.var.var_off.value as i64;
    if off >= 0 {
        return false;
    }
    let spi = ((-off - 1) / 8) as usize;
    st.frames
        .get(r.frameno as usize)
        .and_then(|f| f.stack.slots.get(spi))
        .and_then(|s| s.iter)
        .is_some_and(|it| it.state == IterState::Active)
}
