//! The VM against the kernel: every XDP, TC, socket-filter and cgroup-skb fixture runs on
//! the same packets through bpfvet's interpreter (after bpfvet's verifier accepts it) and
//! through the running kernel's `BPF_PROG_TEST_RUN`; return values, output packets, output
//! contexts and map contents must be equal. Skipped, with the reason, where bpf() is
//! unavailable.

mod common;
mod packets;

use bpfvet_cli::runner::Runner;
use bpfvet_kernel::{Fd, MapSpec as KMapSpec, ProgLoad, TestRun};
use bpfvet_loader::BpfObject;

/// The object's maps and programs loaded into the kernel.
struct Kernel {
    maps: Vec<Fd>,
    progs: Vec<(String, Fd)>,
}

fn load(name: &str) -> BpfObject {
    let path = common::fixtures().join(format!("{name}.o"));
    bpfvet_cli::commands::inspect::load_object(&path, None).unwrap()
}

fn kernel_load(obj: &BpfObject) -> Kernel {
    let maps: Vec<Fd> = obj
        .maps
        .iter()
        .map(|m| {
            let fd = bpfvet_kernel::create_map(&KMapSpec {
                map_type: m.map_type,
                key_size: m.key_size,
                value_size: m.value_size,
                max_entries: m.max_entries,
                flags: m.map_flags,
                name: m.name.clone(),
                inner_map_fd: None,
            })
            .unwrap_or_else(|e| panic!("map {}: {e}", m.name));
            if let Some(v) = &m.initial_value {
                bpfvet_kernel::update_elem(&fd, &0u32.to_le_bytes(), v, 0).unwrap();
            }
            fd
        })
        .collect();
    let fd_array: Vec<i32> = maps.iter().map(|f| f.0).collect();
    let progs = obj
        .programs
        .iter()
        .map(|p| {
            let mut bytes = p.program.encode();
            // Map references by index into the object's maps become fd_array references.
            for chunk in bytes.chunks_exact_mut(8) {
                if chunk[0] == 0x18 && matches!(chunk[1] >> 4, 1 | 2) {
                    let src = if chunk[1] >> 4 == 1 { 5 } else { 6 };
                    chunk[1] = (chunk[1] & 0x0f) | (src << 4);
                }
            }
            let o = bpfvet_kernel::load_program(&ProgLoad {
                prog_type: p.prog_type().unwrap(),
                expected_attach_type: p.section_type.as_ref().and_then(|t| t.expected_attach_type),
                insns: &bytes,
                license: "GPL",
                log_level: 1,
                fd_array: &fd_array,
                name: p.name.chars().take(15).collect(),
                ..Default::default()
            })
            .unwrap();
            let fd =
                o.fd.unwrap_or_else(|| panic!("kernel refused {}: {}", p.name, o.log));
            (p.name.clone(), fd)
        })
        .collect();
    Kernel { maps, progs }
}

/// A map update applied on both sides; prog array values name programs.
enum Update<'a> {
    Bytes(&'a str, Vec<u8>, Vec<u8>),
    Prog(&'a str, u32, &'a str),
}

/// The sum of the u64 counters of a per-CPU value as the kernel reads it back.
fn percpu_sums(raw: &[u8], value_size: usize) -> Vec<u64> {
    let stride = value_size.next_multiple_of(8);
    let mut sums = vec![0u64; value_size / 8];
    for cpu in raw.chunks(stride) {
        for (i, s) in sums.iter_mut().enumerate() {
            *s += u64::from_le_bytes(cpu[i * 8..i * 8 + 8].try_into().unwrap());
        }
    }
    sums
}

fn possible_cpus() -> usize {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    s.trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap_or(0) - a.parse::<usize>().unwrap_or(0) + 1,
            None => 1,
        })
        .sum()
}

/// Compares the array and per-CPU array maps of both sides, element by element.
fn compare_maps(obj: &BpfObject, k: &Kernel, r: &Runner, when: &str) {
    for (i, m) in obj.maps.iter().enumerate() {
        let keys = match m.map_type {
            2 | 6 => 0..m.max_entries,
            _ => continue,
        };
        for key in keys {
            let kb = key.to_le_bytes();
            let ours = r.maps().lookup(i, &kb).unwrap();
            if m.map_type == 6 {
                let size = m.value_size.next_multiple_of(8) as usize * possible_cpus();
                let theirs = bpfvet_kernel::lookup_elem(&k.maps[i], &kb, size)
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    percpu_sums(&ours, m.value_size as usize),
                    percpu_sums(&theirs, m.value_size as usize),
                    "{when}: per-CPU map {} key {key}",
                    m.name
                );
            } else {
                let theirs = bpfvet_kernel::lookup_elem(&k.maps[i], &kb, m.value_size as usize)
                    .unwrap()
                    .unwrap();
                assert_eq!(ours, theirs, "{when}: map {} key {key}", m.name);
            }
        }
    }
}

