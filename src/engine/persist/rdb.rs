//! The RDB file format: a writer for version 10 (what Redis 7.0 writes and
//! reads) and a reader for versions 1 to 12 covering strings (plain,
//! integer-encoded, LZF-compressed), hashes (plain, zipmap, ziplist,
//! listpack), lists (linked list, ziplist, quicklist, quicklist of
//! listpacks), sets (plain, intset, listpack) and sorted sets (plain,
//! binary scores, ziplist, listpack), with second and millisecond expiries
//! and auxiliary fields. Lists are written as quicklists of listpacks, sets
//! as intsets or plain sets, sorted sets as listpacks or binary-score sets,
//! as Redis 7.0 writes them.
//!
//! Every length read from a file is checked against the bytes that remain
//! before anything is allocated, so a corrupt or hostile file costs at most
//! a small multiple of its own size. Errors carry the byte offset.

use std::io::{self, Write};

use super::{crc64, lzf};
use crate::engine::store::StreamValue;

pub const WRITE_VERSION: u32 = 10;
const MAX_READ_VERSION: u32 = 12;

const OP_FUNCTION2: u8 = 0xF5;
const OP_MODULE_AUX: u8 = 0xF7;
const OP_IDLE: u8 = 0xF8;
const OP_FREQ: u8 = 0xF9;
const OP_AUX: u8 = 0xFA;
const OP_RESIZEDB: u8 = 0xFB;
const OP_EXPIRE_MS: u8 = 0xFC;
const OP_EXPIRE_SEC: u8 = 0xFD;
const OP_SELECTDB: u8 = 0xFE;
const OP_EOF: u8 = 0xFF;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_HASH_ZIPMAP: u8 = 9;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_STREAM_LISTPACKS: u8 = 15;
const TYPE_STREAM_LISTPACKS_2: u8 = 19;
const TYPE_SET_LISTPACK: u8 = 20;

/// Quicklist node containers (TYPE_LIST_QUICKLIST_2).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Bytes of entries per listpack node when writing lists (Redis's -2).
const LIST_NODE_BYTES: usize = 8192;

/// A value as stored in an RDB file.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbValue {
    Str(Vec<u8>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Stream(Box<StreamValue>),
}

/// One key read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct RdbEntry {
    /// The database (SELECTDB) the key belongs to.
    pub db: usize,
    pub key: Vec<u8>,
    pub value: RdbValue,
    /// Absolute unix milliseconds.
    pub expire_ms: Option<u64>,
}

/// Why a file could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    pub offset: usize,
    pub reason: String,
}

impl std::fmt::Display for RdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

// ------------------------------------------------------------------ writer

/// Writes an RDB file, keeping the running CRC64 for the trailer.
pub struct Writer<W: Write> {
    out: W,
    crc: u64,
    /// DUMP payloads: a value's type byte and body, no key or expiry.
    value_only: bool,
}

impl<W: Write> Writer<W> {
    /// Starts a file: magic, version and auxiliary fields.
    pub fn new(out: W, aux: &[(&str, String)]) -> io::Result<Self> {
        let mut w = Writer {
            out,
            crc: 0,
            value_only: false,
        };
        w.raw(format!("REDIS{WRITE_VERSION:04}").as_bytes())?;
        for (k, v) in aux {
            w.raw(&[OP_AUX])?;
            w.string(k.as_bytes())?;
            w.string(v.as_bytes())?;
        }
        Ok(w)
    }

    /// A writer for a run of encoded keys with no header, to be spliced
    /// into a file later with [`Writer::append_encoded`].
    pub fn chunk(out: W) -> Self {
        Writer {
            out,
            crc: 0,
            value_only: false,
        }
    }

    /// A writer for one DUMP payload: the `write_*` calls write the value
    /// only (its key and expiry are left out); [`Writer::finish_dump`]
    /// adds the footer.
    pub fn dump(out: W) -> Self {
        Writer {
            out,
            crc: 0,
            value_only: true,
        }
    }

    /// Ends a DUMP payload: the RDB version (2 bytes, little endian) and
    /// the CRC64 of everything before it (8 bytes, little endian).
    pub fn finish_dump(mut self) -> io::Result<W> {
        self.raw(&(WRITE_VERSION as u16).to_le_bytes())?;
        let crc = self.crc;
        self.out.write_all(&crc.to_le_bytes())?;
        Ok(self.out)
    }

    /// Appends bytes produced by a chunk writer.
    pub fn append_encoded(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.raw(bytes)
    }

    /// The sink, without writing a trailer (for chunk writers).
    pub fn into_inner(self) -> W {
        self.out
    }

