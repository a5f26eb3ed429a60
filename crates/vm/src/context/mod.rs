//! Program contexts laid out exactly as the kernel exposes them to programs, so the offsets
//! the verifier allows are the offsets the VM serves: `struct xdp_md` over a packet buffer
//! with headroom (`xdp.rs`), `struct __sk_buff` filled from the packet and metadata
//! (`skb.rs`), and the tracing contexts — x86-64 `pt_regs` for kprobes, raw tracepoint
//! arguments, tracepoint records, `bpf_perf_event_data` (`trace.rs`), the socket-level
//! contexts `sk_msg_md`, `sk_reuseport_md` and `bpf_sock_addr` (`sock.rs`) and the flow
//! dissector's (`flow.rs`). `layout.rs` has the field tables, `packet.rs` the packet buffer.
//!
//! Pointers to other objects (a context's `struct bpf_sock`, a flow dissector's
//! `struct bpf_flow_keys`) lead to [`ContextObject`]s: regions of exactly the structure's
//! size at [`CONTEXT_OBJECT_BASE`], so an access past them faults.
//!
//! A [`Context`] is built either directly (`Context::xdp`, `Context::skb`,
//! `Context::kprobe`, ...) or as the kernel's `BPF_PROG_TEST_RUN` builds it from
//! `data_in`/`ctx_in` ([`Context::for_test_run`]); [`Vm::run_context`](crate::Vm::run_context)
//! runs a program on it, and [`Context::data_out`]/[`Context::ctx_out`] give what
//! `BPF_PROG_TEST_RUN` would hand back.
//!
//! Packet pointers: the context holds the 32-bit virtual address of the packet bytes
//! (buffers live at [`PACKET_BASE`](crate::PACKET_BASE), below 4 GiB), so a program's
//! 4-byte load of `data` gives a pointer it can dereference, as after the kernel's
//! context-access rewriting.
//!
//! XDP: the program drops frames shorter than 60 bytes and strips the first 4 bytes of the
//! others with `bpf_xdp_adjust_head`.
//!
//! ```
//! use bpfvet_isa::{asm, Dialect, Program};
//! use bpfvet_vm::{Context, Vm};
//!
//! let text = "
//!     r6 = r1
//!     r2 = *(u32 *)(r6 + 0)
//!     r3 = *(u32 *)(r6 + 4)
//!     r3 -= r2
//!     r0 = 1
//!     if r3 < 60 goto out
//!     r1 = r6
//!     r2 = 4
//!     call bpf_xdp_adjust_head
//!     r0 = 2
//! out:
//!     exit
//! ";
//! let mut vm = Vm::new(&Program::from_insns(asm::assemble(text, Dialect::Llvm).unwrap())).unwrap();
//! vm.enable_kernel_helpers();
//! let frame: Vec<u8> = (0..64).collect();
//! let mut ctx = Context::xdp(&frame).unwrap();
//! assert_eq!(vm.run_context(&mut ctx).unwrap().r0, 2); // XDP_PASS
//! assert_eq!(ctx.data_out(), frame[4..]);
//! let mut short = Context::xdp(&frame[..20]).unwrap();
//! assert_eq!(vm.run_context(&mut short).unwrap().r0, 1); // XDP_DROP
//! ```
//!
//! Socket buffers: a TC classifier reads `skb->len` and `skb->protocol`, sets the mark.
//!
//! ```
//! use bpfvet_isa::{asm, Dialect, Program};
//! use bpfvet_vm::{Context, SkbKind, Vm};
//!
//! let text = "
//!     r2 = *(u32 *)(r1 + 0)
//!     r3 = *(u32 *)(r1 + 16)
//!     *(u32 *)(r1 + 8) = r3
//!     r0 = r2
//!     exit
//! ";
//! let mut vm = Vm::new(&Program::from_insns(asm::assemble(text, Dialect::Llvm).unwrap())).unwrap();
//! let mut frame = vec![0u8; 34];
//! frame[12..14].copy_from_slice(&[0x08, 0x00]); // IPv4
//! let mut ctx = Context::skb(SkbKind::Tc, &frame).unwrap();
//! assert_eq!(vm.run_context(&mut ctx).unwrap().r0, 34);
//! assert_eq!(ctx.get("mark"), Some(0x0008)); // the big-endian protocol, as loaded
//! // Socket filters see the data from the network header on.
//! let mut ctx = Context::skb(SkbKind::SocketFilter, &frame).unwrap();
//! assert_eq!(vm.run_context(&mut ctx).unwrap().r0, 20);
//! ```
//!
//! Tracing: a kprobe reads its second argument (`PT_REGS_PARM2`, register si).
//!
//! ```
//! use bpfvet_isa::{asm, Dialect, Program};
//! use bpfvet_vm::{Context, Vm};
//!
//! let text = "r0 = *(u64 *)(r1 + 104)\nexit";
//! let mut vm = Vm::new(&Program::from_insns(asm::assemble(text, Dialect::Llvm).unwrap())).unwrap();
//! let mut ctx = Context::kprobe(&[3, 4096]).unwrap();
//! assert_eq!(vm.run_context(&mut ctx).unwrap().r0, 4096);
//! let mut raw = Context::raw_tracepoint(&[7, 8]).unwrap();
//! // Two raw arguments are 16 bytes: reading at offset 104 faults.
//! assert!(vm.run_context(&mut raw).is_err());
//! ```

