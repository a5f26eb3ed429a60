//! The verifier's verdict on a rejected program: the kernel-compatible message (the line a
//! user searches for), the instruction it is about, the errno the kernel would return, and our
//! own plain-language explanation where we can give one.

use std::fmt;

/// The errno the kernel's `BPF_PROG_LOAD` returns for a rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Errno {
    /// Permission: the program is unsafe (most verifier rejections).
    EACCES,
    /// Malformed program: bad encodings, bad jumps, bad map references.
    EINVAL,
    /// Too large or too complex.
    E2BIG,
    /// Operation not supported (kfuncs without BTF, ...).
    ENOTSUPP,
    /// Bad file descriptor (a map reference that is not a map).
    EBADF,
    /// Internal inconsistency.
    EFAULT,
    /// Permission denied by capability checks.
    EPERM,
}

impl Errno {
    /// The positive errno value on Linux.
    pub fn code(self) -> i32 {
        match self {
            Errno::EPERM => 1,
            Errno::EBADF => 9,
            Errno::EACCES => 13,
            Errno::EFAULT => 14,
            Errno::EINVAL => 22,
            Errno::E2BIG => 7,
            Errno::ENOTSUPP => 524,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::EBADF => "EBADF",
            Errno::EACCES => "EACCES",
            Errno::EFAULT => "EFAULT",
            Errno::EINVAL => "EINVAL",
            Errno::E2BIG => "E2BIG",
            Errno::ENOTSUPP => "ENOTSUPP",
        }
    }
}

/// Why a program was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// The instruction (slot index) the message is about, when there is one.
    pub insn: Option<usize>,
    /// The kernel-compatible message, one line, exactly as the kernel logs it.
    pub message: String,
    pub errno: Errno,
    /// A plain sentence of our own saying what went wrong and why (beyond the kernel's text).
    pub explanation: Option<String>,
    /// Lines the kernel logs just before the message (e.g. the region-specific line before
    /// "R1 max value is outside of the allowed memory range").
    pub detail: Vec<String>,
}

impl VerifyError {
    pub fn new(insn: Option<usize>, errno: Errno, message: impl Into<String>) -> VerifyError {
        VerifyError {
            insn,
            message: message.into(),
            errno,
            explanation: None,
            detail: Vec::new(),
        }
    }

    /// A rejection for an unsafe operation at `insn` (EACCES).
    pub fn access(insn: usize, message: impl Into<String>) -> VerifyError {
        VerifyError::new(Some(insn), Errno::EACCES, message)
    }

    /// A rejection for a malformed program at `insn` (EINVAL).
    pub fn invalid(insn: Option<usize>, message: impl Into<String>) -> VerifyError {
        VerifyError::new(insn, Errno::EINVAL, message)
    }

    pub fn with_detail(mut self, line: impl Into<String>) -> VerifyError {
        self.detail.push(line.into());
        self
    }

    pub fn with_explanation(mut self, text: impl Into<String>) -> VerifyError {
        self.explanation = Some(text.into());
        self
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(i) = self.insn {
            write!(f, "insn {i}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for VerifyError {}
