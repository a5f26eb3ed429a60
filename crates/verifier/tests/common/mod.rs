//! Random well-formed programs for the verifier's property tests: every register initialised
//! first, then random instructions with valid fields, jumps mostly forward, ending in exit.
#![allow(dead_code)]

use bpfvet_isa::raw::RawInsn;
use proptest::prelude::*;

/// Opcodes that decode, so most programs get past the static passes.
pub const OPCODES: &[u8] = &[
    0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77, 0x7f,
    0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0xd4, 0xdc, 0xd7, 0x04, 0x0c, 0x14, 0xb4,
    0xbc, 0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0x7d,
    0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5, 0xdd, 0x16, 0x1e, 0x26, 0xa6, 0x85, 0x95, 0x61, 0x69,
    0x71, 0x79, 0x81, 0x89, 0x91, 0x62, 0x6a, 0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xc3, 0xdb, 0x18,
    0x20, 0x28, 0x30, 0x40, 0x48, 0x50,
];

pub fn slot() -> impl Strategy<Value = RawInsn> {
    (
        prop::sample::select(OPCODES),
        0u8..11,
        0u8..11,
        prop_oneof![-8i16..8, -520i16..8, any::<i16>()],
        prop_oneof![-8i32..16, 0i32..4, any::<i32>()],
    )
        .prop_map(|(code, dst, src, off, imm)| {
            // Calls: helpers 1..8 mostly; LD_IMM64 src 0 or a map.
            const ATOMIC: [i32; 10] = [0, 1, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1];
            let x = code & 0x08 != 0;
            let (src, off, imm) = match code & 7 {
                _ if code == 0x85 => (0, 0, imm.rem_euclid(8)),
                _ if code == 0x95 => (0, 0, 0),
                _ if code == 0x18 => (
                    if src % 2 == 0 { 0 } else { 1 },
                    0,
                    if src % 2 == 0 { imm } else { 0 },
                ),
                _ if code == 0xc3 || code == 0xdb => {
                    (src, off, ATOMIC[imm.rem_euclid(10) as usize])
                }
                4 | 7 if code & 0xf0 == 0xd0 => (0, 0, [16, 32, 64][imm.rem_euclid(3) as usize]),
                4 | 7 if code & 0xf0 == 0x80 => (0, 0, 0),
                4 | 7 => (if x { src } else { 0 }, 0, if x { 0 } else { imm }),
                5 | 6 => (if x { src } else { 0 }, off, if x { 0 } else { imm }),
                1 | 3 => (src, off, 0),
                2 => (0, off, imm),
                _ => (0, 0, imm),
            };
            RawInsn::new(code, dst, src, off, imm)
        })
}

#[allow(clippy::needless_range_loop)]
pub fn program() -> impl Strategy<Value = Vec<RawInsn>> {
    prop::collection::vec(slot(), 1..40).prop_map(|body| {
        // Initialise every register so most paths reach the checks beyond `!read_ok`.
        let mut v = vec![
            RawInsn::new(0xb7, 0, 0, 0, 0),
            RawInsn::new(0xbf, 2, 10, 0, 0),
            RawInsn::new(0x07, 2, 0, 0, -16),
            RawInsn::new(0xb7, 3, 0, 0, 3),
            RawInsn::new(0xbf, 4, 1, 0, 0),
            RawInsn::new(0xb7, 5, 0, 0, -1),
            RawInsn::new(0xbf, 6, 1, 0, 0),
            RawInsn::new(0xb7, 7, 0, 0, 0),
            RawInsn::new(0xbf, 8, 10, 0, 0),
            RawInsn::new(0x07, 8, 0, 0, -8),
            RawInsn::new(0xb7, 9, 0, 0, 100),
        ];
        v.extend(body);
        // End in exit so the static passes often succeed.
        v.push(RawInsn::new(0x95, 0, 0, 0, 0));
        let n = v.len();
        for i in 11..n {
            let c = v[i].code;
            // Jumps mostly forward and inside the program (some backward: loops).
            let jump = matches!(c & 7, 5 | 6) && !matches!(c & 0xf0, 0x80 | 0x90);
            if jump {
                let room = (n - i - 1) as i32;
                let off = i32::from(v[i].off);
                v[i].off = if off % 5 == 0 && i > 0 {
                    -(off.rem_euclid(i as i32 + 1)) as i16
                } else {
                    off.rem_euclid(room.max(1)) as i16
                };
            }
        }
        // A wide LD_IMM64 needs its second slot zeroed.
        for i in 0..n.saturating_sub(1) {
            if v[i].code == 0x18 {
                v[i + 1] = RawInsn::new(0, 0, 0, 0, 0);
            }
        }
        v
    })
}
