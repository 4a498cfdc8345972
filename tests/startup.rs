//! Startup: configuration errors stop the server with a message naming the
//! key and a non-zero exit code; `--help` and `--version` work.

use std::process::Command;

/// Runs the binary; a server that starts instead of failing is killed after 5 s.
fn run(args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("out.log");
    let f = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_redistill"))
        .args(args)
        .env_remove("REDIS_PASSWORD")
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break 0;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (code, std::fs::read_to_string(&log).unwrap_or_default())
}

fn with_config(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redistill.toml");
    std::fs::write(&path, text).unwrap();
    run(&[path.to_str().unwrap()])
}

#[test]
fn bad_configuration_is_refused_naming_the_key() {
    for (text, key) in [
        ("[server]\nport = 99999\n", "port"),
        ("[server]\nnum_shards = 1000\n", "num_shards"),
        ("[server]\nbogus = 1\n", "bogus"),
        ("[memory]\nmax_memory = \"12qb\"\n", "max_memory"),
        ("[memory]\neviction_policy = \"lfu\"\n", "eviction_policy"),
        ("[server]\nport = \"x\"\n", "port"),
        ("[persistence]\nsnapshot_path = \"\"\n", "snapshot_path"),
    ] {
        let (code, out) = with_config(text);
        assert_ne!(code, 0, "{text}");
        assert!(out.contains(key), "{text} -> {out}");
    }
    let (code, out) = run(&["--shards", "3"]);
    assert_ne!(code, 0);
    assert!(out.contains("num_shards"), "{out}");
    let (code, out) = run(&["--maxmemory", "lots"]);
    assert_ne!(code, 0);
    assert!(out.contains("maxmemory"), "{out}");
    // Cluster mode with a nodes.conf it cannot read stops, naming the file.
    let conf =
        std::env::temp_dir().join(format!("redistill-bad-nodes-{}.conf", std::process::id()));
    std::fs::write(&conf, "not a nodes.conf line\n").unwrap();
    let (code, out) = run(&[
        "--port",
        "0",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        conf.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&conf);
    assert_ne!(code, 0);
    assert!(
        out.contains("redistill-bad-nodes-") && out.contains("8 fields"),
        "{out}"
    );
    let (code, out) = run(&["/nonexistent/redistill.toml"]);
    assert_ne!(code, 0);
    assert!(out.contains("/nonexistent/redistill.toml"), "{out}");
}

#[test]
fn help_and_version() {
    let (code, out) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--port",
        "--bind",
        "--requirepass",
        "--maxclients",
        "--timeout",
        "--maxmemory",
        "--maxmemory-policy",
        "--shards",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}");
    }
    let (code, out) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.contains(env!("CARGO_PKG_VERSION")));
}
