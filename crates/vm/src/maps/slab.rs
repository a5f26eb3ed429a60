//! Element storage with stable virtual addresses: slot `s` (CPU `c` for per-CPU maps) of a
//! map lives at a fixed offset in the map's address window, so a pointer a program got from
//! a lookup stays valid while the element lives (and, as with the kernel's preallocated
//! elements, the memory stays addressable after a delete).
//!
//! Each value copy is followed by at least 8 bytes of gap, so an access that runs past one
//! value is caught instead of landing in the next.

use std::ops::Range;

/// Values (or keys) of fixed size, one per slot and CPU, growing on demand.
#[derive(Clone, Debug)]
pub(crate) struct Slab {
    /// Bytes of one value copy.
    pub size: usize,
    /// Distance between consecutive copies (`size` rounded up to 8, plus an 8-byte gap).
    pub stride: usize,
    /// Copies per slot (the number of CPUs for per-CPU maps, else 1).
    pub copies: usize,
    data: Vec<u8>,
}

impl Slab {
    /// An empty slab of values of `size` bytes.
    pub fn new(size: usize, copies: usize) -> Slab {
        Slab {
            size,
            stride: size.next_multiple_of(8) + 8,
            copies,
            data: Vec::new(),
        }
    }

    /// Makes sure slot `slot` has memory (zero-filled).
    pub fn ensure(&mut self, slot: usize) {
        let need = (slot + 1) * self.stride * self.copies;
        if self.data.len() < need {
            self.data.resize(need, 0);
        }
    }

    /// Offset (in the window) of copy `cpu` of slot `slot`.
    pub fn offset(&self, slot: usize, cpu: usize) -> u64 {
        ((slot * self.copies + cpu) * self.stride) as u64
    }

    fn range(&self, slot: usize, cpu: usize) -> Range<usize> {
        let start = (slot * self.copies + cpu) * self.stride;
        start..start + self.size
    }

    /// Copy `cpu` of slot `slot` (which must have memory).
    pub fn get(&self, slot: usize, cpu: usize) -> &[u8] {
        &self.data[self.range(slot, cpu)]
    }

    /// Copy `cpu` of slot `slot`, writable (which must have memory).
    pub fn get_mut(&mut self, slot: usize, cpu: usize) -> &mut [u8] {
        let r = self.range(slot, cpu);
        &mut self.data[r]
    }

    /// Sets every copy of `slot` to zero.
    pub fn clear(&mut self, slot: usize) {
        for cpu in 0..self.copies {
            self.get_mut(slot, cpu).fill(0);
        }
    }

    /// The data range for an access of `len` bytes at window offset `off`, if it lies
    /// inside one value copy with memory behind it.
    pub fn resolve(&self, off: u64, len: usize) -> Option<Range<usize>> {
        let off = usize::try_from(off).ok()?;
        let within = off % self.stride;
        if within.checked_add(len)? > self.size
            || off / self.stride >= self.data.len() / self.stride
        {
            return None;
        }
        Some(off..off + len)
    }

    /// The whole value copy holding window offset `off`: its start offset and bytes (`None`
    /// in a gap or past the memory). An access lies inside it exactly when
    /// [`Slab::resolve`] accepts it.
    pub fn element_mut(&mut self, off: u64) -> Option<(u64, &mut [u8])> {
        let off = usize::try_from(off).ok()?;
        let within = off % self.stride;
        if within >= self.size || off / self.stride >= self.data.len() / self.stride {
            return None;
        }
        let start = off - within;
        Some((start as u64, &mut self.data[start..start + self.size]))
    }

    /// Bytes `r` (from [`Slab::resolve`]).
    pub fn bytes(&self, r: Range<usize>) -> &[u8] {
        &self.data[r]
    }

    /// Bytes `r` (from [`Slab::resolve`]), writable.
    pub fn bytes_mut(&mut self, r: Range<usize>) -> &mut [u8] {
        &mut self.data[r]
    }

    /// The offset of the start of the value copy nearest to window offset `off`.
    pub fn nearest(&self, off: u64) -> Option<u64> {
        let copies = self.data.len() / self.stride;
        if copies == 0 {
            return None;
        }
        let i = (off / self.stride as u64).min(copies as u64 - 1);
        Some(i * self.stride as u64)
    }
}
