//! Memory regions on the JIT side: the same validation as the interpreter (no overflow, no
//! overlap with each other or the stack area, with the same messages), the region table of
//! checked mode (the dynamic entries that cache packet and map memory, the caller regions,
//! then the eight stack frames at the interpreter's virtual addresses), and the errors of
//! failed accesses in unchecked runs (checked runs ask the interpreter's memory).

use bpfvet_vm::{
    Access, MAX_CALL_FRAMES, MemRegion, RegionInfo, STACK_BASE, STACK_SIZE, VmError, stack_base,
};

use crate::kernel::{DYN_ENTRIES, empty_entry};
use crate::runtime::RegionEntry;

/// Checks `regions` as the interpreter does before a run.
pub(crate) fn validate(regions: &[MemRegion<'_>]) -> Result<(), VmError> {
    let stack_end = stack_base(MAX_CALL_FRAMES);
    let mut spans: Vec<(u64, u64, Option<usize>)> = vec![(STACK_BASE, stack_end, None)];
    for (i, r) in regions.iter().enumerate() {
        let len = r.data.len() as u64;
        let end = r.base.checked_add(len).ok_or_else(|| VmError::BadRegion {
            message: format!(
                "{} region at {:#x} of {len} bytes overflows the address space",
                r.name, r.base
            ),
        })?;
        if len == 0 {
            continue;
        }
        if let Some(&(start, stop, other)) = spans.iter().find(|s| r.base < s.1 && s.0 < end) {
            let other = match other {
                Some(j) => format!("the {} region", regions[j].name),
                None => "the stack area".to_string(),
            };
            return Err(VmError::BadRegion {
                message: format!(
                    "{} region {:#x}..{end:#x} overlaps {other} ({start:#x}..{stop:#x})",
                    r.name, r.base
                ),
            });
        }
        spans.push((r.base, end, Some(i)));
    }
    Ok(())
}

/// The table entry of a region of `len` bytes at virtual `vlo`, host `host`.
pub(crate) fn entry(vlo: u64, len: u64, writable: bool, host: u64) -> RegionEntry {
    let mut e = RegionEntry {
        writable: writable as u64,
        delta: host.wrapping_sub(vlo),
        ..RegionEntry::default()
    };
    for k in 0..4 {
        let size = 1u64 << k;
        // `vlo + len` does not overflow (checked by `validate`).
        match (vlo + len).checked_sub(size) {
            Some(lim) if len >= size => {
                e.lo[k] = vlo;
                e.lim[k] = lim;
            }
            _ => {
                e.lo[k] = u64::MAX;
                e.lim[k] = 0;
            }
        }
    }
    e
}

/// Fills `t` with the checked-mode table: the empty dynamic entries (see `kernel.rs`),
/// `regions`, then the eight frames of `stack` (host memory of `MAX_CALL_FRAMES * STACK_SIZE`
/// bytes).
pub(crate) fn table(t: &mut Vec<RegionEntry>, regions: &mut [MemRegion<'_>], stack: *mut u8) {
    t.clear();
    t.extend((0..DYN_ENTRIES).map(|_| empty_entry()));
    t.extend(regions.iter_mut().map(|r| {
        entry(
            r.base,
            r.data.len() as u64,
            r.writable,
            r.data.as_mut_ptr() as u64,
        )
    }));
    for frame in 0..MAX_CALL_FRAMES {
        let host = stack as u64 + (frame * STACK_SIZE) as u64;
        t.push(entry(stack_base(frame), STACK_SIZE as u64, true, host));
    }
}

/// Rewrites the dynamic and caller regions' entries at the start of a table [`table`] built
/// for as many regions.
pub(crate) fn update(t: &mut [RegionEntry], regions: &mut [MemRegion<'_>]) {
    t[..DYN_ENTRIES].fill(empty_entry());
    for (e, r) in t[DYN_ENTRIES..].iter_mut().zip(regions.iter_mut()) {
        *e = entry(
            r.base,
            r.data.len() as u64,
            r.writable,
            r.data.as_mut_ptr() as u64,
        );
    }
}

fn holds(r: &RegionInfo, addr: u64, size: u32) -> bool {
    let off = addr.wrapping_sub(r.base);
    off.checked_add(size as u64).is_some_and(|end| end <= r.len)
}

/// The error for a failed access of `size` bytes at `addr` by the instruction at `pc`, given
/// the live regions in the interpreter's order (caller regions, then stack frames).
pub(crate) fn fault(
    live: &[RegionInfo],
    pc: usize,
    addr: u64,
    size: u32,
    access: Access,
) -> VmError {
    if access == Access::Write
        && let Some(r) = live.iter().find(|r| holds(r, addr, size))
    {
        return VmError::ReadOnly {
            pc,
            addr,
            size,
            region: r.clone(),
        };
    }
    let distance = |r: &RegionInfo| {
        let end = r.base.wrapping_add(r.len);
        if addr < r.base {
            r.base - addr
        } else if addr >= end {
            addr - end + 1
        } else {
            0
        }
    };
    let nearest = live.iter().min_by_key(|r| distance(r)).cloned();
    VmError::OutOfBounds {
        pc,
        addr,
        size,
        access,
        nearest,
    }
}

/// Unchecked mode: the host address for a register value that points into (or just past) one
/// of `regions`, so programs get host pointers where the interpreter would give virtual ones.
pub(crate) fn to_host(regions: &mut [MemRegion<'_>], value: u64) -> u64 {
    for r in regions.iter_mut() {
        let off = value.wrapping_sub(r.base);
        if off <= r.data.len() as u64 {
            return (r.data.as_mut_ptr() as u64).wrapping_add(off);
        }
    }
    value
}
