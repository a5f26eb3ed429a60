//! The built-in helpers by name: which kernel helper ids the VM implements, and why the others
//! cannot run. Ids come from `bpfvet_isa::helpers`, so the table reads as helper names.

use std::sync::OnceLock;

use bpfvet_isa::helpers::{HELPER_NAMES, helper_id};

use super::{
    HelperContext, HelperError, map_ops, misc, packet, printk_helpers, ringbuf, skb_info, skb_ops,
    tunnel,
};

/// A helper implemented on [`HelperContext`] alone.
pub(crate) type PlainFn = fn(&mut HelperContext<'_, '_>) -> Result<u64, HelperError>;

/// How the VM serves a helper id.
#[derive(Clone, Copy)]
pub(crate) enum Builtin {
    /// Runs on the helper context.
    Plain(PlainFn),
    /// `bpf_tail_call`: the interpreter switches programs.
    TailCall,
    /// `bpf_loop`: calls back into the program.
    Loop,
    /// `bpf_for_each_map_elem`: calls back into the program.
    ForEachMapElem,
    /// A helper the VM cannot provide; the reason completes "it needs ...".
    Unavailable(&'static str),
}

/// The helpers the VM implements, by name (without `bpf_`).
const IMPLEMENTED: &[(&str, Builtin)] = &[
    ("map_lookup_elem", Builtin::Plain(map_ops::lookup)),
    ("map_update_elem", Builtin::Plain(map_ops::update)),
    ("map_delete_elem", Builtin::Plain(map_ops::delete)),
    ("map_push_elem", Builtin::Plain(map_ops::push)),
    ("map_pop_elem", Builtin::Plain(map_ops::pop)),
    ("map_peek_elem", Builtin::Plain(map_ops::peek)),
    (
        "map_lookup_percpu_elem",
        Builtin::Plain(map_ops::lookup_percpu),
    ),
    ("tail_call", Builtin::TailCall),
    ("loop", Builtin::Loop),
    ("for_each_map_elem", Builtin::ForEachMapElem),
    ("ktime_get_ns", Builtin::Plain(misc::ktime_get_ns)),
    ("ktime_get_boot_ns", Builtin::Plain(misc::ktime_get_boot_ns)),
    (
        "ktime_get_coarse_ns",
        Builtin::Plain(misc::ktime_get_coarse_ns),
    ),
    ("ktime_get_tai_ns", Builtin::Plain(misc::ktime_get_tai_ns)),
    ("jiffies64", Builtin::Plain(misc::jiffies64)),
    ("get_prandom_u32", Builtin::Plain(misc::get_prandom_u32)),
    (
        "get_smp_processor_id",
        Builtin::Plain(misc::get_smp_processor_id),
    ),
    ("get_numa_node_id", Builtin::Plain(misc::get_numa_node_id)),
    (
        "get_current_pid_tgid",
        Builtin::Plain(misc::get_current_pid_tgid),
    ),
    (
        "get_current_uid_gid",
        Builtin::Plain(misc::get_current_uid_gid),
    ),
    ("get_current_comm", Builtin::Plain(misc::get_current_comm)),
    ("get_current_task", Builtin::Plain(misc::get_current_task)),
    (
        "get_current_task_btf",
        Builtin::Plain(misc::get_current_task),
    ),
    (
        "get_current_cgroup_id",
        Builtin::Plain(misc::get_current_cgroup_id),
    ),
    ("trace_printk", Builtin::Plain(printk_helpers::trace_printk)),
    (
        "trace_vprintk",
        Builtin::Plain(printk_helpers::trace_vprintk),
    ),
    ("snprintf", Builtin::Plain(printk_helpers::snprintf)),
    ("probe_read", Builtin::Plain(misc::probe_read)),
    ("probe_read_kernel", Builtin::Plain(misc::probe_read)),
    ("probe_read_user", Builtin::Plain(misc::probe_read)),
    ("probe_read_str", Builtin::Plain(misc::probe_read_str)),
    (
        "probe_read_kernel_str",
        Builtin::Plain(misc::probe_read_str),
    ),
    ("probe_read_user_str", Builtin::Plain(misc::probe_read_str)),
    ("strncmp", Builtin::Plain(misc::strncmp)),
    ("csum_diff", Builtin::Plain(misc::csum_diff)),
    ("redirect", Builtin::Plain(misc::redirect)),
    ("redirect_map", Builtin::Plain(misc::redirect_map)),
    ("spin_lock", Builtin::Plain(misc::nothing)),
    ("spin_unlock", Builtin::Plain(misc::nothing)),
    ("ringbuf_output", Builtin::Plain(ringbuf::output)),
    ("ringbuf_reserve", Builtin::Plain(ringbuf::reserve)),
    ("ringbuf_submit", Builtin::Plain(ringbuf::submit)),
    ("ringbuf_discard", Builtin::Plain(ringbuf::discard)),
    ("ringbuf_query", Builtin::Plain(ringbuf::query)),
    (
        "perf_event_output",
        Builtin::Plain(ringbuf::perf_event_output),
    ),
    ("xdp_adjust_head", Builtin::Plain(packet::xdp_adjust_head)),
    ("xdp_adjust_meta", Builtin::Plain(packet::xdp_adjust_meta)),
    ("xdp_adjust_tail", Builtin::Plain(packet::xdp_adjust_tail)),
    ("xdp_get_buff_len", Builtin::Plain(packet::xdp_get_buff_len)),
    ("xdp_load_bytes", Builtin::Plain(packet::xdp_load_bytes)),
    ("xdp_store_bytes", Builtin::Plain(packet::xdp_store_bytes)),
    ("skb_load_bytes", Builtin::Plain(packet::skb_load_bytes)),
    (
        "skb_load_bytes_relative",
        Builtin::Plain(packet::skb_load_bytes_relative),
    ),
    ("skb_store_bytes", Builtin::Plain(packet::skb_store_bytes)),
    ("l3_csum_replace", Builtin::Plain(packet::l3_csum_replace)),
    ("l4_csum_replace", Builtin::Plain(packet::l4_csum_replace)),
    ("csum_update", Builtin::Plain(packet::csum_update)),
    ("csum_level", Builtin::Plain(packet::csum_level)),
    ("skb_pull_data", Builtin::Plain(packet::skb_pull_data)),
    ("skb_change_tail", Builtin::Plain(packet::skb_change_tail)),
    ("skb_change_head", Builtin::Plain(packet::skb_change_head)),
    ("get_hash_recalc", Builtin::Plain(packet::get_hash_recalc)),
    ("set_hash", Builtin::Plain(packet::set_hash)),
    ("set_hash_invalid", Builtin::Plain(packet::set_hash_invalid)),
    ("skb_vlan_push", Builtin::Plain(skb_ops::skb_vlan_push)),
    ("skb_vlan_pop", Builtin::Plain(skb_ops::skb_vlan_pop)),
    (
        "skb_change_proto",
        Builtin::Plain(skb_ops::skb_change_proto),
    ),
    ("skb_change_type", Builtin::Plain(skb_ops::skb_change_type)),
    ("skb_adjust_room", Builtin::Plain(skb_ops::skb_adjust_room)),
    ("skb_ecn_set_ce", Builtin::Plain(skb_ops::skb_ecn_set_ce)),
    (
        "get_socket_cookie",
        Builtin::Plain(skb_info::get_socket_cookie),
    ),
    ("get_socket_uid", Builtin::Plain(skb_info::get_socket_uid)),
    ("skb_cgroup_id", Builtin::Plain(skb_info::skb_cgroup_id)),
    (
        "skb_ancestor_cgroup_id",
        Builtin::Plain(skb_info::skb_ancestor_cgroup_id),
    ),
    (
        "get_current_ancestor_cgroup_id",
        Builtin::Plain(skb_info::get_current_ancestor_cgroup_id),
    ),
    ("get_route_realm", Builtin::Plain(skb_info::get_route_realm)),
    ("check_mtu", Builtin::Plain(skb_info::check_mtu)),
    ("redirect_peer", Builtin::Plain(skb_info::redirect_peer)),
    ("redirect_neigh", Builtin::Plain(skb_info::redirect_neigh)),
    (
        "get_cgroup_classid",
        Builtin::Plain(skb_info::cgroup_classid),
    ),
    (
        "skb_cgroup_classid",
        Builtin::Plain(skb_info::cgroup_classid),
    ),
    ("skb_set_tstamp", Builtin::Plain(skb_info::skb_set_tstamp)),
    (
        "skb_get_xfrm_state",
        Builtin::Plain(skb_info::skb_get_xfrm_state),
    ),
    ("skb_set_tunnel_key", Builtin::Plain(tunnel::set_tunnel_key)),
    ("skb_get_tunnel_key", Builtin::Plain(tunnel::get_tunnel_key)),
    ("skb_set_tunnel_opt", Builtin::Plain(tunnel::set_tunnel_opt)),
    ("skb_get_tunnel_opt", Builtin::Plain(tunnel::get_tunnel_opt)),
];

/// Why a helper the VM lacks cannot run, by name prefix (first match wins).
const MISSING: &[(&str, &str)] = &[
    ("fib_lookup", "the kernel's routing and neighbour tables"),
    (
        "skb_under_cgroup",
        "a cgroup array map holding open cgroup directories",
    ),
    (
        "skb_output",
        "a kernel socket buffer pointer, which only tracing programs hold",
    ),
    (
        "xdp_output",
        "a kernel XDP buffer pointer, which only tracing programs hold",
    ),
    (
        "lwt_seg6_",
        "an IPv6 segment-routing header under a seg6local route",
    ),
    (
        "lwt_push_encap",
        "a route's lightweight-tunnel encapsulation state",
    ),
    ("tcp_raw_", "the kernel's secret SYN-cookie keys"),
    (
        "tcp_gen_syncookie",
        "a listening socket and the kernel's secret SYN-cookie keys",
    ),
    (
        "tcp_check_syncookie",
        "a listening socket and the kernel's secret SYN-cookie keys",
    ),
    ("sk_", "a socket"),
    ("skc_", "a socket"),
    ("tcp_", "a socket"),
    ("clone_redirect", "network devices to clone the packet to"),
    (
        "skb_",
        "kernel socket-buffer machinery (devices, routes, sockets) that the VM's linear \
         test-run buffers do not model",
    ),
    (
        "xdp_",
        "kernel XDP machinery (multi-buffer frames, devices) that the VM's single-page \
         frames do not model",
    ),
    (
        "ringbuf_reserve_dynptr",
        "dynptrs, which the VM does not provide yet",
    ),
    (
        "ringbuf_submit_dynptr",
        "dynptrs, which the VM does not provide yet",
    ),
    (
        "ringbuf_discard_dynptr",
        "dynptrs, which the VM does not provide yet",
    ),
    ("dynptr_", "dynptrs, which the VM does not provide yet"),
    ("", "the kernel"),
];

fn table() -> &'static [Option<Builtin>] {
    static TABLE: OnceLock<Vec<Option<Builtin>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t: Vec<Option<Builtin>> = vec![None; HELPER_NAMES.len() + 1];
        for (id, name) in HELPER_NAMES.iter().enumerate() {
            let short = name.strip_prefix("bpf_").unwrap_or(name);
            let reason = MISSING
                .iter()
                .find(|(p, _)| short.starts_with(p))
                .map_or("the kernel", |m| m.1);
            t[id + 1] = Some(Builtin::Unavailable(reason));
        }
        for &(name, b) in IMPLEMENTED {
            let id = helper_id(name).expect("implemented helpers have uapi names") as usize;
            t[id] = Some(b);
        }
        t
    })
}

/// How the VM serves helper `id`; `None` for ids the kernel does not have.
pub(crate) fn builtin(id: u64) -> Option<Builtin> {
    usize::try_from(id)
        .ok()
        .and_then(|i| table().get(i).copied().flatten())
}

/// The names (with `bpf_`) of the helpers the VM implements.
pub(crate) fn builtin_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = IMPLEMENTED
        .iter()
        .map(|(n, _)| {
            let id = helper_id(n).expect("known") as usize;
            HELPER_NAMES[id - 1]
        })
        .collect();
    v.sort_unstable();
    v
}
