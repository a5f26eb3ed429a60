//! `bpfvet-kernel`: the live kernel as an oracle (placeholder; being built).
