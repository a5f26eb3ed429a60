//! The VM's kernel helpers for another engine (the JIT): the engine hands over its memory —
//! the same regions, stack, maps and packet, seen at the interpreter's virtual addresses —
//! as a [`ForeignMemory`], and each helper runs exactly as it does in the interpreter. The
//! helpers that change control flow are the engine's business: `bpf_tail_call` (it switches
//! programs) and the callback helpers, whose rules are shared through [`CallbackHost`],
//! [`bpf_loop`] and [`for_each_map_elem`].

use bpfvet_isa::helpers::helper_name;

use crate::MAX_CALL_FRAMES;
use crate::context::Packet;
use crate::env::Env;
use crate::error::{Access, VmError};
use crate::helpers::{Builtin, HelperContext, builtin};
use crate::maps::Maps;
use crate::memory::{MemRegion, Memory, STACK_SIZE};

pub use crate::calls::{CallbackHost, bpf_loop, for_each_map_elem};

/// How the VM serves a kernel helper id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelHelper {
    /// An ordinary helper: [`ForeignMemory::call_helper`] runs it.
    Plain,
    /// `bpf_tail_call`.
    TailCall,
    /// `bpf_loop`: see [`bpf_loop`].
    Loop,
    /// `bpf_for_each_map_elem`: see [`for_each_map_elem`].
    ForEachMapElem,
    /// A kernel helper the VM cannot provide ([`ForeignMemory::call_helper`] gives the
    /// interpreter's error).
    Unavailable,
    /// Not a kernel helper id.
    Unknown,
}

/// How the VM serves kernel helper `id`.
pub fn kernel_helper(id: u64) -> KernelHelper {
    match builtin(id) {
        Some(Builtin::Plain(_)) => KernelHelper::Plain,
        Some(Builtin::TailCall) => KernelHelper::TailCall,
        Some(Builtin::Loop) => KernelHelper::Loop,
        Some(Builtin::ForEachMapElem) => KernelHelper::ForEachMapElem,
        Some(Builtin::Unavailable(_)) => KernelHelper::Unavailable,
        None => KernelHelper::Unknown,
    }
}

/// A run's memory as the interpreter would see it, made from another engine's buffers.
pub struct ForeignMemory<'m> {
    mem: Memory<'m>,
    /// Number of caller regions (the stack regions follow).
    fixed: usize,
}

impl<'m> ForeignMemory<'m> {
    /// The caller's `regions`, the stack area (`MAX_CALL_FRAMES * STACK_SIZE` bytes, frame
    /// `i` at `stack_base(i)`) with frames `0..frames` live, and the run's maps and packet.
    /// Fails as the interpreter's run set-up does for overlapping regions.
    pub fn new(
        regions: impl IntoIterator<Item = MemRegion<'m>>,
        stack: &'m mut [u8],
        frames: usize,
        maps: Option<&'m mut Maps>,
        packet: Option<&'m mut Packet>,
    ) -> Result<ForeignMemory<'m>, VmError> {
        if stack.len() != MAX_CALL_FRAMES * STACK_SIZE {
            return Err(VmError::Setup {
                message: format!(
                    "a stack area of {} bytes: expected {}",
                    stack.len(),
                    MAX_CALL_FRAMES * STACK_SIZE
                ),
            });
        }
        let mut mem = Memory::new(regions, stack)?;
        let fixed = mem.live_regions() - 1;
        for _ in 1..frames.clamp(1, MAX_CALL_FRAMES) {
            mem.push_frame();
        }
        if let Some(maps) = maps {
            mem.attach_maps(maps)?;
        }
        if let Some(packet) = packet {
            mem.attach_packet(packet)?;
        }
        Ok(ForeignMemory { mem, fixed })
    }

    /// Makes the stacks of frames `0..frames` (at least one) the live ones, as the engine's
    /// calls and returns change them.
    pub fn set_frames(&mut self, frames: usize) {
        let want = self.fixed + frames.clamp(1, MAX_CALL_FRAMES);
        while self.mem.live_regions() < want {
            self.mem.push_frame();
        }
        while self.mem.live_regions() > want {
            self.mem.pop_frame();
        }
    }

    /// The maps of the run.
    pub fn maps_mut(&mut self) -> Option<&mut Maps> {
        self.mem.maps.as_deref_mut()
    }

    /// The packet of the run.
    pub fn packet_mut(&mut self) -> Option<&mut Packet> {
        self.mem.packet.as_deref_mut()
    }

    /// Runs kernel helper `id` (one that [`kernel_helper`] calls [`KernelHelper::Plain`])
    /// with R1–R5 = `args`, called by the instruction at `pc`; errors are the interpreter's.
    pub fn call_helper(
        &mut self,
        env: &mut Env,
        id: u64,
        args: [u64; 5],
        pc: usize,
    ) -> Result<u64, VmError> {
        match builtin(id) {
            Some(Builtin::Plain(f)) => {
                let mut ctx = HelperContext {
                    args,
                    pc,
                    mem: &mut self.mem,
                    env,
                };
                f(&mut ctx).map_err(|e| VmError::Helper {
                    pc,
                    id: id as u32,
                    message: e.0,
                })
            }
            Some(Builtin::Unavailable(needs)) => Err(VmError::UnavailableHelper {
                pc,
                id: id as u32,
                name: helper_name(id as i32).unwrap_or("?"),
                needs,
            }),
            Some(Builtin::TailCall | Builtin::Loop | Builtin::ForEachMapElem) => {
                Err(VmError::Setup {
                    message: format!(
                        "insn {pc}: helper {id} changes control flow; the engine runs it itself"
                    ),
                })
            }
            None => Err(VmError::UnknownHelper { pc, id }),
        }
    }

    /// The interpreter's error for a failed access of `size` bytes at `addr` by the
    /// instruction at `pc`.
    pub fn fault(&self, pc: usize, addr: u64, size: u32, access: Access) -> VmError {
        self.mem.fault(pc, addr, size, access)
    }
}
