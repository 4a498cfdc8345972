//! The byte layout of one keyspace record: a key and its value in a single
//! variable-size run of bytes inside a shard's arena (see `arena`).
//!
//! ```text
//! 0      flags: value form (2 bits) | has expiry | own object | policy bits (3) | long expiry
//! 1      key length (255: a long key)
//! 2      inline value length
//! 3..7   last access (u32, little endian)
//! [6 B   expiry, unix ms, when the flag says so: 6 bytes reach the year 10889,
//!  8 B   with the long-expiry flag, for the rare expiry past that]
//! key    the key's bytes, or for a long key a 16-byte (pointer, length) of a boxed slice
//! value  inline: the string's bytes, padded to at least 8
//!        inline, over 255 bytes: a u16 length, then the bytes
//!        int:    the i64
//!        boxed:  a pointer to a heap `Value` (collections, long or growable strings)
//! ```
//!
//! The header is 7 bytes, so a 16-byte key with a 64-byte value takes 87
//! bytes. Records are byte aligned; multi-byte fields are read unaligned.
//! A value area is never smaller than 8 bytes, so any value can be replaced
//! in place by a boxed one; a record never has to move because its value
//! changed (only a new expiry, which needs 8 more bytes, moves it).
//!
//! A record owns its heap parts (a boxed value, a long key): whoever frees
//! a record's bytes first calls [`free_heap`] or [`take_value`].

use super::value::Value;

/// Strings up to this length are kept inside the record, where compaction
/// gives back the space they leave when overwritten or deleted; this covers
/// the values of typical caches (sessions, tokens, small JSON). A longer
/// string lives in its own allocation: there jemalloc's size classes (at
/// most 25 % apart) waste under a tenth of it on average, moving it on
/// compaction would cost more than that, and a segment must hold several
/// of the largest records (a 512-byte value leaves at most a fifth of a
/// 4 KB segment unfilled at its end, and about 4 % on average).
pub const INLINE_VALUE_MAX: usize = 512;

/// Inline strings longer than this carry a two-byte length in the value
/// area (the header's length byte holds up to 255).
const SHORT_INLINE_MAX: usize = 255;

/// Keys up to this length are kept inside the record.
pub const INLINE_KEY_MAX: usize = 254;

/// The key-length byte of a long key.
const LONG_KEY: u8 = 255;

/// Bytes before the optional expiry.
pub const HEADER: usize = 7;

/// The largest record: header, expiry, the longest inline key and value.
pub const MAX_RECORD: usize = HEADER + 8 + INLINE_KEY_MAX + 2 + INLINE_VALUE_MAX;

const FLAGS: usize = 0;
const KEY_LEN: usize = 1;
const VALUE_LEN: usize = 2;
const ACCESS: usize = 3;

const FORM_MASK: u8 = 0b11;
const FORM_INLINE: u8 = 0;
const FORM_INLINE_LONG: u8 = 3;
const FORM_INT: u8 = 1;
const FORM_BOXED: u8 = 2;
const HAS_EXPIRE: u8 = 1 << 2;
const OWN_OBJECT: u8 = 1 << 3;
const META_SHIFT: u8 = 4;
/// The eviction policy's bits (S3-FIFO uses three).
pub const META_MASK: u8 = 0b111;
const LONG_EXPIRE: u8 = 1 << 7;

/// Bytes an expiry takes in a record: none, 6, or 8 past 2^48 ms.
#[inline]
pub fn expire_width(expire_at: u64) -> usize {
    match expire_at {
        0 => 0,
        t if t < 1 << 48 => 6,
        _ => 8,
    }
}

fn expire_flags(expire_at: u64) -> u8 {
    match expire_width(expire_at) {
        0 => 0,
        6 => HAS_EXPIRE,
        _ => HAS_EXPIRE | LONG_EXPIRE,
    }
}

