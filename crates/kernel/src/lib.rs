//! `bpfvet-kernel`: the live kernel as an oracle, through the raw `bpf(2)` system call (no
//! libbpf): create maps, load programs with the verifier log, read back the kernel's
//! translated instructions, look up maps and pinned objects. Tests use it to check that
//! bpfvet agrees with the running kernel; `verify` never does.
//!
//! Every call returns an error (never panics) where bpf() is unavailable: not Linux, no
//! permission, no BPF support. [`available`] says which, so tests can skip with a message.

#[cfg(target_os = "linux")]
mod sys;

use std::fmt;

/// A failed bpf() command: the command and the errno.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysError {
    pub command: &'static str,
    pub errno: i32,
}

impl SysError {
    /// `EACCES`-style name of the errno.
    pub fn errno_name(&self) -> String {
        match self.errno {
            1 => "EPERM".into(),
            2 => "ENOENT".into(),
            7 => "E2BIG".into(),
            9 => "EBADF".into(),
            12 => "ENOMEM".into(),
            13 => "EACCES".into(),
            14 => "EFAULT".into(),
            22 => "EINVAL".into(),
            28 => "ENOSPC".into(),
            38 => "ENOSYS".into(),
            95 => "EOPNOTSUPP".into(),
            524 => "ENOTSUPP".into(),
            n => format!("errno {n}"),
        }
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.command,
            self.errno_name(),
            self.errno
        )
    }
}

impl std::error::Error for SysError {}

/// A map to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapSpec {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    /// At most 15 bytes are passed.
    pub name: String,
    /// For map-in-map types: an fd of a map of the inner shape.
    pub inner_map_fd: Option<i32>,
}

/// A program to load.
#[derive(Clone, Debug, Default)]
pub struct ProgLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: Option<u32>,
    /// Raw little-endian instruction slots.
    pub insns: &'a [u8],
    pub license: &'a str,
    pub kern_version: u32,
    pub prog_flags: u32,
    /// 0: no log; 1, 2 (| 4 for statistics).
    pub log_level: u32,
    /// Map fds for `BPF_PSEUDO_MAP_IDX[_VALUE]` instructions.
    pub fd_array: &'a [i32],
    pub name: String,
    /// The program's BTF (from [`load_btf`]); needed with `func_info`.
    pub prog_btf_fd: Option<i32>,
    /// `bpf_func_info` records (8 bytes each: instruction index, FUNC type id), one per
    /// subprogram in instruction order.
    pub func_info: &'a [u8],
    /// The kernel BTF type a tracing or LSM program attaches to (0: none).
    pub attach_btf_id: u32,
}

/// The kernel's answer to a load.
#[derive(Debug)]
pub struct LoadOutcome {
    /// The program fd when accepted.
    pub fd: Option<Fd>,
    pub errno: Option<i32>,
    pub log: String,
}

/// An owned file descriptor, closed on drop.
#[derive(Debug)]
pub struct Fd(pub i32);

impl Drop for Fd {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        sys::close(self.0);
    }
}

/// Facts the kernel reports about a loaded program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgInfo {
    pub prog_type: u32,
    /// The translated instructions (after the verifier's rewrites), raw slots.
    pub xlated: Vec<u8>,
    pub map_ids: Vec<u32>,
    pub verified_insns: u32,
    pub name: String,
}

/// Facts the kernel reports about a map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapInfo {
    pub id: u32,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub name: String,
}

#[cfg(not(target_os = "linux"))]
fn unavailable(command: &'static str) -> SysError {
    SysError { command, errno: 38 }
}

/// Whether bpf() works here: loads `r0 = 0; exit` as a socket filter.
pub fn available() -> Result<(), String> {
    let insns = [0xb7u8, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    match load_program(&ProgLoad {
        prog_type: 1,
        insns: &insns,
        license: "GPL",
        ..ProgLoad::default()
    }) {
        Ok(o) if o.fd.is_some() => Ok(()),
        Ok(o) => Err(format!(
            "the kernel refused a trivial program (errno {:?}): {}",
            o.errno, o.log
        )),
        Err(e) => Err(format!("bpf() is unavailable: {e}")),
    }
}

/// `BPF_MAP_CREATE`.
pub fn create_map(spec: &MapSpec) -> Result<Fd, SysError> {
    #[cfg(target_os = "linux")]
    return sys::map_create(spec);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = spec;
        Err(unavailable("BPF_MAP_CREATE"))
    }
}

