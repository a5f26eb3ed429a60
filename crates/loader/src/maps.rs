//! Map definitions: what each map of an object is (type, sizes, flags, inner map, initial
//! contents), from the three places an object declares them: BTF-defined maps in `.maps`
//! (`btf_maps.rs`), the legacy `maps` section of `struct bpf_map_def` records, and global data
//! sections (`.data*`, `.rodata*`, `.bss*`, `.kconfig`) that become single-entry array maps.

use bpfvet_isa::uapi;

use crate::LoadError;
use crate::read::{ElfObject, SectionKind, SymbolKind};

/// `BPF_F_RDONLY_PROG`: the program may only read the map.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE`: the map's memory can be mmap'ed by user space.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// `BPF_MAP_TYPE_ARRAY`.
pub const MAP_TYPE_ARRAY: u32 = 2;

/// Where a map comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapOrigin {
    /// A BTF-defined map in `.maps`.
    Btf,
    /// A `struct bpf_map_def` record in the legacy `maps` section.
    Legacy,
    /// A global data section: `.data*`, `.rodata*` or `.bss*`.
    Data(DataKind),
    /// The `.kconfig` externs (`extern ... __kconfig`).
    Kconfig,
}

/// Which kind of global data section a map holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    Data,
    Rodata,
    Bss,
}

/// One map as the object defines it (before creation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// The name the kernel sees (at most 15 characters; libbpf's naming for global data).
    pub name: String,
    /// The full name in the object (the variable or the section name).
    pub real_name: String,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub numa_node: Option<u32>,
    /// `LIBBPF_PIN_*`: 0 none, 1 by name.
    pub pinning: u32,
    /// BTF type ids of key and value, when the definition gives types.
    pub btf_key_type_id: Option<u32>,
    pub btf_value_type_id: Option<u32>,
    /// The inner map's definition, for array-of-maps and hash-of-maps.
    pub inner: Option<Box<MapDef>>,
    /// Initial slots of a prog array or map-in-map: (index, program or map name).
    pub init_slots: Vec<(u32, String)>,
    pub origin: MapOrigin,
    /// Section and offset of the definition (relocations find maps by these).
    pub section: usize,
    pub section_offset: u64,
    /// Initial contents of a global data map (zeroes for `.bss`).
    pub initial_value: Option<Vec<u8>>,
    /// Frozen after creation: read-only for user space too (`.rodata`, `.kconfig`).
    pub frozen: bool,
}

impl MapDef {
    /// The map type's name (`hash`, `array`, ...), or its number.
    pub fn type_name(&self) -> String {
        match uapi::name_of(uapi::MAP_TYPES, self.map_type) {
            Some(n) => n.to_string(),
            None => format!("unknown({})", self.map_type),
        }
    }

    /// A definition with only its name, type, origin and place set.
    pub(crate) fn blank(
        name: String,
        map_type: u32,
        origin: MapOrigin,
        section: usize,
        off: u64,
    ) -> MapDef {
        MapDef {
            real_name: name.clone(),
            name,
            map_type,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            map_flags: 0,
            numa_node: None,
            pinning: 0,
            btf_key_type_id: None,
            btf_value_type_id: None,
            inner: None,
            init_slots: Vec::new(),
            origin,
            section,
            section_offset: off,
            initial_value: None,
            frozen: false,
        }
    }
}

/// Reads the legacy `maps` section: one `struct bpf_map_def` (type, key_size, value_size,
/// max_entries, map_flags as u32, possibly followed by more fields) per symbol. The record size
/// is the section size divided by the number of symbols, as libbpf did; fields we do not know
/// must be zero.
pub(crate) fn legacy_maps(elf: &ElfObject) -> Result<Vec<MapDef>, LoadError> {
    let Some(sec) = elf.section_by_name("maps") else {
        return Ok(Vec::new());
    };
    let syms: Vec<_> = elf
        .symbols_in(sec.index)
        .into_iter()
        .filter(|(_, s)| matches!(s.kind, SymbolKind::Object | SymbolKind::NoType))
        .collect();
    if syms.is_empty() {
        return Ok(Vec::new());
    }
    let size = sec.data.len();
    if size % syms.len() != 0 {
        return Err(LoadError::new(format!(
            "section maps: size {size} is not a multiple of its {} map symbols",
            syms.len()
        )));
    }
    let rec = size / syms.len();
    if rec < 20 {
        return Err(LoadError::new(format!(
            "section maps: map records of {rec} bytes are smaller than struct bpf_map_def (20)"
        )));
    }
    let mut maps = Vec::new();
    for (_, s) in syms {
        let off = s.value as usize;
        if !off.is_multiple_of(rec) || off + rec > size {
            return Err(LoadError::new(format!(
                "section maps: map {} at offset {off} is not a whole record of {rec} bytes",
                s.name
            )));
        }
        let r = &sec.data[off..off + rec];
        let word =
            |i: usize| u32::from_le_bytes([r[i * 4], r[i * 4 + 1], r[i * 4 + 2], r[i * 4 + 3]]);
        // Fields past struct bpf_map_def's five words must be zero, as libbpf 0.x required.
        if r[20..].iter().any(|&b| b != 0) {
            return Err(LoadError::new(format!(
                "section maps: map {} has unrecognised non-zero fields after byte 20 of its \
                 {rec}-byte record",
                s.name
            )));
        }
        let mut m = MapDef::blank(
            s.name.clone(),
            word(0),
            MapOrigin::Legacy,
            sec.index,
            s.value,
        );
        m.key_size = word(1);
        m.value_size = word(2);
        m.max_entries = word(3);
        m.map_flags = word(4);
        maps.push(m);
    }
    Ok(maps)
}

