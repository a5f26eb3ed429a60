//! `.BTF.ext`: per-section func_info, line_info and CO-RE relocation records,
//! validated against the object's `.BTF`, plus the line lookup by instruction.

use crate::btf::{BTF_MAGIC, Btf, Words};
use crate::types::{Kind, TypeId};
use std::fmt;

/// Minimum record sizes: func_info, line_info, core_relo.
const MIN_REC: [u32; 3] = [8, 16, 16];
/// Subsection names as errors print them.
const SUBSECTIONS: [&str; 3] = ["func_info", "line_info", "core_relo"];

/// Something wrong in `.BTF.ext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfExtError {
    /// Header missing, bad magic/version/flags or lengths.
    BadHeader(String),
    /// A subsection's layout is wrong (offsets, record size, counts).
    BadSubsection {
        /// `func_info`, `line_info` or `core_relo`.
        subsection: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A record refers to something that does not exist.
    BadRecord {
        /// `func_info`, `line_info` or `core_relo`.
        subsection: &'static str,
        /// Section name (or `#n` if the name itself is bad).
        section: String,
        /// Record index within the section.
        record: usize,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for BtfExtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfExtError::BadHeader(s) => write!(f, "bad .BTF.ext header: {s}"),
            BtfExtError::BadSubsection { subsection, reason } => {
                write!(f, ".BTF.ext {subsection}: {reason}")
            }
            BtfExtError::BadRecord {
                subsection,
                section,
                record,
                reason,
            } => write!(
                f,
                ".BTF.ext {subsection} of section '{section}', record #{record}: {reason}"
            ),
        }
    }
}

impl std::error::Error for BtfExtError {}

/// One func_info record: a (sub)program start and its FUNC type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset of the first instruction in the section.
    pub insn_off: u32,
    /// The FUNC type.
    pub type_id: TypeId,
}

/// One line_info record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset of the instruction in the section.
    pub insn_off: u32,
    /// Source file name.
    pub file_name: String,
    /// Source line text.
    pub line: String,
    /// Line number (`line_col >> 10`).
    pub line_num: u32,
    /// Column (`line_col & 0x3ff`).
    pub col: u32,
}

/// The thirteen CO-RE relocation kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CoreReloKind {
    /// Byte offset of a field.
    FieldByteOffset = 0,
    /// Byte size of a field.
    FieldByteSize = 1,
    /// Whether a field exists.
    FieldExists = 2,
    /// Whether a field is signed.
    FieldSigned = 3,
    /// Left shift for bitfield extraction.
    FieldLshiftU64 = 4,
    /// Right shift for bitfield extraction.
    FieldRshiftU64 = 5,
    /// Type id in the local BTF.
    TypeIdLocal = 6,
    /// Type id in the target BTF.
    TypeIdTarget = 7,
    /// Whether a type exists.
    TypeExists = 8,
    /// Size of a type.
    TypeSize = 9,
    /// Whether an enumerator exists.
    EnumvalExists = 10,
    /// Value of an enumerator.
    EnumvalValue = 11,
    /// Whether a type matches (stricter than exists).
    TypeMatches = 12,
}

/// Kinds in numeric order with libbpf's short names.
pub const CORE_RELO_KINDS: [(CoreReloKind, &str); 13] = [
    (CoreReloKind::FieldByteOffset, "byte_off"),
    (CoreReloKind::FieldByteSize, "byte_sz"),
    (CoreReloKind::FieldExists, "field_exists"),
    (CoreReloKind::FieldSigned, "signed"),
    (CoreReloKind::FieldLshiftU64, "lshift_u64"),
    (CoreReloKind::FieldRshiftU64, "rshift_u64"),
    (CoreReloKind::TypeIdLocal, "local_type_id"),
    (CoreReloKind::TypeIdTarget, "target_type_id"),
    (CoreReloKind::TypeExists, "type_exists"),
    (CoreReloKind::TypeSize, "type_size"),
    (CoreReloKind::EnumvalExists, "enumval_exists"),
    (CoreReloKind::EnumvalValue, "enumval_value"),
    (CoreReloKind::TypeMatches, "type_matches"),
];

impl CoreReloKind {
    /// The kind with this number.
    pub fn from_u32(n: u32) -> Option<CoreReloKind> {
        CORE_RELO_KINDS.get(n as usize).map(|&(k, _)| k)
    }

    /// libbpf's short name (`byte_off`, `enumval_value`, ...).
    pub fn name(self) -> &'static str {
        CORE_RELO_KINDS[self as usize].1
    }

    /// Field-based kinds (0..=5).
    pub fn is_field(self) -> bool {
        (self as u32) <= 5
    }

    /// Type-based kinds (6..=9 and 12).
    pub fn is_type(self) -> bool {
        matches!(self as u32, 6..=9 | 12)
    }

    /// Enumerator-based kinds (10, 11).
    pub fn is_enumval(self) -> bool {
        matches!(self as u32, 10 | 11)
    }
}

