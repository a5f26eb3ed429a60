//! `bpfvet-cases`: the data-driven verifier corpus. Each `data/*.case` file holds many cases:
//!
//! ```text
//! # comment
//! case stack store below the frame
//! type socket_filter              # kernel program type name (default socket_filter)
//! map 0 hash key=4 value=8 max=16 # maps by index: type name, sizes, optional flags=N
//! reject                          # or: accept
//! error invalid write to stack R10 off=-520 size=8
//! code
//!     r0 = 0
//!     *(u64 *)(r10 - 520) = r0
//!     exit
//! ```
//!
//! The code (every line after `code` up to the next `case`) is the llvm assembly dialect; `r1 = map_fd(N) ll` / `map_value(N, OFF)` name the
//! case's map N (the harness substitutes real fds for the kernel). `error` is the kernel's
//! message: the last line of its level-1 log that is not a statistics line (`processed`,
//! `verification time`, `stack depth`) or a state dump (`cur state:`, `old state:`). A case may carry
//! `differs <reason>` when bpfvet knowingly decides otherwise (the reason is reported).
//! [`kernel_verdict`] loads a case into the running kernel (see `bpfvet-kernel`).

use std::path::{Path, PathBuf};

use bpfvet_isa::insn::{Imm64Kind, Insn};
use bpfvet_isa::{Dialect, Program, asm, uapi};

/// A map the case uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
}

/// What the case expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Accept,
    Reject { error: Option<String> },
}

/// One case.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub file: String,
    pub line: usize,
    pub prog_type: u32,
    pub prog_type_name: String,
    pub maps: Vec<MapDef>,
    pub license: String,
    pub expect: Expect,
    /// bpfvet knowingly disagrees with the kernel here, and why.
    pub differs: Option<String>,
    pub program: Program,
}

/// A parse error naming the file and line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseError(pub String);

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The corpus directory.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Every case of every data file, in file order.
pub fn all_cases() -> Result<Vec<Case>, CaseError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .map_err(|e| CaseError(format!("{}: {e}", data_dir().display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "case"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(&f).map_err(|e| CaseError(format!("{}: {e}", f.display())))?;
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        out.extend(parse(&name, &text)?);
    }
    Ok(out)
}

fn num(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses one data file.
pub fn parse(file: &str, text: &str) -> Result<Vec<Case>, CaseError> {
    struct Partial {
        name: String,
        line: usize,
        ty: String,
        maps: Vec<MapDef>,
        license: String,
        expect: Option<Expect>,
        differs: Option<String>,
        code: Option<String>,
    }
    let mut cases = Vec::new();
    let mut cur: Option<Partial> = None;
    let err = |line: usize, m: String| CaseError(format!("{file}:{line}: {m}"));
    let finish = |p: Partial, out: &mut Vec<Case>| -> Result<(), CaseError> {
        let line = p.line;
        let code = p
            .code
            .ok_or_else(|| err(line, format!("case '{}' has no code", p.name)))?;
        let expect = p.expect.ok_or_else(|| {
            err(
                line,
                format!("case '{}' says neither accept nor reject", p.name),
            )
        })?;
        let prog_type = uapi::id_of(uapi::PROG_TYPES, &p.ty)
            .ok_or_else(|| err(line, format!("unknown program type {}", p.ty)))?;
        let insns = asm::assemble(&code, Dialect::Llvm)
            .map_err(|e| err(line, format!("case '{}': code line {e}", p.name)))?;
        out.push(Case {
            name: p.name,
            file: file.to_string(),
            line,
            prog_type,
            prog_type_name: p.ty,
            maps: p.maps,
            license: p.license,
            expect,
            differs: p.differs,
            program: Program::from_insns(insns),
        });
        Ok(())
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let in_code = cur.as_ref().is_some_and(|c| c.code.is_some());
        // Inside `code`, every line up to the next `case` is assembly (labels may start at
        // column 0).
        if in_code && !raw.starts_with("case ") {
            let c = cur.as_mut().expect("in a case");
            let code = c.code.as_mut().expect("code");
            code.push_str(raw.trim());
            code.push('\n');
            continue;
        }
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        if key == "case" {
            if let Some(p) = cur.take() {
                finish(p, &mut cases)?;
            }
            cur = Some(Partial {
                name: rest.to_string(),
                line: n,
                ty: "socket_filter".into(),
                maps: Vec::new(),
                license: "GPL".into(),
                expect: None,
                differs: None,
                code: None,
            });
            continue;
        }
        let Some(c) = cur.as_mut() else {
            return Err(err(n, format!("'{key}' outside a case")));
        };
        match key {
            "type" => c.ty = rest.to_string(),
            "license" => c.license = rest.to_string(),
            "accept" => c.expect = Some(Expect::Accept),
            "reject" => c.expect = Some(Expect::Reject { error: None }),
            "error" => {
                c.expect = Some(Expect::Reject {
                    error: Some(raw.trim_start()["error".len()..].trim().to_string()),
                })
            }
            "differs" => c.differs = Some(rest.to_string()),
            "code" => c.code = Some(String::new()),
            "map" => {
                let mut it = rest.split_whitespace();
                let idx: usize = it
                    .next()
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| err(n, "map index".into()))?;
                if idx != c.maps.len() {
                    return Err(err(n, format!("map {idx} out of order")));
                }
                let ty = it.next().ok_or_else(|| err(n, "map type".into()))?;
                let map_type = uapi::id_of(uapi::MAP_TYPES, ty)
                    .ok_or_else(|| err(n, format!("unknown map type {ty}")))?;
                let mut m = MapDef {
                    map_type,
                    key_size: 4,
                    value_size: 8,
                    max_entries: 1,
                    flags: 0,
                };
                for kv in it {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| err(n, format!("expected key=value, found {kv}")))?;
                    let v = num(v).ok_or_else(|| err(n, format!("bad number {v}")))?;
                    match k {
                        "key" => m.key_size = v,
                        "value" => m.value_size = v,
                        "max" => m.max_entries = v,
                        "flags" => m.flags = v,
                        _ => return Err(err(n, format!("unknown map attribute {k}"))),
                    }
                }
                c.maps.push(m);
            }
            _ => return Err(err(n, format!("unknown directive '{key}'"))),
        }
    }
    if let Some(p) = cur.take() {
        finish(p, &mut cases)?;
    }
    Ok(cases)
}