/// Runs `prog` of fixture `name` on every test packet (with `ctx_in`, if given) on both
/// sides and compares everything. Returns `None` when bpf() is unavailable, else how many
/// packets both ran, the distinct return values, and how many packets the program changed.
fn differential(
    name: &str,
    prog: &str,
    updates: &[Update<'_>],
    ctx_in: Option<&[u8]>,
) -> Option<(usize, usize, usize)> {
    differential_on(name, prog, updates, ctx_in, packets::all(), |_| {})
}

/// [`differential`] on the given frames, after `setup` has configured our side.
fn differential_on(
    name: &str,
    prog: &str,
    updates: &[Update<'_>],
    ctx_in: Option<&[u8]>,
    frames: Vec<(&'static str, Vec<u8>)>,
    setup: impl FnOnce(&mut Runner),
) -> Option<(usize, usize, usize)> {
    if let Err(why) = bpfvet_kernel::available() {
        eprintln!("skipping {name}/{prog}: {why}");
        return None;
    }
    let obj = load(name);
    let k = kernel_load(&obj);
    let mut r = Runner::from_object(&obj, prog, None).unwrap();
    let outcome = r.verify();
    assert!(outcome.accepted(), "{prog}: {:?}", outcome.result);
    setup(&mut r);
    let map_index = |m: &str| obj.maps.iter().position(|d| d.name == m).unwrap();
    for u in updates {
        match u {
            Update::Bytes(m, key, value) => {
                let i = map_index(m);
                bpfvet_kernel::update_elem(&k.maps[i], key, value, 0).unwrap();
                r.maps_mut().update(i, key, value, 0).unwrap();
            }
            Update::Prog(m, slot, target) => {
                let i = map_index(m);
                let fd = &k.progs.iter().find(|(n, _)| n == target).unwrap().1;
                bpfvet_kernel::update_elem(&k.maps[i], &slot.to_le_bytes(), &fd.0.to_le_bytes(), 0)
                    .unwrap();
                let v = r.program_index(target).unwrap() as u32;
                r.maps_mut()
                    .update(i, &slot.to_le_bytes(), &v.to_le_bytes(), 0)
                    .unwrap();
            }
        }
    }
    let fd = &k.progs.iter().find(|(n, _)| n == prog).unwrap().1;
    let (mut compared, mut changed) = (0, 0);
    let mut retvals = std::collections::BTreeSet::new();
    for (what, frame) in frames {
        let when = format!("{name}/{prog} on {what} ({} bytes)", frame.len());
        let theirs = bpfvet_kernel::test_run(
            fd,
            &TestRun {
                data_in: &frame,
                data_out_cap: 16384,
                ctx_in: ctx_in.unwrap_or(&[]),
                ctx_out_cap: if ctx_in.is_some() { 512 } else { 0 },
                ..Default::default()
            },
        );
        let ours = r.context(&frame, ctx_in);
        let (theirs, mut ctx) = match (theirs, ours) {
            (Err(t), Err(o)) => {
                assert_eq!(
                    t.errno, o.errno,
                    "{when}: both refuse, with different errors"
                );
                continue;
            }
            (Ok(t), Ok(o)) => (t, o),
            (t, o) => panic!("{when}: kernel {t:?}, VM {o:?}"),
        };
        let out = r.run(&mut ctx).unwrap_or_else(|e| panic!("{when}: {e}"));
        assert_eq!(out.r0 as u32, theirs.retval, "{when}: return value");
        assert_eq!(
            ctx.data_out(),
            theirs.data_out,
            "{when}: output packet\n ours: {:02x?}\n kernel: {:02x?}",
            ctx.data_out(),
            theirs.data_out
        );
        if ctx_in.is_some() {
            let ours = ctx.ctx_out().unwrap();
            assert_eq!(
                ours[..],
                theirs.ctx_out[..ours.len()],
                "{when}: output context"
            );
        }
        compare_maps(&obj, &k, &r, &when);
        compared += 1;
        retvals.insert(theirs.retval);
        changed += usize::from(theirs.data_out != frame);
    }
    Some((compared, retvals.len(), changed))
}

fn lpm_key(prefix: u32, addr: [u8; 4]) -> Vec<u8> {
    let mut k = prefix.to_le_bytes().to_vec();
    k.extend_from_slice(&addr);
    k
}

#[test]
fn xdp_firewall_matches_the_kernel() {
    let rules = [
        Update::Bytes(
            "blocked",
            lpm_key(24, [192, 168, 1, 0]),
            1u32.to_le_bytes().to_vec(),
        ),
        Update::Bytes(
            "blocked",
            lpm_key(32, [172, 16, 5, 5]),
            0u32.to_le_bytes().to_vec(),
        ),
    ];
    if let Some((n, retvals, _)) = differential("xdp_firewall", "xdp_firewall", &rules, None) {
        assert!(n >= 15 && retvals == 3, "{n} packets, {retvals} actions");
    }
}

#[test]
fn tc_rewrite_matches_the_kernel() {
    if let Some((n, retvals, changed)) = differential("tc_rewrite", "tc_rewrite", &[], None) {
        assert!(
            n >= 15 && retvals == 2 && changed >= 2,
            "{n} {retvals} {changed}"
        );
    }
}

#[test]
fn socket_filter_matches_the_kernel() {
    if let Some((n, retvals, changed)) = differential("sock_filter", "sock_filter", &[], None) {
        // Every output has its Ethernet header zeroed, as the kernel gives it back.
        assert!(
            n >= 15 && retvals >= 3 && changed == n,
            "{n} {retvals} {changed}"
        );
    }
}

#[test]
fn xdp_adjust_matches_the_kernel() {
    if let Some((n, retvals, changed)) = differential("xdp_adjust", "xdp_adjust", &[], None) {
        assert!(
            n >= 15 && retvals >= 3 && changed >= 4,
            "{n} {retvals} {changed}"
        );
    }
}

#[test]
fn tail_calls_match_the_kernel() {
    let slots = [
        Update::Prog("jumps", 0, "xdp_ipv4"),
        Update::Prog("jumps", 1, "xdp_ipv6"),
    ];
    if let Some((n, retvals, _)) = differential("tail_calls", "xdp_entry", &slots, None) {
        assert!(n >= 15 && retvals == 3, "{n} {retvals}");
    }
}

#[test]
fn context_fields_match_the_kernel() {
    for prog in ["tc_fields", "sk_fields", "cg_fields", "xdp_fields"] {
        differential("ctx_fields", prog, &[], None);
    }
}

#[test]
fn context_in_and_out_match_the_kernel() {
    let mut skb = vec![0u8; 192];
    skb[8..12].copy_from_slice(&5u32.to_le_bytes()); // mark
    skb[32..36].copy_from_slice(&3u32.to_le_bytes()); // priority
    skb[48..52].copy_from_slice(&0xaau32.to_le_bytes()); // cb[0]
    skb[152..160].copy_from_slice(&1234u64.to_le_bytes()); // tstamp
    skb[164..168].copy_from_slice(&2u32.to_le_bytes()); // gso_segs
    for prog in ["tc_fields", "sk_fields", "cg_fields"] {
        differential("ctx_fields", prog, &[], Some(&skb));
    }
    // A field the kernel does not take from ctx_in: both refuse.
    let mut bad = skb.clone();
    bad[0] = 1;
    differential("ctx_fields", "tc_fields", &[], Some(&bad));
    // XDP: 8 bytes of metadata at the start of data_in; data_end must be its length, which
    // differs per packet, so only the refusal is compared here.
    let mut md = vec![0u8; 24];
    md[0] = 8;
    differential("ctx_fields", "xdp_fields", &[], Some(&md));
}

/// The test packets plus VLAN-tagged ones: 802.1Q over IPv4, 802.1ad over 802.1Q (QinQ)
/// over IPv6, and a tag over ARP.
fn tagged_packets() -> Vec<(&'static str, Vec<u8>)> {
    let tag = |tpid: u16, tci: u16, inner: &[u8]| {
        let mut f = inner[..12].to_vec();
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
        f.extend_from_slice(&inner[12..]);
        f
    };
    let mut v = packets::all();
    let all = packets::all();
    let find = |n: &str| all.iter().find(|(w, _)| *w == n).unwrap().1.clone();
    v.push(("802.1q udp", tag(0x8100, 0x2005, &find("udp dns"))));
    v.push((
        "qinq ipv6",
        tag(0x88a8, 0x0030, &tag(0x8100, 0x0fff, &find("ipv6 udp"))),
    ));
    v.push(("802.1q arp", tag(0x8100, 1, &find("arp"))));
    v
}

/// A zeroed `__sk_buff` as `ctx_in`, so that `ctx_out` (cb[], mark, priority) comes back.
const ZERO_SKB: [u8; 192] = [0; 192];

#[test]
fn vlan_helpers_match_the_kernel() {
    // tc_vlan_pop always ends with the tag it pushed last in the hardware tag: one return value.
    for (prog, min_retvals) in [("tc_vlan", 2), ("tc_vlan_pop", 1)] {
        let frames = tagged_packets();
        let n = frames.len();
        if let Some((ran, retvals, changed)) =
            differential_on("skb_helpers", prog, &[], Some(&ZERO_SKB), frames, |_| {})
        {
            assert!(
                ran + 3 >= n && retvals >= min_retvals && changed >= 3,
                "{prog}: {ran} {retvals} {changed}"
            );
        }
    }
}

#[test]
fn protocol_and_room_helpers_match_the_kernel() {
    for prog in ["tc_proto", "tc_room", "tc_ecn"] {
        let frames = tagged_packets();
        if let Some((ran, retvals, changed)) =
            differential_on("skb_helpers", prog, &[], Some(&ZERO_SKB), frames, |_| {})
        {
            assert!(
                ran >= 15 && retvals >= 2 && changed >= 2,
                "{prog}: {ran} {retvals} {changed}"
            );
        }
    }
}

/// Where a cgroup file system is mounted: the first mount of type `fstype` whose options
/// include `option` (any options when empty).
fn cgroup_mount(fstype: &str, option: &str) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mounts").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        let fits = f.len() > 3
            && f[2] == fstype
            && (option.is_empty() || f[3].split(',').any(|o| o == option));
        fits.then(|| std::path::PathBuf::from(f[1]))
    })
}

