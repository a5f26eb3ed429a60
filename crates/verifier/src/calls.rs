//! Calls and exits: helper calls checked against their prototypes (argument classes, memory +
//! size pairs, map compatibility, GPL, clobbering R1-R5, typed return values, references),
//! BPF-to-BPF calls with call frames, `exit` with the return-value range of the program type,
//! LD_IMM64 of maps and functions, LD_ABS/LD_IND, and the combined stack depth check.

use bpfvet_isa::insn::{CallKind, Imm64Kind, Insn};

use crate::error::{Errno, VerifyError};
use crate::explore::{Next, Verifier};
use crate::mem::Access;
use crate::reg::{RegState, RegType};
use crate::sig::{Arg, HelperSig, Ret};
use crate::state::{Frame, MAX_CALL_FRAMES, Reference, State};

/// `MAX_BPF_STACK`.
const MAX_STACK: i64 = 512;
/// `BPF_MAX_VAR_OFF`.
const MAX_VAR_OFF: u64 = 1 << 29;

impl Verifier<'_> {
    pub fn check_ld_imm64(
        &mut self,
        st: &mut State,
        pc: usize,
        insn: &Insn,
    ) -> Result<(), VerifyError> {
        let Insn::LdImm64 {
            dst,
            kind,
            imm,
            next_imm,
        } = *insn
        else {
            unreachable!("not LD_IMM64");
        };
        self.write_reg(pc, dst)?;
        let r = match kind {
            Imm64Kind::Imm => {
                RegState::constant(u64::from(imm as u32) | (u64::from(next_imm as u32) << 32))
            }
            Imm64Kind::MapFd | Imm64Kind::MapIdx => {
                let mut r = RegState::pointer(RegType::MapPtr);
                r.map = imm as u32;
                r
            }
            Imm64Kind::MapValue | Imm64Kind::MapIdxValue => {
                let mut r = RegState::pointer(RegType::MapValue);
                r.map = imm as u32;
                r.off = next_imm;
                r
            }
            Imm64Kind::Func => {
                let mut r = RegState::pointer(RegType::Func);
                let target = (pc as i64 + 1 + i64::from(imm)) as usize;
                r.map = self.cfg.subprog_of(target) as u32;
                r
            }
            Imm64Kind::BtfId => {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!("ldimm64 insn specifies invalid btf_id {imm}."),
                ));
            }
        };
        *st.reg_mut(dst.index()) = r;
        Ok(())
    }

    pub fn check_ld_abs(
        &mut self,
        st: &mut State,
        pc: usize,
        insn: &Insn,
    ) -> Result<(), VerifyError> {
        if !crate::ptype::ld_abs_allowed(self.env.prog_type) {
            return Err(VerifyError::invalid(
                Some(pc),
                "BPF_LD_[ABS|IND] instructions not allowed for this program type",
            ));
        }
        if let Insn::LdInd { src, .. } = *insn {
            self.read_reg(st, pc, src)?;
        }
        self.read_reg(st, pc, crate::step::reg(6))?;
        if st.reg(6).ty != RegType::Ctx {
            return Err(VerifyError::invalid(
                Some(pc),
                "at the time of BPF_LD_ABS|IND R6 != pointer to skb",
            ));
        }
        if !st.refs.is_empty() {
            return Err(VerifyError::invalid(
                Some(pc),
                "BPF_LD_[ABS|IND] cannot be mixed with socket references",
            ));
        }
        for r in 1..=5 {
            *st.reg_mut(r) = RegState::not_init();
        }
        *st.reg_mut(0) = RegState::unknown();
        self.scratch(0);
        Ok(())
    }

    pub fn check_call(
        &mut self,
        st: &mut State,
        pc: usize,
        kind: CallKind,
    ) -> Result<Next, VerifyError> {
        match kind {
            CallKind::Helper(id) => match self.check_helper_call(st, pc, id)? {
                Some((start, callback)) => Ok(Next::Branch {
                    fall: pc + 1,
                    other: start,
                    other_state: callback,
                }),
                None => Ok(Next::Goto(pc + 1)),
            },
            CallKind::Local(imm) => {
                let target = (pc as i64 + 1 + i64::from(imm)) as usize;
                let sub = self.cfg.subprog_of(target);
                if self.global_sig(sub).is_some() {
                    self.check_global_call(st, pc, sub)?;
                    return Ok(Next::Goto(pc + 1));
                }
                if st.frames.len() >= MAX_CALL_FRAMES {
                    return Err(VerifyError::new(
                        Some(pc),
                        Errno::E2BIG,
                        format!(
                            "the call stack of {} frames is too deep",
                            st.frames.len() + 1
                        ),
                    ));
                }
                let sub = self.cfg.subprog_of(target);
                let frameno = st.frames.len() as u8;
                let mut callee = Frame::new(frameno, sub, Some(pc));
                for r in 1..=5usize {
                    callee.regs[r] = st.cur().regs[r];
                }
                for r in 1..=5u8 {
                    *st.reg_mut(r) = RegState::not_init();
                }
                st.frames.push(callee);
                self.hist_frame_change = crate::precision::FrameMove::Enter;
                if self.log.enabled() && self.log.level >= 1 {
                    self.log_call_frames(st);
                }
                Ok(Next::Goto(target))
            }
            CallKind::Kfunc { btf_id, .. } => self.check_kfunc_call(st, pc, btf_id),
        }
    }

    fn log_call_frames(&mut self, st: &State) {
        let maps = |i: u32| {
            self.env
                .maps
                .get(i as usize)
                .map(|m| (m.name.clone(), m.key_size, m.value_size))
        };
        let n = st.frames.len();
        let caller = crate::log::frame_text(&st.frames[n - 2], &[], None, None, &maps);
        let callee = crate::log::frame_text(&st.frames[n - 1], &[], None, None, &maps);
        self.log.line("caller:");
        self.log.line(&caller);
        self.log.line("callee:");
        self.log.line(&callee);
    }

    pub fn check_exit(&mut self, st: &mut State, pc: usize) -> Result<Next, VerifyError> {
        if st.frames.len() > 1 {
            // A callback must release the references it acquired itself.
            let frameno = st.cur().frameno;
            if st.cur().callback_ret.is_some()
                && let Some(r) = st.refs.iter().find(|r| r.cb_frame == frameno)
            {
                return Err(VerifyError::invalid(
                    Some(pc),
                    "BPF_EXIT instruction in main prog would lead to reference leak",
                )
                .with_detail(format!(
                    "Unreleased reference id={} alloc_insn={}",
                    r.id, r.insn
                ))
                .with_explanation(
                    "a reference acquired in this callback must be released before the \
                     callback returns",
                ));
            }
            // Whatever R0 holds goes back to the caller, even nothing (a static function whose
            // result the caller ignores); any stack pointer is refused, as the kernel does.
            self.scratch(0);
            let r0 = *st.reg(0);
            if r0.ty == RegType::Stack {
                return Err(VerifyError::invalid(
                    Some(pc),
                    "cannot return stack pointer to the caller",
                ));
            }
            let callback_ret = st.cur().callback_ret;
            if let Some((lo, hi)) = callback_ret {
                if r0.is_scalar() {
                    let parent = self.cur_parent;
                    self.mark_precise(st, parent, 0);
                }
                if !r0.is_scalar() {
                    return Err(VerifyError::access(pc, "R0 not a scalar value")
                        .with_explanation("a callback must return a number"));
                }
                if r0.var.smin < lo || r0.var.smax > hi {
                    return Err(VerifyError::invalid(
                        Some(pc),
                        invalid_scalar("At callback return", &r0, lo, hi),
                    )
                    .with_explanation(format!(
                        "this callback must return a value between {lo} and {hi} (0: go on, \
                         1: stop)"
                    )));
                }
            }
            let callee = st.frames.pop().expect("callee frame");
            let callsite = callee.callsite.expect("callee has a call site");
            self.hist_frame_change = if callback_ret.is_some() {
                crate::precision::FrameMove::LeaveCallback
            } else {
                crate::precision::FrameMove::Leave
            };
            // A callback's R0 stays with the helper; the caller's registers are untouched
            // until the helper call completes.
            let back_to = if callback_ret.is_some() {
                callsite
            } else {
                *st.reg_mut(0) = r0;
                callsite + 1
            };
            self.scratch(0);
            if self.log.enabled() {
                let maps = |i: u32| {
                    self.env
                        .maps
                        .get(i as usize)
                        .map(|m| (m.name.clone(), m.key_size, m.value_size))
                };
                let a = crate::log::frame_text(&callee, &[], None, None, &maps);
                let b = crate::log::frame_text(st.cur(), &[], None, None, &maps);
                self.log.line("returning from callee:");
                self.log.line(&a);
                self.log.line(&format!("to caller at {back_to}:"));
                self.log.line(&b);
            }
            if callback_ret.is_some() {
                return Ok(Next::CallbackReturn(callsite));
            }
            return Ok(Next::Goto(back_to));
        }
        if let Some(r) = st.refs.first() {
            return Err(VerifyError::invalid(
                Some(pc),
                "BPF_EXIT instruction in main prog would lead to reference leak",
            )
            .with_detail(format!(
                "Unreleased reference id={} alloc_insn={}",
                r.id, r.insn
            ))
            .with_explanation(
                "a reference acquired on this path (socket lookup, ring buffer reservation, ...) \
                 must be released before the program exits",
            ));
        }
        self.read_reg(st, pc, crate::step::reg(0))?;
        let r0 = *st.reg(0);
        if r0.is_pointer() && !self.env.privileged {
            return Err(VerifyError::access(pc, "R0 leaks addr as return value"));
        }
        if st.frames[0].subprog != 0 {
            // A global function verified on its own returns a number, whatever the program
            // type's return range.
            if !r0.is_scalar() {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!(
                        "At subprogram exit the register R0 is not a scalar value ({})",
                        r0.type_name(None)
                    ),
                ));
            }
            return Ok(Next::Done);
        }
        if let Some((lo, hi)) =
            crate::ptype::return_range(self.env.prog_type, self.env.expected_attach_type)
        {
            if r0.is_scalar() {
                let parent = self.cur_parent;
                self.mark_precise(st, parent, 0);
            }
            if !r0.is_scalar() {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!(
                        "At program exit the register R0 is not a known value ({})",
                        r0.type_name(None)
                    ),
                ));
            }
            let v = &r0.var;
            if v.smin < lo || v.smax > hi {
                return Err(VerifyError::invalid(
                    Some(pc),
                    invalid_scalar("At program exit", &r0, lo, hi),
                )
                .with_explanation(format!(
                    "this program type must return a value between {lo} and {hi}"
                )));
            }
        }
        Ok(Next::Done)
    }

    /// `check_helper_call`. For a helper that calls a callback, also the state entering the
    /// callback body (its first instruction and the state), to be explored as a path of its
    /// own while this one continues after the call.
    fn check_helper_call(
        &mut self,
        st: &mut State,
        pc: usize,
        id: i32,
    ) -> Result<Option<(usize, Box<State>)>, VerifyError> {
        let sig = self.helper_sig(pc, id)?;
        if sig.gpl_only && !self.env.gpl_compatible {
            return Err(VerifyError::invalid(
                Some(pc),
                "cannot call GPL-restricted function from non-GPL compatible program",
            ));
        }
        if sig.might_sleep && !self.env.sleepable {
            return Err(VerifyError::invalid(
                Some(pc),
                "helper call might sleep in a non-sleepable prog",
            ));
        }
        let mut meta = CallMeta::default();
        for (i, arg) in sig.args.iter().enumerate() {
            let regno = (i + 1) as u8;
            if matches!(arg, Arg::DontCare) {
                continue;
            }
            self.check_arg(st, pc, &sig, regno, *arg, &mut meta)?;
        }
        // Releases.
        if let Some(rid) = meta.release_ref {
            st.refs.retain(|r| r.id != rid);
            st.for_each_reg(|r| {
                if r.ref_obj_id == rid {
                    *r = RegState::unknown();
                }
            });
        }
        if id == 12 && !st.refs.is_empty() {
            return Err(VerifyError::invalid(
                Some(pc),
                "tail_call would lead to reference leak",
            ));
        }
        // `record_func_map`: helpers that change a map may not be given a read-only one.
        if let Some(m) = meta.map.and_then(|i| self.env.maps.get(i as usize))
            && m.flags & BPF_F_RDONLY_PROG != 0
            && matches!(id, 2 | 3 | 87 | 88)
        {
            return Err(
                VerifyError::access(pc, "write into map forbidden").with_explanation(
                    "the map is read-only for programs (BPF_F_RDONLY_PROG, e.g. .rodata): \
                 updates, deletes, pushes and pops are refused",
                ),
            );
        }
        let callback = match meta.subprog {
            Some(sub) => self.push_callback(st, pc, id, sub, meta.map)?,
            None => None,
        };
        // The kernel checks map/helper compatibility after the callback is scheduled.
        if let Some(map) = meta.map
            && let Some(m) = self.env.maps.get(map as usize)
            && !crate::sig::map_func_compatible(m.map_type, id)
        {
            return Err(VerifyError::invalid(
                Some(pc),
                format!(
                    "cannot pass map_type {} into func {}#{id}",
                    m.map_type, sig.name
                ),
            ));
        }
        for r in 0..=5u8 {
            *st.reg_mut(r) = RegState::not_init();
            self.scratch(r);
        }
        let r0 = match sig.ret {
            Ret::Integer => RegState::unknown(),
            Ret::Void => RegState::not_init(),
            Ret::MapValue { or_null } => {
                let Some(map) = meta.map else {
                    return Err(VerifyError::invalid(
                        Some(pc),
                        "kernel subsystem misconfigured verifier",
                    ));
                };
                let mut r = RegState::pointer(RegType::MapValue);
                r.map = map;
                // An array lookup with a constant in-range key cannot fail.
                let in_range = id == 1
                    && meta.const_key.is_some_and(|k| {
                        self.env.maps.get(map as usize).is_some_and(|m| {
                            matches!(m.map_type, 2 | 6) && k < u64::from(m.max_entries)
                        })
                    });
                if or_null && !in_range {
                    r.flags.maybe_null = true;
                    r.id = st.new_id();
                }
                r
            }
            Ret::Pointer {
                ty,
                or_null,
                acquire,
            } => {
                let mut r = RegState::pointer(ty);
                if or_null {
                    r.flags.maybe_null = true;
                    r.id = st.new_id();
                }
                if acquire {
                    // `acquire_reference_state` hands out a fresh id after the null-check id
                    // and R0 takes it for both (the kernel's numbering in the log).
                    let rid = st.new_id();
                    r.id = rid;
                    r.ref_obj_id = rid;
                    let cb_frame = cb_frame(st);
                    st.refs.push(Reference {
                        id: rid,
                        insn: pc,
                        cb_frame,
                    });
                } else if let Some(inherit) = meta.ref_obj_id {
                    r.ref_obj_id = inherit;
                }
                r
            }
            Ret::Mem {
                ringbuf,
                or_null,
                acquire,
            } => {
                let mut r = RegState::pointer(RegType::Mem);
                r.flags.ringbuf = ringbuf;
                r.range = meta.alloc_size.unwrap_or(0) as i32;
                if or_null {
                    r.flags.maybe_null = true;
                    r.id = st.new_id();
                }
                if acquire {
                    let rid = st.new_id();
                    r.id = rid;
                    r.ref_obj_id = rid;
                    let cb_frame = cb_frame(st);
                    st.refs.push(Reference {
                        id: rid,
                        insn: pc,
                        cb_frame,
                    });
                }
                r
            }
        };
        *st.reg_mut(0) = r0;
        if sig.changes_pkt_data {
            st.for_each_reg(|r| {
                if r.ty.is_packet() || r.ty == RegType::PacketEnd {
                    *r = RegState::unknown();
                }
            });
        }
        Ok(callback)
    }

    /// `push_callback_call` for the synchronous callback helpers: the state entering the
    /// callback (a new frame set up as the helper calls it), or None when `bpf_loop` has
    /// already simulated as many iterations as its count allows.
    fn push_callback(
        &mut self,
        st: &mut State,
        pc: usize,
        id: i32,
        sub: usize,
        map: Option<u32>,
    ) -> Result<Option<(usize, Box<State>)>, VerifyError> {
        const FOR_EACH_MAP_ELEM: i32 = 164;
        const LOOP: i32 = 181;
        if id == LOOP {
            // The loop count bounds the iterations simulated.
            let parent = self.cur_parent;
            self.mark_precise(st, parent, 1);
        }
        if id == LOOP && u64::from(st.cur().callback_depth) >= st.reg(1).var.umax {
            // Every iteration the count allows has been simulated on this path.
            st.cur_mut().callback_depth = 0;
            return Ok(None);
        }
        if id == FOR_EACH_MAP_ELEM {
            let ty = map
                .and_then(|m| self.env.maps.get(m as usize))
                .map(|m| m.map_type);
            // Maps with a for_each callback: hash, array, percpu hash/array, LRU hashes.
            if !matches!(ty, Some(1 | 2 | 5 | 6 | 9 | 10)) {
                return Err(VerifyError::new(
                    Some(pc),
                    Errno::ENOTSUPP,
                    "callback function not allowed for map",
                ));
            }
        }
        if st.frames.len() >= MAX_CALL_FRAMES {
            return Err(VerifyError::new(
                Some(pc),
                Errno::E2BIG,
                format!(
                    "the call stack of {} frames is too deep",
                    st.frames.len() + 1
                ),
            ));
        }
        let mut cb = Box::new(st.clone());
        let caller = cb.cur().regs;
        let mut callee = Frame::new(cb.frames.len() as u8, sub, Some(pc));
        callee.callback_ret = Some((0, 1));
        match id {
            LOOP => {
                // callback(u32 index, void *ctx)
                callee.regs[1] = RegState::unknown();
                callee.regs[2] = caller[3];
            }
            _ => {
                // callback(struct bpf_map *map, void *key, void *value, void *ctx)
                callee.regs[1] = caller[1];
                let mut key = RegState::pointer(RegType::MapKey);
                key.map = caller[1].map;
                let mut value = RegState::pointer(RegType::MapValue);
                value.map = caller[1].map;
                callee.regs[2] = key;
                callee.regs[3] = value;
                callee.regs[4] = caller[3];
            }
        }
        cb.cur_mut().callback_depth += 1;
        cb.frames.push(callee);
        self.hist_frame_change = crate::precision::FrameMove::EnterCallback;
        cb.callback_unroll_depth += 1;
        st.cur_mut().callback_depth = 0;
        let start = self.cfg.subprogs[sub].start;
        Ok(Some((start, cb)))
    }

    /// `check_func_arg`.
    fn check_arg(
        &mut self,
        st: &mut State,
        pc: usize,
        sig: &HelperSig,
        regno: u8,
        arg: Arg,
        meta: &mut CallMeta,
    ) -> Result<(), VerifyError> {
        self.read_reg(st, pc, crate::step::reg(regno))?;
        let r = *st.reg(regno);
        if let Arg::Unsupported(kind) = arg {
            return Err(VerifyError::invalid(
                Some(pc),
                format!(
                    "{}: argument {regno} of kind {kind} is not modelled by bpfvet yet",
                    sig.name
                ),
            ));
        }
        if matches!(arg, Arg::Func)
            && matches!(
                sig.name.as_str(),
                "bpf_find_vma" | "bpf_user_ringbuf_drain" | "bpf_timer_set_callback"
            )
        {
            // These callbacks take typed kernel pointers, dynptrs or run asynchronously:
            // not modelled yet, so the callback body could not be proven safe.
            return Err(VerifyError::invalid(
                Some(pc),
                format!(
                    "{}: this helper's callback is not modelled by bpfvet yet (the callback \
                     body would go unverified)",
                    sig.name
                ),
            ));
        }
        if matches!(arg, Arg::Anything) {
            if r.is_pointer() && !self.env.privileged {
                return Err(VerifyError::access(
                    pc,
                    format!("R{regno} leaks addr into helper function"),
                ));
            }
            return Ok(());
        }
        // A NULL constant where NULL is allowed (its being zero decided that).
        if arg.may_be_null() && r.is_zero() {
            let parent = self.cur_parent;
            self.mark_precise(st, parent, regno);
            return Ok(());
        }
        let accepted = arg.accepted_types();
        let ok_type = accepted.contains(&r.ty)
            && (!r.flags.maybe_null || arg.may_be_null())
            && (!r.flags.rdonly || !arg.writes())
            && (r.ty != RegType::Mem || !r.flags.ringbuf || arg.accepts_ringbuf());
        if !ok_type {
            let names = arg.accepted_names();
            return Err(VerifyError::access(
                pc,
                format!(
                    "R{regno} type={} expected={}",
                    r.type_name(None),
                    names.join(", ")
                ),
            )
            .with_explanation(format!(
                "argument {regno} of {} must be {}",
                sig.name,
                names.join(" or ")
            )));
        }
        // Offset rules.
        if !matches!(
            r.ty,
            RegType::Stack
                | RegType::Packet
                | RegType::PacketMeta
                | RegType::MapKey
                | RegType::MapValue
                | RegType::Mem
                | RegType::Scalar
        ) || arg.releases()
        {
            let name = r.type_name(None);
            if r.off < 0 {
                return Err(VerifyError::access(
                    pc,
                    format!(
                        "negative offset {name} ptr R{regno} off={} disallowed",
                        r.off
                    ),
                ));
            }
            if r.off != 0 {
                return Err(VerifyError::access(
                    pc,
                    format!(
                        "dereference of modified {name} ptr R{regno} off={} disallowed",
                        r.off
                    ),
                ));
            }
            if r.var.var_off.mask != 0 || r.var.var_off.value != 0 {
                return Err(VerifyError::access(
                    pc,
                    format!(
                        "variable {name} access var_off={} disallowed",
                        crate::log::tnum_text(r.var.var_off)
                    ),
                ));
            }
        }
        if arg.releases() || sig.release_arg == Some(regno) {
            if r.ref_obj_id == 0 {
                return Err(VerifyError::access(
                    pc,
                    format!("R{regno} must be referenced when passed to release function"),
                ));
            }
            meta.release_ref = Some(r.ref_obj_id);
        }
        if r.ref_obj_id != 0 {
            meta.ref_obj_id = Some(r.ref_obj_id);
        }
        match arg {
            Arg::ConstMapPtr => {
                if sig.name == "bpf_tail_call"
                    && self
                        .env
                        .maps
                        .get(r.map as usize)
                        .is_some_and(|m| m.map_type != 3)
                {
                    return Err(VerifyError::invalid(
                        Some(pc),
                        "expected prog array map for tail call",
                    ));
                }
                meta.map = Some(r.map);
            }
            Arg::MapKey | Arg::MapValue { .. } => {
                let Some(m) = meta.map.and_then(|i| self.env.maps.get(i as usize)) else {
                    return Err(VerifyError::access(
                        pc,
                        "invalid map_ptr to access map->key",
                    ));
                };
                let size = if matches!(arg, Arg::MapKey) {
                    m.key_size
                } else {
                    m.value_size
                };
                let write = matches!(arg, Arg::MapValue { uninit: true });
                let elide = matches!(arg, Arg::MapKey) && matches!(m.map_type, 2 | 6);
                self.helper_mem(st, pc, regno, i64::from(size), write, false)?;
                if elide && self.env.privileged {
                    meta.const_key = constant_map_key(st, regno, size);
                    if meta.const_key.is_some() {
                        // The key's value decides whether the lookup may fail.
                        let r = *st.reg(regno);
                        let slot = -(i64::from(r.off) + r.var.var_off.value as i64) - 1;
                        if slot >= 0 {
                            let parent = self.cur_parent;
                            self.mark_slot_precise(
                                st,
                                parent,
                                r.frameno as usize,
                                (slot / 8) as usize,
                            );
                        }
                    }
                }
            }
            Arg::Mem {
                fixed: Some(n),
                uninit,
                ..
            } => {
                self.helper_mem(st, pc, regno, i64::from(n), uninit, false)?;
            }
            Arg::Mem { fixed: None, .. } => {
                meta.mem_reg = Some((regno, arg));
            }
            Arg::ConstSize { or_zero } => {
                self.check_size_arg(st, pc, regno, or_zero, meta)?;
            }
            Arg::Func => meta.subprog = Some(r.map as usize),
            Arg::ConstAllocSize => {
                let Some(v) = r.const_value() else {
                    return Err(VerifyError::access(
                        pc,
                        format!("R{regno} is not a known constant'"),
                    ));
                };
                meta.alloc_size = Some(v);
                let parent = self.cur_parent;
                self.mark_precise(st, parent, regno);
            }
            _ => {}
        }
        Ok(())
    }

    /// A size argument following a memory argument (`check_mem_size_reg`).
    fn check_size_arg(
        &mut self,
        st: &mut State,
        pc: usize,
        regno: u8,
        or_zero: bool,
        meta: &mut CallMeta,
    ) -> Result<(), VerifyError> {
        let r = *st.reg(regno);
        let v = &r.var;
        if v.smin < 0 {
            return Err(VerifyError::access(
                pc,
                format!("R{regno} min value is negative, either use unsigned or 'var &= const'"),
            ));
        }
        if v.umin == 0 && !or_zero {
            return Err(VerifyError::access(
                pc,
                format!(
                    "R{regno} invalid zero-sized read: u64=[{},{}]",
                    v.umin as i64, v.umax as i64
                ),
            ));
        }
        if v.umax >= MAX_VAR_OFF {
            return Err(VerifyError::access(
                pc,
                format!(
                    "R{regno} unbounded memory access, use 'var &= const' or 'if (var < const)'"
                ),
            ));
        }
        if let Some((mreg, marg)) = meta.mem_reg.take() {
            let write = marg.writes();
            if v.umax > 0 {
                self.helper_mem(st, pc, mreg, v.umax as i64, write, or_zero)?;
            } else if !st.reg(mreg).is_zero() {
                // Zero-sized access: only the pointer's type matters.
            }
        }
        meta.alloc_size = Some(v.umax);
        // The size's range decided the access check.
        let parent = self.cur_parent;
        self.mark_precise(st, parent, regno);
        Ok(())
    }

    /// `check_helper_mem_access`: `size` bytes at the pointer in `regno`.
    /// A global function's memory argument: `size` bytes readable and writable
    /// (`check_mem_reg`).
    pub(crate) fn global_mem_arg(
        &mut self,
        st: &mut State,
        pc: usize,
        regno: u8,
        size: i64,
    ) -> Result<(), VerifyError> {
        self.helper_mem(st, pc, regno, size, false, false)?;
        self.helper_mem(st, pc, regno, size, true, false)
    }

    fn helper_mem(
        &mut self,
        st: &mut State,
        pc: usize,
        regno: u8,
        size: i64,
        write: bool,
        zero_ok: bool,
    ) -> Result<(), VerifyError> {
        let r = *st.reg(regno);
        match r.ty {
            RegType::Stack => {
                if size == 0 && !zero_ok {
                    return Err(VerifyError::access(pc, "invalid zero-sized read"));
                }
                let t = if write { Access::Write } else { Access::Read };
                self.stack_bounds(pc, st, &r, regno, i64::from(r.off), size, t, false)?;
                let frame = r.frameno as usize;
                let (lo, hi) = if r.var.var_off.mask == 0 {
                    let b = r.var.var_off.value as i64 + i64::from(r.off);
                    (b, b + size)
                } else {
                    (
                        r.var.smin + i64::from(r.off),
                        r.var.smax + i64::from(r.off) + size,
                    )
                };
                if !write {
                    self.mark_stack_read(st, frame, crate::stack_live::slot_mask(lo, hi));
                }
                let stack = &mut st.frames[frame].stack;
                if write {
                    stack.grow_to(lo);
                    stack.write_bytes(lo, (hi - lo) as usize, crate::stack::ByteKind::Misc);
                } else {
                    for o in lo..hi {
                        let b = stack.byte(o);
                        let bad = (b == crate::stack::ByteKind::Invalid && !self.env.privileged)
                            || b == crate::stack::ByteKind::Iter;
                        if bad {
                            return Err(VerifyError::access(
                                pc,
                                format!(
                                    "invalid read from stack R{regno} off {}+{} size {size}",
                                    lo,
                                    o - lo
                                ),
                            ));
                        }
                    }
                    // Spilled registers read by a helper become unknown scalars.
                    for o in lo..hi {
                        let (spi, _) = crate::stack::locate(o);
                        if let Some(s) = stack.slots.get_mut(spi)
                            && s.is_spill()
                            && s.spilled.is_pointer()
                        {
                            s.spilled = RegState::unknown();
                        }
                    }
                }
                for o in lo..hi {
                    self.scratch_slot(o);
                }
                Ok(())
            }
            RegType::Packet | RegType::PacketMeta => {
                if !crate::ptype::helper_packet_access(self.env.prog_type) {
                    return Err(VerifyError::access(
                        pc,
                        "helper access to the packet is not allowed",
                    ));
                }
                self.mem_access(
                    st,
                    pc,
                    crate::step::reg(regno),
                    0,
                    size,
                    if write { Access::Write } else { Access::Read },
                    crate::mem::Value::None,
                    false,
                )
            }
            RegType::MapKey if write => Err(VerifyError::access(
                pc,
                format!("write to change key R{regno} not allowed"),
            )),
            RegType::MapKey | RegType::MapValue | RegType::Mem => self.mem_access(
                st,
                pc,
                crate::step::reg(regno),
                0,
                size,
                if write { Access::Write } else { Access::Read },
                crate::mem::Value::None,
                false,
            ),
            _ => Err(VerifyError::access(
                pc,
                format!("R{regno} type={} expected=fp", r.type_name(None)),
            )),
        }
    }

    /// The prototype of helper `id` for this program, or the kernel's refusal.
    fn helper_sig(&self, pc: usize, id: i32) -> Result<HelperSig, VerifyError> {
        crate::sig::lookup(id, self.env.prog_type, self.env.expected_attach_type).map_err(
            |denied| {
                let name = bpfvet_isa::helpers::helper_name(id).map(str::to_string);
                match denied {
                    // Id 0 is `BPF_FUNC_unspec`: known to the kernel, allowed to no type.
                    crate::sig::Denied::Unknown if id == 0 => VerifyError::invalid(
                        Some(pc),
                        "program of this type cannot use helper bpf_unspec#0",
                    ),
                    crate::sig::Denied::Unknown => {
                        VerifyError::invalid(Some(pc), format!("invalid func unknown#{id}"))
                    }
                    crate::sig::Denied::NotAllowed => VerifyError::invalid(
                        Some(pc),
                        format!(
                            "program of this type cannot use helper {}#{id}",
                            name.unwrap_or_else(|| "unknown".into())
                        ),
                    ),
                }
            },
        )
    }
}

