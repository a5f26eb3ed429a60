//! A packet buffer as the kernel keeps one for XDP and socket-buffer programs: one
//! contiguous allocation with headroom, the bytes the program may touch, and tailroom.
//!
//! Offsets are into the buffer; byte `i` of the buffer is at virtual address
//! [`PACKET_BASE`]` + i`, below 4 GiB so that the 32-bit `data`/`data_end` fields of
//! `struct xdp_md` and `struct __sk_buff` hold the address itself. Programs may access
//! `meta..end` (metadata, then the data); headroom and tailroom are not accessible, so an
//! access the verifier would have refused still faults here.

use crate::error::RegionInfo;
use crate::memory::{PACKET_BASE, RegionKind};

/// Most bytes a packet buffer may grow to (the kernel's `skb` limit is 64 KiB plus headers;
/// the VM's virtual window is larger but bounded).
pub const MAX_PACKET_BUFFER: usize = 1 << 24;

/// Who owns a packet: the context layout that points into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketOwner {
    /// `struct xdp_buff` behind `struct xdp_md`.
    Xdp,
    /// `struct sk_buff` behind `struct __sk_buff`.
    Skb,
    /// The message of an sk_msg program (`struct sk_msg_md`).
    Msg,
    /// The socket buffer behind `struct sk_reuseport_md` (from the transport header on).
    Reuseport,
    /// The frame a flow dissector parses (`struct __sk_buff` with only its packet pointers
    /// and `flow_keys`).
    FlowDissector,
}

/// A packet buffer and the window the program sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub(crate) buf: Vec<u8>,
    pub(crate) owner: PacketOwner,
    /// Start of the metadata (`data_meta`); equals `data` when there is none.
    pub(crate) meta: usize,
    /// Start of the data (`data`).
    pub(crate) data: usize,
    /// End of the data (`data_end`).
    pub(crate) end: usize,
    /// Lowest offset `meta`/`data` may move to (XDP: after the `struct xdp_frame` the kernel
    /// keeps at the start of the frame).
    pub(crate) head_min: usize,
    /// Highest offset `end` may move to without reallocating (XDP: the frame minus the
    /// reserved tailroom; socket buffers grow instead).
    pub(crate) tail_max: usize,
    /// Socket buffers: the MAC header (for `SKF_LL_OFF` loads).
    pub(crate) mac: usize,
    /// Socket buffers: the network header (for `SKF_NET_OFF` loads).
    pub(crate) network: usize,
    /// Socket buffers: the `CHECKSUM_UNNECESSARY` level, if the checksum is marked verified
    /// (`bpf_csum_level`); test runs start with none (`CHECKSUM_NONE`).
    pub(crate) csum_level: Option<u8>,
    /// Socket buffers: the cookie of the buffer's socket, once a program asked for it.
    pub(crate) socket_cookie: Option<u64>,
    /// Socket buffers: whether `bpf_skb_adjust_room` added an encapsulation header (a
    /// second one is refused).
    pub(crate) encapsulated: bool,
    /// Socket buffers: transmit tunnel metadata from `bpf_skb_set_tunnel_key`.
    pub(crate) tunnel: Option<crate::helpers::TunnelInfo>,
    /// Whether programs may write the bytes (flow dissectors and reuseport programs only
    /// read their packet).
    pub(crate) writable: bool,
}

impl Packet {
    /// A buffer of `headroom` zero bytes, `data`, then zeros up to `total` bytes (at least
    /// the data).
    pub(crate) fn new(owner: PacketOwner, headroom: usize, data: &[u8], total: usize) -> Packet {
        let end = headroom + data.len();
        let mut buf = vec![0u8; total.max(end)];
        buf[headroom..end].copy_from_slice(data);
        Packet {
            tail_max: buf.len(),
            buf,
            owner,
            meta: headroom,
            data: headroom,
            end,
            head_min: 0,
            mac: headroom,
            network: headroom,
            csum_level: None,
            socket_cookie: None,
            encapsulated: false,
            tunnel: None,
            writable: true,
        }
    }

    /// The same packet, read-only for programs.
    pub(crate) fn read_only(mut self) -> Packet {
        self.writable = false;
        self
    }

    /// The context layout that points into this packet.
    pub fn owner(&self) -> PacketOwner {
        self.owner
    }

    /// The data bytes (`data..data_end`).
    pub fn data(&self) -> &[u8] {
        &self.buf[self.data..self.end]
    }

