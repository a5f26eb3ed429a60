//! Applying a CO-RE result to instruction bytes: ALU/ALU64 immediates,
//! LDX/ST/STX offsets (with load/store size adjustment), LD_IMM64 both halves,
//! and poisoning (the instruction becomes `call 0xbad2310`).

use super::{CoreError, CoreResult};

/// Immediate of a poisoned instruction: 0xbad2310 ("bad relo").
pub const POISON_IMM: i32 = 195_896_080;
/// Opcode of a poisoned instruction: `BPF_JMP | BPF_CALL`.
pub const POISON_CODE: u8 = 0x85;

const LD_IMM64: u8 = 0x18;

/// What the patch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    /// The instruction now carries the new value; the text says what changed.
    Patched(String),
    /// The instruction (both slots of an LD_IMM64) became `call 0xbad2310`;
    /// the text says why. Harmless if the verifier finds it unreachable.
    Poisoned(String),
}

fn size_bytes(code: u8) -> u32 {
    match code & 0x18 {
        0x18 => 8,
        0x00 => 4,
        0x08 => 2,
        _ => 1,
    }
}

fn size_bits(bytes: u32) -> Option<u8> {
    match bytes {
        8 => Some(0x18),
        4 => Some(0x00),
        2 => Some(0x08),
        1 => Some(0x10),
        _ => None,
    }
}

fn imm(slot: &[u8]) -> i32 {
    i32::from_le_bytes([slot[4], slot[5], slot[6], slot[7]])
}

fn off(slot: &[u8]) -> i16 {
    i16::from_le_bytes([slot[2], slot[3]])
}

fn poison(code: &mut [u8], at: usize, slots: usize) {
    for s in 0..slots {
        let slot = &mut code[at + 8 * s..at + 8 * s + 8];
        slot[0] = POISON_CODE;
        slot[1] = 0;
        slot[2..4].copy_from_slice(&0i16.to_le_bytes());
        slot[4..8].copy_from_slice(&POISON_IMM.to_le_bytes());
    }
}

/// Patches instruction `insn_idx` of `code` (little-endian 8-byte slots) with
/// `res`, exactly as libbpf does; errors when the instruction is not of a
/// relocatable form or does not hold the value the relocation expects.
pub fn patch_insn(
    code: &mut [u8],
    insn_idx: usize,
    res: &CoreResult,
) -> Result<PatchOutcome, CoreError> {
    let err = |reason: String| Err(res.site.error(reason));
    let n = code.len() / 8;
    if insn_idx >= n {
        return err(format!(
            "instruction #{insn_idx} is beyond the end of the code ({n} instructions)"
        ));
    }
    let at = insn_idx * 8;
    let opcode = code[at];
    let (orig_val, new_val) = (res.orig_val, res.new_val);
    let poisoned = |why: &str| {
        PatchOutcome::Poisoned(format!(
            "insn #{insn_idx} replaced with an invalid call: {why}"
        ))
    };
    let why = || res.poison_reason.clone().unwrap_or_default();
    let bad_insn = |code: &[u8]| {
        let s = &code[at..at + 8];
        res.site.error(format!(
            "cannot relocate insn #{insn_idx}: code {:#x}, src {:#x}, dst {:#x}, off {:#x}, imm {:#x}",
            s[0],
            s[1] >> 4,
            s[1] & 0xf,
            off(s) as u16,
            imm(s) as u32
        ))
    };
    match opcode & 7 {
        // ALU, ALU64
        4 | 7 => {
            if opcode & 0x08 != 0 {
                return Err(bad_insn(code));
            }
            if res.poison {
                poison(code, at, 1);
                return Ok(poisoned(&why()));
            }
            let cur = imm(&code[at..at + 8]);
            if res.validate && cur as i64 as u64 != orig_val {
                return err(format!(
                    "insn #{insn_idx} (ALU/ALU64) holds {}, expected {orig_val} (new value {new_val})",
                    cur as u32
                ));
            }
            code[at + 4..at + 8].copy_from_slice(&(new_val as u32).to_le_bytes());
            Ok(PatchOutcome::Patched(format!(
                "insn #{insn_idx} (ALU/ALU64) imm {cur} -> {new_val}"
            )))
        }
        // LDX, ST, STX
        1..=3 => {
            if res.poison {
                poison(code, at, 1);
                return Ok(poisoned(&why()));
            }
            let cur = off(&code[at..at + 8]);
            if res.validate && cur as i64 as u64 != orig_val {
                return err(format!(
                    "insn #{insn_idx} (LDX/ST/STX) holds offset {}, expected {orig_val} (new value {new_val})",
                    cur as u16
                ));
            }
            if new_val > i16::MAX as u64 {
                return err(format!(
                    "insn #{insn_idx} (LDX/ST/STX) offset {new_val} does not fit 16 bits"
                ));
            }
            if res.fail_memsz_adjust {
                poison(code, at, 1);
                return Ok(poisoned(
                    "field size changed and the field is not a pointer or unsigned integer",
                ));
            }
            code[at + 2..at + 4].copy_from_slice(&(new_val as i16).to_le_bytes());
            let mut what = format!("insn #{insn_idx} (LDX/ST/STX) off {cur} -> {new_val}");
            if res.new_sz != res.orig_sz {
                let have = size_bytes(opcode);
                if have != res.orig_sz {
                    return err(format!(
                        "insn #{insn_idx} (LDX/ST/STX) accesses {have} bytes, expected {}",
                        res.orig_sz
                    ));
                }
                let Some(bits) = size_bits(res.new_sz) else {
                    return err(format!(
                        "insn #{insn_idx} (LDX/ST/STX) cannot access {} bytes",
                        res.new_sz
                    ));
                };
                code[at] = (opcode & 0xe0) | bits | (opcode & 7);
                what.push_str(&format!(", size {} -> {}", res.orig_sz, res.new_sz));
            }
            Ok(PatchOutcome::Patched(what))
        }
        // LD
        0 => {
            let ok_form = opcode == LD_IMM64
                && at + 16 <= code.len()
                && code[at + 1] >> 4 == 0
                && off(&code[at..at + 8]) == 0
                && code[at + 8] == 0
                && code[at + 9] == 0
                && off(&code[at + 8..at + 16]) == 0;
            if !ok_form {
                return err(format!(
                    "insn #{insn_idx} (LD_IMM64) is truncated or has an unexpected form"
                ));
            }
            if res.poison {
                poison(code, at, 2);
                return Ok(poisoned(&why()));
            }
            let lo = imm(&code[at..at + 8]) as u32 as u64;
            let hi = imm(&code[at + 8..at + 16]) as u32 as u64;
            let cur = lo | hi << 32;
            if res.validate && cur != orig_val {
                return err(format!(
                    "insn #{insn_idx} (LD_IMM64) holds {cur}, expected {orig_val} (new value {new_val})"
                ));
            }
            code[at + 4..at + 8].copy_from_slice(&(new_val as u32).to_le_bytes());
            code[at + 12..at + 16].copy_from_slice(&((new_val >> 32) as u32).to_le_bytes());
            Ok(PatchOutcome::Patched(format!(
                "insn #{insn_idx} (LD_IMM64) imm64 {cur} -> {new_val}"
            )))
        }
        _ => Err(bad_insn(code)),
    }
}
