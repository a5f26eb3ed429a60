//! The errors of pre-decoding and running a program. Every run-time error names the slot
//! address (`pc`) of the instruction that caused it, as the kernel's verifier log does.

use std::fmt;

use crate::memory::RegionKind;

/// Whether a memory access read or wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    Read,
    Write,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
        })
    }
}

/// A description of one memory region, as error messages show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    pub name: String,
    pub kind: RegionKind,
    pub base: u64,
    pub len: u64,
    pub writable: bool,
}

impl RegionInfo {
    /// One past the last address of the region.
    pub fn end(&self) -> u64 {
        self.base.wrapping_add(self.len)
    }
}

impl fmt::Display for RegionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} region is {:#x}..{:#x} ({} bytes{})",
            self.name,
            self.base,
            self.end(),
            self.len,
            if self.writable { "" } else { ", read-only" }
        )
    }
}

/// Everything that can stop pre-decoding or a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmError {
    /// A load, store or atomic touched bytes outside every live region.
    OutOfBounds {
        pc: usize,
        addr: u64,
        size: u32,
        access: Access,
        /// The live region closest to `addr`.
        nearest: Option<RegionInfo>,
    },
    /// A store or atomic into a read-only region.
    ReadOnly {
        pc: usize,
        addr: u64,
        size: u32,
        region: RegionInfo,
    },
    /// An atomic operation on an address that is not a multiple of its size.
    MisalignedAtomic { pc: usize, addr: u64, size: u32 },
    /// More instructions ran than the budget allows.
    BudgetExhausted { pc: usize, budget: u64 },
    /// A bpf-to-bpf call would have made a ninth frame.
    CallDepth { pc: usize },
    /// A call (or `callx`) to a helper id nobody registered.
    UnknownHelper { pc: usize, id: u64 },
    /// A registered helper returned an error.
    Helper { pc: usize, id: u32, message: String },
    /// A kfunc call; kfuncs live in the kernel.
    Kfunc { pc: usize, btf_id: i32, off: i16 },
    /// An LD_IMM64 whose src field asks the loader for a map, BTF object or function address.
    NeedsLoader { pc: usize, src: u8 },
    /// LD_ABS / LD_IND: legacy packet loads, which need a socket-buffer context.
    LegacyPacketLoad { pc: usize },
    /// `addr_space_cast`, which needs a BPF arena.
    AddrSpaceCast { pc: usize },
    /// Control ran past the last instruction.
    FellOffEnd { pc: usize },
    /// Pre-decoding: an instruction writes R10, the read-only frame pointer.
    FramePointerWrite { pc: usize },
    /// Pre-decoding: a jump or call does not land on an instruction.
    BadTarget { pc: usize, target: i64 },
    /// Pre-decoding: the program has more instructions than fit a 32-bit index.
    TooLarge { slots: usize },
    /// Run set-up: a region overflows the address space or overlaps another one.
    BadRegion { message: String },
    /// An LD_IMM64 map reference (or a map-related operation of the interpreter) that the
    /// run's maps cannot satisfy.
    Map { pc: usize, message: String },
    /// Run set-up: the environment, maps and programs do not fit together.
    Setup { message: String },
    /// A kernel helper the VM cannot provide (`needs` says what it would need).
    UnavailableHelper {
        pc: usize,
        id: u32,
        name: &'static str,
        needs: &'static str,
    },
}

impl VmError {
    /// The slot address of the instruction at fault, if the error has one.
    pub fn pc(&self) -> Option<usize> {
        match *self {
            VmError::OutOfBounds { pc, .. }
            | VmError::ReadOnly { pc, .. }
            | VmError::MisalignedAtomic { pc, .. }
            | VmError::BudgetExhausted { pc, .. }
            | VmError::CallDepth { pc }
            | VmError::UnknownHelper { pc, .. }
            | VmError::Helper { pc, .. }
            | VmError::Kfunc { pc, .. }
            | VmError::NeedsLoader { pc, .. }
            | VmError::LegacyPacketLoad { pc }
            | VmError::AddrSpaceCast { pc }
            | VmError::FellOffEnd { pc }
            | VmError::FramePointerWrite { pc }
            | VmError::BadTarget { pc, .. }
            | VmError::Map { pc, .. }
            | VmError::UnavailableHelper { pc, .. } => Some(pc),
            VmError::TooLarge { .. } | VmError::BadRegion { .. } | VmError::Setup { .. } => None,
        }
    }
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pc) = self.pc() {
            write!(f, "insn {pc}: ")?;
        }
        match self {
            VmError::OutOfBounds {
                addr,
                size,
                access,
                nearest,
                ..
            } => {
                write!(f, "out-of-bounds {access} of {size} bytes at {addr:#x}")?;
                match nearest {
                    Some(r) => write!(f, ": {r}"),
                    None => write!(f, ": no memory region is live"),
                }
            }
            VmError::ReadOnly {
                addr, size, region, ..
            } => write!(
                f,
                "write of {size} bytes at {addr:#x} into a read-only region: {region}"
            ),
            VmError::MisalignedAtomic { addr, size, .. } => write!(
                f,
                "misaligned atomic access of {size} bytes at {addr:#x}: atomics must be naturally aligned"
            ),
            VmError::BudgetExhausted { budget, .. } => {
                write!(f, "instruction budget of {budget} exhausted")
            }
            VmError::CallDepth { .. } => write!(
                f,
                "call stack too deep: more than {} frames",
                crate::MAX_CALL_FRAMES
            ),
            VmError::UnknownHelper { id, .. } => write!(f, "call to unknown helper {id}"),
            VmError::Helper { id, message, .. } => write!(f, "helper {id} failed: {message}"),
            VmError::Kfunc { btf_id, off, .. } => {
                write!(f, "kfunc call (BTF id {btf_id}")?;
                if *off != 0 {
                    write!(f, ", BTF object {off}")?;
                }
                write!(f, ") needs the kernel; the VM cannot run kfuncs")
            }
            VmError::NeedsLoader { src, .. } => {
                write!(f, "LD_IMM64 with src={src} needs the loader")
            }
            VmError::LegacyPacketLoad { .. } => write!(
                f,
                "LD_ABS/LD_IND need a socket-buffer context (run the program with one)"
            ),
            VmError::AddrSpaceCast { .. } => {
                write!(
                    f,
                    "addr_space_cast needs a BPF arena, which the VM does not provide"
                )
            }
            VmError::FellOffEnd { .. } => write!(f, "control fell off the end of the program"),
            VmError::FramePointerWrite { .. } => {
                write!(f, "writes R10, the read-only frame pointer")
            }
            VmError::BadTarget { target, .. } => {
                write!(
                    f,
                    "jump or call target {target} is not an instruction of the program"
                )
            }
            VmError::TooLarge { slots } => {
                write!(f, "program of {slots} slots is too large for the VM")
            }
            VmError::BadRegion { message } => write!(f, "bad memory region: {message}"),
            VmError::Map { message, .. } => write!(f, "{message}"),
            VmError::Setup { message } => write!(f, "cannot run: {message}"),
            VmError::UnavailableHelper {
                id, name, needs, ..
            } => write!(
                f,
                "helper {name} ({id}) cannot run in the VM: it needs {needs}"
            ),
        }
    }
}

impl std::error::Error for VmError {}