    pub(super) fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc = crc64::update(self.crc, b);
        self.out.write_all(b)
    }

    pub(super) fn length(&mut self, n: u64) -> io::Result<()> {
        if n < 1 << 6 {
            self.raw(&[n as u8])
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u32::MAX as u64 {
            self.raw(&[0x80])?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.raw(&[0x81])?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// A string, integer-encoded when Redis would (canonical and in 32 bits).
    pub fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = crate::numeric::parse_i64(s) {
                if let Ok(v) = i8::try_from(v) {
                    return self.raw(&[0xC0, v as u8]);
                }
                if let Ok(v) = i16::try_from(v) {
                    self.raw(&[0xC1])?;
                    return self.raw(&v.to_le_bytes());
                }
                if let Ok(v) = i32::try_from(v) {
                    self.raw(&[0xC2])?;
                    return self.raw(&v.to_le_bytes());
                }
            }
        }
        self.length(s.len() as u64)?;
        self.raw(s)
    }

    /// `SELECTDB db` and the size hints that follow it.
    pub fn select_db(&mut self, db: usize, keys: u64, expires: u64) -> io::Result<()> {
        self.raw(&[OP_SELECTDB])?;
        self.length(db as u64)?;
        self.raw(&[OP_RESIZEDB])?;
        self.length(keys)?;
        self.length(expires)
    }

    pub(super) fn key_header(
        &mut self,
        kind: u8,
        key: &[u8],
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        if self.value_only {
            return self.raw(&[kind]);
        }
        if let Some(at) = expire_ms {
            self.raw(&[OP_EXPIRE_MS])?;
            self.raw(&at.to_le_bytes())?;
        }
        self.raw(&[kind])?;
        self.string(key)
    }

    pub fn write_string(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        self.key_header(TYPE_STRING, key, expire_ms)?;
        self.string(value)
    }

    pub fn write_hash<'a>(
        &mut self,
        key: &[u8],
        len: usize,
        pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        self.key_header(TYPE_HASH, key, expire_ms)?;
        self.length(len as u64)?;
        for (f, v) in pairs {
            self.string(f)?;
            self.string(v)?;
        }
        Ok(())
    }

    /// A list as a quicklist of listpacks of about 8 KB each.
    pub fn write_list<'a>(
        &mut self,
        key: &[u8],
        items: impl Iterator<Item = &'a [u8]>,
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        let mut nodes: Vec<Vec<&[u8]>> = Vec::new();
        let mut size = 0;
        for it in items {
            if nodes.is_empty() || size + it.len() + 11 > LIST_NODE_BYTES {
                nodes.push(Vec::new());
                size = 0;
            }
            size += it.len() + 11;
            nodes.last_mut().expect("pushed").push(it);
        }
        self.key_header(TYPE_LIST_QUICKLIST_2, key, expire_ms)?;
        self.length(nodes.len() as u64)?;
        for n in &nodes {
            self.length(CONTAINER_PACKED)?;
            self.string_raw(&listpack(n.iter().copied()))?;
        }
        Ok(())
    }

    /// A set of integers as an intset (2, 4 or 8 bytes per value).
    pub fn write_intset(
        &mut self,
        key: &[u8],
        values: &[i64],
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        let width = values
            .iter()
            .map(|&v| {
                if i16::try_from(v).is_ok() {
                    2
                } else if i32::try_from(v).is_ok() {
                    4
                } else {
                    8
                }
            })
            .max()
            .unwrap_or(2);
        let mut blob = Vec::with_capacity(8 + values.len() * width);
        blob.extend_from_slice(&(width as u32).to_le_bytes());
        blob.extend_from_slice(&(values.len() as u32).to_le_bytes());
        for v in values {
            blob.extend_from_slice(&v.to_le_bytes()[..width]);
        }
        self.key_header(TYPE_SET_INTSET, key, expire_ms)?;
        self.string_raw(&blob)
    }

    pub fn write_set<'a>(
        &mut self,
        key: &[u8],
        len: usize,
        members: impl Iterator<Item = &'a [u8]>,
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        self.key_header(TYPE_SET, key, expire_ms)?;
        self.length(len as u64)?;
        for m in members {
            self.string(m)?;
        }
        Ok(())
    }

    /// A small sorted set as a listpack of member, score pairs in order
    /// (integral scores as integers, others in `%.17g`).
    pub fn write_zset_listpack<'a>(
        &mut self,
        key: &[u8],
        entries: impl Iterator<Item = (&'a [u8], f64)>,
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        let mut texts: Vec<Vec<u8>> = Vec::new();
        for (m, s) in entries {
            texts.push(m.to_vec());
            texts.push(score_text(s));
        }
        self.key_header(TYPE_ZSET_LISTPACK, key, expire_ms)?;
        self.string_raw(&listpack(texts.iter().map(Vec::as_slice)))
    }

    /// A sorted set with binary scores, highest score first (as Redis
    /// writes its skiplists).
    pub fn write_zset<'a>(
        &mut self,
        key: &[u8],
        len: usize,
        entries_high_first: impl Iterator<Item = (&'a [u8], f64)>,
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        self.key_header(TYPE_ZSET_2, key, expire_ms)?;
        self.length(len as u64)?;
        for (m, s) in entries_high_first {
            self.string(m)?;
            self.raw(&s.to_le_bytes())?;
        }
        Ok(())
    }

    /// A string written as is (a blob: never integer-encoded).
    pub(super) fn string_raw(&mut self, s: &[u8]) -> io::Result<()> {
        self.length(s.len() as u64)?;
        self.raw(s)
    }

    /// Ends the file: EOF opcode and the CRC64 trailer. Returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.raw(&[OP_EOF])?;
        let crc = self.crc;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

// ------------------------------------------------------------------ reader

pub(super) struct Cursor<'a> {
    data: &'a [u8],
    pub(super) pos: usize,
}

pub(super) type R<T> = Result<T, RdbError>;

impl<'a> Cursor<'a> {
    pub(super) fn err<T>(&self, reason: impl Into<String>) -> R<T> {
        Err(RdbError {
            offset: self.pos,
            reason: reason.into(),
        })
    }

