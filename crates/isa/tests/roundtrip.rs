//! Property tests: decode(encode(i)) == i for every valid instruction, and disassembling then
//! assembling gives the same instruction back, in both dialects.

use bpfvet_isa::disasm::format_insn;
use bpfvet_isa::*;
use proptest::prelude::*;

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).unwrap())
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn size() -> impl Strategy<Value = Size> {
    prop::sample::select(Size::ALL.to_vec())
}

fn src() -> impl Strategy<Value = Src> {
    prop_oneof![reg().prop_map(Src::Reg), any::<i32>().prop_map(Src::Imm)]
}

/// Every instruction family, with arbitrary field values where the encoding allows any.
pub fn insn() -> impl Strategy<Value = Insn> {
    prop_oneof![
        (
            width(),
            prop::sample::select(AluOp::ALL.to_vec()),
            reg(),
            src()
        )
            .prop_map(|(width, op, dst, src)| Insn::Alu {
                width,
                op,
                dst,
                src
            }),
        (width(), reg()).prop_map(|(width, dst)| Insn::Neg { width, dst }),
        (
            width(),
            prop::sample::select(vec![8u8, 16, 32]),
            reg(),
            reg()
        )
            .prop_map(|(width, bits, dst, src)| {
                let bits = if width == Width::W32 && bits == 32 {
                    16
                } else {
                    bits
                };
                Insn::MovSx {
                    width,
                    bits,
                    dst,
                    src,
                }
            }),
        (
            prop::sample::select(vec![EndianOp::ToLe, EndianOp::ToBe, EndianOp::Bswap]),
            prop::sample::select(vec![16u8, 32, 64]),
            reg()
        )
            .prop_map(|(op, bits, dst)| Insn::Endian { op, bits, dst }),
        (reg(), reg(), any::<bool>()).prop_map(|(dst, src, to_arena)| {
            let (dst_as, src_as) = if to_arena { (1, 0) } else { (0, 1) };
            Insn::AddrSpaceCast {
                dst,
                src,
                dst_as,
                src_as,
            }
        }),
        any::<i16>().prop_map(|off| Insn::Ja { off }),
        any::<i32>().prop_map(|imm| Insn::Gotol { imm }),
        any::<i16>().prop_map(|off| Insn::MayGoto { off }),
        (
            width(),
            prop::sample::select(Cond::ALL.to_vec()),
            reg(),
            src(),
            any::<i16>()
        )
            .prop_map(|(width, cond, dst, src, off)| Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off
            }),
        any::<i32>().prop_map(|i| Insn::Call(CallKind::Helper(i))),
        any::<i32>().prop_map(|i| Insn::Call(CallKind::Local(i))),
        (any::<i32>(), any::<i16>())
            .prop_map(|(btf_id, off)| Insn::Call(CallKind::Kfunc { btf_id, off })),
        reg().prop_map(|reg| Insn::Callx { reg }),
        Just(Insn::Exit),
        (size(), any::<bool>(), reg(), reg(), any::<i16>()).prop_map(
            |(size, sign, dst, src, off)| Insn::Load {
                size,
                sign: sign && size != Size::DW,
                dst,
                src,
                off
            }
        ),
        (size(), reg(), any::<i16>(), any::<i32>()).prop_map(|(size, dst, off, imm)| Insn::Store {
            size,
            dst,
            off,
            imm
        }),
        (size(), reg(), reg(), any::<i16>()).prop_map(|(size, dst, src, off)| Insn::StoreReg {
            size,
            dst,
            src,
            off
        }),
        (
            prop::sample::select(vec![Size::W, Size::DW]),
            prop::sample::select(AtomicOp::ALL.to_vec()),
            reg(),
            reg(),
            any::<i16>()
        )
            .prop_map(|(size, op, dst, src, off)| Insn::Atomic {
                size,
                op,
                dst,
                src,
                off
            }),
        (
            reg(),
            prop::sample::select(Imm64Kind::ALL.to_vec()),
            any::<i32>(),
            any::<i32>()
        )
            .prop_map(|(dst, kind, imm, next)| Insn::LdImm64 {
                dst,
                kind,
                imm,
                next_imm: if kind.uses_next_imm() { next } else { 0 },
            }),
        (
            prop::sample::select(vec![Size::B, Size::H, Size::W]),
            any::<i32>()
        )
            .prop_map(|(size, imm)| Insn::LdAbs { size, imm }),
        (
            prop::sample::select(vec![Size::B, Size::H, Size::W]),
            reg(),
            any::<i32>()
        )
            .prop_map(|(size, src, imm)| Insn::LdInd { size, src, imm }),
    ]
}

fn decode_bytes(bytes: &[u8]) -> Insn {
    let slots = RawInsn::slots(bytes).unwrap();
    decode_one(&slots).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn decode_inverts_encode(i in insn()) {
        prop_assert_eq!(i.validate(), Ok(()));
        prop_assert_eq!(decode_bytes(&i.encode()), i);
    }

    #[test]
    fn llvm_text_roundtrips(i in insn()) {
        let text = format_insn(&i, Dialect::Llvm);
        let back = asm::assemble(&text, Dialect::Llvm)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(back.len(), 1, "{}", text);
        prop_assert_eq!(back[0].encode(), i.encode(), "{}", text);
    }

    #[test]
    fn ubpf_text_roundtrips(i in insn()) {
        let text = format_insn(&i, Dialect::Ubpf);
        let back = asm::assemble(&text, Dialect::Ubpf)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(back.len(), 1, "{}", text);
        prop_assert_eq!(back[0].encode(), i.encode(), "{}", text);
    }

    /// Any 16 bytes either fail to decode with a reason or decode to an instruction that
    /// re-encodes to exactly those bytes.
    #[test]
    fn arbitrary_bytes_decode_exactly_or_fail(bytes in prop::array::uniform16(any::<u8>())) {
        let slots = RawInsn::slots(&bytes).unwrap();
        if let Ok(i) = decode_one(&slots) {
            prop_assert_eq!(&i.encode()[..], &bytes[..i.slots() * 8]);
        }
    }
}

/// Every single-slot encoding: all 256 opcodes with representative field values.
#[test]
fn exhaustive_opcodes_decode_exactly_or_fail() {
    let mut ok = 0;
    for code in 0..=255u8 {
        for regs in [0x00u8, 0x21, 0xa1, 0x1a, 0xb0, 0x0b, 0x12] {
            for off in [0i16, 1, 8, 16, 32, -1, 7] {
                for imm in [0i32, 1, 16, 32, 64, 0xe1, 0xf1, 0x40, 0x51, -1, 12] {
                    let mut b = [code, regs, 0, 0, 0, 0, 0, 0];
                    b[2..4].copy_from_slice(&off.to_le_bytes());
                    b[4..8].copy_from_slice(&imm.to_le_bytes());
                    let mut bytes = b.to_vec();
                    bytes.extend_from_slice(&[0u8; 8]);
                    let slots = RawInsn::slots(&bytes).unwrap();
                    if let Ok(i) = decode_one(&slots) {
                        assert_eq!(&i.encode()[..], &bytes[..i.slots() * 8], "{i:?}");
                        ok += 1;
                    }
                }
            }
        }
    }
    assert!(ok > 1000, "only {ok} encodings decoded");
}
