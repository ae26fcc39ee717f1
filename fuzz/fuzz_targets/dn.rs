//! libFuzzer on `detour_fuzz_checks::dn`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| detour_fuzz_checks::dn(data));