fn write_expire(b: &mut [u8], expire_at: u64) {
    let t = expire_at.to_le_bytes();
    match expire_width(expire_at) {
        0 => {}
        6 => b[HEADER..HEADER + 6].copy_from_slice(&t[..6]),
        _ => b[HEADER..HEADER + 8].copy_from_slice(&t),
    }
}

/// A value as a record holds it, borrowed.
#[derive(Clone, Copy)]
pub enum ValueRef<'a> {
    /// A string kept in the record.
    Bytes(&'a [u8]),
    /// A string that is the canonical form of an integer.
    Int(i64),
    /// Anything else: collections and strings kept on the heap.
    Boxed(&'a Value),
}

/// How a value will be stored, decided before the record is sized.
pub enum Stored<'a> {
    Inline(Value),
    /// A string's bytes, copied into the record as they are (a write
    /// straight from a request: no `Value` is built).
    Slice(&'a [u8]),
    Int(i64),
    Boxed(Box<Value>),
}

impl Stored<'_> {
    /// Chooses the form of `value`.
    pub fn of(value: Value) -> Stored<'static> {
        match value {
            Value::Int(i) => Stored::Int(i),
            Value::Inline { .. } => Stored::Inline(value),
            Value::Str(ref b) if b.len() <= INLINE_VALUE_MAX => Stored::Inline(value),
            other => Stored::Boxed(Box::new(other)),
        }
    }

    /// Chooses the form of a string set from `bytes`, as
    /// [`Value::from_bytes`] would hold it.
    pub fn from_bytes(bytes: &[u8]) -> Stored<'_> {
        if bytes.len() <= 20 {
            if let Some(i) = crate::numeric::parse_i64(bytes) {
                return Stored::Int(i);
            }
        }
        if bytes.len() <= INLINE_VALUE_MAX {
            Stored::Slice(bytes)
        } else {
            Stored::Boxed(Box::new(Value::Str(bytes.into())))
        }
    }

    /// Bytes of the value area.
    pub fn area(&self) -> usize {
        match self {
            Stored::Inline(v) => inline_area(v.str_len()),
            Stored::Slice(b) => inline_area(b.len()),
            Stored::Int(_) | Stored::Boxed(_) => 8,
        }
    }

    /// Heap bytes this value holds outside the record.
    pub fn heap_size(&self) -> usize {
        match self {
            Stored::Boxed(b) => boxed_charge(b),
            _ => 0,
        }
    }
}

/// Bytes of the box of a boxed value (a `Value` in a 32-byte size class).
pub const BOX_CHARGE: usize = 32;

/// Bytes of the value area of an inline string of `len` bytes.
#[inline]
fn inline_area(len: usize) -> usize {
    if len <= SHORT_INLINE_MAX {
        len.max(8)
    } else {
        2 + len
    }
}

/// Heap bytes of a boxed value: the box itself and what the value holds.
pub fn boxed_charge(v: &Value) -> usize {
    BOX_CHARGE + v.heap_size()
}

/// Bytes of a key's area.
#[inline]
pub fn key_area(key_len: usize) -> usize {
    if key_len <= INLINE_KEY_MAX {
        key_len
    } else {
        16
    }
}

/// Bytes of a record for this key, expiry and value.
#[inline]
pub fn size_for(key_len: usize, expire_at: u64, stored: &Stored) -> usize {
    HEADER + expire_width(expire_at) + key_area(key_len) + stored.area()
}

#[inline]
fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[inline]
fn write_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Writes a new record into `buf` (exactly [`size_for`] bytes long).
pub fn write(buf: &mut [u8], key: &[u8], expire_at: u64, access: u32, stored: Stored) {
    buf[FLAGS] = expire_flags(expire_at);
    buf[ACCESS..ACCESS + 4].copy_from_slice(&access.to_le_bytes());
    write_expire(buf, expire_at);
    let mut at = HEADER + expire_width(expire_at);
    if key.len() <= INLINE_KEY_MAX {
        buf[KEY_LEN] = key.len() as u8;
        buf[at..at + key.len()].copy_from_slice(key);
        at += key.len();
    } else {
        buf[KEY_LEN] = LONG_KEY;
        let boxed: Box<[u8]> = key.into();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed) as *mut u8;
        write_u64(buf, at, ptr as u64);
        write_u64(buf, at + 8, len as u64);
        at += 16;
    }
    write_value(buf, at, stored);
}

