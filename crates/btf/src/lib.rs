//! `bpfvet-btf`: BTF type information (placeholder; being built).
