//! `bpfvet-btf`: BTF type information for BPF objects and kernels.
//!
//! * [`Btf::parse`] reads and validates a `.BTF` blob (an object's section or
//!   `/sys/kernel/btf/vmlinux`; either byte order) into owned, id-indexed
//!   [`Type`]s. Validation follows libbpf (header bounds, string section,
//!   every type id and name offset in range, vlen against the data, unknown
//!   kinds) plus the kernel's version/flags checks; errors name the type id and
//!   field.
//! * Queries: [`Btf::ty`], [`Btf::name`], [`Btf::types`], [`Btf::find`],
//!   [`Btf::resolve_size`], [`Btf::skip_mods_and_typedefs`], [`Btf::members`],
//!   [`Btf::member_by_name`], [`Btf::enum_values`], [`Btf::func_params`],
//!   [`Btf::datasec_entries`], and for libbpf map definitions in `.maps`
//!   [`Btf::map_def_uint`] (`__uint(type, X)`) and [`Btf::map_def_type`]
//!   (`__type(key, T)`). Reference cycles give errors, never loops.
//! * Text: [`Btf::format_type`] (C-like: `const struct foo *`, `char[16]`) and
//!   [`Btf::dump_raw`], identical to `bpftool btf dump file X format raw`.
//! * [`BtfExt::parse`] reads `.BTF.ext` (func_info, line_info, CO-RE
//!   relocations per section; larger records than known are accepted);
//!   [`BtfExt::line_at`] finds the source line of an instruction.
//! * [`core`] resolves CO-RE relocations against a target BTF with libbpf's
//!   rules and patches instructions (or poisons them as libbpf does).
//! * [`BtfBuilder`] / [`BtfExtBuilder`] write BTF bytes for tests and seeds.
//!
//! # Example
//!
//! ```
//! use bpfvet_btf::core::{CoreResolver, PatchOutcome};
//! use bpfvet_btf::{Btf, BtfBuilder, BtfExt, BtfExtBuilder, CoreReloKind, Kind};
//!
//! // The program's BTF: struct task___my { int pid; }, with one CO-RE
//! // relocation on instruction 0 of section "xdp" and a line record.
//! let mut b = BtfBuilder::new();
//! let int = b.add_int("int", 4, true);
//! let task = b.add_struct("task___my", 4, &[("pid", int, 0)]);
//! let mut e = BtfExtBuilder::new();
//! e.core_relo(&mut b, "xdp", 0, task, "0:0", CoreReloKind::FieldByteOffset as u32);
//! e.line_info(&mut b, "xdp", 0, "prog.c", "r = t->pid;", 12, 5);
//! let local = Btf::parse(&b.build()).unwrap();
//! let ext = BtfExt::parse(&e.build(), &local).unwrap();
//! assert_eq!(ext.line_at("xdp", 0).unwrap().line_num, 12);
//!
//! // The target (kernel) BTF: struct task { long x; int pid; }.
//! let mut t = BtfBuilder::new();
//! let int = t.add_int("int", 4, true);
//! let long = t.add_int("long", 8, true);
//! t.add_struct("task", 16, &[("x", long, 0), ("pid", int, 64)]);
//! let target = Btf::parse(&t.build()).unwrap();
//! let st = target.find(Kind::Struct, "task").unwrap();
//! assert_eq!(target.resolve_size(st).unwrap(), 16);
//! assert_eq!(target.format_type(st), "struct task");
//!
//! // r1 = *(u32 *)(r2 + 0): the offset is moved to 8.
//! let mut code = vec![0x61, 0x21, 0, 0, 0, 0, 0, 0];
//! let mut resolver = CoreResolver::new(&local, &target);
//! let out = resolver.relocate_section("xdp", ext.relos("xdp"), &mut code).unwrap();
//! assert!(matches!(out[0].1, PatchOutcome::Patched(_)));
//! assert_eq!(code[2], 8);
//! ```

mod btf;
mod budget;
mod builder;
pub mod core;
mod dump;
mod error;
mod ext;
mod format;
mod query;
mod types;

