//! The memory model: a small set of regions, each a byte slice placed at a virtual base
//! address, and the checked loads, stores and atomics every memory instruction goes through.
//!
//! Registers hold virtual addresses (`u64`), never host pointers. Each access must lie wholly
//! inside one live region (and a writable one for stores); anything else is reported with the
//! nearest region. Lookups try the region that served the previous access first, then scan the
//! (few) live regions.
//!
//! The stack is one 512-byte region per call frame, at [`stack_base`]`(frame)`; R10 points at its
//! end. Only the frames of calls in progress are live.

use std::borrow::Cow;

use crate::MAX_CALL_FRAMES;
use crate::context::{MAX_PACKET_BUFFER, Packet};
use crate::error::{Access, RegionInfo, VmError};
use crate::maps::Maps;

/// Bytes of stack per call frame, as in the kernel.
pub const STACK_SIZE: usize = 512;
/// Base of the addresses `LD_IMM64 func(label)` loads: program `p`'s instruction `i` (its
/// index among the program's instructions) is at `FUNC_BASE + (p << 32) + 8 * i`. No memory
/// is there.
pub const FUNC_BASE: u64 = 0x7000_0000_0000;

/// Virtual address of frame 0's stack region.
pub const STACK_BASE: u64 = 0x1_0000_0000;
/// Distance between the stack regions of consecutive frames (the gap catches overflows).
pub const STACK_FRAME_SPACING: u64 = 0x1_0000;
/// Virtual address at which [`Vm::run`](crate::Vm::run) places the input memory.
pub const INPUT_BASE: u64 = 0x2_0000_0000;
/// A suggested base for a program context (`struct __sk_buff`, `struct xdp_md`, ...).
pub const CONTEXT_BASE: u64 = 0x3_0000_0000;
/// Where program contexts put packet buffers: below 4 GiB (and below 2 GiB, so even a
/// sign-extended 32-bit load gives it back), because `struct xdp_md` and `struct __sk_buff`
/// hand packet pointers to programs in 32-bit fields.
pub const PACKET_BASE: u64 = 0x4000_0000;
/// A suggested base for the first map value; give each map value its own slot above it.
pub const MAP_VALUE_BASE: u64 = 0x5_0000_0000;

/// Virtual address of the stack region of call frame `frame` (0 = the entry function).
/// R10 of that frame is `stack_base(frame) + STACK_SIZE`.
pub const fn stack_base(frame: usize) -> u64 {
    STACK_BASE + frame as u64 * STACK_FRAME_SPACING
}

/// Names of the stack regions, without allocating on every run.
const STACK_NAMES: [&str; MAX_CALL_FRAMES] = [
    "frame 0 stack",
    "frame 1 stack",
    "frame 2 stack",
    "frame 3 stack",
    "frame 4 stack",
    "frame 5 stack",
    "frame 6 stack",
    "frame 7 stack",
];

/// What a region holds; used in error messages and by later tools (contexts, maps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// The stack of call frame `frame`.
    Stack { frame: u8 },
    /// The input memory of [`Vm::run`](crate::Vm::run) (R1 = its address, R2 = its length).
    Input,
    /// A program context such as `struct __sk_buff`.
    Context,
    /// Packet data.
    Packet,
    /// A map value.
    MapValue,
    /// Anything else.
    Other,
}

impl RegionKind {
    /// The name used when a region is not given one.
    pub fn default_name(self) -> Cow<'static, str> {
        match self {
            RegionKind::Stack { frame } => match STACK_NAMES.get(frame as usize) {
                Some(name) => Cow::Borrowed(name),
                None => Cow::Owned(format!("frame {frame} stack")),
            },
            RegionKind::Input => Cow::Borrowed("input"),
            RegionKind::Context => Cow::Borrowed("context"),
            RegionKind::Packet => Cow::Borrowed("packet"),
            RegionKind::MapValue => Cow::Borrowed("map value"),
            RegionKind::Other => Cow::Borrowed("memory"),
        }
    }
}

/// A caller-provided memory region for [`Vm::run_with_regions`](crate::Vm::run_with_regions).
#[derive(Debug)]
pub struct MemRegion<'m> {
    /// Virtual address of `data[0]`.
    pub base: u64,
    pub data: &'m mut [u8],
    pub writable: bool,
    pub kind: RegionKind,
    pub name: Cow<'static, str>,
}