/// Writes an inline string's value area at `at` and its form.
#[inline]
fn write_inline(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if bytes.len() <= SHORT_INLINE_MAX {
        buf[FLAGS] |= FORM_INLINE;
        buf[VALUE_LEN] = bytes.len() as u8;
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    } else {
        buf[FLAGS] |= FORM_INLINE_LONG;
        buf[VALUE_LEN] = 0;
        buf[at..at + 2].copy_from_slice(&(bytes.len() as u16).to_le_bytes());
        buf[at + 2..at + 2 + bytes.len()].copy_from_slice(bytes);
    }
}

/// Writes the value area at `at` and the value's form into the flags.
fn write_value(buf: &mut [u8], at: usize, stored: Stored) {
    buf[FLAGS] &= !FORM_MASK;
    match stored {
        Stored::Inline(v) => {
            let mut ibuf = itoa::Buffer::new();
            let bytes = v.as_bytes(&mut ibuf).expect("an inline value is a string");
            write_inline(buf, at, bytes);
        }
        Stored::Slice(bytes) => write_inline(buf, at, bytes),
        Stored::Int(i) => {
            buf[FLAGS] |= FORM_INT;
            buf[VALUE_LEN] = 0;
            write_u64(buf, at, i as u64);
        }
        Stored::Boxed(b) => {
            buf[FLAGS] |= FORM_BOXED;
            buf[VALUE_LEN] = 0;
            write_u64(buf, at, Box::into_raw(b) as u64);
        }
    }
}

/// Copies a record into `dst` with `expire_at`, whose expiry field is wider
/// than the record's (`dst` is that much longer). Heap parts move with the
/// bytes: `src` is no longer a record.
pub fn copy_widening_expire(src: &[u8], dst: &mut [u8], expire_at: u64) {
    let old = Rec { b: src }.expire_len();
    let new = expire_width(expire_at);
    debug_assert!(new > old && dst.len() == src.len() - old + new);
    dst[..HEADER].copy_from_slice(&src[..HEADER]);
    dst[FLAGS] = (dst[FLAGS] & !(HAS_EXPIRE | LONG_EXPIRE)) | expire_flags(expire_at);
    write_expire(dst, expire_at);
    dst[HEADER + new..].copy_from_slice(&src[HEADER + old..]);
}

/// A record, read through its bytes (which start at the record and may run
/// past its end).
#[derive(Clone, Copy)]
pub struct Rec<'a> {
    b: &'a [u8],
}

