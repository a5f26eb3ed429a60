//! Tracked numbers: the known bits of a value (TEMPORARY STUB until the domains branch lands).

/// Known bits: bits in `mask` are unknown; the others equal `value`.
#[allow(clippy::should_implement_trait)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tnum {
    pub value: u64,
    pub mask: u64,
}

impl Tnum {
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };
    pub fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }
    pub fn is_const(self) -> bool {
        self.mask == 0
    }
}

#[allow(clippy::should_implement_trait)]
impl Tnum {
    pub fn add(self, o: Tnum) -> Tnum {
        if self.is_const() && o.is_const() {
            Tnum::constant(self.value.wrapping_add(o.value))
        } else {
            Tnum::UNKNOWN
        }
    }
    pub fn sub(self, o: Tnum) -> Tnum {
        if self.is_const() && o.is_const() {
            Tnum::constant(self.value.wrapping_sub(o.value))
        } else {
            Tnum::UNKNOWN
        }
    }
}
