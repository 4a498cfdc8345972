//! `cjson`: JSON as lua-cjson 2.1 (Redis's build) encodes and decodes it.
//!
//! Encoding: numbers with `%.14g`; a table is an array when its keys are
//! positive integers (holes become `null`) unless it is "excessively
//! sparse" (largest index above 10 and above twice the count: an error),
//! otherwise an object; nesting is limited to 1000 tables. Decoding works
//! token by token as lua-cjson does, so error texts name the same token
//! (`Expected value but found T_END at character 3`) and numbers are read
//! by strtod (so `+1`, `0x10`, `inf` and `nan` are numbers, as in Redis).

use mlua::{Lua, MultiValue, Result, Table, Value};

use super::{arg_error, check_string, err, json_null, lib_fn};
use crate::numeric::{fmt_g, strtod_prefix};

const MAX_DEPTH: usize = 1000;
const SPARSE_RATIO: usize = 2;
const SPARSE_SAFE: usize = 10;

pub(super) fn library(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lib_fn(lua, |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let mut out = Vec::new();
            encode(&args[0], &mut out, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lib_fn(lua, |lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(arg_error(lua, 1, "expected 1 argument"));
            }
            let text = check_string(lua, &args, 1)?;
            decode(lua, &text.as_bytes())
        })?,
    )?;
    t.raw_set("null", json_null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

// ------------------------------------------------------------ encoding

/// Lua's type name for `v`, as lua-cjson's messages print it.
fn lua_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

fn cannot_serialise(v: &Value, why: &str) -> mlua::Error {
    err(format!("Cannot serialise {}: {why}", lua_type(v)))
}

fn number(v: &Value, n: f64, out: &mut Vec<u8>) -> Result<()> {
    if !n.is_finite() {
        return Err(cannot_serialise(v, "must not be NaN or Inf"));
    }
    out.extend_from_slice(fmt_g(n, 14).as_bytes());
    Ok(())
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// lua-cjson's array test: Some(largest index) when every key is a
/// positive integer, None for an object; an error for a sparse array.
fn array_length(v: &Value, t: &Table) -> Result<Option<usize>> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k < 1.0 || k.floor() != k {
            return Ok(None);
        }
        max = max.max(k as usize);
        items += 1;
    }
    if max > items * SPARSE_RATIO && max > SPARSE_SAFE {
        return Err(cannot_serialise(v, "excessively sparse array"));
    }
    Ok(Some(max))
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => number(v, *i as f64, out)?,
        Value::Number(n) => number(v, *n, out)?,
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(err(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            match array_length(v, t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode(&t.raw_get::<Value>(i)?, out, depth)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => string(&s.as_bytes(), out),
                            Value::Integer(i) => {
                                out.push(b'"');
                                number(&k, *i as f64, out)?;
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                number(&k, *n, out)?;
                                out.push(b'"');
                            }
                            _ => {
                                return Err(cannot_serialise(
                                    &k,
                                    "table key must be a number or string",
                                ))
                            }
                        }
                        out.push(b':');
                        encode(&val, out, depth)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => return Err(cannot_serialise(other, "type not supported")),
    }
    Ok(())
}

// ------------------------------------------------------------ decoding

/// A lexical token, named as lua-cjson's messages name it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number,
    Boolean,
    Null,
    Colon,
    Comma,
    End,
    /// A lexical error, with what was found instead.
    Error(&'static str),
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str => "T_STRING",
            Kind::Number => "T_NUMBER",
            Kind::Boolean => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(found) => found,
        }
    }
}

struct Token {
    kind: Kind,
    /// Where the token (or the lexical error) is, 0-based.
    index: usize,
    text: Vec<u8>,
    number: f64,
    boolean: bool,
}

struct Decoder<'a> {
    /// The input up to its first NUL byte: lua-cjson reads a C string.
    s: &'a [u8],
    at: usize,
    depth: usize,
}

fn decode(lua: &Lua, input: &[u8]) -> Result<Value> {
    if input.len() >= 2 && (input[0] == 0 || input[1] == 0) {
        return Err(err("JSON parser does not support UTF-16 or UTF-32"));
    }
    let end = input.iter().position(|&c| c == 0).unwrap_or(input.len());
    let mut d = Decoder {
        s: &input[..end],
        at: 0,
        depth: 0,
    };
    let first = d.next_token();
    let value = d.value(lua, first)?;
    let last = d.next_token();
    if last.kind != Kind::End {
        return Err(expected("the end", &last));
    }
    Ok(value)
}

fn expected(what: &str, t: &Token) -> mlua::Error {
    err(format!(
        "Expected {what} but found {} at character {}",
        t.kind.name(),
        t.index + 1
    ))
}

