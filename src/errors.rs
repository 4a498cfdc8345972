//! Every error text the server sends, worded exactly as Redis words it.
//! Clients and tests match on these strings, so they live in one place.
//!
//! A command fails by returning a [`CmdError`]: the error code (the first
//! word, counted in INFO errorstats) and the full text. Dispatch writes it
//! as the command's one reply.

use std::borrow::Cow;

/// A command's error reply: its code and its full text (which starts with
/// the code, as Redis sends it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdError {
    code: Cow<'static, str>,
    text: Cow<'static, [u8]>,
}

/// What a handler returns.
pub type CmdResult<T = ()> = Result<T, CmdError>;

impl CmdError {
    /// A fixed text whose first word is `code`.
    pub const fn fixed(code: &'static str, text: &'static str) -> CmdError {
        CmdError {
            code: Cow::Borrowed(code),
            text: Cow::Borrowed(text.as_bytes()),
        }
    }

    /// A built text; the code is its first word.
    pub fn new(text: impl Into<Vec<u8>>) -> CmdError {
        let text: Vec<u8> = text.into();
        let code = text
            .split(|&c| c == b' ')
            .next()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .unwrap_or_default();
        CmdError {
            code: Cow::Owned(code),
            text: Cow::Owned(text),
        }
    }

    /// `ERR <text>`.
    pub fn err(text: impl AsRef<[u8]>) -> CmdError {
        let mut v = b"ERR ".to_vec();
        v.extend_from_slice(text.as_ref());
        CmdError {
            code: Cow::Borrowed("ERR"),
            text: Cow::Owned(v),
        }
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The text without its code (for "Transaction discarded because of: ..."
    /// and script error wrapping).
    pub fn text_lossy(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text))
    }
}

macro_rules! fixed {
    ($($name:ident = $code:literal, $text:literal;)*) => {
        $(pub const $name: CmdError = CmdError::fixed($code, $text);)*
    };
}

