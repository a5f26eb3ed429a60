//! Splits one line of assembly into tokens with their columns. Shared by both dialects.

use super::AsmError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A name: mnemonic, label, helper, directive (with its leading `.`).
    Ident(String),
    /// An unsigned number as written (decimal or `0x` hex); `hex` records the base.
    Num { value: u64, hex: bool },
    /// A register: `r3`/`w3` (llvm) or `%r3` (ubpf). `wide` is false for `w`.
    Reg { n: u8, wide: bool },
    /// Punctuation and operators, e.g. `=`, `+=`, `s>>=`, `(`, `,`.
    Punct(&'static str),
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    /// 1-based column.
    pub col: usize,
}

/// Operators, longest first so that the lexer takes the longest match.
const PUNCTS: [&str; 38] = [
    "s>>=", "<<=", ">>=", "s/=", "s%=", "s>=", "s<=", "s>", "s<", "+=", "-=", "*=", "/=", "%=",
    "|=", "&=", "^=", "==", "!=", ">=", "<=", "=", "+", "-", "*", "/", "%", "|", "&", "^", "<",
    ">", "(", ")", "[", "]", ",", ":",
];

/// Removes a trailing comment (`#`, `//` or `;`).
pub fn strip_comment(line: &str) -> &str {
    let mut end = line.len();
    for pat in ["#", "//", ";"] {
        if let Some(i) = line.find(pat) {
            end = end.min(i);
        }
    }
    &line[..end]
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$' || c == '@'
}

/// Parses a register name without its `%`: `r0`..`r10` or `w0`..`w10`.
fn register(name: &str) -> Option<Result<(u8, bool), String>> {
    let (wide, digits) = if let Some(d) = name.strip_prefix('r') {
        (true, d)
    } else if let Some(d) = name.strip_prefix('w') {
        (false, d)
    } else {
        return None;
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.parse::<u32>() {
        Ok(n) if n <= 10 => Some(Ok((n as u8, wide))),
        _ => Some(Err(format!(
            "invalid register {name}: registers are r0 to r10"
        ))),
    }
}

/// Tokenizes `line` (already stripped of comments). `line_no` is for errors.
pub fn tokenize(line: &str, line_no: usize) -> Result<Vec<Token>, AsmError> {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let col_of = |i: usize| -> usize {
        chars
            .get(i)
            .map(|(b, _)| line[..*b].chars().count() + 1)
            .unwrap_or(line.chars().count() + 1)
    };
    while i < chars.len() {
        let (b, c) = chars[i];
        let col = col_of(i);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let rest = &line[b..];
        // `s>` and friends start with a letter: take them before identifiers.
        if c == 's'
            && let Some(p) = PUNCTS
                .iter()
                .find(|p| p.starts_with('s') && rest.starts_with(**p))
        {
            out.push(Token {
                tok: Tok::Punct(p),
                col,
            });
            i += p.len();
            continue;
        }
        if c == '%' && rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            // ubpf register `%r3`
            let mut j = i + 1;
            while j < chars.len() && is_ident_char(chars[j].1) {
                j += 1;
            }
            let end = chars.get(j).map(|x| x.0).unwrap_or(line.len());
            let name = &line[b + 1..end];
            match register(name) {
                Some(Ok((n, wide))) => out.push(Token {
                    tok: Tok::Reg { n, wide },
                    col,
                }),
                Some(Err(m)) => return Err(AsmError::new(line_no, col, m)),
                None => {
                    return Err(AsmError::new(
                        line_no,
                        col,
                        format!("invalid register %{name}: expected %r0 to %r10"),
                    ));
                }
            }
            i = j;
            continue;
        }
        if is_ident_start(c) {
            let mut j = i + 1;
            while j < chars.len() && is_ident_char(chars[j].1) {
                j += 1;
            }
            let end = chars.get(j).map(|x| x.0).unwrap_or(line.len());
            let name = &line[b..end];
            let tok = match register(name) {
                Some(Ok((n, wide))) => Tok::Reg { n, wide },
                Some(Err(m)) => return Err(AsmError::new(line_no, col, m)),
                None => Tok::Ident(name.to_string()),
            };
            out.push(Token { tok, col });
            i = j;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].1.is_ascii_alphanumeric() || chars[j].1 == '_') {
                j += 1;
            }
            let end = chars.get(j).map(|x| x.0).unwrap_or(line.len());
            let text = line[b..end].replace('_', "");
            let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
            {
                Some(h) => (h.to_string(), 16),
                None => (text.clone(), 10),
            };
            let value = u64::from_str_radix(&digits, radix).map_err(|_| {
                AsmError::new(
                    line_no,
                    col,
                    format!("invalid number `{text}`: expected a decimal or 0x-hex integer that fits 64 bits"),
                )
            })?;
            out.push(Token {
                tok: Tok::Num {
                    value,
                    hex: radix == 16,
                },
                col,
            });
            i = j;
            continue;
        }
        if let Some(p) = PUNCTS
            .iter()
            .find(|p| !p.starts_with('s') && rest.starts_with(**p))
        {
            out.push(Token {
                tok: Tok::Punct(p),
                col,
            });
            i += p.len();
            continue;
        }
        return Err(AsmError::new(
            line_no,
            col,
            format!("unexpected character `{c}`"),
        ));
    }
    Ok(out)
}
