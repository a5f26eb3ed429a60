//! The arithmetic corner cases of RFC 9669 and the Linux kernel, as small pure functions:
//! division and modulo by zero, `INT_MIN / -1`, and 32-bit arithmetic shifts. Callers
//! zero-extend 32-bit results into the 64-bit register.

/// Unsigned 64-bit division; by zero gives 0.
#[inline(always)]
pub fn div64(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(0)
}

/// Unsigned 64-bit modulo; by zero leaves the dividend unchanged.
#[inline(always)]
pub fn mod64(a: u64, b: u64) -> u64 {
    a.checked_rem(b).unwrap_or(a)
}

/// Signed 64-bit division; by zero gives 0, `i64::MIN / -1` wraps to `i64::MIN`.
#[inline(always)]
pub fn sdiv64(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

/// Signed 64-bit modulo (sign of the dividend); by zero leaves the dividend unchanged,
/// `i64::MIN % -1` is 0.
#[inline(always)]
pub fn smod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

/// Unsigned 32-bit division; by zero gives 0.
#[inline(always)]
pub fn div32(a: u32, b: u32) -> u32 {
    a.checked_div(b).unwrap_or(0)
}

/// Unsigned 32-bit modulo; by zero leaves the low 32 bits of dst (zero-extended by the caller).
#[inline(always)]
pub fn mod32(a: u32, b: u32) -> u32 {
    a.checked_rem(b).unwrap_or(a)
}

/// Signed 32-bit division; by zero gives 0, `i32::MIN / -1` wraps to `i32::MIN`.
#[inline(always)]
pub fn sdiv32(a: u32, b: u32) -> u32 {
    if b == 0 {
        0
    } else {
        (a as i32).wrapping_div(b as i32) as u32
    }
}

/// Signed 32-bit modulo; by zero leaves the low 32 bits of dst, `i32::MIN % -1` is 0.
#[inline(always)]
pub fn smod32(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        (a as i32).wrapping_rem(b as i32) as u32
    }
}

/// 32-bit arithmetic right shift by `b & 31`.
#[inline(always)]
pub fn arsh32(a: u32, b: u32) -> u32 {
    ((a as i32) >> (b & 31)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corner_cases() {
        assert_eq!(div64(7, 0), 0);
        assert_eq!(mod64(7, 0), 7);
        assert_eq!(sdiv64(i64::MIN as u64, u64::MAX), i64::MIN as u64);
        assert_eq!(smod64(i64::MIN as u64, u64::MAX), 0);
        assert_eq!(smod64(-7i64 as u64, 2), -1i64 as u64);
        assert_eq!(smod64(7, -2i64 as u64), 1);
        assert_eq!(sdiv32(i32::MIN as u32, u32::MAX), i32::MIN as u32);
        assert_eq!(smod32(i32::MIN as u32, u32::MAX), 0);
        assert_eq!(mod32(9, 0), 9);
        assert_eq!(div32(9, 0), 0);
        assert_eq!(arsh32(0x8000_0000, 35), 0xf000_0000);
    }
}
