//! Kernel function (kfunc) calls: a call with `src_reg = BPF_PSEUDO_KFUNC_CALL` names a
//! function by its BTF id in the kernel's BTF. Before anything else the verifier resolves
//! every such call (`add_kfunc_call`): the id must be a function with a prototype, the
//! program must be GPL. At the call it looks the function up in the kfunc sets
//! ([`crate::kfunc_table`]) for the program type, checks the arguments against the BTF
//! prototype (scalars, iterator state pointers, `__ign` pointers) and types R0 from the return
//! type; iterator kfuncs go through [`crate::iter`].

use std::collections::HashMap;

use bpfvet_btf::{Btf, TypeId, TypeKind};
use bpfvet_isa::insn::{CallKind, Insn};

use crate::env::VerifyEnv;
use crate::error::{Errno, VerifyError};
use crate::explore::{Next, Verifier};
use crate::kfunc_table::{self, KF_ITER_DESTROY, KF_ITER_NEW, KF_ITER_NEXT, KF_RET_NULL};
use crate::prog::Code;
use crate::reg::{RegState, RegType};
use crate::state::State;

/// One argument of a kfunc, from its BTF prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KArg {
    /// An integer, enum or other scalar.
    Scalar,
    /// A pointer argument ending in `__ign`: anything goes.
    Ignored,
    /// An iterator's state on the stack (the first argument of iterator kfuncs): its kind
    /// (`num` for `struct bpf_iter_num`) and how many 8-byte slots it takes.
    Iter { kind: &'static str, slots: usize },
    /// Any other pointer (to the named type): not modelled.
    Pointer(String),
}

/// What a kfunc returns, from its BTF prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KRet {
    Void,
    Scalar,
    /// A pointer to `size` bytes of read-only memory (`int *`, ...).
    Mem {
        size: u32,
    },
    /// Any other pointer: not modelled.
    Other(String),
}

/// A resolved kfunc: name, table entry, BTF prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kfunc {
    pub btf_id: u32,
    pub name: String,
    pub entry: Option<&'static kfunc_table::KfuncEntry>,
    pub args: Vec<KArg>,
    pub ret: KRet,
    /// Parameters beyond the five argument registers.
    pub nargs: usize,
}

impl Kfunc {
    pub fn flags(&self) -> u32 {
        self.entry.map_or(0, |e| e.flags)
    }

    /// An iterator's next method (`KF_ITER_NEXT`).
    pub fn is_iter_next(&self) -> bool {
        self.flags() & KF_ITER_NEXT != 0
    }
}

