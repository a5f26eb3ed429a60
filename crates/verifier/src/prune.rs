//! State pruning. At prune points the verifier stores checkpoints (copies of the state). A
//! checkpoint is finished when every path that went through it has ended; a new state at the
//! same instruction that is *included* in a finished checkpoint (every concrete state it
//! describes is described by the checkpoint) is safe, since everything reachable from the
//! checkpoint was proven safe. A state exactly equal to an unfinished checkpoint on its own
//! path is an infinite loop.
//!
//! Inclusion treats every scalar as precise and every register and slot as live (no liveness
//! or precision tracking yet): sound, and more states are explored than the kernel explores.

use std::collections::HashMap;

use crate::reg::{RegState, RegType};
use crate::stack::ByteKind;
use crate::state::{Frame, State};
use crate::tnum::Tnum;

/// What to do at a prune point.
pub enum Visit {
    Pruned,
    Continue,
}

/// Result of looking up checkpoints.
pub enum Outcome {
    /// Included in checkpoint `id`; `provisional` when that checkpoint's marks are not final
    /// (it is still being explored, a converging loop, or a loop holds or pinned it).
    Pruned {
        id: usize,
        provisional: bool,
    },
    /// At `may_goto`: the state differs from the loop's earlier pass (checkpoint id) only in
    /// scalars; widen those and go on.
    Widen(usize),
    InfiniteLoop,
    Added(usize),
    Miss,
}

struct Checkpoint {
    state: State,
    parent: Option<usize>,
    /// Live paths and unfinished child checkpoints below this one.
    branches: u32,
    hits: u32,
    misses: u32,
    /// Every scalar here and in every ancestor was marked precise (the backtracking
    /// fallback); walking further up would mark nothing new.
    all_precise: bool,
    /// Held by a loop still being explored (the checkpoint id of its entry): a path below
    /// this one was pruned against that loop, whose precision and read marks are not final,
    /// so until the loop is done this checkpoint is compared on exact ranges and every slot.
    held_by: Option<usize>,
    /// Compared on exact ranges and every slot for good: a path below was pruned against a
    /// loop whose final marks could not be waited for (the back-edge limit).
    pinned: bool,
    /// As a loop's entry: the paths pruned against it, or against checkpoints it holds
    /// (propagated again once it is done), and the checkpoints it holds.
    backedges: Vec<Backedge>,
    holds: Vec<usize>,
}

/// A path pruned against a checkpoint whose marks were not final (`target`): its state (with
/// its history) and the checkpoint it descends from.
pub struct Backedge {
    pub state: Box<State>,
    pub parent: Option<usize>,
    pub target: usize,
}

/// Every checkpoint, by instruction.
pub struct Checkpoints {
    arena: Vec<Option<Checkpoint>>,
    at: Vec<Vec<usize>>,
    pub total: u64,
    pub peak: u64,
    live: u64,
    pub max_per_insn: u64,
    /// Back-edges waiting at loop entries, and how many may wait at once.
    backedges_kept: usize,
    max_backedges: usize,
}

/// Checkpoints kept per instruction at most (older, useless ones are evicted first).
const MAX_PER_INSN: usize = 64;

impl Checkpoints {
    pub fn new(n: usize, max_backedges: usize) -> Checkpoints {
        Checkpoints {
            arena: Vec::new(),
            at: vec![Vec::new(); n],
            total: 0,
            peak: 0,
            live: 0,
            backedges_kept: 0,
            max_backedges,
            max_per_insn: 0,
        }
    }

    /// A path is pushed below `parent`.
    pub fn add_branch(&mut self, parent: Option<usize>) {
        if let Some(p) = parent
            && let Some(c) = self.arena[p].as_mut()
        {
            c.branches += 1;
        }
    }

    /// A path below `parent` ended. Returns the loop entries that are now done and have
    /// back-edges to propagate, innermost first.
    pub fn end_path(&mut self, parent: Option<usize>) -> Vec<usize> {
        let mut done = Vec::new();
        let mut p = parent;
        while let Some(i) = p {
            let Some(c) = self.arena[i].as_mut() else {
                break;
            };
            c.branches = c.branches.saturating_sub(1);
            if c.branches > 0 {
                break;
            }
            if !c.backedges.is_empty() || !c.holds.is_empty() {
                done.push(i);
            }
            p = c.parent;
        }
        done
    }

