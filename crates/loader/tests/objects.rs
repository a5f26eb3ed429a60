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
    BpfObject::load(&bytes, &LoadOptions { name: stem }).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn from_asm(text: &str) -> Result<BpfObject, String> {
    let a = assemble_sections(text, Dialect::Llvm).map_err(|e| e.to_string())?;
    let bytes = write_relocatable(&a).map_err(|e| e.to_string())?;
    BpfObject::load(&bytes, &LoadOptions { name: "t".into() }).map_err(|e| e.msg)
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
