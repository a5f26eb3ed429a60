//! CO-RE relocation: resolve a `.BTF.ext` relocation of a program's (local)
//! BTF against a target BTF (usually the kernel's vmlinux) with libbpf's rules,
//! then patch the instruction.
//!
//! Flow per relocation: find candidates in the target by essential name and
//! compatible kind (cached per local type and narrowed as relocations succeed),
//! parse the local access spec, match it against every candidate, require all
//! matching candidates to agree, and compute original and new values. No
//! matching candidate gives 0 for existence relocations and a poisoned
//! instruction for the others.

mod calc;
mod compat;
mod patch;
mod spec;

pub use patch::{POISON_CODE, POISON_IMM, PatchOutcome, patch_insn};
pub use spec::MAX_SPEC_LEN;

use crate::btf::Btf;
use crate::ext::{CoreRelo, CoreReloKind};
use crate::query::essential_name;
use crate::types::TypeId;
use compat::kinds_compat;
use spec::{Spec, format_spec, parse_spec, spec_match};
use std::collections::HashMap;
use std::fmt;

/// Which relocation: enough to name it in errors and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelocSite {
    /// Code section name.
    pub section: String,
    /// Instruction index in the section (`insn_off / 8`).
    pub insn_idx: u32,
    /// Relocation kind name (`byte_off`, ... or `unknown(N)`).
    pub kind: String,
    /// Access string.
    pub access: String,
    /// Local root type, e.g. `[5] struct task_struct___my`.
    pub local_type: String,
}

impl RelocSite {
    pub(crate) fn error(&self, reason: String) -> CoreError {
        CoreError {
            site: Box::new(self.clone()),
            reason,
        }
    }
}

impl fmt::Display for RelocSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CO-RE relocation <{}> of {} + '{}' at section '{}' insn #{}",
            self.kind, self.local_type, self.access, self.section, self.insn_idx
        )
    }
}

/// A relocation that cannot be resolved or applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreError {
    /// The relocation.
    pub site: Box<RelocSite>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.site, self.reason)
    }
}

impl std::error::Error for CoreError {}

/// The resolved relocation, ready for [`patch_insn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreResult {
    /// Which relocation.
    pub site: RelocSite,
    /// The value the compiler put in the instruction (from the local BTF).
    pub orig_val: u64,
    /// The value for the target.
    pub new_val: u64,
    /// The instruction must be poisoned (no target field/enumerator).
    pub poison: bool,
    /// Why it is poisoned.
    pub poison_reason: Option<String>,
    /// Check that the instruction holds `orig_val` before patching.
    pub validate: bool,
    /// The field size changed in a way a load/store cannot follow.
    pub fail_memsz_adjust: bool,
    /// Field size in the local BTF (FIELD_BYTE_OFFSET of non-bitfields).
    pub orig_sz: u32,
    /// Field size in the target.
    pub new_sz: u32,
    /// Field type in the local BTF.
    pub orig_type_id: TypeId,
    /// Field type in the target.
    pub new_type_id: TypeId,
    /// The local spec, formatted like libbpf's logs.
    pub local_spec: String,
    /// The chosen target spec, if a candidate matched.
    pub target_spec: Option<String>,
}

/// Resolves CO-RE relocations of one object against one target BTF; keeps
/// libbpf's per-local-type candidate cache, so resolve the relocations in
/// `.BTF.ext` order with one resolver per object.
#[derive(Debug)]
pub struct CoreResolver<'a> {
    local: &'a Btf,
    target: &'a Btf,
    cands: HashMap<TypeId, Vec<TypeId>>,
    log: Vec<String>,
    count: usize,
}

