//! The data-file parser: text to [`Case`]s. The format is described in the crate docs.

use bpfvet_isa::{Program, uapi};

use crate::case::{Case, CaseError, Expect, MapDef};
use crate::code;
use crate::names::{MAP_FLAGS, PROG_FLAGS, errno_by_name, flag_set, parse_int};

/// A case being read.
struct Draft {
    name: String,
    line: usize,
    ty: String,
    attach: Option<u32>,
    prog_flags: u32,
    maps: Vec<MapDef>,
    license: String,
    /// `Some(true)` for `accept`, `Some(false)` for `reject`.
    verdict: Option<bool>,
    error: Option<String>,
    errno: Option<i32>,
    log: Vec<String>,
    retval: Option<u32>,
    data: Option<Vec<u8>>,
    differs: Option<String>,
    funcs: Vec<crate::funcs::FuncDef>,
    /// The line of `code`, once seen; then every line is code.
    code_line: Option<usize>,
    code: Vec<(usize, String)>,
}

impl Draft {
    fn new(name: &str, line: usize) -> Draft {
        Draft {
            name: name.to_string(),
            line,
            ty: "socket_filter".into(),
            attach: None,
            prog_flags: 0,
            maps: Vec::new(),
            license: "GPL".into(),
            verdict: None,
            error: None,
            errno: None,
            log: Vec::new(),
            retval: None,
            data: None,
            differs: None,
            funcs: Vec::new(),
            code_line: None,
            code: Vec::new(),
        }
    }
}

/// Parses one data file; `file` names it in errors and in [`Case::file`].
pub fn parse(file: &str, text: &str) -> Result<Vec<Case>, CaseError> {
    let mut cases = Vec::new();
    let mut cur: Option<Draft> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let err = |m: String| CaseError(format!("{file}:{n}: {m}"));
        if let Some(name) = raw.strip_prefix("case ") {
            if let Some(d) = cur.take() {
                cases.push(finish(file, d)?);
            }
            let name = name.trim();
            if name.is_empty() {
                return Err(err("`case` needs a name".into()));
            }
            if let Some(prev) = cases.iter().find(|c: &&Case| c.name == name) {
                return Err(err(format!(
                    "case `{name}` is already defined at line {}",
                    prev.line
                )));
            }
            cur = Some(Draft::new(name, n));
            continue;
        }
        // Inside `code`, every line up to the next `case` is code (labels may start at
        // column 0).
        if let Some(d) = cur.as_mut().filter(|d| d.code_line.is_some()) {
            d.code.push((n, raw.to_string()));
            continue;
        }
        let t = raw.trim();
        let (key, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        // Messages keep their `#` (helpers print as `name#id`); elsewhere `#` starts a comment.
        let value = match key {
            "error" | "log" | "differs" => rest.trim(),
            _ => rest.split('#').next().unwrap_or("").trim(),
        };
        if key.is_empty() || key.starts_with('#') {
            continue;
        }
        let Some(d) = cur.as_mut() else {
            return Err(err(format!("'{key}' outside a case")));
        };
        directive(d, key, value).map_err(err)?;
        if key == "code" {
            d.code_line = Some(n);
        }
    }
    if let Some(d) = cur.take() {
        cases.push(finish(file, d)?);
    }
    Ok(cases)
}

fn set_once<T>(slot: &mut Option<T>, key: &str, v: T) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("`{key}` is given twice"));
    }
    *slot = Some(v);
    Ok(())
}

fn need(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("`{key}` needs a value"))
    } else {
        Ok(())
    }
}

fn directive(d: &mut Draft, key: &str, value: &str) -> Result<(), String> {
    match key {
        "type" => {
            need(key, value)?;
            d.ty = value.to_string();
        }
        "attach" => {
            need(key, value)?;
            let id = uapi::id_of(uapi::ATTACH_TYPES, value)
                .ok_or_else(|| format!("unknown attach type `{value}`"))?;
            set_once(&mut d.attach, key, id)?;
        }
        "flags" => {
            need(key, value)?;
            d.prog_flags = flag_set(value, PROG_FLAGS, "program flag")?;
        }
        "license" => d.license = value.to_string(),
        "accept" | "reject" => {
            let v = key == "accept";
            if d.verdict.is_some_and(|x| x != v) {
                return Err("a case is either `accept` or `reject`".into());
            }
            d.verdict = Some(v);
        }
        "error" => {
            need(key, value)?;
            set_once(&mut d.error, key, value.to_string())?;
        }
        "errno" => {
            need(key, value)?;
            let e = errno_by_name(value)
                .ok_or_else(|| format!("unknown errno `{value}` (write e.g. EINVAL)"))?;
            set_once(&mut d.errno, key, e)?;
        }
        "log" => {
            need(key, value)?;
            d.log.push(value.to_string());
        }
        "retval" => {
            need(key, value)?;
            let v = parse_int(value)
                .filter(|v| (i32::MIN as i64..=u32::MAX as i64).contains(v))
                .ok_or_else(|| format!("retval `{value}` is not a 32-bit number"))?;
            set_once(&mut d.retval, key, v as u32)?;
        }
        "data" => set_once(&mut d.data, key, hex_bytes(value)?)?,
        "differs" => d.differs = Some(value.to_string()),
        "func" => d.funcs.push(crate::funcs::parse_func(value)?),
        "code" => {}
        "map" => {
            let m = map_line(value, &d.maps)?;
            d.maps.push(m);
        }
        _ => return Err(format!("unknown directive '{key}'")),
    }
    Ok(())
}

