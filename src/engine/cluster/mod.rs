//! Redis Cluster mode (`cluster-enabled yes`): this node's view of the
//! cluster ([`topology`]), kept in nodes.conf ([`nodes_conf`]), and the
//! rule that decides whether a command's keys are served here or
//! redirected ([`Cluster::route`], Redis's getNodeByQuery).
//!
//! The topology changes through CLUSTER commands on this node (ADDSLOTS,
//! SETSLOT, MEET...), through the nodes.conf it starts from, and through
//! what other nodes say on the cluster bus ([`bus`] is the wire format,
//! [`gossip`] the rules; the server runs the links).

pub mod bus;
pub mod gossip;
pub mod nodes_conf;
pub mod topology;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::{RwLock, RwLockReadGuard};

pub use topology::{flag, Node, Topology};

/// Why a command is not served here (Redis's CLUSTER_REDIR_* codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// Keys in different slots.
    CrossSlot,
    /// Several keys of a slot being moved, some missing here.
    TryAgain,
    /// The cluster is down.
    Down,
    /// A slot nobody serves.
    Unbound,
    /// Served by another node: `MOVED slot ip:port`.
    Moved(u16, String),
    /// Being migrated and missing here: `ASK slot ip:port`.
    Ask(u16, String),
}

/// What routing needs to know about one command.
pub struct Query<'a> {
    /// The slot of every key the command (or each queued command) names.
    pub keys: &'a [(&'a [u8], u16)],
    /// The client sent ASKING, or the command is RESTORE-ASKING.
    pub asking: bool,
    /// The command is MIGRATE (served here while its slot is open).
    pub is_migrate: bool,
    /// A read from a READONLY client, which a replica of the slot's master
    /// serves itself.
    pub replica_read: bool,
}

pub struct Cluster {
    topo: RwLock<Topology>,
    path: PathBuf,
    /// `cluster_state:ok`: every slot served by a node not failing
    /// (recomputed on every change, read per command).
    ok: AtomicBool,
    /// Nodes recently forgotten (CLUSTER FORGET), with the time (ms) until
    /// which gossip must not bring them back.
    blacklist: parking_lot::Mutex<Vec<(String, u64)>>,
}

impl Cluster {
    /// Loads `path`, or starts a new node (a random id, no slot) and
    /// writes it. `port` is the client port, `cport` the bus port.
    pub fn open(path: PathBuf, port: u16, cport: u16) -> Result<Cluster, String> {
        let topo = match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => {
                let mut topo =
                    nodes_conf::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let me = topo.myself_mut();
                me.port = port;
                me.cport = cport;
                topo
            }
            Ok(_) => Self::fresh(port, cport),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::fresh(port, cport),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let cluster = Cluster {
            blacklist: parking_lot::Mutex::new(Vec::new()),
            ok: AtomicBool::new(topo.state_ok()),
            topo: RwLock::new(topo),
            path,
        };
        cluster
            .save()
            .map_err(|e| format!("{}: {e}", cluster.path.display()))?;
        Ok(cluster)
    }

    fn fresh(port: u16, cport: u16) -> Topology {
        Topology::new(Node::new(
            super::repl::random_id(),
            "",
            port,
            cport,
            flag::MYSELF | flag::MASTER,
        ))
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Topology> {
        self.topo.read()
    }

    /// Changes the topology and saves nodes.conf (a failed save is logged:
    /// the change stands, as in Redis).
    pub fn change<R>(&self, f: impl FnOnce(&mut Topology) -> R) -> R {
        let r = {
            let mut topo = self.topo.write();
            let r = f(&mut topo);
            self.ok.store(topo.state_ok(), Relaxed);
            r
        };
        if let Err(e) = self.save() {
            tracing::warn!("saving {}: {e}", self.path.display());
        }
        r
    }

    /// Changes the topology; nodes.conf is saved only when `f` says the
    /// change is one it keeps (the bus's frequent pong times are not).
    pub fn update<R>(&self, f: impl FnOnce(&mut Topology) -> (R, bool)) -> R {
        let (r, save) = {
            let mut topo = self.topo.write();
            let r = f(&mut topo);
            self.ok.store(topo.state_ok(), Relaxed);
            r
        };
        if save {
            if let Err(e) = self.save() {
                tracing::warn!("saving {}: {e}", self.path.display());
            }
        }
        r
    }

    /// Keeps gossip from re-adding a forgotten node for a minute.
    pub fn blacklist(&self, id: &str, now: u64) {
        let mut list = self.blacklist.lock();
        list.retain(|(_, until)| *until > now);
        list.push((id.to_string(), now + 60_000));
    }

    pub fn is_blacklisted(&self, id: &str, now: u64) -> bool {
        self.blacklist
            .lock()
            .iter()
            .any(|(b, until)| b == id && *until > now)
    }

    /// CLUSTER INFO `cluster_state:ok`.
    pub fn state_ok(&self) -> bool {
        self.ok.load(Relaxed)
    }

    /// Writes nodes.conf now.
    pub fn save(&self) -> std::io::Result<()> {
        let topo = self.topo.read().clone();
        nodes_conf::save(&self.path, &topo)
    }

    /// Where a command naming `q.keys` is served (Redis's getNodeByQuery):
    /// here (Ok), or a redirection. `exists` tells whether a key is here,
    /// asked only for a slot being migrated or imported.
    pub fn route(&self, q: &Query, mut exists: impl FnMut(&[u8]) -> bool) -> Result<(), Redirect> {
        let Some(&(first, slot)) = q.keys.first() else {
            return Ok(());
        };
        let topo = self.topo.read();
        let Some(owner) = topo.owner(slot) else {
            return Err(Redirect::Unbound);
        };
        let migrating = owner == 0 && topo.migrating_to(slot).is_some();
        let importing = !migrating && topo.importing_from(slot).is_some();
        let mut several = false;
        for &(key, s) in &q.keys[1..] {
            if key != first {
                if s != slot {
                    return Err(Redirect::CrossSlot);
                }
                several = true;
            }
        }
        let (mut missing, mut present) = (0, 0);
        if migrating || importing {
            for &(key, _) in q.keys {
                if exists(key) {
                    present += 1;
                } else {
                    missing += 1;
                }
            }
        }
        if !self.state_ok() {
            return Err(Redirect::Down);
        }
        if (migrating || importing) && q.is_migrate {
            return Ok(());
        }
        if migrating && missing > 0 {
            if present > 0 {
                return Err(Redirect::TryAgain);
            }
            let to = topo.migrating_to(slot).expect("migrating");
            return Err(Redirect::Ask(slot, topo.nodes[to].endpoint()));
        }
        if importing && q.asking {
            if several && missing > 0 {
                return Err(Redirect::TryAgain);
            }
            return Ok(());
        }
        if q.replica_read && topo.my_master() == Some(owner) {
            return Ok(());
        }
        if owner != 0 {
            return Err(Redirect::Moved(slot, topo.nodes[owner].endpoint()));
        }
        Ok(())
    }
}
