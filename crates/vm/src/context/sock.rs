//! Socket-level contexts whose fields point at other objects: `struct sk_msg_md` (sk_msg:
//! the message bytes and the socket), `struct sk_reuseport_md` (sk_reuseport: the packet from
//! the transport header on, the listening socket and maybe a migrating one) and
//! `struct bpf_sock_addr` (cgroup_sock_addr: the socket). Each socket is a
//! `struct bpf_sock` of its own, read-only, placed as a context object.
//!
//! The kernel cannot test-run these types; [`Context::for_test_run`] builds them anyway,
//! from `data_in` (the message or packet) and `ctx_in` (the scalar fields; the pointer and
//! length fields must be 0, as the VM fills them).

use super::layout::{
    BPF_SOCK, BPF_SOCK_ADDR, BPF_SOCK_ADDR_SIZE, BPF_SOCK_SIZE, Field, SK_MSG_MD, SK_MSG_MD_SIZE,
    SK_REUSEPORT_MD, SK_REUSEPORT_MD_SIZE, get, known, put,
};
use super::{
    Context, ContextError, ContextKind, ContextObject, MAX_PACKET_BUFFER, Packet, PacketOwner,
};

const AF_INET: u64 = 2;
const SOCK_STREAM: u64 = 1;
const IPPROTO_TCP: u64 = 6;
const TCP_ESTABLISHED: u64 = 1;
const TCP_CLOSE: u64 = 7;
const TCP_LISTEN: u64 = 10;
/// `ETH_P_IP` (0x0800) in network byte order, as a little-endian load of the field gives it.
const ETH_P_IP_BE: u64 = 0x0008;

/// A TCP/IPv4 `struct bpf_sock` in `state`.
fn socket(index: usize, name: &'static str, state: u64) -> ContextObject {
    let mut b = vec![0u8; BPF_SOCK_SIZE];
    for (f, v) in [
        ("family", AF_INET),
        ("type", SOCK_STREAM),
        ("protocol", IPPROTO_TCP),
        ("state", state),
    ] {
        put(&mut b, known(BPF_SOCK, f), v);
    }
    ContextObject::new(index, name, b, false)
}

/// Copies the scalar fields of `ctx_in` over `built` (the layout `layout` of `size` bytes):
/// bytes past the structure must be 0, and so must the fields in `derived`.
pub(super) fn merge_ctx_in(
    layout: &[Field],
    derived: &[&str],
    built: &mut [u8],
    raw: Option<&[u8]>,
) -> Result<(), ContextError> {
    let Some(raw) = raw else {
        return Ok(());
    };
    let size = built.len();
    if raw.len() > size && raw[size..].iter().any(|&b| b != 0) {
        return Err(ContextError::inval(format!(
            "ctx_in has {} bytes; the structure has {size} and the extra bytes are not zero",
            raw.len()
        )));
    }
    let mut fixed = vec![false; size];
    for name in derived {
        let f = known(layout, name);
        fixed[f.offset..f.offset + f.size].fill(true);
    }
    for (i, &b) in raw.iter().take(size).enumerate() {
        if !fixed[i] {
            built[i] = b;
        } else if b != 0 {
            let name = layout
                .iter()
                .find(|f| (f.offset..f.offset + f.size).contains(&i))
                .map_or("?", |f| f.name);
            return Err(ContextError::inval(format!(
                "ctx_in: field `{name}` (byte {i}) is filled by the VM and must be 0"
            )));
        }
    }
    Ok(())
}

fn check_len(what: &str, data: &[u8]) -> Result<(), ContextError> {
    if data.len() > MAX_PACKET_BUFFER {
        return Err(ContextError::inval(format!(
            "{what} of {} bytes is larger than the VM's {MAX_PACKET_BUFFER}",
            data.len()
        )));
    }
    Ok(())
}

/// Writes the 64-bit `data`/`data_end` pointers of `p` into `bytes`.
fn put_pointers(bytes: &mut [u8], layout: &[Field], p: &Packet) {
    let (_, data, end) = p.pointers();
    put(bytes, known(layout, "data"), data);
    put(bytes, known(layout, "data_end"), end);
}

impl Context {
    /// An sk_msg context over one message (`data` to `data_end`, all of it linear, so
    /// `size` is its length) sent on an established TCP/IPv4 socket (`sk`). Programs may
    /// write the message, not the context.
    pub fn sk_msg(msg: &[u8]) -> Result<Context, ContextError> {
        Context::sk_msg_test_run(msg, None)
    }