impl Decoder<'_> {
    fn peek(&self, at: usize) -> u8 {
        self.s.get(at).copied().unwrap_or(0)
    }

    fn token(&self, kind: Kind, index: usize) -> Token {
        Token {
            kind,
            index,
            text: Vec::new(),
            number: 0.0,
            boolean: false,
        }
    }

    /// A lexical error found at the current position.
    fn lex_error(&self, found: &'static str) -> Token {
        self.token(Kind::Error(found), self.at)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.peek(self.at), b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
        let start = self.at;
        let single = match self.peek(start) {
            0 => return self.token(Kind::End, start),
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            _ => None,
        };
        if let Some(kind) = single {
            self.at += 1;
            return self.token(kind, start);
        }
        let rest = &self.s[start..];
        let c = rest[0];
        if c == b'"' {
            return self.string_token(start);
        }
        if c == b'-' || c.is_ascii_digit() {
            return self.number_token(start);
        }
        if !matches!(c, b't' | b'f' | b'n' | b'i' | b'I' | b'N' | b'+') {
            return self.lex_error("invalid token");
        }
        for (word, kind, b) in [
            (&b"true"[..], Kind::Boolean, true),
            (b"false", Kind::Boolean, false),
            (b"null", Kind::Null, false),
        ] {
            if rest.starts_with(word) {
                self.at += word.len();
                let mut t = self.token(kind, start);
                t.boolean = b;
                return t;
            }
        }
        // The forms strtod reads but JSON does not: "+1", "inf", "nan".
        let head = rest[..rest.len().min(3)].to_ascii_lowercase();
        if c == b'+' || head == b"inf" || head == b"nan" {
            return self.number_token(start);
        }
        self.lex_error("invalid token")
    }

    fn number_token(&mut self, start: usize) -> Token {
        let end = (start + 511).min(self.s.len());
        match strtod_prefix(&self.s[start..end]) {
            Some((n, used)) => {
                self.at += used;
                let mut t = self.token(Kind::Number, start);
                t.number = n;
                t
            }
            None => self.lex_error("invalid number"),
        }
    }

    fn string_token(&mut self, start: usize) -> Token {
        self.at += 1;
        let mut text = Vec::new();
        loop {
            let c = self.peek(self.at);
            match c {
                b'"' => break,
                0 => return self.lex_error("unexpected end of string"),
                b'\\' => {
                    let e = self.peek(self.at + 1);
                    let plain = match e {
                        b'"' | b'\\' | b'/' => e,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => match self.unicode_escape() {
                            Some((cp, len)) => {
                                let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                                let mut b = [0u8; 4];
                                text.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                                self.at += len;
                                continue;
                            }
                            None => return self.lex_error("invalid unicode escape code"),
                        },
                        _ => return self.lex_error("invalid escape code"),
                    };
                    text.push(plain);
                    self.at += 2;
                }
                c => {
                    text.push(c);
                    self.at += 1;
                }
            }
        }
        self.at += 1;
        let mut t = self.token(Kind::Str, start);
        t.text = text;
        t
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.s.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    }

    /// A `\uXXXX` escape (or a surrogate pair of them) at the current
    /// position: the code point and the escape's length.
    fn unicode_escape(&self) -> Option<(u32, usize)> {
        let high = self.hex4(self.at + 2)?;
        if high & 0xF800 != 0xD800 {
            return Some((high, 6));
        }
        if high & 0x400 != 0 || self.s.get(self.at + 6..self.at + 8) != Some(b"\\u") {
            return None;
        }
        let low = self.hex4(self.at + 8)?;
        if low & 0xFC00 != 0xDC00 {
            return None;
        }
        Some(((((high & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000, 12))
    }

    fn descend(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.at
            )));
        }
        Ok(())
    }

    fn value(&mut self, lua: &Lua, t: Token) -> Result<Value> {
        Ok(match t.kind {
            Kind::Str => Value::String(lua.create_string(&t.text)?),
            Kind::Number => Value::Number(t.number),
            Kind::Boolean => Value::Boolean(t.boolean),
            Kind::Null => json_null(),
            Kind::ObjBegin => Value::Table(self.object(lua)?),
            Kind::ArrBegin => Value::Table(self.array(lua)?),
            _ => return Err(expected("value", &t)),
        })
    }

    fn object(&mut self, lua: &Lua) -> Result<Table> {
        self.descend()?;
        let table = lua.create_table()?;
        let mut t = self.next_token();
        if t.kind == Kind::ObjEnd {
            self.depth -= 1;
            return Ok(table);
        }
        loop {
            if t.kind != Kind::Str {
                return Err(expected("object key string", &t));
            }
            let key = lua.create_string(&t.text)?;
            let colon = self.next_token();
            if colon.kind != Kind::Colon {
                return Err(expected("colon", &colon));
            }
            let first = self.next_token();
            let v = self.value(lua, first)?;
            table.raw_set(key, v)?;
            t = self.next_token();
            if t.kind == Kind::ObjEnd {
                self.depth -= 1;
                return Ok(table);
            }
            if t.kind != Kind::Comma {
                return Err(expected("comma or object end", &t));
            }
            t = self.next_token();
        }
    }

    fn array(&mut self, lua: &Lua) -> Result<Table> {
        self.descend()?;
        let table = lua.create_table()?;
        let mut t = self.next_token();
        if t.kind == Kind::ArrEnd {
            self.depth -= 1;
            return Ok(table);
        }
        let mut i = 1;
        loop {
            let v = self.value(lua, t)?;
            table.raw_set(i, v)?;
            i += 1;
            t = self.next_token();
            if t.kind == Kind::ArrEnd {
                self.depth -= 1;
                return Ok(table);
            }
            if t.kind != Kind::Comma {
                return Err(expected("comma or array end", &t));
            }
            t = self.next_token();
        }
    }
}
