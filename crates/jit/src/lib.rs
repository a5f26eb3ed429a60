//! `bpfvet-jit`: compiles BPF programs to x86-64 machine code with the interpreter's semantics.
