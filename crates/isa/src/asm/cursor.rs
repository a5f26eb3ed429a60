//! A cursor over one line's tokens with the small parsers both dialects share: registers,
//! immediates in range, signed offsets, and errors that say what was expected.

use super::lexer::{Tok, Token};
use super::{AsmError, Target};
use crate::insn::Reg;

pub struct Cursor<'a> {
    toks: &'a [Token],
    pos: usize,
    pub line: usize,
    text: &'a str,
}

/// How an immediate may be written for a 32-bit field.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ImmRange {
    /// llvm: anything in [-2^31, 2^32 - 1], stored as its low 32 bits.
    Loose,
    /// ubpf: decimal must fit i32, hex must fit u32.
    Strict,
}

impl<'a> Cursor<'a> {
    pub fn new(toks: &'a [Token], line: usize, text: &'a str) -> Cursor<'a> {
        Cursor {
            toks,
            pos: 0,
            line,
            text,
        }
    }

    pub fn peek(&self) -> Option<&'a Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    pub fn peek_at(&self, n: usize) -> Option<&'a Tok> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }

    pub fn advance(&mut self) -> Option<&'a Tok> {
        let t = self.toks.get(self.pos).map(|t| &t.tok);
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    /// Column of the current token (or just past the end of the line).
    pub fn col(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|t| t.col)
            .unwrap_or_else(|| self.text.trim_end().chars().count() + 1)
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of line".to_string(),
            Some(Tok::Ident(s)) => format!("`{s}`"),
            Some(Tok::Num { value, hex: true }) => format!("`{value:#x}`"),
            Some(Tok::Num { value, .. }) => format!("`{value}`"),
            Some(Tok::Reg { n, wide }) => format!("`{}{n}`", if *wide { 'r' } else { 'w' }),
            Some(Tok::Punct(p)) => format!("`{p}`"),
        }
    }

    /// An error at the current token: "expected X, found Y".
    pub fn expected(&self, what: &str) -> AsmError {
        AsmError::new(
            self.line,
            self.col(),
            format!("expected {what}, found {}", self.describe()),
        )
    }

    pub fn error(&self, msg: impl Into<String>) -> AsmError {
        AsmError::new(self.line, self.col(), msg)
    }

    pub fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn punct(&mut self, p: &str) -> Result<(), AsmError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }

    pub fn eat_ident(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn ident(&mut self, what: &str) -> Result<&'a str, AsmError> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    pub fn end(&self) -> Result<(), AsmError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error(format!(
                "unexpected {} after the instruction",
                self.describe()
            )))
        }
    }

    /// A register; returns it and whether it was written as a 64-bit (`r`) register.
    pub fn reg_any(&mut self) -> Result<(Reg, bool), AsmError> {
        match self.peek() {
            Some(Tok::Reg { n, wide }) => {
                self.pos += 1;
                Ok((Reg::new(*n).expect("lexer checks the range"), *wide))
            }
            _ => Err(self.expected("a register")),
        }
    }

    /// A register of the given width (`r` for 64-bit, `w` for 32-bit).
    pub fn reg(&mut self, wide: bool) -> Result<Reg, AsmError> {
        let col = self.col();
        let (r, w) = self.reg_any()?;
        if w != wide {
            return Err(AsmError::new(
                self.line,
                col,
                format!(
                    "expected a {} register here ({}{}), found {}{}",
                    if wide { "64-bit" } else { "32-bit" },
                    if wide { 'r' } else { 'w' },
                    r.index(),
                    if w { 'r' } else { 'w' },
                    r.index()
                ),
            ));
        }
        Ok(r)
    }

    pub fn is_reg(&self) -> bool {
        matches!(self.peek(), Some(Tok::Reg { .. }))
    }

    /// An integer with an optional sign; returns (value, written in hex).
    pub fn signed_num(&mut self) -> Result<(i128, bool), AsmError> {
        let neg = if self.eat_punct("-") {
            true
        } else {
            self.eat_punct("+");
            false
        };
        match self.peek() {
            Some(Tok::Num { value, hex }) => {
                self.pos += 1;
                let v = *value as i128;
                Ok((if neg { -v } else { v }, *hex))
            }
            _ => Err(self.expected("a number")),
        }
    }

    /// Leading `name:` labels of a line.
    pub fn labels(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let (Some(Tok::Ident(name)), Some(Tok::Punct(":"))) = (self.peek(), self.peek_at(1)) {
            out.push(name.clone());
            self.pos += 2;
        }
        out
    }

    /// A jump target: `+N`, `-N`, `N` or a label; with the column it starts at.
    pub fn target(&mut self) -> Result<(Target, usize), AsmError> {
        let col = self.col();
        if self.is_num() {
            let (v, _) = self.signed_num()?;
            return Ok((Target::Rel(v as i64), col));
        }
        if let Some(Tok::Ident(name)) = self.peek() {
            self.pos += 1;
            return Ok((Target::Label(name.clone()), col));
        }
        Err(self.expected("a jump target (`+N`, `-N` or a label)"))
    }

    /// An optional `+N` / `-N` after a symbol name.
    pub fn addend(&mut self) -> Result<Option<i64>, AsmError> {
        if matches!(self.peek(), Some(Tok::Punct("+" | "-")))
            && matches!(self.peek_at(1), Some(Tok::Num { .. }))
        {
            let col = self.col();
            let (v, _) = self.signed_num()?;
            let v = i64::try_from(v)
                .map_err(|_| AsmError::new(self.line, col, "addend does not fit in 64 bits"))?;
            return Ok(Some(v));
        }
        Ok(None)
    }

    pub fn is_num(&self) -> bool {
        matches!(self.peek(), Some(Tok::Num { .. }))
            || (matches!(self.peek(), Some(Tok::Punct("-" | "+")))
                && matches!(self.peek_at(1), Some(Tok::Num { .. })))
    }

    /// A 32-bit immediate.
    pub fn imm32(&mut self, range: ImmRange) -> Result<i32, AsmError> {
        let col = self.col();
        let (v, hex) = self.signed_num()?;
        let ok = match range {
            ImmRange::Loose => (-(1i128 << 31)..(1i128 << 32)).contains(&v),
            ImmRange::Strict if hex => (-(1i128 << 32) < v) && v < (1i128 << 32),
            ImmRange::Strict => (-(1i128 << 31)..(1i128 << 31)).contains(&v),
        };
        if !ok {
            return Err(AsmError::new(
                self.line,
                col,
                format!(
                    "immediate {v} does not fit in 32 bits (expected {})",
                    match range {
                        ImmRange::Strict if !hex => "-2147483648 to 2147483647",
                        _ => "-2147483648 to 4294967295, or 0x0 to 0xffffffff",
                    }
                ),
            ));
        }
        Ok(v as i64 as u32 as i32)
    }

    /// A 64-bit immediate: anything in [-2^63, 2^64 - 1].
    pub fn imm64(&mut self) -> Result<u64, AsmError> {
        let col = self.col();
        let (v, _) = self.signed_num()?;
        if !(-(1i128 << 63)..(1i128 << 64)).contains(&v) {
            return Err(AsmError::new(
                self.line,
                col,
                format!("immediate {v} does not fit in 64 bits"),
            ));
        }
        Ok(v as u64)
    }

    /// A signed 16-bit value (memory offset).
    pub fn off16(&mut self, negate: bool) -> Result<i16, AsmError> {
        let col = self.col();
        let (v, _) = self.signed_num()?;
        let v = if negate { -v } else { v };
        i16::try_from(v).map_err(|_| {
            AsmError::new(
                self.line,
                col,
                format!("offset {v} does not fit in 16 bits (expected -32768 to 32767)"),
            )
        })
    }

    /// An unsigned value up to `max`.
    pub fn uint(&mut self, max: u64, what: &str) -> Result<u64, AsmError> {
        let col = self.col();
        let (v, _) = self.signed_num()?;
        if v < 0 || v > max as i128 {
            return Err(AsmError::new(
                self.line,
                col,
                format!("{what} {v} is out of range (expected 0 to {max})"),
            ));
        }
        Ok(v as u64)
    }
}
