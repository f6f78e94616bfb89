//! The names and the clock every module shares: node and client ids, and time.
//!
//! A leaf module: it imports nothing of the crate, so that the world ([`crate::runtime`]),
//! stable storage ([`crate::storage`]) and the properties ([`crate::check`]) can all use
//! these types without importing one another.

pub mod id;
pub mod time;

pub use id::{CallId, ClientId, NodeId};
pub use time::Time;
