//! The cluster bus wire format, as Redis Cluster 7.0 speaks it on the bus
//! port: a 2256-byte header (signature `RCmb`, big-endian integers, the
//! sender's id, slots, epochs, address and flags) followed, for PING,
//! PONG and MEET, by 104-byte gossip entries about other nodes. Frames of
//! other types are decoded as headers and left alone by the caller.

use crate::engine::slot::SLOTS;

pub const HEADER_LEN: usize = 2256;
pub const GOSSIP_LEN: usize = 104;
/// Frames longer than this are refused (a full PING of a 1000-node
/// cluster is about 110 KB).
pub const MAX_FRAME: usize = 1 << 20;
const SLOT_BYTES: usize = SLOTS as usize / 8;
const IP_LEN: usize = 46;

pub const PING: u16 = 0;
pub const PONG: u16 = 1;
pub const MEET: u16 = 2;
pub const FAIL: u16 = 3;
pub const AUTH_REQUEST: u16 = 5;
pub const AUTH_ACK: u16 = 6;
/// A FAIL frame: the header and the failing node's id.
pub const FAIL_LEN: usize = HEADER_LEN + 40;

/// The header fields Redistill reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u16,
    pub port: u16,
    pub cport: u16,
    pub current_epoch: u64,
    pub config_epoch: u64,
    pub offset: u64,
    pub sender: String,
    /// The slots the sender (or, for a replica, its master) serves.
    pub slots: Box<[u8; SLOT_BYTES]>,
    /// The master's id for a replica.
    pub master: Option<String>,
    /// The sender's address as it announces it; empty: use the peer address.
    pub ip: String,
    pub flags: u16,
    /// 0: the cluster is ok as the sender sees it; 1: failing.
    pub state: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gossip {
    pub id: String,
    pub ping_sent: u32,
    pub pong_received: u32,
    pub ip: String,
    pub port: u16,
    pub cport: u16,
    pub flags: u16,
}

impl Header {
    pub fn new(kind: u16, sender: &str) -> Header {
        Header {
            kind,
            port: 0,
            cport: 0,
            current_epoch: 0,
            config_epoch: 0,
            offset: 0,
            sender: sender.to_string(),
            slots: Box::new([0; SLOT_BYTES]),
            master: None,
            ip: String::new(),
            flags: 0,
            state: 0,
        }
    }

    pub fn has_slot(&self, slot: u16) -> bool {
        self.slots[slot as usize >> 3] & (1 << (slot & 7)) != 0
    }

    pub fn set_slot(&mut self, slot: u16) {
        self.slots[slot as usize >> 3] |= 1 << (slot & 7);
    }
}

