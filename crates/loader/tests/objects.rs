//! Loading objects: program types from section names, subprogram linking, map and global data
//! relocations — on the committed clang-built fixtures and on small objects assembled here.

use bpfvet_isa::Program;
use bpfvet_isa::asm::assemble_sections;
use bpfvet_isa::insn::{CallKind, Imm64Kind, Insn};
use bpfvet_isa::{Dialect, uapi};
use bpfvet_loader::maps::MapOrigin;
use bpfvet_loader::{BpfObject, LoadOptions, write_relocatable};

fn fixture(name: &str) -> BpfObject {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name);
    let bytes = std::fs::read(&path).unwrap();
    let stem = name.strip_suffix(".o").unwrap().to_string();
    let opts = LoadOptions {
        name: stem,
        kernel_version: Some(0x61200),
        ..LoadOptions::default()
    };
    BpfObject::load(&bytes, &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn from_asm(text: &str) -> Result<BpfObject, String> {
    let a = assemble_sections(text, Dialect::Llvm).map_err(|e| e.to_string())?;
    let bytes = write_relocatable(&a).map_err(|e| e.to_string())?;
    let opts = LoadOptions {
        name: "t".into(),
        ..LoadOptions::default()
    };
    BpfObject::load(&bytes, &opts).map_err(|e| e.msg)
}

/// Every (pc, target) of a BPF-to-BPF call.
fn local_calls(p: &Program) -> Vec<(usize, usize)> {
    p.iter()
        .filter_map(|(pc, i)| match i {
            Insn::Call(CallKind::Local(imm)) => {
                Some((pc, (pc as i64 + 1 + i64::from(*imm)) as usize))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn section_families_give_program_types() {
    let o = fixture("sections.o");
    assert_eq!(o.programs.len(), 25);
    let want = [
        ("xdp_pass", "xdp", Some("xdp"), None),
        ("xdp_drop", "xdp", Some("xdp"), None),
        ("tc_prog", "sched_cls", None, None),
        ("cls_prog", "sched_cls", None, None),
        ("sock_prog", "socket_filter", None, None),
        ("kprobe_prog", "kprobe", None, Some("do_unlinkat")),
        ("kretprobe_prog", "kprobe", None, Some("do_unlinkat")),
        ("uprobe_prog", "kprobe", None, None),
        (
            "tp_prog",
            "tracepoint",
            None,
            Some("syscalls/sys_enter_openat"),
        ),
        (
            "tp_short_prog",
            "tracepoint",
            None,
            Some("sched/sched_switch"),
        ),
        ("raw_tp_prog", "raw_tracepoint", None, Some("sys_enter")),
        (
            "raw_tp_short_prog",
            "raw_tracepoint",
            None,
            Some("sys_exit"),
        ),
        (
            "tp_btf_prog",
            "tracing",
            Some("trace_raw_tp"),
            Some("sched_switch"),
        ),
        (
            "fentry_prog",
            "tracing",
            Some("trace_fentry"),
            Some("do_unlinkat"),
        ),
        (
            "fexit_prog",
            "tracing",
            Some("trace_fexit"),
            Some("do_unlinkat"),
        ),
        ("lsm_prog", "lsm", Some("lsm_mac"), Some("file_open")),
        (
            "cgroup_skb_prog",
            "cgroup_skb",
            Some("cgroup_inet_ingress"),
            None,
        ),
        (
            "cgroup_sock_prog",
            "cgroup_sock",
            Some("cgroup_inet_sock_create"),
            None,
        ),
        (
            "cgroup_connect_prog",
            "cgroup_sock_addr",
            Some("cgroup_inet4_connect"),
            None,
        ),
        ("sk_skb_prog", "sk_skb", Some("sk_skb_stream_parser"), None),
        ("sk_msg_prog", "sk_msg", Some("sk_msg_verdict"), None),
        ("perf_event_prog", "perf_event", None, None),
        ("sockops_prog", "sock_ops", Some("cgroup_sock_ops"), None),
        ("flow_prog", "flow_dissector", Some("flow_dissector"), None),
        ("syscall_prog", "syscall", None, None),
    ];
    for (name, ty, attach, target) in want {
        let p = o
            .program(name)
            .unwrap_or_else(|| panic!("no program {name}"));
        let t = p.section_type.as_ref().unwrap();
        assert_eq!(t.prog_type_name, ty, "{name}");
        assert_eq!(
            Some(t.prog_type),
            uapi::id_of(uapi::PROG_TYPES, ty),
            "{name}"
        );
        assert_eq!(t.expected_attach_type_name, attach, "{name}");
        assert_eq!(t.attach_target.as_deref(), target, "{name}");
    }
    assert_eq!(o.license, "GPL");
    assert!(o.gpl_compatible());
}

#[test]
fn subprograms_are_appended_to_each_caller() {
    let o = fixture("sections.o");
    for name in ["xdp_drop", "cls_prog"] {
        let p = o.program(name).unwrap();
        let names: Vec<&str> = p.placements.iter().map(|pl| pl.name.as_str()).collect();
        assert_eq!(names, [name, "shared_helper"]);
        let helper = &p.placements[1];
        assert_eq!(
            helper.start, p.placements[0].len,
            "appended right after the program"
        );
        let calls = local_calls(&p.program);
        assert_eq!(calls.len(), 1, "{name}");
        assert_eq!(calls[0].1, helper.start, "{name}: call lands on the copy");
        assert_eq!(p.program.len(), helper.start + helper.len);
        assert!(matches!(p.program.insns().last(), Some(Insn::Exit)));
    }
    // Programs that call nothing get nothing appended.
    assert_eq!(o.program("xdp_pass").unwrap().placements.len(), 1);
}

#[test]
fn legacy_maps_and_their_relocations() {
    let o = fixture("legacy_maps.o");
    let m: Vec<_> = o
        .maps
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.type_name(),
                m.key_size,
                m.value_size,
                m.max_entries,
            )
        })
        .collect();
    assert_eq!(
        m,
        [
            ("legacy_hash", "hash".to_string(), 4, 8, 32),
            ("legacy_array", "array".to_string(), 4, 16, 8)
        ]
    );
    assert!(o.maps.iter().all(|m| m.origin == MapOrigin::Legacy));
    let p = o.program("legacy_prog").unwrap();
    let refs: Vec<i32> = p
        .program
        .insns()
        .iter()
        .filter_map(|i| match i {
            Insn::LdImm64 {
                kind: Imm64Kind::MapIdx,
                imm,
                ..
            } => Some(*imm),
            _ => None,
        })
        .collect();
    assert_eq!(refs, [0, 1]);

    let o = fixture("legacy_maps28.o");
    assert_eq!(o.maps.len(), 1);
    assert_eq!(o.maps[0].type_name(), "percpu_array");
    assert_eq!(
        (
            o.maps[0].key_size,
            o.maps[0].value_size,
            o.maps[0].max_entries
        ),
        (4, 8, 256)
    );
}

#[test]
fn global_data_becomes_array_maps() {
    let o = fixture("isa_v4.o");
    assert_eq!(o.maps.len(), 1);
    let bss = &o.maps[0];
    assert_eq!(bss.name, "isa_v4.bss");
    assert_eq!(bss.type_name(), "array");
    assert_eq!((bss.key_size, bss.value_size, bss.max_entries), (4, 16, 1));
    assert_eq!(bss.initial_value.as_deref(), Some(&[0u8; 16][..]));
    let p = &o.programs[0];
    let offs: Vec<(i32, i32)> = p
        .program
        .insns()
        .iter()
        .filter_map(|i| match i {
            Insn::LdImm64 {
                kind: Imm64Kind::MapIdxValue,
                imm,
                next_imm,
                ..
            } => Some((*imm, *next_imm)),
            _ => None,
        })
        .collect();
    // `sacc` and `acc` live in .bss at offsets 0 and 8 (in some order).
    assert!(!offs.is_empty());
    assert!(
        offs.iter()
            .all(|&(m, off)| m == 0 && (off == 0 || off == 8)),
        "{offs:?}"
    );
}

#[test]
fn isa_versions_all_load() {
    for v in 1..=4 {
        let o = fixture(&format!("isa_v{v}.o"));
        assert_eq!(o.programs.len(), 1);
        assert_eq!(o.programs[0].prog_type(), Some(1));
    }
}

#[test]
fn static_and_cross_section_calls() {
    let o = from_asm(
        "\t.section xdp,\"ax\"\n\t.globl main\nmain:\n\tcall helper\n\tcall pc+1\n\texit\n\
         \tr0 = 1\n\texit\n\
         \t.text\n\t.globl helper\nhelper:\n\tcall helper\n\tr0 = 2\n\texit\n",
    )
    .unwrap();
    assert_eq!(o.programs.len(), 1);
    let p = &o.programs[0];
    assert_eq!(p.name, "main");
    let names: Vec<&str> = p.placements.iter().map(|pl| pl.name.as_str()).collect();
    assert_eq!(names, ["main", "helper"]);
    let calls = local_calls(&p.program);
    // main's call to helper, main's in-section call, helper's recursive call.
    assert_eq!(calls, [(0, 5), (1, 3), (5, 5)]);
}

#[test]
fn relocation_errors_name_the_instruction() {
    // A call into the middle of a function.
    let e = from_asm(
        "\t.section xdp,\"ax\"\n\t.globl main\nmain:\n\tcall helper\n\texit\n\
         \t.text\n\t.globl helper\nhelper:\n\tr0 = 2\n\texit\n\t.globl other\nother:\n\
         \tcall pc-3\n\texit\n",
    );
    assert!(e.is_ok(), "{e:?}");
    let e = from_asm(
        "\t.section xdp,\"ax\"\n\t.globl main\nmain:\n\tcall pc+3\n\texit\n\
         \t.globl second\nsecond:\n\tr0 = 0\n\tr0 += 1\n\tr0 += 2\n\texit\n",
    )
    .unwrap_err();
    assert!(
        e.contains("insn 0") && e.contains("not the start of a function"),
        "{e}"
    );
    // An LD_IMM64 of a symbol that is neither a map nor data.
    let e = from_asm("\t.section xdp,\"ax\"\n\t.globl main\nmain:\n\tr1 = nowhere ll\n\texit\n")
        .unwrap();
    assert_eq!(
        e.programs[0].unresolved.len(),
        1,
        "undefined symbol is an unresolved extern"
    );
}

fn vmlinux() -> Option<std::sync::Arc<bpfvet_btf::Btf>> {
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
    Some(std::sync::Arc::new(bpfvet_btf::Btf::parse(&bytes).unwrap()))
}

#[test]
fn btf_defined_maps() {
    let o = fixture("btf_maps.o");
    let by = |n: &str| {
        o.maps
            .iter()
            .find(|m| m.name == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    let pairs = by("pairs");
    assert_eq!(
        (
            pairs.type_name().as_str(),
            pairs.key_size,
            pairs.value_size,
            pairs.max_entries
        ),
        ("array", 4, 16, 16)
    );
    assert!(pairs.btf_value_type_id.is_some());
    let sized = by("sized");
    assert_eq!(
        (
            sized.key_size,
            sized.value_size,
            sized.max_entries,
            sized.map_flags
        ),
        (8, 16, 1024, 1)
    );
    let lru = by("pinned_lru");
    assert_eq!(
        (
            lru.type_name().as_str(),
            lru.numa_node,
            lru.pinning,
            lru.map_flags
        ),
        ("lru_hash", Some(0), 1, 4)
    );
    let events = by("events");
    assert_eq!(
        (events.type_name().as_str(), events.max_entries),
        ("ringbuf", 4096)
    );
    let outer = by("outer");
    let inner = outer.inner.as_ref().expect("inner map definition");
    assert_eq!(
        (
            inner.type_name().as_str(),
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        ("array", 4, 4, 4)
    );
    assert_eq!(
        outer.init_slots,
        [(0, "inner_a".to_string()), (1, "inner_b".to_string())]
    );
    assert_eq!(by("jumps").init_slots, [(1, "tail_target".to_string())]);
    // The program's LD_IMM64s name maps by index.
    let p = o.program("use_maps").unwrap();
    let named: Vec<&str> = p
        .program
        .insns()
        .iter()
        .filter_map(|i| match i {
            Insn::LdImm64 {
                kind: Imm64Kind::MapIdx,
                imm,
                ..
            } => Some(o.maps[*imm as usize].name.as_str()),
            _ => None,
        })
        .collect();
    for m in ["pairs", "outer", "sized", "pinned_lru", "events", "jumps"] {
        assert!(named.contains(&m), "{m} not referenced: {named:?}");
    }
}

#[test]
fn global_data_in_every_section_kind() {
    let o = fixture("globals.o");
    let flags: Vec<(&str, &str, u32, u32)> = o
        .maps
        .iter()
        .map(|m| {
            (
                m.name.as_str(),
                m.real_name.as_str(),
                m.value_size,
                m.map_flags,
            )
        })
        .collect();
    // As libbpf names and flags them (bpftool map show on the loaded object agrees).
    assert_eq!(
        flags,
        [
            ("by_len", "by_len", 8, 0),
            ("globals.rodata", ".rodata", 16, 0x480),
            ("globals.data", ".data", 8, 0x400),
            (".data.counters", ".data.counters", 4, 0x400),
            (".rodata.table", ".rodata.table", 16, 0x480),
            ("globals.bss", ".bss", 8, 0x400),
            ("globals.kconfig", ".kconfig", 8, 0x480),
        ]
    );
    // .kconfig: CONFIG_HZ (weak, absent: 0) at 0, LINUX_KERNEL_VERSION at 4.
    let k = o.maps.iter().find(|m| m.real_name == ".kconfig").unwrap();
    assert_eq!(
        k.initial_value.as_deref(),
        Some(&[0, 0, 0, 0, 0, 0x12, 6, 0][..])
    );
    let p = &o.programs[0];
    assert!(p.unresolved.is_empty(), "{:?}", p.unresolved);
    // The callback passed to bpf_loop is appended and referenced by a function pointer.
    assert!(p.placements.iter().any(|pl| pl.name == "loop_body"));
    assert!(p.program.insns().iter().any(|i| matches!(
        i,
        Insn::LdImm64 {
            kind: Imm64Kind::Func,
            ..
        }
    )));
    // Source lines for every instruction, from the C file.
    assert!(
        p.lines
            .iter()
            .all(|l| l.as_ref().is_some_and(|l| l.file.ends_with("globals.c")))
    );
}

#[test]
fn co_re_against_the_running_kernel() {
    let Some(target) = vmlinux() else {
        eprintln!("skipping: /sys/kernel/btf/vmlinux is absent");
        return;
    };
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/core.o"),
    )
    .unwrap();
    let opts = LoadOptions {
        name: "core".into(),
        target_btf: Some(target.clone()),
        ..LoadOptions::default()
    };
    let o = BpfObject::load(&bytes, &opts).unwrap();
    assert!(o.core.len() >= 20, "{} relocations", o.core.len());
    // task_struct.pid's offset is the kernel's own.
    let task = target
        .find(bpfvet_btf::Kind::Struct, "task_struct")
        .unwrap();
    let (pid, _) = target.member_by_name(task, "pid").unwrap();
    let want = u64::from(pid.bit_offset / 8);
    assert!(
        o.core.iter().any(|c| c.kind == "byte_off"
            && c.local.contains("task_struct.pid")
            && c.new_val == want)
    );
    // The missing field: exists = 0, and the direct read is poisoned.
    assert!(
        o.core.iter().any(|c| c.kind == "field_exists"
            && c.local.contains("no_such_field")
            && c.new_val == 0)
    );
    let missing = o.program("core_missing").unwrap();
    assert!(
        missing.unresolved.iter().any(|u| u.contains("poisoned")),
        "{:?}",
        missing.unresolved
    );
    assert!(
        missing
            .program
            .insns()
            .iter()
            .any(|i| matches!(i, Insn::Call(CallKind::Helper(0xbad2310))))
    );
    // Without a target BTF the relocations are reported as not applied.
    let o = BpfObject::load(
        &bytes,
        &LoadOptions {
            name: "core".into(),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert!(o.programs[0].unresolved.iter().any(|u| u.contains("CO-RE")));
}
