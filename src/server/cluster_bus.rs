//! The cluster bus's I/O: the listener on the bus port (each peer's
//! inbound link, answered frame by frame), one outbound link per known
//! node, and a tenth-of-a-second cron that opens missing links and sends
//! PINGs. What a frame means is decided by the engine
//! ([`crate::engine::cluster::gossip`]); these tasks move bytes.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::config::P;
use crate::engine::cluster::bus;
use crate::engine::cluster::gossip::Side;
use crate::engine::cluster::Cluster;
use crate::engine::store::now_ms;
use crate::engine::Engine;

/// The outbound links: node id → the queue of frames its task writes.
#[derive(Default)]
struct Links {
    senders: HashMap<String, mpsc::UnboundedSender<Vec<u8>>>,
    connecting: HashSet<String>,
}

/// Makes this node replicate ip:port (it lost its slots to that master).
pub type Follow = Box<dyn Fn(String, u16) + Send + Sync>;
/// Stops replicating (this replica won a failover election).
pub type Promote = Box<dyn Fn() + Send + Sync>;

struct Bus {
    engine: Arc<Engine>,
    links: Mutex<Links>,
    announce_ip: String,
    follow: Follow,
    promote: Promote,
}

impl Bus {
    fn cluster(&self) -> &Cluster {
        self.engine
            .cluster
            .as_ref()
            .expect("the bus runs in cluster mode")
    }

    fn node_timeout(&self) -> u64 {
        self.engine.settings.uint(P::ClusterNodeTimeout).max(100)
    }

    /// Queues `frames` on every link.
    fn broadcast(&self, frames: Vec<Vec<u8>>) {
        if frames.is_empty() {
            return;
        }
        let links = self.links.lock();
        for frame in frames {
            for tx in links.senders.values() {
                let _ = tx.send(frame.clone());
            }
        }
    }
}

/// Binds the bus port on `ips` and starts the bus tasks.
pub fn start(
    engine: Arc<Engine>,
    ips: &[IpAddr],
    cport: u16,
    shutdown: watch::Receiver<bool>,
    follow: Follow,
    promote: Promote,
) -> Result<(), String> {
    let bus = Arc::new(Bus {
        // cluster-announce-ip is not used yet: peers see the address they
        // reach this node at.
        announce_ip: String::new(),
        engine,
        links: Mutex::new(Links::default()),
        follow,
        promote,
    });
    for ip in ips {
        let addr = SocketAddr::new(*ip, cport);
        let l = std::net::TcpListener::bind(addr)
            .map_err(|e| format!("cannot listen on {addr} (cluster bus port): {e}"))?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        let listener = TcpListener::from_std(l).map_err(|e| e.to_string())?;
        tokio::spawn(accept(listener, bus.clone(), shutdown.clone()));
    }
    tokio::spawn(cron(bus, shutdown));
    Ok(())
}

