//! The kernel's `bpf_trace_printk`/`bpf_trace_vprintk`/`bpf_snprintf` formatting: the format
//! checks of `bpf_bprintf_prepare` (a format must be NUL-terminated, printable, with at most
//! as many conversions as arguments; conversions are `%d %i %u %x %X` with `l`/`ll`, `%c`,
//! `%s`, `%%`, `%p` and `%pK %px %ps %pS %pB %pks %pus %pI4 %pi4 %pI6 %pi6`, after optional
//! `0 + - space` flags and a width; no precision, no `#`), and the output of the kernel's
//! `vsnprintf` for them.
//!
//! Pointers print as the raw address in 16 hex digits (the kernel prints a hashed value for
//! `%p` unless booted with `no_hash_pointers`; NULL is all zeros either way); symbols (`%ps`)
//! print as `0x` and the address, which is what the kernel prints for an address that is
//! not a kernel symbol.

use crate::maps::{EINVAL, ENOSPC};

/// Room for strings and arguments the kernel copies before formatting (`MAX_BPRINTF_BIN_ARGS`).
const BIN_ARGS: usize = 512;
/// Most arguments of `trace_vprintk` and `snprintf` (`MAX_BPRINTF_VARARGS`).
pub const MAX_VARARGS: usize = 12;
/// The size of the kernel's output buffer for `trace_printk` (`MAX_BPRINTF_BUF`).
pub const PRINTK_BUF: usize = 1024;

/// Reads program memory for `%s` and `%pI4`: `str(addr, max)` is the string (without NUL)
/// of at most `max - 1` bytes at `addr`, `bytes(addr, n)` the `n` bytes there.
pub trait ArgMemory {
    fn str_at(&self, addr: u64, max: usize) -> Option<Vec<u8>>;
    fn bytes_at(&self, addr: u64, n: usize) -> Option<Vec<u8>>;
}

#[derive(Clone, Copy, Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    width: usize,
}

impl Spec {
    fn pad(&self, out: &mut Vec<u8>, body: &[u8]) {
        let fill = self.width.saturating_sub(body.len());
        if self.left {
            out.extend_from_slice(body);
            out.extend(std::iter::repeat_n(b' ', fill));
        } else {
            out.extend(std::iter::repeat_n(b' ', fill));
            out.extend_from_slice(body);
        }
    }

    /// A number: `neg` and the magnitude's digits.
    fn number(&self, out: &mut Vec<u8>, neg: bool, signed: bool, digits: &str) {
        let sign: &[u8] = if neg {
            b"-"
        } else if signed && self.plus {
            b"+"
        } else if signed && self.space {
            b" "
        } else {
            b""
        };
        let len = sign.len() + digits.len();
        let fill = self.width.saturating_sub(len);
        if self.left {
            out.extend_from_slice(sign);
            out.extend_from_slice(digits.as_bytes());
            out.extend(std::iter::repeat_n(b' ', fill));
        } else if self.zero {
            out.extend_from_slice(sign);
            out.extend(std::iter::repeat_n(b'0', fill));
            out.extend_from_slice(digits.as_bytes());
        } else {
            out.extend(std::iter::repeat_n(b' ', fill));
            out.extend_from_slice(sign);
            out.extend_from_slice(digits.as_bytes());
        }
    }
}

fn bad(what: &str) -> (i32, String) {
    (EINVAL, what.to_string())
}

