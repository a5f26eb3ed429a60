//! `bpfvet inspect`: what an ELF object declares — programs (name, section, type, attach type
//! and target, instruction count), maps (name, type, sizes, max entries, flags, origin), the
//! license and kernel version — as a table or as JSON (a stable contract).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use bpfvet_loader::maps::{DataKind, MapOrigin};
use bpfvet_loader::{BpfObject, LoadOptions, MapDef, ProgramInfo};
use clap::Args;
use serde::Serialize;

use crate::error::CliError;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// ELF object built by clang (-target bpf)
    pub file: PathBuf,
    /// Print JSON instead of tables
    #[arg(long)]
    pub json: bool,
    /// Target BTF for CO-RE relocations (default: /sys/kernel/btf/vmlinux when present)
    #[arg(long)]
    pub btf: Option<PathBuf>,
}

/// Where CO-RE, kconfig and ksym externs resolve: the given BTF file, else the running
/// kernel's BTF when there is one; `LINUX_KERNEL_VERSION` and `CONFIG_*` from the running
/// kernel when readable.
pub fn load_options(name: String, btf: Option<&Path>) -> Result<LoadOptions, CliError> {
    let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
    let path = btf.or(vmlinux.exists().then_some(vmlinux));
    let target_btf = match path {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| CliError::io(p, &e))?;
            Some(std::sync::Arc::new(
                bpfvet_btf::Btf::parse(&bytes).map_err(|e| CliError::input(p, e.to_string()))?,
            ))
        }
        None => None,
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut nums = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    let kernel_version = match (nums.next(), nums.next(), nums.next()) {
        (Some(a), Some(b), c) => Some((a << 16) | (b << 8) | c.unwrap_or(0).min(255)),
        _ => None,
    };
    let mut kconfig = std::collections::HashMap::new();
    let config =
        std::fs::read_to_string(format!("/boot/config-{}", release.trim())).unwrap_or_default();
    for line in config.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = match v {
                "y" => Some(1),
                "m" => Some(2),
                "n" => Some(0),
                v if v.starts_with("0x") => u64::from_str_radix(&v[2..], 16).ok(),
                v => v.parse::<i64>().ok().map(|n| n as u64),
            };
            if let Some(v) = v {
                kconfig.insert(k.to_string(), v);
            }
        }
    }
    Ok(LoadOptions {
        name,
        target_btf,
        kernel_version,
        kconfig,
    })
}

/// Loads an ELF object as the loader prepares it; the object's name is the file stem.
pub fn load_object(path: &Path, btf: Option<&Path>) -> Result<BpfObject, CliError> {
    load_object_with_options(path, btf).map(|(o, _)| o)
}

/// [`load_object`], also returning the options used (target BTF, kernel version, kconfig).
pub fn load_object_with_options(
    path: &Path,
    btf: Option<&Path>,
) -> Result<(BpfObject, LoadOptions), CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::io(path, &e))?;
    if !bpfvet_loader::is_elf(&bytes) {
        return Err(CliError::input(path, "not an ELF object"));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.strip_suffix(".o").unwrap_or(n))
        .map(|n| n.strip_suffix(".bpf").unwrap_or(n))
        .unwrap_or("object")
        .to_string();
    let opts = load_options(name, btf)?;
    let obj = BpfObject::load(&bytes, &opts).map_err(|e| CliError::input(path, e.msg))?;
    Ok((obj, opts))
}

#[derive(Serialize)]
struct JsonObject<'a> {
    file: String,
    name: &'a str,
    license: &'a str,
    gpl_compatible: bool,
    kern_version: Option<u32>,
    programs: Vec<JsonProgram<'a>>,
    maps: Vec<JsonMap<'a>>,
    btf: Option<JsonBtf>,
}

#[derive(Serialize)]
struct JsonBtf {
    types: u32,
    func_info: usize,
    line_info: usize,
    core_relos: usize,
    core_applied: usize,
    core_poisoned: usize,
}

fn btf_facts(obj: &BpfObject) -> Option<JsonBtf> {
    let btf = obj.btf.as_ref()?;
    let ext = obj.btf_ext.as_ref();
    let code: Vec<&str> = obj
        .functions
        .iter()
        .map(|f| f.section_name.as_str())
        .collect();
    let count = |f: &dyn Fn(&bpfvet_btf::BtfExt, &str) -> usize| -> usize {
        let mut secs = code.clone();
        secs.sort();
        secs.dedup();
        ext.map_or(0, |e| secs.iter().map(|s| f(e, s)).sum())
    };
    Some(JsonBtf {
        types: btf.type_count(),
        func_info: count(&|e, s| e.funcs(s).len()),
        line_info: count(&|e, s| e.lines(s).len()),
        core_relos: count(&|e, s| e.relos(s).len()),
        core_applied: obj.core.iter().filter(|c| !c.poisoned).count(),
        core_poisoned: obj.core.iter().filter(|c| c.poisoned).count(),
    })
}

#[derive(Serialize)]
struct JsonProgram<'a> {
    name: &'a str,
    section: &'a str,
    #[serde(rename = "type")]
    prog_type: Option<&'static str>,
    expected_attach_type: Option<&'static str>,
    attach_target: Option<&'a str>,
    sleepable: bool,
    insns: usize,
    subprograms: Vec<&'a str>,
    unresolved: &'a [String],
}

