//! `bpfvet run` with program contexts: the committed capture is what our packet builder
//! makes, the XDP firewall's run over it gives the expected verdicts, counters and output
//! capture, the test-run mode mirrors BPF_PROG_TEST_RUN (`--json` contract), and the
//! embedding API runs a kprobe program with a hash map and a ring buffer.

mod common;
mod packets;

use std::process::{Command, Output};

use bpfvet_cli::runner::Runner;
use bpfvet_vm::Context;
use bpfvet_vm::pcap::Pcap;
use serde_json::Value;

fn bpfvet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfvet"))
        .args(args)
        .output()
        .unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("bpfvet-run-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn fixture(name: &str) -> String {
    common::fixtures().join(name).display().to_string()
}

/// The capture of the test packets, timestamps one millisecond apart.
fn capture() -> Pcap {
    let mut p = Pcap::default();
    for (i, (_, frame)) in packets::all().into_iter().enumerate() {
        p.push(1_700_000_000, i as u32 * 1000, frame);
    }
    p
}

#[test]
fn committed_capture_is_current() {
    let path = common::fixtures().join("packets.pcap");
    let bytes = capture().to_bytes();
    if std::env::var_os("BPFVET_REGEN").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "fixtures/packets.pcap is stale: rerun with BPFVET_REGEN=1"
    );
}

fn blocked_rules() -> std::path::PathBuf {
    let rules = tmp("blocked.json");
    // LPM keys: prefix length (u32, little-endian), then the address bytes.
    std::fs::write(
        &rules,
        r#"[{"key": "18000000 c0a80100", "value": 1}, {"key": "20000000 ac100505", "value": 0}]"#,
    )
    .unwrap();
    rules
}

