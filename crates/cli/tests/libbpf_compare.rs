//! Our loader against libbpf, through bpftool (`prog loadall` with libbpf's debug log and
//! `map show`): the maps libbpf creates for each fixture have the names, types, sizes and
//! flags our loader gives them, and every CO-RE relocation libbpf applies gets the same value
//! from ours. Skips with a message when bpftool, root or bpffs is missing.

mod common;

use std::path::Path;
use std::process::Command;

use bpfvet_cli::commands::inspect::load_object;

/// The tests pin objects in bpffs (some by fixed name): one at a time.
static BPFFS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn usable() -> Result<(), String> {
    if Command::new("bpftool").arg("version").output().is_err() {
        return Err("bpftool is not installed".into());
    }
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"))
    {
        return Err("bpffs is not mounted at /sys/fs/bpf".into());
    }
    if std::fs::create_dir_all("/sys/fs/bpf/bpfvet_probe").is_err() {
        return Err("cannot write to /sys/fs/bpf (not root?)".into());
    }
    let _ = std::fs::remove_dir("/sys/fs/bpf/bpfvet_probe");
    Ok(())
}

fn json_field<'a>(j: &'a str, key: &str) -> Option<&'a str> {
    let at = j.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &j[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

#[test]
fn maps_match_what_libbpf_creates() {
    let _guard = BPFFS.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(why) = usable() {
        eprintln!("skipping: {why}");
        return;
    }
    for name in ["globals", "btf_maps", "maps_calls", "isa_v4"] {
        let obj_path = common::fixtures().join(format!("{name}.o"));
        let pin = format!("/sys/fs/bpf/bpfvet_{name}_{}", std::process::id());
        let out = Command::new("bpftool")
            .args(["prog", "loadall"])
            .arg(&obj_path)
            .arg(&pin)
            .output()
            .unwrap();
        // Maps pinned by name (LIBBPF_PIN_BY_NAME) land in /sys/fs/bpf itself.
        let cleanup = || {
            let _ = std::fs::remove_dir_all(&pin);
            let _ = std::fs::remove_file("/sys/fs/bpf/pinned_lru");
        };
        if !out.status.success() {
            cleanup();
            panic!(
                "{name}: bpftool loadall failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let ours = load_object(&obj_path, None).unwrap();
        // The maps each loaded program uses, as the kernel reports them.
        let mut ids = std::collections::BTreeSet::new();
        for e in std::fs::read_dir(&pin).unwrap() {
            let show = Command::new("bpftool")
                .args(["prog", "show", "pinned"])
                .arg(e.unwrap().path())
                .arg("--json")
                .output()
                .unwrap();
            let j = String::from_utf8_lossy(&show.stdout).into_owned();
            if let Some(at) = j.find("\"map_ids\":[") {
                let list = &j[at + 11..];
                let list = &list[..list.find(']').unwrap()];
                ids.extend(list.split(',').filter_map(|x| x.trim().parse::<u32>().ok()));
            }
        }
        let mut seen = 0;
        for id in ids {
            let show = Command::new("bpftool")
                .args(["map", "show", "id", &id.to_string(), "--json"])
                .output()
                .unwrap();
            let j = String::from_utf8_lossy(&show.stdout).into_owned();
            let kname = json_field(&j, "name").unwrap().to_string();
            let m = ours
                .maps
                .iter()
                .find(|m| m.name == kname)
                .unwrap_or_else(|| panic!("{name}: libbpf created map {kname}, we have none"));
            let want = |k: &str| json_field(&j, k).unwrap().to_string();
            assert_eq!(m.type_name(), want("type"), "{name}/{kname} type");
            assert_eq!(
                m.key_size.to_string(),
                want("bytes_key"),
                "{name}/{kname} key"
            );
            assert_eq!(
                m.value_size.to_string(),
                want("bytes_value"),
                "{name}/{kname} value"
            );
            assert_eq!(
                m.max_entries.to_string(),
                want("max_entries"),
                "{name}/{kname} max_entries"
            );
            assert_eq!(
                m.map_flags.to_string(),
                want("flags"),
                "{name}/{kname} flags"
            );
            seen += 1;
        }
        cleanup();
        assert!(seen >= 1, "{name}: no maps compared");
        eprintln!("{name}: {seen} maps agree with libbpf");
    }
}

#[test]
fn co_re_values_match_libbpf() {
    let _guard = BPFFS.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(why) = usable() {
        eprintln!("skipping: {why}");
        return;
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("skipping: no kernel BTF");
        return;
    }
    let obj_path = common::fixtures().join("core.o");
    let pin = format!("/sys/fs/bpf/bpfvet_core_{}", std::process::id());
    // core_missing is poisoned, so the load fails after the relocations are logged.
    let out = Command::new("bpftool")
        .args(["-d", "prog", "loadall"])
        .arg(&obj_path)
        .arg(&pin)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&pin);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let ours = load_object(&obj_path, None).unwrap();
    let start = |prog: &str| -> usize { ours.program(prog).unwrap().placements[0].section_start };
    let mut patched = 0;
    let mut poisoned = 0;
    for line in log.lines() {
        // libbpf: prog 'X': relo #N: patched insn #I (KIND) imm A -> B
        let Some(rest) = line.strip_prefix("libbpf: prog '") else {
            continue;
        };
        let prog = &rest[..rest.find('\'').unwrap()];
        if let Some(at) = rest.find("patched insn #") {
            let tail = &rest[at + 14..];
            let insn: usize = tail[..tail.find(' ').unwrap()].parse().unwrap();
            let new: u64 = tail.rsplit(' ').next().unwrap().parse().unwrap();
            let c = ours
                .core
                .iter()
                .find(|c| c.insn == start(prog) + insn)
                .unwrap_or_else(|| panic!("no relocation of ours at {prog} insn {insn}"));
            assert_eq!(
                c.new_val, new,
                "{prog} insn {insn}: {} {} (libbpf: {line})",
                c.kind, c.local
            );
            assert!(!c.poisoned);
            patched += 1;
        } else if let Some(at) = rest.find("substituting insn #") {
            let tail = &rest[at + 19..];
            let insn: usize = tail[..tail.find(' ').unwrap()].parse().unwrap();
            let c = ours
                .core
                .iter()
                .find(|c| c.insn == start(prog) + insn)
                .unwrap();
            assert!(c.poisoned, "{prog} insn {insn}: libbpf poisons, we do not");
            poisoned += 1;
        }
    }
    assert!(
        patched >= 20,
        "only {patched} patched relocations in libbpf's log:\n{log}"
    );
    assert_eq!(poisoned, 1);
    assert_eq!(patched + poisoned, ours.core.len());
}

/// The kernel's translated instructions with each map reference (LD_IMM64 carrying a map id)
/// replaced by the map's name, so two loads of the same code compare equal.
fn normalised_xlated(info: &bpfvet_kernel::ProgInfo) -> Vec<String> {
    let x = &info.xlated;
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= x.len() {
        let s = &x[i..i + 8];
        if s[0] == 0x18 && matches!(s[1] >> 4, 1 | 2) && i + 16 <= x.len() {
            let id = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
            let name = bpfvet_kernel::map_by_id(id)
                .and_then(|fd| bpfvet_kernel::map_info(&fd))
                .map(|m| m.name)
                .unwrap_or_else(|e| format!("<{e}>"));
            let off = u32::from_le_bytes([x[i + 12], x[i + 13], x[i + 14], x[i + 15]]);
            out.push(format!(
                "ld_imm64 src={} r{} map {name} off {off}",
                s[1] >> 4,
                s[1] & 15
            ));
            out.push(String::from("(second half)"));
            i += 16;
            continue;
        }
        out.push(format!("{s:02x?}"));
        i += 8;
    }
    out
}

#[test]
fn relocated_programs_translate_like_libbpfs() {
    let _guard = BPFFS.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(why) = usable().and_then(|_| bpfvet_kernel::available()) {
        eprintln!("skipping: {why}");
        return;
    }
    let mut compared = 0;
    for (name, progs) in [
        ("maps_calls", &["count_packets"][..]),
        ("isa_v4", &["isa_prog"][..]),
        ("btf_maps", &["use_maps", "tail_target"][..]),
        // globals.o passes a callback to bpf_loop: the kernel then needs the program's BTF
        // func_info, which this oracle does not load yet.
    ] {
        let obj_path = common::fixtures().join(format!("{name}.o"));
        let pin = format!("/sys/fs/bpf/bpfvet_x_{name}_{}", std::process::id());
        let out = Command::new("bpftool")
            .args(["prog", "loadall"])
            .arg(&obj_path)
            .arg(&pin)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = load_object(&obj_path, None).unwrap();
        // Our maps, created as defined, with their initial contents.
        let mut fds = Vec::new();
        let mut inner_fds = Vec::new();
        for m in &ours.maps {
            let inner_map_fd = m.inner.as_ref().map(|i| {
                let fd = bpfvet_kernel::create_map(&bpfvet_kernel::MapSpec {
                    map_type: i.map_type,
                    key_size: i.key_size,
                    value_size: i.value_size,
                    max_entries: i.max_entries,
                    flags: i.map_flags,
                    name: "inner".into(),
                    inner_map_fd: None,
                })
                .unwrap();
                let raw = fd.0;
                inner_fds.push(fd);
                raw
            });
            let fd = bpfvet_kernel::create_map(&bpfvet_kernel::MapSpec {
                map_type: m.map_type,
                key_size: m.key_size,
                value_size: m.value_size,
                max_entries: m.max_entries,
                flags: m.map_flags,
                name: m.name.clone(),
                inner_map_fd,
            })
            .unwrap_or_else(|e| panic!("{name}: map {}: {e}", m.name));
            if let Some(v) = &m.initial_value {
                bpfvet_kernel::update_elem(&fd, &0u32.to_le_bytes(), v, 0).unwrap();
            }
            if m.frozen {
                bpfvet_kernel::freeze(&fd).unwrap();
            }
            fds.push(fd);
        }
        let fd_array: Vec<i32> = fds.iter().map(|f| f.0).collect();
        for prog in progs {
            let p = ours.program(prog).unwrap();
            let bytes = p.program.encode();
            let t = p.section_type.as_ref().unwrap();
            let loaded = bpfvet_kernel::load_program(&bpfvet_kernel::ProgLoad {
                prog_type: t.prog_type,
                expected_attach_type: t.expected_attach_type,
                insns: &bytes,
                license: &ours.license,
                log_level: 1,
                fd_array: &fd_array,
                name: prog.to_string(),
                ..Default::default()
            })
            .unwrap();
            let fd = loaded.fd.unwrap_or_else(|| {
                panic!(
                    "{name}/{prog}: the kernel refused our relocation:\n{}",
                    loaded.log
                )
            });
            let mine = normalised_xlated(&bpfvet_kernel::prog_info(&fd).unwrap());
            let theirs_fd = bpfvet_kernel::pinned(&format!("{pin}/{prog}")).unwrap();
            let theirs = normalised_xlated(&bpfvet_kernel::prog_info(&theirs_fd).unwrap());
            assert_eq!(
                mine, theirs,
                "{name}/{prog}: translated instructions differ"
            );
            compared += 1;
        }
        let _ = std::fs::remove_dir_all(&pin);
        let _ = std::fs::remove_file("/sys/fs/bpf/pinned_lru");
    }
    eprintln!("{compared} programs translate identically to libbpf's");
    assert!(compared >= 4);
}
