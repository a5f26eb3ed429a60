//! Stack liveness (the kernel's read marks along the parentage chain). A read of a stack
//! slot that the current path has not wholly overwritten since its last checkpoint depends
//! on the value the slot held there: the read is marked in that checkpoint, and further up
//! until a checkpoint whose own stretch wrote the slot. A finished checkpoint's marks are
//! complete, so pruning against it can ignore the slots nothing read.

use crate::explore::Verifier;
use crate::state::State;

/// The slot index (0 = fp-8..fp-1) of a byte offset below the frame pointer.
fn spi_of(off: i64) -> Option<u32> {
    if (-512..0).contains(&off) {
        Some(((-off - 1) / 8) as u32)
    } else {
        None
    }
}

/// The slots covering bytes `lo..hi` (offsets from the frame pointer).
pub fn slot_mask(lo: i64, hi: i64) -> u64 {
    let (lo, hi) = (lo.max(-512), hi.min(0));
    match (spi_of(hi - 1), spi_of(lo)) {
        (Some(first), Some(last)) if lo < hi => (first..=last).fold(0, |m, spi| m | 1 << spi),
        _ => 0,
    }
}

/// The slot wholly covered by an aligned 8-byte write at `off`, if any.
pub fn full_slot(off: i64, size: i64) -> u64 {
    if size == 8 && off % 8 == 0 {
        spi_of(off).map_or(0, |spi| 1 << spi)
    } else {
        0
    }
}

impl Verifier<'_> {
    /// The current path read the slots `mask` of frame `frame`.
    pub fn mark_stack_read(&mut self, st: &State, frame: usize, mask: u64) {
        let Some(f) = st.frames.get(frame) else {
            return;
        };
        let mut need = mask & !f.written;
        let mut p = self.cur_parent;
        while need != 0 {
            let Some(id) = p else {
                return;
            };
            let Some(cp) = self.checkpoints.state_mut(id) else {
                return;
            };
            let Some(cf) = cp.frames.get_mut(frame) else {
                return;
            };
            // Already marked here: the walk that marked it went on up.
            need &= !cf.read;
            if need != 0 {
                self.marks_added += 1;
            }
            cf.read |= need;
            need &= !cf.written;
            p = self.checkpoints.parent_of(id);
        }
    }

    /// `cur` was pruned against the finished checkpoint `old`: what `old`'s continuations
    /// read, `cur`'s ancestors must keep.
    pub fn propagate_stack_reads(&mut self, old: &State, cur: &State) {
        for (fi, f) in old.frames.iter().enumerate() {
            if f.read != 0 {
                self.mark_stack_read(cur, fi, f.read);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(slot_mask(-8, 0), 1);
        assert_eq!(slot_mask(-12, -4), 0b11);
        assert_eq!(slot_mask(-520, -504), 1 << 63);
        assert_eq!(full_slot(-16, 8), 0b10);
        assert_eq!(full_slot(-12, 8), 0);
        assert_eq!(full_slot(-16, 4), 0);
    }
}
