//! nodes.conf, the cluster configuration file, in Redis Cluster's format:
//! one CLUSTER NODES line per node (`id ip:port@cport flags master
//! ping pong epoch link slots...`, this node flagged `myself`, its open
//! slots as `[slot->-id]` / `[slot-<-id]`), then `vars currentEpoch N
//! lastVoteEpoch N`. Files written by redis-server load here and the
//! other way round; a hand-written file is a static topology.

use std::path::Path;

use super::topology::{flag, Node, Topology, ID_LEN};
use crate::engine::slot::SLOTS;

/// Parses a whole file; the error names the line.
pub fn parse(text: &str) -> Result<Topology, String> {
    let mut nodes: Vec<(Node, Vec<&str>)> = Vec::new();
    let mut epochs = (0, 0);
    for (no, line) in text.lines().enumerate() {
        let bad = |what: &str| format!("nodes.conf line {}: {what}: {line:?}", no + 1);
        let fields: Vec<&str> = line.split(' ').filter(|f| !f.is_empty()).collect();
        match fields.first() {
            None => continue,
            Some(&"vars") => {
                for pair in fields[1..].chunks(2) {
                    let [name, value] = pair else {
                        return Err(bad("a var without a value"));
                    };
                    let v: u64 = value
                        .parse()
                        .map_err(|_| bad("a var that is not a number"))?;
                    match *name {
                        "currentEpoch" => epochs.0 = v,
                        "lastVoteEpoch" => epochs.1 = v,
                        _ => {}
                    }
                }
                continue;
            }
            _ => {}
        }
        if fields.len() < 8 {
            return Err(bad("fewer than 8 fields"));
        }
        let id = fields[0];
        if id.len() != ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("a node id is 40 hex digits"));
        }
        let addr = fields[1].split(',').next().unwrap_or("");
        let (ip, ports) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad("an address is ip:port@cport"))?;
        let (port, cport) = match ports.split_once('@') {
            Some((p, c)) => (p, c),
            None => (ports, ""),
        };
        let port: u16 = port.parse().map_err(|_| bad("a bad port"))?;
        let cport: u16 = if cport.is_empty() {
            port.wrapping_add(10000)
        } else {
            cport.parse().map_err(|_| bad("a bad bus port"))?
        };
        let mut flags = 0;
        for name in fields[2].split(',') {
            match flag::NAMES.iter().find(|(_, n)| *n == name) {
                Some((f, _)) => flags |= f,
                None if name == "noflags" => {}
                None => return Err(bad("an unknown flag")),
            }
        }
        let mut node = Node::new(id.to_string(), ip, port, cport, flags);
        if fields[3] != "-" {
            node.master = Some(fields[3].to_string());
        }
        node.ping_sent = fields[4].parse().map_err(|_| bad("a bad ping time"))?;
        node.pong_recv = fields[5].parse().map_err(|_| bad("a bad pong time"))?;
        node.config_epoch = fields[6].parse().map_err(|_| bad("a bad epoch"))?;
        nodes.push((node, fields[8..].to_vec()));
    }
    let me = nodes
        .iter()
        .position(|(n, _)| n.flags & flag::MYSELF != 0)
        .ok_or("nodes.conf: no node is flagged myself")?;
    let (myself, _) = nodes[me].clone();
    let mut topo = Topology::new(Node {
        ping_sent: 0,
        pong_recv: 0,
        ..myself
    });
    topo.current_epoch = epochs.0;
    topo.last_vote_epoch = epochs.1;
    let mut indexes = Vec::with_capacity(nodes.len());
    for (i, (n, _)) in nodes.iter().enumerate() {
        if i == me {
            indexes.push(0);
        } else if topo.find(n.id.as_bytes()).is_some() {
            return Err(format!("nodes.conf: node {} is listed twice", n.id));
        } else {
            let mut n = n.clone();
            n.connected = false;
            indexes.push(topo.add_node(n));
        }
    }
    for (i, (_, tokens)) in nodes.iter().enumerate() {
        for token in tokens {
            apply_slot_token(&mut topo, indexes[i], token)
                .map_err(|e| format!("nodes.conf: node {}: {e}", nodes[i].0.id))?;
        }
    }
    Ok(topo)
}

