//! BPF maps with the kernel's semantics, and the [`Maps`] set a [`Vm`](crate::Vm) runs with.
//!
//! Supported types ([`MapType`]): array, percpu_array, hash, percpu_hash, lru_hash,
//! lru_percpu_hash, lpm_trie, queue, stack, ringbuf, perf_event_array, prog_array,
//! array_of_maps, hash_of_maps, and the XDP redirect targets devmap, devmap_hash, cpumap and
//! xskmap; global data (`.data`, `.rodata`, `.bss`) is an array of one element
//! ([`MapSpec::global_data`]).
//!
//! # Address layout
//!
//! Map `i` owns a 4 GiB window of the VM's address space at [`map_window`]`(i)` =
//! [`MAP_VALUE_BASE`]` + i * `[`MAP_WINDOW`]:
//! - values from offset 0: element slot `s`, CPU `c` at `(s * ncpus + c) * stride`, where
//!   `stride` is the value size rounded up to 8 plus an 8-byte gap (so overruns are caught);
//!   the ring of a ring buffer (a reserved record at `pos % size + 8`);
//! - keys, read-only, from [`KEYS_OFFSET`] (handed to `for_each_map_elem` callbacks);
//! - the map itself at [`MAP_PTR_OFFSET`]: the value `LD_IMM64 map_fd`/`map_idx` loads and
//!   helpers take as their map argument. It is not readable memory.
//!
//! Errors carry the kernel's errno ([`MapError::errno`]); helpers return it negated.

mod error;
mod fdarray;
mod hash;
mod lpm;
mod map;
mod queue;
mod ringbuf;
mod slab;
mod spec;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use error::{
    E2BIG, EAGAIN, EBADF, EBUSY, EEXIST, EFAULT, EINVAL, ENOENT, ENOSPC, ENOTSUPP, EOPNOTSUPP,
    EPERM, MapError, errno_name,
};
pub use fdarray::PerfRecord;
pub use ringbuf::{
    BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, BPF_RB_PROD_POS,
    BPF_RB_RING_SIZE,
};
pub use spec::{
    BPF_ANY, BPF_EXIST, BPF_F_INNER_MAP, BPF_F_LOCK, BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY, BPF_F_RDONLY_PROG,
    BPF_F_WRONLY, BPF_F_WRONLY_PROG, BPF_F_ZERO_SEED, BPF_NOEXIST, MapSpec, MapType, PAGE_SIZE,
};

pub(crate) use map::Value;
use map::{Kind, Map};

use crate::error::RegionInfo;
use crate::memory::{MAP_VALUE_BASE, RegionKind};

/// Bytes of address space each map owns.
pub const MAP_WINDOW: u64 = 1 << 32;
/// Offset of the key area in a map's window.
pub const KEYS_OFFSET: u64 = 0x8000_0000;
/// Offset of the map pointer in a map's window.
pub const MAP_PTR_OFFSET: u64 = 0xf000_0000;
/// Most maps in one set.
pub const MAX_MAPS: usize = 4096;
/// Most CPUs a set may simulate.
pub const MAX_CPUS: usize = 1024;

/// The address of map `index`'s window.
pub const fn map_window(index: usize) -> u64 {
    MAP_VALUE_BASE + index as u64 * MAP_WINDOW
}

/// The map pointer of map `index` (what `LD_IMM64 map_idx(index)` loads).
pub const fn map_ptr(index: usize) -> u64 {
    map_window(index) + MAP_PTR_OFFSET
}

/// One element of a dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapEntry {
    /// The key (empty for queues, stacks and ring buffers; the index for perf records).
    pub key: Vec<u8>,
    /// The value as user space reads it (per-CPU maps: every CPU's copy, each padded to 8).
    pub value: Vec<u8>,
    /// Per-CPU maps: each CPU's copy, unpadded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_cpu: Option<Vec<Vec<u8>>>,
}

/// A map's spec and contents, in iteration order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapDump {
    pub spec: MapSpec,
    pub entries: Vec<MapEntry>,
}

