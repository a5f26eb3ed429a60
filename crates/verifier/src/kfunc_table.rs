//! The kernel functions (kfuncs) bpfvet knows, as data: each kfunc's name, its `KF_*` flags
//! (from the kernel's `BTF_ID_FLAGS` lists) and the kfunc set it belongs to, which decides
//! the program types that may call it. Prototypes are not kept here: they come from the
//! kernel's BTF at verification time (see `kfunc`).
//!
//! Only the `common` set (registered for every program type) and the `generic` set (tracing,
//! TC, XDP, struct_ops, syscall, cgroup_skb) of `kernel/bpf/helpers.c` are listed; of them
//! only the open-coded iterators' functions are checked ([`KfuncEntry::modelled`]).

/// `KF_ACQUIRE`: returns a new reference.
pub const KF_ACQUIRE: u32 = 1 << 0;
/// `KF_RELEASE`: releases the reference it is given.
pub const KF_RELEASE: u32 = 1 << 1;
/// `KF_RET_NULL`: the returned pointer may be NULL.
pub const KF_RET_NULL: u32 = 1 << 2;
/// `KF_TRUSTED_ARGS`: pointer arguments must be trusted.
pub const KF_TRUSTED_ARGS: u32 = 1 << 4;
/// `KF_SLEEPABLE`: only sleepable programs may call it.
pub const KF_SLEEPABLE: u32 = 1 << 5;
/// `KF_DESTRUCTIVE`: needs `CAP_SYS_BOOT`.
pub const KF_DESTRUCTIVE: u32 = 1 << 6;
/// `KF_RCU`: RCU-protected or trusted pointer arguments.
pub const KF_RCU: u32 = 1 << 7;
/// `KF_ITER_NEW`: an iterator's constructor.
pub const KF_ITER_NEW: u32 = 1 << 8;
/// `KF_ITER_NEXT`: an iterator's next method.
pub const KF_ITER_NEXT: u32 = 1 << 9;
/// `KF_ITER_DESTROY`: an iterator's destructor.
pub const KF_ITER_DESTROY: u32 = 1 << 10;
/// `KF_RCU_PROTECTED`: must run inside an RCU read-side section.
pub const KF_RCU_PROTECTED: u32 = 1 << 11;

/// A kfunc set and the program types it is registered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KfuncSet {
    /// `common_btf_ids`: registered for `BPF_PROG_TYPE_UNSPEC`, so every program type.
    Common,
    /// `generic_btf_ids`: tracing, sched_cls, xdp, struct_ops, syscall, cgroup_skb.
    Generic,
}

impl KfuncSet {
    /// Program types (`bpf_prog_type`) that may call the set's kfuncs.
    pub fn allows(self, prog_type: u32) -> bool {
        match self {
            KfuncSet::Common => true,
            // tracing 26, sched_cls 3, xdp 6, struct_ops 27, syscall 31, cgroup_skb 8.
            KfuncSet::Generic => matches!(prog_type, 26 | 3 | 6 | 27 | 31 | 8),
        }
    }
}

/// One kfunc: name, `KF_*` flags, set, and whether bpfvet checks its calls (the others are
/// refused as not modelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KfuncEntry {
    pub name: &'static str,
    pub flags: u32,
    pub set: KfuncSet,
    pub modelled: bool,
}

const fn k(name: &'static str, flags: u32, set: KfuncSet, modelled: bool) -> KfuncEntry {
    KfuncEntry {
        name,
        flags,
        set,
        modelled,
    }
}

use KfuncSet::{Common as C, Generic as G};