#[test]
fn firewall_over_a_capture() {
    let rules = blocked_rules();
    let out = tmp("out.pcap");
    let o = bpfvet(&[
        "run",
        &fixture("xdp_firewall.o"),
        "--pcap",
        &fixture("packets.pcap"),
        "--map",
        &format!("blocked={}", rules.display()),
        "--out",
        &out.display().to_string(),
        "--dump-maps",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.starts_with("21 packets in "), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .map(|l| l.split_whitespace().last().unwrap().to_string())
    };
    assert_eq!(line("XDP_PASS").as_deref(), Some("17"), "{text}");
    assert_eq!(line("XDP_DROP").as_deref(), Some("3"), "{text}");
    assert_eq!(line("XDP_ABORTED").as_deref(), Some("1"), "{text}");
    // The map dump (last line): per-CPU counters PASS, DROP, NOT_IP, SHORT.
    let dump: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let counters = dump["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "counters")
        .unwrap();
    let values: Vec<String> = counters["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap().to_string())
        .collect();
    let le = |n: u64| bpfvet_cli::map_json::hex(&n.to_le_bytes());
    assert_eq!(values, [le(14), le(2), le(3), le(2)]);
    // The output capture holds every packet, unchanged by this program.
    let written = Pcap::parse(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written.packets, capture().packets);
}

#[test]
fn adjusted_packets_are_written_as_modified() {
    let out = tmp("adjusted.pcap");
    let o = bpfvet(&[
        "run",
        &fixture("xdp_adjust.o"),
        "--pcap",
        &fixture("packets.pcap"),
        "--out",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written = Pcap::parse(&std::fs::read(&out).unwrap()).unwrap();
    let input = capture();
    for (a, b) in input.packets.iter().zip(&written.packets) {
        match a.data[0] {
            0x02 => assert_eq!(b.data[4..], a.data[..], "a 4-byte tag pushed in front"),
            0x04 => assert_eq!(b.data[..], a.data[..a.data.len() - 4]),
            0x06 => assert_eq!(b.data[..a.data.len()], a.data[..]),
            _ => assert_eq!(b.data, a.data),
        }
    }
}

#[test]
fn test_run_mode_json_contract() {
    let frame = &packets::all()[0].1;
    let data = tmp("frame.bin");
    std::fs::write(&data, frame).unwrap();
    let o = bpfvet(&[
        "run",
        &fixture("tc_rewrite.o"),
        "--prog",
        "tc_rewrite",
        "--data-in",
        &data.display().to_string(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.starts_with("{\"retval\": 0, \"data_out_hex\": \""),
        "{text}"
    );
    assert!(text.ends_with("\", \"ns_per_run\": null}\n"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let out = bpfvet_cli::map_json::parse_hex(v["data_out_hex"].as_str().unwrap()).unwrap();
    // DNS to 10.0.0.2:53 became 10.0.0.53:5353.
    assert_eq!(out.len(), frame.len());
    assert_eq!(out[30..34], [10, 0, 0, 53]);
    assert_eq!(out[36..38], 5353u16.to_be_bytes());
    // --repeat gives a mean time; --type overrides, raw bytecode needs it.
    let o = bpfvet(&[
        "run",
        &fixture("tc_rewrite.o"),
        "--data-in",
        &data.display().to_string(),
        "--repeat",
        "10",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["ns_per_run"].as_f64().unwrap() > 0.0);
    let raw = tmp("xdp.bin");
    // r0 = *(u32 *)(r1 + 4) - *(u32 *)(r1 + 0), i.e. data_end - data.
    std::fs::write(
        &raw,
        [
            0x61u8, 0x12, 4, 0, 0, 0, 0, 0, 0x61, 0x11, 0, 0, 0, 0, 0, 0, 0xbf, 0x20, 0, 0, 0, 0,
            0, 0, 0x1f, 0x10, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
        ],
    )
    .unwrap();
    let args = [
        "run",
        "--raw",
        &raw.display().to_string(),
        "--data-in",
        &data.display().to_string(),
    ];
    let o = bpfvet(&args);
    assert_eq!(o.status.code(), Some(2), "raw needs --type");
    let mut with_type = args.to_vec();
    with_type.extend(["--type", "xdp", "--json"]);
    let v: Value = serde_json::from_slice(&bpfvet(&with_type).stdout).unwrap();
    assert_eq!(v["retval"].as_u64(), Some(frame.len() as u64));
    assert_eq!(
        v["data_out_hex"].as_str().unwrap(),
        bpfvet_cli::map_json::hex(frame)
    );
    // A context the kernel would refuse is refused with its reason.
    let short = tmp("short.bin");
    std::fs::write(&short, [0u8; 10]).unwrap();
    let o = bpfvet(&[
        "run",
        &fixture("xdp_firewall.o"),
        "--data-in",
        &short.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 14 bytes"));
}

#[test]
fn kprobe_counts_and_records_through_the_library() {
    let obj = bpfvet_cli::commands::inspect::load_object(
        &common::fixtures().join("kprobe_events.o"),
        None,
    )
    .unwrap();
    let mut r = Runner::from_object(&obj, "on_write", None).unwrap();
    assert!(r.verify().accepted());
    let calls = r.maps().index_of("calls").unwrap();
    let events = r.maps().index_of("events").unwrap();
    for (pid, (fd, count)) in [(10u32, (1u64, 5u64)), (10, (2, 9000)), (20, (1, 7))] {
        r.env_mut().task.tgid = pid;
        let mut ctx = Context::kprobe(&[fd, 0xdead_0000, count]).unwrap();
        assert_eq!(r.run(&mut ctx).unwrap().r0, 0);
    }
    let n = |pid: u32| r.maps().lookup(calls, &pid.to_le_bytes()).unwrap();
    assert_eq!(n(10), 2u64.to_le_bytes());
    assert_eq!(n(20), 1u64.to_le_bytes());
    let recs = r.maps_mut().ringbuf_consume(events).unwrap();
    assert_eq!(recs.len(), 3);
    let rec = &recs[1];
    assert_eq!(rec[0..4], 10u32.to_le_bytes());
    assert_eq!(rec[4..8], 2u32.to_le_bytes());
    assert_eq!(rec[8..16], 9000u64.to_le_bytes());
    assert_eq!(&rec[16..22], b"bpfvet");
    assert_eq!(r.env().trace_messages(), ["big write: fd 2, 9000 bytes"]);
}

#[test]
fn tail_calls_through_program_names() {
    let slots = tmp("jumps.json");
    std::fs::write(
        &slots,
        r#"[{"key": 0, "value": "xdp_ipv4"}, {"key": 1, "value": "xdp_ipv6"}]"#,
    )
    .unwrap();
    let o = bpfvet(&[
        "run",
        &fixture("tail_calls.o"),
        "--prog",
        "xdp_entry",
        "--pcap",
        &fixture("packets.pcap"),
        "--map",
        &format!("jumps={}", slots.display()),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // IPv4 frames go to xdp_ipv4 (DROP), the IPv6 one to xdp_ipv6 (TX), the rest pass.
    assert!(text.contains("XDP_DROP             18"), "{text}");
    assert!(text.contains("XDP_TX               1"), "{text}");
    assert!(text.contains("XDP_PASS             2"), "{text}");
}
