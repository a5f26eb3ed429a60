//! `bpfvet stats` end to end on the committed fixtures: the CSV layout and its round trip
//! through replay mode, comparison mode (A, B, DIFF and %), filters, sorting, top-N, JSON, and
//! errors on bad specs and inputs.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn bpfvet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfvet"))
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(args: &[&str]) -> String {
    let o = bpfvet(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bpfvet-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// CSV rows as (header, rows of fields); no field of these fixtures holds a comma.
fn csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

fn column(header: &[String], rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = header.iter().position(|h| h == name).unwrap();
    rows.iter().map(|r| r[i].clone()).collect()
}

const OBJS: &[&str] = &[
    "fixtures/tailcall.o",
    "fixtures/parser.o",
    "fixtures/prog_types.o",
];

fn run(extra: &[&str]) -> String {
    let mut args = vec!["stats", "-q"];
    args.extend_from_slice(OBJS);
    args.extend_from_slice(extra);
    ok(&args)
}

#[test]
fn csv_has_veristat_columns_and_round_trips_through_replay() {
    let text = run(&["-o", "csv"]);
    let (header, rows) = csv(&text);
    assert_eq!(
        header,
        [
            "file_name",
            "prog_name",
            "verdict",
            "duration",
            "total_insns",
            "total_states",
            "peak_states",
            "max_states_per_insn",
            "max_mark_read_len",
            "prog_size",
            "stack_depth",
            "prog_type"
        ]
    );
    assert_eq!(rows.len(), 3 + 2 + 19, "{text}");
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{r:?}");
        assert!(r[2] == "success" || r[2] == "failure", "{r:?}");
        assert!(r[4].parse::<u64>().unwrap() > 0, "{r:?}");
    }
    // Default order: file, then program.
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let sizes = column(&header, &rows, "prog_size");
    let types = column(&header, &rows, "prog_type");
    let i = rows.iter().position(|r| r[1] == "type_sock_ops").unwrap();
    assert_eq!(types[i], "sock_ops");
    assert!(sizes[i].parse::<u64>().unwrap() > 10);
    // Replay reads it back and writes the same CSV.
    let path = tmp("round.csv");
    std::fs::write(&path, &text).unwrap();
    let again = ok(&["stats", "-R", path.to_str().unwrap(), "-o", "csv"]);
    assert_eq!(again, text);
    // The table names the same programs.
    let table = ok(&["stats", "-R", path.to_str().unwrap()]);
    assert!(table.starts_with("File "), "{table}");
    assert!(
        table.contains("Duration (us)") && table.contains("Peak states"),
        "{table}"
    );
    assert_eq!(table.lines().count(), rows.len() + 3, "{table}");
}

#[test]
fn compare_mode_shows_a_b_diff_and_percent() {
    let a = run(&["-o", "csv", "-e", "file,prog,verdict,insns,states"]);
    let (header, rows) = csv(&a);
    // B: one program's instruction count doubled, its verdict flipped, one program gone and
    // a new one added.
    let mut b_rows = rows.clone();
    let changed = b_rows[0].clone();
    let old: i64 = changed[3].parse().unwrap();
    b_rows[0][3] = (old * 2).to_string();
    b_rows[0][2] = if changed[2] == "success" {
        "failure"
    } else {
        "success"
    }
    .into();
    let gone = b_rows.remove(1);
    b_rows.push(vec![
        "new.o".into(),
        "new_prog".into(),
        "success".into(),
        "7".into(),
        "1".into(),
    ]);
    let b = std::iter::once(header.join(","))
        .chain(b_rows.iter().map(|r| r.join(",")))
        .collect::<Vec<_>>()
        .join("\n");
    let (pa, pb) = (tmp("a.csv"), tmp("b.csv"));
    std::fs::write(&pa, &a).unwrap();
    std::fs::write(&pb, b + "\n").unwrap();
    let (pa, pb) = (pa.to_str().unwrap(), pb.to_str().unwrap());

    let t = ok(&["stats", "-C", pa, pb]);
    let head = t.lines().next().unwrap();
    for h in ["Insns (A)", "Insns (B)", "Insns (DIFF)", "Verdict (DIFF)"] {
        assert!(head.contains(h), "{t}");
    }
    let line = |prog: &str| t.lines().find(|l| l.contains(prog)).unwrap().to_string();
    let l = line(&format!("{}  ", changed[1]));
    assert!(l.contains(&format!("+{old} (+100.00%)")), "{l}");
    assert!(l.contains("MISMATCH"), "{l}");
    let l = line(&gone[1]);
    assert!(l.contains("N/A"), "{l}");
    assert!(line("new_prog").contains("N/A"), "{t}");

    // CSV: _base, _comp, _diff, _pct per statistic; filters and sorts on variants.
    let c = ok(&[
        "stats",
        "-C",
        pa,
        pb,
        "-o",
        "csv",
        "-e",
        "prog,insns",
        "-s",
        "insns_pct",
    ]);
    let (h, r) = csv(&c);
    assert_eq!(
        h,
        [
            "prog_name",
            "total_insns_base",
            "total_insns_comp",
            "total_insns_diff",
            "total_insns_pct"
        ]
    );
    assert_eq!(r[0][0], changed[1], "largest change first: {c}");
    assert_eq!(r[0][3], old.to_string());
    assert_eq!(r[0][4], "100.00");
    let f = ok(&[
        "stats",
        "-C",
        pa,
        pb,
        "-o",
        "csv",
        "-e",
        "prog",
        "-f",
        "insns_diff>0",
    ]);
    assert_eq!(
        f.lines().skip(1).collect::<Vec<_>>(),
        [changed[1].as_str()],
        "{f}"
    );
    let f = ok(&[
        "stats",
        "-C",
        pa,
        pb,
        "-o",
        "csv",
        "-e",
        "prog",
        "-f",
        "verdict_diff=mismatch",
    ]);
    assert_eq!(
        f.lines().skip(1).collect::<Vec<_>>(),
        [changed[1].as_str()],
        "{f}"
    );
    // JSON carries the same figures.
    let j: serde_json::Value = serde_json::from_str(&ok(&[
        "stats",
        "-C",
        pa,
        pb,
        "-o",
        "json",
        "-e",
        "prog,insns",
    ]))
    .unwrap();
    let row = j
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["prog_name"] == changed[1].as_str())
        .unwrap();
    assert_eq!(row["total_insns"]["diff"], serde_json::json!(old as f64));
    assert_eq!(row["total_insns"]["pct"], serde_json::json!(100.0));
}

