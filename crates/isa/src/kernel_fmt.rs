//! Instructions as the Linux 6.18 verifier log prints them: `0: (b7) r0 = 0`,
//! `3: (85) call bpf_map_lookup_elem#1`, `5: (15) if r0 == 0x0 goto pc+3`.
//!
//! The text follows the kernel's instruction printer (kernel/bpf/disasm.c) together with the
//! verifier's callbacks (kfunc names from BTF, no immediate callback), checked line by line
//! against a live 6.18 kernel (see `tests/kernel_fmt.rs`). The rules that matter:
//!
//! * every line starts with the opcode byte in two lower-case hex digits, `(bf)`;
//! * ALU immediates and store immediates are signed decimal (`r3 += -1`, `= 2147483647`);
//!   conditional-jump immediates are the 32-bit pattern in hex (`if r1 > 0xffffffff`);
//!   LD_IMM64 values are the 64-bit pattern in hex (`r2 = 0xffffffffffffffff`);
//! * memory offsets and jump offsets carry an explicit sign (`(r10 -8)`, `(r1 +0)`, `pc+3`);
//!   the legacy packet loads do not (`skb[r7 + -4]`);
//! * 32-bit ALU and JMP32 name registers `w`; atomics, loads and stores always say `r`;
//! * calls print `name#imm`: helpers by the kernel's table (`bpf_unspec#0`, `unknown#212`),
//!   kfuncs by their BTF name (`bpf_rcu_read_lock#65481`), BPF functions as `call pc+N`.
//!
//! What the kernel knows only at run time comes from a [`KernelFmtCtx`]: kfunc names and the
//! value of pseudo LD_IMM64 instructions. The kernel resolves map and kernel-symbol loads to
//! kernel addresses before printing, so it shows `r1 = 0xffff888108500400` for a map and the
//! value's address plus offset for a map value; only a loader without CAP_PERFMON sees
//! `r1 = 0x0`, and only for loads by map fd (see [`imm64_hidden_without_leaks`]). Those kernel
//! addresses are random per boot, so the lines of map, map-value and BTF-id loads can never be
//! byte-identical except the hidden `0x0` ones; [`StandInCtx`] prints deterministic stand-ins
//! shaped like kernel addresses (see [`stand_in_map_addr`], [`stand_in_map_value_addr`],
//! [`stand_in_ksym_addr`]), and the verifier can answer with its own numbering. Every other
//! line is byte-identical given the same kfunc names. Function references (`LD_IMM64` src 4)
//! print their raw pc-relative immediate (`r2 = 0xfffffffc`), which the kernel does too.
//!
//! Instructions 6.18 rejects before printing anything (`callx`, opcode 0x8d, fails the CFG
//! check with `unknown opcode 8d`) are printed as the kernel's printer would print them.
//! Kernel-only forms that [`Insn`] does not model (load-acquire/store-release, the internal
//! per-CPU move and `nospec`) have no text here.

use crate::helpers;
use crate::insn::{
    AluOp, AtomicOp, CallKind, Cond, EndianOp, Imm64Kind, Insn, Reg, Size, Src, Width,
};

/// What the log printer needs to know beyond the instruction itself.
///
/// Every method has a default: helper names from the kernel's table, no kfunc names (printed
/// as `kernel-function`), pointers allowed, and stand-in addresses for pseudo LD_IMM64.
pub trait KernelFmtCtx {
    /// The name printed for helper call `id` (the kernel's static table; `None` prints
    /// `unknown`). Also used for `callx`, which the kernel prints as a call of its imm (0).
    fn helper_name(&self, id: i32) -> Option<&str> {
        kernel_helper_name(id)
    }

    /// The BTF name of kernel function `btf_id` in BTF object `off` (0 = vmlinux), for the
    /// kfunc call at `pc`. `None` prints `kernel-function`, as the printer does without a
    /// callback; the verifier always knows the name.
    fn kfunc_name(&self, pc: usize, btf_id: i32, off: i16) -> Option<&str> {
        let _ = (pc, btf_id, off);
        None
    }

