//! The libraries Redis gives scripts beside Lua's own: `cjson`, `cmsgpack`
//! and `bit`, written here in Rust with the behaviour scripts rely on
//! (cjson's `%.14g` numbers and `cjson.null`; cmsgpack's smallest
//! encodings, arrays for sequences and maps otherwise, several values per
//! call; LuaBitOp's 32-bit signed results). `struct` is not provided.

use mlua::{LightUserData, Lua, MultiValue, Result, Table, Value, Variadic};

use crate::numeric::fmt_g;

/// Installs the three libraries as globals of `lua`.
pub fn install(lua: &Lua) -> Result<()> {
    let g = lua.globals();
    g.raw_set("cjson", cjson(lua)?)?;
    g.raw_set("cmsgpack", cmsgpack(lua)?)?;
    g.raw_set("bit", bit(lua)?)?;
    Ok(())
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// The value `cjson.null` stands for (a light userdata NULL, as in cjson).
fn json_null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// A table's length when its keys are exactly 1..n (a Lua sequence),
/// else None.
fn sequence_len(t: &Table) -> Result<Option<usize>> {
    let mut max = 0i64;
    let mut count = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match k {
            Value::Integer(i) if i >= 1 => max = max.max(i),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => max = max.max(n as i64),
            _ => return Ok(None),
        }
        count += 1;
    }
    Ok((max as usize == count).then_some(count))
}

// ------------------------------------------------------------------ cjson

fn cjson(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            json_encode(&v, &mut out, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let mut p = JsonParser { s: &bytes, at: 0 };
            p.ws();
            let v = p.value(lua, 0)?;
            p.ws();
            if p.at != bytes.len() {
                return Err(err(format!(
                    "Expected the end but found invalid token at character {}",
                    p.at + 1
                )));
            }
            Ok(v)
        })?,
    )?;
    t.raw_set("null", json_null())?;
    Ok(t)
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
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

fn json_number(n: f64, out: &mut Vec<u8>) -> Result<()> {
    if !n.is_finite() {
        return Err(err("Cannot serialise number: must not be NaN or Inf"));
    }
    out.extend_from_slice(fmt_g(n, 14).as_bytes());
    Ok(())
}

fn json_encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > 1000 {
        return Err(err("Cannot serialise, excessive nesting (1001)"));
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => json_number(*i as f64, out)?,
        Value::Number(n) => json_number(*n, out)?,
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => match sequence_len(t)? {
            Some(n) if n > 0 => {
                out.push(b'[');
                for i in 1..=n {
                    if i > 1 {
                        out.push(b',');
                    }
                    json_encode(&t.raw_get::<Value>(i)?, out, depth + 1)?;
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
                        Value::String(s) => json_string(&s.as_bytes(), out),
                        Value::Integer(i) => json_string(i.to_string().as_bytes(), out),
                        Value::Number(n) => json_string(fmt_g(*n, 14).as_bytes(), out),
                        _ => {
                            return Err(err(
                                "Cannot serialise table: table key must be a number or string",
                            ))
                        }
                    }
                    out.push(b':');
                    json_encode(&val, out, depth + 1)?;
                }
                out.push(b'}');
            }
        },
        other => {
            return Err(err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

struct JsonParser<'a> {
    s: &'a [u8],
    at: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self
            .s
            .get(self.at)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T> {
        Err(err(format!(
            "Expected {what} but found invalid token at character {}",
            self.at + 1
        )))
    }

    fn value(&mut self, lua: &Lua, depth: usize) -> Result<Value> {
        if depth > 1000 {
            return Err(err("Found too many nested data structures (1001)"));
        }
        self.ws();
        match self.s.get(self.at) {
            Some(b'{') => {
                self.at += 1;
                let t = lua.create_table()?;
                self.ws();
                if self.s.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.ws();
                    if self.s.get(self.at) != Some(&b'"') {
                        return self.fail("object key string");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.at) != Some(&b':') {
                        return self.fail("colon");
                    }
                    self.at += 1;
                    let v = self.value(lua, depth + 1)?;
                    t.raw_set(lua.create_string(&k)?, v)?;
                    self.ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return self.fail("comma or object end"),
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let t = lua.create_table()?;
                self.ws();
                if self.s.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(lua, depth + 1)?;
                    t.raw_set(i, v)?;
                    i += 1;
                    self.ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return self.fail("comma or array end"),
                    }
                }
            }
            Some(b'"') => Ok(Value::String(lua.create_string(self.string()?)?)),
            Some(b't') if self.s[self.at..].starts_with(b"true") => {
                self.at += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.s[self.at..].starts_with(b"false") => {
                self.at += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.s[self.at..].starts_with(b"null") => {
                self.at += 4;
                Ok(json_null())
            }
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.at;
                while self
                    .s
                    .get(self.at)
                    .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    self.at += 1;
                }
                match std::str::from_utf8(&self.s[start..self.at])
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                {
                    Some(n) => Ok(Value::Number(n)),
                    None => {
                        self.at = start;
                        self.fail("value")
                    }
                }
            }
            _ => self.fail("value"),
        }
    }

    fn string(&mut self) -> Result<Vec<u8>> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.at) else {
                return self.fail("string end");
            };
            self.at += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.at) else {
                        return self.fail("escape");
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let cp = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&cp)
                                && self.s[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let lo = self.hex4()?;
                                0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                cp
                            };
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut b = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        }
                        _ => return self.fail("valid escape"),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.s.get(self.at..self.at + 4).unwrap_or_default();
        let v = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match v {
            Some(v) if digits.len() == 4 => {
                self.at += 4;
                Ok(v)
            }
            _ => self.fail("unicode escape"),
        }
    }
}

