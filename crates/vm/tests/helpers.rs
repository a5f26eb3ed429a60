//! Kernel helpers through small assembled programs (llvm syntax): map helpers and value
//! pointers, global data, per-CPU values, queues, printk, ring buffers, perf events, tail
//! calls, callbacks, probe reads, task identity, clocks, checksums and redirects.

use bpfvet_isa::{Dialect, Program, asm};
use bpfvet_vm::maps::{BPF_ANY, BPF_F_NO_PREALLOC, PAGE_SIZE};
use bpfvet_vm::{
    Clock, MAX_TAIL_CALLS, MapSpec, MapType, Maps, RedirectFlavor, RunOptions, Vm, VmError,
};

fn prog(text: &str) -> Program {
    Program::from_insns(
        asm::assemble(text, Dialect::Llvm).unwrap_or_else(|e| panic!("{e}\n{text}")),
    )
}

fn vm(text: &str, maps: Maps) -> Vm {
    let mut vm = Vm::new(&prog(text)).unwrap();
    vm.enable_kernel_helpers();
    vm.set_maps(maps);
    vm
}

fn run(vm: &mut Vm) -> Result<u64, VmError> {
    vm.run_with_regions(vec![], [0; 10], &RunOptions::default())
        .map(|r| r.r0)
}

fn r0(vm: &mut Vm) -> u64 {
    run(vm).unwrap_or_else(|e| panic!("{e}"))
}

/// Instructions that store `bytes` (zero-padded to 8) on the stack at `r10 - at`.
fn stack_bytes(bytes: &[u8], at: i64) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        out += &format!(
            "r1 = {:#x} ll\n*(u64 *)(r10 - {}) = r1\n",
            u64::from_le_bytes(w),
            at - 8 * i as i64
        );
    }
    out
}

fn u32k(i: u32) -> [u8; 4] {
    i.to_le_bytes()
}

/// `r2 = &key` with u32 `key` at r10 - 4, `r1 = map_idx(map)`.
fn key_and_map(key: u32, map: usize) -> String {
    format!("r1 = {key}\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = map_idx({map}) ll\n")
}

const COUNTER: &str = "
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r2 = r10
    r2 += -4
    r1 = map_idx(0) ll
    call bpf_map_lookup_elem
    if r0 == 0 goto miss
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r0 = *(u64 *)(r0 + 0)
    exit
miss:
    r0 = 99
    exit
";

fn counter_maps(t: MapType) -> Maps {
    let mut maps = Maps::new();
    maps.create(MapSpec::new("counts", t, 4, 8, 4)).unwrap();
    maps
}

#[test]
fn lookup_gives_a_writable_value_pointer() {
    let mut v = vm(COUNTER, counter_maps(MapType::Array));
    assert_eq!(r0(&mut v), 1);
    assert_eq!(r0(&mut v), 2);
    assert_eq!(r0(&mut v), 3);
    let maps = v.maps_mut().unwrap();
    assert_eq!(maps.lookup(0, &u32k(0)).unwrap(), 3u64.to_le_bytes());
    // A hash map has no element yet: the lookup misses.
    let mut v = vm(COUNTER, counter_maps(MapType::Hash));
    assert_eq!(r0(&mut v), 99);
    v.maps_mut()
        .unwrap()
        .update(0, &u32k(0), &41u64.to_le_bytes(), BPF_ANY)
        .unwrap();
    assert_eq!(r0(&mut v), 42);
}

#[test]
fn value_accesses_are_bounds_checked() {
    let text = COUNTER.replace("r0 = *(u64 *)(r0 + 0)", "r0 = *(u64 *)(r0 + 4)");
    let mut v = vm(&text, counter_maps(MapType::Array));
    let e = run(&mut v).unwrap_err();
    assert!(matches!(e, VmError::OutOfBounds { .. }), "{e}");
    assert!(e.to_string().contains("map 'counts' value region"), "{e}");
}

