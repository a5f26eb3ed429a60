//! `bpfvet-cases`: data-driven verifier cases (placeholder; being built).
