//! Memory instructions (`check_mem_access` and friends): loads, stores and atomics through a
//! pointer register, checked per region — stack (bounds, spill/fill), map values and keys
//! (bounds with variable offsets, read-only maps), packet (within the proven range), context
//! (the program type's field table), sized memory — with the kernel's messages.

use bpfvet_isa::insn::{AtomicOp, Insn, Reg, Size};

use crate::error::{Errno, VerifyError};
use crate::explore::Verifier;
use crate::log::tnum_text;
use crate::reg::{RegState, RegType};
use crate::stack::{ByteKind, MAX_STACK, locate};
use crate::state::State;

/// `BPF_MAX_VAR_OFF`.
const MAX_VAR_OFF: i64 = 1 << 29;
/// `BPF_F_RDONLY_PROG`.
const RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`.
const WRONLY_PROG: u32 = 1 << 8;

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Where a written value comes from.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// A register (STX).
    Reg(Reg),
    /// An immediate (ST).
    Imm(i32),
    /// A load into this register.
    Into(Reg),
    /// Neither (helper-style access).
    None,
}

fn size_bytes(s: Size) -> i64 {
    match s {
        Size::B => 1,
        Size::H => 2,
        Size::W => 4,
        Size::DW => 8,
    }
}

impl Verifier<'_> {
    pub fn check_mem_insn(
        &mut self,
        st: &mut State,
        pc: usize,
        insn: &Insn,
    ) -> Result<(), VerifyError> {
        match *insn {
            Insn::Load {
                size,
                sign,
                dst,
                src,
                off,
            } => {
                self.read_reg(st, pc, src)?;
                self.write_reg(pc, dst)?;
                let base = st.reg(src.index()).ty;
                self.mem_access(
                    st,
                    pc,
                    src,
                    i64::from(off),
                    size_bytes(size),
                    Access::Read,
                    Value::Into(dst),
                    false,
                )?;
                let r = st.reg_mut(dst.index());
                if size != Size::DW && r.is_scalar() {
                    r.var = if sign {
                        r.var.coerce_to_size_sx(size_bytes(size) as u8)
                    } else {
                        r.var.coerce_to_size(size_bytes(size) as u8)
                    };
                }
                self.save_aux_ptr_type(pc, base)?;
            }
            Insn::StoreReg {
                size,
                dst,
                src,
                off,
            } => {
                self.read_reg(st, pc, src)?;
                self.read_reg(st, pc, dst)?;
                let base = st.reg(dst.index()).ty;
                self.mem_access(
                    st,
                    pc,
                    dst,
                    i64::from(off),
                    size_bytes(size),
                    Access::Write,
                    Value::Reg(src),
                    false,
                )?;
                self.save_aux_ptr_type(pc, base)?;
            }
            Insn::Store {
                size,
                dst,
                off,
                imm,
            } => {
                self.read_reg(st, pc, dst)?;
                let base = st.reg(dst.index()).ty;
                self.mem_access(
                    st,
                    pc,
                    dst,
                    i64::from(off),
                    size_bytes(size),
                    Access::Write,
                    Value::Imm(imm),
                    false,
                )?;
                self.save_aux_ptr_type(pc, base)?;
            }
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.check_atomic(st, pc, size, op, dst, src, i64::from(off))?,
            _ => unreachable!("not a memory instruction"),
        }
        Ok(())
    }

    /// `save_aux_ptr_type`: one load or store instruction may not be used with a context or
    /// socket pointer on one path and another pointer type on another (the kernel rewrites
    /// such accesses per instruction, for one type).
    fn save_aux_ptr_type(&mut self, pc: usize, ty: RegType) -> Result<(), VerifyError> {
        let special = |t: RegType| {
            matches!(
                t,
                RegType::Ctx
                    | RegType::Sock
                    | RegType::SockCommon
                    | RegType::TcpSock
                    | RegType::XdpSock
                    | RegType::BtfId
            )
        };
        match self.aux_ptr_type[pc] {
            None => self.aux_ptr_type[pc] = Some(ty),
            Some(prev) if prev != ty && (special(prev) || special(ty)) => {
                return Err(VerifyError::invalid(
                    Some(pc),
                    "same insn cannot be used with different pointers",
                )
                .with_explanation(format!(
                    "this instruction accesses memory through a {} pointer on one path and a {} \
                     pointer on another; context and socket accesses are rewritten per \
                     instruction, so each such instruction must see one pointer type",
                    prev.name(),
                    ty.name()
                )));
            }
            Some(_) => {}
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn check_atomic(
        &mut self,
        st: &mut State,
        pc: usize,
        size: Size,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i64,
    ) -> Result<(), VerifyError> {
        self.read_reg(st, pc, src)?;
        self.read_reg(st, pc, dst)?;
        if op == AtomicOp::Cmpxchg {
            self.read_reg(st, pc, crate::step::reg(0))?;
            if st.reg(0).is_pointer() && !self.env.privileged {
                return Err(VerifyError::access(pc, "R0 leaks addr into mem"));
            }
        }
        if st.reg(src.index()).is_pointer() && !self.env.privileged {
            return Err(VerifyError::access(
                pc,
                format!("R{} leaks addr into mem", src.index()),
            ));
        }
        let t = st.reg(dst.index());
        let ok = matches!(
            t.ty,
            RegType::Stack | RegType::MapValue | RegType::Mem | RegType::BtfId
        ) && !t.flags.maybe_null;
        if !ok {
            return Err(VerifyError::access(
                pc,
                format!(
                    "BPF_ATOMIC stores into R{} {} is not allowed",
                    dst.index(),
                    t.type_name(None)
                ),
            ));
        }
        let n = size_bytes(size);
        let fetch = op.fetches();
        let load_into = if op == AtomicOp::Cmpxchg {
            Some(crate::step::reg(0))
        } else if fetch {
            Some(src)
        } else {
            None
        };
        // Read (into the fetch register, or nowhere), then write.
        match load_into {
            Some(r) => {
                self.write_reg(pc, r)?;
                self.mem_access(st, pc, dst, off, n, Access::Read, Value::Into(r), true)?;
                let reg = st.reg_mut(r.index());
                if reg.is_scalar() && n < 8 {
                    reg.var = reg.var.coerce_to_size(n as u8);
                }
            }
            None => {
                self.mem_access(st, pc, dst, off, n, Access::Read, Value::None, true)?;
            }
        }
        self.mem_access(st, pc, dst, off, n, Access::Write, Value::None, true)
    }

    /// One access of `size` bytes at `ptr + off`.
    #[allow(clippy::too_many_arguments)]
    pub fn mem_access(
        &mut self,
        st: &mut State,
        pc: usize,
        ptr: Reg,
        off: i64,
        size: i64,
        t: Access,
        value: Value,
        strict: bool,
    ) -> Result<(), VerifyError> {
        let reg = *st.reg(ptr.index());
        let regno = ptr.index();
        let strict = strict || self.env.strict_alignment;
        self.check_alignment(pc, &reg, regno, off, size, strict)?;
        let off = off + i64::from(reg.off);
        let value_reg = match value {
            Value::Reg(r) => Some(*st.reg(r.index())),
            _ => None,
        };
        let leaks = |what: &str| -> Result<(), VerifyError> {
            if !self.env.privileged && value_reg.is_some_and(|v| v.is_pointer()) {
                let Value::Reg(r) = value else { unreachable!() };
                return Err(VerifyError::access(
                    pc,
                    format!("R{} leaks addr into {what}", r.index()),
                ));
            }
            Ok(())
        };
        let loaded: Option<RegState> = match reg.ty {
            _ if reg.flags.maybe_null => {
                return Err(self.invalid_mem_access(pc, regno, &reg));
            }
            RegType::MapKey => {
                if t == Access::Write {
                    return Err(VerifyError::access(
                        pc,
                        format!("write to change key R{regno} not allowed"),
                    ));
                }
                let ks = self
                    .env
                    .maps
                    .get(reg.map as usize)
                    .map_or(0, |m| m.key_size);
                self.region_access(pc, &reg, regno, off, size, i64::from(ks))?;
                Some(RegState::unknown())
            }
            RegType::MapValue => {
                leaks("map")?;
                let m = self.env.maps.get(reg.map as usize).cloned();
                let (vs, flags) = m.as_ref().map_or((0, 0), |m| (m.value_size, m.flags));
                if t == Access::Write && flags & RDONLY_PROG != 0 {
                    return Err(VerifyError::access(
                        pc,
                        format!("write into map forbidden, value_size={vs} off={off} size={size}"),
                    ));
                }
                if t == Access::Read && flags & WRONLY_PROG != 0 {
                    return Err(VerifyError::access(
                        pc,
                        format!("read from map forbidden, value_size={vs} off={off} size={size}"),
                    ));
                }
                self.region_access(pc, &reg, regno, off, size, i64::from(vs))?;
                // Frozen read-only maps with a constant offset give constants.
                let known = match &m {
                    Some(m)
                        if t == Access::Read
                            && size <= 8
                            && reg.var.var_off.mask == 0
                            && flags & RDONLY_PROG != 0
                            && m.frozen =>
                    {
                        let at = (off + reg.var.var_off.value as i64) as usize;
                        m.initial_value.as_ref().and_then(|d| {
                            d.get(at..at + size as usize).map(|b| {
                                let mut v = [0u8; 8];
                                v[..b.len()].copy_from_slice(b);
                                u64::from_le_bytes(v)
                            })
                        })
                    }
                    _ => None,
                };
                Some(match known {
                    Some(v) => RegState::constant(v),
                    None => RegState::unknown(),
                })
            }
            RegType::Mem => {
                if t == Access::Write && reg.flags.rdonly {
                    return Err(VerifyError::access(
                        pc,
                        format!("R{regno} cannot write into {}", reg.type_name(None)),
                    ));
                }
                leaks("mem")?;
                self.region_access(pc, &reg, regno, off, size, i64::from(reg.range))?;
                Some(RegState::unknown())
            }
            RegType::Ctx => {
                leaks("ctx")?;
                self.ctx_ptr_ok(pc, &reg, regno)?;
                let mut res = self.ctx_access(pc, off, size, t)?;
                if res.flags.maybe_null {
                    res.id = st.new_id();
                }
                Some(res)
            }
            RegType::Stack => {
                self.stack_bounds(pc, st, &reg, regno, off, size, t, false)?;
                match t {
                    Access::Read => {
                        self.note_stack_access(&reg, off);
                        Some(self.stack_read(st, pc, &reg, off, size, value)?)
                    }
                    Access::Write => {
                        self.note_stack_access(&reg, off);
                        self.stack_write(st, pc, &reg, off, size, value)?;
                        None
                    }
                }
            }
            RegType::Packet | RegType::PacketMeta => {
                if t == Access::Write && !self.may_write_packet() {
                    return Err(VerifyError::access(pc, "cannot write into packet"));
                }
                leaks("packet")?;
                self.packet_access(pc, &reg, regno, off, size)?;
                Some(RegState::unknown())
            }
            RegType::FlowKeys => {
                leaks("flow keys")?;
                // struct bpf_flow_keys is 56 bytes.
                if off < 0 || off + size > 56 || reg.var.var_off.mask != 0 {
                    return Err(VerifyError::access(
                        pc,
                        format!("invalid access to flow keys off={off} size={size}"),
                    ));
                }
                Some(RegState::unknown())
            }
            RegType::Sock | RegType::SockCommon | RegType::TcpSock | RegType::XdpSock => {
                if t == Access::Write {
                    return Err(VerifyError::access(
                        pc,
                        format!("R{regno} cannot write into {}", reg.type_name(None)),
                    ));
                }
                self.sock_access(pc, &reg, regno, off, size)?;
                Some(RegState::unknown())
            }
            RegType::MapPtr if self.env.privileged && !reg.flags.maybe_null => {
                self.map_ptr_access(pc, &reg, regno, off, size, t)?;
                Some(RegState::unknown())
            }
            _ => return Err(self.invalid_mem_access(pc, regno, &reg)),
        };
        if t == Access::Read
            && let Value::Into(dst) = value
            && let Some(v) = loaded
        {
            *st.reg_mut(dst.index()) = v;
        }
        Ok(())
    }

    /// `check_ptr_to_map_access`: root may read the fields of the kernel's map structure
    /// (`struct bpf_array`, `struct bpf_htab`, ...), typed from the kernel's BTF. Without
    /// that BTF bpfvet allows only what is the same in every kernel, the leading `ops`
    /// pointer (bytes 0..8), read as an unknown scalar; anything else is refused.
    fn map_ptr_access(
        &self,
        pc: usize,
        reg: &RegState,
        regno: u8,
        off: i64,
        size: i64,
        t: Access,
    ) -> Result<(), VerifyError> {
        let map_type = self.env.maps.get(reg.map as usize).map(|m| m.map_type);
        let tname = match map_type {
            Some(2 | 3 | 4 | 6 | 8 | 12) => "bpf_array",
            Some(1 | 5 | 9 | 10 | 13) => "bpf_htab",
            _ => "bpf_map",
        };
        if off < 0 {
            return Err(VerifyError::access(
                pc,
                format!("R{regno} is {tname} invalid negative access: off={off}"),
            ));
        }
        if t != Access::Read {
            return Err(VerifyError::access(
                pc,
                format!("only read from {tname} is supported"),
            ));
        }
        if reg.var.var_off.mask != 0 || off + size > 8 {
            return Err(
                VerifyError::access(pc, format!("R{regno} invalid mem access 'map_ptr'"))
                    .with_explanation(format!(
                        "without the kernel's BTF bpfvet models only reads of the first 8 bytes of \
                 struct {tname} (the map's ops pointer), at constant offsets"
                    )),
            );
        }
        Ok(())
    }

    fn invalid_mem_access(&self, pc: usize, regno: u8, reg: &RegState) -> VerifyError {
        let name = reg.type_name(None);
        let e = VerifyError::access(pc, format!("R{regno} invalid mem access '{name}'"));
        if reg.flags.maybe_null {
            e.with_explanation(format!(
                "R{regno} may be NULL here: check it against 0 before dereferencing it"
            ))
        } else if reg.ty == RegType::Scalar {
            e.with_explanation(format!(
                "R{regno} holds a number, not a pointer the verifier can check"
            ))
        } else {
            e
        }
    }

    /// Programs of these types may write packet data directly.
    fn may_write_packet(&self) -> bool {
        crate::ptype::may_write_packet(self.env.prog_type, self.env.expected_attach_type)
    }

    /// `check_ptr_alignment` (x86-64, no `BPF_F_STRICT_ALIGNMENT`: only stack accesses and
    /// atomics are strict).
    fn check_alignment(
        &self,
        pc: usize,
        reg: &RegState,
        regno: u8,
        off: i64,
        size: i64,
        strict_once: bool,
    ) -> Result<(), VerifyError> {
        let _ = regno;
        let (desc, strict) = match reg.ty {
            RegType::Packet | RegType::PacketMeta => {
                if !strict_once || size == 1 {
                    return Ok(());
                }
                let total = reg.var.var_off.add(crate::tnum::Tnum::constant(
                    (2 + i64::from(reg.off) + off) as u64,
                ));
                if (total.value | total.mask) & (size as u64 - 1) != 0 {
                    return Err(VerifyError::access(
                        pc,
                        format!(
                            "misaligned packet access off 2+{}+{}+{off} size {size}",
                            tnum_text(reg.var.var_off),
                            reg.off
                        ),
                    ));
                }
                return Ok(());
            }
            RegType::FlowKeys => ("flow keys ", strict_once),
            RegType::MapKey => ("key ", strict_once),
            RegType::MapValue => ("value ", strict_once),
            RegType::Ctx => ("context ", strict_once),
            RegType::Stack => ("stack ", true),
            RegType::Sock => ("sock ", strict_once),
            RegType::SockCommon => ("sock_common ", strict_once),
            RegType::TcpSock => ("tcp_sock ", strict_once),
            RegType::XdpSock => ("xdp_sock ", strict_once),
            _ => ("", strict_once),
        };
        if !strict || size == 1 {
            return Ok(());
        }
        let t = reg.var.var_off.add(crate::tnum::Tnum::constant(
            (i64::from(reg.off) + off) as u64,
        ));
        if (t.value | t.mask) & (size as u64 - 1) != 0 {
            return Err(VerifyError::access(
                pc,
                format!(
                    "misaligned {desc}access off {}+{}+{off} size {size}",
                    tnum_text(reg.var.var_off),
                    reg.off
                ),
            ));
        }
        Ok(())
    }

    /// `check_mem_region_access`: `[off + var, +size)` within `[0, limit)`.
    pub fn region_access(
        &self,
        pc: usize,
        reg: &RegState,
        regno: u8,
        off: i64,
        size: i64,
        limit: i64,
    ) -> Result<(), VerifyError> {
        let v = &reg.var;
        if v.smin < 0
            && (v.smin == i64::MIN
                || off
                    .checked_add(v.smin)
                    .is_none_or(|s| s != i64::from(s as i32))
                || v.smin + off < 0)
        {
            return Err(VerifyError::access(
                pc,
                negative_min(regno),
            )
            .with_explanation(format!(
                "the variable offset of R{regno} may be negative (its smallest value is {}); {}. \
                 Bound it below with an unsigned comparison or a check against 0",
                v.smin,
                self.origin(reg, regno)
            )));
        }
        if let Err(line) = region_line(reg, regno, v.smin + off, size, limit) {
            return Err(VerifyError::access(
                pc,
                format!("R{regno} min value is outside of the allowed memory range"),
            )
            .with_detail(line)
            .with_explanation(format!(
                "the access starts {} bytes into memory of {limit} bytes and reads or writes \
                 {size} bytes, which does not fit",
                v.smin + off
            )));
        }
        if v.umax >= MAX_VAR_OFF as u64 {
            return Err(VerifyError::access(
                pc,
                format!(
                    "R{regno} unbounded memory access, make sure to bounds check any such access"
                ),
            )
            .with_explanation(format!(
                "the variable offset of R{regno} has no useful upper bound (it may be as large \
                 as {}); {}. Compare it with the size of the memory before the access",
                v.umax,
                self.origin(reg, regno)
            )));
        }
        if let Err(line) = region_line(reg, regno, v.umax as i64 + off, size, limit) {
            return Err(VerifyError::access(
                pc,
                format!("R{regno} max value is outside of the allowed memory range"),
            )
            .with_detail(line)
            .with_explanation(format!(
                "R{regno} may point up to {} bytes past its start, and {size} bytes are accessed \
                 there, but only {limit} bytes are valid; {}",
                v.umax as i64 + off,
                self.origin(reg, regno)
            )));
        }
        Ok(())
    }

    /// `check_packet_access`.
    fn packet_access(
        &self,
        pc: usize,
        reg: &RegState,
        regno: u8,
        off: i64,
        size: i64,
    ) -> Result<(), VerifyError> {
        if reg.var.smin < 0 {
            return Err(VerifyError::access(pc, negative_min(regno)));
        }
        let range = i64::from(reg.range);
        if range < 0 || off < 0 || off + size > range {
            return Err(VerifyError::access(
                pc,
                format!("R{regno} offset is outside of the packet"),
            )
            .with_detail(format!(
                "invalid access to packet, off={off} size={size}, R{regno}(id={},off={off},r={})",
                reg.id, reg.range
            ))
            .with_explanation(format!(
                "only {} bytes past R{regno} are known to be inside the packet; compare \
                     R{regno} + {} with data_end before this access",
                range.max(0),
                off + size
            )));
        }
        Ok(())
    }

    /// Reads through socket pointers: within the structure, no negative offsets.
    fn sock_access(
        &self,
        pc: usize,
        reg: &RegState,
        regno: u8,
        off: i64,
        size: i64,
    ) -> Result<(), VerifyError> {
        if reg.var.smin < 0 {
            return Err(VerifyError::access(pc, negative_min(regno)));
        }
        if !crate::ptype::sock_field_ok(reg.ty, off, size) {
            return Err(VerifyError::access(
                pc,
                format!(
                    "R{regno} invalid {} access off={off} size={size}",
                    reg.type_name(None)
                ),
            ));
        }
        Ok(())
    }

    /// `__check_ptr_off_reg` for a context pointer being dereferenced.
    fn ctx_ptr_ok(&self, pc: usize, reg: &RegState, regno: u8) -> Result<(), VerifyError> {
        let name = reg.type_name(None);
        if reg.off < 0 {
            return Err(VerifyError::access(
                pc,
                format!(
                    "negative offset {name} ptr R{regno} off={} disallowed",
                    reg.off
                ),
            ));
        }
        if reg.off != 0 {
            return Err(VerifyError::access(
                pc,
                format!(
                    "dereference of modified {name} ptr R{regno} off={} disallowed",
                    reg.off
                ),
            ));
        }
        if reg.var.var_off.mask != 0 || reg.var.var_off.value != 0 {
            return Err(VerifyError::access(
                pc,
                format!(
                    "variable {name} access var_off={} disallowed",
                    tnum_text(reg.var.var_off)
                ),
            ));
        }
        Ok(())
    }

    /// `check_stack_access_within_bounds`.
    #[allow(clippy::too_many_arguments)]
    pub fn stack_bounds(
        &self,
        pc: usize,
        st: &State,
        reg: &RegState,
        regno: u8,
        off: i64,
        size: i64,
        t: Access,
        helper: bool,
    ) -> Result<(), VerifyError> {
        let extra = if helper {
            " indirect access to"
        } else if t == Access::Read {
            " read from"
        } else {
            " write to"
        };
        let v = &reg.var;
        let (min_off, max_off) = if v.var_off.mask == 0 {
            let m = v.var_off.value as i64 + off;
            (m, m + size)
        } else {
            if v.smax >= MAX_VAR_OFF || v.smin <= -MAX_VAR_OFF {
                return Err(VerifyError::access(
                    pc,
                    format!("invalid unbounded variable-offset{extra} stack R{regno}"),
                ));
            }
            (v.smin + off, v.smax + off + size)
        };
        let frame = &st.frames[reg.frameno as usize];
        // Root may read uninitialised stack: the whole 512 bytes are valid for both.
        let min_valid = if t == Access::Write || self.env.privileged {
            -MAX_STACK
        } else {
            -frame.stack.allocated()
        };
        if min_off < min_valid || min_off > -1 || max_off > 0 || size < 0 {
            let msg = if v.var_off.mask == 0 {
                format!("invalid{extra} stack R{regno} off={off} size={size}")
            } else {
                format!(
                    "invalid variable-offset{extra} stack R{regno} var_off={} off={off} size={size}",
                    tnum_text(v.var_off)
                )
            };
            // `check_stack_slot_within_bounds` refuses a bad start with EACCES; an access
            // that runs past the frame pointer (or a negative size) is EINVAL.
            let errno = if min_off < min_valid || min_off > -1 {
                Errno::EACCES
            } else {
                Errno::EINVAL
            };
            return Err(
                VerifyError::new(Some(pc), errno, msg).with_explanation(format!(
                    "the stack is the 512 bytes below R10 (offsets -512 to -1); this access covers \
                 offsets {min_off} to {}",
                    max_off - 1
                )),
            );
        }
        Ok(())
    }

    /// A load from the stack (`check_stack_read`): fills restore spilled registers.
    /// Records a constant-offset stack access in the instruction's history entry.
    fn note_stack_access(&mut self, reg: &RegState, off: i64) {
        if reg.var.var_off.mask == 0 {
            let total = off + reg.var.var_off.value as i64;
            if (-512..0).contains(&total) {
                self.hist_stack = Some((reg.frameno, ((-total - 1) / 8) as u8));
            }
        }
    }

    fn stack_read(
        &mut self,
        st: &mut State,
        pc: usize,
        reg: &RegState,
        off: i64,
        size: i64,
        value: Value,
    ) -> Result<RegState, VerifyError> {
        let frameno = reg.frameno as usize;
        if reg.var.var_off.mask != 0 {
            // Variable offset: every byte in range must be initialised (root may read any), the
            // result is zero if all are zero.
            let lo = reg.var.smin + off;
            let hi = reg.var.smax + off + size;
            self.mark_stack_read(st, frameno, crate::stack_live::slot_mask(lo, hi));
            let stack = &st.frames[frameno].stack;
            let all_zero = (lo..hi).all(|o| stack.byte(o) == ByteKind::Zero);
            for o in lo..hi {
                self.scratch_slot(o);
            }
            return Ok(if all_zero {
                RegState::constant(0)
            } else {
                RegState::unknown()
            });
        }
        let off = off + reg.var.var_off.value as i64;
        self.scratch_slot(off);
        self.mark_stack_read(st, frameno, crate::stack_live::slot_mask(off, off + size));
        let stack = &st.frames[frameno].stack;
        let (spi, _) = locate(off);
        let slot = stack
            .slot(spi)
            .copied()
            .unwrap_or_else(crate::stack::Slot::empty);
        if slot.is_spill() {
            let spill_size = slot.spill_size() as i64;
            if size != 8 || spill_size != 8 {
                if slot.spilled.ty != RegType::Scalar {
                    return Err(VerifyError::access(pc, "invalid size of register fill"));
                }
                if matches!(value, Value::Into(_)) {
                    if size <= spill_size && off % 8 == 0 {
                        let mut r = slot.spilled;
                        if spilled_width(&r) > size * 8 {
                            r.id = 0;
                        }
                        return Ok(r);
                    }
                    let mut spills = 0;
                    let mut zeros = 0;
                    for i in 0..size {
                        match stack.byte(off + i) {
                            ByteKind::Spill => spills += 1,
                            ByteKind::Zero => zeros += 1,
                            ByteKind::Misc => {}
                            ByteKind::Invalid if self.env.privileged => {}
                            ByteKind::Invalid | ByteKind::Iter => {
                                return Err(VerifyError::access(
                                    pc,
                                    format!("invalid read from stack off {off}+{i} size {size}"),
                                ));
                            }
                        }
                    }
                    if (spills == size && slot.spilled.const_value() == Some(0)) || zeros == size {
                        return Ok(RegState::constant(0));
                    }
                    return Ok(RegState::unknown());
                }
                return Ok(RegState::unknown());
            }
            return Ok(slot.spilled);
        }
        let mut zeros = 0;
        for i in 0..size {
            match stack.byte(off + i) {
                ByteKind::Misc => {}
                ByteKind::Zero => zeros += 1,
                ByteKind::Invalid if self.env.privileged => {}
                _ => {
                    return Err(VerifyError::access(
                        pc,
                        format!("invalid read from stack off {off}+{i} size {size}"),
                    ));
                }
            }
        }
        Ok(if zeros == size {
            RegState::constant(0)
        } else {
            RegState::unknown()
        })
    }

    /// A store to the stack (`check_stack_write`).
    fn stack_write(
        &mut self,
        st: &mut State,
        pc: usize,
        reg: &RegState,
        off: i64,
        size: i64,
        value: Value,
    ) -> Result<(), VerifyError> {
        let frameno = reg.frameno as usize;
        let cur_frame = st.frameno();
        let value_reg = match value {
            Value::Reg(r) => Some(*st.reg(r.index())),
            _ => None,
        };
        // A register's zero written as STACK_ZERO bytes is relied on exactly.
        if let Value::Reg(r) = value
            && value_reg.is_some_and(|v| v.is_zero())
        {
            let parent = self.cur_parent;
            self.mark_precise(st, parent, r.index());
        }
        if reg.var.var_off.mask != 0 {
            let lo = reg.var.smin + off;
            let hi = reg.var.smax + off + size;
            let zero = value_reg.is_some_and(|v| v.is_zero()) || matches!(value, Value::Imm(0));
            let stack = &mut st.frames[frameno].stack;
            stack.grow_to(lo);
            for o in lo..hi {
                let kind = if zero && stack.byte(o) == ByteKind::Zero {
                    ByteKind::Zero
                } else {
                    ByteKind::Misc
                };
                stack.write_bytes(o, 1, kind);
                self.scratch_slot(o);
            }
            return Ok(());
        }
        let off = off + reg.var.var_off.value as i64;
        self.scratch_slot(off);
        let privileged = self.env.privileged;
        st.frames[frameno].written |= crate::stack_live::full_slot(off, size);
        let stack = &mut st.frames[frameno].stack;
        stack.grow_to(off);
        let aligned = off % 8 == 0;
        match (value, value_reg) {
            (Value::Reg(_), Some(v)) if aligned && v.is_scalar() && privileged => {
                let mut v = v;
                if spilled_width(&v) > size * 8 {
                    v.id = 0;
                }
                stack.spill(off, v, size as usize);
            }
            (Value::Imm(imm), _) if aligned && privileged => {
                let v = match size {
                    8 => imm as i64 as u64,
                    4 => u64::from(imm as u32),
                    2 => u64::from(imm as u16),
                    _ => u64::from(imm as u8),
                };
                let _ = v;
                stack.spill(off, RegState::constant(imm as i64 as u64), size as usize);
            }
            (Value::Reg(_), Some(v)) if v.is_pointer() => {
                if size != 8 {
                    return Err(VerifyError::access(pc, "invalid size of register spill"));
                }
                if frameno != cur_frame && v.ty == RegType::Stack {
                    return Err(VerifyError::access(
                        pc,
                        "cannot spill pointers to stack into stack frame of the caller",
                    ));
                }
                stack.spill(off, v, 8);
            }
            _ => {
                let zero = value_reg.is_some_and(|v| v.is_zero()) || matches!(value, Value::Imm(0));
                let kind = if zero { ByteKind::Zero } else { ByteKind::Misc };
                stack.write_bytes(off, size as usize, kind);
            }
        }
        Ok(())
    }
}

/// Bits a scalar may need (`get_reg_width`): 64 minus leading zeros of umax.
fn spilled_width(r: &RegState) -> i64 {
    64 - i64::from(r.var.umax.leading_zeros())
}

/// The region-specific line (`__check_mem_access`) for an access at `off` of `size` within
/// `limit`, or Ok.
fn region_line(reg: &RegState, regno: u8, off: i64, size: i64, limit: i64) -> Result<(), String> {
    if off >= 0 && size > 0 && off + size <= limit {
        return Ok(());
    }
    Err(match reg.ty {
        RegType::MapKey => {
            format!("invalid access to map key, key_size={limit} off={off} size={size}")
        }
        RegType::MapValue => {
            format!("invalid access to map value, value_size={limit} off={off} size={size}")
        }
        RegType::Packet | RegType::PacketMeta => format!(
            "invalid access to packet, off={off} size={size}, R{regno}(id={},off={off},r={limit})",
            reg.id
        ),
        _ => format!("invalid access to memory, mem_size={limit} off={off} size={size}"),
    })
}

/// The kernel's message for an offset whose minimum may be negative.
fn negative_min(regno: u8) -> String {
    format!(
        "R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."
    )
}
