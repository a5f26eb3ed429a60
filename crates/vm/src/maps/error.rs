//! Map errors: the Linux errno a map operation fails with (helpers hand it to the program as
//! a negative number), with a sentence saying what was wrong.

use std::fmt;

/// `EPERM`: the operation is not permitted (e.g. writing a frozen map from user space).
pub const EPERM: i32 = 1;
/// `ENOENT`: no such key, or the map is empty.
pub const ENOENT: i32 = 2;
/// `E2BIG`: the map is full, or an index is beyond `max_entries`.
pub const E2BIG: i32 = 7;
/// `EBADF`: no map (or program) with that descriptor.
pub const EBADF: i32 = 9;
/// `EAGAIN`: no room right now (ring buffers).
pub const EAGAIN: i32 = 11;
/// `EFAULT`: a bad address.
pub const EFAULT: i32 = 14;
/// `EBUSY`: the resource is in use.
pub const EBUSY: i32 = 16;
/// `EEXIST`: the key exists and `BPF_NOEXIST` was asked.
pub const EEXIST: i32 = 17;
/// `EINVAL`: bad flags, sizes or arguments.
pub const EINVAL: i32 = 22;
/// `ENOSPC`: no space left (a full LPM trie).
pub const ENOSPC: i32 = 28;
/// `EOPNOTSUPP`: the map type does not support the operation.
pub const EOPNOTSUPP: i32 = 95;
/// `ENOTSUPP` (kernel-internal 524): the operation is not supported.
pub const ENOTSUPP: i32 = 524;

/// The name of an errno value, e.g. `"ENOENT"`.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        E2BIG => "E2BIG",
        EBADF => "EBADF",
        EAGAIN => "EAGAIN",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        EINVAL => "EINVAL",
        ENOSPC => "ENOSPC",
        EOPNOTSUPP => "EOPNOTSUPP",
        ENOTSUPP => "ENOTSUPP",
        _ => "E?",
    }
}

/// A failed map operation: the kernel's errno and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapError {
    /// The positive errno value (`ENOENT`, `E2BIG`, ...).
    pub errno: i32,
    /// What was wrong, for people.
    pub message: String,
}

impl MapError {
    /// An error with errno `errno`.
    pub fn new(errno: i32, message: impl Into<String>) -> MapError {
        MapError {
            errno,
            message: message.into(),
        }
    }

    /// The value a helper returns for this error: `-errno` as a 64-bit register value.
    pub fn as_helper_return(&self) -> u64 {
        -(self.errno as i64) as u64
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, errno_name(self.errno))
    }
}

impl std::error::Error for MapError {}

/// Shorthand for building errors inside the maps module.
pub(crate) fn err<T>(errno: i32, message: impl Into<String>) -> Result<T, MapError> {
    Err(MapError::new(errno, message))
}
