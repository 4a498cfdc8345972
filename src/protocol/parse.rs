//! Request parsing: multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline
//! (`GET k\r\n`, with Redis's quoting rules) requests.
//!
//! The parser works on the connection's read buffer and records each argument
//! as a byte range into it, so arguments are views, never copies (inline
//! arguments with escapes are the one exception). It allocates nothing for a
//! declared size: a header announcing 512 MB costs nothing until the bytes
//! arrive. Every limit answers with Redis's exact protocol error text.

use std::ops::Range;

/// Largest inline request, and largest header line, without a newline.
pub const MAX_INLINE_SIZE: usize = 64 * 1024;
/// Redis's default `proto-max-bulk-len`.
pub const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;

/// Limits applied while parsing; the unauthenticated limits are tighter.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    pub max_bulk_len: usize,
    pub max_multibulk_len: usize,
    /// When set, Redis's limits for clients that have not authenticated.
    pub unauthenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_multibulk_len: i32::MAX as usize,
            unauthenticated: false,
        }
    }
}

/// Unauthenticated clients may send at most this many arguments...
pub const UNAUTH_MAX_ARGS: usize = 10;
/// ...each at most this long.
pub const UNAUTH_MAX_BULK: usize = 16384;

/// A protocol violation. The connection replies with the text once, then closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    UnbalancedQuotes,
    TooBigInline,
    TooBigMbulkCount,
    TooBigBulkCount,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
    MissingBulkTerminator,
}

impl ParseError {
    /// The error reply, without the leading `-` and trailing CRLF.
    pub fn message(&self) -> String {
        let detail = match self {
            ParseError::InvalidMultibulkLength => "invalid multibulk length".to_string(),
            ParseError::InvalidBulkLength => "invalid bulk length".to_string(),
            ParseError::ExpectedDollar(c) => format!("expected '$', got '{}'", *c as char),
            ParseError::UnbalancedQuotes => "unbalanced quotes in request".to_string(),
            ParseError::TooBigInline => "too big inline request".to_string(),
            ParseError::TooBigMbulkCount => "too big mbulk count string".to_string(),
            ParseError::TooBigBulkCount => "too big bulk count string".to_string(),
            ParseError::UnauthenticatedMultibulkLength => {
                "unauthenticated multibulk length".to_string()
            }
            ParseError::UnauthenticatedBulkLength => "unauthenticated bulk length".to_string(),
            ParseError::MissingBulkTerminator => "bulk string not followed by CRLF".to_string(),
        };
        crate::errors::protocol_error(&detail)
    }
}

/// One complete request found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Arguments are in `Parser::args` as ranges into the buffer.
    Multibulk { consumed: usize },
    /// Arguments were unescaped into `Parser::inline_args`.
    Inline { consumed: usize },
    /// An empty line or `*0`/`*-1`: nothing to run.
    Empty { consumed: usize },
}

impl Request {
    pub fn consumed(&self) -> usize {
        match *self {
            Request::Multibulk { consumed }
            | Request::Inline { consumed }
            | Request::Empty { consumed } => consumed,
        }
    }
}

/// Reusable parse state for one connection.
#[derive(Default)]
pub struct Parser {
    /// Argument ranges of the last multibulk request, relative to the slice passed in.
    pub args: Vec<Range<usize>>,
    /// Arguments of the last inline request.
    pub inline_args: Vec<Vec<u8>>,
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// Parses one request at the start of `buf`. `Ok(None)` means more bytes are needed.
    pub fn parse(
        &mut self,
        buf: &[u8],
        limits: &ParseLimits,
    ) -> Result<Option<Request>, ParseError> {
        match buf.first() {
            None => Ok(None),
            Some(b'*') => self.parse_multibulk(buf, limits),
            Some(_) => self.parse_inline(buf),
        }
    }