#[test]
fn ld_imm64_needs_maps_and_valid_indices() {
    let mut v = Vm::new(&prog(COUNTER)).unwrap();
    v.enable_kernel_helpers();
    assert!(matches!(
        run(&mut v),
        Err(VmError::NeedsLoader { src: 5, .. })
    ));
    let mut v = vm(
        "r1 = map_idx(3) ll\nr0 = 0\nexit",
        counter_maps(MapType::Array),
    );
    let e = run(&mut v).unwrap_err();
    assert!(matches!(e, VmError::Map { pc: 0, .. }), "{e}");
    // map_fd: unbound fds are map indices; bound fds follow the binding.
    let mut maps = counter_maps(MapType::Array);
    maps.create(MapSpec::new("b", MapType::Array, 4, 8, 1))
        .unwrap();
    maps.bind_fd(7, 1).unwrap();
    let text = COUNTER.replace("map_idx(0)", "map_fd(7)");
    let mut v = vm(&text, maps);
    assert_eq!(r0(&mut v), 1);
    assert_eq!(
        v.maps_mut().unwrap().lookup(1, &u32k(0)).unwrap(),
        1u64.to_le_bytes()
    );
}

#[test]
fn global_data_is_readable_and_rodata_is_read_only() {
    let mut maps = Maps::new();
    maps.create(MapSpec::global_data(".rodata", b"hello", true))
        .unwrap();
    maps.create(MapSpec::global_data(".data", &[7, 0, 0, 0], false))
        .unwrap();
    let read = "r1 = map_idx_value(0, 1) ll\nr0 = *(u8 *)(r1 + 0)\nexit";
    assert_eq!(r0(&mut vm(read, maps.clone())), b'e' as u64);
    let bump =
        "r1 = map_idx_value(1, 0) ll\nr0 = *(u32 *)(r1 + 0)\nr0 += 1\n*(u32 *)(r1 + 0) = r0\nexit";
    let mut v = vm(bump, maps.clone());
    assert_eq!(r0(&mut v), 8);
    assert_eq!(r0(&mut v), 9);
    let write = "r1 = map_idx_value(0, 0) ll\nr0 = 1\n*(u8 *)(r1 + 0) = r0\nexit";
    let e = run(&mut vm(write, maps.clone())).unwrap_err();
    assert!(matches!(e, VmError::ReadOnly { .. }), "{e}");
    let past = "r1 = map_idx_value(0, 5) ll\nr0 = 0\nexit";
    assert!(matches!(run(&mut vm(past, maps)), Err(VmError::Map { .. })));
}

#[test]
fn update_and_delete_return_kernel_errors() {
    let mut maps = Maps::new();
    maps.create(MapSpec::new("h", MapType::Hash, 4, 8, 1))
        .unwrap();
    // update(map, &key, &value, flags) with value 5 at r10 - 16.
    let update = |key: u32, flags: u64| {
        format!(
            "{}r3 = 5\n*(u64 *)(r10 - 16) = r3\nr3 = r10\nr3 += -16\nr4 = {flags}\ncall bpf_map_update_elem\nexit",
            key_and_map(key, 0)
        )
    };
    let delete = |key: u32| format!("{}call bpf_map_delete_elem\nexit", key_and_map(key, 0));
    let neg = |e: i64| (-e) as u64;
    assert_eq!(
        r0(&mut vm(&update(1, 2), maps.clone())),
        neg(2),
        "BPF_EXIST on a missing key"
    );
    let mut v = vm(&update(1, 1), maps);
    assert_eq!(r0(&mut v), 0);
    assert_eq!(r0(&mut v), neg(17), "BPF_NOEXIST twice");
    let maps = v.take_maps().unwrap();
    assert_eq!(maps.lookup(0, &u32k(1)).unwrap(), 5u64.to_le_bytes());
    assert_eq!(r0(&mut vm(&update(2, 0), maps.clone())), neg(7), "full");
    assert_eq!(
        r0(&mut vm(&update(1, 9), maps.clone())),
        neg(22),
        "bad flags"
    );
    assert_eq!(r0(&mut vm(&delete(2), maps.clone())), neg(2));
    let mut v = vm(&delete(1), maps);
    assert_eq!(r0(&mut v), 0);
    assert_eq!(v.maps().unwrap().count(0).unwrap(), 0);
}

