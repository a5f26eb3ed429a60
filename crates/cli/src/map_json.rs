//! Maps as JSON, for `bpfvet run --map NAME=FILE` and `--dump-maps`.
//!
//! Input (`--map`): a list of elements, `[{"key": K, "value": V}, ...]`. A key or value is
//! a JSON number (written little-endian at the map's key or value size), a string of hex
//! digits (the bytes in memory order, spaces allowed: `"0a000001"`), or, for prog arrays, a
//! program's name. Queues and stacks take values only (`key` may be omitted).
//!
//! Output (`--dump-maps`): `{"maps": [{"name", "type", "key_size", "value_size",
//! "max_entries", "entries": [{"key": "hex", "value": "hex", "per_cpu": ["hex", ...]?}]}]}`
//! in iteration order; its entries read back with `--map`.

use bpfvet_vm::maps::{MapDump, MapType, Maps};
use serde_json::{Value, json};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from hex digits (whitespace and a `0x` prefix allowed).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits);
    if !digits.len().is_multiple_of(2) {
        return Err(format!("`{s}`: an odd number of hex digits"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("`{s}`: not hex bytes"))
        })
        .collect()
}

/// The bytes of one JSON key or value of `size` bytes.
fn bytes_of(v: &Value, size: usize, programs: &[String], what: &str) -> Result<Vec<u8>, String> {
    match v {
        Value::Number(n) => {
            let x = n
                .as_u64()
                .or_else(|| n.as_i64().map(|i| i as u64))
                .ok_or_else(|| format!("{what}: {n} is not an integer"))?;
            if size < 8 && x >> (size * 8) != 0 && n.as_i64().is_none_or(|i| i >= 0) {
                return Err(format!("{what}: {x} does not fit {size} bytes"));
            }
            let mut b = x.to_le_bytes().to_vec();
            b.resize(size.max(8), 0);
            b.truncate(size);
            Ok(b)
        }
        Value::String(s) => {
            if let Some(i) = programs.iter().position(|p| p == s) {
                return Ok((i as u32).to_le_bytes()[..size.min(4)].to_vec());
            }
            let b = parse_hex(s).map_err(|e| format!("{what}: {e}"))?;
            if b.len() != size {
                return Err(format!("{what}: {} bytes, the map wants {size}", b.len()));
            }
            Ok(b)
        }
        _ => Err(format!(
            "{what}: expected a number, a hex string or a program name, got {v}"
        )),
    }
}

/// Fills map `index` of `maps` from JSON text; `programs` names the programs prog arrays
/// may refer to. Returns the number of elements written.
pub fn load(
    maps: &mut Maps,
    index: usize,
    text: &str,
    programs: &[String],
) -> Result<usize, String> {
    let spec = maps
        .spec(index)
        .cloned()
        .ok_or_else(|| format!("no map {index}"))?;
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = match &doc {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("entries") {
            Some(Value::Array(a)) => a,
            _ => return Err("expected a list of {\"key\", \"value\"} objects".into()),
        },
        _ => return Err("expected a list of {\"key\", \"value\"} objects".into()),
    };
    let keyless = matches!(spec.map_type, MapType::Queue | MapType::Stack);
    for (i, e) in list.iter().enumerate() {
        let what = |part: &str| format!("element {i} {part}");
        let value = e
            .get("value")
            .ok_or_else(|| format!("element {i}: no \"value\""))?;
        let value = bytes_of(value, spec.value_size as usize, programs, &what("value"))?;
        if keyless {
            maps.push(index, &value, 0)
                .map_err(|e| format!("element {i}: {e}"))?;
            continue;
        }
        let key = e
            .get("key")
            .ok_or_else(|| format!("element {i}: no \"key\""))?;
        let key = bytes_of(key, spec.key_size as usize, &[], &what("key"))?;
        maps.update(index, &key, &value, 0)
            .map_err(|e| format!("element {i}: {e}"))?;
    }
    Ok(list.len())
}

/// One map's dump as JSON.
pub fn dump_value(d: &MapDump) -> Value {
    let entries: Vec<Value> = d
        .entries
        .iter()
        .map(|e| {
            let mut o = json!({"key": hex(&e.key), "value": hex(&e.value)});
            if let Some(p) = &e.per_cpu {
                o["per_cpu"] = Value::Array(p.iter().map(|v| Value::String(hex(v))).collect());
            }
            o
        })
        .collect();
    json!({
        "name": d.spec.name,
        "type": d.spec.map_type.name(),
        "key_size": d.spec.key_size,
        "value_size": d.spec.value_size,
        "max_entries": d.spec.max_entries,
        "entries": entries,
    })
}

/// Every map of `maps` as `{"maps": [...]}`.
pub fn dump(maps: &Maps) -> Value {
    json!({"maps": maps.dump_all().iter().map(dump_value).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfvet_vm::maps::MapSpec;

    #[test]
    fn loads_numbers_hex_and_program_names() {
        let mut maps = Maps::new();
        let h = maps
            .create(MapSpec::new("h", MapType::Hash, 4, 8, 8))
            .unwrap();
        let p = maps
            .create(MapSpec::new("p", MapType::ProgArray, 4, 4, 4))
            .unwrap();
        let n = load(
            &mut maps,
            h,
            r#"[{"key": 1, "value": "0102030405060708"}, {"key": "0a000001", "value": 7}]"#,
            &[],
        )
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            maps.lookup(h, &1u32.to_le_bytes()).unwrap(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(maps.lookup(h, &[10, 0, 0, 1]).unwrap(), 7u64.to_le_bytes());
        let progs = ["entry".to_string(), "next".to_string()];
        load(&mut maps, p, r#"[{"key": 2, "value": "next"}]"#, &progs).unwrap();
        assert_eq!(
            maps.lookup(p, &2u32.to_le_bytes()).unwrap(),
            1u32.to_le_bytes()
        );
        // The dump reads back.
        let dumped = dump_value(&maps.dump(h).unwrap());
        let mut again = Maps::new();
        let h2 = again
            .create(MapSpec::new("h", MapType::Hash, 4, 8, 8))
            .unwrap();
        load(&mut again, h2, &dumped.to_string(), &[]).unwrap();
        assert_eq!(
            again.dump(h2).unwrap().entries,
            maps.dump(h).unwrap().entries
        );
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        let mut maps = Maps::new();
        let a = maps
            .create(MapSpec::new("a", MapType::Array, 4, 2, 2))
            .unwrap();
        let err = |t: &str| load(&mut maps.clone(), a, t, &[]).unwrap_err();
        assert!(err("{").contains("not JSON"));
        assert!(err(r#"[{"key": 0}]"#).contains("no \"value\""));
        assert!(err(r#"[{"key": 0, "value": 70000}]"#).contains("does not fit 2 bytes"));
        assert!(err(r#"[{"key": 0, "value": "abc"}]"#).contains("odd number"));
        assert!(err(r#"[{"key": 0, "value": "aabbcc"}]"#).contains("3 bytes"));
        assert!(err(r#"[{"key": 5, "value": 1}]"#).contains("element 0"));
        assert!(err(r#"[{"key": 0, "value": true}]"#).contains("expected a number"));
    }
}