    /// Whether kernel pointers may appear in the log (the kernel's `allow_ptr_leaks`, true for
    /// CAP_PERFMON). When false, map and map-value loads by fd print `0x0`.
    fn allow_ptr_leaks(&self) -> bool {
        true
    }

    /// The resolved 64-bit value of the pseudo LD_IMM64 at `pc` (kind MapFd, MapValue, BtfId,
    /// MapIdx or MapIdxValue): the map's address, the value's address plus offset, or the
    /// kernel symbol's address. Not asked for MapFd and MapValue when
    /// [`Self::allow_ptr_leaks`] is false (see [`imm64_hidden_without_leaks`]).
    fn pseudo_imm64(&self, pc: usize, kind: Imm64Kind, imm: i32, next_imm: i32) -> u64 {
        let _ = pc;
        stand_in_imm64(kind, imm, next_imm)
    }
}

/// The default context: kernel helper names, no kfunc names, stand-in addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StandInCtx {
    /// See [`KernelFmtCtx::allow_ptr_leaks`]; true as for a root loader.
    pub allow_ptr_leaks: bool,
}

impl Default for StandInCtx {
    fn default() -> Self {
        StandInCtx {
            allow_ptr_leaks: true,
        }
    }
}

impl KernelFmtCtx for StandInCtx {
    fn allow_ptr_leaks(&self) -> bool {
        self.allow_ptr_leaks
    }
}

/// Name of helper `id` as the kernel log prints it: the uapi name with its `bpf_` prefix, and
/// `bpf_unspec` for id 0 (the kernel's table starts there).
pub fn kernel_helper_name(id: i32) -> Option<&'static str> {
    if id == 0 {
        Some("bpf_unspec")
    } else {
        helpers::helper_name(id)
    }
}

/// Stand-in maps live in the x86-64 direct map, where the kernel allocates `struct bpf_map`.
pub const STAND_IN_MAP_BASE: u64 = 0xffff_8881_0000_0000;
/// Distance between two stand-in maps.
pub const STAND_IN_MAP_STRIDE: u64 = 0x1000;
/// Distance from a stand-in map to its first value (an array map keeps its values inline).
pub const STAND_IN_MAP_VALUE_OFFSET: u64 = 0x100;
/// Stand-in kernel symbols sit in the kernel image mapping.
pub const STAND_IN_KSYM_BASE: u64 = 0xffff_ffff_8200_0000;

/// Stand-in address of map number `map` (whatever numbering the caller uses consistently,
/// e.g. the order in which the program's maps were first used):
/// `STAND_IN_MAP_BASE + map * STAND_IN_MAP_STRIDE`.
pub const fn stand_in_map_addr(map: u32) -> u64 {
    STAND_IN_MAP_BASE + map as u64 * STAND_IN_MAP_STRIDE
}

/// Stand-in address of byte `off` of the value of map number `map`.
pub const fn stand_in_map_value_addr(map: u32, off: u32) -> u64 {
    stand_in_map_addr(map) + STAND_IN_MAP_VALUE_OFFSET + off as u64
}

/// Stand-in address of the kernel variable with BTF id `btf_id`.
pub const fn stand_in_ksym_addr(btf_id: u32) -> u64 {
    STAND_IN_KSYM_BASE + btf_id as u64 * 8
}

/// The stand-in value of a pseudo LD_IMM64 when nothing better is known: the map number is the
/// imm (fd or index), the value offset the next imm, the BTF id the imm. Plain immediates and
/// function references give their own 64-bit pattern.
pub fn stand_in_imm64(kind: Imm64Kind, imm: i32, next_imm: i32) -> u64 {
    match kind {
        Imm64Kind::MapFd | Imm64Kind::MapIdx => stand_in_map_addr(imm as u32),
        Imm64Kind::MapValue | Imm64Kind::MapIdxValue => {
            stand_in_map_value_addr(imm as u32, next_imm as u32)
        }
        Imm64Kind::BtfId => stand_in_ksym_addr(imm as u32),
        Imm64Kind::Imm | Imm64Kind::Func => Insn::imm64(imm, next_imm),
    }
}

