//! The statistics columns (one table row per column: header, spec names, kind), the values a
//! program's row holds, and the `-e`/`-s` spec syntax shared with the kernel's `veristat`:
//! comma-separated names, an optional `^` (ascending) or `v` (descending) suffix, `|name|` for
//! absolute values, and in comparison mode `_a`, `_b`, `_diff` and `_pct` variants.

use std::fmt;

/// A column, in table order. The discriminant indexes [`COLUMNS`] and [`Record::values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Col {
    File,
    Program,
    Verdict,
    Duration,
    Insns,
    States,
    PeakStates,
    MaxStatesPerInsn,
    MarkRead,
    ProgSize,
    StackDepth,
    ProgType,
    Error,
    KernelVerdict,
    KernelDuration,
    KernelInsns,
    KernelStates,
    KernelPeakStates,
    KernelMaxStatesPerInsn,
    KernelMarkRead,
    KernelStackDepth,
    VerifiedInsns,
    KernelError,
    Agree,
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// File or program name: the join key in comparison mode.
    Key,
    /// A yes/no value shown with these labels (false, true); numerically 0 or 1.
    Flag(&'static str, &'static str),
    Number,
    Text,
}

/// One column's definition.
#[derive(Clone, Copy, Debug)]
pub struct ColumnDef {
    pub col: Col,
    /// Table header.
    pub header: &'static str,
    /// Names accepted in specs; the first is the CSV header.
    pub names: &'static [&'static str],
    pub kind: Kind,
    /// Filled only with `--kernel`.
    pub kernel: bool,
}

const VERDICT: Kind = Kind::Flag("failure", "success");

/// Every column, indexed by [`Col`].
pub const COLUMNS: &[ColumnDef] = &[
    def(
        Col::File,
        "File",
        &["file_name", "filename", "file"],
        Kind::Key,
    ),
    def(
        Col::Program,
        "Program",
        &["prog_name", "progname", "prog"],
        Kind::Key,
    ),
    def(Col::Verdict, "Verdict", &["verdict"], VERDICT),
    def(
        Col::Duration,
        "Duration (us)",
        &["duration", "dur"],
        Kind::Number,
    ),
    def(Col::Insns, "Insns", &["total_insns", "insns"], Kind::Number),
    def(
        Col::States,
        "States",
        &["total_states", "states"],
        Kind::Number,
    ),
    def(
        Col::PeakStates,
        "Peak states",
        &["peak_states"],
        Kind::Number,
    ),
    def(
        Col::MaxStatesPerInsn,
        "Max states per insn",
        &["max_states_per_insn"],
        Kind::Number,
    ),
    def(
        Col::MarkRead,
        "Max mark read length",
        &["max_mark_read_len", "mark_read"],
        Kind::Number,
    ),
    def(Col::ProgSize, "Program size", &["prog_size"], Kind::Number),
    def(
        Col::StackDepth,
        "Stack depth",
        &["stack_depth", "stack"],
        Kind::Number,
    ),
    def(Col::ProgType, "Program type", &["prog_type"], Kind::Text),
    def(Col::Error, "Error", &["error"], Kind::Text),
    kdef(
        Col::KernelVerdict,
        "Kernel verdict",
        &["kernel_verdict", "k_verdict"],
        VERDICT,
    ),
    kdef(
        Col::KernelDuration,
        "Kernel duration (us)",
        &["kernel_duration", "k_dur"],
        Kind::Number,
    ),
    kdef(
        Col::KernelInsns,
        "Kernel insns",
        &["kernel_insns", "k_insns"],
        Kind::Number,
    ),
    kdef(
        Col::KernelStates,
        "Kernel states",
        &["kernel_states", "k_states"],
        Kind::Number,
    ),
    kdef(
        Col::KernelPeakStates,
        "Kernel peak states",
        &["kernel_peak_states", "k_peak_states"],
        Kind::Number,
    ),
    kdef(
        Col::KernelMaxStatesPerInsn,
        "Kernel max states per insn",
        &["kernel_max_states_per_insn", "k_max_states_per_insn"],
        Kind::Number,
    ),
    kdef(
        Col::KernelMarkRead,
        "Kernel mark read length",
        &["kernel_mark_read", "k_mark_read"],
        Kind::Number,
    ),
    kdef(
        Col::KernelStackDepth,
        "Kernel stack depth",
        &["kernel_stack_depth", "k_stack"],
        Kind::Number,
    ),
    kdef(
        Col::VerifiedInsns,
        "Verified insns",
        &["verified_insns", "k_verified"],
        Kind::Number,
    ),
    kdef(
        Col::KernelError,
        "Kernel error",
        &["kernel_error", "k_error"],
        Kind::Text,
    ),
    kdef(
        Col::Agree,
        "Agree",
        &["agree"],
        Kind::Flag("differ", "agree"),
    ),
];

const fn def(
    col: Col,
    header: &'static str,
    names: &'static [&'static str],
    kind: Kind,
) -> ColumnDef {
    ColumnDef {
        col,
        header,
        names,
        kind,
        kernel: false,
    }
}

