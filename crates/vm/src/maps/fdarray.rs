//! Arrays whose entries refer to other objects and may be empty: prog arrays (program
//! indices in the VM's program set), array-of-maps (map indices), perf event arrays (an open
//! "event" per entry, with the records programs send to it), and the XDP redirect targets
//! devmap, cpumap and xskmap (their raw values).

/// One record a program sent with `bpf_perf_event_output`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PerfRecord {
    /// The perf event array index (usually the CPU) the record went to.
    pub index: u32,
    /// The record's bytes.
    pub data: Vec<u8>,
}

/// Entries that may be empty, plus captured perf records.
#[derive(Clone, Debug)]
pub(crate) struct FdArray {
    pub entries: Vec<Option<Vec<u8>>>,
    pub records: Vec<PerfRecord>,
}

impl FdArray {
    pub fn new(max: u32) -> FdArray {
        FdArray {
            entries: vec![None; max as usize],
            records: Vec::new(),
        }
    }

    /// The entry at `index` as a `u32` (program or map index, event number).
    pub fn get_u32(&self, index: u32) -> Option<u32> {
        let v = self.entries.get(index as usize)?.as_ref()?;
        Some(u32::from_le_bytes(v.get(..4)?.try_into().ok()?))
    }
}
