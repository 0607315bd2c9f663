//! Fuzzes the whole reader: form detection, raw reader and validating reader, on any bytes.
//! The target function is `gotrace_tests::fuzz::check_input`, which CI's smoke test also runs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gotrace_tests::fuzz::check_input(data);
});
