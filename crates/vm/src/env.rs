//! The world a program sees through its helpers: clocks, the CPU and NUMA node it runs on,
//! the current task, a pseudo-random generator, and what it leaves behind (`trace_printk`
//! lines, the last redirect).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Instant;

/// Where the clock helpers (`ktime_get_ns` and friends) get the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Always `ns`.
    Fixed { ns: u64 },
    /// Starts at `start` and advances by `step` after each reading: deterministic, yet
    /// strictly increasing as real clocks look to a program.
    Virtual { start: u64, step: u64 },
    /// Nanoseconds since the [`Env`] was created, plus `offset`.
    Host { offset: u64 },
}

/// Who "current" is for `get_current_pid_tgid`, `get_current_uid_gid`, `get_current_comm`
/// and `get_current_task`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Thread id (the kernel's `pid`).
    pub pid: u32,
    /// Process id (the kernel's `tgid`).
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    /// The command name (at most 15 bytes are visible, as `TASK_COMM_LEN` is 16).
    pub comm: String,
    /// The value `bpf_get_current_task` returns (a `struct task_struct *`). The VM has no
    /// memory behind it: `probe_read_kernel` of it fails with `-EFAULT`.
    pub task_ptr: u64,
    /// The cgroup id `bpf_get_current_cgroup_id` returns; also the cgroup of the socket a
    /// socket buffer belongs to (`bpf_skb_cgroup_id`), as a test run's socket is made by the
    /// calling task.
    pub cgroup_id: u64,
    /// The cgroup ids from the root (id 1, level 0) down to the task's own cgroup, for the
    /// `ancestor_cgroup_id` helpers; the last must equal `cgroup_id`.
    pub cgroup_ancestors: Vec<u64>,
    /// The task's `net_cls` class id (0 outside a cgroup-v1 `net_cls` group), which
    /// `bpf_get_cgroup_classid` and `bpf_skb_cgroup_classid` report.
    pub net_cls_classid: u32,
}

impl Default for Task {
    fn default() -> Task {
        Task {
            pid: 1000,
            tgid: 1000,
            uid: 0,
            gid: 0,
            comm: "bpfvet".to_string(),
            task_ptr: 0xffff_8880_0100_0000,
            cgroup_id: 1,
            cgroup_ancestors: vec![1],
            net_cls_classid: 0,
        }
    }
}

/// One `trace_printk` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// `ktime_get_ns` at the call (it does not advance a virtual clock).
    pub ts_ns: u64,
    pub cpu: u32,
    pub pid: u32,
    /// The formatted message, as the kernel writes it to the trace buffer.
    pub message: String,
}

/// The last `bpf_redirect`/`bpf_redirect_map` a program asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// The interface index (`bpf_redirect`) or map key (`bpf_redirect_map`).
    pub target: u64,
    pub flags: u64,
    /// The map of `bpf_redirect_map`.
    pub map: Option<usize>,
    /// How the packet is to be delivered.
    pub kind: RedirectKind,
}

/// The redirect helper a program used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedirectKind {
    /// `bpf_redirect`/`bpf_redirect_map`: to the device (or map entry) itself.
    #[default]
    Device,
    /// `bpf_redirect_peer`: to the peer of a veth/netkit device, on ingress.
    Peer,
    /// `bpf_redirect_neigh`: out of the device through the neighbour subsystem; `nexthop`
    /// when the program gave the next hop's address.
    Neighbour { nexthop: bool },
}

/// Which flavour of `bpf_redirect` the program's type has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedirectFlavor {
    /// XDP: `XDP_REDIRECT` (4) on success, `XDP_ABORTED` (0) on bad flags.
    #[default]
    Xdp,
    /// TC and other socket-buffer programs: `TC_ACT_REDIRECT` (7), `TC_ACT_SHOT` (2) on bad flags.
    Tc,
}

