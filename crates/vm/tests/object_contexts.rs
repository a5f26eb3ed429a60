//! Contexts whose fields point at other objects: sk_msg (message and socket), sk_reuseport
//! (read-only packet, listening and migrating sockets), cgroup_sock_addr (socket) and flow
//! dissector (read-only frame, writable flow keys). Pointers lead to regions of exactly the
//! structure's size, writes go only where the kernel lets them, `ctx_in` is checked.

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_vm::context::{BPF_SOCK_SIZE, FLOW_KEYS_SIZE};
use bpfvet_vm::{Context, ContextKind, Vm, VmError};

fn vm(text: &str) -> Vm {
    let insns = asm::assemble(text, Dialect::Llvm).unwrap();
    let mut vm = Vm::new(&Program::from_insns(insns)).unwrap();
    vm.enable_kernel_helpers();
    vm
}

fn run(text: &str, ctx: &mut Context) -> Result<u64, VmError> {
    vm(text).run_context(ctx).map(|r| r.r0)
}

#[test]
fn sk_msg_points_at_its_message_and_socket() {
    let msg: Vec<u8> = (10..40).collect();
    let mut ctx = Context::for_test_run(16, &msg, None).unwrap();
    assert_eq!(ctx.kind(), ContextKind::SkMsg);
    assert_eq!(ctx.get("size"), Some(30));
    // data is a 64-bit pointer to the message; data_end - data is its length.
    assert_eq!(
        run(
            "r2 = *(u64 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 3)\nexit",
            &mut ctx
        ),
        Ok(13)
    );
    let len = "r2 = *(u64 *)(r1 + 0)\nr0 = *(u64 *)(r1 + 8)\nr0 -= r2\nexit";
    assert_eq!(run(len, &mut ctx), Ok(30));
    // Past data_end faults.
    let past = "r2 = *(u64 *)(r1 + 8)\nr0 = *(u8 *)(r2 + 0)\nexit";
    assert!(matches!(
        run(past, &mut ctx),
        Err(VmError::OutOfBounds { .. })
    ));
    // The message is writable, the context is not.
    let w = "r2 = *(u64 *)(r1 + 0)\nr3 = 99\n*(u8 *)(r2 + 0) = r3\nr0 = 0\nexit";
    run(w, &mut ctx).unwrap();
    assert_eq!(ctx.data_out()[0], 99);
    let wctx = "r2 = 1\n*(u32 *)(r1 + 16) = r2\nr0 = 0\nexit";
    assert!(matches!(run(wctx, &mut ctx), Err(VmError::ReadOnly { .. })));
    // sk is a struct bpf_sock: family AF_INET at 4, nothing past its 80 bytes, read-only.
    let fam = "r2 = *(u64 *)(r1 + 72)\nr0 = *(u32 *)(r2 + 4)\nexit";
    assert_eq!(run(fam, &mut ctx), Ok(2));
    let past = format!("r2 = *(u64 *)(r1 + 72)\nr0 = *(u32 *)(r2 + {BPF_SOCK_SIZE})\nexit");
    assert!(matches!(
        run(&past, &mut ctx),
        Err(VmError::OutOfBounds { .. })
    ));
    let wsk = "r2 = *(u64 *)(r1 + 72)\nr3 = 1\n*(u32 *)(r2 + 16) = r3\nr0 = 0\nexit";
    assert!(matches!(run(wsk, &mut ctx), Err(VmError::ReadOnly { .. })));
}

#[test]
fn sk_msg_ctx_in_sets_scalars_but_not_pointers() {
    let mut raw = vec![0u8; 80];
    raw[60] = 0x1f; // remote_port
    let ctx = Context::for_test_run(16, b"abc", Some(&raw)).unwrap();
    assert_eq!(ctx.get("remote_port"), Some(0x1f));
    assert_eq!(
        ctx.get("family"),
        Some(0),
        "ctx_in replaces the default family"
    );
    for off in [0, 8, 68, 72] {
        let mut bad = vec![0u8; 80];
        bad[off] = 1;
        let e = Context::for_test_run(16, b"abc", Some(&bad)).unwrap_err();
        assert!(e.message.contains("must be 0"), "{off}: {e}");
    }
    assert!(Context::for_test_run(16, b"abc", Some(&[0u8; 81])).is_ok());
    assert!(Context::for_test_run(16, b"abc", Some(&[1u8; 81])).is_err());
}

