//! Test harness: starts the real `redistill` binary on a loopback listener
//! the test owns (passed as `--listen-fd`), or Debian's `redis-server` as
//! the oracle on a free port, and stops it when dropped. A missing external
//! tool is a test failure, never a skip.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    child: Child,
    pub log: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _listener: Option<OwnedPort>,
}

/// A loopback listening socket this test owns. A Redistill child serves it
/// through `--listen-fd 3`; the port stays ours across restarts of the
/// child, so no other test can take it.
pub struct OwnedPort {
    listener: TcpListener,
    pub port: u16,
}

impl Default for OwnedPort {
    fn default() -> Self {
        OwnedPort::new()
    }
}

impl OwnedPort {
    pub fn new() -> OwnedPort {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        OwnedPort { listener, port }
    }

    /// Makes `cmd` (a Redistill command line, positional arguments already
    /// given) serve this socket as its file descriptor 3.
    pub fn attach<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.args(["--listen-fd", "3"]);
        self.inherit(cmd)
    }

    /// Gives `cmd` this socket as its file descriptor 3 (for a wrapper such
    /// as `bash -c '... exec redistill --listen-fd 3'`).
    pub fn inherit<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        let fd = self.listener.as_raw_fd();
        // SAFETY: between fork and exec the closure only calls dup2/fcntl,
        // which are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let r = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(2))).ok();
            if s.write_all(b"INFO server\r\n").is_ok() {
                let mut reply = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    reply.extend_from_slice(&buf[..n]);
                    if reply.starts_with(b"-") || reply.ends_with(b"\r\n\r\n") {
                        break;
                    }
                }
                let text = String::from_utf8_lossy(&reply);
                // Another test's server may hold the port this one failed to
                // bind: only our own process counts (NOAUTH: cannot tell).
                let pid = text
                    .lines()
                    .find_map(|l| l.strip_prefix("process_id:"))
                    .and_then(|p| p.trim().parse::<u32>().ok());
                match pid {
                    Some(pid) if pid == child.id() => return true,
                    Some(_) => return false,
                    None if !reply.is_empty() => return true,
                    None => {}
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Starts the redis-server oracle on a free port (retrying when another
/// test's server took it first).
fn spawn_redis(args: &dyn Fn(u16, &std::path::Path) -> Vec<String>) -> Server {
    for _ in 0..5 {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let logf = std::fs::File::create(&log).unwrap();
        let mut child = Command::new("redis-server")
            .args(args(port, dir.path()))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server: {e} (is it installed? run scripts/test)")
            });
        if wait_ready(port, &mut child) {
            return Server {
                port,
                child,
                log,
                _dir: dir,
                _listener: None,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("redis-server did not start");
}

/// Starts Redistill with extra flags.
pub fn redistill(extra: &[&str]) -> Server {
    redistill_env(extra, &[])
}

pub fn redistill_env(extra: &[&str], envs: &[(&str, &str)]) -> Server {
    try_redistill_env(extra, envs).unwrap_or_else(|log| panic!("redistill did not start:\n{log}"))
}

/// Starts Redistill; on failure returns its log (a second port it was told
/// to bind, such as a TLS port, may have been taken meanwhile).
pub fn try_redistill_env(extra: &[&str], envs: &[(&str, &str)]) -> Result<Server, String> {
    let owned = OwnedPort::new();
    let port = owned.port;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let logf = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redistill"));
    cmd.args(["--shards", "256"])
        .args(extra)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(logf.try_clone().unwrap())
        .stderr(logf)
        .env_remove("REDIS_PASSWORD");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    owned.attach(&mut cmd);
    let mut child = cmd.spawn().expect("cannot start redistill");
    if !wait_ready(port, &mut child) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::fs::read_to_string(&log).unwrap_or_default());
    }
    Ok(Server {
        port,
        child,
        log,
        _dir: dir,
        _listener: Some(owned),
    })
}

/// Starts Debian's redis-server as the reference.
pub fn redis_server() -> Server {
    redis_server_with(&[])
}

/// Starts Debian's redis-server with extra arguments (`--replicaof ...`).
pub fn redis_server_with(extra: &[&str]) -> Server {
    spawn_redis(&|port, dir| {
        let mut args: Vec<String> = vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            "".into(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    })
}

/// A raw connection for exact-byte protocol tests.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Raw { stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads until `n` bytes arrived or the peer closed.
    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while out.len() < n {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
                Err(_) => break,
            }
        }
        out
    }

    /// Sends `req` and reads exactly the length of `expected`.
    pub fn roundtrip(&mut self, req: &[u8], expected: &[u8]) -> Vec<u8> {
        self.send(req);
        self.read_n(expected.len())
    }

    /// True when the server closed the connection within the read timeout
    /// (EOF or a reset, after any bytes it sent first); false when the
    /// timeout passed with the connection still open.
    pub fn closed(&mut self) -> bool {
        use std::io::ErrorKind::*;
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe) => {
                    return true
                }
                Err(_) => return false,
            }
        }
    }
}

/// Encodes a command as a RESP multibulk request.
pub fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Resident set size of a process, in bytes.
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts the server is still answering and never panicked.
    pub fn assert_healthy(&self) {
        let mut raw = Raw::connect(self.port);
        assert_eq!(raw.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
        assert!(
            !self.log_text().contains("panicked"),
            "server panicked:\n{}",
            self.log_text()
        );
    }
}

/// A numeric INFO field, read over `c`.
pub fn info_u64(c: &mut redis::Connection, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg("all").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO lacks {field}"))
        .trim()
        .parse()
        .unwrap()
}

/// Writes an RDB snapshot of `n` small string keys (`key:0`..) to `path`.
pub fn write_snapshot_of(path: &std::path::Path, n: u32) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = redistill::engine::persist::rdb::Writer::new(file, &[]).unwrap();
    w.select_db(0, n as u64, 0).unwrap();
    for i in 0..n {
        w.write_string(format!("key:{i}").as_bytes(), b"value", None)
            .unwrap();
    }
    w.finish().unwrap();
}

/// Runs `script` of `tests/<dir>` with `interpreter` (from that directory)
/// and fails the test with its output when it fails.
pub fn run_script(interpreter: &str, dir: &str, script: &str, args: &[String]) {
    let dir = format!("{}/tests/{dir}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(interpreter)
        .arg(format!("{dir}/{script}"))
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("{interpreter} is required (run scripts/test): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "{script} failed:\n{text}");
}

/// Runs a script of tests/python and fails the test when it fails.
pub fn run_python(script: &str, args: &[String]) {
    run_script("python3", "python", script, args);
}

/// Runs a script of tests/python with the Redistill binary's path.
pub fn python_with_binary(script: &str) {
    run_python(script, &[env!("CARGO_BIN_EXE_redistill").to_string()]);
}
