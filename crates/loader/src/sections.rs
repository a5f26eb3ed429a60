//! Program type from section name, with libbpf's matching rules: a definition written `kprobe+`
//! matches `kprobe` alone or `kprobe/<target>`; one written without `+` matches only the exact
//! name. A leading `?` (libbpf's "do not autoload") is ignored. The table itself is generated
//! (`sections_table.rs`).

use std::ops::BitOr;

use bpfvet_isa::uapi;

use crate::sections_table::SEC_DEFS;

/// libbpf's per-section flags (the ones that matter for loading and verification).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecFlags(pub u32);

impl SecFlags {
    pub const NONE: SecFlags = SecFlags(0);
    /// The program may be attached with `bpf_link`/`prog_attach` given an attach type.
    pub const ATTACHABLE: SecFlags = SecFlags(1);
    /// The expected attach type is optional (older kernels loaded without it).
    pub const ATTACHABLE_OPT: SecFlags = SecFlags(2);
    /// The attach target is a BTF id (fentry, fexit, tp_btf, lsm, freplace, iterators).
    pub const ATTACH_BTF: SecFlags = SecFlags(4);
    /// The program is sleepable (`BPF_F_SLEEPABLE`).
    pub const SLEEPABLE: SecFlags = SecFlags(8);
    /// An XDP program that accepts multi-buffer frames (`BPF_F_XDP_HAS_FRAGS`).
    pub const XDP_FRAGS: SecFlags = SecFlags(16);
    /// A USDT probe.
    pub const USDT: SecFlags = SecFlags(32);

    /// True if every bit of `other` is set.
    pub fn contains(self, other: SecFlags) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
}

impl BitOr for SecFlags {
    type Output = SecFlags;
    fn bitor(self, o: SecFlags) -> SecFlags {
        SecFlags(self.0 | o.0)
    }
}

/// One libbpf section definition.
#[derive(Clone, Copy, Debug)]
pub struct SecDef {
    pub prefix: &'static str,
    /// Written with a trailing `+`: the section may be `prefix/<attach target>`.
    pub takes_arg: bool,
    pub prog_type: &'static str,
    pub attach: Option<&'static str>,
    pub flags: SecFlags,
}

/// What a section name says about its programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionType {
    /// Kernel program type (`bpf_prog_type`) and its name (`xdp`, `kprobe`, ...).
    pub prog_type: u32,
    pub prog_type_name: &'static str,
    /// `expected_attach_type`, when the section implies one.
    pub expected_attach_type: Option<u32>,
    pub expected_attach_type_name: Option<&'static str>,
    /// What follows `prefix/`: the kprobe'd function, the tracepoint, the BTF target...
    pub attach_target: Option<String>,
    pub flags: SecFlags,
    /// The section definition that matched (e.g. `kprobe+`).
    pub matched: String,
}

impl SectionType {
    pub fn sleepable(&self) -> bool {
        self.flags.contains(SecFlags::SLEEPABLE)
    }
}

