//! `examples/receiver_test.rs`, pbxsim inside a user's own `#[tokio::test]`, is compiled here
//! and its tests run with plain `cargo test` (cargo builds examples but does not run their
//! tests): the file is included as it is, so what the README tells users to copy is what CI
//! runs.

#[path = "../../examples/receiver_test.rs"]
#[allow(dead_code)]
mod receiver_test;