/// Whether the kernel prints `0x0` for this LD_IMM64 kind when pointer leaks are not allowed.
/// Only map and map-value loads by fd are hidden; loads by fd-array index (`MapIdx`,
/// `MapIdxValue`) and BTF-id loads show their address to every loader (checked live on 6.18:
/// without CAP_PERFMON, src 1 and 2 print `0x0` while src 5 and 6 print the map's address).
pub const fn imm64_hidden_without_leaks(kind: Imm64Kind) -> bool {
    matches!(kind, Imm64Kind::MapFd | Imm64Kind::MapValue)
}

/// Operator text of ALU operations (the signed forms have their own entries).
const ALU_TEXT: [(AluOp, &str); 14] = [
    (AluOp::Add, "+="),
    (AluOp::Sub, "-="),
    (AluOp::Mul, "*="),
    (AluOp::Div, "/="),
    (AluOp::Sdiv, "s/="),
    (AluOp::Mod, "%="),
    (AluOp::Smod, "s%="),
    (AluOp::Or, "|="),
    (AluOp::And, "&="),
    (AluOp::Xor, "^="),
    (AluOp::Lsh, "<<="),
    (AluOp::Rsh, ">>="),
    (AluOp::Arsh, "s>>="),
    (AluOp::Mov, "="),
];

/// Operator text of jump conditions.
const COND_TEXT: [(Cond, &str); 11] = [
    (Cond::Eq, "=="),
    (Cond::Ne, "!="),
    (Cond::Gt, ">"),
    (Cond::Ge, ">="),
    (Cond::Lt, "<"),
    (Cond::Le, "<="),
    (Cond::Sgt, "s>"),
    (Cond::Sge, "s>="),
    (Cond::Slt, "s<"),
    (Cond::Sle, "s<="),
    (Cond::Set, "&"),
];

/// Access-size text: (size, unsigned, sign-extending).
const SIZE_TEXT: [(Size, &str, &str); 4] = [
    (Size::B, "u8", "s8"),
    (Size::H, "u16", "s16"),
    (Size::W, "u32", "s32"),
    (Size::DW, "u64", "s64"),
];

/// Atomic operations: (op, `lock` operator, `atomic_fetch_` name). Exchange and
/// compare-exchange have forms of their own.
const ATOMIC_TEXT: [(AtomicOp, &str, &str); 4] = [
    (AtomicOp::Add { fetch: false }, "+=", "add"),
    (AtomicOp::Or { fetch: false }, "|=", "or"),
    (AtomicOp::And { fetch: false }, "&=", "and"),
    (AtomicOp::Xor { fetch: false }, "^=", "xor"),
];

/// Byte-order operation names.
const ENDIAN_TEXT: [(EndianOp, &str); 3] = [
    (EndianOp::ToLe, "le"),
    (EndianOp::ToBe, "be"),
    (EndianOp::Bswap, "bswap"),
];

fn lookup<K: PartialEq + Copy, V: Copy>(table: &[(K, V)], key: K) -> V {
    table
        .iter()
        .find(|e| e.0 == key)
        .map(|e| e.1)
        .expect("every variant is in its text table")
}

fn size_text(size: Size, sign: bool) -> &'static str {
    let &(_, u, s) = SIZE_TEXT
        .iter()
        .find(|e| e.0 == size)
        .expect("every size is in SIZE_TEXT");
    if sign { s } else { u }
}

/// The atomic operation with its fetch flag cleared, to look it up in [`ATOMIC_TEXT`].
fn atomic_base(op: AtomicOp) -> AtomicOp {
    match op {
        AtomicOp::Add { .. } => AtomicOp::Add { fetch: false },
        AtomicOp::Or { .. } => AtomicOp::Or { fetch: false },
        AtomicOp::And { .. } => AtomicOp::And { fetch: false },
        AtomicOp::Xor { .. } => AtomicOp::Xor { fetch: false },
        other => other,
    }
}

/// Register name at an ALU or JMP width: `r3`, or `w3` for 32-bit operations.
fn reg_w(r: Reg, width: Width) -> String {
    match width {
        Width::W64 => format!("r{}", r.index()),
        Width::W32 => format!("w{}", r.index()),
    }
}

