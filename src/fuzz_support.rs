//! Checks shared by the cargo-fuzz targets in `fuzz/` and the corpus replay
//! test, so both exercise exactly the same properties.

use crate::protocol::{ParseLimits, Parser, Request};

/// Parses `input` fed in chunks of `chunk` bytes; returns the commands and
/// the protocol error (if any) that ended the stream.
pub fn parse_stream(
    input: &[u8],
    chunk: usize,
    limits: &ParseLimits,
) -> (Vec<Vec<Vec<u8>>>, Option<String>) {
    let mut parser = Parser::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&buf, limits) {
                Ok(None) => break,
                Ok(Some(req)) => {
                    match req {
                        Request::Multibulk { .. } => out.push(
                            parser
                                .args
                                .iter()
                                .map(|r| buf[r.clone()].to_vec())
                                .collect(),
                        ),
                        Request::Inline { .. } => out.push(parser.inline_args.clone()),
                        Request::Empty { .. } => {}
                    }
                    buf.drain(..req.consumed());
                }
                Err(e) => return (out, Some(e.message())),
            }
        }
    }
    (out, None)
}

/// The request parser never panics, and gives the same commands and the
/// same error however the bytes are split. The first byte picks the split.
pub fn check_request_parser(data: &[u8]) {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    for limits in [
        ParseLimits::default(),
        ParseLimits {
            unauthenticated: true,
            ..ParseLimits::default()
        },
    ] {
        let whole = parse_stream(input, input.len().max(1), &limits);
        let split = parse_stream(input, (first as usize % 17) + 1, &limits);
        assert_eq!(whole, split, "split invariance");
    }
}

/// The RDB reader turns any bytes into entries or an error, never a panic.
pub fn check_rdb_reader(data: &[u8]) {
    let opts = crate::engine::persist::rdb::ReadOptions {
        now_ms: 0,
        databases: 16,
    };
    let _ = crate::engine::persist::rdb::read(data, &opts, |_| Ok(()));
}
