//! Map semantics through the library API (what `bpf()` map commands do): flags, full maps,
//! missing keys, iteration order, LRU eviction, longest-prefix match, queue and stack order,
//! per-CPU values, map-in-map checks, global data, dumps.

use bpfvet_vm::maps::{
    BPF_ANY, BPF_EXIST, BPF_F_INNER_MAP, BPF_F_LOCK, BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG,
    BPF_NOEXIST, E2BIG, EEXIST, EINVAL, ENOENT, ENOSPC, ENOTSUPP, EPERM,
};
use bpfvet_vm::{MapSpec, MapType, Maps};

fn u32k(i: u32) -> [u8; 4] {
    i.to_le_bytes()
}

fn u64v(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

fn errno<T: std::fmt::Debug>(r: Result<T, bpfvet_vm::MapError>) -> i32 {
    r.expect_err("expected an error").errno
}

fn all_keys(maps: &Maps, m: usize) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut k = maps.next_key(m, None);
    while let Ok(key) = k {
        keys.push(key.clone());
        k = maps.next_key(m, Some(&key));
    }
    assert_eq!(k.unwrap_err().errno, ENOENT);
    keys
}

#[test]
fn array_flags_and_bounds() {
    let mut maps = Maps::new();
    let a = maps
        .create(MapSpec::new("arr", MapType::Array, 4, 8, 3))
        .unwrap();
    // Elements exist from the start, zeroed.
    assert_eq!(maps.lookup(a, &u32k(2)).unwrap(), vec![0; 8]);
    maps.update(a, &u32k(1), &u64v(7), BPF_ANY).unwrap();
    maps.update(a, &u32k(1), &u64v(9), BPF_EXIST).unwrap();
    assert_eq!(maps.lookup(a, &u32k(1)).unwrap(), u64v(9));
    assert_eq!(
        errno(maps.update(a, &u32k(1), &u64v(1), BPF_NOEXIST)),
        EEXIST
    );
    assert_eq!(errno(maps.update(a, &u32k(3), &u64v(1), BPF_ANY)), E2BIG);
    assert_eq!(errno(maps.update(a, &u32k(0), &u64v(1), 7)), EINVAL);
    assert_eq!(
        errno(maps.update(a, &u32k(0), &u64v(1), BPF_F_LOCK)),
        EINVAL
    );
    assert_eq!(errno(maps.update(a, &u32k(0), &[1, 2], BPF_ANY)), EINVAL);
    assert_eq!(errno(maps.lookup(a, &u32k(3))), ENOENT);
    assert_eq!(errno(maps.delete(a, &u32k(0))), EINVAL);
    // get_next_key: missing/out-of-range key -> 0; last -> ENOENT.
    assert_eq!(maps.next_key(a, Some(&u32k(99))).unwrap(), u32k(0));
    assert_eq!(maps.next_key(a, Some(&u32k(1))).unwrap(), u32k(2));
    assert_eq!(all_keys(&maps, a), vec![u32k(0), u32k(1), u32k(2)]);
}

#[test]
fn creation_checks() {
    let mut maps = Maps::new();
    let bad = [
        MapSpec::new("k", MapType::Array, 8, 8, 1),
        MapSpec::new("v", MapType::Hash, 4, 0, 1),
        MapSpec::new("n", MapType::Hash, 4, 4, 0),
        MapSpec::new("lpm", MapType::LpmTrie, 8, 4, 10),
        MapSpec::new("q", MapType::Queue, 4, 4, 10),
        MapSpec::new("rb", MapType::Ringbuf, 0, 0, 4096 * 3),
        MapSpec::new("pa", MapType::ProgArray, 4, 8, 4),
        MapSpec::new("aom", MapType::ArrayOfMaps, 4, 4, 4),
    ];
    for spec in bad {
        let name = spec.name.clone();
        assert_eq!(errno(maps.create(spec)), EINVAL, "{name}");
    }
    assert_eq!(
        errno(
            maps.create(
                MapSpec::new("lru", MapType::LruHash, 4, 4, 4).with_flags(BPF_F_NO_PREALLOC)
            )
        ),
        ENOTSUPP
    );
    assert_eq!(
        errno(maps.create(MapSpec::new("big", MapType::PercpuArray, 4, 40_000, 1))),
        E2BIG
    );
    assert!(maps.is_empty());
}

