//! Sessions: a scripted scenario or a load played to a target or to the built-in receiver,
//! from start to outcome.

pub mod load;
pub mod play;
