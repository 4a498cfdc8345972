//! `bit`: LuaBitOp's operations on 32-bit signed integers (arguments taken
//! modulo 2^32; numeric strings accepted as Lua converts them).

use mlua::{Lua, MultiValue, Result, Table};

use super::{check_number, lib_fn};

/// LuaBitOp's argument rule: argument `n` (a number, or a numeric string)
/// modulo 2^32, as a signed 32-bit value.
fn tobit(lua: &Lua, args: &MultiValue, n: usize) -> Result<i32> {
    let x = check_number(lua, args, n)?;
    // As LuaBitOp: add 2^52+2^51 and take the low 32 bits.
    let biased = x + 6755399441055744.0;
    Ok(biased.to_bits() as u32 as i32)
}

pub(super) fn library(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    let unary =
        |op: fn(i32) -> i32| move |lua: &Lua, args: MultiValue| Ok(op(tobit(lua, &args, 1)?));
    t.raw_set("tobit", lib_fn(lua, unary(|a| a))?)?;
    t.raw_set("bnot", lib_fn(lua, unary(|a| !a))?)?;
    t.raw_set(
        "bswap",
        lib_fn(lua, unary(|a| (a as u32).swap_bytes() as i32))?,
    )?;
    let fold = |op: fn(i32, i32) -> i32| {
        move |lua: &Lua, args: MultiValue| -> Result<i32> {
            let mut acc = tobit(lua, &args, 1)?;
            for n in 2..=args.len() {
                acc = op(acc, tobit(lua, &args, n)?);
            }
            Ok(acc)
        }
    };
    t.raw_set("band", lib_fn(lua, fold(|a, b| a & b))?)?;
    t.raw_set("bor", lib_fn(lua, fold(|a, b| a | b))?)?;
    t.raw_set("bxor", lib_fn(lua, fold(|a, b| a ^ b))?)?;
    let shift = |op: fn(i32, u32) -> i32| {
        move |lua: &Lua, args: MultiValue| -> Result<i32> {
            let a = tobit(lua, &args, 1)?;
            let n = tobit(lua, &args, 2)?;
            Ok(op(a, (n & 31) as u32))
        }
    };
    t.raw_set(
        "lshift",
        lib_fn(lua, shift(|a, n| ((a as u32) << n) as i32))?,
    )?;
    t.raw_set(
        "rshift",
        lib_fn(lua, shift(|a, n| ((a as u32) >> n) as i32))?,
    )?;
    t.raw_set("arshift", lib_fn(lua, shift(|a, n| a >> n))?)?;
    t.raw_set(
        "rol",
        lib_fn(lua, shift(|a, n| (a as u32).rotate_left(n) as i32))?,
    )?;
    t.raw_set(
        "ror",
        lib_fn(lua, shift(|a, n| (a as u32).rotate_right(n) as i32))?,
    )?;
    t.raw_set(
        "tohex",
        lib_fn(lua, |lua, args: MultiValue| {
            let x = tobit(lua, &args, 1)? as u32;
            // Only an absent count means 8; an explicit nil is an error.
            let n = match args.get(1) {
                None => 8,
                Some(_) => tobit(lua, &args, 2)?,
            };
            let (upper, digits) = if n < 0 {
                (true, n.unsigned_abs() as usize)
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