mod flow;
mod layout;
mod packet;
mod skb;
mod sock;
mod trace;
mod xdp;

use std::fmt;

pub use layout::{
    ARG_REGS, BPF_SOCK, BPF_SOCK_ADDR, BPF_SOCK_ADDR_SIZE, BPF_SOCK_SIZE, FLOW_KEYS,
    FLOW_KEYS_SIZE, Field, PERF_EVENT_DATA, PERF_EVENT_DATA_SIZE, PT_REGS, PT_REGS_SIZE, SK_BUFF,
    SK_BUFF_SIZE, SK_MSG_MD, SK_MSG_MD_SIZE, SK_REUSEPORT_MD, SK_REUSEPORT_MD_SIZE, XDP_MD,
    XDP_MD_SIZE, field,
};
pub use packet::{MAX_PACKET_BUFFER, Packet, PacketOwner};
pub use skb::SkbKind;
pub use xdp::{XDP_FRAME_SIZE, XDP_HEADROOM, XDP_PAGE_SIZE, XDP_TAILROOM};

pub(crate) use layout::{get as layout_get, put as layout_put};
pub(crate) use skb::sync as sync_skb;
pub(crate) use xdp::sync as sync_xdp;

/// Where the objects a context points at (its socket, its flow keys) are placed: object
/// `i` of a context at `CONTEXT_OBJECT_BASE + i * CONTEXT_OBJECT_SPACING`, each a region
/// of exactly its structure's size.
pub const CONTEXT_OBJECT_BASE: u64 = crate::CONTEXT_BASE + 0x8000_0000;
/// Distance between consecutive context objects (the gaps catch overruns).
pub const CONTEXT_OBJECT_SPACING: u64 = 0x1000;

/// `EINVAL`, as `BPF_PROG_TEST_RUN` returns for bad input.
pub const EINVAL: i32 = 22;
/// `ENOTSUPP` (524): the kernel cannot test-run this program type.
pub const ENOTSUPP: i32 = 524;

/// Why a context cannot be built (the errno `BPF_PROG_TEST_RUN` would return, and why).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextError {
    pub errno: i32,
    pub message: String,
}

impl ContextError {
    pub(crate) fn inval(message: impl Into<String>) -> ContextError {
        ContextError {
            errno: EINVAL,
            message: message.into(),
        }
    }
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ContextError {}

/// Which layout a context has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextKind {
    /// `struct xdp_md`.
    Xdp,
    /// `struct __sk_buff`, with the flavour of the program type.
    Skb(SkbKind),
    /// x86-64 `struct pt_regs` (kprobe programs).
    Kprobe,
    /// A tracepoint's raw record.
    Tracepoint,
    /// An array of u64 arguments (raw tracepoints, fentry/fexit and other tracing programs).
    RawArgs,
    /// `struct bpf_perf_event_data`.
    PerfEvent,
    /// `struct sk_msg_md` over a message, with its socket.
    SkMsg,
    /// `struct sk_reuseport_md` over a packet from the transport header on, with the
    /// listening socket (and a migrating one, if any).
    SkReuseport,
    /// `struct bpf_sock_addr` with its socket (cgroup_sock_addr programs).
    SockAddr,
    /// `struct __sk_buff` as a flow dissector sees it: the packet pointers and `flow_keys`.
    FlowDissector,
    /// Plain bytes the program may read and write.
    Bytes,
}

