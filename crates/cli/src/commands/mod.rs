//! One module per subcommand.

pub mod asm;
pub mod conformance;
pub mod disasm;
pub mod inspect;
pub mod run;
pub mod verify;