#[test]
fn hash_flags_full_and_missing() {
    let mut maps = Maps::new();
    let h = maps
        .create(MapSpec::new("h", MapType::Hash, 4, 8, 2))
        .unwrap();
    assert_eq!(errno(maps.update(h, &u32k(1), &u64v(1), BPF_EXIST)), ENOENT);
    maps.update(h, &u32k(1), &u64v(10), BPF_NOEXIST).unwrap();
    assert_eq!(
        errno(maps.update(h, &u32k(1), &u64v(1), BPF_NOEXIST)),
        EEXIST
    );
    maps.update(h, &u32k(2), &u64v(20), BPF_ANY).unwrap();
    // Full: a new key fails with E2BIG, an existing one can still be replaced.
    assert_eq!(errno(maps.update(h, &u32k(3), &u64v(30), BPF_ANY)), E2BIG);
    // Flag checks come before the size check, as in the kernel.
    assert_eq!(
        errno(maps.update(h, &u32k(1), &u64v(1), BPF_NOEXIST)),
        EEXIST
    );
    maps.update(h, &u32k(2), &u64v(21), BPF_EXIST).unwrap();
    assert_eq!(maps.lookup(h, &u32k(2)).unwrap(), u64v(21));
    assert_eq!(errno(maps.lookup(h, &u32k(3))), ENOENT);
    assert_eq!(errno(maps.delete(h, &u32k(3))), ENOENT);
    assert_eq!(errno(maps.lookup(h, &[1, 2])), EINVAL);
    maps.delete(h, &u32k(1)).unwrap();
    assert_eq!(maps.count(h).unwrap(), 1);
    maps.update(h, &u32k(3), &u64v(30), BPF_ANY).unwrap();
    // Every key exactly once; a missing key restarts at the first one.
    let mut keys = all_keys(&maps, h);
    keys.sort();
    assert_eq!(keys, vec![u32k(2).to_vec(), u32k(3).to_vec()]);
    assert_eq!(
        maps.next_key(h, Some(&u32k(77))).unwrap(),
        maps.next_key(h, None).unwrap()
    );
}

#[test]
fn lru_hash_evicts_the_least_recently_used() {
    let mut maps = Maps::new();
    let h = maps
        .create(MapSpec::new("lru", MapType::LruHash, 4, 4, 3))
        .unwrap();
    for k in 1..=3 {
        maps.update(h, &u32k(k), &u32k(k * 10), BPF_ANY).unwrap();
    }
    // Touch 1 (an update counts as a use), so 2 is now the least recently used.
    maps.update(h, &u32k(1), &u32k(11), BPF_EXIST).unwrap();
    maps.update(h, &u32k(4), &u32k(40), BPF_ANY).unwrap();
    assert_eq!(errno(maps.lookup(h, &u32k(2))), ENOENT);
    for (k, v) in [(1, 11), (3, 30), (4, 40)] {
        assert_eq!(maps.lookup(h, &u32k(k)).unwrap(), u32k(v), "key {k}");
    }
    // Next victim: 3.
    maps.update(h, &u32k(5), &u32k(50), BPF_NOEXIST).unwrap();
    assert_eq!(errno(maps.lookup(h, &u32k(3))), ENOENT);
    assert_eq!(maps.count(h).unwrap(), 3);
    // Flag rules still apply.
    assert_eq!(
        errno(maps.update(h, &u32k(5), &u32k(0), BPF_NOEXIST)),
        EEXIST
    );
    assert_eq!(errno(maps.update(h, &u32k(9), &u32k(0), BPF_EXIST)), ENOENT);
}

#[test]
fn percpu_values_per_cpu() {
    let mut maps = Maps::with_cpus(3).unwrap();
    let a = maps
        .create(MapSpec::new("pa", MapType::PercpuArray, 4, 4, 2))
        .unwrap();
    // User space passes every CPU's value, each padded to 8 bytes.
    assert_eq!(errno(maps.update(a, &u32k(0), &u32k(1), BPF_ANY)), EINVAL);
    let mut v = vec![0u8; 24];
    for cpu in 0..3 {
        v[cpu * 8..cpu * 8 + 4].copy_from_slice(&u32k(100 + cpu as u32));
    }
    maps.update(a, &u32k(1), &v, BPF_ANY).unwrap();
    assert_eq!(maps.lookup(a, &u32k(1)).unwrap(), v);
    assert_eq!(
        maps.lookup_percpu(a, &u32k(1)).unwrap(),
        vec![u32k(100).to_vec(), u32k(101).to_vec(), u32k(102).to_vec()]
    );
    let h = maps
        .create(MapSpec::new("ph", MapType::PercpuHash, 4, 8, 4))
        .unwrap();
    let mut w = vec![0u8; 24];
    w[8..16].copy_from_slice(&u64v(5));
    maps.update(h, &u32k(7), &w, BPF_ANY).unwrap();
    let dump = maps.dump(h).unwrap();
    assert_eq!(dump.entries.len(), 1);
    assert_eq!(
        dump.entries[0].per_cpu.as_ref().unwrap()[1],
        u64v(5).to_vec()
    );
    assert!(Maps::with_cpus(0).is_err());
}