    /// Looks `state` up among the checkpoints at `pc`; adds one if `add`.
    #[allow(clippy::too_many_arguments)]
    pub fn visit(
        &mut self,
        pc: usize,
        state: &State,
        parent: Option<usize>,
        add: bool,
        loop_head: bool,
        may_goto: bool,
        calls_callback: bool,
        iter_next: bool,
        live_regs: u16,
        live_at: &[u16],
        force: bool,
        loop_paced: bool,
    ) -> Outcome {
        let list = &self.at[pc];
        self.max_per_insn = self.max_per_insn.max(list.len() as u64);
        let mut add = add;
        let mut hit = None;
        let mut provisional = false;
        for &id in list {
            let Some(c) = self.arena[id].as_ref() else {
                continue;
            };
            if c.branches > 0 {
                // At an iterator's `next`, an ACTIVE state an earlier visit of the loop
                // covers adds nothing (the iterator eventually drains): converged. Other
                // states there are not loops (the iterator must make progress).
                if iter_next {
                    if includes_with(&c.state, state, live_regs, Some(live_at), false)
                        && crate::iter::r1_iter_active(state)
                    {
                        hit = Some(id);
                        provisional = true;
                        break;
                    }
                    continue;
                }
                // At a callback call, a state the iteration's earlier visit covers adds
                // nothing: the callback loop converged. No loop check here: the same call
                // is legitimately revisited each iteration.
                if calls_callback {
                    if includes_with(&c.state, state, live_regs, Some(live_at), false) {
                        hit = Some(id);
                        provisional = true;
                        break;
                    }
                    continue;
                }
                // At `may_goto`, an iteration whose state the loop's earlier pass already
                // covers adds nothing (the runtime counter bounds the loop): converged.
                if may_goto
                    && c.state.may_goto_depth != state.may_goto_depth
                    && includes_with(&c.state, state, live_regs, Some(live_at), false)
                {
                    hit = Some(id);
                    provisional = true;
                    break;
                }
                if same_state(&c.state, state)
                    && !crate::iter::active_depths_differ(&c.state, state)
                {
                    return Outcome::InfiniteLoop;
                }
                // Inside a loop, successive iterations differ: store a checkpoint only now
                // and then (the kernel's 20 jumps or 100 instructions).
                if !force && !loop_paced {
                    add = false;
                }
                continue;
            }
            // A finished checkpoint: registers dead here cannot matter, nor scalars its
            // continuations never needed exactly.
            let relaxed = c.held_by.is_none() && !c.pinned;
            if includes_with(&c.state, state, live_regs, Some(live_at), relaxed) {
                hit = Some(id);
                provisional = !relaxed;
                break;
            }
        }
        if let Some(id) = hit {
            if let Some(c) = self.arena[id].as_mut() {
                c.hits += 1;
            }
            return Outcome::Pruned { id, provisional };
        }
        if may_goto
            && let Some(&id) = list.iter().rev().find(|&&id| {
                self.arena[id].as_ref().is_some_and(|c| {
                    c.branches > 0 && c.state.may_goto_depth != state.may_goto_depth
                })
            })
        {
            return Outcome::Widen(id);
        }
        // A miss counts only when a new checkpoint may be stored: otherwise the iterations
        // of a loop would evict the checkpoints of its first passes.
        if add || loop_head {
            for &id in &self.at[pc] {
                if let Some(c) = self.arena[id].as_mut() {
                    c.misses += 1;
                }
            }
        }
        if !add && !loop_head {
            return Outcome::Miss;
        }
        // Drop checkpoints that keep missing (the kernel's heuristic; a forced checkpoint
        // still being explored gets more chances), then cap. One still being explored leaves
        // the list but stays in the arena: paths below it walk its chain.
        let arena = &mut self.arena;
        let mut evicted = 0u64;
        self.at[pc].retain(|&id| {
            let keep = match arena[id].as_ref() {
                Some(c) => {
                    let n = if force && c.branches > 0 { 64 } else { 3 };
                    c.misses <= c.hits * n + n
                }
                None => false,
            };
            if !keep
                && arena[id]
                    .as_ref()
                    .is_some_and(|c| c.branches == 0 && c.held_by.is_none())
            {
                arena[id] = None;
                evicted += 1;
            }
            keep
        });
        self.live -= evicted;
        if self.at[pc].len() >= MAX_PER_INSN {
            return Outcome::Miss;
        }
        let id = self.arena.len();
        self.arena.push(Some(Checkpoint {
            state: state.clone(),
            parent,
            branches: 1,
            hits: 0,
            misses: 0,
            all_precise: false,
            held_by: None,
            pinned: false,
            backedges: Vec::new(),
            holds: Vec::new(),
        }));
        self.at[pc].push(id);
        self.total += 1;
        self.live += 1;
        self.peak = self.peak.max(self.live);
        Outcome::Added(id)
    }
}

