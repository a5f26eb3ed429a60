//! The case-file parser: every directive, its defaults, and the errors bad input gets (with
//! file and line, never a panic).

use bpfvet_cases::{Expect, parse};

const FULL: &str = "\
# a comment
case everything
type xdp
attach xdp_devmap            # a comment
flags strict_alignment|sleepable
map 0 array key=4 value=16 max=1
map 1 array_of_maps key=4 value=4 max=1 inner=0 flags=rdonly_prog freeze
license Dual BSD/GPL
reject
error R1 invalid mem access 'scalar'   # kept: part of the message
errno EACCES
log first line with helper#12
log second line
code
    r1 = map_fd(1) ll
    .raw 0xff 1 2 -3 0x10   # unknown opcode
out:
    exit

case run
accept
differs bpfvet lacks helper#12
retval 0x2a
data 0001 02ff
code
    r0 = 42
    exit
";

#[test]
fn every_directive() {
    let cases = parse("f.case", FULL).unwrap();
    assert_eq!(cases.len(), 2);
    let c = &cases[0];
    assert_eq!(c.prog_type_name, "xdp");
    assert_eq!(c.prog_type, 6);
    assert!(c.expected_attach_type.is_some());
    assert_eq!(c.prog_flags, 0x11);
    assert_eq!(c.maps.len(), 2);
    assert_eq!(c.maps[1].inner, Some(0));
    assert!(c.maps[1].freeze && !c.maps[0].freeze);
    assert_eq!(c.maps[1].flags, 0x80);
    assert_eq!(c.license, "Dual BSD/GPL");
    assert_eq!(
        c.expect,
        Expect::Reject {
            error: Some("R1 invalid mem access 'scalar'   # kept: part of the message".into())
        }
    );
    assert_eq!(c.errno, Some(13));
    assert_eq!(c.log, vec!["first line with helper#12", "second line"]);
    assert!(c.has_raw);
    assert_eq!(c.bytes.len(), 4 * 8);
    assert_eq!(c.bytes[16], 0xff);
    assert_eq!(c.map_refs, vec![(0, 1)]);
    let with_fds = c.bytes_with_fds(&[7, 9]);
    assert_eq!(&with_fds[4..8], &9i32.to_le_bytes());
    let r = &cases[1];
    assert_eq!(r.expect, Expect::Accept);
    assert_eq!(r.retval, Some(42));
    assert_eq!(r.differs.as_deref(), Some("bpfvet lacks helper#12"));
    assert_eq!(c.differs, None);
    assert_eq!(r.data, Some(vec![0, 1, 2, 0xff]));
    assert_eq!(r.run_data(), vec![0, 1, 2, 0xff]);
    assert_eq!(r.program.encode(), r.bytes);
    assert!(!r.has_raw);
}

#[test]
fn defaults() {
    let c = &parse("f.case", "case x\nmap 0 hash\naccept\ncode\nr0 = 0\nexit\n").unwrap()[0];
    assert_eq!(c.prog_type_name, "socket_filter");
    assert_eq!(c.license, "GPL");
    assert_eq!(
        (
            c.maps[0].key_size,
            c.maps[0].value_size,
            c.maps[0].max_entries
        ),
        (4, 8, 1)
    );
    assert_eq!(
        (c.errno, c.retval, c.expected_attach_type),
        (None, None, None)
    );
    assert_eq!(c.run_data(), vec![0; 64]);
}

#[test]
fn error_or_errno_alone_mean_reject_in_any_order() {
    let t = "case a\nerror boom\nreject\ncode\nexit\ncase b\nerrno EINVAL\ncode\nexit\n";
    let cases = parse("f.case", t).unwrap();
    assert_eq!(
        cases[0].expect,
        Expect::Reject {
            error: Some("boom".into())
        }
    );
    assert_eq!(cases[1].expect, Expect::Reject { error: None });
    assert_eq!(cases[1].errno, Some(22));
}

#[test]
fn bad_input_names_file_and_line() {
    let bad = [
        (
            "case a\naccept\nerrno EWHAT\ncode\nexit\n",
            "f.case:3:",
            "unknown errno",
        ),
        (
            "case a\naccept\nerror x\ncode\nexit\n",
            "f.case:1:",
            "belong to rejected",
        ),
        (
            "case a\nreject\nretval 1\ncode\nexit\n",
            "f.case:1:",
            "belong to accepted",
        ),
        (
            "case a\naccept\nretval x\ncode\nexit\n",
            "f.case:3:",
            "32-bit",
        ),
        ("case a\naccept\ndata 0g\ncode\nexit\n", "f.case:3:", "hex"),
        (
            "case a\naccept\nattach nowhere\ncode\nexit\n",
            "f.case:3:",
            "attach type",
        ),
        (
            "case a\naccept\nflags fast\ncode\nexit\n",
            "f.case:3:",
            "program flag",
        ),
        (
            "case a\nmap 0 hash inner=0\naccept\ncode\nexit\n",
            "f.case:2:",
            "inner=0",
        ),
        (
            "case a\nmap 0 hash flags=odd\naccept\ncode\nexit\n",
            "f.case:2:",
            "map flag",
        ),
        (
            "case a\naccept\ncode\n.raw 1 2\nexit\n",
            "f.case:4:",
            "5 fields",
        ),
        (
            "case a\naccept\ncode\nr0 = = 1\nexit\n",
            "f.case:4:",
            "code",
        ),
        (
            "case a\naccept\nreject\ncode\nexit\n",
            "f.case:3:",
            "either",
        ),
        (
            "case a\naccept\ncode\nexit\ncase a\naccept\ncode\nexit\n",
            "f.case:5:",
            "already",
        ),
        ("accept\n", "f.case:1:", "outside a case"),
        ("case a\naccept\n", "f.case:1:", "no code"),
    ];
    for (text, at, what) in bad {
        let e = parse("f.case", text)
            .err()
            .unwrap_or_else(|| panic!("{text:?} parsed"));
        assert!(e.0.starts_with(at) && e.0.contains(what), "{text:?}: {e}");
    }
}

#[test]
fn the_corpus_parses_and_programs_match_their_bytes() {
    let cases = bpfvet_cases::all_cases().unwrap();
    assert!(cases.len() > 600);
    for c in cases.iter().filter(|c| !c.has_raw) {
        assert_eq!(
            c.program.encode(),
            c.bytes,
            "{}:{} {}",
            c.file,
            c.line,
            c.name
        );
    }
}
