//! An in-process harness: an engine and the command layer with no server,
//! driven one command at a time. `run(&["SET", "k", "v"])` returns the
//! reply bytes exactly as a client would read them.
//!
//! ```
//! let mut h = redistill::command::testing::Harness::new();
//! assert_eq!(h.run(&["SET", "k", "v"]), b"+OK\r\n");
//! assert_eq!(h.run(&["GET", "k"]), b"$1\r\nv\r\n");
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use super::{execute, NoHost, Runtime, Session};
use crate::config::{Settings, P};
use crate::engine::store::now_ms;
use crate::engine::Engine;
use crate::protocol::Reply;

/// One simulated client connection.
pub struct TestClient {
    pub sess: Session,
    out: Reply,
}

/// An engine, its runtime, and a default client.
pub struct Harness {
    pub rt: Arc<Runtime>,
    client: TestClient,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// Default settings, with fewer shards so tests start fast.
    pub fn new() -> Harness {
        let settings = Settings::defaults();
        settings.set(P::Shards, "256").expect("valid");
        Harness::with_settings(settings)
    }

    pub fn with_settings(settings: Settings) -> Harness {
        let commands = super::CommandTable::get().all().len();
        let engine = Arc::new(Engine::new(Arc::new(settings), commands));
        let rt = Arc::new(Runtime::new(engine, Arc::new(NoHost)));
        let client = new_client(&rt);
        Harness { rt, client }
    }

    /// Another client of the same engine.
    pub fn client(&self) -> TestClient {
        new_client(&self.rt)
    }

    /// Runs one command as the default client; returns its reply bytes.
    pub fn run(&mut self, args: &[&str]) -> Vec<u8> {
        self.client.run(&self.rt, args)
    }

    /// [`Harness::run`] with binary arguments.
    pub fn run_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.client.run_bytes(&self.rt, args)
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.rt.engine
    }
}

fn new_client(rt: &Runtime) -> TestClient {
    let addr: SocketAddr = "127.0.0.1:50000".parse().expect("valid");
    let handle = rt.engine.clients.register(addr, addr, now_ms());
    TestClient {
        sess: Session::new(handle, !rt.engine.auth_required()),
        out: Reply::new(),
    }
}

impl TestClient {
    /// Ends the session (drops its WATCHes), as a closing connection does.
    pub fn close(&mut self, rt: &Runtime) {
        self.sess.close(&rt.engine);
    }

    pub fn run(&mut self, rt: &Runtime, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.run_bytes(rt, &args)
    }

    /// Runs one command. A blocking command that finds nothing waits out
    /// its timeout here, as its connection would with no other client to
    /// serve it (a timeout of 0 returns at once with no reply).
    pub fn run_bytes(&mut self, rt: &Runtime, args: &[&[u8]]) -> Vec<u8> {
        self.sess.start_batch(&rt.engine.settings);
        execute(rt, &mut self.sess, &mut self.out, now_ms(), args, &mut None);
        if let Some((w, timeout_ms)) = self.sess.blocked.take() {
            self.sess
                .handle
                .blocked
                .store(false, std::sync::atomic::Ordering::Relaxed);
            if !w.is_done() && timeout_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(timeout_ms));
            }
            if rt.engine.blocking.cancel(&w) {
                if timeout_ms > 0 {
                    self.out
                        .raw(&super::blocking::timeout_reply(self.out.resp3()));
                }
            } else {
                self.out.raw(&w.take_reply().unwrap_or_default());
            }
        }
        let bytes = self.out.as_bytes().to_vec();
        self.out.clear();
        bytes
    }
}
