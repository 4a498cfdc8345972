//! Fuzzes the RDB reader: any bytes end in entries or an error, never a
//! panic, a hang or an allocation far beyond the input's size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    redistill::fuzz_support::check_rdb_reader(data);
});
