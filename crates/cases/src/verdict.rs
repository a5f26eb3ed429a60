//! Verdicts on a case — the running kernel's, or any verifier's — and how one is compared with
//! what the case expects: verdict, message line, errno, `log` lines and test-run result.

use bpfvet_kernel::{Fd, MapSpec, ProgLoad, TestRun};

use crate::case::{Case, Expect};
use crate::names::errno_name;

/// A decision on a case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub accepted: bool,
    /// The errno of a refusal (positive), when known.
    pub errno: Option<i32>,
    /// The rejection line (see [`error_line`]), empty when accepted.
    pub error_line: String,
    /// The level-1 log (the case's `log` lines are looked for in it).
    pub log: String,
    /// R0 of one test run, when the program was accepted, the case gives `retval` and the
    /// verdict's source ran it.
    pub retval: Option<u32>,
}

/// The kernel's decision on a case.
pub type KernelVerdict = Verdict;

fn is_statistics(l: &str) -> bool {
    l.starts_with("processed ")
        || l.starts_with("verification time")
        || l.starts_with("stack depth")
        || l.starts_with("cur state:")
        || l.starts_with("old state:")
}

/// The lines of a log that carry messages: each line trimmed, without empty lines, the
/// statistics lines (`processed ...`, `verification time ...`, `stack depth ...`) and the state
/// dumps (`cur state:`, `old state:`). A message the kernel logs without its newline has the
/// statistics glued to it; that tail is cut off.
pub fn message_lines(log: &str) -> Vec<&str> {
    log.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_statistics(l))
        .map(|l| match l.find("processed ") {
            Some(i) if i > 0 && l.ends_with(char::is_numeric) && l.contains("mark_read") => &l[..i],
            _ => l,
        })
        .collect()
}

/// The message line of a kernel log: the last of its [`message_lines`] (empty for none).
pub fn error_line(log: &str) -> String {
    message_lines(log)
        .last()
        .map(|l| l.to_string())
        .unwrap_or_default()
}

/// Loads `case` into the running kernel with its maps (map references become real fds) and,
/// when the kernel accepts it and the case gives `retval`, test-runs it once on
/// [`Case::run_data`].
pub fn kernel_verdict(case: &Case) -> Result<KernelVerdict, String> {
    let at = |what: &str, e: bpfvet_kernel::SysError| {
        format!("{}:{} {}: {what}: {e}", case.file, case.line, case.name)
    };
    let mut maps: Vec<Fd> = Vec::new();
    for (i, m) in case.maps.iter().enumerate() {
        let what = format!("creating map {i}");
        let fd = bpfvet_kernel::create_map(&MapSpec {
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            flags: m.flags,
            name: String::new(),
            inner_map_fd: m.inner.and_then(|j| maps.get(j)).map(|f| f.0),
        })
        .map_err(|e| at(&what, e))?;
        if m.freeze {
            bpfvet_kernel::freeze(&fd).map_err(|e| at(&what, e))?;
        }
        maps.push(fd);
    }
    let fds: Vec<i32> = maps.iter().map(|f| f.0).collect();
    let bytes = case.bytes_with_fds(&fds);
    // `func` directives: the program's BTF and func_info.
    let (btf, func_info) = if case.funcs.is_empty() {
        (None, Vec::new())
    } else {
        let (blob, recs) = crate::funcs::build(&case.program, case.prog_type, &case.funcs)
            .map_err(|m| format!("{}:{} {}: {m}", case.file, case.line, case.name))?;
        let fd = bpfvet_kernel::load_btf(&blob).map_err(|(e, log)| {
            format!("{}:{} {}: BTF: {e}: {log}", case.file, case.line, case.name)
        })?;
        let info: Vec<u8> = recs
            .iter()
            .flat_map(|(slot, id)| {
                (*slot as u32)
                    .to_le_bytes()
                    .into_iter()
                    .chain(id.to_le_bytes())
            })
            .collect();
        (Some(fd), info)
    };
    let o = bpfvet_kernel::load_program(&ProgLoad {
        prog_type: case.prog_type,
        expected_attach_type: case.expected_attach_type,
        insns: &bytes,
        license: &case.license,
        prog_flags: case.prog_flags,
        log_level: 1,
        prog_btf_fd: btf.as_ref().map(|f| f.0),
        func_info: &func_info,
        ..Default::default()
    })
    .map_err(|e| at("loading", e))?;
    let retval = match (&o.fd, case.retval) {
        (Some(prog), Some(_)) => {
            let data = case.run_data();
            let run = bpfvet_kernel::test_run(
                prog,
                &TestRun {
                    data_in: &data,
                    ..Default::default()
                },
            )
            .map_err(|e| at("test run", e))?;
            Some(run.retval)
        }
        _ => None,
    };
    Ok(Verdict {
        accepted: o.fd.is_some(),
        errno: o.errno,
        error_line: if o.fd.is_some() {
            String::new()
        } else {
            error_line(&o.log)
        },
        log: o.log,
        retval,
    })
}

/// Every way `v` differs from what `case` expects; empty when they agree. `errno` and
/// `retval` are compared when both sides have one (a verifier that cannot say leaves them
/// `None`); every `log` line must be among the log's [`message_lines`], in order.
pub fn disagreements(case: &Case, v: &Verdict) -> Vec<String> {
    let mut out = Vec::new();
    match &case.expect {
        Expect::Accept => {
            if !v.accepted {
                out.push(format!(
                    "expected accept, got reject ({}): {}",
                    v.errno.map_or("no errno".into(), errno_name),
                    v.error_line
                ));
                return out;
            }
            if let (Some(want), Some(got)) = (case.retval, v.retval)
                && want != got
            {
                out.push(format!("expected retval {want}, got {got}"));
            }
        }
        Expect::Reject { error } => {
            if v.accepted {
                out.push(format!(
                    "expected reject ({}), got accept",
                    error.as_deref().unwrap_or("no message given")
                ));
                return out;
            }
            if let Some(e) = error
                && *e != v.error_line
            {
                out.push(format!("expected error `{e}`, got `{}`", v.error_line));
            }
            if let (Some(want), Some(got)) = (case.errno, v.errno)
                && want != got
            {
                out.push(format!(
                    "expected errno {}, got {}",
                    errno_name(want),
                    errno_name(got)
                ));
            }
        }
    }
    let lines = message_lines(&v.log);
    let mut at = 0;
    for want in &case.log {
        match lines[at..].iter().position(|l| l == want) {
            Some(p) => at += p + 1,
            None => out.push(format!("log line `{want}` not found (in order)")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_lines_drop_statistics_and_cut_glued_tails() {
        let log = "0: (b7) r0 = 0\n\nsome message\nexpected prog array map for tail callprocessed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\nverification time 5 usec\nstack depth 0\n";
        assert_eq!(
            message_lines(log),
            vec![
                "0: (b7) r0 = 0",
                "some message",
                "expected prog array map for tail call"
            ]
        );
        assert_eq!(error_line(log), "expected prog array map for tail call");
        assert_eq!(error_line(""), "");
    }
}