fn lpm_key(len: u32, ip: [u8; 4]) -> Vec<u8> {
    let mut k = len.to_le_bytes().to_vec();
    k.extend_from_slice(&ip);
    k
}

#[test]
fn lpm_longest_prefix_and_order() {
    let mut maps = Maps::new();
    let spec = MapSpec::new("lpm", MapType::LpmTrie, 8, 4, 4).with_flags(BPF_F_NO_PREALLOC);
    let t = maps.create(spec).unwrap();
    maps.update(t, &lpm_key(16, [192, 168, 0, 0]), &u32k(16), BPF_ANY)
        .unwrap();
    maps.update(t, &lpm_key(24, [192, 168, 1, 0]), &u32k(24), BPF_ANY)
        .unwrap();
    maps.update(t, &lpm_key(24, [192, 168, 0, 0]), &u32k(240), BPF_ANY)
        .unwrap();
    maps.update(t, &lpm_key(24, [192, 168, 128, 0]), &u32k(2400), BPF_ANY)
        .unwrap();
    let look = |maps: &mut Maps, len, ip| maps.lookup(t, &lpm_key(len, ip));
    assert_eq!(look(&mut maps, 32, [192, 168, 1, 7]).unwrap(), u32k(24));
    assert_eq!(look(&mut maps, 32, [192, 168, 2, 7]).unwrap(), u32k(16));
    assert_eq!(look(&mut maps, 32, [192, 168, 128, 1]).unwrap(), u32k(2400));
    // The lookup's own prefix length limits the match.
    assert_eq!(look(&mut maps, 20, [192, 168, 1, 7]).unwrap(), u32k(16));
    assert_eq!(errno(look(&mut maps, 32, [10, 0, 0, 1])), ENOENT);
    // The kernel's post-order: more specific prefixes first.
    assert_eq!(
        all_keys(&maps, t),
        vec![
            lpm_key(24, [192, 168, 0, 0]),
            lpm_key(24, [192, 168, 1, 0]),
            lpm_key(24, [192, 168, 128, 0]),
            lpm_key(16, [192, 168, 0, 0]),
        ]
    );
    // Full: ENOSPC; flags; prefix too long; deletes are exact.
    assert_eq!(
        errno(maps.update(t, &lpm_key(8, [10, 0, 0, 0]), &u32k(8), BPF_ANY)),
        ENOSPC
    );
    assert_eq!(
        errno(maps.update(t, &lpm_key(16, [192, 168, 9, 9]), &u32k(1), BPF_NOEXIST)),
        EEXIST
    );
    assert_eq!(
        errno(maps.update(t, &lpm_key(33, [0; 4]), &u32k(1), BPF_ANY)),
        EINVAL
    );
    assert_eq!(errno(maps.delete(t, &lpm_key(8, [192, 0, 0, 0]))), ENOENT);
    maps.delete(t, &lpm_key(24, [192, 168, 1, 99])).unwrap();
    assert_eq!(look(&mut maps, 32, [192, 168, 1, 7]).unwrap(), u32k(16));
    assert_eq!(
        errno(maps.update(t, &lpm_key(8, [10, 0, 0, 0]), &u32k(8), BPF_EXIST)),
        ENOENT
    );
    maps.update(t, &lpm_key(8, [10, 0, 0, 0]), &u32k(8), BPF_ANY)
        .unwrap();
    assert_eq!(look(&mut maps, 32, [10, 1, 2, 3]).unwrap(), u32k(8));
}

#[test]
fn queue_and_stack_order() {
    let mut maps = Maps::new();
    let q = maps
        .create(MapSpec::new("q", MapType::Queue, 0, 4, 3))
        .unwrap();
    let s = maps
        .create(MapSpec::new("s", MapType::Stack, 0, 4, 3))
        .unwrap();
    for m in [q, s] {
        assert_eq!(errno(maps.pop(m)), ENOENT);
        for v in 1..=3 {
            maps.push(m, &u32k(v), BPF_ANY).unwrap();
        }
        assert_eq!(errno(maps.push(m, &u32k(4), BPF_ANY)), E2BIG);
        assert_eq!(errno(maps.push(m, &u32k(4), BPF_NOEXIST)), EINVAL);
        // BPF_EXIST makes room by dropping the oldest value.
        maps.push(m, &u32k(4), BPF_EXIST).unwrap();
        assert_eq!(errno(maps.update(m, &[], &u32k(1), BPF_ANY)), EINVAL);
    }
    assert_eq!(maps.peek(q).unwrap(), u32k(2));
    let popped: Vec<_> = (0..3).map(|_| maps.pop(q).unwrap()).collect();
    assert_eq!(popped, vec![u32k(2), u32k(3), u32k(4)]);
    assert_eq!(maps.peek(s).unwrap(), u32k(4));
    let popped: Vec<_> = (0..3).map(|_| maps.pop(s).unwrap()).collect();
    assert_eq!(popped, vec![u32k(4), u32k(3), u32k(2)]);
}

