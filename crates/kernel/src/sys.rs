//! The raw bpf(2) calls: `union bpf_attr` built as a zeroed byte buffer with fields written at
//! their uapi offsets (the kernel rejects non-zero bytes it does not know, so unused space
//! stays zero), and the info structs read back the same way.

use crate::{
    Fd, LoadOutcome, MapInfo, MapSpec, ProgInfo, ProgLoad, SysError, TestRun, TestRunResult,
};

const MAP_CREATE: i32 = 0;
const MAP_LOOKUP_ELEM: i32 = 1;
const MAP_UPDATE_ELEM: i32 = 2;
const PROG_LOAD: i32 = 5;
const OBJ_GET: i32 = 7;
const PROG_TEST_RUN: i32 = 10;
const MAP_GET_FD_BY_ID: i32 = 14;
const OBJ_GET_INFO_BY_FD: i32 = 15;
const BTF_LOAD: i32 = 18;
const MAP_FREEZE: i32 = 22;

/// Size of the attr we pass (`union bpf_attr` as of 6.x is larger; the tail stays zero).
const ATTR_SIZE: usize = 160;

struct Attr([u8; ATTR_SIZE]);

impl Attr {
    fn new() -> Attr {
        Attr([0; ATTR_SIZE])
    }
    fn u32(&mut self, off: usize, v: u32) -> &mut Attr {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, off: usize, v: u64) -> &mut Attr {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, off: usize, b: &[u8]) -> &mut Attr {
        self.0[off..off + b.len()].copy_from_slice(b);
        self
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Issues one bpf() command; the result or the errno.
fn bpf(cmd: i32, attr: &mut Attr, command: &'static str) -> Result<i64, SysError> {
    // SAFETY: `attr` is a live, writable buffer of ATTR_SIZE bytes for the whole call and the
    // size we pass is its size; every pointer stored inside it (insns, license, log, BTF,
    // func_info, keys, values, info buffers, paths) points at memory the caller keeps alive
    // and sized as the corresponding length field says.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.0.as_mut_ptr(), ATTR_SIZE) };
    if r < 0 {
        Err(SysError {
            command,
            errno: errno(),
        })
    } else {
        Ok(r as i64)
    }
}

pub fn close(fd: i32) {
    // SAFETY: `fd` is a descriptor this crate opened and owns (held in an `Fd`, closed once).
    unsafe {
        libc::close(fd);
    }
}

fn name16(name: &str) -> [u8; 16] {
    let mut n = [0u8; 16];
    for (i, b) in name
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
        .take(15)
        .enumerate()
    {
        n[i] = b;
    }
    n
}

pub fn map_create(s: &MapSpec) -> Result<Fd, SysError> {
    let mut a = Attr::new();
    a.u32(0, s.map_type)
        .u32(4, s.key_size)
        .u32(8, s.value_size)
        .u32(12, s.max_entries)
        .u32(16, s.flags)
        .u32(20, s.inner_map_fd.unwrap_or(0) as u32)
        .bytes(28, &name16(&s.name));
    bpf(MAP_CREATE, &mut a, "BPF_MAP_CREATE").map(|fd| Fd(fd as i32))
}

pub fn map_update(fd: i32, key: &[u8], value: &[u8], flags: u64) -> Result<(), SysError> {
    let mut a = Attr::new();
    a.u32(0, fd as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, value.as_ptr() as u64)
        .u64(24, flags);
    bpf(MAP_UPDATE_ELEM, &mut a, "BPF_MAP_UPDATE_ELEM").map(|_| ())
}

pub fn map_freeze(fd: i32) -> Result<(), SysError> {
    let mut a = Attr::new();
    a.u32(0, fd as u32);
    bpf(MAP_FREEZE, &mut a, "BPF_MAP_FREEZE").map(|_| ())
}

pub fn prog_load(p: &ProgLoad<'_>) -> Result<LoadOutcome, SysError> {
    let license = std::ffi::CString::new(p.license.replace('\0', "")).unwrap_or_default();
    let mut size = if p.log_level > 0 { 1 << 20 } else { 0 };
    loop {
        let mut log = vec![0u8; size.max(1)];
        let mut a = Attr::new();
        a.u32(0, p.prog_type)
            .u32(4, (p.insns.len() / 8) as u32)
            .u64(8, p.insns.as_ptr() as u64)
            .u64(16, license.as_ptr() as u64)
            .u32(40, p.kern_version)
            .u32(44, p.prog_flags)
            .bytes(48, &name16(&p.name))
            .u32(68, p.expected_attach_type.unwrap_or(0));
        if size > 0 {
            a.u32(24, p.log_level)
                .u32(28, size as u32)
                .u64(32, log.as_mut_ptr() as u64);
        }
        if !p.fd_array.is_empty() {
            a.u64(120, p.fd_array.as_ptr() as u64);
        }
        if let Some(btf) = p.prog_btf_fd {
            a.u32(72, btf as u32);
        }
        if p.attach_btf_id != 0 {
            a.u32(108, p.attach_btf_id);
        }
        if !p.func_info.is_empty() {
            a.u32(76, 8)
                .u64(80, p.func_info.as_ptr() as u64)
                .u32(88, (p.func_info.len() / 8) as u32);
        }
        let r = bpf(PROG_LOAD, &mut a, "BPF_PROG_LOAD");
        let text = {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            String::from_utf8_lossy(&log[..end]).into_owned()
        };
        match r {
            Ok(fd) => {
                return Ok(LoadOutcome {
                    fd: Some(Fd(fd as i32)),
                    errno: None,
                    log: text,
                });
            }
            Err(e) if e.errno == libc::ENOSPC && size > 0 && size < (1 << 30) => {
                size *= 4;
            }
            Err(e) => {
                return Ok(LoadOutcome {
                    fd: None,
                    errno: Some(e.errno),
                    log: text,
                });
            }
        }
    }
}

pub fn btf_load(bytes: &[u8]) -> Result<Fd, (SysError, String)> {
    let mut log = vec![0u8; 1 << 16];
    let mut a = Attr::new();
    a.u64(0, bytes.as_ptr() as u64)
        .u64(8, log.as_mut_ptr() as u64)
        .u32(16, bytes.len() as u32)
        .u32(20, log.len() as u32)
        .u32(24, 1);
    match bpf(BTF_LOAD, &mut a, "BPF_BTF_LOAD") {
        Ok(fd) => Ok(Fd(fd as i32)),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Err((e, String::from_utf8_lossy(&log[..end]).into_owned()))
        }
    }
}

fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn info(fd: i32, buf: &mut [u8]) -> Result<(), SysError> {
    let mut a = Attr::new();
    a.u32(0, fd as u32)
        .u32(4, buf.len() as u32)
        .u64(8, buf.as_mut_ptr() as u64);
    bpf(OBJ_GET_INFO_BY_FD, &mut a, "BPF_OBJ_GET_INFO_BY_FD").map(|_| ())
}

fn cname(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

pub fn prog_info(fd: i32) -> Result<ProgInfo, SysError> {
    // First the lengths, then the arrays.
    let mut buf = vec![0u8; 232];
    info(fd, &mut buf)?;
    let xlated_len = rd32(&buf, 20) as usize;
    let nr_maps = rd32(&buf, 52) as usize;
    let mut xlated = vec![0u8; xlated_len];
    let mut ids = vec![0u32; nr_maps];
    let mut buf2 = vec![0u8; 232];
    buf2[20..24].copy_from_slice(&(xlated_len as u32).to_le_bytes());
    buf2[32..40].copy_from_slice(&(xlated.as_mut_ptr() as u64).to_le_bytes());
    buf2[52..56].copy_from_slice(&(nr_maps as u32).to_le_bytes());
    buf2[56..64].copy_from_slice(&(ids.as_mut_ptr() as u64).to_le_bytes());
    info(fd, &mut buf2)?;
    Ok(ProgInfo {
        prog_type: rd32(&buf2, 0),
        xlated,
        map_ids: ids,
        verified_insns: rd32(&buf2, 216),
        name: cname(&buf2[64..80]),
    })
}

pub fn map_info(fd: i32) -> Result<MapInfo, SysError> {
    let mut buf = vec![0u8; 96];
    info(fd, &mut buf)?;
    Ok(MapInfo {
        map_type: rd32(&buf, 0),
        id: rd32(&buf, 4),
        key_size: rd32(&buf, 8),
        value_size: rd32(&buf, 12),
        max_entries: rd32(&buf, 16),
        flags: rd32(&buf, 20),
        name: cname(&buf[24..40]),
    })
}

pub fn map_get_fd_by_id(id: u32) -> Result<Fd, SysError> {
    let mut a = Attr::new();
    a.u32(0, id);
    bpf(MAP_GET_FD_BY_ID, &mut a, "BPF_MAP_GET_FD_BY_ID").map(|fd| Fd(fd as i32))
}

pub fn obj_get(path: &str) -> Result<Fd, SysError> {
    let p = std::ffi::CString::new(path).map_err(|_| SysError {
        command: "BPF_OBJ_GET",
        errno: libc::EINVAL,
    })?;
    let mut a = Attr::new();
    a.u64(0, p.as_ptr() as u64);
    bpf(OBJ_GET, &mut a, "BPF_OBJ_GET").map(|fd| Fd(fd as i32))
}

pub fn map_lookup(fd: i32, key: &[u8], value_size: usize) -> Result<Option<Vec<u8>>, SysError> {
    // Per-CPU maps return one value per possible CPU; the caller sizes the buffer for that.
    let mut value = vec![0u8; value_size.max(1)];
    let mut a = Attr::new();
    a.u32(0, fd as u32)
        .u64(8, key.as_ptr() as u64)
        .u64(16, value.as_mut_ptr() as u64);
    match bpf(MAP_LOOKUP_ELEM, &mut a, "BPF_MAP_LOOKUP_ELEM") {
        Ok(_) => {
            value.truncate(value_size);
            Ok(Some(value))
        }
        Err(e) if e.errno == libc::ENOENT => Ok(None),
        Err(e) => Err(e),
    }
}

/// `test` of `union bpf_attr`: prog_fd 0, retval 4, data_size_in 8, data_size_out 12,
/// data_in 16, data_out 24, repeat 32, duration 36, ctx_size_in 40, ctx_size_out 44,
/// ctx_in 48, ctx_out 56, flags 64, cpu 68, batch_size 72.
pub fn prog_test_run(fd: i32, t: &TestRun<'_>) -> Result<TestRunResult, SysError> {
    const CMD: &str = "BPF_PROG_TEST_RUN";
    let len32 = |n: usize| {
        u32::try_from(n).map_err(|_| SysError {
            command: CMD,
            errno: libc::E2BIG,
        })
    };
    let mut data_out = vec![0u8; t.data_out_cap];
    let mut ctx_out = vec![0u8; t.ctx_out_cap];
    let ptr = |b: &[u8]| if b.is_empty() { 0 } else { b.as_ptr() as u64 };
    let mut a = Attr::new();
    a.u32(0, fd as u32)
        .u32(8, len32(t.data_in.len())?)
        .u32(12, len32(data_out.len())?)
        .u64(16, ptr(t.data_in))
        .u64(
            24,
            if data_out.is_empty() {
                0
            } else {
                data_out.as_mut_ptr() as u64
            },
        )
        .u32(32, t.repeat)
        .u32(40, len32(t.ctx_in.len())?)
        .u32(44, len32(ctx_out.len())?)
        .u64(48, ptr(t.ctx_in))
        .u64(
            56,
            if ctx_out.is_empty() {
                0
            } else {
                ctx_out.as_mut_ptr() as u64
            },
        )
        .u32(64, t.flags);
    bpf(PROG_TEST_RUN, &mut a, CMD)?;
    let rd = |off: usize| u32::from_le_bytes(a.0[off..off + 4].try_into().unwrap_or([0; 4]));
    data_out.truncate(rd(12) as usize);
    ctx_out.truncate(rd(44) as usize);
    Ok(TestRunResult {
        retval: rd(4),
        data_out,
        ctx_out,
        duration_ns: rd(36),
    })
}
