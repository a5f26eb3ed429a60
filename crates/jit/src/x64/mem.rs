//! Memory code: loads (zero- and sign-extending), stores and atomics. Unchecked code
//! addresses `[reg + off]` directly (registers hold host addresses). Checked code computes the
//! virtual address into r11, calls the bounds-check subroutine for the access's size and
//! direction (which turns r11 into the host address or stops the run), then uses `[r11]`.

use bpfvet_isa::{AtomicOp, Reg, Size};
use iced_x86::code_asm::*;

use super::{Gen, Res, Stub, b, d, q, w};

fn bytes(size: Size) -> u32 {
    match size {
        Size::B => 1,
        Size::H => 2,
        Size::W => 4,
        Size::DW => 8,
    }
}

impl Gen<'_> {
    /// The memory operand for an access of `size` at `base + off` by instruction `i`.
    fn address(
        &mut self,
        i: usize,
        base: Reg,
        off: i16,
        size: u32,
        write: bool,
    ) -> Result<AsmMemoryOperand, IcedError> {
        let m = self.operand(i, base, off);
        if !self.opts.checked {
            return Ok(m);
        }
        self.a.lea(r11, m)?;
        self.checked_call(i, size, write)?;
        Ok(ptr(r11))
    }

    /// Checked mode: calls the checker for the address in r11.
    fn checked_call(&mut self, i: usize, size: u32, write: bool) -> Res {
        let log = size.trailing_zeros() as usize;
        let label = match self.checkers[log][write as usize] {
            Some(l) => l,
            None => {
                let l = self.a.create_label();
                self.checkers[log][write as usize] = Some(l);
                l
            }
        };
        self.a.call(label)?;
        let mut ret = self.a.create_label();
        self.bind(&mut ret)?;
        self.check_sites.push((ret, i));
        Ok(())
    }

    pub(super) fn load(
        &mut self,
        i: usize,
        size: Size,
        sign: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    ) -> Res {
        let m = self.address(i, src, off, bytes(size), false)?;
        let a = &mut self.a;
        match (size, sign) {
            (Size::B, false) => a.movzx(d(dst), byte_ptr(m)),
            (Size::H, false) => a.movzx(d(dst), word_ptr(m)),
            (Size::W, false) => a.mov(d(dst), dword_ptr(m)),
            (Size::DW, _) => a.mov(q(dst), qword_ptr(m)),
            (Size::B, true) => a.movsx(q(dst), byte_ptr(m)),
            (Size::H, true) => a.movsx(q(dst), word_ptr(m)),
            (Size::W, true) => a.movsxd(q(dst), dword_ptr(m)),
        }
    }

    pub(super) fn store_imm(&mut self, i: usize, size: Size, dst: Reg, off: i16, imm: i32) -> Res {
        let m = self.address(i, dst, off, bytes(size), true)?;
        let a = &mut self.a;
        match size {
            Size::B => a.mov(byte_ptr(m), imm as i8 as i32),
            Size::H => a.mov(word_ptr(m), imm as i16 as i32),
            Size::W => a.mov(dword_ptr(m), imm),
            Size::DW => a.mov(qword_ptr(m), imm),
        }
    }

    pub(super) fn store_reg(&mut self, i: usize, size: Size, dst: Reg, src: Reg, off: i16) -> Res {
        let m = self.address(i, dst, off, bytes(size), true)?;
        let a = &mut self.a;
        match size {
            Size::B => a.mov(byte_ptr(m), b(src)),
            Size::H => a.mov(word_ptr(m), w(src)),
            Size::W => a.mov(dword_ptr(m), d(src)),
            Size::DW => a.mov(qword_ptr(m), q(src)),
        }
    }

    pub(super) fn atomic(
        &mut self,
        i: usize,
        size: Size,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    ) -> Res {
        let wide = size == Size::DW;
        let n = if wide { 8 } else { 4 };
        let m = if self.opts.checked {
            // Alignment first, as the interpreter checks it before the bounds.
            self.a.lea(r11, ptr(q(dst) + off as i32))?;
            let label = self.a.create_label();
            self.stubs.push(Stub::Misaligned { label, index: i });
            self.a.test(r11b, (n - 1) as i32)?;
            self.a.jne(label)?;
            self.checked_call(i, n, true)?;
            ptr(r11)
        } else {
            ptr(q(dst) + off as i32)
        };
        let sized = |m: AsmMemoryOperand| if wide { qword_ptr(m) } else { dword_ptr(m) };
        match op {
            AtomicOp::Add { fetch: false }
            | AtomicOp::Or { fetch: false }
            | AtomicOp::And { fetch: false }
            | AtomicOp::Xor { fetch: false } => {
                let a = self.a.lock();
                match (op, wide) {
                    (AtomicOp::Add { .. }, true) => a.add(qword_ptr(m), q(src)),
                    (AtomicOp::Add { .. }, false) => a.add(dword_ptr(m), d(src)),
                    (AtomicOp::Or { .. }, true) => a.or(qword_ptr(m), q(src)),
                    (AtomicOp::Or { .. }, false) => a.or(dword_ptr(m), d(src)),
                    (AtomicOp::And { .. }, true) => a.and(qword_ptr(m), q(src)),
                    (AtomicOp::And { .. }, false) => a.and(dword_ptr(m), d(src)),
                    (_, true) => a.xor(qword_ptr(m), q(src)),
                    (_, false) => a.xor(dword_ptr(m), d(src)),
                }
            }
            AtomicOp::Add { fetch: true } => {
                if wide {
                    self.a.lock().xadd(sized(m), q(src))
                } else {
                    self.a.lock().xadd(sized(m), d(src))
                }
            }
            AtomicOp::Xchg => {
                if wide {
                    self.a.xchg(sized(m), q(src))
                } else {
                    self.a.xchg(sized(m), d(src))
                }
            }
            AtomicOp::Cmpxchg => {
                if wide {
                    self.a.lock().cmpxchg(sized(m), q(src))
                } else {
                    self.a.lock().cmpxchg(sized(m), d(src))?;
                    // On success the 32-bit form leaves rax's upper half alone.
                    self.a.mov(eax, eax)
                }
            }
            AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => self.fetch_op(op, wide, m, src),
        }
    }

    /// Fetching or/and/xor: a compare-exchange loop. rax (R0) is kept in r10, the address in
    /// r9, the new value is built in r11.
    fn fetch_op(&mut self, op: AtomicOp, wide: bool, m: AsmMemoryOperand, src: Reg) -> Res {
        // Checked code keeps the budget in r9.
        if self.opts.checked {
            self.a.push(r9)?;
        }
        self.fetch_loop(op, wide, m, src)?;
        if self.opts.checked {
            self.a.pop(r9)?;
        }
        Ok(())
    }

    fn fetch_loop(&mut self, op: AtomicOp, wide: bool, m: AsmMemoryOperand, src: Reg) -> Res {
        self.a.lea(r9, m)?;
        self.a.mov(r10, rax)?;
        // The operand; R0's value now lives in r10.
        let (s64, s32) = if src == Reg::R0 {
            (r10, r10d)
        } else {
            (q(src), d(src))
        };
        let mut retry = self.a.create_label();
        if wide {
            self.a.mov(rax, qword_ptr(r9))?;
        } else {
            self.a.mov(eax, dword_ptr(r9))?;
        }
        self.bind(&mut retry)?;
        if wide {
            self.a.mov(r11, rax)?;
            match op {
                AtomicOp::Or { .. } => self.a.or(r11, s64)?,
                AtomicOp::And { .. } => self.a.and(r11, s64)?,
                _ => self.a.xor(r11, s64)?,
            }
            self.a.lock().cmpxchg(qword_ptr(r9), r11)?;
        } else {
            self.a.mov(r11d, eax)?;
            match op {
                AtomicOp::Or { .. } => self.a.or(r11d, s32)?,
                AtomicOp::And { .. } => self.a.and(r11d, s32)?,
                _ => self.a.xor(r11d, s32)?,
            }
            self.a.lock().cmpxchg(dword_ptr(r9), r11d)?;
        }
        self.a.jne(retry)?;
        // rax = the old value (zero-extended for 32 bits by the 32-bit load/cmpxchg failure,
        // and by this move).
        if wide {
            self.a.mov(q(src), rax)?;
        } else {
            self.a.mov(d(src), eax)?;
        }
        if src != Reg::R0 {
            self.a.mov(rax, r10)?;
        }
        Ok(())
    }
}
