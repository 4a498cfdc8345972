//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, with the
//! Lua 5.1 Redis embeds (mlua, vendored).
//!
//! - **One VM** per server, created on first use. Scripts run in an
//!   exclusive unit (EVAL's table flag): nothing else runs meanwhile, so a
//!   script may touch any key, declared or not (queue libraries build key
//!   names from prefixes), and is atomic.
//! - **Sandbox** as Redis 7: globals and the library tables are read-only
//!   (`Attempt to modify a readonly table`), reading an undefined global is
//!   an error, `os`, `io`, `package`, `debug`, `dofile`, `loadfile`,
//!   `print`, `setfenv`, `getfenv` and `newproxy` are absent. `struct` is
//!   not provided.
//! - **`redis.call`** dispatches through the command table with the
//!   script's own session (its database, its protocol), converting replies
//!   by Redis's rules (`convert`).
//! - **Busy scripts**: past `busy-reply-threshold` other clients get BUSY
//!   (their worker is handed to another thread), SCRIPT KILL stops a script
//!   that has not written, SHUTDOWN NOSAVE stops any.

mod convert;
mod libs;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use parking_lot::Mutex;

use super::dispatch::invoke;
use super::table::{self, CommandTable};
use super::{eq_ic, int_arg, Ctx, Session};
use crate::config::P;
use crate::engine::clients::ClientKind;
use crate::engine::cluster::Redirect;
use crate::engine::slot::key_slot;
use crate::engine::store::Access;
use crate::engine::Engine;
use crate::errors::{self, CmdError, CmdResult};
use crate::protocol::Reply;

/// Lua instructions between two checks of the clock and the kill flag.
const HOOK_EVERY: u32 = 100_000;

/// What other threads may see of the script that is running.
#[derive(Default)]
pub struct Status {
    running: AtomicBool,
    busy: AtomicBool,
    wrote: AtomicBool,
    kill: AtomicBool,
    started: Mutex<Option<Instant>>,
}

/// The scripting state shared by every connection.
#[derive(Default)]
pub struct Scripts {
    vm: OnceLock<Mutex<Vm>>,
    pub status: Arc<Status>,
}

struct Cached {
    func: Function,
    flags: u32,
    body: Box<[u8]>,
}

struct Vm {
    lua: Lua,
    cache: HashMap<String, Cached>,
    /// `run(f)`: calls `f` under xpcall with the error handler.
    run: Function,
    /// The protected globals scripts see (KEYS and ARGV are set in `real`).
    env: Table,
    real: Table,
    /// The session scripts run their commands in (a client of its own),
    /// kept from run to run with its buffers.
    sess: Session,
    scratch: Reply,
    args: CallArgs,
    /// The run `redis.call` and friends act on.
    current: Arc<CurrentCall>,
}

// SAFETY: a Vm owns its Lua state and every handle into it (functions,
// tables, the callbacks and what they capture); nothing that refers into
// the state lives outside the Vm (a run converts results to Rust data
// before the Vm's mutex is released). Every use of a Vm is under that
// mutex, which orders accesses from different threads, so moving the Vm
// between threads never lets two threads touch the state (or the
// reference counts inside mlua's handles) at once. mlua's `send` feature
// would add a lock to every handle operation for the same guarantee.
unsafe impl Send for Vm {}

// Shebang flags.
const SF_SHEBANG: u32 = 1;
const SF_NO_WRITES: u32 = 2;
const SF_ALLOW_OOM: u32 = 4;
const SF_ALLOW_STALE: u32 = 8;
const SF_NO_CLUSTER: u32 = 16;
const SF_CROSS_SLOT: u32 = 32;

/// The Lua part of the sandbox and the runner, loaded once per VM.
const PRELUDE: &str = r#"
local real, env, handler, killed, errtext = ...
local rawset_, setmetatable_, getmetatable_ = rawset, setmetatable, getmetatable
local loadstring_, load_, setfenv_, pcall_, xpcall_, error_ = loadstring, load, setfenv, pcall, xpcall, error
local protected = {}
local function readonly(t)
  local proxy = {}
  setmetatable_(proxy, {
    __index = t,
    __newindex = function() error_("Attempt to modify a readonly table", 2) end,
    __metatable = false,
  })
  protected[proxy] = true
  return proxy