fixed! {
    WRONGTYPE = "WRONGTYPE", "WRONGTYPE Operation against a key holding the wrong kind of value";
    NOT_INTEGER = "ERR", "ERR value is not an integer or out of range";
    NOT_FLOAT = "ERR", "ERR value is not a valid float";
    SYNTAX = "ERR", "ERR syntax error";
    OVERFLOW = "ERR", "ERR increment or decrement would overflow";
    DECR_OVERFLOW = "ERR", "ERR decrement would overflow";
    NAN_OR_INF = "ERR", "ERR increment would produce NaN or Infinity";
    HASH_NOT_INTEGER = "ERR", "ERR hash value is not an integer";
    HASH_NOT_FLOAT = "ERR", "ERR hash value is not a float";
    STRING_TOO_LONG = "ERR", "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    OFFSET_OUT_OF_RANGE = "ERR", "ERR offset is out of range";
    NO_SUCH_KEY = "ERR", "ERR no such key";
    SAME_OBJECT = "ERR", "ERR source and destination objects are the same";
    INVALID_CURSOR = "ERR", "ERR invalid cursor";
    DB_OUT_OF_RANGE = "ERR", "ERR DB index is out of range";
    INVALID_FIRST_DB = "ERR", "ERR invalid first DB index";
    INVALID_SECOND_DB = "ERR", "ERR invalid second DB index";
    INT_OUT_OF_RANGE = "ERR", "ERR value is out of range, value must between -2147483648 and 2147483647";
    NOAUTH = "NOAUTH", "NOAUTH Authentication required.";
    NOMASTERLINK = "NOMASTERLINK", "NOMASTERLINK Can't SYNC while not connected with my master";
    INVALID_MASTER_PORT = "ERR", "ERR Invalid master port";
    READONLY = "READONLY", "READONLY You can't write against a read only replica.";
    NOREPLICAS = "NOREPLICAS", "NOREPLICAS Not enough good replicas to write.";
    CLUSTER_DISABLED = "ERR", "ERR This instance has cluster support disabled";
    CROSSSLOT = "CROSSSLOT", "CROSSSLOT Keys in request don't hash to the same slot";
    TRYAGAIN = "TRYAGAIN", "TRYAGAIN Multiple keys request during rehashing of slot";
    CLUSTERDOWN = "CLUSTERDOWN", "CLUSTERDOWN The cluster is down";
    CLUSTERDOWN_UNBOUND = "CLUSTERDOWN", "CLUSTERDOWN Hash slot not served";
    BUSYKEY = "BUSYKEY", "BUSYKEY Target key name already exists.";
    INVALID_TTL_VALUE = "ERR", "ERR Invalid TTL value, must be >= 0";
    DUMP_PAYLOAD_WRONG = "ERR", "ERR DUMP payload version or checksum are wrong";
    BAD_DATA_FORMAT = "ERR", "ERR Bad data format";
    INVALID_IDLETIME = "ERR", "ERR Invalid IDLETIME value, must be >= 0";
    INVALID_FREQ = "ERR", "ERR Invalid FREQ value, must be >= 0 and <= 255";
    MIGRATE_KEYS_NEED_EMPTY_KEY = "ERR", "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string";
    MIGRATE_CONNECT = "IOERR", "IOERR error or timeout connecting to the client";
    INVALID_SLOT = "ERR", "ERR Invalid or out of range slot";
    INVALID_SLOT_NUMBER = "ERR", "ERR Invalid slot";
    INVALID_SLOT_OR_COUNT = "ERR", "ERR Invalid slot or number of keys";
    FLUSHSLOTS_NOT_EMPTY = "ERR", "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.";
    CONFIG_EPOCH_KNOWS_OTHERS = "ERR", "ERR The user can assign a config epoch only when the node does not know any other node.";
    CONFIG_EPOCH_NONZERO = "ERR", "ERR Node config epoch is already non-zero";
    SETSLOT_INVALID = "ERR", "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP";
    TARGET_NOT_MASTER = "ERR", "ERR Target node is not a master";
    NODE_NOT_MASTER = "ERR", "ERR The specified node is not a master";
    FORGET_MYSELF = "ERR", "ERR I tried hard but I can't forget myself...";
    FORGET_MY_MASTER = "ERR", "ERR Can't forget my master!";
    FAILOVER_ON_MASTER = "ERR", "ERR You should send CLUSTER FAILOVER to a replica";
    RESET_WITH_KEYS = "ERR", "ERR CLUSTER RESET can't be called with master nodes containing keys";
    REPLICATE_MYSELF = "ERR", "ERR Can't replicate myself";
    FAILOVER_MASTER_UNKNOWN = "ERR", "ERR I'm a replica but my master is unknown to me";
    FAILOVER_MASTER_DOWN = "ERR", "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE";
    FAILOVER_NEEDS_TAKEOVER = "ERR", "ERR CLUSTER FAILOVER without TAKEOVER needs a failover election, which Redistill does not have yet: use CLUSTER FAILOVER TAKEOVER";
    REPLICATE_A_REPLICA = "ERR", "ERR I can only replicate a master, not a replica.";
    REPLICATE_NOT_EMPTY = "ERR", "ERR To set a master the node must be empty and without assigned slots.";
    REPLICAOF_IN_CLUSTER = "ERR", "ERR REPLICAOF not allowed in cluster mode.";
    SETSLOT_ON_REPLICA = "ERR", "ERR Please use SETSLOT only with masters.";
    SELECT_IN_CLUSTER = "ERR", "ERR SELECT is not allowed in cluster mode";
    MOVE_IN_CLUSTER = "ERR", "ERR MOVE is not allowed in cluster mode";
    SWAPDB_IN_CLUSTER = "ERR", "ERR SWAPDB is not allowed in cluster mode";
    COPY_DB_IN_CLUSTER = "ERR", "ERR Copying to another database is not allowed in cluster mode";
    MISCONF = "MISCONF", "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
    WAIT_ON_REPLICA = "ERR", "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.";
    TIMEOUT_IS_NEGATIVE = "ERR", "ERR timeout is negative";
    WRONGPASS = "WRONGPASS", "WRONGPASS invalid username-password pair or user is disabled.";
    AUTH_NOT_CONFIGURED = "ERR", "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
    HELLO_NOAUTH = "NOAUTH", "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
    NOPROTO = "NOPROTO", "NOPROTO unsupported protocol version";
    PROTO_NOT_INTEGER = "ERR", "ERR Protocol version is not an integer or out of range";
    OOM = "OOM", "OOM command not allowed when used memory > 'maxmemory'.";
    LOADING = "LOADING", "LOADING Redis is loading the dataset in memory";
    BUSY = "BUSY", "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    NO_SUCH_CLIENT = "ERR", "ERR No such client";
    INVALID_CLIENT_ID = "ERR", "ERR Invalid client ID";
    CLIENT_ID_POSITIVE = "ERR", "ERR client-id should be greater than 0";
    CLIENT_NAME_INVALID = "ERR", "ERR Client names cannot contain spaces, newlines or special characters.";
    EXPIRE_NX_CONFLICT = "ERR", "ERR NX and XX, GT or LT options at the same time are not compatible";
    EXPIRE_GT_LT_CONFLICT = "ERR", "ERR GT and LT options at the same time are not compatible";
    LFU_NOT_SELECTED = "ERR", "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    VALUE_OUT_OF_RANGE = "ERR", "ERR value is out of range";
    VALUE_NAN_OR_INF = "ERR", "ERR value is NaN or Infinity";
    COUNT_OUT_OF_RANGE = "ERR", "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
    SHUTDOWN_FAILED = "ERR", "ERR Errors trying to SHUTDOWN. Check logs.";
    NO_SHUTDOWN = "ERR", "ERR No shutdown in progress.";
    TRACKING_ONE_REDIRECT = "ERR", "ERR A client can only redirect to a single other client";
    TRACKING_NO_REDIRECT_CLIENT = "ERR", "ERR The client ID you want redirect to does not exist";
    TRACKING_PREFIX_NEEDS_BCAST = "ERR", "ERR PREFIX option requires BCAST mode to be enabled";
    TRACKING_SWITCH_BCAST = "ERR", "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
    TRACKING_OPT_WITH_BCAST = "ERR", "ERR OPTIN and OPTOUT are not compatible with BCAST";
    TRACKING_OPTIN_AND_OPTOUT = "ERR", "ERR You can't specify both OPTIN mode and OPTOUT mode";
    TRACKING_SWITCH_OPT = "ERR", "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
    CACHING_NOT_TRACKING = "ERR", "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled";
    CACHING_YES_NEEDS_OPTIN = "ERR", "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
    CACHING_NO_NEEDS_OPTOUT = "ERR", "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";
    SAVE_IN_PROGRESS = "ERR", "ERR Background save already in progress";
    SAVE_FAILED = "ERR", "ERR";
    SLOWLOG_COUNT = "ERR", "ERR count should be greater than or equal to -1";
    INVALID_COMMAND = "ERR", "ERR Invalid command specified";
    EXEC_WITHOUT_MULTI = "ERR", "ERR EXEC without MULTI";
    NOSCRIPT = "NOSCRIPT", "NOSCRIPT No matching script. Please use EVAL.";
    NUMKEYS_NEGATIVE = "ERR", "ERR Number of keys can't be negative";
    NUMKEYS_TOO_BIG = "ERR", "ERR Number of keys can't be greater than number of args";
    SCRIPT_BAD_SHEBANG = "ERR", "ERR Invalid script shebang";
    SCRIPT_RO_WITH_WRITES = "ERR", "ERR Can not execute a script with write flag using *_ro command.";
    SCRIPT_NO_ARGS = "ERR", "ERR Please specify at least one argument for this redis lib call";
    SCRIPT_UNKNOWN_COMMAND = "ERR", "ERR Unknown Redis command called from script";
    SCRIPT_WRONG_ARGS = "ERR", "ERR Wrong number of args calling Redis command from script";
    SCRIPT_NOT_ALLOWED = "ERR", "ERR This Redis command is not allowed from script";
    SCRIPT_WRITE_IN_RO = "ERR", "ERR Write commands are not allowed from read-only scripts.";
    SCRIPT_CLUSTER_DOWN = "ERR", "ERR Script attempted to execute a command while the cluster is down";
    SCRIPT_NON_LOCAL_KEY = "ERR", "ERR Script attempted to access a non local key in a cluster node";
    SCRIPT_CROSS_SLOT = "ERR", "ERR Script attempted to access keys that do not hash to the same slot";
    SCRIPT_BAD_ARG_TYPE = "ERR", "ERR Lua redis lib command arguments must be strings or integers";
    SCRIPT_KILLED = "ERR", "ERR Script killed by user with SCRIPT KILL...";
    SCRIPT_FLUSH_OPTION = "ERR", "ERR SCRIPT FLUSH only support SYNC|ASYNC option";
    NOTBUSY = "NOTBUSY", "NOTBUSY No scripts in execution right now.";
    UNKILLABLE = "UNKILLABLE", "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
    DISCARD_WITHOUT_MULTI = "ERR", "ERR DISCARD without MULTI";
    MULTI_NESTED = "ERR", "ERR MULTI calls can not be nested";
    WATCH_INSIDE_MULTI = "ERR", "ERR WATCH inside MULTI is not allowed";
    NOT_IN_MULTI = "ERR", "ERR Command not allowed inside a transaction";
    EXECABORT = "EXECABORT", "EXECABORT Transaction discarded because of previous errors.";
    INVALID_COMMAND_ARGS = "ERR", "ERR Invalid number of arguments specified for command";
    NO_KEY_ARGS = "ERR", "ERR The command has no key arguments";
    INVALID_COMMAND_KEYS = "ERR", "ERR Invalid arguments specified for command";

    MUST_BE_POSITIVE = "ERR", "ERR value is out of range, must be positive";
    INDEX_OUT_OF_RANGE = "ERR", "ERR index out of range";
    LPOS_RANK_ZERO = "ERR", "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
    LPOS_COUNT_NEGATIVE = "ERR", "ERR COUNT can't be negative";
    LPOS_MAXLEN_NEGATIVE = "ERR", "ERR MAXLEN can't be negative";
    NUMKEYS_POSITIVE = "ERR", "ERR numkeys should be greater than 0";
    COUNT_POSITIVE = "ERR", "ERR count should be greater than 0";
    LIMIT_NEGATIVE = "ERR", "ERR LIMIT can't be negative";
    TIMEOUT_NOT_FLOAT = "ERR", "ERR timeout is not a float or out of range";
    TIMEOUT_OUT_OF_RANGE = "ERR", "ERR timeout is out of range";
    TIMEOUT_NEGATIVE = "ERR", "ERR timeout is negative";
    TIMEOUT_NOT_INTEGER = "ERR", "ERR timeout is not an integer or out of range";
    UNBLOCKED = "UNBLOCKED", "UNBLOCKED client unblocked via CLIENT UNBLOCK";
    UNBLOCK_REASON = "ERR", "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR";
    MIN_MAX_NOT_FLOAT = "ERR", "ERR min or max is not a float";
    MIN_MAX_NOT_STRING_RANGE = "ERR", "ERR min or max not valid string range item";
    ZADD_XX_NX = "ERR", "ERR XX and NX options at the same time are not compatible";
    ZADD_GT_LT_NX = "ERR", "ERR GT, LT, and/or NX options at the same time are not compatible";
    ZADD_INCR_PAIR = "ERR", "ERR INCR option supports a single increment-element pair";
    SCORE_NAN = "ERR", "ERR resulting score is not a number (NaN)";
    LIMIT_NEEDS_BY = "ERR", "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
    WITHSCORES_BYLEX = "ERR", "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
    WEIGHT_NOT_FLOAT = "ERR", "ERR weight value is not a float";

    CONFIG_NO_FILE = "ERR", "ERR The server is running without a config file";
}