impl<'m> MemRegion<'m> {
    /// A writable region named after its kind.
    pub fn new(kind: RegionKind, base: u64, data: &'m mut [u8]) -> MemRegion<'m> {
        MemRegion {
            base,
            data,
            writable: true,
            kind,
            name: kind.default_name(),
        }
    }

    /// The same region, read-only.
    pub fn read_only(mut self) -> MemRegion<'m> {
        self.writable = false;
        self
    }

    /// The same region with another name for error messages.
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> MemRegion<'m> {
        self.name = name.into();
        self
    }
}

/// The part of a region every access looks at.
struct Hot<'m> {
    base: u64,
    data: &'m mut [u8],
    writable: bool,
}

impl Hot<'_> {
    #[inline(always)]
    fn chunk<const N: usize>(&self, addr: u64) -> Option<&[u8; N]> {
        let off = usize::try_from(addr.wrapping_sub(self.base)).ok()?;
        self.data.get(off..)?.first_chunk::<N>()
    }

    #[inline(always)]
    fn chunk_mut<const N: usize>(&mut self, addr: u64) -> Option<&mut [u8; N]> {
        let off = usize::try_from(addr.wrapping_sub(self.base)).ok()?;
        self.data.get_mut(off..)?.first_chunk_mut::<N>()
    }

    fn range(&self, addr: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let off = usize::try_from(addr.wrapping_sub(self.base)).ok()?;
        let end = off.checked_add(len)?;
        (end <= self.data.len()).then_some(off..end)
    }
}

/// The live memory of one run: caller regions first, then one stack region per frame.
pub(crate) struct Memory<'m> {
    hot: Vec<Hot<'m>>,
    info: Vec<(Cow<'static, str>, RegionKind)>,
    /// Regions `0..live` are accessible: the caller's and the stacks of frames in progress.
    live: usize,
    /// The region that served the last access; always `< live`.
    cache: usize,
    /// The maps whose values, keys and ring buffer records are memory too (checked after
    /// the regions).
    pub maps: Option<&'m mut Maps>,
    /// The packet of a program context (checked after the regions, before the maps).
    pub packet: Option<&'m mut Packet>,
}

impl<'m> Memory<'m> {
    /// Checks the caller's regions (no overflow, no overlap with each other or the stack
    /// area) and adds the stack regions carved from `stack` (`MAX_CALL_FRAMES * STACK_SIZE`).
    /// Allocates only the two region lists.
    pub fn new(
        regions: impl IntoIterator<Item = MemRegion<'m>>,
        stack: &'m mut [u8],
    ) -> Result<Memory<'m>, VmError> {
        let regions = regions.into_iter();
        let cap = regions.size_hint().0 + MAX_CALL_FRAMES;
        let mut hot: Vec<Hot<'m>> = Vec::with_capacity(cap);
        let mut info: Vec<(Cow<'static, str>, RegionKind)> = Vec::with_capacity(cap);
        let stack_end = stack_base(MAX_CALL_FRAMES);
        for r in regions {
            let len = r.data.len() as u64;
            let end = r.base.checked_add(len).ok_or_else(|| VmError::BadRegion {
                message: format!(
                    "{} region at {:#x} of {len} bytes overflows the address space",
                    r.name, r.base
                ),
            })?;
            if len > 0 {
                // The stack area first, then the earlier regions, in order.
                let overlaps = |start: u64, stop: u64| r.base < stop && start < end;
                let clash = if overlaps(STACK_BASE, stack_end) {
                    Some((STACK_BASE, stack_end, "the stack area".to_string()))
                } else {
                    hot.iter()
                        .zip(&info)
                        .filter(|(h, _)| !h.data.is_empty())
                        .map(|(h, i)| (h.base, h.base + h.data.len() as u64, i))
                        .find(|&(start, stop, _)| overlaps(start, stop))
                        .map(|(start, stop, i)| (start, stop, format!("the {} region", i.0)))
                };
                if let Some((start, stop, other)) = clash {
                    return Err(VmError::BadRegion {
                        message: format!(
                            "{} region {:#x}..{end:#x} overlaps {other} ({start:#x}..{stop:#x})",
                            r.name, r.base
                        ),
                    });
                }
            }
            hot.push(Hot {
                base: r.base,
                data: r.data,
                writable: r.writable,
            });
            info.push((r.name, r.kind));
        }
        let fixed = hot.len();
        for (frame, data) in stack
            .chunks_mut(STACK_SIZE)
            .take(MAX_CALL_FRAMES)
            .enumerate()
        {
            hot.push(Hot {
                base: stack_base(frame),
                data,
                writable: true,
            });
            let kind = RegionKind::Stack { frame: frame as u8 };
            info.push((kind.default_name(), kind));
        }
        Ok(Memory {
            hot,
            info,
            live: fixed + 1,
            cache: fixed,
            maps: None,
            packet: None,
        })
    }