#[derive(Serialize)]
struct JsonMap<'a> {
    name: &'a str,
    real_name: &'a str,
    #[serde(rename = "type")]
    map_type: String,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
    origin: &'static str,
    inner: Option<Box<JsonMap<'a>>>,
    pinning: u32,
    numa_node: Option<u32>,
    frozen: bool,
}

fn origin(m: &MapDef) -> &'static str {
    match m.origin {
        MapOrigin::Btf => "btf",
        MapOrigin::Legacy => "legacy",
        MapOrigin::Data(DataKind::Data) => "data",
        MapOrigin::Data(DataKind::Rodata) => "rodata",
        MapOrigin::Data(DataKind::Bss) => "bss",
        MapOrigin::Kconfig => "kconfig",
    }
}

fn json_map(m: &MapDef) -> JsonMap<'_> {
    JsonMap {
        name: &m.name,
        real_name: &m.real_name,
        map_type: m.type_name(),
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        flags: m.map_flags,
        origin: origin(m),
        inner: m.inner.as_deref().map(|i| Box::new(json_map(i))),
        pinning: m.pinning,
        numa_node: m.numa_node,
        frozen: m.frozen,
    }
}

fn json_program(p: &ProgramInfo) -> JsonProgram<'_> {
    let t = p.section_type.as_ref();
    JsonProgram {
        name: &p.name,
        section: &p.section,
        prog_type: t.map(|t| t.prog_type_name),
        expected_attach_type: t.and_then(|t| t.expected_attach_type_name),
        attach_target: t.and_then(|t| t.attach_target.as_deref()),
        sleepable: t.is_some_and(|t| t.sleepable()),
        insns: p.insn_count(),
        subprograms: p
            .placements
            .iter()
            .skip(1)
            .map(|pl| pl.name.as_str())
            .collect(),
        unresolved: &p.unresolved,
    }
}

pub fn run(a: &InspectArgs) -> Result<u8, CliError> {
    let obj = load_object(&a.file, a.btf.as_deref())?;
    if a.json {
        let j = JsonObject {
            file: a.file.display().to_string(),
            name: &obj.name,
            license: &obj.license,
            gpl_compatible: obj.gpl_compatible(),
            kern_version: obj.kern_version,
            programs: obj.programs.iter().map(json_program).collect(),
            maps: obj.maps.iter().map(json_map).collect(),
            btf: btf_facts(&obj),
        };
        let text = serde_json::to_string_pretty(&j).map_err(|e| CliError::usage(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", render(&a.file, &obj));
    }
    Ok(0)
}

/// Left-aligned columns with two spaces between them.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<width$}  ", width = w[i]);
            }
        }
        let _ = writeln!(out, "  {}", s.trim_end());
    };
    line(head.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// The human-readable report.
pub fn render(path: &Path, obj: &BpfObject) -> String {
    let mut out = String::new();
    let license = if obj.license.is_empty() {
        "none".to_string()
    } else {
        format!(
            "\"{}\" ({})",
            obj.license,
            if obj.gpl_compatible() {
                "GPL-compatible"
            } else {
                "not GPL-compatible"
            }
        )
    };
    let _ = writeln!(out, "{}: object {}", path.display(), obj.name);
    let _ = writeln!(out, "license: {license}");
    if let Some(v) = obj.kern_version {
        let _ = writeln!(out, "kernel version: {v:#x}");
    }
    let _ = writeln!(out, "\nprograms ({}):", obj.programs.len());
    let rows: Vec<Vec<String>> = obj
        .programs
        .iter()
        .map(|p| {
            let j = json_program(p);
            vec![
                p.name.clone(),
                p.section.clone(),
                j.prog_type.unwrap_or("?").to_string(),
                j.expected_attach_type.unwrap_or("-").to_string(),
                j.attach_target.unwrap_or("-").to_string(),
                p.insn_count().to_string(),
                if j.subprograms.is_empty() {
                    "-".into()
                } else {
                    j.subprograms.join(",")
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "NAME",
            "SECTION",
            "TYPE",
            "ATTACH",
            "TARGET",
            "INSNS",
            "SUBPROGRAMS",
        ],
        &rows,
    ));
    let _ = writeln!(out, "\nmaps ({}):", obj.maps.len());
    let rows: Vec<Vec<String>> = obj
        .maps
        .iter()
        .map(|m| {
            let mut kind = m.type_name();
            if let Some(i) = &m.inner {
                kind = format!(
                    "{kind}(inner {} {}/{}/{})",
                    i.type_name(),
                    i.key_size,
                    i.value_size,
                    i.max_entries
                );
            }
            vec![
                m.name.clone(),
                kind,
                m.key_size.to_string(),
                m.value_size.to_string(),
                m.max_entries.to_string(),
                format!("{:#x}", m.map_flags),
                origin(m).to_string(),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "NAME",
            "TYPE",
            "KEY",
            "VALUE",
            "MAX_ENTRIES",
            "FLAGS",
            "ORIGIN",
        ],
        &rows,
    ));
    match btf_facts(obj) {
        Some(b) => {
            let _ = writeln!(
                out,
                "\nBTF: {} types; {} functions, {} source lines, {} CO-RE relocations ({} applied, \
                 {} poisoned)",
                b.types, b.func_info, b.line_info, b.core_relos, b.core_applied, b.core_poisoned
            );
        }
        None => {
            let _ = writeln!(out, "\nBTF: none");
        }
    }
    for p in &obj.programs {
        for u in &p.unresolved {
            let _ = writeln!(out, "note: program {}: {u}", p.name);
        }
    }
    out
}