    pub(super) fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if self.data.len() - self.pos < n {
            return self.err(format!("unexpected end of file (needed {n} more bytes)"));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(super) fn byte(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    /// A length, or a special-encoding marker (`Err(kind)` in the inner result).
    fn length_or_special(&mut self) -> R<Result<u64, u8>> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Ok((first & 0x3f) as u64),
            1 => Ok((((first & 0x3f) as u64) << 8) | self.byte()? as u64),
            2 => match first {
                0x80 => Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as u64),
                0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().unwrap())),
                _ => return self.err(format!("unknown length encoding 0x{first:02x}")),
            },
            _ => Err(first & 0x3f),
        })
    }

    pub(super) fn length(&mut self) -> R<u64> {
        match self.length_or_special()? {
            Ok(n) => Ok(n),
            Err(_) => self.err("unexpected encoded value where a length was expected"),
        }
    }

    /// A count of items that each take at least `min_bytes`, checked
    /// against what remains so no allocation can be driven by a lie.
    pub(super) fn count(&mut self, min_bytes: usize) -> R<usize> {
        let n = self.length()?;
        let left = (self.data.len() - self.pos) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return self.err(format!("count {n} is larger than the rest of the file"));
        }
        Ok(n as usize)
    }

    pub(super) fn string(&mut self) -> R<Vec<u8>> {
        match self.length_or_special()? {
            Ok(n) => {
                let n = usize::try_from(n).or_else(|_| self.err("string too long"))?;
                Ok(self.take(n)?.to_vec())
            }
            Err(0) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Err(1) => Ok(i16::from_le_bytes(self.take(2)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            Err(2) => Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            Err(3) => {
                let clen = self.length()? as usize;
                let ulen = self.length()? as usize;
                let start = self.pos;
                let compressed = self.take(clen)?;
                // LZF expands at most ~90x; refuse claims beyond that.
                if ulen > clen.saturating_mul(96) + 64 {
                    self.pos = start;
                    return self.err(format!("compressed string claims {ulen} bytes from {clen}"));
                }
                match lzf::decompress(compressed, ulen) {
                    Some(v) => Ok(v),
                    None => {
                        self.pos = start;
                        self.err("corrupt LZF-compressed string")
                    }
                }
            }
            Err(k) => self.err(format!("unknown string encoding {k}")),
        }
    }
}

impl Cursor<'_> {
    /// A score of the oldest sorted-set encoding: a length byte and ASCII,
    /// with 253 = NaN, 254 = +inf, 255 = -inf.
    fn old_double(&mut self) -> R<f64> {
        let n = self.byte()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.take(n as usize)?;
                match crate::numeric::strtod_prefix(text) {
                    Some((v, used)) if used == text.len() => Ok(v),
                    _ => self.err("bad score"),
                }
            }
        }
    }
}

/// An auxiliary field (name, value) from the file header.
pub type AuxField = (Vec<u8>, Vec<u8>);

/// Options the reader needs from the caller.
pub struct ReadOptions {
    /// Entries whose expiry is at or before this time are skipped.
    pub now_ms: u64,
    /// Databases the reader accepts (SELECTDB beyond is an error).
    pub databases: usize,
}

/// Reads a whole RDB image, calling `on_entry` for each live key. Returns
/// the auxiliary fields. The checksum is verified when present (non-zero).
pub fn read(
    data: &[u8],
    opts: &ReadOptions,
    mut on_entry: impl FnMut(RdbEntry) -> Result<(), String>,
) -> Result<Vec<AuxField>, RdbError> {
    let mut c = Cursor { data, pos: 0 };
    let magic = c.take(9)?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError {
            offset: 0,
            reason: "not an RDB file (bad magic)".into(),
        });
    }
    let version: u32 = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or(RdbError {
            offset: 5,
            reason: "bad RDB version".into(),
        })?;
    if !(1..=MAX_READ_VERSION).contains(&version) {
        return Err(RdbError {
            offset: 5,
            reason: format!("unsupported RDB version {version}"),
        });
    }
    let mut aux = Vec::new();
    let mut expire: Option<u64> = None;
    let mut db = 0usize;
    loop {
        let op_at = c.pos;
        let op = c.byte()?;
        match op {
            OP_EOF => {
                if version >= 5 {
                    let body_end = c.pos;
                    let stored = u64::from_le_bytes(c.take(8)?.try_into().unwrap());
                    if stored != 0 {
                        let computed = crc64::update(0, &data[..body_end]);
                        if computed != stored {
                            return Err(RdbError {
                                offset: body_end,
                                reason: format!(
                                    "wrong RDB checksum: expected {stored:016x}, got {computed:016x}"
                                ),
                            });
                        }
                    }
                }
                if c.pos != data.len() {
                    return c.err("trailing bytes after the end of the file");
                }
                return Ok(aux);
            }
            OP_AUX => {
                let k = c.string()?;
                let v = c.string()?;
                aux.push((k, v));
            }
            OP_SELECTDB => {
                let n = c.length()?;
                if n >= opts.databases as u64 {
                    return c.err(format!(
                        "database {n} is out of range (databases is {})",
                        opts.databases
                    ));
                }
                db = n as usize;
            }
            OP_RESIZEDB => {
                c.length()?;
                c.length()?;
            }
            OP_EXPIRE_MS => expire = Some(u64::from_le_bytes(c.take(8)?.try_into().unwrap())),
            OP_EXPIRE_SEC => {
                expire = Some(u32::from_le_bytes(c.take(4)?.try_into().unwrap()) as u64 * 1000)
            }
            OP_IDLE => {
                c.length()?;
            }
            OP_FREQ => {
                c.byte()?;
            }
            OP_MODULE_AUX => return c.err("module data is not supported"),
            OP_FUNCTION2 => return c.err("function libraries are not supported"),
            kind => {
                let key = c.string()?;
                let value = read_value(&mut c, kind, &key, op_at)?;
                let at = expire.take();
                if at.is_some_and(|t| t <= opts.now_ms) {
                    continue;
                }
                on_entry(RdbEntry {
                    db,
                    key,
                    value,
                    expire_ms: at,
                })
                .map_err(|reason| RdbError {
                    offset: op_at,
                    reason,
                })?;
            }
        }
    }
}