/// The environment of a run; see the module documentation.
#[derive(Clone, Debug)]
pub struct Env {
    pub clock: Clock,
    /// Added to the monotonic time for `ktime_get_boot_ns` (time spent suspended).
    pub boot_offset_ns: u64,
    /// Added to the monotonic time for `ktime_get_tai_ns`.
    pub tai_offset_ns: u64,
    /// The CPU the program runs on (`get_smp_processor_id`, per-CPU map values); must be
    /// below the map set's number of CPUs.
    pub cpu: u32,
    pub numa_node: u32,
    pub task: Task,
    pub redirect_flavor: RedirectFlavor,
    /// `trace_printk` output.
    pub trace: Vec<TraceRecord>,
    /// The last redirect a program asked for.
    pub redirect: Option<Redirect>,
    now: u64,
    created: Instant,
    rng: u64,
    cookies: u64,
}

impl Default for Env {
    fn default() -> Env {
        Env::new()
    }
}

impl Env {
    /// The environment's CPU must be one the maps have per-CPU values for.
    pub fn check_cpu(&self, maps: &crate::maps::Maps) -> Result<(), crate::VmError> {
        if self.cpu as usize >= maps.nr_cpus() {
            return Err(crate::VmError::Setup {
                message: format!(
                    "the environment's CPU {} is not one of the maps' {} CPUs",
                    self.cpu,
                    maps.nr_cpus()
                ),
            });
        }
        Ok(())
    }

    /// A virtual clock starting at 1 s and advancing 1 µs per reading, CPU 0, a default
    /// task, and a pseudo-random generator seeded from the host.
    pub fn new() -> Env {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x6270_6676_6574);
        Env {
            clock: Clock::Virtual {
                start: 1_000_000_000,
                step: 1_000,
            },
            boot_offset_ns: 0,
            tai_offset_ns: 37_000_000_000,
            cpu: 0,
            numa_node: 0,
            task: Task::default(),
            redirect_flavor: RedirectFlavor::Xdp,
            trace: Vec::new(),
            redirect: None,
            now: 0,
            created: Instant::now(),
            rng: h.finish() | 1,
            cookies: 0,
        }
    }

    /// A fresh socket cookie (never 0, never repeated within this environment), as the
    /// kernel hands out for a socket the first time a program asks.
    pub fn next_socket_cookie(&mut self) -> u64 {
        self.cookies += 1;
        self.cookies
    }

    /// Seeds `get_prandom_u32`, making its sequence reproducible.
    pub fn seed(&mut self, seed: u64) {
        self.rng = seed;
    }

    /// Sets the clock (and restarts a virtual one).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
        self.now = 0;
    }

    /// Monotonic nanoseconds; advances a virtual clock.
    pub fn mono_ns(&mut self) -> u64 {
        match self.clock {
            Clock::Fixed { ns } => ns,
            Clock::Virtual { start, step } => {
                let t = start.wrapping_add(self.now);
                self.now = self.now.wrapping_add(step);
                t
            }
            Clock::Host { offset } => offset.wrapping_add(self.created.elapsed().as_nanos() as u64),
        }
    }

    /// Monotonic nanoseconds without advancing a virtual clock.
    pub fn peek_ns(&self) -> u64 {
        match self.clock {
            Clock::Fixed { ns } => ns,
            Clock::Virtual { start, .. } => start.wrapping_add(self.now),
            Clock::Host { offset } => offset.wrapping_add(self.created.elapsed().as_nanos() as u64),
        }
    }

    /// The next pseudo-random `u32` (splitmix64).
    pub fn prandom_u32(&mut self) -> u32 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }

    /// The `trace_printk` messages so far.
    pub fn trace_messages(&self) -> Vec<&str> {
        self.trace.iter().map(|t| t.message.as_str()).collect()
    }

    /// Removes and returns the `trace_printk` output.
    pub fn take_trace(&mut self) -> Vec<TraceRecord> {
        std::mem::take(&mut self.trace)
    }
}
