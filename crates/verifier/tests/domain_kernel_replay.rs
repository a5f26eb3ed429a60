//! Replays transfer steps captured from the live Linux 6.18 verifier (log level 2) through
//! the scalar domain and compares the log text bit for bit.
//!
//! Each line of `domain_kernel_cases.txt` is one instruction of a random straight-line
//! program as the kernel saw it: the operation, the kernel's printed input state of every
//! register it reads, and the printed result (for jumps: both sides, `dead` for a side
//! the kernel proved unreachable, `same` when it decided the branch and left the state
//! alone), and any `REG INVARIANTS VIOLATION` lines the kernel logged for the jump
//! (it then resets the offending register's bounds and walks on). Input states are parsed back into [`Scalar`]s, the operation is applied with
//! our transfer functions, and the result is formatted with [`Scalar::fmt_value`].
//!
//! Set `BPFVET_DOMAIN_CASES=<file>` to replay another capture in the same format.

use bpfvet_isa::insn::{AluOp, Cond, EndianOp, Width};
use bpfvet_verifier::scalar::{Scalar, branch_taken, refine_detailed, refine_same_reg};
use bpfvet_verifier::tnum::Tnum;

const CASES: &str = include_str!("domain_kernel_cases.txt");

fn parse_u64(s: &str) -> Result<u64, String> {
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).map_err(|e| format!("bad hex {s:?}: {e}"))
    } else if let Some(d) = s.strip_prefix('-') {
        d.parse::<u64>()
            .map(|v| v.wrapping_neg())
            .map_err(|e| format!("bad number {s:?}: {e}"))
    } else {
        s.parse::<u64>()
            .map_err(|e| format!("bad number {s:?}: {e}"))
    }
}

/// A printed 32-bit signed bound: decimal (sign-extended) or the u32 pattern in hex.
fn parse_s32(s: &str) -> Result<i32, String> {
    Ok(parse_u64(s)? as u32 as i32)
}

/// Parse what the kernel prints after `Rn=` for a scalar (no `P`, no `id=`).
fn parse_scalar(text: &str) -> Result<Scalar, String> {
    let Some(inner) = text
        .strip_prefix("scalar(")
        .and_then(|t| t.strip_suffix(')'))
    else {
        return Ok(Scalar::known(parse_u64(text)?));
    };
    let mut s = Scalar::UNKNOWN;
    let mut rest = inner;
    while !rest.is_empty() {
        if let Some(v) = rest.strip_prefix("var_off=(") {
            let end = v.find(')').ok_or("unterminated var_off")?;
            let (a, b) = v[..end].split_once("; ").ok_or("bad var_off")?;
            s.var_off = Tnum::new(parse_u64(a)?, parse_u64(b)?);
            rest = v[end + 1..].trim_start_matches(',');
            continue;
        }
        let end = rest.find(',').unwrap_or(rest.len());
        let field = &rest[..end];
        rest = rest[end..].trim_start_matches(',');
        let mut parts: Vec<&str> = field.split('=').collect();
        let val = parts.pop().ok_or("empty field")?;
        for name in parts {
            match name {
                "smin" => s.smin = parse_u64(val)? as i64,
                "smax" => s.smax = parse_u64(val)? as i64,
                "umin" => s.umin = parse_u64(val)?,
                "umax" => s.umax = parse_u64(val)?,
                "smin32" => s.s32_min = parse_s32(val)?,
                "smax32" => s.s32_max = parse_s32(val)?,
                "umin32" => s.u32_min = parse_u64(val)? as u32,
                "umax32" => s.u32_max = parse_u64(val)? as u32,
                other => return Err(format!("unknown bound {other:?}")),
            }
        }
    }
    Ok(s)
}

/// `R6=.. R7=..` into (register number, printed value) pairs.
fn parse_regs(text: &str) -> Result<Vec<(u8, String)>, String> {
    let mut out = Vec::new();
    for item in split_top(text) {
        let (r, v) = item
            .split_once('=')
            .ok_or_else(|| format!("bad reg {item:?}"))?;
        let n = r
            .strip_prefix('R')
            .ok_or("reg without R")?
            .parse()
            .map_err(|_| "bad reg")?;
        out.push((n, v.to_string()));
    }
    Ok(out)
}

