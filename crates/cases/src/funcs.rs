//! `func` directives: BTF function info for a case. A case with them is loaded with a BTF
//! blob holding one `FUNC` per function (the main program first, as `int prog(void)`, global)
//! and `func_info` records tying each to its first instruction — what callbacks and global
//! functions need.
//!
//! `func NAME static|global RET [ARG...]` describes the next subprogram in instruction order.
//! RET is `int` or `void`; each ARG is `int`, `long`, `ctx` (a pointer to the program type's
//! context struct), `mem:N` (a pointer to N bytes), `mem:N:nonnull` (with the `arg:nonnull`
//! tag) or `struct:N` (an N-byte struct passed by value).

use bpfvet_btf::{BtfBuilder, TypeId};
use bpfvet_isa::Program;
use bpfvet_isa::insn::{CallKind, Imm64Kind, Insn};

/// One `func` directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncDef {
    pub name: String,
    pub global: bool,
    pub ret: String,
    pub args: Vec<String>,
}

/// Parses the value of a `func` directive.
pub fn parse_func(value: &str) -> Result<FuncDef, String> {
    let mut it = value.split_whitespace();
    let name = it.next().ok_or("`func` needs a name")?;
    let global = match it.next() {
        Some("global") => true,
        Some("static") => false,
        _ => return Err("`func NAME` is followed by `static` or `global`".into()),
    };
    let ret = it
        .next()
        .ok_or("`func` needs a return type (int or void)")?;
    if !matches!(ret, "int" | "void") {
        return Err(format!("return type `{ret}`: expected int or void"));
    }
    let args: Vec<String> = it.map(str::to_string).collect();
    for a in &args {
        arg_shape(a)?;
    }
    Ok(FuncDef {
        name: name.to_string(),
        global,
        ret: ret.to_string(),
        args,
    })
}

enum Shape {
    Int(u32),
    Ctx,
    Mem(u32, bool),
    Struct(u32),
}

fn arg_shape(a: &str) -> Result<Shape, String> {
    let bad = || format!("argument `{a}`: expected int, long, ctx, mem:N[:nonnull] or struct:N");
    let num = |s: &str| s.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(bad);
    match a.split(':').collect::<Vec<_>>().as_slice() {
        ["int"] => Ok(Shape::Int(4)),
        ["long"] => Ok(Shape::Int(8)),
        ["ctx"] => Ok(Shape::Ctx),
        ["mem", n] => Ok(Shape::Mem(num(n)?, false)),
        ["mem", n, "nonnull"] => Ok(Shape::Mem(num(n)?, true)),
        ["struct", n] => Ok(Shape::Struct(num(n)?)),
        _ => Err(bad()),
    }
}

/// The context struct a `ctx` argument points to for a program type.
fn ctx_struct(prog_type: u32) -> &'static str {
    match prog_type {
        6 => "xdp_md",
        2 => "pt_regs",
        7 => "bpf_perf_event_data",
        9 => "bpf_sock",
        13 => "bpf_sock_ops",
        16 => "sk_msg_md",
        18 => "bpf_sock_addr",
        _ => "__sk_buff",
    }
}

/// Subprogram starts other than 0, in order: targets of local calls and function addresses.
pub fn subprog_starts(p: &Program) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut pc = 0i64;
    for i in p.insns() {
        let target = match i {
            Insn::Call(CallKind::Local(imm)) => Some(pc + 1 + i64::from(*imm)),
            Insn::LdImm64 {
                kind: Imm64Kind::Func,
                imm,
                ..
            } => Some(pc + 1 + i64::from(*imm)),
            _ => None,
        };
        if let Some(t) = target.filter(|t| *t > 0) {
            starts.push(t as usize);
        }
        pc += i.slots() as i64;
    }
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// A BTF blob and its `(slot, FUNC type id)` records.
pub type FuncBtf = (Vec<u8>, Vec<(usize, u32)>);

/// The BTF blob and `(slot, FUNC type id)` records for a case's functions: the main program
/// at slot 0, then `funcs` at the subprogram starts. Err when the counts differ.
pub fn build(p: &Program, prog_type: u32, funcs: &[FuncDef]) -> Result<FuncBtf, String> {
    let starts = subprog_starts(p);
    if starts.len() != funcs.len() {
        return Err(format!(
            "{} `func` directives for {} subprograms",
            funcs.len(),
            starts.len()
        ));
    }
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let long = b.add_int("long", 8, true);
    let char_t = b.add_int("char", 1, true);
    let main_proto = b.add_func_proto(int, &[]);
    let main = b.add_func("prog", main_proto, 1);
    let mut out = vec![(0usize, main.0)];
    for (f, start) in funcs.iter().zip(starts) {
        let ret = if f.ret == "int" { int } else { TypeId(0) };
        let mut params = Vec::new();
        let mut nonnull = Vec::new();
        for (i, a) in f.args.iter().enumerate() {
            let ty = match arg_shape(a)? {
                Shape::Int(4) => int,
                Shape::Int(_) => long,
                Shape::Ctx => {
                    let s = b.add_struct(ctx_struct(prog_type), 0, &[]);
                    b.add_ptr(s)
                }
                Shape::Mem(n, nn) => {
                    if nn {
                        nonnull.push(i);
                    }
                    let idx = b.add_int("unsigned int", 4, false);
                    let arr = b.add_array(char_t, idx, n);
                    let s = b.add_struct(&format!("mem{n}"), n, &[("b", arr, 0)]);
                    b.add_ptr(s)
                }
                Shape::Struct(n) => {
                    let idx = b.add_int("unsigned int", 4, false);
                    let arr = b.add_array(char_t, idx, n);
                    b.add_struct(&format!("val{n}"), n, &[("b", arr, 0)])
                }
            };
            params.push((format!("a{i}"), ty));
        }
        let named: Vec<(&str, TypeId)> = params.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let proto = b.add_func_proto(ret, &named);
        let func = b.add_func(&f.name, proto, u16::from(f.global));
        for i in nonnull {
            b.add_decl_tag("arg:nonnull", func, i as i32);
        }
        out.push((start, func.0));
    }
    Ok((b.build(), out))
}