impl Checkpoints {
    /// The stored state of checkpoint `id`, if still kept.
    pub fn state_mut(&mut self, id: usize) -> Option<&mut State> {
        self.arena.get_mut(id)?.as_mut().map(|c| &mut c.state)
    }

    /// The stored state of checkpoint `id`, if still kept.
    pub fn state(&self, id: usize) -> Option<&State> {
        self.arena.get(id)?.as_ref().map(|c| &c.state)
    }

    /// Marks every scalar of checkpoint `id` and its ancestors precise, stopping at the first
    /// one a previous call already covered.
    pub fn mark_all_up(&mut self, mut p: Option<usize>) -> bool {
        let mut changed = false;
        while let Some(id) = p {
            let Some(c) = self.arena.get_mut(id).and_then(|c| c.as_mut()) else {
                return changed;
            };
            if c.all_precise {
                return changed;
            }
            changed = true;
            crate::precision::mark_all(&mut c.state);
            for f in &mut c.state.frames {
                f.read = u64::MAX;
            }
            c.all_precise = true;
            p = c.parent;
        }
        changed
    }

    /// The loop entry whose completion makes checkpoint `id`'s marks final: itself while
    /// it is being explored, else the loop holding it.
    pub fn owner_of(&self, id: usize) -> Option<usize> {
        let c = self.arena.get(id)?.as_ref()?;
        if c.branches > 0 { Some(id) } else { c.held_by }
    }

    /// A path below `parent` was pruned against `target`, whose marks `owner` finalises:
    /// remember it, and hold the checkpoints from `parent` up to `owner` (exclusive).
    ///
    /// Returns false, recording nothing, when the limit of waiting back-edges is reached: the
    /// caller then pins the path's whole chain instead (sound, coarser).
    pub fn add_backedge(
        &mut self,
        owner: usize,
        state: &State,
        parent: Option<usize>,
        target: usize,
    ) -> bool {
        if self.backedges_kept >= self.max_backedges {
            return false;
        }
        self.backedges_kept += 1;
        let mut p = parent;
        while let Some(id) = p {
            if id == owner {
                break;
            }
            let Some(c) = self.arena.get_mut(id).and_then(|c| c.as_mut()) else {
                break;
            };
            // An outer loop (an ancestor, so an older checkpoint) keeps its hold.
            let next = c.parent;
            match c.held_by {
                Some(h) if h <= owner => {}
                _ => {
                    c.held_by = Some(owner);
                    if let Some(o) = self.arena.get_mut(owner).and_then(|c| c.as_mut()) {
                        o.holds.push(id);
                    }
                }
            }
            p = next;
        }
        if let Some(o) = self.arena.get_mut(owner).and_then(|c| c.as_mut()) {
            o.backedges.push(Backedge {
                state: Box::new(state.clone()),
                parent,
                target,
            });
        }
        true
    }

    /// Pins checkpoint `p` and its ancestors (compared exactly for good), stopping at the
    /// first one already pinned.
    pub fn pin_up(&mut self, mut p: Option<usize>) {
        while let Some(id) = p {
            let Some(c) = self.arena.get_mut(id).and_then(|c| c.as_mut()) else {
                return;
            };
            if c.pinned {
                return;
            }
            c.pinned = true;
            p = c.parent;
        }
    }

