//! The checked JIT against the interpreter on program contexts: every program of every ELF
//! fixture runs, through the embedding API `bpfvet run` uses, on the same inputs — every
//! test packet (and VLAN-tagged ones, with and without an `__sk_buff` ctx_in) for packet
//! programs, patterned `ctx_in` records for tracing programs — once on the interpreter and
//! once after `Runner::use_jit`. Each run's result (return value or error), output data,
//! output context, output packet and `trace_printk` lines, and every map's contents after
//! all runs, must be equal. A second part runs `bpfvet run --pcap ... --json --out
//! --dump-maps` with and without `--jit` and compares the outputs.

mod common;
mod packets;

use std::process::Command;

use bpfvet_cli::runner::Runner;
use bpfvet_loader::BpfObject;
use bpfvet_vm::{Context, MapDump};

fn load(path: &std::path::Path) -> BpfObject {
    bpfvet_cli::commands::inspect::load_object(path, None).unwrap()
}

/// Packet inputs: the test packets, then VLAN-tagged copies of a few.
fn frames() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = packets::all().into_iter().map(|(_, f)| f).collect();
    let plain = v.clone();
    for (tpid, inner) in [
        (0x8100u16, &plain[0]),
        (0x88a8, &plain[4]),
        (0x8100, &plain[9]),
    ] {
        let mut f = inner[..12].to_vec();
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&0x2064u16.to_be_bytes());
        f.extend_from_slice(&inner[12..]);
        v.push(f);
    }
    v
}

/// `ctx_in` records for tracing programs: zeros, then words 1, 2, 3, ... (sizes the
/// context builder accepts are found by trying).
fn trace_inputs() -> Vec<Vec<u8>> {
    let words = |n: usize| -> Vec<u8> {
        (1..=n as u64)
            .flat_map(|w| (w * 0x11).to_le_bytes())
            .collect()
    };
    vec![vec![], vec![0; 64], words(8), words(21), words(16)]
}

/// One run's observable outcome.
#[derive(Debug, PartialEq)]
struct RunOut {
    result: Result<u64, String>,
    data_out: Vec<u8>,
    ctx_out: Option<Vec<u8>>,
    packet_out: Vec<u8>,
    trace: Vec<String>,
}

/// Everything one engine did with one program.
#[derive(Debug, PartialEq)]
struct ProgOut {
    runs: Vec<RunOut>,
    maps: Vec<MapDump>,
}

/// Fills each prog array's empty slots with programs of the set (slot k → program k + 1),
/// so tail calls have somewhere to go.
fn fill_prog_arrays(r: &mut Runner) {
    let n = r.program_names().len();
    for (i, d) in r.maps().dump_all().into_iter().enumerate() {
        if d.spec.map_type != bpfvet_vm::MapType::ProgArray || !d.entries.is_empty() {
            continue;
        }
        for k in 0..(d.spec.max_entries as usize).min(n) {
            let target = ((k + 1) % n) as u32;
            r.maps_mut()
                .update(i, &(k as u32).to_le_bytes(), &target.to_le_bytes(), 0)
                .unwrap();
        }
    }
}

fn run_program(obj: &BpfObject, prog: &str, jit: bool) -> Option<ProgOut> {
    let mut r = Runner::from_object(obj, prog, None).ok()?;
    if obj.maps.iter().any(|m| m.name == "blocked") {
        let rules =
            std::fs::read_to_string(common::fixtures().join("xdp_firewall_rules.json")).unwrap();
        let i = r.maps().index_of("blocked").unwrap();
        let names = r.program_names().to_vec();
        bpfvet_cli::map_json::load(r.maps_mut(), i, &rules, &names).unwrap();
    }
    fill_prog_arrays(&mut r);
    r.env_mut().seed(0x5eed);
    if jit {
        r.use_jit().unwrap();
    }
    let t = r.prog_type();
    let mut inputs: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for f in frames() {
        inputs.push((f.clone(), None));
        inputs.push((f, Some(vec![0; 192])));
    }
    inputs.extend(trace_inputs().into_iter().map(|c| (Vec::new(), Some(c))));
    let mut runs = Vec::new();
    for (data, ctx_in) in inputs {
        let Ok(mut ctx) = Context::for_test_run(t, &data, ctx_in.as_deref()) else {
            continue;
        };
        let result = r.run(&mut ctx).map(|o| o.r0).map_err(|e| e.to_string());
        let trace = r
            .env_mut()
            .take_trace()
            .into_iter()
            .map(|t| t.message)
            .collect();
        runs.push(RunOut {
            result,
            data_out: ctx.data_out(),
            ctx_out: ctx.ctx_out(),
            packet_out: ctx.packet_out(),
            trace,
        });
    }
    Some(ProgOut {
        runs,
        maps: r.maps().dump_all(),
    })
}