/// The part of an iterator kfunc's name that names its kind: `num` in `bpf_iter_num_next`.
fn iter_kind(name: &'static str) -> &'static str {
    let s = name.strip_prefix("bpf_iter_").unwrap_or(name);
    for suffix in ["_new", "_next", "_destroy"] {
        if let Some(k) = s.strip_suffix(suffix) {
            return k;
        }
    }
    s
}

fn is_scalar(btf: &Btf, id: TypeId) -> bool {
    matches!(
        btf.ty(id).map(|t| &t.kind),
        Ok(TypeKind::Int { .. } | TypeKind::Enum { .. } | TypeKind::Enum64 { .. })
    )
}

/// Resolves kfunc `btf_id` in `btf` (`add_kfunc_call` + `btf_distill_func_proto`).
fn resolve(btf: &Btf, btf_id: i32) -> Result<Kfunc, String> {
    let not_func = || format!("kernel btf_id {} is not a function", btf_id as u32);
    let id = TypeId(btf_id as u32);
    let Ok(t) = btf.ty(id) else {
        return Err(not_func());
    };
    let TypeKind::Func { proto, .. } = t.kind else {
        return Err(not_func());
    };
    let bad_proto = || {
        format!(
            "kernel function btf_id {} does not have a valid func_proto",
            btf_id as u32
        )
    };
    let Ok(p) = btf.ty(proto) else {
        return Err(bad_proto());
    };
    let TypeKind::FuncProto { ret, params } = &p.kind else {
        return Err(bad_proto());
    };
    let name = btf.name(id).to_string();
    let entry = kfunc_table::lookup(&name);
    let iter_fn =
        entry.is_some_and(|e| e.flags & (KF_ITER_NEW | KF_ITER_NEXT | KF_ITER_DESTROY) != 0);
    let mut args = Vec::new();
    for (i, prm) in params.iter().enumerate() {
        let pname = btf.name_at(prm.name_off);
        let ty = btf.skip_mods_and_typedefs(prm.ty).unwrap_or(prm.ty);
        let arg = if is_scalar(btf, ty) {
            KArg::Scalar
        } else if let Ok(TypeKind::Ptr { target }) = btf.ty(ty).map(|t| &t.kind) {
            let target = btf.skip_mods_and_typedefs(*target).unwrap_or(*target);
            let tname = btf.name(target).to_string();
            if pname.ends_with("__ign") {
                KArg::Ignored
            } else if i == 0
                && iter_fn
                && let Some(e) = entry
                && let Ok(TypeKind::Struct { size, .. }) = btf.ty(target).map(|t| &t.kind)
                && tname.strip_prefix("bpf_iter_") == Some(iter_kind(e.name))
            {
                KArg::Iter {
                    kind: iter_kind(e.name),
                    slots: (*size / 8) as usize,
                }
            } else {
                KArg::Pointer(tname)
            }
        } else {
            KArg::Pointer(btf.format_type(ty))
        };
        args.push(arg);
    }
    let rty = btf.skip_mods_and_typedefs(*ret).unwrap_or(*ret);
    let ret = match btf.ty(rty).map(|t| &t.kind) {
        Ok(TypeKind::Void) => KRet::Void,
        _ if is_scalar(btf, rty) => KRet::Scalar,
        Ok(TypeKind::Ptr { target }) => {
            let target = btf.skip_mods_and_typedefs(*target).unwrap_or(*target);
            match btf.ty(target).map(|t| &t.kind) {
                Ok(TypeKind::Void) => KRet::Scalar,
                Ok(TypeKind::Int { size, .. }) => KRet::Mem { size: *size },
                _ => KRet::Other(btf.format_type(rty)),
            }
        }
        _ => KRet::Other(btf.format_type(rty)),
    };
    Ok(Kfunc {
        btf_id: btf_id as u32,
        name,
        entry,
        nargs: params.len(),
        args,
        ret,
    })
}

/// The kfuncs a program calls, by BTF id, and the instructions calling an iterator's next
/// method.
#[derive(Clone, Debug, Default)]
pub struct Kfuncs {
    pub by_id: HashMap<i32, Kfunc>,
    pub iter_next: Vec<bool>,
}

/// `add_subprog_and_kfunc` for kfuncs: resolves every kfunc call of `code` against the
/// kernel BTF, with the kernel's refusals.
pub fn resolve_all(code: &Code, env: &VerifyEnv) -> Result<Kfuncs, VerifyError> {
    let mut out = Kfuncs {
        by_id: HashMap::new(),
        iter_next: vec![false; code.len()],
    };
    for pc in 0..code.len() {
        let Some(Insn::Call(CallKind::Kfunc { btf_id, off })) = code.insn(pc) else {
            continue;
        };
        let Some(btf) = env.kernel_btf.as_ref() else {
            return Err(VerifyError::new(
                Some(pc),
                Errno::ENOTSUPP,
                "calling kernel function is not supported without CONFIG_DEBUG_INFO_BTF",
            )
            .with_explanation(
                "bpfvet needs the kernel's BTF (/sys/kernel/btf/vmlinux) to check kfunc calls",
            ));
        };
        if !env.gpl_compatible {
            return Err(VerifyError::invalid(
                Some(pc),
                "cannot call kernel function from non-GPL compatible program",
            ));
        }
        if *btf_id == 0 && *off == 0 {
            continue;
        }
        if *off != 0 {
            return Err(VerifyError::invalid(
                Some(pc),
                format!(
                    "kfunc call with module BTF (fd_array index {off}) is not supported by bpfvet"
                ),
            ));
        }
        if out.by_id.contains_key(btf_id) {
            continue;
        }
        let k = resolve(&btf.0, *btf_id).map_err(|m| VerifyError::invalid(Some(pc), m))?;
        out.by_id.insert(*btf_id, k);
    }
    for pc in 0..code.len() {
        if let Some(Insn::Call(CallKind::Kfunc { btf_id, .. })) = code.insn(pc)
            && out.by_id.get(btf_id).is_some_and(|k| {
                k.is_iter_next()
                    && k.entry
                        .is_some_and(|e| e.modelled && e.set.allows(env.prog_type))
            })
        {
            out.iter_next[pc] = true;
        }
    }
    Ok(out)
}

impl Verifier<'_> {
    /// `check_kfunc_call`.
    pub fn check_kfunc_call(
        &mut self,
        st: &mut State,
        pc: usize,
        btf_id: i32,
    ) -> Result<Next, VerifyError> {
        let Some(k) = self.kfuncs.by_id.get(&btf_id).cloned() else {
            return Err(VerifyError::invalid(
                Some(pc),
                "invalid kernel function call not eliminated in verifier pass",
            ));
        };
        let Some(entry) = k.entry.filter(|e| e.set.allows(self.env.prog_type)) else {
            return Err(VerifyError::access(
                pc,
                format!("calling kernel function {} is not allowed", k.name),
            )
            .with_explanation(if k.entry.is_some() {
                "this program type may not call this kernel function".to_string()
            } else {
                "bpfvet knows only the kernel's common and generic kfunc sets; this function \
                 is in neither"
                    .to_string()
            }));
        };
        if !entry.modelled {
            return Err(VerifyError::invalid(
                Some(pc),
                format!(
                    "kernel function {}: calls to it are not modelled by bpfvet yet (only \
                     open-coded iterators are)",
                    k.name
                ),
            ));
        }
        if k.nargs > 5 {
            return Err(VerifyError::invalid(
                Some(pc),
                format!("Function {} has {} > 5 args", k.name, k.nargs),
            ));
        }
        let mut iter = None;
        for (i, arg) in k.args.iter().enumerate() {
            let regno = (i + 1) as u8;
            let r = *st.reg(regno);
            match arg {
                KArg::Ignored => {}
                KArg::Scalar => {
                    if !r.is_scalar() {
                        return Err(VerifyError::invalid(
                            Some(pc),
                            format!("R{regno} is not a scalar"),
                        ));
                    }
                }
                KArg::Iter { kind, slots } => {
                    iter = Some(self.process_iter_arg(st, pc, &k, regno, kind, *slots)?);
                }
                KArg::Pointer(t) => {
                    return Err(VerifyError::invalid(
                        Some(pc),
                        format!(
                            "kernel function {}: argument {i} (pointer to {t}) is not modelled by \
                             bpfvet yet",
                            k.name
                        ),
                    ));
                }
            }
        }
        for r in 0..=5u8 {
            *st.reg_mut(r) = RegState::not_init();
            self.scratch(r);
        }
        let r0 = match &k.ret {
            KRet::Void => RegState::not_init(),
            KRet::Scalar => RegState::unknown(),
            KRet::Mem { size } => {
                let mut r = RegState::pointer(RegType::Mem);
                r.range = *size as i32;
                r.flags.rdonly = true;
                if k.flags() & KF_RET_NULL != 0 {
                    r.flags.maybe_null = true;
                    r.id = st.new_id();
                }
                r
            }
            KRet::Other(t) => {
                return Err(VerifyError::invalid(
                    Some(pc),
                    format!(
                        "kernel function {} returns {t}, which bpfvet does not model yet",
                        k.name
                    ),
                ));
            }
        };
        *st.reg_mut(0) = r0;
        if k.is_iter_next()
            && let Some(it) = iter
        {
            return Ok(self.process_iter_next(st, pc, it));
        }
        Ok(Next::Goto(pc + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfvet_btf::BtfBuilder;

    #[test]
    fn prototypes_come_from_btf() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, true);
        let it = b.add_struct("bpf_iter_num", 8, &[]);
        let pit = b.add_ptr(it);
        let pint = b.add_ptr(int);
        let void = TypeId::VOID;
        let p_new = b.add_func_proto(int, &[("it", pit), ("start", int), ("end", int)]);
        let f_new = b.add_func("bpf_iter_num_new", p_new, 0);
        let p_next = b.add_func_proto(pint, &[("it", pit)]);
        let f_next = b.add_func("bpf_iter_num_next", p_next, 0);
        let p_destroy = b.add_func_proto(void, &[("it", pit)]);
        let f_destroy = b.add_func("bpf_iter_num_destroy", p_destroy, 0);
        let btf = Btf::parse(&b.build()).unwrap();
        let n = resolve(&btf, f_new.0 as i32).unwrap();
        assert_eq!(
            n.args,
            vec![
                KArg::Iter {
                    kind: "num",
                    slots: 1
                },
                KArg::Scalar,
                KArg::Scalar
            ]
        );
        assert_eq!(n.ret, KRet::Scalar);
        let x = resolve(&btf, f_next.0 as i32).unwrap();
        assert_eq!(x.ret, KRet::Mem { size: 4 });
        assert!(x.is_iter_next());
        let d = resolve(&btf, f_destroy.0 as i32).unwrap();
        assert_eq!(d.ret, KRet::Void);
        let e = resolve(&btf, int.0 as i32).unwrap_err();
        assert_eq!(e, format!("kernel btf_id {} is not a function", int.0));
        assert!(resolve(&btf, 9999).is_err());
    }
}