const fn kdef(
    col: Col,
    header: &'static str,
    names: &'static [&'static str],
    kind: Kind,
) -> ColumnDef {
    ColumnDef {
        col,
        header,
        names,
        kind,
        kernel: true,
    }
}

impl Col {
    /// The column's definition.
    pub fn def(self) -> &'static ColumnDef {
        &COLUMNS[self as usize]
    }

    /// True for the file and program names.
    pub fn is_key(self) -> bool {
        self.def().kind == Kind::Key
    }

    /// The CSV header name.
    pub fn csv_name(self) -> &'static str {
        self.def().names[0]
    }
}

/// Default table columns (veristat's), then the kernel's with `--kernel`.
pub const DEFAULT_TABLE: &[Col] = &[
    Col::File,
    Col::Program,
    Col::Verdict,
    Col::Duration,
    Col::Insns,
    Col::States,
    Col::PeakStates,
];

/// Kernel columns added to the default table with `--kernel`.
pub const DEFAULT_TABLE_KERNEL: &[Col] = &[
    Col::KernelVerdict,
    Col::KernelDuration,
    Col::KernelInsns,
    Col::KernelStates,
    Col::KernelPeakStates,
    Col::Agree,
];

/// Default CSV and JSON columns: every column of ours without the error text (kernel
/// columns too with `--kernel`).
pub fn default_csv(kernel: bool) -> Vec<Col> {
    COLUMNS
        .iter()
        .filter(|d| (kernel || !d.kernel) && !matches!(d.col, Col::Error | Col::KernelError))
        .map(|d| d.col)
        .collect()
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Num(i64),
    Flag(bool),
    Text(String),
}

impl Value {
    /// The value as a number (flags are 0 or 1; text has none).
    pub fn num(&self) -> Option<i64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Flag(b) => Some(i64::from(*b)),
            Value::Text(_) => None,
        }
    }

    /// The value as the column shows it.
    pub fn show(&self, col: Col) -> String {
        match (self, col.def().kind) {
            (Value::Flag(b), Kind::Flag(no, yes)) => (if *b { yes } else { no }).to_string(),
            (Value::Flag(b), _) => b.to_string(),
            (Value::Num(n), _) => n.to_string(),
            (Value::Text(s), _) => s.clone(),
        }
    }

    /// Reads a value written by [`Value::show`]; `N/A` and the empty string are missing.
    pub fn parse(col: Col, s: &str) -> Result<Option<Value>, String> {
        let s = s.trim();
        if s == "N/A" || (s.is_empty() && col.def().kind != Kind::Text) {
            return Ok(None);
        }
        match col.def().kind {
            Kind::Key | Kind::Text => Ok(Some(Value::Text(s.to_string()))),
            Kind::Flag(no, yes) => match flag_word(s) {
                Some(b) => Ok(Some(Value::Flag(b))),
                None if s == yes => Ok(Some(Value::Flag(true))),
                None if s == no => Ok(Some(Value::Flag(false))),
                None => Err(format!(
                    "unrecognized {} value {s:?} (expected {yes} or {no})",
                    col.csv_name()
                )),
            },
            Kind::Number => s
                .parse::<i64>()
                .map(|n| Some(Value::Num(n)))
                .map_err(|_| format!("{} value {s:?} is not an integer", col.csv_name())),
        }
    }
}

/// Words that mean true or false in filters and CSV flag columns (veristat's set).
pub fn flag_word(s: &str) -> Option<bool> {
    const YES: &[&str] = &["true", "t", "success", "succ", "s", "match", "m", "agree"];
    const NO: &[&str] = &["false", "f", "failure", "fail", "mismatch", "mis", "differ"];
    let l = s.to_ascii_lowercase();
    if YES.contains(&l.as_str()) {
        Some(true)
    } else if NO.contains(&l.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// One program's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Indexed by [`Col`]; `None` where the value is unknown.
    pub values: Vec<Option<Value>>,
}

impl Default for Record {
    fn default() -> Record {
        Record {
            values: vec![None; COLUMNS.len()],
        }
    }
}

impl Record {
    /// A row for `file`/`prog` with nothing else known.
    pub fn new(file: &str, prog: &str) -> Record {
        let mut r = Record::default();
        r.set(Col::File, Value::Text(file.to_string()));
        r.set(Col::Program, Value::Text(prog.to_string()));
        r
    }

    pub fn get(&self, col: Col) -> Option<&Value> {
        self.values[col as usize].as_ref()
    }

    pub fn set(&mut self, col: Col, v: Value) {
        self.values[col as usize] = Some(v);
    }

    /// The file name (empty if unset).
    pub fn file(&self) -> &str {
        self.text(Col::File)
    }

    /// The program name (empty if unset).
    pub fn prog(&self) -> &str {
        self.text(Col::Program)
    }

    fn text(&self, col: Col) -> &str {
        match self.get(col) {
            Some(Value::Text(s)) => s,
            _ => "",
        }
    }

    /// Number `col` (`None` if missing or text).
    pub fn num(&self, col: Col) -> Option<i64> {
        self.get(col).and_then(Value::num)
    }

    /// The cell as shown in tables and CSV (`N/A` when missing).
    pub fn show(&self, col: Col) -> String {
        self.get(col)
            .map(|v| v.show(col))
            .unwrap_or_else(|| "N/A".to_string())
    }
}

/// Which side of a comparison a spec names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    A,
    B,
    Diff,
    Pct,
}

