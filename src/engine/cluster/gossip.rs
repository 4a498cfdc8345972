//! Redis Cluster's membership rules on the bus, as plain functions of the
//! topology: the frames this node sends (its header, gossip about others),
//! what a received PING / PONG / MEET changes (handshakes that learn a
//! node's real id, nodes learnt from gossip, epochs, slot ownership with
//! the greater config epoch winning), and the periodic plan (links to
//! open, PINGs to send, handshakes to give up). The server's bus tasks do
//! the I/O.

use super::bus::{self, Gossip, Header, AUTH_ACK, AUTH_REQUEST, FAIL, MEET, PING, PONG};
use super::topology::{flag, Node, Topology};
use crate::engine::slot::SLOTS;

/// Which link a frame arrived on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// A connection a peer opened to our bus port.
    Inbound,
    /// Our link to the node with this id (as we knew it when sending).
    Outbound(String),
}

/// What the bus task must do after a frame.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// A frame to send back on the same connection (PONG).
    pub reply: Option<Vec<u8>>,
    /// The outbound link's node is now known under this id.
    pub renamed: Option<String>,
    /// Close the link (its node was a duplicate or answered with another id).
    pub drop_link: bool,
    /// The topology changed in a way nodes.conf keeps.
    pub save: bool,
    /// Frames for every linked node (FAIL when a node was found failing).
    pub broadcast: Vec<Vec<u8>>,
    /// This node lost its master's (or its own) slots to another master
    /// and now replicates it: (ip, port) to follow.
    pub follow: Option<(String, u16)>,
}

/// What a vote frame changes.
#[derive(Debug, Default)]
pub struct Vote {
    /// An AUTH_ACK to send back (this master votes for the requester).
    pub ack: Option<Vec<u8>>,
    pub save: bool,
}

/// The periodic plan: links to open and nodes to PING.
#[derive(Debug, Default)]
pub struct Plan {
    /// (node id, ip, bus port) of nodes without a link.
    pub connect: Vec<(String, String, u16)>,
    pub ping: Vec<String>,
    pub save: bool,
    /// Frames for every linked node (FAIL, AUTH_REQUEST).
    pub broadcast: Vec<Vec<u8>>,
    /// This replica won its election: it is now the master.
    pub promoted: bool,
}

/// A node is pinged when its last pong is older than this (ms).
const PING_INTERVAL_MS: u64 = 1000;

/// A master marked FAIL that answers again is cleared after this long
/// (ms), giving a replica time to take its slots over.
const FAIL_UNDO_MS: u64 = 10_000;

fn out_save(out: &mut Outcome) -> &mut bool {
    &mut out.save
}

impl Topology {
    /// This node's header for a frame of `kind`.
    /// A replica announces its master's id, slots and config epoch.
    pub fn header(&self, kind: u16, announce_ip: &str) -> Header {
        let me = self.myself();
        let mut h = Header::new(kind, &me.id);
        h.port = me.port;
        h.cport = me.cport;
        h.current_epoch = self.current_epoch;
        h.offset = self.repl_offset;
        h.ip = announce_ip.to_string();
        h.flags = me.flags & !(flag::MYSELF | flag::MEET);
        h.state = u8::from(!self.state_ok());
        let serving = match self.my_master() {
            Some(m) => {
                h.master = Some(self.nodes[m].id.clone());
                h.config_epoch = self.nodes[m].config_epoch;
                m
            }
            None => {
                h.master = me.master.clone().filter(|_| !me.is_master());
                h.config_epoch = me.config_epoch;
                0
            }
        };
        for s in 0..SLOTS {
            if self.owner(s) == Some(serving) {
                h.set_slot(s);
            }
        }
        h
    }

