//! `-f` filters, in `veristat`'s syntax: `GLOB` (file or program name), `FILE_GLOB/PROG_GLOB`
//! (either side may be empty), or `STAT OP VALUE` with OP one of `== = != <> < <= > >=` and
//! VALUE an integer or a word (`success`/`failure`, `true`/`false`, `match`/`mismatch`). A
//! leading `!` makes a deny filter; `@path` reads one filter per line (`#` comments). A program
//! is kept when no deny filter matches and, if there are allow filters of a kind, one of them
//! matches. Globs know only `*`.

use std::path::Path;

use super::columns::{Col, Kind, SpecError, Variant, flag_word, parse_name};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Operators in the order they are looked for (longer ones first, so `<=` is not read as `<`).
const OPS: &[(&str, Op)] = &[
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("<>", Op::Ne),
    ("<=", Op::Le),
    ("<", Op::Lt),
    (">=", Op::Ge),
    (">", Op::Gt),
    ("=", Op::Eq),
];

/// One filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// `any` matches the file or the program name; `file`/`prog` match only theirs.
    Name {
        any: Option<String>,
        file: Option<String>,
        prog: Option<String>,
    },
    Stat {
        col: Col,
        variant: Variant,
        op: Op,
        value: i64,
        abs: bool,
    },
}

/// The allow and deny filters of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filters {
    pub allow: Vec<Filter>,
    pub deny: Vec<Filter>,
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_matches(s: &str, pat: &str) -> bool {
    let (s, p) = (s.as_bytes(), pat.as_bytes());
    // Classic two-pointer glob with backtracking to the last star.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < p.len() && p[j] == b'*' {
            star = Some((j, i));
            j += 1;
        } else if j < p.len() && p[j] == s[i] {
            i += 1;
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    p[j..].iter().all(|&c| c == b'*')
}

impl Filter {
    /// Parses one filter (without its `!`).
    pub fn parse(s: &str) -> Result<Filter, SpecError> {
        for (text, op) in OPS {
            let Some(at) = s.find(text) else { continue };
            let (name, value) = (&s[..at], &s[at + text.len()..]);
            let (col, variant, abs) = parse_name(name.trim())
                .ok_or_else(|| SpecError(format!("unrecognized stat name in filter {s:?}")))?;
            if matches!(col.def().kind, Kind::Key | Kind::Text) {
                return Err(SpecError(format!(
                    "filter {s:?}: {} is not a numeric stat",
                    col.csv_name()
                )));
            }
            let value = value.trim();
            let value = match flag_word(value) {
                Some(b) => i64::from(b),
                None => value.parse::<i64>().map_err(|_| {
                    SpecError(format!("filter {s:?}: invalid integer value {value:?}"))
                })?,
            };
            return Ok(Filter::Stat {
                col,
                variant,
                op: *op,
                value,
                abs,
            });
        }
        let f = match s.split_once('/') {
            None => Filter::Name {
                any: Some(s.to_string()),
                file: None,
                prog: None,
            },
            Some((f, p)) => Filter::Name {
                any: None,
                file: (!f.is_empty()).then(|| f.to_string()),
                prog: (!p.is_empty()).then(|| p.to_string()),
            },
        };
        if matches!(&f, Filter::Name { any: Some(a), .. } if a.is_empty())
            || matches!(
                &f,
                Filter::Name {
                    any: None,
                    file: None,
                    prog: None
                }
            )
        {
            return Err(SpecError(format!("invalid filter {s:?}")));
        }
        Ok(f)
    }

    /// Whether a name filter matches `file` and `prog`; stat filters never do.
    pub fn name_matches(&self, file: &str, prog: &str) -> bool {
        match self {
            Filter::Name { any: Some(g), .. } => glob_matches(file, g) || glob_matches(prog, g),
            Filter::Name {
                file: f, prog: p, ..
            } => {
                f.as_deref().is_none_or(|g| glob_matches(file, g))
                    && p.as_deref().is_none_or(|g| glob_matches(prog, g))
            }
            Filter::Stat { .. } => false,
        }
    }

    /// Whether a stat filter holds for `value` (unknown values never match).
    pub fn stat_matches(&self, value: Option<f64>) -> bool {
        let Filter::Stat {
            op, value: v, abs, ..
        } = self
        else {
            return false;
        };
        let Some(mut x) = value else { return false };
        if *abs {
            x = x.abs();
        }
        let v = *v as f64;
        const EPS: f64 = 1e-9;
        match op {
            Op::Eq => (x - v).abs() < EPS,
            Op::Ne => (x - v).abs() >= EPS,
            Op::Lt => x < v - EPS,
            Op::Le => x <= v + EPS,
            Op::Gt => x > v + EPS,
            Op::Ge => x >= v - EPS,
        }
    }
}