/// libbpf's kernel-visible name of a global data map: as much of the object name as fits
/// before the section name, within 15 characters; custom `.data.foo`/`.rodata.foo` sections
/// keep their own name only.
pub fn internal_map_name(obj_name: &str, section: &str) -> String {
    const OBJ_NAME_LEN: usize = 16;
    let sfx_len = section.len().clamp(7, OBJ_NAME_LEN - 1);
    let pfx_len = if section.len() > 1 && section[1..].contains('.') {
        0
    } else {
        (OBJ_NAME_LEN - sfx_len - 1).min(obj_name.len())
    };
    let mut name: String = obj_name.chars().take(pfx_len).collect();
    name.extend(section.chars().take(sfx_len));
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Which global data kind a section name is, as libbpf classifies them.
pub fn data_kind(name: &str, kind: SectionKind) -> Option<DataKind> {
    let is = |base: &str| name == base || name.starts_with(&format!("{base}."));
    match kind {
        SectionKind::Bytes if is(".data") => Some(DataKind::Data),
        SectionKind::Bytes if is(".rodata") => Some(DataKind::Rodata),
        SectionKind::Zeroed if is(".bss") => Some(DataKind::Bss),
        _ => None,
    }
}

/// One array map per non-empty global data section, in section order.
pub(crate) fn data_maps(elf: &ElfObject, obj_name: &str) -> Vec<MapDef> {
    let mut maps = Vec::new();
    for sec in &elf.sections {
        let Some(kind) = data_kind(&sec.name, sec.kind) else {
            continue;
        };
        if sec.size == 0 {
            continue;
        }
        let mut m = MapDef::blank(
            internal_map_name(obj_name, &sec.name),
            MAP_TYPE_ARRAY,
            MapOrigin::Data(kind),
            sec.index,
            0,
        );
        m.real_name = sec.name.clone();
        m.key_size = 4;
        m.value_size = u32::try_from(sec.size).unwrap_or(u32::MAX);
        m.max_entries = 1;
        if kind == DataKind::Rodata {
            m.map_flags = BPF_F_RDONLY_PROG;
            m.frozen = true;
        }
        m.initial_value = Some(match kind {
            DataKind::Bss => vec![0; sec.size.min(1 << 30) as usize],
            _ => sec.data.clone(),
        });
        maps.push(m);
    }
    maps
}

/// The `.kconfig` map holding `extern ... __kconfig` values, `size` bytes.
pub(crate) fn kconfig_map(obj_name: &str, size: u32, contents: Vec<u8>) -> MapDef {
    let mut m = MapDef::blank(
        internal_map_name(obj_name, ".kconfig"),
        MAP_TYPE_ARRAY,
        MapOrigin::Kconfig,
        0,
        0,
    );
    m.real_name = ".kconfig".into();
    m.key_size = 4;
    m.value_size = size;
    m.max_entries = 1;
    // The externs are not static variables, so libbpf makes the map mmapable.
    m.map_flags = BPF_F_RDONLY_PROG | BPF_F_MMAPABLE;
    m.frozen = true;
    m.initial_value = Some(contents);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libbpf_internal_names() {
        assert_eq!(
            internal_map_name("my_object_name", ".rodata"),
            "my_objec.rodata"
        );
        assert_eq!(internal_map_name("my_object_name", ".bss"), "my_objec.bss");
        assert_eq!(
            internal_map_name("my_object_name", ".kconfig"),
            "my_obje.kconfig"
        );
        assert_eq!(internal_map_name("maps_calls", ".data"), "maps_cal.data");
        assert_eq!(
            internal_map_name("x", ".rodata.abracadabra"),
            ".rodata.abracad"
        );
        assert_eq!(internal_map_name("a-b", ".data"), "a_b.data");
    }

    #[test]
    fn data_section_kinds() {
        assert_eq!(data_kind(".data", SectionKind::Bytes), Some(DataKind::Data));
        assert_eq!(
            data_kind(".data.foo", SectionKind::Bytes),
            Some(DataKind::Data)
        );
        assert_eq!(
            data_kind(".rodata.str1.1", SectionKind::Bytes),
            Some(DataKind::Rodata)
        );
        assert_eq!(data_kind(".bss", SectionKind::Zeroed), Some(DataKind::Bss));
        assert_eq!(data_kind(".datax", SectionKind::Bytes), None);
        assert_eq!(data_kind(".bss", SectionKind::Bytes), None);
    }
}