impl<'a> Rec<'a> {
    #[inline]
    pub fn new(b: &'a [u8]) -> Rec<'a> {
        Rec { b }
    }

    #[inline]
    fn flags(&self) -> u8 {
        self.b[FLAGS]
    }

    /// Bytes of the expiry field.
    #[inline]
    pub fn expire_len(&self) -> usize {
        match self.flags() & (HAS_EXPIRE | LONG_EXPIRE) {
            0 => 0,
            HAS_EXPIRE => 6,
            _ => 8,
        }
    }

    #[inline]
    fn key_at(&self) -> usize {
        HEADER + self.expire_len()
    }

    #[inline]
    fn value_at(&self) -> usize {
        self.key_at()
            + if self.b[KEY_LEN] == LONG_KEY {
                16
            } else {
                self.b[KEY_LEN] as usize
            }
    }

    /// Bytes of the value area.
    #[inline]
    fn value_area(&self) -> usize {
        match self.flags() & FORM_MASK {
            FORM_INLINE => (self.b[VALUE_LEN] as usize).max(8),
            FORM_INLINE_LONG => 2 + self.long_inline_len(),
            _ => 8,
        }
    }

    /// The length of a long inline string.
    #[inline]
    fn long_inline_len(&self) -> usize {
        let at = self.value_at();
        u16::from_le_bytes([self.b[at], self.b[at + 1]]) as usize
    }

    /// The record's length in bytes.
    #[inline]
    pub fn size(&self) -> usize {
        self.value_at() + self.value_area()
    }

    #[inline]
    pub fn key(&self) -> &'a [u8] {
        let at = self.key_at();
        if self.b[KEY_LEN] != LONG_KEY {
            &self.b[at..at + self.b[KEY_LEN] as usize]
        } else {
            let ptr = read_u64(self.b, at) as *const u8;
            let len = read_u64(self.b, at + 8) as usize;
            // SAFETY: a long-key record holds the parts of a leaked
            // `Box<[u8]>` that it owns until `free_heap`/`take_value`.
            unsafe { std::slice::from_raw_parts(ptr, len) }
        }
    }

    #[inline]
    pub fn value(&self) -> ValueRef<'a> {
        let at = self.value_at();
        match self.flags() & FORM_MASK {
            FORM_INLINE => ValueRef::Bytes(&self.b[at..at + self.b[VALUE_LEN] as usize]),
            FORM_INLINE_LONG => ValueRef::Bytes(&self.b[at + 2..at + 2 + self.long_inline_len()]),
            FORM_INT => ValueRef::Int(read_u64(self.b, at) as i64),
            _ => {
                let ptr = read_u64(self.b, at) as *const Value;
                // SAFETY: a boxed record owns the leaked `Box<Value>`.
                ValueRef::Boxed(unsafe { &*ptr })
            }
        }
    }

    /// Absolute unix time in milliseconds; 0 means no expiry.
    #[inline]
    pub fn expire_at(&self) -> u64 {
        // Fixed-size reads: this runs on every lookup.
        match self.expire_len() {
            0 => 0,
            6 => {
                let low =
                    u32::from_le_bytes(self.b[HEADER..HEADER + 4].try_into().expect("4 bytes"));
                let high = u16::from_le_bytes([self.b[HEADER + 4], self.b[HEADER + 5]]);
                (high as u64) << 32 | low as u64
            }
            _ => read_u64(self.b, HEADER),
        }
    }

    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        let t = self.expire_at();
        t != 0 && t <= now_ms
    }

    /// The eviction policy's bits (OBJECT FREQ under S3-FIFO).
    #[inline]
    pub fn meta(&self) -> u8 {
        (self.flags() >> META_SHIFT) & META_MASK
    }

    /// The access clock value of the last access.
    #[inline]
    pub fn access(&self) -> u32 {
        u32::from_le_bytes(self.b[ACCESS..ACCESS + 4].try_into().expect("4 bytes"))
    }

    /// Whether Redis would hold this integer as an object of its own
    /// (OBJECT REFCOUNT 1) rather than share it: set on copies (COPY), kept
    /// by RENAME and MOVE, cleared by any change.
    #[inline]
    pub fn own_object(&self) -> bool {
        self.flags() & OWN_OBJECT != 0
    }

    /// Heap bytes of a boxed value (0 for a value kept in the record).
    #[inline]
    pub fn value_heap(&self) -> usize {
        match self.value() {
            ValueRef::Boxed(v) => boxed_charge(v),
            _ => 0,
        }
    }

    /// Heap bytes the record holds outside itself.
    pub fn heap_size(&self) -> usize {
        let key = if self.b[KEY_LEN] == LONG_KEY {
            self.key().len() + 16
        } else {
            0
        };
        key + match self.value() {
            ValueRef::Boxed(v) => boxed_charge(v),
            _ => 0,
        }
    }
}