#[test]
fn percpu_maps_use_the_current_cpu() {
    let mut maps = Maps::with_cpus(2).unwrap();
    maps.create(MapSpec::new("pc", MapType::PercpuArray, 4, 8, 1))
        .unwrap();
    let mut v = vm(COUNTER, maps);
    v.env_mut().cpu = 1;
    assert_eq!(r0(&mut v), 1);
    assert_eq!(r0(&mut v), 2);
    v.env_mut().cpu = 0;
    assert_eq!(r0(&mut v), 1);
    let per_cpu = v.maps_mut().unwrap().lookup_percpu(0, &u32k(0)).unwrap();
    assert_eq!(
        per_cpu,
        vec![1u64.to_le_bytes().to_vec(), 2u64.to_le_bytes().to_vec()]
    );
    // lookup_percpu_elem(map, key, cpu): CPU 1's copy, and NULL for a CPU that does not exist.
    let text = |cpu: u32| {
        format!(
            "{}r3 = {cpu}\ncall bpf_map_lookup_percpu_elem\nif r0 == 0 goto out\nr0 = *(u64 *)(r0 + 0)\nout:\nexit",
            key_and_map(0, 0)
        )
    };
    let maps = v.take_maps().unwrap();
    assert_eq!(r0(&mut vm(&text(1), maps.clone())), 2);
    assert_eq!(r0(&mut vm(&text(2), maps.clone())), 0);
    let mut v = vm(COUNTER, maps);
    v.env_mut().cpu = 2;
    assert!(matches!(run(&mut v), Err(VmError::Setup { .. })));
}

#[test]
fn queue_push_pop_from_a_program() {
    let mut maps = Maps::new();
    let q = maps
        .create(MapSpec::new("q", MapType::Queue, 0, 8, 2))
        .unwrap();
    maps.push(q, &11u64.to_le_bytes(), BPF_ANY).unwrap();
    // push 22, pop into r10-16 (gets 11), peek into r10-24 (gets 22): r0 = pop*100 + peek.
    let text = "
        r1 = 22
        *(u64 *)(r10 - 8) = r1
        r1 = map_idx(0) ll
        r2 = r10
        r2 += -8
        r3 = 0
        call bpf_map_push_elem
        r1 = map_idx(0) ll
        r2 = r10
        r2 += -16
        call bpf_map_pop_elem
        r1 = map_idx(0) ll
        r2 = r10
        r2 += -24
        call bpf_map_peek_elem
        r0 = *(u64 *)(r10 - 16)
        r0 *= 100
        r1 = *(u64 *)(r10 - 24)
        r0 += r1
        exit
    ";
    let mut v = vm(text, maps);
    assert_eq!(r0(&mut v), 1122);
    assert_eq!(v.maps_mut().unwrap().pop(q).unwrap(), 22u64.to_le_bytes());
    // Popping an empty queue returns -ENOENT.
    let pop = "r1 = map_idx(0) ll\nr2 = r10\nr2 += -8\ncall bpf_map_pop_elem\nexit";
    assert_eq!(r0(&mut vm(pop, v.take_maps().unwrap())), (-2i64) as u64);
}

#[test]
fn trace_printk_formats_like_the_kernel() {
    let fmt = b"x=%d u=%u h=%x s=%s\n\0";
    let name = b"eth0\0";
    let text = format!(
        "{}{}r1 = r10\nr1 += -48\nr2 = {}\nr3 = -7\nr4 = 300\nr5 = r10\nr5 += -8\ncall bpf_trace_printk\nexit",
        stack_bytes(fmt, 48),
        stack_bytes(name, 8),
        fmt.len()
    );
    // %d, %u and %x take the three arguments (r3-r5); %s has none: -EINVAL, no output.
    let mut v = vm(&text, Maps::new());
    assert_eq!(r0(&mut v), (-22i64) as u64);
    assert!(v.env().trace.is_empty());
    let fmt = b"x=%d h=%x s=%s!\n\0";
    let text = format!(
        "{}{}r1 = r10\nr1 += -48\nr2 = {}\nr3 = -7\nr4 = 300\nr5 = r10\nr5 += -8\ncall bpf_trace_printk\nexit",
        stack_bytes(fmt, 48),
        stack_bytes(name, 8),
        fmt.len()
    );
    let mut v = vm(&text, Maps::new());
    let expected = "x=-7 h=12c s=eth0!\n";
    assert_eq!(r0(&mut v), expected.len() as u64);
    assert_eq!(v.env().trace_messages(), vec![expected]);
}