    /// The back-edges recorded at loop entry `id` (taken out).
    pub fn take_backedges(&mut self, id: usize) -> Vec<Backedge> {
        let taken = self
            .arena
            .get_mut(id)
            .and_then(|c| c.as_mut())
            .map(|c| std::mem::take(&mut c.backedges))
            .unwrap_or_default();
        self.backedges_kept = self.backedges_kept.saturating_sub(taken.len());
        taken
    }

    /// Loop entry `id` is done and its back-edges propagated: release what it holds, or,
    /// when an outer loop holds it, hand its back-edges and holds to that loop.
    pub fn settle(&mut self, id: usize, backedges: Vec<Backedge>) {
        let Some(c) = self.arena.get_mut(id).and_then(|c| c.as_mut()) else {
            return;
        };
        let holds = std::mem::take(&mut c.holds);
        let outer = c.held_by;
        for &h in &holds {
            if let Some(hc) = self.arena.get_mut(h).and_then(|c| c.as_mut())
                && hc.held_by == Some(id)
            {
                hc.held_by = outer;
            }
        }
        if let Some(o) = outer
            && let Some(oc) = self.arena.get_mut(o).and_then(|c| c.as_mut())
        {
            oc.holds.extend(holds);
            self.backedges_kept += backedges.len();
            oc.backedges.extend(backedges);
        }
    }

    /// The checkpoint `id` descends from.
    pub fn parent_of(&self, id: usize) -> Option<usize> {
        self.arena.get(id)?.as_ref()?.parent
    }

    /// `find_prev_entry`: the nearest checkpoint at `pc` on the current path (walking up
    /// from `parent`) that is still being explored and has the same call chain as `cur`.
    pub fn prev_entry(&self, pc: usize, parent: Option<usize>, cur: &State) -> Option<usize> {
        let mut p = parent;
        while let Some(id) = p {
            let c = self.arena.get(id)?.as_ref()?;
            let same_calls = c.state.frames.len() == cur.frames.len()
                && c.state
                    .frames
                    .iter()
                    .zip(&cur.frames)
                    .all(|(a, b)| a.callsite == b.callsite);
            if c.branches > 0 && same_calls && self.at[pc].contains(&id) {
                return Some(id);
            }
            p = c.parent;
        }
        None
    }

    /// `find_prev_entry` for an iterator's `next` at `pc`: as [`Checkpoints::prev_entry`],
    /// skipping the checkpoint the current path just stored at `pc` itself.
    pub fn prev_loop_entry(&self, pc: usize, parent: Option<usize>, cur: &State) -> Option<usize> {
        let start = match parent {
            Some(p) if self.at[pc].contains(&p) => self.parent_of(p),
            other => other,
        };
        self.prev_entry(pc, start, cur)
    }

    /// Widens `cur` against checkpoint `id`: scalars that differ become unknown; with
    /// `keep_precise` (the kernel's `widen_imprecise_scalars`), only where neither is precise.
    pub fn widen(&self, id: usize, cur: &mut State, keep_precise: bool) {
        let Some(c) = self.arena[id].as_ref() else {
            return;
        };
        let widen = |o: &RegState, r: &mut RegState| {
            let kept = keep_precise && (o.precise || r.precise);
            if o.is_scalar() && r.is_scalar() && !kept && !same_reg(o, r) {
                *r = RegState::unknown();
            }
        };
        for (o, f) in c.state.frames.iter().zip(cur.frames.iter_mut()) {
            for (ro, rc) in o.regs.iter().zip(f.regs.iter_mut()) {
                widen(ro, rc);
            }
            for (so, sc) in o.stack.slots.iter().zip(f.stack.slots.iter_mut()) {
                if so.is_spill() && sc.is_spill() {
                    widen(&so.spilled, &mut sc.spilled);
                }
            }
        }
    }
}

/// Equal registers, precision marks aside.
fn same_reg(a: &RegState, b: &RegState) -> bool {
    let mut b = *b;
    b.precise = a.precise;
    *a == b
}

