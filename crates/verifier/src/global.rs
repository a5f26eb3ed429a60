//! Global functions (BTF linkage global). The kernel does not follow a call into one: it
//! checks the caller's arguments against the function's BTF signature, assumes the function
//! valid (R0 becomes an unknown scalar) and, once the main program is verified, verifies each
//! called global function once on its own, starting from registers typed by that signature
//! (`btf_prepare_func_args`, `btf_check_func_arg_match`).

use bpfvet_loader::funcs::{FuncArg, FuncSig};

use crate::error::{Errno, VerifyError};
use crate::explore::Verifier;
use crate::reg::{RegState, RegType};
use crate::state::{Frame, State};

/// A global function's argument as the verifier types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalArg {
    /// `ARG_ANYTHING`: a scalar.
    Scalar,
    /// `ARG_PTR_TO_CTX`.
    Ctx,
    /// `ARG_PTR_TO_MEM` of `size` bytes, NULL allowed unless tagged `arg:nonnull`.
    Mem { size: u32, nullable: bool },
}

/// The uapi context struct of each program type (`bpf_types.h`), and the kernel's own name
/// for it that a program may use instead.
const CTX_STRUCTS: &[(u32, &str, &str)] = &[
    (1, "__sk_buff", "sk_buff"),
    (3, "__sk_buff", "sk_buff"),
    (4, "__sk_buff", "sk_buff"),
    (6, "xdp_md", "xdp_buff"),
    (7, "bpf_perf_event_data", "bpf_perf_event_data_kern"),
    (8, "__sk_buff", "sk_buff"),
    (9, "bpf_sock", "sock"),
    (10, "__sk_buff", "sk_buff"),
    (11, "__sk_buff", "sk_buff"),
    (12, "__sk_buff", "sk_buff"),
    (13, "bpf_sock_ops", "bpf_sock_ops_kern"),
    (14, "__sk_buff", "sk_buff"),
    (15, "bpf_cgroup_dev_ctx", "bpf_cgroup_dev_ctx"),
    (16, "sk_msg_md", "sk_msg"),
    (17, "bpf_raw_tracepoint_args", "bpf_raw_tracepoint_args"),
    (18, "bpf_sock_addr", "bpf_sock_addr_kern"),
    (19, "__sk_buff", "sk_buff"),
    (21, "sk_reuseport_md", "sk_reuseport_kern"),
    (22, "__sk_buff", "bpf_flow_dissector"),
    (23, "bpf_sysctl", "bpf_sysctl_kern"),
    (24, "bpf_raw_tracepoint_args", "bpf_raw_tracepoint_args"),
    (25, "bpf_sockopt", "bpf_sockopt_kern"),
    (30, "bpf_sk_lookup", "bpf_sk_lookup_kern"),
    (32, "bpf_nf_ctx", "bpf_nf_ctx"),
];

/// `btf_is_prog_ctx_type`: does a pointer to `struct_name` (or the typedef `typedef_name`)
/// name the program type's context?
fn is_ctx_type(prog_type: u32, struct_name: Option<&str>, typedef_name: Option<&str>) -> bool {
    const KPROBE: u32 = 2;
    if prog_type == KPROBE {
        return typedef_name == Some("bpf_user_pt_regs_t") || struct_name == Some("pt_regs");
    }
    let Some(name) = struct_name else {
        return false;
    };
    CTX_STRUCTS
        .iter()
        .any(|&(t, uapi, kern)| t == prog_type && (name == uapi || name == kern))
}

/// `btf_prepare_func_args` for a global function: its arguments, or the kernel's reason
/// for refusing the signature.
pub fn prepare(sig: &FuncSig, prog_type: u32) -> Result<Vec<GlobalArg>, String> {
    if sig.args.len() > 5 {
        return Err(format!(
            "Global function {}() with {} > 5 args. Buggy compiler.",
            sig.name,
            sig.args.len()
        ));
    }
    if !sig.returns_scalar {
        return Err(format!(
            "Global function {}() doesn't return scalar. Only those are supported.",
            sig.name
        ));
    }
    let mut out = Vec::new();
    for (i, a) in sig.args.iter().enumerate() {
        let tags = sig.tags.get(i).map(Vec::as_slice).unwrap_or(&[]);
        for t in tags {
            if !matches!(t.as_str(), "ctx" | "nonnull" | "nullable") {
                return Err(format!(
                    "arg#{i} tag arg:{t} is not modelled by bpfvet yet (trusted kernel pointers \
                     and arena pointers need the kernel's BTF)"
                ));
            }
        }
        let tagged = |t: &str| tags.iter().any(|x| x == t);
        match a {
            FuncArg::Scalar => {
                if !tags.is_empty() {
                    return Err(format!(
                        "arg#{i} has pointer tag, but is not a pointer type"
                    ));
                }
                out.push(GlobalArg::Scalar);
            }
            FuncArg::Ptr {
                struct_name,
                typedef_name,
                size,
            } => {
                if tagged("ctx")
                    || is_ctx_type(prog_type, struct_name.as_deref(), typedef_name.as_deref())
                {
                    if tags.iter().any(|t| t != "ctx") {
                        return Err(format!("arg#{i} has invalid combination of tags"));
                    }
                    out.push(GlobalArg::Ctx);
                } else if struct_name.as_deref() == Some("bpf_dynptr") {
                    return Err(format!(
                        "arg#{i}: dynptr arguments of global functions are not modelled by \
                         bpfvet yet"
                    ));
                } else {
                    if tagged("nullable") {
                        return Err(format!("arg#{i} has invalid combination of tags"));
                    }
                    let size = size.as_ref().map_err(|e| {
                        format!("arg#{i} reference type size cannot be determined: {e}")
                    })?;
                    out.push(GlobalArg::Mem {
                        size: *size,
                        nullable: !tagged("nonnull"),
                    });
                }
            }
            FuncArg::Other(kind) => {
                return Err(format!(
                    "Arg#{i} type {} in {}() is not supported yet.",
                    kind.to_uppercase(),
                    sig.name
                ));
            }
        }
    }
    Ok(out)
}