#[test]
fn snprintf_writes_a_truncated_nul_terminated_string() {
    let fmt = b"%05d-%lx\0";
    // args: u64[2] at r10-32 = {42, 0xbeef}; output buffer of 8 bytes at r10-48.
    let text = format!(
        "{}r1 = 42\n*(u64 *)(r10 - 32) = r1\nr1 = 0xbeef\n*(u64 *)(r10 - 24) = r1\n\
         r1 = r10\nr1 += -48\nr2 = 8\nr3 = r10\nr3 += -16\nr4 = r10\nr4 += -32\nr5 = 16\n\
         call bpf_snprintf\nr1 = *(u64 *)(r10 - 48)\n*(u64 *)(r10 - 56) = r0\nr0 = r1\nexit",
        stack_bytes(fmt, 16)
    );
    let mut v = vm(&text, Maps::new());
    let out = r0(&mut v).to_le_bytes();
    // "00042-beef" is 10 characters; 7 fit, then the NUL.
    assert_eq!(&out, b"00042-b\0");
}

fn ringbuf_maps() -> Maps {
    let mut maps = Maps::new();
    maps.create(MapSpec::new("events", MapType::Ringbuf, 0, 0, PAGE_SIZE))
        .unwrap();
    maps
}

#[test]
fn ringbuf_reserve_submit_discard_output() {
    let text = "
        r1 = map_idx(0) ll
        r2 = 8
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto fail
        r1 = 0x1111
        *(u64 *)(r0 + 0) = r1
        r1 = r0
        r2 = 0
        call bpf_ringbuf_submit
        r1 = map_idx(0) ll
        r2 = 16
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto fail
        r1 = r0
        r2 = 0
        call bpf_ringbuf_discard
        r1 = 0x2222
        *(u64 *)(r10 - 8) = r1
        r1 = map_idx(0) ll
        r2 = r10
        r2 += -8
        r3 = 4
        r4 = 0
        call bpf_ringbuf_output
        if r0 != 0 goto fail
        r1 = map_idx(0) ll
        r2 = 0
        call bpf_ringbuf_query
        exit
    fail:
        r0 = -1
        exit
    ";
    let mut v = vm(text, ringbuf_maps());
    // Three records: 16 + 24 + 16 bytes (headers included) produced, none consumed.
    assert_eq!(r0(&mut v), 56);
    let maps = v.maps_mut().unwrap();
    assert_eq!(
        maps.ringbuf_records(0).unwrap(),
        vec![
            0x1111u64.to_le_bytes().to_vec(),
            0x2222u32.to_le_bytes().to_vec()
        ]
    );
    assert_eq!(maps.ringbuf_consume(0).unwrap().len(), 2);
    assert!(maps.ringbuf_records(0).unwrap().is_empty());
}

#[test]
fn ringbuf_full_and_bad_flags() {
    // Reserve more than fits: NULL. Bad output flags: -EINVAL. Reserve flags: NULL.
    let text = "
        r1 = map_idx(0) ll
        r2 = 4096
        r3 = 0
        call bpf_ringbuf_reserve
        r6 = r0
        r1 = map_idx(0) ll
        r2 = 8
        r3 = 1
        call bpf_ringbuf_reserve
        r6 += r0
        r1 = map_idx(0) ll
        r2 = r10
        r2 += -8
        r3 = 8
        r4 = 4
        call bpf_ringbuf_output
        r0 += r6
        exit
    ";
    assert_eq!(r0(&mut vm(text, ringbuf_maps())), (-22i64) as u64);
    // Writing past a reserved record is caught.
    let text = "
        r1 = map_idx(0) ll
        r2 = 4
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto out
        r1 = 1
        *(u64 *)(r0 + 0) = r1
    out:
        exit
    ";
    let e = run(&mut vm(text, ringbuf_maps())).unwrap_err();
    assert!(e.to_string().contains("ring buffer 'events' record"), "{e}");
}

