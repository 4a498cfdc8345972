//! Table-driven handler tests, in process (no server, no socket): every
//! `tests/golden/*.txt` file lists commands with the exact replies
//! redis-server 7.0 gave (recorded by `tests/golden/golden.py record`, and
//! re-checked against redis-server by `external.rs`). Each file runs on a
//! fresh engine through the in-process harness. A command written
//! `@COMMAND` runs but its reply is not compared (HELLO names the server).

use redistill::command::testing::Harness;

/// Splits a command line like a shell: words, "quoted words".
fn split(line: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut word = Vec::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    word.push(b'\\');
                    let mut b = [0u8; 4];
                    word.extend_from_slice(n.encode_utf8(&mut b).as_bytes());
                }
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(unescape(&std::mem::take(&mut word)));
                    in_word = false;
                }
            }
            c => {
                let mut b = [0u8; 4];
                word.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(unescape(&word));
    }
    out
}

/// Undoes `\r`, `\n`, `\\` and `\xNN` escapes.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            match s[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b'"' => out.push(b'"'),
                b'x' if i + 3 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// The tables run on a thread with the stack the server's workers have
/// (scripts decode and return values nested up to 1000 deep).
#[test]
fn golden_tables_match_in_process() {
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(check_golden_tables)
        .unwrap()
        .join()
        .unwrap();
}

fn check_golden_tables() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in files {
        let mut h = Harness::new();
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (cmd, expected) = line.split_once(" => ").expect("cmd => reply");
            let args = split(cmd.trim_start_matches('@'));
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            let got = h.run_bytes(&refs);
            if cmd.starts_with('@') {
                continue;
            }
            let want = unescape(expected.as_bytes());
            checked += 1;
            if got != want {
                failures.push(format!(
                    "{}:{}: {cmd}\n  expected {}\n  got      {}",
                    path.file_name().unwrap().to_string_lossy(),
                    n + 1,
                    show(&want),
                    show(&got)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} replies differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// SELECT and read-only commands in databases never written allocate
/// nothing (16 configured databases cost only their table slots); their
/// misses still count, and the first write creates the database.
#[test]
fn reading_databases_never_written_allocates_nothing() {
    let mut h = Harness::new();
    for db in 1..16 {
        assert_eq!(h.run(&["SELECT", &db.to_string()]), b"+OK\r\n");
        assert_eq!(h.run(&["GET", "k"]), b"$-1\r\n");
        assert_eq!(
            h.run(&["MGET", "a", "b", "c"]),
            b"*3\r\n$-1\r\n$-1\r\n$-1\r\n"
        );
        assert_eq!(h.run(&["EXISTS", "a", "b"]), b":0\r\n");
        assert_eq!(h.run(&["SINTER", "a", "b"]), b"*0\r\n");
        assert_eq!(h.run(&["ZSCORE", "z", "m"]), b"$-1\r\n");
        assert_eq!(h.run(&["TTL", "k"]), b":-2\r\n");
        assert_eq!(h.run(&["DBSIZE"]), b":0\r\n");
        assert_eq!(h.run(&["SCAN", "0"]), b"*2\r\n$1\r\n0\r\n*0\r\n");
        assert_eq!(h.run(&["RANDOMKEY"]), b"$-1\r\n");
    }
    assert_eq!(h.engine().dbs.in_use().count(), 1);
    let info = String::from_utf8(h.run(&["INFO", "stats"])).unwrap();
    assert!(info.contains("keyspace_misses:150\r\n"), "{info}");
    assert_eq!(h.run(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(h.run(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_eq!(
        h.engine()
            .dbs
            .in_use()
            .map(|(db, _)| db)
            .collect::<Vec<_>>(),
        [0, 15]
    );
}
