//! Keyspace notifications against Debian's redis-server: a seeded stream of
//! writes over every type, transactions and a script, with every class on,
//! publishes the same events in the same order in both servers; key misses
//! and expiries match; evictions are announced; nothing is published when
//! notifications are off (tests/python/notifications.py).

mod common;

#[test]
fn keyspace_events_match_redis_server() {
    common::python_with_binary("notifications.py");
}
