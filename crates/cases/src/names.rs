//! Name tables for the case format: errno names, `BPF_F_*` program flags and map flags.

/// errno names a case may give in `errno`, with their Linux values.
pub const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EIO", 5),
    ("E2BIG", 7),
    ("EBADF", 9),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("ENODEV", 19),
    ("EINVAL", 22),
    ("ENOSPC", 28),
    ("ERANGE", 34),
    ("ENOSYS", 38),
    ("ELOOP", 40),
    ("EOPNOTSUPP", 95),
    ("ENOTSUPP", 524),
];

/// `BPF_F_*` program flags (`flags` directive).
pub const PROG_FLAGS: &[(&str, u32)] = &[
    ("strict_alignment", 1 << 0),
    ("any_alignment", 1 << 1),
    ("test_rnd_hi32", 1 << 2),
    ("test_state_freq", 1 << 3),
    ("sleepable", 1 << 4),
    ("xdp_has_frags", 1 << 5),
    ("test_reg_invariants", 1 << 7),
];

/// `BPF_F_*` map flags (`flags=` of a `map` line).
pub const MAP_FLAGS: &[(&str, u32)] = &[
    ("no_prealloc", 1 << 0),
    ("no_common_lru", 1 << 1),
    ("numa_node", 1 << 2),
    ("rdonly", 1 << 3),
    ("wronly", 1 << 4),
    ("stack_build_id", 1 << 5),
    ("zero_seed", 1 << 6),
    ("rdonly_prog", 1 << 7),
    ("wronly_prog", 1 << 8),
    ("clone", 1 << 9),
    ("mmapable", 1 << 10),
    ("preserve_elems", 1 << 11),
    ("inner_map", 1 << 12),
];

/// The value of an errno name (`EACCES` → 13).
pub fn errno_by_name(name: &str) -> Option<i32> {
    ERRNOS.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
}

/// The name of an errno value, or `errno N`.
pub fn errno_name(value: i32) -> String {
    ERRNOS
        .iter()
        .find(|&&(_, v)| v == value)
        .map_or_else(|| format!("errno {value}"), |(n, _)| (*n).to_string())
}

/// An integer in decimal or `0x` hex, optionally negative.
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => body.parse::<i64>().ok()?,
    };
    Some(if neg { -v } else { v })
}

/// `A|B|C` names from `table`, or a number.
pub fn flag_set(v: &str, table: &[(&str, u32)], what: &str) -> Result<u32, String> {
    if let Some(n) = parse_int(v) {
        return u32::try_from(n).map_err(|_| format!("{what}s `{v}` do not fit in 32 bits"));
    }
    let mut out = 0;
    for name in v.split('|') {
        let name = name.trim();
        out |= table
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, f)| f)
            .ok_or_else(|| format!("unknown {what} `{name}`"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_round_trip() {
        for &(n, v) in ERRNOS {
            assert_eq!(errno_by_name(n), Some(v));
            assert_eq!(errno_name(v), n);
        }
        assert_eq!(errno_by_name("EWHAT"), None);
        assert_eq!(errno_name(999), "errno 999");
    }

    #[test]
    fn integers_and_flags() {
        assert_eq!(parse_int("-0x10"), Some(-16));
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("4x"), None);
        assert_eq!(
            flag_set("rdonly_prog|no_prealloc", MAP_FLAGS, "map flag"),
            Ok(0x81)
        );
        assert_eq!(flag_set("0x80", MAP_FLAGS, "map flag"), Ok(0x80));
        assert!(flag_set("bogus", PROG_FLAGS, "program flag").is_err());
        assert!(flag_set("-1", PROG_FLAGS, "program flag").is_err());
    }
}
