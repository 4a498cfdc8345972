//! Values held by the keyspace: byte strings, integers kept as integers, and
//! hashes that stay a compact list of pairs while small (like Redis's
//! listpack) and become a hash table when they grow.

use hashbrown::HashMap;

/// Redis's `hash-max-listpack-entries` and `hash-max-listpack-value`.
pub const HASH_SMALL_MAX_ENTRIES: usize = 128;
pub const HASH_SMALL_MAX_VALUE: usize = 64;
/// Largest string that Redis keeps in the `embstr` encoding.
const EMBSTR_MAX: usize = 44;

pub enum Value {
    /// A string set as a whole (`SET`, `MSET`...).
    Str(Box<[u8]>),
    /// A string grown in place (`APPEND`, `SETRANGE`), with spare capacity.
    Raw(Vec<u8>),
    /// A string that is the canonical decimal form of a 64-bit integer.
    Int(i64),
    Hash(Box<HashValue>),
}

/// The data type as TYPE and SCAN TYPE name it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    String,
    Hash,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
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
        Value::Str(b.into())
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Hash(_) => Kind::Hash,
            _ => Kind::String,
        }
    }

    pub fn is_string(&self) -> bool {
        !matches!(self, Value::Hash(_))
    }

    /// The string's bytes, formatting integers into `buf`. `None` for hashes.
    pub fn as_bytes<'a>(&'a self, buf: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
        match self {
            Value::Str(b) => Some(b),
            Value::Raw(v) => Some(v),
            Value::Int(i) => Some(buf.format(*i).as_bytes()),
            Value::Hash(_) => None,
        }
    }

    /// Length of a string value.
    pub fn str_len(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
            Value::Raw(v) => v.len(),
            Value::Int(i) => crate::numeric::i64_len(*i),
            Value::Hash(_) => 0,
        }
    }

    /// Turns a string value into its growable form for in-place edits.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Value::Raw(_)) {
            let bytes = match self {
                Value::Str(b) => b.to_vec(),
                Value::Int(i) => itoa::Buffer::new().format(*i).as_bytes().to_vec(),
                _ => Vec::new(),
            };
            *self = Value::Raw(bytes);
        }
        match self {
            Value::Raw(v) => v,
            _ => unreachable!(),
        }
    }

    /// Bytes this value holds on the heap, for memory accounting.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
            Value::Raw(v) => v.capacity(),
            Value::Int(_) => 0,
            Value::Hash(h) => h.heap_size(),
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(b) if b.len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) | Value::Raw(_) => "raw",
            Value::Hash(h) => {
                if h.is_small() {
                    "listpack"
                } else {
                    "hashtable"
                }
            }
        }
    }

    pub fn deep_clone(&self) -> Value {
        match self {
            Value::Str(b) => Value::Str(b.clone()),
            Value::Raw(v) => Value::Raw(v.clone()),
            Value::Int(i) => Value::Int(*i),
            Value::Hash(h) => Value::Hash(Box::new(h.as_ref().clone())),
        }
    }
}

/// Per-pair bookkeeping cost charged for hash fields, on top of their bytes.
const HASH_PAIR_OVERHEAD: usize = 32;

type OwnedPair = (Box<[u8]>, Box<[u8]>);

#[derive(Clone)]
enum HashRepr {
    Small(Vec<OwnedPair>),
    Large(HashMap<Box<[u8]>, Box<[u8]>, foldhash::fast::RandomState>),
}

/// A hash value: field → value, insertion-ordered while small.
#[derive(Clone)]
pub struct HashValue {
    repr: HashRepr,
    /// Sum of field and value lengths plus per-pair overhead.
    bytes: usize,
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue {
            repr: HashRepr::Small(Vec::new()),
            bytes: 0,
        }
    }
}

fn pair_cost(f: &[u8], v: &[u8]) -> usize {
    f.len() + v.len() + HASH_PAIR_OVERHEAD
}