#[test]
fn sk_reuseport_packet_is_read_only_and_migrating_sk_may_be_null() {
    let pkt: Vec<u8> = (0..20).collect();
    let mut ctx = Context::sk_reuseport(&pkt, false).unwrap();
    assert_eq!(ctx.get("len"), Some(20));
    assert_eq!(ctx.get("migrating_sk"), Some(0));
    assert_eq!(ctx.objects().len(), 1);
    assert_eq!(
        run(
            "r2 = *(u64 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 19)\nexit",
            &mut ctx
        ),
        Ok(19)
    );
    let w = "r2 = *(u64 *)(r1 + 0)\nr3 = 1\n*(u8 *)(r2 + 0) = r3\nr0 = 0\nexit";
    assert!(
        run(w, &mut ctx).is_err(),
        "the packet of sk_reuseport is read-only"
    );
    assert_eq!(ctx.data_out(), pkt);
    // The listening socket is in TCP_LISTEN (10).
    assert_eq!(
        run(
            "r2 = *(u64 *)(r1 + 40)\nr0 = *(u32 *)(r2 + 72)\nexit",
            &mut ctx
        ),
        Ok(10)
    );
    // ctx_in's migrating_sk 1 asks for a migrating socket, a second object.
    let mut raw = vec![0u8; 56];
    raw[48] = 1;
    raw[32] = 7; // hash
    let mut ctx = Context::for_test_run(21, &pkt, Some(&raw)).unwrap();
    assert_eq!(ctx.get("hash"), Some(7));
    let m = ctx.get("migrating_sk").unwrap();
    assert!(m != 0 && m != ctx.get("sk").unwrap());
    let st = "r2 = *(u64 *)(r1 + 48)\nr0 = *(u32 *)(r2 + 72)\nexit";
    assert_eq!(run(st, &mut ctx), Ok(1));
    raw[48] = 2;
    assert!(Context::for_test_run(21, &pkt, Some(&raw)).is_err());
}

#[test]
fn sock_addr_context_is_writable_and_points_at_a_socket() {
    let mut ctx = Context::for_test_run(18, &[], None).unwrap();
    let w = "r2 = 0x0100007f\n*(u32 *)(r1 + 4) = r2\nr2 = *(u64 *)(r1 + 64)\nr0 = *(u32 *)(r2 + 12)\nexit";
    assert_eq!(run(w, &mut ctx), Ok(6), "the socket's protocol is TCP");
    assert_eq!(ctx.get("user_ip4"), Some(0x0100_007f));
    assert!(Context::for_test_run(18, b"x", None).is_err(), "no data_in");
    let mut bad = vec![0u8; 72];
    bad[64] = 1;
    assert!(
        Context::for_test_run(18, &[], Some(&bad)).is_err(),
        "sk is the VM's"
    );
}

#[test]
fn flow_dissector_keys_are_writable_and_bounded() {
    let mut frame: Vec<u8> = vec![0; 40];
    frame[12..14].copy_from_slice(&[0x86, 0xdd]);
    let mut flags = vec![0u8; FLOW_KEYS_SIZE];
    flags[48] = 4;
    let mut ctx = Context::for_test_run(22, &frame, Some(&flags)).unwrap();
    // nhoff = thoff = 14, n_proto as on the wire, flags from ctx_in.
    let keys = ctx.object("flow keys").unwrap().bytes().to_vec();
    assert_eq!(&keys[0..4], &[14, 0, 14, 0]);
    assert_eq!(&keys[10..12], &[0x86, 0xdd]);
    assert_eq!(keys[48], 4);
    // Frame bytes through data/data_end (32-bit pointers in __sk_buff).
    assert_eq!(
        run(
            "r2 = *(u32 *)(r1 + 76)\nr0 = *(u8 *)(r2 + 12)\nexit",
            &mut ctx
        ),
        Ok(0x86)
    );
    let w = "r2 = *(u32 *)(r1 + 76)\nr3 = 1\n*(u8 *)(r2 + 0) = r3\nr0 = 0\nexit";
    assert!(
        run(w, &mut ctx).is_err(),
        "flow dissectors only read the frame"
    );
    // Writing thoff past the frame: data_out clamps it, as the kernel does.
    let set = "r2 = *(u64 *)(r1 + 144)\nr3 = 500\n*(u16 *)(r2 + 2) = r3\nr0 = 0\nexit";
    run(set, &mut ctx).unwrap();
    assert_eq!(&ctx.data_out()[2..4], &[40, 0]);
    assert_eq!(ctx.ctx_out().unwrap(), flags);
    // 56 bytes of keys, no more.
    let past = format!(
        "r2 = *(u64 *)(r1 + 144)\nr0 = *(u32 *)(r2 + {})\nexit",
        FLOW_KEYS_SIZE - 2
    );
    assert!(matches!(
        run(&past, &mut ctx),
        Err(VmError::OutOfBounds { .. })
    ));
    // The kernel's test-run checks: an Ethernet header, only `flags` in ctx_in.
    assert!(Context::for_test_run(22, &frame[..13], None).is_err());
    let mut bad = vec![0u8; FLOW_KEYS_SIZE];
    bad[0] = 1;
    assert!(Context::for_test_run(22, &frame, Some(&bad)).is_err());
}
