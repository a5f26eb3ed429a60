//! The oracle against the running kernel: a trivial program loads, an unsafe one is refused
//! with the verifier's message, maps are created and described, translated instructions come
//! back. Skips with a message when bpf() is unavailable.

use bpfvet_kernel::{
    MapSpec, ProgLoad, TestRun, available, create_map, load_program, lookup_elem, map_info,
    prog_info, test_run, update_elem,
};

fn insns(words: &[[u8; 8]]) -> Vec<u8> {
    words.iter().flatten().copied().collect()
}

#[test]
fn loads_and_refuses_like_the_kernel() {
    if let Err(why) = available() {
        eprintln!("skipping: {why}");
        return;
    }
    let ok = insns(&[[0xb7, 0, 0, 0, 7, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]]);
    let o = load_program(&ProgLoad {
        prog_type: 1,
        insns: &ok,
        license: "GPL",
        log_level: 1,
        ..ProgLoad::default()
    })
    .unwrap();
    let fd = o.fd.expect("accepted");
    let info = prog_info(&fd).unwrap();
    assert_eq!(info.prog_type, 1);
    assert_eq!(info.xlated, ok);
    // *(u64 *)(r10 - 520) = r0 is refused with the kernel's message.
    let bad = insns(&[
        [0xb7, 0, 0, 0, 0, 0, 0, 0],
        [0x7b, 0x0a, 0xf8, 0xfd, 0, 0, 0, 0],
        [0x95, 0, 0, 0, 0, 0, 0, 0],
    ]);
    let o = load_program(&ProgLoad {
        prog_type: 1,
        insns: &bad,
        license: "GPL",
        log_level: 1,
        ..ProgLoad::default()
    })
    .unwrap();
    assert!(o.fd.is_none());
    assert_eq!(o.errno, Some(13));
    assert!(
        o.log.contains("invalid write to stack R10 off=-520 size=8"),
        "{}",
        o.log
    );
    let m = create_map(&MapSpec {
        map_type: 1,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        name: "bpfvet_t".into(),
        ..MapSpec::default()
    })
    .unwrap();
    let i = map_info(&m).unwrap();
    assert_eq!(
        (
            i.map_type,
            i.key_size,
            i.value_size,
            i.max_entries,
            i.name.as_str()
        ),
        (1, 4, 8, 16, "bpfvet_t")
    );
}

#[test]
fn test_run_and_map_lookup() {
    if let Err(why) = available() {
        eprintln!("skipping: {why}");
        return;
    }
    // XDP: r0 = *(u32 *)(r1 + 4) - *(u32 *)(r1 + 0) (data_end - data, the packet length).
    let prog = insns(&[
        [0x61, 0x12, 0, 0, 0, 0, 0, 0],
        [0x61, 0x10, 4, 0, 0, 0, 0, 0],
        [0x1f, 0x20, 0, 0, 0, 0, 0, 0],
        [0x95, 0, 0, 0, 0, 0, 0, 0],
    ]);
    let o = load_program(&ProgLoad {
        prog_type: 6,
        insns: &prog,
        license: "GPL",
        log_level: 1,
        ..ProgLoad::default()
    })
    .unwrap();
    let fd = o.fd.unwrap_or_else(|| panic!("refused: {}", o.log));
    let packet = [0xabu8; 64];
    let r = test_run(
        &fd,
        &TestRun {
            data_in: &packet,
            data_out_cap: 256,
            repeat: 3,
            ..TestRun::default()
        },
    )
    .unwrap();
    assert_eq!(r.retval, 64);
    assert_eq!(r.data_out, packet);
    let m = create_map(&MapSpec {
        map_type: 1,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        name: "bpfvet_l".into(),
        ..MapSpec::default()
    })
    .unwrap();
    assert_eq!(lookup_elem(&m, &7u32.to_le_bytes(), 8).unwrap(), None);
    update_elem(&m, &7u32.to_le_bytes(), &42u64.to_le_bytes(), 0).unwrap();
    assert_eq!(
        lookup_elem(&m, &7u32.to_le_bytes(), 8).unwrap(),
        Some(42u64.to_le_bytes().to_vec())
    );
}