impl Filters {
    /// Adds `-f` arguments: `!X` denies, `@path` reads a file of filters.
    pub fn add(&mut self, arg: &str) -> Result<(), SpecError> {
        if let Some(path) = arg.strip_prefix('@') {
            let text = std::fs::read_to_string(Path::new(path))
                .map_err(|e| SpecError(format!("filter file {path}: {e}")))?;
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                self.add_one(line)?;
            }
            return Ok(());
        }
        self.add_one(arg)
    }

    fn add_one(&mut self, s: &str) -> Result<(), SpecError> {
        match s.strip_prefix('!') {
            Some(rest) => self.deny.push(Filter::parse(rest)?),
            None => self.allow.push(Filter::parse(s)?),
        }
        Ok(())
    }

    /// Whether the name filters keep `file`/`prog`.
    pub fn keep_name(&self, file: &str, prog: &str) -> bool {
        if self.deny.iter().any(|f| f.name_matches(file, prog)) {
            return false;
        }
        let mut allows = self
            .allow
            .iter()
            .filter(|f| matches!(f, Filter::Name { .. }))
            .peekable();
        allows.peek().is_none() || allows.any(|f| f.name_matches(file, prog))
    }

    /// Whether the stat filters keep a row whose values `value(col, variant)` gives.
    pub fn keep_stats(&self, value: impl Fn(Col, Variant) -> Option<f64>) -> bool {
        let get = |f: &Filter| match f {
            Filter::Stat { col, variant, .. } => value(*col, *variant),
            Filter::Name { .. } => None,
        };
        if self
            .deny
            .iter()
            .any(|f| matches!(f, Filter::Stat { .. }) && f.stat_matches(get(f)))
        {
            return false;
        }
        let mut allows = self
            .allow
            .iter()
            .filter(|f| matches!(f, Filter::Stat { .. }))
            .peekable();
        allows.peek().is_none() || allows.any(|f| f.stat_matches(get(f)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("xdp_prog", "xdp*"));
        assert!(glob_matches("xdp_prog", "*prog"));
        assert!(glob_matches("xdp_prog", "*_*"));
        assert!(glob_matches("", "*"));
        assert!(!glob_matches("xdp_prog", "tc*"));
        assert!(!glob_matches("xdp", "xdp?"));
        assert!(glob_matches("aab", "*ab"));
    }

    #[test]
    fn parse_forms() {
        assert_eq!(
            Filter::parse("insns>=100").unwrap(),
            Filter::Stat {
                col: Col::Insns,
                variant: Variant::B,
                op: Op::Ge,
                value: 100,
                abs: false
            }
        );
        assert!(matches!(
            Filter::parse("verdict=success").unwrap(),
            Filter::Stat {
                value: 1,
                op: Op::Eq,
                ..
            }
        ));
        assert!(matches!(
            Filter::parse("|insns_pct|<>5").unwrap(),
            Filter::Stat {
                op: Op::Ne,
                abs: true,
                variant: Variant::Pct,
                ..
            }
        ));
        assert!(Filter::parse("bogus>1").is_err());
        assert!(Filter::parse("insns>lots").is_err());
        assert!(Filter::parse("prog_type=1").is_err());
        assert!(Filter::parse("/").is_err());
        assert!(Filter::parse("").is_err());
        let f = Filter::parse("a.o/").unwrap();
        assert!(f.name_matches("a.o", "anything"));
        assert!(!f.name_matches("b.o", "a.o"));
    }

    #[test]
    fn allow_and_deny() {
        let mut fs = Filters::default();
        fs.add("*.o/xdp*").unwrap();
        fs.add("!*/xdp_bad").unwrap();
        assert!(fs.keep_name("a.o", "xdp_good"));
        assert!(!fs.keep_name("a.o", "xdp_bad"));
        assert!(!fs.keep_name("a.o", "tc_prog"));
        fs.add("insns>10").unwrap();
        assert!(fs.keep_stats(|_, _| Some(11.0)));
        assert!(!fs.keep_stats(|_, _| Some(10.0)));
        assert!(!fs.keep_stats(|_, _| None));
    }
}
