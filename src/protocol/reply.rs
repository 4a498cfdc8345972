//! Reply encoding. One buffer per connection collects every reply of a
//! pipeline, so the connection writes once per batch. The same calls produce
//! RESP2 or RESP3 depending on what the client chose with HELLO.

/// A connection's output buffer plus the protocol version it speaks.
pub struct Reply {
    buf: Vec<u8>,
    resp3: bool,
}

impl Default for Reply {
    fn default() -> Self {
        Reply::new()
    }
}

impl Reply {
    pub fn new() -> Self {
        Reply {
            buf: Vec::with_capacity(16 * 1024),
            resp3: false,
        }
    }

    pub fn set_resp3(&mut self, on: bool) {
        self.resp3 = on;
    }
    pub fn resp3(&self) -> bool {
        self.resp3
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
    pub fn clear(&mut self) {
        self.buf.clear();
    }
    /// Drops everything written after `mark` (used when a reply must be withdrawn).
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }
    /// Releases a large buffer after a big reply has been written.
    /// Bytes the buffer can hold without growing.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn shrink(&mut self, keep: usize) {
        if self.buf.capacity() > keep && self.buf.is_empty() {
            self.buf = Vec::with_capacity(keep);
        }
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An error reply. `msg` starts with the error code (`ERR`, `WRONGTYPE`, ...).
    /// CR and LF are mapped to spaces so user input can never forge a reply.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.push(b'-');
        self.buf.extend(
            msg.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, v: i64) {
        match v {
            0 => self.buf.extend_from_slice(b":0\r\n"),
            1 => self.buf.extend_from_slice(b":1\r\n"),
            _ => {
                self.buf.push(b':');
                self.buf
                    .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    fn header(&mut self, sigil: u8, n: usize) {
        self.buf.push(sigil);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len());
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding the decimal form of an integer.
    pub fn bulk_int(&mut self, v: i64) {
        self.bulk(itoa::Buffer::new().format(v).as_bytes());
    }

    /// A bulk string holding an unsigned integer (SCAN cursors).
    pub fn bulk_u64(&mut self, v: u64) {
        self.bulk(itoa::Buffer::new().format(v).as_bytes());
    }

    pub fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// The null bulk (`$-1` / `_`).
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// A map of `n` pairs: `%n` in RESP3, a flat array of 2n items in RESP2.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.header(b'%', n);
        } else {
            self.header(b'*', n * 2);
        }
    }

    /// A map of `n` keys whose values the caller writes: `%n` in RESP3,
    /// an array of `n` pairs in RESP2 (the caller writes each `*2`).
    pub fn map_or_array(&mut self, n: usize) {
        self.header(if self.resp3 { b'%' } else { b'*' }, n);
    }

    /// A push frame header (`>n`, RESP3 only; Pub/Sub confirmations).
    pub fn push_header(&mut self, n: usize) {
        self.header(b'>', n);
    }

    /// A set: `~n` in RESP3, an array in RESP2.
    pub fn set(&mut self, n: usize) {
        self.header(if self.resp3 { b'~' } else { b'*' }, n);
    }

    pub fn double(&mut self, v: f64) {
        let s = crate::numeric::fmt_double(v);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// Human-readable text (INFO, CLIENT LIST): verbatim `=` in RESP3.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    /// A simple string from bytes (`+text`).
    pub fn status_bytes(&mut self, s: &[u8]) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A big number: `(digits` in RESP3, a bulk string in RESP2.
    pub fn big_number(&mut self, digits: &[u8]) {
        if self.resp3 {
            self.buf.push(b'(');
            self.buf.extend_from_slice(digits);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(digits);
        }
    }

    /// Verbatim text with its 3-letter format (RESP3), a bulk string in RESP2.
    pub fn verbatim_with(&mut self, format: &[u8], text: &[u8]) {
        if self.resp3 {
            self.header(b'=', text.len() + 4);
            self.buf.extend_from_slice(&format[..format.len().min(3)]);
            self.buf.push(b':');
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }

    pub fn empty_array(&mut self) {
        self.buf.extend_from_slice(b"*0\r\n");
    }
}

/// Counts the complete RESP frames in `bytes`; `None` when they do not
/// split into whole frames. Debug builds use it to check that every command
/// writes exactly the replies it should.
pub fn count_frames(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    let mut n = 0;
    while at < bytes.len() {
        at = frame_end(bytes, at)?;
        n += 1;
    }
    Some(n)
}

/// The offset just past the frame starting at `at`.
fn frame_end(b: &[u8], at: usize) -> Option<usize> {
    let line_end = at + memchr::memmem::find(&b[at..], b"\r\n")?;
    let head = &b[at + 1..line_end];
    let next = line_end + 2;
    let num = || std::str::from_utf8(head).ok()?.parse::<i64>().ok();
    match *b.get(at)? {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(next),
        b'$' | b'=' | b'!' => {
            let len = num()?;
            if len < 0 {
                return Some(next);
            }
            let end = next + len as usize;
            (b.get(end..end + 2)? == b"\r\n").then_some(end + 2)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let len = num()?;
            let items = if matches!(b[at], b'%' | b'|') {
                len * 2
            } else {
                len
            };
            let mut p = next;
            for _ in 0..items.max(0) {
                p = frame_end(b, p)?;
            }
            Some(p)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_counted() {
        assert_eq!(count_frames(b"+OK\r\n:1\r\n"), Some(2));
        assert_eq!(count_frames(b"*2\r\n$1\r\na\r\n%1\r\n_\r\n_\r\n"), Some(1));
        assert_eq!(count_frames(b"$-1\r\n*-1\r\n"), Some(2));
        assert_eq!(count_frames(b"*2\r\n:1\r\n"), None);
        assert_eq!(count_frames(b""), Some(0));
    }

    #[test]
    fn resp2_and_resp3() {
        let mut r = Reply::new();
        r.map(1);
        r.null();
        r.error("ERR a\r\nb");
        assert_eq!(r.as_bytes(), b"*2\r\n$-1\r\n-ERR a  b\r\n");
        let mut r = Reply::new();
        r.set_resp3(true);
        r.map(1);
        r.null();
        r.verbatim(b"x");
        assert_eq!(r.as_bytes(), b"%1\r\n_\r\n=5\r\ntxt:x\r\n");
    }
}