#[test]
fn every_fixture_program_agrees_on_the_jit() {
    if !bpfvet_jit::available() {
        eprintln!("skipped: no JIT on this host");
        return;
    }
    let mut fixtures: Vec<_> = std::fs::read_dir(common::fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    fixtures.sort();
    let (mut programs, mut runs, mut ok_runs, mut traced, mut map_entries) = (0, 0, 0, 0, 0);
    let mut retvals = std::collections::BTreeSet::new();
    for path in &fixtures {
        let obj = load(path);
        for p in &obj.programs {
            let Some(interp) = run_program(&obj, &p.name, false) else {
                continue;
            };
            let jit = run_program(&obj, &p.name, true).unwrap();
            let what = format!("{} {}", path.display(), p.name);
            assert_eq!(interp.runs.len(), jit.runs.len(), "{what}");
            for (i, (a, b)) in interp.runs.iter().zip(&jit.runs).enumerate() {
                assert_eq!(a, b, "{what}: run {i}");
            }
            assert_eq!(interp.maps, jit.maps, "{what}: maps");
            programs += 1;
            runs += interp.runs.len();
            ok_runs += interp.runs.iter().filter(|r| r.result.is_ok()).count();
            traced += interp.runs.iter().filter(|r| !r.trace.is_empty()).count();
            map_entries += interp.maps.iter().map(|m| m.entries.len()).sum::<usize>();
            retvals.extend(interp.runs.iter().filter_map(|r| r.result.clone().ok()));
        }
    }
    eprintln!(
        "{programs} programs, {runs} runs ({ok_runs} ok, {traced} with trace output), \
         {map_entries} map entries, {} distinct return values",
        retvals.len()
    );
    // The comparison covered real work: many programs, mostly successful runs, output from
    // trace_printk, maps with contents and varied verdicts.
    assert!(programs >= 40, "{programs} programs");
    assert!(
        ok_runs * 10 >= runs * 8,
        "{ok_runs} of {runs} runs succeeded"
    );
    assert!(traced > 0 && map_entries > 50 && retvals.len() >= 8);
}

/// `bpfvet run` over the committed capture with the firewall, with and without `--jit`:
/// the same JSON summary (but the rate), output capture and map dump.
#[test]
fn pcap_runs_agree_under_json() {
    if !bpfvet_jit::available() {
        eprintln!("skipped: no JIT on this host");
        return;
    }
    let dir = std::env::temp_dir().join(format!("bpfvet-jitctx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = |n: &str| common::fixtures().join(n).display().to_string();
    let mut outs = Vec::new();
    for jit in [false, true] {
        let tag = if jit { "jit" } else { "interp" };
        let out = dir.join(format!("{tag}.pcap"));
        let maps = dir.join(format!("{tag}.json"));
        let mut args = vec![
            "run".to_string(),
            fixture("xdp_firewall.o"),
            "--pcap".into(),
            fixture("packets.pcap"),
            "--map".into(),
            format!("blocked={}", fixture("xdp_firewall_rules.json")),
            "--out".into(),
            out.display().to_string(),
            "--dump-maps".into(),
            maps.display().to_string(),
            "--json".into(),
        ];
        if jit {
            args.push("--jit".into());
        }
        let o = Command::new(env!("CARGO_BIN_EXE_bpfvet"))
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(summary["packets_per_s"].as_f64().unwrap() > 0.0);
        summary.as_object_mut().unwrap().remove("packets_per_s");
        outs.push((
            summary,
            std::fs::read(&out).unwrap(),
            std::fs::read_to_string(&maps).unwrap(),
        ));
    }
    assert_eq!(outs[0], outs[1]);
    let s = &outs[0].0;
    assert_eq!(s["packets"], 21);
    assert_eq!(s["errors"], 0);
    // XDP_PASS, XDP_DROP and XDP_ABORTED all occur.
    assert_eq!(s["retvals"].as_object().unwrap().len(), 3, "{s}");
    assert!(outs[0].2.contains("\"counters\""));
}

/// The test-run mode's `--json` (`retval`, `data_out_hex`) and `--dump-maps` with and
/// without `--jit`, for every packet; `--unchecked` refuses contexts.
#[test]
fn test_run_json_agrees_for_every_packet() {
    if !bpfvet_jit::available() {
        eprintln!("skipped: no JIT on this host");
        return;
    }
    let dir = std::env::temp_dir().join(format!("bpfvet-jittr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = common::fixtures()
        .join("tc_rewrite.o")
        .display()
        .to_string();
    let run = |data: &str, extra: &[&str]| {
        let mut args = vec!["run", &fixture, "--data-in", data, "--json", "--dump-maps"];
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_bpfvet"))
            .args(&args)
            .output()
            .unwrap()
    };
    let (mut changed, mut ran) = (0, 0);
    for (i, (_, frame)) in packets::all().into_iter().enumerate() {
        let data = dir.join(format!("{i}.bin"));
        std::fs::write(&data, &frame).unwrap();
        let data = data.display().to_string();
        let mut outs = Vec::new();
        for extra in [&[][..], &["--jit"][..]] {
            let o = run(&data, extra);
            if !o.status.success() {
                // A frame the context builder refuses: the same error either way.
                outs.push((
                    o.status.code().into(),
                    String::from_utf8(o.stderr).unwrap().into(),
                    serde_json::Value::Null,
                ));
                continue;
            }
            let text = String::from_utf8(o.stdout).unwrap();
            let mut lines = text.lines();
            let summary: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
            let maps: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
            outs.push((
                summary["retval"].clone(),
                summary["data_out_hex"].clone(),
                maps,
            ));
        }
        assert_eq!(outs[0], outs[1], "packet {i}");
        if outs[0].2.is_null() {
            continue;
        }
        ran += 1;
        let out = bpfvet_cli::map_json::parse_hex(outs[0].1.as_str().unwrap()).unwrap();
        changed += usize::from(out != frame);
    }
    assert!(ran >= 15 && changed > 0, "{ran} ran, {changed} rewritten");
    let data = dir.join("0.bin").display().to_string();
    let o = run(&data, &["--jit", "--unchecked"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--unchecked"));
}