/// The value of type `kind` at the cursor (the body after a key in a file,
/// or after the type byte of a DUMP payload). `op_at` is where the entry
/// began, for errors.
fn read_value(c: &mut Cursor, kind: u8, key: &[u8], op_at: usize) -> R<RdbValue> {
    let value_at = c.pos;
    Ok(match kind {
        TYPE_STRING => RdbValue::Str(c.string()?),
        TYPE_HASH => {
            let n = c.count(2)?;
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let f = c.string()?;
                let v = c.string()?;
                pairs.push((f, v));
            }
            RdbValue::Hash(pairs)
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK | TYPE_HASH_ZIPMAP => {
            let blob = c.string()?;
            let items = match kind {
                TYPE_HASH_ZIPLIST => ziplist_items(&blob),
                TYPE_HASH_LISTPACK => listpack_items(&blob),
                _ => zipmap_items(&blob),
            }
            .map_err(|reason| RdbError {
                offset: value_at,
                reason: format!("key '{}': {reason}", String::from_utf8_lossy(key)),
            })?;
            if items.len() % 2 != 0 {
                return Err(RdbError {
                    offset: value_at,
                    reason: format!(
                        "key '{}': odd number of hash items",
                        String::from_utf8_lossy(key)
                    ),
                });
            }
            let mut it = items.into_iter();
            let mut pairs = Vec::new();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                pairs.push((f, v));
            }
            RdbValue::Hash(pairs)
        }
        TYPE_LIST | TYPE_SET => {
            let n = c.count(1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(c.string()?);
            }
            if kind == TYPE_LIST {
                RdbValue::List(items)
            } else {
                RdbValue::Set(items)
            }
        }
        TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = c.count(1)?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                let container = if kind == TYPE_LIST_QUICKLIST_2 {
                    c.length()?
                } else {
                    CONTAINER_PACKED
                };
                let blob = c.string()?;
                let node = match (kind, container) {
                    (_, CONTAINER_PLAIN) => Ok(vec![blob]),
                    (TYPE_LIST_QUICKLIST, _) => ziplist_items(&blob),
                    (_, CONTAINER_PACKED) => listpack_items(&blob),
                    _ => Err(format!("unknown quicklist container {container}")),
                }
                .map_err(|reason| bad_value(key, value_at, reason))?;
                items.extend(node);
            }
            RdbValue::List(items)
        }
        TYPE_LIST_ZIPLIST => {
            let blob = c.string()?;
            RdbValue::List(ziplist_items(&blob).map_err(|r| bad_value(key, value_at, r))?)
        }
        TYPE_SET_INTSET => {
            let blob = c.string()?;
            RdbValue::Set(intset_items(&blob).map_err(|r| bad_value(key, value_at, r))?)
        }
        TYPE_SET_LISTPACK => {
            let blob = c.string()?;
            RdbValue::Set(listpack_items(&blob).map_err(|r| bad_value(key, value_at, r))?)
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = c.count(2)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                let m = c.string()?;
                let score = if kind == TYPE_ZSET_2 {
                    f64::from_le_bytes(c.take(8)?.try_into().unwrap())
                } else {
                    c.old_double()?
                };
                if score.is_nan() {
                    return Err(bad_value(key, value_at, "NaN score".into()));
                }
                entries.push((m, score));
            }
            RdbValue::ZSet(entries)
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let blob = c.string()?;
            let items = if kind == TYPE_ZSET_ZIPLIST {
                ziplist_items(&blob)
            } else {
                listpack_items(&blob)
            }
            .map_err(|r| bad_value(key, value_at, r))?;
            if items.len() % 2 != 0 {
                return Err(bad_value(
                    key,
                    value_at,
                    "odd number of sorted set items".into(),
                ));
            }
            let mut entries = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                // strtod as Redis reads these (subnormals accepted).
                let score = match crate::numeric::strtod_prefix(&s) {
                    Some((v, n)) if n == s.len() && !v.is_nan() => v,
                    _ => return Err(bad_value(key, value_at, "bad score".into())),
                };
                entries.push((m, score));
            }
            RdbValue::ZSet(entries)
        }
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 => RdbValue::Stream(Box::new(
            super::rdb_stream::read_stream(c, kind == TYPE_STREAM_LISTPACKS_2)
                .map_err(|r| bad_value(key, value_at, r))?,
        )),
        other => {
            return Err(RdbError {
                offset: op_at,
                reason: format!(
                    "key '{}' has {}, which Redistill does not support",
                    String::from_utf8_lossy(key),
                    type_name(other)
                ),
            })
        }
    })
}