impl fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One CO-RE relocation record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the instruction in the section.
    pub insn_off: u32,
    /// Root type in the local (program's) BTF.
    pub type_id: TypeId,
    /// Access string, e.g. `0:1:2`.
    pub access: String,
    /// Raw kind number (see [`CoreRelo::kind`]).
    pub kind_raw: u32,
}

impl CoreRelo {
    /// The kind, if it is one of the thirteen known.
    pub fn kind(&self) -> Option<CoreReloKind> {
        CoreReloKind::from_u32(self.kind_raw)
    }
}

/// Records of one code section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtSection<T> {
    /// ELF section name (e.g. `xdp`, `.text`).
    pub name: String,
    /// Records in file order.
    pub records: Vec<T>,
}

/// Parsed `.BTF.ext`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BtfExt {
    /// func_info per section.
    pub func_info: Vec<ExtSection<FuncInfo>>,
    /// line_info per section.
    pub line_info: Vec<ExtSection<LineInfo>>,
    /// CO-RE relocations per section.
    pub core_relos: Vec<ExtSection<CoreRelo>>,
    /// Record sizes from the file (func_info, line_info, core_relo; 0 if absent).
    pub rec_sizes: [u32; 3],
}

/// One subsection's raw records: (section name, record byte slices).
type RawSub<'a> = Vec<(String, Vec<&'a [u8]>)>;

impl BtfExt {
    /// Parses `.BTF.ext` bytes (little-endian; big-endian must match `btf`'s),
    /// resolving and checking string offsets and type ids against `btf`.
    pub fn parse(bytes: &[u8], btf: &Btf) -> Result<BtfExt, BtfExtError> {
        let hdr_err = |s: String| Err(BtfExtError::BadHeader(s));
        if bytes.len() < 8 {
            return hdr_err(format!("{} bytes, need at least 8", bytes.len()));
        }
        let magic = u16::from_le_bytes([bytes[0], bytes[1]]);
        let big_endian = if magic == BTF_MAGIC {
            false
        } else if magic == BTF_MAGIC.swap_bytes() {
            true
        } else {
            return hdr_err(format!("bad magic {magic:#06x}"));
        };
        if big_endian != btf.is_big_endian() {
            return hdr_err("endianness differs from .BTF".into());
        }
        if bytes[2] != 1 {
            return hdr_err(format!("unsupported version {}", bytes[2]));
        }
        if bytes[3] != 0 {
            return hdr_err(format!("unsupported flags {:#x}", bytes[3]));
        }
        let w = Words { bytes, big_endian };
        let hdr_len = w.u32(4).unwrap_or(0);
        if hdr_len as usize > bytes.len() {
            return hdr_err(format!(
                "header length {hdr_len} is larger than the data ({} bytes)",
                bytes.len()
            ));
        }
        if hdr_len < 24 {
            return hdr_err(format!(
                "header length {hdr_len} too small for func_info and line_info"
            ));
        }
        if hdr_len as usize == bytes.len() {
            return hdr_err("no data after the header".into());
        }
        let mut ext = BtfExt::default();
        let subs = if hdr_len >= 32 { 3 } else { 2 };
        for (sub, &sub_name) in SUBSECTIONS.iter().enumerate().take(subs) {
            let off = w.u32(8 + 8 * sub).unwrap_or(0);
            let len = w.u32(12 + 8 * sub).unwrap_or(0);
            let Some((rec_size, raw)) = split_subsection(w, hdr_len, off, len, sub, btf)? else {
                continue;
            };
            ext.rec_sizes[sub] = rec_size;
            match sub {
                0 => ext.func_info = decode(raw, w, sub_name, |at| func_info(at, btf))?,
                1 => ext.line_info = decode(raw, w, sub_name, |at| line_info(at, btf))?,
                _ => ext.core_relos = decode(raw, w, sub_name, |at| core_relo(at, btf))?,
            }
        }
        Ok(ext)
    }

    /// Line info records of a section.
    pub fn lines(&self, section: &str) -> &[LineInfo] {
        self.line_info
            .iter()
            .find(|s| s.name == section)
            .map(|s| s.records.as_slice())
            .unwrap_or(&[])
    }

    /// The line info covering instruction `insn_idx` of `section`: the last
    /// record (in file order) whose `insn_off <= insn_idx * 8`.
    pub fn line_at(&self, section: &str, insn_idx: usize) -> Option<&LineInfo> {
        let recs = self.lines(section);
        let target = (insn_idx as u64).checked_mul(8)?;
        let sorted = recs.windows(2).all(|p| p[0].insn_off <= p[1].insn_off);
        if sorted {
            let n = recs.partition_point(|r| r.insn_off as u64 <= target);
            n.checked_sub(1).map(|i| &recs[i])
        } else {
            recs.iter().rev().find(|r| r.insn_off as u64 <= target)
        }
    }

    /// func_info records of a section.
    pub fn funcs(&self, section: &str) -> &[FuncInfo] {
        self.func_info
            .iter()
            .find(|s| s.name == section)
            .map(|s| s.records.as_slice())
            .unwrap_or(&[])
    }

    /// CO-RE relocations of a section.
    pub fn relos(&self, section: &str) -> &[CoreRelo] {
        self.core_relos
            .iter()
            .find(|s| s.name == section)
            .map(|s| s.records.as_slice())
            .unwrap_or(&[])
    }
}

