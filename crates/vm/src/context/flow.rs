//! The flow dissector context: a `struct __sk_buff` of which programs may only read `data`,
//! `data_end` (32-bit pointers over the frame, from its Ethernet header, read-only) and
//! `flow_keys` (a 64-bit pointer to a writable `struct bpf_flow_keys`, a context object).
//! As the kernel's test run: the frame needs an Ethernet header; the keys start zeroed with
//! `nhoff` and `thoff` at the network header (14), `n_proto` the frame's EtherType and
//! `flags` from `ctx_in` (a `struct bpf_flow_keys` of which only `flags` may be set).
//! `data_out` is the keys after the run, `nhoff` and `thoff` clamped into the frame as the
//! kernel does; `ctx_out` is a zeroed `struct bpf_flow_keys` with the keys' `flags` (the
//! kernel hands `ctx_in` back, which is the same unless the program changed `flags`).

use super::layout::{FLOW_KEYS, FLOW_KEYS_SIZE, SK_BUFF, SK_BUFF_SIZE, get, known, put};
use super::{
    Context, ContextError, ContextKind, ContextObject, MAX_PACKET_BUFFER, Packet, PacketOwner,
};

const ETH_HLEN: usize = 14;

impl Context {
    /// A flow dissector context over one Ethernet frame, with dissector `flags`.
    pub fn flow_dissector(frame: &[u8], flags: u32) -> Result<Context, ContextError> {
        if frame.len() < ETH_HLEN {
            return Err(ContextError::inval(format!(
                "a flow dissector needs at least {ETH_HLEN} bytes (an Ethernet header), got {}",
                frame.len()
            )));
        }
        if frame.len() > MAX_PACKET_BUFFER {
            return Err(ContextError::inval(format!(
                "a frame of {} bytes is larger than the VM's {MAX_PACKET_BUFFER}",
                frame.len()
            )));
        }
        let p = Packet::new(PacketOwner::FlowDissector, 0, frame, 0).read_only();
        let mut keys = vec![0u8; FLOW_KEYS_SIZE];
        let n_proto = u16::from_le_bytes([frame[12], frame[13]]);
        for (f, v) in [
            ("nhoff", ETH_HLEN as u64),
            ("thoff", ETH_HLEN as u64),
            ("n_proto", n_proto as u64),
            ("flags", flags as u64),
        ] {
            put(&mut keys, known(FLOW_KEYS, f), v);
        }
        let keys = ContextObject::new(0, "flow keys", keys, true);
        let mut bytes = vec![0u8; SK_BUFF_SIZE];
        let (_, data, end) = p.pointers();
        put(&mut bytes, known(SK_BUFF, "data"), data);
        put(&mut bytes, known(SK_BUFF, "data_end"), end);
        put(&mut bytes, known(SK_BUFF, "flow_keys"), keys.base);
        Ok(Context {
            kind: ContextKind::FlowDissector,
            bytes,
            packet: Some(p),
            objects: vec![keys],
            ctx_in: false,
        })
    }

    pub(crate) fn flow_dissector_test_run(
        frame: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<Context, ContextError> {
        let mut flags = 0;
        if let Some(raw) = ctx_in {
            let mut keys = vec![0u8; FLOW_KEYS_SIZE];
            if raw.len() > FLOW_KEYS_SIZE && raw[FLOW_KEYS_SIZE..].iter().any(|&b| b != 0) {
                return Err(ContextError::inval(
                    "ctx_in is larger than struct bpf_flow_keys and the extra bytes are not zero",
                ));
            }
            let n = raw.len().min(FLOW_KEYS_SIZE);
            keys[..n].copy_from_slice(&raw[..n]);
            let f = known(FLOW_KEYS, "flags");
            flags = get(&keys, f) as u32;
            put(&mut keys, f, 0);
            if keys.iter().any(|&b| b != 0) {
                return Err(ContextError::inval(
                    "ctx_in: only `flags` of struct bpf_flow_keys may be set",
                ));
            }
        }
        let mut ctx = Context::flow_dissector(frame, flags)?;
        ctx.ctx_in = ctx_in.is_some();
        Ok(ctx)
    }
}

/// `data_out` of a flow dissector run: the flow keys, `nhoff` clamped to the network
/// header..the frame's end and `thoff` to `nhoff`..the frame's end.
pub(super) fn data_out(ctx: &Context) -> Vec<u8> {
    let (Some(keys), Some(p)) = (ctx.object("flow keys"), ctx.packet()) else {
        return Vec::new();
    };
    let mut out = keys.bytes().to_vec();
    let hlen = p.len() as u64;
    let (nf, tf) = (known(FLOW_KEYS, "nhoff"), known(FLOW_KEYS, "thoff"));
    let nhoff = get(&out, nf).clamp(ETH_HLEN as u64, hlen);
    let thoff = get(&out, tf).clamp(nhoff, hlen);
    put(&mut out, nf, nhoff);
    put(&mut out, tf, thoff);
    out
}

/// `ctx_out` of a flow dissector run: zeroed keys but for `flags`.
pub(super) fn ctx_out(ctx: &Context) -> Vec<u8> {
    let mut out = vec![0u8; FLOW_KEYS_SIZE];
    if let Some(keys) = ctx.object("flow keys") {
        let f = known(FLOW_KEYS, "flags");
        put(&mut out, f, get(keys.bytes(), f));
    }
    out
}
