//! Hash table storage for hash, per-CPU hash, LRU hashes, hash-of-maps and devmap-hash: keys
//! map to slots of a [`Slab`]; freed slots are reused last-freed-first, as a preallocated
//! kernel hash table's free list hands them out.
//!
//! Iteration (`get_next_key`, `for_each_map_elem`, dumps) goes by slot number. The kernel
//! walks its buckets in hash order, which depends on a random seed, so no order is promised;
//! slot order is at least deterministic. As in the kernel, a key that is not in the table
//! restarts the iteration at the first element.
//!
//! LRU maps keep a recency list: an update or a program's lookup makes an element the most
//! recent one, and inserting into a full map evicts the least recent element. (The kernel
//! approximates this with per-CPU free lists and reference bits; with one CPU and no
//! concurrency, the element it evicts is the least recently used one too, except that it
//! may evict a little early to refill its local free list.)

use std::collections::HashMap;

use super::slab::Slab;

const NIL: u32 = u32::MAX;

/// The recency list of an LRU map: a doubly linked list over slots, most recent at `head`.
#[derive(Clone, Debug)]
struct Lru {
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
}

impl Lru {
    fn new() -> Lru {
        Lru {
            prev: Vec::new(),
            next: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    fn grow(&mut self, slot: u32) {
        let need = slot as usize + 1;
        if self.prev.len() < need {
            self.prev.resize(need, NIL);
            self.next.resize(need, NIL);
        }
    }

    fn unlink(&mut self, s: u32) {
        let (p, n) = (self.prev[s as usize], self.next[s as usize]);
        if p == NIL {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.prev[s as usize] = NIL;
        self.next[s as usize] = NIL;
    }

    fn push_front(&mut self, s: u32) {
        self.grow(s);
        self.prev[s as usize] = NIL;
        self.next[s as usize] = self.head;
        if self.head != NIL {
            self.prev[self.head as usize] = s;
        }
        self.head = s;
        if self.tail == NIL {
            self.tail = s;
        }
    }

    fn touch(&mut self, s: u32) {
        if self.head != s {
            self.unlink(s);
            self.push_front(s);
        }
    }
}

/// A hash table of fixed-size keys and values.
#[derive(Clone, Debug)]
pub(crate) struct HashTable {
    pub values: Slab,
    pub keys: Slab,
    index: HashMap<Box<[u8]>, u32>,
    live: Vec<bool>,
    free: Vec<u32>,
    fresh: u32,
    max: u32,
    lru: Option<Lru>,
}

impl HashTable {
    pub fn new(key_size: usize, value_size: usize, copies: usize, max: u32, lru: bool) -> Self {
        HashTable {
            values: Slab::new(value_size, copies),
            keys: Slab::new(key_size, 1),
            index: HashMap::new(),
            live: Vec::new(),
            free: Vec::new(),
            fresh: 0,
            max,
            lru: lru.then(Lru::new),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The slot holding `key`.
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        self.index.get(key).map(|&s| s as usize)
    }

    /// Marks `slot` as recently used (LRU maps only).
    pub fn touch(&mut self, slot: usize) {
        if let Some(lru) = &mut self.lru {
            lru.touch(slot as u32);
        }
    }

    /// Inserts `key` (which must be absent) into a free slot with zeroed values, evicting
    /// the least recently used element of a full LRU map. `None` if the map is full.
    pub fn insert(&mut self, key: &[u8]) -> Option<usize> {
        let slot = if let Some(s) = self.free.pop() {
            s
        } else if self.fresh < self.max {
            self.fresh += 1;
            self.fresh - 1
        } else if let Some(lru) = &self.lru {
            let victim = lru.tail;
            if victim == NIL {
                return None;
            }
            let old = self.keys.get(victim as usize, 0).to_vec();
            self.remove(&old);
            self.free.pop()?
        } else {
            return None;
        };
        let s = slot as usize;
        self.values.ensure(s);
        self.keys.ensure(s);
        self.values.clear(s);
        self.keys.get_mut(s, 0).copy_from_slice(key);
        if self.live.len() <= s {
            self.live.resize(s + 1, false);
        }
        self.live[s] = true;
        self.index.insert(key.into(), slot);
        if let Some(lru) = &mut self.lru {
            lru.push_front(slot);
        }
        Some(s)
    }

    /// Removes `key`; returns its former slot.
    pub fn remove(&mut self, key: &[u8]) -> Option<usize> {
        let slot = self.index.remove(key)?;
        self.live[slot as usize] = false;
        if let Some(lru) = &mut self.lru {
            lru.unlink(slot);
        }
        self.free.push(slot);
        Some(slot as usize)
    }

    /// Whether `slot` holds an element.
    pub fn is_live(&self, slot: usize) -> bool {
        self.live.get(slot).copied().unwrap_or(false)
    }

    /// Live slots in iteration order.
    pub fn slots(&self) -> Vec<usize> {
        (0..self.live.len()).filter(|&s| self.live[s]).collect()
    }

    /// The key after `key` in iteration order (the first key if `key` is absent).
    pub fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let start = match key.and_then(|k| self.find(k)) {
            Some(s) => s + 1,
            None => 0,
        };
        (start..self.live.len())
            .find(|&s| self.live[s])
            .map(|s| self.keys.get(s, 0).to_vec())
    }
}