/// Exact equality of the parts that describe values, precision marks aside.
fn same_state(old: &State, cur: &State) -> bool {
    old.frames.len() == cur.frames.len()
        && old.refs.len() == cur.refs.len()
        && old.may_goto_depth == cur.may_goto_depth
        && old.callback_unroll_depth == cur.callback_unroll_depth
        && old.frames.iter().zip(&cur.frames).all(|(a, b)| {
            a.callsite == b.callsite
                && a.regs.iter().zip(&b.regs).all(|(x, y)| same_reg(x, y))
                && a.stack.slots.len() == b.stack.slots.len()
                && a.stack.slots.iter().zip(&b.stack.slots).all(|(x, y)| {
                    x.bytes == y.bytes
                        && same_reg(&x.spilled, &y.spilled)
                        && same_iter(x.iter, y.iter)
                })
        })
}

/// The same iterator, its depth aside (depths are compared by
/// [`crate::iter::active_depths_differ`]).
fn same_iter(a: Option<crate::stack::IterSlot>, b: Option<crate::stack::IterSlot>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.ref_id == b.ref_id && a.kind == b.kind && a.state == b.state,
        (None, None) => true,
        _ => false,
    }
}

/// Bijective id mapping between an old and a current state.
#[derive(Default)]
struct IdMap {
    fwd: HashMap<u32, u32>,
    back: HashMap<u32, u32>,
    tmp: u32,
}

impl IdMap {
    /// Scalar ids: an unshared scalar (id 0) behaves as a fresh id of its own
    /// (`check_scalar_ids`).
    fn check_scalar(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 && cur == 0 {
            return true;
        }
        let fresh = |id: u32, tmp: &mut u32| {
            if id == 0 {
                *tmp += 1;
                0x8000_0000 | *tmp
            } else {
                id
            }
        };
        let o = fresh(old, &mut self.tmp);
        let c = fresh(cur, &mut self.tmp);
        self.check(o, c)
    }

    fn check(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 && cur == 0 {
            return true;
        }
        if old == 0 || cur == 0 {
            return false;
        }
        match (self.fwd.get(&old), self.back.get(&cur)) {
            (Some(&c), _) => c == cur,
            (None, Some(_)) => false,
            (None, None) => {
                self.fwd.insert(old, cur);
                self.back.insert(cur, old);
                true
            }
        }
    }
}

fn tnum_in(old: Tnum, cur: Tnum) -> bool {
    // cur's known bits must be known in old with the same value, and cur's unknowns unknown.
    if cur.mask & !old.mask != 0 {
        return false;
    }
    (cur.value & !old.mask) == old.value
}

fn range_within(old: &RegState, cur: &RegState) -> bool {
    let (o, c) = (&old.var, &cur.var);
    o.smin <= c.smin
        && o.smax >= c.smax
        && o.umin <= c.umin
        && o.umax >= c.umax
        && o.s32_min <= c.s32_min
        && o.s32_max >= c.s32_max
        && o.u32_min <= c.u32_min
        && o.u32_max >= c.u32_max
        && tnum_in(o.var_off, c.var_off)
}

/// Every concrete value `cur` may hold, `old` may hold too. With `precision`, a scalar
/// `old` never needed exactly matches any scalar.
fn regsafe(old: &RegState, cur: &RegState, ids: &mut IdMap, precision: bool) -> bool {
    if old.ty == RegType::NotInit {
        return true;
    }
    if precision && old.ty == RegType::Scalar && cur.ty == RegType::Scalar && !old.precise {
        return true;
    }
    if old.ty != cur.ty || old.flags != cur.flags {
        return false;
    }
    match old.ty {
        RegType::Scalar => {
            range_within(old, cur)
                && ids.check_scalar(old.id, cur.id)
                && (!old.flags.add_const || old.off == cur.off)
        }
        RegType::MapValue | RegType::MapKey | RegType::Mem => {
            old.map == cur.map
                && old.off == cur.off
                && old.range == cur.range
                && range_within(old, cur)
                && ids.check(old.id, cur.id)
                && ids.check(old.ref_obj_id, cur.ref_obj_id)
        }
        RegType::Packet | RegType::PacketMeta => {
            // A special range (at or beyond the packet's end, known from a comparison with
            // packet end) is only as good as the same one.
            old.off == cur.off
                && (if old.range >= 0 {
                    cur.range >= old.range
                } else {
                    cur.range == old.range
                })
                && range_within(old, cur)
                && ids.check(old.id, cur.id)
        }
        RegType::Stack => old.off == cur.off && old.var == cur.var && old.frameno == cur.frameno,
        _ => {
            old.off == cur.off
                && old.var == cur.var
                && old.map == cur.map
                && old.range == cur.range
                && old.btf_id == cur.btf_id
                && ids.check(old.id, cur.id)
                && ids.check(old.ref_obj_id, cur.ref_obj_id)
        }
    }
}

