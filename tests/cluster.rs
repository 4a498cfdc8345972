//! Cluster mode (`cluster-enabled yes`), checked with redis-server, redis-cli
//! and redis-py: one node against redis-server in cluster mode reply by
//! reply, and three nodes serving one static topology to cluster clients.

mod common;

/// One node and redis-server start from the same nodes.conf (a second,
/// absent master owns half the slots) and answer the same CLUSTER
/// commands, redirections and refusals byte for byte.
#[test]
fn cluster_node_answers_as_redis_server() {
    common::python_with_binary("cluster_node.py");
}

/// Three nodes from one topology: redis-cli --cluster check, redis-py
/// RedisCluster (commands, pipelines, transactions), redis-cli -c, and a
/// slot handed over with SETSLOT NODE.
#[test]
fn three_nodes_serve_cluster_clients() {
    common::python_with_binary("cluster_static.py");
}

/// redis-cli --cluster reshard and rebalance move slots (and their keys,
/// with MIGRATE) between three nodes while redis-py keeps writing; no
/// acknowledged write is lost.
#[test]
fn reshard_and_rebalance_under_writes_lose_nothing() {
    common::python_with_binary("cluster_reshard.py");
}

/// redis-cli --cluster create over the cluster bus: three Redistill nodes,
/// then two redis-server nodes and one Redistill node in one cluster,
/// resharded both ways with keys; CLUSTER FORGET holds.
#[test]
fn redis_cli_creates_redistill_and_mixed_clusters() {
    common::python_with_binary("cluster_create.py");
}

/// A master killed with SIGKILL: the others agree it failed, its replica
/// wins the failover election and serves every key, the old master
/// returns as a replica, and CLUSTER FAILOVER TAKEOVER switches them back.
#[test]
fn failed_master_is_replaced_by_its_replica() {
    common::python_with_binary("cluster_failover.py");
}
