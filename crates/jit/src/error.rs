//! Errors of compiling a program (running one fails with [`bpfvet_vm::VmError`], as the
//! interpreter does).

use std::fmt;

use bpfvet_vm::VmError;

/// Why a program could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JitError {
    /// The interpreter rejects the program too (bad jump target, write to R10, ...).
    Invalid(VmError),
    /// There is no JIT for this host.
    Unavailable {
        /// The host architecture.
        arch: &'static str,
    },
    /// The encoder rejected generated code (a bug in the JIT).
    Codegen(String),
    /// Executable memory could not be mapped.
    Memory(String),
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Invalid(e) => write!(f, "{e}"),
            JitError::Unavailable { arch } => write!(
                f,
                "the JIT is not available on {arch} hosts (it generates x86-64 code); use the interpreter"
            ),
            JitError::Codegen(m) => write!(f, "JIT code generation failed: {m}"),
            JitError::Memory(m) => write!(f, "cannot map executable memory: {m}"),
        }
    }
}

impl std::error::Error for JitError {}

impl From<VmError> for JitError {
    fn from(e: VmError) -> JitError {
        JitError::Invalid(e)
    }
}
