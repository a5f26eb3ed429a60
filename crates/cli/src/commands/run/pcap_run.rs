//! `bpfvet run --pcap`: runs the program on every packet of a capture, each in a fresh
//! context as `BPF_PROG_TEST_RUN` builds it, with the maps carried from packet to packet;
//! prints `trace_printk` output as it comes, then a summary of the return values (XDP and
//! TC actions by name) with counts and the rate. `--out` writes every packet as the program
//! left it; a progress bar runs on stderr for long captures when stderr is a terminal.
//! `--json` prints one object instead: `{"packets", "retvals": {"<retval>": count},
//! "not_run", "errors", "error_messages", "trace", "packets_per_s"}` (`trace` holds
//! `{"packet", "message"}` records, `error_messages` the first errors).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Instant;

use bpfvet_vm::pcap::{LINKTYPE_ETHERNET, Pcap, PcapPacket};

use super::RunArgs;
use super::context::{action_label, dump_maps, print_trace};
use crate::error::CliError;
use crate::runner::Runner;

/// Captures longer than this get a progress bar (on a terminal).
const PROGRESS_MIN: usize = 10_000;
/// Packet errors printed before the rest are only counted.
const MAX_ERRORS_SHOWN: usize = 10;

pub fn run(a: &RunArgs, r: &mut Runner) -> Result<u8, CliError> {
    let path = a.pcap.as_ref().expect("pcap mode");
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, &e))?;
    let cap = Pcap::parse(&bytes).map_err(|e| CliError::input(path, e.to_string()))?;
    if cap.linktype != LINKTYPE_ETHERNET {
        return Err(CliError::input(
            path,
            format!(
                "link type {} is not Ethernet (1); XDP and socket-buffer programs need \
                 Ethernet frames",
                cap.linktype
            ),
        ));
    }
    let total = cap.packets.len();
    let progress = total >= PROGRESS_MIN && std::io::stderr().is_terminal();
    let mut out = a.out.as_ref().map(|_| Pcap {
        packets: Vec::with_capacity(total),
        ..cap.clone()
    });
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    let (mut errors, mut refused) = (0u64, 0u64);
    let mut stdout = std::io::stdout().lock();
    // --json: trace lines and error messages go into the final object.
    let mut trace_json = Vec::new();
    let mut error_json = Vec::new();
    let start = Instant::now();
    for (i, p) in cap.packets.iter().enumerate() {
        let n = i + 1;
        if progress && n % (total / 100).max(1) == 0 {
            eprint!("\r{:3}% {n}/{total} packets", n * 100 / total);
        }
        let mut ctx = match r.context(&p.data, None) {
            Ok(c) => c,
            Err(e) => {
                refused += 1;
                if refused as usize <= MAX_ERRORS_SHOWN {
                    if a.json {
                        error_json.push(format!("packet {n}: not run: {e}"));
                    } else {
                        let _ = writeln!(stdout, "packet {n}: not run: {e}");
                    }
                }
                if let Some(o) = &mut out {
                    o.packets.push(p.clone());
                }
                continue;
            }
        };
        match r.run(&mut ctx) {
            Ok(res) => *counts.entry(res.r0 as u32).or_default() += 1,
            Err(e) => {
                errors += 1;
                if errors as usize <= MAX_ERRORS_SHOWN {
                    if a.json {
                        error_json.push(format!("packet {n}: error: {e}"));
                    } else {
                        let _ = writeln!(stdout, "packet {n}: error: {e}");
                    }
                }
            }
        }
        if a.json {
            for t in r.env_mut().take_trace() {
                trace_json.push(serde_json::json!({
                    "packet": n,
                    "message": t.message.trim_end_matches('\n'),
                }));
            }
        } else {
            print_trace(r, &mut stdout, &format!("packet {n}: trace: "));
        }
        if let Some(o) = &mut out {
            let data = ctx.packet_out();
            o.packets.push(PcapPacket {
                ts_sec: p.ts_sec,
                ts_frac: p.ts_frac,
                orig_len: p.orig_len.max(data.len() as u32),
                data,
            });
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if progress {
        eprint!("\r{:40}\r", "");
    }
    let t = r.prog_type();
    if a.json {
        let retvals: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect();
        let doc = serde_json::json!({
            "packets": total,
            "retvals": retvals,
            "not_run": refused,
            "errors": errors,
            "error_messages": error_json,
            "trace": trace_json,
            "packets_per_s": total as f64 / secs.max(1e-9),
        });
        let _ = writeln!(stdout, "{doc}");
    } else {
        let _ = writeln!(
            stdout,
            "{total} packets in {secs:.3} s ({:.0} packets/s)",
            total as f64 / secs.max(1e-9)
        );
        for (&retval, &count) in &counts {
            let _ = writeln!(stdout, "  {:<20} {count}", action_label(t, retval));
        }
        if refused > 0 {
            let _ = writeln!(stdout, "  {:<20} {refused}", "not run (bad frame)");
        }
        if errors > 0 {
            let _ = writeln!(stdout, "  {:<20} {errors}", "error");
        }
    }
    drop(stdout);
    if let (Some(o), Some(path)) = (out, &a.out) {
        std::fs::write(path, o.to_bytes()).map_err(|e| CliError::io(path, &e))?;
    }
    dump_maps(a, r)?;
    Ok(if errors > 0 { 1 } else { 0 })
}