/// Why RESTORE refuses a payload.
#[derive(Debug, PartialEq, Eq)]
pub enum DumpError {
    /// Too short, a newer RDB version, or a wrong checksum.
    VersionOrChecksum,
    /// The body does not decode to a value.
    BadData,
}

/// Reads a DUMP payload (type byte, value, RDB version, CRC64), checked
/// as Redis checks it: the version must not be newer than this RDB
/// version and the checksum must match.
pub fn read_dump(payload: &[u8]) -> Result<RdbValue, DumpError> {
    if payload.len() < 10 {
        return Err(DumpError::VersionOrChecksum);
    }
    let footer = payload.len() - 10;
    let version = u16::from_le_bytes([payload[footer], payload[footer + 1]]);
    if version as u32 > WRITE_VERSION {
        return Err(DumpError::VersionOrChecksum);
    }
    let stored = u64::from_le_bytes(payload[footer + 2..].try_into().expect("8 bytes"));
    if crc64::update(0, &payload[..footer + 2]) != stored {
        return Err(DumpError::VersionOrChecksum);
    }
    let mut c = Cursor {
        data: &payload[..footer],
        pos: 0,
    };
    let kind = c.byte().map_err(|_| DumpError::BadData)?;
    let value = read_value(&mut c, kind, b"", 0).map_err(|_| DumpError::BadData)?;
    let empty = match &value {
        RdbValue::Str(_) => false,
        RdbValue::Hash(v) => v.is_empty(),
        RdbValue::List(v) | RdbValue::Set(v) => v.is_empty(),
        RdbValue::ZSet(v) => v.is_empty(),
        RdbValue::Stream(_) => false,
    };
    if empty {
        return Err(DumpError::BadData);
    }
    Ok(value)
}

pub(super) fn bad_value(key: &[u8], at: usize, reason: String) -> RdbError {
    RdbError {
        offset: at,
        reason: format!("key '{}': {reason}", String::from_utf8_lossy(key)),
    }
}

/// A score as a listpack stores it: integral ones as integers, others in
/// `%.17g` (`inf`, `-inf`).
fn score_text(s: f64) -> Vec<u8> {
    if s.fract() == 0.0 && s.abs() < 1e17 && !(s == 0.0 && s.is_sign_negative()) {
        (s as i64).to_string().into_bytes()
    } else {
        crate::numeric::fmt_double(s).into_bytes()
    }
}

/// Encodes `items` as a listpack: integers in the smallest integer
/// encoding, strings with 6-, 12- or 32-bit lengths, each entry followed by
/// its back-length.
pub fn listpack<'a>(items: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = vec![0u8; 6];
    let mut count = 0usize;
    for it in items {
        let start = out.len();
        match crate::numeric::parse_i64(it) {
            Some(v) if (0..=127).contains(&v) => out.push(v as u8),
            Some(v) if (-4096..=4095).contains(&v) => {
                let u = (v as u16) & 0x1FFF;
                out.push(0xC0 | (u >> 8) as u8);
                out.push(u as u8);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                out.push(0xF1);
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                out.push(0xF2);
                out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                out.push(0xF3);
                out.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                out.push(0xF4);
                out.extend_from_slice(&v.to_le_bytes());
            }
            None if it.len() < 64 => {
                out.push(0x80 | it.len() as u8);
                out.extend_from_slice(it);
            }
            None if it.len() < 4096 => {
                out.push(0xE0 | (it.len() >> 8) as u8);
                out.push(it.len() as u8);
                out.extend_from_slice(it);
            }
            None => {
                out.push(0xF0);
                out.extend_from_slice(&(it.len() as u32).to_le_bytes());
                out.extend_from_slice(it);
            }
        }
        let l = out.len() - start;
        if l <= 127 {
            out.push(l as u8);
        } else if l < 16383 {
            out.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2097151 {
            out.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268435455 {
            out.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            out.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
        count += 1;
    }
    out.push(0xFF);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    let n = if count >= 65535 {
        65535u16
    } else {
        count as u16
    };
    out[4..6].copy_from_slice(&n.to_le_bytes());
    out
}

/// The values of an intset blob, as decimal strings.
fn intset_items(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if b.len() < 8 {
        return Err("intset too short".into());
    }
    let width = u32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
    let n = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("bad intset encoding {width}"));
    }
    if b.len() != 8 + n.saturating_mul(width) {
        return Err("intset length does not match its size".into());
    }
    Ok(b[8..]
        .chunks(width)
        .map(|c| {
            let v = match width {
                2 => i16::from_le_bytes([c[0], c[1]]) as i64,
                4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                _ => i64::from_le_bytes(c.try_into().unwrap()),
            };
            v.to_string().into_bytes()
        })
        .collect())
}

fn type_name(t: u8) -> String {
    match t {
        1 | 10 | 14 | 18 => "a list".into(),
        2 | 11 | 20 => "a set".into(),
        3 | 5 | 12 | 17 => "a sorted set".into(),
        6 | 7 => "module data".into(),
        15 | 19 | 21 => "a stream".into(),
        other => format!("unknown type {other}"),
    }
}

