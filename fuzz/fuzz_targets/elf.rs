//! The ELF reader: any bytes give an object or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = bpfvet_loader::ElfObject::parse(data);
});
