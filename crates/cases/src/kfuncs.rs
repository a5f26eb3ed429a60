//! Kernel functions named in case code: `call kfunc(bpf_iter_num_new)` is written with the
//! kfunc's name, and the name becomes the function's BTF id in the running kernel's BTF
//! (`/sys/kernel/btf/vmlinux`), which is what a loader would put in the call. Without that
//! BTF the ids stay 0 and harnesses skip the cases that name kfuncs.

use std::sync::{Arc, OnceLock};

use bpfvet_btf::{Btf, Kind};

/// Where the running kernel publishes its BTF.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// The running kernel's BTF, read and parsed once; `None` when it is absent or unreadable.
pub fn kernel_btf() -> Option<Arc<Btf>> {
    static BTF: OnceLock<Option<Arc<Btf>>> = OnceLock::new();
    BTF.get_or_init(|| {
        let bytes = std::fs::read(VMLINUX).ok()?;
        Btf::parse(&bytes).ok().map(Arc::new)
    })
    .clone()
}

/// Replaces every `kfunc(NAME)` in `line` (NAME an identifier, not a number) with
/// `kfunc(ID)`, pushing NAME onto `names`. `resolve` gives the id of a name (`None`: no such
/// function); without BTF (`btf` is `None`) the id is 0.
pub(crate) fn substitute(
    line: &str,
    btf: Option<&Btf>,
    names: &mut Vec<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("kfunc(") {
        out.push_str(&rest[..i + 6]);
        rest = &rest[i + 6..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let id = match btf {
            Some(b) => {
                b.find(Kind::Func, name)
                    .ok_or_else(|| format!("kfunc {name} is not a function in the kernel's BTF"))?
                    .0
            }
            None => 0,
        };
        names.push(name.to_string());
        out.push_str(&id.to_string());
        rest = &rest[end..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_ids_and_numbers_stay() {
        let mut b = bpfvet_btf::BtfBuilder::new();
        let int = b.add_int("int", 4, true);
        let proto = b.add_func_proto(int, &[]);
        let f = b.add_func("bpf_iter_num_new", proto, 0);
        let btf = Btf::parse(&b.build()).unwrap();
        let mut names = Vec::new();
        let s = substitute("call kfunc(bpf_iter_num_new) # x", Some(&btf), &mut names).unwrap();
        assert_eq!(s, format!("call kfunc({}) # x", f.0));
        assert_eq!(names, vec!["bpf_iter_num_new".to_string()]);
        let s = substitute("call kfunc(7, 1)", Some(&btf), &mut names).unwrap();
        assert_eq!(s, "call kfunc(7, 1)");
        assert_eq!(names.len(), 1);
        let e = substitute("call kfunc(nope)", Some(&btf), &mut names).unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let s = substitute("call kfunc(nope)", None, &mut names).unwrap();
        assert_eq!(s, "call kfunc(0)");
    }
}