/// Writable access to a record's fields that do not change its length.
pub struct RecMut<'a> {
    b: &'a mut [u8],
}

impl<'a> RecMut<'a> {
    #[inline]
    pub fn new(b: &'a mut [u8]) -> RecMut<'a> {
        RecMut { b }
    }

    #[inline]
    pub fn rec(&self) -> Rec<'_> {
        Rec { b: self.b }
    }

    #[inline]
    pub fn set_access(&mut self, access: u32) {
        self.b[ACCESS..ACCESS + 4].copy_from_slice(&access.to_le_bytes());
    }

    #[inline]
    pub fn set_meta(&mut self, meta: u8) {
        debug_assert!(meta <= META_MASK, "policy bits out of range");
        self.b[FLAGS] =
            (self.b[FLAGS] & !(META_MASK << META_SHIFT)) | (meta & META_MASK) << META_SHIFT;
    }

    #[inline]
    pub fn set_own_object(&mut self, own: bool) {
        if own {
            self.b[FLAGS] |= OWN_OBJECT;
        } else {
            self.b[FLAGS] &= !OWN_OBJECT;
        }
    }

    /// Sets the expiry in place; its field may only narrow (a shorter
    /// expiry, or none with 0), moving key and value down. Returns the new
    /// length.
    pub fn narrow_expire(&mut self, expire_at: u64) -> usize {
        let r = self.rec();
        let (len, old) = (r.size(), r.expire_len());
        let new = expire_width(expire_at);
        debug_assert!(new <= old, "the expiry field cannot widen in place");
        if new < old {
            self.b.copy_within(HEADER + old..len, HEADER + new);
        }
        self.b[FLAGS] = (self.b[FLAGS] & !(HAS_EXPIRE | LONG_EXPIRE)) | expire_flags(expire_at);
        write_expire(self.b, expire_at);
        len - old + new
    }

    /// The boxed value, when the record holds one.
    #[inline]
    pub fn boxed_mut(&mut self) -> Option<&mut Value> {
        let r = self.rec();
        if r.flags() & FORM_MASK != FORM_BOXED {
            return None;
        }
        let ptr = read_u64(self.b, r.value_at()) as *mut Value;
        // SAFETY: the record owns the leaked box, and `&mut self` makes
        // this the only access to it.
        Some(unsafe { &mut *ptr })
    }

    /// Replaces the value, which must fit the current value area (see
    /// [`RecMut::fits`]). The old value is returned when `want_old`, and
    /// otherwise only when it was boxed (to be dropped). Returns the new
    /// length.
    pub fn replace_value(&mut self, stored: Stored, want_old: bool) -> (Option<Value>, usize) {
        debug_assert!(self.fits(&stored));
        let old = if want_old || self.rec().flags() & FORM_MASK == FORM_BOXED {
            Some(unsafe_take(self.b))
        } else {
            None
        };
        let at = self.rec().value_at();
        write_value(self.b, at, stored);
        (old, self.rec().size())
    }

    /// Whether `stored` fits the record's value area in place.
    #[inline]
    pub fn fits(&self, stored: &Stored) -> bool {
        stored.area() <= self.rec().value_area()
    }
}

/// Moves the value out of the record (materialising a string kept in it),
/// leaving the record's value area to be overwritten or freed.
fn unsafe_take(b: &[u8]) -> Value {
    let r = Rec { b };
    match r.value() {
        ValueRef::Bytes(s) => Value::string(s),
        ValueRef::Int(i) => Value::Int(i),
        ValueRef::Boxed(_) => {
            let ptr = read_u64(b, r.value_at()) as *mut Value;
            // SAFETY: the record owned this box; its caller overwrites or
            // frees the record, so the pointer is never read again.
            *unsafe { Box::from_raw(ptr) }
        }
    }
}