impl ContextKind {
    /// The context of program type `prog_type` (uapi number), if the VM has it.
    pub fn for_prog_type(prog_type: u32) -> Option<ContextKind> {
        Some(match prog_type {
            1 => ContextKind::Skb(SkbKind::SocketFilter),
            2 => ContextKind::Kprobe,
            3 | 4 => ContextKind::Skb(SkbKind::Tc),
            5 => ContextKind::Tracepoint,
            6 => ContextKind::Xdp,
            7 => ContextKind::PerfEvent,
            8 => ContextKind::Skb(SkbKind::CgroupSkb),
            10..=12 => ContextKind::Skb(SkbKind::Lwt),
            16 => ContextKind::SkMsg,
            17 | 24 | 26 => ContextKind::RawArgs,
            18 => ContextKind::SockAddr,
            21 => ContextKind::SkReuseport,
            22 => ContextKind::FlowDissector,
            _ => return None,
        })
    }

    /// The field table of the layout, if it has one.
    pub fn layout(self) -> Option<&'static [Field]> {
        match self {
            ContextKind::Xdp => Some(XDP_MD),
            ContextKind::Skb(_) | ContextKind::FlowDissector => Some(SK_BUFF),
            ContextKind::Kprobe => Some(PT_REGS),
            ContextKind::SkMsg => Some(SK_MSG_MD),
            ContextKind::SkReuseport => Some(SK_REUSEPORT_MD),
            ContextKind::SockAddr => Some(BPF_SOCK_ADDR),
            ContextKind::PerfEvent => Some(PERF_EVENT_DATA),
            _ => None,
        }
    }

    /// The fields the VM fills from the packet and the context's objects (pointers, packet
    /// lengths): [`Context::set`] refuses them and a test run's `ctx_in` must leave them 0.
    pub fn derived_fields(self) -> &'static [&'static str] {
        match self {
            ContextKind::Xdp => &["data", "data_end", "data_meta"],
            ContextKind::Skb(_) => &["len", "data", "data_end", "data_meta", "flow_keys", "sk"],
            ContextKind::SkMsg => &["data", "data_end", "size", "sk"],
            ContextKind::SkReuseport => &["data", "data_end", "len", "sk", "migrating_sk"],
            ContextKind::SockAddr => &["sk"],
            ContextKind::FlowDissector => &["data", "data_end", "flow_keys"],
            _ => &[],
        }
    }

    /// Whether programs may write the context at all (the verifier decides which fields).
    fn writable(self) -> bool {
        matches!(
            self,
            ContextKind::Skb(_) | ContextKind::SockAddr | ContextKind::Bytes
        )
    }
}

/// An object a context points at (a `struct bpf_sock`, a `struct bpf_flow_keys`): its own
/// region at a fixed address, exactly the structure's size, so an access past it faults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextObject {
    /// What it is, for error messages ("socket", "flow keys", ...).
    pub name: &'static str,
    /// Its virtual address (what the context's pointer field holds).
    pub base: u64,
    /// Whether programs may write it.
    pub writable: bool,
    pub(crate) bytes: Vec<u8>,
}

impl ContextObject {
    /// Object number `index` of a context.
    pub(crate) fn new(index: usize, name: &'static str, bytes: Vec<u8>, writable: bool) -> Self {
        ContextObject {
            name,
            base: CONTEXT_OBJECT_BASE + index as u64 * CONTEXT_OBJECT_SPACING,
            writable,
            bytes,
        }
    }

    /// Its bytes as the program sees them now.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Its bytes, to fill before a run.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

/// A program context ready to run: the bytes of the uapi structure and, for packet
/// programs, the packet buffer they point into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub(crate) kind: ContextKind,
    pub(crate) bytes: Vec<u8>,
    pub(crate) packet: Option<Packet>,
    /// The objects the context's pointer fields point at.
    pub(crate) objects: Vec<ContextObject>,
    /// Whether the caller gave a `ctx_in` (`BPF_PROG_TEST_RUN` only writes `ctx_out` then).
    pub(crate) ctx_in: bool,
}