    /// Makes the values, keys and ring buffer records of `maps` accessible. The caller's
    /// regions must not overlap the maps' address windows.
    pub fn attach_maps(&mut self, maps: &'m mut Maps) -> Result<(), VmError> {
        let (start, end) = (crate::memory::MAP_VALUE_BASE, maps.windows_end());
        for (i, h) in self.hot.iter().enumerate() {
            let len = h.data.len() as u64;
            if len > 0 && h.base < end && start < h.base + len {
                return Err(VmError::BadRegion {
                    message: format!(
                        "{} region at {:#x} overlaps the map area {start:#x}..{end:#x}",
                        self.info[i].0, h.base
                    ),
                });
            }
        }
        self.maps = Some(maps);
        Ok(())
    }

    /// Makes the accessible window of `packet` memory. The caller's regions must not overlap
    /// the packet area.
    pub fn attach_packet(&mut self, packet: &'m mut Packet) -> Result<(), VmError> {
        let (start, end) = (PACKET_BASE, PACKET_BASE + MAX_PACKET_BUFFER as u64);
        for (i, h) in self.hot.iter().enumerate() {
            let len = h.data.len() as u64;
            if len > 0 && h.base < end && start < h.base + len {
                return Err(VmError::BadRegion {
                    message: format!(
                        "{} region at {:#x} overlaps the packet area {start:#x}..{end:#x}",
                        self.info[i].0, h.base
                    ),
                });
            }
        }
        self.packet = Some(packet);
        Ok(())
    }

    /// Number of live regions (the caller's, then the stacks of the frames in progress).
    pub fn live_regions(&self) -> usize {
        self.live
    }

    /// Makes the stack of one more frame live.
    #[inline]
    pub fn push_frame(&mut self) {
        self.live += 1;
    }

    /// Retires the stack of the innermost frame.
    #[inline]
    pub fn pop_frame(&mut self) {
        self.live -= 1;
        if self.cache >= self.live {
            self.cache = 0;
        }
    }

    /// Reads `N` bytes at `addr`, or `None` if they are not inside one live region.
    #[inline(always)]
    pub fn load<const N: usize>(&mut self, addr: u64) -> Option<[u8; N]> {
        if let Some(h) = self.hot.get(self.cache)
            && let Some(b) = h.chunk::<N>(addr)
        {
            return Some(*b);
        }
        self.load_slow(addr)
    }

    #[inline(never)]
    fn load_slow<const N: usize>(&mut self, addr: u64) -> Option<[u8; N]> {
        for (i, h) in self.hot[..self.live].iter().enumerate() {
            if let Some(b) = h.chunk::<N>(addr) {
                self.cache = i;
                return Some(*b);
            }
        }
        if let Some(p) = self.packet.as_deref()
            && let Some(b) = p.bytes(addr, N)
        {
            return b.try_into().ok();
        }
        let bytes = self.maps.as_ref()?.bytes(addr, N)?;
        bytes.try_into().ok()
    }

    /// Writes `N` bytes at `addr`; false if they are not inside one live writable region.
    #[inline(always)]
    pub fn store<const N: usize>(&mut self, addr: u64, bytes: [u8; N]) -> bool {
        match self.slot::<N>(addr) {
            Some(c) => {
                *c = bytes;
                true
            }
            None => false,
        }
    }

    /// The `N` writable bytes at `addr` (for stores and atomics).
    #[inline(always)]
    pub fn slot<const N: usize>(&mut self, addr: u64) -> Option<&mut [u8; N]> {
        let cache = self.cache;
        let hit =
            matches!(self.hot.get(cache), Some(h) if h.writable && h.chunk::<N>(addr).is_some());
        if hit {
            return self.hot[cache].chunk_mut::<N>(addr);
        }
        self.slot_slow(addr)
    }

    #[inline(never)]
    fn slot_slow<const N: usize>(&mut self, addr: u64) -> Option<&mut [u8; N]> {
        let found = self.hot[..self.live]
            .iter()
            .position(|h| h.writable && h.chunk::<N>(addr).is_some());
        match found {
            Some(i) => {
                self.cache = i;
                self.hot[i].chunk_mut::<N>(addr)
            }
            None => {
                if self
                    .packet
                    .as_deref()
                    .is_some_and(|p| p.bytes(addr, N).is_some())
                {
                    return self
                        .packet
                        .as_deref_mut()?
                        .bytes_mut(addr, N)?
                        .try_into()
                        .ok();
                }
                self.maps.as_mut()?.bytes_mut(addr, N)?.try_into().ok()
            }
        }
    }

