//! The running kernel's own figures for a program: its maps created as the object defines
//! them, the program loaded through bpf(2) (with the object's BTF and func_info when it has
//! them) at log level 4 (statistics only, as `veristat` asks), and the figures read back from
//! the log's closing lines (`verification time N usec`, `stack depth A+B`, `processed N insns
//! ... total_states T peak_states P ...`) and from `BPF_OBJ_GET_INFO_BY_FD` (`verified_insns`).

use bpfvet_kernel::{Fd, MapSpec, ProgLoad};

use super::collect::Job;

/// What the kernel said about one program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelFigures {
    pub accepted: bool,
    /// The last message line of a rejection.
    pub error: Option<String>,
    pub figures: LogFigures,
    /// From the program's info (accepted programs only).
    pub verified_insns: Option<u64>,
}

/// Figures the verifier log's closing lines give.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFigures {
    pub duration_us: Option<u64>,
    pub insns: Option<u64>,
    pub states: Option<u64>,
    pub peak_states: Option<u64>,
    pub max_states_per_insn: Option<u64>,
    pub mark_read: Option<u64>,
    /// Sum of the per-subprogram stack depths.
    pub stack_depth: Option<u64>,
}

/// Reads the statistics lines of a verifier log.
pub fn parse_log(log: &str) -> LogFigures {
    let mut f = LogFigures::default();
    for line in log.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("verification time ") {
            f.duration_us = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(rest) = line.strip_prefix("stack depth ") {
            let parts: Option<Vec<u64>> = rest
                .split('+')
                .map(|n| n.trim().parse::<u64>().ok())
                .collect();
            f.stack_depth = parts.map(|p| p.iter().sum());
        } else if let Some(rest) = line.strip_prefix("processed ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            f.insns = words.first().and_then(|n| n.parse().ok());
            // Then `key value` pairs, after `insns (limit N)`.
            for pair in words.windows(2) {
                let v = pair[1].parse::<u64>().ok();
                match pair[0] {
                    "max_states_per_insn" => f.max_states_per_insn = v,
                    "total_states" => f.states = v,
                    "peak_states" => f.peak_states = v,
                    "mark_read" => f.mark_read = v,
                    _ => {}
                }
            }
        }
    }
    f
}

/// The last line of a rejection log that says what went wrong (not a statistics line).
pub fn error_line(log: &str) -> Option<String> {
    log.lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time ")
                && !l.starts_with("stack depth ")
        })
        .map(str::to_string)
}

/// Creates the job's maps; the fds in the order the program's map indices use.
fn create_maps(job: &Job) -> Result<Vec<Fd>, String> {
    let spec = |m: &bpfvet_verifier::MapInfo, inner: Option<i32>| MapSpec {
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        flags: m.flags,
        name: m.name.clone(),
        inner_map_fd: inner,
    };
    let maps = &job.env.maps;
    let mut fds = Vec::with_capacity(maps.len());
    let mut templates = Vec::new();
    for m in maps {
        let inner = match m.inner.and_then(|i| maps.get(i)) {
            Some(i) => {
                let fd = bpfvet_kernel::create_map(&spec(i, None))
                    .map_err(|e| format!("inner map of {}: {e}", m.name))?;
                let raw = fd.0;
                templates.push(fd);
                Some(raw)
            }
            None => None,
        };
        let fd = bpfvet_kernel::create_map(&spec(m, inner))
            .map_err(|e| format!("map {}: {}", m.name, e.errno_name()))?;
        if let Some(v) = &m.initial_value {
            let _ = bpfvet_kernel::update_elem(&fd, &0u32.to_le_bytes(), v, 0);
        }
        if m.frozen {
            let _ = bpfvet_kernel::freeze(&fd);
        }
        fds.push(fd);
    }
    drop(templates);
    Ok(fds)
}

