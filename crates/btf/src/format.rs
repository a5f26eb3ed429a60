//! C-like type names (`struct iphdr *`, `char[16]`, `int (*)(void *, long)`)
//! built the way a C declarator nests: pointers wrap inwards, arrays and
//! parameter lists attach on the right.

use crate::btf::Btf;
use crate::budget::Budget;
use crate::types::{TypeId, TypeKind};

/// Nesting limit; deeper (or cyclic) types print `...`.
const MAX_FORMAT_DEPTH: usize = 64;

impl Btf {
    /// A C-like spelling of the type: `int`, `unsigned int`, `struct iphdr *`,
    /// `char[16]`, `const struct foo *`, `void *`, `int (*)(int, char *)`.
    /// FUNCs print as declarations (`int name(struct xdp_md *)`), VARs as
    /// `type name`, DATASECs as `SEC("name")`. Never fails: unknown ids print
    /// as `<bad type id N>`, cycles end in `...`.
    pub fn format_type(&self, id: TypeId) -> String {
        let t = match self.ty(id) {
            Ok(t) => t,
            Err(_) => return format!("<bad type id {}>", id.0),
        };
        let b = &Budget::new();
        match &t.kind {
            TypeKind::Func { proto, .. } => self.declare(*proto, self.name(id).to_owned(), 0, b),
            TypeKind::Var { ty, .. } => self.declare(*ty, self.name(id).to_owned(), 0, b),
            TypeKind::Datasec { .. } => format!("SEC(\"{}\")", self.name(id)),
            _ => self.declare(id, String::new(), 0, b),
        }
    }

    /// `inner` is the declarator built so far (e.g. `*`, `(*)[4]`, `name`).
    fn declare(&self, id: TypeId, inner: String, depth: usize, budget: &Budget) -> String {
        if depth > MAX_FORMAT_DEPTH || !budget.spend() {
            return join("...", &inner);
        }
        let Ok(t) = self.ty(id) else {
            return join(&format!("<bad type id {}>", id.0), &inner);
        };
        let name = || {
            let n = self.name(id);
            if n.is_empty() { "(anon)" } else { n }
        };
        let next = |id: TypeId, inner: String| self.declare(id, inner, depth + 1, budget);
        match &t.kind {
            TypeKind::Void => join("void", &inner),
            TypeKind::Int { .. } | TypeKind::Float { .. } | TypeKind::Typedef { .. } => {
                join(name(), &inner)
            }
            TypeKind::Struct { .. } => join(&format!("struct {}", name()), &inner),
            TypeKind::Union { .. } => join(&format!("union {}", name()), &inner),
            TypeKind::Enum { .. } | TypeKind::Enum64 { .. } => {
                join(&format!("enum {}", name()), &inner)
            }
            TypeKind::Fwd { union } => {
                let kw = if *union { "union" } else { "struct" };
                join(&format!("{kw} {}", name()), &inner)
            }
            TypeKind::Ptr { target } => next(*target, format!("*{inner}")),
            TypeKind::Const { target }
            | TypeKind::Volatile { target }
            | TypeKind::Restrict { target } => {
                let q = match &t.kind {
                    TypeKind::Const { .. } => "const",
                    TypeKind::Volatile { .. } => "volatile",
                    _ => "restrict",
                };
                // A qualified pointer puts the qualifier after the star.
                let under_ptr = self
                    .skip_mods(*target)
                    .ok()
                    .and_then(|i| self.ty(i).ok())
                    .is_some_and(|u| matches!(u.kind, TypeKind::Ptr { .. }));
                if under_ptr {
                    next(*target, join(q, &inner))
                } else {
                    format!("{q} {}", next(*target, inner))
                }
            }
            TypeKind::TypeTag { target } | TypeKind::DeclTag { target, .. } => next(*target, inner),
            TypeKind::Var { ty, .. } => next(*ty, inner),
            TypeKind::Array { elem, nelems, .. } => {
                let inner = if inner.starts_with('*') {
                    format!("({inner})")
                } else {
                    inner
                };
                next(*elem, format!("{inner}[{nelems}]"))
            }
            TypeKind::FuncProto { ret, params } => {
                let inner = if inner.starts_with('*') {
                    format!("({inner})")
                } else {
                    inner
                };
                let args: Vec<String> = if params.is_empty() {
                    vec!["void".into()]
                } else {
                    params
                        .iter()
                        .map(|p| {
                            if p.ty == TypeId::VOID {
                                "...".into()
                            } else {
                                self.declare(p.ty, String::new(), depth + 1, budget)
                            }
                        })
                        .collect()
                };
                next(*ret, format!("{inner}({})", args.join(", ")))
            }
            TypeKind::Func { proto, .. } => next(*proto, inner),
            TypeKind::Datasec { .. } => join(&format!("SEC(\"{}\")", self.name(id)), &inner),
        }
    }
}

/// Base type plus declarator: no space before `[` or `(`... of an abstract
/// array/function, one space otherwise.
fn join(base: &str, inner: &str) -> String {
    if inner.is_empty() {
        base.to_owned()
    } else if inner.starts_with('[') || inner.starts_with('(') && !inner.starts_with("(*") {
        format!("{base}{inner}")
    } else {
        format!("{base} {inner}")
    }
}