    /// `len` readable bytes at `addr` inside one live region or map element (for helpers).
    pub fn read_bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let found = self.hot[..self.live]
            .iter()
            .find_map(|h| h.range(addr, len).map(|r| &h.data[r]));
        match found {
            Some(b) => Some(b),
            None => match self.packet.as_deref().and_then(|p| p.bytes(addr, len)) {
                Some(b) => Some(b),
                None => self.maps.as_ref()?.bytes(addr, len),
            },
        }
    }

    /// `len` writable bytes at `addr` inside one live writable region or map element (for
    /// helpers).
    pub fn write_bytes(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let found = self.hot[..self.live]
            .iter()
            .position(|h| h.writable && h.range(addr, len).is_some());
        match found {
            Some(i) => {
                let r = self.hot[i].range(addr, len)?;
                Some(&mut self.hot[i].data[r])
            }
            None => {
                if self
                    .packet
                    .as_deref()
                    .is_some_and(|p| p.bytes(addr, len).is_some())
                {
                    return self.packet.as_deref_mut()?.bytes_mut(addr, len);
                }
                self.maps.as_mut()?.bytes_mut(addr, len)
            }
        }
    }

    /// The first live caller region of kind `kind`: its base and bytes.
    pub fn region_of_kind(&mut self, kind: RegionKind) -> Option<(u64, &mut [u8])> {
        let i = (0..self.live).find(|&i| self.info[i].1 == kind)?;
        let h = &mut self.hot[i];
        Some((h.base, &mut *h.data))
    }

    /// The packet and the bytes of the first live context region, for packet helpers.
    pub fn packet_and_context(&mut self) -> Option<(&mut Packet, &mut [u8])> {
        let i = (0..self.live).find(|&i| self.info[i].1 == RegionKind::Context)?;
        let ctx = &mut *self.hot[i].data;
        let p = self.packet.as_deref_mut()?;
        Some((p, ctx))
    }

    /// The NUL-terminated string at `addr` (without the NUL), reading at most `max` bytes;
    /// `None` if a byte before the NUL (or the `max`th) is not readable.
    pub fn read_str(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for i in 0..max as u64 {
            let b = self.read_bytes(addr.wrapping_add(i), 1)?[0];
            if b == 0 {
                return Some(out);
            }
            out.push(b);
        }
        Some(out)
    }

    fn region_info(&self, i: usize) -> RegionInfo {
        let (name, kind) = &self.info[i];
        let h = &self.hot[i];
        RegionInfo {
            name: name.to_string(),
            kind: *kind,
            base: h.base,
            len: h.data.len() as u64,
            writable: h.writable,
        }
    }

    /// The error for a failed access of `size` bytes at `addr` by the instruction at `pc`.
    #[cold]
    #[inline(never)]
    pub fn fault(&self, pc: usize, addr: u64, size: u32, access: Access) -> VmError {
        let live = &self.hot[..self.live];
        if access == Access::Write
            && let Some(i) = live
                .iter()
                .position(|h| h.range(addr, size as usize).is_some())
        {
            return VmError::ReadOnly {
                pc,
                addr,
                size,
                region: self.region_info(i),
            };
        }
        if let Some(maps) = &self.maps
            && let Some(region) = maps.region_info(addr)
        {
            if access == Access::Write && maps.bytes(addr, size as usize).is_some() {
                return VmError::ReadOnly {
                    pc,
                    addr,
                    size,
                    region,
                };
            }
            return VmError::OutOfBounds {
                pc,
                addr,
                size,
                access,
                nearest: Some(region),
            };
        }
        let distance = |h: &Hot| {
            let end = h.base.wrapping_add(h.data.len() as u64);
            if addr < h.base {
                h.base - addr
            } else if addr >= end {
                addr - end + 1
            } else {
                0
            }
        };
        let nearest = (0..live.len()).min_by_key(|&i| distance(&live[i]));
        let mut nearest = nearest.map(|i| (distance(&live[i]), self.region_info(i)));
        if let Some(p) = self.packet.as_deref() {
            let info = p.region_info();
            let d = if addr < info.base {
                info.base - addr
            } else {
                addr.saturating_sub(info.end()).saturating_add(1)
            };
            if nearest.as_ref().is_none_or(|(best, _)| d < *best) {
                nearest = Some((d, info));
            }
        }
        VmError::OutOfBounds {
            pc,
            addr,
            size,
            access,
            nearest: nearest.map(|(_, r)| r),
        }
    }
}