end
for _, name in ipairs({"string", "table", "math", "cjson", "cmsgpack", "bit", "coroutine"}) do
  if real[name] ~= nil then real[name] = readonly(real[name]) end
end
protected[env] = true
setmetatable_(env, {
  __index = real,
  __newindex = function() error_("Attempt to modify a readonly table", 2) end,
  __metatable = false,
})
setmetatable_(real, {
  __index = function(_, k)
    error_("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})
real._G = env
real.rawset = function(t, k, v)
  if protected[t] then error_("Attempt to modify a readonly table", 0) end
  return rawset_(t, k, v)
end
real.setmetatable = function(t, m)
  if protected[t] then error_("Attempt to modify a readonly table", 0) end
  return setmetatable_(t, m)
end
real.loadstring = function(s, name)
  local f, e = loadstring_(s, name)
  if f then setfenv_(f, env) end
  return f, e
end
real.load = function(f, name)
  local g, e = load_(f, name)
  if g then setfenv_(g, env) end
  return g, e
end
-- Redis errors travel as tables {err=...} (or, from redis.call, as an
-- error value errtext reads); pcall hands scripts their text, and never
-- swallows SCRIPT KILL.
local function fix(ok, ...)
  if ok then return true, ... end
  local e = ...
  if killed() then error_(e, 0) end
  if type(e) == "table" and e.err then return false, e.err end
  local text = errtext(e)
  if text then return false, text end
  return false, e
end
real.pcall = function(f, ...) return fix(pcall_(f, ...)) end
real.xpcall = function(f, h)
  return xpcall_(f, function(e)
    if killed() then return e end
    return h(e)
  end)
end
return function(f) return xpcall_(f, handler) end
"#;

impl Scripts {
    fn vm(&self, eng: &Arc<Engine>) -> CmdResult<&Mutex<Vm>> {
        if let Some(vm) = self.vm.get() {
            return Ok(vm);
        }
        let vm = Vm::new(eng.clone(), self.status.clone()).map_err(|e| {
            tracing::warn!("cannot start the Lua VM: {e}");
            errors::script_engine_failed()
        })?;
        Ok(self.vm.get_or_init(|| Mutex::new(vm)))
    }
}

impl Vm {
    fn new(eng: Arc<Engine>, status: Arc<Status>) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        libs::install(&lua)?;
        let real = lua.globals();
        let redis = redis_table(&lua)?;
        real.raw_set("redis", redis.clone())?;
        let env = lua.create_table()?;
        let handler = lua.create_function(error_handler)?;
        let killed = {
            let status = status.clone();
            lua.create_function(move |_, ()| Ok(status.kill.load(Relaxed)))?
        };
        let errtext = lua.create_function(|lua, v: Value| match &v {
            Value::Error(e) => match call_error_text(e) {
                Some(t) => Ok(Value::String(lua.create_string(t)?)),
                None => Ok(Value::Nil),
            },
            _ => Ok(Value::Nil),
        })?;
        // The prelude captures setfenv and friends before they are removed.
        let prelude = lua.load(PRELUDE).set_name("=prelude").into_function()?;
        let run: Function = prelude.call((real.clone(), env.clone(), handler, killed, errtext))?;
        for name in [
            "dofile", "loadfile", "print", "setfenv", "getfenv", "newproxy", "gcinfo", "module",
            "require",
        ] {
            real.raw_set(name, Value::Nil)?;
        }
        install_hook(&lua, eng.clone(), status)?;
        let current = Arc::new(CurrentCall::default());
        for (name, raise) in [("call", true), ("pcall", false)] {
            let current = current.clone();
            let f = lua.create_function(move |lua, args: MultiValue| {
                current
                    .with(|c| c.lua_call(lua, args, raise))
                    .unwrap_or_else(|| Err(not_in_script()))
            })?;
            redis.raw_set(name, f)?;
        }
        let setresp = {
            let current = current.clone();
            lua.create_function(move |_, v: Value| {
                let n = match v {
                    Value::Integer(n) => n,
                    Value::Number(n) => n as i64,
                    _ => 0,
                };
                if n != 2 && n != 3 {
                    return Err(mlua::Error::RuntimeError(
                        "RESP version must be 2 or 3.".into(),
                    ));
                }
                current
                    .with(|c| c.scratch.set_resp3(n == 3))
                    .ok_or_else(not_in_script)
            })?
        };
        redis.raw_set("setresp", setresp)?;
        let client = eng.clients.detached("lua");
        Ok(Vm {
            lua,
            cache: HashMap::new(),
            run,
            env,
            real,
            sess: {
                let mut s = Session::new(client, true);
                s.nested = true;
                s.script = true;
                s
            },
            scratch: Reply::new(),
            args: CallArgs::default(),
            current,
        })
    }

    /// Compiles `body` (shebang stripped, its newline kept) into the cache.
    fn load(&mut self, sha: &str, body: &[u8]) -> CmdResult<u32> {
        if let Some(c) = self.cache.get(sha) {
            return Ok(c.flags);
        }
        let (flags, code) = parse_shebang(body)?;
        let func = self
            .lua
            .load(code)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| errors::script_compile(&lua_message(&e)))?;
        self.cache.insert(
            sha.to_string(),
            Cached {
                func,
                flags,
                body: body.into(),
            },
        );
        Ok(flags)
    }
}

/// The SHA1 of a script body, as lowercase hex.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// Splits `#!lua flags=...` off a script; the first line's newline stays
/// so line numbers keep counting from the top.
fn parse_shebang(body: &[u8]) -> CmdResult<(u32, Vec<u8>)> {
    if !body.starts_with(b"#!") {
        return Ok((0, body.to_vec()));
    }
    let Some(nl) = memchr::memchr(b'\n', body) else {
        return Err(errors::SCRIPT_BAD_SHEBANG);
    };
    let line = &body[2..nl];
    let mut parts = line.split(|&c| c == b' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or_default();
    if engine != b"lua" {
        return Err(errors::script_shebang_engine(engine));
    }
    let mut flags = SF_SHEBANG;
    for opt in parts {
        let Some(list) = opt.strip_prefix(b"flags=") else {
            return Err(errors::script_shebang_option(opt));
        };
        for f in list.split(|&c| c == b',').filter(|f| !f.is_empty()) {
            flags |= match f {
                b"no-writes" => SF_NO_WRITES,
                b"allow-oom" => SF_ALLOW_OOM,
                b"allow-stale" => SF_ALLOW_STALE,
                b"no-cluster" => SF_NO_CLUSTER,
                b"allow-cross-slot-keys" => SF_CROSS_SLOT,
                other => return Err(errors::script_shebang_flag(other)),
            };
        }
    }
    let mut code = vec![b'\n'];
    code.extend_from_slice(&body[nl + 1..]);
    Ok((flags, code))
}

/// A command's error raised by `redis.call` (a Rust function, so the
/// script's own frame stays on the stack for the error's line number).
#[derive(Debug)]
struct CallError(Vec<u8>);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for CallError {}

/// The Redis error text inside a Lua error raised by `redis.call`.
fn call_error_text(e: &mlua::Error) -> Option<&[u8]> {
    match e {
        mlua::Error::ExternalError(x) => x.downcast_ref::<CallError>().map(|c| &c.0[..]),
        mlua::Error::CallbackError { cause, .. } => call_error_text(cause),
        mlua::Error::WithContext { cause, .. } => call_error_text(cause),
        _ => None,
    }
}

/// The text of a Lua error as Redis shows it (no "runtime error:" prefix).
fn lua_message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_message(cause),
        other => other.to_string(),
    }
}

