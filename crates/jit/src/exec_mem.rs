//! Executable memory mapped W^X: pages are mapped read+write, the code is copied in, then
//! the pages become read+execute (never writable and executable at once). Unmapped on drop.

use std::io;

/// A read+execute mapping holding generated code.
#[derive(Debug)]
pub(crate) struct ExecMemory {
    ptr: *mut u8,
    /// Bytes of code.
    #[cfg_attr(not(test), allow(dead_code))]
    len: usize,
    /// Bytes mapped (whole pages).
    mapped: usize,
}

impl ExecMemory {
    /// Maps `code` read+execute.
    pub fn new(code: &[u8]) -> io::Result<ExecMemory> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).unwrap_or(4096).max(1);
        let mapped = code.len().max(1).div_ceil(page) * page;
        // SAFETY: an anonymous private mapping at an address the kernel picks; no existing
        // memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mem = ExecMemory {
            ptr: ptr.cast(),
            len: code.len(),
            mapped,
        };
        // SAFETY: the mapping is `mapped >= code.len()` bytes, writable, and new, so it does not
        // overlap `code`.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), mem.ptr, code.len()) };
        // SAFETY: changes the protection of our own mapping only.
        let rc = unsafe { libc::mprotect(ptr, mapped, libc::PROT_READ | libc::PROT_EXEC) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(mem)
    }

    /// Address of the first byte of code.
    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    /// The code (readable: the mapping is read+execute).
    #[cfg(test)]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points at `len` initialised bytes of a readable mapping that lives
        // as long as `self` and is never written after `new`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for ExecMemory {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no code from it can be running,
        // since running needs `&mut` of the program that owns `self`.
        unsafe {
            libc::munmap(self.ptr.cast(), self.mapped);
        }
    }
}

// SAFETY: the mapping is immutable after construction and owned by this value alone.
unsafe impl Send for ExecMemory {}
// SAFETY: as above; shared references only read the bytes.
unsafe impl Sync for ExecMemory {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protection string of the mapping containing `addr`, from /proc/self/maps.
    fn perms(addr: u64) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        maps.lines().find_map(|l| {
            let (range, rest) = l.split_once(' ')?;
            let (lo, hi) = range.split_once('-')?;
            let lo = u64::from_str_radix(lo, 16).ok()?;
            let hi = u64::from_str_radix(hi, 16).ok()?;
            (lo <= addr && addr < hi).then(|| rest.split(' ').next().unwrap_or("").to_string())
        })
    }

    /// Serialises the tests that map code: an address freed by one could be reused by another.
    static MAPPING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn mapping_is_read_execute_never_writable() {
        let _one = MAPPING.lock().unwrap_or_else(|e| e.into_inner());
        let m = ExecMemory::new(&[0xc3; 100]).unwrap();
        assert_eq!(m.bytes(), &[0xc3; 100][..]);
        if let Some(p) = perms(m.addr()) {
            assert_eq!(&p[..3], "r-x", "code pages must be read+execute only");
        }
    }

    #[test]
    fn drop_unmaps_the_code() {
        let _one = MAPPING.lock().unwrap_or_else(|e| e.into_inner());
        // Three pages, so the check covers a mapping larger than one page.
        let m = ExecMemory::new(&[0x90; 3 * 4096]).unwrap();
        let (first, last) = (m.addr(), m.addr() + 3 * 4096 - 1);
        if perms(first).is_none() {
            println!("SKIP: /proc/self/maps is not readable");
            return;
        }
        assert_eq!(perms(last).as_deref().map(|p| &p[..3]), Some("r-x"));
        drop(m);
        // Another thread may map data (a stack, a large allocation) into the freed range,
        // but nothing else in this process maps code while the lock is held.
        for addr in [first, last] {
            let p = perms(addr);
            assert!(
                p.as_deref().is_none_or(|p| !p.contains('x')),
                "{addr:#x} is still executable after drop: {p:?}"
            );
        }
    }
}
