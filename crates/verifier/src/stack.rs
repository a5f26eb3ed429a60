//! The stack of one call frame: 8-byte slots below the frame pointer, each with a per-byte
//! kind (invalid / misc / zero / part of a spilled register) and the spilled register's state.
//! Slot `spi` covers bytes `[fp - 8*(spi+1), fp - 8*spi)`; byte `b` of a slot (as the kernel
//! numbers them, 0 = highest address) holds the byte at `fp - 8*spi - 1 - b`.

use crate::reg::{RegState, RegType};

/// `MAX_BPF_STACK`.
pub const MAX_STACK: i64 = 512;

/// What one stack byte holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteKind {
    /// Never written (`?`).
    Invalid,
    /// Part of a spilled register (`r`).
    Spill,
    /// Written with unknown data (`m`).
    Misc,
    /// Known zero (`0`).
    Zero,
    /// Part of an open-coded iterator's state (`STACK_ITER`, `i`).
    Iter,
}

impl ByteKind {
    pub fn log_char(self) -> char {
        match self {
            ByteKind::Invalid => '?',
            ByteKind::Spill => 'r',
            ByteKind::Misc => 'm',
            ByteKind::Zero => '0',
            ByteKind::Iter => 'i',
        }
    }
}

/// Where an iterator is in its life (`enum bpf_iter_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IterState {
    /// `next` may still return an element.
    Active,
    /// `next` returned NULL and keeps returning NULL.
    Drained,
}

impl IterState {
    /// The kernel's log name.
    pub fn name(self) -> &'static str {
        match self {
            IterState::Active => "active",
            IterState::Drained => "drained",
        }
    }
}

/// An iterator living in stack slots (what the kernel keeps in the slot's `spilled_ptr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IterSlot {
    /// The iterator's reference (acquired by its `new`); only the first (highest) slot of a
    /// multi-slot iterator holds it, the others 0.
    pub ref_id: u32,
    /// The iterator's kind: its struct's name without `bpf_iter_` (`num` for `struct
    /// bpf_iter_num`); an iterator is only accepted by the kfuncs of its own kind.
    pub kind: &'static str,
    pub state: IterState,
    /// `next` calls simulated on the ACTIVE path (not compared when pruning).
    pub depth: u32,
}

/// One 8-byte slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub bytes: [ByteKind; 8],
    /// The spilled register when `bytes[7]` is `Spill` (type NotInit otherwise).
    pub spilled: RegState,
    /// The iterator when the bytes are `Iter`.
    pub iter: Option<IterSlot>,
}

impl Slot {
    pub fn empty() -> Slot {
        Slot {
            bytes: [ByteKind::Invalid; 8],
            spilled: RegState::not_init(),
            iter: None,
        }
    }

    /// The slot holds (part of) an iterator (`STACK_ITER`).
    pub fn is_iter(&self) -> bool {
        self.bytes[7] == ByteKind::Iter
    }

    /// A register is spilled here (the kernel's `is_spilled_reg`: the last byte is a spill).
    pub fn is_spill(&self) -> bool {
        self.bytes[7] == ByteKind::Spill
    }

    /// Number of bytes the spill covers, counted from byte 7 down.
    pub fn spill_size(&self) -> usize {
        let mut n = 0;
        for b in self.bytes.iter().rev() {
            if *b == ByteKind::Spill {
                n += 1;
            } else {
                break;
            }
        }
        n
    }

    /// A full 8-byte spill of a scalar.
    pub fn is_scalar_spill(&self) -> bool {
        self.bytes.iter().all(|b| *b == ByteKind::Spill) && self.spilled.ty == RegType::Scalar
    }

    /// Every byte written (not `?`).
    pub fn all_init(&self) -> bool {
        self.bytes.iter().all(|b| *b != ByteKind::Invalid)
    }
}

/// One frame's stack; grows on demand in 8-byte slots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stack {
    pub slots: Vec<Slot>,
}

/// Slot index and byte index of the byte at `off` (negative, from the frame pointer).
pub fn locate(off: i64) -> (usize, usize) {
    let slot = (-off - 1) as usize;
    (slot / 8, slot % 8)
}