/// `(r10 -8)`: base register and signed offset of a memory operand.
fn mem(base: Reg, off: i16) -> String {
    format!("(r{} {off:+})", base.index())
}

/// The instruction text of one log line, without the `N: ` prefix: `(b7) r0 = 0`.
/// `pc` is the instruction's slot index, passed to the context's callbacks.
pub fn format_insn_kernel(insn: &Insn, pc: usize, ctx: &dyn KernelFmtCtx) -> String {
    let code = insn.to_raw().0.code;
    format!("({code:02x}) {}", body(insn, pc, ctx))
}

/// A whole instruction line as the verifier prints it while walking the program:
/// `12: (bf) r1 = r6` (no newline).
pub fn format_line_kernel(insn: &Insn, pc: usize, ctx: &dyn KernelFmtCtx) -> String {
    format!("{pc}: {}", format_insn_kernel(insn, pc, ctx))
}

/// The prefix of a line of the 6.18 `Live regs before insn:` listing (log level 2), up to the
/// instruction text: the strongly connected component number right-aligned in three columns
/// (blank when 0), the pc right-aligned in three, and one character per register R0..R9, its
/// digit when live before the instruction, `.` otherwise: `  1   2: 0.2....... `.
pub fn live_regs_prefix(scc: u32, pc: usize, live: u16) -> String {
    let mut s = if scc != 0 {
        format!("{scc:3} ")
    } else {
        "    ".to_string()
    };
    s.push_str(&format!("{pc:3}: "));
    for r in 0..10u8 {
        s.push(if live & (1 << r) != 0 {
            char::from(b'0' + r)
        } else {
            '.'
        });
    }
    s.push(' ');
    s
}

/// The width of the blank gap the verifier prints between an instruction line and the `;` of
/// the register-state comment that follows it on the same line (`0: (b7) r0 = 0` + 24 blanks +
/// `; R0=0`). `printed` is the length of the line as the kernel counts it: `N: `, the
/// instruction text and its newline. The `;` lands on column 38, 46, 54, ... (0-based, two
/// before a multiple of 8), the first of them with at least three blanks after the text.
pub fn comment_gap(printed: usize) -> usize {
    let col = (printed + 4).max(40).div_ceil(8) * 8;
    col - printed - 1
}

fn body(insn: &Insn, pc: usize, ctx: &dyn KernelFmtCtx) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let d = reg_w(dst, width);
            let o = lookup(&ALU_TEXT, op);
            match src {
                Src::Reg(s) => format!("{d} {o} {}", reg_w(s, width)),
                Src::Imm(i) => format!("{d} {o} {i}"),
            }
        }
        Insn::Neg { width, dst } => {
            let d = reg_w(dst, width);
            format!("{d} = -{d}")
        }
        Insn::MovSx {
            width,
            bits,
            dst,
            src,
        } => format!("{} = (s{bits}){}", reg_w(dst, width), reg_w(src, width)),
        Insn::Endian { op, bits, dst } => {
            let d = dst.index();
            format!("r{d} = {}{bits} r{d}", lookup(&ENDIAN_TEXT, op))
        }
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => format!(
            "r{} = addr_space_cast(r{}, {dst_as}, {src_as})",
            dst.index(),
            src.index()
        ),
        Insn::Ja { off } => format!("goto pc{off:+}"),
        Insn::Gotol { imm } => format!("gotol pc{imm:+}"),
        Insn::MayGoto { off } => format!("may_goto pc{off:+}"),
        Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let s = match src {
                Src::Reg(r) => reg_w(r, width),
                Src::Imm(i) => format!("{:#x}", i as u32),
            };
            format!(
                "if {} {} {s} goto pc{off:+}",
                reg_w(dst, width),
                lookup(&COND_TEXT, cond)
            )
        }
        Insn::Call(CallKind::Helper(id)) => {
            format!("call {}#{id}", ctx.helper_name(id).unwrap_or("unknown"))
        }
        Insn::Call(CallKind::Local(imm)) => format!("call pc{imm:+}"),
        Insn::Call(CallKind::Kfunc { btf_id, off }) => format!(
            "call {}#{btf_id}",
            ctx.kfunc_name(pc, btf_id, off).unwrap_or("kernel-function")
        ),
        Insn::Callx { .. } => format!("call {}#0", ctx.helper_name(0).unwrap_or("unknown")),
        Insn::Exit => "exit".to_string(),
        Insn::Load {
            size,
            sign,
            dst,
            src,
            off,
        } => format!(
            "r{} = *({} *){}",
            dst.index(),
            size_text(size, sign),
            mem(src, off)
        ),
        Insn::Store {
            size,
            dst,
            off,
            imm,
        } => format!("*({} *){} = {imm}", size_text(size, false), mem(dst, off)),
        Insn::StoreReg {
            size,
            dst,
            src,
            off,
        } => format!(
            "*({} *){} = r{}",
            size_text(size, false),
            mem(dst, off),
            src.index()
        ),
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => atomic(size, op, dst, src, off),
        Insn::LdImm64 {
            dst,
            kind,
            imm,
            next_imm,
        } => {
            let value = match kind {
                Imm64Kind::Imm | Imm64Kind::Func => Insn::imm64(imm, next_imm),
                k if imm64_hidden_without_leaks(k) && !ctx.allow_ptr_leaks() => 0,
                k => ctx.pseudo_imm64(pc, k, imm, next_imm),
            };
            format!("r{} = {value:#x}", dst.index())
        }
        Insn::LdAbs { size, imm } => format!("r0 = *({} *)skb[{imm}]", size_text(size, false)),
        Insn::LdInd { size, src, imm } => format!(
            "r0 = *({} *)skb[r{} + {imm}]",
            size_text(size, false),
            src.index()
        ),
    }
}