/// A set of maps, indexed by creation order, simulating `nr_cpus` CPUs for per-CPU maps.
#[derive(Clone, Debug)]
pub struct Maps {
    maps: Vec<Map>,
    nr_cpus: usize,
    fds: HashMap<i32, usize>,
}

impl Default for Maps {
    fn default() -> Maps {
        Maps::new()
    }
}

impl Maps {
    /// An empty set simulating one CPU.
    pub fn new() -> Maps {
        Maps {
            maps: Vec::new(),
            nr_cpus: 1,
            fds: HashMap::new(),
        }
    }

    /// An empty set simulating `nr_cpus` CPUs (1..=[`MAX_CPUS`]).
    pub fn with_cpus(nr_cpus: usize) -> Result<Maps, MapError> {
        if nr_cpus == 0 || nr_cpus > MAX_CPUS {
            return Err(MapError::new(
                EINVAL,
                format!("{nr_cpus} CPUs: the VM simulates 1 to {MAX_CPUS}"),
            ));
        }
        Ok(Maps {
            nr_cpus,
            ..Maps::new()
        })
    }

    /// Number of simulated CPUs.
    pub fn nr_cpus(&self) -> usize {
        self.nr_cpus
    }

    /// Number of maps.
    pub fn len(&self) -> usize {
        self.maps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }

    /// Creates a map; returns its index. Checks the spec as `BPF_MAP_CREATE` does.
    pub fn create(&mut self, spec: MapSpec) -> Result<usize, MapError> {
        spec.validate()?;
        if self.maps.len() >= MAX_MAPS {
            return Err(MapError::new(E2BIG, format!("more than {MAX_MAPS} maps")));
        }
        let copies = if spec.map_type.is_percpu() {
            self.nr_cpus
        } else {
            1
        };
        let stride = (spec.value_size as u64).next_multiple_of(8) + 8;
        let span = stride * copies as u64 * spec.max_entries as u64;
        let limit = if spec.map_type == MapType::Ringbuf {
            KEYS_OFFSET / 2
        } else {
            KEYS_OFFSET
        };
        let key_span = ((spec.key_size as u64).next_multiple_of(8) + 8) * spec.max_entries as u64;
        if span > limit || key_span > MAP_PTR_OFFSET - KEYS_OFFSET {
            return Err(MapError::new(
                E2BIG,
                format!(
                    "map '{}': {} entries of {} bytes do not fit the VM's 2 GiB per map",
                    spec.name, spec.max_entries, spec.value_size
                ),
            ));
        }
        self.maps.push(Map::new(spec, self.nr_cpus));
        Ok(self.maps.len() - 1)
    }

    fn get(&self, index: usize) -> Result<&Map, MapError> {
        self.maps
            .get(index)
            .ok_or_else(|| MapError::new(EBADF, format!("no map with index {index}")))
    }

    fn get_mut(&mut self, index: usize) -> Result<&mut Map, MapError> {
        self.maps
            .get_mut(index)
            .ok_or_else(|| MapError::new(EBADF, format!("no map with index {index}")))
    }

    /// The spec map `index` was created with.
    pub fn spec(&self, index: usize) -> Option<&MapSpec> {
        self.maps.get(index).map(|m| &m.spec)
    }