/// `IDX TYPE [key=K] [value=V] [max=M] [flags=F] [inner=I] [freeze]`; sizes default to a
/// 4-byte key, an 8-byte value and one entry.
fn map_line(v: &str, earlier: &[MapDef]) -> Result<MapDef, String> {
    let mut it = v.split_whitespace();
    let idx: usize = it.next().and_then(|x| x.parse().ok()).ok_or("map index")?;
    if idx != earlier.len() {
        return Err(format!("map {idx} out of order"));
    }
    let ty = it.next().ok_or("map type")?;
    let map_type =
        uapi::id_of(uapi::MAP_TYPES, ty).ok_or_else(|| format!("unknown map type {ty}"))?;
    let mut m = MapDef {
        map_type,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        flags: 0,
        inner: None,
        freeze: false,
    };
    for kv in it {
        if kv == "freeze" {
            m.freeze = true;
            continue;
        }
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("expected key=value or `freeze`, found {kv}"))?;
        let num = || {
            parse_int(v)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("bad number {v}"))
        };
        match k {
            "key" => m.key_size = num()?,
            "value" => m.value_size = num()?,
            "max" => m.max_entries = num()?,
            "flags" => m.flags = flag_set(v, MAP_FLAGS, "map flag")?,
            "inner" => {
                let i = num()? as usize;
                if i >= earlier.len() {
                    return Err(format!("inner={i}: no map {i} is defined before this one"));
                }
                m.inner = Some(i);
            }
            _ => return Err(format!("unknown map attribute {k}")),
        }
    }
    Ok(m)
}

fn hex_bytes(v: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = v.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(format!("data `{v}` is not an even number of hex digits"));
    }
    Ok(digits
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).unwrap_or("00");
            u8::from_str_radix(s, 16).unwrap_or(0)
        })
        .collect())
}

fn finish(file: &str, d: Draft) -> Result<Case, CaseError> {
    let at = |line: usize, m: String| CaseError(format!("{file}:{line}: case '{}': {m}", d.name));
    // `error` or `errno` alone mean `reject`.
    let rejects = d.error.is_some() || d.errno.is_some();
    let accept = match d.verdict {
        Some(true) if rejects => {
            return Err(at(
                d.line,
                "`error` and `errno` belong to rejected cases".into(),
            ));
        }
        Some(v) => v,
        None if rejects => false,
        None => return Err(at(d.line, "says neither accept nor reject".into())),
    };
    if !accept && (d.retval.is_some() || d.data.is_some()) {
        return Err(at(
            d.line,
            "`retval` and `data` belong to accepted cases".into(),
        ));
    }
    let expect = if accept {
        Expect::Accept
    } else {
        Expect::Reject { error: d.error }
    };
    let prog_type = uapi::id_of(uapi::PROG_TYPES, &d.ty)
        .ok_or_else(|| at(d.line, format!("unknown program type {}", d.ty)))?;
    let Some(code_line) = d.code_line else {
        return Err(at(d.line, "has no code".into()));
    };
    let code = code::assemble(&d.code)
        .map_err(|(line, m)| at(if line == 0 { code_line } else { line }, m))?;
    if !d.funcs.is_empty()
        && let Some(p) = &code.program
    {
        crate::funcs::build(p, prog_type, &d.funcs).map_err(|m| at(d.line, m))?;
    }
    Ok(Case {
        name: d.name,
        file: file.to_string(),
        line: d.line,
        prog_type,
        prog_type_name: d.ty,
        expected_attach_type: d.attach,
        prog_flags: d.prog_flags,
        maps: d.maps,
        license: d.license,
        expect,
        errno: d.errno,
        log: d.log,
        retval: d.retval,
        data: d.data,
        differs: d.differs,
        funcs: d.funcs,
        program: code
            .program
            .unwrap_or_else(|| Program::from_insns(Vec::new())),
        bytes: code.bytes,
        map_refs: code.map_refs,
        has_raw: code.has_raw,
        kfuncs: code.kfuncs,
    })
}