fn atomic(size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) -> String {
    let ty = size_text(size, false);
    let m = mem(dst, off);
    let s = src.index();
    let bits = if size == Size::DW { "64" } else { "" };
    match op {
        AtomicOp::Xchg => format!("r{s} = atomic{bits}_xchg(({ty} *){m}, r{s})"),
        AtomicOp::Cmpxchg => format!("r0 = atomic{bits}_cmpxchg(({ty} *){m}, r0, r{s})"),
        _ => {
            let &(_, lock, name) = ATOMIC_TEXT
                .iter()
                .find(|e| e.0 == atomic_base(op))
                .expect("every arithmetic atomic is in ATOMIC_TEXT");
            if op.fetches() {
                format!("r{s} = atomic{bits}_fetch_{name}(({ty} *){m}, r{s})")
            } else {
                format!("lock *({ty} *){m} {lock} r{s}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_gap_matches_kernel_columns() {
        // `0: (b7) r0 = 0` + newline = 15 bytes: the `;` goes to column 38.
        assert_eq!(comment_gap(15), 24);
        // `0: (85) call bpf_rcu_read_lock#65481` + newline = 37: column 46.
        assert_eq!(comment_gap(37), 10);
        // `4: (7a) *(u64 *)(r10 -24) = 2147483647` + newline = 39: column 46.
        assert_eq!(comment_gap(39), 8);
    }

    #[test]
    fn live_regs_prefix_shapes() {
        assert_eq!(live_regs_prefix(0, 0, 0), "      0: .......... ");
        assert_eq!(live_regs_prefix(1, 12, 0b101), "  1  12: 0.2....... ");
        assert_eq!(live_regs_prefix(0, 1234, 0x3ff), "    1234: 0123456789 ");
    }

    #[test]
    fn stand_ins_are_distinct_and_kernel_shaped() {
        assert_eq!(stand_in_map_addr(0), 0xffff_8881_0000_0000);
        assert_eq!(stand_in_map_addr(1), 0xffff_8881_0000_1000);
        assert_eq!(stand_in_map_value_addr(1, 4), 0xffff_8881_0000_1104);
        assert_ne!(stand_in_ksym_addr(7), stand_in_ksym_addr(8));
        assert_eq!(
            stand_in_imm64(Imm64Kind::Func, -4, 0),
            0x0000_0000_ffff_fffc
        );
        assert!(imm64_hidden_without_leaks(Imm64Kind::MapValue));
        assert!(!imm64_hidden_without_leaks(Imm64Kind::MapIdx));
    }
}
