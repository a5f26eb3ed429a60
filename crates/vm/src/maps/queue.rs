//! Queue (FIFO) and stack (LIFO) storage: values without keys, `push`/`pop`/`peek` only.
//! A push into a full map fails with `E2BIG` unless `BPF_EXIST` asks to drop the oldest value
//! (for both kinds: the kernel's "make room" always overwrites the oldest element).

use std::collections::VecDeque;

use super::error::{E2BIG, EINVAL, ENOENT, MapError, err};
use super::spec::{BPF_EXIST, BPF_NOEXIST};

/// A bounded queue or stack of values.
#[derive(Clone, Debug)]
pub(crate) struct QueueStack {
    /// Oldest value first.
    items: VecDeque<Vec<u8>>,
    max: usize,
    /// Pop the newest value (stack) rather than the oldest (queue).
    lifo: bool,
}

impl QueueStack {
    pub fn new(max: u32, lifo: bool) -> QueueStack {
        QueueStack {
            items: VecDeque::new(),
            max: max as usize,
            lifo,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn push(&mut self, value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & BPF_NOEXIST != 0 || flags > BPF_EXIST {
            return err(
                EINVAL,
                format!("push flags {flags:#x}: only BPF_EXIST is allowed"),
            );
        }
        if self.items.len() >= self.max {
            if flags & BPF_EXIST == 0 {
                return err(E2BIG, "the map is full");
            }
            self.items.pop_front();
        }
        self.items.push_back(value.to_vec());
        Ok(())
    }

    pub fn peek(&self) -> Result<&[u8], MapError> {
        let v = if self.lifo {
            self.items.back()
        } else {
            self.items.front()
        };
        v.map(|v| &v[..])
            .ok_or_else(|| MapError::new(ENOENT, "the map is empty"))
    }

    pub fn pop(&mut self) -> Result<Vec<u8>, MapError> {
        let v = if self.lifo {
            self.items.pop_back()
        } else {
            self.items.pop_front()
        };
        v.ok_or_else(|| MapError::new(ENOENT, "the map is empty"))
    }

    /// The values in the order `pop` would return them.
    pub fn in_pop_order(&self) -> Vec<Vec<u8>> {
        if self.lifo {
            self.items.iter().rev().cloned().collect()
        } else {
            self.items.iter().cloned().collect()
        }
    }
}
