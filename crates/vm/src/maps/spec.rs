//! What a map is: its [`MapType`] and the [`MapSpec`] that creates it, with the kernel's
//! creation-time checks (sizes, flags) for each supported type.

use serde::{Deserialize, Serialize};

use super::error::{E2BIG, EINVAL, ENOTSUPP, MapError, err};

/// `BPF_ANY`: create or update.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create only; fails with `EEXIST` if the key exists.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update only; fails with `ENOENT` if the key is missing.
pub const BPF_EXIST: u64 = 2;
/// `BPF_F_LOCK`: update the value under its `bpf_spin_lock` (the lock word is kept).
pub const BPF_F_LOCK: u64 = 4;

/// `BPF_F_NO_PREALLOC`: elements are allocated on demand (required by LPM tries).
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
/// `BPF_F_NO_COMMON_LRU`: one LRU list per CPU.
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
/// `BPF_F_NUMA_NODE`: the `numa_node` attribute is valid.
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
/// `BPF_F_RDONLY`: user space may only read.
pub const BPF_F_RDONLY: u32 = 1 << 3;
/// `BPF_F_WRONLY`: user space may only write.
pub const BPF_F_WRONLY: u32 = 1 << 4;
/// `BPF_F_ZERO_SEED`: hash with a zero seed.
pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
/// `BPF_F_RDONLY_PROG`: programs may only read the map.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`: programs may only write the map.
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
/// `BPF_F_MMAPABLE`: the array can be mmap'ed.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// `BPF_F_PRESERVE_ELEMS`: perf event array entries survive the map's last user.
pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
/// `BPF_F_INNER_MAP`: inner maps of a map-in-map may differ in `max_entries`.
pub const BPF_F_INNER_MAP: u32 = 1 << 12;

const ACCESS_MASK: u32 = BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;
const HASH_FLAGS: u32 =
    BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | ACCESS_MASK | BPF_F_ZERO_SEED;
const ARRAY_FLAGS: u32 =
    BPF_F_NUMA_NODE | BPF_F_MMAPABLE | ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP;
const LPM_FLAGS: u32 = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | ACCESS_MASK;
const QUEUE_FLAGS: u32 = BPF_F_NUMA_NODE | ACCESS_MASK;
const RINGBUF_FLAGS: u32 = BPF_F_NUMA_NODE;
const DEVMAP_FLAGS: u32 = BPF_F_NUMA_NODE | BPF_F_RDONLY_PROG;

/// Bytes in a page; ring buffer sizes are multiples of it.
pub const PAGE_SIZE: u32 = 4096;
/// The kernel's per-CPU allocation unit bounds a per-CPU value (`PCPU_MIN_UNIT_SIZE`).
const PCPU_MIN_UNIT_SIZE: u32 = 32 * 1024;
/// Largest hash key (the BPF stack size).
const MAX_HASH_KEY: u32 = 512;
/// Largest value the VM stores in one element (the kernel's `KMALLOC_MAX_SIZE` is 4 MiB).
const MAX_VALUE: u32 = 4 << 20;

/// The map types the VM implements. Numbers are `enum bpf_map_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapType {
    Hash,
    Array,
    ProgArray,
    PerfEventArray,
    PercpuHash,
    PercpuArray,
    LruHash,
    LruPercpuHash,
    LpmTrie,
    ArrayOfMaps,
    HashOfMaps,
    Devmap,
    Cpumap,
    Xskmap,
    Queue,
    Stack,
    DevmapHash,
    Ringbuf,
}

