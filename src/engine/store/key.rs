//! A key's bytes as an entry holds them: keys up to 22 bytes live inside the
//! entry itself (no allocation, and comparing them touches no memory beyond
//! the entry's own cache line); longer keys are boxed.

/// Longest key kept inline.
pub const INLINE_MAX: usize = 22;

pub enum Key {
    Inline { len: u8, bytes: [u8; INLINE_MAX] },
    Heap(Box<[u8]>),
}

impl Key {
    #[inline]
    pub fn new(key: &[u8]) -> Key {
        if key.len() <= INLINE_MAX {
            let mut bytes = [0u8; INLINE_MAX];
            bytes[..key.len()].copy_from_slice(key);
            Key::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(key.into())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(b) => b,
        }
    }

    /// Bytes allocated outside the entry.
    pub fn heap_size(&self) -> usize {
        match self {
            Key::Inline { .. } => 0,
            Key::Heap(b) => b.len(),
        }
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_inline_and_long_ones_boxed() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        for len in [0, 1, 16, INLINE_MAX, INLINE_MAX + 1, 300] {
            let k: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let key = Key::new(&k);
            assert_eq!(&*key, &k[..]);
            assert_eq!(key.heap_size() == 0, len <= INLINE_MAX);
        }
    }
}