/// Every kfunc bpfvet knows.
pub const KFUNCS: &[KfuncEntry] = &[
    // Open-coded iterators (modelled).
    k("bpf_iter_num_new", KF_ITER_NEW, C, true),
    k("bpf_iter_num_next", KF_ITER_NEXT | KF_RET_NULL, C, true),
    k("bpf_iter_num_destroy", KF_ITER_DESTROY, C, true),
    k("bpf_iter_bits_new", KF_ITER_NEW, C, true),
    k("bpf_iter_bits_next", KF_ITER_NEXT | KF_RET_NULL, C, true),
    k("bpf_iter_bits_destroy", KF_ITER_DESTROY, C, true),
    // The rest of the common set.
    k("bpf_cast_to_kern_ctx", 0, C, false),
    k("bpf_rdonly_cast", 0, C, false),
    k("bpf_rcu_read_lock", 0, C, false),
    k("bpf_rcu_read_unlock", 0, C, false),
    k("bpf_dynptr_slice", KF_RET_NULL, C, false),
    k("bpf_dynptr_slice_rdwr", KF_RET_NULL, C, false),
    k("bpf_iter_task_vma_new", KF_ITER_NEW | KF_RCU, C, false),
    k(
        "bpf_iter_task_vma_next",
        KF_ITER_NEXT | KF_RET_NULL,
        C,
        false,
    ),
    k("bpf_iter_task_vma_destroy", KF_ITER_DESTROY, C, false),
    k(
        "bpf_iter_css_task_new",
        KF_ITER_NEW | KF_TRUSTED_ARGS,
        C,
        false,
    ),
    k(
        "bpf_iter_css_task_next",
        KF_ITER_NEXT | KF_RET_NULL,
        C,
        false,
    ),
    k("bpf_iter_css_task_destroy", KF_ITER_DESTROY, C, false),
    k(
        "bpf_iter_css_new",
        KF_ITER_NEW | KF_TRUSTED_ARGS | KF_RCU_PROTECTED,
        C,
        false,
    ),
    k("bpf_iter_css_next", KF_ITER_NEXT | KF_RET_NULL, C, false),
    k("bpf_iter_css_destroy", KF_ITER_DESTROY, C, false),
    k(
        "bpf_iter_task_new",
        KF_ITER_NEW | KF_TRUSTED_ARGS | KF_RCU_PROTECTED,
        C,
        false,
    ),
    k("bpf_iter_task_next", KF_ITER_NEXT | KF_RET_NULL, C, false),
    k("bpf_iter_task_destroy", KF_ITER_DESTROY, C, false),
    k("bpf_dynptr_adjust", 0, C, false),
    k("bpf_dynptr_is_null", 0, C, false),
    k("bpf_dynptr_is_rdonly", 0, C, false),
    k("bpf_dynptr_size", 0, C, false),
    k("bpf_dynptr_clone", 0, C, false),
    k("bpf_wq_init", 0, C, false),
    k("bpf_wq_set_callback_impl", 0, C, false),
    k("bpf_wq_start", 0, C, false),
    k("bpf_preempt_disable", 0, C, false),
    k("bpf_preempt_enable", 0, C, false),
    k("bpf_copy_from_user_str", KF_SLEEPABLE, C, false),
    // The generic set.
    k("crash_kexec", KF_DESTRUCTIVE, G, false),
    k("bpf_obj_new_impl", KF_ACQUIRE | KF_RET_NULL, G, false),
    k(
        "bpf_percpu_obj_new_impl",
        KF_ACQUIRE | KF_RET_NULL,
        G,
        false,
    ),
    k("bpf_obj_drop_impl", KF_RELEASE, G, false),
    k("bpf_percpu_obj_drop_impl", KF_RELEASE, G, false),
    k(
        "bpf_refcount_acquire_impl",
        KF_ACQUIRE | KF_RET_NULL | KF_RCU,
        G,
        false,
    ),
    k("bpf_list_push_front_impl", 0, G, false),
    k("bpf_list_push_back_impl", 0, G, false),
    k("bpf_list_pop_front", KF_ACQUIRE | KF_RET_NULL, G, false),
    k("bpf_list_pop_back", KF_ACQUIRE | KF_RET_NULL, G, false),
    k(
        "bpf_task_acquire",
        KF_ACQUIRE | KF_RCU | KF_RET_NULL,
        G,
        false,
    ),
    k("bpf_task_release", KF_RELEASE, G, false),
    k("bpf_rbtree_remove", KF_ACQUIRE | KF_RET_NULL, G, false),
    k("bpf_rbtree_add_impl", 0, G, false),
    k("bpf_rbtree_first", KF_RET_NULL, G, false),
    k(
        "bpf_cgroup_acquire",
        KF_ACQUIRE | KF_RCU | KF_RET_NULL,
        G,
        false,
    ),
    k("bpf_cgroup_release", KF_RELEASE, G, false),
    k(
        "bpf_cgroup_ancestor",
        KF_ACQUIRE | KF_RCU | KF_RET_NULL,
        G,
        false,
    ),
    k("bpf_cgroup_from_id", KF_ACQUIRE | KF_RET_NULL, G, false),
    k("bpf_task_under_cgroup", KF_RCU, G, false),
    k(
        "bpf_task_get_cgroup1",
        KF_ACQUIRE | KF_RCU | KF_RET_NULL,
        G,
        false,
    ),
    k("bpf_task_from_pid", KF_ACQUIRE | KF_RET_NULL, G, false),
    k("bpf_throw", 0, G, false),
];

/// The entry for kfunc `name`.
pub fn lookup(name: &str) -> Option<&'static KfuncEntry> {
    KFUNCS.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_iterators_come_in_threes() {
        for (i, a) in KFUNCS.iter().enumerate() {
            assert!(
                KFUNCS[i + 1..].iter().all(|b| b.name != a.name),
                "{} listed twice",
                a.name
            );
        }
        for e in KFUNCS.iter().filter(|e| e.flags & KF_ITER_NEW != 0) {
            let base = e
                .name
                .strip_suffix("_new")
                .expect("constructor ends in _new");
            let next = lookup(&format!("{base}_next")).expect("next");
            let destroy = lookup(&format!("{base}_destroy")).expect("destroy");
            assert_eq!(
                next.flags & (KF_ITER_NEXT | KF_RET_NULL),
                KF_ITER_NEXT | KF_RET_NULL
            );
            assert_ne!(destroy.flags & KF_ITER_DESTROY, 0);
            assert_eq!((e.modelled, e.set), (next.modelled, next.set));
        }
        assert!(KfuncSet::Common.allows(1));
        assert!(!KfuncSet::Generic.allows(1));
        assert!(KfuncSet::Generic.allows(6));
    }
}