/// Drops a long key's heap part, if the record has one.
fn free_key(b: &[u8]) {
    let r = Rec { b };
    if b[KEY_LEN] == LONG_KEY {
        let at = r.key_at();
        let ptr = read_u64(b, at) as *mut u8;
        let len = read_u64(b, at + 8) as usize;
        // SAFETY: rebuilt from the parts `write` leaked; the record is being
        // freed, so they are never read again.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
    }
}

/// Takes the value out of a record that is being freed, and frees its key.
/// The record's bytes must not be read as a record afterwards.
pub fn take_value(b: &[u8]) -> Value {
    let v = unsafe_take(b);
    free_key(b);
    v
}

/// Frees a record's heap parts without materialising a string kept in it,
/// returning a boxed value for the caller to drop (maybe elsewhere). The
/// record's bytes must not be read as a record afterwards.
pub fn free_heap(b: &[u8]) -> Option<Box<Value>> {
    let r = Rec { b };
    let boxed = if r.flags() & FORM_MASK == FORM_BOXED {
        let ptr = read_u64(b, r.value_at()) as *mut Value;
        // SAFETY: as in `unsafe_take`.
        Some(unsafe { Box::from_raw(ptr) })
    } else {
        None
    };
    free_key(b);
    boxed
}

impl<'a> From<&'a Value> for ValueRef<'a> {
    /// A value held outside a record, seen as a record would show it.
    fn from(v: &'a Value) -> ValueRef<'a> {
        match v {
            Value::Inline { len, bytes } => ValueRef::Bytes(&bytes[..*len as usize]),
            Value::Str(b) => ValueRef::Bytes(b),
            Value::Int(i) => ValueRef::Int(*i),
            other => ValueRef::Boxed(other),
        }
    }
}

