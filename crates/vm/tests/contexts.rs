//! Program contexts and packet helpers on their own: pointer fields a program can follow,
//! faults outside the packet window, the kernel's limits of the adjust helpers, LD_ABS with
//! its negative offsets and its early exit, checksum helper corner cases, `ctx_in` checks.

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_vm::{Context, PACKET_BASE, SkbKind, Vm, VmError};

fn vm(text: &str) -> Vm {
    let insns = asm::assemble(text, Dialect::Llvm).unwrap();
    let mut vm = Vm::new(&Program::from_insns(insns)).unwrap();
    vm.enable_kernel_helpers();
    vm
}

fn frame(len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    f[12..14].copy_from_slice(&[0x08, 0x06]); // ARP: no IP header needed
    f
}

#[test]
fn data_pointers_are_packet_addresses() {
    let mut v = vm("r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 5)\nexit");
    let mut ctx = Context::xdp(&frame(40)).unwrap();
    assert_eq!(v.run_context(&mut ctx).unwrap().r0, 5);
    let data = ctx.get("data").unwrap();
    assert!((PACKET_BASE..1 << 31).contains(&data));
    assert_eq!(ctx.get("data_end").unwrap() - data, 40);
    // One byte past data_end faults, naming the packet window.
    let mut v = vm("r2 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r2 + 0)\nexit");
    let e = v.run_context(&mut ctx).unwrap_err();
    assert!(matches!(e, VmError::OutOfBounds { .. }), "{e}");
    assert!(e.to_string().contains("packet region"), "{e}");
    // So does the headroom.
    let mut v = vm("r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 - 1)\nexit");
    assert!(v.run_context(&mut ctx).is_err());
    // XDP contexts are read-only; __sk_buff writes land in the context.
    let mut v = vm("r2 = 1\n*(u32 *)(r1 + 12) = r2\nr0 = 0\nexit");
    assert!(matches!(
        v.run_context(&mut ctx),
        Err(VmError::ReadOnly { .. })
    ));
    let mut v = vm("r2 = 77\n*(u32 *)(r1 + 8) = r2\nr0 = 0\nexit");
    let mut skb = Context::skb(SkbKind::Tc, &frame(40)).unwrap();
    v.run_context(&mut skb).unwrap();
    assert_eq!(skb.get("mark"), Some(77));
}

/// Runs `call` (with R1 = ctx, R2 = `arg`) and returns R0 as i64 and the context.
fn adjust(helper: &str, arg: i64, len: usize) -> (i64, Context) {
    let mut v = vm(&format!("r2 = {arg}\ncall {helper}\nexit"));
    let mut ctx = Context::xdp(&frame(len)).unwrap();
    let r = v.run_context(&mut ctx).unwrap().r0 as i64;
    (r, ctx)
}

#[test]
fn xdp_adjust_limits() {
    // Head: into the headroom down to the frame header (256 - 40 bytes), and not past
    // data_end - 14.
    assert_eq!(adjust("bpf_xdp_adjust_head", -216, 60).0, 0);
    assert_eq!(adjust("bpf_xdp_adjust_head", -217, 60).0, -22);
    assert_eq!(adjust("bpf_xdp_adjust_head", 46, 60).0, 0);
    assert_eq!(adjust("bpf_xdp_adjust_head", 47, 60).0, -22);
    let (_, ctx) = adjust("bpf_xdp_adjust_head", -8, 60);
    assert_eq!(ctx.data_out().len(), 68);
    assert_eq!(ctx.data_out()[8..], frame(60)[..]);
    // Tail: shrink to 14 bytes, grow to the frame end minus the shared info.
    assert_eq!(adjust("bpf_xdp_adjust_tail", -46, 60).0, 0);
    assert_eq!(adjust("bpf_xdp_adjust_tail", -47, 60).0, -22);
    assert_eq!(
        adjust("bpf_xdp_adjust_tail", 4096 - 320 - 256 - 60, 60).0,
        0
    );
    assert_eq!(
        adjust("bpf_xdp_adjust_tail", 4096 - 320 - 256 - 59, 60).0,
        -22
    );
    let (_, ctx) = adjust("bpf_xdp_adjust_tail", 4, 60);
    assert_eq!(ctx.data_out()[60..], [0, 0, 0, 0]);
    // Metadata: multiples of 4 up to 32 bytes.
    assert_eq!(adjust("bpf_xdp_adjust_meta", -32, 60).0, 0);
    assert_eq!(adjust("bpf_xdp_adjust_meta", -36, 60).0, -13);
    assert_eq!(adjust("bpf_xdp_adjust_meta", -6, 60).0, -13);
    assert_eq!(adjust("bpf_xdp_adjust_meta", 4, 60).0, -22);
    let (_, ctx) = adjust("bpf_xdp_adjust_meta", -8, 60);
    assert_eq!(ctx.data_out().len(), 68, "data_out starts at data_meta");
    assert_eq!(ctx.get("data").unwrap() - ctx.get("data_meta").unwrap(), 8);
}

