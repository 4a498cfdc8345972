//! Pub/Sub: who listens to which channel, pattern and shard channel, and
//! delivery of published messages into subscribers' push queues (see
//! [`ClientHandle::push`]). Publishing never waits for a subscriber: a
//! message is appended to each receiver's queue and its connection is
//! woken; a receiver that falls too far behind is disconnected.

use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::RwLock;

use super::clients::ClientHandle;
use super::store::glob::glob_match;

type Subscribers = Vec<Arc<ClientHandle>>;

/// The three namespaces a client subscribes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE (glob patterns over channel names).
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Box<[u8]>, Subscribers>>,
    patterns: RwLock<HashMap<Box<[u8]>, Subscribers>>,
    shard_channels: RwLock<HashMap<Box<[u8]>, Subscribers>>,
}

/// Encodes a push for a client of protocol `resp3`: `kind` and its fields.
pub fn encode_push(resp3: bool, kind: &[u8], fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + fields.iter().map(|f| f.len() + 16).sum::<usize>());
    out.push(if resp3 { b'>' } else { b'*' });
    out.extend_from_slice(itoa::Buffer::new().format(fields.len() + 1).as_bytes());
    out.extend_from_slice(b"\r\n");
    for item in std::iter::once(kind).chain(fields.iter().copied()) {
        out.push(b'$');
        out.extend_from_slice(itoa::Buffer::new().format(item.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(item);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl super::store::notify::EventSink for PubSub {
    fn publish(&self, channel: &[u8], message: &[u8]) {
        PubSub::publish(self, Space::Channel, channel, message, &mut |_, _| {}, 0);
    }
}

impl PubSub {
    fn map(&self, space: Space) -> &RwLock<HashMap<Box<[u8]>, Subscribers>> {
        match space {
            Space::Channel => &self.channels,
            Space::Pattern => &self.patterns,
            Space::Shard => &self.shard_channels,
        }
    }

    /// Adds `client` to `name` in `space`; false when it already was there.
    pub fn subscribe(&self, space: Space, name: &[u8], client: &Arc<ClientHandle>) -> bool {
        let mut map = self.map(space).write();
        let list = map.entry(name.into()).or_default();
        if list.iter().any(|c| c.id == client.id) {
            return false;
        }
        list.push(client.clone());
        true
    }

    /// Removes `client` from `name` in `space`; false when it was not there.
    pub fn unsubscribe(&self, space: Space, name: &[u8], client_id: u64) -> bool {
        let mut map = self.map(space).write();
        let Some(list) = map.get_mut(name) else {
            return false;
        };
        let before = list.len();
        list.retain(|c| c.id != client_id);
        let removed = list.len() != before;
        if list.is_empty() {
            map.remove(name);
        }
        removed
    }

    /// Delivers `message` on `channel` to channel and pattern subscribers
    /// (or, for `Space::Shard`, to shard-channel subscribers); returns how
    /// many receptions there were. `local` receives the pushes meant for the
    /// publishing client itself, so they stay in order with its replies.
    pub fn publish(
        &self,
        space: Space,
        channel: &[u8],
        message: &[u8],
        local: &mut dyn FnMut(&ClientHandle, &[u8]),
        self_id: u64,
    ) -> usize {
        let mut receivers = 0;
        // Each message is encoded once per protocol, not once per receiver.
        let mut deliver = |list: &[Arc<ClientHandle>], kind: &[u8], parts: &[&[u8]]| {
            let mut encoded: [Option<Vec<u8>>; 2] = [None, None];
            for c in list {
                if c.is_killed() {
                    // Closing (a push limit, CLIENT KILL): no longer a receiver.
                    continue;
                }
                receivers += 1;
                let resp3 = c.resp3();
                let bytes =
                    encoded[resp3 as usize].get_or_insert_with(|| encode_push(resp3, kind, parts));
                if c.id == self_id {
                    local(c, bytes);
                } else {
                    c.push(bytes);
                }
            }
        };
        if space == Space::Shard {
            if let Some(list) = self.shard_channels.read().get(channel) {
                deliver(list, b"smessage", &[channel, message]);
            }
            return receivers;
        }
        if let Some(list) = self.channels.read().get(channel) {
            deliver(list, b"message", &[channel, message]);
        }
        for (pattern, list) in self.patterns.read().iter() {
            if glob_match(pattern, channel, false) {
                deliver(list, b"pmessage", &[pattern, channel, message]);
            }
        }
        receivers
    }

    /// Names in `space` (channels with at least one subscriber), filtered
    /// by a glob pattern.
    pub fn names(&self, space: Space, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        self.map(space)
            .read()
            .keys()
            .filter(|n| pattern.is_none_or(|p| glob_match(p, n, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of `name` in `space`.
    pub fn count(&self, space: Space, name: &[u8]) -> usize {
        self.map(space).read().get(name).map_or(0, Vec::len)
    }

    /// Distinct names in `space` (INFO pubsub_channels, PUBSUB NUMPAT).
    pub fn len(&self, space: Space) -> usize {
        self.map(space).read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clients::ClientRegistry;

    #[test]
    fn messages_reach_channel_and_pattern_subscribers() {
        let reg = ClientRegistry::default();
        let addr = "127.0.0.1:1".parse().unwrap();
        let (a, b) = (reg.register(addr, addr, 0), reg.register(addr, addr, 0));
        let ps = PubSub::default();
        assert!(ps.subscribe(Space::Channel, b"news", &a));
        assert!(!ps.subscribe(Space::Channel, b"news", &a));
        assert!(ps.subscribe(Space::Pattern, b"n*", &b));
        let n = ps.publish(Space::Channel, b"news", b"hi", &mut |_, _| {}, 0);
        assert_eq!(n, 2);
        assert_eq!(
            a.take_pushes(),
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            b.take_pushes(),
            b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            ps.publish(Space::Shard, b"news", b"x", &mut |_, _| {}, 0),
            0
        );
        assert!(ps.unsubscribe(Space::Channel, b"news", a.id));
        assert_eq!(ps.len(Space::Channel), 0);
    }
}
