//! The bodies of the subcommands that `cli.rs` dispatches to, one file each.

pub mod docs;
