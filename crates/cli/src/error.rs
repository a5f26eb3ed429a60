//! CLI errors: one line on stderr, exit code 2 for bad input.

use std::fmt;
use std::path::Path;

#[derive(Debug)]
pub struct CliError {
    pub msg: String,
    pub code: i32,
}

impl CliError {
    /// Bad input in `path`.
    pub fn input(path: &Path, msg: impl Into<String>) -> CliError {
        CliError {
            msg: format!("{}: {}", path.display(), msg.into()),
            code: 2,
        }
    }

    /// The program ran and failed (exit code 1).
    pub fn failed(path: &Path, msg: impl Into<String>) -> CliError {
        CliError {
            msg: format!("{}: {}", path.display(), msg.into()),
            code: 1,
        }
    }

    /// Bad arguments.
    pub fn usage(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            code: 2,
        }
    }

    pub fn io(path: &Path, e: &std::io::Error) -> CliError {
        CliError::input(path, e.to_string())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}
