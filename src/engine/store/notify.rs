//! Keyspace notifications (`notify-keyspace-events`): which classes are
//! on, and publishing an event as Redis does, `<event>` on
//! `__keyspace@<db>__:<key>` and `<key>` on `__keyevent@<db>__:<event>`.
//! Commands, expiry and eviction call [`Notifier::emit`]; with no class on
//! that costs one atomic load. Messages go out through a sink (the
//! engine's Pub/Sub) set once when the engine is built.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

pub use crate::config::keyspace_events as class;

/// Where notifications are published.
pub trait EventSink: Send + Sync {
    fn publish(&self, channel: &[u8], message: &[u8]);
}

#[derive(Default)]
pub struct Notifier {
    flags: AtomicU32,
    sink: OnceLock<Arc<dyn EventSink>>,
}

impl Notifier {
    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Relaxed);
    }

    pub fn set_sink(&self, sink: Arc<dyn EventSink>) {
        let _ = self.sink.set(sink);
    }

    /// Whether an event of `class` would be published.
    #[inline]
    pub fn wants(&self, class: u32) -> bool {
        let flags = self.flags.load(Relaxed);
        flags & class != 0 && flags & (class::KEYSPACE | class::KEYEVENT) != 0
    }

    /// Publishes `event` for `key` in database `db` if `class` is on.
    #[inline]
    pub fn emit(&self, class: u32, event: &str, key: &[u8], db: usize) {
        if self.wants(class) {
            self.publish(event, key, db);
        }
    }

    #[cold]
    fn publish(&self, event: &str, key: &[u8], db: usize) {
        let Some(sink) = self.sink.get() else {
            return;
        };
        let flags = self.flags.load(Relaxed);
        let db = itoa::Buffer::new().format(db).to_owned();
        if flags & class::KEYSPACE != 0 {
            let mut channel = Vec::with_capacity(16 + db.len() + key.len());
            channel.extend_from_slice(b"__keyspace@");
            channel.extend_from_slice(db.as_bytes());
            channel.extend_from_slice(b"__:");
            channel.extend_from_slice(key);
            sink.publish(&channel, event.as_bytes());
        }
        if flags & class::KEYEVENT != 0 {
            let mut channel = Vec::with_capacity(16 + db.len() + event.len());
            channel.extend_from_slice(b"__keyevent@");
            channel.extend_from_slice(db.as_bytes());
            channel.extend_from_slice(b"__:");
            channel.extend_from_slice(event.as_bytes());
            sink.publish(&channel, key);
        }
    }
}