/// One parsed spec item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub col: Col,
    pub variant: Variant,
    pub asc: bool,
    pub abs: bool,
}

/// A bad `-e`/`-s`/`-f` spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Finds the column (and variant) a name like `insns`, `insns_diff` or `|insns_pct|` means;
/// returns (column, variant, absolute).
pub fn parse_name(name: &str) -> Option<(Col, Variant, bool)> {
    let (name, abs) = match name.strip_prefix('|').and_then(|n| n.strip_suffix('|')) {
        Some(inner) if !inner.is_empty() => (inner, true),
        _ => (name, false),
    };
    const SUFFIXES: &[(&str, Variant)] = &[
        ("_a", Variant::A),
        ("_b", Variant::B),
        ("_diff", Variant::Diff),
        ("_pct", Variant::Pct),
    ];
    for d in COLUMNS {
        for alias in d.names {
            if name == *alias {
                return Some((d.col, Variant::B, abs));
            }
            if let Some(rest) = name.strip_prefix(alias)
                && let Some((_, v)) = SUFFIXES.iter().find(|(s, _)| *s == rest)
            {
                return Some((d.col, *v, abs));
            }
        }
    }
    None
}

/// Parses one spec item: a column name with an optional order suffix (`^` ascending; `v`,
/// `V`, `.`, `!` or `_` descending). Without a suffix, names sort ascending and the rest
/// descending, except flags (verdicts), which sort ascending (failures first) as in veristat.
pub fn parse_spec(item: &str) -> Result<Spec, SpecError> {
    let item = item.trim();
    let (name, order) = match item.char_indices().last() {
        Some((i, '^')) if i > 0 => (&item[..i], Some(true)),
        Some((i, 'v' | 'V' | '.' | '!' | '_')) if i > 0 && parse_name(item).is_none() => {
            (&item[..i], Some(false))
        }
        _ => (item, None),
    };
    let (col, variant, abs) = parse_name(name).ok_or_else(|| {
        SpecError(format!(
            "unrecognized stat name {item:?} (known: {})",
            COLUMNS
                .iter()
                .map(|d| d.names[0])
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let default_asc = matches!(col.def().kind, Kind::Key | Kind::Flag(..) | Kind::Text);
    Ok(Spec {
        col,
        variant,
        asc: order.unwrap_or(default_asc),
        abs,
    })
}

/// Parses a comma-separated list of spec items (several `-e`/`-s` options add up).
pub fn parse_specs(list: &[String]) -> Result<Vec<Spec>, SpecError> {
    let mut out = Vec::new();
    for s in list {
        for item in s.split(',') {
            if item.trim().is_empty() {
                return Err(SpecError(format!("empty stat name in {s:?}")));
            }
            out.push(parse_spec(item)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_col() {
        for (i, d) in COLUMNS.iter().enumerate() {
            assert_eq!(d.col as usize, i, "{}", d.header);
        }
    }

    #[test]
    fn names_and_variants() {
        assert_eq!(parse_name("insns"), Some((Col::Insns, Variant::B, false)));
        assert_eq!(
            parse_name("total_insns_diff"),
            Some((Col::Insns, Variant::Diff, false))
        );
        assert_eq!(
            parse_name("|states_pct|"),
            Some((Col::States, Variant::Pct, true))
        );
        assert_eq!(
            parse_name("k_insns_a"),
            Some((Col::KernelInsns, Variant::A, false))
        );
        assert_eq!(parse_name("insnz"), None);
        assert_eq!(parse_name("insns_c"), None);
    }

    #[test]
    fn order_suffixes() {
        let s = parse_spec("insns^").unwrap();
        assert!(s.asc);
        let s = parse_spec("file_namev").unwrap();
        assert_eq!(s.col, Col::File);
        assert!(!s.asc);
        // "prog_size" ends in 'e', not an order symbol; "states_" is states descending.
        assert!(!parse_spec("insns").unwrap().asc);
        assert!(parse_spec("prog").unwrap().asc);
        assert!(!parse_spec("states_").unwrap().asc);
        assert!(parse_spec("bogus").is_err());
        assert!(parse_specs(&["insns,,states".into()]).is_err());
    }

    #[test]
    fn values_round_trip() {
        for (col, v) in [
            (Col::Verdict, Value::Flag(true)),
            (Col::Agree, Value::Flag(false)),
            (Col::Insns, Value::Num(-3)),
            (Col::ProgType, Value::Text("xdp".into())),
        ] {
            assert_eq!(Value::parse(col, &v.show(col)).unwrap(), Some(v));
        }
        assert_eq!(Value::parse(Col::Insns, "N/A").unwrap(), None);
        assert!(Value::parse(Col::Insns, "12x").is_err());
        assert!(Value::parse(Col::Verdict, "maybe").is_err());
    }
}
