//! TLS: redis-cli and redis-py over TLS, plaintext and silent peers on the
//! TLS port, client certificates against a CA, the three PEM key formats, a
//! fragmented ClientHello, and refusal to start with bad certificate files.
//! Certificates are made in the test with the `openssl` command.

mod common;
use common::{free_port, Raw};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Pki {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is required (run scripts/test)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        std::fs::write(
            d.join("client.ext"),
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        openssl(
            d,
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=redistill-test-ca",
                ],
            ]
            .concat(),
        );
        for (name, signer) in [
            ("server", Some("ca")),
            ("client", Some("ca")),
            ("stranger", None),
        ] {
            match signer {
                Some(ca) => {
                    openssl(
                        d,
                        &[
                            &["req"][..],
                            &ec,
                            &[
                                "-keyout",
                                &format!("{name}.key"),
                                "-out",
                                &format!("{name}.csr"),
                                "-subj",
                                "/CN=localhost",
                            ],
                        ]
                        .concat(),
                    );
                    let mut args = vec![
                        "x509",
                        "-req",
                        "-in",
                        &format!("{name}.csr"),
                        "-CA",
                        &format!("{ca}.pem"),
                        "-CAkey",
                        &format!("{ca}.key"),
                        "-CAcreateserial",
                        "-out",
                        &format!("{name}.pem"),
                        "-days",
                        "2",
                    ]
                    .into_iter()
                    .map(String::from)
                    .collect::<Vec<_>>();
                    // An extension file makes an X.509 v3 certificate (v1 is refused).
                    args.extend(["-extfile".into(), format!("{name}.ext")]);
                    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                    openssl(d, &refs);
                }
                None => openssl(
                    d,
                    &[
                        &["req", "-x509"][..],
                        &ec,
                        &[
                            "-keyout",
                            &format!("{name}.key"),
                            "-out",
                            &format!("{name}.pem"),
                            "-days",
                            "2",
                            "-subj",
                            "/CN=stranger",
                        ],
                    ]
                    .concat(),
                ),
            }
        }
        // The same server key as SEC1, and an RSA key as PKCS#1.
        openssl(d, &["ec", "-in", "server.key", "-out", "server.sec1.key"]);
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "rsa.key",
                "-out",
                "rsa.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "rsa.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "rsa.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        openssl(
            d,
            &[
                "rsa",
                "-in",
                "rsa.key",
                "-traditional",
                "-out",
                "rsa.pkcs1.key",
            ],
        );
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn tls_server(
    pki: &Pki,
    cert: &str,
    key: &str,
    ca: Option<&str>,
    extra: &[&str],
) -> (common::Server, u16) {
    // The TLS port is picked free: another try follows if a test running
    // alongside took it first.
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port();
        let (cert, key) = (pki.path(cert), pki.path(key));
        let port_s = port.to_string();
        let mut args = vec![
            "--tls-port",
            &port_s,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
        ];
        let ca_path = ca.map(|c| pki.path(c));
        if let Some(ca) = &ca_path {
            args.extend(["--tls-ca-cert-file", ca.as_str()]);
        }
        args.extend_from_slice(extra);
        match common::try_redistill_env(&args, &[]) {
            Ok(s) => return (s, port),
            Err(log) => last = log,
        }
    }
    panic!("redistill did not start with TLS:\n{last}");
}

fn cli(port: u16, pki: &Pki, client: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("redis-cli");
    cmd.args([
        "-p",
        &port.to_string(),
        "--tls",
        "--cacert",
        &pki.path("ca.pem"),
    ]);
    if let Some(name) = client {
        cmd.args([
            "--cert",
            &pki.path(&format!("{name}.pem")),
            "--key",
            &pki.path(&format!("{name}.key")),
        ]);
    }
    let out = cmd
        .args(args)
        .output()
        .expect("redis-cli is required (run scripts/test)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && !text.contains("Could not") && !text.contains("rror"),
        text.trim().to_string(),
    )
}

