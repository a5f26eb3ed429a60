//! The ELF reader and the whole load (programs, linking, maps, relocations): any bytes give
//! an object or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(elf) = bpfvet_loader::ElfObject::parse(data) {
        let _ = bpfvet_loader::BpfObject::from_elf(elf, &Default::default());
    }
});