    /// A whole frame for `target` (its index): the header and gossip
    /// about up to max(3, n/10) other known nodes.
    pub fn frame(&self, kind: u16, target: Option<usize>, announce_ip: &str) -> Vec<u8> {
        let wanted = (self.nodes.len() / 10).max(3);
        let mut candidates: Vec<usize> = (1..self.nodes.len())
            .filter(|&i| Some(i) != target)
            .filter(|&i| self.nodes[i].flags & (flag::HANDSHAKE | flag::NOADDR) == 0)
            .collect();
        fastrand::shuffle(&mut candidates);
        // Nodes we suspect go out every time: other masters' reports are
        // what turns a suspicion into FAIL.
        let suspected: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.nodes[i].flags & flag::PFAIL != 0)
            .collect();
        let mut picked: Vec<usize> = candidates
            .into_iter()
            .filter(|i| !suspected.contains(i))
            .take(wanted)
            .collect();
        picked.extend(suspected);
        let gossip: Vec<Gossip> = picked
            .into_iter()
            .map(|i| {
                let n = &self.nodes[i];
                Gossip {
                    id: n.id.clone(),
                    ping_sent: (n.ping_sent / 1000) as u32,
                    pong_received: (n.pong_recv / 1000) as u32,
                    ip: n.ip.clone(),
                    port: n.port,
                    cport: n.cport,
                    flags: n.flags & !flag::MEET,
                }
            })
            .collect();
        bus::encode(&self.header(kind, announce_ip), &gossip)
    }

    /// Applies a frame (Redis's clusterProcessPacket for PING, PONG and
    /// MEET). `peer_ip` is the connection's remote address, `local_ip`
    /// ours on it.
    #[allow(clippy::too_many_arguments)]
    pub fn receive(
        &mut self,
        h: &Header,
        gossip: &[Gossip],
        side: &Side,
        peer_ip: &str,
        local_ip: &str,
        announce_ip: &str,
        now: u64,
        node_timeout_ms: u64,
        blacklisted: impl Fn(&str) -> bool,
    ) -> Outcome {
        let mut out = Outcome::default();
        if !matches!(h.kind, PING | PONG | MEET) {
            return out;
        }
        let now_ms = now;
        let mut sender = self.find(h.sender.as_bytes()).filter(|&i| i != 0);
        let known =
            |t: &Topology, s: Option<usize>| s.filter(|&i| t.nodes[i].flags & flag::HANDSHAKE == 0);
        if let Some(s) = known(self, sender) {
            self.nodes[s].repl_offset = h.offset;
            if h.current_epoch > self.current_epoch {
                self.current_epoch = h.current_epoch;
                out.save = true;
            }
            if h.config_epoch > self.nodes[s].config_epoch && h.master.is_none() {
                self.nodes[s].config_epoch = h.config_epoch;
                out.save = true;
            }
        }
        if h.kind == PING || h.kind == MEET {
            // Our own address, as the peer reached us.
            if announce_ip.is_empty()
                && (h.kind == MEET || self.myself().ip.is_empty())
                && self.myself().ip != local_ip
            {
                self.myself_mut().ip = local_ip.to_string();
                out.save = true;
            }
            if sender.is_none() && h.kind == MEET {
                let ip = if h.ip.is_empty() { peer_ip } else { &h.ip };
                let mut n = Node::new(
                    crate::engine::repl::random_id(),
                    ip,
                    h.port,
                    h.cport,
                    flag::HANDSHAKE,
                );
                n.ctime = now;
                self.add_node(n);
            }
            let target = sender.filter(|_| matches!(side, Side::Outbound(_)));
            out.reply = Some(self.frame(PONG, target, announce_ip));
        }
        if let Side::Outbound(link_id) = side {
            if let Some(link) = self.find(link_id.as_bytes()) {
                if self.nodes[link].flags & flag::HANDSHAKE != 0 {
                    match sender {
                        Some(existing) if existing != link => {
                            // Already known under its real id: the
                            // handshake entry goes, the known node keeps
                            // (and relinks to) its address.
                            self.remove_node(link);
                            out.drop_link = true;
                            out.save = true;
                            return out;
                        }
                        _ => {
                            let n = &mut self.nodes[link];
                            n.id = h.sender.clone();
                            n.flags &= !(flag::HANDSHAKE | flag::MEET);
                            n.flags |= h.flags & (flag::MASTER | flag::SLAVE);
                            out.renamed = Some(h.sender.clone());
                            out.save = true;
                            sender = Some(link);
                        }
                    }
                } else if self.nodes[link].id != h.sender {
                    // Another node answers at this address.
                    self.nodes[link].flags |= flag::NOADDR;
                    self.nodes[link].connected = false;
                    out.drop_link = true;
                    out.save = true;
                    return out;
                }
                if h.kind == PONG {
                    let n = &mut self.nodes[link];
                    n.pong_recv = now;
                    n.ping_sent = 0;
                    n.flags &= !flag::PFAIL;
                    self.clear_failure_if_needed(link, now, out_save(&mut out));
                }
            }
        }
        let Some(s) = known(self, sender) else {
            return out;
        };
        // Role.
        let role_before = (self.nodes[s].flags, self.nodes[s].master.clone());
        match &h.master {
            None => {
                self.nodes[s].flags = (self.nodes[s].flags & !flag::SLAVE) | flag::MASTER;
                self.nodes[s].master = None;
            }
            Some(m) => {
                self.nodes[s].flags = (self.nodes[s].flags & !flag::MASTER) | flag::SLAVE;
                self.nodes[s].master = Some(m.clone());
            }
        }
        if role_before != (self.nodes[s].flags, self.nodes[s].master.clone()) {
            out.save = true;
        }
        // Slots: a claim wins over an unassigned slot or an owner with a
        // smaller config epoch; slots we import are left alone.
        if h.master.is_none() {
            let epoch = h.config_epoch;
            // The master whose slots this node serves: itself, or the one
            // it replicates.
            let serving = self.my_master().unwrap_or(0);
            let had = self.slot_count(serving) > 0;
            let mut took_ours = false;
            for slot in 0..SLOTS {
                if !h.has_slot(slot) || self.owner(slot) == Some(s) {
                    continue;
                }
                if self.importing_from(slot).is_some() {
                    continue;
                }
                let beaten = match self.owner(slot) {
                    None => true,
                    Some(o) => self.nodes[o].config_epoch < epoch,
                };
                if beaten {
                    took_ours |= self.owner(slot) == Some(serving);
                    self.set_owner(slot, Some(s));
                    if self.migrating_to(slot).is_some() {
                        self.set_migrating(slot, None);
                    }
                    out.save = true;
                }
            }
            // The slots this node served all went to the sender (a
            // failover elsewhere): it becomes the sender's replica.
            if had && took_ours && self.slot_count(serving) == 0 {
                let id = self.nodes[s].id.clone();
                let me = self.myself_mut();
                me.flags = (me.flags & !flag::MASTER) | flag::SLAVE;
                me.master = Some(id);
                out.follow = Some((self.nodes[s].ip.clone(), self.nodes[s].port));
                out.save = true;
            }
            // Two masters with one config epoch: the smaller id takes a
            // new one (Redis's clusterHandleConfigEpochCollision).
            let me = self.myself();
            if me.is_master() && epoch == me.config_epoch && h.sender.as_str() > me.id.as_str() {
                self.current_epoch += 1;
                let e = self.current_epoch;
                self.myself_mut().config_epoch = e;
                out.save = true;
            }
        }
        // Gossip: a master's view of each node counts as a failure
        // report (or withdraws one); nodes we do not know yet are added
        // with their real ids.
        let reporter_is_master = self.nodes[s].is_master();
        for g in gossip {
            if let Some(i) = self.find(g.id.as_bytes()) {
                if i != 0 && reporter_is_master {
                    let reporter = h.sender.clone();
                    let reports = &mut self.nodes[i].fail_reports;
                    reports.retain(|(r, _)| *r != reporter);
                    if g.flags & (flag::PFAIL | flag::FAIL) != 0 {
                        reports.push((reporter, now_ms));
                        if let Some(frame) = self.fail_if_agreed(i, now_ms, node_timeout_ms) {
                            out.broadcast.push(frame);
                            out.save = true;
                        }
                    }
                }
                continue;
            }
            if g.id.len() != super::topology::ID_LEN {
                continue;
            }
            if g.flags & flag::NOADDR != 0 || blacklisted(&g.id) || g.ip.is_empty() {
                continue;
            }
            let flags = g.flags & (flag::MASTER | flag::SLAVE | flag::NOFAILOVER);
            self.add_node(Node::new(g.id.clone(), &g.ip, g.port, g.cport, flags));
            out.save = true;
        }
        out
    }

    /// The periodic plan at `now`: handshakes older than `handshake_ms`
    /// are dropped, nodes without a link get one, linked nodes whose last
    /// pong is old are pinged, and nodes silent for `node_timeout_ms`
    /// are flagged as possibly failing.
    pub fn plan(&mut self, now: u64, handshake_ms: u64, node_timeout_ms: u64) -> Plan {
        let mut plan = Plan::default();
        let mut i = 1;
        while i < self.nodes.len() {
            let n = &self.nodes[i];
            if n.flags & flag::HANDSHAKE != 0 && now.saturating_sub(n.ctime) > handshake_ms {
                self.remove_node(i);
                plan.save = true;
                continue;
            }
            i += 1;
        }
        for n in self.nodes.iter_mut().skip(1) {
            if n.flags & flag::NOADDR != 0 {
                continue;
            }
            if !n.connected {
                plan.connect.push((n.id.clone(), n.ip.clone(), n.cport));
                // Trying to reach a node counts as a ping it has not
                // answered: it is suspected after the timeout.
                if n.ping_sent == 0 {
                    n.ping_sent = now;
                }
                if now.saturating_sub(n.ping_sent) > node_timeout_ms && n.flags & flag::FAIL == 0 {
                    n.flags |= flag::PFAIL;
                }
                continue;
            }
            if n.ping_sent == 0 && now.saturating_sub(n.pong_recv) >= PING_INTERVAL_MS {
                n.ping_sent = now;
                plan.ping.push(n.id.clone());
            } else if n.ping_sent != 0
                && now.saturating_sub(n.ping_sent) > node_timeout_ms
                && n.flags & flag::FAIL == 0
            {
                n.flags |= flag::PFAIL;
            }
        }
        for i in 1..self.nodes.len() {
            if let Some(frame) = self.fail_if_agreed(i, now, node_timeout_ms) {
                plan.broadcast.push(frame);
                plan.save = true;
            }
        }
        self.run_election(now, node_timeout_ms, &mut plan);
        plan
    }

    /// A replica whose master failed runs Redis's election: after a delay
    /// (500 ms plus up to 500 ms at random) it takes a new epoch and asks
    /// every node for a vote; with a majority of the slot-serving masters
    /// it takes its master's slots under that epoch. An election that
    /// does not conclude within max(2 × node timeout, 2 s) is retried
    /// after twice that.
    fn run_election(&mut self, now: u64, node_timeout_ms: u64, plan: &mut Plan) {
        let Some(m) = self.my_master() else {
            self.election = Default::default();
            return;
        };
        if !self.nodes[m].failed() || self.slot_count(m) == 0 {
            self.election = Default::default();
            return;
        }
        let timeout = node_timeout_ms.saturating_mul(2).max(2000);
        let age = now as i64 - self.election.at as i64;
        if self.election.at == 0 || age > (timeout * 2) as i64 {
            self.election = super::topology::Election {
                at: now + 500 + fastrand::u64(..500),
                ..Default::default()
            };
            return;
        }
        if age < 0 || age > timeout as i64 {
            return;
        }
        if !self.election.sent {
            self.current_epoch += 1;
            self.election.epoch = self.current_epoch;
            self.election.sent = true;
            plan.broadcast
                .push(bus::encode(&self.header(AUTH_REQUEST, ""), &[]));
            plan.save = true;
            return;
        }
        if self.election.votes >= self.quorum() {
            let epoch = self.election.epoch;
            if self.myself().config_epoch < epoch {
                self.myself_mut().config_epoch = epoch;
            }
            for s in 0..SLOTS {
                if self.owner(s) == Some(m) {
                    self.set_owner(s, Some(0));
                }
            }
            let me = self.myself_mut();
            me.flags = (me.flags & !flag::SLAVE) | flag::MASTER;
            me.master = None;
            self.election = Default::default();
            plan.promoted = true;
            plan.save = true;
            // The others learn it from the next PINGs (greater epoch).
            plan.broadcast.push(self.frame(PONG, None, ""));
        }
    }

    /// A vote request or a vote (Redis's clusterSendFailoverAuthIfNeeded
    /// and the requester's count).
    pub fn receive_vote(&mut self, h: &Header, now: u64, node_timeout_ms: u64) -> Vote {
        let mut vote = Vote::default();
        let Some(s) = self
            .find(h.sender.as_bytes())
            .filter(|&s| s != 0 && self.nodes[s].flags & flag::HANDSHAKE == 0)
        else {
            return vote;
        };
        if h.current_epoch > self.current_epoch {
            self.current_epoch = h.current_epoch;
            vote.save = true;
        }
        if h.kind == AUTH_ACK {
            if self.nodes[s].is_master()
                && self.slot_count(s) > 0
                && h.current_epoch >= self.election.epoch
                && self.election.sent
            {
                self.election.votes += 1;
            }
            return vote;
        }
        // A request: only masters serving slots vote, once per epoch, for
        // a replica of a failed master, not twice for that master within
        // two node timeouts, and not for slots a newer config serves.
        let me = self.myself();
        if !me.is_master() || self.slot_count(0) == 0 {
            return vote;
        }
        if h.current_epoch < self.current_epoch || self.last_vote_epoch == self.current_epoch {
            return vote;
        }
        let Some(m) = h.master.as_ref().and_then(|m| self.find(m.as_bytes())) else {
            return vote;
        };
        if !self.nodes[m].failed() || self.nodes[s].is_master() {
            return vote;
        }
        if now.saturating_sub(self.nodes[m].voted_time) < node_timeout_ms.saturating_mul(2) {
            return vote;
        }
        for slot in 0..SLOTS {
            if h.has_slot(slot) {
                if let Some(o) = self.owner(slot) {
                    if self.nodes[o].config_epoch > h.config_epoch {
                        return vote;
                    }
                }
            }
        }
        self.last_vote_epoch = self.current_epoch;
        self.nodes[m].voted_time = now;
        vote.save = true;
        vote.ack = Some(bus::encode(&self.header(AUTH_ACK, ""), &[]));
        vote
    }

    /// Masters serving slots, and how many must agree that a node fails.
    fn quorum(&self) -> usize {
        self.size() / 2 + 1
    }

    /// Marks node `i` FAIL when this node suspects it (PFAIL) and, with
    /// this node's own vote if it is a master, a majority of the masters
    /// serving slots reported it within twice the node timeout (Redis's
    /// markNodeAsFailingIfNeeded). Returns the FAIL frame to broadcast.
    fn fail_if_agreed(&mut self, i: usize, now: u64, node_timeout_ms: u64) -> Option<Vec<u8>> {
        let n = &mut self.nodes[i];
        if n.flags & flag::PFAIL == 0 || n.flags & flag::FAIL != 0 {
            return None;
        }
        let validity = node_timeout_ms.saturating_mul(2);
        n.fail_reports
            .retain(|(_, at)| now.saturating_sub(*at) <= validity);
        let votes = n.fail_reports.len() + usize::from(self.myself().is_master());
        if votes < self.quorum() {
            return None;
        }
        let n = &mut self.nodes[i];
        n.flags = (n.flags & !flag::PFAIL) | flag::FAIL;
        n.fail_time = now;
        let id = n.id.clone();
        Some(bus::encode_fail(&self.header(FAIL, ""), &id))
    }

    /// A FAIL frame from a known node: the named node is marked FAIL.
    pub fn receive_fail(&mut self, sender: &str, failing: &str, now: u64) -> bool {
        let known = self
            .find(sender.as_bytes())
            .is_some_and(|s| s != 0 && self.nodes[s].flags & flag::HANDSHAKE == 0);
        match self.find(failing.as_bytes()) {
            Some(i) if known && i != 0 && self.nodes[i].flags & flag::FAIL == 0 => {
                let n = &mut self.nodes[i];
                n.flags = (n.flags & !flag::PFAIL) | flag::FAIL;
                n.fail_time = now;
                true
            }
            _ => false,
        }
    }

    /// A FAIL node answering again is cleared at once when it serves no
    /// slot (a replica, an empty master), or after twice the node timeout
    /// otherwise (Redis's clearNodeFailureIfNeeded, with the node timeout
    /// taken as the time since FAIL here).
    fn clear_failure_if_needed(&mut self, i: usize, now: u64, save: &mut bool) {
        if self.nodes[i].flags & flag::FAIL == 0 {
            return;
        }
        let serves = self.slot_count(i) > 0 && self.nodes[i].is_master();
        if !serves || now.saturating_sub(self.nodes[i].fail_time) > FAIL_UNDO_MS {
            self.nodes[i].flags &= !flag::FAIL;
            *save = true;
        }
    }

    /// A node the bus task linked to (or lost): CLUSTER NODES'
    /// connected/disconnected.
    pub fn set_connected(&mut self, id: &str, up: bool, now: u64) {
        if let Some(i) = self.find(id.as_bytes()) {
            let n = &mut self.nodes[i];
            n.connected = up;
            // The first PING goes out on connect; an unanswered one stays
            // pending across reconnections.
            if up && n.ping_sent == 0 {
                n.ping_sent = now;
            }
        }
    }

    /// The frame that opens a new link to `id`: MEET for a node met by
    /// CLUSTER MEET (once), PING otherwise.
    pub fn opening_frame(&mut self, id: &str, announce_ip: &str) -> Option<Vec<u8>> {
        let i = self.find(id.as_bytes())?;
        let kind = if self.nodes[i].flags & flag::MEET != 0 {
            self.nodes[i].flags &= !flag::MEET;
            MEET
        } else {
            PING
        };
        Some(self.frame(kind, Some(i), announce_ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: char, port: u16) -> Node {
        Node::new(
            id.to_string().repeat(40),
            "127.0.0.1",
            port,
            port + 10000,
            flag::MYSELF | flag::MASTER,
        )
    }

    /// Three nodes, as `redis-cli --cluster create` leaves them: each owns
    /// its slots, the second and third MEET the first. Frames are passed
    /// by hand until every node knows every other with its slots.
    #[test]
    fn meet_handshake_and_gossip_converge() {
        let mut t: Vec<Topology> = (0..3)
            .map(|i| {
                let mut topo = Topology::new(node((b'a' + i as u8) as char, 7000 + i as u16));
                topo.myself_mut().ip.clear();
                topo.myself_mut().config_epoch = i as u64 + 1;
                for s in (i as u16 * 5462)..((i as u16 + 1) * 5462).min(SLOTS) {
                    topo.set_owner(s, Some(0));
                }
                topo
            })
            .collect();
        let none = |_: &str| false;
        // b and c MEET a.
        for (m, topo) in t.iter_mut().enumerate().skip(1) {
            let mut n = Node::new("f".repeat(39) + &m.to_string(), "127.0.0.1", 7000, 17000, 0);
            n.flags = flag::HANDSHAKE | flag::MEET;
            topo.add_node(n);
        }
        let ids: Vec<String> = t.iter().map(|x| x.myself().id.clone()).collect();
        // Exchange rounds: every node sends on every outbound link, the
        // receiver answers, and the sender applies the answer.
        for round in 0..6 {
            for from in 0..3 {
                let plan = t[from].plan(1000 * round, 60_000, 15_000);
                let links: Vec<String> = plan.connect.iter().map(|c| c.0.clone()).collect();
                for link in links {
                    let Some(frame) = t[from].opening_frame(&link, "") else {
                        continue;
                    };
                    let port = t[from].nodes[t[from].find(link.as_bytes()).unwrap()].port;
                    let to = (port - 7000) as usize;
                    let (h, g) = bus::decode(&frame).unwrap();
                    let got = t[to].receive(
                        &h,
                        &g,
                        &Side::Inbound,
                        "127.0.0.1",
                        "127.0.0.1",
                        "",
                        0,
                        15_000,
                        none,
                    );
                    let (rh, rg) = bus::decode(&got.reply.unwrap()).unwrap();
                    let back = t[from].receive(
                        &rh,
                        &rg,
                        &Side::Outbound(link.clone()),
                        "127.0.0.1",
                        "127.0.0.1",
                        "",
                        0,
                        15_000,
                        none,
                    );
                    assert!(!back.drop_link || round > 0, "{back:?}");
                }
            }
        }
        for x in &t {
            let known: Vec<&str> = x.nodes.iter().map(|n| n.id.as_str()).collect();
            for id in &ids {
                assert!(known.contains(&id.as_str()), "{known:?}");
            }
            assert_eq!(x.nodes.len(), 3, "{:?}", known);
            assert!(x.state_ok());
            assert_eq!(x.myself().ip, "127.0.0.1");
            // Everyone agrees on the owner of each range.
            for (s, owner) in [(0, 0), (5462, 1), (16383, 2)] {
                let o = x.owner(s).unwrap();
                assert_eq!(x.nodes[o].id, ids[owner]);
            }
        }
    }

    /// A frame without gossip from an inbound link.
    fn inbound(t: &mut Topology, h: &Header) -> Outcome {
        t.receive(
            h,
            &[],
            &Side::Inbound,
            "127.0.0.1",
            "127.0.0.1",
            "",
            0,
            15_000,
            |_| false,
        )
    }

    #[test]
    fn higher_config_epoch_wins_a_slot() {
        let mut t = Topology::new(node('a', 7000));
        let b = t.add_node(Node::new(
            "b".repeat(40),
            "127.0.0.1",
            7001,
            17001,
            flag::MASTER,
        ));
        t.nodes[b].config_epoch = 1;
        t.set_owner(10, Some(b));
        let mut h = Header::new(PING, &"c".repeat(40));
        h.config_epoch = 2;
        h.set_slot(10);
        h.set_slot(11);
        // c is unknown: nothing changes until it is known.
        inbound(&mut t, &h);
        assert_eq!(t.owner(10), Some(b));
        let c = t.add_node(Node::new(
            "c".repeat(40),
            "127.0.0.1",
            7002,
            17002,
            flag::MASTER,
        ));
        let out = inbound(&mut t, &h);
        assert!(out.save && out.reply.is_some());
        assert_eq!((t.owner(10), t.owner(11)), (Some(c), Some(c)));
        // A stale claim (lower epoch) does not take it back.
        let mut old = Header::new(PING, &"b".repeat(40));
        old.config_epoch = 1;
        old.set_slot(10);
        inbound(&mut t, &old);
        assert_eq!(t.owner(10), Some(c));
    }
}
