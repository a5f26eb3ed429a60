//! Internet checksum arithmetic as x86-64 Linux does it: 32-bit ones'-complement partial
//! sums over values in memory byte order (loaded little-endian), folded to 16 bits. Shared
//! by `csum_diff` and the `l3/l4_csum_replace` helpers.

/// `csum_add`: 32-bit ones'-complement addition.
pub(crate) fn add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s.wrapping_add(carry as u32)
}

/// `csum_sub`.
pub(crate) fn sub(a: u32, b: u32) -> u32 {
    add(a, !b)
}

/// `csum_fold`: the 16-bit checksum (inverted) of a 32-bit partial sum.
pub(crate) fn fold(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    let s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// `csum_replace4`: the checksum `sum` after a 32-bit field changed from `from` to `to`.
pub(crate) fn replace4(sum: u16, from: u32, to: u32) -> u16 {
    fold(add(sub(!(sum as u32), from), to))
}

/// `csum_replace2`: the checksum `sum` after a 16-bit field changed from `from` to `to`.
pub(crate) fn replace2(sum: u16, from: u16, to: u16) -> u16 {
    let add16 = |a: u16, b: u16| {
        let (r, c) = a.overflowing_add(b);
        r.wrapping_add(c as u16)
    };
    !add16(add16(!sum, !from), to)
}

/// `csum_replace_by_diff`: the checksum `sum` after data whose partial sum changed by `diff`.
pub(crate) fn replace_by_diff(sum: u16, diff: u32) -> u16 {
    fold(add(diff, !(sum as u32)))
}

/// A 32-bit ones'-complement sum of little-endian 32-bit words (`csum_partial` on
/// 4-byte-multiple buffers).
pub(crate) fn partial(words: &[u8], seed: u32) -> u32 {
    let mut sum = seed as u64;
    for w in words.chunks_exact(4) {
        sum += u32::from_le_bytes(w.try_into().expect("4 bytes")) as u64;
    }
    while sum >> 32 != 0 {
        sum = (sum & 0xffff_ffff) + (sum >> 32);
    }
    sum as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checksum of an IPv4 header, computed from scratch.
    fn ip_checksum(h: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for w in h.chunks(2) {
            s += u16::from_le_bytes([w[0], w[1]]) as u32;
        }
        fold(s)
    }

    #[test]
    fn replace_matches_recomputation() {
        let mut h = [
            0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let c = ip_checksum(&h);
        h[10..12].copy_from_slice(&c.to_le_bytes());
        assert_eq!(ip_checksum(&h), 0);
        // Change the destination address and the TTL; fix the sum incrementally.
        let old = u32::from_le_bytes(h[16..20].try_into().unwrap());
        h[16..20].copy_from_slice(&[192, 168, 7, 9]);
        let new = u32::from_le_bytes(h[16..20].try_into().unwrap());
        let sum = u16::from_le_bytes([h[10], h[11]]);
        h[10..12].copy_from_slice(&replace4(sum, old, new).to_le_bytes());
        assert_eq!(ip_checksum(&h), 0);
        let old = u16::from_le_bytes([h[8], h[9]]);
        h[8] = 7;
        let new = u16::from_le_bytes([h[8], h[9]]);
        let sum = u16::from_le_bytes([h[10], h[11]]);
        h[10..12].copy_from_slice(&replace2(sum, old, new).to_le_bytes());
        assert_eq!(ip_checksum(&h), 0);
        // By difference, as csum_diff gives it.
        let before = h;
        h[12..16].copy_from_slice(&[172, 16, 0, 1]);
        let mut d: Vec<u8> = before[12..16].iter().map(|b| !b).collect();
        d.extend_from_slice(&h[12..16]);
        let diff = partial(&d, 0);
        let sum = u16::from_le_bytes([h[10], h[11]]);
        h[10..12].copy_from_slice(&replace_by_diff(sum, diff).to_le_bytes());
        assert_eq!(ip_checksum(&h), 0);
    }

    #[test]
    fn partial_folds_carries() {
        assert_eq!(partial(&[0xff; 8], 0), 0xffff_ffff);
        assert_eq!(partial(&[1, 0, 0, 0, 2, 0, 0, 0], 5), 8);
        assert_eq!(partial(&[0xff, 0xff, 0xff, 0xff], 1), 1);
    }
}
