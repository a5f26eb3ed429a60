//! The interpreter's kernel helpers on the checked JIT: small programs (llvm syntax) run on
//! both engines with the same maps, environment and contexts, and must give the same result
//! or error, the same maps afterwards and the same output packet. Covers map values (lookup,
//! update, atomics, per-CPU, global data, out-of-bounds faults), callbacks (`bpf_loop`,
//! `bpf_for_each_map_elem`, with faults, depth and budget errors inside them), packet
//! helpers that move the data, LD_ABS/LD_IND, `trace_printk` and the environment.

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_jit::{Engine, EngineKind, available};
use bpfvet_vm::maps::BPF_ANY;
use bpfvet_vm::{Context, MapDump, MapSpec, MapType, Maps, RunOptions, VmError};

fn prog(text: &str) -> Program {
    Program::from_insns(
        asm::assemble(text, Dialect::Llvm).unwrap_or_else(|e| panic!("{e}\n{text}")),
    )
}

/// What a run leaves behind.
#[derive(Debug, PartialEq)]
struct Seen {
    result: Result<(u64, u64), VmError>,
    maps: Vec<MapDump>,
    packet: Vec<u8>,
    trace: Vec<String>,
}

/// Runs `text` on `kind` with `maps`, on `ctx` (a program context) or on no memory.
fn run_on(
    kind: EngineKind,
    text: &str,
    maps: &Maps,
    ctx: Option<&Context>,
    options: RunOptions,
) -> Seen {
    let mut e = Engine::new(&prog(text), kind).unwrap();
    e.set_maps(maps.clone());
    e.enable_kernel_helpers();
    e.set_options(options);
    e.env_mut().seed(99);
    let (result, packet) = match ctx {
        Some(c) => {
            let mut c = c.clone();
            let r = e.run_context(&mut c);
            (r, c.packet_out())
        }
        None => (e.run_with_regions(vec![], [0; 10], &options), Vec::new()),
    };
    Seen {
        result: result.map(|r| (r.r0, r.executed)),
        maps: e.maps().unwrap().dump_all(),
        packet,
        trace: e
            .env()
            .trace_messages()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// Runs on both engines, checks they agree, returns the interpreter's view.
fn agree_opts(text: &str, maps: &Maps, ctx: Option<&Context>, options: RunOptions) -> Seen {
    let want = run_on(EngineKind::Interpreter, text, maps, ctx, options);
    if available() {
        let got = run_on(EngineKind::Jit, text, maps, ctx, options);
        assert_eq!(got, want, "checked JIT vs interpreter\n{text}");
    }
    want
}

fn agree(text: &str, maps: &Maps, ctx: Option<&Context>) -> Seen {
    agree_opts(text, maps, ctx, RunOptions::default())
}

fn r0(s: &Seen) -> u64 {
    s.result.as_ref().unwrap_or_else(|e| panic!("{e}")).0
}

fn array(name: &str, ty: MapType, value_size: u32, n: u32) -> Maps {
    let mut maps = Maps::new();
    maps.create(MapSpec::new(name, ty, 4, value_size, n))
        .unwrap();
    maps
}

/// `r2 = &key` (u32 `key` at r10 - 4), `r1 = map_idx(0)`, lookup, `r0` = the value or exit.
fn lookup(key: u32) -> String {
    format!(
        "r1 = {key}\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = map_idx(0) ll\n\
         call bpf_map_lookup_elem\nif r0 != 0 goto +1\nexit\n"
    )
}

#[test]
fn map_values_are_memory() {
    let maps = array("a", MapType::Array, 16, 4);
    // Plain and atomic updates through the value pointer, read back.
    let text = format!(
        "{}r6 = r0\nr1 = 5\n*(u64 *)(r6 + 0) = r1\nlock *(u64 *)(r6 + 0) += r1\n\
         r1 = 7\n*(u32 *)(r6 + 12) = r1\nr0 = *(u64 *)(r6 + 0)\nr1 = *(u32 *)(r6 + 12)\n\
         r0 += r1\nexit",
        lookup(2)
    );
    let s = agree(&text, &maps, None);
    assert_eq!(r0(&s), 17);
    assert_eq!(
        s.maps[0].entries[2].value,
        [10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0]
    );
    // Per-CPU values: the current CPU's copy.
    let pc = array("p", MapType::PercpuArray, 8, 2);
    let s = agree(
        &format!(
            "{}r1 = 3\nlock *(u64 *)(r0 + 0) += r1\nr0 = *(u64 *)(r0 + 0)\nexit",
            lookup(1)
        ),
        &pc,
        None,
    );
    assert_eq!(r0(&s), 3);
    // Past the value, into the gap: the interpreter's fault, naming the map value.
    let s = agree(
        &format!("{}r0 = *(u64 *)(r0 + 16)\nexit", lookup(0)),
        &maps,
        None,
    );
    let e = s.result.unwrap_err();
    assert!(
        matches!(e, VmError::OutOfBounds { .. }) && e.to_string().contains("map 'a' value"),
        "{e}"
    );
}

#[test]
fn hash_growth_moves_no_pointer_a_program_holds() {
    // Insert many keys (the storage grows and moves), then write through the first
    // lookup's pointer, which must still reach the element.
    let mut maps = Maps::new();
    maps.create(MapSpec::new("h", MapType::Hash, 4, 8, 64))
        .unwrap();
    maps.update(0, &0u32.to_le_bytes(), &1u64.to_le_bytes(), BPF_ANY)
        .unwrap();
    let text = format!(
        "{}r6 = r0\nr7 = 1\n\
         loop:\n*(u32 *)(r10 - 4) = r7\n*(u64 *)(r10 - 16) = r7\nr1 = map_idx(0) ll\n\
         r2 = r10\nr2 += -4\nr3 = r10\nr3 += -16\nr4 = 0\ncall bpf_map_update_elem\n\
         r7 += 1\nif r7 < 40 goto loop\n\
         r1 = 77\n*(u64 *)(r6 + 0) = r1\nr0 = *(u64 *)(r6 + 0)\nexit",
        lookup(0)
    );
    let s = agree(&text, &maps, None);
    assert_eq!(r0(&s), 77);
    assert_eq!(s.maps[0].entries.len(), 40);
}

#[test]
fn global_data_through_ld_imm64() {
    let mut maps = Maps::new();
    maps.create(MapSpec::global_data(".rodata", b"hello", true))
        .unwrap();
    maps.create(MapSpec::global_data(".data", &[7, 0, 0, 0], false))
        .unwrap();
    let text = "r1 = map_value(1, 0) ll\nr2 = *(u32 *)(r1 + 0)\nr2 += 1\n*(u32 *)(r1 + 0) = r2\n\
                r3 = map_value(0, 1) ll\nr0 = *(u8 *)(r3 + 0)\nr0 += r2\nexit";
    let s = agree(text, &maps, None);
    assert_eq!(r0(&s), b'e' as u64 + 8);
    // .rodata is read-only for programs.
    let e = agree(
        "r1 = map_value(0, 0) ll\nr2 = 1\n*(u8 *)(r1 + 0) = r2\nr0 = 0\nexit",
        &maps,
        None,
    )
    .result
    .unwrap_err();
    assert!(matches!(e, VmError::ReadOnly { .. }), "{e}");
}

const LOOP: &str = "
    r1 = 0
    *(u64 *)(r10 - 8) = r1
    r1 = NR
    r2 = func(cb) ll
    r3 = r10
    r3 += -8
    r4 = 0
    call bpf_loop
    r0 *= 1000
    r1 = *(u64 *)(r10 - 8)
    r0 += r1
    exit
cb:
    BODY
    r3 = *(u64 *)(r2 + 0)
    r3 += r1
    *(u64 *)(r2 + 0) = r3
    r0 = 0
    if r1 != 5 goto +1
    r0 = 1
    exit
";

fn looped(nr: u64, body: &str) -> String {
    LOOP.replace("NR", &nr.to_string()).replace("BODY", body)
}

#[test]
fn bpf_loop_calls_back_into_compiled_code() {
    let maps = Maps::new();
    assert_eq!(r0(&agree(&looped(4, ""), &maps, None)), 4_006);
    assert_eq!(r0(&agree(&looped(100, ""), &maps, None)), 6_015);
    // A helper call inside the callback, and the callback's own stack frame.
    let body = "*(u64 *)(r10 - 8) = r1\nr6 = r1\nr6 = r2\ncall bpf_ktime_get_ns\nr1 = *(u64 *)(r10 - 8)\nr2 = r6";
    assert_eq!(r0(&agree(&looped(3, body), &maps, None)), 3_003);
}

#[test]
fn errors_inside_callbacks_are_the_interpreters() {
    let maps = Maps::new();
    // A fault in the callback names the callback's instruction and its stack frame.
    let s = agree(&looped(3, "r5 = *(u64 *)(r10 + 8)"), &maps, None);
    let e = s.result.unwrap_err();
    assert!(matches!(e, VmError::OutOfBounds { .. }), "{e}");
    assert!(e.to_string().contains("frame 1"), "{e}");
    // A bad callback address and a callback that loops into itself until the frames run out.
    let bad = looped(3, "").replace("r2 = func(cb) ll", "r2 = 12345");
    let e = agree(&bad, &maps, None).result.unwrap_err();
    assert!(
        e.to_string().contains("not the address of a function"),
        "{e}"
    );
    let deep = "
        r1 = 2
        r2 = func(cb) ll
        r3 = 0
        r4 = 0
        call bpf_loop
        exit
    cb:
        r1 = 2
        r2 = func(cb) ll
        r3 = 0
        r4 = 0
        call bpf_loop
        r0 = 0
        exit
    ";
    let e = agree(deep, &maps, None).result.unwrap_err();
    assert!(matches!(e, VmError::CallDepth { .. }), "{e}");
    // The budget runs out inside the callback.
    let e = agree_opts(
        &looped(1_000_000, "").replace("if r1 != 5", "if r1 != 0x7fffffff"),
        &maps,
        None,
        RunOptions::default().budget(5_000),
    )
    .result
    .unwrap_err();
    assert!(matches!(e, VmError::BudgetExhausted { .. }), "{e}");
    // An unknown helper in the callback.
    let e = agree(&looped(2, "call 9999"), &maps, None)
        .result
        .unwrap_err();
    assert!(matches!(e, VmError::UnknownHelper { .. }), "{e}");
}

#[test]
fn for_each_map_elem_hands_over_keys_and_values() {
    let mut maps = Maps::new();
    maps.create(MapSpec::new("h", MapType::Hash, 4, 8, 8))
        .unwrap();
    for k in [3u32, 5, 9] {
        maps.update(0, &k.to_le_bytes(), &(k as u64 * 10).to_le_bytes(), BPF_ANY)
            .unwrap();
    }
    let text = "
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = map_idx(0) ll
        r2 = func(cb) ll
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_for_each_map_elem
        r0 *= 1000
        r1 = *(u64 *)(r10 - 8)
        r0 += r1
        exit
    cb:
        r5 = *(u32 *)(r2 + 0)
        r6 = *(u64 *)(r3 + 0)
        r5 += r6
        r6 *= 2
        *(u64 *)(r3 + 0) = r6
        r7 = *(u64 *)(r4 + 0)
        r7 += r5
        *(u64 *)(r4 + 0) = r7
        r0 = 0
        exit
    ";
    let s = agree(text, &maps, None);
    assert_eq!(r0(&s), 3187);
    // Keys are read-only.
    let write_key = text.replace(
        "r0 = 0\n        exit",
        "*(u32 *)(r2 + 0) = r0\n        exit",
    );
    let e = agree(&write_key, &maps, None).result.unwrap_err();
    assert!(matches!(e, VmError::ReadOnly { .. }), "{e}");
}

fn frame(len: usize) -> Vec<u8> {
    (0..len).map(|i| i as u8).collect()
}

#[test]
fn packet_helpers_move_the_data() {
    let xdp = Context::for_test_run(6, &frame(60), None).unwrap();
    // Shrink the head by 14, re-read data/data_end, write the first byte; grow the tail.
    let text = "
        r6 = r1
        r2 = 14
        call bpf_xdp_adjust_head
        if r0 != 0 goto fail
        r1 = r6
        r2 = 8
        call bpf_xdp_adjust_tail
        r2 = *(u32 *)(r6 + 0)
        r3 = *(u32 *)(r6 + 4)
        r4 = r2
        r4 += 1
        if r4 > r3 goto fail
        r5 = 0xaa
        *(u8 *)(r2 + 0) = r5
        r0 = r3
        r0 -= r2
        exit
    fail:
        r0 = 0
        exit
    ";
    let s = agree(text, &Maps::new(), Some(&xdp));
    assert_eq!(r0(&s), 54);
    assert_eq!(s.packet[0], 0xaa);
    assert_eq!(s.packet.len(), 54);
    // The old data pointer is stale after adjust_head(-16): the head moved back into the
    // headroom, and reading past the new data_end faults.
    let stale = "
        r6 = r1
        r7 = *(u32 *)(r6 + 4)
        r1 = r6
        r2 = -40
        call bpf_xdp_adjust_tail
        r0 = *(u8 *)(r7 - 1)
        exit
    ";
    let e = agree(stale, &Maps::new(), Some(&xdp)).result.unwrap_err();
    assert!(matches!(e, VmError::OutOfBounds { .. }), "{e}");
    // skb_load_bytes into the stack, bpf_skb_store_bytes, and a trace line.
    let skb = Context::for_test_run(3, &frame(60), None).unwrap();
    let text = "
        r6 = r1
        r2 = 20
        r3 = r10
        r3 += -8
        r4 = 8
        call bpf_skb_load_bytes
        r1 = r6
        r2 = 0
        r3 = r10
        r3 += -8
        r4 = 4
        r5 = 0
        call bpf_skb_store_bytes
        r1 = 0x0a7825
        *(u64 *)(r10 - 16) = r1
        r1 = r10
        r1 += -16
        r2 = 4
        r3 = *(u64 *)(r10 - 8)
        call bpf_trace_printk
        r0 = *(u32 *)(r6 + 0)
        exit
    ";
    let s = agree(text, &Maps::new(), Some(&skb));
    assert_eq!(r0(&s), 60);
    assert_eq!(&s.packet[..4], &[20, 21, 22, 23]);
    assert_eq!(s.trace.len(), 1);
}

#[test]
fn legacy_packet_loads() {
    let skb = Context::for_test_run(1, &frame(40), None).unwrap();
    // In bounds: big-endian; LD_IND adds the register.
    let text =
        "r6 = r1\nr7 = 2\nr0 = *(u16 *)skb[12]\nr8 = r0\nr0 = *(u32 *)skb[r7 + 10]\nr0 += r8\nexit";
    let s = agree(text, &Maps::new(), Some(&skb));
    // Socket filters see the packet from the network header (frame byte 14) on.
    assert_eq!(r0(&s), 0x1a1b + 0x1a1b_1c1d);
    // Out of bounds: the function returns 0, even from a called function.
    let text = "r6 = r1\ncall f\nr0 += 5\nexit\nf:\nr0 = *(u32 *)skb[38]\nr0 = 1\nexit";
    assert_eq!(r0(&agree(text, &Maps::new(), Some(&skb))), 5);
    // Without a packet it is an error.
    let e = agree("r6 = r1\nr0 = *(u8 *)skb[0]\nexit", &Maps::new(), None)
        .result
        .unwrap_err();
    assert!(matches!(e, VmError::LegacyPacketLoad { .. }), "{e}");
}