#[test]
fn global_data_and_freezing() {
    let mut maps = Maps::new();
    let ro = maps
        .create(MapSpec::global_data(".rodata", b"hello\0", true))
        .unwrap();
    assert_eq!(maps.lookup(ro, &u32k(0)).unwrap(), b"hello\0");
    assert_eq!(errno(maps.update(ro, &u32k(0), b"HELLO\0", BPF_ANY)), EPERM);
    assert!(maps.spec(ro).unwrap().flags & BPF_F_RDONLY_PROG != 0);
    let rw = maps
        .create(MapSpec::global_data(".data", &[1, 2, 3], false))
        .unwrap();
    maps.update(rw, &u32k(0), &[4, 5, 6], BPF_ANY).unwrap();
    maps.freeze(rw).unwrap();
    assert_eq!(errno(maps.update(rw, &u32k(0), &[0, 0, 0], BPF_ANY)), EPERM);
    assert_eq!(maps.index_of(".data"), Some(rw));
}

#[test]
fn fd_arrays_and_map_in_map() {
    let mut maps = Maps::new();
    let pa = maps
        .create(MapSpec::new("jmp", MapType::ProgArray, 4, 4, 2))
        .unwrap();
    assert_eq!(errno(maps.lookup(pa, &u32k(0))), ENOENT);
    assert_eq!(
        errno(maps.update(pa, &u32k(0), &u32k(1), BPF_NOEXIST)),
        EINVAL
    );
    assert_eq!(errno(maps.update(pa, &u32k(2), &u32k(1), BPF_ANY)), E2BIG);
    maps.update(pa, &u32k(1), &u32k(5), BPF_ANY).unwrap();
    assert_eq!(maps.lookup(pa, &u32k(1)).unwrap(), u32k(5));
    maps.delete(pa, &u32k(1)).unwrap();
    assert_eq!(errno(maps.delete(pa, &u32k(1))), ENOENT);

    let inner = MapSpec::new("inner", MapType::Array, 4, 4, 4);
    let aom = maps
        .create(MapSpec::new("outer", MapType::ArrayOfMaps, 4, 4, 2).with_inner(inner.clone()))
        .unwrap();
    let good = maps.create(inner.clone()).unwrap();
    let wrong_size = maps
        .create(MapSpec::new("other", MapType::Array, 4, 4, 8))
        .unwrap();
    let wrong_type = maps
        .create(MapSpec::new("h", MapType::Hash, 4, 4, 4))
        .unwrap();
    maps.update(aom, &u32k(0), &u32k(good as u32), BPF_ANY)
        .unwrap();
    assert_eq!(
        errno(maps.update(aom, &u32k(1), &u32k(wrong_size as u32), BPF_ANY)),
        EINVAL
    );
    assert_eq!(
        errno(maps.update(aom, &u32k(1), &u32k(wrong_type as u32), BPF_ANY)),
        EINVAL
    );
    // BPF_F_INNER_MAP lets inner maps differ in max_entries.
    let hom = maps
        .create(
            MapSpec::new("hom", MapType::HashOfMaps, 8, 4, 2)
                .with_inner(inner.with_flags(BPF_F_INNER_MAP)),
        )
        .unwrap();
    let flexible = maps
        .create(MapSpec::new("flex", MapType::Array, 4, 4, 100).with_flags(BPF_F_INNER_MAP))
        .unwrap();
    maps.update(hom, &u64v(1), &u32k(flexible as u32), BPF_ANY)
        .unwrap();
    assert_eq!(maps.lookup(hom, &u64v(1)).unwrap(), u32k(flexible as u32));
}

#[test]
fn dumps_round_trip_through_json() {
    let mut maps = Maps::new();
    let h = maps
        .create(MapSpec::new("counts", MapType::Hash, 4, 8, 16))
        .unwrap();
    for k in [5u32, 1, 9] {
        maps.update(h, &u32k(k), &u64v(k as u64 * 100), BPF_ANY)
            .unwrap();
    }
    let dump = maps.dump(h).unwrap();
    let json = serde_json::to_string(&dump).unwrap();
    let back: bpfvet_vm::MapDump = serde_json::from_str(&json).unwrap();
    assert_eq!(back, dump);
    let mut copy = Maps::new();
    let c = copy.create(back.spec.clone()).unwrap();
    copy.load(c, &back.entries).unwrap();
    assert_eq!(copy.lookup(c, &u32k(9)).unwrap(), u64v(900));
    assert_eq!(copy.count(c).unwrap(), 3);
    assert!(json.contains("\"map_type\":\"hash\""), "{json}");
}
