//! CO-RE relocations (compile once, run everywhere): resolving a program's field, type and
//! enum accesses against a target BTF (the running kernel's), and patching the instruction.
