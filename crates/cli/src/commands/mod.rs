//! One module per subcommand.

pub mod asm;
pub mod conformance;
pub mod disasm;
pub mod inspect;
pub mod jit;
pub mod run;
pub mod stats;
pub mod verify;
