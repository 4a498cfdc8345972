//! Redis glob patterns for KEYS, SCAN MATCH and CONFIG GET: `*`, `?`,
//! `[abc]`, `[^a-z]` (reversed ranges are swapped), and `\` escapes.
//!
//! The matcher is iterative and backtracks only to the most recent `*`, so it
//! runs in O(pattern × subject) time with constant stack: pathological
//! patterns (`a*a*a*…b`, 1 MB patterns) cannot spin or overflow the stack.

/// True when `subject` matches `pattern`. An empty subject matches only an
/// empty pattern (callers treat the pattern `*` as match-all), as in Redis.
pub fn glob_match(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    if subject.is_empty() {
        return pattern.is_empty();
    }
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut si) = (0usize, 0usize);
    // (pattern index after the star, subject index the star's match ends at)
    let mut star: Option<(usize, usize)> = None;
    loop {
        if si == subject.len() {
            while pi < pattern.len() && pattern[pi] == b'*' {
                pi += 1;
            }
            return pi == pattern.len();
        }
        let mut advanced = false;
        if pi < pattern.len() {
            match pattern[pi] {
                b'*' => {
                    while pi + 1 < pattern.len() && pattern[pi + 1] == b'*' {
                        pi += 1;
                    }
                    if pi + 1 == pattern.len() {
                        return true;
                    }
                    star = Some((pi + 1, si));
                    pi += 1;
                    continue;
                }
                b'?' => {
                    pi += 1;
                    si += 1;
                    advanced = true;
                }
                b'[' => {
                    let (matched, next) = match_class(pattern, pi, subject[si], nocase);
                    if matched {
                        pi = next;
                        si += 1;
                        advanced = true;
                    }
                }
                b'\\' => {
                    let lit = if pi + 1 < pattern.len() { pi + 1 } else { pi };
                    if eq(pattern[lit], subject[si]) {
                        pi = lit + 1;
                        si += 1;
                        advanced = true;
                    }
                }
                c => {
                    if eq(c, subject[si]) {
                        pi += 1;
                        si += 1;
                        advanced = true;
                    }
                }
            }
        }
        if advanced {
            continue;
        }
        match star {
            Some((after_star, end)) if end + 1 < subject.len() => {
                star = Some((after_star, end + 1));
                pi = after_star;
                si = end + 1;
            }
            _ => return false,
        }
    }
}

/// Matches a `[...]` class starting at `pattern[start] == b'['` against `c`.
/// Returns whether it matched and the pattern index after the class. An
/// unterminated class consumes the rest of the pattern, as Redis does.
fn match_class(pattern: &[u8], start: usize, c: u8, nocase: bool) -> (bool, usize) {
    let len = pattern.len();
    let mut p = start + 1;
    let negate = p < len && pattern[p] == b'^';
    if negate {
        p += 1;
    }
    let mut matched = false;
    let end;
    loop {
        if p >= len {
            end = len;
            break;
        }
        let pc = pattern[p];
        if pc == b'\\' && len - p >= 2 {
            p += 1;
            if pattern[p] == c {
                matched = true;
            }
        } else if pc == b']' {
            end = p + 1;
            break;
        } else if len - p >= 3 && pattern[p + 1] == b'-' {
            let (mut lo, mut hi) = (pattern[p], pattern[p + 2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            let mut ch = c;
            if nocase {
                lo = lo.to_ascii_lowercase();
                hi = hi.to_ascii_lowercase();
                ch = ch.to_ascii_lowercase();
            }
            p += 2;
            if ch >= lo && ch <= hi {
                matched = true;
            }
        } else if (nocase && pc.eq_ignore_ascii_case(&c)) || pc == c {
            matched = true;
        }
        p += 1;
    }
    (matched != negate, end)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hbllo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("*", "x"));
        assert!(!m("**", ""));
        assert!(m("a*", "a"));
        assert!(!m("a*?", "a"));
        assert!(m("[abc", "a"));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let key = "a".repeat(40);
        let pat = format!("{}b", "a*".repeat(20));
        assert!(!m(&pat, &key));
        let key = "x".repeat(50_000);
        let pat = "*?".repeat(50_000);
        assert!(m(&pat, &key));
        let big = "*a".repeat(500_000);
        assert!(!m(&big, "short"));
    }
}