async fn accept(listener: TcpListener, bus: Arc<Bus>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(inbound(stream, bus.clone()));
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Reads one frame; None when the link must close.
async fn read_frame(r: &mut (impl AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head).await.ok()?;
    let len = match bus::frame_len(&head) {
        Ok(len) => len,
        Err(e) => {
            tracing::debug!("cluster bus: dropping a link: {e}");
            return None;
        }
    };
    let mut frame = vec![0u8; len];
    frame[..8].copy_from_slice(&head);
    r.read_exact(&mut frame[8..]).await.ok()?;
    Some(frame)
}

fn ips(stream: &TcpStream) -> (String, String) {
    let peer = stream.peer_addr().map(|a| a.ip().to_string());
    let local = stream.local_addr().map(|a| a.ip().to_string());
    (peer.unwrap_or_default(), local.unwrap_or_default())
}

/// Applies a frame from a link; returns what to do.
fn handle(bus: &Bus, frame: &[u8], side: &Side, peer: &str, local: &str) -> Option<HandleResult> {
    let (h, gossip) = bus::decode(frame).ok()?;
    let now = now_ms();
    let cluster = bus.cluster();
    if let Some(failing) = bus::fail_target(frame) {
        cluster.update(|topo| {
            let changed = topo.receive_fail(&h.sender, &failing, now);
            ((), changed)
        });
        return None;
    }
    if matches!(h.kind, bus::AUTH_REQUEST | bus::AUTH_ACK) {
        let timeout = bus.node_timeout();
        let vote = cluster.update(|topo| {
            let vote = topo.receive_vote(&h, now, timeout);
            let save = vote.save;
            (vote, save)
        });
        return Some(HandleResult {
            reply: vote.ack,
            renamed: None,
            drop_link: false,
        });
    }
    let offset = bus.engine.dbs.shared().feed.offset();
    let timeout = bus.node_timeout();
    let out = cluster.update(|topo| {
        topo.repl_offset = offset;
        let out = topo.receive(
            &h,
            &gossip,
            side,
            peer,
            local,
            &bus.announce_ip,
            now,
            timeout,
            |id| cluster.is_blacklisted(id, now),
        );
        let save = out.save;
        (out, save)
    });
    bus.broadcast(out.broadcast);
    if let Some((ip, port)) = out.follow {
        tracing::info!("cluster: this node's slots moved to {ip}:{port}; replicating it");
        (bus.follow)(ip, port);
    }
    Some(HandleResult {
        reply: out.reply,
        renamed: out.renamed,
        drop_link: out.drop_link,
    })
}

struct HandleResult {
    reply: Option<Vec<u8>>,
    renamed: Option<String>,
    drop_link: bool,
}

/// A peer's link to us: every PING and MEET is answered with a PONG.
async fn inbound(mut stream: TcpStream, bus: Arc<Bus>) {
    let _ = stream.set_nodelay(true);
    let (peer, local) = ips(&stream);
    while let Some(frame) = read_frame(&mut stream).await {
        let Some(r) = handle(&bus, &frame, &Side::Inbound, &peer, &local) else {
            continue;
        };
        if let Some(reply) = r.reply {
            if stream.write_all(&reply).await.is_err() {
                return;
            }
        }
    }
}

/// Our link to node `id`: opens with MEET or PING, then writes what the
/// cron queues and applies the PONGs.
async fn outbound(mut id: String, addr: String, bus: Arc<Bus>) {
    let timeout = Duration::from_millis(bus.node_timeout().min(5000));
    let connected = tokio::time::timeout(timeout, TcpStream::connect(&addr)).await;
    let Ok(Ok(mut stream)) = connected else {
        bus.links.lock().connecting.remove(&id);
        return;
    };
    let _ = stream.set_nodelay(true);
    let (peer, local) = ips(&stream);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cluster = bus.cluster();
    let opening = cluster.update(|topo| {
        topo.set_connected(&id, true, now_ms());
        (topo.opening_frame(&id, &bus.announce_ip), false)
    });
    {
        let mut links = bus.links.lock();
        links.connecting.remove(&id);
        links.senders.insert(id.clone(), tx);
    }
    let (mut reader, mut writer) = stream.split();
    let mut ok = match opening {
        Some(frame) => writer.write_all(&frame).await.is_ok(),
        None => false,
    };
    while ok {
        tokio::select! {
            frame = rx.recv() => match frame {
                Some(frame) => ok = writer.write_all(&frame).await.is_ok(),
                None => ok = false,
            },
            frame = read_frame(&mut reader) => {
                let Some(frame) = frame else { break };
                let side = Side::Outbound(id.clone());
                let Some(r) = handle(&bus, &frame, &side, &peer, &local) else { continue };
                if let Some(new_id) = r.renamed {
                    let mut links = bus.links.lock();
                    if let Some(s) = links.senders.remove(&id) {
                        links.senders.insert(new_id.clone(), s);
                    }
                    id = new_id;
                }
                if r.drop_link {
                    break;
                }
            }
        }
    }
    bus.links.lock().senders.remove(&id);
    cluster.update(|topo| {
        topo.set_connected(&id, false, now_ms());
        ((), false)
    });
}

/// Ten times a second: drop stale handshakes, open missing links, PING.
async fn cron(bus: Arc<Bus>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = now_ms();
        let handshake = bus.node_timeout().max(1000);
        let timeout = bus.node_timeout();
        let cluster = bus.cluster();
        let offset = bus.engine.dbs.shared().feed.offset();
        let mut plan = cluster.update(|topo| {
            topo.repl_offset = offset;
            let plan = topo.plan(now, handshake, timeout);
            let save = plan.save;
            (plan, save)
        });
        bus.broadcast(std::mem::take(&mut plan.broadcast));
        if plan.promoted {
            tracing::info!("cluster: won the failover election; now serving the master's slots");
            (bus.promote)();
        }
        // Links to nodes no longer known (forgotten, or a handshake given
        // up) are closed: their tasks end when the queue does.
        {
            let topo = cluster.read();
            bus.links
                .lock()
                .senders
                .retain(|id, _| topo.find(id.as_bytes()).is_some());
        }
        for (id, ip, cport) in plan.connect {
            let mut links = bus.links.lock();
            if links.senders.contains_key(&id) || !links.connecting.insert(id.clone()) {
                continue;
            }
            let addr = if ip.contains(':') {
                format!("[{ip}]:{cport}")
            } else {
                format!("{ip}:{cport}")
            };
            tokio::spawn(outbound(id, addr, bus.clone()));
        }
        for id in plan.ping {
            let frame = cluster.update(|topo| {
                let target = topo.find(id.as_bytes());
                (topo.frame(bus::PING, target, &bus.announce_ip), false)
            });
            if let Some(tx) = bus.links.lock().senders.get(&id) {
                let _ = tx.send(frame);
            }
        }
    }
}
