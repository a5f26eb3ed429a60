//! Comparison mode (`stats -C A.csv B.csv`), as `veristat -C` does it: rows of the two runs
//! joined by file and program name (a row only one side has shows `N/A` on the other), and
//! for each statistic the A value, the B value and the difference — `+N (+P.PP%)` for numbers
//! (the percentage against A; `+100%` when A is 0 and B is not), `MATCH`/`MISMATCH` for
//! verdicts and text. Specs pick a side with `_a`, `_b` (the default), `_diff` or `_pct`.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Map, Value as Json};

use super::columns::{Col, Kind, Record, Spec, Variant};
use super::filter::Filters;
use super::output::{csv_field, json_cell, left_aligned, table};

/// One joined row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Joined {
    pub file: String,
    pub prog: String,
    pub a: Option<Record>,
    pub b: Option<Record>,
}

/// Joins two runs on (file, program), sorted by that key.
pub fn join(a: Vec<Record>, b: Vec<Record>) -> Vec<Joined> {
    let mut m: BTreeMap<(String, String), Joined> = BTreeMap::new();
    for (side_a, rows) in [(true, a), (false, b)] {
        for r in rows {
            let key = (r.file().to_string(), r.prog().to_string());
            let j = m.entry(key.clone()).or_insert_with(|| Joined {
                file: key.0,
                prog: key.1,
                a: None,
                b: None,
            });
            if side_a {
                j.a = Some(r);
            } else {
                j.b = Some(r);
            }
        }
    }
    m.into_values().collect()
}

/// The A-to-B change in percent (veristat's convention when A is 0).
pub fn pct(a: i64, b: i64) -> f64 {
    if a == 0 {
        match b.cmp(&0) {
            std::cmp::Ordering::Equal => 0.0,
            std::cmp::Ordering::Less => -100.0,
            std::cmp::Ordering::Greater => 100.0,
        }
    } else {
        (b as f64 - a as f64) * 100.0 / a as f64
    }
}

impl Joined {
    /// Whether both sides have the value and agree (for flags and text).
    fn same(&self, col: Col) -> Option<bool> {
        let a = self.a.as_ref()?.get(col)?;
        let b = self.b.as_ref()?.get(col)?;
        Some(a == b)
    }

    fn num(&self, col: Col, side_a: bool) -> Option<i64> {
        let r = if side_a { &self.a } else { &self.b };
        r.as_ref()?.num(col)
    }

    /// The numeric value a spec variant names (`None` when a side is missing).
    pub fn value(&self, col: Col, variant: Variant) -> Option<f64> {
        let numeric = col.def().kind == Kind::Number;
        match variant {
            Variant::A => self.num(col, true).map(|n| n as f64),
            Variant::B => self.num(col, false).map(|n| n as f64),
            Variant::Diff if !numeric => self.same(col).map(|s| f64::from(u8::from(s))),
            Variant::Pct if !numeric => self.same(col).map(|s| f64::from(u8::from(s))),
            Variant::Diff => Some((self.num(col, false)? - self.num(col, true)?) as f64),
            Variant::Pct => Some(pct(self.num(col, true)?, self.num(col, false)?)),
        }
    }

    fn text(&self, col: Col, side_a: bool) -> Option<String> {
        let r = if side_a { &self.a } else { &self.b };
        r.as_ref().map(|r| r.show(col))
    }

    /// Cells for the A, B and DIFF table columns of a statistic.
    pub fn cells(&self, col: Col) -> [String; 3] {
        let na = || "N/A".to_string();
        let a = self.text(col, true).unwrap_or_else(na);
        let b = self.text(col, false).unwrap_or_else(na);
        let diff = if col.def().kind == Kind::Number {
            match (self.num(col, true), self.num(col, false)) {
                (Some(x), Some(y)) => format!("{:+} ({:+.2}%)", y - x, pct(x, y)),
                _ => na(),
            }
        } else {
            match self.same(col) {
                Some(true) => "MATCH".into(),
                Some(false) => "MISMATCH".into(),
                None => na(),
            }
        };
        [a, b, diff]
    }
}

/// Sorts joined rows by the specs, then by key.
pub fn sort_joined(rows: &mut [Joined], specs: &[Spec]) {
    rows.sort_by(|x, y| {
        for s in specs {
            let c = if s.col.is_key() {
                let k = |j: &Joined| {
                    if s.col == Col::File {
                        j.file.clone()
                    } else {
                        j.prog.clone()
                    }
                };
                k(x).cmp(&k(y))
            } else {
                let v = |j: &Joined| {
                    j.value(s.col, s.variant)
                        .map(|v| if s.abs { v.abs() } else { v })
                        .unwrap_or(f64::MIN)
                };
                v(x).total_cmp(&v(y))
            };
            let c = if s.asc { c } else { c.reverse() };
            if c != std::cmp::Ordering::Equal {
                return c;
            }
        }
        (&x.file, &x.prog).cmp(&(&y.file, &y.prog))
    });
}

