//! The cluster as this node sees it: the known nodes, which node owns each
//! of the 16384 hash slots, the slots being migrated or imported, and the
//! epochs. Plain data with Redis Cluster's rules for changing it; the
//! CLUSTER commands and nodes.conf read and write it.

use std::fmt::Write;

use crate::engine::slot::SLOTS;
use crate::errors::{self, CmdResult};

/// Node flags, with Redis Cluster's bit values (they travel on the bus).
pub mod flag {
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const MIGRATE_TO: u16 = 256;
    pub const NOFAILOVER: u16 = 512;

    /// The names CLUSTER NODES prints, in its order.
    pub const NAMES: &[(u16, &str)] = &[
        (MYSELF, "myself"),
        (MASTER, "master"),
        (SLAVE, "slave"),
        (PFAIL, "fail?"),
        (FAIL, "fail"),
        (HANDSHAKE, "handshake"),
        (NOADDR, "noaddr"),
        (NOFAILOVER, "nofailover"),
    ];
}

/// Length of a node id: 40 hex digits.
pub const ID_LEN: usize = 40;

/// No node: a slot nobody serves.
const NONE: u16 = u16::MAX;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub ip: String,
    pub port: u16,
    /// The cluster bus port.
    pub cport: u16,
    pub flags: u16,
    /// The master's id, for a replica.
    pub master: Option<String>,
    /// Milliseconds timestamps of the last ping sent and pong received.
    pub ping_sent: u64,
    pub pong_recv: u64,
    pub config_epoch: u64,
    /// An outgoing bus link to the node is up.
    pub connected: bool,
    /// When a node in handshake was created (ms), to give up on it.
    pub ctime: u64,
    /// The replication offset the node last announced on the bus.
    pub repl_offset: u64,
    /// Masters that reported the node failing (PFAIL or FAIL in their
    /// gossip), with when they last did (ms).
    pub fail_reports: Vec<(String, u64)>,
    /// When the node was marked FAIL (ms).
    pub fail_time: u64,
    /// When this node last voted for a replica of this master (ms).
    pub voted_time: u64,
}

impl Node {
    pub fn new(id: String, ip: &str, port: u16, cport: u16, flags: u16) -> Node {
        Node {
            id,
            ip: ip.to_string(),
            port,
            cport,
            flags,
            master: None,
            ping_sent: 0,
            pong_recv: 0,
            config_epoch: 0,
            connected: false,
            ctime: 0,
            repl_offset: 0,
            fail_reports: Vec::new(),
            fail_time: 0,
            voted_time: 0,
        }
    }

    pub fn is_master(&self) -> bool {
        self.flags & flag::MASTER != 0
    }

    pub fn failed(&self) -> bool {
        self.flags & flag::FAIL != 0
    }

    /// `ip:port`, as redirections name the node.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

#[derive(Clone, Debug)]
pub struct Topology {
    /// Every known node; `nodes[0]` is this node.
    pub nodes: Vec<Node>,
    /// Owner (index into `nodes`) of every slot, or NONE.
    slots: Vec<u16>,
    /// Target of each slot this node is migrating, or NONE.
    migrating: Vec<u16>,
    /// Source of each slot this node is importing, or NONE.
    importing: Vec<u16>,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    /// This node's replication offset, announced in its headers (set by
    /// the bus before it sends).
    pub repl_offset: u64,
    /// A replica's election for its failed master (not kept in nodes.conf).
    pub election: Election,
}

/// A replica's failover election: when it may ask (ms), the epoch it asks
/// for, whether it asked, and the votes it got.
#[derive(Clone, Debug, Default)]
pub struct Election {
    pub at: u64,
    pub epoch: u64,
    pub sent: bool,
    pub votes: usize,
}

impl Topology {
    /// A fresh node alone in its cluster, owning no slot.
    pub fn new(myself: Node) -> Topology {
        Topology {
            nodes: vec![myself],
            slots: vec![NONE; SLOTS as usize],
            migrating: vec![NONE; SLOTS as usize],
            importing: vec![NONE; SLOTS as usize],
            current_epoch: 0,
            last_vote_epoch: 0,
            repl_offset: 0,
            election: Election::default(),
        }
    }

    pub fn myself(&self) -> &Node {
        &self.nodes[0]
    }

    pub fn myself_mut(&mut self) -> &mut Node {
        &mut self.nodes[0]
    }

    /// This node's master (index), when it is a replica.
    pub fn my_master(&self) -> Option<usize> {
        let me = self.myself();
        if me.is_master() {
            return None;
        }
        me.master.as_ref().and_then(|m| self.find(m.as_bytes()))
    }

    /// The index of the node with this id.
    pub fn find(&self, id: &[u8]) -> Option<usize> {
        self.nodes.iter().position(|n| n.id.as_bytes() == id)
    }