/// Formats `fmt` (which must contain a NUL; bytes after it are ignored) with `args` as the
/// kernel does. Returns the full output (not truncated), or `(errno, reason)`.
pub fn format(fmt: &[u8], args: &[u64], mem: &dyn ArgMemory) -> Result<Vec<u8>, (i32, String)> {
    let end = fmt
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| bad("the format string is not NUL-terminated"))?;
    let f = &fmt[..end];
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut n = 0usize; // conversions so far
    let mut room = BIN_ARGS; // space left in the kernel's argument buffer
    let mut i = 0;
    while i < f.len() {
        let c = f[i];
        if c.is_ascii()
            && !(c.is_ascii_graphic() || c == b' ' || c.is_ascii_whitespace() || c == 0x0b)
        {
            return Err(bad(&format!("control character {c:#04x} in the format")));
        }
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        if at(i + 1) == b'%' {
            out.push(b'%');
            i += 2;
            continue;
        }
        if n >= args.len() {
            return Err(bad(&format!(
                "more conversions than the {} arguments",
                args.len()
            )));
        }
        let arg = args[n];
        i += 1;
        if !at(i).is_ascii() {
            return Err(bad("a non-ASCII byte after %"));
        }
        let mut spec = Spec::default();
        while matches!(at(i), b'0' | b'+' | b'-' | b' ') {
            match at(i) {
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b'-' => spec.left = true,
                _ => spec.space = true,
            }
            i += 1;
        }
        if (b'1'..=b'9').contains(&at(i)) {
            while at(i).is_ascii_digit() {
                spec.width = spec
                    .width
                    .saturating_mul(10)
                    .saturating_add((at(i) - b'0') as usize);
                i += 1;
            }
        }
        let ends_word =
            |b: u8| b == 0 || b.is_ascii_whitespace() || b == 0x0b || b.is_ascii_punctuation();
        match at(i) {
            b'p' => {
                let next = at(i + 1);
                if ends_word(next) {
                    pointer(&mut out, &spec, arg);
                    room = take_arg(room, 8)?;
                    i += 1;
                } else if matches!(next, b'k' | b'u') && at(i + 2) == b's' {
                    if !ends_word(at(i + 3)) {
                        return Err(bad("%pks/%pus must end the word"));
                    }
                    room = string(&mut out, &spec, arg, room, mem)?;
                    i += 3;
                } else if matches!(next, b'K' | b'x') {
                    pointer(&mut out, &spec, arg);
                    room = take_arg(room, 8)?;
                    i += 2;
                } else if matches!(next, b's' | b'S' | b'B') {
                    let s = format!("{:#x}", arg);
                    spec.pad(&mut out, s.as_bytes());
                    room = if next == b'B' {
                        room.checked_sub(s.len() + 1)
                            .ok_or((ENOSPC, "out of argument space".into()))?
                    } else {
                        take_arg(room, 8)?
                    };
                    i += 2;
                } else if matches!(next, b'i' | b'I') && matches!(at(i + 2), b'4' | b'6') {
                    let v6 = at(i + 2) == b'6';
                    let len = if v6 { 16 } else { 4 };
                    if room < len {
                        return Err((ENOSPC, "out of argument space".into()));
                    }
                    let ip = mem.bytes_at(arg, len).unwrap_or_else(|| vec![0; len]);
                    let s = ip_string(&ip, next == b'I');
                    room = room.saturating_sub(s.len() + 1);
                    spec.pad(&mut out, s.as_bytes());
                    i += 3;
                } else {
                    return Err(bad(&format!(
                        "unsupported pointer conversion %p{}",
                        next as char
                    )));
                }
            }
            b's' => {
                if !ends_word(at(i + 1)) {
                    return Err(bad("%s must end the word"));
                }
                room = string(&mut out, &spec, arg, room, mem)?;
                i += 1;
            }
            b'c' => {
                if room == 0 {
                    return Err((ENOSPC, "out of argument space".into()));
                }
                room -= 1;
                spec.pad(&mut out, &[arg as u8]);
                i += 1;
            }
            _ => {
                let mut size = 4;
                if at(i) == b'l' {
                    size = 8;
                    i += 1;
                }
                if at(i) == b'l' {
                    i += 1;
                }
                let conv = at(i);
                let v = if size == 8 { arg } else { arg as u32 as u64 };
                match conv {
                    b'd' | b'i' => {
                        let s = if size == 8 {
                            v as i64
                        } else {
                            v as u32 as i32 as i64
                        };
                        spec.number(&mut out, s < 0, true, &s.unsigned_abs().to_string());
                    }
                    b'u' => spec.number(&mut out, false, false, &v.to_string()),
                    b'x' => spec.number(&mut out, false, false, &format!("{v:x}")),
                    b'X' => spec.number(&mut out, false, false, &format!("{v:X}")),
                    _ => {
                        return Err(bad(&format!(
                            "unsupported conversion %{}",
                            if conv == 0 {
                                "<end>".to_string()
                            } else {
                                (conv as char).to_string()
                            }
                        )));
                    }
                }
                room = take_arg(room, size)?;
                i += 1;
            }
        }
        n += 1;
    }
    Ok(out)
}

/// Room left after aligning to 4 and storing a `size`-byte argument.
fn take_arg(room: usize, size: usize) -> Result<usize, (i32, String)> {
    let used = BIN_ARGS - room;
    let aligned = used.next_multiple_of(4);
    let left = BIN_ARGS.saturating_sub(aligned);
    left.checked_sub(size)
        .ok_or((ENOSPC, "out of argument space".to_string()))
}