/// Checks a subsection's framing and returns its record size and raw records
/// grouped by section, or `None` when it is empty.
fn split_subsection<'a>(
    w: Words<'a>,
    hdr_len: u32,
    off: u32,
    len: u32,
    sub: usize,
    btf: &Btf,
) -> Result<Option<(u32, RawSub<'a>)>, BtfExtError> {
    let subsection = SUBSECTIONS[sub];
    let bad = |reason: String| Err(BtfExtError::BadSubsection { subsection, reason });
    if len == 0 {
        return Ok(None);
    }
    if !off.is_multiple_of(4) {
        return bad(format!("offset {off} is not 4-byte aligned"));
    }
    let start = hdr_len as u64 + off as u64;
    let end = start + len as u64;
    if end > w.bytes.len() as u64 {
        return bad(format!(
            "offset {off} + length {len} runs past the end ({} bytes)",
            w.bytes.len()
        ));
    }
    let (start, end) = (start as usize, end as usize);
    if len < 4 {
        return bad("no record size".into());
    }
    let rec_size = w.u32(start).unwrap_or(0);
    if rec_size < MIN_REC[sub] || !rec_size.is_multiple_of(4) {
        return bad(format!("invalid record size {rec_size}"));
    }
    if len == 4 {
        return bad("no records".into());
    }
    let mut pos = start + 4;
    let mut out = Vec::new();
    while pos < end {
        let left = end - pos;
        if left < 8 {
            return bad(format!("section header #{} truncated", out.len()));
        }
        let name_off = w.u32(pos).unwrap_or(0);
        let num = w.u32(pos + 4).unwrap_or(0);
        let name = match btf.str_at(name_off) {
            Some(s) if !s.is_empty() => s.to_owned(),
            _ => {
                return bad(format!(
                    "section #{} has invalid name offset {name_off}",
                    out.len()
                ));
            }
        };
        if num == 0 {
            return bad(format!("section '{name}' has no records"));
        }
        let total = 8 + num as u64 * rec_size as u64;
        if (left as u64) < total {
            return bad(format!(
                "section '{name}' claims {num} records of {rec_size} bytes but only {} bytes remain",
                left - 8
            ));
        }
        let recs = (0..num as usize)
            .map(|i| {
                let at = pos + 8 + i * rec_size as usize;
                &w.bytes[at..at + rec_size as usize]
            })
            .collect();
        out.push((name, recs));
        pos += total as usize;
    }
    Ok(Some((rec_size, out)))
}

fn decode<T>(
    raw: RawSub<'_>,
    w: Words<'_>,
    subsection: &'static str,
    f: impl Fn(&dyn Fn(usize) -> u32) -> Result<T, String>,
) -> Result<Vec<ExtSection<T>>, BtfExtError> {
    raw.into_iter()
        .map(|(name, recs)| {
            let records = recs
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let rw = Words {
                        bytes: r,
                        big_endian: w.big_endian,
                    };
                    let at = |k: usize| rw.u32(4 * k).unwrap_or(0);
                    f(&at).map_err(|reason| BtfExtError::BadRecord {
                        subsection,
                        section: name.clone(),
                        record: i,
                        reason,
                    })
                })
                .collect::<Result<Vec<T>, _>>()?;
            Ok(ExtSection { name, records })
        })
        .collect()
}

fn string(btf: &Btf, off: u32, what: &str) -> Result<String, String> {
    btf.str_at(off)
        .map(str::to_owned)
        .ok_or_else(|| format!("invalid {what} string offset {off}"))
}

fn func_info(at: &dyn Fn(usize) -> u32, btf: &Btf) -> Result<FuncInfo, String> {
    let type_id = TypeId(at(1));
    match btf.ty(type_id) {
        Ok(t) if t.kind() == Kind::Func => {}
        Ok(t) => return Err(format!("type [{}] is {}, not FUNC", type_id.0, t.kind())),
        Err(_) => return Err(format!("type id {} does not exist", type_id.0)),
    }
    Ok(FuncInfo {
        insn_off: at(0),
        type_id,
    })
}

fn line_info(at: &dyn Fn(usize) -> u32, btf: &Btf) -> Result<LineInfo, String> {
    let line_col = at(3);
    Ok(LineInfo {
        insn_off: at(0),
        file_name: string(btf, at(1), "file name")?,
        line: string(btf, at(2), "line")?,
        line_num: line_col >> 10,
        col: line_col & 0x3ff,
    })
}

fn core_relo(at: &dyn Fn(usize) -> u32, btf: &Btf) -> Result<CoreRelo, String> {
    let insn_off = at(0);
    if !insn_off.is_multiple_of(8) {
        return Err(format!(
            "instruction offset {insn_off} is not a multiple of 8"
        ));
    }
    let type_id = TypeId(at(1));
    if btf.ty(type_id).is_err() {
        return Err(format!("type id {} does not exist", type_id.0));
    }
    Ok(CoreRelo {
        insn_off,
        type_id,
        access: string(btf, at(2), "access")?,
        kind_raw: at(3),
    })
}