// ------------------------------------------------------------------ cmsgpack

fn cmsgpack(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(err("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                mp_encode(v, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = s.as_bytes();
            let mut at = 0;
            let mut values = Vec::new();
            while at < bytes.len() {
                values.push(mp_decode(lua, &bytes, &mut at, 0)?);
            }
            Ok(MultiValue::from_vec(values))
        })?,
    )?;
    Ok(t)
}

fn mp_encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if depth > 16 {
        out.push(0xc0);
        return Ok(());
    }
    match v {
        Value::Nil => out.push(0xc0),
        Value::LightUserData(p) if p.0.is_null() => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => mp_int(*i, out),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.is_finite() && n.abs() < 9.2e18 {
                mp_int(*n as i64, out);
            } else if (*n as f32) as f64 == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let n = b.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= 0xff {
                out.extend_from_slice(&[0xd9, n as u8]);
            } else if n <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) => match sequence_len(t)? {
            Some(n) => {
                mp_len(n, 0x90, 0xdc, out);
                for i in 1..=n {
                    mp_encode(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().collect::<Result<_>>()?;
                mp_len(pairs.len(), 0x80, 0xde, out);
                for (k, val) in &pairs {
                    mp_encode(k, out, depth + 1)?;
                    mp_encode(val, out, depth + 1)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

fn mp_len(n: usize, fix: u8, wide: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(wide);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(wide + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn mp_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        if i < 128 {
            out.push(i as u8);
        } else if i <= 0xff {
            out.extend_from_slice(&[0xcc, i as u8]);
        } else if i <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(i as u16).to_be_bytes());
        } else if i <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(i as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(i as u64).to_be_bytes());
        }
    } else if i >= -32 {
        out.push(i as i8 as u8);
    } else if i >= -128 {
        out.extend_from_slice(&[0xd0, i as i8 as u8]);
    } else if i >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn mp_decode(lua: &Lua, b: &[u8], at: &mut usize, depth: usize) -> Result<Value> {
    let bad = || err("Missing bytes in input.");
    let take = |at: &mut usize, n: usize| -> Result<&[u8]> {
        let s = b.get(*at..*at + n).ok_or_else(bad)?;
        *at += n;
        Ok(s)
    };
    if depth > 1000 {
        return Err(err("too deep"));
    }
    let c = *take(at, 1)?.first().ok_or_else(bad)?;
    let be = |s: &[u8]| s.iter().fold(0u64, |a, &x| (a << 8) | x as u64);
    Ok(match c {
        0x00..=0x7f => Value::Integer(c as i64),
        0xe0..=0xff => Value::Integer(c as i8 as i64),
        0xc0 => Value::Nil,
        0xc2 => Value::Boolean(false),
        0xc3 => Value::Boolean(true),
        0xcc..=0xcf => {
            let n = 1 << (c - 0xcc);
            Value::Integer(be(take(at, n)?) as i64)
        }
        0xd0 => Value::Integer(take(at, 1)?[0] as i8 as i64),
        0xd1 => Value::Integer(be(take(at, 2)?) as u16 as i16 as i64),
        0xd2 => Value::Integer(be(take(at, 4)?) as u32 as i32 as i64),
        0xd3 => Value::Integer(be(take(at, 8)?) as i64),
        0xca => Value::Number(f32::from_bits(be(take(at, 4)?) as u32) as f64),
        0xcb => Value::Number(f64::from_bits(be(take(at, 8)?))),
        0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
            let n = match c {
                0xa0..=0xbf => (c & 0x1f) as usize,
                0xd9 | 0xc4 => take(at, 1)?[0] as usize,
                0xda | 0xc5 => be(take(at, 2)?) as usize,
                _ => be(take(at, 4)?) as usize,
            };
            Value::String(lua.create_string(take(at, n)?)?)
        }
        0x90..=0x9f | 0xdc | 0xdd => {
            let n = match c {
                0x90..=0x9f => (c & 0x0f) as usize,
                0xdc => be(take(at, 2)?) as usize,
                _ => be(take(at, 4)?) as usize,
            };
            let t = lua.create_table()?;
            for i in 1..=n {
                t.raw_set(i, mp_decode(lua, b, at, depth + 1)?)?;
            }
            Value::Table(t)
        }
        0x80..=0x8f | 0xde | 0xdf => {
            let n = match c {
                0x80..=0x8f => (c & 0x0f) as usize,
                0xde => be(take(at, 2)?) as usize,
                _ => be(take(at, 4)?) as usize,
            };
            let t = lua.create_table()?;
            for _ in 0..n {
                let k = mp_decode(lua, b, at, depth + 1)?;
                let v = mp_decode(lua, b, at, depth + 1)?;
                if !matches!(k, Value::Nil) {
                    t.raw_set(k, v)?;
                }
            }
            Value::Table(t)
        }
        _ => return Err(err("Bad data format in input.")),
    })
}

// ------------------------------------------------------------------ bit

/// LuaBitOp's argument rule: the number modulo 2^32, as a signed 32-bit value.
fn tobit(v: &Value) -> Result<i32> {
    let n = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .ok_or_else(|| err("bad argument (number expected)"))?,
        _ => return Err(err("bad argument (number expected, got no value)")),
    };
    // As LuaBitOp: add 2^52+2^51 and take the low 32 bits.
    let biased = n + 6755399441055744.0;
    Ok(biased.to_bits() as u32 as i32)
}

fn bit(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("tobit", lua.create_function(|_, v: Value| tobit(&v))?)?;
    t.raw_set("bnot", lua.create_function(|_, v: Value| Ok(!tobit(&v)?))?)?;
    let fold = |op: fn(i32, i32) -> i32| {
        move |_: &Lua, args: Variadic<Value>| -> Result<i32> {
            let mut it = args.iter();
            let mut acc = tobit(it.next().unwrap_or(&Value::Nil))?;
            for v in it {
                acc = op(acc, tobit(v)?);
            }
            Ok(acc)
        }
    };
    t.raw_set("band", lua.create_function(fold(|a, b| a & b))?)?;
    t.raw_set("bor", lua.create_function(fold(|a, b| a | b))?)?;
    t.raw_set("bxor", lua.create_function(fold(|a, b| a ^ b))?)?;
    let shift = |op: fn(i32, u32) -> i32| {
        move |_: &Lua, (v, n): (Value, Value)| -> Result<i32> {
            Ok(op(tobit(&v)?, (tobit(&n)? & 31) as u32))
        }
    };
    t.raw_set(
        "lshift",
        lua.create_function(shift(|a, n| ((a as u32) << n) as i32))?,
    )?;
    t.raw_set(
        "rshift",
        lua.create_function(shift(|a, n| ((a as u32) >> n) as i32))?,
    )?;
    t.raw_set("arshift", lua.create_function(shift(|a, n| a >> n))?)?;
    t.raw_set(
        "rol",
        lua.create_function(shift(|a, n| (a as u32).rotate_left(n) as i32))?,
    )?;
    t.raw_set(
        "ror",
        lua.create_function(shift(|a, n| (a as u32).rotate_right(n) as i32))?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, v: Value| Ok((tobit(&v)? as u32).swap_bytes() as i32))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (v, n): (Value, Option<Value>)| {
            let x = tobit(&v)? as u32;
            let n = match n {
                Some(n) => tobit(&n)?,
                None => 8,
            };
            let (upper, digits) = if n < 0 {
                (true, (-n) as usize)
            } else {
                (false, n as usize)
            };
            let digits = digits.min(8);
            let full = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(full[8 - digits..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval<T: mlua::FromLuaMulti>(code: &str) -> T {
        let lua = Lua::new();
        install(&lua).unwrap();
        lua.load(code).eval().unwrap()
    }

    #[test]
    fn cjson_round_trips_and_formats_like_cjson() {
        assert_eq!(
            eval::<String>("return cjson.encode({1,2,'a'})"),
            "[1,2,\"a\"]"
        );
        assert_eq!(
            eval::<String>("return cjson.encode({a=0.1})"),
            "{\"a\":0.1}"
        );
        assert_eq!(eval::<String>("return cjson.encode('a/b')"), "\"a\\/b\"");
        assert_eq!(eval::<String>("return cjson.encode({})"), "{}");
        assert_eq!(
            eval::<String>("local t = cjson.decode('{\"x\":[1,2,{\"y\":null}]}') return cjson.encode(t.x[3].y == cjson.null)"),
            "true"
        );
        assert_eq!(eval::<i64>("return cjson.decode('[10,20]')[2]"), 20);
    }

    #[test]
    fn cmsgpack_round_trips() {
        assert_eq!(
            eval::<String>("local a,b = cmsgpack.unpack(cmsgpack.pack({1,'x',{k=true}}, -5)) return cjson.encode({a, b})"),
            "[[1,\"x\",{\"k\":true}],-5]"
        );
        assert_eq!(eval::<i64>("return #cmsgpack.pack(300)"), 3);
    }

    #[test]
    fn bit_ops_are_32_bit_signed() {
        assert_eq!(eval::<i64>("return bit.band(0xff, 0x0f)"), 15);
        assert_eq!(eval::<i64>("return bit.lshift(1, 31)"), i32::MIN as i64);
        assert_eq!(eval::<i64>("return bit.tobit(0xffffffff)"), -1);
        assert_eq!(eval::<String>("return bit.tohex(255, 4)"), "00ff");
        assert_eq!(eval::<i64>("return bit.bxor(5, 3, 1)"), 7);
    }
}