    pub(crate) fn sk_msg_test_run(
        msg: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<Context, ContextError> {
        check_len("a message", msg)?;
        let p = Packet::new(PacketOwner::Msg, 0, msg, 0);
        let sk = socket(0, "socket", TCP_ESTABLISHED);
        let mut bytes = vec![0u8; SK_MSG_MD_SIZE];
        put(&mut bytes, known(SK_MSG_MD, "family"), AF_INET);
        let derived = ContextKind::SkMsg.derived_fields();
        merge_ctx_in(SK_MSG_MD, derived, &mut bytes, ctx_in)?;
        put_pointers(&mut bytes, SK_MSG_MD, &p);
        put(&mut bytes, known(SK_MSG_MD, "size"), msg.len() as u64);
        put(&mut bytes, known(SK_MSG_MD, "sk"), sk.base);
        Ok(Context {
            kind: ContextKind::SkMsg,
            bytes,
            packet: Some(p),
            objects: vec![sk],
            ctx_in: ctx_in.is_some(),
        })
    }

    /// An sk_reuseport context: `packet` from the transport header on (read-only; `len` is
    /// its length), an IPv4 TCP packet to a listening socket `sk`; with `migrating`, a
    /// request being migrated from another socket (`migrating_sk`, NULL otherwise).
    pub fn sk_reuseport(packet: &[u8], migrating: bool) -> Result<Context, ContextError> {
        check_len("a packet", packet)?;
        let p = Packet::new(PacketOwner::Reuseport, 0, packet, 0).read_only();
        let mut objects = vec![socket(0, "socket", TCP_LISTEN)];
        if migrating {
            objects.push(socket(1, "migrating socket", TCP_ESTABLISHED));
        }
        let mut bytes = vec![0u8; SK_REUSEPORT_MD_SIZE];
        put_pointers(&mut bytes, SK_REUSEPORT_MD, &p);
        put(
            &mut bytes,
            known(SK_REUSEPORT_MD, "len"),
            packet.len() as u64,
        );
        put(
            &mut bytes,
            known(SK_REUSEPORT_MD, "eth_protocol"),
            ETH_P_IP_BE,
        );
        put(
            &mut bytes,
            known(SK_REUSEPORT_MD, "ip_protocol"),
            IPPROTO_TCP,
        );
        put(&mut bytes, known(SK_REUSEPORT_MD, "sk"), objects[0].base);
        if let Some(m) = objects.get(1) {
            put(&mut bytes, known(SK_REUSEPORT_MD, "migrating_sk"), m.base);
        }
        Ok(Context {
            kind: ContextKind::SkReuseport,
            bytes,
            packet: Some(p),
            objects,
            ctx_in: false,
        })
    }

    /// The test-run form of [`Context::sk_reuseport`]: `ctx_in` gives the scalar fields;
    /// its `migrating_sk` must be 0 (no migration) or 1 (a migrating socket).
    pub(crate) fn sk_reuseport_test_run(
        packet: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<Context, ContextError> {
        let mig = known(SK_REUSEPORT_MD, "migrating_sk");
        let mut raw = ctx_in.map(<[u8]>::to_vec);
        let migrating = match raw.as_mut() {
            Some(r) if r.len() >= mig.offset + mig.size => {
                let m = get(r, mig);
                if m > 1 {
                    return Err(ContextError::inval(
                        "ctx_in: migrating_sk is 0 (none) or 1 (a migrating socket)",
                    ));
                }
                put(r, mig, 0);
                m == 1
            }
            _ => false,
        };
        let mut ctx = Context::sk_reuseport(packet, migrating)?;
        let derived = ContextKind::SkReuseport.derived_fields();
        merge_ctx_in(SK_REUSEPORT_MD, derived, &mut ctx.bytes, raw.as_deref())?;
        ctx.ctx_in = ctx_in.is_some();
        Ok(ctx)
    }

    /// A cgroup_sock_addr context for a TCP/IPv4 socket (`sk`), address fields 0 unless
    /// set; programs may write the address fields the verifier allows for the attach type.
    pub fn sock_addr() -> Context {
        let sk = socket(0, "socket", TCP_CLOSE);
        let mut bytes = vec![0u8; BPF_SOCK_ADDR_SIZE];
        for (f, v) in [
            ("user_family", AF_INET),
            ("family", AF_INET),
            ("type", SOCK_STREAM),
            ("protocol", IPPROTO_TCP),
            ("sk", sk.base),
        ] {
            put(&mut bytes, known(BPF_SOCK_ADDR, f), v);
        }
        Context {
            kind: ContextKind::SockAddr,
            bytes,
            packet: None,
            objects: vec![sk],
            ctx_in: false,
        }
    }

    pub(crate) fn sock_addr_test_run(
        data_in: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<Context, ContextError> {
        if !data_in.is_empty() {
            return Err(ContextError::inval(
                "cgroup_sock_addr programs take their context from ctx_in, not data_in",
            ));
        }
        let mut ctx = Context::sock_addr();
        let derived = ContextKind::SockAddr.derived_fields();
        merge_ctx_in(BPF_SOCK_ADDR, derived, &mut ctx.bytes, ctx_in)?;
        ctx.ctx_in = ctx_in.is_some();
        Ok(ctx)
    }
}
