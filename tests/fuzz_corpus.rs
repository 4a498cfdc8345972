//! Replays the fuzz seed corpus (including every input that once failed)
//! through the same checks the fuzz target runs.

#[test]
fn resp_parse_corpus_replays_cleanly() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/resp_parse");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("seed corpus") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        redistill::fuzz_support::check_request_parser(&data);
        n += 1;
    }
    assert!(n >= 10, "only {n} seeds");
}

#[test]
fn rdb_load_corpus_replays_cleanly() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/rdb_load");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("seed corpus") {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        redistill::fuzz_support::check_rdb_reader(&data);
        n += 1;
    }
    assert!(n >= 1, "no seeds");
}