/// `BPF_MAP_UPDATE_ELEM`.
pub fn update_elem(map: &Fd, key: &[u8], value: &[u8], flags: u64) -> Result<(), SysError> {
    #[cfg(target_os = "linux")]
    return sys::map_update(map.0, key, value, flags);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (map, key, value, flags);
        Err(unavailable("BPF_MAP_UPDATE_ELEM"))
    }
}

/// `BPF_MAP_FREEZE`.
pub fn freeze(map: &Fd) -> Result<(), SysError> {
    #[cfg(target_os = "linux")]
    return sys::map_freeze(map.0);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = map;
        Err(unavailable("BPF_MAP_FREEZE"))
    }
}

/// `BPF_PROG_LOAD` with the verifier log. A rejection is `Ok` with `fd: None`; `Err` means
/// the command could not be issued at all.
pub fn load_program(p: &ProgLoad<'_>) -> Result<LoadOutcome, SysError> {
    #[cfg(target_os = "linux")]
    return sys::prog_load(p);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = p;
        Err(unavailable("BPF_PROG_LOAD"))
    }
}

/// `BPF_BTF_LOAD` of raw BTF bytes: the BTF fd, or the error with the kernel's BTF log.
pub fn load_btf(bytes: &[u8]) -> Result<Fd, (SysError, String)> {
    #[cfg(target_os = "linux")]
    return sys::btf_load(bytes);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = bytes;
        Err((unavailable("BPF_BTF_LOAD"), String::new()))
    }
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a program, with its translated instructions and map ids.
pub fn prog_info(fd: &Fd) -> Result<ProgInfo, SysError> {
    #[cfg(target_os = "linux")]
    return sys::prog_info(fd.0);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        Err(unavailable("BPF_OBJ_GET_INFO_BY_FD"))
    }
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a map.
pub fn map_info(fd: &Fd) -> Result<MapInfo, SysError> {
    #[cfg(target_os = "linux")]
    return sys::map_info(fd.0);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        Err(unavailable("BPF_OBJ_GET_INFO_BY_FD"))
    }
}

/// `BPF_MAP_GET_FD_BY_ID`.
pub fn map_by_id(id: u32) -> Result<Fd, SysError> {
    #[cfg(target_os = "linux")]
    return sys::map_get_fd_by_id(id);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = id;
        Err(unavailable("BPF_MAP_GET_FD_BY_ID"))
    }
}

/// `BPF_OBJ_GET`: an object pinned in bpffs.
pub fn pinned(path: &str) -> Result<Fd, SysError> {
    #[cfg(target_os = "linux")]
    return sys::obj_get(path);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Err(unavailable("BPF_OBJ_GET"))
    }
}

/// Inputs of one `BPF_PROG_TEST_RUN`.
#[derive(Clone, Debug, Default)]
pub struct TestRun<'a> {
    /// Packet data (skb and XDP programs need at least an Ethernet header).
    pub data_in: &'a [u8],
    /// Room for the output packet; 0 to not read it back.
    pub data_out_cap: usize,
    /// Context in (`struct __sk_buff`, `struct xdp_md`, ...); empty for none.
    pub ctx_in: &'a [u8],
    /// Room for the output context; 0 to not read it back.
    pub ctx_out_cap: usize,
    /// Runs (0 means 1).
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
}

/// What one `BPF_PROG_TEST_RUN` gave back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    /// R0 of the last run.
    pub retval: u32,
    /// The output packet (cut to `data_out_cap`).
    pub data_out: Vec<u8>,
    /// The output context (cut to `ctx_out_cap`).
    pub ctx_out: Vec<u8>,
    /// Mean duration of one run in nanoseconds.
    pub duration_ns: u32,
}

/// `BPF_PROG_TEST_RUN`: run a loaded program on the given packet and context.
pub fn test_run(fd: &Fd, t: &TestRun<'_>) -> Result<TestRunResult, SysError> {
    #[cfg(target_os = "linux")]
    return sys::prog_test_run(fd.0, t);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (fd, t);
        Err(unavailable("BPF_PROG_TEST_RUN"))
    }
}

/// `BPF_MAP_LOOKUP_ELEM`: the value under `key`, `None` when absent (ENOENT).
pub fn lookup_elem(map: &Fd, key: &[u8], value_size: usize) -> Result<Option<Vec<u8>>, SysError> {
    #[cfg(target_os = "linux")]
    return sys::map_lookup(map.0, key, value_size);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (map, key, value_size);
        Err(unavailable("BPF_MAP_LOOKUP_ELEM"))
    }
}