/// CONFIG SET's reason for a parameter that cannot change at run time.
pub const CONFIG_IMMUTABLE: &str = "can't set immutable config";
pub const CONFIG_DUPLICATE: &str = "duplicate parameter";
pub const CONFIG_PORT_UNAVAILABLE: &str = "Unable to listen on this port. Check server logs.";
pub const CONFIG_BIND_FAILED: &str = "Failed to bind to specified addresses.";
pub const APPENDONLY_UNSUPPORTED: &str =
    "Redistill has no append-only file (use snapshots: [persistence] enabled = true)";

/// Sent by the server (not a command) when `maxclients` is reached.
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";

/// Appends `s` cut at its first NUL byte, as C's `%s` would print it.
fn push_c_str(out: &mut Vec<u8>, s: &[u8], max: usize) {
    let s = match memchr::memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    };
    out.extend_from_slice(&s[..s.len().min(max)]);
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> CmdError {
    let mut out = b"ERR unknown command '".to_vec();
    push_c_str(&mut out, name, 128);
    out.extend_from_slice(b"', with args beginning with: ");
    let mut listed = Vec::new();
    for arg in args {
        if listed.len() >= 128 {
            break;
        }
        listed.push(b'\'');
        let room = 128 - (listed.len() - 1);
        push_c_str(&mut listed, arg, room);
        listed.extend_from_slice(b"' ");
    }
    out.extend_from_slice(&listed);
    CmdError::new(out)
}

