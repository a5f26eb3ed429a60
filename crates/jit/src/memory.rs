//! Memory access for helpers: the [`HelperMemory`] trait, which both the interpreter's
//! [`HelperContext`](bpfvet_vm::HelperContext) and the JIT's [`JitMemory`] implement, so a
//! helper written once runs on either engine.
//!
//! [`JitMemory`] checks every range against the run's live regions, like the interpreter: in
//! checked mode the caller's regions and the live stack frames (at their virtual addresses);
//! in unchecked mode the caller's regions and the whole stack area (at host addresses).

use bpfvet_vm::{HelperContext, HelperError};

use crate::runtime::RegionEntry;

/// Reading and writing the program's memory from a helper.
pub trait HelperMemory {
    /// The `len` bytes at `addr`, which must lie inside one live region.
    fn read(&self, addr: u64, len: usize) -> Result<&[u8], HelperError>;
    /// Copies `data` to `addr`, which must lie inside one live writable region.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), HelperError>;
}

impl HelperMemory for HelperContext<'_, '_> {
    fn read(&self, addr: u64, len: usize) -> Result<&[u8], HelperError> {
        HelperContext::read(self, addr, len)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), HelperError> {
        HelperContext::write(self, addr, data)
    }
}

/// The memory of a JIT run, as a helper sees it.
pub struct JitMemory<'r> {
    /// The live region entries.
    live: &'r [RegionEntry],
}

impl<'r> JitMemory<'r> {
    pub(crate) fn new(live: &'r [RegionEntry]) -> JitMemory<'r> {
        JitMemory { live }
    }

    /// The host address of `[addr, addr + len)` if one live region (writable if `write`)
    /// holds it.
    fn host(&self, addr: u64, len: usize, write: bool) -> Option<*mut u8> {
        self.live.iter().rev().find_map(|e| {
            // lo[0]..=lim[0] are the addresses of the region's bytes (none if empty).
            let (lo, last) = (e.lo[0], e.lim[0]);
            let end = addr.checked_add(len as u64)?;
            let fits = lo <= last && addr >= lo && end <= last + 1;
            (fits && (!write || e.writable != 0)).then(|| addr.wrapping_add(e.delta) as *mut u8)
        })
    }
}

impl HelperMemory for JitMemory<'_> {
    fn read(&self, addr: u64, len: usize) -> Result<&[u8], HelperError> {
        let p = self
            .host(addr, len, false)
            .ok_or_else(|| HelperError(format!("cannot read {len} bytes at {addr:#x}")))?;
        // SAFETY: `host` found the range inside one live region of this run: a slice the
        // caller of the run lent mutably, or the program's stack area, valid for the run. The
        // generated code is suspended in the helper call, so nothing else accesses it while
        // this borrow (tied to `self`, which lives only for the call) exists.
        Ok(unsafe { std::slice::from_raw_parts(p, len) })
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), HelperError> {
        let len = data.len();
        let p = self
            .host(addr, len, true)
            .ok_or_else(|| HelperError(format!("cannot write {len} bytes at {addr:#x}")))?;
        // SAFETY: as in `read`, and the region is writable; `data` cannot overlap it mutably
        // borrowed elsewhere, since the only references into run memory are made here.
        unsafe { std::ptr::copy(data.as_ptr(), p, len) };
        Ok(())
    }
}