/// The message handler under xpcall: turns the error into
/// `{err=..., line=...}`, locating the script line that raised it.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let text: Vec<u8> = match &err {
        Value::Table(t) => match t.raw_get::<Value>("err")? {
            Value::String(s) => s.as_bytes().to_vec(),
            _ => errors::err_text(b"unknown error"),
        },
        Value::String(s) => errors::err_text(&s.as_bytes()),
        Value::Error(e) if call_error_text(e).is_some() => {
            call_error_text(e).unwrap_or_default().to_vec()
        }
        Value::Error(e) => {
            let m = lua_message(e);
            if errors::has_err_code(m.as_bytes()) {
                m.into_bytes()
            } else {
                errors::err_text(m.as_bytes())
            }
        }
        other => errors::err_text(other.type_name().as_bytes()),
    };
    let mut line = 0;
    for level in 0..64 {
        let found = lua.inspect_stack(level, |d| {
            let src = d.source();
            (src.source.as_deref() == Some("@user_script")).then(|| d.current_line())
        });
        match found {
            None => break,
            Some(Some(l)) => {
                line = l.unwrap_or(0);
                break;
            }
            Some(None) => {}
        }
    }
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(&text)?)?;
    t.raw_set("line", line)?;
    Ok(t)
}

/// The `redis` table: everything but `call`, `pcall` and `setresp`, which
/// act on the running script (see [`CurrentCall`]).
fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let r = lua.create_table()?;
    r.raw_set("REDIS_VERSION", crate::REDIS_COMPAT_VERSION)?;
    r.raw_set("REDIS_VERSION_NUM", 0x07000f)?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        r.raw_set(name, v)?;
    }
    r.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::RuntimeError(
                    "wrong number of arguments".into(),
                ));
            }
            // Numbers hash their string form; other non-strings hash as "".
            let arg = args.into_iter().next().unwrap_or(Value::Nil);
            match lua.coerce_string(arg)? {
                Some(s) => Ok(sha1_hex(&s.as_bytes())),
                None => Ok(sha1_hex(b"")),
            }
        })?,
    )?;
    r.raw_set(
        "error_reply",
        lua.create_function(|lua, v: Value| {
            let Value::String(s) = v else {
                let t = lua.create_table()?;
                t.raw_set("err", errors::LUA_BAD_REPLY_ARGS)?;
                return Ok(t);
            };
            // As Redis: the first word is the code when there is a space,
            // otherwise the code is ERR.
            let bytes = s.as_bytes();
            let body = bytes.strip_prefix(b"-").unwrap_or(&bytes);
            let text = if body.contains(&b' ') {
                body.to_vec()
            } else {
                errors::err_text(body)
            };
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(&text)?)?;
            Ok(t)
        })?,
    )?;
    r.raw_set(
        "status_reply",
        lua.create_function(|lua, v: Value| {
            let t = lua.create_table()?;
            match v {
                Value::String(s) => t.raw_set("ok", s)?,
                _ => t.raw_set("err", errors::LUA_BAD_REPLY_ARGS)?,
            }
            Ok(t)
        })?,
    )?;
    r.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            let mut it = args.into_iter();
            let level = match it.next() {
                Some(Value::Integer(l)) => l,
                Some(Value::Number(n)) => n as i64,
                _ => {
                    return Err(mlua::Error::RuntimeError(
                        "First argument must be a number (log level).".into(),
                    ))
                }
            };
            if !(0..=3).contains(&level) {
                return Err(mlua::Error::RuntimeError("Invalid debug level.".into()));
            }
            let msg: Vec<String> = it
                .map(|v| match v {
                    Value::String(s) => s.to_string_lossy(),
                    other => format!("{other:?}"),
                })
                .collect();
            let msg = msg.join(" ");
            match level {
                3 => tracing::warn!("script: {msg}"),
                2 => tracing::info!("script: {msg}"),
                _ => tracing::debug!("script: {msg}"),
            }
            Ok(())
        })?,
    )?;
    r.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    r.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    r.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    r.raw_set(
        "set_repl",
        lua.create_function(|_, v: i64| {
            if !(0..=3).contains(&v) {
                return Err(mlua::Error::RuntimeError(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
                        .into(),
                ));
            }
            Ok(())
        })?,
    )?;
    r.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            let name = match args.into_iter().next() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            if CommandTable::get().lookup(&name).is_none() {
                return Err(mlua::Error::RuntimeError(
                    "Invalid command passed to redis.acl_check_cmd()".into(),
                ));
            }
            Ok(true)
        })?,
    )?;
    Ok(r)
}