/// Keeps the rows the stat filters allow (name filters apply when the CSVs are read).
pub fn filter_joined(rows: Vec<Joined>, filters: &Filters) -> Vec<Joined> {
    rows.into_iter()
        .filter(|j| filters.keep_name(&j.file, &j.prog))
        .filter(|j| filters.keep_stats(|c, v| j.value(c, v)))
        .collect()
}

fn key_cell(j: &Joined, col: Col) -> String {
    if col == Col::File {
        j.file.clone()
    } else {
        j.prog.clone()
    }
}

/// The comparison as a table: key columns once, other statistics as A, B and DIFF.
pub fn joined_table(rows: &[Joined], cols: &[Col]) -> String {
    let mut headers = Vec::new();
    let mut left = Vec::new();
    for c in cols {
        if c.is_key() {
            headers.push(c.def().header.to_string());
            left.push(true);
        } else {
            for sfx in [" (A)", " (B)", " (DIFF)"] {
                headers.push(format!("{}{sfx}", c.def().header));
                left.push(left_aligned(*c));
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|j| {
            let mut r = Vec::new();
            for c in cols {
                if c.is_key() {
                    r.push(key_cell(j, *c));
                } else {
                    r.extend(j.cells(*c));
                }
            }
            r
        })
        .collect();
    table(&headers, &cells, &left)
}

/// The comparison as CSV: `NAME_base`, `NAME_comp`, `NAME_diff` (a number or MATCH/MISMATCH)
/// and `NAME_pct` per statistic.
pub fn joined_csv(rows: &[Joined], cols: &[Col]) -> String {
    let mut out = String::new();
    let mut header = Vec::new();
    for c in cols {
        if c.is_key() {
            header.push(c.csv_name().to_string());
        } else {
            for sfx in ["_base", "_comp", "_diff", "_pct"] {
                header.push(format!("{}{sfx}", c.csv_name()));
            }
        }
    }
    let _ = writeln!(out, "{}", header.join(","));
    for j in rows {
        let mut r = Vec::new();
        for c in cols {
            if c.is_key() {
                r.push(csv_field(&key_cell(j, *c)));
                continue;
            }
            let [a, b, diff] = j.cells(*c);
            let (diff, pct) = if c.def().kind == Kind::Number {
                (
                    j.value(*c, Variant::Diff)
                        .map_or("N/A".into(), |d| format!("{d}")),
                    j.value(*c, Variant::Pct)
                        .map_or("N/A".into(), |p| format!("{p:.2}")),
                )
            } else {
                (diff, "N/A".into())
            };
            r.extend([a, b, diff, pct].iter().map(|s| csv_field(s)));
        }
        let _ = writeln!(out, "{}", r.join(","));
    }
    out
}

/// The comparison as JSON: per row, key names and for each statistic an object with `a`,
/// `b`, `diff` and `pct`.
pub fn joined_json(rows: &[Joined], cols: &[Col]) -> Json {
    Json::Array(
        rows.iter()
            .map(|j| {
                let mut m = Map::new();
                for c in cols {
                    if c.is_key() {
                        m.insert(c.csv_name().into(), Json::from(key_cell(j, *c)));
                        continue;
                    }
                    let side = |r: &Option<Record>| {
                        r.as_ref().map_or(Json::Null, |r| json_cell(r.get(*c), *c))
                    };
                    let num = |v: Option<f64>| v.map_or(Json::Null, Json::from);
                    let mut s = Map::new();
                    s.insert("a".into(), side(&j.a));
                    s.insert("b".into(), side(&j.b));
                    if c.def().kind == Kind::Number {
                        s.insert("diff".into(), num(j.value(*c, Variant::Diff)));
                        s.insert("pct".into(), num(j.value(*c, Variant::Pct)));
                    } else {
                        s.insert("match".into(), j.same(*c).map_or(Json::Null, Json::from));
                    }
                    m.insert(c.csv_name().into(), Json::Object(s));
                }
                Json::Object(m)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::stats::columns::Value;

    fn rec(prog: &str, insns: i64, ok: bool) -> Record {
        let mut r = Record::new("x.o", prog);
        r.set(Col::Insns, Value::Num(insns));
        r.set(Col::Verdict, Value::Flag(ok));
        r
    }

    #[test]
    fn joins_and_diffs() {
        let j = join(
            vec![rec("p", 200, true), rec("only_a", 1, true)],
            vec![rec("p", 150, false), rec("only_b", 1, true)],
        );
        assert_eq!(j.len(), 3);
        let p = j.iter().find(|j| j.prog == "p").unwrap();
        assert_eq!(
            p.cells(Col::Insns),
            ["200", "150", "-50 (-25.00%)"].map(String::from)
        );
        assert_eq!(p.cells(Col::Verdict)[2], "MISMATCH");
        assert_eq!(p.value(Col::Insns, Variant::Pct), Some(-25.0));
        assert_eq!(p.value(Col::Verdict, Variant::Diff), Some(0.0));
        let a = j.iter().find(|j| j.prog == "only_a").unwrap();
        assert_eq!(a.cells(Col::Insns), ["1", "N/A", "N/A"].map(String::from));
        assert_eq!(a.value(Col::Insns, Variant::Diff), None);
        assert_eq!(pct(0, 5), 100.0);
        assert_eq!(pct(0, 0), 0.0);
    }
}