/// (type, kernel number, name as in `bpftool`).
const TYPES: &[(MapType, u32, &str)] = &[
    (MapType::Hash, 1, "hash"),
    (MapType::Array, 2, "array"),
    (MapType::ProgArray, 3, "prog_array"),
    (MapType::PerfEventArray, 4, "perf_event_array"),
    (MapType::PercpuHash, 5, "percpu_hash"),
    (MapType::PercpuArray, 6, "percpu_array"),
    (MapType::LruHash, 9, "lru_hash"),
    (MapType::LruPercpuHash, 10, "lru_percpu_hash"),
    (MapType::LpmTrie, 11, "lpm_trie"),
    (MapType::ArrayOfMaps, 12, "array_of_maps"),
    (MapType::HashOfMaps, 13, "hash_of_maps"),
    (MapType::Devmap, 14, "devmap"),
    (MapType::Cpumap, 16, "cpumap"),
    (MapType::Xskmap, 17, "xskmap"),
    (MapType::Queue, 22, "queue"),
    (MapType::Stack, 23, "stack"),
    (MapType::DevmapHash, 25, "devmap_hash"),
    (MapType::Ringbuf, 27, "ringbuf"),
];

impl MapType {
    /// Every supported type.
    pub fn all() -> impl Iterator<Item = MapType> {
        TYPES.iter().map(|t| t.0)
    }

    /// The type with kernel number `id`, if the VM implements it.
    pub fn from_id(id: u32) -> Option<MapType> {
        TYPES.iter().find(|t| t.1 == id).map(|t| t.0)
    }

    /// The type named `name` (`"hash"`, `"lpm_trie"`, ...), if the VM implements it.
    pub fn from_name(name: &str) -> Option<MapType> {
        TYPES.iter().find(|t| t.2 == name).map(|t| t.0)
    }

    fn row(self) -> &'static (MapType, u32, &'static str) {
        TYPES
            .iter()
            .find(|t| t.0 == self)
            .expect("every MapType has a row in TYPES")
    }

    /// The kernel's number for the type (`BPF_MAP_TYPE_*`).
    pub fn id(self) -> u32 {
        self.row().1
    }

    /// The type's name as `bpftool` prints it.
    pub fn name(self) -> &'static str {
        self.row().2
    }

    /// Whether each key holds one value per CPU.
    pub fn is_percpu(self) -> bool {
        matches!(
            self,
            MapType::PercpuArray | MapType::PercpuHash | MapType::LruPercpuHash
        )
    }

    /// Whether the type evicts its least recently used element when full.
    pub fn is_lru(self) -> bool {
        matches!(self, MapType::LruHash | MapType::LruPercpuHash)
    }

    /// Whether values are other maps.
    pub fn is_map_in_map(self) -> bool {
        matches!(self, MapType::ArrayOfMaps | MapType::HashOfMaps)
    }
}

/// Everything needed to create a map, as `BPF_MAP_CREATE` takes it (plus the initial
/// contents of a global-data array and whether it is frozen).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapSpec {
    /// The map's name (for dumps and messages).
    pub name: String,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    #[serde(default)]
    pub flags: u32,
    /// The template inner map of an array-of-maps or hash-of-maps.
    #[serde(default)]
    pub inner: Option<Box<MapSpec>>,
    /// Initial contents of element 0 of an array (global data: `.data`, `.rodata`); shorter
    /// contents are zero-padded.
    #[serde(default)]
    pub initial_value: Option<Vec<u8>>,
    /// Frozen after creation: user space can no longer update it (`.rodata`).
    #[serde(default)]
    pub frozen: bool,
    /// Offset of the `struct bpf_spin_lock` in the value, if it has one (needed by `BPF_F_LOCK`).
    #[serde(default)]
    pub spin_lock_offset: Option<u32>,
}

impl MapSpec {
    /// A spec with no flags, inner map or initial contents.
    pub fn new(
        name: impl Into<String>,
        map_type: MapType,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    ) -> MapSpec {
        MapSpec {
            name: name.into(),
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            inner: None,
            initial_value: None,
            frozen: false,
            spin_lock_offset: None,
        }
    }

    /// The same spec with creation flags `flags`.
    pub fn with_flags(mut self, flags: u32) -> MapSpec {
        self.flags = flags;
        self
    }

