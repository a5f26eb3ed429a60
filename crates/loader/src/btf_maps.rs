//! BTF-defined maps: every variable of the `.maps` DATASEC is a struct whose members say what
//! the map is, in libbpf's encoding — `__uint(type, N)` is a pointer to `int[N]`,
//! `__type(key, T)` a pointer to `T`, `__array(values, struct inner)` an array of pointers to
//! the inner map's definition. Initial slots of prog arrays and map-in-maps come from the
//! relocations of `.maps` against the `values` member.

use bpfvet_btf::{Btf, TypeId};

use crate::LoadError;
use crate::maps::{MapDef, MapOrigin};
use crate::read::{ElfObject, SymbolKind};

/// `LIBBPF_PIN_BY_NAME`.
pub const PIN_BY_NAME: u32 = 1;

/// Reads every map of `.maps`.
pub(crate) fn btf_maps(elf: &ElfObject, btf: &Btf) -> Result<Vec<MapDef>, LoadError> {
    let Some(sec) = elf.section_by_name(".maps") else {
        return Ok(Vec::new());
    };
    let mut maps = Vec::new();
    for (name, ty, _off, _size) in btf.datasec_entries(".maps") {
        let sym = elf
            .symbols
            .iter()
            .find(|s| s.name == name && s.section == Some(sec.index))
            .ok_or_else(|| {
                LoadError::new(format!(
                    "map {name}: no symbol in section .maps for this BTF variable"
                ))
            })?;
        let mut m = parse_def(btf, &name, ty, sec.index, sym.value)?;
        // Initial slots: relocations inside this map's definition, at the `values` member.
        if let Some(values_off) = values_offset(btf, ty) {
            // The symbol's size covers the initialised `values[]` slots; BTF's does not.
            let size = u64::from(btf.resolve_size(ty).unwrap_or(0)).max(sym.size);
            for r in &sec.relocs {
                if r.offset < sym.value || r.offset >= sym.value + size {
                    continue;
                }
                let rel = r.offset - sym.value;
                if rel < values_off || (rel - values_off) % 8 != 0 {
                    return Err(LoadError::new(format!(
                        "map {name}: relocation at offset {rel} is not a slot of 'values'"
                    )));
                }
                let idx = ((rel - values_off) / 8) as u32;
                let target = elf
                    .symbols
                    .get(r.symbol)
                    .filter(|s| s.kind != SymbolKind::Section)
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                m.init_slots.push((idx, target));
            }
        }
        maps.push(m);
    }
    Ok(maps)
}

/// Byte offset of the `values` member of a map definition.
fn values_offset(btf: &Btf, ty: TypeId) -> Option<u64> {
    let st = btf.skip_mods_and_typedefs(ty).ok()?;
    btf.members(st)?
        .iter()
        .find(|m| btf.name_at(m.name_off) == "values")
        .map(|m| u64::from(m.bit_offset / 8))
}

/// One map definition struct.
fn parse_def(
    btf: &Btf,
    name: &str,
    ty: TypeId,
    section: usize,
    off: u64,
) -> Result<MapDef, LoadError> {
    let err = |m: String| LoadError::new(format!("map {name}: {m}"));
    let st = btf
        .skip_mods_and_typedefs(ty)
        .map_err(|e| err(format!("bad definition type: {e}")))?;
    let members = btf
        .members(st)
        .ok_or_else(|| {
            err(format!(
                "definition is a {}, not a struct",
                btf.format_type(st)
            ))
        })?
        .to_vec();
    let mut m = MapDef::blank(name.to_string(), 0, MapOrigin::Btf, section, off);
    let mut key_size = None;
    let mut value_size = None;
    for mem in &members {
        let field = btf.name_at(mem.name_off).to_string();
        let uint = || {
            btf.map_def_uint(mem.ty).ok_or_else(|| {
                err(format!(
                    "'{field}' is not an __uint() (pointer to an array)"
                ))
            })
        };
        let typ = || {
            btf.map_def_type(mem.ty)
                .ok_or_else(|| err(format!("'{field}' is not a __type() (pointer)")))
        };
        match field.as_str() {
            "type" => m.map_type = uint()?,
            "max_entries" => m.max_entries = uint()?,
            "map_flags" => m.map_flags = uint()?,
            "numa_node" => m.numa_node = Some(uint()?),
            "pinning" => {
                m.pinning = uint()?;
                if m.pinning > PIN_BY_NAME {
                    return Err(err(format!("invalid pinning value {}", m.pinning)));
                }
            }
            "key_size" => key_size = Some(uint()?),
            "value_size" => value_size = Some(uint()?),
            "map_extra" => {}
            "key" => {
                let t = typ()?;
                let sz = btf
                    .resolve_size(t)
                    .map_err(|e| err(format!("key type: {e}")))?;
                key_size = Some(sz);
                m.btf_key_type_id = Some(t.0);
            }
            "value" => {
                let t = typ()?;
                let sz = btf
                    .resolve_size(t)
                    .map_err(|e| err(format!("value type: {e}")))?;
                value_size = Some(sz);
                m.btf_value_type_id = Some(t.0);
            }
            "values" => {
                // An array of pointers to the inner definition (map-in-map) or to functions
                // (prog array).
                let arr = btf
                    .skip_mods_and_typedefs(mem.ty)
                    .map_err(|e| err(format!("'values': {e}")))?;
                let elem = match &btf.ty(arr).map(|t| t.kind.clone()) {
                    Ok(bpfvet_btf::TypeKind::Array { elem, .. }) => *elem,
                    _ => return Err(err("'values' is not an array".into())),
                };
                let pointee = btf
                    .map_def_type(elem)
                    .ok_or_else(|| err("'values' elements are not pointers".into()))?;
                let pt = btf.skip_mods_and_typedefs(pointee).unwrap_or(pointee);
                if btf.members(pt).is_some() {
                    let inner = parse_def(btf, &format!("{name}.inner"), pt, section, off)?;
                    m.inner = Some(Box::new(inner));
                }
                value_size = Some(4);
            }
            other => {
                return Err(err(format!(
                    "unknown field '{other}' in the map definition"
                )));
            }
        }
    }
    m.key_size = key_size.unwrap_or(0);
    m.value_size = value_size.unwrap_or(0);
    if m.map_type == 0 {
        return Err(err("map type is not set".into()));
    }
    Ok(m)
}