impl HashValue {
    pub fn len(&self) -> usize {
        match &self.repr {
            HashRepr::Small(v) => v.len(),
            HashRepr::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_small(&self) -> bool {
        matches!(self.repr, HashRepr::Small(_))
    }

    pub fn heap_size(&self) -> usize {
        self.bytes + 48
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            HashRepr::Small(v) => v.iter().find(|(f, _)| &**f == field).map(|(_, v)| &**v),
            HashRepr::Large(m) => m.get(field).map(|v| &**v),
        }
    }

    /// Sets a field; returns true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let HashRepr::Small(v) = &mut self.repr {
            if let Some(slot) = v.iter_mut().find(|(f, _)| &**f == field) {
                self.bytes = self.bytes - slot.1.len() + value.len();
                slot.1 = value.into();
                self.maybe_grow(field.len(), value.len());
                return false;
            }
            v.push((field.into(), value.into()));
            self.bytes += pair_cost(field, value);
            self.maybe_grow(field.len(), value.len());
            return true;
        }
        let HashRepr::Large(m) = &mut self.repr else {
            unreachable!()
        };
        match m.get_mut(field) {
            Some(old) => {
                self.bytes = self.bytes - old.len() + value.len();
                *old = value.into();
                false
            }
            None => {
                m.insert(field.into(), value.into());
                self.bytes += pair_cost(field, value);
                true
            }
        }
    }

    fn maybe_grow(&mut self, flen: usize, vlen: usize) {
        let HashRepr::Small(v) = &mut self.repr else {
            return;
        };
        if v.len() > HASH_SMALL_MAX_ENTRIES
            || flen > HASH_SMALL_MAX_VALUE
            || vlen > HASH_SMALL_MAX_VALUE
        {
            let mut m = HashMap::with_capacity_and_hasher(v.len(), Default::default());
            m.extend(v.drain(..));
            self.repr = HashRepr::Large(m);
        }
    }

    /// Removes a field; returns true when it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            HashRepr::Small(v) => match v.iter().position(|(f, _)| &**f == field) {
                Some(i) => {
                    let (f, val) = v.remove(i);
                    self.bytes -= pair_cost(&f, &val);
                    true
                }
                None => false,
            },
            HashRepr::Large(m) => match m.remove_entry(field) {
                Some((f, val)) => {
                    self.bytes -= pair_cost(&f, &val);
                    true
                }
                None => false,
            },
        }
    }

    /// Iterates pairs: insertion order while small, table order when large.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.repr {
            HashRepr::Small(v) => Box::new(v.iter().map(|(f, v)| (&**f, &**v))),
            HashRepr::Large(m) => Box::new(m.iter().map(|(f, v)| (&**f, &**v))),
        }
    }

    /// The `i`-th pair in iteration order (used for random picks).
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }

    /// A stable 63-bit ordering key for a field, used by HSCAN on large hashes.
    pub fn scan_order(&self, field: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        match &self.repr {
            HashRepr::Large(m) => (m.hasher().hash_one(field) >> 1) | 1,
            HashRepr::Small(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_converts_when_large() {
        let mut h = HashValue::default();
        for i in 0..=HASH_SMALL_MAX_ENTRIES {
            assert!(h.set(format!("f{i}").as_bytes(), b"v"));
        }
        assert!(!h.is_small());
        let mut h = HashValue::default();
        h.set(b"f", &[b'x'; 65]);
        assert!(!h.is_small());
        assert!(h.remove(b"f"));
        assert_eq!(h.heap_size(), 48);
    }

    #[test]
    fn integers_are_canonical_only() {
        assert!(matches!(Value::from_bytes(b"123"), Value::Int(123)));
        assert!(matches!(Value::from_bytes(b"0123"), Value::Str(_)));
        assert!(matches!(Value::from_bytes(b"-0"), Value::Str(_)));
    }
}