#[test]
fn legacy_packet_loads() {
    let mut f = frame(40);
    f[14..18].copy_from_slice(&[0x45, 0x00, 0x12, 0x34]);
    // Socket filter: offsets from the network header; SKF_LL_OFF reaches the MAC header.
    let mut v = vm("r6 = r1\nr0 = *(u16 *)skb[2]\nexit");
    let mut ctx = Context::skb(SkbKind::SocketFilter, &f).unwrap();
    assert_eq!(v.run_context(&mut ctx).unwrap().r0, 0x1234);
    let mut v = vm("r6 = r1\nr0 = *(u32 *)skb[-2097152]\nexit");
    assert_eq!(v.run_context(&mut ctx).unwrap().r0, 0x0001_0203);
    // TC: from the MAC header; SKF_NET_OFF from the network header.
    let mut v = vm("r6 = r1\nr7 = 2\nr0 = *(u8 *)skb[r7 + -1048576]\nexit");
    let mut tc = Context::skb(SkbKind::Tc, &f).unwrap();
    assert_eq!(v.run_context(&mut tc).unwrap().r0, 0x12);
    // Out of bounds: the program returns 0 at once.
    let mut v = vm("r6 = r1\nr0 = *(u32 *)skb[38]\nr0 = 5\nexit");
    assert_eq!(v.run_context(&mut tc).unwrap().r0, 0);
    // Without a socket buffer there is nothing to load from.
    let mut v = vm("r6 = r1\nr0 = *(u8 *)skb[0]\nexit");
    let mut k = Context::kprobe(&[]).unwrap();
    assert!(matches!(
        v.run_context(&mut k),
        Err(VmError::LegacyPacketLoad { .. })
    ));
}

