//! Helper functions: the table of helpers a program may `call` by id, the context a helper
//! sees (its five arguments, checked access to the program's memory, the maps and the
//! environment), the helper set the BPF conformance suite expects, and the built-in
//! implementations of the kernel's helpers that make sense in user space
//! ([`Vm::enable_kernel_helpers`](crate::Vm::enable_kernel_helpers); see `table.rs`).
//!
//! Calling convention (as in the kernel): R1–R5 hold the arguments, the result goes to R0.
//! The kernel's calling convention lets a helper clobber R1–R5, and the verifier marks them
//! unreadable after a call; the kernel's own interpreter leaves them untouched, and so does
//! this VM: after a helper call R1–R5 still hold the arguments.

mod checksum;
mod map_ops;
mod misc;
mod packet;
mod printk;
mod printk_helpers;
mod ringbuf;
mod skb_info;
mod skb_ops;
mod table;
mod tunnel;

use std::collections::HashMap;
use std::fmt;

use crate::env::Env;
use crate::maps::Maps;
use crate::memory::Memory;

pub use printk::{ArgMemory, format as format_printk};
pub(crate) use table::{Builtin, builtin, builtin_names};
pub(crate) use tunnel::TunnelInfo;

/// The error a helper returns to stop the run; the VM reports it with the pc and helper id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperError(pub String);

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HelperError {}

impl From<String> for HelperError {
    fn from(s: String) -> HelperError {
        HelperError(s)
    }
}

impl From<&str> for HelperError {
    fn from(s: &str) -> HelperError {
        HelperError(s.to_string())
    }
}

/// What a helper sees: its arguments, the program's memory, the maps and the environment.
///
/// Helpers that need a program context (packet helpers, `xdp_adjust_head`, ...) find the
/// context and packet as the caller's regions of kind [`RegionKind::Context`] and
/// [`RegionKind::Packet`](crate::RegionKind) through [`HelperContext::region`].
///
/// [`RegionKind::Context`]: crate::RegionKind::Context
pub struct HelperContext<'c, 'm> {
    /// R1..=R5 at the call.
    pub args: [u64; 5],
    /// Slot address of the `call` instruction.
    pub pc: usize,
    pub(crate) mem: &'c mut Memory<'m>,
    pub(crate) env: &'c mut Env,
}

impl HelperContext<'_, '_> {
    /// The maps the run has, if any.
    pub fn maps(&mut self) -> Option<&mut Maps> {
        self.mem.maps.as_deref_mut()
    }

    /// The environment (clock, CPU, task, trace output).
    pub fn env(&mut self) -> &mut Env {
        self.env
    }

    /// The NUL-terminated string at `addr` (without its NUL), reading at most `max` bytes.
    pub fn read_str(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        self.mem.read_str(addr, max)
    }

    /// The base address and bytes of the first live caller region of kind `kind`.
    pub fn region(&mut self, kind: crate::RegionKind) -> Option<(u64, &mut [u8])> {
        self.mem.region_of_kind(kind)
    }

    /// The packet of the run's context and the context bytes, for packet helpers; an error
    /// naming the helper if the run has no packet context.
    pub fn packet(&mut self) -> Result<(&mut crate::Packet, &mut [u8]), HelperError> {
        self.mem.packet_and_context().ok_or_else(|| {
            HelperError(
                "this helper needs a packet context (XDP or socket buffer): run the program \
                 with one"
                    .to_string(),
            )
        })
    }

    /// Whether `len` bytes at `addr` are readable.
    pub fn readable(&self, addr: u64, len: usize) -> bool {
        self.mem.read_bytes(addr, len).is_some()
    }

    /// The `len` bytes at virtual address `addr`, which must lie inside one live region.
    pub fn read(&self, addr: u64, len: usize) -> Result<&[u8], HelperError> {
        self.mem
            .read_bytes(addr, len)
            .ok_or_else(|| HelperError(format!("cannot read {len} bytes at {addr:#x}")))
    }

    /// Copies `data` to virtual address `addr`, which must lie inside one live writable region.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), HelperError> {
        let len = data.len();
        let dst = self
            .mem
            .write_bytes(addr, len)
            .ok_or_else(|| HelperError(format!("cannot write {len} bytes at {addr:#x}")))?;
        dst.copy_from_slice(data);
        Ok(())
    }
}

/// A registered helper. Plain `fn([u64; 5]) -> Result<u64, HelperError>` helpers and closures
/// are wrapped into this by [`Vm::register_helper`](crate::Vm::register_helper).
pub type HelperFn = Box<dyn FnMut(&mut HelperContext<'_, '_>) -> Result<u64, HelperError>>;

/// Helpers by id, and whether the built-in kernel helpers serve ids nobody registered.
#[derive(Default)]
pub(crate) struct Helpers {
    map: HashMap<u32, HelperFn>,
    pub builtins: bool,
}

impl Helpers {
    pub fn insert(&mut self, id: u32, f: HelperFn) {
        self.map.insert(id, f);
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut HelperFn> {
        self.map.get_mut(&id)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.map.contains_key(&id)
    }
}

/// The helper id the BPF conformance suite calls (`call 5`, `callx` with 5).
pub const CONFORMANCE_HELPER_ID: u32 = 5;

/// Registers the helpers the BPF conformance suite expects: helper 5 returns its first
/// argument (R0 = R1).
pub fn conformance_helpers(vm: &mut crate::Vm) {
    vm.register_helper(CONFORMANCE_HELPER_ID, |args: [u64; 5]| Ok(args[0]));
}
