//! One module per subcommand.

pub mod asm;
pub mod disasm;
