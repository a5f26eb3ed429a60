//! Relocation values from a spec: field offsets/sizes/shifts/signedness, type
//! ids/sizes/existence, enumerator existence/values; and the per-candidate
//! result (orig vs new value, memory-size adjustment safety, poisoning).

use super::spec::{Spec, SpecErr, skip};
use crate::ext::CoreReloKind;
use crate::types::{INT_SIGNED, TypeId, TypeKind};

/// Outcome of evaluating one side (local or target) of a relocation.
pub(crate) enum Calc {
    /// The value, plus (for FIELD_BYTE_OFFSET of non-bitfields) the memory
    /// size and type of the field.
    Value {
        val: u64,
        field_sz: u32,
        type_id: TypeId,
        validate: bool,
    },
    /// No target: the instruction must be poisoned.
    Poison,
}

fn value(val: u64, validate: bool) -> Calc {
    Calc::Value {
        val,
        field_sz: 0,
        type_id: TypeId::VOID,
        validate,
    }
}

pub(crate) fn calc_field(
    kind: CoreReloKind,
    spec: Option<&Spec<'_>>,
    insn_idx: u32,
) -> Result<Calc, SpecErr> {
    if kind == CoreReloKind::FieldExists {
        return Ok(value(spec.is_some() as u64, true));
    }
    let Some(spec) = spec else {
        return Ok(Calc::Poison);
    };
    let btf = spec.btf;
    let acc = spec.acc.last().ok_or("empty field spec")?;
    let size = |id| btf.resolve_size(id).map_err(|e| e.to_string());
    if acc.name.is_none() {
        // The spec ends in an array element (or the root itself).
        let sz = size(acc.type_id)?;
        return match kind {
            CoreReloKind::FieldByteOffset => Ok(Calc::Value {
                val: (spec.bit_offset / 8) as u64,
                field_sz: sz,
                type_id: acc.type_id,
                validate: true,
            }),
            CoreReloKind::FieldByteSize => Ok(value(sz as u64, true)),
            _ => Err(format!(
                "relocation {kind} at insn #{insn_idx} cannot be applied to an array access"
            )),
        };
    }
    let t = btf.ty(acc.type_id).map_err(|e| e.to_string())?;
    let m = t
        .members()
        .and_then(|m| m.get(acc.idx as usize))
        .ok_or("field accessor is not a member")?;
    let (field_type_id, mt) = skip(btf, m.ty)?;
    let bit_off = spec.bit_offset;
    let mut bit_sz = m.bitfield_size;
    let bitfield = bit_sz > 0;
    let (byte_off, byte_sz);
    if bitfield {
        let mut sz = mt.size_or_type;
        if sz == 0 {
            return Err(format!(
                "bitfield at insn #{insn_idx} has a zero-sized type"
            ));
        }
        let mut off = bit_off / 8 / sz * sz;
        while bit_off
            .wrapping_add(bit_sz)
            .wrapping_sub(off.wrapping_mul(8))
            > sz.wrapping_mul(8)
        {
            if sz >= 8 {
                return Err(format!(
                    "bitfield relocation at insn #{insn_idx} cannot be satisfied with a 64-bit load"
                ));
            }
            sz *= 2;
            off = bit_off / 8 / sz * sz;
        }
        byte_sz = sz;
        byte_off = off;
    } else {
        byte_sz = size(field_type_id)?;
        byte_off = bit_off / 8;
        bit_sz = byte_sz.wrapping_mul(8);
    }
    let mut validate = !bitfield;
    let val: u64 = match kind {
        CoreReloKind::FieldByteOffset => {
            return Ok(Calc::Value {
                val: byte_off as u64,
                field_sz: if bitfield { 0 } else { byte_sz },
                type_id: if bitfield {
                    TypeId::VOID
                } else {
                    field_type_id
                },
                validate,
            });
        }
        CoreReloKind::FieldByteSize => byte_sz as u64,
        CoreReloKind::FieldSigned => {
            validate = true;
            let signed = match mt.kind {
                TypeKind::Enum { .. } | TypeKind::Enum64 { .. } => mt.kind_flag(),
                TypeKind::Int { encoding, .. } => encoding & INT_SIGNED != 0,
                _ => false,
            };
            signed as u64
        }
        CoreReloKind::FieldLshiftU64 => 64u32.wrapping_sub(
            bit_off
                .wrapping_add(bit_sz)
                .wrapping_sub(byte_off.wrapping_mul(8)),
        ) as u64,
        CoreReloKind::FieldRshiftU64 => {
            validate = true;
            64u32.wrapping_sub(bit_sz) as u64
        }
        _ => return Err(format!("{kind} is not a field relocation")),
    };
    Ok(value(val, validate))
}