impl<'a> ValueRef<'a> {
    /// The heap value, for collections and boxed strings.
    #[inline]
    pub fn boxed(self) -> Option<&'a Value> {
        match self {
            ValueRef::Boxed(v) => Some(v),
            _ => None,
        }
    }

    pub fn kind(self) -> super::value::Kind {
        match self {
            ValueRef::Boxed(v) => v.kind(),
            _ => super::value::Kind::String,
        }
    }

    pub fn is_string(self) -> bool {
        self.kind() == super::value::Kind::String
    }

    /// Elements of a collection; 1 for strings.
    pub fn element_count(self) -> usize {
        match self {
            ValueRef::Boxed(v) => v.element_count(),
            _ => 1,
        }
    }

    /// The string's bytes, formatting integers into `buf`. `None` for
    /// collections.
    #[inline]
    pub fn as_bytes(self, buf: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
        match self {
            ValueRef::Bytes(b) => Some(b),
            ValueRef::Int(i) => Some(buf.format(i).as_bytes()),
            ValueRef::Boxed(v) => v.as_bytes(buf),
        }
    }

    /// Length of a string value.
    pub fn str_len(self) -> usize {
        match self {
            ValueRef::Bytes(b) => b.len(),
            ValueRef::Int(i) => crate::numeric::i64_len(i),
            ValueRef::Boxed(v) => v.str_len(),
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(self) -> &'static str {
        match self {
            ValueRef::Bytes(b) => Value::string_encoding(b.len()),
            ValueRef::Int(_) => "int",
            ValueRef::Boxed(v) => v.encoding(),
        }
    }

    /// An owned copy (COPY, DUMP, snapshots).
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Bytes(b) => Value::string(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Boxed(v) => v.deep_clone(),
        }
    }

    /// Prefetches the box of a boxed value (only the box: reading it to
    /// reach further would wait for it).
    #[inline]
    pub fn prefetch(self) {
        if let ValueRef::Boxed(v) = self {
            super::prefetch(v as *const Value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &[u8], expire_at: u64, v: Value) -> Vec<u8> {
        let stored = Stored::of(v);
        let mut buf = vec![0u8; size_for(key.len(), expire_at, &stored)];
        write(&mut buf, key, expire_at, 7, stored);
        buf
    }

    fn bytes_of(v: ValueRef) -> Option<Vec<u8>> {
        v.as_bytes(&mut itoa::Buffer::new()).map(<[u8]>::to_vec)
    }

    #[test]
    fn a_short_pair_is_header_key_and_value() {
        let b = record(&[b'k'; 16], 0, Value::from_bytes(&[b'v'; 64]));
        assert_eq!(b.len(), HEADER + 16 + 64);
        let r = Rec::new(&b);
        assert_eq!(r.size(), b.len());
        assert_eq!(r.key(), &[b'k'; 16]);
        assert!(matches!(r.value(), ValueRef::Bytes(v) if v == [b'v'; 64]));
        assert_eq!((r.expire_at(), r.access(), r.meta()), (0, 7, 0));
        let b = record(b"k", 5, Value::Int(-3));
        assert_eq!(b.len(), HEADER + 6 + 1 + 8);
        assert!(matches!(Rec::new(&b).value(), ValueRef::Int(-3)));
        assert_eq!(Rec::new(&b).expire_at(), 5);
        take_value(&b);
    }

    /// Random keys, values and expiries: every field reads back, in-place
    /// edits keep the rest intact, and heap parts are freed exactly once
    /// (Miri or a leak checker would see a double free or a leak).
    #[test]
    fn random_records_read_back_and_edit_in_place() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..3000 {
            let klen = [0, 1, 16, INLINE_KEY_MAX, INLINE_KEY_MAX + 1, 600][rng.usize(..6)];
            let key: Vec<u8> = (0..klen).map(|_| rng.u8(..)).collect();
            let value = match rng.u32(..5) {
                0 => Value::Int(rng.i64(..)),
                1 => Value::Raw(Box::new(vec![1; rng.usize(..40)])),
                _ => {
                    let n = [0, 3, 8, 22, 64, 255, 256, 512, 513, 1000][rng.usize(..10)];
                    Value::string(&(0..n).map(|_| rng.u8(..)).collect::<Vec<u8>>())
                }
            };
            let want = bytes_of(match &value {
                Value::Int(i) => ValueRef::Int(*i),
                v => ValueRef::Boxed(v),
            });
            let expire = [0, 0, 1, 1 << 47, (1 << 48) - 1, 1 << 48, u64::MAX][rng.usize(..7)];
            let mut b = record(&key, expire, value);
            let r = Rec::new(&b);
            assert_eq!(r.size(), b.len());
            assert_eq!(r.key(), &key[..]);
            assert_eq!(r.expire_at(), expire);
            assert_eq!(bytes_of(r.value()), want);
            let meta = rng.u8(..8);
            let mut m = RecMut::new(&mut b);
            m.set_meta(meta);
            m.set_access(99);
            m.set_own_object(true);
            let replacement = Value::string(&vec![9u8; rng.usize(..300)]);
            let stored = Stored::of(replacement.deep_clone());
            let stored = if m.fits(&stored) {
                stored
            } else {
                Stored::Boxed(Box::new(replacement.deep_clone()))
            };
            let (old, len) = m.replace_value(stored, true);
            assert_eq!(bytes_of(ValueRef::Boxed(&old.unwrap())), want);
            let len = if expire != 0 { m.narrow_expire(0) } else { len };
            let r = Rec::new(&b[..]);
            assert!(r.size() == len && len <= b.len());
            assert_eq!(
                (r.key(), r.meta(), r.access(), r.own_object()),
                (&key[..], meta, 99, true)
            );
            assert_eq!(r.expire_at(), 0);
            assert_eq!(bytes_of(r.value()), bytes_of(ValueRef::Boxed(&replacement)));
            if rng.bool() {
                take_value(&b);
            } else {
                drop(free_heap(&b));
            }
        }
    }
}
