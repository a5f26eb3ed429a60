//! BPF ring buffer: producer and consumer positions counted in bytes as the kernel does (each
//! record takes an 8-byte header plus its data, rounded up to 8), so reservations fail at
//! exactly the same fill levels. A reserved record's data is writable program memory at
//! `window + (position mod size) + 8` until it is submitted or discarded; committed records
//! wait for the user to read them, in order, skipping discarded ones.

use std::collections::VecDeque;

/// Bytes of a record header.
pub const HDR_SZ: u64 = 8;
/// Largest record the kernel accepts (`UINT_MAX / 4`).
const MAX_RECORD: u64 = u32::MAX as u64 / 4;

/// `BPF_RB_NO_WAKEUP`.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
/// `BPF_RB_FORCE_WAKEUP`.
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// `bpf_ringbuf_query` flags.
pub const BPF_RB_AVAIL_DATA: u64 = 0;
pub const BPF_RB_RING_SIZE: u64 = 1;
pub const BPF_RB_CONS_POS: u64 = 2;
pub const BPF_RB_PROD_POS: u64 = 3;

/// The state of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecState {
    Busy,
    Committed,
    Discarded,
}

#[derive(Clone, Debug)]
pub(crate) struct Record {
    /// Producer position of the header.
    pub pos: u64,
    pub data: Vec<u8>,
    pub state: RecState,
}

impl Record {
    /// Bytes the record takes in the ring.
    fn footprint(&self) -> u64 {
        (self.data.len() as u64 + HDR_SZ).next_multiple_of(8)
    }
}

/// A ring buffer of `size` bytes (a power of two).
#[derive(Clone, Debug)]
pub(crate) struct Ringbuf {
    pub size: u64,
    pub producer: u64,
    pub consumer: u64,
    /// Records not yet consumed, oldest first.
    pub records: VecDeque<Record>,
    /// Wakeups the program asked for (submits without `BPF_RB_NO_WAKEUP`).
    pub wakeups: u64,
}

impl Ringbuf {
    pub fn new(size: u32) -> Ringbuf {
        Ringbuf {
            size: size as u64,
            producer: 0,
            consumer: 0,
            records: VecDeque::new(),
            wakeups: 0,
        }
    }

    fn mask(&self) -> u64 {
        self.size - 1
    }

    /// Reserves a record of `size` bytes; returns the window offset of its data.
    pub fn reserve(&mut self, size: u64) -> Option<u64> {
        if size > MAX_RECORD {
            return None;
        }
        let len = (size + HDR_SZ).next_multiple_of(8);
        if len > self.size {
            return None;
        }
        // The oldest record not yet committed (or discarded) bounds the producer too.
        let pending = self
            .records
            .iter()
            .find(|r| r.state == RecState::Busy)
            .map_or(self.producer, |r| r.pos);
        let new_prod = self.producer + len;
        if new_prod - self.consumer > self.mask() || new_prod - pending > self.mask() {
            return None;
        }
        let pos = self.producer;
        self.records.push_back(Record {
            pos,
            data: vec![0; size as usize],
            state: RecState::Busy,
        });
        self.producer = new_prod;
        Some((pos & self.mask()) + HDR_SZ)
    }

    /// The busy record whose data starts at window offset `off`.
    pub fn busy_at(&mut self, off: u64) -> Option<&mut Record> {
        let mask = self.mask();
        self.records
            .iter_mut()
            .find(|r| r.state == RecState::Busy && (r.pos & mask) + HDR_SZ == off)
    }

    /// The busy record whose data holds bytes `off..off + len` of the window.
    pub fn busy_containing(&self, off: u64, len: u64) -> Option<(usize, usize)> {
        let mask = self.mask();
        self.records.iter().enumerate().find_map(|(i, r)| {
            let start = (r.pos & mask) + HDR_SZ;
            let end = start + r.data.len() as u64;
            (r.state == RecState::Busy && off >= start && off + len <= end)
                .then(|| (i, (off - start) as usize))
        })
    }

    /// Commits or discards the busy record at `off`; false if there is none.
    pub fn commit(&mut self, off: u64, discard: bool, flags: u64) -> bool {
        let Some(r) = self.busy_at(off) else {
            return false;
        };
        r.state = if discard {
            RecState::Discarded
        } else {
            RecState::Committed
        };
        if flags & BPF_RB_NO_WAKEUP == 0 {
            self.wakeups += 1;
        }
        true
    }

    /// Bytes produced but not consumed.
    pub fn avail(&self) -> u64 {
        self.producer - self.consumer
    }

    /// The committed records a consumer would read now (it stops at the first busy one).
    pub fn readable(&self) -> Vec<Vec<u8>> {
        self.records
            .iter()
            .take_while(|r| r.state != RecState::Busy)
            .filter(|r| r.state == RecState::Committed)
            .map(|r| r.data.clone())
            .collect()
    }

    /// Reads and removes the readable records, advancing the consumer position.
    pub fn consume(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(r) = self.records.front() {
            if r.state == RecState::Busy {
                break;
            }
            let r = self.records.pop_front().expect("front exists");
            self.consumer = r.pos + r.footprint();
            if r.state == RecState::Committed {
                out.push(r.data);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_accounting_matches_the_kernel() {
        let mut rb = Ringbuf::new(4096);
        // At most 4095 bytes may be in flight: records of 1000 + 8 take 1008 bytes each.
        assert_eq!(rb.reserve(1000), Some(8));
        assert_eq!(rb.reserve(1000), Some(1016));
        assert_eq!(rb.reserve(1000), Some(2024));
        assert_eq!(rb.reserve(1000), Some(3032));
        assert_eq!(rb.reserve(56), None, "4032 + 64 > 4095");
        assert_eq!(rb.reserve(48), Some(4040), "4032 + 56 <= 4095");
        assert!(rb.commit(8, false, 0));
        assert_eq!(rb.consume().len(), 1);
        assert_eq!(rb.consumer, 1008);
        // A record may run past the end of the ring (it wraps).
        assert_eq!(rb.reserve(900), Some(4088 + 8));
        // 5000 + 112 - 1008 (the consumer) > 4095.
        assert_eq!(rb.reserve(100), None);
    }
}
