//! Conversions between RESP replies and Lua values, by Redis's rules in
//! both directions: a command's reply as `redis.call` returns it to the
//! script, and the script's return value as the reply EVAL sends.

use mlua::{Lua, Result, Table, Value};

use crate::protocol::Reply;

/// Reads the one RESP frame at `b[*at..]` into a Lua value. `resp3` is the
/// script's protocol (`redis.setresp`): RESP2 nulls become `false`, RESP3
/// nulls `nil`.
pub fn frame_to_lua(lua: &Lua, b: &[u8], at: &mut usize, resp3: bool) -> Result<Value> {
    let line_end = memchr::memmem::find(&b[*at..], b"\r\n")
        .map(|i| *at + i)
        .ok_or_else(|| mlua::Error::RuntimeError("truncated reply".into()))?;
    let kind = b[*at];
    let head = &b[*at + 1..line_end];
    *at = line_end + 2;
    let num = || -> i64 {
        std::str::from_utf8(head)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    let null = if resp3 {
        Value::Nil
    } else {
        Value::Boolean(false)
    };
    Ok(match kind {
        b'+' => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(head)?)?;
            Value::Table(t)
        }
        b'-' => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(head)?)?;
            Value::Table(t)
        }
        b':' => Value::Integer(num()),
        b'$' | b'=' | b'!' => {
            let n = num();
            if n < 0 {
                return Ok(null);
            }
            let data = &b[*at..*at + n as usize];
            *at += n as usize + 2;
            match kind {
                b'=' => {
                    let (format, text) = data.split_at(data.len().min(3));
                    let t = lua.create_table()?;
                    let v = lua.create_table()?;
                    v.raw_set("format", lua.create_string(format)?)?;
                    v.raw_set(
                        "string",
                        lua.create_string(text.get(1..).unwrap_or_default())?,
                    )?;
                    t.raw_set("verbatim_string", v)?;
                    Value::Table(t)
                }
                b'!' => {
                    let t = lua.create_table()?;
                    t.raw_set("err", lua.create_string(data)?)?;
                    Value::Table(t)
                }
                _ => Value::String(lua.create_string(data)?),
            }
        }
        b'*' | b'>' => {
            let n = num();
            if n < 0 {
                return Ok(null);
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n {
                let v = frame_to_lua(lua, b, at, resp3)?;
                t.raw_set(i, v)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let n = num();
            let map = lua.create_table()?;
            for _ in 0..n {
                let k = frame_to_lua(lua, b, at, resp3)?;
                let v = frame_to_lua(lua, b, at, resp3)?;
                map.raw_set(k, v)?;
            }
            let t = lua.create_table()?;
            t.raw_set("map", map)?;
            Value::Table(t)
        }
        b'~' => {
            let n = num();
            let set = lua.create_table()?;
            for _ in 0..n {
                let k = frame_to_lua(lua, b, at, resp3)?;
                set.raw_set(k, true)?;
            }
            let t = lua.create_table()?;
            t.raw_set("set", set)?;
            Value::Table(t)
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let v = crate::numeric::parse_double(head)
                .or_else(|| std::str::from_utf8(head).ok()?.parse().ok())
                .unwrap_or(0.0);
            let t = lua.create_table()?;
            t.raw_set("double", v)?;
            Value::Table(t)
        }
        b'(' => {
            let t = lua.create_table()?;
            t.raw_set("big_number", lua.create_string(head)?)?;
            Value::Table(t)
        }
        b'|' => {
            // Attributes are dropped; the value that follows is the reply.
            let n = num();
            for _ in 0..n * 2 {
                frame_to_lua(lua, b, at, resp3)?;
            }
            frame_to_lua(lua, b, at, resp3)?
        }
        _ => Value::Nil,
    })
}

/// Deepest table nesting a script's reply may have; past it the reply
/// carries "reached lua stack limit". Redis stops later, where its Lua
/// stack runs out (7995 levels of arrays); 1000 keeps the recursion well
/// inside a worker's stack in every build.
const MAX_DEPTH: usize = 1000;

/// Writes a script's return value as the reply. `script_resp3` is the
/// script's own protocol (booleans become RESP3 booleans only after
/// `redis.setresp(3)`).
pub fn lua_to_reply(v: &Value, out: &mut Reply, script_resp3: bool, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        out.error_bytes(crate::errors::LUA_STACK_LIMIT);
        return Ok(());
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(truncate(*n)),
        Value::Boolean(true) => {
            if script_resp3 {
                out.boolean(true)
            } else {
                out.int(1)
            }
        }
        Value::Boolean(false) => {
            if script_resp3 {
                out.boolean(false)
            } else {
                out.null()
            }
        }
        Value::Table(t) => table_to_reply(t, out, script_resp3, depth)?,
        _ => out.null(),
    }
    Ok(())
}

/// Lua numbers become integers truncated toward zero; what does not fit
/// (NaN, infinities, huge values) becomes the smallest i64, as in Redis.
fn truncate(n: f64) -> i64 {
    if n.is_finite() && n >= i64::MIN as f64 && n < i64::MAX as f64 {
        n.trunc() as i64
    } else {
        i64::MIN
    }
}

fn field(t: &Table, name: &str) -> Result<Value> {
    t.raw_get::<Value>(name)
}

fn table_to_reply(t: &Table, out: &mut Reply, script_resp3: bool, depth: usize) -> Result<()> {
    if let Value::String(e) = field(t, "err")? {
        out.error_bytes(&e.as_bytes());
        return Ok(());
    }
    if let Value::String(s) = field(t, "ok")? {
        let text: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
            .collect();
        out.status_bytes(&text);
        return Ok(());
    }
    match field(t, "double")? {
        Value::Number(n) => {
            out.double(n);
            return Ok(());
        }
        Value::Integer(i) => {
            out.double(i as f64);
            return Ok(());
        }
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number")? {
        out.big_number(&s.as_bytes());
        return Ok(());
    }
    if let Value::Table(v) = field(t, "verbatim_string")? {
        if let (Value::String(f), Value::String(s)) = (field(&v, "format")?, field(&v, "string")?) {
            out.verbatim_with(&f.as_bytes(), &s.as_bytes());
            return Ok(());
        }
    }
    if let Value::Table(m) = field(t, "map")? {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().collect::<Result<_>>()?;
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(k, out, script_resp3, depth + 1)?;
            lua_to_reply(v, out, script_resp3, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(s) = field(t, "set")? {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .map(|p| p.map(|(k, _)| k))
            .collect::<Result<_>>()?;
        out.set(keys.len());
        for k in &keys {
            lua_to_reply(k, out, script_resp3, depth + 1)?;
        }
        return Ok(());
    }
    // An array: t[1], t[2], ... up to the first nil.
    let mut items = Vec::new();
    loop {
        let v: Value = t.raw_get(items.len() + 1)?;
        if matches!(v, Value::Nil) {
            break;
        }
        items.push(v);
    }
    out.array(items.len());
    for v in &items {
        lua_to_reply(v, out, script_resp3, depth + 1)?;
    }
    Ok(())
}