impl Verifier<'_> {
    /// The BTF signature of subprogram `sub` when it is a global function.
    pub fn global_sig(&self, sub: usize) -> Option<&FuncSig> {
        let start = self.cfg.subprogs.get(sub)?.start;
        self.env
            .funcs
            .iter()
            .find(|f| f.start == start)
            .filter(|f| f.global && sub != 0)
    }

    /// A call of global function `sub`: check the arguments against its signature, then the
    /// call returns an unknown scalar and clobbers R1–R5.
    pub fn check_global_call(
        &mut self,
        st: &mut State,
        pc: usize,
        sub: usize,
    ) -> Result<(), VerifyError> {
        let sig = self.global_sig(sub).expect("global").clone();
        let invalid = |reason: String, errno: Errno| {
            VerifyError::new(
                Some(pc),
                errno,
                format!(
                    "Caller passes invalid args into func#{sub} ('{}')",
                    sig.name
                ),
            )
            .with_detail(reason)
        };
        let args = prepare(&sig, self.env.prog_type).map_err(|r| invalid(r, Errno::EINVAL))?;
        for (i, a) in args.iter().enumerate() {
            let regno = (i + 1) as u8;
            let r = *st.reg(regno);
            match *a {
                GlobalArg::Scalar => {
                    if !r.is_scalar() {
                        return Err(invalid(format!("R{regno} is not a scalar"), Errno::EINVAL));
                    }
                }
                GlobalArg::Ctx => {
                    if r.ty == RegType::Ctx && r.off != 0 {
                        return Err(invalid(
                            format!(
                                "dereference of modified ctx ptr R{regno} off={} disallowed",
                                r.off
                            ),
                            Errno::EACCES,
                        ));
                    }
                    if r.ty != RegType::Ctx {
                        return Err(invalid(
                            format!("arg#{i} expects pointer to ctx"),
                            Errno::EINVAL,
                        ));
                    }
                }
                GlobalArg::Mem { size, nullable } => {
                    if r.is_zero() {
                        let parent = self.cur_parent;
                        self.mark_precise(st, parent, regno);
                        continue;
                    }
                    // The memory must be readable and writable for `size` bytes; a pointer
                    // that may be NULL is checked as if it were not.
                    let saved = r;
                    st.reg_mut(regno).flags.maybe_null = false;
                    let checked = self
                        .global_mem_arg(st, pc, regno, i64::from(size))
                        .map_err(|e| invalid(e.message, e.errno));
                    *st.reg_mut(regno) = saved;
                    checked?;
                    if !nullable && saved.flags.maybe_null {
                        return Err(invalid(
                            format!("arg#{i} is expected to be non-NULL"),
                            Errno::EINVAL,
                        ));
                    }
                }
            }
        }
        self.global_called[sub] = true;
        self.log.line(&format!(
            "Func#{sub} ('{}') is global and assumed valid.",
            sig.name
        ));
        for r in 1..=5u8 {
            *st.reg_mut(r) = RegState::not_init();
        }
        *st.reg_mut(0) = RegState::unknown();
        Ok(())
    }

    /// The entry state of global function `sub` verified on its own: R1–R5 typed by its
    /// signature, R10 its frame pointer.
    pub fn global_entry(&mut self, sub: usize) -> Result<State, VerifyError> {
        let sig = self.global_sig(sub).expect("global").clone();
        let start = self.cfg.subprogs[sub].start;
        let args = prepare(&sig, self.env.prog_type)
            .map_err(|r| VerifyError::new(Some(start), Errno::EINVAL, r))?;
        let mut st = State::entry();
        st.frames[0] = Frame::new(0, sub, None);
        for (i, a) in args.iter().enumerate() {
            let r = match *a {
                GlobalArg::Scalar => RegState::unknown(),
                GlobalArg::Ctx => RegState::pointer(RegType::Ctx),
                GlobalArg::Mem { size, nullable } => {
                    let mut r = RegState::pointer(RegType::Mem);
                    r.range = size as i32;
                    if nullable {
                        r.flags.maybe_null = true;
                        r.id = st.new_id();
                    }
                    r
                }
            };
            st.frames[0].regs[i + 1] = r;
        }
        Ok(st)
    }
}
