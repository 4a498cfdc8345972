//! The libraries Redis gives scripts beside Lua's own: `cjson`, `cmsgpack`
//! and `bit`, written here in Rust with the behaviour and error texts of
//! the C libraries Redis embeds (lua-cjson 2.1, lua-cmsgpack 0.4, LuaBitOp
//! 1.0). `struct` is not provided. This module holds what they share: how
//! a library function checks its arguments and raises errors as a C
//! function does with `luaL_error` / `luaL_argerror`.

mod bit;
mod cjson;
mod cmsgpack;

use mlua::{
    FromLuaMulti, Function, IntoLuaMulti, LightUserData, Lua, LuaString, MultiValue, Result, Value,
};

/// Installs the three libraries as globals of `lua`.
pub fn install(lua: &Lua) -> Result<()> {
    let g = lua.globals();
    g.raw_set("cjson", cjson::library(lua)?)?;
    g.raw_set("cmsgpack", cmsgpack::library(lua)?)?;
    g.raw_set("bit", bit::library(lua)?)?;
    Ok(())
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

/// An error the Lua core raises inside a library call (such as a nil
/// table index): no `source:line:` prefix, as `luaG_runerror` adds none
/// while a C function runs.
#[derive(Debug)]
struct LuaRaised(&'static str);

impl std::fmt::Display for LuaRaised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for LuaRaised {}

fn lua_raised(msg: &'static str) -> mlua::Error {
    mlua::Error::external(LuaRaised(msg))
}

/// A library function: its errors are raised as C libraries raise them
/// with `luaL_error`, prefixed by the calling script's `source:line: `.
fn lib_fn<A, R>(lua: &Lua, f: impl Fn(&Lua, A) -> Result<R> + Send + 'static) -> Result<Function>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    lua.create_function(move |lua, args: A| {
        f(lua, args).map_err(|e| match e {
            mlua::Error::RuntimeError(m) => err(format!("{}{m}", caller_position(lua))),
            other => other,
        })
    })
}

/// `luaL_where(L, 1)`: where the running library function was called from.
fn caller_position(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line().filter(|&l| l > 0)?;
        Some(format!("{}:{line}: ", d.source().short_src?))
    })
    .flatten()
    .unwrap_or_default()
}

/// Lua's name for the type of argument `n` (1-based), as its messages say.
fn type_name(args: &MultiValue, n: usize) -> &'static str {
    match args.get(n - 1) {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_argerror`: "bad argument #n to 'name' (...)", the function named
/// as its caller named it.
fn arg_error(lua: &Lua, mut n: usize, msg: &str) -> mlua::Error {
    let (name, method) = lua
        .inspect_stack(0, |d| {
            let names = d.names();
            let name = names.name.map(|s| s.into_owned());
            (name, names.name_what == Some("method"))
        })
        .unwrap_or((None, false));
    let name = name.unwrap_or_else(|| "?".into());
    if method {
        n -= 1;
        if n == 0 {
            return err(format!("calling '{name}' on bad self ({msg})"));
        }
    }
    err(format!("bad argument #{n} to '{name}' ({msg})"))
}

/// `luaL_checklstring`: argument `n` as a string (numbers converted).
fn check_string(lua: &Lua, args: &MultiValue, n: usize) -> Result<LuaString> {
    let v = args.get(n - 1).cloned().unwrap_or(Value::Nil);
    if matches!(v, Value::String(_) | Value::Integer(_) | Value::Number(_)) {
        if let Some(s) = lua.coerce_string(v)? {
            return Ok(s);
        }
    }
    Err(arg_error(
        lua,
        n,
        &format!("string expected, got {}", type_name(args, n)),
    ))
}

/// `luaL_checknumber`: argument `n` as a number (numeric strings converted).
fn check_number(lua: &Lua, args: &MultiValue, n: usize) -> Result<f64> {
    let v = args.get(n - 1).cloned().unwrap_or(Value::Nil);
    if matches!(v, Value::String(_) | Value::Integer(_) | Value::Number(_)) {
        if let Some(x) = lua.coerce_number(v)? {
            return Ok(x);
        }
    }
    Err(arg_error(
        lua,
        n,
        &format!("number expected, got {}", type_name(args, n)),
    ))
}

/// The value `cjson.null` stands for (a light userdata NULL, as in cjson);
/// cmsgpack packs it as nil too.
fn json_null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
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