pub use btf::{BTF_MAGIC, Btf, MAX_TYPES};
pub use builder::{BtfBuilder, BtfExtBuilder};
pub use error::BtfError;
pub use ext::{
    BtfExt, BtfExtError, CORE_RELO_KINDS, CoreRelo, CoreReloKind, ExtSection, FuncInfo, LineInfo,
};
pub use query::{MAX_MODS_DEPTH, MAX_RESOLVE_DEPTH, PTR_SIZE, essential_name};
pub use types::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essential_names_strip_the_last_flavor() {
        assert_eq!(essential_name("task_struct___my"), "task_struct");
        assert_eq!(essential_name("a___b___c"), "a___b");
        assert_eq!(essential_name("a____b"), "a____b");
        assert_eq!(essential_name("___x"), "___x");
        assert_eq!(essential_name("x___"), "x___");
        assert_eq!(essential_name("plain"), "plain");
    }

    #[test]
    fn builder_round_trips_every_kind() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, true);
        let ch = b.add_int_raw("char", 1, INT_CHAR, 0, 8);
        let p = b.add_ptr(int);
        let arr = b.add_array(ch, int, 16);
        let s = b.add_struct_bits("s", 8, &[("a", int, 0, 3), ("b", p, 32, 0)]);
        let u = b.add_union("u", 8, &[("x", int, 0)]);
        let e = b.add_enum("e", 4, true, &[("E", -1)]);
        let f = b.add_fwd("f", true);
        let td = b.add_typedef("td", int);
        let v = b.add_volatile(td);
        let c = b.add_const(v);
        let r = b.add_ref(Kind::Restrict, "", p);
        let proto = b.add_func_proto(int, &[("x", c), ("", TypeId::VOID)]);
        let func = b.add_func("fn", proto, 1);
        let var = b.add_var("var", arr, 1);
        let sec = b.add_datasec(".data", 16, &[(var, 0, 16)]);
        let fl = b.add_float("double", 8);
        let dt = b.add_decl_tag("tag", s, 1);
        let tt = b.add_type_tag("user", int);
        let e64 = b.add_enum64("e64", 8, false, &[("Z", 1 << 40)]);
        let btf = Btf::parse(&b.build()).unwrap();
        assert_eq!(btf.type_count(), 21);
        let kinds: Vec<Kind> = btf.types().map(|(_, t)| t.kind()).collect();
        for (k, name) in &KIND_TABLE[1..] {
            assert!(kinds.contains(k), "{name} missing");
        }
        assert_eq!(btf.format_type(arr), "char[16]");
        assert_eq!(btf.format_type(s), "struct s");
        assert_eq!(btf.format_type(u), "union u");
        assert_eq!(btf.format_type(e), "enum e");
        assert_eq!(btf.format_type(f), "union f");
        assert_eq!(btf.format_type(c), "const volatile td");
        assert_eq!(btf.format_type(r), "int *restrict");
        assert_eq!(btf.format_type(func), "int fn(const volatile td, ...)");
        assert_eq!(btf.format_type(var), "char var[16]");
        assert_eq!(btf.format_type(sec), "SEC(\".data\")");
        assert_eq!(btf.format_type(fl), "double");
        assert_eq!(btf.format_type(dt), "struct s");
        assert_eq!(btf.format_type(tt), "int");
        assert_eq!(btf.format_type(e64), "enum e64");
        assert_eq!(btf.resolve_size(c).unwrap(), 4);
        assert_eq!(btf.resolve_size(var).unwrap(), 16);
        assert!(btf.resolve_size(func).is_err());
        assert!(btf.resolve_size(f).is_err());
        assert_eq!(btf.skip_mods_and_typedefs(c).unwrap(), int);
        assert_eq!(btf.skip_mods(c).unwrap(), td);
        assert_eq!(btf.members(s).unwrap()[0].bitfield_size, 3);
        assert_eq!(btf.enum_values(e).unwrap()[0].val as i64, -1);
        assert_eq!(btf.enum_values(e64).unwrap()[0].val, 1 << 40);
        assert_eq!(btf.datasec_vars(sec).unwrap()[0].size, 16);
        assert_eq!(
            btf.dump_type(e),
            "[7] ENUM 'e' encoding=SIGNED size=4 vlen=1\n\t'E' val=-1"
        );
        assert_eq!(
            btf.dump_type(ch),
            "[2] INT 'char' size=1 bits_offset=0 nr_bits=8 encoding=CHAR"
        );
        assert_eq!(btf.find_all("int"), vec![int]);
        assert_eq!(btf.find(Kind::Func, "fn"), Some(func));
        assert_eq!(btf.datasec(".data"), Some(sec));
    }
}
