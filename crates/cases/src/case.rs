//! The parsed form of a case: what the program is, what it runs with, and what the kernel is
//! expected to do with it.

use bpfvet_isa::Program;

/// A map the case uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    /// For map-in-map types: the index of the (earlier) map that is the inner template.
    pub inner: Option<usize>,
    /// Frozen (`BPF_MAP_FREEZE`) right after creation.
    pub freeze: bool,
}

/// What the case expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Accept,
    /// The kernel refuses the program; `error` is its message line (see
    /// [`crate::error_line`]), when the case gives one.
    Reject {
        error: Option<String>,
    },
}

/// One case.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    /// The data file's name (e.g. `stack.case`).
    pub file: String,
    /// The line of the `case` directive.
    pub line: usize,
    pub prog_type: u32,
    pub prog_type_name: String,
    /// `expected_attach_type`, when the case gives `attach`.
    pub expected_attach_type: Option<u32>,
    /// `BPF_F_*` program flags (`flags`).
    pub prog_flags: u32,
    pub maps: Vec<MapDef>,
    pub license: String,
    pub expect: Expect,
    /// The errno of the refusal, when the case gives `errno` (positive, e.g. 13 for EACCES).
    pub errno: Option<i32>,
    /// Message lines that must appear in the log, in this order (`log`).
    pub log: Vec<String>,
    /// R0 after one `BPF_PROG_TEST_RUN` (`retval`), for accepted cases.
    pub retval: Option<u32>,
    /// The input packet of that run (`data`); `None` means the default (see
    /// [`Case::run_data`]).
    pub data: Option<Vec<u8>>,
    /// bpfvet knowingly disagrees with the kernel here, and why.
    pub differs: Option<String>,
    /// BTF function info (`func` directives), for callbacks and global functions.
    pub funcs: Vec<crate::funcs::FuncDef>,
    /// The program as assembled. For a case with `.raw` slots this is the decoding of
    /// [`Case::bytes`] when every slot decodes, and an empty program otherwise: use
    /// [`Case::bytes`] for what is loaded.
    pub program: Program,
    /// The bytecode that is loaded (little-endian slots), `.raw` slots included; map
    /// references still hold map indices (see [`Case::bytes_with_fds`]).
    pub bytes: Vec<u8>,
    /// `(slot, map index)` of every `map_fd(N)` / `map_value(N, OFF)` LD_IMM64. An index the
    /// case defines no map for is left as it is (a number that is no map's fd).
    pub map_refs: Vec<(usize, usize)>,
    /// The code has `.raw` slots.
    pub has_raw: bool,
    /// Kernel functions the code calls by name (`call kfunc(NAME)`); their BTF ids come from
    /// the running kernel's BTF (see [`crate::kernel_btf`]), 0 without it.
    pub kfuncs: Vec<String>,
}

impl Case {
    /// The case calls kernel functions by name but the kernel's BTF is not available, so
    /// its call instructions hold no real ids: harnesses skip it.
    pub fn needs_missing_btf(&self) -> bool {
        !self.kfuncs.is_empty() && crate::kfuncs::kernel_btf().is_none()
    }
}

impl Case {
    /// [`Case::bytes`] with each map reference's immediate replaced by `fds[index]`.
    pub fn bytes_with_fds(&self, fds: &[i32]) -> Vec<u8> {
        let mut out = self.bytes.clone();
        for &(slot, index) in &self.map_refs {
            if let Some(fd) = fds.get(index) {
                out[slot * 8 + 4..slot * 8 + 8].copy_from_slice(&fd.to_le_bytes());
            }
        }
        out
    }

    /// The packet given to the test run: the case's `data`, or 64 zero bytes.
    pub fn run_data(&self) -> Vec<u8> {
        self.data.clone().unwrap_or_else(|| vec![0; 64])
    }
}

/// A parse error naming the file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseError(pub String);

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaseError {}