    /// The metadata bytes (`data_meta..data`; XDP only).
    pub fn meta(&self) -> &[u8] {
        &self.buf[self.meta..self.data]
    }

    /// Bytes from `off` (a buffer offset, e.g. the MAC header) to the end of the data.
    pub(crate) fn tail_from(&self, off: usize) -> &[u8] {
        &self.buf[off.min(self.end)..self.end]
    }

    /// Virtual address of buffer offset `off`.
    pub fn addr(off: usize) -> u64 {
        PACKET_BASE + off as u64
    }

    /// Virtual addresses of `data_meta`, `data` and `data_end`.
    pub fn pointers(&self) -> (u64, u64, u64) {
        (
            Packet::addr(self.meta),
            Packet::addr(self.data),
            Packet::addr(self.end),
        )
    }

    /// Length of the data (`data_end - data`).
    pub fn len(&self) -> usize {
        self.end - self.data
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.end == self.data
    }

    /// The buffer range of `len` accessible bytes at `addr`.
    fn range(&self, addr: u64, len: usize) -> Option<std::ops::Range<usize>> {
        let off = usize::try_from(addr.checked_sub(PACKET_BASE)?).ok()?;
        let stop = off.checked_add(len)?;
        (off >= self.meta && stop <= self.end).then_some(off..stop)
    }

    /// The accessible window (`data_meta..data_end`): its address and bytes. Helpers that
    /// move the data (adjust head or tail, change the tail, push a VLAN tag, ...) move the
    /// window and may reallocate the buffer.
    pub fn window_mut(&mut self) -> (u64, &mut [u8]) {
        (Packet::addr(self.meta), &mut self.buf[self.meta..self.end])
    }

    /// `len` accessible bytes at `addr`.
    pub(crate) fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.range(addr, len).map(|r| &self.buf[r])
    }

    /// `len` accessible bytes at `addr`, writable.
    pub(crate) fn bytes_mut(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        if !self.writable {
            return None;
        }
        self.range(addr, len).map(move |r| &mut self.buf[r])
    }

    /// The accessible window as error messages show it.
    pub(crate) fn region_info(&self) -> RegionInfo {
        RegionInfo {
            name: "packet".to_string(),
            kind: RegionKind::Packet,
            base: Packet::addr(self.meta),
            len: (self.end - self.meta) as u64,
            writable: self.writable,
        }
    }

    /// LD_ABS/LD_IND: `size` bytes (1, 2 or 4; 8 is refused by the kernel's decoder) at
    /// `offset` from the data, big-endian; negative offsets from `SKF_NET_OFF` and
    /// `SKF_LL_OFF` count from the network and MAC headers. `None` when out of bounds (the
    /// program then returns 0).
    pub fn ld_abs(&self, offset: i32, size: usize) -> Option<u64> {
        const SKF_NET_OFF: i32 = -0x10_0000;
        const SKF_LL_OFF: i32 = -0x20_0000;
        let base = self.data as i64;
        let start = if offset >= 0 {
            base + offset as i64
        } else if offset >= SKF_NET_OFF {
            (offset - SKF_NET_OFF) as i64 + self.network as i64
        } else if offset >= SKF_LL_OFF {
            (offset - SKF_LL_OFF) as i64 + self.mac as i64
        } else {
            return None;
        };
        if !matches!(size, 1 | 2 | 4) || start < 0 || start + size as i64 > self.end as i64 {
            return None;
        }
        let s = start as usize;
        Some(
            self.buf[s..s + size]
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | b as u64),
        )
    }

    /// Makes room for `extra` more bytes before the buffer's start, shifting every offset.
    pub(crate) fn grow_head(&mut self, extra: usize) -> bool {
        if self.buf.len() + extra > MAX_PACKET_BUFFER {
            return false;
        }
        self.buf.splice(0..0, std::iter::repeat_n(0, extra));
        for o in [
            &mut self.meta,
            &mut self.data,
            &mut self.end,
            &mut self.mac,
            &mut self.network,
            &mut self.tail_max,
        ] {
            *o += extra;
        }
        true
    }

    /// Makes the buffer at least `len` bytes long (socket buffers grow their tail).
    pub(crate) fn grow_tail(&mut self, len: usize) -> bool {
        if len > MAX_PACKET_BUFFER {
            return false;
        }
        if self.buf.len() < len {
            self.buf.resize(len, 0);
            self.tail_max = self.tail_max.max(len);
        }
        true
    }
}
