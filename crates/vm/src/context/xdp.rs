//! `struct xdp_md` over an XDP frame as `BPF_PROG_TEST_RUN` builds it: a 4 KiB page with
//! [`XDP_HEADROOM`] bytes of headroom (the `struct xdp_frame` at its start stays out of
//! reach), the data, and [`XDP_TAILROOM`] bytes reserved at the end; the receive queue is
//! queue 0 of the loopback device (ifindex 1).

use super::layout::{XDP_MD, XDP_MD_SIZE, get, known, put};
use super::{Context, ContextError, ContextKind, Packet, PacketOwner};

/// Size of an XDP frame (one page).
pub const XDP_PAGE_SIZE: usize = 4096;
/// `XDP_PACKET_HEADROOM`.
pub const XDP_HEADROOM: usize = 256;
/// The tailroom kept for `struct skb_shared_info` (`SKB_DATA_ALIGN` of its size on x86-64).
pub const XDP_TAILROOM: usize = 320;
/// `sizeof(struct xdp_frame)`: `xdp_adjust_head`/`xdp_adjust_meta` cannot move below it.
pub const XDP_FRAME_SIZE: usize = 40;
/// The loopback device's ifindex.
const LOOPBACK_IFINDEX: u64 = 1;
/// Most metadata bytes (`xdp_metalen_invalid`: a multiple of 4, at most 32).
const MAX_META: usize = 32;

/// Refreshes the pointer fields of `ctx` from the packet.
pub(crate) fn sync(ctx: &mut [u8], p: &Packet) {
    if ctx.len() < XDP_MD_SIZE {
        return;
    }
    let (meta, data, end) = p.pointers();
    put(ctx, known(XDP_MD, "data"), data);
    put(ctx, known(XDP_MD, "data_end"), end);
    put(ctx, known(XDP_MD, "data_meta"), meta);
}

/// `ctx_out` of a test run: offsets of data and data_end from data_meta, the rest as given.
pub(crate) fn ctx_out(ctx: &[u8], p: &Packet) -> Vec<u8> {
    let mut out = ctx.to_vec();
    put(&mut out, known(XDP_MD, "data"), (p.data - p.meta) as u64);
    put(&mut out, known(XDP_MD, "data_end"), (p.end - p.meta) as u64);
    put(&mut out, known(XDP_MD, "data_meta"), 0);
    out
}

fn frame(data: &[u8], meta_len: usize) -> Result<Packet, ContextError> {
    let max = XDP_PAGE_SIZE - XDP_HEADROOM - XDP_TAILROOM;
    if data.len() < 14 {
        return Err(ContextError::inval(format!(
            "XDP needs at least 14 bytes of data (an Ethernet header), got {}",
            data.len()
        )));
    }
    if data.len() > max + meta_len {
        return Err(ContextError::inval(format!(
            "{} bytes do not fit one XDP frame (at most {max}; multi-buffer frames are not \
             supported)",
            data.len()
        )));
    }
    let headroom = XDP_HEADROOM - meta_len;
    let mut p = Packet::new(PacketOwner::Xdp, headroom, data, XDP_PAGE_SIZE);
    p.data = headroom + meta_len;
    p.head_min = XDP_FRAME_SIZE;
    p.tail_max = XDP_PAGE_SIZE - XDP_TAILROOM;
    Ok(p)
}

impl Context {
    /// An XDP context for one packet received on queue 0 of the loopback device.
    pub fn xdp(data: &[u8]) -> Result<Context, ContextError> {
        let p = frame(data, 0)?;
        let mut bytes = vec![0u8; XDP_MD_SIZE];
        put(
            &mut bytes,
            known(XDP_MD, "ingress_ifindex"),
            LOOPBACK_IFINDEX,
        );
        sync(&mut bytes, &p);
        Ok(Context {
            kind: ContextKind::Xdp,
            bytes,
            packet: Some(p),
            objects: Vec::new(),
            ctx_in: false,
        })
    }

    /// The XDP context of `BPF_PROG_TEST_RUN`: with `ctx_in`, its `data` is the length of
    /// metadata at the start of `data_in`, `data_end` must equal the length of `data_in`,
    /// `data_meta` and `egress_ifindex` must be 0; a queue needs an interface.
    pub(crate) fn xdp_test_run(
        data: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<Context, ContextError> {
        let Some(raw) = ctx_in else {
            return Context::xdp(data);
        };
        if raw.len() > XDP_MD_SIZE && raw[XDP_MD_SIZE..].iter().any(|&b| b != 0) {
            return Err(ContextError::inval(
                "ctx_in is larger than struct xdp_md and the extra bytes are not zero",
            ));
        }
        let mut md = vec![0u8; XDP_MD_SIZE];
        let n = raw.len().min(XDP_MD_SIZE);
        md[..n].copy_from_slice(&raw[..n]);
        let field = |name: &str| get(&md, known(XDP_MD, name));
        let (meta_len, data_end) = (field("data") as usize, field("data_end") as usize);
        if field("data_meta") != 0 || data_end != data.len() || meta_len > data_end {
            return Err(ContextError::inval(
                "ctx_in: data_meta must be 0, data_end the length of data_in, and data at \
                 most data_end",
            ));
        }
        if !meta_len.is_multiple_of(4) || meta_len > MAX_META {
            return Err(ContextError::inval(format!(
                "ctx_in: {meta_len} bytes of metadata (a multiple of 4, at most {MAX_META})"
            )));
        }
        if field("egress_ifindex") != 0 {
            return Err(ContextError::inval("ctx_in: egress_ifindex must be 0"));
        }
        let (ifindex, queue) = (field("ingress_ifindex"), field("rx_queue_index"));
        if ifindex == 0 && queue != 0 {
            return Err(ContextError::inval(
                "ctx_in: rx_queue_index needs an ingress_ifindex",
            ));
        }
        if data.len() - meta_len < 14 {
            return Err(ContextError::inval(
                "XDP needs at least 14 bytes of data after the metadata",
            ));
        }
        let p = frame(data, meta_len)?;
        if ifindex == 0 {
            put(&mut md, known(XDP_MD, "ingress_ifindex"), LOOPBACK_IFINDEX);
        }
        sync(&mut md, &p);
        Ok(Context {
            kind: ContextKind::Xdp,
            bytes: md,
            packet: Some(p),
            objects: Vec::new(),
            ctx_in: true,
        })
    }
}
