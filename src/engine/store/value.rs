//! Values held by the keyspace: byte strings (short ones inside the entry),
//! integers kept as integers, hashes ([`super::hash`]), lists
//! ([`super::list`]), sets ([`super::set`]) and sorted sets
//! ([`super::zset`]) and streams ([`super::stream`]).

pub use super::hash::{HashLimits, HashValue};
pub use super::list::{ListLimits, ListValue};
pub use super::set::{SetLimits, SetValue};
pub use super::stream::StreamValue;
pub use super::zset::{ZSetLimits, ZSetValue};

/// Every type's compact-encoding thresholds (from the configuration).
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    pub hash: HashLimits,
    pub list: ListLimits,
    pub set: SetLimits,
    pub zset: ZSetLimits,
}
/// Largest string that Redis keeps in the `embstr` encoding.
const EMBSTR_MAX: usize = 44;

/// Longest string value kept inside the entry itself.
pub const INLINE_MAX: usize = 22;

pub enum Value {
    /// A short string kept inside the entry (no allocation, no extra cache
    /// miss to read it).
    Inline {
        len: u8,
        bytes: [u8; INLINE_MAX],
    },
    /// A string set as a whole (`SET`, `MSET`...).
    Str(Box<[u8]>),
    /// A string grown in place (`APPEND`, `SETRANGE`), with spare capacity.
    Raw(Box<Vec<u8>>),
    /// A string that is the canonical decimal form of a 64-bit integer.
    Int(i64),
    Hash(HashValue),
    List(ListValue),
    Set(SetValue),
    ZSet(ZSetValue),
    Stream(Box<StreamValue>),
}

/// The data type as TYPE and SCAN TYPE name it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    String,
    Hash,
    List,
    Set,
    ZSet,
    Stream,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::List => "list",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
        }
    }
}

impl Value {
    /// Stores a string, as an integer when it is one (Redis's `int` encoding).
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(i) = crate::numeric::parse_i64(b) {
                return Value::Int(i);
            }
        }
        Value::string(b)
    }

    /// Stores bytes as a string (never as an integer).
    pub fn string(b: &[u8]) -> Value {
        if b.len() <= INLINE_MAX {
            let mut bytes = [0u8; INLINE_MAX];
            bytes[..b.len()].copy_from_slice(b);
            Value::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            Value::Str(b.into())
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Hash(_) => Kind::Hash,
            Value::List(_) => Kind::List,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::Stream(_) => Kind::Stream,
            _ => Kind::String,
        }
    }

    pub fn is_string(&self) -> bool {
        self.kind() == Kind::String
    }

    /// Elements of a collection (fields, members, list items); 1 for strings.
    pub fn element_count(&self) -> usize {
        match self {
            Value::Hash(h) => h.len(),
            Value::List(l) => l.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.len() as usize,
            _ => 1,
        }
    }

    /// The string's bytes, formatting integers into `buf`. `None` for hashes.
    pub fn as_bytes<'a>(&'a self, buf: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
        match self {
            Value::Inline { len, bytes } => Some(&bytes[..*len as usize]),
            Value::Str(b) => Some(b),
            Value::Raw(v) => Some(v),
            Value::Int(i) => Some(buf.format(*i).as_bytes()),
            _ => None,
        }
    }

    /// Length of a string value.
    pub fn str_len(&self) -> usize {
        match self {
            Value::Inline { len, .. } => *len as usize,
            Value::Str(b) => b.len(),
            Value::Raw(v) => v.len(),
            Value::Int(i) => crate::numeric::i64_len(*i),
            _ => 0,
        }
    }

    /// Turns a string value into its growable form for in-place edits.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Value::Raw(_)) {
            let bytes = match self {
                Value::Inline { len, bytes } => bytes[..*len as usize].to_vec(),
                Value::Str(b) => b.to_vec(),
                Value::Int(i) => itoa::Buffer::new().format(*i).as_bytes().to_vec(),
                _ => Vec::new(),
            };
            *self = Value::Raw(Box::new(bytes));
        }
        match self {
            Value::Raw(v) => v,
            _ => unreachable!(),
        }
    }

    /// Prefetches the first line of the value's heap part, if it has one.
    #[inline]
    pub fn prefetch(&self) {
        match self {
            Value::Str(b) => super::prefetch(b.as_ptr()),
            Value::Raw(v) => super::prefetch(v.as_ptr()),
            Value::Hash(h) => h.prefetch(),
            Value::List(l) => l.prefetch(),
            Value::Set(v) => v.prefetch(),
            Value::ZSet(z) => z.prefetch(),
            Value::Stream(s) => super::prefetch(&**s as *const StreamValue),
            Value::Int(_) | Value::Inline { .. } => {}
        }
    }

    /// Bytes this value holds on the heap, for memory accounting.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
            Value::Raw(v) => std::mem::size_of::<Vec<u8>>() + v.capacity(),
            Value::Int(_) | Value::Inline { .. } => 0,
            Value::Hash(h) => h.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::Set(v) => v.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }

    /// OBJECT ENCODING's answer for a string of `len` bytes set as a whole.
    pub fn string_encoding(len: usize) -> &'static str {
        if len <= EMBSTR_MAX {
            "embstr"
        } else {
            "raw"
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Inline { .. } => "embstr",
            Value::Str(b) if b.len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) | Value::Raw(_) => "raw",
            Value::Hash(h) => {
                if h.is_small() {
                    "listpack"
                } else {
                    "hashtable"
                }
            }
            // Redis 7.0 reports every list as a quicklist.
            Value::List(_) => "quicklist",
            Value::Set(v) => v.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    pub fn deep_clone(&self) -> Value {
        match self {
            Value::Inline { len, bytes } => Value::Inline {
                len: *len,
                bytes: *bytes,
            },
            Value::Str(b) => Value::Str(b.clone()),
            Value::Raw(v) => Value::Raw(v.clone()),
            Value::Int(i) => Value::Int(*i),
            Value::Hash(h) => Value::Hash(h.clone()),
            Value::List(l) => Value::List(l.clone()),
            Value::Set(v) => Value::Set(v.clone()),
            Value::ZSet(z) => Value::ZSet(z.clone()),
            Value::Stream(s) => Value::Stream(s.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_canonical_only() {
        assert!(matches!(Value::from_bytes(b"123"), Value::Int(123)));
        assert!(matches!(
            Value::from_bytes(b"0123"),
            Value::Inline { len: 4, .. }
        ));
        assert!(matches!(
            Value::from_bytes(b"-0"),
            Value::Inline { len: 2, .. }
        ));
    }

    #[test]
    fn short_strings_are_inline_and_long_ones_boxed() {
        for len in [0, 1, 8, INLINE_MAX, INLINE_MAX + 1, 64] {
            let bytes: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let v = Value::from_bytes(&bytes);
            assert_eq!(matches!(v, Value::Inline { .. }), len <= INLINE_MAX);
            assert_eq!(v.as_bytes(&mut itoa::Buffer::new()), Some(&bytes[..]));
            assert_eq!(v.str_len(), len);
            assert_eq!(v.heap_size() == 0, len <= INLINE_MAX);
            assert_eq!(
                v.encoding(),
                if len <= EMBSTR_MAX { "embstr" } else { "raw" }
            );
        }
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }
}