impl Stack {
    /// `allocated_stack`: bytes covered by slots.
    pub fn allocated(&self) -> i64 {
        self.slots.len() as i64 * 8
    }

    /// Grows so that `off` (negative) is covered.
    pub fn grow_to(&mut self, off: i64) {
        let need = ((-off + 7) / 8) as usize;
        while self.slots.len() < need {
            self.slots.push(Slot::empty());
        }
    }

    pub fn slot(&self, spi: usize) -> Option<&Slot> {
        self.slots.get(spi)
    }

    pub fn slot_mut(&mut self, spi: usize) -> &mut Slot {
        if spi >= self.slots.len() {
            self.slots.resize(spi + 1, Slot::empty());
        }
        &mut self.slots[spi]
    }

    /// The kind of the byte at `off`.
    pub fn byte(&self, off: i64) -> ByteKind {
        let (spi, b) = locate(off);
        self.slots
            .get(spi)
            .map_or(ByteKind::Invalid, |s| s.bytes[b])
    }

    /// Spills `reg` (`size` bytes) into the slot of the 8-aligned offset `off`: the covered
    /// bytes become spill bytes, the rest of the slot keeps zero/invalid bytes and becomes misc
    /// otherwise.
    pub fn spill(&mut self, off: i64, reg: RegState, size: usize) {
        let (spi, _) = locate(off);
        let slot = self.slot_mut(spi);
        slot.spilled = reg;
        slot.iter = None;
        for i in (8 - size..8).rev() {
            slot.bytes[i] = ByteKind::Spill;
        }
        for i in 0..8 - size {
            slot.bytes[i] = match slot.bytes[i] {
                ByteKind::Zero => ByteKind::Zero,
                ByteKind::Invalid => ByteKind::Invalid,
                _ => ByteKind::Misc,
            };
        }
    }

    /// A write that is not a spill: the slot's spill (if any) is scrubbed to misc, then the
    /// written bytes become `kind`.
    pub fn write_bytes(&mut self, off: i64, size: usize, kind: ByteKind) {
        for i in 0..size as i64 {
            let (spi, _) = locate(off + i);
            let slot = self.slot_mut(spi);
            if slot.is_iter() || slot.iter.is_some() {
                // A plain write over an iterator scrubs the whole slot to misc data (the
                // iterator's reference stays acquired).
                slot.iter = None;
                for b in &mut slot.bytes {
                    if *b != ByteKind::Invalid {
                        *b = ByteKind::Misc;
                    }
                }
            }
            if slot.spilled.ty != RegType::NotInit || slot.bytes.contains(&ByteKind::Spill) {
                slot.spilled = RegState::not_init();
                for b in &mut slot.bytes {
                    if *b == ByteKind::Spill {
                        *b = ByteKind::Misc;
                    }
                }
            }
        }
        for i in 0..size as i64 {
            let (spi, b) = locate(off + i);
            self.slot_mut(spi).bytes[b] = kind;
        }
    }

    /// The log text of a slot's bytes, in the kernel's order.
    pub fn bytes_text(slot: &Slot) -> String {
        slot.bytes.iter().map(|b| b.log_char()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_numbering() {
        assert_eq!(locate(-1), (0, 0));
        assert_eq!(locate(-8), (0, 7));
        assert_eq!(locate(-9), (1, 0));
        let mut s = Stack::default();
        s.write_bytes(-8, 4, ByteKind::Misc);
        assert_eq!(Stack::bytes_text(&s.slots[0]), "????mmmm");
        s.write_bytes(-4, 4, ByteKind::Zero);
        assert_eq!(Stack::bytes_text(&s.slots[0]), "0000mmmm");
        s.spill(-16, RegState::constant(3), 4);
        assert_eq!(Stack::bytes_text(&s.slots[1]), "????rrrr");
        assert_eq!(s.slots[1].spill_size(), 4);
        s.write_bytes(-13, 1, ByteKind::Misc);
        assert_eq!(Stack::bytes_text(&s.slots[1]), "????mmmm");
        assert!(!s.slots[1].is_spill());
    }
}