/// The cgroup ids from the root down to this process's cgroup (cgroup v2: a cgroup's id is
/// its directory's inode number), or `None` without a unified hierarchy.
fn own_cgroup_path() -> Option<Vec<u64>> {
    use std::os::unix::fs::MetadataExt;
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mut dir = cgroup_mount("cgroup2", "")?;
    let mut ids = vec![std::fs::metadata(&dir).ok()?.ino()];
    for part in path.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        ids.push(std::fs::metadata(&dir).ok()?.ino());
    }
    Some(ids)
}

#[test]
fn socket_cgroup_mtu_and_redirect_helpers_match_the_kernel() {
    let Some(cgroups) = own_cgroup_path() else {
        eprintln!("skipping: no cgroup v2 hierarchy at /sys/fs/cgroup");
        return;
    };
    let setup = |r: &mut Runner| {
        let task = &mut r.env_mut().task;
        task.cgroup_id = *cgroups.last().unwrap();
        task.cgroup_ancestors = cgroups.clone();
    };
    if let Some((ran, retvals, _)) = differential_on(
        "skb_helpers",
        "tc_info",
        &[],
        Some(&ZERO_SKB),
        tagged_packets(),
        setup,
    ) {
        assert!(ran >= 15 && retvals == 1, "{ran} {retvals}");
    }
    if let Some((ran, _, _)) = differential_on(
        "skb_helpers",
        "cg_ancestor",
        &[],
        Some(&ZERO_SKB),
        packets::all(),
        setup,
    ) {
        assert!(ran >= 15, "{ran}");
    }
    if let Some((ran, retvals, _)) = differential("skb_helpers", "xdp_mtu", &[], None) {
        assert!(ran >= 15 && retvals >= 5, "{ran} {retvals}");
    }
}

/// This process's `net_cls` class id: 0 unless it sits in a cgroup-v1 `net_cls` group.
fn own_net_cls_classid() -> u32 {
    let Some(mount) = cgroup_mount("cgroup", "net_cls") else {
        return 0;
    };
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let path = text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':').skip(1);
        let ctrls = parts.next()?;
        ctrls
            .split(',')
            .any(|c| c == "net_cls")
            .then(|| parts.next())?
    });
    let file = mount
        .join(path.unwrap_or("/").trim_start_matches('/'))
        .join("net_cls.classid");
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn tunnel_tstamp_xfrm_and_classid_helpers_match_the_kernel() {
    let classid = own_net_cls_classid();
    for prog in ["tc_tunnel", "tc_tunnel6", "tc_misc"] {
        if let Some((ran, _, _)) = differential_on(
            "skb_helpers",
            prog,
            &[],
            Some(&ZERO_SKB),
            tagged_packets(),
            |r| r.env_mut().task.net_cls_classid = classid,
        ) {
            assert!(ran >= 15, "{prog}: {ran}");
        }
    }
}