#[test]
fn perf_event_output_records_per_cpu() {
    let mut maps = Maps::with_cpus(2).unwrap();
    maps.create(MapSpec::new("perf", MapType::PerfEventArray, 4, 4, 2))
        .unwrap();
    let text = |flags: &str| {
        format!(
            "r1 = 0xabcd\n*(u64 *)(r10 - 8) = r1\nr1 = 0\nr2 = map_idx(0) ll\nr3 = {flags} ll\n\
             r4 = r10\nr4 += -8\nr5 = 2\ncall bpf_perf_event_output\nexit"
        )
    };
    let mut v = vm(&text("0xffffffff"), maps);
    v.env_mut().cpu = 1;
    assert_eq!(r0(&mut v), 0);
    let maps = v.take_maps().unwrap();
    let recs = maps.perf_records(0).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].index, recs[0].data.clone()), (1, vec![0xcd, 0xab]));
    // Index 0 is bound to CPU 0: -EOPNOTSUPP from CPU 1; index 5: -E2BIG; bad flags: -EINVAL.
    let mut v = vm(&text("0"), maps.clone());
    v.env_mut().cpu = 1;
    assert_eq!(r0(&mut v), (-95i64) as u64);
    assert_eq!(r0(&mut vm(&text("5"), maps.clone())), (-7i64) as u64);
    assert_eq!(
        r0(&mut vm(&text("0x1000000000000000"), maps.clone())),
        (-22i64) as u64
    );
    // Appending context bytes (BPF_F_CTXLEN_MASK) needs a packet context.
    let e = run(&mut vm(&text("0x100000000"), maps)).unwrap_err();
    assert!(e.to_string().contains("needs a packet context"), "{e}");
}

#[test]
fn tail_calls_stop_at_the_kernel_limit() {
    // Each run of the program bumps counter[0] and tail-calls prog_array[0] (itself).
    let text = "
        r6 = r1
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r2 = r10
        r2 += -4
        r1 = map_idx(0) ll
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
        r1 = r6
        r2 = map_idx(1) ll
        r3 = 0
        r0 = 7
        call bpf_tail_call
    out:
        exit
    ";
    let mut maps = counter_maps(MapType::Array);
    let pa = maps
        .create(MapSpec::new("jmp", MapType::ProgArray, 4, 4, 1))
        .unwrap();
    maps.update(pa, &u32k(0), &u32k(0), BPF_ANY).unwrap();
    let mut v = vm(text, maps);
    // The failed 34th attempt falls through with R0 unchanged.
    assert_eq!(r0(&mut v), 7);
    let count = v.maps_mut().unwrap().lookup(0, &u32k(0)).unwrap();
    assert_eq!(count, (MAX_TAIL_CALLS as u64 + 1).to_le_bytes());
    assert_eq!(MAX_TAIL_CALLS, 33);
}

#[test]
fn tail_call_switches_programs_and_empty_slots_fall_through() {
    let entry = "r6 = 1\nr2 = map_idx(0) ll\nr3 = 1\ncall bpf_tail_call\nr2 = map_idx(0) ll\nr3 = 0\ncall bpf_tail_call\nr0 = 5\nexit";
    let mut maps = Maps::new();
    let pa = maps
        .create(MapSpec::new("jmp", MapType::ProgArray, 4, 4, 2))
        .unwrap();
    maps.update(pa, &u32k(0), &u32k(1), BPF_ANY).unwrap();
    let mut v = vm(entry, maps);
    // Program 1 sees the caller's registers (R6 = 1).
    let target = v.add_program(&prog("r0 = r6\nr0 += 100\nexit")).unwrap();
    assert_eq!(target, 1);
    assert_eq!(r0(&mut v), 101);
    // An entry naming a program the VM does not have is an error, not a silent fall-through.
    v.maps_mut()
        .unwrap()
        .update(pa, &u32k(0), &u32k(9), BPF_ANY)
        .unwrap();
    let e = run(&mut v).unwrap_err();
    assert!(e.to_string().contains("holds program 9"), "{e}");
}

#[test]
fn bpf_loop_calls_back_until_told_to_stop() {
    // sum of i for i < n, stopping early when i == stop; r0 = loops * 1000 + sum.
    let text = |n: u32, stop: u32| {
        format!(
            "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = {n}\nr2 = func(cb) ll\nr3 = r10\nr3 += -8\nr4 = 0\n\
             call bpf_loop\nr0 *= 1000\nr1 = *(u64 *)(r10 - 8)\nr0 += r1\nexit\n\
             cb:\nr3 = *(u64 *)(r2 + 0)\nr3 += r1\n*(u64 *)(r2 + 0) = r3\nr0 = 0\n\
             if r1 != {stop} goto +1\nr0 = 1\nexit"
        )
    };
    assert_eq!(r0(&mut vm(&text(10, 99), Maps::new())), 10_045);
    assert_eq!(r0(&mut vm(&text(10, 3), Maps::new())), 4_006);
    // Flags must be 0; more than 1 << 23 iterations is -E2BIG.
    let bad = text(10, 99).replace("r4 = 0", "r4 = 1");
    assert_eq!(r0(&mut vm(&bad, Maps::new())) as i64, -22 * 1000);
    let big = text(1 << 24, 99);
    assert_eq!(r0(&mut vm(&big, Maps::new())) as i64, -7 * 1000);
}

