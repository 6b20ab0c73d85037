//! Fixtures shared by the integration tests: real HTTP receivers on 127.0.0.1:0 and what goes
//! with them.

pub mod deliver;
pub mod robust;