/// `BPF_F_RDONLY_PROG`.
const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// What argument checking learned for the rest of the call.
#[derive(Default)]
struct CallMeta {
    map: Option<u32>,
    mem_reg: Option<(u8, Arg)>,
    alloc_size: Option<u64>,
    release_ref: Option<u32>,
    ref_obj_id: Option<u32>,
    /// The callback subprogram (`ARG_PTR_TO_FUNC`).
    subprog: Option<usize>,
    /// An array map key known at verification time (`get_constant_map_key`).
    const_key: Option<u64>,
}

/// `get_constant_map_key`: the key behind a constant stack pointer when its bytes are known
/// zeros, or exactly a spilled constant scalar of the key's size.
fn constant_map_key(st: &State, regno: u8, key_size: u32) -> Option<u64> {
    let r = st.reg(regno);
    if r.ty != RegType::Stack || r.var.var_off.mask != 0 {
        return None;
    }
    let stack_off = i64::from(r.off) + r.var.var_off.value as i64;
    let slot = -stack_off - 1;
    if slot < 0 {
        return None;
    }
    let (spi, off) = ((slot / 8) as usize, (slot % 8) as usize);
    let s = st.frames.get(r.frameno as usize)?.stack.slots.get(spi)?;
    let run = |k: crate::stack::ByteKind| (0..=off).rev().take_while(|&i| s.bytes[i] == k).count();
    if run(crate::stack::ByteKind::Zero) >= key_size as usize {
        return Some(0);
    }
    if !s.is_spill() || s.spilled.ty != RegType::Scalar {
        return None;
    }
    if run(crate::stack::ByteKind::Spill) != key_size as usize {
        return None;
    }
    s.spilled.const_value()
}