    /// Adds a node (not known before); returns its index.
    pub fn add_node(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Removes node `i` (not myself) and every slot it owned or was
    /// named for.
    pub fn remove_node(&mut self, i: usize) {
        assert!(i != 0, "myself is never removed");
        self.nodes.remove(i);
        for table in [&mut self.slots, &mut self.migrating, &mut self.importing] {
            for owner in table.iter_mut() {
                if *owner == i as u16 {
                    *owner = NONE;
                } else if *owner != NONE && *owner > i as u16 {
                    *owner -= 1;
                }
            }
        }
    }

    /// The index of the node serving `slot`.
    #[inline]
    pub fn owner(&self, slot: u16) -> Option<usize> {
        let o = self.slots[slot as usize];
        (o != NONE).then_some(o as usize)
    }

    pub fn set_owner(&mut self, slot: u16, node: Option<usize>) {
        self.slots[slot as usize] = node.map_or(NONE, |n| n as u16);
    }

    pub fn migrating_to(&self, slot: u16) -> Option<usize> {
        let o = self.migrating[slot as usize];
        (o != NONE).then_some(o as usize)
    }

    pub fn importing_from(&self, slot: u16) -> Option<usize> {
        let o = self.importing[slot as usize];
        (o != NONE).then_some(o as usize)
    }

    pub fn set_migrating(&mut self, slot: u16, node: Option<usize>) {
        self.migrating[slot as usize] = node.map_or(NONE, |n| n as u16);
    }

    pub fn set_importing(&mut self, slot: u16, node: Option<usize>) {
        self.importing[slot as usize] = node.map_or(NONE, |n| n as u16);
    }

    /// How many slots node `i` serves.
    pub fn slot_count(&self, i: usize) -> usize {
        self.slots.iter().filter(|&&o| o == i as u16).count()
    }

    /// Slots with an owner.
    pub fn assigned(&self) -> usize {
        self.slots.iter().filter(|&&o| o != NONE).count()
    }

    /// The maximal runs of consecutive slots each with one owner, in slot
    /// order: (first, last, owner).
    pub fn runs(&self) -> Vec<(u16, u16, usize)> {
        let mut runs: Vec<(u16, u16, usize)> = Vec::new();
        for (s, &o) in self.slots.iter().enumerate() {
            if o == NONE {
                continue;
            }
            match runs.last_mut() {
                Some((_, last, owner)) if *owner == o as usize && *last as usize + 1 == s => {
                    *last = s as u16
                }
                _ => runs.push((s as u16, s as u16, o as usize)),
            }
        }
        runs
    }

    /// The slot ranges node `i` serves.
    pub fn ranges_of(&self, i: usize) -> Vec<(u16, u16)> {
        self.runs()
            .into_iter()
            .filter(|r| r.2 == i)
            .map(|(a, b, _)| (a, b))
            .collect()
    }

    /// The replicas of node `i`.
    pub fn replicas_of(&self, i: usize) -> Vec<usize> {
        let id = &self.nodes[i].id;
        (0..self.nodes.len())
            .filter(|&j| self.nodes[j].master.as_ref() == Some(id))
            .collect()
    }

    /// Number of masters serving at least one slot (CLUSTER INFO
    /// `cluster_size`).
    pub fn size(&self) -> usize {
        let mut serving = vec![false; self.nodes.len()];
        for &o in &self.slots {
            if o != NONE {
                serving[o as usize] = true;
            }
        }
        serving.iter().filter(|&&s| s).count()
    }

    /// Every slot has an owner that is not failing.
    pub fn state_ok(&self) -> bool {
        self.slots
            .iter()
            .all(|&o| o != NONE && !self.nodes[o as usize].failed())
    }

    /// Checks ADDSLOTS/DELSLOTS-style requests: each slot once, free to
    /// add or assigned to delete. `seen` accumulates over ranges.
    pub fn check_assign(&self, slots: &[u16], del: bool, seen: &mut [bool]) -> CmdResult {
        for &s in slots {
            let owner = self.owner(s);
            if del && owner.is_none() {
                return Err(errors::slot_unassigned(s));
            } else if !del && owner.is_some() {
                return Err(errors::slot_busy(s));
            }
            if std::mem::replace(&mut seen[s as usize], true) {
                return Err(errors::slot_repeated(s));
            }
        }
        Ok(())
    }

    /// Assigns (or unassigns with `del`) the slots marked in `seen` to
    /// myself; an import of such a slot is over.
    pub fn apply_assign(&mut self, seen: &[bool], del: bool) {
        for (s, _) in seen.iter().enumerate().filter(|(_, &m)| m) {
            self.importing[s] = NONE;
            self.slots[s] = if del { NONE } else { 0 };
        }
    }

    /// Takes a new config epoch greater than every known one, unless this
    /// node's already is the greatest (Redis's
    /// clusterBumpConfigEpochWithoutConsensus). True when it changed.
    pub fn bump_epoch(&mut self) -> bool {
        let mine = self.myself().config_epoch;
        let max = self.nodes.iter().map(|n| n.config_epoch).max().unwrap_or(0);
        if mine == 0 || mine != max.max(self.current_epoch) {
            self.current_epoch += 1;
            let e = self.current_epoch;
            self.myself_mut().config_epoch = e;
            true
        } else {
            false
        }
    }

    /// One CLUSTER NODES line (without the newline) for node `i`.
    pub fn describe(&self, i: usize) -> String {
        let n = &self.nodes[i];
        let mut line = format!("{} {}:{}@{} ", n.id, n.ip, n.port, n.cport);
        let names: Vec<&str> = flag::NAMES
            .iter()
            .filter(|(f, _)| n.flags & f != 0)
            .map(|&(_, name)| name)
            .collect();
        line.push_str(&if names.is_empty() {
            "noflags".to_string()
        } else {
            names.join(",")
        });
        let epoch = match n.master.as_ref().and_then(|m| self.find(m.as_bytes())) {
            Some(m) if !n.is_master() => self.nodes[m].config_epoch,
            _ => n.config_epoch,
        };
        let _ = write!(
            line,
            " {} {} {} {} {}",
            n.master.as_deref().unwrap_or("-"),
            n.ping_sent,
            n.pong_recv,
            epoch,
            if n.connected || i == 0 {
                "connected"
            } else {
                "disconnected"
            }
        );
        for (a, b) in self.ranges_of(i) {
            if a == b {
                let _ = write!(line, " {a}");
            } else {
                let _ = write!(line, " {a}-{b}");
            }
        }
        if i == 0 {
            for s in 0..SLOTS {
                if let Some(t) = self.migrating_to(s) {
                    let _ = write!(line, " [{s}->-{}]", self.nodes[t].id);
                } else if let Some(f) = self.importing_from(s) {
                    let _ = write!(line, " [{s}-<-{}]", self.nodes[f].id);
                }
            }
        }
        line
    }

    /// CLUSTER NODES: every node except those in handshake when
    /// `skip_handshake` (nodes.conf).
    pub fn describe_all(&self, skip_handshake: bool) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if skip_handshake && n.flags & flag::HANDSHAKE != 0 {
                continue;
            }
            out.push_str(&self.describe(i));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: char, port: u16, flags: u16) -> Node {
        Node::new(
            id.to_string().repeat(ID_LEN),
            "127.0.0.1",
            port,
            port + 10000,
            flags,
        )
    }