    /// The index of the first map named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name() == name)
    }

    /// Number of elements in map `index` (records for ring buffers and queues).
    pub fn count(&self, index: usize) -> Result<usize, MapError> {
        Ok(self.get(index)?.len())
    }

    /// Makes `LD_IMM64 map_fd(fd)` refer to map `index`. Without a binding, an fd is
    /// taken as a map index.
    pub fn bind_fd(&mut self, fd: i32, index: usize) -> Result<(), MapError> {
        self.get(index)?;
        self.fds.insert(fd, index);
        Ok(())
    }

    /// The map `LD_IMM64 map_fd(fd)` refers to.
    pub fn resolve_fd(&self, fd: i32) -> Option<usize> {
        match self.fds.get(&fd) {
            Some(&i) => Some(i),
            None => usize::try_from(fd).ok().filter(|&i| i < self.maps.len()),
        }
    }

    /// Freezes map `index`: user space can no longer change it (`BPF_MAP_FREEZE`).
    pub fn freeze(&mut self, index: usize) -> Result<(), MapError> {
        self.get_mut(index)?.frozen = true;
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_ELEM`: the value of `key` (per-CPU maps: every CPU's copy, each
    /// rounded up to 8 bytes; prog arrays and map-in-maps: the stored index; queues and
    /// stacks: the value `pop` would return, with an empty key).
    pub fn lookup(&self, index: usize, key: &[u8]) -> Result<Vec<u8>, MapError> {
        let m = self.get(index)?;
        let name = m.spec.name.clone();
        match &m.kind {
            Kind::Queue(q) => return q.peek().map(|v| v.to_vec()),
            Kind::Fd(fd) => {
                m.check_key(key)?;
                let i = u32::from_le_bytes(key.try_into().expect("checked"));
                return fd
                    .entries
                    .get(i as usize)
                    .cloned()
                    .flatten()
                    .ok_or_else(|| {
                        MapError::new(ENOENT, format!("map '{name}': entry {i} is empty"))
                    });
            }
            _ => {}
        }
        match m.lookup_slot(key)? {
            Some(slot) => Ok(m.user_value(slot)),
            None => Err(MapError::new(ENOENT, format!("map '{name}': no such key"))),
        }
    }

    /// Each CPU's copy of the value of `key` in a per-CPU map (one copy for other maps).
    pub fn lookup_percpu(&self, index: usize, key: &[u8]) -> Result<Vec<Vec<u8>>, MapError> {
        let m = self.get(index)?;
        let name = m.spec.name.clone();
        match m.lookup_slot(key)? {
            Some(slot) => Ok(m.percpu_values(slot)),
            None => Err(MapError::new(ENOENT, format!("map '{name}': no such key"))),
        }
    }

    /// `BPF_MAP_UPDATE_ELEM` with flags `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST` (and
    /// `BPF_F_LOCK`). Per-CPU maps take every CPU's value, each rounded up to 8 bytes; prog
    /// arrays take a program index of the VM; map-in-maps an index of a compatible map.
    pub fn update(
        &mut self,
        index: usize,
        key: &[u8],
        value: &[u8],
        flags: u64,
    ) -> Result<(), MapError> {
        let m = self.get(index)?;
        if m.frozen {
            return Err(MapError::new(
                EPERM,
                format!("map '{}' is frozen", m.spec.name),
            ));
        }
        if m.spec.map_type.is_map_in_map() {
            self.check_inner(index, value)?;
        }
        self.get_mut(index)?.update(key, Value::User(value), flags)
    }

    fn check_inner(&self, outer: usize, value: &[u8]) -> Result<(), MapError> {
        let spec = &self.get(outer)?.spec;
        let Ok(bytes) = <[u8; 4]>::try_from(value) else {
            return Err(MapError::new(
                EINVAL,
                "a map-in-map value is a 4-byte map index",
            ));
        };
        let inner = u32::from_le_bytes(bytes) as usize;
        let m = self.get(inner)?;
        let template = spec
            .inner
            .as_deref()
            .expect("validated map-in-map has an inner spec");
        if !template.inner_compatible(&m.spec) {
            return Err(MapError::new(
                EINVAL,
                format!(
                    "map '{}' does not match the inner map template of '{}'",
                    m.spec.name, spec.name
                ),
            ));
        }
        Ok(())
    }

    /// `BPF_MAP_DELETE_ELEM`.
    pub fn delete(&mut self, index: usize, key: &[u8]) -> Result<(), MapError> {
        let m = self.get_mut(index)?;
        if m.frozen {
            return Err(MapError::new(
                EPERM,
                format!("map '{}' is frozen", m.spec.name),
            ));
        }
        m.delete(key)
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (`None`: the first key); `ENOENT` at the
    /// end.
    pub fn next_key(&self, index: usize, key: Option<&[u8]>) -> Result<Vec<u8>, MapError> {
        self.get(index)?.next_key(key)
    }

    /// Pushes `value` onto a queue or stack (`BPF_EXIST`: drop the oldest value if full).
    pub fn push(&mut self, index: usize, value: &[u8], flags: u64) -> Result<(), MapError> {
        let m = self.get_mut(index)?;
        let size = m.spec.value_size as usize;
        let name = m.spec.name.clone();
        match &mut m.kind {
            Kind::Queue(q) => {
                if value.len() != size {
                    return Err(MapError::new(
                        EINVAL,
                        format!("map '{name}': value must be {size} bytes"),
                    ));
                }
                q.push(value, flags)
            }
            _ => Err(MapError::new(
                EINVAL,
                format!("map '{name}' is not a queue or stack"),
            )),
        }
    }

    /// Pops the next value of a queue (oldest) or stack (newest).
    pub fn pop(&mut self, index: usize) -> Result<Vec<u8>, MapError> {
        let m = self.get_mut(index)?;
        let name = m.spec.name.clone();
        match &mut m.kind {
            Kind::Queue(q) => q.pop(),
            _ => Err(MapError::new(
                EINVAL,
                format!("map '{name}' is not a queue or stack"),
            )),
        }
    }

    /// The value [`Maps::pop`] would return, leaving it in place.
    pub fn peek(&self, index: usize) -> Result<Vec<u8>, MapError> {
        let m = self.get(index)?;
        match &m.kind {
            Kind::Queue(q) => q.peek().map(|v| v.to_vec()),
            _ => Err(MapError::new(
                EINVAL,
                format!("map '{}' is not a queue or stack", m.spec.name),
            )),
        }
    }

    /// The committed ring buffer records a reader would get now, oldest first (discarded
    /// ones skipped), without consuming them.
    pub fn ringbuf_records(&self, index: usize) -> Result<Vec<Vec<u8>>, MapError> {
        let m = self.get(index)?;
        match &m.kind {
            Kind::Ringbuf(rb) => Ok(rb.readable()),
            _ => Err(MapError::new(
                EINVAL,
                format!("map '{}' is not a ring buffer", m.spec.name),
            )),
        }
    }

    /// Reads and consumes the committed ring buffer records (advancing the consumer
    /// position, which frees their space).
    pub fn ringbuf_consume(&mut self, index: usize) -> Result<Vec<Vec<u8>>, MapError> {
        let m = self.get_mut(index)?;
        let name = m.spec.name.clone();
        match &mut m.kind {
            Kind::Ringbuf(rb) => Ok(rb.consume()),
            _ => Err(MapError::new(
                EINVAL,
                format!("map '{name}' is not a ring buffer"),
            )),
        }
    }

    /// The records programs sent to a perf event array, in order.
    pub fn perf_records(&self, index: usize) -> Result<&[PerfRecord], MapError> {
        let m = self.get(index)?;
        match &m.kind {
            Kind::Fd(fd) if m.spec.map_type == MapType::PerfEventArray => Ok(&fd.records),
            _ => Err(MapError::new(
                EINVAL,
                format!("map '{}' is not a perf event array", m.spec.name),
            )),
        }
    }

    /// Removes and returns the records of a perf event array.
    pub fn take_perf_records(&mut self, index: usize) -> Result<Vec<PerfRecord>, MapError> {
        let m = self.get_mut(index)?;
        let name = m.spec.name.clone();
        match &mut m.kind {
            Kind::Fd(fd) if m.spec.map_type == MapType::PerfEventArray => {
                Ok(std::mem::take(&mut fd.records))
            }
            _ => Err(MapError::new(
                EINVAL,
                format!("map '{name}' is not a perf event array"),
            )),
        }
    }

    /// The spec and every element of map `index`, in iteration order.
    pub fn dump(&self, index: usize) -> Result<MapDump, MapError> {
        let m = self.get(index)?;
        let percpu = m.spec.map_type.is_percpu();
        let entries = match &m.kind {
            Kind::Array { .. } | Kind::Hash(_) | Kind::Lpm(_) => m
                .slots()
                .into_iter()
                .map(|(key, slot)| MapEntry {
                    key,
                    value: m.user_value(slot),
                    per_cpu: percpu.then(|| m.percpu_values(slot)),
                })
                .collect(),
            Kind::Queue(q) => q
                .in_pop_order()
                .into_iter()
                .map(|value| MapEntry {
                    key: Vec::new(),
                    value,
                    per_cpu: None,
                })
                .collect(),
            Kind::Ringbuf(rb) => rb
                .readable()
                .into_iter()
                .map(|value| MapEntry {
                    key: Vec::new(),
                    value,
                    per_cpu: None,
                })
                .collect(),
            Kind::Fd(fd) if m.spec.map_type == MapType::PerfEventArray => fd
                .records
                .iter()
                .map(|r| MapEntry {
                    key: r.index.to_le_bytes().to_vec(),
                    value: r.data.clone(),
                    per_cpu: None,
                })
                .collect(),
            Kind::Fd(fd) => fd
                .entries
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    e.as_ref().map(|v| MapEntry {
                        key: (i as u32).to_le_bytes().to_vec(),
                        value: v.clone(),
                        per_cpu: None,
                    })
                })
                .collect(),
        };
        Ok(MapDump {
            spec: m.spec.clone(),
            entries,
        })
    }

    /// Dumps of every map, by index.
    pub fn dump_all(&self) -> Vec<MapDump> {
        (0..self.maps.len())
            .map(|i| self.dump(i).expect("index in range"))
            .collect()
    }

    /// Fills map `index` from a dump's entries (update with `BPF_ANY`; push for queues and
    /// stacks). Entries of ring buffers and perf event arrays cannot be loaded.
    pub fn load(&mut self, index: usize, entries: &[MapEntry]) -> Result<(), MapError> {
        let t = self.get(index)?.spec.map_type;
        for e in entries {
            match t {
                MapType::Queue | MapType::Stack => self.push(index, &e.value, BPF_ANY)?,
                MapType::Ringbuf | MapType::PerfEventArray => {
                    return Err(MapError::new(
                        EINVAL,
                        format!("{} maps cannot be preloaded", t.name()),
                    ));
                }
                _ => self.update(index, &e.key, &e.value, BPF_ANY)?,
            }
        }
        Ok(())
    }

    // ---- program side (helpers) ----

    /// The map a map pointer refers to.
    pub fn index_from_ptr(&self, ptr: u64) -> Option<usize> {
        let off = ptr.checked_sub(MAP_VALUE_BASE)?;
        let i = (off / MAP_WINDOW) as usize;
        (off % MAP_WINDOW == MAP_PTR_OFFSET && i < self.maps.len()).then_some(i)
    }

    /// A map pointer's map, or an error naming the bad pointer.
    pub(crate) fn map_of_ptr(&self, ptr: u64) -> Result<usize, String> {
        self.index_from_ptr(ptr)
            .ok_or_else(|| format!("{ptr:#x} is not a map pointer"))
    }

    pub(crate) fn map_type(&self, index: usize) -> MapType {
        self.maps[index].spec.map_type
    }

    /// A program's lookup: the address of CPU `cpu`'s value (0 if absent); for
    /// map-in-maps the inner map's pointer.
    pub(crate) fn prog_lookup(
        &mut self,
        index: usize,
        key: &[u8],
        cpu: usize,
    ) -> Result<u64, MapError> {
        let m = &mut self.maps[index];
        if let Kind::Fd(fd) = &m.kind {
            if m.spec.map_type != MapType::ArrayOfMaps {
                return Err(MapError::new(
                    ENOTSUPP,
                    format!("programs cannot look up {} maps", m.spec.map_type.name()),
                ));
            }
            m.check_key(key)?;
            let i = u32::from_le_bytes(key.try_into().expect("checked"));
            return Ok(fd.get_u32(i).map_or(0, |inner| map_ptr(inner as usize)));
        }
        let Some(slot) = m.lookup_slot(key)? else {
            return Ok(0);
        };
        m.touch(slot);
        if m.spec.map_type == MapType::HashOfMaps {
            let v = m.user_value(slot);
            let inner = u32::from_le_bytes(v[..4].try_into().expect("value_size 4"));
            return Ok(map_ptr(inner as usize));
        }
        let cpu = if m.spec.map_type.is_percpu() { cpu } else { 0 };
        let slab = m.values().expect("lookup maps have values");
        Ok(map_window(index) + slab.offset(slot, cpu))
    }

    /// `bpf_map_lookup_percpu_elem`: CPU `cpu`'s value (0 if absent or `cpu` out of range).
    pub(crate) fn prog_lookup_percpu(
        &mut self,
        index: usize,
        key: &[u8],
        cpu: u64,
    ) -> Result<u64, MapError> {
        if cpu >= self.nr_cpus as u64 || !self.maps[index].spec.map_type.is_percpu() {
            return Ok(0);
        }
        self.prog_lookup(index, key, cpu as usize)
    }

    /// A program's update: CPU `cpu`'s copy of per-CPU values.
    pub(crate) fn prog_update(
        &mut self,
        index: usize,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), MapError> {
        let m = &mut self.maps[index];
        if m.spec.map_type.is_map_in_map() || m.spec.map_type == MapType::ProgArray {
            return Err(MapError::new(
                ENOTSUPP,
                format!("programs cannot update {} maps", m.spec.map_type.name()),
            ));
        }
        m.update(key, Value::Prog(value, cpu), flags)
    }

    pub(crate) fn prog_delete(&mut self, index: usize, key: &[u8]) -> Result<(), MapError> {
        self.maps[index].delete(key)
    }

    /// The program index in entry `i` of a prog array.
    pub(crate) fn prog_array_entry(&self, index: usize, i: u64) -> Result<Option<u32>, String> {
        let m = &self.maps[index];
        match &m.kind {
            Kind::Fd(fd) if m.spec.map_type == MapType::ProgArray => {
                Ok(u32::try_from(i).ok().and_then(|i| fd.get_u32(i)))
            }
            _ => Err(format!("map '{}' is not a prog array", m.spec.name)),
        }
    }

    pub(crate) fn max_entries(&self, index: usize) -> u32 {
        self.maps[index].spec.max_entries
    }

    pub(crate) fn value_size(&self, index: usize) -> usize {
        self.maps[index].spec.value_size as usize
    }

    pub(crate) fn key_size(&self, index: usize) -> usize {
        self.maps[index].spec.key_size as usize
    }

    /// The raw entry `key` of a devmap, devmap_hash, cpumap or xskmap.
    pub(crate) fn redirect_target(
        &self,
        index: usize,
        key: u32,
    ) -> Result<Option<Vec<u8>>, String> {
        let m = &self.maps[index];
        match (&m.kind, m.spec.map_type) {
            (Kind::Fd(fd), MapType::Devmap | MapType::Cpumap | MapType::Xskmap) => {
                Ok(fd.entries.get(key as usize).cloned().flatten())
            }
            (Kind::Hash(h), MapType::DevmapHash) => Ok(h
                .find(&key.to_le_bytes())
                .map(|s| h.values.get(s, 0).to_vec())),
            _ => Err(format!(
                "map '{}' ({}) is not a redirect map",
                m.spec.name,
                m.spec.map_type.name()
            )),
        }
    }

    pub(crate) fn queue_mut(&mut self, index: usize) -> Result<(&mut QueueRef, usize), String> {
        let m = &mut self.maps[index];
        let size = m.spec.value_size as usize;
        let name = m.spec.name.clone();
        match &mut m.kind {
            Kind::Queue(q) => Ok((q, size)),
            _ => Err(format!("map '{name}' is not a queue or stack")),
        }
    }

    pub(crate) fn ringbuf_mut(&mut self, index: usize) -> Result<&mut RingRef, String> {
        let m = &mut self.maps[index];
        let name = m.spec.name.clone();
        match &mut m.kind {
            Kind::Ringbuf(rb) => Ok(rb),
            _ => Err(format!("map '{name}' is not a ring buffer")),
        }
    }

    /// The ring buffer that holds the reserved record whose data is at `addr`.
    pub(crate) fn ringbuf_of_record(&mut self, addr: u64) -> Option<(&mut RingRef, u64)> {
        let off = addr.checked_sub(MAP_VALUE_BASE)?;
        let i = (off / MAP_WINDOW) as usize;
        let m = self.maps.get_mut(i)?;
        match &mut m.kind {
            Kind::Ringbuf(rb) => Some((rb, off % MAP_WINDOW)),
            _ => None,
        }
    }

    /// Records a perf event output; `Err(errno)` as the kernel's checks fail.
    pub(crate) fn perf_output(
        &mut self,
        index: usize,
        idx: u32,
        cpu: u32,
        data: Vec<u8>,
    ) -> Result<(), MapError> {
        let m = &mut self.maps[index];
        let max = m.spec.max_entries;
        match &mut m.kind {
            Kind::Fd(fd) if m.spec.map_type == MapType::PerfEventArray => {
                if idx >= max {
                    return Err(MapError::new(
                        E2BIG,
                        format!("index {idx} >= max_entries {max}"),
                    ));
                }
                match fd.get_u32(idx) {
                    None => {
                        return Err(MapError::new(
                            ENOENT,
                            format!("no perf event at index {idx}"),
                        ));
                    }
                    Some(on) if on != cpu => {
                        return Err(MapError::new(
                            EOPNOTSUPP,
                            format!("the perf event at index {idx} is on CPU {on}, not {cpu}"),
                        ));
                    }
                    Some(_) => {}
                }
                fd.records.push(PerfRecord { index: idx, data });
                Ok(())
            }
            _ => Err(MapError::new(
                EINVAL,
                format!("map '{}' is not a perf event array", m.spec.name),
            )),
        }
    }

    /// The slots `for_each_map_elem` visits, or an error for maps it does not support.
    pub(crate) fn for_each_slots(&self, index: usize) -> Result<Vec<usize>, String> {
        let m = &self.maps[index];
        match &m.kind {
            Kind::Array { .. } | Kind::Hash(_) => Ok(m.slots().into_iter().map(|e| e.1).collect()),
            _ => Err(format!(
                "for_each_map_elem does not support {} maps",
                m.spec.map_type.name()
            )),
        }
    }

    /// (key address, value address) of a live slot for a callback on CPU `cpu`.
    pub(crate) fn callback_args(
        &mut self,
        index: usize,
        slot: usize,
        cpu: usize,
    ) -> Option<(u64, u64)> {
        let m = &mut self.maps[index];
        if !m.slot_live(slot) {
            return None;
        }
        m.materialise_array_key(slot);
        let cpu = if m.spec.map_type.is_percpu() { cpu } else { 0 };
        let keys = m.keys()?;
        let key = map_window(index) + KEYS_OFFSET + keys.offset(slot, 0);
        let value = map_window(index) + m.values()?.offset(slot, cpu);
        Some((key, value))
    }

    // ---- memory ----

    fn locate(&self, addr: u64) -> Option<(usize, u64)> {
        let off = addr.checked_sub(MAP_VALUE_BASE)?;
        let i = usize::try_from(off / MAP_WINDOW).ok()?;
        (i < self.maps.len()).then_some((i, off % MAP_WINDOW))
    }

    /// `len` bytes at `addr` inside one map value, key or reserved record.
    pub(crate) fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let (i, off) = self.locate(addr)?;
        let m = &self.maps[i];
        if let Kind::Ringbuf(rb) = &m.kind {
            let (r, at) = rb.busy_containing(off, len as u64)?;
            return Some(&rb.records[r].data[at..at + len]);
        }
        if off >= KEYS_OFFSET {
            let keys = m.keys()?;
            let r = keys.resolve(off - KEYS_OFFSET, len)?;
            return Some(keys.bytes(r));
        }
        let values = m.values()?;
        let r = values.resolve(off, len)?;
        Some(values.bytes(r))
    }

    /// `len` bytes at `addr` inside one map value or reserved record that programs may write.
    pub(crate) fn bytes_mut(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        let (i, off) = self.locate(addr)?;
        let m = &mut self.maps[i];
        if m.spec.read_only_for_programs() || off >= KEYS_OFFSET {
            return None;
        }
        let values = match &mut m.kind {
            Kind::Ringbuf(rb) => {
                let (r, at) = rb.busy_containing(off, len as u64)?;
                return Some(&mut rb.records[r].data[at..at + len]);
            }
            Kind::Array { values, .. } => values,
            Kind::Hash(h) => &mut h.values,
            Kind::Lpm(l) => &mut l.values,
            _ => return None,
        };
        let r = values.resolve(off, len)?;
        Some(values.bytes_mut(r))
    }

    /// The whole element holding `addr` — a value copy, a key, or a reserved ring buffer
    /// record — as its address, its bytes and whether programs may write it: an access lies
    /// inside it exactly when [`Maps`] memory accepts the access (for engines that cache
    /// address translations, such as the JIT). The bytes move when the map grows, so such a
    /// cache must be dropped at every helper call.
    pub fn element_span(&mut self, addr: u64) -> Option<(u64, &mut [u8], bool)> {
        let (i, off) = self.locate(addr)?;
        let m = &mut self.maps[i];
        let writable = !m.spec.read_only_for_programs();
        let window = map_window(i);
        if let Kind::Ringbuf(rb) = &m.kind {
            let (r, _) = rb.busy_containing(off, 1)?;
            let start = (rb.records[r].pos & (rb.size - 1)) + ringbuf::HDR_SZ;
            let Kind::Ringbuf(rb) = &mut m.kind else {
                unreachable!("matched above")
            };
            return Some((window + start, &mut rb.records[r].data[..], true));
        }
        let keys = off >= KEYS_OFFSET;
        let (slab, base, writable) = match (&mut m.kind, keys) {
            (Kind::Array { keys, .. }, true) => (keys, KEYS_OFFSET, false),
            (Kind::Hash(h), true) => (&mut h.keys, KEYS_OFFSET, false),
            (Kind::Array { values, .. }, false) => (values, 0, writable),
            (Kind::Hash(h), false) => (&mut h.values, 0, writable),
            (Kind::Lpm(l), false) => (&mut l.values, 0, writable),
            _ => return None,
        };
        let (start, bytes) = slab.element_mut(off - base)?;
        Some((window + base + start, bytes, writable))
    }

    /// The map memory region nearest to `addr`, if `addr` is inside a map's window.
    pub(crate) fn region_info(&self, addr: u64) -> Option<RegionInfo> {
        let (i, off) = self.locate(addr)?;
        let m = &self.maps[i];
        let writable = !m.spec.read_only_for_programs();
        if let Kind::Ringbuf(rb) = &m.kind {
            let mask = rb.size - 1;
            let r = rb
                .records
                .iter()
                .filter(|r| r.state == ringbuf::RecState::Busy)
                .min_by_key(|r| ((r.pos & mask) + ringbuf::HDR_SZ).abs_diff(off))?;
            return Some(RegionInfo {
                name: format!("ring buffer '{}' record", m.spec.name),
                kind: RegionKind::MapValue,
                base: map_window(i) + (r.pos & mask) + ringbuf::HDR_SZ,
                len: r.data.len() as u64,
                writable: true,
            });
        }
        let (slab, base, what, writable) = if off >= KEYS_OFFSET {
            (m.keys()?, KEYS_OFFSET, "key", false)
        } else {
            (m.values()?, 0, "value", writable)
        };
        let start = slab.nearest(off.saturating_sub(base))?;
        Some(RegionInfo {
            name: format!("map '{}' {what}", m.spec.name),
            kind: RegionKind::MapValue,
            base: map_window(i) + base + start,
            len: slab.size as u64,
            writable,
        })
    }

    /// The end of the address range the set's windows cover.
    pub(crate) fn windows_end(&self) -> u64 {
        map_window(self.maps.len())
    }
}

/// The queue or stack a helper works on.
pub(crate) type QueueRef = queue::QueueStack;
/// The ring buffer a helper works on.
pub(crate) type RingRef = ringbuf::Ringbuf;