/// `verbose_invalid_scalar`: `<ctx> the register R0 has smin=.. smax=.. should have been in
/// [lo, hi]`, naming only the bounds that are not the type's extremes.
fn invalid_scalar(ctx: &str, r0: &RegState, lo: i64, hi: i64) -> String {
    let v = &r0.var;
    let mut what = String::new();
    if v.smin != i64::MIN {
        what.push_str(&format!(" smin={}", v.smin));
    }
    if v.smax != i64::MAX {
        what.push_str(&format!(" smax={}", v.smax));
    }
    if what.is_empty() {
        what.push_str(" unknown scalar value");
    }
    format!("{ctx} the register R0 has{what} should have been in [{lo}, {hi}]")
}

/// The callback frame a reference acquired now belongs to (0 outside callbacks).
fn cb_frame(st: &State) -> u8 {
    if st.cur().callback_ret.is_some() {
        st.cur().frameno
    } else {
        0
    }
}

/// `check_max_stack_depth`: the combined stack of every static call chain fits in 512 bytes.
pub fn check_max_stack_depth(v: &Verifier<'_>) -> Result<(), VerifyError> {
    let subs = &v.cfg.subprogs;
    // `round_up_stack_depth` with the JIT on (x86-64 always JITs): 16-byte granules.
    let round = |d: i64| (d.max(0) + 15) / 16 * 16;
    let calls: Vec<Vec<usize>> = subs
        .iter()
        .map(|sp| {
            (sp.start..sp.end)
                .filter_map(|pc| match v.code.insn(pc) {
                    // A callback whose address is taken runs on top of this frame too.
                    Some(Insn::Call(CallKind::Local(imm)))
                    | Some(Insn::LdImm64 {
                        kind: Imm64Kind::Func,
                        imm,
                        ..
                    }) => Some(v.cfg.subprog_of((pc as i64 + 1 + i64::from(*imm)) as usize)),
                    _ => None,
                })
                .collect()
        })
        .collect();
    // Depth-first over call chains from the main program (explicit stack, bounded depth).
    let mut stack: Vec<(usize, usize, i64)> = vec![(0, 0, round(v.stack_depth[0]))];
    while let Some(&(sub, idx, depth)) = stack.last() {
        if depth > MAX_STACK {
            return Err(VerifyError::access(
                subs[sub].start,
                format!(
                    "combined stack size of {} calls is {depth}. Too large",
                    stack.len()
                ),
            ));
        }
        if idx >= calls[sub].len() {
            stack.pop();
            continue;
        }
        stack.last_mut().expect("nonempty").1 += 1;
        let callee = calls[sub][idx];
        if stack.len() >= MAX_CALL_FRAMES {
            return Err(VerifyError::new(
                Some(subs[callee].start),
                Errno::E2BIG,
                format!("the call stack of {} frames is too deep !", stack.len() + 1),
            ));
        }
        if stack.iter().any(|&(s, _, _)| s == callee) {
            continue; // recursion is refused elsewhere; do not loop here
        }
        // A tail call unwinds only its own frame: the callers' frames stay, so a subprogram
        // that tail-calls may sit under at most 256 bytes of them.
        if subs[callee].has_tail_call && depth >= 256 {
            return Err(VerifyError::access(
                subs[callee].start,
                format!(
                    "tail_calls are not allowed when call stack of previous frames is {depth} \
                     bytes. Too large"
                ),
            )
            .with_explanation(
                "each tail call keeps the frames of the functions that called it; the kernel \
                 caps them at 256 bytes so 33 chained tail calls cannot overflow the stack",
            ));
        }
        stack.push((callee, 0, depth + round(v.stack_depth[callee])));
    }
    Ok(())
}