fn pointer(out: &mut Vec<u8>, spec: &Spec, v: u64) {
    let width = if spec.width == 0 { 16 } else { spec.width };
    let s = format!("{v:0width$x}");
    let sp = Spec { width, ..*spec };
    sp.pad(out, s.as_bytes());
}

fn string(
    out: &mut Vec<u8>,
    spec: &Spec,
    addr: u64,
    room: usize,
    mem: &dyn ArgMemory,
) -> Result<usize, (i32, String)> {
    if room == 0 {
        return Err((ENOSPC, "out of argument space".into()));
    }
    // The kernel copies at most `room - 1` bytes plus the NUL; an unreadable string is "".
    let s = mem.str_at(addr, room).unwrap_or_default();
    spec.pad(out, &s);
    Ok(room - (s.len() + 1))
}

fn ip_string(ip: &[u8], dotted_or_colons: bool) -> String {
    if ip.len() == 4 {
        let parts: Vec<String> = ip
            .iter()
            .map(|b| {
                if dotted_or_colons {
                    b.to_string()
                } else {
                    format!("{b:03}")
                }
            })
            .collect();
        return parts.join(".");
    }
    let groups: Vec<String> = ip
        .chunks(2)
        .map(|g| format!("{:02x}{:02x}", g[0], g[1]))
        .collect();
    if dotted_or_colons {
        groups.join(":")
    } else {
        groups.concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoMem;
    impl ArgMemory for NoMem {
        fn str_at(&self, _: u64, _: usize) -> Option<Vec<u8>> {
            None
        }
        fn bytes_at(&self, _: u64, _: usize) -> Option<Vec<u8>> {
            None
        }
    }

    fn fmt(f: &str, args: &[u64]) -> Result<String, i32> {
        let mut b = f.as_bytes().to_vec();
        b.push(0);
        format(&b, args, &NoMem)
            .map(|v| String::from_utf8(v).unwrap())
            .map_err(|e| e.0)
    }

    #[test]
    fn numbers() {
        assert_eq!(
            fmt("%d %i %u", &[-5i64 as u64, 7, -1i64 as u64]).unwrap(),
            "-5 7 4294967295"
        );
        assert_eq!(
            fmt("%ld %lu %llx", &[-5i64 as u64, u64::MAX, 0xabc]).unwrap(),
            "-5 18446744073709551615 abc"
        );
        assert_eq!(
            fmt("[%5d|%-5d|%05d]", &[42, 42, 42]).unwrap(),
            "[   42|42   |00042]"
        );
        assert_eq!(
            fmt("[%+d|% d|%05d]", &[3, 3, -42i64 as u64]).unwrap(),
            "[+3| 3|-0042]"
        );
        assert_eq!(
            fmt("%x %X %08x", &[255, 255, 0xbeef]).unwrap(),
            "ff FF 0000beef"
        );
        assert_eq!(fmt("100%%", &[]).unwrap(), "100%");
        assert_eq!(fmt("%c%c", &[b'o' as u64, b'k' as u64]).unwrap(), "ok");
    }

    #[test]
    fn pointers_and_errors() {
        assert_eq!(fmt("%p", &[0]).unwrap(), "0000000000000000");
        assert_eq!(fmt("%px.", &[0x1234]).unwrap(), "0000000000001234.");
        assert_eq!(fmt("%ps", &[0x10]).unwrap(), "0x10");
        assert_eq!(fmt("%pI4", &[0]).unwrap(), "0.0.0.0");
        assert_eq!(fmt("%s|", &[0]).unwrap(), "|");
        assert_eq!(fmt("%d %d", &[1]), Err(EINVAL));
        assert_eq!(fmt("%hd", &[1]), Err(EINVAL));
        assert_eq!(fmt("%.2d", &[1]), Err(EINVAL));
        assert_eq!(fmt("%#x", &[1]), Err(EINVAL));
        assert_eq!(fmt("%pa", &[1]), Err(EINVAL));
        assert_eq!(fmt("%sx", &[1]), Err(EINVAL));
        assert_eq!(fmt("bell\x07", &[]), Err(EINVAL));
        assert!(format(b"no nul", &[], &NoMem).is_err());
    }

    #[test]
    fn ip_addresses() {
        assert_eq!(ip_string(&[10, 0, 0, 1], true), "10.0.0.1");
        assert_eq!(ip_string(&[10, 0, 0, 1], false), "010.000.000.001");
        let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            ip_string(&v6, true),
            "2001:0db8:0000:0000:0000:0000:0000:0001"
        );
        assert_eq!(ip_string(&v6, false), "20010db8000000000000000000000001");
    }
}
