//! Loops settle their marks late (the kernel's back-edge propagation). A path pruned against
//! a checkpoint still being explored (a loop's earlier pass, a callback's call site, an
//! iterator's `next`) is covered by what that checkpoint's continuations will prove, but
//! which of its values they need exactly is not known yet. The path is kept as a back-edge
//! of the loop's entry, and the checkpoints between it and the entry are held: compared on
//! exact ranges and every stack slot while the loop runs. When the entry is done, the final
//! precision and read marks flow along every back-edge, again and again until nothing
//! changes; then the holds are released (or handed to an enclosing loop).

use crate::explore::Verifier;
use crate::state::State;

impl Verifier<'_> {
    /// The current path (`state`, below `parent`) was pruned against checkpoint `target`,
    /// whose marks are not final.
    pub fn note_backedge(&mut self, target: usize, state: &State, parent: Option<usize>) {
        match self.checkpoints.owner_of(target) {
            Some(owner) if self.checkpoints.add_backedge(owner, state, parent, target) => {}
            // Past the limit (or with no loop to wait for): compare the whole chain exactly
            // for good, which needs no final marks.
            _ => self.checkpoints.pin_up(parent),
        }
    }

    /// Settles the loop entries `done` (innermost first) that `end_path` reported finished.
    pub fn settle_loops(&mut self, done: Vec<usize>) {
        for id in done {
            let mut edges = self.checkpoints.take_backedges(id);
            loop {
                let before = self.marks_added;
                for e in &mut edges {
                    match self.checkpoints.state(e.target).cloned() {
                        Some(target) => {
                            self.cur_parent = e.parent;
                            self.propagate_stack_reads(&target, &e.state);
                            self.propagate_precision(&target, &mut e.state, e.parent);
                        }
                        None => self.mark_all_chain(&mut e.state, e.parent),
                    }
                }
                if self.marks_added == before {
                    break;
                }
            }
            self.checkpoints.settle(id, edges);
        }
    }
}