/// The parts of a [`Context`] a run works on; see [`Context::run_parts`].
#[derive(Debug)]
pub struct ContextRun<'c> {
    /// The context bytes (R1 points at them).
    pub region: crate::MemRegion<'c>,
    /// The packet of XDP and socket-buffer contexts.
    pub packet: Option<&'c mut Packet>,
    /// The `bpf_redirect` flavour of packet contexts.
    pub redirect_flavor: Option<crate::RedirectFlavor>,
    /// The regions of the objects the context points at.
    pub objects: Vec<crate::MemRegion<'c>>,
}

impl Context {
    /// Plain context bytes the program may read and write (R1 points at them).
    pub fn bytes(data: &[u8]) -> Context {
        Context {
            kind: ContextKind::Bytes,
            bytes: data.to_vec(),
            packet: None,
            objects: Vec::new(),
            ctx_in: true,
        }
    }

    /// The context `BPF_PROG_TEST_RUN` builds for program type `prog_type` from
    /// `data_in` and `ctx_in`, with its checks (bad input gives the kernel's errno). Types
    /// the kernel cannot test-run (kprobe, tracepoint, perf_event) take their context
    /// from `ctx_in`, zero-padded to the structure's size.
    pub fn for_test_run(
        prog_type: u32,
        data_in: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<Context, ContextError> {
        let kind = ContextKind::for_prog_type(prog_type).ok_or_else(|| ContextError {
            errno: ENOTSUPP,
            message: format!("program type {prog_type} has no context the VM can build"),
        })?;
        match kind {
            ContextKind::Xdp => Context::xdp_test_run(data_in, ctx_in),
            ContextKind::Skb(k) => Context::skb_test_run(k, data_in, ctx_in),
            ContextKind::RawArgs => {
                if !data_in.is_empty() {
                    return Err(ContextError::inval(
                        "raw tracepoint test runs take no data_in, only ctx_in (the arguments)",
                    ));
                }
                Context::raw_args_bytes(ctx_in.unwrap_or(&[]))
            }
            ContextKind::Kprobe | ContextKind::PerfEvent | ContextKind::Tracepoint => {
                if !data_in.is_empty() {
                    return Err(ContextError::inval(format!(
                        "{kind:?} programs take their context from ctx_in, not data_in"
                    )));
                }
                trace::from_bytes(kind, ctx_in.unwrap_or(&[]))
            }
            ContextKind::SkMsg => Context::sk_msg_test_run(data_in, ctx_in),
            ContextKind::SkReuseport => Context::sk_reuseport_test_run(data_in, ctx_in),
            ContextKind::SockAddr => Context::sock_addr_test_run(data_in, ctx_in),
            ContextKind::FlowDissector => Context::flow_dissector_test_run(data_in, ctx_in),
            ContextKind::Bytes => Ok(Context::bytes(ctx_in.unwrap_or(&[]))),
        }
    }

    /// The layout.
    pub fn kind(&self) -> ContextKind {
        self.kind
    }

    /// The context bytes as the program sees them now.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The packet, for XDP and socket-buffer contexts.
    pub fn packet(&self) -> Option<&Packet> {
        self.packet.as_ref()
    }

    /// The objects the context points at (its socket, flow keys, ...).
    pub fn objects(&self) -> &[ContextObject] {
        &self.objects
    }

    /// The objects, to fill before a run.
    pub fn objects_mut(&mut self) -> &mut [ContextObject] {
        &mut self.objects
    }

    /// The object named `name`.
    pub fn object(&self, name: &str) -> Option<&ContextObject> {
        self.objects.iter().find(|o| o.name == name)
    }

    /// Field `name` of the layout (the first 8 bytes of arrays such as `cb`).
    pub fn get(&self, name: &str) -> Option<u64> {
        let fd = field(self.kind.layout()?, name)?;
        Some(layout::get(&self.bytes, fd))
    }

    /// Sets field `name` (configurable metadata: `mark`, `ifindex`, `rx_queue_index`, a
    /// kprobe's `di`, ...). Packet pointers and lengths follow the packet and cannot be set.
    pub fn set(&mut self, name: &str, value: u64) -> Result<(), ContextError> {
        let layout = self.kind.layout().ok_or_else(|| {
            ContextError::inval(format!("a {:?} context has no fields", self.kind))
        })?;
        let fd = field(layout, name).ok_or_else(|| {
            ContextError::inval(format!(
                "no field `{name}` (fields: {})",
                layout.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        if self.kind.derived_fields().contains(&name) {
            return Err(ContextError::inval(format!(
                "`{name}` follows the packet and cannot be set"
            )));
        }
        layout::put(&mut self.bytes, fd, value);
        Ok(())
    }

    /// What a run on this context needs: the context bytes as a region at
    /// [`CONTEXT_BASE`](crate::CONTEXT_BASE) (read-only for the types whose context programs
    /// cannot write), the packet, and the `bpf_redirect` flavour of the context's kind (for
    /// [`Env::redirect_flavor`](crate::Env)). Both engines run contexts through it.
    pub fn run_parts(&mut self) -> ContextRun<'_> {
        let writable = self.writable();
        let redirect_flavor = match self.kind {
            ContextKind::Xdp => Some(crate::RedirectFlavor::Xdp),
            ContextKind::Skb(_) => Some(crate::RedirectFlavor::Tc),
            _ => None,
        };
        let mut region = crate::MemRegion::new(
            crate::RegionKind::Context,
            crate::CONTEXT_BASE,
            &mut self.bytes,
        );
        if !writable {
            region = region.read_only();
        }
        let objects = self
            .objects
            .iter_mut()
            .map(|o| {
                let r = crate::MemRegion::new(crate::RegionKind::Other, o.base, &mut o.bytes)
                    .named(o.name);
                if o.writable { r } else { r.read_only() }
            })
            .collect();
        ContextRun {
            region,
            packet: self.packet.as_mut(),
            redirect_flavor,
            objects,
        }
    }

    /// Whether the program may write the context region.
    pub(crate) fn writable(&self) -> bool {
        self.kind.writable()
    }

    /// What `BPF_PROG_TEST_RUN` returns as `data_out`: XDP gives metadata and data; TC the
    /// data; other socket-buffer programs the data with the 14 bytes of Ethernet header
    /// zeroed (the kernel pushes a cleared header back); tracing programs nothing.
    pub fn data_out(&self) -> Vec<u8> {
        match (&self.packet, self.kind) {
            (Some(p), ContextKind::Xdp) => p.buf[p.meta..p.end].to_vec(),
            (Some(p), ContextKind::Skb(k)) => skb::data_out(p, k),
            (_, ContextKind::FlowDissector) => flow::data_out(self),
            (Some(p), ContextKind::SkMsg | ContextKind::SkReuseport) => p.data().to_vec(),
            _ => Vec::new(),
        }
    }

    /// The packet as it would continue on its way, for writing captures: the data of XDP
    /// and TC programs; for programs whose data starts at the network header, the frame
    /// from the MAC header on (which the program cannot change).
    pub fn packet_out(&self) -> Vec<u8> {
        match (&self.packet, self.kind) {
            (Some(p), ContextKind::Skb(k)) if !k.is_l2() => p.tail_from(p.mac.min(p.data)).to_vec(),
            (Some(p), _) => p.data().to_vec(),
            _ => Vec::new(),
        }
    }

    /// What `BPF_PROG_TEST_RUN` returns as `ctx_out` (only when a `ctx_in` was given):
    /// the fields the kernel copies back.
    pub fn ctx_out(&self) -> Option<Vec<u8>> {
        if !self.ctx_in {
            return None;
        }
        Some(match (&self.packet, self.kind) {
            (Some(p), ContextKind::Xdp) => xdp::ctx_out(&self.bytes, p),
            (Some(_), ContextKind::Skb(_)) => skb::ctx_out(&self.bytes),
            (_, ContextKind::FlowDissector) => flow::ctx_out(self),
            _ => self.bytes.clone(),
        })
    }
}