fn put_str(out: &mut [u8], s: &str) {
    let n = s.len().min(out.len());
    out[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// A NUL-padded field as text (up to the first NUL).
fn get_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// One frame: the header, then the gossip entries.
pub fn encode(h: &Header, gossip: &[Gossip]) -> Vec<u8> {
    let total = HEADER_LEN + GOSSIP_LEN * gossip.len();
    let mut b = vec![0u8; total];
    b[0..4].copy_from_slice(b"RCmb");
    b[4..8].copy_from_slice(&(total as u32).to_be_bytes());
    b[8..10].copy_from_slice(&1u16.to_be_bytes());
    b[10..12].copy_from_slice(&h.port.to_be_bytes());
    b[12..14].copy_from_slice(&h.kind.to_be_bytes());
    b[14..16].copy_from_slice(&(gossip.len() as u16).to_be_bytes());
    b[16..24].copy_from_slice(&h.current_epoch.to_be_bytes());
    b[24..32].copy_from_slice(&h.config_epoch.to_be_bytes());
    b[32..40].copy_from_slice(&h.offset.to_be_bytes());
    put_str(&mut b[40..80], &h.sender);
    b[80..80 + SLOT_BYTES].copy_from_slice(&h.slots[..]);
    if let Some(m) = &h.master {
        put_str(&mut b[2128..2168], m);
    }
    put_str(&mut b[2168..2168 + IP_LEN], &h.ip);
    b[2248..2250].copy_from_slice(&h.cport.to_be_bytes());
    b[2250..2252].copy_from_slice(&h.flags.to_be_bytes());
    b[2252] = h.state;
    for (i, g) in gossip.iter().enumerate() {
        let e = &mut b[HEADER_LEN + i * GOSSIP_LEN..HEADER_LEN + (i + 1) * GOSSIP_LEN];
        put_str(&mut e[0..40], &g.id);
        e[40..44].copy_from_slice(&g.ping_sent.to_be_bytes());
        e[44..48].copy_from_slice(&g.pong_received.to_be_bytes());
        put_str(&mut e[48..48 + IP_LEN], &g.ip);
        e[94..96].copy_from_slice(&g.port.to_be_bytes());
        e[96..98].copy_from_slice(&g.cport.to_be_bytes());
        e[98..100].copy_from_slice(&g.flags.to_be_bytes());
    }
    b
}

/// A FAIL frame about `failing` from `h`'s sender.
pub fn encode_fail(h: &Header, failing: &str) -> Vec<u8> {
    let mut b = encode(h, &[]);
    b.resize(FAIL_LEN, 0);
    b[4..8].copy_from_slice(&(FAIL_LEN as u32).to_be_bytes());
    put_str(&mut b[HEADER_LEN..], failing);
    b
}

/// The failing node's id in a FAIL frame.
pub fn fail_target(b: &[u8]) -> Option<String> {
    (b.len() >= FAIL_LEN && be16(b, 12) == FAIL).then(|| get_str(&b[HEADER_LEN..FAIL_LEN]))
}

/// The total length a frame announces in its first 8 bytes, or why the
/// link must be dropped (as Redis drops it: bad signature or a length
/// below the header's).
pub fn frame_len(first8: &[u8; 8]) -> Result<usize, String> {
    if &first8[0..4] != b"RCmb" {
        return Err("bad signature".into());
    }
    let len = be32(first8, 4) as usize;
    if len < HEADER_LEN {
        return Err(format!("frame of {len} bytes"));
    }
    if len > MAX_FRAME {
        return Err(format!("frame of {len} bytes is too long"));
    }
    Ok(len)
}

/// Decodes a whole frame. Gossip is read for PING, PONG and MEET only;
/// a frame whose length does not match its type, or of another protocol
/// version, is an error (Redis ignores such frames).
pub fn decode(b: &[u8]) -> Result<(Header, Vec<Gossip>), String> {
    if b.len() < HEADER_LEN || &b[0..4] != b"RCmb" {
        return Err("not a cluster bus frame".into());
    }
    if be16(b, 8) != 1 {
        return Err(format!("protocol version {}", be16(b, 8)));
    }
    let kind = be16(b, 12);
    let count = be16(b, 14) as usize;
    let mut h = Header::new(kind, &get_str(&b[40..80]));
    h.port = be16(b, 10);
    h.current_epoch = be64(b, 16);
    h.config_epoch = be64(b, 24);
    h.offset = be64(b, 32);
    h.slots.copy_from_slice(&b[80..80 + SLOT_BYTES]);
    let master = get_str(&b[2128..2168]);
    h.master = (!master.is_empty()).then_some(master);
    h.ip = get_str(&b[2168..2168 + IP_LEN]);
    h.cport = be16(b, 2248);
    h.flags = be16(b, 2250);
    h.state = b[2252];
    let mut gossip = Vec::new();
    if matches!(kind, PING | PONG | MEET) {
        // Extensions (7.0 hostnames, later versions' more) follow the
        // gossip; they are skipped.
        if b.len() < HEADER_LEN + count * GOSSIP_LEN {
            return Err(format!("{} bytes for {count} gossip entries", b.len()));
        }
        for i in 0..count {
            let e = &b[HEADER_LEN + i * GOSSIP_LEN..HEADER_LEN + (i + 1) * GOSSIP_LEN];
            gossip.push(Gossip {
                id: get_str(&e[0..40]),
                ping_sent: be32(e, 40),
                pong_received: be32(e, 44),
                ip: get_str(&e[48..48 + IP_LEN]),
                port: be16(e, 94),
                cport: be16(e, 96),
                flags: be16(e, 98),
            });
        }
    }
    Ok((h, gossip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_with_redis_offsets() {
        let mut h = Header::new(PING, &"a".repeat(40));
        h.port = 7000;
        h.cport = 17000;
        h.current_epoch = 7;
        h.config_epoch = 3;
        h.ip = "127.0.0.1".into();
        h.flags = 1;
        h.set_slot(0);
        h.set_slot(16383);
        let g = Gossip {
            id: "b".repeat(40),
            ping_sent: 1,
            pong_received: 2,
            ip: "10.0.0.2".into(),
            port: 7001,
            cport: 17001,
            flags: 1,
        };
        let frame = encode(&h, std::slice::from_ref(&g));
        assert_eq!(frame.len(), 2360);
        // Offsets from Redis's cluster.h static asserts.
        assert_eq!(&frame[0..4], b"RCmb");
        assert_eq!(be32(&frame, 4), 2360);
        assert_eq!(be16(&frame, 10), 7000);
        assert_eq!(frame[80], 1);
        assert_eq!(frame[80 + 2047], 0x80);
        assert_eq!(be16(&frame, 2248), 17000);
        assert_eq!(frame_len(frame[..8].try_into().unwrap()), Ok(2360));
        let (back, gossip) = decode(&frame).unwrap();
        assert_eq!(back, h);
        assert_eq!(gossip, vec![g]);
        assert!(back.has_slot(16383) && !back.has_slot(1));
    }

    #[test]
    fn bad_frames_are_refused() {
        assert!(frame_len(b"XXXX\0\0\x08\xd0").is_err());
        assert!(frame_len(b"RCmb\0\0\0\x10").is_err());
        assert!(frame_len(b"RCmb\x7f\0\0\0").is_err());
        let mut frame = encode(&Header::new(PONG, "x"), &[]);
        frame[14] = 0;
        frame[15] = 5; // five gossip entries announced, none there
        assert!(decode(&frame).is_err());
        frame[15] = 0;
        frame[9] = 2;
        assert!(decode(&frame).is_err());
    }
}