    #[test]
    fn runs_and_nodes_lines() {
        let mut t = Topology::new(node('a', 7000, flag::MYSELF | flag::MASTER));
        let b = t.add_node(node('b', 7001, flag::MASTER));
        let mut seen = vec![false; SLOTS as usize];
        let mine: Vec<u16> = (0..5).chain([7]).collect();
        t.check_assign(&mine, false, &mut seen).unwrap();
        t.apply_assign(&seen, false);
        for s in 8..SLOTS {
            t.set_owner(s, Some(b));
        }
        t.set_migrating(7, Some(b));
        assert_eq!(t.runs(), vec![(0, 4, 0), (7, 7, 0), (8, 16383, 1)]);
        assert_eq!(
            t.describe(0),
            format!(
                "{} 127.0.0.1:7000@17000 myself,master - 0 0 0 connected 0-4 7 [7->-{}]",
                "a".repeat(40),
                "b".repeat(40)
            )
        );
        assert!(t.describe(1).ends_with(" disconnected 8-16383"));
        assert!(!t.state_ok());
        assert_eq!(t.size(), 2);
        t.remove_node(b);
        assert_eq!(t.owner(9), None);
        assert_eq!(t.migrating_to(7), None);
        assert_eq!(t.owner(7), Some(0));
    }

    #[test]
    fn assignment_refusals_use_redis_texts() {
        let mut t = Topology::new(node('a', 7000, flag::MYSELF | flag::MASTER));
        let mut seen = vec![false; SLOTS as usize];
        assert_eq!(
            t.check_assign(&[3, 3], false, &mut seen),
            Err(errors::slot_repeated(3))
        );
        let mut seen = vec![false; SLOTS as usize];
        assert_eq!(
            t.check_assign(&[3], true, &mut seen),
            Err(errors::slot_unassigned(3))
        );
        let mut seen = vec![false; SLOTS as usize];
        t.check_assign(&[3], false, &mut seen).unwrap();
        t.apply_assign(&seen, false);
        let mut seen = vec![false; SLOTS as usize];
        assert_eq!(
            t.check_assign(&[3], false, &mut seen),
            Err(errors::slot_busy(3))
        );
    }

    #[test]
    fn bump_epoch_only_when_not_already_greatest() {
        let mut t = Topology::new(node('a', 7000, flag::MYSELF | flag::MASTER));
        assert!(t.bump_epoch());
        assert_eq!(t.myself().config_epoch, 1);
        assert!(!t.bump_epoch());
        let b = t.add_node(node('b', 7001, flag::MASTER));
        t.nodes[b].config_epoch = 5;
        t.current_epoch = 5;
        assert!(t.bump_epoch());
        assert_eq!(t.myself().config_epoch, 6);
    }
}