#[test]
fn filters_keep_exactly_the_matching_rows() {
    let all = csv(&run(&["-o", "csv", "-e", "file,prog,insns,verdict"])).1;
    let progs = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["-o", "csv", "-e", "file,prog,insns,verdict"];
        args.extend_from_slice(extra);
        csv(&run(&args))
            .1
            .into_iter()
            .map(|r| r[1].clone())
            .collect()
    };
    let expect = |pred: &dyn Fn(&Vec<String>) -> bool| -> Vec<String> {
        all.iter()
            .filter(|r| pred(r))
            .map(|r| r[1].clone())
            .collect()
    };
    assert_eq!(
        progs(&["-f", "tail_*"]),
        expect(&|r| r[1].starts_with("tail_"))
    );
    assert_eq!(progs(&["-f", "parser.o/"]), expect(&|r| r[0] == "parser.o"));
    assert_eq!(
        progs(&["-f", "*.o/*_stage*", "-f", "!*/tail_stage2"]),
        ["tail_stage1"]
    );
    assert_eq!(
        progs(&["-f", "insns>=40"]),
        expect(&|r| r[2].parse::<i64>().unwrap() >= 40)
    );
    assert_eq!(
        progs(&["-f", "!insns<40", "-f", "type_*"]),
        expect(&|r| r[2].parse::<i64>().unwrap() >= 40 && r[1].starts_with("type_"))
    );
    assert_eq!(
        progs(&["-f", "verdict=success"]),
        expect(&|r| r[3] == "success")
    );
    // A filter file with comments.
    let path = tmp("filters.txt");
    std::fs::write(&path, "# only the tail calls\ntail_*\n!tail_entry\n").unwrap();
    let at = format!("@{}", path.display());
    assert_eq!(progs(&["-f", &at]), ["tail_stage1", "tail_stage2"]);
}

#[test]
fn sort_and_top_n() {
    let insns = |extra: &[&str]| -> Vec<i64> {
        let mut args = vec!["-o", "csv", "-e", "prog,insns"];
        args.extend_from_slice(extra);
        csv(&run(&args))
            .1
            .iter()
            .map(|r| r[1].parse().unwrap())
            .collect()
    };
    let desc = insns(&["-s", "insns"]);
    assert!(desc.windows(2).all(|w| w[0] >= w[1]), "{desc:?}");
    let asc = insns(&["-s", "insns^"]);
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "{asc:?}");
    assert_eq!(insns(&["-s", "insns", "-n", "3"]), desc[..3]);
    let names: Vec<String> = csv(&run(&["-o", "csv", "-e", "prog", "-s", "prog_namev"]))
        .1
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(names, sorted);
}

