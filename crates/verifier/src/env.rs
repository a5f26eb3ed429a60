//! What the verifier is told about a program besides its instructions: program type and
//! attach type, the maps its LD_IMM64s refer to, the license, privilege, and log level.

/// One map a program may refer to. Map references in the program (`BPF_PSEUDO_MAP_FD`,
/// `BPF_PSEUDO_MAP_IDX` and their `_VALUE` forms) are indices into [`VerifyEnv::maps`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    pub name: String,
    /// `bpf_map_type`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    /// Index (in [`VerifyEnv::maps`]) of the inner map's template, for map-in-map types.
    pub inner: Option<usize>,
    /// Frozen (read-only for user space): with `BPF_F_RDONLY_PROG` its contents are constants.
    pub frozen: bool,
    /// Initial contents of a global data map (for constant folding of frozen maps).
    pub initial_value: Option<Vec<u8>>,
}

impl MapInfo {
    pub fn new(map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> MapInfo {
        MapInfo {
            name: String::new(),
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            inner: None,
            frozen: false,
            initial_value: None,
        }
    }
}

/// The C source line an instruction came from (from BTF line info).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// File name as recorded (the log prints it without directories).
    pub file: String,
    pub line: u32,
    pub col: u32,
    /// The line's text, when the object carries it.
    pub text: String,
}

/// The kernel's BTF (`/sys/kernel/btf/vmlinux`), which kfunc calls name functions of by
/// BTF id. Compared by identity: two environments agree when they share one parse.
#[derive(Clone)]
pub struct KernelBtf(pub std::sync::Arc<bpfvet_btf::Btf>);

impl std::fmt::Debug for KernelBtf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KernelBtf({} types)", self.0.type_count())
    }
}

impl PartialEq for KernelBtf {
    fn eq(&self, other: &KernelBtf) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for KernelBtf {}

/// Verifier limits (the kernel's constants by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Processed-instruction limit (`BPF_COMPLEXITY_LIMIT_INSNS`).
    pub insns: u64,
    /// Pending branch states (`BPF_COMPLEXITY_LIMIT_JMP_SEQ`).
    pub jmp_seq: usize,
    /// Stored states per instruction before pruning gives up storing more.
    pub states: usize,
    /// Paths pruned against a loop still being explored that wait (each with a copy of its
    /// state) for the loop's final precision; past this, such a path's whole chain is
    /// compared exactly for good instead (sound, coarser). Bounds the memory loops take.
    pub backedges: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            insns: 1_000_000,
            jmp_seq: 8192,
            states: 64,
            backedges: 4096,
        }
    }
}

/// Everything the verifier needs besides the instructions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyEnv {
    /// `bpf_prog_type` (see `bpfvet_isa::uapi::PROG_TYPES`).
    pub prog_type: u32,
    pub expected_attach_type: Option<u32>,
    pub maps: Vec<MapInfo>,
    /// The license allows GPL-only helpers.
    pub gpl_compatible: bool,
    /// Loaded with CAP_BPF/CAP_SYS_ADMIN (root). Unprivileged rules are not modelled yet.
    pub privileged: bool,
    /// Sleepable program (`BPF_F_SLEEPABLE`).
    pub sleepable: bool,
    /// Every access must be aligned (`BPF_F_STRICT_ALIGNMENT`).
    pub strict_alignment: bool,
    /// A checkpoint at every prune point, not paced (`BPF_F_TEST_STATE_FREQ`): tests use it
    /// to make pruning happen in small programs.
    pub test_state_freq: bool,
    /// 0: no log; 1: the failing path; 2: every state.
    pub log_level: u32,
    pub limits: Limits,
    /// Per instruction slot: its source line, when the object has line info.
    pub lines: Vec<Option<SourceLine>>,
    /// The program comes with BTF function info (needed for callbacks).
    pub has_func_info: bool,
    /// BTF signatures of the program's functions (from the object's BTF); global ones are
    /// verified on their own. Empty: every function is static.
    pub funcs: Vec<bpfvet_loader::funcs::FuncSig>,
    /// The kernel BTF kfunc calls resolve against; without it kfunc calls are refused.
    pub kernel_btf: Option<KernelBtf>,
}

impl VerifyEnv {
    /// A privileged, GPL program of type `prog_type` with no maps.
    pub fn new(prog_type: u32) -> VerifyEnv {
        VerifyEnv {
            prog_type,
            expected_attach_type: None,
            maps: Vec::new(),
            gpl_compatible: true,
            privileged: true,
            sleepable: false,
            strict_alignment: false,
            test_state_freq: false,
            log_level: 0,
            limits: Limits::default(),
            lines: Vec::new(),
            has_func_info: false,
            funcs: Vec::new(),
            kernel_btf: None,
        }
    }
}