/// Split on spaces outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ' ' if depth == 0 => {
                if i > start {
                    out.push(&text[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn alu_op(name: &str) -> Result<AluOp, String> {
    Ok(match name {
        "add" => AluOp::Add,
        "sub" => AluOp::Sub,
        "mul" => AluOp::Mul,
        "div" => AluOp::Div,
        "sdiv" => AluOp::Sdiv,
        "mod" => AluOp::Mod,
        "smod" => AluOp::Smod,
        "or" => AluOp::Or,
        "and" => AluOp::And,
        "xor" => AluOp::Xor,
        "lsh" => AluOp::Lsh,
        "rsh" => AluOp::Rsh,
        "arsh" => AluOp::Arsh,
        other => return Err(format!("unknown alu op {other:?}")),
    })
}

fn cond(name: &str) -> Result<Cond, String> {
    Ok(match name {
        "eq" => Cond::Eq,
        "ne" => Cond::Ne,
        "gt" => Cond::Gt,
        "ge" => Cond::Ge,
        "lt" => Cond::Lt,
        "le" => Cond::Le,
        "sgt" => Cond::Sgt,
        "sge" => Cond::Sge,
        "slt" => Cond::Slt,
        "sle" => Cond::Sle,
        "set" => Cond::Set,
        other => return Err(format!("unknown condition {other:?}")),
    })
}

fn reg_no(s: &str) -> Result<u8, String> {
    s.strip_prefix('r')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad register {s:?}"))
}

fn width(tag: &str) -> Width {
    if tag.ends_with("32") {
        Width::W32
    } else {
        Width::W64
    }
}

fn lookup(regs: &[(u8, String)], r: u8) -> Result<Scalar, String> {
    let (_, v) = regs
        .iter()
        .find(|(n, _)| *n == r)
        .ok_or_else(|| format!("no input for r{r}"))?;
    parse_scalar(v)
}

fn show(regs: &[(u8, Scalar)]) -> String {
    regs.iter()
        .map(|(r, s)| format!("R{r}={}", s.fmt_value()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Check one captured line; `Err` describes the mismatch.
fn check_line(line: &str) -> Result<(), String> {
    let fields: Vec<&str> = line.split(" | ").collect();
    let words: Vec<&str> = fields[0].split(' ').collect();
    let inputs = parse_regs(fields.get(1).ok_or("missing inputs")?)?;
    let dst = reg_no(words.last().copied().unwrap_or_default());
    let tag = words[0];
    let expect_one = |got: Scalar, r: u8| -> Result<(), String> {
        let want = fields.get(2).ok_or("missing output")?;
        let got = format!("R{r}={}", got.fmt_value());
        if &got == want {
            Ok(())
        } else {
            Err(format!("got {got}"))
        }
    };
    match tag {
        "alu64" | "alu32" => {
            let op = alu_op(words[1])?;
            let d = reg_no(words[2])?;
            let mut a = lookup(&inputs, d)?;
            let b = match words[3].strip_prefix("imm:") {
                Some(imm) => Scalar::from_imm(imm.parse().map_err(|_| "bad imm")?),
                None => lookup(&inputs, reg_no(words[3])?)?,
            };
            if matches!(op, AluOp::And | AluOp::Or)
                && b.is_const()
                && let Some((cur, _pushed)) = a.fork_minus_one_zero()
            {
                a = cur;
            }
            expect_one(a.alu(op, width(tag), b), d)
        }
        "neg64" | "neg32" => {
            let d = dst?;
            expect_one(lookup(&inputs, d)?.neg(width(tag)), d)
        }
        "end" => {
            let d = dst?;
            let (kind, bits) = words[1].split_at(words[1].len() - 2);
            let op = match kind {
                "le" => EndianOp::ToLe,
                "be" => EndianOp::ToBe,
                _ => EndianOp::Bswap,
            };
            let bits: u8 = bits.parse().map_err(|_| "bad bits")?;
            expect_one(lookup(&inputs, d)?.endian(op, bits), d)
        }
        "movsx64" | "movsx32" => {
            let d = dst?;
            let bits: u8 = words[1].parse().map_err(|_| "bad bits")?;
            expect_one(lookup(&inputs, d)?.movsx(bits, width(tag)), d)
        }
        "mov32" => {
            let d = dst?;
            let a = lookup(&inputs, d)?;
            expect_one(a.alu(AluOp::Mov, Width::W32, a), d)
        }
        "jmp64" | "jmp32" => {
            let c = cond(words[1])?;
            let jmp32 = tag == "jmp32";
            let d = reg_no(words[2])?;
            let a = lookup(&inputs, d)?;
            if words[3] == words[2] {
                return check_same_reg(c, jmp32, d, a, &fields);
            }
            let (b, src_reg) = match words[3].strip_prefix("imm:") {
                Some(imm) => (Scalar::from_imm(imm.parse().map_err(|_| "bad imm")?), None),
                None => {
                    let s = reg_no(words[3])?;
                    (lookup(&inputs, s)?, Some(s))
                }
            };
            let fall = fields
                .get(2)
                .and_then(|f| f.strip_prefix("fall: "))
                .ok_or("no fall")?;
            let taken = fields
                .get(3)
                .and_then(|f| f.strip_prefix("taken: "))
                .ok_or("no taken")?;
            let decided = branch_taken(c, jmp32, &a, &b);
            let want_decided = match (fall, taken) {
                ("dead", _) => Some(true),
                (_, "dead") => Some(false),
                _ => None,
            };
            if decided != want_decided {
                return Err(format!("branch_taken {decided:?}, kernel {want_decided:?}"));
            }
            let mut messages = Vec::new();
            if decided.is_none() {
                // The kernel checks the jump side's operands, then the fall-through's.
                for (side, ctx) in [(true, "true"), (false, "false")] {
                    let out = refine_detailed(c, jmp32, &a, &b, side);
                    for (k, v) in out.violations.iter().enumerate() {
                        if let Some(v) = v {
                            messages.push(format!(
                                "REG INVARIANTS VIOLATION ({ctx}_reg{}): {v}",
                                k + 1
                            ));
                        }
                    }
                }
            }
            let want_messages: Vec<&str> = match fields.get(4) {
                Some(m) => m.split(" ; ").collect(),
                None => Vec::new(),
            };
            if messages != want_messages {
                return Err(format!("violations {messages:?}"));
            }
            for (side, want) in [(false, fall), (true, taken)] {
                if want == "dead" || want == "same" {
                    continue;
                }
                let out = refine_detailed(c, jmp32, &a, &b, side);
                let mut regs = vec![(d, out.a)];
                if let Some(s) = src_reg {
                    regs.push((s, out.b));
                }
                let got = show(&regs);
                if got != want {
                    return Err(format!(
                        "{} side: got {got}",
                        if side { "taken" } else { "fall" }
                    ));
                }
            }
            Ok(())
        }
        other => Err(format!("unknown step kind {other:?}")),
    }
}

/// `if rX <cond> rX`: one register on both sides.
fn check_same_reg(c: Cond, jmp32: bool, d: u8, a: Scalar, fields: &[&str]) -> Result<(), String> {
    let fall = fields
        .get(2)
        .and_then(|f| f.strip_prefix("fall: "))
        .ok_or("no fall")?;
    let taken = fields
        .get(3)
        .and_then(|f| f.strip_prefix("taken: "))
        .ok_or("no taken")?;
    let decided = branch_taken(c, jmp32, &a, &a);
    let want_decided = match (fall, taken) {
        ("dead", _) => Some(true),
        (_, "dead") => Some(false),
        _ => None,
    };
    if decided != want_decided {
        return Err(format!("branch_taken {decided:?}, kernel {want_decided:?}"));
    }
    for (side, want) in [(false, fall), (true, taken)] {
        if want == "dead" || want == "same" {
            continue;
        }
        let (r, _) = refine_same_reg(c, jmp32, &a, side);
        let got = format!("R{d}={}", r.fmt_value());
        if got != want {
            return Err(format!(
                "same-register {} side: got {got}",
                if side { "taken" } else { "fall" }
            ));
        }
    }
    Ok(())
}

#[test]
fn kernel_captured_steps_replay_exactly() {
    let external = std::env::var("BPFVET_DOMAIN_CASES").ok();
    let text = match &external {
        Some(path) => std::fs::read_to_string(path).expect("read BPFVET_DOMAIN_CASES"),
        None => CASES.to_string(),
    };
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        count += 1;
        if let Err(e) = check_line(line) {
            failures.push(format!("{line}\n    => {e}"));
        }
    }
    assert!(count > 0, "no cases");
    if !failures.is_empty() {
        let n = failures.len();
        failures.truncate(25);
        panic!(
            "{n} of {count} steps differ from the kernel:\n{}",
            failures.join("\n")
        );
    }
}

#[test]
fn printed_states_round_trip_through_the_parser() {
    // Every state the kernel printed parses back to a scalar that prints identically,
    // which checks the formatter against all of the captured text.
    let mut n = 0;
    for line in CASES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        for field in line.split(" | ").skip(1).take(3) {
            let field = field
                .trim_start_matches("fall: ")
                .trim_start_matches("taken: ");
            if field == "dead" || field == "same" {
                continue;
            }
            for (r, v) in parse_regs(field).expect("parse") {
                let s = parse_scalar(&v).expect("scalar");
                assert_eq!(s.fmt_value().to_string(), v, "R{r} in {line}");
                n += 1;
            }
        }
    }
    assert!(n > 100, "only {n} printed states");
}