#[test]
fn json_rows_have_typed_values() {
    let j: serde_json::Value = serde_json::from_str(&run(&["-o", "json", "-f", "tail_*"])).unwrap();
    let rows = j.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        assert_eq!(r["file_name"], "tailcall.o");
        assert_eq!(r["prog_type"], "xdp");
        assert!(r["total_insns"].as_u64().unwrap() > 0, "{r}");
        assert!(
            r["verdict"] == "success" || r["verdict"] == "failure",
            "{r}"
        );
    }
}

#[test]
fn bad_specs_and_inputs_are_errors() {
    for (args, what) in [
        (
            &["stats", "fixtures/tailcall.o", "-e", "insns,bogus"][..],
            "bogus",
        ),
        (&["stats", "fixtures/tailcall.o", "-s", "nope^"][..], "nope"),
        (
            &["stats", "fixtures/tailcall.o", "-e", "insns,,states"][..],
            "empty",
        ),
        (
            &["stats", "fixtures/tailcall.o", "-f", "insns>lots"][..],
            "lots",
        ),
        (
            &["stats", "fixtures/tailcall.o", "-f", "colour=3"][..],
            "colour",
        ),
        (
            &["stats", "fixtures/tailcall.o", "-f", "prog_type=1"][..],
            "prog_type",
        ),
        (&["stats", "-C", "only_one.csv"][..], "two CSV"),
        (&["stats"][..], "no object"),
    ] {
        let o = bpfvet(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(what), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{args:?}");
    }
    // A CSV row with a missing field names the file and the row.
    let bad = tmp("bad.csv");
    std::fs::write(&bad, "file_name,prog_name,total_insns\nx.o,p,1\ny.o,q\n").unwrap();
    let good = tmp("good.csv");
    std::fs::write(&good, "file_name,prog_name,total_insns\nx.o,p,1\n").unwrap();
    let o = bpfvet(&["stats", "-C", bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.csv: row 3"), "{}", stderr(&o));
    // An unknown header column.
    std::fs::write(&bad, "file_name,prog_name,wat\nx.o,p,1\n").unwrap();
    let o = bpfvet(&["stats", "-R", bad.to_str().unwrap()]);
    assert!(stderr(&o).contains("\"wat\""), "{}", stderr(&o));
    // A column the CSVs lack.
    let o = bpfvet(&[
        "stats",
        "-C",
        good.to_str().unwrap(),
        good.to_str().unwrap(),
        "-e",
        "states",
    ]);
    assert!(
        stderr(&o).contains("total_states is not in the CSV"),
        "{}",
        stderr(&o)
    );
    // A missing object: reported, the others still measured, exit 2.
    let o = bpfvet(&[
        "stats",
        "-q",
        "-o",
        "csv",
        "fixtures/tailcall.o",
        "no/such.o",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such.o"), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 4, "{}", stdout(&o));
}

#[test]
fn kernel_columns_or_a_message() {
    let o = bpfvet(&[
        "stats",
        "-q",
        "--kernel",
        "-o",
        "csv",
        "fixtures/tailcall.o",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (h, rows) = csv(&stdout(&o));
    if let Err(why) = bpfvet_kernel::available() {
        assert!(stderr(&o).contains("skipped"), "{}", stderr(&o));
        assert!(!h.contains(&"kernel_verdict".to_string()));
        eprintln!("skipping the kernel half: {why}");
        return;
    }
    for name in [
        "kernel_verdict",
        "kernel_insns",
        "kernel_states",
        "verified_insns",
        "agree",
    ] {
        assert!(h.contains(&name.to_string()), "{h:?}");
    }
    // Every tail-call stage loads; the kernel reports processed and verified instructions.
    for v in column(&h, &rows, "kernel_verdict") {
        assert_eq!(v, "success");
    }
    let k = column(&h, &rows, "kernel_insns");
    let verified = column(&h, &rows, "verified_insns");
    assert_eq!(k, verified, "the log's count is the one the kernel keeps");
    assert!(k.iter().all(|n| n.parse::<u64>().unwrap() > 0));
}
