//! Unit tests per instruction family: known encodings (taken from llvm-mc-19 output) in both
//! dialects, and assembler errors with line, column and what was expected.

use crate::Dialect::{Llvm, Ubpf};
use crate::{Dialect, Program, asm, decode_one, disasm, raw::RawInsn};

fn bytes(text: &str, d: Dialect) -> Vec<u8> {
    let insns = asm::assemble(text, d).unwrap_or_else(|e| panic!("{text}: {e}"));
    Program::from_insns(insns).encode()
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// (llvm text, ubpf text, bytes as llvm-mc encodes them)
const FAMILIES: &[(&str, &str, &str)] = &[
    // ALU / ALU64, K and X
    ("r0 = 42", "mov %r0, 42", "b7 00 00 00 2a 00 00 00"),
    ("w3 = w2", "mov32 %r3, %r2", "bc 23 00 00 00 00 00 00"),
    ("w0 = -1", "mov32 %r0, -1", "b4 00 00 00 ff ff ff ff"),
    ("r1 s/= 3", "sdiv %r1, 3", "37 01 01 00 03 00 00 00"),
    ("w1 s%= w3", "smod32 %r1, %r3", "9c 31 01 00 00 00 00 00"),
    ("r1 s>>= 3", "arsh %r1, 3", "c7 01 00 00 03 00 00 00"),
    ("r1 = -r1", "neg %r1", "87 01 00 00 00 00 00 00"),
    ("w1 = -w1", "neg32 %r1", "84 01 00 00 00 00 00 00"),
    // movsx, byte swaps, arena cast
    (
        "r1 = (s8)r2",
        "movsx864 %r1, %r2",
        "bf 21 08 00 00 00 00 00",
    ),
    (
        "w1 = (s16)w2",
        "movsx1632 %r1, %r2",
        "bc 21 10 00 00 00 00 00",
    ),
    (
        "r1 = (s32)r2",
        "movsx3264 %r1, %r2",
        "bf 21 20 00 00 00 00 00",
    ),
    ("r0 = be16 r0", "be16 %r0", "dc 00 00 00 10 00 00 00"),
    ("r0 = le64 r0", "le64 %r0", "d4 00 00 00 40 00 00 00"),
    ("r0 = bswap32 r0", "bswap32 %r0", "d7 00 00 00 20 00 00 00"),
    (
        "r1 = addr_space_cast(r2, 0, 1)",
        "addr_space_cast %r1, %r2, 0, 1",
        "bf 21 01 00 01 00 00 00",
    ),
    // loads and stores
    (
        "r2 = *(u32 *)(r1 + 4)",
        "ldxw %r2, [%r1+4]",
        "61 12 04 00 00 00 00 00",
    ),
    (
        "r1 = *(s8 *)(r2 + 0)",
        "ldxsb %r1, [%r2]",
        "91 21 00 00 00 00 00 00",
    ),
    (
        "*(u64 *)(r10 - 8) = r2",
        "stxdw [%r10-8], %r2",
        "7b 2a f8 ff 00 00 00 00",
    ),
    (
        "*(u64 *)(r10 - 8) = 5",
        "stdw [%r10-8], 5",
        "7a 0a f8 ff 05 00 00 00",
    ),
    // atomics
    (
        "lock *(u64 *)(r10 - 16) += r2",
        "lock add [%r10-16], %r2",
        "db 2a f0 ff 00 00 00 00",
    ),
    (
        "lock *(u32 *)(r10 - 16) += w2",
        "lock add32 [%r10-16], %r2",
        "c3 2a f0 ff 00 00 00 00",
    ),
    (
        "lock *(u64 *)(r10 - 16) |= r2",
        "lock or [%r10-16], %r2",
        "db 2a f0 ff 40 00 00 00",
    ),
    (
        "r2 = atomic_fetch_add((u64 *)(r10 - 16), r2)",
        "lock fetch add [%r10-16], %r2",
        "db 2a f0 ff 01 00 00 00",
    ),
    (
        "w2 = atomic_fetch_xor((u32 *)(r10 - 16), w2)",
        "lock fetch xor32 [%r10-16], %r2",
        "c3 2a f0 ff a1 00 00 00",
    ),
    (
        "r0 = cmpxchg_64(r10 - 16, r0, r2)",
        "lock cmpxchg [%r10-16], %r2",
        "db 2a f0 ff f1 00 00 00",
    ),
    (
        "w2 = xchg32_32(r10 - 16, w2)",
        "lock xchg32 [%r10-16], %r2",
        "c3 2a f0 ff e1 00 00 00",
    ),
    // jumps and calls
    (
        "if r1 s> 3 goto +5",
        "jsgt %r1, 3, +5",
        "65 01 05 00 03 00 00 00",
    ),
    (
        "if w1 s> w3 goto +5",
        "jsgt32 %r1, %r3, +5",
        "6e 31 05 00 00 00 00 00",
    ),
    (
        "if r1 & r3 goto +5",
        "jset %r1, %r3, +5",
        "4d 31 05 00 00 00 00 00",
    ),
    ("gotol +5", "ja32 +5", "06 00 00 00 05 00 00 00"),
    ("goto +3", "ja +3", "05 00 03 00 00 00 00 00"),
    ("may_goto +1", "may_goto +1", "e5 00 01 00 00 00 00 00"),
    ("call 1", "call 1", "85 00 00 00 01 00 00 00"),
    ("callx r2", "call %r2", "8d 02 00 00 00 00 00 00"),
    (
        "call kfunc(77, 2)",
        "call kfunc(77, 2)",
        "85 20 02 00 4d 00 00 00",
    ),
    ("exit", "exit", "95 00 00 00 00 00 00 00"),
    // LD_IMM64 and legacy packet loads
    (
        "r1 = 0x123456789 ll",
        "lddw %r1, 0x123456789",
        "18 01 00 00 89 67 45 23 00 00 00 00 01 00 00 00",
    ),
    (
        "r1 = map_value(3, 8) ll",
        "lddw %r1, map_value(3, 8)",
        "18 21 00 00 03 00 00 00 00 00 00 00 08 00 00 00",
    ),
    ("r0 = *(u8 *)skb[5]", "ldabsb 5", "30 00 00 00 05 00 00 00"),
    (
        "r0 = *(u16 *)skb[r1]",
        "ldindh %r1, 0",
        "48 10 00 00 00 00 00 00",
    ),
];

#[test]
fn each_family_encodes_as_llvm_does_in_both_dialects() {
    for (l, u, b) in FAMILIES {
        let want = hex(b);
        assert_eq!(bytes(l, Llvm), want, "{l}");
        assert_eq!(bytes(u, Ubpf), want, "{u}");
        let slots = RawInsn::slots(&want).unwrap();
        let insn = decode_one(&slots).unwrap();
        assert_eq!(disasm::format_insn(&insn, Llvm), *l);
        assert_eq!(disasm::format_insn(&insn, Ubpf), *u);
    }
}

#[test]
fn labels_resolve_to_offsets_and_local_calls() {
    let l = "start:\n  if r1 == 0 goto out\n  call f\n  goto start\nout:\n  exit\nf:\n  r0 = 1\n  exit\n";
    let u = "start:\n  jeq %r1, 0, out\n  call local f\n  ja start\nout:\n  exit\nf:\n  mov %r0, 1\n  exit\n";
    let want = bytes(l, Llvm);
    assert_eq!(bytes(u, Ubpf), want);
    assert_eq!(&want[..8], &hex("15 01 02 00 00 00 00 00")[..]);
    assert_eq!(&want[8..16], &hex("85 10 00 00 02 00 00 00")[..]);
    assert_eq!(&want[16..24], &hex("05 00 fd ff 00 00 00 00")[..]);
}

#[test]
fn helper_names_and_kernel_log_calls() {
    assert_eq!(
        bytes("call bpf_map_lookup_elem", Llvm),
        bytes("call 1", Llvm)
    );
    assert_eq!(bytes("call map_lookup_elem", Ubpf), bytes("call 1", Ubpf));
    assert_eq!(
        bytes("call pc+0\nexit", Llvm),
        bytes("call f\nf: exit", Llvm)
    );
}

#[test]
fn objdump_decorations_are_read() {
    let text = "\nx.o:\tfile format elf64-bpf\n\nDisassembly of section xdp:\n\n0000000000000000 <prog>:\n       0:\tb7 00 00 00 2a 00 00 00\tr0 = 0x2a\n       1:\tif r0 > 0x3 goto +0x0 <prog+0x10>\n       2:\texit\n";
    let a = asm::assemble_sections(text, Llvm).unwrap();
    assert_eq!(a.sections.len(), 1);
    assert_eq!(a.sections[0].name, "xdp");
    assert_eq!(a.sections[0].labels, vec![("prog".to_string(), 0)]);
    assert_eq!(
        Program::from_insns(a.sections[0].insns.clone()).encode(),
        bytes("r0 = 42\nif r0 > 3 goto +0\nexit", Llvm)
    );
}

fn err(text: &str, d: Dialect) -> String {
    asm::assemble(text, d).unwrap_err().to_string()
}

#[test]
fn errors_carry_line_column_and_expectation() {
    assert_eq!(
        err("r0 = 1\nr0 += r11", Llvm),
        "2:7: invalid register r11: registers are r0 to r10"
    );
    assert_eq!(
        err("w0 += r1", Llvm),
        "1:7: expected a 32-bit register here (w1), found r1"
    );
    assert_eq!(err("goto nowhere", Llvm), "1:6: undefined label `nowhere`");
    assert_eq!(
        err("r0 = *(u32 *)(r1 + 4", Llvm),
        "1:21: expected `)`, found end of line"
    );
    assert_eq!(
        err("if r0 ~ 1 goto +1", Llvm),
        "1:7: unexpected character `~`"
    );
    assert_eq!(
        err("r0 = 0x100000000", Llvm),
        "1:6: immediate 4294967296 does not fit in 32 bits; for a 64-bit constant write `r0 = 4294967296 ll`"
    );
    assert_eq!(
        err("goto +40000", Llvm),
        "1:6: jump offset 40000 does not fit the instruction's 16-bit offset field (use gotol for long jumps)"
    );
    assert_eq!(
        err("mov32 %r0, 2147483648", Ubpf),
        "1:12: immediate 2147483648 does not fit in 32 bits (expected -2147483648 to 2147483647)"
    );
    assert_eq!(
        err("ldxb %r0, [%r1+0x10000]", Ubpf),
        "1:16: offset 65536 does not fit in 16 bits (expected -32768 to 32767)"
    );
    assert_eq!(err("ldxq %r0, %r1", Ubpf), "1:1: unknown mnemonic `ldxq`");
    assert_eq!(
        err("lock or [%r10-8]", Ubpf),
        "1:17: invalid number of operands for lock: expected more"
    );
    assert_eq!(
        err("lddw %r0", Ubpf),
        "1:9: invalid number of operands for lddw: expected more"
    );
    assert_eq!(err(".bogus 1", Llvm), "1:1: unknown directive `.bogus`");
    assert_eq!(err("a:\na:\nexit", Llvm), "2:1: label `a` is defined twice");
}