/// Checks the clock and the kill flag every `HOOK_EVERY` instructions.
fn install_hook(lua: &Lua, eng: Arc<Engine>, status: Arc<Status>) -> mlua::Result<()> {
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, _| {
            if status.kill.load(Relaxed) {
                return Err(mlua::Error::RuntimeError(
                    String::from_utf8_lossy(errors::SCRIPT_KILLED.text()).into_owned(),
                ));
            }
            let threshold = eng.settings.int(P::BusyReplyThreshold);
            if threshold <= 0 || status.busy.load(Relaxed) {
                return Ok(VmState::Continue);
            }
            let started = *status.started.lock();
            if started.is_some_and(|t| t.elapsed() >= Duration::from_millis(threshold as u64)) {
                tracing::warn!(
                    "Slow script detected: still in execution after {threshold} milliseconds. You can try killing the script using the SCRIPT KILL command."
                );
                status.busy.store(true, Relaxed);
                eng.gate.set_busy(true);
                hand_off_worker();
            }
            Ok(VmState::Continue)
        },
    )
}

/// Hands this thread's scheduler role to another thread, so the clients
/// that share it get BUSY replies while the script goes on here.
fn hand_off_worker() {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        // The sleep gives the new thread time to take the worker over
        // before this call returns.
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(20)));
    }
}