fn stacksafe(old: &Frame, cur: &Frame, ids: &mut IdMap, precision: bool) -> bool {
    for (spi, os) in old.stack.slots.iter().enumerate() {
        // A finished checkpoint's slot that no continuation read cannot matter.
        if precision && spi < 64 && old.read & (1 << spi) == 0 {
            continue;
        }
        let cs = cur.stack.slots.get(spi);
        for b in 0..8 {
            let ob = os.bytes[b];
            // Uninitialised reads are allowed when privileged: `?` and `m` accept any byte
            // (we also refuse a spilled pointer there, where the kernel accepts it).
            if matches!(ob, ByteKind::Invalid | ByteKind::Misc) {
                let ptr_spill =
                    cs.is_some_and(|c| c.bytes[b] == ByteKind::Spill && c.spilled.is_pointer());
                if ptr_spill {
                    return false;
                }
                continue;
            }
            let Some(cs) = cs else {
                return false;
            };
            let cb = cs.bytes[b];
            if ob != cb {
                return false;
            }
        }
        if os.is_iter() {
            // The same kind of iterator in the same state, with matching references.
            let Some(cs) = cs else {
                return false;
            };
            match (os.iter, cs.iter) {
                (Some(a), Some(b))
                    if a.kind == b.kind && a.state == b.state && ids.check(a.ref_id, b.ref_id) => {}
                (None, None) => {}
                _ => return false,
            }
        }
        if os.is_spill() {
            let Some(cs) = cs else {
                return false;
            };
            if !cs.is_spill() || !regsafe(&os.spilled, &cs.spilled, ids, precision) {
                return false;
            }
        }
    }
    true
}

/// `cur` is included in `old`.
pub fn includes(old: &State, cur: &State) -> bool {
    includes_live(old, cur, crate::liveness::ALL)
}

/// `cur` is included in `old`, ignoring the innermost frame's registers outside `live`
/// (registers no continuation reads).
pub fn includes_live(old: &State, cur: &State, live: u16) -> bool {
    includes_with(old, cur, live, None, false)
}

/// [`includes_live`]; with `precision`, `old`'s imprecise scalars match any scalar (only
/// for finished checkpoints, whose precision marks are complete).
///
/// `outer`: per instruction, the registers live before it; a caller's frame is then
/// compared only on the registers live at its call (the kernel's 6.18 rule), otherwise on all.
pub fn includes_with(
    old: &State,
    cur: &State,
    live: u16,
    outer: Option<&[u16]>,
    precision: bool,
) -> bool {
    if old.frames.len() != cur.frames.len() || old.refs.len() != cur.refs.len() {
        return false;
    }
    let mut ids = IdMap::default();
    let innermost = old.frames.len().saturating_sub(1);
    for (fi, (o, c)) in old.frames.iter().zip(&cur.frames).enumerate() {
        if o.callsite != c.callsite || o.callback_depth > c.callback_depth {
            return false;
        }
        let mask = if fi == innermost {
            live
        } else {
            match (outer, old.frames[fi + 1].callsite) {
                (Some(l), Some(cs)) => l.get(cs).copied().unwrap_or(crate::liveness::ALL),
                _ => crate::liveness::ALL,
            }
        };
        for (i, (ro, rc)) in o.regs.iter().zip(&c.regs).enumerate() {
            if mask & (1 << i) == 0 {
                continue;
            }
            if !regsafe(ro, rc, &mut ids, precision) {
                return false;
            }
        }
        if !stacksafe(o, c, &mut ids, precision) {
            return false;
        }
    }
    old.refs
        .iter()
        .zip(&cur.refs)
        .all(|(a, b)| ids.check(a.id, b.id))
}