impl<'a> CoreResolver<'a> {
    /// A resolver for `local` (the object's BTF) against `target`.
    pub fn new(local: &'a Btf, target: &'a Btf) -> CoreResolver<'a> {
        CoreResolver {
            local,
            target,
            cands: HashMap::new(),
            log: Vec::new(),
            count: 0,
        }
    }

    /// Debug log lines so far (candidates, specs, decisions).
    pub fn log(&self) -> &[String] {
        &self.log
    }

    /// Target candidates for a local type: named types of a compatible kind
    /// with the same essential name, in id order.
    pub fn candidates(&self, local_id: TypeId) -> Vec<TypeId> {
        let Ok(lt) = self.local.ty(local_id) else {
            return Vec::new();
        };
        let name = self.local.name(local_id);
        if name.is_empty() {
            return Vec::new();
        }
        self.target
            .types_by_essential_name(name)
            .into_iter()
            .filter(|&id| {
                self.target.ty(id).is_ok_and(|t| {
                    kinds_compat(t, lt)
                        && essential_name(self.target.name(id)) == essential_name(name)
                })
            })
            .collect()
    }

    fn site(&self, section: &str, relo: &CoreRelo) -> RelocSite {
        let local_type = match self.local.ty(relo.type_id) {
            Ok(t) => {
                let n = self.local.name(relo.type_id);
                format!(
                    "[{}] {} {}",
                    relo.type_id.0,
                    t.kind().name().to_ascii_lowercase(),
                    if n.is_empty() { "<anon>" } else { n }
                )
            }
            Err(_) => format!("[{}] <missing>", relo.type_id.0),
        };
        RelocSite {
            section: section.to_owned(),
            insn_idx: relo.insn_off / 8,
            kind: relo
                .kind()
                .map(|k| k.name().to_owned())
                .unwrap_or_else(|| format!("unknown({})", relo.kind_raw)),
            access: relo.access.clone(),
            local_type,
        }
    }

    /// Resolves one relocation of code section `section`.
    pub fn resolve(&mut self, section: &str, relo: &CoreRelo) -> Result<CoreResult, CoreError> {
        let idx = self.count;
        self.count += 1;
        let site = self.site(section, relo);
        let fail = |reason: String| Err(site.error(reason));
        if self.local.ty(relo.type_id).is_err() {
            return fail(format!("local type id {} does not exist", relo.type_id.0));
        }
        let Some(kind) = relo.kind() else {
            return fail(format!("unknown relocation kind {}", relo.kind_raw));
        };
        let local_name = self.local.name(relo.type_id);
        if kind != CoreReloKind::TypeIdLocal && !self.cands.contains_key(&relo.type_id) {
            if local_name.is_empty() {
                return fail("candidate search needs a named local type".into());
            }
            let c = self.candidates(relo.type_id);
            for &id in &c {
                self.log.push(format!(
                    "relo #{idx}: candidate [{}] {} {}",
                    id.0,
                    self.target.ty(id).map(|t| t.kind().name()).unwrap_or("?"),
                    self.target.name(id)
                ));
            }
            self.cands.insert(relo.type_id, c);
        }
        let local_spec = match parse_spec(self.local, relo.type_id, &relo.access, kind) {
            Ok(s) => s,
            Err(e) => return fail(format!("parsing the access spec failed: {e}")),
        };
        let local_fmt = format_spec(&local_spec);
        self.log.push(format!("relo #{idx}: {local_fmt}"));
        let mk =
            |r: calc::Res, target_spec: Option<String>, poison_reason: Option<String>| CoreResult {
                site: site.clone(),
                orig_val: r.orig_val,
                new_val: r.new_val,
                poison: r.poison,
                poison_reason: if r.poison { poison_reason } else { None },
                validate: r.validate,
                fail_memsz_adjust: r.fail_memsz_adjust,
                orig_sz: r.orig_sz,
                new_sz: r.new_sz,
                orig_type_id: r.orig_type_id,
                new_type_id: r.new_type_id,
                local_spec: local_fmt.clone(),
                target_spec,
            };
        if kind == CoreReloKind::TypeIdLocal {
            let id = relo.type_id.0 as u64;
            let r = calc::Res {
                orig_val: id,
                new_val: id,
                ..calc::Res::default()
            };
            return Ok(mk(r, None, None));
        }
        let cands = self.cands.get(&relo.type_id).cloned().unwrap_or_default();
        let mut kept = Vec::new();
        let mut chosen: Option<(calc::Res, Spec<'_>)> = None;
        for (i, &cand) in cands.iter().enumerate() {
            let cand_spec = match spec_match(&local_spec, self.target, cand) {
                Ok(s) => s,
                Err(e) => return fail(format!("error matching candidate #{i} [{}]: {e}", cand.0)),
            };
            let Some(cand_spec) = cand_spec else {
                self.log.push(format!(
                    "relo #{idx}: non-matching candidate #{i} [{}]",
                    cand.0
                ));
                continue;
            };
            self.log.push(format!(
                "relo #{idx}: matching candidate #{i} {}",
                format_spec(&cand_spec)
            ));
            let r = match calc::calc_relo(kind, &local_spec, Some(&cand_spec), site.insn_idx) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            match &chosen {
                None => chosen = Some((r, cand_spec)),
                Some((first, first_spec)) => {
                    if cand_spec.bit_offset != first_spec.bit_offset {
                        return fail(format!(
                            "field offset ambiguity: candidate [{}] has bit offset {}, [{}] has {}",
                            cand.0, cand_spec.bit_offset, first_spec.root.0, first_spec.bit_offset
                        ));
                    }
                    if r.poison != first.poison || r.new_val != first.new_val {
                        return fail(format!(
                            "relocation decision ambiguity: candidate [{}] gives {} {}, [{}] gives {} {}",
                            cand.0,
                            if r.poison { "failure" } else { "success" },
                            r.new_val,
                            first_spec.root.0,
                            if first.poison { "failure" } else { "success" },
                            first.new_val
                        ));
                    }
                }
            }
            kept.push(cand);
        }
        if !kept.is_empty() {
            self.cands.insert(relo.type_id, kept);
        }
        match chosen {
            Some((r, s)) => Ok(mk(r, Some(format_spec(&s)), None)),
            None => {
                self.log
                    .push(format!("relo #{idx}: no matching targets found"));
                let r = match calc::calc_relo(kind, &local_spec, None, site.insn_idx) {
                    Ok(r) => r,
                    Err(e) => return fail(e),
                };
                let why = format!("no target matches {local_fmt}");
                Ok(mk(r, None, Some(why)))
            }
        }
    }

    /// Resolves and applies, in order, every relocation of `section` to its
    /// code bytes; returns each relocation's result and patch outcome.
    pub fn relocate_section(
        &mut self,
        section: &str,
        relos: &[CoreRelo],
        code: &mut [u8],
    ) -> Result<Vec<(CoreResult, PatchOutcome)>, CoreError> {
        let mut out = Vec::with_capacity(relos.len());
        for relo in relos {
            let res = self.resolve(section, relo)?;
            let outcome = patch_insn(code, (relo.insn_off / 8) as usize, &res)?;
            let line = match &outcome {
                PatchOutcome::Patched(s) | PatchOutcome::Poisoned(s) => s.clone(),
            };
            self.log.push(format!("{}: {line}", res.site));
            out.push((res, outcome));
        }
        Ok(out)
    }
}