/// The state `redis.call` works with during one script run.
struct Call<'c, 'e> {
    rt: &'e super::Runtime,
    unit: &'c mut crate::engine::unit::Unit<'e>,
    sess: &'c mut Session,
    scratch: &'c mut Reply,
    args: &'c mut CallArgs,
    now: u64,
    read_only: bool,
    /// Scripts without a shebang check OOM at each deny-oom call.
    check_oom: bool,
    status: &'c Status,
    /// Cluster mode (not for a master's stream): each call's keys must be
    /// served here and share one slot (the declared keys' slot, else the
    /// first one used), unless `allow-cross-slot-keys`.
    cluster_check: bool,
    cluster_slot: Option<u16>,
    allow_cross_slot: bool,
    asking: bool,
}

/// `redis.call` arguments as bytes, in buffers kept from call to call.
#[derive(Default)]
struct CallArgs {
    bytes: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

impl CallArgs {
    /// Converts Lua arguments: strings as they are, numbers in `%.17g`
    /// (integers exactly); anything else is refused as Redis refuses it.
    fn fill(&mut self, args: MultiValue) -> Result<(), CmdError> {
        self.bytes.clear();
        self.ranges.clear();
        let mut ibuf = itoa::Buffer::new();
        for v in args {
            let start = self.bytes.len();
            match v {
                Value::String(s) => self.bytes.extend_from_slice(&s.as_bytes()),
                Value::Integer(i) => self.bytes.extend_from_slice(ibuf.format(i).as_bytes()),
                Value::Number(n) => {
                    self.bytes
                        .extend_from_slice(crate::numeric::fmt_g(n, 17).as_bytes());
                }
                _ => return Err(errors::SCRIPT_BAD_ARG_TYPE),
            }
            self.ranges.push(start..self.bytes.len());
        }
        Ok(())
    }
}

/// The running script's [`Call`], for the functions `redis.call`,
/// `redis.pcall` and `redis.setresp`, which are created once with the VM
/// (creating them per run, bound to the run, cost more than the scripts
/// most clients send).
#[derive(Default)]
struct CurrentCall(AtomicPtr<()>);

/// Clears the current call when the run ends, however it ends.
struct CallGuard<'a>(&'a CurrentCall);

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.0 .0.store(std::ptr::null_mut(), Relaxed);
    }
}

impl CurrentCall {
    /// Makes `call` the current one until the guard drops; the guard
    /// borrows `call`, so the pointer never outlives it.
    fn enter<'a>(&'a self, call: &'a mut Call<'_, '_>) -> CallGuard<'a> {
        self.0
            .store((call as *mut Call<'_, '_>).cast::<()>(), Relaxed);
        CallGuard(self)
    }