/// A protocol violation's reply text: `ERR Protocol error: <detail>`.
pub fn protocol_error(detail: &str) -> String {
    format!("ERR Protocol error: {detail}")
}

/// EXEC refused by a gate: `EXECABORT Transaction discarded because of:
/// <the error>` (an `ERR` error loses its code, as in Redis).
pub fn exec_abort_because(e: &CmdError) -> CmdError {
    let text = e.text();
    let reason = if e.code() == "ERR" {
        text.strip_prefix(b"ERR ").unwrap_or(text)
    } else {
        text
    };
    let mut out = b"EXECABORT Transaction discarded because of: ".to_vec();
    out.extend_from_slice(reason);
    CmdError {
        code: Cow::Borrowed("EXECABORT"),
        text: Cow::Owned(out),
    }
}

/// `ERR <text>` as bytes (a script error raised with a plain message).
pub fn err_text(text: &[u8]) -> Vec<u8> {
    let mut v = b"ERR ".to_vec();
    v.extend_from_slice(text);
    v
}

/// True when `text` already starts with the generic error code.
pub fn has_err_code(text: &[u8]) -> bool {
    text.starts_with(b"ERR ")
}

/// A script reply nested deeper than scripts may return.
pub const LUA_STACK_LIMIT: &[u8] = b"ERR reached lua stack limit";
/// `redis.error_reply` / `redis.status_reply` without a string.
pub const LUA_BAD_REPLY_ARGS: &str = "ERR wrong number or type of arguments";

