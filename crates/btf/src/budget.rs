//! A work counter for recursive walks over BTF graphs: a type DAG with
//! fan-out can make depth-limited recursion exponential, so walks also stop
//! after a fixed number of steps.

use std::cell::Cell;

/// Steps any single walk may take.
pub(crate) const WALK_STEPS: u32 = 100_000;

/// Remaining steps of one walk.
pub(crate) struct Budget(Cell<u32>);

impl Budget {
    /// A fresh budget of [`WALK_STEPS`].
    pub(crate) fn new() -> Budget {
        Budget(Cell::new(WALK_STEPS))
    }

    /// Takes one step; `false` once the budget is used up.
    pub(crate) fn spend(&self) -> bool {
        let left = self.0.get();
        if left == 0 {
            return false;
        }
        self.0.set(left - 1);
        true
    }
}