fn slot_number(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(n) if n < SLOTS => Ok(n),
        _ => Err(format!("bad slot {s:?}")),
    }
}

/// `a`, `a-b`, `[a->-id]` or `[a-<-id]` on node `i`'s line.
fn apply_slot_token(topo: &mut Topology, i: usize, token: &str) -> Result<(), String> {
    if let Some(open) = token.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let (slot, importing, other) = if let Some((s, id)) = open.split_once("->-") {
            (s, false, id)
        } else if let Some((s, id)) = open.split_once("-<-") {
            (s, true, id)
        } else {
            return Err(format!("bad open slot {token:?}"));
        };
        let slot = slot_number(slot)?;
        let other = topo
            .find(other.as_bytes())
            .ok_or_else(|| format!("open slot {slot} names an unknown node"))?;
        if importing {
            topo.set_importing(slot, Some(other));
        } else {
            topo.set_migrating(slot, Some(other));
        }
        return Ok(());
    }
    let (a, b) = match token.split_once('-') {
        Some((a, b)) => (slot_number(a)?, slot_number(b)?),
        None => {
            let s = slot_number(token)?;
            (s, s)
        }
    };
    for s in a..=b {
        topo.set_owner(s, Some(i));
    }
    Ok(())
}

/// The file's text for `topo`.
pub fn render(topo: &Topology) -> String {
    let mut text = topo.describe_all(true);
    text.push_str(&format!(
        "vars currentEpoch {} lastVoteEpoch {}\n",
        topo.current_epoch, topo.last_vote_epoch
    ));
    text
}

/// Writes the file atomically (a temporary file renamed over it).
pub fn save(path: &Path, topo: &Topology) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-redistill");
    std::fs::write(&tmp, render(topo))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file redis-server 7.0.15 wrote for a three-master cluster with
    /// one slot being migrated, and its replica.
    const REDIS_FILE: &str = "\
0b0d4a9ad4c0ba2d81e42e4ab8e8c5dc0fd5b8b6 127.0.0.1:37002@47002 master - 0 1700000000000 2 connected 5461-10922
9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0 127.0.0.1:37001@47001 myself,master - 0 1700000000000 1 connected 0-5460 [17->-0b0d4a9ad4c0ba2d81e42e4ab8e8c5dc0fd5b8b6]
77e1f7ad0cb7d7d6c6b5a4a3a2a1a0a9a8a7a6a5 127.0.0.1:37003@47003 master - 0 1700000000001 3 connected 10923-16383
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1:37004@47004 slave 9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0 0 1700000000002 1 connected
vars currentEpoch 3 lastVoteEpoch 0
";

    #[test]
    fn loads_a_file_redis_wrote_and_writes_it_back() {
        let t = parse(REDIS_FILE).unwrap();
        assert_eq!(t.myself().id, "9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0");
        assert_eq!(t.nodes.len(), 4);
        assert_eq!(t.current_epoch, 3);
        assert_eq!(t.owner(0), Some(0));
        assert_eq!(t.owner(16383).map(|i| t.nodes[i].port), Some(37003));
        assert_eq!(t.migrating_to(17).map(|i| t.nodes[i].port), Some(37002));
        assert!(t.state_ok());
        assert_eq!(t.replicas_of(0).len(), 1);
        let again = parse(&render(&t)).unwrap();
        assert_eq!(render(&again), render(&t));
        assert!(render(&t).starts_with(
            "9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0 127.0.0.1:37001@47001 myself,master - 0 0 1 connected 0-5460 [17->-"
        ));
    }

    #[test]
    fn refuses_broken_files() {
        for bad in [
            "",
            "abc 127.0.0.1:1@2 myself,master - 0 0 0 connected\n",
            "9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0 127.0.0.1 myself,master - 0 0 0 connected\n",
            "9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0 127.0.0.1:1@2 myself,master - 0 0 0 connected 16384\n",
            "9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0 127.0.0.1:1@2 myself,bogus - 0 0 0 connected\n",
            "9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0 127.0.0.1:1@2 master - 0 0 0 connected\n",
            "9d3b5d3f6a57b0a5e4c4d7c2c2e1b1a0f0e0d0c0 127.0.0.1:1@2 myself,master - 0 0\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