#[test]
fn for_each_map_elem_visits_keys_and_values() {
    let mut maps = Maps::new();
    let h = maps
        .create(MapSpec::new("h", MapType::Hash, 4, 8, 8))
        .unwrap();
    for k in [3u32, 5, 9] {
        maps.update(h, &u32k(k), &(k as u64 * 10).to_le_bytes(), BPF_ANY)
            .unwrap();
    }
    // ctx = u64 at r10-8 accumulating key + value; the callback also doubles each value.
    let text = "
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = map_idx(0) ll
        r2 = func(cb) ll
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_for_each_map_elem
        r0 *= 1000
        r1 = *(u64 *)(r10 - 8)
        r0 += r1
        exit
    cb:
        r5 = *(u32 *)(r2 + 0)
        r6 = *(u64 *)(r3 + 0)
        r5 += r6
        r6 *= 2
        *(u64 *)(r3 + 0) = r6
        r7 = *(u64 *)(r4 + 0)
        r7 += r5
        *(u64 *)(r4 + 0) = r7
        r0 = 0
        exit
    ";
    let mut v = vm(text, maps);
    // 3 calls; 3+30 + 5+50 + 9+90 = 187.
    assert_eq!(r0(&mut v), 3187);
    let maps = v.maps_mut().unwrap();
    assert_eq!(maps.lookup(h, &u32k(5)).unwrap(), 100u64.to_le_bytes());
    // Keys are read-only for the callback.
    let write_key = text.replace(
        "r0 = 0\n        exit",
        "*(u32 *)(r2 + 0) = r0\n        exit",
    );
    let e = run(&mut vm(&write_key, v.take_maps().unwrap())).unwrap_err();
    assert!(matches!(e, VmError::ReadOnly { .. }), "{e}");
}

#[test]
fn probe_reads_copy_known_memory_and_fault_on_the_rest() {
    // probe_read_kernel(dst=r10-16, 8, src=r10-8) copies; from 0x1000 fails with -EFAULT and
    // zeroes dst.
    let text = |src: &str| {
        format!(
            "r1 = 0x55\n*(u64 *)(r10 - 8) = r1\nr1 = -1\n*(u64 *)(r10 - 16) = r1\n\
             r1 = r10\nr1 += -16\nr2 = 8\nr3 = {src}\ncall bpf_probe_read_kernel\n\
             r1 = *(u64 *)(r10 - 16)\n*(u64 *)(r10 - 24) = r0\nr0 = r1\nr1 = *(u32 *)(r10 - 24)\n\
             r0 <<= 32\nr0 |= r1\nexit"
        )
    };
    let good = text("r10\nr3 += -8");
    assert_eq!(r0(&mut vm(&good, Maps::new())), 0x55 << 32);
    let bad = text("0x1000");
    assert_eq!(r0(&mut vm(&bad, Maps::new())) as u32, (-14i32) as u32);
    assert_eq!(r0(&mut vm(&bad, Maps::new())) >> 32, 0);
    // probe_read_kernel_str returns the length with the NUL, truncating to size - 1.
    let s = |size: u32| {
        format!(
            "{}r1 = r10\nr1 += -32\nr2 = {size}\nr3 = r10\nr3 += -8\ncall bpf_probe_read_kernel_str\nexit",
            stack_bytes(b"hey\0", 8)
        )
    };
    assert_eq!(r0(&mut vm(&s(16), Maps::new())), 4);
    assert_eq!(r0(&mut vm(&s(3), Maps::new())), 3);
}