#[test]
fn redis_cli_and_redis_py_over_tls() {
    let pki = Pki::new();
    let (srv, port) = tls_server(&pki, "server.pem", "server.key", None, &[]);
    let (ok, out) = cli(port, &pki, None, &["PING"]);
    assert!(ok && out == "PONG", "{out}");
    let (ok, out) = cli(port, &pki, None, &["SET", "k", "v"]);
    assert!(ok && out == "OK", "{out}");
    assert_eq!(cli(port, &pki, None, &["GET", "k"]).1, "v");
    // The plaintext port keeps serving.
    let mut raw = Raw::connect(srv.port);
    assert_eq!(raw.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n"), b"$1\r\nv\r\n");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    let out = Command::new("python3")
        .args([
            &format!("{dir}/tls_client.py"),
            &port.to_string(),
            &pki.path("ca.pem"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plaintext_and_silent_peers_on_the_tls_port_hold_nothing() {
    let pki = Pki::new();
    let (srv, port) = tls_server(
        &pki,
        "server.pem",
        "server.key",
        None,
        &["--request-timeout", "2"],
    );
    let mut plain = Raw::connect(port);
    plain.send(b"PING\r\n");
    let got = plain.read_n(7);
    assert_ne!(got, b"+PONG\r\n");
    let silent: Vec<Raw> = (0..20).map(|_| Raw::connect(port)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut c = srv.client().get_connection().unwrap();
    let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
    assert!(
        info.contains("connected_clients:1\r"),
        "silent TLS peers took slots: {info}"
    );
    let start = Instant::now();
    for mut s in silent {
        assert!(s.closed(), "a silent peer was not closed");
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    srv.assert_healthy();
    assert!(cli(port, &pki, None, &["PING"]).0);
}

#[test]
fn client_certificates_are_checked_against_the_ca() {
    let pki = Pki::new();
    let (srv, port) = tls_server(&pki, "server.pem", "server.key", Some("ca.pem"), &[]);
    let (ok, out) = cli(port, &pki, Some("client"), &["PING"]);
    assert!(ok && out == "PONG", "{out}");
    assert!(
        !cli(port, &pki, None, &["PING"]).0,
        "no client certificate was accepted"
    );
    assert!(
        !cli(port, &pki, Some("stranger"), &["PING"]).0,
        "an untrusted certificate was accepted"
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    let out = Command::new("python3")
        .args([
            &format!("{dir}/tls_client.py"),
            &port.to_string(),
            &pki.path("ca.pem"),
            &pki.path("client.pem"),
            &pki.path("client.key"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.assert_healthy();
}

#[test]
fn pkcs8_pkcs1_and_sec1_keys_work() {
    let pki = Pki::new();
    for (cert, key) in [
        ("server.pem", "server.key"),
        ("server.pem", "server.sec1.key"),
        ("rsa.pem", "rsa.pkcs1.key"),
        ("rsa.pem", "rsa.key"),
    ] {
        let (_srv, port) = tls_server(&pki, cert, key, None, &[]);
        let (ok, out) = cli(port, &pki, None, &["PING"]);
        assert!(ok && out == "PONG", "{cert}/{key}: {out}");
    }
}

#[test]
fn bad_certificate_files_stop_the_server() {
    let pki = Pki::new();
    let garbage: PathBuf = pki.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    for (cert, key, named) in [
        (
            "/nonexistent/cert.pem".to_string(),
            pki.path("server.key"),
            "/nonexistent/cert.pem",
        ),
        (
            pki.path("server.pem"),
            "/nonexistent/key.pem".to_string(),
            "/nonexistent/key.pem",
        ),
        (
            garbage.display().to_string(),
            pki.path("server.key"),
            "garbage.pem",
        ),
        (pki.path("server.pem"), pki.path("rsa.key"), "tls_key_path"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_redistill"))
            .args([
                "--port",
                "0",
                "--tls-port",
                &free_port().to_string(),
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {cert} / {key}");
        assert!(text.contains(named), "{named} not named in: {text}");
    }
}
