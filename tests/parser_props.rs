//! Property tests for the request parser and the glob matcher.

use proptest::prelude::*;
use redistill::engine::store::glob::glob_match;
use redistill::protocol::ParseLimits;

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses a whole buffer, feeding it in the given chunk sizes.
fn parse_chunked(input: &[u8], chunk: usize) -> Result<Vec<Vec<Vec<u8>>>, String> {
    match redistill::fuzz_support::parse_stream(input, chunk, &ParseLimits::default()) {
        (cmds, None) => Ok(cmds),
        (_, Some(err)) => Err(err),
    }
}

/// A straightforward reference glob matcher (dynamic programming over
/// pattern elements) for comparison with the iterative one.
fn reference_glob(p: &[u8], s: &[u8]) -> bool {
    if s.is_empty() {
        return p.is_empty();
    }
    // Element: Star, or a single-byte predicate.
    enum El {
        Star,
        One(Box<dyn Fn(u8) -> bool>),
    }
    let mut els = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' => {
                els.push(El::Star);
                i += 1;
            }
            b'?' => {
                els.push(El::One(Box::new(|_| true)));
                i += 1;
            }
            b'\\' if i + 1 < p.len() => {
                let c = p[i + 1];
                els.push(El::One(Box::new(move |x| x == c)));
                i += 2;
            }
            b'[' => {
                let mut j = i + 1;
                let neg = j < p.len() && p[j] == b'^';
                if neg {
                    j += 1;
                }
                let mut set: Vec<(u8, u8)> = Vec::new();
                let mut end = p.len();
                while j < p.len() {
                    if p[j] == b'\\' && j + 1 < p.len() {
                        set.push((p[j + 1], p[j + 1]));
                        j += 2;
                    } else if p[j] == b']' {
                        end = j + 1;
                        break;
                    } else if j + 2 < p.len() && p[j + 1] == b'-' {
                        let (a, b) = (p[j].min(p[j + 2]), p[j].max(p[j + 2]));
                        set.push((a, b));
                        j += 3;
                    } else {
                        set.push((p[j], p[j]));
                        j += 1;
                    }
                }
                els.push(El::One(Box::new(move |x| {
                    set.iter().any(|&(a, b)| x >= a && x <= b) != neg
                })));
                i = end;
            }
            c => {
                els.push(El::One(Box::new(move |x| x == c)));
                i += 1;
            }
        }
    }
    // dp[i][j]: els[i..] matches s[j..]
    let n = els.len();
    let mut dp = vec![vec![false; s.len() + 1]; n + 1];
    dp[n][s.len()] = true;
    for i in (0..n).rev() {
        for j in (0..=s.len()).rev() {
            dp[i][j] = match &els[i] {
                El::Star => dp[i + 1][j] || (j < s.len() && dp[i][j + 1]),
                El::One(f) => j < s.len() && f(s[j]) && dp[i + 1][j + 1],
            };
        }
    }
    dp[0][0]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_parse_round_trips(
        cmds in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6), 1..8),
        chunk in 1usize..64,
    ) {
        let mut input = Vec::new();
        for c in &cmds {
            input.extend(encode(c));
        }
        prop_assert_eq!(parse_chunked(&input, chunk).unwrap(), cmds);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_invariant(input in prop::collection::vec(any::<u8>(), 0..512), chunk in 1usize..32) {
        let whole = parse_chunked(&input, input.len().max(1));
        let split = parse_chunked(&input, chunk);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn resp_shaped_garbage_never_panics(
        parts in prop::collection::vec(prop_oneof![
            Just(b"*".to_vec()), Just(b"$".to_vec()), Just(b"\r\n".to_vec()), Just(b"-1".to_vec()),
            Just(b"3".to_vec()), Just(b"0".to_vec()), Just(b"\"".to_vec()), Just(b"'".to_vec()),
            Just(b"\\x4".to_vec()), Just(b"abc".to_vec()), Just(b" ".to_vec()), Just(b"\n".to_vec()),
        ], 0..40),
    ) {
        let input: Vec<u8> = parts.concat();
        let _ = parse_chunked(&input, 3);
    }

    #[test]
    fn glob_agrees_with_reference(
        pattern in "[ab*?\\[\\]^\\\\-]{0,8}",
        subject in "[ab\\[\\]*?^-]{0,8}",
    ) {
        prop_assert_eq!(
            glob_match(pattern.as_bytes(), subject.as_bytes(), false),
            reference_glob(pattern.as_bytes(), subject.as_bytes()),
            "pattern {:?} subject {:?}", pattern, subject
        );
    }
}

mod rdb_props {
    use proptest::prelude::*;
    use redistill::engine::persist::rdb::{read, RdbEntry, RdbValue, ReadOptions, Writer};

    fn value() -> impl Strategy<Value = RdbValue> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300).prop_map(RdbValue::Str),
            (any::<i64>()).prop_map(|i| RdbValue::Str(i.to_string().into_bytes())),
            prop::collection::vec(
                (
                    prop::collection::vec(any::<u8>(), 0..20),
                    prop::collection::vec(any::<u8>(), 0..80)
                ),
                0..20
            )
            .prop_map(RdbValue::Hash),
            prop::collection::vec(
                prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..70),
                    any::<i64>().prop_map(|i| i.to_string().into_bytes()),
                ],
                0..40
            )
            .prop_map(RdbValue::List),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..20)
                .prop_map(RdbValue::Set),
            prop::collection::vec(
                (
                    prop::collection::vec(any::<u8>(), 0..20),
                    prop_oneof![
                        any::<i32>().prop_map(|i| i as f64),
                        any::<f64>().prop_filter("a score is never NaN", |f| !f.is_nan()),
                    ]
                ),
                0..20
            )
            .prop_map(RdbValue::ZSet),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn rdb_write_then_read_is_identity(
            entries in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..30), value(), prop::option::of(2_000u64..u64::MAX / 2)), 0..30)
        ) {
            let mut w = Writer::new(Vec::new(), &[("redis-ver", "7.0.15".into())]).unwrap();
            w.select_db(0, entries.len() as u64, 0).unwrap();
            let entries: Vec<RdbEntry> = entries
                .into_iter()
                .map(|(key, value, expire_ms)| RdbEntry { db: 0, key, value, expire_ms })
                .collect();
            for e in &entries {
                match &e.value {
                    RdbValue::Str(v) => w.write_string(&e.key, v, e.expire_ms).unwrap(),
                    RdbValue::Hash(p) => w.write_hash(&e.key, p.len(), p.iter().map(|(f, v)| (&f[..], &v[..])), e.expire_ms).unwrap(),
                    RdbValue::List(l) => w.write_list(&e.key, l.iter().map(Vec::as_slice), e.expire_ms).unwrap(),
                    RdbValue::Set(m) => w.write_set(&e.key, m.len(), m.iter().map(Vec::as_slice), e.expire_ms).unwrap(),
                    RdbValue::ZSet(z) if e.key.len() % 2 == 0 => w.write_zset_listpack(&e.key, z.iter().map(|(m, s)| (&m[..], *s)), e.expire_ms).unwrap(),
                    RdbValue::ZSet(z) => w.write_zset(&e.key, z.len(), z.iter().map(|(m, s)| (&m[..], *s)), e.expire_ms).unwrap(),
                    RdbValue::Stream(s) => w.write_stream(&e.key, s, e.expire_ms).unwrap(),
                }
            }
            let data = w.finish().unwrap();
            let mut got = Vec::new();
            read(&data, &ReadOptions { now_ms: 1_000, databases: 16 }, |e| { got.push(e); Ok(()) }).unwrap();
            prop_assert_eq!(got, entries);
        }

        #[test]
        fn rdb_reader_never_panics_on_mutations(seed in any::<u64>(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
            let mut w = Writer::new(Vec::new(), &[]).unwrap();
            w.select_db(0, 2, 0).unwrap();
            w.write_string(b"k", &seed.to_le_bytes(), None).unwrap();
            w.write_hash(b"h", 1, [(&b"f"[..], &b"v"[..])].into_iter(), Some(5_000)).unwrap();
            let mut data = w.finish().unwrap();
            for (at, b) in flips {
                let n = data.len();
                data[at % n] = b;
            }
            let _ = read(&data, &ReadOptions { now_ms: 0, databases: 16 }, |_| Ok(()));
        }
    }
}