    /// Runs `f` on the current call; None outside a script run.
    fn with<R>(&self, f: impl FnOnce(&mut Call<'_, '_>) -> R) -> Option<R> {
        let p = self.0.load(Relaxed).cast::<Call<'_, '_>>();
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` was stored by `enter` from a `&mut Call` that the
        // live guard still borrows, so it points to a valid Call. Only the
        // thread running the script gets here (Lua runs under the VM
        // mutex), and never re-entrantly: a command run by `redis.call`
        // runs no Lua (script commands are refused inside scripts), so no
        // other reference to the Call exists meanwhile.
        Some(f(unsafe { &mut *p }))
    }
}

fn not_in_script() -> mlua::Error {
    mlua::Error::RuntimeError("redis.call is only available while a script runs".into())
}

impl Call<'_, '_> {
    /// `redis.call` (`raise`: errors are raised) or `redis.pcall`
    /// (errors are returned as `{err=...}`).
    fn lua_call(&mut self, lua: &Lua, args: MultiValue, raise: bool) -> mlua::Result<Value> {
        let result = self.args.fill(args).and_then(|()| self.run());
        match result {
            Ok(()) => {
                let bytes = self.scratch.as_bytes();
                if raise && bytes.first() == Some(&b'-') {
                    let end = bytes.len().saturating_sub(2);
                    return Err(mlua::Error::external(CallError(bytes[1..end].to_vec())));
                }
                let mut at = 0;
                convert::frame_to_lua(lua, bytes, &mut at, self.scratch.resp3())
            }
            Err(e) if raise => Err(mlua::Error::external(CallError(e.text().to_vec()))),
            Err(e) => error_table(lua, &e),
        }
    }

    /// Runs the command in `self.args`; its reply is left in `scratch`.
    fn run(&mut self) -> Result<(), CmdError> {
        let args = &*self.args;
        let Some(first) = args.ranges.first() else {
            return Err(errors::SCRIPT_NO_ARGS);
        };
        let arg = |i: usize| &args.bytes[args.ranges[i].clone()];
        let table = CommandTable::get();
        let top = table
            .lookup(&args.bytes[first.clone()])
            .ok_or(errors::SCRIPT_UNKNOWN_COMMAND)?;
        let argc = args.ranges.len();
        let mut id = top;
        let mut spec = table.spec(top);
        if !spec.subcommands.is_empty() && argc >= 2 {
            if let Some(sub) = table.lookup_sub(top, arg(1)) {
                id = sub;
                spec = table.spec(sub);
            }
        }
        if !spec.arity_ok(argc) {
            return Err(errors::SCRIPT_WRONG_ARGS);
        }
        if spec.flags & table::NOSCRIPT != 0 {
            return Err(errors::SCRIPT_NOT_ALLOWED);
        }
        if self.read_only && spec.flags & table::WRITE != 0 {
            return Err(errors::SCRIPT_WRITE_IN_RO);
        }
        let eng = &self.rt.engine;
        let maxmemory = eng.settings.uint(P::Maxmemory) as usize;
        if self.check_oom
            && spec.flags & table::DENYOOM != 0
            && maxmemory > 0
            && eng.dbs.used_bytes() > maxmemory
        {
            return Err(errors::OOM);
        }
        let argv: Vec<&[u8]> = (0..argc).map(arg).collect();
        if self.cluster_check {
            let script = ScriptSlot {
                asking: self.asking,
                allow_cross_slot: self.allow_cross_slot,
                slot: &mut self.cluster_slot,
            };
            check_cluster(&self.rt.engine, self.unit, script, spec, &argv)?;
        }
        self.scratch.clear();
        invoke(
            self.rt,
            self.sess,
            self.unit,
            self.scratch,
            self.now,
            id,
            spec,
            &argv,
        );
        if spec.flags & table::WRITE != 0 && !self.scratch.as_bytes().starts_with(b"-") {
            self.status.wrote.store(true, Relaxed);
        }
        Ok(())
    }
}

/// What the cluster check of a script's calls carries from call to call.
struct ScriptSlot<'a> {
    asking: bool,
    allow_cross_slot: bool,
    /// The slot every call's keys must hash to, once known.
    slot: &'a mut Option<u16>,
}

/// Cluster mode: the call's keys are served here, in the script's slot.
fn check_cluster(
    eng: &Engine,
    unit: &mut crate::engine::unit::Unit,
    script: ScriptSlot,
    spec: &table::CommandSpec,
    argv: &[&[u8]],
) -> CmdResult {
    let keys = spec.all_keys(argv);
    let routed = super::cluster::check_keys(
        eng,
        &keys,
        script.asking,
        spec.name == "migrate",
        false,
        |k| unit.key(0, k).find(Access::PEEK).is_some(),
    );
    match routed {
        Err(Redirect::Down) => return Err(errors::SCRIPT_CLUSTER_DOWN),
        Err(_) => return Err(errors::SCRIPT_NON_LOCAL_KEY),
        Ok(()) => {}
    }
    if let (Some(first), false) = (keys.first(), script.allow_cross_slot) {
        let slot = key_slot(first);
        match *script.slot {
            None => *script.slot = Some(slot),
            Some(s) if s != slot => return Err(errors::SCRIPT_CROSS_SLOT),
            Some(_) => {}
        }
    }
    Ok(())
}

/// The error table a refused `redis.call` hands to Lua.
fn error_table(lua: &Lua, e: &CmdError) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(e.text())?)?;
    Ok(Value::Table(t))
}

/// The EVAL family's `numkeys`, checked against the arguments before the
/// script is looked up or compiled (as Redis: a refused EVAL caches nothing).
fn numkeys(args: &[&[u8]]) -> CmdResult<usize> {
    let numkeys = int_arg(args[2])?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(errors::NUMKEYS_TOO_BIG);
    }
    if numkeys < 0 {
        return Err(errors::NUMKEYS_NEGATIVE);
    }
    Ok(numkeys as usize)
}

/// Runs a cached script: the EVAL family's common part.
fn run_script(
    ctx: &mut Ctx,
    sha: &str,
    args: &[&[u8]],
    numkeys: usize,
    read_only_cmd: bool,
) -> CmdResult {
    let (keys, argv) = args[3..].split_at(numkeys);
    let rt = ctx.rt;
    let scripts = &rt.scripts;
    let vm_lock = scripts.vm(ctx.eng)?;
    let mut vm = vm_lock.lock();
    let Some(cached) = vm.cache.get(sha) else {
        return Err(errors::NOSCRIPT);
    };
    let flags = cached.flags;
    if read_only_cmd && flags & SF_SHEBANG != 0 && flags & SF_NO_WRITES == 0 {
        return Err(errors::SCRIPT_RO_WITH_WRITES);
    }
    let maxmemory = ctx.eng.settings.uint(P::Maxmemory) as usize;
    if flags & SF_SHEBANG != 0
        && flags & (SF_NO_WRITES | SF_ALLOW_OOM) == 0
        && maxmemory > 0
        && ctx.eng.dbs.used_bytes() > maxmemory
    {
        return Err(errors::OOM);
    }
    let func = cached.func.clone();
    let lua = &vm.lua;
    let set = |t: &Table, name: &str, items: &[&[u8]]| -> mlua::Result<()> {
        let list = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, a) in items.iter().enumerate() {
            list.raw_set(i + 1, lua.create_string(a)?)?;
        }
        t.raw_set(name, list)
    };
    set(&vm.real, "KEYS", keys).map_err(|_| errors::script_engine_failed())?;
    set(&vm.real, "ARGV", argv).map_err(|_| errors::script_engine_failed())?;

    let Vm {
        run,
        sess,
        scratch,
        args: call_args,
        current,
        ..
    } = &mut *vm;
    sess.select(ctx.sess.db);
    sess.start_batch(&ctx.eng.settings);
    // The script's reads touch keys as its caller's would (CLIENT NO-TOUCH).
    let no_touch = ctx.sess.handle.no_touch.load(Relaxed);
    sess.handle.no_touch.store(no_touch, Relaxed);
    // Each run starts in RESP2, as in Redis.
    scratch.set_resp3(false);
    let status = &scripts.status;
    *status.started.lock() = Some(Instant::now());
    status.wrote.store(false, Relaxed);
    status.kill.store(false, Relaxed);
    status.running.store(true, Relaxed);
    let mut call = Call {
        rt,
        unit: &mut *ctx.unit,
        sess,
        scratch,
        args: call_args,
        now: ctx.now,
        read_only: read_only_cmd || flags & SF_NO_WRITES != 0,
        check_oom: flags & SF_SHEBANG == 0,
        status,
        cluster_check: ctx.eng.cluster.is_some() && ctx.sess.handle.kind() != ClientKind::Master,
        cluster_slot: keys.first().map(|k| key_slot(k)),
        // Scripts without a shebang keep their pre-7.0 freedom.
        allow_cross_slot: flags & (SF_CROSS_SLOT | SF_SHEBANG) != SF_SHEBANG,
        asking: ctx.sess.asking,
    };
    let outcome = {
        let _current = current.enter(&mut call);
        run.call::<(bool, Value)>(func)
    };
    let script_resp3 = call.scratch.resp3();
    let outcome = outcome.map(|(ok, value)| (ok, value, script_resp3));
    status.running.store(false, Relaxed);
    if status.busy.swap(false, Relaxed) {
        ctx.eng.gate.set_busy(false);
    }
    ctx.eng.stats.absorb(&mut call.sess.stats);
    match outcome {
        Ok((true, value, script_resp3)) => {
            convert::lua_to_reply(&value, ctx.out, script_resp3, 0)
                .map_err(|_| errors::script_engine_failed())?;
            Ok(())
        }
        Ok((false, Value::Table(t), _)) => {
            let text: Vec<u8> = t
                .raw_get::<mlua::LuaString>("err")
                .map(|s| s.as_bytes().to_vec())
                .unwrap_or_default();
            let line: i64 = t.raw_get("line").unwrap_or(0);
            Err(errors::script_error(&text, sha, line))
        }
        Ok((false, other, _)) => Err(errors::script_error(
            &errors::err_text(other.type_name().as_bytes()),
            sha,
            0,
        )),
        Err(e) => Err(errors::script_error(
            &errors::err_text(lua_message(&e).as_bytes()),
            sha,
            0,
        )),
    }
}

pub fn eval(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, false)
}

pub fn eval_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, true)
}

fn eval_generic(ctx: &mut Ctx, args: &[&[u8]], ro: bool) -> CmdResult {
    let numkeys = numkeys(args)?;
    let sha = sha1_hex(args[1]);
    ctx.rt.scripts.vm(ctx.eng)?.lock().load(&sha, args[1])?;
    run_script(ctx, &sha, args, numkeys, ro)
}

pub fn evalsha(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    evalsha_generic(ctx, args, false)
}

pub fn evalsha_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    evalsha_generic(ctx, args, true)
}

fn evalsha_generic(ctx: &mut Ctx, args: &[&[u8]], ro: bool) -> CmdResult {
    let numkeys = numkeys(args)?;
    if args[1].len() != 40 {
        return Err(errors::NOSCRIPT);
    }
    let sha = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    run_script(ctx, &sha, args, numkeys, ro)
}

pub fn script_load(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sha = sha1_hex(args[2]);
    ctx.rt.scripts.vm(ctx.eng)?.lock().load(&sha, args[2])?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

pub fn script_exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let vm = ctx.rt.scripts.vm(ctx.eng)?.lock();
    ctx.out.array(args.len() - 2);
    for a in &args[2..] {
        let sha = String::from_utf8_lossy(a).to_ascii_lowercase();
        ctx.out.int(vm.cache.contains_key(&sha) as i64);
    }
    Ok(())
}

pub fn script_flush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 || (args.len() == 3 && !eq_ic(args[2], "sync") && !eq_ic(args[2], "async")) {
        return Err(errors::SCRIPT_FLUSH_OPTION);
    }
    if let Some(vm) = ctx.rt.scripts.vm.get() {
        vm.lock().cache.clear();
    }
    ctx.out.ok();
    Ok(())
}

pub fn script_kill(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let status = &ctx.rt.scripts.status;
    if !status.running.load(Relaxed) || !status.busy.load(Relaxed) {
        return Err(errors::NOTBUSY);
    }
    if status.wrote.load(Relaxed) {
        return Err(errors::UNKILLABLE);
    }
    status.kill.store(true, Relaxed);
    ctx.out.ok();
    Ok(())
}

/// Stops a running script whatever it did (SHUTDOWN NOSAVE).
pub fn kill_for_shutdown(scripts: &Scripts) {
    if scripts.status.running.load(Relaxed) {
        scripts.status.kill.store(true, Relaxed);
    }
}

pub fn script_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::admin::help_lines(
        ctx,
        "SCRIPT",
        &[
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
}

/// Scripts in the cache and the bytes their bodies take (INFO memory).
/// What INFO memory reports about scripting.
pub struct ScriptMemory {
    /// Bytes the Lua VM holds (0 before the first script).
    pub vm_bytes: usize,
    pub cached_scripts: usize,
    /// Bytes of cached script bodies.
    pub script_bytes: usize,
}

pub fn memory(scripts: &Scripts) -> ScriptMemory {
    match scripts.vm.get() {
        Some(vm) => {
            let vm = vm.lock();
            ScriptMemory {
                vm_bytes: vm.lua.used_memory(),
                cached_scripts: vm.cache.len(),
                script_bytes: vm.cache.values().map(|c| c.body.len()).sum(),
            }
        }
        None => ScriptMemory {
            vm_bytes: 0,
            cached_scripts: 0,
            script_bytes: 0,
        },
    }
}