    fn parse_multibulk(
        &mut self,
        buf: &[u8],
        limits: &ParseLimits,
    ) -> Result<Option<Request>, ParseError> {
        self.args.clear();
        let (count, mut pos) = match read_header(buf, 0, ParseError::TooBigMbulkCount)? {
            None => return Ok(None),
            Some((digits, next)) => match crate::numeric::parse_i64(digits) {
                Some(n) if n <= limits.max_multibulk_len as i64 => (n, next),
                _ => return Err(ParseError::InvalidMultibulkLength),
            },
        };
        if limits.unauthenticated && count > UNAUTH_MAX_ARGS as i64 {
            return Err(ParseError::UnauthenticatedMultibulkLength);
        }
        if count <= 0 {
            return Ok(Some(Request::Empty { consumed: pos }));
        }
        for _ in 0..count {
            let Some(&first) = buf.get(pos) else {
                return Ok(None);
            };
            if first != b'$' {
                // Redis reports the byte only once the header line is complete.
                if memchr::memchr(b'\r', &buf[pos..]).is_none() {
                    if buf.len() - pos > MAX_INLINE_SIZE {
                        return Err(ParseError::TooBigBulkCount);
                    }
                    return Ok(None);
                }
                return Err(ParseError::ExpectedDollar(first));
            }
            let (len, data_start) = match read_header(buf, pos, ParseError::TooBigBulkCount)? {
                None => return Ok(None),
                Some((digits, next)) => match crate::numeric::parse_i64(digits) {
                    Some(n) if n >= 0 => {
                        let n = n as u64;
                        if limits.unauthenticated && n > UNAUTH_MAX_BULK as u64 {
                            return Err(ParseError::UnauthenticatedBulkLength);
                        }
                        if n > limits.max_bulk_len as u64 {
                            return Err(ParseError::InvalidBulkLength);
                        }
                        (n as usize, next)
                    }
                    _ => return Err(ParseError::InvalidBulkLength),
                },
            };
            let data_end = data_start + len;
            if buf.len() < data_end + 2 {
                return Ok(None);
            }
            if &buf[data_end..data_end + 2] != b"\r\n" {
                return Err(ParseError::MissingBulkTerminator);
            }
            self.args.push(data_start..data_end);
            pos = data_end + 2;
        }
        Ok(Some(Request::Multibulk { consumed: pos }))
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<Request>, ParseError> {
        let Some(nl) = memchr::memchr(b'\n', buf) else {
            if buf.len() > MAX_INLINE_SIZE {
                return Err(ParseError::TooBigInline);
            }
            return Ok(None);
        };
        let mut line = &buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.inline_args.clear();
        split_args(line, &mut self.inline_args)?;
        let consumed = nl + 1;
        if self.inline_args.is_empty() {
            Ok(Some(Request::Empty { consumed }))
        } else {
            Ok(Some(Request::Inline { consumed }))
        }
    }
}

/// Reads a `*N\r\n` / `$N\r\n` header at `pos`; returns the digits and the
/// offset after the line. Like Redis, the byte after `\r` is skipped unchecked.
fn read_header(
    buf: &[u8],
    pos: usize,
    too_big: ParseError,
) -> Result<Option<(&[u8], usize)>, ParseError> {
    let rest = &buf[pos..];
    match memchr::memchr(b'\r', rest) {
        None => {
            if rest.len() > MAX_INLINE_SIZE {
                Err(too_big)
            } else {
                Ok(None)
            }
        }
        Some(cr) => {
            if cr + 2 > rest.len() {
                return Ok(None);
            }
            Ok(Some((&rest[1..cr], pos + cr + 2)))
        }
    }
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits an inline request line into arguments with Redis's quoting rules:
/// double quotes understand `\n \r \t \b \a \xHH` and `\<any>`, single quotes
/// only `\'`. A closing quote must be followed by a space or the end. A NUL
/// byte ends the line, as it does for Redis's C string handling.
pub fn split_args(line: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), ParseError> {
    let line = match memchr::memchr(0, line) {
        Some(i) => &line[..i],
        None => line,
    };
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut p = 0usize;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let mut current = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(at(p + 2)), hex_val(at(p + 3))) {
                        current.push(h * 16 + l);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if p + 1 < line.len() && !is_c_space(at(p + 1)) {
                        return Err(ParseError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ParseError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
                p += 1;
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if p + 1 < line.len() && !is_c_space(at(p + 1)) {
                        return Err(ParseError::UnbalancedQuotes);
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return Err(ParseError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
                p += 1;
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => current.push(c),
                }
                p += 1;
            }
        }
        out.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ParseError> {
        let mut p = Parser::new();
        let mut pos = 0;
        let mut cmds = Vec::new();
        let limits = ParseLimits::default();
        while let Some(req) = p.parse(&input[pos..], &limits)? {
            let base = pos;
            match req {
                Request::Multibulk { .. } => cmds.push(
                    p.args
                        .iter()
                        .map(|r| input[base + r.start..base + r.end].to_vec())
                        .collect(),
                ),
                Request::Inline { .. } => cmds.push(p.inline_args.clone()),
                Request::Empty { .. } => {}
            }
            pos += req.consumed();
        }
        Ok(cmds)
    }

    #[test]
    fn multibulk_and_inline() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\nset a \"b c\"\n").unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert_eq!(cmds[1], vec![b"PING".to_vec()]);
        assert_eq!(
            cmds[2],
            vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()]
        );
    }

    #[test]
    fn protocol_errors() {
        let err = |b: &[u8]| parse_all(b).unwrap_err().message();
        assert_eq!(
            err(b"*3000000000\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*x\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*02\r\n"),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            err(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"),
            "ERR Protocol error: expected '$', got 'f'"
        );
        for b in [
            &b"*1\r\n$-10\r\n"[..],
            b"*1\r\n$-1\r\n",
            b"*1\r\n$2000000000\r\n",
            b"*1\r\n$blabla\r\n",
            b"*1\r\n$05\r\n",
            b"*1\r\n$+1\r\n",
        ] {
            assert_eq!(err(b), "ERR Protocol error: invalid bulk length");
        }
        assert_eq!(
            err(b"set \"\"\"test-key\"\"\" test-value\r\n"),
            "ERR Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(&[b'a'; 70 * 1024]),
            "ERR Protocol error: too big inline request"
        );
        let mut big = b"*".to_vec();
        big.extend_from_slice(&[b'1'; 70 * 1024]);
        assert_eq!(err(&big), "ERR Protocol error: too big mbulk count string");
    }

    #[test]
    fn empty_and_negative_multibulk_are_skipped() {
        assert_eq!(parse_all(b"*0\r\n*-10\r\nPING\r\n").unwrap().len(), 1);
    }

    #[test]
    fn declared_size_is_not_allocated() {
        let mut p = Parser::new();
        let r = p.parse(b"*1\r\n$536870912\r\nabc", &ParseLimits::default());
        assert_eq!(r, Ok(None));
    }

    #[test]
    fn inline_escapes() {
        let mut out = Vec::new();
        split_args(b"a \"\\x41\\n\" 'it\\'s' \"q\\\"\"", &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                b"a".to_vec(),
                b"A\n".to_vec(),
                b"it's".to_vec(),
                b"q\"".to_vec()
            ]
        );
        assert!(split_args(b"\"abc\"def", &mut Vec::new()).is_err());
        assert!(split_args(b"'abc", &mut Vec::new()).is_err());
    }
}
