//! One map: its spec and its storage, and the kernel's semantics of lookup, update, delete
//! and get-next-key for each type, from user space (the `bpf()` syscall: per-CPU values of
//! every CPU at once) and from programs (helpers: the current CPU's value).

use super::error::{E2BIG, EEXIST, EINVAL, ENOENT, ENOSPC, ENOTSUPP, MapError, err};
use super::fdarray::FdArray;
use super::hash::HashTable;
use super::lpm::Lpm;
use super::queue::QueueStack;
use super::ringbuf::Ringbuf;
use super::slab::Slab;
use super::spec::{BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, MapSpec, MapType};

/// The storage of one map.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// Array and per-CPU array: every index always has a value.
    Array {
        values: Slab,
        keys: Slab,
    },
    Hash(HashTable),
    Lpm(Lpm),
    Queue(QueueStack),
    Ringbuf(Ringbuf),
    Fd(FdArray),
}

/// A value to store: from user space (every CPU's copy for per-CPU maps, each rounded up to
/// 8 bytes) or from a program running on CPU `.1` (that CPU's copy only).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value<'a> {
    User(&'a [u8]),
    Prog(&'a [u8], usize),
}

/// A map: spec, storage and whether user space froze it.
#[derive(Clone, Debug)]
pub(crate) struct Map {
    pub spec: MapSpec,
    pub frozen: bool,
    /// Value copies per element: the number of CPUs for per-CPU maps, else 1.
    pub copies: usize,
    pub kind: Kind,
}

impl Map {
    /// Creates the map (the spec must be valid); per-CPU maps get `ncpus` copies.
    pub fn new(spec: MapSpec, ncpus: usize) -> Map {
        let t = spec.map_type;
        let copies = if t.is_percpu() { ncpus } else { 1 };
        let (k, v, n) = (
            spec.key_size as usize,
            spec.value_size as usize,
            spec.max_entries,
        );
        let kind = match t {
            MapType::Array | MapType::PercpuArray => {
                let mut values = Slab::new(v, copies);
                values.ensure(n as usize - 1);
                if let Some(init) = &spec.initial_value {
                    values.get_mut(0, 0)[..init.len()].copy_from_slice(init);
                }
                Kind::Array {
                    values,
                    keys: Slab::new(4, 1),
                }
            }
            MapType::Hash
            | MapType::PercpuHash
            | MapType::LruHash
            | MapType::LruPercpuHash
            | MapType::HashOfMaps
            | MapType::DevmapHash => Kind::Hash(HashTable::new(k, v, copies, n, t.is_lru())),
            MapType::LpmTrie => Kind::Lpm(Lpm::new(k, v)),
            MapType::Queue | MapType::Stack => Kind::Queue(QueueStack::new(n, t == MapType::Stack)),
            MapType::Ringbuf => Kind::Ringbuf(Ringbuf::new(n)),
            MapType::ProgArray
            | MapType::PerfEventArray
            | MapType::ArrayOfMaps
            | MapType::Devmap
            | MapType::Cpumap
            | MapType::Xskmap => {
                let mut fd = FdArray::new(n);
                if t == MapType::PerfEventArray {
                    // As a perf buffer reader would: one open event per CPU.
                    for (i, e) in fd.entries.iter_mut().take(ncpus).enumerate() {
                        *e = Some((i as u32).to_le_bytes().to_vec());
                    }
                }
                Kind::Fd(fd)
            }
        };
        let frozen = spec.frozen;
        Map {
            spec,
            frozen,
            copies,
            kind,
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    fn ty(&self) -> MapType {
        self.spec.map_type
    }

    /// The value slab of maps whose values programs address.
    pub fn values(&self) -> Option<&Slab> {
        match &self.kind {
            Kind::Array { values, .. } => Some(values),
            Kind::Hash(h) => Some(&h.values),
            Kind::Lpm(l) => Some(&l.values),
            _ => None,
        }
    }

    pub fn values_mut(&mut self) -> Option<&mut Slab> {
        match &mut self.kind {
            Kind::Array { values, .. } => Some(values),
            Kind::Hash(h) => Some(&mut h.values),
            Kind::Lpm(l) => Some(&mut l.values),
            _ => None,
        }
    }

    /// The key slab (keys programs may be handed a pointer to).
    pub fn keys(&self) -> Option<&Slab> {
        match &self.kind {
            Kind::Array { keys, .. } => Some(keys),
            Kind::Hash(h) => Some(&h.keys),
            _ => None,
        }
    }

    /// Makes sure the key of array index `slot` is in the key slab (for callbacks).
    pub fn materialise_array_key(&mut self, slot: usize) {
        if let Kind::Array { keys, .. } = &mut self.kind {
            keys.ensure(slot);
            keys.get_mut(slot, 0)
                .copy_from_slice(&(slot as u32).to_le_bytes());
        }
    }

    pub fn check_key(&self, key: &[u8]) -> Result<(), MapError> {
        if key.len() != self.spec.key_size as usize {
            return err(
                EINVAL,
                format!(
                    "map '{}': key of {} bytes, key_size is {}",
                    self.spec.name,
                    key.len(),
                    self.spec.key_size
                ),
            );
        }
        Ok(())
    }

    /// Bytes of a value as user space passes it (all CPUs for per-CPU maps).
    pub fn user_value_size(&self) -> usize {
        if self.ty().is_percpu() {
            self.copies * (self.spec.value_size as usize).next_multiple_of(8)
        } else {
            self.spec.value_size as usize
        }
    }

    fn check_value(&self, value: Value) -> Result<(), MapError> {
        let (len, want) = match value {
            Value::User(v) => (v.len(), self.user_value_size()),
            Value::Prog(v, _) => (v.len(), self.spec.value_size as usize),
        };
        if len != want {
            return err(
                EINVAL,
                format!(
                    "map '{}': value of {len} bytes, expected {want}",
                    self.spec.name
                ),
            );
        }
        Ok(())
    }

    fn index(key: &[u8]) -> u32 {
        u32::from_le_bytes([key[0], key[1], key[2], key[3]])
    }

    /// The slot a lookup of `key` finds (LPM: the longest matching prefix).
    pub fn lookup_slot(&self, key: &[u8]) -> Result<Option<usize>, MapError> {
        self.check_key(key)?;
        let max = self.spec.max_entries;
        Ok(match &self.kind {
            Kind::Array { .. } => {
                let i = Self::index(key);
                (i < max).then_some(i as usize)
            }
            Kind::Hash(h) => h.find(key),
            Kind::Lpm(l) => l.longest_match(key),
            Kind::Queue(_) | Kind::Ringbuf(_) | Kind::Fd(_) => {
                return err(
                    ENOTSUPP,
                    format!("{} maps have no lookup", self.spec.map_type.name()),
                );
            }
        })
    }

    /// Marks `slot` as used, as a program's lookup does (LRU maps).
    pub fn touch(&mut self, slot: usize) {
        if let Kind::Hash(h) = &mut self.kind {
            h.touch(slot);
        }
    }

    /// Copies `value` into `slot`; `new` elements get zeroes in the other CPUs' copies.
    /// The spin lock word, if any, is never overwritten.
    fn store(&mut self, slot: usize, value: Value, new: bool) {
        let size = self.spec.value_size as usize;
        let lock = self.spec.spin_lock_offset.map(|o| o as usize);
        let percpu = self.ty().is_percpu();
        let copies = self.copies;
        let Some(slab) = self.values_mut() else {
            return;
        };
        let put = |dst: &mut [u8], src: &[u8]| match lock {
            Some(o) => {
                dst[..o].copy_from_slice(&src[..o]);
                dst[o + 4..].copy_from_slice(&src[o + 4..]);
            }
            None => dst.copy_from_slice(src),
        };
        match value {
            Value::User(v) if percpu => {
                let step = size.next_multiple_of(8);
                for cpu in 0..copies {
                    put(slab.get_mut(slot, cpu), &v[cpu * step..cpu * step + size]);
                }
            }
            Value::User(v) => put(slab.get_mut(slot, 0), v),
            Value::Prog(v, cpu) => {
                if new {
                    slab.clear(slot);
                }
                put(slab.get_mut(slot, if percpu { cpu } else { 0 }), v);
            }
        }
    }

    /// `bpf_map_update_elem` with the kernel's flag rules for the type.
    pub fn update(&mut self, key: &[u8], value: Value, flags: u64) -> Result<(), MapError> {
        let t = self.ty();
        let name = self.spec.name.clone();
        let has_lock = self.spec.spin_lock_offset.is_some();
        let percpu = t.is_percpu();
        let plain = flags & !BPF_F_LOCK;
        let user_percpu = percpu && matches!(value, Value::User(_));
        // Per-CPU updates from user space take no BPF_F_LOCK.
        if plain > BPF_EXIST || (user_percpu && flags > BPF_EXIST) {
            return err(
                EINVAL,
                format!("map '{name}': unknown update flags {flags:#x}"),
            );
        }
        if flags & BPF_F_LOCK != 0 && (!has_lock || percpu) {
            return err(
                EINVAL,
                format!("map '{name}': BPF_F_LOCK needs a value with a bpf_spin_lock"),
            );
        }
        self.check_key(key)?;
        if !matches!(self.kind, Kind::Fd(_) | Kind::Queue(_) | Kind::Ringbuf(_)) {
            self.check_value(value)?;
        }
        let max = self.spec.max_entries;
        match &mut self.kind {
            Kind::Array { .. } => {
                let i = Self::index(key);
                if i >= max {
                    return err(
                        E2BIG,
                        format!("map '{name}': index {i} >= max_entries {max}"),
                    );
                }
                if plain == BPF_NOEXIST {
                    return err(EEXIST, format!("map '{name}': array elements always exist"));
                }
                self.store(i as usize, value, false);
                Ok(())
            }
            Kind::Hash(h) => {
                let found = h.find(key);
                match (found, plain) {
                    (Some(_), BPF_NOEXIST) => {
                        return err(EEXIST, format!("map '{name}': key exists"));
                    }
                    (None, BPF_EXIST) => return err(ENOENT, format!("map '{name}': no such key")),
                    _ => {}
                }
                let (slot, new) = match found {
                    Some(s) => {
                        h.touch(s);
                        (s, false)
                    }
                    None => match h.insert(key) {
                        Some(s) => (s, true),
                        None => {
                            return err(E2BIG, format!("map '{name}': full ({max} elements)"));
                        }
                    },
                };
                self.store(slot, value, new);
                Ok(())
            }
            Kind::Lpm(l) => {
                let prefix = Self::index(key);
                if prefix > l.max_prefixlen() {
                    return err(
                        EINVAL,
                        format!(
                            "map '{name}': prefix length {prefix} > {}",
                            l.max_prefixlen()
                        ),
                    );
                }
                let (slot, new) = match l.find_exact(key) {
                    Some(_) if flags == BPF_NOEXIST => {
                        return err(EEXIST, format!("map '{name}': prefix exists"));
                    }
                    Some(s) => {
                        l.set_key(s, key);
                        (s, false)
                    }
                    None if flags == BPF_EXIST => {
                        return err(ENOENT, format!("map '{name}': no such prefix"));
                    }
                    None => match l.insert(key, max) {
                        Some(s) => (s, true),
                        None => {
                            return err(ENOSPC, format!("map '{name}': full ({max} entries)"));
                        }
                    },
                };
                self.store(slot, value, new);
                Ok(())
            }
            Kind::Fd(fd) => {
                if flags != BPF_ANY {
                    return err(EINVAL, format!("map '{name}': flags must be BPF_ANY"));
                }
                let i = Self::index(key);
                if i >= max {
                    return err(
                        E2BIG,
                        format!("map '{name}': index {i} >= max_entries {max}"),
                    );
                }
                let v = match value {
                    Value::User(v) | Value::Prog(v, _) => v,
                };
                if v.len() != self.spec.value_size as usize {
                    return err(
                        EINVAL,
                        format!("map '{name}': value must be {} bytes", self.spec.value_size),
                    );
                }
                fd.entries[i as usize] = Some(v.to_vec());
                Ok(())
            }
            Kind::Queue(_) | Kind::Ringbuf(_) => err(
                EINVAL,
                format!("{} maps take no updates (use push)", t.name()),
            ),
        }
    }

    /// `bpf_map_delete_elem`.
    pub fn delete(&mut self, key: &[u8]) -> Result<(), MapError> {
        let name = self.spec.name.clone();
        let max = self.spec.max_entries;
        self.check_key(key)?;
        match &mut self.kind {
            Kind::Array { .. } => err(
                EINVAL,
                format!("map '{name}': array elements cannot be deleted"),
            ),
            Kind::Hash(h) => h
                .remove(key)
                .map(|_| ())
                .ok_or_else(|| MapError::new(ENOENT, format!("map '{name}': no such key"))),
            Kind::Lpm(l) => {
                let prefix = Self::index(key);
                if prefix > l.max_prefixlen() {
                    return err(
                        EINVAL,
                        format!("map '{name}': prefix length {prefix} too long"),
                    );
                }
                l.remove(key)
                    .map(|_| ())
                    .ok_or_else(|| MapError::new(ENOENT, format!("map '{name}': no such prefix")))
            }
            Kind::Fd(fd) => {
                let i = Self::index(key);
                if i >= max {
                    return err(
                        E2BIG,
                        format!("map '{name}': index {i} >= max_entries {max}"),
                    );
                }
                match fd.entries[i as usize].take() {
                    Some(_) => Ok(()),
                    None => err(ENOENT, format!("map '{name}': entry {i} is empty")),
                }
            }
            Kind::Queue(_) => err(
                EINVAL,
                format!("map '{name}': queues and stacks have no keys"),
            ),
            Kind::Ringbuf(_) => err(ENOTSUPP, format!("map '{name}': ring buffers have no keys")),
        }
    }

    /// `bpf_map_get_next_key`: `ENOENT` after the last key.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        if let Some(k) = key {
            self.check_key(k)?;
        }
        let name = &self.spec.name;
        let end = || MapError::new(ENOENT, format!("map '{name}': no more keys"));
        let max = self.spec.max_entries;
        match &self.kind {
            Kind::Array { .. } | Kind::Fd(_) => {
                let i = key.map_or(u32::MAX, Self::index);
                if i >= max {
                    Ok(0u32.to_le_bytes().to_vec())
                } else if i == max - 1 {
                    Err(end())
                } else {
                    Ok((i + 1).to_le_bytes().to_vec())
                }
            }
            Kind::Hash(h) => h.next_key(key).ok_or_else(end),
            Kind::Lpm(l) => l.next_key(key).ok_or_else(end),
            Kind::Queue(_) => err(
                EINVAL,
                format!("map '{name}': queues and stacks have no keys"),
            ),
            Kind::Ringbuf(_) => err(ENOTSUPP, format!("map '{name}': ring buffers have no keys")),
        }
    }

    /// The value of `slot` as user space reads it (every CPU's copy, each rounded to 8).
    pub fn user_value(&self, slot: usize) -> Vec<u8> {
        let Some(slab) = self.values() else {
            return Vec::new();
        };
        if !self.ty().is_percpu() {
            return slab.get(slot, 0).to_vec();
        }
        let step = slab.size.next_multiple_of(8);
        let mut out = vec![0; step * self.copies];
        for cpu in 0..self.copies {
            out[cpu * step..cpu * step + slab.size].copy_from_slice(slab.get(slot, cpu));
        }
        out
    }

    /// Each CPU's copy of `slot`.
    pub fn percpu_values(&self, slot: usize) -> Vec<Vec<u8>> {
        match self.values() {
            Some(slab) => (0..self.copies)
                .map(|c| slab.get(slot, c).to_vec())
                .collect(),
            None => Vec::new(),
        }
    }

    /// (key, slot) of every element that has a value slot, in iteration order.
    pub fn slots(&self) -> Vec<(Vec<u8>, usize)> {
        match &self.kind {
            Kind::Array { .. } => (0..self.spec.max_entries)
                .map(|i| (i.to_le_bytes().to_vec(), i as usize))
                .collect(),
            Kind::Hash(h) => h
                .slots()
                .into_iter()
                .map(|s| (h.keys.get(s, 0).to_vec(), s))
                .collect(),
            Kind::Lpm(l) => l.ordered(),
            _ => Vec::new(),
        }
    }

    /// Whether `slot` still holds an element.
    pub fn slot_live(&self, slot: usize) -> bool {
        match &self.kind {
            Kind::Array { .. } => slot < self.spec.max_entries as usize,
            Kind::Hash(h) => h.is_live(slot),
            _ => false,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Array { .. } => self.spec.max_entries as usize,
            Kind::Hash(h) => h.len(),
            Kind::Lpm(l) => l.len(),
            Kind::Queue(q) => q.len(),
            Kind::Ringbuf(r) => r.records.len(),
            Kind::Fd(f) => f.entries.iter().filter(|e| e.is_some()).count(),
        }
    }
}
