//! Rows out and in: sorting by a spec, the aligned table (veristat's layout: two-space column
//! gaps, dashed rules, text left and numbers right), CSV (header of spec names, fields quoted
//! only when they hold a comma, quote or newline) and JSON; and reading CSV back.

use std::cmp::Ordering;
use std::fmt::Write;
use std::path::Path;

use serde_json::{Map, Value as Json};

use super::columns::{Col, Kind, Record, Spec, Value, parse_name};

/// Sort key of one cell: missing values sort below everything, text by bytes.
fn cmp_values(a: Option<&Value>, b: Option<&Value>, abs: bool) -> Ordering {
    let n = |v: &Value| v.num().map(|n| if abs { n.saturating_abs() } else { n });
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(Value::Text(x)), Some(Value::Text(y))) => x.cmp(y),
        (Some(x), Some(y)) => n(x).cmp(&n(y)),
    }
}

/// Sorts rows by the specs, then by file and program name.
pub fn sort_records(rows: &mut [Record], specs: &[Spec]) {
    rows.sort_by(|a, b| {
        for s in specs {
            let c = cmp_values(a.get(s.col), b.get(s.col), s.abs);
            let c = if s.asc { c } else { c.reverse() };
            if c != Ordering::Equal {
                return c;
            }
        }
        a.file().cmp(b.file()).then_with(|| a.prog().cmp(b.prog()))
    });
}

/// Whether a column's cells are left-aligned.
pub fn left_aligned(col: Col) -> bool {
    col.def().kind != Kind::Number
}

/// Lays out a table: headers, a rule, the rows, a rule. `left[i]` aligns column `i`.
pub fn table(headers: &[String], rows: &[Vec<String>], left: &[bool]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let rule = widths
        .iter()
        .map(|w| "-".repeat(*w))
        .collect::<Vec<_>>()
        .join("  ");
    let line = |cells: &[String], out: &mut String| {
        let mut parts = Vec::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            if left[i] {
                parts.push(format!("{c}{}", " ".repeat(pad)));
            } else {
                parts.push(format!("{}{c}", " ".repeat(pad)));
            }
        }
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    let mut out = String::new();
    line(headers, &mut out);
    let _ = writeln!(out, "{rule}");
    for r in rows {
        line(r, &mut out);
    }
    let _ = writeln!(out, "{rule}");
    out
}

/// The rows as a table of the given columns.
pub fn records_table(rows: &[Record], cols: &[Col]) -> String {
    let headers: Vec<String> = cols.iter().map(|c| c.def().header.to_string()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| cols.iter().map(|c| r.show(*c)).collect())
        .collect();
    let left: Vec<bool> = cols.iter().map(|c| left_aligned(*c)).collect();
    table(&headers, &cells, &left)
}

/// One CSV field, quoted when it must be.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The rows as CSV of the given columns.
pub fn records_csv(rows: &[Record], cols: &[Col]) -> String {
    let mut out = String::new();
    let header: Vec<&str> = cols.iter().map(|c| c.csv_name()).collect();
    let _ = writeln!(out, "{}", header.join(","));
    for r in rows {
        let cells: Vec<String> = cols.iter().map(|c| csv_field(&r.show(*c))).collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

/// A cell as JSON: numbers as numbers, the rest as shown, missing as null.
pub fn json_cell(v: Option<&Value>, col: Col) -> Json {
    match v {
        None => Json::Null,
        Some(Value::Num(n)) => Json::from(*n),
        Some(v) => Json::from(v.show(col)),
    }
}

/// The rows as a JSON array of objects keyed by CSV names.
pub fn records_json(rows: &[Record], cols: &[Col]) -> Json {
    Json::Array(
        rows.iter()
            .map(|r| {
                let mut m = Map::new();
                for c in cols {
                    m.insert(c.csv_name().to_string(), json_cell(r.get(*c), *c));
                }
                Json::Object(m)
            })
            .collect(),
    )
}

/// Splits one CSV line into fields (double quotes group, `""` is a quote).
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if cur.is_empty() => quoted = true,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

/// Reads a CSV written by `stats -o csv` (or by veristat): its columns and rows. Errors name
/// the file and the row.
pub fn read_csv(path: &Path) -> Result<(Vec<Col>, Vec<Record>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let where_ = |row: usize, msg: String| format!("{}: row {row}: {msg}", path.display());
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(format!("{}: empty CSV file", path.display()));
    };
    let mut cols = Vec::new();
    for name in split_csv_line(header).map_err(|e| where_(1, e))? {
        let (col, _, _) = parse_name(name.trim()).ok_or_else(|| {
            format!(
                "{}: unrecognized column {:?} in the header",
                path.display(),
                name
            )
        })?;
        if cols.contains(&col) {
            return Err(format!("{}: column {name:?} appears twice", path.display()));
        }
        cols.push(col);
    }
    for key in [Col::File, Col::Program] {
        if !cols.contains(&key) {
            return Err(format!(
                "{}: the header has no {} column",
                path.display(),
                key.csv_name()
            ));
        }
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let fields = split_csv_line(line).map_err(|e| where_(i + 1, e))?;
        if fields.len() != cols.len() {
            return Err(where_(
                i + 1,
                format!("{} fields, the header has {}", fields.len(), cols.len()),
            ));
        }
        let mut r = Record::default();
        for (col, f) in cols.iter().zip(&fields) {
            if let Some(v) = Value::parse(*col, f).map_err(|e| where_(i + 1, e))? {
                r.set(*col, v);
            }
        }
        if r.file().is_empty() || r.prog().is_empty() {
            return Err(where_(i + 1, "no file or program name".into()));
        }
        rows.push(r);
    }
    Ok((cols, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_round_trip() {
        for s in ["plain", "a,b", "say \"hi\"", ""] {
            let line = format!("{},x", csv_field(s));
            assert_eq!(
                split_csv_line(&line).unwrap(),
                vec![s.to_string(), "x".into()]
            );
        }
        assert!(split_csv_line("\"open,x").is_err());
    }

    #[test]
    fn table_aligns() {
        let t = table(
            &["Name".into(), "N".into()],
            &[
                vec!["a".into(), "100".into()],
                vec!["bbbbb".into(), "2".into()],
            ],
            &[true, false],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "Name     N");
        assert_eq!(lines[1], "-----  ---");
        assert_eq!(lines[2], "a      100");
        assert_eq!(lines[3], "bbbbb    2");
    }

    #[test]
    fn sorting_puts_missing_last_when_descending() {
        let mut a = Record::new("f", "a");
        a.set(Col::Insns, Value::Num(5));
        let mut b = Record::new("f", "b");
        b.set(Col::Insns, Value::Num(-9));
        let c = Record::new("f", "c");
        let mut rows = vec![c, a, b];
        let desc = Spec {
            col: Col::Insns,
            variant: super::super::columns::Variant::B,
            asc: false,
            abs: false,
        };
        sort_records(&mut rows, &[desc]);
        let names: Vec<&str> = rows.iter().map(|r| r.prog()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        sort_records(&mut rows, &[Spec { abs: true, ..desc }]);
        let names: Vec<&str> = rows.iter().map(|r| r.prog()).collect();
        assert_eq!(names, ["b", "a", "c"]);
    }
}
