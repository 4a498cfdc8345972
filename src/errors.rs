//! Every error text the server sends, worded exactly as Redis words it.
//! Clients and tests match on these strings, so they live in one place.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const SYNTAX: &str = "ERR syntax error";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const DECR_OVERFLOW: &str = "ERR decrement would overflow";
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
pub const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const INVALID_DB_INDEX: &str = "ERR invalid DB index";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NOT_CONFIGURED: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
pub const PROTO_NOT_INTEGER: &str = "ERR Protocol version is not an integer or out of range";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const NO_SUCH_CLIENT: &str = "ERR No such client";
pub const CLIENT_NAME_INVALID: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
pub const EXPIRE_NX_CONFLICT: &str =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
pub const EXPIRE_GT_LT_CONFLICT: &str = "ERR GT and LT options at the same time are not compatible";
pub const LFU_NOT_SELECTED: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
pub const VALUE_OUT_OF_RANGE: &str = "ERR value is out of range";
pub const SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// Appends `s` cut at its first NUL byte, as C's `%s` would print it.
fn push_c_str(out: &mut Vec<u8>, s: &[u8], max: usize) {
    let s = match memchr::memchr(0, s) {
        Some(i) => &s[..i],
        None => s,
    };
    out.extend_from_slice(&s[..s.len().min(max)]);
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' `
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> Vec<u8> {
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
    out
}

/// `ERR wrong number of arguments for 'get' command`
pub fn wrong_arity(full_name: &str) -> String {
    format!("ERR wrong number of arguments for '{full_name}' command")
}

/// `ERR unknown subcommand 'foo'. Try CONFIG HELP.`
pub fn unknown_subcommand(sub: &[u8], parent: &str) -> Vec<u8> {
    let mut out = b"ERR unknown subcommand '".to_vec();
    push_c_str(&mut out, sub, 128);
    out.extend_from_slice(b"'. Try ");
    out.extend_from_slice(parent.to_ascii_uppercase().as_bytes());
    out.extend_from_slice(b" HELP.");
    out
}

/// `ERR invalid expire time in 'set' command`
pub fn invalid_expire(full_name: &str) -> String {
    format!("ERR invalid expire time in '{full_name}' command")
}

/// `ERR Unsupported option foo` (EXPIRE family)
pub fn unsupported_option(opt: &[u8]) -> Vec<u8> {
    let mut out = b"ERR Unsupported option ".to_vec();
    push_c_str(&mut out, opt, usize::MAX);
    out
}
