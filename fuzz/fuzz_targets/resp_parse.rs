//! Fuzzes the RESP request parser: no panic, and split invariance.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    redistill::fuzz_support::check_request_parser(data);
});
