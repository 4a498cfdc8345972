//! `cmsgpack`: MessagePack as lua-cmsgpack encodes it (the smallest
//! encoding of each value, a table as an array when its keys are exactly
//! 1..n, tables nested 16 deep packed as nil) and decodes it (several
//! values per string; `unpack_one` and `unpack_limit` with offsets).

use mlua::{Lua, MultiValue, Result, Table, Value};

use super::{arg_error, check_number, check_string, err, lib_fn, lua_raised};

/// Tables nested this deep are packed as nil (survives cycles).
const MAX_NESTING: usize = 16;

/// Deepest nesting unpacked. lua-cmsgpack has no limit of its own (its
/// recursion ends at the C stack); this bound keeps ours well inside the
/// worker's stack, and deeper input is refused as malformed.
const MAX_DECODE_DEPTH: usize = 1000;

pub(super) fn library(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lib_fn(lua, |lua, args: MultiValue| {
            if args.is_empty() {
                return Err(arg_error(lua, 0, "MessagePack pack needs input."));
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
        lib_fn(lua, |lua, args: MultiValue| unpack(lua, &args, None, 0))?,
    )?;
    t.raw_set(
        "unpack_one",
        lib_fn(lua, |lua, args: MultiValue| {
            let offset = opt_int(lua, &args, 2)?;
            unpack(lua, &args, Some(1), offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lib_fn(lua, |lua, args: MultiValue| {
            let limit = check_number(lua, &args, 2)? as i64;
            let offset = opt_int(lua, &args, 3)?;
            unpack(lua, &args, Some(limit), offset)
        })?,
    )?;
    t.raw_set("_NAME", "lua-cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}

/// `luaL_optinteger`: argument `n`, 0 when absent or nil.
fn opt_int(lua: &Lua, args: &MultiValue, n: usize) -> Result<i64> {
    match args.get(n - 1) {
        None | Some(Value::Nil) => Ok(0),
        Some(_) => Ok(check_number(lua, args, n)? as i64),
    }
}

/// Decodes values from argument 1 starting at `offset`: all of them, or at
/// most `limit`, returned after the next offset (-1 at the end).
fn unpack(lua: &Lua, args: &MultiValue, limit: Option<i64>, offset: i64) -> Result<MultiValue> {
    let s = check_string(lua, args, 1)?;
    let bytes = s.as_bytes();
    let len = bytes.len() as i64;
    if offset < 0 || limit.is_some_and(|l| l < 0) {
        // The message prints the input length where the limit goes, as
        // lua-cmsgpack's does.
        return Err(err(format!(
            "Invalid request to unpack with offset of {offset} and limit of {len}."
        )));
    }
    if offset > len {
        return Err(err(format!(
            "Start offset {offset} greater than input length {len}."
        )));
    }
    let decode_all = limit.unwrap_or(0) == 0 && offset == 0;
    let limit = if decode_all {
        i64::MAX
    } else {
        limit.unwrap_or(0)
    };
    let mut at = offset as usize;
    let mut values = Vec::new();
    while at < bytes.len() && (values.len() as i64) < limit {
        values.push(mp_decode(lua, &bytes, &mut at, 0)?);
    }
    if !decode_all {
        let next = if at == bytes.len() { -1 } else { at as i64 };
        values.insert(0, Value::Integer(next));
    }
    Ok(MultiValue::from_vec(values))
}

/// lua-cmsgpack's array test: every key a positive integer and the
/// largest equal to the count (so an empty table is an array).
fn array_length(t: &Table) -> Result<Option<usize>> {
    let mut max = 0f64;
    let mut count = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n <= 0.0 || n.floor() != n {
            return Ok(None);
        }
        max = max.max(n);
        count += 1;
    }
    Ok((max == count as f64).then_some(count))
}

fn mp_encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<()> {
    if matches!(v, Value::Table(_)) && depth == MAX_NESTING {
        out.push(0xc0);
        return Ok(());
    }
    match v {
        Value::Nil => out.push(0xc0),
        Value::LightUserData(p) if p.0.is_null() => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => mp_int(*i, out),
        Value::Number(n) => {
            // An integral value in int64 range packs as an integer.
            if n.fract() == 0.0 && *n >= i64::MIN as f64 && *n < -(i64::MIN as f64) {
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
        Value::Table(t) => match array_length(t)? {
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
    if depth > MAX_DECODE_DEPTH {
        return Err(err("Bad data format in input."));
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
                // As lua_settable would raise (without a script position).
                match k {
                    Value::Nil => return Err(lua_raised("table index is nil")),
                    Value::Number(n) if n.is_nan() => return Err(lua_raised("table index is NaN")),
                    k => t.raw_set(k, v)?,
                }
            }
            Value::Table(t)
        }
        _ => return Err(err("Bad data format in input.")),
    })
}
