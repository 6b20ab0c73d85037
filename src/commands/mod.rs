//! Command bodies that live outside `cli.rs`: each file is one subcommand (or a small family).

pub mod color;
pub mod completions;
pub mod new;