/// The program type a section name gives, or `None` when libbpf would not recognise it.
pub fn section_type(name: &str) -> Option<SectionType> {
    let name = name.strip_prefix('?').unwrap_or(name);
    for def in SEC_DEFS {
        let target = if def.takes_arg {
            match name.strip_prefix(def.prefix) {
                Some("") => None,
                Some(rest) if rest.starts_with('/') => Some(rest[1..].to_string()),
                _ => continue,
            }
        } else if name == def.prefix {
            None
        } else {
            continue;
        };
        let prog_type = uapi::id_of(uapi::PROG_TYPES, def.prog_type)?;
        let expected_attach_type = def.attach.and_then(|a| uapi::id_of(uapi::ATTACH_TYPES, a));
        return Some(SectionType {
            prog_type,
            prog_type_name: def.prog_type,
            expected_attach_type,
            expected_attach_type_name: def.attach,
            attach_target: target.filter(|t| !t.is_empty()),
            flags: def.flags,
            matched: format!("{}{}", def.prefix, if def.takes_arg { "+" } else { "" }),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str) -> Option<(&'static str, Option<&'static str>, Option<String>)> {
        section_type(name).map(|t| {
            (
                t.prog_type_name,
                t.expected_attach_type_name,
                t.attach_target,
            )
        })
    }

    #[test]
    fn families() {
        assert_eq!(ty("xdp"), Some(("xdp", Some("xdp"), None)));
        assert_eq!(ty("xdp.frags"), Some(("xdp", Some("xdp"), None)));
        assert_eq!(ty("tc"), Some(("sched_cls", None, None)));
        assert_eq!(ty("classifier"), Some(("sched_cls", None, None)));
        assert_eq!(
            ty("tc/ingress"),
            Some(("sched_cls", Some("tcx_ingress"), None))
        );
        assert_eq!(ty("socket"), Some(("socket_filter", None, None)));
        assert_eq!(
            ty("kprobe/do_unlinkat"),
            Some(("kprobe", None, Some("do_unlinkat".into())))
        );
        assert_eq!(
            ty("kretprobe/do_unlinkat"),
            Some(("kprobe", None, Some("do_unlinkat".into())))
        );
        assert_eq!(ty("uprobe"), Some(("kprobe", None, None)));
        assert_eq!(
            ty("tracepoint/syscalls/sys_enter_openat"),
            Some(("tracepoint", None, Some("syscalls/sys_enter_openat".into())))
        );
        assert_eq!(
            ty("tp/sched/sched_switch"),
            Some(("tracepoint", None, Some("sched/sched_switch".into())))
        );
        assert_eq!(
            ty("raw_tp/sys_enter"),
            Some(("raw_tracepoint", None, Some("sys_enter".into())))
        );
        assert_eq!(
            ty("raw_tracepoint.w/foo"),
            Some(("raw_tracepoint_writable", None, Some("foo".into())))
        );
        assert_eq!(
            ty("tp_btf/sched_switch"),
            Some(("tracing", Some("trace_raw_tp"), Some("sched_switch".into())))
        );
        assert_eq!(
            ty("fentry/do_unlinkat"),
            Some(("tracing", Some("trace_fentry"), Some("do_unlinkat".into())))
        );
        assert_eq!(
            ty("fexit/do_unlinkat"),
            Some(("tracing", Some("trace_fexit"), Some("do_unlinkat".into())))
        );
        assert_eq!(
            ty("lsm/file_open"),
            Some(("lsm", Some("lsm_mac"), Some("file_open".into())))
        );
        assert_eq!(
            ty("cgroup_skb/ingress"),
            Some(("cgroup_skb", Some("cgroup_inet_ingress"), None))
        );
        assert_eq!(
            ty("cgroup/connect4"),
            Some(("cgroup_sock_addr", Some("cgroup_inet4_connect"), None))
        );
        assert_eq!(
            ty("sk_skb/stream_parser"),
            Some(("sk_skb", Some("sk_skb_stream_parser"), None))
        );
        assert_eq!(ty("sk_msg"), Some(("sk_msg", Some("sk_msg_verdict"), None)));
        assert_eq!(ty("perf_event"), Some(("perf_event", None, None)));
        assert_eq!(
            ty("sockops"),
            Some(("sock_ops", Some("cgroup_sock_ops"), None))
        );
        assert_eq!(
            ty("flow_dissector"),
            Some(("flow_dissector", Some("flow_dissector"), None))
        );
        assert_eq!(ty("syscall"), Some(("syscall", None, None)));
        assert!(section_type("syscall").unwrap().sleepable());
        assert!(section_type("fentry.s/x").unwrap().sleepable());
        assert!(!section_type("fentry/x").unwrap().sleepable());
        assert_eq!(ty("?xdp"), Some(("xdp", Some("xdp"), None)));
    }

    #[test]
    fn unrecognised() {
        assert_eq!(ty(".text"), None);
        assert_eq!(ty("xdp_foo"), None);
        assert_eq!(ty("kprobex/foo"), None);
        assert_eq!(ty("sk_skb/unknown"), None);
        assert_eq!(ty(""), None);
    }
}