/// A script that failed: `<error> script: <sha>, on @user_script:<line>.`
pub fn script_error(text: &[u8], sha: &str, line: i64) -> CmdError {
    let mut out = text.to_vec();
    out.extend_from_slice(format!(" script: {sha}, on @user_script:{line}.").as_bytes());
    CmdError::new(out)
}

/// A script that does not compile.
pub fn script_compile(message: &str) -> CmdError {
    CmdError::err(format!("Error compiling script (new function): {message}"))
}

/// The Lua VM could not be set up or used.
pub fn script_engine_failed() -> CmdError {
    CmdError::err("Lua engine failure")
}

/// `#!<engine>` other than lua.
pub fn script_shebang_engine(engine: &[u8]) -> CmdError {
    with_arg("Unexpected engine in script shebang: #!", engine, "")
}

/// An unknown `flags=` value in a shebang.
pub fn script_shebang_flag(flag: &[u8]) -> CmdError {
    with_arg("Unexpected flag in script shebang: ", flag, "")
}

/// A shebang option other than `flags=`.
pub fn script_shebang_option(opt: &[u8]) -> CmdError {
    with_arg("Unknown lua shebang option: ", opt, "")
}

/// A command refused in RESP2 subscribed mode.
pub fn subscribed_mode(full_name: &str) -> CmdError {
    CmdError::err(format!(
        "Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    ))
}

/// `ERR wrong number of arguments for 'get' command`
/// ZUNION/ZINTER/ZDIFF (and STORE forms) without an input key.
pub fn at_least_one_key(name: &str) -> CmdError {
    CmdError::err(format!(
        "at least 1 input key is needed for '{name}' command"
    ))
}

pub fn wrong_arity(full_name: &str) -> CmdError {
    CmdError::err(format!(
        "wrong number of arguments for '{full_name}' command"
    ))
}

/// REPLCONF with an option it does not know.
pub fn unrecognized_replconf(opt: &[u8]) -> CmdError {
    CmdError::err(format!(
        "Unrecognized REPLCONF option: {}",
        String::from_utf8_lossy(opt)
    ))
}

/// Error replies to PING a replica accepts from its master (it goes on
/// with the handshake and authenticates).
pub const PING_ERRORS_ACCEPTED: &[&str] = &["-NOAUTH", "-NOPERM", "-ERR operation not permitted"];

/// `ERR unknown subcommand 'foo'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], parent: &str) -> CmdError {
    let mut out = b"ERR unknown subcommand '".to_vec();
    push_c_str(&mut out, sub, 128);
    out.extend_from_slice(b"'. Try ");
    out.extend_from_slice(parent.to_ascii_uppercase().as_bytes());
    out.extend_from_slice(b" HELP.");
    CmdError::new(out)
}

/// `ERR unknown subcommand or wrong number of arguments for 'reset'. Try
/// CLUSTER HELP.` (a known subcommand given a count of arguments its
/// parent does not accept).
pub fn subcommand_syntax(sub: &[u8], parent: &str) -> CmdError {
    let mut out = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
    push_c_str(&mut out, sub, 128);
    out.extend_from_slice(b"'. Try ");
    out.extend_from_slice(parent.to_ascii_uppercase().as_bytes());
    out.extend_from_slice(b" HELP.");
    CmdError::new(out)
}

/// `IOERR error or timeout writing|reading to target instance` (MIGRATE).
pub fn migrate_io(writing: bool) -> CmdError {
    CmdError::new(format!(
        "IOERR error or timeout {} to target instance",
        if writing { "writing" } else { "reading" }
    ))
}

/// MIGRATE's report of the target's error reply (without its `-`).
pub fn migrate_target_error(err: &[u8]) -> CmdError {
    let mut text = b"Target instance replied with error: ".to_vec();
    text.extend_from_slice(err);
    CmdError::err(text)
}

pub fn invalid_base_port(arg: &[u8]) -> CmdError {
    CmdError::err(format!(
        "Invalid TCP base port specified: {}",
        String::from_utf8_lossy(arg)
    ))
}

pub fn invalid_bus_port(arg: &[u8]) -> CmdError {
    CmdError::err(format!(
        "Invalid TCP bus port specified: {}",
        String::from_utf8_lossy(arg)
    ))
}

pub fn invalid_node_address(ip: &[u8], port: &[u8]) -> CmdError {
    CmdError::err(format!(
        "Invalid node address specified: {}:{}",
        String::from_utf8_lossy(ip),
        String::from_utf8_lossy(port)
    ))
}

/// `MOVED <slot> <ip:port>`: the slot is served by that node.
pub fn moved(slot: u16, at: &str) -> CmdError {
    CmdError::new(format!("MOVED {slot} {at}"))
}

/// `ASK <slot> <ip:port>`: the slot is being migrated there.
pub fn ask(slot: u16, at: &str) -> CmdError {
    CmdError::new(format!("ASK {slot} {at}"))
}

pub fn unknown_node(id: &[u8]) -> CmdError {
    CmdError::err(format!("Unknown node {}", String::from_utf8_lossy(id)))
}

pub fn dont_know_node(id: &[u8]) -> CmdError {
    CmdError::err(format!(
        "I don't know about node {}",
        String::from_utf8_lossy(id)
    ))
}

pub fn slot_range_reversed(start: u16, end: u16) -> CmdError {
    CmdError::err(format!(
        "start slot number {start} is greater than end slot number {end}"
    ))
}

pub fn slot_unassigned(slot: u16) -> CmdError {
    CmdError::err(format!("Slot {slot} is already unassigned"))
}

pub fn slot_busy(slot: u16) -> CmdError {
    CmdError::err(format!("Slot {slot} is already busy"))
}

pub fn slot_repeated(slot: u16) -> CmdError {
    CmdError::err(format!("Slot {slot} specified multiple times"))
}

pub fn not_slot_owner(slot: u16) -> CmdError {
    CmdError::err(format!("I'm not the owner of hash slot {slot}"))
}

pub fn already_slot_owner(slot: u16) -> CmdError {
    CmdError::err(format!("I'm already the owner of hash slot {slot}"))
}

pub fn slot_still_has_keys(slot: u16) -> CmdError {
    CmdError::err(format!(
        "Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
    ))
}

pub fn invalid_config_epoch(epoch: i64) -> CmdError {
    CmdError::err(format!("Invalid config epoch specified: {epoch}"))
}

pub fn cluster_save_failed(e: &std::io::Error) -> CmdError {
    CmdError::err(format!("error saving the cluster node config: {e}"))
}

/// `ERR invalid expire time in 'set' command`
pub fn invalid_expire(full_name: &str) -> CmdError {
    CmdError::err(format!("invalid expire time in '{full_name}' command"))
}

/// `ERR Unsupported option foo` (EXPIRE family)
pub fn unsupported_option(opt: &[u8]) -> CmdError {
    let mut out = b"Unsupported option ".to_vec();
    push_c_str(&mut out, opt, usize::MAX);
    CmdError::err(out)
}

/// `ERR <what> '<arg>'` with the argument quoted as given.
pub fn with_arg(prefix: &str, arg: &[u8], suffix: &str) -> CmdError {
    let mut out = prefix.as_bytes().to_vec();
    out.extend_from_slice(arg);
    out.extend_from_slice(suffix.as_bytes());
    CmdError::err(out)
}

/// CONFIG SET's wrapper: `ERR CONFIG SET failed (possibly related to argument 'x') - why`
pub fn config_set_failed(name: &str, why: &str) -> CmdError {
    CmdError::err(format!(
        "CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

/// CONFIG REWRITE could not write the file.
pub fn config_rewrite_failed(why: &str) -> CmdError {
    CmdError::new(format!("ERR Rewriting config file: {why}"))
}

/// Two CLIENT TRACKING prefixes of one client where one contains the
/// other (`which`: "an existing prefix" or "another provided prefix").
pub fn prefix_overlap(prefix: &[u8], other: &[u8], which: &str) -> CmdError {
    CmdError::new(format!(
        "ERR Prefix '{}' overlaps with {which} '{}'. Prefixes for a single client must not overlap.",
        String::from_utf8_lossy(prefix),
        String::from_utf8_lossy(other)
    ))
}

/// `ERR Unknown option or number of arguments for CONFIG SET - 'x'`
pub fn config_set_unknown(name: &[u8]) -> CmdError {
    with_arg(
        "Unknown option or number of arguments for CONFIG SET - '",
        name,
        "'",
    )
}

// Streams.
fixed! {
    STREAM_MAXLEN_AND_MINID = "ERR", "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    STREAM_MAXLEN_NEGATIVE = "ERR", "ERR The MAXLEN argument must be >= 0.";
    STREAM_LIMIT_NEGATIVE = "ERR", "ERR The LIMIT argument must be >= 0.";
    STREAM_LIMIT_WITHOUT_STRATEGY = "ERR", "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
    XTRIM_WITHOUT_STRATEGY = "ERR", "ERR syntax error, XTRIM must be called with a trimming strategy";
    STREAM_LIMIT_WITHOUT_APPROX = "ERR", "ERR syntax error, LIMIT cannot be used without the special ~ option";
    STREAM_ID_INVALID = "ERR", "ERR Invalid stream ID specified as stream command argument";
    XADD_ID_ZERO = "ERR", "ERR The ID specified in XADD must be greater than 0-0";
    STREAM_EXHAUSTED = "ERR", "ERR The stream has exhausted the last possible ID, unable to add more items";
    XADD_ID_TOO_SMALL = "ERR", "ERR The ID specified in XADD is equal or smaller than the target stream top item";
    STREAM_ELEMENTS_TOO_LARGE = "ERR", "ERR Elements are too large to be stored";
    STREAM_INVALID_START = "ERR", "ERR invalid start ID for the interval";
    STREAM_INVALID_END = "ERR", "ERR invalid end ID for the interval";
    XREAD_UNBALANCED = "ERR", "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
    XREAD_GROUP_OPTION = "ERR", "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
    XREAD_NOACK_OPTION = "ERR", "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
    XREADGROUP_WITHOUT_GROUP = "ERR", "ERR Missing GROUP option for XREADGROUP";
    XREADGROUP_DOLLAR_ID = "ERR", "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
    XREAD_GREATER_ID = "ERR", "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
    ENTRIESREAD_NEGATIVE = "ERR", "ERR value for ENTRIESREAD must be positive or -1";
    XGROUP_KEY_MISSING = "ERR", "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
    BUSYGROUP = "BUSYGROUP", "BUSYGROUP Consumer Group name already exists";
    XSETID_ENTRIES_ADDED_NEGATIVE = "ERR", "ERR entries_added must be positive";
    XSETID_BELOW_MAX_DELETED = "ERR", "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
    XSETID_BELOW_TOP = "ERR", "ERR The ID specified in XSETID is smaller than the target stream top item";
    XSETID_ENTRIES_ADDED_SMALL = "ERR", "ERR The entries_added specified in XSETID is smaller than the target stream length";
    XCLAIM_MIN_IDLE = "ERR", "ERR Invalid min-idle-time argument for XCLAIM";
    XCLAIM_IDLE = "ERR", "ERR Invalid IDLE option argument for XCLAIM";
    XCLAIM_TIME = "ERR", "ERR Invalid TIME option argument for XCLAIM";
    XCLAIM_RETRYCOUNT = "ERR", "ERR Invalid RETRYCOUNT option argument for XCLAIM";
    XAUTOCLAIM_MIN_IDLE = "ERR", "ERR Invalid min-idle-time argument for XAUTOCLAIM";
    XAUTOCLAIM_COUNT = "ERR", "ERR COUNT must be > 0";
    XAUTOCLAIM_COUNT_TOO_HIGH = "ERR", "ERR Insufficient memory, failed allocating transient memory, COUNT too high.";
    NOGROUP_WHILE_BLOCKED = "NOGROUP", "NOGROUP the consumer group this client was blocked on no longer exists";
    UNBLOCKED_STREAM_DELETED = "UNBLOCKED", "UNBLOCKED the stream key no longer exists";
}

/// Builds `code + parts...` with each argument cut at a NUL byte, as
/// Redis's `%s` formatting does.
fn c_format(parts: &[&[u8]], quoted: &[bool]) -> CmdError {
    let mut out = Vec::new();
    for (p, q) in parts.iter().zip(quoted) {
        if *q {
            push_c_str(&mut out, p, usize::MAX);
        } else {
            out.extend_from_slice(p);
        }
    }
    CmdError::new(out)
}

/// XREADGROUP on a missing key or group.
pub fn nogroup_xreadgroup(key: &[u8], group: &[u8]) -> CmdError {
    c_format(
        &[
            b"NOGROUP No such key '",
            key,
            b"' or consumer group '",
            group,
            b"' in XREADGROUP with GROUP option",
        ],
        &[false, true, false, true, false],
    )
}

/// XGROUP / XINFO CONSUMERS on a missing group.
pub fn nogroup_for_key(group: &[u8], key: &[u8]) -> CmdError {
    c_format(
        &[
            b"NOGROUP No such consumer group '",
            group,
            b"' for key name '",
            key,
            b"'",
        ],
        &[false, true, false, true, false],
    )
}

/// XPENDING / XCLAIM / XAUTOCLAIM on a missing key or group.
pub fn nogroup_key_or_group(key: &[u8], group: &[u8]) -> CmdError {
    c_format(
        &[
            b"NOGROUP No such key '",
            key,
            b"' or consumer group '",
            group,
            b"'",
        ],
        &[false, true, false, true, false],
    )
}

pub fn xclaim_unrecognized(opt: &[u8]) -> CmdError {
    c_format(
        &[b"ERR Unrecognized XCLAIM option '", opt, b"'"],
        &[false, true, false],
    )
}

/// XREAD/XREADGROUP with BLOCK from a script (`name` as the script wrote it).
pub fn block_in_script(name: &[u8]) -> CmdError {
    c_format(
        &[
            b"ERR ",
            name,
            b" command is not allowed with BLOCK option from scripts",
        ],
        &[false, true, false],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_texts() {
        assert_eq!(WRONGTYPE.code(), "WRONGTYPE");
        assert_eq!(CmdError::err("x").text(), b"ERR x");
        assert_eq!(CmdError::new("XYZ custom").code(), "XYZ");
        assert_eq!(
            unknown_subcommand(b"foo", "config").text(),
            b"ERR unknown subcommand 'foo'. Try CONFIG HELP."
        );
    }

    /// Error texts live here: no other source file spells an error code
    /// at the start of a string literal.
    #[test]
    fn no_error_literals_outside_this_module() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut stack = vec![std::path::PathBuf::from(root)];
        let mut offenders = Vec::new();
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|x| x == "rs")
                    && !path.ends_with("errors.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    // Unit tests compare replies against literal texts.
                    let code = text.split("#[cfg(test)]").next().unwrap_or("");
                    for pat in [
                        "\"ERR ",
                        "\"-ERR ",
                        "\"WRONGTYPE",
                        "\"NOAUTH",
                        "\"OOM ",
                        "CmdError::err(",
                        "CmdError::new(",
                    ] {
                        if code.contains(pat) {
                            offenders.push(format!("{}: {pat}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "error texts outside errors.rs: {offenders:?}"
        );
    }
}