/// The entries of a ziplist (Redis ≤ 6 small hashes).
fn ziplist_items(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if b.len() < 11 {
        return Err("ziplist too short".into());
    }
    let mut p = 10;
    let mut out = Vec::new();
    loop {
        let Some(&first) = b.get(p) else {
            return Err("ziplist has no end marker".into());
        };
        if first == 0xFF {
            return Ok(out);
        }
        // Previous entry length: 1 byte, or 0xFE and 4 bytes.
        p += if first == 0xFE { 5 } else { 1 };
        let enc = *b.get(p).ok_or("truncated ziplist entry")?;
        let get = |from: usize, n: usize| b.get(from..from + n).ok_or("truncated ziplist entry");
        let (item, used): (Vec<u8>, usize) = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                (get(p + 1, n)?.to_vec(), 1 + n)
            }
            1 => {
                let n = (((enc & 0x3f) as usize) << 8)
                    | *b.get(p + 1).ok_or("truncated ziplist entry")? as usize;
                (get(p + 2, n)?.to_vec(), 2 + n)
            }
            2 => {
                let n = u32::from_be_bytes(get(p + 1, 4)?.try_into().unwrap()) as usize;
                (get(p + 5, n)?.to_vec(), 5 + n)
            }
            _ => {
                let (v, n): (i64, usize) = match enc {
                    0xC0 => (
                        i16::from_le_bytes(get(p + 1, 2)?.try_into().unwrap()) as i64,
                        2,
                    ),
                    0xD0 => (
                        i32::from_le_bytes(get(p + 1, 4)?.try_into().unwrap()) as i64,
                        4,
                    ),
                    0xE0 => (i64::from_le_bytes(get(p + 1, 8)?.try_into().unwrap()), 8),
                    0xF0 => {
                        let t = get(p + 1, 3)?;
                        ((i32::from_le_bytes([0, t[0], t[1], t[2]]) >> 8) as i64, 3)
                    }
                    0xFE => (
                        *b.get(p + 1).ok_or("truncated ziplist entry")? as i8 as i64,
                        1,
                    ),
                    0xF1..=0xFD => ((enc & 0x0f) as i64 - 1, 0),
                    _ => return Err(format!("bad ziplist encoding 0x{enc:02x}")),
                };
                (v.to_string().into_bytes(), 1 + n)
            }
        };
        out.push(item);
        p += used;
    }
}