/// The kernel's decision on a case.
#[derive(Clone, Debug)]
pub struct KernelVerdict {
    pub accepted: bool,
    pub errno: Option<i32>,
    /// The rejection line (see the crate docs), empty when accepted.
    pub error_line: String,
    pub log: String,
}

/// The message line of a kernel log: the last line that is not a statistics line.
pub fn error_line(log: &str) -> String {
    log.lines()
        .rev()
        .map(str::trim)
        .find(|l| {
            !l.is_empty()
                && !l.starts_with("processed ")
                && !l.starts_with("verification time")
                && !l.starts_with("stack depth")
                && !l.starts_with("cur state:")
                && !l.starts_with("old state:")
        })
        .map(|l| match l.find("processed ") {
            // A message the kernel logs without a newline is glued to the statistics.
            Some(i) if i > 0 && l.ends_with(char::is_numeric) && l.contains("mark_read") => &l[..i],
            _ => l,
        })
        .unwrap_or("")
        .to_string()
}

/// Loads `case` into the running kernel with its maps; map references become real fds.
pub fn kernel_verdict(case: &Case) -> Result<KernelVerdict, String> {
    let mut fds = Vec::new();
    for m in &case.maps {
        let fd = bpfvet_kernel::create_map(&bpfvet_kernel::MapSpec {
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            flags: m.flags,
            name: String::new(),
            inner_map_fd: None,
        })
        .map_err(|e| format!("{}:{}: map: {e}", case.file, case.line))?;
        fds.push(fd);
    }
    let insns: Vec<Insn> = case
        .program
        .insns()
        .iter()
        .map(|i| match *i {
            Insn::LdImm64 {
                dst,
                kind: kind @ (Imm64Kind::MapFd | Imm64Kind::MapValue),
                imm,
                next_imm,
            } => Insn::LdImm64 {
                dst,
                kind,
                imm: fds.get(imm as usize).map_or(imm, |f| f.0),
                next_imm,
            },
            other => other,
        })
        .collect();
    let bytes = Program::from_insns(insns).encode();
    let o = bpfvet_kernel::load_program(&bpfvet_kernel::ProgLoad {
        prog_type: case.prog_type,
        insns: &bytes,
        license: &case.license,
        log_level: 1,
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    Ok(KernelVerdict {
        accepted: o.fd.is_some(),
        errno: o.errno,
        error_line: if o.fd.is_some() {
            String::new()
        } else {
            error_line(&o.log)
        },
        log: o.log,
    })
}