#[test]
fn socket_buffer_helpers() {
    let tc = || Context::skb(SkbKind::Tc, &frame(40)).unwrap();
    // skb_change_tail: grow with zeros, trim, limits.
    let mut v = vm("r2 = 50\nr3 = 0\ncall bpf_skb_change_tail\nexit");
    let mut ctx = tc();
    assert_eq!(v.run_context(&mut ctx).unwrap().r0, 0);
    assert_eq!(ctx.data_out().len(), 50);
    assert_eq!(ctx.get("len"), Some(50));
    assert_eq!(ctx.data_out()[40..], [0; 10]);
    let mut v = vm("r2 = 13\nr3 = 0\ncall bpf_skb_change_tail\nexit");
    assert_eq!(v.run_context(&mut tc()).unwrap().r0 as i64, -22);
    // skb_change_head: zeros in front, beyond the 64 bytes of headroom too.
    let mut v = vm("r2 = 100\nr3 = 0\ncall bpf_skb_change_head\nexit");
    let mut ctx = tc();
    assert_eq!(v.run_context(&mut ctx).unwrap().r0, 0);
    assert_eq!(ctx.data_out()[..100], [0; 100]);
    assert_eq!(ctx.data_out()[100..], frame(40)[..]);
    // skb_load_bytes past the end zeroes the buffer and fails.
    let mut v = vm("r2 = 36\nr3 = r10\nr3 += -8\nr4 = 8\ncall bpf_skb_load_bytes\nexit");
    assert_eq!(v.run_context(&mut tc()).unwrap().r0 as i64, -14);
    // l4_csum_replace with BPF_F_MARK_MANGLED_0 leaves a zero checksum alone.
    let mut v = vm("r2 = 20\nr3 = 1\nr4 = 2\nr5 = 0x22\ncall bpf_l4_csum_replace\nexit");
    let mut f = frame(40);
    f[20..22].copy_from_slice(&[0, 0]);
    let mut ctx = Context::skb(SkbKind::Tc, &f).unwrap();
    assert_eq!(v.run_context(&mut ctx).unwrap().r0, 0);
    assert_eq!(ctx.data_out()[20..22], [0, 0]);
    // ... unless BPF_F_MARK_ENFORCE: then a result of zero becomes 0xffff.
    let mut v = vm("r2 = 20\nr3 = 0\nr4 = 0\nr5 = 0x62\ncall bpf_l4_csum_replace\nexit");
    let mut ctx = Context::skb(SkbKind::Tc, &f).unwrap();
    assert_eq!(v.run_context(&mut ctx).unwrap().r0, 0);
    assert_eq!(ctx.data_out()[20..22], [0xff, 0xff]);
    // Odd offsets are refused.
    let mut v = vm("r2 = 21\nr3 = 1\nr4 = 2\nr5 = 2\ncall bpf_l3_csum_replace\nexit");
    assert_eq!(v.run_context(&mut tc()).unwrap().r0 as i64, -14);
    // csum_level: none until incremented.
    let text = "r6 = r1\nr2 = 0\ncall bpf_csum_level\nr7 = r0\nr1 = r6\nr2 = 1\n\
                call bpf_csum_level\nr1 = r6\nr2 = 0\ncall bpf_csum_level\nr0 += r7\nexit";
    assert_eq!(v_run(text, &mut tc()), -13);
    // An XDP helper on a socket buffer says so.
    let mut v = vm("r2 = 4\ncall bpf_xdp_adjust_head\nexit");
    let e = v.run_context(&mut tc()).unwrap_err();
    assert!(e.to_string().contains("needs an XDP context"), "{e}");
}

fn v_run(text: &str, ctx: &mut Context) -> i64 {
    vm(text).run_context(ctx).unwrap().r0 as i64
}

#[test]
fn context_in_is_checked_as_the_kernel_checks_it() {
    let f = frame(40);
    // __sk_buff: only some fields may be set.
    let mut skb = vec![0u8; 192];
    skb[8] = 9; // mark
    let ctx = Context::for_test_run(3, &f, Some(&skb)).unwrap();
    assert_eq!(ctx.get("mark"), Some(9));
    assert_eq!(ctx.get("wire_len"), Some(40));
    skb[16] = 1; // protocol
    let e = Context::for_test_run(3, &f, Some(&skb)).unwrap_err();
    assert_eq!(e.errno, 22);
    assert!(e.message.contains("`protocol`"), "{e}");
    // xdp_md: metadata from the start of data_in.
    let mut md = vec![0u8; 24];
    md[0] = 8;
    md[4] = 40;
    let ctx = Context::for_test_run(6, &f, Some(&md)).unwrap();
    assert_eq!(ctx.packet().unwrap().meta(), &f[..8]);
    assert_eq!(ctx.ctx_out().unwrap()[..8], [8, 0, 0, 0, 40, 0, 0, 0]);
    md[0] = 6;
    assert!(Context::for_test_run(6, &f, Some(&md)).is_err());
    // Short frames, IPv4 frames without an IP header, unknown types.
    assert!(Context::for_test_run(6, &f[..13], None).is_err());
    let mut ip = frame(30);
    ip[12..14].copy_from_slice(&[0x08, 0x00]);
    assert!(Context::for_test_run(3, &ip, None).is_err());
    assert!(Context::for_test_run(6, &ip, None).is_ok());
    assert_eq!(
        Context::for_test_run(9999, &f, None).unwrap_err().errno,
        524
    );
    // Raw tracepoints take arguments, not data.
    assert!(Context::for_test_run(17, &f, None).is_err());
    let ctx = Context::for_test_run(17, &[], Some(&[1, 0, 0, 0, 0, 0, 0, 0])).unwrap();
    assert_eq!(ctx.as_bytes().len(), 8);
}