    /// The same spec with an inner map template.
    pub fn with_inner(mut self, inner: MapSpec) -> MapSpec {
        self.inner = Some(Box::new(inner));
        self
    }

    /// A global-data array: one element of `data.len()` bytes holding `data`, read-only
    /// for programs and frozen if `read_only` (as libbpf makes `.rodata`).
    pub fn global_data(name: impl Into<String>, data: &[u8], read_only: bool) -> MapSpec {
        let mut spec = MapSpec::new(name, MapType::Array, 4, data.len() as u32, 1);
        spec.initial_value = Some(data.to_vec());
        if read_only {
            spec.flags |= BPF_F_RDONLY_PROG;
            spec.frozen = true;
        }
        spec
    }

    /// Whether programs may not write the map.
    pub fn read_only_for_programs(&self) -> bool {
        self.flags & BPF_F_RDONLY_PROG != 0
    }

    /// The kernel's creation-time checks for this type: sizes, flags, inner map.
    pub fn validate(&self) -> Result<(), MapError> {
        let t = self.map_type;
        let what = |m: &str| format!("{} map '{}': {m}", t.name(), self.name);
        let f = self.flags;
        let both = |a: u32, b: u32| f & a != 0 && f & b != 0;
        if both(BPF_F_RDONLY, BPF_F_WRONLY) || both(BPF_F_RDONLY_PROG, BPF_F_WRONLY_PROG) {
            return err(EINVAL, what("conflicting read-only and write-only flags"));
        }
        let allowed = match t {
            MapType::Hash
            | MapType::PercpuHash
            | MapType::LruHash
            | MapType::LruPercpuHash
            | MapType::HashOfMaps => HASH_FLAGS,
            MapType::Array
            | MapType::PercpuArray
            | MapType::ProgArray
            | MapType::PerfEventArray
            | MapType::ArrayOfMaps => ARRAY_FLAGS,
            MapType::LpmTrie => LPM_FLAGS,
            MapType::Queue | MapType::Stack => QUEUE_FLAGS,
            MapType::Ringbuf => RINGBUF_FLAGS,
            MapType::Devmap | MapType::DevmapHash | MapType::Cpumap | MapType::Xskmap => {
                DEVMAP_FLAGS
            }
        };
        if f & !allowed != 0 {
            return err(
                EINVAL,
                what(&format!(
                    "flags {f:#x} include ones this type does not take"
                )),
            );
        }
        if self.max_entries == 0 && t != MapType::Ringbuf {
            return err(EINVAL, what("max_entries must not be 0"));
        }
        let (k, v) = (self.key_size, self.value_size);
        let need = |ok: bool, m: &str| if ok { Ok(()) } else { err(EINVAL, what(m)) };
        match t {
            MapType::Array | MapType::PercpuArray => {
                need(k == 4 && v > 0, "key_size must be 4 and value_size > 0")?;
                if t != MapType::Array && f & (BPF_F_MMAPABLE | BPF_F_INNER_MAP) != 0 {
                    return err(EINVAL, what("only plain arrays take BPF_F_MMAPABLE"));
                }
                if f & BPF_F_PRESERVE_ELEMS != 0 {
                    return err(
                        EINVAL,
                        what("BPF_F_PRESERVE_ELEMS is for perf event arrays"),
                    );
                }
                if t.is_percpu() && v.next_multiple_of(8) > PCPU_MIN_UNIT_SIZE {
                    return err(E2BIG, what("per-CPU value larger than 32 KiB"));
                }
                if v > MAX_VALUE {
                    return err(E2BIG, what("value_size too large"));
                }
            }
            MapType::ProgArray | MapType::PerfEventArray | MapType::ArrayOfMaps => {
                need(k == 4 && v == 4, "key_size and value_size must be 4")?;
                if f & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) != 0 {
                    return err(EINVAL, what("program access flags are not allowed"));
                }
                if t != MapType::PerfEventArray && f & BPF_F_PRESERVE_ELEMS != 0 {
                    return err(
                        EINVAL,
                        what("BPF_F_PRESERVE_ELEMS is for perf event arrays"),
                    );
                }
            }
            MapType::Hash
            | MapType::PercpuHash
            | MapType::LruHash
            | MapType::LruPercpuHash
            | MapType::HashOfMaps => {
                if !t.is_lru() && f & BPF_F_NO_COMMON_LRU != 0 {
                    return err(EINVAL, what("BPF_F_NO_COMMON_LRU needs an LRU map"));
                }
                if t.is_lru() && f & BPF_F_NO_PREALLOC != 0 {
                    return err(ENOTSUPP, what("LRU maps must be preallocated"));
                }
                need(k > 0 && v > 0, "key_size and value_size must be > 0")?;
                if t == MapType::HashOfMaps {
                    need(v == 4, "value_size must be 4")?;
                }
                if k > MAX_HASH_KEY || v > MAX_VALUE {
                    return err(E2BIG, what("key or value too large"));
                }
                if t.is_percpu() && v.next_multiple_of(8) > PCPU_MIN_UNIT_SIZE {
                    return err(E2BIG, what("per-CPU value larger than 32 KiB"));
                }
            }
            MapType::LpmTrie => {
                need(
                    f & BPF_F_NO_PREALLOC != 0,
                    "LPM tries need BPF_F_NO_PREALLOC",
                )?;
                need(
                    (5..=4 + 256).contains(&k),
                    "key_size must be 4 + 1..=256 bytes of data",
                )?;
                need((1..=MAX_VALUE).contains(&v), "value_size must be > 0")?;
            }
            MapType::Queue | MapType::Stack => {
                need(k == 0 && v > 0, "key_size must be 0 and value_size > 0")?;
                if v > MAX_VALUE || self.max_entries >= u32::MAX / v {
                    return err(E2BIG, what("too many or too large elements"));
                }
            }
            MapType::Ringbuf => {
                need(k == 0 && v == 0, "key_size and value_size must be 0")?;
                need(
                    self.max_entries.is_power_of_two()
                        && self.max_entries.is_multiple_of(PAGE_SIZE),
                    "max_entries must be a power of 2 and a multiple of the page size",
                )?;
            }
            MapType::Devmap | MapType::Cpumap | MapType::DevmapHash => {
                need(
                    k == 4 && (v == 4 || v == 8),
                    "key_size 4, value_size 4 or 8",
                )?;
            }
            MapType::Xskmap => need(k == 4 && v == 4, "key_size and value_size must be 4")?,
        }
        if t.is_map_in_map() {
            let Some(inner) = &self.inner else {
                return err(EINVAL, what("a map-in-map needs an inner map spec"));
            };
            if inner.map_type.is_map_in_map() || inner.map_type == MapType::ProgArray {
                return err(
                    EINVAL,
                    what("the inner map cannot be a map-in-map or prog array"),
                );
            }
            inner.validate()?;
        }
        if let Some(data) = &self.initial_value {
            need(t == MapType::Array, "only arrays take initial contents")?;
            need(
                data.len() <= v as usize,
                "initial contents are larger than value_size",
            )?;
        }
        if let Some(off) = self.spin_lock_offset {
            need(
                off % 4 == 0 && off + 4 <= v,
                "the spin lock must be 4 aligned bytes inside the value",
            )?;
        }
        Ok(())
    }

    /// Whether a map created from `other` may be an inner map of a map-in-map whose
    /// template is `self` (the kernel's `bpf_map_meta_equal`).
    pub fn inner_compatible(&self, other: &MapSpec) -> bool {
        self.map_type == other.map_type
            && self.key_size == other.key_size
            && self.value_size == other.value_size
            && (self.flags & !BPF_F_INNER_MAP) == (other.flags & !BPF_F_INNER_MAP)
            && (self.flags & BPF_F_INNER_MAP != 0 || self.max_entries == other.max_entries)
    }
}
