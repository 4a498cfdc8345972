//! Number parsing and formatting with Redis's exact acceptance rules.
//!
//! Redis is strict about integers (`string2ll`: no leading zeros, no `+`, no
//! spaces, must fit in 64 bits) and uses `long double` for float increments.
//! Keeping these rules in one place makes every command agree with Redis on
//! which inputs are numbers.

/// Parses a signed 64-bit integer the way Redis's `string2ll` does.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [] => return None,
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    let first = *digits.first()?;
    if !(b'1'..=b'9').contains(&first) || digits.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a non-negative 64-bit integer with the same strictness.
pub fn parse_u64_strict(s: &[u8]) -> Option<u64> {
    match parse_i64(s) {
        Some(v) if v >= 0 => Some(v as u64),
        _ => None,
    }
}

/// Parses a cursor like C's `strtoul` does for Redis's SCAN: leading zeros,
/// a sign and out-of-range handling included. Leading whitespace is refused.
pub fn parse_cursor(s: &[u8]) -> Option<u64> {
    if s.first()
        .is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b)
    {
        return None;
    }
    // A NUL byte ends the C string: what follows is ignored.
    let s = match memchr::memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    };
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        // strtoul consumed nothing: end pointer is the start of the string.
        return if s.is_empty() { Some(0) } else { None };
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Formats an integer into a stack buffer.
pub fn fmt_i64(v: i64, buf: &mut itoa::Buffer) -> &[u8] {
    buf.format(v).as_bytes()
}

/// Number of characters in the decimal form of `v`.
pub fn i64_len(v: i64) -> usize {
    itoa::Buffer::new().format(v).len()
}

/// Outcome of a `long double` increment.
pub enum FloatAdd {
    Ok(Vec<u8>),
    CurrentInvalid,
    IncrementInvalid,
    IncrementInfinite,
    ResultNotFinite,
}

extern "C" {
    fn rd_ld_add(
        cur: *const u8,
        cur_len: usize,
        incr: *const u8,
        incr_len: usize,
        out: *mut u8,
        cap: usize,
        out_len: *mut usize,
    ) -> i32;
}

/// Adds `incr` to `cur` (absent = 0) in `long double`, formatted as Redis
/// prints INCRBYFLOAT results.
pub fn float_add(cur: Option<&[u8]>, incr: &[u8]) -> FloatAdd {
    let mut out = vec![0u8; 5 * 1024 + 64];
    let mut len = 0usize;
    let (cp, cl) = match cur {
        Some(c) => (c.as_ptr(), c.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: pointers and lengths describe live slices; `out` has `cap` bytes.
    let r = unsafe {
        rd_ld_add(
            cp,
            cl,
            incr.as_ptr(),
            incr.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        )
    };
    if r == 0 {
        out.truncate(len);
        FloatAdd::Ok(out)
    } else if r & 1 != 0 {
        FloatAdd::CurrentInvalid
    } else if r & 2 != 0 {
        FloatAdd::IncrementInvalid
    } else if r & 4 != 0 {
        FloatAdd::IncrementInfinite
    } else {
        FloatAdd::ResultNotFinite
    }
}

extern "C" {
    fn rd_fmt_g(v: f64, precision: i32, out: *mut u8, cap: usize) -> usize;
    fn rd_strtod(s: *const u8, len: usize, out: *mut f64) -> i32;
    fn rd_strtod_prefix(s: *const u8, len: usize, out: *mut f64) -> usize;
    fn rd_timeout_ms(s: *const u8, len: usize, out: *mut i64) -> i32;
}

/// A blocking command's timeout in seconds as Redis reads it (strtold,
/// milliseconds rounded up; too large a value wraps to the most negative
/// count). None when the argument is not a float.
pub fn timeout_ms(s: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    // SAFETY: pointer and length describe a live slice; `v` is a valid out pointer.
    let ok = unsafe { rd_timeout_ms(s.as_ptr(), s.len(), &mut v) };
    (ok == 1).then_some(v)
}

/// Formats `v` as C's `printf("%.<precision>g")` does.
pub fn fmt_g(v: f64, precision: i32) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: `buf` has room for 64 bytes and rd_fmt_g writes at most `cap`.
    let n = unsafe { rd_fmt_g(v, precision, buf.as_mut_ptr(), buf.len()) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Formats a double as Redis 7.0 replies with it (`%.17g`; `inf`, `-inf`).
pub fn fmt_double(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    fmt_g(v, 17)
}

/// Parses a double as Redis reads scores and float arguments (C strtod:
/// hex, `inf`, exponents; no NaN, no leading space, nothing left over).
pub fn parse_double(s: &[u8]) -> Option<f64> {
    let mut v = 0.0;
    // SAFETY: pointer and length describe a live slice; `v` is a valid out pointer.
    let ok = unsafe { rd_strtod(s.as_ptr(), s.len(), &mut v) };
    (ok == 1).then_some(v)
}

/// C's `strtod` over the start of `s` (at most 511 bytes looked at):
/// the value and how many bytes it took, or None if no number starts `s`.
pub fn strtod_prefix(s: &[u8]) -> Option<(f64, usize)> {
    let mut v = 0.0;
    // SAFETY: pointer and length describe a live slice; `v` is a valid out pointer.
    let n = unsafe { rd_strtod_prefix(s.as_ptr(), s.len(), &mut v) };
    (n > 0).then_some((v, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"01",
            b"+1",
            b"-0",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"-",
            b"abc",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn long_double_formatting_matches_redis() {
        let add = |a: Option<&str>, b: &str| match float_add(a.map(str::as_bytes), b.as_bytes()) {
            FloatAdd::Ok(v) => String::from_utf8(v).unwrap(),
            _ => "error".into(),
        };
        assert_eq!(add(Some("10.50"), "0.1"), "10.6");
        assert_eq!(add(Some("0.3"), "1e3"), "1000.29999999999999999");
        assert_eq!(add(None, "5.0e3"), "5000");
        assert_eq!(add(Some("-0.5"), "0.5"), "0");
        assert_eq!(add(Some("abc"), "1"), "error");
        assert!(matches!(
            float_add(None, b"inf"),
            FloatAdd::IncrementInfinite
        ));
        assert!(matches!(
            float_add(Some(b"1"), b" 1"),
            FloatAdd::IncrementInvalid
        ));
    }

    #[test]
    fn doubles_like_c() {
        assert_eq!(fmt_double(0.1), "0.10000000000000001");
        assert_eq!(fmt_double(3.0), "3");
        assert_eq!(fmt_double(1e17), "1e+17");
        assert_eq!(fmt_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_g(42.0, 14), "42");
        assert_eq!(parse_double(b"0x10"), Some(16.0));
        assert_eq!(parse_double(b"INFINITY"), Some(f64::INFINITY));
        assert_eq!(parse_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_double(b"1e400"), None);
        assert_eq!(parse_double(b"nan"), None);
        assert_eq!(parse_double(b" 1"), None);
        assert_eq!(parse_double(b""), None);
    }

    #[test]
    fn cursor_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"007"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"abc"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"99999999999999999999999"), None);
    }
}