/// Loads the job into the running kernel. `Err` when the program was not verified at all (a
/// map the kernel refuses, bpf() unavailable, a load refused with an empty log).
pub fn load(job: &Job) -> Result<KernelFigures, String> {
    // BPF_LOG_STATS: the messages and the statistics, not every instruction.
    let o = load_raw(job, 4)?;
    if o.fd.is_none() && o.log.trim().is_empty() {
        // A verifier rejection always says why; an empty log means the load was refused
        // before verification (permissions, an unsupported attach point).
        let errno = bpfvet_kernel::SysError {
            command: "BPF_PROG_LOAD",
            errno: o.errno.unwrap_or(0),
        };
        return Err(format!("refused before verification: {errno}"));
    }
    let figures = parse_log(&o.log);
    Ok(match &o.fd {
        Some(fd) => KernelFigures {
            accepted: true,
            error: None,
            figures,
            verified_insns: bpfvet_kernel::prog_info(fd)
                .ok()
                .map(|i| u64::from(i.verified_insns)),
        },
        None => KernelFigures {
            accepted: false,
            error: Some(
                error_line(&o.log).unwrap_or_else(|| format!("errno {}", o.errno.unwrap_or(0))),
            ),
            figures,
            verified_insns: None,
        },
    })
}

/// The kernel's verifier log for `job` at `level` (1: the path that failed, 2: every
/// instruction of every path), with its statistics lines.
pub fn log(job: &Job, level: u32) -> Result<String, String> {
    Ok(load_raw(job, (level & 3) | 4)?.log)
}

/// Loads `job` into the running kernel with its maps, BTF and attach target.
fn load_raw(job: &Job, log_level: u32) -> Result<bpfvet_kernel::LoadOutcome, String> {
    let fds = create_maps(job)?;
    let fd_array: Vec<i32> = fds.iter().map(|f| f.0).collect();
    // References to maps by fd become references by index into fd_array.
    let mut bytes: Vec<u8> = job.code.raw.iter().flat_map(|r| r.to_bytes()).collect();
    for chunk in bytes.chunks_exact_mut(8) {
        if chunk[0] == 0x18 && matches!(chunk[1] >> 4, 1 | 2) {
            let idx_kind = if chunk[1] >> 4 == 1 { 5 } else { 6 };
            chunk[1] = (chunk[1] & 0x0f) | (idx_kind << 4);
        }
    }
    let btf = match (&job.kernel.btf, &job.kernel.func_info) {
        (Some(btf), Some(_)) => Some(
            bpfvet_kernel::load_btf(btf).map_err(|(e, log)| format!("BTF: {e}: {}", log.trim()))?,
        ),
        _ => None,
    };
    let func_info = match (&btf, &job.kernel.func_info) {
        (Some(_), Some(fi)) => fi.as_slice(),
        _ => &[],
    };
    bpfvet_kernel::load_program(&ProgLoad {
        prog_type: job.prog_type,
        expected_attach_type: job.env.expected_attach_type,
        insns: &bytes,
        license: &job.kernel.license,
        kern_version: job.kernel.kern_version,
        // BPF_F_SLEEPABLE
        prog_flags: if job.env.sleepable { 1 << 4 } else { 0 },
        log_level,
        fd_array: &fd_array,
        name: job.prog.clone(),
        prog_btf_fd: btf.as_ref().map(|f| f.0),
        func_info,
        attach_btf_id: job.kernel.attach_btf_id,
    })
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_statistics_lines() {
        let log = "R1 invalid mem access 'scalar'\nverification time 123 usec\nstack depth 16+8+0\n\
                   processed 42 insns (limit 1000000) max_states_per_insn 2 total_states 5 \
                   peak_states 4 mark_read 3\n";
        let f = parse_log(log);
        assert_eq!(f.duration_us, Some(123));
        assert_eq!(f.stack_depth, Some(24));
        assert_eq!(f.insns, Some(42));
        assert_eq!(f.max_states_per_insn, Some(2));
        assert_eq!(f.states, Some(5));
        assert_eq!(f.peak_states, Some(4));
        assert_eq!(f.mark_read, Some(3));
        assert_eq!(
            error_line(log).as_deref(),
            Some("R1 invalid mem access 'scalar'")
        );
        assert_eq!(parse_log("garbage\nprocessed x"), LogFigures::default());
    }
}