#[test]
fn task_identity_clock_and_random() {
    let text = "call bpf_get_current_pid_tgid\nexit";
    let mut v = vm(text, Maps::new());
    v.env_mut().task.pid = 42;
    v.env_mut().task.tgid = 40;
    assert_eq!(r0(&mut v), 40 << 32 | 42);
    let comm =
        "r1 = r10\nr1 += -16\nr2 = 16\ncall bpf_get_current_comm\nr0 = *(u64 *)(r10 - 16)\nexit";
    let mut v = vm(comm, Maps::new());
    v.env_mut().task.comm = "nginx".into();
    assert_eq!(r0(&mut v).to_le_bytes(), *b"nginx\0\0\0");
    // A virtual clock moves forward by its step on every reading.
    let t = "call bpf_ktime_get_ns\nr6 = r0\ncall bpf_ktime_get_ns\nr0 -= r6\nexit";
    let mut v = vm(t, Maps::new());
    v.env_mut().set_clock(Clock::Virtual {
        start: 5,
        step: 250,
    });
    assert_eq!(r0(&mut v), 250);
    v.env_mut().set_clock(Clock::Fixed { ns: 9 });
    assert_eq!(r0(&mut v), 0);
    // A seeded generator repeats itself.
    let rnd = "call bpf_get_prandom_u32\nexit";
    let mut a = vm(rnd, Maps::new());
    let mut b = vm(rnd, Maps::new());
    a.env_mut().seed(7);
    b.env_mut().seed(7);
    let xs: Vec<u64> = (0..4).map(|_| r0(&mut a)).collect();
    let ys: Vec<u64> = (0..4).map(|_| r0(&mut b)).collect();
    assert_eq!(xs, ys);
    assert!(xs.windows(2).any(|w| w[0] != w[1]));
    let cpu = "call bpf_get_smp_processor_id\nexit";
    let mut maps = Maps::with_cpus(4).unwrap();
    maps.create(MapSpec::new("x", MapType::Array, 4, 4, 1))
        .unwrap();
    let mut v = vm(cpu, maps);
    v.env_mut().cpu = 3;
    assert_eq!(r0(&mut v), 3);
}

#[test]
fn csum_diff_and_redirects() {
    // csum_diff(from = 4 bytes 0x00000001, to = 4 bytes 0x00000002, seed 0):
    // ~1 + 2 with end-around carry = 0xfffffffe + 2 -> 0x1_0000_0000 -> 1.
    let text = "r1 = 1\n*(u32 *)(r10 - 4) = r1\nr1 = 2\n*(u32 *)(r10 - 8) = r1\n\
                r1 = r10\nr1 += -4\nr2 = 4\nr3 = r10\nr3 += -8\nr4 = 4\nr5 = 0\ncall bpf_csum_diff\nexit";
    assert_eq!(r0(&mut vm(text, Maps::new())), 1);
    let odd = text.replace("r2 = 4", "r2 = 3");
    assert_eq!(r0(&mut vm(&odd, Maps::new())), (-22i64) as u64);

    let redirect = |flags: u64| format!("r1 = 3\nr2 = {flags}\ncall bpf_redirect\nexit");
    let mut v = vm(&redirect(0), Maps::new());
    assert_eq!(r0(&mut v), 4, "XDP_REDIRECT");
    assert_eq!(v.env().redirect.as_ref().unwrap().target, 3);
    assert_eq!(r0(&mut vm(&redirect(1), Maps::new())), 0, "XDP_ABORTED");
    let mut v = vm(&redirect(1), Maps::new());
    v.env_mut().redirect_flavor = RedirectFlavor::Tc;
    assert_eq!(r0(&mut v), 7, "TC_ACT_REDIRECT with BPF_F_INGRESS");
    let mut v = vm(&redirect(2), Maps::new());
    v.env_mut().redirect_flavor = RedirectFlavor::Tc;
    assert_eq!(r0(&mut v), 2, "TC_ACT_SHOT");

    let mut maps = Maps::new();
    let dev = maps
        .create(MapSpec::new("tx", MapType::Devmap, 4, 4, 4))
        .unwrap();
    maps.update(dev, &u32k(1), &u32k(12), BPF_ANY).unwrap();
    let rmap = |key: u32, flags: u64| {
        format!("r1 = map_idx(0) ll\nr2 = {key}\nr3 = {flags}\ncall bpf_redirect_map\nexit")
    };
    assert_eq!(r0(&mut vm(&rmap(1, 0), maps.clone())), 4);
    assert_eq!(
        r0(&mut vm(&rmap(2, 2), maps.clone())),
        2,
        "miss: the action in the flags"
    );
    assert_eq!(r0(&mut vm(&rmap(1, 0x40), maps)), 0, "unknown flags");
}