/// The entries of a listpack (Redis 7 small hashes).
pub(super) fn listpack_items(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if b.len() < 7 {
        return Err("listpack too short".into());
    }
    let mut p = 6;
    let mut out = Vec::new();
    let get = |from: usize, n: usize| {
        b.get(from..from + n)
            .ok_or_else(|| "truncated listpack entry".to_string())
    };
    loop {
        let enc = *b.get(p).ok_or("listpack has no end marker")?;
        if enc == 0xFF {
            return Ok(out);
        }
        let (item, len): (Vec<u8>, usize) = if enc & 0x80 == 0 {
            ((enc & 0x7f).to_string().into_bytes(), 1)
        } else if enc & 0xC0 == 0x80 {
            let n = (enc & 0x3f) as usize;
            (get(p + 1, n)?.to_vec(), 1 + n)
        } else if enc & 0xE0 == 0xC0 {
            let raw = (((enc & 0x1f) as u16) << 8)
                | *b.get(p + 1).ok_or("truncated listpack entry")? as u16;
            let v = ((raw << 3) as i16) >> 3;
            (v.to_string().into_bytes(), 2)
        } else if enc & 0xF0 == 0xE0 {
            let n = (((enc & 0x0f) as usize) << 8)
                | *b.get(p + 1).ok_or("truncated listpack entry")? as usize;
            (get(p + 2, n)?.to_vec(), 2 + n)
        } else {
            match enc {
                0xF0 => {
                    let n = u32::from_le_bytes(get(p + 1, 4)?.try_into().unwrap()) as usize;
                    (get(p + 5, n)?.to_vec(), 5 + n)
                }
                0xF1 => (
                    i16::from_le_bytes(get(p + 1, 2)?.try_into().unwrap())
                        .to_string()
                        .into_bytes(),
                    3,
                ),
                0xF2 => {
                    let t = get(p + 1, 3)?;
                    (
                        (i32::from_le_bytes([0, t[0], t[1], t[2]]) >> 8)
                            .to_string()
                            .into_bytes(),
                        4,
                    )
                }
                0xF3 => (
                    i32::from_le_bytes(get(p + 1, 4)?.try_into().unwrap())
                        .to_string()
                        .into_bytes(),
                    5,
                ),
                0xF4 => (
                    i64::from_le_bytes(get(p + 1, 8)?.try_into().unwrap())
                        .to_string()
                        .into_bytes(),
                    9,
                ),
                _ => return Err(format!("bad listpack encoding 0x{enc:02x}")),
            }
        };
        let backlen = match len {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        out.push(item);
        p += len + backlen;
    }
}

/// The entries of a zipmap (very old small hashes).
fn zipmap_items(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut p = 1;
    let mut out = Vec::new();
    let len_at = |p: &mut usize| -> Result<usize, String> {
        let first = *b.get(*p).ok_or("truncated zipmap")?;
        if first < 254 {
            *p += 1;
            Ok(first as usize)
        } else if first == 254 {
            let n = u32::from_le_bytes(
                b.get(*p + 1..*p + 5)
                    .ok_or("truncated zipmap")?
                    .try_into()
                    .unwrap(),
            );
            *p += 5;
            Ok(n as usize)
        } else {
            Err("unexpected zipmap end".into())
        }
    };
    loop {
        if *b.get(p).ok_or("zipmap has no end marker")? == 0xFF {
            return Ok(out);
        }
        let klen = len_at(&mut p)?;
        out.push(b.get(p..p + klen).ok_or("truncated zipmap")?.to_vec());
        p += klen;
        let vlen = len_at(&mut p)?;
        let free = *b.get(p).ok_or("truncated zipmap")? as usize;
        p += 1;
        out.push(b.get(p..p + vlen).ok_or("truncated zipmap")?.to_vec());
        p += vlen + free;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payloads redis-server 7.0.15 gave for DUMP of a string, a list
    /// (quicklist of listpacks), an intset, a listpack sorted set and a
    /// listpack hash.
    const REDIS_PAYLOADS: &[&[u8]] = &[
        b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a",
        b"\x12\x01\x02\x10\x10\x00\x00\x00\x03\x00\x81a\x02\x81b\x02\x81c\x02\xff\x0a\x00\xc8\x18\xb9\x0c\x953R\x9e",
        b"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00\x0a\x00\xa5\x02\x5c\xe2mnM\x1b",
        b"\x11\x14\x14\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x832.5\x04\xff\x0a\x00\xd4Ln\xa4\xf6D\xd9\xd7",
        b"\x10\x13\x13\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81g\x02\x81w\x02\xff\x0a\x00\xd9\xde\xc5\xc9\x16\x0f\xb25",
    ];

    #[test]
    fn dump_payloads_from_redis_read_and_ours_round_trip() {
        let values: Vec<RdbValue> = REDIS_PAYLOADS
            .iter()
            .map(|p| read_dump(p).expect("redis-server's payload"))
            .collect();
        assert_eq!(values[0], RdbValue::Str(b"hello".to_vec()));
        assert_eq!(
            values[1],
            RdbValue::List(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
        );
        assert_eq!(
            values[3],
            RdbValue::ZSet(vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.5)])
        );
        // Our own string payload is byte for byte redis-server's.
        let mut w = Writer::dump(Vec::new());
        w.write_string(b"ignored", b"hello", Some(1)).unwrap();
        assert_eq!(w.finish_dump().unwrap(), REDIS_PAYLOADS[0]);
        // The footer is checked: version, checksum, length.
        let mut newer = REDIS_PAYLOADS[0].to_vec();
        let at = newer.len() - 10;
        newer[at] = 11;
        assert_eq!(read_dump(&newer), Err(DumpError::VersionOrChecksum));
        assert_eq!(read_dump(b"short"), Err(DumpError::VersionOrChecksum));
        let mut flipped = REDIS_PAYLOADS[1].to_vec();
        flipped[3] ^= 1;
        assert_eq!(read_dump(&flipped), Err(DumpError::VersionOrChecksum));
    }

    /// Corrupt bodies with a valid checksum (what a hostile client can
    /// send): every one reads or is refused as bad data, none panics.
    #[test]
    fn corrupt_dump_payloads_are_refused_cleanly() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut refused = 0;
        for i in 0..20_000 {
            let base = REDIS_PAYLOADS[i % REDIS_PAYLOADS.len()];
            let mut body = base[..base.len() - 10].to_vec();
            match rng.u8(..3) {
                0 => {
                    let at = rng.usize(..body.len());
                    body[at] = rng.u8(..);
                }
                1 => body.truncate(rng.usize(..body.len())),
                _ => {
                    let at = rng.usize(..=body.len());
                    body.insert(at, rng.u8(..));
                }
            }
            body.extend_from_slice(&10u16.to_le_bytes());
            let crc = crc64::update(0, &body);
            body.extend_from_slice(&crc.to_le_bytes());
            match read_dump(&body) {
                Ok(_) => {}
                Err(DumpError::BadData) => refused += 1,
                Err(e) => panic!("{e:?} for a payload with a good footer"),
            }
        }
        assert!(refused > 1000, "{refused}");
    }

    fn write(entries: &[RdbEntry]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), &[("redis-ver", "7.0.15".into())]).unwrap();
        w.select_db(0, entries.len() as u64, 0).unwrap();
        for e in entries {
            match &e.value {
                RdbValue::Str(v) => w.write_string(&e.key, v, e.expire_ms).unwrap(),
                RdbValue::Hash(p) => w
                    .write_hash(
                        &e.key,
                        p.len(),
                        p.iter().map(|(f, v)| (&f[..], &v[..])),
                        e.expire_ms,
                    )
                    .unwrap(),
                RdbValue::List(items) => w
                    .write_list(&e.key, items.iter().map(Vec::as_slice), e.expire_ms)
                    .unwrap(),
                RdbValue::Set(m) => w
                    .write_set(&e.key, m.len(), m.iter().map(Vec::as_slice), e.expire_ms)
                    .unwrap(),
                RdbValue::ZSet(z) => w
                    .write_zset_listpack(&e.key, z.iter().map(|(m, s)| (&m[..], *s)), e.expire_ms)
                    .unwrap(),
                RdbValue::Stream(s) => w.write_stream(&e.key, s, e.expire_ms).unwrap(),
            }
        }
        w.finish().unwrap()
    }

    #[test]
    fn collections_round_trip_in_every_encoding_written() {
        let items: Vec<Vec<u8>> = (0..3000)
            .map(|i| match i % 4 {
                0 => i.to_string().into_bytes(),
                1 => (-(i as i64) * 100_003).to_string().into_bytes(),
                2 => format!("item-{i}").into_bytes(),
                _ => vec![b'x'; i % 300],
            })
            .collect();
        let entries = vec![
            RdbEntry {
                db: 0,
                key: b"list".to_vec(),
                value: RdbValue::List(items.clone()),
                expire_ms: None,
            },
            RdbEntry {
                db: 0,
                key: b"set".to_vec(),
                value: RdbValue::Set(items[..50].to_vec()),
                expire_ms: Some(9_000_000),
            },
            RdbEntry {
                db: 0,
                key: b"zset".to_vec(),
                value: RdbValue::ZSet(vec![
                    (b"a".to_vec(), 1.0),
                    (b"b".to_vec(), 1.5),
                    (b"c".to_vec(), f64::INFINITY),
                    (b"d".to_vec(), -70000.0),
                ]),
                expire_ms: None,
            },
        ];
        let data = write(&entries);
        let mut back = read_all(&data).unwrap();
        // The listpack stores integers as integers: compare as text.
        assert_eq!(back.len(), 3);
        assert_eq!(back.remove(0), entries[0]);
        assert_eq!(back.remove(0), entries[1]);
        assert_eq!(back.remove(0), entries[2]);
        // Intsets.
        let mut w = Writer::new(Vec::new(), &[]).unwrap();
        w.write_intset(b"i", &[-5, 3, 70000, i64::MIN], None)
            .unwrap();
        let data = w.finish().unwrap();
        let got = read_all(&data).unwrap();
        assert_eq!(
            got[0].value,
            RdbValue::Set(
                ["-5", "3", "70000", "-9223372036854775808"]
                    .iter()
                    .map(|s| s.as_bytes().to_vec())
                    .collect()
            )
        );
    }

    fn read_all(data: &[u8]) -> Result<Vec<RdbEntry>, RdbError> {
        let mut out = Vec::new();
        read(
            data,
            &ReadOptions {
                now_ms: 1000,
                databases: 16,
            },
            |e| {
                out.push(e);
                Ok(())
            },
        )?;
        Ok(out)
    }

    #[test]
    fn round_trip_and_corruption() {
        let entries = vec![
            RdbEntry {
                db: 0,
                key: b"s".to_vec(),
                value: RdbValue::Str(b"hello".to_vec()),
                expire_ms: None,
            },
            RdbEntry {
                db: 0,
                key: b"i".to_vec(),
                value: RdbValue::Str(b"-123456".to_vec()),
                expire_ms: Some(5_000_000),
            },
            RdbEntry {
                db: 0,
                key: b"big".to_vec(),
                value: RdbValue::Str(vec![7u8; 20_000]),
                expire_ms: None,
            },
            RdbEntry {
                db: 0,
                key: b"h".to_vec(),
                value: RdbValue::Hash(vec![
                    (b"f".to_vec(), b"1".to_vec()),
                    (b"g".to_vec(), b"x y".to_vec()),
                ]),
                expire_ms: None,
            },
        ];
        let data = write(&entries);
        assert_eq!(read_all(&data).unwrap(), entries);
        // Truncations, flipped bytes and a bad version are errors, never panics.
        for cut in 0..data.len() {
            assert!(read_all(&data[..cut]).is_err(), "truncated at {cut}");
        }
        let mut flipped = data.clone();
        flipped[20] ^= 0x40;
        assert!(
            read_all(&flipped).unwrap_err().reason.contains("checksum")
                || read_all(&flipped).is_err()
        );
        let mut future = data.clone();
        future[5..9].copy_from_slice(b"0099");
        assert!(read_all(&future).unwrap_err().reason.contains("version"));
        assert!(read_all(b"").is_err());
    }

    #[test]
    fn expired_keys_are_skipped() {
        let entries = vec![RdbEntry {
            db: 0,
            key: b"old".to_vec(),
            value: RdbValue::Str(b"v".to_vec()),
            expire_ms: Some(10),
        }];
        assert!(read_all(&write(&entries)).unwrap().is_empty());
    }

    #[test]
    fn listpack_and_ziplist_decoding() {
        // listpack: "f" (6-bit str), 5 (7-bit uint), -1000 (13-bit int), end.
        let mut lp = vec![0, 0, 0, 0, 3, 0];
        lp.extend([0x81, b'f', 2]);
        lp.extend([5, 1]);
        let v: u16 = (-1000i16 as u16) & 0x1fff;
        lp.extend([0xC0 | (v >> 8) as u8, v as u8, 2]);
        lp.push(0xFF);
        assert_eq!(
            listpack_items(&lp).unwrap(),
            vec![b"f".to_vec(), b"5".to_vec(), b"-1000".to_vec()]
        );
        // ziplist: "ab" (6-bit str), 12 (immediate), 300 (int16), end.
        let mut zl = vec![0; 10];
        zl.extend([0, 2, b'a', b'b']);
        zl.extend([4, 0xFD]);
        zl.extend([2, 0xC0]);
        zl.extend(300i16.to_le_bytes());
        zl.push(0xFF);
        assert_eq!(
            ziplist_items(&zl).unwrap(),
            vec![b"ab".to_vec(), b"12".to_vec(), b"300".to_vec()]
        );
    }
}
