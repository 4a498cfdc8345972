//! The replication backlog: the last `size` bytes of the stream, so a
//! replica that lost its link briefly resumes (`+CONTINUE`) instead of
//! taking a full sync. Stream bytes are numbered from 1, as Redis numbers
//! them: the byte fed when the offset was `o` is byte `o + 1`.

use std::collections::VecDeque;

pub struct Backlog {
    size: usize,
    bytes: VecDeque<u8>,
    /// Number of the oldest byte held.
    first: u64,
}

impl Backlog {
    /// An empty backlog whose next byte is number `first`.
    pub fn new(size: usize, first: u64) -> Backlog {
        Backlog {
            size: size.max(16 * 1024),
            bytes: VecDeque::new(),
            first,
        }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// `repl_backlog_first_byte_offset`.
    pub fn first_byte(&self) -> u64 {
        self.first
    }

    /// `repl_backlog_histlen`: bytes held.
    pub fn histlen(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn resize(&mut self, size: usize) {
        self.size = size.max(16 * 1024);
        self.trim();
    }

    pub fn append(&mut self, data: &[u8]) {
        self.bytes.extend(data);
        self.trim();
    }

    fn trim(&mut self) {
        if self.bytes.len() > self.size {
            let drop = self.bytes.len() - self.size;
            self.bytes.drain(..drop);
            self.first += drop as u64;
        }
    }

    /// The bytes from number `from` on, if the backlog still holds them
    /// (`from` may be one past the last byte: nothing to send).
    pub fn read_from(&self, from: u64) -> Option<Vec<u8>> {
        let end = self.first + self.bytes.len() as u64;
        if from < self.first || from > end {
            return None;
        }
        let skip = (from - self.first) as usize;
        let (a, b) = self.bytes.as_slices();
        let mut out = Vec::with_capacity(self.bytes.len() - skip);
        if skip < a.len() {
            out.extend_from_slice(&a[skip..]);
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(&b[skip - a.len()..]);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_size_bytes_numbered_from_the_start() {
        let mut b = Backlog::new(16 * 1024, 1);
        let chunk: Vec<u8> = (0..=255u8).collect();
        for _ in 0..100 {
            b.append(&chunk);
        }
        assert_eq!(b.histlen(), 16 * 1024);
        assert_eq!(b.first_byte(), 25600 - 16384 + 1);
        assert!(b.read_from(b.first_byte() - 1).is_none());
        // Byte n holds (n - 1) % 256.
        let tail = b.read_from(25600 - 254).unwrap();
        assert_eq!(tail, chunk[1..]);
        assert_eq!(b.read_from(25601).unwrap(), Vec::<u8>::new());
        assert!(b.read_from(25602).is_none());
    }
}