#[test]
fn helpers_outside_user_space_are_named() {
    // A packet helper without a packet context says what it needs.
    let mut v = vm(
        "r1 = 0\nr2 = 0\nr3 = 0\nr4 = 0\ncall bpf_skb_load_bytes\nexit",
        Maps::new(),
    );
    let e = run(&mut v).unwrap_err();
    assert_eq!(
        e.to_string(),
        "insn 4: helper 26 failed: this helper needs a packet context (XDP or socket buffer): \
         run the program with one"
    );
    let e = run(&mut vm("call bpf_fib_lookup\nexit", Maps::new())).unwrap_err();
    assert!(
        matches!(e, VmError::UnavailableHelper { id: 69, .. }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "insn 0: helper bpf_fib_lookup (69) cannot run in the VM: it needs the kernel's \
         routing and neighbour tables"
    );
    let e = run(&mut vm("call bpf_send_signal\nexit", Maps::new())).unwrap_err();
    assert!(e.to_string().contains("bpf_send_signal (109)"), "{e}");
    assert!(e.to_string().ends_with("it needs the kernel"), "{e}");
    // Ids the kernel does not have stay unknown.
    assert!(matches!(
        run(&mut vm("call 5000\nexit", Maps::new())),
        Err(VmError::UnknownHelper { id: 5000, .. })
    ));
    // A registered helper wins over the built-in one.
    let mut v = vm("call bpf_ktime_get_ns\nexit", Maps::new());
    v.register_helper(5, |_| Ok(77));
    assert_eq!(r0(&mut v), 77);
    assert!(Vm::kernel_helper_names().contains(&"bpf_tail_call"));
}

#[test]
fn lpm_lookup_from_a_program() {
    let mut maps = Maps::new();
    let t = maps
        .create(MapSpec::new("blocked", MapType::LpmTrie, 8, 4, 8).with_flags(BPF_F_NO_PREALLOC))
        .unwrap();
    let mut key = 8u32.to_le_bytes().to_vec();
    key.extend([10, 0, 0, 0]);
    maps.update(t, &key, &u32k(1), BPF_ANY).unwrap();
    // key {32, 10.1.2.3} at r10-8.
    let text = |ip: u32| {
        format!(
            "r1 = 32\n*(u32 *)(r10 - 8) = r1\nr1 = {ip:#x}\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -8\n\
             r1 = map_idx(0) ll\ncall bpf_map_lookup_elem\nif r0 == 0 goto out\nr0 = *(u32 *)(r0 + 0)\nr0 += 10\nout:\nexit"
        )
    };
    assert_eq!(
        r0(&mut vm(
            &text(u32::from_le_bytes([10, 1, 2, 3])),
            maps.clone()
        )),
        11
    );
    assert_eq!(
        r0(&mut vm(&text(u32::from_le_bytes([11, 1, 2, 3])), maps)),
        0
    );
}

#[test]
fn a_program_lookup_counts_as_a_use_for_lru() {
    let mut maps = Maps::new();
    let h = maps
        .create(MapSpec::new("lru", MapType::LruHash, 4, 8, 2))
        .unwrap();
    maps.update(h, &u32k(1), &1u64.to_le_bytes(), BPF_ANY)
        .unwrap();
    maps.update(h, &u32k(2), &2u64.to_le_bytes(), BPF_ANY)
        .unwrap();
    // A user-space lookup does not count: 1 is still the least recently used.
    maps.lookup(h, &u32k(1)).unwrap();
    let mut a = maps.clone();
    a.update(h, &u32k(3), &3u64.to_le_bytes(), BPF_ANY).unwrap();
    assert!(a.lookup(h, &u32k(1)).is_err());
    // A program's lookup does: 2 becomes the victim.
    let text = format!(
        "{}call bpf_map_lookup_elem\nr0 = 0\nexit",
        key_and_map(1, 0)
    );
    let mut v = vm(&text, maps);
    r0(&mut v);
    let maps = v.maps_mut().unwrap();
    maps.update(h, &u32k(3), &3u64.to_le_bytes(), BPF_ANY)
        .unwrap();
    assert!(maps.lookup(h, &u32k(1)).is_ok());
    assert!(maps.lookup(h, &u32k(2)).is_err());
}