pub(crate) fn calc_type(kind: CoreReloKind, spec: Option<&Spec<'_>>) -> Result<Calc, SpecErr> {
    let Some(spec) = spec else {
        return Ok(value(0, true));
    };
    match kind {
        CoreReloKind::TypeIdTarget => Ok(value(spec.root.0 as u64, false)),
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => Ok(value(1, true)),
        CoreReloKind::TypeSize => {
            let sz = spec
                .btf
                .resolve_size(spec.root)
                .map_err(|e| e.to_string())?;
            Ok(value(sz as u64, true))
        }
        _ => Err(format!("{kind} is not handled as a type relocation")),
    }
}

pub(crate) fn calc_enumval(kind: CoreReloKind, spec: Option<&Spec<'_>>) -> Result<Calc, SpecErr> {
    match kind {
        CoreReloKind::EnumvalExists => Ok(value(spec.is_some() as u64, true)),
        CoreReloKind::EnumvalValue => {
            let Some(spec) = spec else {
                return Ok(Calc::Poison);
            };
            let acc = spec.acc.first().ok_or("empty enum spec")?;
            let t = spec.btf.ty(acc.type_id).map_err(|e| e.to_string())?;
            let v = t
                .enum_values()
                .and_then(|v| v.get(acc.idx as usize))
                .ok_or("enumerator accessor out of range")?;
            Ok(value(v.val, true))
        }
        _ => Err(format!("{kind} is not an enumerator relocation")),
    }
}

/// One candidate's (or the no-candidate) relocation values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Res {
    pub orig_val: u64,
    pub new_val: u64,
    pub poison: bool,
    pub validate: bool,
    pub fail_memsz_adjust: bool,
    pub orig_sz: u32,
    pub new_sz: u32,
    pub orig_type_id: TypeId,
    pub new_type_id: TypeId,
}

fn eval(kind: CoreReloKind, spec: Option<&Spec<'_>>, insn_idx: u32) -> Result<Calc, SpecErr> {
    if kind.is_field() {
        calc_field(kind, spec, insn_idx)
    } else if kind.is_type() {
        calc_type(kind, spec)
    } else {
        calc_enumval(kind, spec)
    }
}

/// Evaluates local and target sides and combines them.
pub(crate) fn calc_relo(
    kind: CoreReloKind,
    local: &Spec<'_>,
    targ: Option<&Spec<'_>>,
    insn_idx: u32,
) -> Result<Res, SpecErr> {
    let mut res = Res {
        validate: true,
        ..Res::default()
    };
    let Calc::Value {
        val,
        field_sz,
        type_id,
        validate,
    } = eval(kind, Some(local), insn_idx)?
    else {
        res.poison = true;
        return Ok(res);
    };
    res.orig_val = val;
    res.orig_sz = field_sz;
    res.orig_type_id = type_id;
    res.validate = validate;
    let Calc::Value {
        val,
        field_sz,
        type_id,
        ..
    } = eval(kind, targ, insn_idx)?
    else {
        res.poison = true;
        return Ok(res);
    };
    res.new_val = val;
    res.new_sz = field_sz;
    res.new_type_id = type_id;
    if kind.is_field()
        && res.orig_sz != res.new_sz
        && let Some(targ) = targ
    {
        let ot = local.btf.ty(res.orig_type_id).map_err(|e| e.to_string())?;
        let nt = targ.btf.ty(res.new_type_id).map_err(|e| e.to_string())?;
        let safe = match (&ot.kind, &nt.kind) {
            (TypeKind::Ptr { .. }, TypeKind::Ptr { .. }) => true,
            (TypeKind::Int { encoding: a, .. }, TypeKind::Int { encoding: b, .. }) => {
                *a != INT_SIGNED && *b != INT_SIGNED
            }
            _ => false,
        };
        res.fail_memsz_adjust = !safe;
    }
    Ok(res)
}
