//! Longest-prefix-match trie storage. A key is a little-endian `u32` prefix length followed by
//! `data_size` bytes; an entry matches an address when its first `prefixlen` bits equal the
//! address's. Entries are indexed by (prefix length, masked data), and a lookup tries the
//! prefix lengths present from the longest down, which finds the same entry as the kernel's
//! trie walk.
//!
//! Iteration order is the kernel's post-order over its trie: more specific prefixes before
//! the prefixes that contain them, and between unrelated prefixes the one whose first
//! differing bit is 0 comes first. That order does not depend on insertion order.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use super::slab::Slab;

/// The data bits of `data` beyond the first `len`, cleared.
fn masked(data: &[u8], len: u32) -> Box<[u8]> {
    let mut out = data.to_vec();
    for (i, b) in out.iter_mut().enumerate() {
        let first = i as u32 * 8;
        if first >= len {
            *b = 0;
        } else if len - first < 8 {
            *b &= 0xffu8 << (8 - (len - first));
        }
    }
    out.into()
}

fn bit(data: &[u8], i: u32) -> u8 {
    (data[(i / 8) as usize] >> (7 - i % 8)) & 1
}

/// The kernel's post-order between two entries (prefix length, data).
fn postorder(a: (u32, &[u8]), b: (u32, &[u8])) -> Ordering {
    let common = a.0.min(b.0);
    for i in 0..common {
        let (x, y) = (bit(a.1, i), bit(b.1, i));
        if x != y {
            return x.cmp(&y);
        }
    }
    // One contains the other: the longer (more specific) first.
    b.0.cmp(&a.0)
}

/// An LPM trie of up to `max` entries.
#[derive(Clone, Debug)]
pub(crate) struct Lpm {
    pub values: Slab,
    pub data_size: usize,
    entries: HashMap<(u32, Box<[u8]>), u32>,
    /// The key each slot was last stored with (data bits beyond the prefix as given).
    keys: Vec<Option<Vec<u8>>>,
    /// How many entries have each prefix length.
    lens: BTreeMap<u32, usize>,
    free: Vec<u32>,
    fresh: u32,
}

impl Lpm {
    pub fn new(key_size: usize, value_size: usize) -> Lpm {
        Lpm {
            values: Slab::new(value_size, 1),
            data_size: key_size - 4,
            entries: HashMap::new(),
            keys: Vec::new(),
            lens: BTreeMap::new(),
            free: Vec::new(),
            fresh: 0,
        }
    }

    /// The largest prefix length.
    pub fn max_prefixlen(&self) -> u32 {
        self.data_size as u32 * 8
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn split(key: &[u8]) -> (u32, &[u8]) {
        let len = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
        (len, &key[4..])
    }

    /// The slot of the entry with exactly this prefix (length and bits).
    pub fn find_exact(&self, key: &[u8]) -> Option<usize> {
        let (len, data) = Self::split(key);
        if len > self.max_prefixlen() {
            return None;
        }
        self.entries
            .get(&(len, masked(data, len)))
            .map(|&s| s as usize)
    }

    /// The slot of the longest prefix matching the first `prefixlen` bits of the key.
    pub fn longest_match(&self, key: &[u8]) -> Option<usize> {
        let (len, data) = Self::split(key);
        let limit = len.min(self.max_prefixlen());
        self.lens
            .range(..=limit)
            .rev()
            .find_map(|(&l, _)| self.entries.get(&(l, masked(data, l))))
            .map(|&s| s as usize)
    }

    /// Inserts a new entry for `key` (which must be absent) with a zeroed value; `None` if
    /// the trie holds `max` entries already.
    pub fn insert(&mut self, key: &[u8], max: u32) -> Option<usize> {
        let (len, data) = Self::split(key);
        let slot = match self.free.pop() {
            Some(s) => s,
            None if self.fresh < max => {
                self.fresh += 1;
                self.fresh - 1
            }
            None => return None,
        };
        let s = slot as usize;
        self.values.ensure(s);
        self.values.clear(s);
        if self.keys.len() <= s {
            self.keys.resize(s + 1, None);
        }
        self.keys[s] = Some(key.to_vec());
        self.entries.insert((len, masked(data, len)), slot);
        *self.lens.entry(len).or_insert(0) += 1;
        Some(s)
    }

    /// Records the key an existing entry was last updated with.
    pub fn set_key(&mut self, slot: usize, key: &[u8]) {
        self.keys[slot] = Some(key.to_vec());
    }

    /// Removes the entry with exactly this prefix; returns its slot.
    pub fn remove(&mut self, key: &[u8]) -> Option<usize> {
        let (len, data) = Self::split(key);
        let slot = self.entries.remove(&(len, masked(data, len)))?;
        self.keys[slot as usize] = None;
        if let Some(n) = self.lens.get_mut(&len) {
            *n -= 1;
            if *n == 0 {
                self.lens.remove(&len);
            }
        }
        self.free.push(slot);
        Some(slot as usize)
    }

    /// (key, slot) of every entry in the kernel's iteration order.
    pub fn ordered(&self) -> Vec<(Vec<u8>, usize)> {
        let mut all: Vec<(Vec<u8>, usize)> = self
            .keys
            .iter()
            .enumerate()
            .filter_map(|(s, k)| k.clone().map(|k| (k, s)))
            .collect();
        all.sort_by(|a, b| postorder(Self::split(&a.0), Self::split(&b.0)));
        all
    }

    /// The key after `key` in iteration order; the first key if `key` is not an entry.
    pub fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let all = self.ordered();
        let pos = key
            .and_then(|k| self.find_exact(k))
            .and_then(|s| all.iter().position(|e| e.1 == s));
        match pos {
            Some(p) => all.get(p + 1).map(|e| e.0.clone()),
            None => all.first().map(|e| e.0.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_and_order() {
        assert_eq!(&*masked(&[0xff, 0xff], 12), &[0xff, 0xf0]);
        assert_eq!(&*masked(&[0xff, 0xff], 0), &[0, 0]);
        // 192.168.0.0/16 comes after 192.168.1.0/24 (contained), 192.168.0.0/24 before both.
        let a = (24, &[192u8, 168, 0, 0][..]);
        let b = (24, &[192u8, 168, 1, 0][..]);
        let c = (16, &[192u8, 168, 0, 0][..]);
        assert_eq!(postorder(a, b), Ordering::Less);
        assert_eq!(postorder(b, c), Ordering::Less);
        assert_eq!(postorder(c, a), Ordering::Greater);
    }
}
